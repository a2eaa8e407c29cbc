/*
 * tcpi_flow.h — TCP flow tracking in the capture worker: a fixed-size
 * table of flows, each with its sequence-analysis state per direction,
 * and one shared pool of packet events in which each flow's events form a
 * chain (newest first), so that the request join (tcpi_join.h) can look
 * back at both legs of a request after it ended. The pool is a ring: how
 * far back a flow can be read depends on the total packet rate, not on
 * how busy that one flow is (a kept-alive connection carrying hundreds of
 * requests a second keeps as much history as a quiet one).
 *
 * Keys are canonical (the lower address:port first), so both directions
 * of a connection share one entry; an event's `dir` says which way it
 * went (0: from key.a, 1: from key.b). Open addressing with a short probe
 * window: a new flow that finds the window full replaces the entry that
 * was idle longest, and the eviction is counted. Entries are never
 * emptied, so probing needs no tombstones.
 *
 * Per-packet analysis follows Wireshark's tcp_analyze_sequence_number, so
 * counts compare with `tshark -Y tcp.analysis.*`:
 *  - retransmission: payload, SYN or FIN whose seq is below the highest
 *    seq+len seen in that direction ("nextseq"), not a keep-alive, not
 *    out-of-order; also set on fast and spurious retransmissions, as
 *    tshark does;
 *  - fast retransmission: the reverse direction sent >= 2 duplicate ACKs
 *    for exactly this seq within the last 20 ms;
 *  - out-of-order: arrived less than the first RTT (3 ms when unknown;
 *    Wireshark's: from the most recent SYN to the first segment with ACK
 *    and without SYN) after nextseq last advanced, and does not end at
 *    nextseq;
 *  - spurious: all of it was already acknowledged by the other side;
 *  - duplicate ACK: no payload, no SYN/FIN/RST, non-zero window equal to
 *    the previous one, seq == nextseq, ack == the previous ack;
 *  - zero window: window 0 on a segment without SYN/FIN/RST;
 *  - keep-alive: at most one byte, seq == nextseq - 1, no SYN/FIN/RST.
 * Sequence numbers compare wrap-safely (tcpi_seq_lt, RFC 9293 3.4).
 */
#ifndef TCPI_FLOW_H
#define TCPI_FLOW_H

#include "tcpi/decode.h"
#include "tcpi_flowstate.h"
#include "tcpi/store.h"

#include <stddef.h>
#include <stdint.h>

#define TCPI_FLOW_PROBE   16u      /* probe window of the hash table */

/* Analysis bits of one packet (tcpi_flow_ev_t.an). X(name, bit, text) */
#define TCPI_FLOW_ANOMALIES(X)                                              \
    X(retransmission,      0, "retransmission: data sent again")           \
    X(fast_retransmission, 1, "fast retransmission after duplicate ACKs")  \
    X(spurious,            2, "spurious retransmission: already acked")    \
    X(out_of_order,        3, "out of order")                             \
    X(dup_ack,             4, "duplicate ACK")                            \
    X(zero_window,         5, "zero window: the receiver's buffer is full") \
    X(keep_alive,          6, "keep-alive probe")

enum {
#define TCPI_AN_ENUM(name, bit, text) TCPI_AN_##name = 1u << (bit),
    TCPI_FLOW_ANOMALIES(TCPI_AN_ENUM)
#undef TCPI_AN_ENUM
};
#define TCPI_AN_COUNT 7

/** "retransmission" etc. for bit number i (0..TCPI_AN_COUNT-1). */
const char *tcpi_flow_an_name(int bit);
const char *tcpi_flow_an_text(int bit);

typedef struct {
    uint8_t  family;               /* 4 or 6 */
    uint8_t  a[16], b[16];         /* a:pa < b:pb (bytewise, then port) */
    uint16_t pa, pb;
} tcpi_flow_key_t;

/** One packet of a flow's timeline (56 bytes). Links are event
 *  numbers + 1 (0: none); a linked event may have been overwritten.
 *  ring_n, iface and linktype say where the packet itself is kept, so a
 *  per-request capture (tcpi_reqcap.h) selects from the flows. */
typedef struct {
    uint64_t ts_ns;                /* capture time, ns since the epoch */
    uint64_t prev, next;           /* the flow's neighbouring events */
    uint64_t ring_n;               /* its ring packet number */
    uint32_t seq, ack;             /* as on the wire */
    uint32_t len;                  /* TCP payload per the IP length */
    uint16_t win;                  /* as sent (unscaled) */
    uint8_t  flags;                /* TCPI_TH_* */
    uint8_t  dir;                  /* 0: from key.a, 1: from key.b */
    uint16_t an;                   /* TCPI_AN_* */
    uint16_t iface;                /* ring record's interface */
    int32_t  linktype;             /* ... and link type */
} tcpi_flow_ev_t;

/** Sequence-analysis state of one direction. */
typedef struct {
    uint8_t  have_seq;             /* nextseq is valid */
    uint8_t  have_ack;
    uint8_t  have_base;
    uint8_t  syn_seen;
    uint32_t base_seq;             /* ISN (or first seq seen): relative seq */
    uint32_t nextseq;              /* highest seq + len (+1 for SYN/FIN) */
    uint64_t nextseq_ns;           /* when nextseq last advanced */
    uint32_t lastack;
    uint64_t lastack_ns;
    uint16_t win;                  /* last window sent */
    uint32_t dupacks;              /* duplicate ACKs of lastack so far */
} tcpi_flow_dir_t;

/** The handshake keeper's state of a flow (tcpi_hskeep.h). */
typedef struct {
    uint8_t  state;                /* TCPI_HS_* (0: not a kept port) */
    uint8_t  cdir;                 /* event dir of the client */
    uint8_t  pkts;                 /* packets kept so far */
    uint8_t  sync;                 /* bit d: rec_next[d] is known */
    uint8_t  ccs;                  /* bit d: d sent a ChangeCipherSpec */
    uint8_t  app_c;                /* the client's application_data records */
    uint8_t  tls;                  /* its ServerHello's version (as fs.tls) */
    uint8_t  done;                 /* the handshake has finished */
    uint32_t bytes;                /* bytes kept so far */
    uint32_t isn;                  /* the client's */
    uint32_t rec_next[2];          /* seq of d's next record header */
    uint64_t syn_ns;               /* the client's SYN */
    uint64_t last_ns;              /* the flow's previous packet */
} tcpi_flow_hs_t;

typedef struct {
    tcpi_flow_key_t key;
    uint8_t  used;
    uint64_t first_ns, last_ns;
    uint64_t syn_ns;               /* the most recent SYN (without ACK) */
    uint64_t first_rtt_ns;         /* from it to the first ACK; 0 unknown */
    tcpi_flow_dir_t d[2];
    uint64_t nev;                  /* events added to this flow */
    uint64_t last;                 /* link to its newest event */
    uint64_t hint;                 /* link to where the last read started:
                                      reads in about time order walk only
                                      the events in between */
    tcpi_flowstate_t fs;           /* per-side states and counts (/flows) */
    tcpi_flow_hs_t hs;             /* its handshake, kept apart */
} tcpi_flow_t;

/** Packet p's payload (its captured part, n bytes) on flow f: a TLS
 *  ServerHello the connection's responder sent there names its TLS
 *  version (fs.tls). */
void tcpi_flow_payload(tcpi_flow_t *f, const tcpi_pkt_t *p,
                       const uint8_t *payload, size_t n);

typedef struct {
    uint64_t packets;              /* added */
    uint64_t flows;                /* created */
    uint64_t evictions;            /* created by replacing a live flow */
    uint64_t reincarnations;       /* new SYN on a known tuple */
    uint32_t capacity;
    uint64_t pool;                 /* events the pool holds */
} tcpi_flowtab_stats_t;

typedef struct tcpi_flowtab tcpi_flowtab_t;

/** A table of nflows entries and a pool of nevents events (each rounded
 *  up to a power of two, at least 16). */
tcpi_flowtab_t *tcpi_flowtab_create(uint32_t nflows, uint64_t nevents);
void tcpi_flowtab_destroy(tcpi_flowtab_t *t);
void tcpi_flowtab_stats(tcpi_flowtab_stats_t *st, const tcpi_flowtab_t *t);

/** Canonical key for a packet from src:sport to dst:dport; *dir is the
 *  direction of that packet (0 when src is key.a). */
void tcpi_flow_key(tcpi_flow_key_t *key, int *dir, uint8_t family,
                   const uint8_t *src, uint16_t sport, const uint8_t *dst,
                   uint16_t dport);

/** Analyse and record one decoded TCP packet, the ring record rec (its
 *  time, packet number, interface and link type). Returns its flow
 *  (never NULL: a full table evicts). */
tcpi_flow_t *tcpi_flowtab_add(tcpi_flowtab_t *t, const tcpi_pkt_t *p,
                              const tcpi_ring_rec_t *rec);

/** The flow between two endpoints, or NULL. *dir_from_x is the event dir
 *  of packets sent by x. */
tcpi_flow_t *tcpi_flowtab_find(const tcpi_flowtab_t *t,
                                     const tcpi_endpoint_t *x,
                                     const tcpi_endpoint_t *y,
                                     int *dir_from_x);

/** The newest event of a flow (NULL when none is held). */
const tcpi_flow_ev_t *tcpi_flow_last(const tcpi_flowtab_t *t,
                                     const tcpi_flow_t *f);

/** The event before e in its flow: NULL at the flow's first event, or
 *  when the pool has recycled it (then *lost is set). Never a recycled
 *  event's contents. */
const tcpi_flow_ev_t *tcpi_flow_prev(const tcpi_flowtab_t *t,
                                     const tcpi_flow_ev_t *e, int *lost);

/** The newest last-packet time of an evicted flow whose key hashes like
 *  x <-> y's (0: none). When it is older than a time T, the flow x <-> y
 *  (or its absence) holds every packet of that tuple since T. */
uint64_t tcpi_flowtab_evicted_ns(const tcpi_flowtab_t *t,
                                 const tcpi_endpoint_t *x,
                                 const tcpi_endpoint_t *y);

/** Which of a flow's events to read: those in [anchor_ns, until_ns], and
 *  at most `before` older ones, none older than since_ns. With `stop`
 *  set, reading also ends (before it) at the next exchange: a segment
 *  with payload from stop_dir at or after stop_ns that follows payload
 *  from stop_dir (or stop_armed) and then payload from the other side --
 *  so a busy kept-alive connection is not read beyond the request. Not
 *  armed, payload from stop_dir before stop_ns begins a new exchange
 *  (the backend: the one begun by create_req's time is the request's). */
typedef struct {
    uint64_t until_ns;
    uint64_t anchor_ns;
    uint32_t before;
    uint64_t since_ns;
    uint8_t  stop, stop_dir, stop_armed;
    uint64_t stop_ns;
} tcpi_flow_span_t;

/** A flow's events in span, oldest first, into out[max], walking its
 *  chain back from the newest. Returns how many; *complete is 0 when the
 *  pool had overwritten events the span wanted or max was reached. */
uint64_t tcpi_flow_events(const tcpi_flow_ev_t **out, uint64_t max,
                          int *complete, const tcpi_flowtab_t *t,
                          tcpi_flow_t *f, const tcpi_flow_span_t *span);

/** Entry i of the table (0 <= i < capacity), used or not; NULL beyond. */
const tcpi_flow_t *tcpi_flowtab_slot(const tcpi_flowtab_t *t, uint32_t i);

#define TCPI_FLOW_BEFORE_MAX 256   /* span.before is capped to this */

#endif
