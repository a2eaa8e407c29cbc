/*
 * tcpi_worker.h — the capture worker's core: one libpcap handle per
 * interface, opened while still root, then a single-threaded loop that
 * polls the handles' selectable fds, dispatches bounded batches into the
 * packet ring and, once a second, publishes a heartbeat and pcap_stats;
 * after each round it runs the request join (tcpi_join.h) over the new
 * packets and the records of the request log's one reader, which the
 * join hands on to the triggered captures (tcpi_trigger.h) and, as one
 * JSON line each, to the request log file or pipe. A second
 * thread samples the state counts once a second. The httpd glue
 * forks the process, drops privileges between tcpi_worker_open and
 * tcpi_worker_run, and restarts it on death.
 */
#ifndef TCPI_WORKER_H
#define TCPI_WORKER_H

#include "tcpi/region.h"

#include <signal.h>
#include <sys/types.h>

/* Exit codes the parent tells apart. */
#define TCPI_EXIT_OK       0
#define TCPI_EXIT_STARTUP  3     /* could not start at all: back off */

#define TCPI_DISPATCH_BATCH 256  /* packets per pcap_dispatch call */
/* The request join's flow table (440 bytes a flow) holds every flow for
 * the join's grace period even at 30k new connections a second; the
 * shared event pool (40 bytes an event) about 3 s at 300k packets/s. */
#define TCPI_JOIN_FLOWS   (1u << 15)
#define TCPI_JOIN_EVENTS  (1u << 20)

/** Called once a second to fill one state-count sample; returns 0 or -1. */
typedef int tcpi_sample_fn(void *baton,
                           uint32_t count[TCPI_NSCOPES][TCPI_NSTATES]);

typedef struct tcpi_worker tcpi_worker_t;

/** Renders one joined request as one line, its '\n' included, into buf:
 *  its length, or 0 when it does not fit in cap. */
typedef size_t tcpi_worker_line_fn(char *buf, size_t cap,
                                   const tcpi_req_t *rec,
                                   const tcpi_reqsum_t *sum);

/** One interface of the worker's plan. */
typedef struct {
    char     name[TCPI_IFNAMSIZ];
    char     filter[TCPI_FILTER_MAX];   /* the handle's whole BPF text */
    uint32_t legs;                      /* TCPI_LEG_* bits */
} tcpi_worker_iface_t;

/* The worker's plan: built by the parent in its private memory and
 * copied at fork. Nothing in it is read from shared memory; the shared
 * region is only written (and checked against ring_size first). */
typedef struct {
    tcpi_shm_t     *shm;         /* the writers' view (tcpi_shmmap.h) */
    uint64_t        ring_size;
    tcpi_worker_iface_t iface[TCPI_MAX_IFACES];
    uint32_t        niface;      /* iface[i] is shm->iface[i] */
    uint32_t        snaplen;
    uint64_t        kernel_buffer;
    pid_t           parent;      /* exit when it is gone */
    tcpi_sample_fn *sample;      /* may be NULL */
    void           *sample_baton;
    /* The JSON request log (TCPInspectRequestLog): the descriptor the
     * parent opened, a file or a piped logger's pipe, and the renderer of
     * a line (the glue's: the request views are a stage above this one).
     * Each joined request is one line (tcpi_linelog.h: never waited for;
     * counters in shm->json_log). log_line NULL: no log. */
    int             log_fd;
    tcpi_worker_line_fn *log_line;
    /* The front ports whose TLS handshakes the handshake store keeps
     * (tcpi_hskeep.h): those of a server with TCPInspectTLSKeys On. */
    tcpi_ports_t    hs_ports;
} tcpi_worker_conf_t;

/** Check the shared region against the plan, then open and activate
 *  every interface's handle. Failures of single interfaces are recorded in
 *  shm (status, error) and logged; the others keep working. Returns NULL
 *  only on a fatal error (err filled). */
tcpi_worker_t *tcpi_worker_open(const tcpi_worker_conf_t *conf, char *err,
                                size_t errlen);
/** Loop until *stop becomes non-zero or the parent is gone. */
int tcpi_worker_run(tcpi_worker_t *w, volatile sig_atomic_t *stop);
/** One round of the loop without waiting: drain every handle once.
 *  Returns the number of packets written to the ring. */
int tcpi_worker_run_once(tcpi_worker_t *w);
/** Close the handles and free the worker. */
void tcpi_worker_close(tcpi_worker_t *w);
/** Number of handles that are active. */
int tcpi_worker_active(const tcpi_worker_t *w);

/** The restart delay (ms) after a worker that ran ran_ms (from the end
 *  of its own delay) exited: none after a run of 10 s or more; 1 s, then
 *  doubling, after short runs; at least 10 s, doubling, after a startup
 *  failure (the interface or the privileges will not come back by
 *  themselves); never more than 300 s. prev_ms is the last delay. */
uint64_t tcpi_worker_backoff_ms(uint64_t prev_ms, uint64_t ran_ms,
                                int startup_failure);
#define TCPI_WORKER_STABLE_MS   10000u
#define TCPI_WORKER_BACKOFF_MAX 300000u

/** Build the BPF text for a handle: TCP on any of the ports, ANDed with
 *  the operator's filter (may be NULL). Returns 0, or -1 if it does not
 *  fit. (On a loopback interface the worker asks the kernel for the
 *  inbound copy of each packet only: PACKET_IGNORE_OUTGOING.) */
int tcpi_filter_build(char *out, size_t outlen, const tcpi_ports_t *ports,
                      const char *user_filter);

#endif
