/*
 * tcpi_flowstate.h — the TCP state of each side of a flow, derived only
 * from the packets seen on the wire (RFC 9293 §3.3.2, names as netstat
 * prints them), with a short history of when each side changed state,
 * and per-side packet and byte counts.
 *
 * A side is one endpoint of the flow, numbered like the flow table's
 * directions: side d is the endpoint that sends the packets of dir d.
 * Each packet is seen by both sides at about the same moment on a tap
 * on this host: it is a "send" event for one side and a "receive" event
 * for the other. The packet is split into events in the order a TCP
 * would process them (its ACK before its FIN), each event moves a side
 * through a transition table, and only the state a side ends the packet
 * in is recorded, so a FIN/ACK that acknowledges our FIN goes
 * FIN_WAIT1 -> TIME_WAIT as on the host, not through a zero-length
 * FIN_WAIT2. A FIN whose ACK does not cover the peer's FIN, which the tap
 * saw first, was sent before that FIN arrived (a simultaneous close, RFC
 * 9293 Figure 13): its sender's CLOSE_WAIT is rewritten as FIN_WAIT1, and
 * both sides go through CLOSING.
 *
 * What a tap cannot see: LISTEN (a side is first known when it sends or
 * receives a SYN), the end of TIME_WAIT (2 MSL later, no packet), and a
 * connection whose start happened before capture began: its sides start
 * in ESTABLISHED at the first packet (midstream is set).
 *
 * The struct is plain data, zero-initialised means "no packet yet", so
 * it can live inside the flow table's entries and be copied into shared
 * memory as it is.
 */
#ifndef TCPI_FLOWSTATE_H
#define TCPI_FLOWSTATE_H

#include "tcpi/common.h"

#include <stdint.h>

#define TCPI_FS_HIST 6            /* transitions kept per side */
#define TCPI_FS_NAN  8            /* anomaly bits counted (tcpi_flow.h) */

/** A side's state as stored: 0 = not known yet, else tcpi_state_e + 1. */
typedef struct {
    uint8_t  st;                  /* current state, tcpi_state_e + 1 */
    uint8_t  nhist;               /* entries in hist[] */
    uint8_t  fin_sent;            /* fin_end is valid */
    uint8_t  pad;
    uint32_t fin_end;             /* sequence number after our FIN */
    uint32_t hist_dropped;        /* older transitions pushed out */
    uint8_t  hst[TCPI_FS_HIST];   /* states entered, oldest first (+1) */
    uint16_t pad2;
    uint64_t hts[TCPI_FS_HIST];   /* when, ns since the epoch */
    uint64_t packets, bytes;      /* sent by this side (TCP payload) */
} tcpi_fs_side_t;

typedef struct {
    tcpi_fs_side_t side[2];
    int8_t   initiator;           /* side that sent the first SYN; -1 */
    uint8_t  midstream;           /* first packet seen was not a SYN */
    uint8_t  seen;                /* any packet */
    uint8_t  tls;                 /* the TLS version a ServerHello chose:
                                     0x0300 + tls - 1; 0: none seen */
    uint32_t an[TCPI_FS_NAN];     /* packets with each analysis bit */
} tcpi_flowstate_t;

/** Forget everything (a new connection on the same tuple). */
void tcpi_flowstate_reset(tcpi_flowstate_t *fs);

/** One packet sent by side `dir` (0 or 1) with TCP flags (TCPI_TH_*),
 *  seq, ack, payload length len, analysis bits an, at ts_ns. */
void tcpi_flowstate_packet(tcpi_flowstate_t *fs, int dir, uint8_t flags,
                           uint32_t seq, uint32_t ack, uint32_t len,
                           uint16_t an, uint64_t ts_ns);

/** Current state of a side: tcpi_state_e, or -1 when not known. */
int tcpi_flowstate_state(const tcpi_flowstate_t *fs, int dir);

/** Transition i of a side, oldest first: its state (tcpi_state_e) and
 *  *ts_ns; -1 when i is out of range. */
int tcpi_flowstate_hist(uint64_t *ts_ns, const tcpi_flowstate_t *fs, int dir,
                        int i);

/* The events a packet is split into, from the side's point of view.
 * X(name, text) */
#define TCPI_FS_EVENTS(X)                                                 \
    X(snd_syn,     "sends SYN")                                            \
    X(snd_synack,  "sends SYN/ACK")                                        \
    X(snd_fin,     "sends FIN")                                            \
    X(snd_rst,     "sends RST")                                            \
    X(snd_ack,     "sends a segment with ACK")                             \
    X(rcv_syn,     "receives SYN")                                         \
    X(rcv_synack,  "receives SYN/ACK")                                     \
    X(rcv_ack,     "receives ACK")                                         \
    X(rcv_finack,  "receives the ACK of its FIN")                          \
    X(rcv_fin,     "receives FIN")                                         \
    X(rcv_rst,     "receives RST")

typedef enum {
#define TCPI_FSE_ENUM(name, text) TCPI_FSE_##name,
    TCPI_FS_EVENTS(TCPI_FSE_ENUM)
#undef TCPI_FSE_ENUM
    TCPI_FSE_COUNT
} tcpi_fs_event_e;

/** "rcv_fin" etc.; "unknown" out of range. */
const char *tcpi_fs_event_name(int ev);

/** The state a side in `state` (tcpi_state_e, or -1 for not known)
 *  moves to on event ev: a state, or `state` itself when the event does
 *  not change it. Exposed for the table's tests. */
int tcpi_flowstate_next(int state, int ev);

#endif
