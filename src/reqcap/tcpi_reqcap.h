/*
 * tcpi_reqcap.h — one request's packets: the frontend flow (client ->
 * httpd) and the backend flow (httpd -> backend) of a request record,
 * selected from the packet ring and written as one pcapng.
 *
 * Selection, per leg, over the packets whose 4-tuple is the leg's in
 * either direction (time order; "c" is the client of the leg: the browser
 * on the front, httpd on the backend; "s" its server):
 *
 *   front       candidates [start - SLACK, end + GRACE]; a connection
 *               opened for the request (conn_requests == 0) looks back
 *               LOOKBACK for its SYN, a whole connection (below) WHOLE.
 *               first: the later of the last c->s SYN at or before start
 *               (or the first one sent before it with the same ISN: the
 *               handshake of a connection opened for this request) and,
 *               on a kept-alive connection, the packet after the last
 *               s->c payload before start (the previous response).
 *               A whole connection: a TLS front whose secrets are kept
 *               (tcpi_reqcap_whole_front) starts at its SYN even when
 *               kept alive, since TLS numbers its records from the
 *               handshake on and a reader decrypts none without the
 *               ones before it; such a file also holds the requests
 *               the same client sent before on that connection. Where
 *               the ring no longer holds the connection's SYN, the
 *               packets the handshake store (tcpi_hskeep.h) kept of
 *               it, older than the ring's first, come first: those of
 *               the connection whose ClientHello carries the record's
 *               client random, from its SYN (the one whose ISN is the
 *               hello's) or else from the hello.
 *               last: before the first c->s payload or SYN after end (the
 *               client's next request) and at most end + GRACE (the
 *               trailing ACK, FIN or RST).
 *   backend     one exchange, as the join delimits it: a pooled
 *               connection serves other clients before and after, and
 *               mod_proxy hands it on once it has read the response,
 *               often well before the request is logged (a slow client).
 *               candidates [start, end + GRACE].
 *               first: httpd's first payload or SYN at or after start.
 *               last: before httpd's next payload once the backend's
 *               final response began (interim 1xx heads such as
 *               "100 Continue" do not count), before any payload after
 *               end, before a SYN of another connection on the tuple,
 *               and at most end + GRACE.
 *               Where the exchanges cannot be told apart (a request that
 *               waited for the pooled connection from before the
 *               previous one was forwarded), the first exchange after
 *               start is taken.
 *
 * Times in request records are wall-clock microseconds, packet times
 * wall-clock nanoseconds (the same clock).
 */
#ifndef TCPI_REQCAP_H
#define TCPI_REQCAP_H

#include "tcpi/decode.h"
#include "tcpi/join.h"
#include "tcpi/common.h"
#include "tcpi/store.h"
#include "tcpi/region.h"

#define TCPI_REQCAP_SLACK_US    200000ull    /* request bytes before start */
/* The SYN of a fresh connection: as far back as the join looks. */
#define TCPI_REQCAP_LOOKBACK_US (TCPI_JOIN_SYN_LOOKBACK_NS / 1000)
#define TCPI_REQCAP_GRACE_US    500000ull    /* trailing ACK/FIN after end */
/* A whole TLS connection: how far back its SYN is looked for. */
#define TCPI_REQCAP_WHOLE_US    600000000ull
#define TCPI_REQCAP_MAX_PKTS    262144u      /* per request, both legs */
/* A ring scan for one request (a long-lived one spans much of the ring)
 * stops after this many packets or ns, like the pages' scans. */
#define TCPI_REQCAP_SCAN_PKTS   2097152u
#define TCPI_REQCAP_SCAN_NS     500000000ull

/** One selected packet. */
typedef struct {
    uint64_t n;            /* ring packet number */
    uint64_t ts_ns;
    uint32_t payload_len;
    uint16_t iface;        /* index into the shared interface table */
    uint8_t  leg;          /* TCPI_LEG_FRONT or TCPI_LEG_BACKEND */
    uint8_t  to_server;    /* c->s */
    uint8_t  flags;        /* TCPI_TH_* */
    uint32_t seq;          /* as on the wire */
    uint8_t  kept;         /* n is in the handshake store, not the ring */
} tcpi_reqcap_pkt_t;

/** A growable list of packets (malloc'd; tcpi_reqcap_free). */
typedef struct {
    tcpi_reqcap_pkt_t *pkt;
    size_t   n, cap;
    int      truncated;    /* more than TCPI_REQCAP_MAX_PKTS */
    int32_t  if_linktype[TCPI_MAX_IFACES];  /* as seen; -1 unknown */
    uint64_t looked_at;    /* ring packets examined */
    int      scan_cut;     /* the ring scan hit its budget: not all there */
    uint64_t nleg[3];      /* selected per leg (index TCPI_LEG_*) */
    int      scanned;      /* tcpi_reqcap_select_join fell back to the scan */
    uint64_t kept;         /* packets taken from the handshake store */
} tcpi_reqcap_t;

/** 1 when req's front leg is selected as a whole connection: a TLS
 *  front whose secrets were kept (TCPInspectTLSKeys). */
int tcpi_reqcap_whole_front(const tcpi_req_t *req);
/** 1 when req's backend leg is its whole connection: a TLS backend
 *  connection opened for the request and closed by it, whose secrets
 *  were kept (tcpi_req_bkeys_t). The backend's "last" rule below is then
 *  only the other connection's SYN and end + GRACE. */
int tcpi_reqcap_whole_backend(const tcpi_req_t *req);
/** The leg of req a decoded packet belongs to (TCPI_LEG_FRONT,
 *  TCPI_LEG_BACKEND) with *to_server set, or 0. */
int tcpi_reqcap_classify(int *to_server, const tcpi_req_t *req,
                         const tcpi_pkt_t *pkt);

/** 1 when payload[0..len) is nothing but complete interim response
 *  heads: one or more "HTTP/1.x 1yz ..." (not 101 Switching Protocols:
 *  after it the connection is no longer HTTP) each ended by an empty
 *  line. A head cut short, or followed by anything, gives 0. */
int tcpi_reqcap_interim(const uint8_t *payload, size_t len);

/** Whether the backend's payload packet p holds only interim heads (the
 *  selection reads it from the ring: tcpi_reqcap_interim). Asked only
 *  for the backend's packets before its final response began. */
typedef int (*tcpi_reqcap_interim_fn)(void *baton, const tcpi_reqcap_pkt_t *p);

/** Trim one leg's candidates c[0..n) (time order) to the request, per
 *  the rules above: the selection is c[*lo..*hi). interim may be NULL
 *  (every backend payload is a final response). */
void tcpi_reqcap_trim(size_t *lo, size_t *hi, const tcpi_reqcap_pkt_t *c,
                      size_t n, const tcpi_req_t *req, int leg,
                      tcpi_reqcap_interim_fn interim, void *baton);

/** Select req's packets from the ring by scanning its time window: both
 *  legs, merged in time order. 0, or -1 when out of memory. */
int tcpi_reqcap_select(tcpi_reqcap_t *sel, const tcpi_shm_t *shm,
                       const tcpi_req_t *req);

/** tcpi_reqcap_select from the capture worker's flow table (tcpi_flow.h,
 *  whose events name their ring packets): the same selection, found by
 *  walking the request's two flows instead of scanning its time window.
 *  0, -1 when out of memory, or TCPI_REQCAP_INCOMPLETE (sel empty) when
 *  the table cannot be sure: its bounded pool recycled an event the walk
 *  needed, or a flow of the tuple was evicted with packets in the
 *  window. */
#define TCPI_REQCAP_INCOMPLETE 1
int tcpi_reqcap_select_flows(tcpi_reqcap_t *sel, const tcpi_flowtab_t *ft,
                             const tcpi_shm_t *shm, const tcpi_req_t *req);

/** The worker's selection: from the join's flow table when it holds the
 *  request's window (tcpi_join_covers) and is complete, else by scanning
 *  the ring (sel->scanned set). 0, or -1 when out of memory. */
int tcpi_reqcap_select_join(tcpi_reqcap_t *sel, const tcpi_join_t *j,
                            const tcpi_shm_t *shm, const tcpi_req_t *req);

/** Write the selection as pcapng: one interface block per leg and
 *  interface ("front"/"backend" in if_description, the interface's name
 *  in if_name), each packet commented "tcpinspect-id=<id> leg=<leg>".
 *  Packets overwritten in the ring since the selection are left out.
 *  Returns the packets written, or -1 when the output failed. */
long tcpi_reqcap_write(tcpi_out_t *o, const tcpi_reqcap_t *sel,
                       const tcpi_shm_t *shm, const tcpi_req_t *req,
                       uint32_t snaplen);

void tcpi_reqcap_free(tcpi_reqcap_t *sel);

/** "front", "backend" ("?" otherwise). */
const char *tcpi_reqcap_leg_name(int leg);

#endif
