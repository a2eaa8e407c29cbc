/*
 * tcpi_packets.h — the /packets.txt and /packets views: ring packets
 * selected by a tcpi_query_t, printed with tcpi_print (tcpdump's lines),
 * redacted, optionally kept only when their payload contains a string,
 * streamed record by record to a tcpi_out_t (no copy of the ring).
 *
 * Relative sequence numbers: packets are fed to the printer in ring order,
 * every packet the BPF filter selects in the window (also those match=
 * then hides, as `tcpdump -r | grep` would), so the lines equal what
 * `tcpdump -n -tt -r` prints for /capture.pcap exported with the same
 * filter over the same packets.
 *
 * Window: without since=, the newest `limit` matching packets; with
 * since=N, the oldest `limit` matching packets numbered >= N (paging
 * forward). *next receives the packet number to pass as since= to get
 * what follows.
 *
 * Cost: the window search (tcpi_query_start) examines each record once,
 * and reads none when every packet counts (no filter=, iface=, match=).
 * Then one pass reads and decodes each packet the filter selected once,
 * for the text page and for the HTML page with its three legs alike (the
 * backend and other legs' lines are held, up to hold_max bytes, until
 * their heading; a leg held past that is read again from where it
 * stopped). stats.decoded and stats.passes count it.
 */
#ifndef TCPI_PACKETS_H
#define TCPI_PACKETS_H

#include "tcpi/decode.h"
#include "tcpi/common.h"
#include "tcpi_query.h"

#define TCPI_PACKETS_TXT_LIMIT_DEFAULT  1000
#define TCPI_PACKETS_TXT_LIMIT_MAX      100000
#define TCPI_PACKETS_HTML_LIMIT_DEFAULT 200
#define TCPI_PACKETS_HTML_LIMIT_MAX     5000
/* HTML lines held for the legs not yet written (the page's limit times a
 * plain line's few hundred bytes fits; -X lines may not). */
#define TCPI_PACKETS_HOLD_MAX           (4u << 20)

typedef struct {
    int            hex;          /* x=1: -X lines */
    const char    *match;        /* payload substring, or NULL */
    size_t         match_len;
    uint64_t       limit;        /* matching packets shown (> 0) */
    int            have_since;   /* page forward from q->since */
    tcpi_redact_t *redact;       /* NULL: no masking (TCPInspectRedact Off) */
    const tcpi_ports_t *front_ports, *backend_ports;  /* HTML legs */
    const char    *base;         /* handler location, HTML-escaped */
    const char    *query_html;   /* other parameters for the next link, escaped */
    size_t         hold_max;     /* 0: TCPI_PACKETS_HOLD_MAX */
} tcpi_packets_opts_t;

/** Counters of one rendering (window search included). */
typedef struct {
    uint64_t shown;              /* packets printed */
    uint64_t scanned;            /* records read from the ring */
    uint64_t decoded;            /* records decoded (tcpi_decode runs) */
    uint64_t passes;             /* passes reading the window: the search
                                    when it had to read, and the printing */
    uint64_t next;               /* since= for what follows */
    uint64_t gone;               /* overwritten while we read */
    tcpi_decode_stats_t reasons; /* decode result of every packet printed */
} tcpi_packets_stats_t;

/** Find the window and set st->next; call before sending headers.
 *  buf: bufsize bytes for one record. */
void tcpi_packets_window(tcpi_packets_stats_t *st, tcpi_query_t *q,
                         const tcpi_packets_opts_t *opt, uint8_t *buf,
                         size_t bufsize);

/** text/plain: tcpdump's lines. Returns 0, or -1 when out of memory. */
int tcpi_packets_text(tcpi_packets_stats_t *st, tcpi_out_t *o,
                      tcpi_query_t *q, const tcpi_packets_opts_t *opt,
                      uint8_t *buf, size_t bufsize);

/** text/html: the same lines grouped by leg (frontend, backend, other),
 *  HTTP request/status lines annotated, everything escaped. */
int tcpi_packets_html(tcpi_packets_stats_t *st, tcpi_out_t *o,
                      tcpi_query_t *q, const tcpi_packets_opts_t *opt,
                      uint8_t *buf, size_t bufsize);

/** Can this BPF expression read bytes past the fixed headers? A textual
 *  heuristic: byte indexing `proto[idx:size]` counts as harmless only
 *  with a constant index inside the first 20 bytes or a named field
 *  (tcpflags, icmptype, ...). It is NOT a safety check: mpls, vlan,
 *  pppoes and geneve shift the offsets of ip[], ip6[], host, net... so
 *  that expressions it passes read payload. What keeps redacted bytes
 *  from a filter is the query's headers-only view (tcpi_query_init_ex
 *  without TCPI_QUERY_PAYLOAD). Kept for its tests until the callers
 *  are gone; do not use it to refuse a filter. 1 if it may, 0 if not. */
int tcpi_filter_reads_payload(const char *expr);

/** Which leg a packet belongs to: TCPI_LEG_FRONT, TCPI_LEG_BACKEND or 0.
 *  The interface's legs decide; an interface serving both is split by
 *  port (a frontend port on either side means frontend). pkt: the
 *  packet's decode when it is a TCP segment (TCPI_DR_ok), else NULL. */
int tcpi_packets_leg(const tcpi_shm_t *shm, const tcpi_ring_rec_t *rec,
                     const tcpi_pkt_t *pkt, const tcpi_ports_t *front,
                     const tcpi_ports_t *backend);

#endif
