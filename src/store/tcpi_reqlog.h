/*
 * tcpi_reqlog.h — the recent-request log: every MPM child appends one
 * fixed-size record per proxied or inspected request at log_transaction;
 * the worker and the pages read them. Many producers in many processes:
 *
 *   +-----------------------+
 *   | header: head, counts  |  head = next record number (fetch_add)
 *   +-----------------------+
 *   | slot[TCPI_REQLOG_LEN] |  record k lives in slot k % LEN, with a
 *   |                       |  seqlock (2k+1 writing, 2k+2 complete:
 *   |                       |  tcpi_seqlock.h's generation form) and a
 *   |                       |  try-lock (the owner's pid) held for the
 *   |                       |  copy only
 *   +-----------------------+
 *
 * A producer never waits: when the slot it claimed is still being written
 * by a producer that was lapped (TCPI_REQLOG_LEN records ago), the new
 * record is dropped and counted.
 *
 * The capture worker reads it through one tcpi_reqlog_reader_t (below):
 * the join and the triggered captures take their records from it.
 */
#ifndef TCPI_REQLOG_H
#define TCPI_REQLOG_H

#include "tcpi/common.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Power of two. Also how far the capture worker may fall behind before
 * it misses records: about 1 s at 16k requests/s. */
#define TCPI_REQLOG_LEN 16384u
#define TCPI_REQ_ID_MAX 40
#define TCPI_REQ_URI_MAX 256
#define TCPI_REQ_METHOD_MAX 16

/** An endpoint: family (4 or 6, 0 = none), address bytes, port. */
typedef struct {
    uint8_t  family;
    uint8_t  addr[16];
    uint16_t port;
} tcpi_endpoint_t;

/* Where the backend tuple came from. */
enum { TCPI_BACKEND_SRC_NONE = 0, TCPI_BACKEND_SRC_CREATE_REQ = 1,
       TCPI_BACKEND_SRC_NOTE = 2 };

/* A TLS front connection as mod_ssl saw it (all zero for plain HTTP).
 * The client random identifies the connection (as a key log line does);
 * the secrets are kept only under TCPInspectTLSKeys On, for the pcapng
 * downloads' Decryption Secrets Block, and never shown. */
#define TCPI_TLS_PROTOCOL_MAX 12
#define TCPI_TLS_CIPHER_MAX   48
#define TCPI_TLS_SNI_MAX      128     /* cut to fit */
#define TCPI_TLS_ALPN_MAX     16
typedef struct {
    uint8_t  on;                         /* the front connection is TLS */
    uint8_t  resumed;                    /* an abbreviated handshake */
    uint8_t  has_random;
    uint8_t  nkeys;                      /* secrets kept */
    char     protocol[TCPI_TLS_PROTOCOL_MAX];   /* "TLSv1.3" */
    char     cipher[TCPI_TLS_CIPHER_MAX];
    char     sni[TCPI_TLS_SNI_MAX];      /* "": none sent */
    char     alpn[TCPI_TLS_ALPN_MAX];    /* "": none agreed */
    uint8_t  client_random[TCPI_TLS_RANDOM_LEN];
    /* Where this request's TLS records are in the connection's byte
     * streams, counted by the glue right above the socket (below
     * mod_ssl): offsets from each direction's first byte after its SYN,
     * for the join to find the segments on the wire. */
    uint8_t  wire;                       /* the offsets below are set */
    uint8_t  keys_dropped;               /* the connection logged more secrets
                                            than TCPI_TLS_KEYS_MAX */
    uint8_t  keys_refused;               /* the connection served a host with
                                            TCPInspectTLSKeys Off: no secrets
                                            of it go anywhere from then on */
    uint8_t  pad[5];
    uint64_t hs_in;                      /* client's bytes through its last
                                            handshake flight (0: not seen) */
    uint64_t in_start, in_end;           /* the request's records */
    uint64_t out_start, out_end;         /* the response's records */
    tcpi_tls_key_t keys[TCPI_TLS_KEYS_MAX];
} tcpi_req_tls_t;

/* The secrets of mod_proxy's TLS connection to the backend (SSLProxyEngine)
 * under TCPInspectTLSKeys On: only for a connection opened for this
 * request and closed by it, before it was logged (so it carried nothing
 * else). */
typedef struct {
    uint8_t  nkeys;                      /* 0: none kept */
    uint8_t  keys_dropped;               /* more secrets than TCPI_TLS_KEYS_MAX */
    uint8_t  pad[6];
    uint8_t  client_random[TCPI_TLS_RANDOM_LEN];
    tcpi_tls_key_t keys[TCPI_TLS_KEYS_MAX];
} tcpi_req_bkeys_t;

typedef struct {
    char     id[TCPI_REQ_ID_MAX];
    char     method[TCPI_REQ_METHOD_MAX];
    char     uri[TCPI_REQ_URI_MAX];      /* cut to fit, NUL-terminated */
    tcpi_endpoint_t front_client, front_server;
    tcpi_endpoint_t backend_local, backend_remote;
    uint8_t  has_backend;
    uint8_t  backend_reused;
    uint8_t  capture;                    /* a TCPInspectCapture rule matched */
    uint8_t  backend_src;                /* TCPI_BACKEND_SRC_* */
    uint16_t status;
    uint8_t  http2;                      /* a stream of an HTTP/2 connection
                                            (h2 or h2c): its front packets
                                            carry other streams too */
    uint8_t  backend_tls;                /* mod_proxy spoke TLS to the backend
                                            (SSLProxyEngine) */
    int32_t  pid;                        /* the child that served it */
    uint64_t start_us;                   /* wall clock, request start */
    uint64_t end_us;                     /* wall clock, log time */
    uint64_t backend_at_us;              /* wall clock, mod_proxy's create_req
                                            for it (the request sent, its
                                            response not yet read; 0: not
                                            seen) */
    uint64_t bytes_sent;
    uint64_t conn_id;                    /* frontend connection id */
    uint32_t keepalives;                 /* httpd's c->keepalives at log time */
    uint32_t conn_requests;              /* requests read on the frontend
                                            connection before this one
                                            (0: it opened for this one) */
    tcpi_req_tls_t tls;
    tcpi_req_bkeys_t backend_keys;
} tcpi_req_t;

typedef struct tcpi_reqlog tcpi_reqlog_t;

/** Wipe a copy's secrets (the front's and a backend connection's). */
void tcpi_req_wipe_secrets(tcpi_req_t *r);
/** Wipe a copy's secret bytes, keeping what says they were kept (the
 *  counts, the client randoms): for a copy that only shows them. */
void tcpi_req_strip_secrets(tcpi_req_t *r);

/** Where a request's backend exchange may begin, in ns (create_req's
 *  time rounded up): on a pooled connection, the last exchange on its
 *  tuple begun by then is this request's; 0 where that time is unknown
 *  or the connection was opened for the request (it carried nothing
 *  before). */
uint64_t tcpi_req_backend_at_ns(const tcpi_req_t *r);

size_t tcpi_reqlog_size(void);
tcpi_reqlog_t *tcpi_reqlog_init(void *mem);
/** Append a copy of rec; 0, or -1 when dropped (counted). */
int tcpi_reqlog_put(tcpi_reqlog_t *log, const tcpi_req_t *rec);
/** Record number that the next put gets (so [head-LEN, head) may exist). */
uint64_t tcpi_reqlog_head(const tcpi_reqlog_t *log);
/** Copy record k: 0; -1 when not yet complete (or never written);
 *  TCPI_REQLOG_GONE when a later record took its slot; TCPI_REQLOG_CORRUPT
 *  when complete but not a record a child's log_transaction writes (a
 *  corrupt or forged slot: see tcpi_req_check). Every MPM child can write
 *  the log, so its readers (the worker above all) take only what this
 *  returns 0 for. */
int tcpi_reqlog_get(tcpi_req_t *out, const tcpi_reqlog_t *log, uint64_t k);
#define TCPI_REQLOG_CORRUPT (-2)
/* Record k was overwritten by a later record of its slot (or while it
 * was copied): gone for good, not worth waiting for. */
#define TCPI_REQLOG_GONE (-3)

/** 1 when rec could have been written by the glue: strings terminated,
 *  a valid id, endpoint families 0/4/6, flags 0/1, start <= end, TLS
 *  facts only on a TLS connection, each secret of a kept label. */
int tcpi_req_check(const tcpi_req_t *rec);

/** A request id: 1 to TCPI_REQ_ID_MAX - 1 bytes of [A-Za-z0-9@_-] (so it
 *  is safe in a file name, a URL path and a log line). */
int tcpi_req_id_valid(const char *id, size_t len);
uint64_t tcpi_reqlog_dropped(const tcpi_reqlog_t *log);

/** Format an endpoint as "ip:port" ("[v6]:port"); "" when family is 0. */
size_t tcpi_endpoint_format(char *buf, size_t len, const tcpi_endpoint_t *ep);

/* ---- the reader --------------------------------------------------------
 *
 * Follows the log from a cursor, copies each record into a FIFO and hands
 * it out once its grace period after the log time has passed. The log is
 * untrusted input (every MPM child writes it), so the reader
 *   - takes only what tcpi_reqlog_get returns 0 for (tcpi_req_check and
 *     the slot's residue), and passes over a record that ends more than
 *     TCPI_REQLOG_FUTURE_US ahead (it would hold back every one behind
 *     it): records_corrupt;
 *   - resyncs when the head counter went back (or wrapped: only a write
 *     into the log does that) by reading the log's last LEN slots again:
 *     records_corrupt once;
 *   - waits at most TCPI_REQLOG_STUCK_NS for a record still being written
 *     (a producer killed mid-copy never completes it), then passes it and
 *     the incomplete ones claimed before that wait began; one claimed
 *     since gets a wait of its own: records_skipped;
 *   - counts what the producers overwrote before it was read (never
 *     waiting for it): records_missed.
 * Every call is bounded; nothing blocks. The first tcpi_reqlog_reader_fill
 * takes the start position (the worker creates its reader as root, and
 * reads nothing a child can write until it is confined). */

#define TCPI_REQLOG_FUTURE_US 60000000ull   /* a record may end this far ahead */
#define TCPI_REQLOG_STUCK_NS  1000000000ull /* an incomplete record, waited for */

typedef struct tcpi_reqlog_reader tcpi_reqlog_reader_t;

typedef struct {
    uint64_t grace_ns;     /* hand a record out this long after its end_us */
    uint64_t catchup_ns;   /* the first fill also takes the records that
                              ended up to this long before now (a restarted
                              worker's due captures); 0: from the head */
    uint32_t capacity;     /* records held while waiting (0: LEN) */
} tcpi_reqlog_reader_conf_t;

typedef struct {
    uint64_t missed;       /* overwritten in the log before they were read */
    uint64_t skipped;      /* never completed by their producer */
    uint64_t corrupt;      /* not records the glue writes: passed over */
    uint64_t pending;      /* records waiting for their grace */
    uint64_t lag_ms;       /* the oldest waiting record's age */
} tcpi_reqlog_reader_stats_t;

/** A reader of log (NULL when out of memory). Reads nothing yet. */
tcpi_reqlog_reader_t *tcpi_reqlog_reader_create(const tcpi_reqlog_t *log,
                                                const tcpi_reqlog_reader_conf_t *conf);
void tcpi_reqlog_reader_destroy(tcpi_reqlog_reader_t *rd);
/** Copy the records logged since the last call into the FIFO, at
 *  wall-clock time now_ns (as many as it has room for). */
void tcpi_reqlog_reader_fill(tcpi_reqlog_reader_t *rd, uint64_t now_ns);
/** The oldest waiting record when its grace has passed at now_ns and the
 *  consumer holds the packets up to then (seen_ns: the newest packet time
 *  it holds, UINT64_MAX: all there are); its record number in *k. NULL
 *  otherwise. Valid until tcpi_reqlog_reader_pop or _fill. */
const tcpi_req_t *tcpi_reqlog_reader_next(uint64_t *k,
                                          const tcpi_reqlog_reader_t *rd,
                                          uint64_t now_ns, uint64_t seen_ns);
/** Drop the record tcpi_reqlog_reader_next returned. */
void tcpi_reqlog_reader_pop(tcpi_reqlog_reader_t *rd);
void tcpi_reqlog_reader_stats(tcpi_reqlog_reader_stats_t *st,
                              const tcpi_reqlog_reader_t *rd, uint64_t now_ns);

#endif
