/* tcpi_dcount.c — decoder reason counters (tcpi_dcount.h). */
#include "tcpi_dcount.h"

void tcpi_dcount_read(uint64_t out[TCPI_DR_COUNT], const tcpi_dcount_t *c)
{
    tcpi_dcount_t *w = (tcpi_dcount_t *)c;

    for (int i = 0; i < TCPI_DR_COUNT; i++)
        out[i] = atomic_load_explicit(&w->n[i], memory_order_relaxed);
}
