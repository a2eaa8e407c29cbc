/* tcpi_reqlog.c — multi-producer request log (tcpi_reqlog.h). */
#include "tcpi_reqlog.h"
#include "tcpi/common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REQLOG_MAGIC 0x54435251u      /* "TCRQ" */

typedef struct {
    _Atomic uint64_t seq;            /* seqlock, generation k (tcpi_seqlock.h) */
    _Atomic int32_t  owner;          /* pid copying into the slot; 0: free */
    tcpi_req_t       rec;
} slot_t;

struct tcpi_reqlog {
    uint32_t magic;
    uint32_t len;
    _Atomic uint64_t head;
    _Atomic uint64_t dropped;
    slot_t   slot[TCPI_REQLOG_LEN];
};

size_t tcpi_reqlog_size(void)
{
    return sizeof(tcpi_reqlog_t);
}

tcpi_reqlog_t *tcpi_reqlog_init(void *mem)
{
    tcpi_reqlog_t *log = mem;

    memset(log, 0, sizeof(*log));
    log->magic = REQLOG_MAGIC;
    log->len = TCPI_REQLOG_LEN;
    return log;
}

/* The slot a (non-zero) sequence value's record number lives in. */
static uint64_t slot_of(uint64_t seq)
{
    return tcpi_seq_gen(seq) % TCPI_REQLOG_LEN;
}

/* Take the slot for the copy. Held by another producer: it was lapped by
 * TCPI_REQLOG_LEN records while preempted, so drop rather than wait --
 * unless that producer died holding it (a child killed mid-copy), then
 * take it over, or every LEN-th record would be lost from then on. */
static int slot_take(slot_t *s, int32_t me)
{
    int32_t cur = 0;

    if (atomic_compare_exchange_strong_explicit(&s->owner, &cur, me,
                                                memory_order_acquire,
                                                memory_order_relaxed))
        return 0;
    if (cur != me && (cur <= 0 || (kill(cur, 0) != 0 && errno == ESRCH)) &&
        atomic_compare_exchange_strong_explicit(&s->owner, &cur, me,
                                                memory_order_acquire,
                                                memory_order_relaxed))
        return 0;
    return -1;
}

int tcpi_reqlog_put(tcpi_reqlog_t *log, const tcpi_req_t *rec)
{
    uint64_t k = atomic_fetch_add_explicit(&log->head, 1, memory_order_relaxed);
    slot_t *s = &log->slot[k % TCPI_REQLOG_LEN];
    int32_t me = (int32_t)getpid();

    if (slot_take(s, me) != 0)
        goto drop;
    /* A producer preempted between claiming k and taking the slot may
     * find a newer record (k + LEN or later) already there: keep it. A
     * number that no producer writes into this slot is overwritten. */
    uint64_t cur = atomic_load_explicit(&s->seq, memory_order_relaxed);
    if (cur > tcpi_seq_done(k) && slot_of(cur) == k % TCPI_REQLOG_LEN) {
        atomic_store_explicit(&s->owner, 0, memory_order_release);
        goto drop;
    }
    tcpi_seqlock_write_begin_gen(&s->seq, k);
    memcpy(&s->rec, rec, sizeof(*rec));
    tcpi_seqlock_write_end_gen(&s->seq, k);
    atomic_store_explicit(&s->owner, 0, memory_order_release);
    return 0;
drop:
    atomic_fetch_add_explicit(&log->dropped, 1, memory_order_relaxed);
    return -1;
}

uint64_t tcpi_reqlog_head(const tcpi_reqlog_t *log)
{
    return atomic_load_explicit(&((tcpi_reqlog_t *)log)->head,
                                memory_order_acquire);
}

int tcpi_reqlog_get(tcpi_req_t *out, const tcpi_reqlog_t *log, uint64_t k)
{
    const slot_t *s = &log->slot[k % TCPI_REQLOG_LEN];
    uint64_t seen;
    int rc = tcpi_seqlock_copy_gen(out, &s->rec, sizeof(*out), &s->seq, k,
                                   &seen);

    if (rc == TCPI_SEQLOCK_ABSENT) {
        /* Not (yet, or any more) record k. A slot only ever holds a
         * record number of its own residue, being written (odd) or
         * complete (even); anything else was not written by a producer. */
        if (seen != 0 && slot_of(seen) != k % TCPI_REQLOG_LEN)
            return TCPI_REQLOG_CORRUPT;
        if (seen != 0 && tcpi_seq_gen(seen) > k)
            return TCPI_REQLOG_GONE;     /* a later record took the slot */
        return -1;
    }
    if (rc != TCPI_SEQLOCK_OK) {
        explicit_bzero(out, sizeof(*out));   /* (a torn copy's secrets) */
        return TCPI_REQLOG_GONE;         /* torn: a later record was being
                                            written over it meanwhile */
    }
    if (!tcpi_req_check(out)) {
        memset(out, 0, sizeof(*out));
        return TCPI_REQLOG_CORRUPT;
    }
    return 0;
}

int tcpi_req_id_valid(const char *id, size_t len)
{
    if (len == 0 || len >= TCPI_REQ_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '@' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int endpoint_ok(const tcpi_endpoint_t *ep)
{
    return ep->family == 0 || ep->family == 4 || ep->family == 6;
}

static int tls_ok(const tcpi_req_tls_t *t)
{
    if (t->on > 1 || t->resumed > 1 || t->has_random > 1 ||
        t->nkeys > TCPI_TLS_KEYS_MAX ||
        (!t->on && (t->resumed || t->has_random || t->nkeys)) ||
        memchr(t->protocol, '\0', sizeof(t->protocol)) == NULL ||
        memchr(t->cipher, '\0', sizeof(t->cipher)) == NULL ||
        memchr(t->sni, '\0', sizeof(t->sni)) == NULL ||
        memchr(t->alpn, '\0', sizeof(t->alpn)) == NULL ||
        (t->nkeys && !t->has_random) || t->wire > 1 || t->keys_dropped > 1 ||
        (t->keys_dropped && t->nkeys != TCPI_TLS_KEYS_MAX) ||
        t->keys_refused > 1 ||
        (t->keys_refused && (t->nkeys || !t->on)) ||
        (!t->on && (t->wire || t->hs_in)) ||
        (t->wire && (t->in_start > t->in_end || t->out_start > t->out_end ||
                     t->hs_in > t->in_start || t->hs_in == 0)))
        return 0;
    for (unsigned i = 0; i < t->nkeys; i++)
        if (!tcpi_tls_key_ok(&t->keys[i]))
            return 0;
    return 1;
}

static int bkeys_ok(const tcpi_req_t *r)
{
    const tcpi_req_bkeys_t *b = &r->backend_keys;

    if (b->nkeys > TCPI_TLS_KEYS_MAX || b->keys_dropped > 1 ||
        (b->keys_dropped && b->nkeys != TCPI_TLS_KEYS_MAX) ||
        /* a TLS backend connection opened for the request */
        (b->nkeys && (!r->backend_tls || r->backend_reused)))
        return 0;
    for (unsigned i = 0; i < b->nkeys; i++)
        if (!tcpi_tls_key_ok(&b->keys[i]))
            return 0;
    return 1;
}

int tcpi_req_check(const tcpi_req_t *r)
{
    size_t idlen = strnlen(r->id, sizeof(r->id));

    return idlen < sizeof(r->id) && tcpi_req_id_valid(r->id, idlen) &&
           memchr(r->method, '\0', sizeof(r->method)) != NULL &&
           memchr(r->uri, '\0', sizeof(r->uri)) != NULL &&
           endpoint_ok(&r->front_client) && endpoint_ok(&r->front_server) &&
           endpoint_ok(&r->backend_local) && endpoint_ok(&r->backend_remote) &&
           r->has_backend <= 1 && r->backend_reused <= 1 && r->capture <= 1 &&
           r->http2 <= 1 && !(r->http2 && r->tls.wire) &&
           r->backend_tls <= (r->has_backend ? 1 : 0) &&
           !(r->backend_tls && r->backend_src != TCPI_BACKEND_SRC_CREATE_REQ) &&
           r->backend_src <= TCPI_BACKEND_SRC_NOTE && r->start_us <= r->end_us &&
           (r->backend_at_us == 0 ||
            (r->backend_src == TCPI_BACKEND_SRC_CREATE_REQ &&
             r->start_us <= r->backend_at_us && r->backend_at_us <= r->end_us)) &&
           tls_ok(&r->tls) && bkeys_ok(r);
}

uint64_t tcpi_reqlog_dropped(const tcpi_reqlog_t *log)
{
    return atomic_load(&((tcpi_reqlog_t *)log)->dropped);
}

size_t tcpi_endpoint_format(char *buf, size_t len, const tcpi_endpoint_t *ep)
{
    char ip[INET6_ADDRSTRLEN];
    int n;

    if (len == 0)
        return 0;
    buf[0] = '\0';
    if (ep->family == 4 && inet_ntop(AF_INET, ep->addr, ip, sizeof(ip)))
        n = snprintf(buf, len, "%s:%u", ip, ep->port);
    else if (ep->family == 6 && inet_ntop(AF_INET6, ep->addr, ip, sizeof(ip)))
        n = snprintf(buf, len, "[%s]:%u", ip, ep->port);
    else
        return 0;
    return n > 0 ? (size_t)n : 0;
}

/* ---- the reader ------------------------------------------------------- */

struct tcpi_reqlog_reader {
    const tcpi_reqlog_t *log;
    tcpi_reqlog_reader_conf_t c;
    int         started;          /* next set from the head */
    uint64_t    next;             /* the next record number to read */
    uint64_t    stuck_since;      /* wall ns; 0: not waiting */
    uint64_t    stuck_head;       /* the head when that wait began */
    uint64_t    skip_below;       /* incomplete records below this were
                                     claimed before an expired wait */
    uint64_t    head, tail;       /* the FIFO: [tail, head) */
    uint64_t   *k;
    tcpi_req_t *rec;
    uint64_t    missed, skipped, corrupt;
};

tcpi_reqlog_reader_t *tcpi_reqlog_reader_create(const tcpi_reqlog_t *log,
                                                const tcpi_reqlog_reader_conf_t *conf)
{
    tcpi_reqlog_reader_t *rd = calloc(1, sizeof(*rd));

    if (rd == NULL)
        return NULL;
    rd->log = log;
    rd->c = *conf;
    if (rd->c.capacity == 0)
        rd->c.capacity = TCPI_REQLOG_LEN;
    rd->k = malloc(rd->c.capacity * sizeof(*rd->k));
    rd->rec = malloc(rd->c.capacity * sizeof(*rd->rec));
    if (rd->k == NULL || rd->rec == NULL) {
        tcpi_reqlog_reader_destroy(rd);
        return NULL;
    }
    return rd;
}

void tcpi_reqlog_reader_destroy(tcpi_reqlog_reader_t *rd)
{
    if (rd == NULL)
        return;
    free(rd->k);
    if (rd->rec != NULL)
        explicit_bzero(rd->rec, rd->c.capacity * sizeof(*rd->rec));
    free(rd->rec);
    free(rd);
}

/* The start: the head, or further back over the records that ended
 * within catchup_ns (and whatever is not a record among them), at most
 * one log's length. */
static void reader_start(tcpi_reqlog_reader_t *rd, uint64_t head,
                         uint64_t now_ns)
{
    uint64_t now_us = now_ns / 1000, back_us = rd->c.catchup_ns / 1000;

    rd->next = head;
    rd->started = 1;
    if (back_us == 0)
        return;
    for (; rd->next > 0 && head - rd->next < TCPI_REQLOG_LEN; rd->next--) {
        tcpi_req_t r;
        int ended = tcpi_reqlog_get(&r, rd->log, rd->next - 1) == 0 &&
                    r.end_us < now_us && now_us - r.end_us > back_us;
        tcpi_req_wipe_secrets(&r);
        if (ended)
            break;                        /* ended before the catch-up */
    }
}

void tcpi_reqlog_reader_fill(tcpi_reqlog_reader_t *rd, uint64_t now)
{
    uint64_t head = tcpi_reqlog_head(rd->log);

    if (!rd->started)
        reader_start(rd, head, now);
    if (head < rd->next) {
        /* The counter went back (or wrapped): only a write into the log
         * does that. The records since then are below the new head: read
         * the log's last LEN slots again (what is not a record now is
         * passed over as corrupt). */
        rd->corrupt++;
        rd->next = head > TCPI_REQLOG_LEN ? head - TCPI_REQLOG_LEN : 0;
    }
    while (rd->next < head && rd->head - rd->tail < rd->c.capacity) {
        tcpi_req_t *r = &rd->rec[rd->head % rd->c.capacity];
        if (head - rd->next > TCPI_REQLOG_LEN) {
            rd->missed += head - TCPI_REQLOG_LEN - rd->next;
            rd->next = head - TCPI_REQLOG_LEN;
            continue;
        }
        int rc = tcpi_reqlog_get(r, rd->log, rd->next);
        if (rc == TCPI_REQLOG_CORRUPT ||
            (rc == 0 && r->end_us > now / 1000 + TCPI_REQLOG_FUTURE_US)) {
            tcpi_req_wipe_secrets(r);
            rd->corrupt++;
            rd->next++;
            continue;
        }
        if (rc == TCPI_REQLOG_GONE) {    /* overwritten before it was read */
            rd->missed++;
            rd->next++;
            continue;
        }
        if (rc != 0) {
            /* Still being written, or its producer died copying it. */
            if (rd->next >= rd->skip_below) {
                if (rd->stuck_since == 0 || now < rd->stuck_since) {
                    rd->stuck_since = now;
                    rd->stuck_head = head;
                }
                if (now - rd->stuck_since < TCPI_REQLOG_STUCK_NS)
                    break;
                /* Stuck that long: skip it, and every record claimed
                 * before the wait began that is not complete either (a
                 * run of slots left "being written" passes in one go);
                 * a record claimed since gets a wait of its own. */
                rd->skip_below = rd->stuck_head;
                rd->stuck_since = 0;
            }
            rd->skipped++;
            rd->next++;
            continue;
        }
        rd->stuck_since = 0;
        rd->k[rd->head % rd->c.capacity] = rd->next++;
        rd->head++;
    }
}

const tcpi_req_t *tcpi_reqlog_reader_next(uint64_t *k,
                                          const tcpi_reqlog_reader_t *rd,
                                          uint64_t now_ns, uint64_t seen_ns)
{
    const tcpi_req_t *r;
    uint64_t ripe;

    if (rd->tail == rd->head)
        return NULL;
    /* end_us is at most TCPI_REQLOG_FUTURE_US ahead: no overflow. */
    r = &rd->rec[rd->tail % rd->c.capacity];
    ripe = r->end_us * 1000 + rd->c.grace_ns;
    if (now_ns < ripe || seen_ns < ripe)
        return NULL;
    *k = rd->k[rd->tail % rd->c.capacity];
    return r;
}

void tcpi_req_wipe_secrets(tcpi_req_t *r)
{
    explicit_bzero(r->tls.keys, sizeof(r->tls.keys));
    explicit_bzero(&r->backend_keys, sizeof(r->backend_keys));
}

void tcpi_req_strip_secrets(tcpi_req_t *r)
{
    /* (the labels and lengths stay: the copy is still a record) */
    for (unsigned i = 0; i < TCPI_TLS_KEYS_MAX; i++) {
        explicit_bzero(r->tls.keys[i].secret, sizeof(r->tls.keys[i].secret));
        explicit_bzero(r->backend_keys.keys[i].secret,
                       sizeof(r->backend_keys.keys[i].secret));
    }
}

uint64_t tcpi_req_backend_at_ns(const tcpi_req_t *r)
{
    return r->backend_reused && r->backend_at_us
               ? r->backend_at_us * 1000 + 999 : 0;
}

void tcpi_reqlog_reader_pop(tcpi_reqlog_reader_t *rd)
{
    if (rd->tail < rd->head)
        tcpi_req_wipe_secrets(&rd->rec[rd->tail++ % rd->c.capacity]);
}

void tcpi_reqlog_reader_stats(tcpi_reqlog_reader_stats_t *st,
                              const tcpi_reqlog_reader_t *rd, uint64_t now_ns)
{
    st->missed = rd->missed;
    st->skipped = rd->skipped;
    st->corrupt = rd->corrupt;
    st->pending = rd->head - rd->tail;
    st->lag_ms = 0;
    if (rd->tail < rd->head) {
        uint64_t e = rd->rec[rd->tail % rd->c.capacity].end_us * 1000;
        st->lag_ms = now_ns > e ? (now_ns - e) / 1000000 : 0;
    }
}
