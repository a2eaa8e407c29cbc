/* tcpi_linelog.c — whole lines to a non-blocking descriptor
 * (tcpi_linelog.h). */
#include "tcpi_linelog.h"
#include "tcpi_common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* After a write error other than a full descriptor (a full disk, EIO),
 * the next attempt waits this long: lines wait or drop meanwhile. */
#define HOLD_NS        1000000000ull
/* "lines are dropped" is logged at most this often. */
#define DROP_LOG_NS    60000000000ull
#define FLUSH_ROUNDS   64               /* writes per flush at most */

struct tcpi_linelog {
    int      fd;
    tcpi_linelog_stats_t *st;
    tcpi_linelog_stats_t own;
    int      part;                /* buf[head] is the rest of a line */
    int      failing;             /* the last write failed (not EAGAIN) */
    uint64_t hold_until;          /* no write before (monotonic ns) */
    uint64_t drop_logged;         /* when drops were last logged */
    size_t   head, len;           /* waiting: buf[head .. head + len) */
    char     buf[TCPI_LINELOG_PENDING];
};

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void add(_Atomic uint64_t *c, uint64_t n)
{
    if (n)
        atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void publish_pending(tcpi_linelog_t *l)
{
    atomic_store_explicit(&l->st->pending_bytes, l->len, memory_order_relaxed);
}

static size_t count_nl(const char *p, size_t n)
{
    size_t c = 0;
    const char *e = p + n;

    while (p < e && (p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
        c++;
        p++;
    }
    return c;
}

/* Bytes of the first line of p[0..n), its '\n' included. */
static size_t line_len(const char *p, size_t n)
{
    const char *nl = memchr(p, '\n', n);

    return nl ? (size_t)(nl - p) + 1 : n;
}

/* write(2) that retries an interrupted call (a few times: bounded). */
static ssize_t write_some(int fd, const char *p, size_t n)
{
    ssize_t w = -1;

    for (int i = 0; i < 4; i++) {
        w = write(fd, p, n);
        if (w >= 0 || errno != EINTR)
            break;
    }
    return w;
}

/* The outcome of one write: counts, holds and logs the changes. Returns
 * the bytes written (0 when none). */
static size_t outcome(tcpi_linelog_t *l, ssize_t w, int err)
{
    if (w >= 0) {
        if (l->failing)
            tcpi_log(TCPI_LOG_NOTICE, TCPI_TAG(0702), "the JSON request log "
                     "(TCPInspectRequestLog) is written again");
        l->failing = 0;
        return (size_t)w;
    }
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)
        return 0;                       /* full: the lines wait */
    add(&l->st->write_errors, 1);
    l->hold_until = mono_ns() + HOLD_NS;
    if (!l->failing)
        tcpi_log(TCPI_LOG_ERR, TCPI_TAG(0701), "the JSON request log "
                 "(TCPInspectRequestLog) cannot be written: %s; lines wait "
                 "in a %u-byte buffer, then are dropped and counted",
                 strerror(err), TCPI_LINELOG_PENDING);
    l->failing = 1;
    return 0;
}

static int may_write(const tcpi_linelog_t *l)
{
    return l->hold_until == 0 || mono_ns() >= l->hold_until;
}

static void drop(tcpi_linelog_t *l, uint64_t lines)
{
    uint64_t now;

    add(&l->st->dropped, lines);
    now = mono_ns();
    if (lines && (l->drop_logged == 0 || now - l->drop_logged >= DROP_LOG_NS)) {
        l->drop_logged = now;
        tcpi_log(TCPI_LOG_WARN, TCPI_TAG(0703), "the JSON request log "
                 "(TCPInspectRequestLog) does not take the lines as fast as "
                 "requests are joined: lines are dropped (json_log.dropped "
                 "in status.json); logged again in a minute at the soonest");
    }
}

tcpi_linelog_t *tcpi_linelog_create(int fd, tcpi_linelog_stats_t *st)
{
    tcpi_linelog_t *l = calloc(1, sizeof(*l));
    int fl;

    if (l == NULL)
        return NULL;
    l->fd = fd;
    l->st = st ? st : &l->own;
    fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    publish_pending(l);
    return l;
}

size_t tcpi_linelog_pending(const tcpi_linelog_t *l)
{
    return l->len;
}

int tcpi_linelog_flush(tcpi_linelog_t *l)
{
    for (int round = 0; l->len > 0 && round < FLUSH_ROUNDS; round++) {
        const char *p = l->buf + l->head;
        size_t n = line_len(p, l->len), w, done;

        if (!may_write(l))
            break;
        /* A rest is written alone; whole lines together up to PIPE_BUF
         * (one atomic write on a pipe), the first one at least. */
        while (!l->part && n < l->len) {
            size_t m = line_len(p + n, l->len - n);
            if (n + m > PIPE_BUF)
                break;
            n += m;
        }
        ssize_t r = write_some(l->fd, p, n);
        w = outcome(l, r, errno);
        if (w == 0)
            break;
        done = count_nl(p, w);
        add(&l->st->written, done);
        add(&l->st->delayed, done);
        l->part = p[w - 1] != '\n';
        l->head += w;
        l->len -= w;
        if (w < n)
            break;                      /* the descriptor is full */
    }
    if (l->len == 0)
        l->head = l->part = 0;
    publish_pending(l);
    return l->len == 0;
}

/* Append a whole line (or a line's rest) to what waits; the caller
 * checked that it fits. */
static void append(tcpi_linelog_t *l, const char *p, size_t n)
{
    if (l->head + l->len + n > sizeof(l->buf)) {
        memmove(l->buf, l->buf + l->head, l->len);
        l->head = 0;
    }
    memcpy(l->buf + l->head + l->len, p, n);
    l->len += n;
    publish_pending(l);
}

int tcpi_linelog_put(tcpi_linelog_t *l, const char *line, size_t len)
{
    size_t w = 0;

    if (len == 0 || len > TCPI_LINELOG_LINE_MAX || line[len - 1] != '\n' ||
        memchr(line, '\n', len - 1) != NULL) {
        drop(l, 1);
        return TCPI_LINE_DROPPED;
    }
    /* Those that wait go first: the order is kept. */
    if (l->len > 0)
        tcpi_linelog_flush(l);
    if (l->len > 0) {
        if (len > sizeof(l->buf) - l->len) {
            drop(l, 1);
            return TCPI_LINE_DROPPED;
        }
        append(l, line, len);
        return TCPI_LINE_WAITS;
    }
    if (may_write(l)) {
        ssize_t r = write_some(l->fd, line, len);
        w = outcome(l, r, errno);
    }
    if (w == len) {
        add(&l->st->written, 1);
        return TCPI_LINE_WRITTEN;
    }
    /* Nothing waited, and a line is shorter than the buffer: it fits. */
    append(l, line + w, len - w);
    l->part = w > 0;
    return TCPI_LINE_WAITS;
}

void tcpi_linelog_close(tcpi_linelog_t *l, int wait_ms)
{
    uint64_t end;

    if (l == NULL)
        return;
    end = mono_ns() + (uint64_t)(wait_ms > 0 ? wait_ms : 0) * 1000000ull;
    l->hold_until = 0;
    for (int i = 0; !tcpi_linelog_flush(l) && i < 1000; i++) {
        uint64_t now = mono_ns();
        struct pollfd pfd = { .fd = l->fd, .events = POLLOUT };
        if (now >= end)
            break;
        if (poll(&pfd, 1, (int)((end - now + 999999) / 1000000)) <= 0 ||
            (pfd.revents & (POLLERR | POLLNVAL)))
            break;
    }
    /* A line whose first part was written is counted too: it is torn. */
    drop(l, count_nl(l->buf + l->head, l->len));
    l->len = 0;
    publish_pending(l);
    free(l);
}
