/* tcpi_join.c — requests joined to their flows (tcpi_join.h). */
#include "tcpi_join.h"
#include "tcpi/common.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define SUMTAB_MAGIC 0x54435355u           /* "TCSU" */
#define TAIL_NS      350000000ull          /* trailing ACK/FIN after log */
/* ... and the worker sees a packet up to one capture block timeout
 * (100 ms, tcpi_worker.c) after it was captured: wait a little longer. */
#define GRACE_NS     (TAIL_NS + 150000000ull)
#define RACE_NS      1000000000ull         /* FIN this close to the send */

/* ---- names ----------------------------------------------------------- */

static const struct { const char *name, *text; } points[] = {
#define TCPI_JP_NAME(name, text) { #name, text },
    TCPI_JOIN_POINTS(TCPI_JP_NAME)
#undef TCPI_JP_NAME
};

static const struct { const char *name; int from, to; const char *text; } phases[] = {
#define TCPI_PH_ROW(name, from, to, text) \
    { #name, TCPI_JP_##from, TCPI_JP_##to, text },
    TCPI_JOIN_PHASES(TCPI_PH_ROW)
#undef TCPI_PH_ROW
};

const char *tcpi_join_point_name(int p)
{
    return p >= 0 && p < TCPI_JP_COUNT ? points[p].name : "unknown";
}

const char *tcpi_join_point_text(int p)
{
    return p >= 0 && p < TCPI_JP_COUNT ? points[p].text : "unknown";
}

const char *tcpi_join_phase_name(int ph)
{
    return ph >= 0 && ph < TCPI_PH_COUNT ? phases[ph].name : "unknown";
}

const char *tcpi_join_phase_text(int ph)
{
    return ph >= 0 && ph < TCPI_PH_COUNT ? phases[ph].text : "unknown";
}

int tcpi_join_phase_from(int ph)
{
    return ph >= 0 && ph < TCPI_PH_COUNT ? phases[ph].from : 0;
}

int tcpi_join_phase_to(int ph)
{
    return ph >= 0 && ph < TCPI_PH_COUNT ? phases[ph].to : 0;
}

int tcpi_join_shared_point(int p)
{
    return p == TCPI_JP_req_first || p == TCPI_JP_req_last ||
           p == TCPI_JP_resp_first || p == TCPI_JP_resp_last ||
           p == TCPI_JP_client_ack;
}

int tcpi_join_exchange_point(int p)
{
    return p == TCPI_JP_fwd_first || p == TCPI_JP_fwd_last ||
           p == TCPI_JP_be_first || p == TCPI_JP_be_last;
}

int tcpi_join_phase_shared(int ph)
{
    return ph >= 0 && ph < TCPI_PH_COUNT &&
           (tcpi_join_shared_point(phases[ph].from) ||
            tcpi_join_shared_point(phases[ph].to));
}

int64_t tcpi_join_phase_ns(const uint64_t t[TCPI_JP_COUNT], int ph)
{
    uint64_t a, b;

    if (ph < 0 || ph >= TCPI_PH_COUNT)
        return -1;
    a = t[phases[ph].from];
    b = t[phases[ph].to];
    if (a == 0 || b == 0 || b < a)
        return -1;
    return (int64_t)(b - a);
}

/* ---- windows --------------------------------------------------------- */

#define WIN_MAX       4096          /* events read per leg */
#define FRONT_BEFORE  64            /* events before the start looked at */
#define KEPT_BEFORE   8
#define BACK_BEFORE   12
#define BACK_SINCE_NS 300000000000ull   /* 5 min: a pooled connection's idle */

typedef struct {
    tcpi_flow_t *f;                 /* reading moves its hint */
    int      dinit;                 /* event dir of the initiator */
    const tcpi_flow_ev_t **ev;      /* the flow's events around the request */
    uint64_t n;
    int      complete;              /* nothing the span wanted was lost */
    uint64_t from, to;              /* the window: ev[from, to) */
} win_t;

#define EV_SYN(e)  (((e)->flags & (TCPI_TH_SYN | TCPI_TH_ACK)) == TCPI_TH_SYN)

/* The frontend window: after the previous response on this connection
 * (or from the SYN when the connection opened for this request), until
 * the client starts the next request or the tail after the log time. */
static void front_window(win_t *w, const tcpi_req_t *rec, uint8_t *partial)
{
    uint64_t t0 = rec->start_us * 1000, end = rec->end_us * 1000;
    uint64_t i = 0, start = 0, syn = UINT64_MAX;
    int resp = 0;

    for (; i < w->n; i++) {
        const tcpi_flow_ev_t *e = w->ev[i];
        if (e->ts_ns >= t0)
            break;
        if (e->dir == w->dinit && EV_SYN(e))
            syn = i;
        if (e->dir != w->dinit && (e->len > 0 || (e->flags & TCPI_TH_FIN)))
            start = i + 1;           /* the previous response */
    }
    if (rec->conn_requests == 0 && syn != UINT64_MAX) {
        /* from the first SYN of this connection: a SYN sent again has
         * the same ISN, and what came between belongs to the handshake
         * (so does what the server sent before the request on it: a TLS
         * handshake's flight, an HTTP/2 preface, not a previous response) */
        start = syn;
        for (uint64_t k = syn; k-- > 0;) {
            const tcpi_flow_ev_t *e = w->ev[k];
            if (e->dir == w->dinit && EV_SYN(e) && e->seq == w->ev[syn]->seq)
                start = k;
            else if (e->dir == w->dinit && EV_SYN(e))
                break;
        }
    }
    /* Skip the previous response's trailing ACKs. */
    while (start < w->n) {
        const tcpi_flow_ev_t *e = w->ev[start];
        if (e->ts_ns > end || (e->dir == w->dinit &&
                               (e->len > 0 || (e->flags & TCPI_TH_SYN))))
            break;
        start++;
    }
    *partial = start == 0 && !w->complete;
    if (rec->conn_requests == 0 && (start >= w->n || !EV_SYN(w->ev[start])))
        *partial = 1;
    w->from = start;
    for (i = start; i < w->n; i++) {
        const tcpi_flow_ev_t *e = w->ev[i];
        if (i > start && e->dir == w->dinit && EV_SYN(e) &&
            e->seq != w->ev[start]->seq)
            break;                   /* a new connection on the same tuple */
        if (e->dir == w->dinit && e->len > 0 && resp && e->ts_ns >= end)
            break;                   /* the next request */
        if (e->dir != w->dinit && e->len > 0)
            resp = 1;
    }
    w->to = i;
}

/* The backend window: from httpd's SYN or first request byte at or after
 * the request's start, until httpd sends the next request on the pooled
 * connection or the tail after the log time. Where create_req's time is
 * known (the request was sent by then, and the connection was this
 * request's from before it was sent until after its answer), the window
 * starts at the last exchange begun by then: a pooled connection that
 * carried a concurrent request (another HTTP/2 stream, another client)
 * after this one started, and before it took the connection, is skipped. */
static void backend_window(win_t *w, const tcpi_req_t *rec, uint8_t *partial)
{
    uint64_t t0 = rec->start_us * 1000;
    uint64_t i = 0, at = tcpi_req_backend_at_ns(rec);
    int resp = 0;

    for (; i < w->n; i++) {
        const tcpi_flow_ev_t *e = w->ev[i];
        if (e->ts_ns >= t0 && e->dir == w->dinit && (e->len > 0 || EV_SYN(e)))
            break;
    }
    *partial = i == 0 && !w->complete;
    w->from = i;
    if (at != 0 && i < w->n) {
        for (uint64_t j = i + 1; j < w->n && w->ev[j]->ts_ns <= at; j++) {
            const tcpi_flow_ev_t *e = w->ev[j];
            if (e->dir != w->dinit && e->len > 0)
                resp = 1;
            else if (e->dir == w->dinit &&
                     ((e->len > 0 && resp) ||
                      (EV_SYN(e) && e->seq != w->ev[w->from]->seq))) {
                w->from = j;         /* a later exchange begun by then */
                resp = 0;
            }
        }
        i = w->from;
        resp = 0;
        /* read to its limit before create_req's time: an exchange of
         * this request's may lie beyond what it read */
        if (!w->complete && w->ev[w->n - 1]->ts_ns <= at)
            *partial = 1;
    }
    for (; i < w->n; i++) {
        const tcpi_flow_ev_t *e = w->ev[i];
        if (i > w->from && e->dir == w->dinit && EV_SYN(e) &&
            e->seq != w->ev[w->from]->seq)
            break;                   /* a new connection (not a SYN again) */
        if (e->dir == w->dinit && e->len > 0 && resp)
            break;                   /* the next request on this connection */
        if (e->dir != w->dinit && e->len > 0)
            resp = 1;
    }
    w->to = i;
}

static void set_first(uint64_t *t, uint64_t ts)
{
    if (*t == 0)
        *t = ts;
}

/* Counts, flags and time points of one leg's window. */
static void scan_leg(tcpi_reqsum_t *s, int leg, const win_t *w)
{
    tcpi_legsum_t *L = &s->leg[leg];
    uint64_t *t = s->t;
    int front = leg == TCPI_JLEG_FRONT;
    uint32_t resp_end = 0;
    int have_resp = 0, synack = 0;

    for (uint64_t i = w->from; i < w->to; i++) {
        const tcpi_flow_ev_t *e = w->ev[i];
        int role = e->dir == w->dinit ? TCPI_JDIR_INIT : TCPI_JDIR_RESP;

        L->packets[role]++;
        L->bytes[role] += e->len;
        for (int b = 0; b < TCPI_AN_COUNT; b++)
            if (e->an & (1u << b))
                L->an[b]++;
        if (e->flags & TCPI_TH_RST)
            L->rst_by |= role == TCPI_JDIR_INIT ? TCPI_JBY_INIT : TCPI_JBY_RESP;
        if (e->flags & TCPI_TH_FIN)
            L->fin_by |= role == TCPI_JDIR_INIT ? TCPI_JBY_INIT : TCPI_JBY_RESP;
        if (role == TCPI_JDIR_INIT) {
            if (EV_SYN(e))
                set_first(&t[front ? TCPI_JP_front_syn : TCPI_JP_be_syn], e->ts_ns);
            else if (front && synack && (e->flags & TCPI_TH_ACK))
                set_first(&t[TCPI_JP_front_ack], e->ts_ns);
            if (e->len > 0) {
                set_first(&t[front ? TCPI_JP_req_first : TCPI_JP_fwd_first],
                          e->ts_ns);
                t[front ? TCPI_JP_req_last : TCPI_JP_fwd_last] = e->ts_ns;
            }
            if (front && have_resp && !t[TCPI_JP_client_ack] &&
                (e->flags & (TCPI_TH_ACK | TCPI_TH_RST)) == TCPI_TH_ACK &&
                tcpi_seq_leq(resp_end, e->ack))
                t[TCPI_JP_client_ack] = e->ts_ns;
        } else {
            if ((e->flags & (TCPI_TH_SYN | TCPI_TH_ACK)) ==
                (TCPI_TH_SYN | TCPI_TH_ACK)) {
                set_first(&t[front ? TCPI_JP_front_synack : TCPI_JP_be_synack],
                          e->ts_ns);
                synack = 1;
            }
            if (e->len > 0) {
                set_first(&t[front ? TCPI_JP_resp_first : TCPI_JP_be_first],
                          e->ts_ns);
                t[front ? TCPI_JP_resp_last : TCPI_JP_be_last] = e->ts_ns;
                if (!have_resp || tcpi_seq_lt(resp_end, e->seq + e->len)) {
                    resp_end = e->seq + e->len;
                    if (front)
                        t[TCPI_JP_client_ack] = 0;   /* more to acknowledge */
                }
                have_resp = 1;
            }
        }
    }
}

/* A TLS front (HTTP/1.1): the points from where the glue counted the
 * request's and the response's records in the connection's byte streams
 * (tcpi_req_tls_t's offsets), instead of "the first bytes" (a handshake
 * flight, a session ticket, an alert are bytes too). Offset x of a
 * direction is the byte at sequence number ISN + 1 + x, so the flow
 * must have seen both SYNs; a point whose segment is not in the window
 * (or whose connection began before the capture) stays unset (null),
 * never another segment's time. An HTTP/2 stream gets only the
 * handshake: its records are multiplexed. */
static int covers(const tcpi_flow_ev_t *e, uint32_t isn1, uint64_t x)
{
    uint32_t off = e->seq - isn1;

    return e->len > 0 && (uint32_t)((uint32_t)x - off) < e->len;
}

static void tls_points(tcpi_reqsum_t *s, const win_t *w, const tcpi_req_t *rec)
{
    const tcpi_req_tls_t *t = &rec->tls;
    const tcpi_flow_t *f = w->f;
    uint64_t *tp = s->t;
    uint32_t ci, si;
    int fresh = rec->conn_requests == 0, wire = t->wire && !rec->http2;

    if (!t->on)
        return;
    if (!rec->http2) {
        /* what scan_leg took for the request and the response */
        tp[TCPI_JP_req_first] = tp[TCPI_JP_req_last] = 0;
        tp[TCPI_JP_resp_first] = tp[TCPI_JP_resp_last] = 0;
        tp[TCPI_JP_client_ack] = 0;
    }
    if (!f->d[w->dinit].syn_seen || !f->d[!w->dinit].syn_seen)
        return;
    ci = f->d[w->dinit].base_seq + 1;
    si = f->d[!w->dinit].base_seq + 1;
    for (uint64_t i = w->from; i < w->to; i++) {
        const tcpi_flow_ev_t *e = w->ev[i];

        if (e->dir == w->dinit) {
            if (fresh && covers(e, ci, 0))
                set_first(&tp[TCPI_JP_tls_hello], e->ts_ns);
            if (fresh && t->hs_in > 0 && covers(e, ci, t->hs_in - 1))
                set_first(&tp[TCPI_JP_tls_done], e->ts_ns);
            if (wire && t->in_end > t->in_start) {
                if (covers(e, ci, t->in_start))
                    set_first(&tp[TCPI_JP_req_first], e->ts_ns);
                if (covers(e, ci, t->in_end - 1))
                    tp[TCPI_JP_req_last] = e->ts_ns;
            }
        } else if (wire && t->out_end > t->out_start) {
            if (covers(e, si, t->out_start))
                set_first(&tp[TCPI_JP_resp_first], e->ts_ns);
            if (covers(e, si, t->out_end - 1))
                tp[TCPI_JP_resp_last] = e->ts_ns;
        }
    }
    if (!wire || tp[TCPI_JP_resp_last] == 0)
        return;
    for (uint64_t i = w->from; i < w->to; i++) {
        const tcpi_flow_ev_t *e = w->ev[i];

        if (e->dir == w->dinit && e->ts_ns >= tp[TCPI_JP_resp_last] &&
            (e->flags & (TCPI_TH_ACK | TCPI_TH_RST)) == TCPI_TH_ACK &&
            tcpi_seq_leq(si + (uint32_t)t->out_end, e->ack)) {
            tp[TCPI_JP_client_ack] = e->ts_ns;
            break;
        }
    }
}

/* A reused backend connection: its previous use, and whether the backend
 * closed it (FIN or RST) around the time httpd sent this request without
 * having taken the request in (its ACK does not cover it) -- the race
 * behind mod_proxy's 502s on pooled connections. A backend that read the
 * request and then closed is an application closing, not the race. */
static void backend_reuse(tcpi_reqsum_t *s, const win_t *w)
{
    uint64_t sent = s->t[TCPI_JP_fwd_first], answer = s->t[TCPI_JP_be_first];
    uint32_t req_end = 0;
    int have_req = 0;

    /* The previous use: the last data or SYN before this window. */
    for (uint64_t p = w->from; p > 0; p--) {
        const tcpi_flow_ev_t *e = w->ev[p - 1];
        if (e->len > 0 || (e->flags & TCPI_TH_SYN)) {
            s->t[TCPI_JP_be_prev] = e->ts_ns;
            break;
        }
    }
    for (uint64_t i = w->from; i < w->to; i++) {
        const tcpi_flow_ev_t *e = w->ev[i];
        if (e->dir == w->dinit && e->len > 0 &&
            (!have_req || tcpi_seq_lt(req_end, e->seq + e->len))) {
            req_end = e->seq + e->len;
            have_req = 1;
        }
    }
    if (sent == 0)
        sent = s->t0_ns;
    for (uint64_t i = 0; i < w->to; i++) {
        const tcpi_flow_ev_t *e = w->ev[i];
        if (e->dir == w->dinit || !(e->flags & (TCPI_TH_FIN | TCPI_TH_RST)))
            continue;
        if (e->ts_ns + RACE_NS < sent || (answer != 0 && e->ts_ns > answer))
            continue;
        if (!have_req || !(e->flags & TCPI_TH_ACK) ||
            tcpi_seq_lt(e->ack, req_end))
            s->pool_race = 1;
    }
}

/* The two windows interleaved in time: the first TCPI_SUM_HEAD packets
 * and the last TCPI_SUM_PKTS - TCPI_SUM_HEAD. */
static void keep_packets(tcpi_reqsum_t *s, const win_t *w)
{
    uint64_t idx[TCPI_JLEGS], total = 0, n = 0;

    for (int l = 0; l < TCPI_JLEGS; l++) {
        idx[l] = w[l].from;
        total += w[l].f ? w[l].to - w[l].from : 0;
    }
    s->npkt_total = (uint32_t)(total > UINT32_MAX ? UINT32_MAX : total);
    for (;; n++) {
        int best = -1;
        const tcpi_flow_ev_t *e = NULL;
        for (int l = 0; l < TCPI_JLEGS; l++) {
            const tcpi_flow_ev_t *c;
            if (w[l].f == NULL || idx[l] >= w[l].to)
                continue;
            c = w[l].ev[idx[l]];
            if (e == NULL || c->ts_ns < e->ts_ns)
                e = c, best = l;
        }
        if (best < 0)
            break;
        idx[best]++;
        if (n < TCPI_SUM_HEAD || n + (TCPI_SUM_PKTS - TCPI_SUM_HEAD) >= total) {
            const tcpi_flow_t *f = w[best].f;
            tcpi_sumpkt_t *p = &s->pkt[s->npkt++];
            int role = e->dir == w[best].dinit ? TCPI_JDIR_INIT : TCPI_JDIR_RESP;
            p->ts_ns = e->ts_ns;
            p->seq = e->seq - f->d[e->dir].base_seq;
            p->ack = (e->flags & TCPI_TH_ACK) ? e->ack - f->d[!e->dir].base_seq : 0;
            p->len = e->len;
            p->win = e->win;
            p->flags = e->flags;
            p->an = e->an;
            p->leg_dir = (uint8_t)(best << 1 | role);
            if (s->npkt >= TCPI_SUM_PKTS)
                break;
        }
    }
}

static int load_leg(win_t *w, const tcpi_flowtab_t *ft, const tcpi_endpoint_t *x,
                    const tcpi_endpoint_t *y, tcpi_flow_span_t *span)
{
    w->f = tcpi_flowtab_find(ft, x, y, &w->dinit);
    if (w->f == NULL)
        return 0;
    span->stop_dir = (uint8_t)w->dinit;
    w->n = tcpi_flow_events(w->ev, WIN_MAX, &w->complete, ft, w->f, span);
    return 1;
}

void tcpi_join_request(tcpi_reqsum_t *s, const tcpi_flowtab_t *ft,
                       const tcpi_req_t *rec, uint64_t k)
{
    const tcpi_flow_ev_t *evs[TCPI_JLEGS][WIN_MAX];
    win_t w[TCPI_JLEGS];
    tcpi_flow_span_t span = { 0 };
    uint64_t lookback;

    memset(s, 0, sizeof(*s));
    memset(w, 0, sizeof(w));
    s->k = k;
    memcpy(s->id, rec->id, sizeof(s->id));
    s->id[sizeof(s->id) - 1] = '\0';
    s->t0_ns = rec->start_us * 1000;
    s->end_ns = rec->end_us * 1000;
    s->has_backend = rec->has_backend;

    w[0].ev = evs[0];
    span.until_ns = s->end_ns + TAIL_NS;
    span.anchor_ns = s->t0_ns;
    /* a kept-alive request needs only the previous answer's tail */
    span.before = rec->conn_requests == 0 ? FRONT_BEFORE : KEPT_BEFORE;
    /* A new connection's handshake may be far older (SYNs sent again
     * after 1, 3, 7 s); a kept-alive one's request is recent. */
    lookback = rec->conn_requests == 0 ? TCPI_JOIN_SYN_LOOKBACK_NS
                                      : TCPI_JOIN_LOOKBACK_NS;
    span.since_ns = s->t0_ns > lookback ? s->t0_ns - lookback : 0;
    span.stop = 1;
    span.stop_armed = 1;             /* the request began before t0 */
    span.stop_ns = s->end_ns;        /* a client's body after 100-continue */
    if (load_leg(&w[0], ft, &rec->front_client, &rec->front_server, &span)) {
        s->leg[0].found = 1;
        front_window(&w[0], rec, &s->leg[0].partial);
        scan_leg(s, TCPI_JLEG_FRONT, &w[0]);
        tls_points(s, &w[0], rec);
        s->front_opened = s->t[TCPI_JP_front_syn] != 0;
    }
    if (rec->http2) {
        s->shared_front = 1;
        for (int p = 0; p < TCPI_JP_COUNT; p++)
            if (tcpi_join_shared_point(p))
                s->t[p] = 0;
    }
    w[1].ev = evs[1];
    span.before = BACK_BEFORE;
    span.since_ns = s->t0_ns > BACK_SINCE_NS ? s->t0_ns - BACK_SINCE_NS : 0;
    span.stop_armed = 0;
    /* (loaded through the exchanges begun by create_req's time) */
    span.stop_ns = tcpi_req_backend_at_ns(rec) ? tcpi_req_backend_at_ns(rec) + 1
                                               : 0;
    if (rec->has_backend &&
        load_leg(&w[1], ft, &rec->backend_local, &rec->backend_remote, &span)) {
        s->leg[1].found = 1;
        backend_window(&w[1], rec, &s->leg[1].partial);
        scan_leg(s, TCPI_JLEG_BACKEND, &w[1]);
        s->backend_opened = s->t[TCPI_JP_be_syn] != 0;
        if (!s->backend_opened)
            backend_reuse(s, &w[1]);
        /* (a connection not reused whose SYN the window lacks starts
         * with its handshake too) */
        if (rec->backend_tls && (s->backend_opened || !rec->backend_reused)) {
            s->tls_backend_opened = 1;
            for (int p = 0; p < TCPI_JP_COUNT; p++)
                if (tcpi_join_exchange_point(p))
                    s->t[p] = 0;
        }
    }
    keep_packets(s, w);
}

/* ---- the shared summary table ---------------------------------------- */

typedef struct {
    _Atomic uint64_t seq;          /* seqlock, generation k (tcpi_seqlock.h) */
    tcpi_reqsum_t    sum;
} sumslot_t;

struct tcpi_sumtab {
    uint32_t magic;
    uint32_t len;
    uint32_t slot_size;
    uint32_t pad;
    _Atomic uint64_t joined, front_found, backend_expected, backend_found,
                     pool_race, records_missed, records_skipped, records_corrupt, packets,
                     packets_lost, not_tcp, dup_skipped, flows, evictions,
                     pending, lag_ms;
    tcpi_join_hist_t hist[TCPI_PH_COUNT];
    sumslot_t slot[TCPI_SUMTAB_LEN];
};

static const double bucket_ms[TCPI_JOIN_NBUCKETS - 1] = TCPI_JOIN_BUCKETS_MS;

const double *tcpi_join_bucket_ms(void)
{
    return bucket_ms;
}

size_t tcpi_sumtab_size(void)
{
    return sizeof(tcpi_sumtab_t);
}

tcpi_sumtab_t *tcpi_sumtab_init(void *mem)
{
    tcpi_sumtab_t *t = mem;

    memset(t, 0, sizeof(*t));
    t->magic = SUMTAB_MAGIC;
    t->len = TCPI_SUMTAB_LEN;
    t->slot_size = sizeof(sumslot_t);
    return t;
}

/* One writer: a relaxed load and store, no locked read-modify-write. */
static void bump(_Atomic uint64_t *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

static void hist_add(tcpi_join_hist_t *h, int64_t ns)
{
    int b = 0;

    while (b < TCPI_JOIN_NBUCKETS - 1 && (double)ns > bucket_ms[b] * 1e6)
        b++;
    bump(&h->bucket[b], 1);
    bump(&h->sum_ns, (uint64_t)ns);
    bump(&h->count, 1);
}

void tcpi_sumtab_put(tcpi_sumtab_t *t, const tcpi_reqsum_t *s)
{
    sumslot_t *sl = &t->slot[s->k % TCPI_SUMTAB_LEN];

    tcpi_seqlock_write_begin_gen(&sl->seq, s->k);
    /* the packets kept, not the whole array: readers look at npkt only */
    memcpy(&sl->sum, s, offsetof(tcpi_reqsum_t, pkt) +
                        (size_t)s->npkt * sizeof(s->pkt[0]));
    tcpi_seqlock_write_end_gen(&sl->seq, s->k);
    for (int ph = 0; ph < TCPI_PH_COUNT; ph++) {
        int64_t ns = tcpi_join_phase_ns(s->t, ph);
        if (ns >= 0)
            hist_add(&t->hist[ph], ns);
    }
    bump(&t->joined, 1);
    bump(&t->front_found, s->leg[0].found);
    bump(&t->backend_expected, s->has_backend);
    bump(&t->backend_found, s->leg[1].found);
    bump(&t->pool_race, s->pool_race);
}

int tcpi_sumtab_get(tcpi_reqsum_t *out, const tcpi_sumtab_t *t, uint64_t k)
{
    const sumslot_t *sl = &t->slot[k % TCPI_SUMTAB_LEN];

    if (tcpi_seqlock_copy_gen(out, &sl->sum, sizeof(*out), &sl->seq, k,
                              NULL) != TCPI_SEQLOCK_OK)
        return -1;
    out->id[TCPI_REQ_ID_MAX - 1] = '\0';
    if (out->npkt > TCPI_SUM_PKTS)
        out->npkt = TCPI_SUM_PKTS;
    return 0;
}

int tcpi_sumtab_get_for(tcpi_reqsum_t *out, const tcpi_sumtab_t *t,
                        uint64_t k, const char *id)
{
    if (tcpi_sumtab_get(out, t, k) != 0)
        return -1;
    return strncmp(out->id, id, sizeof(out->id)) == 0 ? 0 : -1;
}

void tcpi_sumtab_stats(tcpi_join_stats_t *st, const tcpi_sumtab_t *ct)
{
    tcpi_sumtab_t *t = (tcpi_sumtab_t *)ct;

    st->joined = atomic_load(&t->joined);
    st->front_found = atomic_load(&t->front_found);
    st->backend_expected = atomic_load(&t->backend_expected);
    st->backend_found = atomic_load(&t->backend_found);
    st->pool_race = atomic_load(&t->pool_race);
    st->records_missed = atomic_load(&t->records_missed);
    st->records_skipped = atomic_load(&t->records_skipped);
    st->records_corrupt = atomic_load(&t->records_corrupt);
    st->packets = atomic_load(&t->packets);
    st->packets_lost = atomic_load(&t->packets_lost);
    st->not_tcp = atomic_load(&t->not_tcp);
    st->dup_skipped = atomic_load(&t->dup_skipped);
    st->flows = atomic_load(&t->flows);
    st->evictions = atomic_load(&t->evictions);
    st->pending = atomic_load(&t->pending);
    st->lag_ms = atomic_load(&t->lag_ms);
}

void tcpi_sumtab_hist(uint64_t bucket[TCPI_JOIN_NBUCKETS], uint64_t *count,
                      uint64_t *sum_ns, const tcpi_sumtab_t *ct, int phase)
{
    tcpi_join_hist_t *h = (tcpi_join_hist_t *)&ct->hist[phase];

    for (int b = 0; b < TCPI_JOIN_NBUCKETS; b++)
        bucket[b] = atomic_load_explicit(&h->bucket[b], memory_order_relaxed);
    *count = atomic_load_explicit(&h->count, memory_order_relaxed);
    *sum_ns = atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
}

/* ---- the worker's side ----------------------------------------------- */

/* Records wait in the reader for their grace period: enough for 40k
 * requests/s. */
#define PENDING_LEN 16384u

struct tcpi_join {
    tcpi_join_conf_t c;
    tcpi_flowtab_t  *ft;
    tcpi_hskeep_t   *hs;          /* the TLS fronts' handshakes */
    tcpi_reqlog_reader_t *rd;     /* NULL without a log */
    uint64_t ring_next;
    int      ring_started;
    uint64_t last_ts;             /* newest packet decoded */
    uint64_t not_tcp, dup_skipped, lost, decoded;
    uint8_t  buf[TCPI_DECODE_COPY];
    tcpi_reqsum_t sum;            /* the one being built */
};

tcpi_join_t *tcpi_join_create(const tcpi_join_conf_t *conf)
{
    tcpi_join_t *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return NULL;
    j->c = *conf;
    if (j->c.grace_ns < TAIL_NS)
        j->c.grace_ns = GRACE_NS;
    if (j->c.budget == 0)
        j->c.budget = 16384;
    j->ft = tcpi_flowtab_create(conf->nflows ? conf->nflows : 4096,
                                conf->nevents ? conf->nevents : 1u << 19);
    if (conf->log != NULL) {
        /* It reads nothing before the first run: the worker creates the
         * join as root, and root reads nothing a child can write. */
        tcpi_reqlog_reader_conf_t rc = {
            .grace_ns = j->c.grace_ns, .catchup_ns = conf->catchup_ns,
            .capacity = PENDING_LEN,
        };
        j->rd = tcpi_reqlog_reader_create(conf->log, &rc);
    }
    j->hs = tcpi_hskeep_create(conf->hs_store, conf->ring, &conf->hs_ports);
    if (j->ft == NULL || j->hs == NULL ||
        (conf->log != NULL && j->rd == NULL)) {
        tcpi_join_destroy(j);
        return NULL;
    }
    return j;
}

void tcpi_join_destroy(tcpi_join_t *j)
{
    if (j == NULL)
        return;
    tcpi_flowtab_destroy(j->ft);
    tcpi_hskeep_destroy(j->hs);
    tcpi_reqlog_reader_destroy(j->rd);
    free(j);
}

const tcpi_reqlog_reader_t *tcpi_join_reader(const tcpi_join_t *j)
{
    return j->rd;
}

void tcpi_join_hskeep_stats(tcpi_hskeep_stats_t *st, const tcpi_join_t *j)
{
    tcpi_hskeep_stats(st, j->hs);
}

const tcpi_flowtab_t *tcpi_join_flows(const tcpi_join_t *j)
{
    return j->ft;
}

/* One ring record into the flow table. */
static int add_packet(tcpi_join_t *j, const tcpi_ring_rec_t *rec,
                      const uint8_t *data)
{
    tcpi_pkt_t p;
    tcpi_flow_t *f;
    int why = tcpi_decode(&p, rec->linktype, data, rec->caplen, rec->wirelen);

    if (j->c.dcount != NULL && rec->iface < j->c.ndcount)
        tcpi_dcount_add(&j->c.dcount[rec->iface], why);
    if (why != TCPI_DR_ok) {
        j->not_tcp++;
        return -1;
    }
    /* On "any", lo hands every packet over twice: keep the arriving copy. */
    if (tcpi_decode_lo_outgoing(&p)) {
        j->dup_skipped++;
        return -1;
    }
    f = tcpi_flowtab_add(j->ft, &p, rec);
    if (p.payload_caplen > 0)
        tcpi_flow_payload(f, &p, data + p.payload_off, p.payload_caplen);
    tcpi_hskeep_packet(j->hs, j->ft, f, &p, rec, data + p.payload_off,
                       p.payload_caplen);
    j->decoded++;
    if (rec->ts_ns > j->last_ts)
        j->last_ts = rec->ts_ns;
    return 0;
}

int tcpi_join_packet(tcpi_join_t *j, int32_t linktype, const uint8_t *data,
                     uint32_t caplen, uint32_t wirelen, uint64_t ts_ns)
{
    tcpi_ring_rec_t rec = {
        .n = UINT64_MAX, .ts_ns = ts_ns, .caplen = caplen, .wirelen = wirelen,
        .linktype = linktype,
    };

    return add_packet(j, &rec, data);
}

int tcpi_join_covers(const tcpi_join_t *j, uint64_t ts_ns)
{
    uint64_t tail, head;

    if (!j->ring_started)
        return 0;
    tcpi_ring_bounds(&tail, &head, j->c.ring);
    return j->ring_next >= head || j->last_ts > ts_ns;
}

/* New ring packets into the flow table; 1 when the ring is drained. */
static int drain_ring(tcpi_join_t *j)
{
    uint64_t tail, head;
    uint32_t n = 0;
    tcpi_ring_rec_t rec;

    tcpi_ring_bounds(&tail, &head, j->c.ring);
    if (!j->ring_started) {
        j->ring_next = tail;
        j->ring_started = 1;
    }
    if (j->ring_next < tail) {
        j->lost += tail - j->ring_next;
        j->ring_next = tail;
    }
    for (; j->ring_next < head && n < j->c.budget; j->ring_next++, n++) {
        if (tcpi_ring_read(&rec, j->buf, sizeof(j->buf), j->c.ring,
                           j->ring_next) != 0) {
            j->lost++;
            continue;
        }
        add_packet(j, &rec, j->buf);
    }
    return j->ring_next >= head;
}

int tcpi_join_run(tcpi_join_t *j, uint64_t now)
{
    int drained = drain_ring(j), joined = 0;
    tcpi_sumtab_t *t = j->c.sums;
    tcpi_flowtab_stats_t fst;
    tcpi_reqlog_reader_stats_t rst;
    const tcpi_req_t *r;
    uint64_t k;

    memset(&rst, 0, sizeof(rst));
    if (j->rd != NULL) {
        tcpi_reqlog_reader_fill(j->rd, now);
        /* Ripe once the flow table holds the packets up to the grace. */
        while ((r = tcpi_reqlog_reader_next(&k, j->rd, now, drained ? UINT64_MAX
                                            : j->last_ts)) != NULL) {
            tcpi_join_request(&j->sum, j->ft, r, k);
            tcpi_sumtab_put(t, &j->sum);
            if (j->c.on_joined != NULL)
                j->c.on_joined(j->c.baton, r, &j->sum, k, now);
            tcpi_reqlog_reader_pop(j->rd);
            joined++;
        }
        tcpi_reqlog_reader_stats(&rst, j->rd, now);
    }
    tcpi_flowtab_stats(&fst, j->ft);
    atomic_store_explicit(&t->records_missed, rst.missed, memory_order_relaxed);
    atomic_store_explicit(&t->records_skipped, rst.skipped, memory_order_relaxed);
    atomic_store_explicit(&t->records_corrupt, rst.corrupt, memory_order_relaxed);
    atomic_store_explicit(&t->packets, j->decoded, memory_order_relaxed);
    atomic_store_explicit(&t->packets_lost, j->lost, memory_order_relaxed);
    atomic_store_explicit(&t->not_tcp, j->not_tcp, memory_order_relaxed);
    atomic_store_explicit(&t->dup_skipped, j->dup_skipped, memory_order_relaxed);
    atomic_store_explicit(&t->flows, fst.flows, memory_order_relaxed);
    atomic_store_explicit(&t->evictions, fst.evictions, memory_order_relaxed);
    atomic_store_explicit(&t->pending, rst.pending, memory_order_relaxed);
    atomic_store_explicit(&t->lag_ms, rst.lag_ms, memory_order_relaxed);
    return joined;
}
