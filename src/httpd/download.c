/*
 * src/httpd/download.c — raw packet downloads, refused unless
 * TCPInspectAllowDownload is On (the handler checks it for every route
 * marked TCPI_ROUTE_DOWNLOAD): the ring as /capture.pcap and
 * /capture.pcapng, one request's packets as /requests/<id>.pcapng (its
 * saved capture, else what the ring still holds).
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"

#include "apr_strings.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mod_tcpinspect.h"
#include "tcpi/common.h"
#include "tcpi/render.h"
#include "tcpi/reqcap.h"
#include "tcpi/region.h"

APLOG_USE_MODULE(tcpinspect);

/* ---- downloads: /capture.pcap, /capture.pcapng ------------------------ */

int tcpi_httpd_download_refused(request_rec *r)
{
    ap_set_content_type(r, "text/plain; charset=utf-8");
    r->status = HTTP_FORBIDDEN;
    ap_rputs("403 Forbidden: capture downloads hold the raw, unredacted "
             "packet bytes (cookies, credentials) and are off here. Allow "
             "them with \"TCPInspectAllowDownload On\" in a <Location> that "
             "only trusted clients reach (see tcpinspect.conf).\n", r);
    return OK;
}

/* /capture.pcap and /capture.pcapng: the ring as a file, streamed packet
 * by packet (never copied whole). */
int tcpi_httpd_page_capture(page_t *pg)
{
    request_rec *r = pg->r;
    const tcpi_route_args_t *a = pg->a;
    tcpi_srv_conf_t *c = tcpi_httpd_global_conf(r);
    const char *v;
    char err[PCAP_ERRBUF_SIZE + 512], stamp[32];
    int32_t linktype = 1;
    int iface = -1, pcapng = a->fmt == TCPI_FMT_PCAPNG;
    uint64_t secs = a->v[TCPI_ARG_SECONDS].u;   /* 0: the whole ring */
    apr_size_t slen;
    apr_time_exp_t tm;
    tcpi_ring_stats_t st;

    if (tcpi_httpd_state.shm == NULL)
        return HTTP_SERVICE_UNAVAILABLE;
    if ((v = a->v[TCPI_ARG_IFACE].raw) != NULL &&
        (v = tcpi_httpd_iface(&iface, r, v)) != NULL)
        return tcpi_httpd_bad_request(r, v);
    if (!pcapng && tcpi_export_linktype(&linktype, tcpi_httpd_state.shm, iface,
                                        err, sizeof(err)) != 0)
        return tcpi_httpd_bad_request(r, err);
    tcpi_query_t *q = apr_palloc(r->pool, sizeof(*q));
    /* Downloads are allowed here, so the filter may read payload. */
    if (tcpi_query_init_ex(q, tcpi_httpd_state.shm, iface,
                           a->v[TCPI_ARG_FILTER].raw, TCPI_QUERY_PAYLOAD, err,
                           sizeof(err)) != 0)
        return tcpi_httpd_bad_request(r, apr_pstrcat(r->pool, "filter: ", err,
                                                     NULL));
    if (secs)
        q->from_ts_ns = tcpi_now_wall_ns() - secs * 1000000000ull;
    /* The route's budget: no record bound, 8 times a page's time. */
    q->budget_packets = pg->rt->budget_packets;
    q->budget_ns = pg->rt->budget_ms * 1000000ull;

    apr_time_exp_gmt(&tm, apr_time_now());
    apr_strftime(stamp, &slen, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    ap_set_content_type(r, tcpi_route_fmt_ctype(a->fmt));
    apr_table_setn(r->headers_out, "Content-Disposition", apr_psprintf(r->pool,
                   "attachment; filename=\"tcpinspect-%s.%s\"", stamp,
                   pcapng ? "pcapng" : "pcap"));
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    if (r->header_only) {
        tcpi_query_free(q);
        return OK;
    }
    tcpi_ring_stats(&st, tcpi_shm_ring(tcpi_httpd_state.shm));
    size_t bufsize = st.max_caplen ? (size_t)st.max_caplen : 65536;
    uint8_t *buf = apr_palloc(r->pool, bufsize);
    tcpi_out_t *o = apr_palloc(r->pool, sizeof(*o));
    uint64_t n;
    tcpi_out_init(o, tcpi_httpd_out_sink, r);
    /* the request log is walked for held secrets only where a host keeps
     * them (each generation's region, the log in it, is new) */
    n = pcapng ? tcpi_export_pcapng(o, q, (uint32_t)c->snaplen,
                                    tcpi_now_wall_ns(), buf, bufsize,
                                    tcpi_httpd_tls_keys_wanted)
               : tcpi_export_pcap(o, q, linktype, (uint32_t)c->snaplen, buf,
                                  bufsize);
    tcpi_out_flush(o);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, TCPILOG(0451)
                  "download: %" APR_UINT64_T_FMT " packets, %" APR_UINT64_T_FMT
                  " overwritten while reading%s", n, q->skipped_gone,
                  o->failed ? ", client went away" : "");
    if (q->truncated)
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, TCPILOG(0452)
                      "download cut by the scan budget after %" APR_UINT64_T_FMT
                      " packets examined (%" APR_UINT64_T_FMT " ms); packets "
                      "from #%" APR_UINT64_T_FMT " on are not in it: use "
                      "seconds= or a narrower filter=", q->examined,
                      q->spent_ns / 1000000, q->end);
    tcpi_query_free(q);
    return OK;
}

static apr_status_t close_fd(void *fd)
{
    close((int)(intptr_t)fd);
    return APR_SUCCESS;
}

/* A saved capture from a descriptor opened without following a symlink
 * and checked with fstat: no window between a check of the name and the
 * open (tcpi_trigger_open_saved). */
static int send_saved_capture(request_rec *r, const char *dir, const char *name)
{
    struct stat st;
    apr_os_file_t osfd;
    apr_file_t *fd;
    apr_size_t sent;
    int f = tcpi_trigger_open_saved(&st, dir, name, geteuid());

    if (f < 0) {
        if (errno != ENOENT)
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, errno, r, TCPILOG(0607)
                          "TCPInspectCaptureDir: %s/%s not served: not a regular "
                          "file of uid %ld reached without a symlink", dir, name,
                          (long)geteuid());
        return DECLINED;
    }
    apr_pool_cleanup_register(r->pool, (void *)(intptr_t)f, close_fd,
                              apr_pool_cleanup_null);
    osfd = f;
    if (apr_os_file_put(&fd, &osfd, APR_FOPEN_READ | APR_FOPEN_BINARY, r->pool)
        != APR_SUCCESS)
        return DECLINED;
    apr_table_setn(r->headers_out, "Content-Disposition",
                   apr_table_get(r->notes, "tcpinspect-filename"));
    ap_set_content_type(r, "application/x-pcapng");
    ap_set_content_length(r, st.st_size);
    if (!r->header_only)
        ap_send_fd(fd, r, 0, (apr_size_t)st.st_size, &sent);
    return OK;
}

static apr_status_t free_reqcap(void *sel)
{
    tcpi_reqcap_free(sel);
    return APR_SUCCESS;
}

static apr_status_t wipe_rec(void *data)
{
    explicit_bzero(data, sizeof(tcpi_req_t));
    return APR_SUCCESS;
}

/* /requests/<id>.pcapng: the saved file of a triggered request, else the
 * request's packets from the ring while they are still there. */
int tcpi_httpd_page_request_pcapng(page_t *pg)
{
    request_rec *r = pg->r;
    const char *id = pg->id;
    tcpi_srv_conf_t *c = tcpi_httpd_global_conf(r);
    char name[TCPI_REQ_ID_MAX + 16];
    tcpi_req_filter_t f;
    tcpi_req_t *rec;
    tcpi_reqcap_t *sel;
    tcpi_out_t *o;
    uint64_t k;

    if (tcpi_trigger_filename(name, sizeof(name), id) != 0)
        return tcpi_httpd_plain_error(r, HTTP_NOT_FOUND, "no such request id");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    /* Only a file is an attachment: an error page is not. */
    apr_table_setn(r->notes, "tcpinspect-filename",
                   apr_psprintf(r->pool, "attachment; filename=\"%s\"", name));
    if (c->capture_dir != NULL &&
        send_saved_capture(r, c->capture_dir, name) == OK)
        return OK;
    memset(&f, 0, sizeof(f));
    f.id = id;
    f.secrets = 1;                    /* its Decryption Secrets Block */
    rec = apr_palloc(r->pool, sizeof(*rec));
    apr_pool_cleanup_register(r->pool, rec, wipe_rec, apr_pool_cleanup_null);
    if (tcpi_httpd_state.shm == NULL ||
        tcpi_req_collect(rec, &k, 1, tcpi_httpd_state.reqlog,
                         &f) != 1)
        return tcpi_httpd_plain_error(r, HTTP_NOT_FOUND, apr_psprintf(r->pool,
                           "request %s is not in the recent-request log and "
                           "has no saved capture", id));
    sel = apr_pcalloc(r->pool, sizeof(*sel));
    apr_pool_cleanup_register(r->pool, sel, free_reqcap, apr_pool_cleanup_null);
    if (tcpi_reqcap_select(sel, tcpi_httpd_state.shm, rec) != 0)
        return HTTP_INTERNAL_SERVER_ERROR;
    if (sel->n == 0)
        return tcpi_httpd_plain_error(r, HTTP_NOT_FOUND, apr_psprintf(r->pool,
                           "the packets of request %s are no longer in the "
                           "ring (TCPInspectRingSize), and it has no saved "
                           "capture", id));
    if (sel->scan_cut)
        /* A long-lived request spans more of the ring than one scan may
         * read: the file holds what the budget reached. */
        apr_table_setn(r->headers_out, "X-TCPInspect-Truncated",
                       apr_psprintf(r->pool, "examined=%" APR_UINT64_T_FMT
                                    "; scan budget", sel->looked_at));
    apr_table_setn(r->headers_out, "Content-Disposition",
                   apr_table_get(r->notes, "tcpinspect-filename"));
    ap_set_content_type(r, "application/x-pcapng");
    if (r->header_only)
        return OK;
    o = apr_palloc(r->pool, sizeof(*o));
    tcpi_out_init(o, tcpi_httpd_out_sink, r);
    tcpi_reqcap_write(o, sel, tcpi_httpd_state.shm, rec, (uint32_t)c->snaplen);
    return OK;
}
