/*
 * tcpi_query.h — select packets from the ring for a page or a download:
 * a BPF filter (compiled with libpcap per link type and applied with
 * pcap_offline_filter), an interface, a time window, a packet-number
 * start (since=) and a count bound (limit= keeps the newest matches, or
 * with `oldest` the first ones from since= on).
 * Readers copy each record out of the ring; nothing is held locked and
 * nothing is copied wholesale.
 *
 * What the filter sees. A viewer who may not download the raw bytes must
 * not learn a payload byte from which packets a filter selects (libpcap's
 * mpls/vlan/pppoes/geneve shift the offsets of ip[], ip6[], host, net...
 * so that they read payload; a filter can then test a Cookie byte by
 * byte). Unless TCPI_QUERY_PAYLOAD is given, the filter runs over a copy
 * of each frame whose bytes after the TCP header are zero; a frame the
 * decoder cannot take to a TCP header (non-first fragment, tunnel,
 * unwalked IPv6 extension, not TCP, not IP) keeps only the headers it
 * decoded (tcpi_query_headers_len). Captured and wire lengths are those
 * of the frame, so len/less/greater still work. The output is the real
 * bytes.
 *
 * What the filter may be: tcpi_bpfcheck.h (numeric only, bounded).
 *
 * What a scan may cost: every query has a budget of packets examined and
 * of time spent inside tcpi_query_start/next (time the caller spends
 * writing to a slow client is not counted). When it runs out the scan
 * stops, `truncated` is set and the window is what was examined:
 * [next, end) after tcpi_query_start.
 */
#ifndef TCPI_QUERY_H
#define TCPI_QUERY_H

#include "tcpi/region.h"
#include "tcpi/decode.h"

#include <pcap/pcap.h>

#define TCPI_QUERY_MAX_LINKTYPES 4

/* Default budget. Measured on this project's CI machine (AMD EPYC, 2
 * shared cores, libpcap 1.10.3), one pass over a full 1 GiB ring:
 *   66-byte frames (2,097,152 records, the most a 1 GiB ring holds):
 *     no filter 135 ms (64 ns/record), `port 9` 125 ms, a 9-portrange
 *     chain 330 ms (158 ns/record);
 *   1502-byte frames (659,025 records): 400-700 ms (0.6-1 us/record,
 *     mostly copying the record out of the ring).
 * The headers-only copy costs nothing measurable (headers are copied,
 * not the frame). A page examines its window once (tcpi_query_start finds
 * it) and then reads again only the records that passed (the page prints
 * them), hence a budget of one 1 GiB ring of records or 250 ms of
 * scanning, whichever comes first: a page answers within about a second,
 * and a cheap filter still sees a whole 1 GiB ring. */
#define TCPI_QUERY_BUDGET_PACKETS 2097152u
#define TCPI_QUERY_BUDGET_MS      250u

/* Records of a window whose verdict tcpi_query_start keeps (one bit each,
 * 256 KiB): beyond them the filter runs again as the window is read. */
#define TCPI_QUERY_VERDICTS_MAX   2097152u

/* tcpi_query_init_ex flags */
#define TCPI_QUERY_PAYLOAD 0x1u  /* the filter may read payload bytes: only
                                    where the raw bytes may be downloaded */

/** For tcpi_query_t.count_if: 1 when a packet that passed the filter
 *  counts toward limit. */
typedef int tcpi_query_count_fn(void *ctx, const tcpi_ring_rec_t *rec,
                                const uint8_t *data);

typedef struct tcpi_query_hdrbuf tcpi_query_hdrbuf_t;
typedef struct tcpi_query_verdicts tcpi_query_verdicts_t;

typedef struct {
    const tcpi_shm_t  *shm;
    const tcpi_ring_t *ring;
    /* selection: set after init, before tcpi_query_start */
    int       iface;           /* -1: every interface */
    uint64_t  since;           /* first packet number considered */
    uint64_t  from_ts_ns;      /* 0: no time bound */
    uint64_t  limit;           /* 0: no bound; else `limit` matches */
    int       oldest;          /* with limit: the first `limit` matches
                                  from since on (paging forward); 0: the
                                  newest `limit` */
    tcpi_query_count_fn *count_if;  /* with limit: which matches count
                                       (NULL: all); tcpi_query_start only */
    void     *count_ctx;
    /* budget: set by init to the defaults; 0 means unbounded */
    uint64_t  budget_packets;  /* records examined */
    uint64_t  budget_ns;       /* time inside tcpi_query_start/next */
    /* filter */
    int       have_filter;
    int       headers_only;    /* the filter sees no payload */
    int       nprog;
    int32_t   prog_linktype[TCPI_QUERY_MAX_LINKTYPES];
    struct bpf_program prog[TCPI_QUERY_MAX_LINKTYPES];
    tcpi_query_hdrbuf_t *hdr;  /* the headers-only copy */
    /* iteration */
    uint64_t  next;            /* next packet number to look at */
    uint64_t  end;             /* head at the start of the query, or where
                                  the window or the budget ended it */
    uint64_t  skipped_gone;    /* overwritten while we iterated */
    /* cost of the scan since tcpi_query_start */
    uint64_t  examined;        /* records examined (each counted once) */
    uint64_t  spent_ns;        /* time inside tcpi_query_start/next */
    int       truncated;       /* the budget stopped the scan early */
    uint64_t  paid;            /* records below this number were examined
                                  (and charged) already */
    /* what tcpi_query_start learned of the window: whether each record
       passed interface, time and filter (a record it rejected, or found
       overwritten, is not read again) */
    tcpi_query_verdicts_t *verdicts;
    /* the record in the caller's buffer, decoded once (tcpi_query_decode) */
    tcpi_pkt_t pkt;
    int       pkt_why;         /* tcpi_decode's reason; -1: not decoded */
    /* work since init, for the pages' counters */
    uint64_t  read;            /* records copied out of the ring */
    uint64_t  decoded;         /* records decoded (tcpi_decode runs) */
} tcpi_query_t;

/** Prepare a query. filter may be NULL or empty. Checks the expression
 *  (tcpi_bpfcheck), compiles it for every link type among the selected
 *  interfaces and checks the program length; on a refused or bad
 *  expression returns -1 with a sentence (or libpcap's message) in err.
 *  flags: TCPI_QUERY_PAYLOAD or 0 (the filter sees headers only). */
int tcpi_query_init_ex(tcpi_query_t *q, const tcpi_shm_t *shm, int iface,
                       const char *filter, unsigned flags, char *err,
                       size_t errlen);
/** tcpi_query_init_ex with flags 0: the filter sees headers only. */
int tcpi_query_init(tcpi_query_t *q, const tcpi_shm_t *shm, int iface,
                    const char *filter, char *err, size_t errlen);
/** Does this packet pass the interface, time and filter? Not budgeted. */
int tcpi_query_match(const tcpi_query_t *q, const tcpi_ring_rec_t *rec,
                     const uint8_t *data);
/** Position the iteration: after since/from_ts_ns, and when limit is set,
 *  on the window of `limit` counted matches (the newest, or with oldest
 *  the first; end then follows the last of them). Resets the cost
 *  counters; the records it examines are charged to the budget, and the
 *  iteration over them afterwards is not charged again. It keeps each
 *  examined record's verdict (up to TCPI_QUERY_VERDICTS_MAX), so that
 *  tcpi_query_next reads only the records that passed; when every record
 *  counts (no filter, interface, time or count_if) it reads none: the
 *  window is the last (first) `limit` packet numbers. */
void tcpi_query_start(tcpi_query_t *q, uint8_t *buf, size_t bufsize);
/** Copy the next matching packet into rec/buf; 1, or 0 at the end or when
 *  the budget ran out (truncated set, end moved to the first record not
 *  examined). Records before `paid` (a window already examined, or a pass
 *  rewound by setting next back) are not charged. */
int tcpi_query_next(tcpi_query_t *q, tcpi_ring_rec_t *rec, uint8_t *buf,
                    size_t bufsize);
void tcpi_query_free(tcpi_query_t *q);

/** The decode of the record the query last copied into the caller's
 *  buffer (rec, data: the one tcpi_query_next returned, or the one
 *  count_if is judging): tcpi_decode runs once per record, for whoever
 *  asks first (the headers-only view of the filter, count_if, the page).
 *  *pkt points into q until the next record is read. Returns the
 *  reason. */
int tcpi_query_decode(tcpi_query_t *q, const tcpi_pkt_t **pkt,
                      const tcpi_ring_rec_t *rec, const uint8_t *data);

/** How many leading bytes of a frame the filter sees when payload is
 *  hidden: up to the TCP payload; for a frame the decoder cannot take to
 *  a TCP header, up to the end of the deepest header it decoded (IP
 *  header of a fragment or of a non-TCP packet, fixed IPv6 header of an
 *  unwalkable chain, link header of a non-IP frame); never more than
 *  caplen. */
uint32_t tcpi_query_headers_len(int32_t linktype, const uint8_t *data,
                                uint32_t caplen, uint32_t wirelen);
/** The same from a decode already made: pkt and why as tcpi_decode left
 *  them for a frame of caplen captured bytes. */
uint32_t tcpi_query_headers_len_of(const tcpi_pkt_t *pkt, int why,
                                   uint32_t caplen);

#endif
