/*
 * src/httpd/pages.c — the tcp-inspect handler: the routes and their
 * allowed query parameters, the snapshot and its renderers (HTML, ?auto,
 * nagios, JSON, metrics), the request, packet and flow views. The raw
 * downloads are in download.c.
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

static int send_rendered(page_t *pg, const char *ctype, render_fn *fn,
                         int full)
{
    tcpi_snapshot_t *snap = apr_palloc(pg->r->pool, sizeof(*snap));
    tcpi_out_t *o = apr_palloc(pg->r->pool, sizeof(*o));

    tcpi_httpd_take_snapshot(snap, pg->r, full);
    ap_set_content_type(pg->r, ctype);
    apr_table_setn(pg->r->headers_out, "Cache-Control", "no-store");
    if (pg->r->header_only)
        return OK;
    tcpi_out_init(o, tcpi_httpd_out_sink, pg->r);
    fn(o, snap);
    tcpi_out_flush(o);
    return OK;
}

static int page_overview(page_t *pg)
{
    request_rec *r = pg->r;
    const char *refresh = apr_table_get(pg->args, "refresh");
    tcpi_snapshot_t *snap;
    tcpi_out_t *o;

    if (apr_table_get(pg->args, "auto"))
        return send_rendered(pg, "text/plain; charset=utf-8", tcpi_render_auto,
                             0);
    if (refresh != NULL) {
        uint64_t n;
        if (tcpi_conf_parse_count(&n, refresh, 1, 3600, r->pool) != NULL)
            return tcpi_httpd_bad_request(r, "refresh must be a number of "
                                          "seconds from 1 to 3600");
        apr_table_setn(r->headers_out, "Refresh", apr_psprintf(r->pool, "%u",
                                                               (unsigned)n));
    }
    snap = apr_palloc(r->pool, sizeof(*snap));
    o = apr_palloc(r->pool, sizeof(*o));
    tcpi_httpd_take_snapshot(snap, r, !apr_table_get(pg->args, "nagios"));
    if (apr_table_get(pg->args, "nagios")) {
        ap_set_content_type(r, "text/plain; charset=utf-8");
        apr_table_setn(r->headers_out, "Cache-Control", "no-store");
        if (r->header_only)
            return OK;
        tcpi_out_init(o, tcpi_httpd_out_sink, r);
        tcpi_render_nagios(o, snap);
        tcpi_out_flush(o);
        return OK;
    }
    ap_set_content_type(r, "text/html; charset=utf-8");
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

static int page_json(page_t *pg)
{
    return send_rendered(pg, "application/json", tcpi_render_json, 1);
}

static int page_metrics(page_t *pg)
{
    return send_rendered(pg, "text/plain; version=0.0.4; charset=utf-8",
                         tcpi_render_metrics, 0);
}

#define REQ_LIMIT_DEFAULT 100
#define REQ_LIMIT_MAX     TCPI_REQLOG_LEN

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

/* /requests and /requests.json: recent requests, newest first. */
static tcpi_out_t *view_start(request_rec *r, int json);

static int page_requests(page_t *pg, int json)
{
    request_rec *r = pg->r;
    tcpi_req_filter_t f;
    const char *v;
    uint64_t n, limit = REQ_LIMIT_DEFAULT, *ks;
    tcpi_req_t *recs;
    tcpi_req_status_t st;
    const tcpi_sumtab_t *sums;
    tcpi_out_t *o;
    int count;

    memset(&f, 0, sizeof(f));
    if ((v = apr_table_get(pg->args, "status")) != NULL) {
        if (tcpi_conf_parse_count(&n, v, 100, 599, r->pool) != NULL)
            return tcpi_httpd_bad_request(r, "status must be an HTTP status "
                                          "100-599");
        f.status = (int)n;
    }
    if ((v = apr_table_get(pg->args, "min_ms")) != NULL) {
        if (tcpi_conf_parse_count(&n, v, 0, 86400000, r->pool) != NULL)
            return tcpi_httpd_bad_request(r, "min_ms must be a number of "
                                          "milliseconds");
        f.min_us = n * 1000;
    }
    if ((v = apr_table_get(pg->args, "limit")) != NULL &&
        tcpi_conf_parse_count(&limit, v, 1, REQ_LIMIT_MAX, r->pool) != NULL)
        return tcpi_httpd_bad_request(r, apr_psprintf(r->pool,
                                      "limit must be 1-%u", REQ_LIMIT_MAX));
    f.uri_prefix = apr_table_get(pg->args, "uri");
    f.client = apr_table_get(pg->args, "client");
    recs = apr_palloc(r->pool, sizeof(*recs) * limit);
    ks = apr_palloc(r->pool, sizeof(*ks) * limit);
    count = tcpi_httpd_state.shm
            ? tcpi_req_collect(recs, ks, (int)limit,
                               tcpi_httpd_state.reqlog, &f)
            : 0;
    /* The list shows clients' methods and URIs: the same headers (CSP)
     * as every other view. */
    if ((o = view_start(r, json)) == NULL)
        return OK;
    req_status(&st);
    sums = tcpi_httpd_state.shm ? tcpi_shm_sumtab(tcpi_httpd_state.shm) : NULL;
    if (json)
        tcpi_render_requests_json(o, recs, ks, count, sums, &st);
    else
        tcpi_render_requests_html(o, recs, ks, count, sums, &st, pg->base);
    tcpi_out_flush(o);
    return OK;
}

static int page_requests_html(page_t *pg) { return page_requests(pg, 0); }
static int page_requests_json(page_t *pg) { return page_requests(pg, 1); }

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

static int page_packets(page_t *pg, int html)
{
    request_rec *r = pg->r;
    tcpi_packets_opts_t opt;
    tcpi_packets_stats_t st;
    tcpi_query_t q;
    tcpi_ring_stats_t rs;
    const char *v, *filter = apr_table_get(pg->args, "filter");
    char err[PCAP_ERRBUF_SIZE + 64];
    uint64_t n, max = html ? TCPI_PACKETS_HTML_LIMIT_MAX : TCPI_PACKETS_TXT_LIMIT_MAX;
    int iface = -1, rc;

    memset(&opt, 0, sizeof(opt));
    opt.limit = html ? TCPI_PACKETS_HTML_LIMIT_DEFAULT : TCPI_PACKETS_TXT_LIMIT_DEFAULT;
    if ((v = apr_table_get(pg->args, "limit")) != NULL &&
        tcpi_conf_parse_count(&opt.limit, v, 1, max, r->pool) != NULL)
        return tcpi_httpd_bad_request(r, apr_psprintf(r->pool,
                                      "limit must be 1-%u", (unsigned)max));
    if ((v = apr_table_get(pg->args, "x")) != NULL) {
        if (strcmp(v, "1") != 0 && strcmp(v, "0") != 0)
            return tcpi_httpd_bad_request(r, "x must be 0 or 1");
        opt.hex = v[0] == '1';
    }
    if ((v = apr_table_get(pg->args, "match")) != NULL) {
        if (*v == '\0' || strlen(v) > 256)
            return tcpi_httpd_bad_request(r, "match must be 1-256 bytes");
        opt.match = v;
        opt.match_len = strlen(v);
    }
    if ((v = apr_table_get(pg->args, "iface")) != NULL &&
        (tcpi_httpd_state.shm == NULL ||
         (iface = tcpi_shm_find_iface(tcpi_httpd_state.shm, v)) < 0))
        return tcpi_httpd_bad_request(r, "iface names no captured interface");
    if (tcpi_httpd_state.shm == NULL) {
        ap_set_content_type(r, html ? "text/html; charset=utf-8"
                                    : "text/plain; charset=utf-8");
        return OK;             /* no capture configured: nothing to show */
    }
    /* The filter sees headers only (payload bytes read as zero: no
     * filter can tell a redacted byte) unless the raw bytes may be
     * downloaded here anyway, or nothing is redacted. */
    unsigned qflags = tcpi_httpd_global_conf(r)->redact_off ||
                      (pg->dc != NULL && pg->dc->allow_download == 1)
                      ? TCPI_QUERY_PAYLOAD : 0;
    if (tcpi_query_init_ex(&q, tcpi_httpd_state.shm, iface, filter, qflags, err,
                           sizeof(err)) != 0)
        return tcpi_httpd_bad_request(r, apr_pstrcat(r->pool, "filter: ", err,
                                                     NULL));
    if ((v = apr_table_get(pg->args, "since")) != NULL) {
        if (tcpi_conf_parse_count(&n, v, 0, UINT64_MAX / 2, r->pool) != NULL) {
            tcpi_query_free(&q);
            return tcpi_httpd_bad_request(r, "since must be a packet number");
        }
        q.since = n;
        opt.have_since = 1;
    }
    opt.redact = request_redact(r);
    opt.front_ports = &tcpi_httpd_state.front_ports;
    opt.backend_ports = &tcpi_httpd_state.backend_ports;
    opt.base = pg->base;
    {
        /* The page's other parameters, for its links (escaped). */
        const char *keep[] = {"filter", "match", "x", "limit", "iface"};
        const char *qs = "";
        for (size_t i = 0; i < TCPI_ARRAY_LEN(keep); i++)
            if ((v = apr_table_get(pg->args, keep[i])) != NULL)
                qs = apr_pstrcat(r->pool, qs, *qs ? "&" : "", keep[i], "=",
                                 ap_escape_urlencoded(r->pool, v), NULL);
        opt.query_html = ap_escape_html2(r->pool, qs, 1);
    }
    tcpi_ring_stats(&rs, q.ring);
    size_t bufsize = rs.max_caplen ? rs.max_caplen : 65536;
    uint8_t *buf = apr_palloc(r->pool, bufsize);

    tcpi_packets_window(&st, &q, &opt, buf, bufsize);
    ap_set_content_type(r, html ? "text/html; charset=utf-8"
                                : "text/plain; charset=utf-8");
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

static int page_packets_txt(page_t *pg) { return page_packets(pg, 0); }
static int page_packets_html(page_t *pg) { return page_packets(pg, 1); }

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
static int page_request(page_t *pg, const char *id, int json)
{
    request_rec *r = pg->r;
    tcpi_req_filter_t f;
    tcpi_req_t rec;
    tcpi_reqsum_t *sum = apr_palloc(r->pool, sizeof(*sum));
    const tcpi_reqsum_t *s = NULL;
    tcpi_out_t *o;
    uint64_t k;

    memset(&f, 0, sizeof(f));
    f.id = id;
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

static int page_request_html(page_t *pg, const char *id)
{
    return page_request(pg, id, 0);
}

static int page_request_json(page_t *pg, const char *id)
{
    return page_request(pg, id, 1);
}

/* /flows and /flows.json: the flows the worker published, filtered. */
static int page_flows(page_t *pg, int json)
{
    request_rec *r = pg->r;
    tcpi_flow_filter_t f = { .leg = -1, .state = -1, .port = 0,
                             .limit = TCPI_FLOWS_LIMIT_DEFAULT };
    tcpi_flowpub_stats_t st;
    tcpi_flowrec_t *recs;
    tcpi_flowrow_t *rows;
    const char *v;
    uint64_t n;
    uint32_t nrec = 0, nrow;
    tcpi_out_t *o;

    if ((v = apr_table_get(pg->args, "leg")) != NULL &&
        (f.leg = tcpi_flowview_leg_from_name(v)) < 0)
        return tcpi_httpd_bad_request(r, "leg must be front, backend or other");
    if ((v = apr_table_get(pg->args, "state")) != NULL &&
        (f.state = tcpi_state_from_name(v)) < 0)
        return tcpi_httpd_bad_request(r, "state must be a netstat state name "
                                      "(ESTABLISHED, TIME_WAIT, ...)");
    if ((v = apr_table_get(pg->args, "port")) != NULL &&
        tcpi_conf_parse_port(&f.port, v, r->pool) != NULL)
        return tcpi_httpd_bad_request(r, "port must be 1-65535");
    if ((v = apr_table_get(pg->args, "limit")) != NULL) {
        if (tcpi_conf_parse_count(&n, v, 1, TCPI_FLOWS_LIMIT_MAX, r->pool))
            return tcpi_httpd_bad_request(r, apr_psprintf(r->pool,
                                          "limit must be 1-%u",
                                          TCPI_FLOWS_LIMIT_MAX));
        f.limit = (uint32_t)n;
    }
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

static int page_flows_html(page_t *pg) { return page_flows(pg, 0); }
static int page_flows_json(page_t *pg) { return page_flows(pg, 1); }

/* Each page and the query parameters it accepts (an allow-list). */
static const struct {
    const char *path;
    page_fn    *fn;
    const char *params[8];
} pages[] = {
    { "/",            page_overview, { "auto", "refresh", "nagios", NULL } },
    { "/status.json", page_json,     { NULL } },
    { "/metrics",     page_metrics,  { NULL } },
    { "/requests",    page_requests_html,
      { "status", "min_ms", "uri", "client", "limit", NULL } },
    { "/requests.json", page_requests_json,
      { "status", "min_ms", "uri", "client", "limit", NULL } },
    { "/capture.pcap",   tcpi_httpd_page_capture_pcap,
      { "filter", "seconds", "iface", NULL } },
    { "/capture.pcapng", tcpi_httpd_page_capture_pcapng,
      { "filter", "seconds", "iface", NULL } },
    { "/packets.txt", page_packets_txt,
      { "filter", "match", "x", "limit", "since", "iface", NULL } },
    { "/packets",     page_packets_html,
      { "filter", "match", "x", "limit", "since", "iface", NULL } },
    { "/flows",       page_flows_html, { "leg", "state", "port", "limit", NULL } },
    { "/flows.json",  page_flows_json, { "leg", "state", "port", "limit", NULL } },
};

/* Pages about one object: <prefix><id><suffix>, tried in order (so the
 * longer suffixes first; "" last). The id must be well-formed (400). */
typedef int page_id_fn(page_t *pg, const char *id);
static const struct {
    const char *prefix, *suffix;
    page_id_fn *fn;
    const char *params[4];
} id_pages[] = {
    { "/requests/", ".pcapng", tcpi_httpd_page_request_pcapng, { NULL } },
    { "/requests/", ".json",   page_request_json,   { NULL } },
    { "/requests/", "",        page_request_html,   { NULL } },
};

static int check_params(request_rec *r, apr_table_t *args,
                        const char *const *allowed)
{
    const apr_array_header_t *arr = apr_table_elts(args);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;

    for (int i = 0; i < arr->nelts; i++) {
        int ok = 0;
        for (int k = 0; allowed[k]; k++)
            if (strcmp(e[i].key, allowed[k]) == 0)
                ok = 1;
        if (!ok)
            return tcpi_httpd_bad_request(r, "unknown query parameter");
    }
    return DECLINED;
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
    const char *sub, *loc;
    size_t loclen;

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

    memset(&pg, 0, sizeof(pg));
    pg.r = r;
    pg.dc = dc;
    pg.base = ap_escape_html2(r->pool, ap_escape_uri(r->pool,
                              apr_pstrmemdup(r->pool, loc, loclen)), 1);
    {
        /* A query string is form-encoded: '+' is a space (curl -G
         * --data-urlencode sends filter=tcp+port+80); ap_args_to_table
         * decodes %XX only. */
        char *args = r->args, *q;
        if (args != NULL && strchr(args, '+') != NULL) {
            r->args = apr_pstrdup(r->pool, args);
            for (q = r->args; *q; q++)
                if (*q == '+')
                    *q = ' ';
        }
        ap_args_to_table(r, &pg.args);
        r->args = args;
    }
    for (size_t i = 0; i < TCPI_ARRAY_LEN(pages); i++) {
        if (strcmp(sub, pages[i].path) != 0)
            continue;
        if (check_params(r, pg.args, pages[i].params) == OK)
            return OK;
        return pages[i].fn(&pg);
    }
    for (size_t i = 0; i < TCPI_ARRAY_LEN(id_pages); i++) {
        size_t pl = strlen(id_pages[i].prefix), sl = strlen(id_pages[i].suffix);
        size_t n = strlen(sub);
        const char *id;

        if (n < pl + sl || strncmp(sub, id_pages[i].prefix, pl) != 0 ||
            strcmp(sub + n - sl, id_pages[i].suffix) != 0)
            continue;
        id = apr_pstrmemdup(r->pool, sub + pl, n - pl - sl);
        if (!tcpi_req_id_valid(id, n - pl - sl)) {
            if (*id == '\0' || strchr(id, '/'))
                return HTTP_NOT_FOUND;
            return tcpi_httpd_bad_request(r, "malformed request id");
        }
        if (check_params(r, pg.args, id_pages[i].params) == OK)
            return OK;
        return id_pages[i].fn(&pg, id);
    }
    return HTTP_NOT_FOUND;
}
