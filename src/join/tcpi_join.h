/*
 * tcpi_join.h — joining each logged request to the packets of its two
 * flows, in the capture worker, and the shared table of the results.
 *
 * Once per loop the worker calls tcpi_join_run: it decodes the packets
 * the ring gained since the last call into the flow table
 * (tcpi_flow.h), reads the request log through the worker's one reader
 * (tcpi_reqlog_reader_t, which checks every record and counts what it
 * passes over), and, once the reader hands a record out a grace period
 * after it was logged (so trailing ACKs and FINs are captured), joins it
 * to its frontend flow (front.client <-> front.server) and backend flow
 * (backend.local <-> backend.remote) within the request's time window,
 * then hands the same record on with its summary (on_joined: the
 * triggered captures, the JSON request log). The summary goes to a
 * bounded table in shared memory:
 *
 *   +---------------------------+
 *   | tcpi_sumtab header        |  magic, sizes, counters, histograms
 *   +---------------------------+
 *   | slot[TCPI_SUMTAB_LEN]     |  the summary of request-log record k
 *   |                           |  lives in slot k % LEN under a seqlock
 *   +---------------------------+  (generation k, tcpi_seqlock.h)
 *
 * One writer (the worker), any number of readers that copy a slot and
 * check the seqlock. Every bound drops and counts: packets the ring
 * overwrote before the join read them, records the log overwrote, flows
 * evicted from the table. The worker never waits.
 */
#ifndef TCPI_JOIN_H
#define TCPI_JOIN_H

#include "tcpi/decode.h"
#include "tcpi/flow.h"
#include "tcpi/store.h"

#include <stdatomic.h>

/* Wire time points of a request. X(name, text) */
#define TCPI_JOIN_POINTS(X)                                                 \
    X(front_syn,      "client's SYN")                                       \
    X(front_synack,   "httpd's SYN/ACK")                                    \
    X(front_ack,      "client's ACK: frontend connection established")      \
    X(tls_hello,      "client's ClientHello")                               \
    X(tls_done,       "client's last TLS handshake flight")                 \
    X(req_first,      "first request byte from the client")                 \
    X(req_last,       "request fully received")                             \
    X(be_prev,        "previous use of the pooled backend connection")      \
    X(be_syn,         "httpd's SYN to the backend")                         \
    X(be_synack,      "backend's SYN/ACK: backend connected")               \
    X(fwd_first,      "request forwarded: first byte to the backend")       \
    X(fwd_last,       "request forwarded: last byte to the backend")        \
    X(be_first,       "backend's first response byte")                      \
    X(be_last,        "backend's last response byte")                       \
    X(resp_first,     "first response byte to the client")                  \
    X(resp_last,      "last response byte to the client")                   \
    X(client_ack,     "client's ACK of the last response byte")

typedef enum {
#define TCPI_JP_ENUM(name, text) TCPI_JP_##name,
    TCPI_JOIN_POINTS(TCPI_JP_ENUM)
#undef TCPI_JP_ENUM
    TCPI_JP_COUNT
} tcpi_join_point_e;

/* Phases: durations between two points. X(name, from, to, text) */
#define TCPI_JOIN_PHASES(X)                                                 \
    X(front_handshake,   front_syn,  front_ack,  "frontend TCP handshake")  \
    X(tls_handshake,     tls_hello,  tls_done,   "TLS handshake")           \
    X(request_receive,   req_first,  req_last,   "receiving the request")   \
    X(backend_connect,   be_syn,     be_synack,  "backend connect")         \
    X(backend_idle,      be_prev,    fwd_first,  "pooled connection idle")  \
    X(proxy_forward,     req_last,   fwd_first,  "httpd before forwarding") \
    X(backend_ttfb,      fwd_last,   be_first,   "backend time to first byte") \
    X(backend_transfer,  be_first,   be_last,    "backend response transfer") \
    X(proxy_return,      be_first,   resp_first, "httpd before answering")  \
    X(response_transfer, resp_first, resp_last,  "response to the client")  \
    X(client_ack,        resp_last,  client_ack, "client's final ACK")

typedef enum {
#define TCPI_PH_ENUM(name, from, to, text) TCPI_PH_##name,
    TCPI_JOIN_PHASES(TCPI_PH_ENUM)
#undef TCPI_PH_ENUM
    TCPI_PH_COUNT
} tcpi_join_phase_e;

const char *tcpi_join_point_name(int p);
const char *tcpi_join_point_text(int p);
const char *tcpi_join_phase_name(int ph);
const char *tcpi_join_phase_text(int ph);
/** The time point a phase starts at. */
int tcpi_join_phase_from(int ph);
/** The time point a phase ends at. */
int tcpi_join_phase_to(int ph);
/** 1 for a point an HTTP/2 stream cannot have on its own: its front
 *  connection carries every stream's bytes, so the first request byte,
 *  the response's bytes and the client's ACKs there may be another
 *  stream's. Left unset (so those phases are null, for the reason
 *  "shared_connection") rather than give another stream's figure. */
int tcpi_join_shared_point(int p);
/** 1 for a phase that starts or ends at such a point. */
int tcpi_join_phase_shared(int ph);
/** 1 for a point of the backend exchange (forwarded, answered): on a
 *  new TLS connection to the backend the handshake's records come first
 *  and the wire cannot tell them from the request's and the response's
 *  (no counts of its records there), so they are left unset. */
int tcpi_join_exchange_point(int p);
/** Duration of a phase in ns, or -1 when either point was not seen. */
int64_t tcpi_join_phase_ns(const uint64_t t[TCPI_JP_COUNT], int ph);

enum { TCPI_JLEG_FRONT = 0, TCPI_JLEG_BACKEND = 1, TCPI_JLEGS = 2 };
/* Who sent a packet: the connection's initiator (the client on the
 * frontend, httpd on the backend) or its responder (httpd, Jetty). */
enum { TCPI_JDIR_INIT = 0, TCPI_JDIR_RESP = 1 };
enum { TCPI_JBY_NONE = 0, TCPI_JBY_INIT = 1, TCPI_JBY_RESP = 2 };

typedef struct {
    uint8_t  found;                /* the flow was in the table */
    uint8_t  partial;              /* the window began before the oldest
                                      event still held */
    uint8_t  rst_by, fin_by;       /* TCPI_JBY_* bits */
    uint32_t packets[2];           /* per TCPI_JDIR_* */
    uint64_t bytes[2];             /* TCP payload bytes */
    uint32_t an[TCPI_AN_COUNT];    /* packets with each analysis bit */
} tcpi_legsum_t;

#define TCPI_SUM_PKTS 48           /* packets kept: the first 32, last 16 */
#define TCPI_SUM_HEAD 32

/** One packet of the interleaved list. */
typedef struct {
    uint64_t ts_ns;
    uint32_t seq, ack;             /* relative to each direction's ISN */
    uint32_t len;
    uint16_t win;
    uint8_t  flags;
    uint8_t  leg_dir;              /* leg << 1 | dir */
    uint16_t an;
    uint16_t pad;
    uint32_t pad2;
} tcpi_sumpkt_t;

typedef struct {
    uint64_t k;                    /* request-log record number */
    char     id[TCPI_REQ_ID_MAX];
    uint64_t t0_ns;                /* request start (r->request_time) */
    uint64_t end_ns;               /* log time */
    uint64_t t[TCPI_JP_COUNT];     /* wall ns; 0: not seen */
    uint8_t  front_opened;         /* the handshake is in this request */
    uint8_t  backend_opened;       /* a new backend connection */
    uint8_t  pool_race;            /* backend closed a reused connection
                                      as the request was sent */
    uint8_t  npkt;                 /* entries in pkt[] */
    uint8_t  has_backend;          /* the record names a backend flow */
    uint8_t  shared_front;         /* an HTTP/2 stream: the front's request
                                      and response points are not its own
                                      (tcpi_join_shared_point) */
    uint8_t  tls_backend_opened;   /* a new TLS connection to the backend:
                                      its handshake's records are bytes
                                      too, the exchange points are unset
                                      (tcpi_join_null_reason) */
    uint32_t npkt_total;           /* packets in both windows */
    tcpi_legsum_t leg[TCPI_JLEGS];
    tcpi_sumpkt_t pkt[TCPI_SUM_PKTS];
} tcpi_reqsum_t;

/* ---- the pure join (unit-tested on hand-built flows) ------------------ */

#define TCPI_JOIN_LOOKBACK_NS 2000000000ull   /* request bytes before start */
/* A new connection's first SYN may be this far before its first request
 * (SYNs sent again after 1, 3, 7 s; a browser's preconnect). */
#define TCPI_JOIN_SYN_LOOKBACK_NS 30000000000ull

/** Join one request record against the flow table; out is filled (also
 *  when neither flow is found: then leg[].found is 0). */
void tcpi_join_request(tcpi_reqsum_t *out, const tcpi_flowtab_t *ft,
                       const tcpi_req_t *rec, uint64_t k);

/* ---- the shared summary table ---------------------------------------- */

#define TCPI_SUMTAB_LEN 4096u      /* the newest summaries kept */

/* Histogram bucket bounds in ms (le); +Inf is the last bucket. */
#define TCPI_JOIN_BUCKETS_MS { 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, \
                               250, 500, 1000, 2500, 5000, 10000 }
#define TCPI_JOIN_NBUCKETS 17      /* 16 bounds + +Inf */

typedef struct {
    _Atomic uint64_t bucket[TCPI_JOIN_NBUCKETS];   /* not cumulative */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_ns;
} tcpi_join_hist_t;

typedef struct tcpi_sumtab tcpi_sumtab_t;

/** Counters of the join, for the pages. */
typedef struct {
    uint64_t joined;               /* summaries written */
    uint64_t front_found;          /* of them, with the frontend flow */
    uint64_t backend_expected;     /* with a backend tuple */
    uint64_t backend_found;        /* and its flow found */
    uint64_t pool_race;            /* with the pooled-connection race */
    uint64_t records_missed;       /* overwritten in the log before read */
    uint64_t records_skipped;      /* never completed by their producer */
    uint64_t records_corrupt;      /* not records the glue writes: passed over */
    uint64_t packets;              /* decoded into the flow table */
    uint64_t packets_lost;         /* overwritten in the ring before read */
    uint64_t not_tcp;              /* frames the decoder rejected */
    uint64_t dup_skipped;          /* lo's outgoing copies on "any" */
    uint64_t flows, evictions;
    uint64_t pending;              /* records waiting for their grace */
    uint64_t lag_ms;               /* oldest pending record's age */
} tcpi_join_stats_t;

size_t tcpi_sumtab_size(void);
tcpi_sumtab_t *tcpi_sumtab_init(void *mem);
/** Store the summary of record s->k (the worker only). */
void tcpi_sumtab_put(tcpi_sumtab_t *t, const tcpi_reqsum_t *s);
/** Copy the summary of record k: 0, or -1 when absent or torn. */
int tcpi_sumtab_get(tcpi_reqsum_t *out, const tcpi_sumtab_t *t, uint64_t k);
/** The same, and only when it is the summary of the request with this id
 *  (record numbers can repeat after a child rewound the log's counter). */
int tcpi_sumtab_get_for(tcpi_reqsum_t *out, const tcpi_sumtab_t *t,
                        uint64_t k, const char *id);
void tcpi_sumtab_stats(tcpi_join_stats_t *st, const tcpi_sumtab_t *t);
/** Copy one phase's histogram (count, sum, non-cumulative buckets). */
void tcpi_sumtab_hist(uint64_t bucket[TCPI_JOIN_NBUCKETS], uint64_t *count,
                      uint64_t *sum_ns, const tcpi_sumtab_t *t, int phase);
/** The bucket bounds in ms (TCPI_JOIN_NBUCKETS - 1 of them). */
const double *tcpi_join_bucket_ms(void);

/* ---- the worker's side ----------------------------------------------- */

typedef struct tcpi_join tcpi_join_t;

/** A record the join has joined, handed on at wall-clock time now_ns
 *  with its summary, as stored in the table (it passed every check of
 *  the reader; both valid during the call only). */
typedef void tcpi_join_joined_fn(void *baton, const tcpi_req_t *rec,
                                 const tcpi_reqsum_t *sum, uint64_t k,
                                 uint64_t now_ns);

typedef struct {
    tcpi_ring_t   *ring;
    tcpi_reqlog_t *log;            /* read through a reader of the join's
                                      own (NULL: no records) */
    tcpi_sumtab_t *sums;
    uint32_t       nflows;         /* flow table entries */
    uint32_t       nevents;        /* packet events the flows share */
    uint64_t       grace_ns;       /* wait after a request's log time
                                      (0: 500 ms; at least 350 ms) */
    uint32_t       budget;         /* packets per call at most */
    tcpi_dcount_t *dcount;         /* decode results per ring interface
                                      index (may be NULL) */
    uint32_t       ndcount;        /* entries in dcount */
    uint64_t       catchup_ns;     /* the first run also takes the records
                                      that ended this long before it (0:
                                      those logged from then on) */
    tcpi_join_joined_fn *on_joined; /* may be NULL */
    void          *baton;
    tcpi_ring_t   *hs_store;       /* the handshake store (tcpi_hskeep.h),
                                      or NULL */
    tcpi_ports_t   hs_ports;       /* the ports whose handshakes it keeps */
} tcpi_join_conf_t;

tcpi_join_t *tcpi_join_create(const tcpi_join_conf_t *conf);
/** The handshake keeper's counters (tcpi_hskeep.h). */
void tcpi_join_hskeep_stats(tcpi_hskeep_stats_t *st, const tcpi_join_t *j);
void tcpi_join_destroy(tcpi_join_t *j);
/** One bounded, non-blocking step at wall-clock time now_ns: new ring
 *  packets into the flow table, new log records into the reader's queue,
 *  ripe records joined, stored and handed to on_joined. The first run
 *  takes the reader's start position (the worker runs it confined).
 *  Returns the number joined. */
int tcpi_join_run(tcpi_join_t *j, uint64_t now_ns);
/** The join's reader of the request log (NULL without a log): its
 *  counters are the worker's only count of records missed, skipped and
 *  corrupt. */
const tcpi_reqlog_reader_t *tcpi_join_reader(const tcpi_join_t *j);
/** Decode one captured frame into the flow table (what run does for each
 *  ring packet, here for a frame in no ring); 0, or -1 when it was not
 *  TCP or skipped. */
int tcpi_join_packet(tcpi_join_t *j, int32_t linktype, const uint8_t *data,
                     uint32_t caplen, uint32_t wirelen, uint64_t ts_ns);
/** 1 when the flow table holds every ring packet a selection up to ts_ns
 *  needs: the ring is drained, or a later packet was already added. */
int tcpi_join_covers(const tcpi_join_t *j, uint64_t ts_ns);
/** The worker's flow table (tests). */
const tcpi_flowtab_t *tcpi_join_flows(const tcpi_join_t *j);

#endif
