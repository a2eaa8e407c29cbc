/*
 * tcpi_linelog.h — whole lines to a descriptor that must never make the
 * writer wait: the JSON request log (TCPInspectRequestLog), a file or the
 * pipe to a piped logger, written by the capture worker as it joins.
 *
 * The descriptor is made non-blocking, and the stream it receives holds
 * whole lines only, in order:
 *
 *   put(line) ──> nothing waits? ──yes──> write(line) ─ all: written
 *                      │                      ├─ part: its rest waits ──┐
 *                      no                     └─ none (EAGAIN): waits ──┤
 *                      └──> fits in what waits? ─yes─> waits ───────────┤
 *                                    └─no─> dropped whole, counted      │
 *   flush ──> write what waits, head first, whole lines up to PIPE_BUF <┘
 *             bytes at a time (a part-written line's rest alone)
 *
 * On a pipe, POSIX makes a write of at most PIPE_BUF (4096) bytes atomic:
 * all of it or EAGAIN, never a part. A line or batch of lines up to that
 * size therefore never lands half in the pipe, even if the process dies
 * right after. A longer line, or a file on a full disk, can be taken in
 * part: its rest is written before any other byte. A line is only ever
 * dropped whole, before any of it was written. What waits is bounded
 * (TCPI_LINELOG_PENDING): a stalled reader costs dropped lines, never a
 * wait. The one way to a torn line is the process dying while the rest
 * of a line longer than PIPE_BUF still waits.
 */
#ifndef TCPI_LINELOG_H
#define TCPI_LINELOG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define TCPI_LINELOG_PENDING  (64u * 1024)   /* bytes that may wait */
#define TCPI_LINELOG_LINE_MAX 16384u          /* one line at most, '\n' in */

/** The counters, in memory the pages read (the shared region): only the
 *  writer stores, with atomics; they keep growing over writers that
 *  replace each other (a restarted worker). */
typedef struct {
    _Atomic uint64_t written;        /* lines whose last byte was written */
    _Atomic uint64_t delayed;        /* of them, lines that waited first */
    _Atomic uint64_t dropped;        /* lines dropped whole */
    _Atomic uint64_t write_errors;   /* write() failures but EAGAIN/EINTR */
    _Atomic uint64_t pending_bytes;  /* bytes waiting now (a gauge) */
} tcpi_linelog_stats_t;

typedef struct tcpi_linelog tcpi_linelog_t;

/** A writer of fd (which it sets O_NONBLOCK and never closes). st: where
 *  the counters go (NULL: its own). NULL when out of memory. */
tcpi_linelog_t *tcpi_linelog_create(int fd, tcpi_linelog_stats_t *st);

enum { TCPI_LINE_WRITTEN = 0, TCPI_LINE_WAITS = 1, TCPI_LINE_DROPPED = 2 };

/** One line: len bytes ending in its only '\n', at most
 *  TCPI_LINELOG_LINE_MAX (anything else, len 0 included, is dropped and
 *  counted). Never blocks. TCPI_LINE_WRITTEN, TCPI_LINE_WAITS (all or
 *  part of it waits for the descriptor) or TCPI_LINE_DROPPED. */
int tcpi_linelog_put(tcpi_linelog_t *l, const char *line, size_t len);

/** Write what waits as far as the descriptor takes it, without blocking.
 *  1 when nothing waits any more, 0 otherwise. */
int tcpi_linelog_flush(tcpi_linelog_t *l);

/** Bytes waiting. */
size_t tcpi_linelog_pending(const tcpi_linelog_t *l);

/** Flush, waiting for the descriptor at most wait_ms in all; the lines
 *  still waiting then are counted as dropped. Frees l (NULL is fine). */
void tcpi_linelog_close(tcpi_linelog_t *l, int wait_ms);

#endif
