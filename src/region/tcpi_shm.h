/*
 * tcpi_shm.h — the region shared by the httpd parent, the capture worker
 * and every MPM child, one per configuration generation. It is made of
 * two mappings split by who writes them (tcpi_shmmap.h), laid out so that
 * every offset below is relative to the region's start in every process:
 *
 *   +---------------------------+ 0            written by the parent
 *   | tcpi_shm_t                |  magic,      (before forking) and the
 *   |   iface[TCPI_MAX_IFACES]  |  offsets,    worker; read-only in the
 *   +---------------------------+ hist_off     MPM children, in a way they
 *   | tcpi_hist_sample_t        |  one state-  cannot undo
 *   |   [hist_len]              |  count sample a second, k in k % hist_len
 *   +---------------------------+ sumtab_off
 *   | request summaries         |  the worker's join of each record to
 *   |   (tcpi_join.h)           |  its two flows, seqlocked slots
 *   +---------------------------+ flowpub_off
 *   | published flows           |  the most recently active flows,
 *   |   (tcpi_flowpub.h)        |  seqlocked slots, once a second
 *   +---------------------------+ ring_off
 *   | packet ring (tcpi_ring.h) |  ring_size bytes
 *   +---------------------------+ hs_off
 *   | handshake store           |  a second ring (hs_size bytes, an
 *   |   (tcpi_ring.h)           |  eighth of ring_size): the TLS front
 *   |                           |  connections' handshakes (tcpi_hskeep.h)
 *   +---------------------------+ reqlog_off (page-aligned)
 *   | request log               |  written by every MPM child: the only
 *   |   (tcpi_reqlog.h)         |  part they can write; the worker reads
 *   +---------------------------+ size         it as untrusted input
 *
 * The parent never reads any of it. The worker takes its plan (interfaces,
 * filters, sizes) from the parent's private memory, copied at fork, and
 * checks this header against that plan before it uses an offset
 * (tcpi_shm_check). Readers copy what they need; strings are copied and
 * re-terminated, samples are seqlocked.
 */
#ifndef TCPI_SHM_H
#define TCPI_SHM_H

#include "tcpi/common.h"
#include "tcpi/store.h"
#include "tcpi/join.h"
#include "tcpi/decode.h"
#include "tcpi/flow.h"

#include <stdatomic.h>

#define TCPI_MAX_IFACES 8

/* worker_sandbox bits: what the worker runs under. */
#define TCPI_SANDBOXED_NO_NEW_PRIVS 1u
#define TCPI_SANDBOXED_SECCOMP      2u   /* a seccomp filter (mode 2) */
#define TCPI_SANDBOXED_NO_CAPS      4u   /* CapEff and CapPrm empty */
#define TCPI_SANDBOXED_NOT_DUMPABLE 8u
#define TCPI_HIST_LEN   3600        /* one hour at one sample a second */
#define TCPI_FILTER_MAX 1024

enum { TCPI_LEG_FRONT = 1, TCPI_LEG_BACKEND = 2 };
enum { TCPI_IF_PENDING = 0, TCPI_IF_OK = 1, TCPI_IF_ERROR = 2 };

typedef struct {
    char     name[TCPI_IFNAMSIZ];
    char     filter[TCPI_FILTER_MAX];  /* BPF text applied to the handle */
    uint32_t legs;                      /* TCPI_LEG_* bits */
    _Atomic int32_t  linktype;          /* -1 until the handle is active */
    _Atomic uint32_t status;            /* TCPI_IF_* */
    char     error[256];
    _Atomic uint64_t received;          /* pcap_stats ps_recv */
    _Atomic uint64_t dropped;           /* pcap_stats ps_drop */
    _Atomic uint64_t if_dropped;        /* pcap_stats ps_ifdrop */
    _Atomic uint64_t packets;           /* written to the ring */
    _Atomic uint64_t bytes;
} tcpi_shm_iface_t;

typedef struct {
    _Atomic uint64_t seq;               /* seqlock, generation k */
    uint64_t time_s;                    /* wall clock, seconds */
    uint32_t count[TCPI_NSCOPES][TCPI_NSTATES];
} tcpi_hist_sample_t;

/* Triggered per-request captures (tcpi_trigger.h): the parent writes the
 * configuration before forking; afterwards only the worker writes. */
#define TCPI_PATH_MAX 512
typedef struct {
    char     dir[TCPI_PATH_MAX];        /* "": no files, the ring only */
    uint64_t max_files;
    uint64_t max_bytes;
    uint32_t snaplen;
    _Atomic uint32_t error;             /* 1 while the last attempt failed */
    _Atomic uint64_t files;             /* kept in dir */
    _Atomic uint64_t bytes;
    _Atomic uint64_t matched;           /* records whose rule matched */
    _Atomic uint64_t written;           /* files written */
    _Atomic uint64_t failed;            /* could not be written */
    _Atomic uint64_t skipped;           /* worker busy, packets gone */
    _Atomic uint64_t removed;           /* oldest removed for the limit */
    _Atomic uint64_t records_missed;    /* request records not read in time */
    _Atomic uint64_t scanned;           /* selected by scanning the ring: the
                                           join's flows no longer covered it */
    _Atomic uint64_t last_error_ns;     /* wall clock */
    _Atomic uint64_t error_seq;         /* seqlock over last_error (plain
                                           form, tcpi_seqlock.h) */
    char     last_error[256];
} tcpi_shm_trigger_t;

/* The JSON request log (TCPInspectRequestLog): what it is, written by
 * the parent before forking; its counters, by the worker only. */
enum { TCPI_JSONLOG_NONE = 0, TCPI_JSONLOG_FILE = 1, TCPI_JSONLOG_PIPE = 2 };
typedef struct {
    uint32_t kind;                      /* TCPI_JSONLOG_* */
    uint32_t pad;
    tcpi_linelog_stats_t st;            /* tcpi_linelog.h */
} tcpi_shm_jsonlog_t;

/* The handshake keeper's counters (tcpi_hskeep.h), by the worker only;
 * `kept` is 1 when it keeps any port's handshakes. */
typedef struct {
    _Atomic uint32_t kept;
    _Atomic uint64_t connections, complete, cut, packets, missed;
} tcpi_shm_hskeep_t;

typedef struct {
    uint32_t magic;
    uint32_t version;
    uint64_t size;
    uint64_t hist_off;
    uint64_t reqlog_off;
    uint64_t sumtab_off;
    uint64_t ring_off;
    uint64_t ring_size;
    uint64_t hs_off;
    uint64_t hs_size;
    uint32_t hist_len;
    uint32_t niface;
    uint32_t generation;
    uint32_t pad;
    _Atomic int32_t  worker_pid;        /* 0 when none runs */
    _Atomic uint32_t worker_uid;
    _Atomic uint32_t worker_sandbox;    /* TCPI_SANDBOXED_* the worker saw in
                                           its own /proc status once in */
    _Atomic uint64_t worker_started_ns; /* CLOCK_MONOTONIC */
    _Atomic uint64_t heartbeat_ns;      /* CLOCK_MONOTONIC */
    _Atomic uint32_t restarts;
    _Atomic uint32_t startup_failures;
    _Atomic int32_t  last_exit;         /* last worker exit code / -signal */
    _Atomic uint64_t hist_count;        /* samples written */
    _Atomic uint64_t sample_errors;
    tcpi_shm_iface_t iface[TCPI_MAX_IFACES];
    tcpi_shm_trigger_t trigger;
    uint64_t flowpub_off;
    tcpi_dcount_t decode[TCPI_MAX_IFACES]; /* decode results per iface */
    /* The worker's checks of the event-kept state counts against a dump
     * (tcpi_sockdiag_check_ev): after 3 disagreements in a row the counts
     * are not trusted again this generation (ev_drift = 1). */
    _Atomic uint64_t ev_checks;
    _Atomic uint64_t ev_agreed;
    _Atomic uint64_t ev_disagreed;
    _Atomic uint32_t ev_drift;
    char             ev_diff[160];      /* the last disagreement */
    tcpi_shm_jsonlog_t json_log;
    tcpi_shm_hskeep_t hskeep;
} tcpi_shm_t;

/* Mappings are split at page boundaries (4 KiB, or a multiple of it). */
#define TCPI_SHM_PAGE 65536u

/** Where each part lives for a ring of ring_size bytes. */
typedef struct {
    uint64_t hist_off, sumtab_off, flowpub_off, ring_off;
    uint64_t hs_off, hs_size;    /* the handshake store */
    uint64_t reqlog_off;         /* page-aligned: the child-writable part */
    uint64_t size;               /* page-aligned */
} tcpi_shm_layout_t;
void tcpi_shm_layout(tcpi_shm_layout_t *l, uint64_t ring_size);

/** Bytes needed for a region holding a ring of ring_size bytes. */
size_t tcpi_shm_size(uint64_t ring_size);
/** The worker's check, before it uses any offset: the header and the
 *  ring's header are exactly what tcpi_shm_init writes for ring_size.
 *  0, or -1 with the reason in err. */
int tcpi_shm_check(const tcpi_shm_t *shm, uint64_t ring_size, char *err,
                   size_t errlen);
/** Format a zeroed region of tcpi_shm_size(ring_size) bytes. */
tcpi_shm_t *tcpi_shm_init(void *mem, uint64_t ring_size, uint32_t generation);
/** Trust the region at base (another view of one this process formatted,
 *  e.g. the read-only view) as holding a ring of ring_size bytes: the
 *  accessors below then place every part by that layout, never by the
 *  offsets in the header. tcpi_shm_init trusts what it formats. 0 or -1. */
int tcpi_shm_trust(const void *base, uint64_t ring_size);
/** The request log inside the region (NULL: a region never formatted or
 *  trusted here whose header is not self-consistent). */
tcpi_reqlog_t *tcpi_shm_reqlog(const tcpi_shm_t *shm);
/** The request summaries inside the region. */
tcpi_sumtab_t *tcpi_shm_sumtab(const tcpi_shm_t *shm);
/** The published flows inside the region. */
tcpi_flowpub_t *tcpi_shm_flowpub(const tcpi_shm_t *shm);
/** The packet ring inside the region. */
tcpi_ring_t *tcpi_shm_ring(tcpi_shm_t *shm);
/** The handshake store inside the region: a ring of its own, an eighth
 *  of the packet ring's size (at least TCPI_RING_MIN_REGION bytes). Its
 *  pages cost memory only once written: only a server with
 *  TCPInspectTLSKeys On somewhere writes any (tcpi_hskeep.h). */
tcpi_ring_t *tcpi_shm_hsring(tcpi_shm_t *shm);
/** Add an interface (parent, before fork); its index, or -1 when full. */
int tcpi_shm_add_iface(tcpi_shm_t *shm, const char *name, uint32_t legs,
                       const char *filter);
/** Index of an interface by name, or -1. */
int tcpi_shm_find_iface(const tcpi_shm_t *shm, const char *name);

/** Append a state-count sample (the worker, once a second). */
void tcpi_shm_hist_put(tcpi_shm_t *shm, uint64_t time_s,
                       const uint32_t count[TCPI_NSCOPES][TCPI_NSTATES]);
/** Copy sample number k; 0, or -1 when gone, not yet written or torn. */
int tcpi_shm_hist_get(tcpi_hist_sample_t *out, const tcpi_shm_t *shm,
                      uint64_t k);

/** CLOCK_MONOTONIC in ns (shared by all processes of the host). */
uint64_t tcpi_now_mono_ns(void);
/** Wall clock in ns since the epoch. */
uint64_t tcpi_now_wall_ns(void);

/** The worker counts as running when its pid is set and it wrote a
 *  heartbeat within this many ns. */
#define TCPI_HEARTBEAT_STALE_NS (3000000000ull)
int tcpi_shm_worker_alive(const tcpi_shm_t *shm, uint64_t now_mono_ns);

/** Copy a string field that another process may be rewriting. */
void tcpi_shm_copy_str(char *dst, size_t dstlen, const char *src,
                       size_t srclen);

#endif
