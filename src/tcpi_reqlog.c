/* tcpi_reqlog.c — multi-producer request log (tcpi_reqlog.h). */
#include "tcpi_reqlog.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define REQLOG_MAGIC 0x54435251u      /* "TCRQ" */

typedef struct {
    _Atomic uint64_t seq;
    atomic_flag      busy;
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
    for (uint32_t i = 0; i < TCPI_REQLOG_LEN; i++)
        atomic_flag_clear(&log->slot[i].busy);
    return log;
}

int tcpi_reqlog_put(tcpi_reqlog_t *log, const tcpi_req_t *rec)
{
    uint64_t k = atomic_fetch_add_explicit(&log->head, 1, memory_order_relaxed);
    slot_t *s = &log->slot[k % TCPI_REQLOG_LEN];

    /* Held only for the copy below; a producer finding it held (lapped
     * by TCPI_REQLOG_LEN records while preempted) drops rather than waits. */
    if (atomic_flag_test_and_set_explicit(&s->busy, memory_order_acquire)) {
        atomic_fetch_add_explicit(&log->dropped, 1, memory_order_relaxed);
        return -1;
    }
    atomic_store_explicit(&s->seq, 2 * k + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    memcpy(&s->rec, rec, sizeof(*rec));
    atomic_store_explicit(&s->seq, 2 * k + 2, memory_order_release);
    atomic_flag_clear_explicit(&s->busy, memory_order_release);
    return 0;
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

    if (s1 != 2 * k + 2)
        return -1;
    memcpy(out, &s->rec, sizeof(*out));
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&s->seq, memory_order_relaxed) != s1)
        return -1;
    out->id[TCPI_REQ_ID_MAX - 1] = '\0';
    out->method[TCPI_REQ_METHOD_MAX - 1] = '\0';
    out->uri[TCPI_REQ_URI_MAX - 1] = '\0';
    return 0;
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
