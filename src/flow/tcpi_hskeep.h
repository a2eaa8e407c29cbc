/*
 * tcpi_hskeep.h — the handshake keeper: the TLS front connections'
 * handshakes, copied from the packet ring into a ring of their own (the
 * handshake store, tcpi_shm.h) as the worker's flow table sees them, so a
 * per-request capture of a request on a long-lived kept-alive connection
 * still starts at the connection's SYN and its ClientHello after the
 * packet ring has overwritten them (tcpi_reqcap.h merges the two).
 *
 * Which connections: those to a kept port (the front ports, when a host
 * has TCPInspectTLSKeys On) whose client's first bytes are a TLS
 * handshake record. Which packets, both directions, in capture order:
 *
 *   from     the client's SYN (the packets before the ClientHello are
 *            copied when it comes: the flow's events name them; a SYN
 *            sent again with the same ISN changes nothing);
 *   through  the handshake, and on until the connection first goes idle
 *            after it: the first packet more than TCPI_HSKEEP_IDLE_NS
 *            after the one before is not kept, nor anything after it. So
 *            the server's session tickets, an HTTP/2 preface and
 *            settings, or a first request answered at once are kept; a
 *            connection opened ahead of its use (a browser's preconnect,
 *            a client's pool) is kept whole up to its first request. The
 *            handshake has finished, for this, once the client sent an
 *            application_data record in TLS 1.3 (its Finished; a client
 *            certificate too) or both sides a ChangeCipherSpec in TLS 1.2
 *            and earlier; the version is the ServerHello's;
 *   or       its FIN or RST;
 *   at most  TCPI_HSKEEP_PKTS packets, TCPI_HSKEEP_BYTES bytes and
 *            TCPI_HSKEEP_NS after the SYN (a connection busy from its
 *            start, or a handshake that does not end, is kept cut there,
 *            and counted).
 *
 * Records are followed per direction by sequence number from the first
 * payload on (a record's header is found where the previous one ends,
 * whichever segment that is in); a gap, a header split between segments
 * or a segment cut by the snap length loses the thread, and only the
 * bounds end the keeping then.
 *
 * The store is a ring like the packet ring (tcpi_ring.h): one writer, the
 * worker; the oldest handshakes are overwritten first; readers check
 * every record. A handshake is worth keeping only together with every
 * record after it: TLS numbers its records, and a reader decrypts none
 * past one it lacks (README: HTTPS fronts).
 */
#ifndef TCPI_HSKEEP_H
#define TCPI_HSKEEP_H

#include "tcpi_flow.h"
#include "tcpi/common.h"
#include "tcpi/store.h"

enum {
    TCPI_HS_NONE = 0,       /* not a connection to a kept port */
    TCPI_HS_WAIT = 1,       /* its SYN seen, its first bytes not yet */
    TCPI_HS_KEEP = 2,       /* a TLS handshake: its packets are kept */
    TCPI_HS_DONE = 3,       /* kept, or not TLS: nothing more */
};

#define TCPI_HSKEEP_PKTS   48u
#define TCPI_HSKEEP_BYTES  (96u << 10)
#define TCPI_HSKEEP_NS     10000000000ull
#define TCPI_HSKEEP_IDLE_NS 1000000000ull
/* The packets before the ClientHello looked for on the flow (SYN,
 * SYN/ACK, ACK and their retransmissions). */
#define TCPI_HSKEEP_BEFORE 8u

typedef struct tcpi_hskeep tcpi_hskeep_t;

typedef struct {
    uint64_t connections;   /* handshakes kept (their ClientHello seen) */
    uint64_t complete;      /* ... until the connection went idle */
    uint64_t cut;           /* ... ended by the bounds */
    uint64_t packets;       /* packets written to the store */
    uint64_t missed;        /* packets the packet ring no longer held */
    int      active;        /* it has ports to keep and a store */
} tcpi_hskeep_stats_t;

/** A keeper writing into store, copying packets out of ring, for the
 *  connections to the ports in kept (none: it keeps nothing). NULL when
 *  out of memory. */
tcpi_hskeep_t *tcpi_hskeep_create(tcpi_ring_t *store, const tcpi_ring_t *ring,
                                  const tcpi_ports_t *kept);
void tcpi_hskeep_destroy(tcpi_hskeep_t *k);

/** Packet p (ring record rec, its captured payload[0..n)) was just added
 *  to flow f of table ft: keep it, and the ones before it, if it belongs
 *  to a handshake. */
void tcpi_hskeep_packet(tcpi_hskeep_t *k, const tcpi_flowtab_t *ft,
                        tcpi_flow_t *f, const tcpi_pkt_t *p,
                        const tcpi_ring_rec_t *rec, const uint8_t *payload,
                        size_t n);

void tcpi_hskeep_stats(tcpi_hskeep_stats_t *st, const tcpi_hskeep_t *k);

#endif
