/*
 * src/httpd/pages.c — the tcp-inspect handler: the route of a request and
 * its query read against it (the table is the core's, tcpi_route.c), the
 * snapshot and its renderers (HTML, ?auto, nagios, JSON, metrics), the
 * request, packet and flow views. The raw downloads are in download.c.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_expr.h"
#include "util_script.h"

#include "apr_strings.h"

#include <pcap/pcap.h>

#include "mod_tcpinspect.h"
#include "tcpi/common.h"
#include "tcpi/render.h"
#include "tcpi/region.h"
#include "tcpi/states.h"

APLOG_USE_MODULE(tcpinspect);

/* ---- the handler ----------------------------------------------------- */

int tcpi_httpd_out_sink(void *baton, const void *buf, size_t len)
{
    request_rec *r = baton;
    return ap_rwrite(buf, (int)len, r) < 0 ? -1 : 0;
}

typedef int page_fn(page_t *pg);

/* Counted here, in the serving process, straight from the kernel: no
 * privilege needed and nothing shared with the capture worker. */
static void count_states(tcpi_snapshot_t *snap, tcpi_srv_conf_t *c)
{
    uint32_t count[TCPI_NSCOPES][TCPI_NSTATES];
    uint64_t t0 = tcpi_now_mono_ns();
    tcpi_sockdiag_stats_t st = { 0 };

    if (tcpi_sockdiag_count_ev(count, &st, snap->counts_error,
                               sizeof(snap->counts_error),
                               &tcpi_httpd_state.front_ports,
                               &tcpi_httpd_state.backend_ports,
                               tcpi_httpd_usable_ev()) == 0)
        tcpi_snapshot_counts(snap, count,
                             (const tcpi_threshold_t *)c->thresholds->elts,
                             c->thresholds->nelts);
    else
        snap->counts_ok = 0;
    snap->counts_took_us = (tcpi_now_mono_ns() - t0) / 1000;
    snap->ev.used = (int)st.events;
    snap->ev.loaded = tcpi_httpd_state.ev != NULL;
    if (tcpi_httpd_state.ev) {
        snap->ev.changes = tcpi_httpd_state.ev->events;
        snap->ev.seeded = tcpi_httpd_state.ev->seeded;
        snap->ev.lost = tcpi_httpd_state.ev->lost;
        snap->ev.raced = tcpi_httpd_state.ev->raced;
    }
    if (tcpi_httpd_state.shm == NULL)
        return;
    snap->ev.checks = atomic_load(&tcpi_httpd_state.shm->ev_checks);
    snap->ev.agreed = atomic_load(&tcpi_httpd_state.shm->ev_agreed);
    snap->ev.disagreed = atomic_load(&tcpi_httpd_state.shm->ev_disagreed);
    snap->ev.drift = (int)atomic_load(&tcpi_httpd_state.shm->ev_drift);
    memcpy(snap->ev.diff, tcpi_httpd_state.shm->ev_diff, sizeof(snap->ev.diff));
    snap->ev.diff[sizeof(snap->ev.diff) - 1] = '\0';
}

void tcpi_httpd_take_snapshot(tcpi_snapshot_t *snap, request_rec *r,
                              int full)
{
    tcpi_srv_conf_t *c = tcpi_httpd_global_conf(r);

    memset(snap, 0, sizeof(*snap));
    tcpi_snapshot_capture(snap, tcpi_httpd_state.shm);
    /* The hour of history and the newest requests: for the overview and
     * status.json only, not /metrics, ?auto, ?nagios or /server-status. */
    if (full)
        tcpi_snapshot_history(snap, tcpi_httpd_state.shm, TCPI_HIST_LEN);
    count_states(snap, c);
    tcpi_snapshot_sysctl(snap, "/proc/sys");
    if (full)
        tcpi_snapshot_requests(snap, tcpi_httpd_state.shm);
    snap->engine = c->engine == 1;
    snap->snaplen = (uint32_t)c->snaplen;
    snap->ports[TCPI_SCOPE_FRONT] = tcpi_httpd_state.front_ports;
    snap->ports[TCPI_SCOPE_BACKEND] = tcpi_httpd_state.backend_ports;
    snap->ports[TCPI_SCOPE_BACKEND_LOCAL] = tcpi_httpd_state.backend_ports;
}

/* An error page in plain text: the message may quote the client's
 * input, so it is never HTML. */
int tcpi_httpd_plain_error(request_rec *r, int status, const char *msg)
{
    ap_set_content_type(r, "text/plain; charset=utf-8");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    r->status = status;
    ap_rprintf(r, "%s: %s\n", ap_get_status_line(status), msg);
    return OK;
}

int tcpi_httpd_bad_request(request_rec *r, const char *msg)
{
    return tcpi_httpd_plain_error(r, HTTP_BAD_REQUEST, msg);
}

typedef void render_fn(tcpi_out_t *o, const tcpi_snapshot_t *s);

/* A snapshot in the page's format (not the overview's HTML). */
static int send_rendered(page_t *pg, render_fn *fn, int full)
{
    tcpi_snapshot_t *snap = apr_palloc(pg->r->pool, sizeof(*snap));
    tcpi_out_t *o = apr_palloc(pg->r->pool, sizeof(*o));

    tcpi_httpd_take_snapshot(snap, pg->r, full);
    ap_set_content_type(pg->r, tcpi_route_fmt_ctype(pg->a->fmt));
    apr_table_setn(pg->r->headers_out, "Cache-Control", "no-store");
    if (pg->r->header_only)
        return OK;
    tcpi_out_init(o, tcpi_httpd_out_sink, pg->r);
    fn(o, snap);
    tcpi_out_flush(o);
    return OK;
}

/* /, /?auto, /?nagios */
static int page_overview(page_t *pg)
{
    request_rec *r = pg->r;
    const tcpi_route_val_t *refresh = &pg->a->v[TCPI_ARG_REFRESH];
    tcpi_snapshot_t *snap;
    tcpi_out_t *o;

    if (pg->a->fmt == TCPI_FMT_AUTO)
        return send_rendered(pg, tcpi_render_auto, 0);
    if (refresh->raw != NULL)
        apr_table_setn(r->headers_out, "Refresh", apr_psprintf(r->pool, "%u",
                                                    (unsigned)refresh->u));
    if (pg->a->fmt == TCPI_FMT_NAGIOS)
        return send_rendered(pg, tcpi_render_nagios, 0);
    snap = apr_palloc(r->pool, sizeof(*snap));
    o = apr_palloc(r->pool, sizeof(*o));
    tcpi_httpd_take_snapshot(snap, r, 1);
    ap_set_content_type(r, tcpi_route_fmt_ctype(TCPI_FMT_HTML));
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Content-Security-Policy",
                   "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'");
    if (r->header_only)
        return OK;
    tcpi_out_init(o, tcpi_httpd_out_sink, r);
    tcpi_render_html(o, snap, pg->base);
    tcpi_out_flush(o);
    return OK;
}

static int page_status(page_t *pg)
{
    return send_rendered(pg, tcpi_render_json, 1);
}

static int page_metrics(page_t *pg)
{
    return send_rendered(pg, tcpi_render_metrics, 0);
}

static void req_status(tcpi_req_status_t *st)
{
    memset(st, 0, sizeof(*st));
    if (tcpi_httpd_state.shm == NULL)
        return;
    st->log_dropped =
        tcpi_reqlog_dropped(tcpi_httpd_state.reqlog);
    st->have_join = 1;
    tcpi_sumtab_stats(&st->join, tcpi_shm_sumtab(tcpi_httpd_state.shm));
}

/* /requests and /requests.json: recent requests, newest first, each
 * rendered as it is read from the log (limit= costs no memory). */
static tcpi_out_t *view_start(request_rec *r, int json);

static int page_requests(page_t *pg)
{
    const tcpi_route_args_t *a = pg->a;
    tcpi_req_filter_t f = {
        .status = (int)a->v[TCPI_ARG_STATUS].u,
        .min_us = a->v[TCPI_ARG_MIN_MS].u * 1000,
        .uri_prefix = a->v[TCPI_ARG_URI].raw,
        .client = a->v[TCPI_ARG_CLIENT].raw,
    };
    int limit = (int)a->v[TCPI_ARG_LIMIT].u, json = a->fmt == TCPI_FMT_JSON;
    const tcpi_reqlog_t *log = NULL;
    const tcpi_sumtab_t *sums = NULL;
    tcpi_req_status_t st;
    tcpi_out_t *o;

    /* The list shows clients' methods and URIs: the same headers (CSP)
     * as every other view. */
    if ((o = view_start(pg->r, json)) == NULL)
        return OK;
    if (tcpi_httpd_state.shm != NULL) {
        log = tcpi_httpd_state.reqlog;
        sums = tcpi_shm_sumtab(tcpi_httpd_state.shm);
    }
    req_status(&st);
    if (json)
        tcpi_render_requests_json_log(o, log, &f, limit, sums, &st);
    else
        tcpi_render_requests_html_log(o, log, &f, limit, sums, &st, pg->base);
    tcpi_out_flush(o);
    return OK;
}

/* ---- /packets.txt and /packets (tcpi_packets.h) ---------------------- */

/* The redaction state for one request: TCPInspectRedact names, the
 * defaults when none are given, NULL when Off. */
static tcpi_redact_t *request_redact(request_rec *r)
{
    tcpi_srv_conf_t *c = tcpi_httpd_global_conf(r);
    tcpi_redact_t *rd;
    const char *err;

    if (c->redact_off)
        return NULL;
    rd = apr_palloc(r->pool, sizeof(*rd));
    if (c->redact->nelts > 0)
        err = tcpi_redact_init(rd, (const char *const *)c->redact->elts,
                               c->redact->nelts);
    else
        err = tcpi_redact_init(rd, tcpi_redact_defaults, 4);
    if (err != NULL) {          /* the directive checked the names */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, TCPILOG(0401) "redaction: %s",
                      err);
        tcpi_redact_init(rd, tcpi_redact_defaults, 4);
    }
    return rd;
}

/* The index of the captured interface iface= names: NULL, or the 400
 * message (naming the interfaces there are). */
const char *tcpi_httpd_iface(int *index, request_rec *r, const char *name)
{
    const tcpi_shm_t *shm = tcpi_httpd_state.shm;
    const char *names = "";

    if (shm != NULL && (*index = tcpi_shm_find_iface(shm, name)) >= 0)
        return NULL;
    for (uint32_t i = 0; shm != NULL && i < shm->niface && i < TCPI_MAX_IFACES; i++)
        names = apr_pstrcat(r->pool, names, i ? ", " : "", shm->iface[i].name,
                            NULL);
    return apr_psprintf(r->pool, "iface: no captured interface is named "
                        "\"%s\"; %s%s", name, *names ? "the interfaces are: "
                        : "nothing is captured here", names);
}

/* /packets.txt and /packets */
static int page_packets(page_t *pg)
{
    request_rec *r = pg->r;
    const tcpi_route_args_t *a = pg->a;
    tcpi_packets_opts_t opt;
    tcpi_packets_stats_t st;
    tcpi_query_t q;
    tcpi_ring_stats_t rs;
    const char *v;
    char err[PCAP_ERRBUF_SIZE + 64];
    int iface = -1, rc, html = a->fmt == TCPI_FMT_HTML;

    memset(&opt, 0, sizeof(opt));
    opt.limit = a->v[TCPI_ARG_LIMIT].u;
    opt.hex = a->v[TCPI_ARG_X].u == 1;
    if ((opt.match = a->v[TCPI_ARG_MATCH].raw) != NULL)
        opt.match_len = strlen(opt.match);
    if ((v = a->v[TCPI_ARG_IFACE].raw) != NULL &&
        (v = tcpi_httpd_iface(&iface, r, v)) != NULL)
        return tcpi_httpd_bad_request(r, v);
    if (tcpi_httpd_state.shm == NULL) {
        ap_set_content_type(r, tcpi_route_fmt_ctype(a->fmt));
        return OK;             /* no capture configured: nothing to show */
    }
    /* The filter sees headers only (payload bytes read as zero: no
     * filter can tell a redacted byte) unless the raw bytes may be
     * downloaded here anyway, or nothing is redacted. */
    unsigned qflags = tcpi_httpd_global_conf(r)->redact_off ||
                      (pg->dc != NULL && pg->dc->allow_download == 1)
                      ? TCPI_QUERY_PAYLOAD : 0;
    if (tcpi_query_init_ex(&q, tcpi_httpd_state.shm, iface,
                           a->v[TCPI_ARG_FILTER].raw, qflags, err,
                           sizeof(err)) != 0)
        return tcpi_httpd_bad_request(r, apr_pstrcat(r->pool, "filter: ", err,
                                                     NULL));
    q.budget_packets = pg->rt->budget_packets;
    q.budget_ns = pg->rt->budget_ms * 1000000ull;
    if (a->v[TCPI_ARG_SINCE].raw != NULL) {
        q.since = a->v[TCPI_ARG_SINCE].u;
        opt.have_since = 1;
    }
    opt.redact = request_redact(r);
    opt.front_ports = &tcpi_httpd_state.front_ports;
    opt.backend_ports = &tcpi_httpd_state.backend_ports;
    opt.base = pg->base;
    {
        /* The page's other parameters, for its links (escaped). */
        static const tcpi_arg_t keep[] = { TCPI_ARG_FILTER, TCPI_ARG_MATCH,
                                           TCPI_ARG_X, TCPI_ARG_LIMIT,
                                           TCPI_ARG_IFACE };
        const char *qs = "";
        for (size_t i = 0; i < TCPI_ARRAY_LEN(keep); i++)
            if ((v = a->v[keep[i]].raw) != NULL)
                qs = apr_pstrcat(r->pool, qs, *qs ? "&" : "",
                                 tcpi_route_arg_name(keep[i]), "=",
                                 ap_escape_urlencoded(r->pool, v), NULL);
        opt.query_html = ap_escape_html2(r->pool, qs, 1);
    }
    tcpi_ring_stats(&rs, q.ring);
    size_t bufsize = rs.max_caplen ? rs.max_caplen : 65536;
    uint8_t *buf = apr_palloc(r->pool, bufsize);

    tcpi_packets_window(&st, &q, &opt, buf, bufsize);
    ap_set_content_type(r, tcpi_route_fmt_ctype(a->fmt));
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-TCPInspect-Next",
                   apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, st.next));
    if (q.truncated)
        /* The window search hit the scan budget: the page covers only
         * packets #first..#last (the HTML page says so too). */
        apr_table_setn(r->headers_out, "X-TCPInspect-Truncated",
                       apr_psprintf(r->pool, "examined=%" APR_UINT64_T_FMT
                                    "; first=%" APR_UINT64_T_FMT "; last=%"
                                    APR_UINT64_T_FMT, q.examined, q.next,
                                    q.end - 1));
    if (html)
        apr_table_setn(r->headers_out, "Content-Security-Policy",
                       "default-src 'none'; style-src 'unsafe-inline'");
    else
        apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    if (r->header_only) {
        tcpi_query_free(&q);
        return OK;
    }
    tcpi_out_t *o = apr_palloc(r->pool, sizeof(*o));
    tcpi_out_init(o, tcpi_httpd_out_sink, r);
    rc = html ? tcpi_packets_html(&st, o, &q, &opt, buf, bufsize)
              : tcpi_packets_text(&st, o, &q, &opt, buf, bufsize);
    tcpi_out_flush(o);
    tcpi_query_free(&q);
    if (rc != 0)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, TCPILOG(0402) "packets "
                      "page cut short: out of memory after %" APR_UINT64_T_FMT
                      " packets", st.shown);
    return OK;
}

/* Headers of a JSON or HTML view; its output, or NULL for HEAD. */
static tcpi_out_t *view_start(request_rec *r, int json)
{
    tcpi_out_t *o;

    ap_set_content_type(r, json ? "application/json"
                                : "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!json)
        apr_table_setn(r->headers_out, "Content-Security-Policy",
                       "default-src 'none'; style-src 'unsafe-inline'");
    if (r->header_only)
        return NULL;
    o = apr_palloc(r->pool, sizeof(*o));
    tcpi_out_init(o, tcpi_httpd_out_sink, r);
    return o;
}

/* /requests/<id> and /requests/<id>.json: one request, looked up by id
 * among the records the log still holds. */
static int page_request(page_t *pg)
{
    request_rec *r = pg->r;
    int json = pg->a->fmt == TCPI_FMT_JSON;
    tcpi_req_filter_t f;
    tcpi_req_t rec;
    tcpi_reqsum_t *sum = apr_palloc(r->pool, sizeof(*sum));
    const tcpi_reqsum_t *s = NULL;
    tcpi_out_t *o;
    uint64_t k;

    memset(&f, 0, sizeof(f));
    f.id = pg->id;
    if (tcpi_httpd_state.shm == NULL ||
        tcpi_req_collect(&rec, &k, 1, tcpi_httpd_state.reqlog,
                         &f) != 1)
        return HTTP_NOT_FOUND;
    if (tcpi_sumtab_get_for(sum, tcpi_shm_sumtab(tcpi_httpd_state.shm), k,
                            rec.id) == 0)
        s = sum;
    if ((o = view_start(r, json)) == NULL)
        return OK;
    if (json) {
        tcpi_render_request_json(o, &rec, s, 1);
        tcpi_out_str(o, "\n");
    } else {
        tcpi_render_request_html(o, &rec, s, pg->base);
    }
    tcpi_out_flush(o);
    return OK;
}

/* /flows and /flows.json: the flows the worker published, filtered. */
static int page_flows(page_t *pg)
{
    request_rec *r = pg->r;
    const tcpi_route_args_t *a = pg->a;
    tcpi_flow_filter_t f = {
        .leg = a->v[TCPI_ARG_LEG].e,
        .state = a->v[TCPI_ARG_STATE].e,
        .port = (uint16_t)a->v[TCPI_ARG_PORT].u,
        .limit = (uint32_t)a->v[TCPI_ARG_LIMIT].u,
    };
    tcpi_flowpub_stats_t st;
    tcpi_flowrec_t *recs;
    tcpi_flowrow_t *rows;
    uint32_t nrec = 0, nrow;
    tcpi_out_t *o;
    int json = a->fmt == TCPI_FMT_JSON;

    memset(&st, 0, sizeof(st));
    recs = apr_palloc(r->pool, sizeof(*recs) * TCPI_FLOWPUB_LEN);
    rows = apr_palloc(r->pool, sizeof(*rows) * f.limit);
    if (tcpi_httpd_state.shm != NULL) {
        tcpi_flowpub_stats(&st, tcpi_shm_flowpub(tcpi_httpd_state.shm));
        nrec = tcpi_flowpub_read(recs, TCPI_FLOWPUB_LEN,
                                 tcpi_shm_flowpub(tcpi_httpd_state.shm));
    }
    nrow = tcpi_flowview_select(rows, recs, nrec, &f,
                                &tcpi_httpd_state.front_ports,
                                &tcpi_httpd_state.backend_ports);
    if ((o = view_start(r, json)) == NULL)
        return OK;
    if (json)
        tcpi_render_flows_json(o, rows, nrow);
    else
        tcpi_render_flows_html(o, rows, nrow, &st, pg->base);
    tcpi_out_flush(o);
    return OK;
}

/* The page functions, by the routes' tcpi_page_t. */
static page_fn *const page_fns[TCPI_PAGE_COUNT] = {
    [TCPI_PAGE_OVERVIEW]       = page_overview,
    [TCPI_PAGE_STATUS]         = page_status,
    [TCPI_PAGE_METRICS]        = page_metrics,
    [TCPI_PAGE_REQUESTS]       = page_requests,
    [TCPI_PAGE_REQUEST]        = page_request,
    [TCPI_PAGE_REQUEST_PCAPNG] = tcpi_httpd_page_request_pcapng,
    [TCPI_PAGE_PACKETS]        = page_packets,
    [TCPI_PAGE_CAPTURE]        = tcpi_httpd_page_capture,
    [TCPI_PAGE_FLOWS]          = page_flows,
};

/* The query as key/value pairs in their order, a repeated key kept (so
 * that the route can refuse it; ap_args_to_table keeps the last): split
 * at '&' and the first '=', %XX decoded as ap_args_to_table does, a bare
 * key's value NULL. A query string is form-encoded: '+' is a space (curl
 * -G --data-urlencode sends filter=tcp+port+80), and ap_unescape_url
 * decodes %XX only. A malformed escape, or %00 (which would cut the
 * value the page checks short of what was sent), refuses the query:
 * NULL, else the message. */
static int unescape(char *s)
{
    for (const char *p = s; (p = strchr(p, '%')) != NULL; p++)
        if (p[1] == '0' && p[2] == '0')
            return -1;
    /* HTTP_NOT_FOUND only says it decoded a %2F: a '/' is fine here. */
    return ap_unescape_url(s) == HTTP_BAD_REQUEST ? -1 : 0;
}

static const char *query_pairs(tcpi_route_kv_t **kv, size_t *n,
                               request_rec *r)
{
    apr_array_header_t *arr = apr_array_make(r->pool, 8, sizeof(**kv));
    char *s, *tok, *state;

    if (r->args != NULL) {
        s = apr_pstrdup(r->pool, r->args);
        for (char *c = s; *c; c++)
            if (*c == '+')
                *c = ' ';
        for (tok = apr_strtok(s, "&", &state); tok != NULL;
             tok = apr_strtok(NULL, "&", &state)) {
            tcpi_route_kv_t *e = apr_array_push(arr);
            char *val = strchr(tok, '=');

            if (val != NULL) {
                *val++ = '\0';
                if (unescape(val) != 0)
                    return "a query parameter has a bad %-escape or %00";
            }
            if (unescape(tok) != 0)
                return "a query parameter has a bad %-escape or %00";
            e->key = tok;
            e->val = val;
        }
    }
    *kv = (tcpi_route_kv_t *)arr->elts;
    *n = (size_t)arr->nelts;
    return NULL;
}

/* The <Location> whose SetHandler sent this request here: our per-dir
 * config only exists where one of our directives appears, so look the
 * section up in core's list. The longest prefix wins, as in the walk. */
static const char *handler_location(request_rec *r, size_t *len)
{
    core_server_config *sc = ap_get_core_module_config(r->server->module_config);
    ap_conf_vector_t **sec = (ap_conf_vector_t **)sc->sec_url->elts;
    const char *best = NULL;

    *len = 0;
    for (int i = 0; i < sc->sec_url->nelts; i++) {
        core_dir_config *d = ap_get_core_module_config(sec[i]);
        const char *h = d->handler, *err = NULL;
        size_t n;

        if (d->r != NULL || d->d == NULL)
            continue;                      /* <LocationMatch>: no prefix */
        n = strlen(d->d);
        while (n > 0 && d->d[n - 1] == '/')
            n--;
        if (strncmp(r->uri, d->d, n) != 0 ||
            (r->uri[n] != '\0' && r->uri[n] != '/'))
            continue;
        if (h == NULL && d->expr_handler != NULL)
            h = ap_expr_str_exec(r, d->expr_handler, &err);
        if (h == NULL || err != NULL || strcasecmp(h, "tcp-inspect") != 0)
            continue;
        if (best == NULL || n >= *len) {
            best = d->d;
            *len = n;
        }
    }
    return best;
}

int tcpi_httpd_handler(request_rec *r)
{
    tcpi_dir_conf_t *dc;
    page_t pg;
    tcpi_route_args_t *a;
    tcpi_route_kv_t *kv;
    const tcpi_route_t *rt;
    const char *sub, *loc, *id, *err;
    size_t loclen, nkv;

    if (r->handler == NULL || strcmp(r->handler, "tcp-inspect") != 0)
        return DECLINED;
    dc = ap_get_module_config(r->per_dir_config, &tcpinspect_module);
    r->allowed |= (AP_METHOD_BIT << M_GET);
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;

    /* The page is the part of the URI below the <Location>. */
    if ((loc = handler_location(r, &loclen)) == NULL)
        return HTTP_NOT_FOUND;
    sub = r->uri + loclen;
    if (*sub == '\0') {
        /* /tcp-inspect -> /tcp-inspect/ so relative links work. */
        apr_table_setn(r->headers_out, "Location",
                       apr_pstrcat(r->pool, ap_escape_uri(r->pool, r->uri), "/",
                                   r->args ? "?" : "", r->args, NULL));
        return HTTP_MOVED_PERMANENTLY;
    }

    switch (tcpi_route_find(&rt, &id, &err, sub, r->pool)) {
    case TCPI_ROUTE_FOUND:
        break;
    case TCPI_ROUTE_BAD_ID:
        return tcpi_httpd_bad_request(r, err);
    default:
        return HTTP_NOT_FOUND;
    }
    /* A download is refused before its query is read. */
    if ((rt->flags & TCPI_ROUTE_DOWNLOAD) &&
        (dc == NULL || dc->allow_download != 1))
        return tcpi_httpd_download_refused(r);
    a = apr_palloc(r->pool, sizeof(*a));
    if ((err = query_pairs(&kv, &nkv, r)) != NULL ||
        (err = tcpi_route_parse(a, rt, kv, nkv, r->pool)) != NULL)
        return tcpi_httpd_bad_request(r, err);
    if (page_fns[rt->page] == NULL)
        return HTTP_NOT_FOUND;

    memset(&pg, 0, sizeof(pg));
    pg.r = r;
    pg.dc = dc;
    pg.rt = rt;
    pg.a = a;
    pg.id = id;
    pg.base = ap_escape_html2(r->pool, ap_escape_uri(r->pool,
                              apr_pstrmemdup(r->pool, loc, loclen)), 1);
    return page_fns[rt->page](&pg);
}
