/*
 * tcpi_flowpub.h — the capture worker's flow table published to shared
 * memory for /flows: about once a second the worker copies the most
 * recently active flows (newest activity first) into a fixed table.
 *
 *   +---------------------------+
 *   | tcpi_flowpub header       |  magic, slots, publication number,
 *   |                           |  how many slots it filled, when
 *   +---------------------------+
 *   | slot[TCPI_FLOWPUB_LEN]    |  seq (2g+1 writing, 2g+2 complete for
 *   |   seq + tcpi_flowrec_t    |  publication g), then the record
 *   +---------------------------+
 *
 * Offsets and values only, no pointers. One writer (the worker), any
 * number of readers in other processes; a reader copies a slot and keeps
 * it only when its seq says it is complete and from the publication the
 * header named (tcpi_seqlock.h's generation form), otherwise it reads
 * the table again, a few times at most (a publication takes well under
 * a millisecond, the next one comes a second later).
 */
#ifndef TCPI_FLOWPUB_H
#define TCPI_FLOWPUB_H

#include "tcpi_flow.h"

#include <stdatomic.h>

#define TCPI_FLOWPUB_LEN 1024u

/** One published flow: a copy of what the flow table holds for it. */
typedef struct {
    tcpi_flow_key_t  key;
    uint64_t         first_ns, last_ns;   /* wall ns of its packets */
    tcpi_flowstate_t fs;                  /* side d sends dir d packets */
} tcpi_flowrec_t;

typedef struct tcpi_flowpub tcpi_flowpub_t;

size_t tcpi_flowpub_size(void);
tcpi_flowpub_t *tcpi_flowpub_init(void *mem);

/** Publish the table's TCPI_FLOWPUB_LEN most recently active flows
 *  (the worker; bounded: one pass over the table's capacity). */
void tcpi_flowpub_publish(tcpi_flowpub_t *pub, const tcpi_flowtab_t *ft,
                          uint64_t now_wall_ns);

/** Copy the newest publication, newest activity first, into out[max].
 *  Returns the number of records (0 when nothing was published yet). */
uint32_t tcpi_flowpub_read(tcpi_flowrec_t *out, uint32_t max,
                           const tcpi_flowpub_t *pub);

typedef struct {
    uint64_t publications;
    uint64_t published_ns;   /* wall time of the newest publication */
    uint32_t count;          /* flows in it */
    uint64_t scan_ns;        /* how long it took the worker */
} tcpi_flowpub_stats_t;

void tcpi_flowpub_stats(tcpi_flowpub_stats_t *st, const tcpi_flowpub_t *pub);

#endif
