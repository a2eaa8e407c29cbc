/* tcpi_reqview.c — recent requests: selection and renderers. */
#include "tcpi_reqview.h"
#include "tcpi_counters.h"

#include <stdio.h>
#include <string.h>

int tcpi_req_match(const tcpi_req_t *r, const tcpi_req_filter_t *f)
{
    char ep[64];

    if (f->status && r->status != f->status)
        return 0;
    if (f->min_us && (r->end_us < r->start_us ||
                      r->end_us - r->start_us < f->min_us))
        return 0;
    if (f->uri_prefix && strncmp(r->uri, f->uri_prefix,
                                 strlen(f->uri_prefix)) != 0)
        return 0;
    if (f->id && strcmp(r->id, f->id) != 0)
        return 0;
    if (f->client) {
        tcpi_endpoint_format(ep, sizeof(ep), &r->front_client);
        if (strncmp(ep, f->client, strlen(f->client)) != 0)
            return 0;
    }
    return 1;
}

void tcpi_req_iter_init(tcpi_req_iter_t *it, const tcpi_reqlog_t *log,
                        const tcpi_req_filter_t *f, int max)
{
    it->log = log;
    it->f = f;
    it->k = log ? tcpi_reqlog_head(log) : 0;
    it->stop = it->k > TCPI_REQLOG_LEN ? it->k - TCPI_REQLOG_LEN : 0;
    it->left = max > 0 ? max : 0;
}

int tcpi_req_iter_next(tcpi_req_t *out, uint64_t *k, tcpi_req_iter_t *it)
{
    while (it->left > 0 && it->k > it->stop) {
        uint64_t n = --it->k;
        int got = tcpi_reqlog_get(out, it->log, n) == 0 &&
                  tcpi_req_match(out, it->f);
        /* a view's copies, and records passed over, keep no secret */
        if (!got || !it->f->secrets)
            tcpi_req_strip_secrets(out);
        if (got) {
            if (k)
                *k = n;
            it->left--;
            return 1;
        }
    }
    return 0;
}

int tcpi_req_collect(tcpi_req_t *out, uint64_t *ks, int max,
                     const tcpi_reqlog_t *log, const tcpi_req_filter_t *f)
{
    tcpi_req_iter_t it;
    int n = 0;

    tcpi_req_iter_init(&it, log, f, max);
    while (tcpi_req_iter_next(&out[n], ks ? &ks[n] : NULL, &it))
        n++;
    return n;
}

/* Where a list's rows come from: an array, or the log read one record at
 * a time (into rec). */
typedef struct {
    const tcpi_req_t *r;
    const uint64_t   *ks;
    int               n, i;
    int               from_log;
    tcpi_req_iter_t   it;
    tcpi_req_t        rec;
} rows_t;

static const tcpi_req_t *rows_next(rows_t *s, uint64_t *k)
{
    if (s->from_log)
        return tcpi_req_iter_next(&s->rec, k, &s->it) ? &s->rec : NULL;
    if (s->i >= s->n)
        return NULL;
    *k = s->ks[s->i];
    return &s->r[s->i++];
}

/* ---- shared pieces --------------------------------------------------- */

static const char *const leg_name[TCPI_JLEGS] = { "front", "backend" };
/* who sent, per leg and TCPI_JDIR_* */
static const char *const party[TCPI_JLEGS][2] = {
    { "client", "httpd" }, { "httpd", "backend" }
};

static double total_ms(const tcpi_req_t *r)
{
    return r->end_us >= r->start_us ? (double)(r->end_us - r->start_us) / 1000.0
                                    : 0.0;
}

static double ms_of(int64_t ns)
{
    return (double)ns / 1e6;
}

/* Plain-language explanations, per leg, of each analysis bit. */
static const char *const an_explain[TCPI_JLEGS][TCPI_AN_COUNT] = {
    {
        "Data between the client and httpd was sent again because it was "
        "not acknowledged in time: packets were lost on the client's path "
        "(a lossy or congested link).",
        "A segment was resent right after the receiver signalled a gap with "
        "duplicate ACKs: loss on the client's path, recovered quickly.",
        "Data was resent although it had already been acknowledged: the "
        "sender's timer fired too early (a delay spike, not loss).",
        "Segments arrived out of order on the client's path.",
        "The receiver saw a gap and repeated its last ACK: loss or "
        "reordering on the client's path.",
        "A receive buffer was full, so the sender had to stop: usually a "
        "client reading the response slowly.",
        "TCP keep-alive probes: an idle connection being checked.",
    },
    {
        "Data between httpd and the backend was sent again. On loopback "
        "nothing is lost on a wire: the backend (or this host) was too "
        "busy to take the data in time.",
        "A segment to or from the backend was resent after duplicate ACKs: "
        "the host dropped packets under load.",
        "Data was resent to or from the backend although it had already "
        "been acknowledged: a scheduling stall on this host.",
        "Segments to or from the backend arrived out of order.",
        "Duplicate ACKs on the backend connection: the host dropped or "
        "reordered packets.",
        "A receive buffer on the backend connection was full: Jetty not "
        "reading the request, or httpd not reading Jetty's response "
        "(a slow client holding the proxy back).",
        "TCP keep-alive probes on the backend connection.",
    },
};

static const char *rst_explain(int leg, int by)
{
    if (leg == TCPI_JLEG_FRONT)
        return by == TCPI_JBY_INIT
            ? "The client reset the connection: it gave up (a timeout, a "
              "closed page) or was killed."
            : "httpd reset the client connection: it aborted the response "
              "(a timeout, a limit, or the client's data after a close).";
    return by == TCPI_JBY_INIT
        ? "httpd reset the backend connection: it gave up on it (ProxyTimeout, "
          "or the client went away mid-response)."
        : "The backend reset the connection: Jetty crashed, refused the "
          "request, or closed an idle pooled connection httpd was using.";
}

#define RACE_TEXT                                                           \
    "The backend closed this pooled connection (FIN/RST) just as httpd "    \
    "sent the request on it. This race is behind mod_proxy's sporadic "     \
    "502s: set ProxyPass ... ttl=N with N below the backend's idle "        \
    "timeout (Jetty's default is 30 s: ttl=20), or enable "                 \
    "disablereuse=On for this backend."
#define NOANSWER_TEXT                                                       \
    "The backend closed the connection without sending any response: the " \
    "application failed or a limit in the backend was hit."
#define PARTIAL_TEXT                                                        \
    "This leg's timeline began after the request started (older packets "   \
    "were no longer held): the first timings may be missing."
#define NOTFOUND_TEXT                                                       \
    "No packets of this flow were captured: it is outside the capture "     \
    "scope (TCPInspectFrontend/TCPInspectBackend interfaces, filter) or "   \
    "was evicted from the flow table."

static int backend_no_answer(const tcpi_reqsum_t *s)
{
    /* (a new TLS backend connection has no exchange points: unknown) */
    return s->leg[1].found && !s->pool_race && !s->tls_backend_opened &&
           !s->t[TCPI_JP_be_first] &&
           (s->leg[1].fin_by & TCPI_JBY_RESP || s->leg[1].rst_by & TCPI_JBY_RESP);
}

/* ---- JSON ------------------------------------------------------------ */

TCPI_CTR_FAMILY(reqlog, TCPI_CTR_REQLOG, tcpi_req_status_t, TCPI_CTR_SRC_REQ,
                "request log", "capture.request_log", "");
TCPI_CTR_FAMILY(join, TCPI_CTR_JOIN, tcpi_req_status_t, TCPI_CTR_SRC_REQ,
                "request join", "capture.join", "");

static void json_ep(tcpi_json_t *j, const char *key, const tcpi_endpoint_t *ep)
{
    char buf[64];
    size_t n = tcpi_endpoint_format(buf, sizeof(buf), ep);

    if (n == 0)
        tcpi_json_null(j, key);
    else
        tcpi_json_strn(j, key, buf, n);
}

/* A duration in ms, null when it was not measured (ns < 0). */
static void json_ms(tcpi_json_t *j, const char *key, int64_t ns)
{
    if (ns < 0)
        tcpi_json_null(j, key);
    else
        tcpi_json_fixed(j, key, ms_of(ns), 3);
}

static const char *by_name(int leg, int by)
{
    return by == TCPI_JBY_INIT ? party[leg][0] : by == TCPI_JBY_RESP
           ? party[leg][1] : by ? "both" : NULL;
}

/* The wire part of a leg: "found", "packets", "bytes", "anomalies". */
static void json_leg(tcpi_json_t *j, const tcpi_reqsum_t *s, int leg)
{
    const tcpi_legsum_t *L = s ? &s->leg[leg] : NULL;

    if (L == NULL) {
        tcpi_json_null(j, "found");
        return;
    }
    tcpi_json_bool(j, "found", L->found);
    if (!L->found)
        return;
    tcpi_json_bool(j, "partial", L->partial);
    tcpi_json_obj(j, "packets");
    tcpi_json_u64(j, party[leg][0], L->packets[0]);
    tcpi_json_u64(j, party[leg][1], L->packets[1]);
    tcpi_json_end(j);
    tcpi_json_obj(j, "bytes");
    tcpi_json_u64(j, party[leg][0], L->bytes[0]);
    tcpi_json_u64(j, party[leg][1], L->bytes[1]);
    tcpi_json_end(j);
    tcpi_json_obj(j, "anomalies");
    for (int b = 0; b < TCPI_AN_COUNT; b++)
        tcpi_json_u64(j, tcpi_flow_an_name(b), L->an[b]);
    tcpi_json_end(j);
    tcpi_json_str(j, "rst_by", by_name(leg, L->rst_by));
    tcpi_json_str(j, "fin_by", by_name(leg, L->fin_by));
}

static void flags_str(char *b, uint8_t fl)
{
    static const struct { uint8_t bit; char c; } map[] = {
        { TCPI_TH_FIN, 'F' }, { TCPI_TH_SYN, 'S' }, { TCPI_TH_RST, 'R' },
        { TCPI_TH_PSH, 'P' }, { TCPI_TH_URG, 'U' }, { TCPI_TH_ECE, 'E' },
        { TCPI_TH_CWR, 'W' }, { TCPI_TH_ACK, '.' },
    };
    int n = 0;

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (fl & map[i].bit)
            b[n++] = map[i].c;
    if (n == 0)
        b[n++] = 'n';
    b[n] = '\0';
}

/* One finding: which leg, what kind, and what it means. */
static void json_finding(tcpi_json_t *j, const char *leg, const char *kind,
                         const char *text)
{
    tcpi_json_obj(j, NULL);
    tcpi_json_str(j, "leg", leg);
    tcpi_json_str(j, "kind", kind);
    tcpi_json_str(j, "explanation", text);
    tcpi_json_end(j);
}

static void json_detail(tcpi_json_t *j, const tcpi_reqsum_t *s)
{
    char key[48];

    tcpi_json_obj(j, "points");
    for (int p = 0; p < TCPI_JP_COUNT; p++) {
        snprintf(key, sizeof(key), "%s_ms", tcpi_join_point_name(p));
        if (s->t[p])            /* may be before the start: negative */
            tcpi_json_fixed(j, key, ms_of((int64_t)(s->t[p] - s->t0_ns)), 3);
        else
            tcpi_json_null(j, key);
    }
    tcpi_json_end(j);
    tcpi_json_arr(j, "findings");
    for (int leg = 0; leg < TCPI_JLEGS; leg++) {
        const tcpi_legsum_t *L = &s->leg[leg];
        for (int b = 0; b < TCPI_AN_COUNT; b++) {
            if (!L->an[b])
                continue;
            tcpi_json_obj(j, NULL);
            tcpi_json_str(j, "leg", leg_name[leg]);
            tcpi_json_str(j, "kind", tcpi_flow_an_name(b));
            tcpi_json_u64(j, "count", L->an[b]);
            tcpi_json_str(j, "explanation", an_explain[leg][b]);
            tcpi_json_end(j);
        }
        for (int by = TCPI_JBY_INIT; by <= TCPI_JBY_RESP; by++) {
            if (!(L->rst_by & by))
                continue;
            tcpi_json_obj(j, NULL);
            tcpi_json_str(j, "leg", leg_name[leg]);
            tcpi_json_str(j, "kind", "rst");
            tcpi_json_str(j, "by", by_name(leg, by));
            tcpi_json_str(j, "explanation", rst_explain(leg, by));
            tcpi_json_end(j);
        }
    }
    if (s->pool_race)
        json_finding(j, "backend", "pool_race", RACE_TEXT);
    if (backend_no_answer(s))
        json_finding(j, "backend", "no_answer", NOANSWER_TEXT);
    tcpi_json_end(j);
    tcpi_json_u64(j, "packets_total", s->npkt_total);
    tcpi_json_arr(j, "packets");
    for (int i = 0; i < s->npkt; i++) {
        const tcpi_sumpkt_t *p = &s->pkt[i];
        int leg = p->leg_dir >> 1 & 1, dir = p->leg_dir & 1;
        char fl[12];
        flags_str(fl, p->flags);
        tcpi_json_obj(j, NULL);
        tcpi_json_fixed(j, "t_ms", ms_of((int64_t)(p->ts_ns - s->t0_ns)), 3);
        tcpi_json_str(j, "leg", leg_name[leg]);
        tcpi_json_str(j, "from", party[leg][dir]);
        tcpi_json_str(j, "flags", fl);
        tcpi_json_u64(j, "seq", p->seq);
        tcpi_json_u64(j, "ack", p->ack);
        tcpi_json_u64(j, "len", p->len);
        tcpi_json_u64(j, "win", p->win);
        tcpi_json_arr(j, "analysis");
        for (int b = 0; b < TCPI_AN_COUNT; b++)
            if (p->an & (1u << b))
                tcpi_json_str(j, NULL, tcpi_flow_an_name(b));
        tcpi_json_end(j);
        tcpi_json_end(j);
    }
    tcpi_json_end(j);
}

/* front.tls: what mod_ssl agreed with the client (null for plain HTTP).
 * The client random names the connection (as a key log line does); the
 * secrets are never shown, only whether they were kept. */
static void json_tls(tcpi_json_t *j, const tcpi_req_tls_t *t)
{
    char rnd[2 * TCPI_TLS_RANDOM_LEN + 1];

    if (!t->on) {
        tcpi_json_null(j, "tls");
        return;
    }
    tcpi_json_obj(j, "tls");
    tcpi_json_str(j, "protocol", t->protocol);
    tcpi_json_str(j, "cipher", t->cipher);
    if (t->sni[0])
        tcpi_json_str(j, "sni", t->sni);
    else
        tcpi_json_null(j, "sni");
    if (t->alpn[0])
        tcpi_json_str(j, "alpn", t->alpn);
    else
        tcpi_json_null(j, "alpn");
    tcpi_json_bool(j, "resumed", t->resumed);
    if (t->has_random) {
        for (size_t i = 0; i < TCPI_TLS_RANDOM_LEN; i++)
            snprintf(rnd + 2 * i, 3, "%02x", t->client_random[i]);
        tcpi_json_str(j, "client_random", rnd);
    } else {
        tcpi_json_null(j, "client_random");
    }
    tcpi_json_bool(j, "keys_kept", t->nkeys > 0);
    /* more secrets than a record holds (a connection renegotiated past
     * TCPI_TLS_KEYS_MAX lines): a reader may not decrypt all of it */
    tcpi_json_bool(j, "keys_incomplete", t->keys_dropped);
    tcpi_json_end(j);
}

/* The reason a phase of s is null, where the join knows one. */
static const char *null_reason(const tcpi_reqsum_t *s, int ph)
{
    int from = tcpi_join_phase_from(ph), to = tcpi_join_phase_to(ph);

    if (s->shared_front && tcpi_join_phase_shared(ph))
        return "shared_connection";
    if (s->tls_backend_opened && ph != TCPI_PH_backend_idle &&
        (tcpi_join_exchange_point(from) || tcpi_join_exchange_point(to)))
        return "tls_backend_handshake";
    return NULL;
}

void tcpi_reqview_json(tcpi_json_t *j, const char *key, const tcpi_req_t *r,
                       const tcpi_reqsum_t *s, int detail)
{
    char k[48];

    tcpi_json_obj(j, key);
    tcpi_json_str(j, "id", r->id);
    tcpi_json_str(j, "method", r->method);
    tcpi_json_str(j, "uri", r->uri);
    tcpi_json_u64(j, "status", r->status);
    tcpi_json_u64(j, "bytes_sent", r->bytes_sent);
    tcpi_json_u64(j, "start_us", r->start_us);
    tcpi_json_i64(j, "pid", r->pid);
    tcpi_json_bool(j, "joined", s != NULL);
    tcpi_json_obj(j, "front");
    json_ep(j, "client", &r->front_client);
    json_ep(j, "server", &r->front_server);
    tcpi_json_u64(j, "connection", r->conn_id);
    tcpi_json_u64(j, "keepalives", r->keepalives);
    tcpi_json_u64(j, "requests_before", r->conn_requests);
    json_tls(j, &r->tls);
    if (s)
        tcpi_json_bool(j, "opened", s->front_opened);
    json_leg(j, s, TCPI_JLEG_FRONT);
    tcpi_json_end(j);
    if (r->has_backend) {
        tcpi_json_obj(j, "backend");
        json_ep(j, "local", &r->backend_local);
        json_ep(j, "remote", &r->backend_remote);
        tcpi_json_bool(j, "reused", r->backend_reused);
        tcpi_json_str(j, "source", r->backend_src == TCPI_BACKEND_SRC_NOTE
                                   ? "note" : "create_req");
        tcpi_json_bool(j, "tls", r->backend_tls);
        tcpi_json_bool(j, "tls_keys_kept", r->backend_keys.nkeys > 0);
        if (s) {
            tcpi_json_bool(j, "opened", s->backend_opened);
            tcpi_json_bool(j, "pool_race", s->pool_race);
        }
        json_leg(j, s, TCPI_JLEG_BACKEND);
        tcpi_json_end(j);
    } else {
        tcpi_json_null(j, "backend");
    }
    tcpi_json_obj(j, "timing");
    tcpi_json_fixed(j, "total_ms", total_ms(r), 3);
    for (int ph = 0; ph < TCPI_PH_COUNT; ph++) {
        snprintf(k, sizeof(k), "%s_ms", tcpi_join_phase_name(ph));
        json_ms(j, k, s ? tcpi_join_phase_ns(s->t, ph) : -1);
    }
    /* Why a phase is null where the reason is known: an HTTP/2 stream's
     * front packets carry the other streams of its connection too; a new
     * TLS connection to the backend starts with its handshake's records. */
    if (s && (s->shared_front || s->tls_backend_opened)) {
        tcpi_json_obj(j, "null_reasons");
        for (int ph = 0; ph < TCPI_PH_COUNT; ph++) {
            const char *why = null_reason(s, ph);
            if (why != NULL) {
                snprintf(k, sizeof(k), "%s_ms", tcpi_join_phase_name(ph));
                tcpi_json_str(j, k, why);
            }
        }
        tcpi_json_end(j);
    }
    tcpi_json_end(j);
    tcpi_json_bool(j, "captured", r->capture);
    if (detail && s)
        json_detail(j, s);
    tcpi_json_end(j);
}

void tcpi_render_request_json(tcpi_out_t *o, const tcpi_req_t *r,
                              const tcpi_reqsum_t *s, int detail)
{
    tcpi_json_t j;

    tcpi_json_init(&j, o);
    tcpi_reqview_json(&j, NULL, r, s, detail);
}

/* A sink into a fixed buffer: refuses what does not fit. */
typedef struct {
    char  *buf;
    size_t cap, len;
} fixed_t;

static int fixed_sink(void *baton, const void *p, size_t n)
{
    fixed_t *f = baton;

    if (n > f->cap - f->len)
        return -1;
    memcpy(f->buf + f->len, p, n);
    f->len += n;
    return 0;
}

size_t tcpi_reqview_line(char *buf, size_t cap, const tcpi_req_t *r,
                         const tcpi_reqsum_t *s)
{
    tcpi_out_t o;                      /* 16 KiB: one line fits */
    fixed_t f = { buf, cap, 0 };

    tcpi_out_init(&o, fixed_sink, &f);
    tcpi_render_request_json(&o, r, s, 0);
    tcpi_out_str(&o, "\n");
    return tcpi_out_flush(&o) == 0 ? f.len : 0;
}

static const tcpi_reqsum_t *sum_of(tcpi_reqsum_t *buf, const tcpi_sumtab_t *t,
                                   uint64_t k, const tcpi_req_t *r)
{
    return t && tcpi_sumtab_get_for(buf, t, k, r->id) == 0 ? buf : NULL;
}

static void list_json(tcpi_out_t *o, rows_t *rows, const tcpi_sumtab_t *sums,
                      const tcpi_req_status_t *st)
{
    tcpi_reqsum_t buf;
    uint64_t v[TCPI_CTR_MAX], k;
    const tcpi_req_t *r;
    tcpi_json_t j;

    tcpi_json_init(&j, o);
    tcpi_json_obj(&j, NULL);
    tcpi_ctr_reqlog.values(v, st);
    tcpi_counters_json(&j, tcpi_ctr_reqlog.c, tcpi_ctr_reqlog.n, v);
    if (st->have_join) {
        tcpi_ctr_join.values(v, st);
        tcpi_json_obj(&j, "join");
        tcpi_counters_json(&j, tcpi_ctr_join.c, tcpi_ctr_join.n, v);
        tcpi_json_end(&j);
    }
    tcpi_json_arr(&j, "requests");
    for (int i = 0; (r = rows_next(rows, &k)) != NULL; i++) {
        if (i)
            tcpi_out_str(o, "\n");         /* one request a line */
        tcpi_reqview_json(&j, NULL, r, sum_of(&buf, sums, k, r), 0);
    }
    tcpi_json_end(&j);
    tcpi_json_end(&j);
    tcpi_out_str(o, "\n");
}

void tcpi_render_requests_json(tcpi_out_t *o, const tcpi_req_t *r,
                               const uint64_t *ks, int n,
                               const tcpi_sumtab_t *sums,
                               const tcpi_req_status_t *st)
{
    rows_t rows = { .r = r, .ks = ks, .n = n };

    list_json(o, &rows, sums, st);
}

void tcpi_render_requests_json_log(tcpi_out_t *o, const tcpi_reqlog_t *log,
                                   const tcpi_req_filter_t *f, int max,
                                   const tcpi_sumtab_t *sums,
                                   const tcpi_req_status_t *st)
{
    rows_t rows = { .from_log = 1 };

    tcpi_req_iter_init(&rows.it, log, f, max);
    list_json(o, &rows, sums, st);
}

/* ---- HTML ------------------------------------------------------------ */

static void html_ep(tcpi_out_t *o, const tcpi_endpoint_t *ep)
{
    char buf[64];
    size_t n = tcpi_endpoint_format(buf, sizeof(buf), ep);
    tcpi_out_html(o, buf, n);
}

static void html_ms(tcpi_out_t *o, int64_t ns)
{
    if (ns < 0)
        tcpi_out_str(o, "");
    else
        tcpi_out_printf(o, "%.1f", ms_of(ns));
}

static uint32_t leg_anomalies(const tcpi_legsum_t *L)
{
    uint32_t n = 0;
    for (int b = 0; b < TCPI_AN_COUNT; b++)
        if (b != 6)                                  /* keep-alives are fine */
            n += L->an[b];
    return n + (L->rst_by ? 1 : 0);
}

void tcpi_render_requests_thead(tcpi_out_t *o)
{
    tcpi_out_str(o, "<table class=\"req\"><tr><th>id</th><th>request</th><th>status"
                 "</th><th>total ms</th><th>backend TTFB ms</th><th>client</th>"
                 "<th>server</th><th>backend local</th><th>backend</th>"
                 "<th>reused</th><th>anomalies</th></tr>\n");
}

void tcpi_render_request_row(tcpi_out_t *o, const tcpi_req_t *r,
                             const tcpi_reqsum_t *s, const char *base)
{
    uint32_t an = s ? leg_anomalies(&s->leg[0]) + leg_anomalies(&s->leg[1]) +
                      s->pool_race : 0;

    tcpi_out_printf(o, "<tr%s><td><a href=\"%s/requests/", r->status >= 500
                    ? " class=\"e\"" : an ? " class=\"w\"" : "", base);
    /* ids are checked on the way in; escape anyway */
    tcpi_out_html(o, r->id, strlen(r->id));
    tcpi_out_str(o, "\"><code>");
    tcpi_out_html(o, r->id, strlen(r->id));
    tcpi_out_str(o, "</code></a></td><td>");
    tcpi_out_html(o, r->method, strlen(r->method));
    tcpi_out_str(o, " ");
    tcpi_out_html(o, r->uri, strlen(r->uri));
    tcpi_out_printf(o, "</td><td>%u</td><td class=\"r\">%.1f</td>"
                    "<td class=\"r\">", r->status, total_ms(r));
    html_ms(o, s ? tcpi_join_phase_ns(s->t, TCPI_PH_backend_ttfb) : -1);
    tcpi_out_str(o, "</td><td>");
    html_ep(o, &r->front_client);
    tcpi_out_str(o, "</td><td>");
    html_ep(o, &r->front_server);
    tcpi_out_str(o, "</td><td>");
    html_ep(o, &r->backend_local);
    tcpi_out_str(o, "</td><td>");
    html_ep(o, &r->backend_remote);
    tcpi_out_printf(o, "</td><td>%s</td><td class=\"r\">", !r->has_backend
                    ? "" : r->backend_reused ? "yes" : "no");
    if (s)
        tcpi_out_printf(o, "%u", an);
    tcpi_out_str(o, "</td></tr>\n");
}

/* n: how many rows will come */
static void list_html(tcpi_out_t *o, rows_t *rows, int n,
                      const tcpi_sumtab_t *sums, const tcpi_req_status_t *st,
                      const char *base)
{
    tcpi_reqsum_t buf;
    const tcpi_req_t *r;
    uint64_t k;

    tcpi_out_page_head(o, "requests", base);
    tcpi_out_printf(o, "<h1>Recent requests</h1>\n<p><a href=\"%s/\">overview"
                    "</a> &middot; <a href=\"%s/requests.json\">JSON</a>. "
                    "%d shown, newest first; %llu dropped by the log",
                    base, base, n, (unsigned long long)st->log_dropped);
    if (st->have_join)
        tcpi_out_printf(o, "; %llu joined to their packets, %llu waiting, "
                        "%llu packets lost to the ring before the join, "
                        "%llu flows evicted", (unsigned long long)st->join.joined,
                        (unsigned long long)st->join.pending,
                        (unsigned long long)st->join.packets_lost,
                        (unsigned long long)st->join.evictions);
    tcpi_out_str(o, ".</p>\n");
    tcpi_render_requests_thead(o);
    while ((r = rows_next(rows, &k)) != NULL)
        tcpi_render_request_row(o, r, sum_of(&buf, sums, k, r), base);
    tcpi_out_str(o, "</table>\n");
    tcpi_out_page_foot(o);
}

void tcpi_render_requests_html(tcpi_out_t *o, const tcpi_req_t *r,
                               const uint64_t *ks, int n,
                               const tcpi_sumtab_t *sums,
                               const tcpi_req_status_t *st, const char *base)
{
    rows_t rows = { .r = r, .ks = ks, .n = n };

    list_html(o, &rows, n, sums, st, base);
}

void tcpi_render_requests_html_log(tcpi_out_t *o, const tcpi_reqlog_t *log,
                                   const tcpi_req_filter_t *f, int max,
                                   const tcpi_sumtab_t *sums,
                                   const tcpi_req_status_t *st,
                                   const char *base)
{
    rows_t rows = { .from_log = 1 };
    tcpi_req_iter_t count;
    int n = 0;

    /* The count comes before the rows: walk the same records twice. */
    tcpi_req_iter_init(&rows.it, log, f, max);
    count = rows.it;
    while (tcpi_req_iter_next(&rows.rec, NULL, &count))
        n++;
    rows.it.left = n;
    list_html(o, &rows, n, sums, st, base);
}

/* The waterfall: one bar per phase seen, on a common time axis. */
static void html_waterfall(tcpi_out_t *o, const tcpi_reqsum_t *s)
{
    const int W = 560, X0 = 200, ROW = 22;
    uint64_t lo = UINT64_MAX, hi = 0;
    int rows = 0, y;

    for (int p = 0; p < TCPI_JP_COUNT; p++)
        if (s->t[p]) {
            if (s->t[p] < lo) lo = s->t[p];
            if (s->t[p] > hi) hi = s->t[p];
        }
    for (int ph = 0; ph < TCPI_PH_COUNT; ph++)
        rows += tcpi_join_phase_ns(s->t, ph) >= 0;
    if (rows == 0 || hi <= lo) {
        tcpi_out_str(o, "<p>No wire timings for this request.</p>\n");
        return;
    }
    double span = (double)(hi - lo);
    tcpi_out_printf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                    "height=\"%d\" role=\"img\" aria-label=\"wire timings\" "
                    "font-family=\"sans-serif\" font-size=\"12\">\n",
                    X0 + W + 90, (rows + 1) * ROW + 10);
    tcpi_out_printf(o, "<line x1=\"%d\" y1=\"0\" x2=\"%d\" y2=\"%d\" "
                    "stroke=\"#999\"/>\n", X0, X0, (rows + 1) * ROW);
    y = 0;
    for (int ph = 0; ph < TCPI_PH_COUNT; ph++) {
        int64_t d = tcpi_join_phase_ns(s->t, ph);
        if (d < 0)
            continue;
        uint64_t from = s->t[tcpi_join_phase_from(ph)];
        double x = X0 + (double)(from - lo) / span * W;
        double w = (double)d / span * W;
        y += ROW;
        tcpi_out_printf(o, "<text x=\"4\" y=\"%d\">%s</text>"
                        "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"14\" "
                        "fill=\"%s\"/><text x=\"%.1f\" y=\"%d\">%.2f ms</text>\n",
                        y, tcpi_join_phase_text(ph), x, y - 11, w < 1 ? 1 : w,
                        ph == TCPI_PH_backend_ttfb ? "#c0504d" : "#4f81bd",
                        x + (w < 1 ? 1 : w) + 4, y, ms_of(d));
    }
    tcpi_out_printf(o, "<text x=\"%d\" y=\"%d\">0</text><text x=\"%d\" y=\"%d\" "
                    "text-anchor=\"end\">%.2f ms</text>\n</svg>\n", X0,
                    (rows + 1) * ROW + 4, X0 + W, (rows + 1) * ROW + 4,
                    span / 1e6);
}

static void html_findings(tcpi_out_t *o, const tcpi_reqsum_t *s)
{
    int n = 0;

    tcpi_out_str(o, "<h2>Findings</h2>\n<ul>\n");
    for (int leg = 0; leg < TCPI_JLEGS; leg++) {
        const tcpi_legsum_t *L = &s->leg[leg];
        if (!L->found) {
            tcpi_out_printf(o, "<li><b>%s</b>: %s</li>\n", leg_name[leg],
                            NOTFOUND_TEXT);
            n++;
            continue;
        }
        if (L->partial)
            tcpi_out_printf(o, "<li><b>%s</b>: %s</li>\n", leg_name[leg],
                            PARTIAL_TEXT), n++;
        for (int b = 0; b < TCPI_AN_COUNT; b++)
            if (L->an[b])
                tcpi_out_printf(o, "<li><b>%s</b>: %u &times; %s. %s</li>\n",
                                leg_name[leg], L->an[b], tcpi_flow_an_text(b),
                                an_explain[leg][b]), n++;
        for (int by = TCPI_JBY_INIT; by <= TCPI_JBY_RESP; by++)
            if (L->rst_by & by)
                tcpi_out_printf(o, "<li><b>%s</b>: RST from %s. %s</li>\n",
                                leg_name[leg], by_name(leg, by),
                                rst_explain(leg, by)), n++;
    }
    if (s->pool_race)
        tcpi_out_printf(o, "<li><b>backend</b>: %s</li>\n", RACE_TEXT), n++;
    if (backend_no_answer(s))
        tcpi_out_printf(o, "<li><b>backend</b>: %s</li>\n", NOANSWER_TEXT), n++;
    if (n == 0)
        tcpi_out_str(o, "<li>No TCP trouble on either leg.</li>\n");
    tcpi_out_str(o, "</ul>\n");
}

static void html_packets(tcpi_out_t *o, const tcpi_reqsum_t *s)
{
    tcpi_out_printf(o, "<h2>Packets</h2>\n<p>Both legs interleaved in time, "
                    "%d of %u shown (the first %d and the last %d); times from "
                    "the request's start, sequence numbers relative.</p>\n"
                    "<table class=\"req\"><tr><th>ms</th><th>leg</th><th>from</th><th>flags"
                    "</th><th>seq</th><th>ack</th><th>len</th><th>win</th>"
                    "<th>analysis</th></tr>\n", s->npkt, s->npkt_total,
                    TCPI_SUM_HEAD, TCPI_SUM_PKTS - TCPI_SUM_HEAD);
    for (int i = 0; i < s->npkt; i++) {
        const tcpi_sumpkt_t *p = &s->pkt[i];
        int leg = p->leg_dir >> 1 & 1, dir = p->leg_dir & 1;
        char fl[12];
        flags_str(fl, p->flags);
        tcpi_out_printf(o, "<tr%s><td class=\"r\">%.3f</td><td>%s</td><td>%s"
                        "</td><td>[%s]</td><td class=\"r\">%u</td><td class=\"r\">"
                        "%u</td><td class=\"r\">%u</td><td class=\"r\">%u</td><td>",
                        p->an & ~TCPI_AN_keep_alive ? " class=\"w\"" :
                        p->flags & TCPI_TH_RST ? " class=\"e\"" : "",
                        ms_of((int64_t)(p->ts_ns - s->t0_ns)), leg_name[leg],
                        party[leg][dir], fl, p->seq, p->ack, p->len, p->win);
        for (int b = 0, m = 0; b < TCPI_AN_COUNT; b++)
            if (p->an & (1u << b))
                tcpi_out_printf(o, "%s%s", m++ ? ", " : "", tcpi_flow_an_name(b));
        tcpi_out_str(o, "</td></tr>\n");
    }
    tcpi_out_str(o, "</table>\n");
}

void tcpi_render_request_html(tcpi_out_t *o, const tcpi_req_t *r,
                              const tcpi_reqsum_t *s, const char *base)
{
    tcpi_out_page_head(o, "request", base);
    tcpi_out_str(o, "<h1>Request <code>");
    tcpi_out_html(o, r->id, strlen(r->id));
    tcpi_out_printf(o, "</code></h1>\n<p><a href=\"%s/requests\">all requests"
                    "</a> &middot; <a href=\"%s/requests/", base, base);
    tcpi_out_html(o, r->id, strlen(r->id));
    tcpi_out_str(o, ".json\">JSON</a></p>\n<table class=\"req\"><tr><th>request</th><td>");
    tcpi_out_html(o, r->method, strlen(r->method));
    tcpi_out_str(o, " ");
    tcpi_out_html(o, r->uri, strlen(r->uri));
    tcpi_out_printf(o, "</td></tr><tr><th>status</th><td>%u</td></tr>"
                    "<tr><th>total</th><td>%.3f ms (httpd's clock)</td></tr>"
                    "<tr><th>frontend</th><td>", r->status, total_ms(r));
    html_ep(o, &r->front_client);
    tcpi_out_str(o, " &rarr; ");
    html_ep(o, &r->front_server);
    tcpi_out_printf(o, " (%s connection)</td></tr>",
                    r->conn_requests ? "kept-alive" : "new");
    if (r->tls.on) {
        const tcpi_req_tls_t *tl = &r->tls;
        tcpi_out_str(o, "<tr><th>TLS</th><td>");
        tcpi_out_html(o, tl->protocol, strlen(tl->protocol));
        tcpi_out_str(o, ", ");
        tcpi_out_html(o, tl->cipher, strlen(tl->cipher));
        tcpi_out_str(o, tl->resumed ? ", resumed session" : ", full handshake");
        if (tl->alpn[0]) {
            tcpi_out_str(o, ", ALPN ");
            tcpi_out_html(o, tl->alpn, strlen(tl->alpn));
        }
        if (tl->sni[0]) {
            tcpi_out_str(o, ", SNI ");
            tcpi_out_html(o, tl->sni, strlen(tl->sni));
        }
        tcpi_out_str(o, tl->nkeys ? "; the capture carries this connection's "
                                    "secrets (TCPInspectTLSKeys)" : "");
        tcpi_out_str(o, "</td></tr>");
    }
    tcpi_out_str(o, "<tr><th>backend</th><td>");
    if (r->has_backend) {
        html_ep(o, &r->backend_local);
        tcpi_out_str(o, " &rarr; ");
        html_ep(o, &r->backend_remote);
        tcpi_out_printf(o, " (%s connection%s)", r->backend_reused
                        ? "pooled, reused" : "new", r->backend_tls ? ", TLS" : "");
        tcpi_out_str(o, r->backend_keys.nkeys ? "; the capture carries this "
                     "connection's secrets (TCPInspectTLSKeys)" : "");
    } else {
        tcpi_out_str(o, "not proxied");
    }
    tcpi_out_str(o, "</td></tr></table>\n");
    if (s == NULL) {
        tcpi_out_str(o, "<p>The capture worker has not joined this request to "
                     "its packets (yet): it waits about half a second after the "
                     "request ends, and needs TCPInspectEngine On.</p>\n");
        tcpi_out_page_foot(o);
        return;
    }
    tcpi_out_str(o, "<h2>Wire timings</h2>\n");
    html_waterfall(o, s);
    tcpi_out_str(o, "<table class=\"req\"><tr><th>phase</th><th>ms</th></tr>\n");
    for (int ph = 0; ph < TCPI_PH_COUNT; ph++) {
        int64_t d = tcpi_join_phase_ns(s->t, ph);
        if (d < 0)
            continue;
        tcpi_out_printf(o, "<tr><td>%s</td><td class=\"r\">%.3f</td></tr>\n",
                        tcpi_join_phase_text(ph), ms_of(d));
    }
    tcpi_out_str(o, "</table>\n");
    if (s->shared_front)
        tcpi_out_str(o, "<p>An HTTP/2 stream: its frontend connection carries "
                     "the other streams too, so the request's receiving, the "
                     "response's transfer and the client's ACK are not shown "
                     "(shared_connection).</p>\n");
    if (s->tls_backend_opened)
        tcpi_out_str(o, "<p>A new TLS connection to the backend: its "
                     "handshake's records come before the request's and the "
                     "wire does not tell them apart, so the forwarding, the "
                     "backend's time to first byte and its transfer are not "
                     "shown (tls_backend_handshake).</p>\n");
    html_findings(o, s);
    html_packets(o, s);
    tcpi_out_page_foot(o);
}
