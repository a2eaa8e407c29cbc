/* tcpi_reqlog.c — multi-producer request log (tcpi_reqlog.h). */
#include "tcpi_reqlog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define REQLOG_MAGIC 0x54435251u      /* "TCRQ" */

typedef struct {
    _Atomic uint64_t seq;
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
    if (cur > 2 * k + 2 &&
        ((cur - 1) / 2) % TCPI_REQLOG_LEN == k % TCPI_REQLOG_LEN) {
        atomic_store_explicit(&s->owner, 0, memory_order_release);
        goto drop;
    }
    atomic_store_explicit(&s->seq, 2 * k + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    memcpy(&s->rec, rec, sizeof(*rec));
    atomic_store_explicit(&s->seq, 2 * k + 2, memory_order_release);
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
    slot_t *s = (slot_t *)&log->slot[k % TCPI_REQLOG_LEN];
    uint64_t s1 = atomic_load_explicit(&s->seq, memory_order_acquire);

    if (s1 != 2 * k + 2) {
        /* Not (yet, or any more) record k. A slot only ever holds a
         * record number of its own residue, being written (odd) or
         * complete (even); anything else was not written by a producer. */
        if (s1 != 0 && ((s1 - 1) / 2) % TCPI_REQLOG_LEN != k % TCPI_REQLOG_LEN)
            return TCPI_REQLOG_CORRUPT;
        return -1;
    }
    memcpy(out, &s->rec, sizeof(*out));
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&s->seq, memory_order_relaxed) != s1)
        return -1;
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

int tcpi_req_check(const tcpi_req_t *r)
{
    size_t idlen = strnlen(r->id, sizeof(r->id));

    return idlen < sizeof(r->id) && tcpi_req_id_valid(r->id, idlen) &&
           memchr(r->method, '\0', sizeof(r->method)) != NULL &&
           memchr(r->uri, '\0', sizeof(r->uri)) != NULL &&
           endpoint_ok(&r->front_client) && endpoint_ok(&r->front_server) &&
           endpoint_ok(&r->backend_local) && endpoint_ok(&r->backend_remote) &&
           r->has_backend <= 1 && r->backend_reused <= 1 && r->capture <= 1 &&
           r->backend_src <= TCPI_BACKEND_SRC_NOTE && r->start_us <= r->end_us;
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
