/*
 * tcpi_query.h — select packets from the ring for a page or a download:
 * a BPF filter (compiled with libpcap per link type and applied with
 * pcap_offline_filter), an interface, a time window, a packet-number
 * start (since=) and a count bound (limit= keeps the newest matches).
 * Readers copy each record out of the ring; nothing is held locked and
 * nothing is copied wholesale.
 */
#ifndef TCPI_QUERY_H
#define TCPI_QUERY_H

#include "tcpi_shm.h"

#include <pcap/pcap.h>

#define TCPI_QUERY_MAX_LINKTYPES 4

typedef struct {
    const tcpi_shm_t  *shm;
    const tcpi_ring_t *ring;
    /* selection */
    int       iface;           /* -1: every interface */
    uint64_t  since;           /* first packet number considered */
    uint64_t  from_ts_ns;      /* 0: no time bound */
    uint64_t  limit;           /* 0: no bound; else the newest `limit` */
    int       have_filter;
    int       nprog;
    int32_t   prog_linktype[TCPI_QUERY_MAX_LINKTYPES];
    struct bpf_program prog[TCPI_QUERY_MAX_LINKTYPES];
    /* iteration */
    uint64_t  next;            /* next packet number to look at */
    uint64_t  end;             /* head at the start of the query */
    uint64_t  skipped_gone;    /* overwritten while we iterated */
} tcpi_query_t;

/** Prepare a query. filter may be NULL or empty. Compiles the filter for
 *  every link type among the selected interfaces; on a bad expression
 *  returns -1 with libpcap's message in err. */
int tcpi_query_init(tcpi_query_t *q, const tcpi_shm_t *shm, int iface,
                    const char *filter, char *err, size_t errlen);
/** Does this packet pass the filter? */
int tcpi_query_match(const tcpi_query_t *q, const tcpi_ring_rec_t *rec,
                     const uint8_t *data);
/** Position the iteration: after since/from_ts_ns, and when limit is set,
 *  at the oldest of the newest `limit` matching packets. */
void tcpi_query_start(tcpi_query_t *q, uint8_t *buf, size_t bufsize);
/** Copy the next matching packet into rec/buf; 1, or 0 at the end. */
int tcpi_query_next(tcpi_query_t *q, tcpi_ring_rec_t *rec, uint8_t *buf,
                    size_t bufsize);
void tcpi_query_free(tcpi_query_t *q);

#endif
