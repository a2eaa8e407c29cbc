/*
 * src/httpd/status.c — the mod_tcpinspect section of mod_status's
 * /server-status: the same snapshot and renderers as the handler's pages.
 */
#include "httpd.h"
#include "http_config.h"
#include "mod_status.h"

#include "mod_tcpinspect.h"
#include "tcpi/render.h"

APLOG_USE_MODULE(tcpinspect);

/* A section in mod_status's /server-status (and its ?auto form). */
int tcpi_httpd_status_hook(request_rec *r, int flags)
{
    tcpi_snapshot_t *snap = apr_palloc(r->pool, sizeof(*snap));
    tcpi_out_t *o = apr_palloc(r->pool, sizeof(*o));

    tcpi_httpd_take_snapshot(snap, r, 0);
    tcpi_out_init(o, tcpi_httpd_out_sink, r);
    if (flags & AP_STATUS_SHORT) {
        tcpi_render_auto(o, snap);
    } else {
        tcpi_out_str(o, "<hr /><h2>mod_tcpinspect</h2>\n");
        tcpi_render_html_states(o, snap);
    }
    tcpi_out_flush(o);
    return OK;
}
