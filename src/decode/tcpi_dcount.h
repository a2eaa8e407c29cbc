/*
 * tcpi_dcount.h — the decoder's reject reasons (tcpi_decode_reason_e)
 * counted in shared memory: one block per captured interface, written by
 * the capture worker with one relaxed atomic add per frame it decodes,
 * read by any process. Never a log line per packet.
 */
#ifndef TCPI_DCOUNT_H
#define TCPI_DCOUNT_H

#include "tcpi_decode.h"

#include <stdatomic.h>

typedef struct {
    _Atomic uint64_t n[TCPI_DR_COUNT];
} tcpi_dcount_t;

/** Count one frame decoded with result `reason` (out of range: ignored). */
static inline void tcpi_dcount_add(tcpi_dcount_t *c, int reason)
{
    if (reason >= 0 && reason < TCPI_DR_COUNT)
        atomic_fetch_add_explicit(&c->n[reason], 1, memory_order_relaxed);
}

/** Copy the counters (each one atomically; together only about). */
void tcpi_dcount_read(uint64_t out[TCPI_DR_COUNT], const tcpi_dcount_t *c);

#endif
