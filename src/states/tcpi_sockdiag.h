/*
 * tcpi_sockdiag.h — TCP sockets per scope and netstat state, counted from
 * the kernel with NETLINK_SOCK_DIAG (inet_diag, as `ss` does).
 *
 * One dump with every state requested, request sockets
 * (TCP_NEW_SYN_RECV) counting as SYN_RECV like `ss -tan` shows them. The
 * dump is the legacy TCPDIAG_GETSOCK request, which the kernel runs for
 * IPv4 and IPv6 in a single walk of its socket hash (the fixed cost of
 * any dump: 2 x 262144 buckets here took 2.5 ms, one walk 1.1 ms); a
 * kernel without it gets two SOCK_DIAG_BY_FAMILY (inet_diag_req_v2)
 * dumps, AF_INET then AF_INET6. The port selection is an inet_diag bytecode
 * filter run by the kernel, so only sockets in scope are copied to user
 * space: the kernel still walks its socket hash, but an out-of-scope
 * socket costs a few compares there and nothing here.
 *
 * Needs no privilege (any user may dump sockets' addresses and states)
 * and touches no shared memory: it never waits on the capture worker.
 */
#ifndef TCPI_SOCKDIAG_H
#define TCPI_SOCKDIAG_H

#include "tcpi/common.h"
#include "tcpi_evshared.h"

/* Bytecode size for the largest port sets: 3 x TCPI_MAX_PORTS port
 * compares (8 bytes each) joined by jumps (4 bytes each). */
#define TCPI_SOCKDIAG_BC_MAX (3 * TCPI_MAX_PORTS * 12)

/** Which scopes a socket with these host-order ports belongs to (a bit
 *  per tcpi_scope_e): front = local port in front; backend = remote port
 *  in backend; backend_local = local port in backend. */
unsigned tcpi_sockdiag_scopes(uint16_t sport, uint16_t dport,
                              const tcpi_ports_t *front,
                              const tcpi_ports_t *backend);

/** Write the inet_diag bytecode that accepts a socket when its local port
 *  is in front or backend, or its remote port is in backend. Returns the
 *  length in bytes (0 when both sets are empty: nothing to ask), or -1
 *  when it does not fit in outlen. */
int tcpi_sockdiag_bytecode(unsigned char *out, size_t outlen,
                           const tcpi_ports_t *front,
                           const tcpi_ports_t *backend);

/** What one count saw, for diagnostics and tests. */
typedef struct {
    uint32_t sockets;      /* inet_diag messages received */
    uint32_t unscoped;     /* of which in no scope (the kernel filters
                              them out, so this stays 0) */
    uint32_t unnamed;      /* in scope, in a state netstat has no name for */
    uint32_t reads;        /* recv calls */
    uint32_t walks;        /* dumps asked for: 1 legacy, 2 per family */
    uint32_t events;       /* 1 when full sockets came from the event
                              counter (tcpi_sockdiag_count_ev) */
} tcpi_sockdiag_stats_t;

/** Add the sockets described by one buffer of netlink messages (what one
 *  recv returned) to count. Every message is bounds-checked; seq is the
 *  dump's sequence number (others are ignored). Returns 0 when more
 *  messages follow, 1 at NLMSG_DONE, or -1 with err filled (an error
 *  message from the kernel or a malformed buffer). */
int tcpi_sockdiag_parse(uint32_t count[TCPI_NSCOPES][TCPI_NSTATES],
                        tcpi_sockdiag_stats_t *stats, char *err, size_t errlen,
                        const void *buf, size_t len, uint32_t seq,
                        const tcpi_ports_t *front,
                        const tcpi_ports_t *backend);

/** Count every TCP socket (IPv4 and IPv6) in scope per state; count and
 *  stats (may be NULL) are zeroed first. Returns 0, or -1 with err filled
 *  (the counts are then incomplete and must not be shown). */
int tcpi_sockdiag_count(uint32_t count[TCPI_NSCOPES][TCPI_NSTATES],
                        tcpi_sockdiag_stats_t *stats, char *err, size_t errlen,
                        const tcpi_ports_t *front,
                        const tcpi_ports_t *backend);

enum { TCPI_SOCKDIAG_AUTO = 0,   /* legacy, else per family */
       TCPI_SOCKDIAG_LEGACY,      /* the single-walk request only */
       TCPI_SOCKDIAG_V2 };        /* one inet_diag_req_v2 dump per family */

/** tcpi_sockdiag_count with a choice of request (tests, benchmark). */
int tcpi_sockdiag_count_how(uint32_t count[TCPI_NSCOPES][TCPI_NSTATES],
                            tcpi_sockdiag_stats_t *stats, char *err,
                            size_t errlen, const tcpi_ports_t *front,
                            const tcpi_ports_t *backend, int how);

/* Kernel states (bits 1 << TCP_*) of full sockets that the event counter
 * keeps (tcpi_evstates.h), and those a dump counts beside it: TIME_WAIT and
 * request sockets have no tracepoint, and a FIN_WAIT2 may be either a full
 * socket or a timewait one, so FIN_WAIT2 (and the never-listed CLOSE) stay
 * with the dump whole. */
#define TCPI_SOCKDIAG_EV_STATES   0x0f1eu  /* 1-4, 8-11 */
#define TCPI_SOCKDIAG_DUMP_STATES 0x10e0u  /* 5, 6, 7, 12 */

/** tcpi_sockdiag_count for the kernel states in the bit set states only. */
int tcpi_sockdiag_count_states(uint32_t count[TCPI_NSCOPES][TCPI_NSTATES],
                               tcpi_sockdiag_stats_t *stats, char *err,
                               size_t errlen, const tcpi_ports_t *front,
                               const tcpi_ports_t *backend, unsigned states);

/** Whether the event-kept counts can be used now: seeded, attached, no
 *  socket lost. NULL is not usable. */
int tcpi_sockdiag_ev_usable(const volatile tcpi_ev_counts_t *ev);

/** The event-kept counts of TCPI_SOCKDIAG_EV_STATES per scope, as netstat
 *  states (an instant's negative reads as 0); the other states are 0. */
void tcpi_sockdiag_ev_read(uint32_t count[TCPI_NSCOPES][TCPI_NSTATES],
                           const volatile tcpi_ev_counts_t *ev);

/** The counts the page shows: with usable event counts, those plus a dump
 *  of TCPI_SOCKDIAG_DUMP_STATES only (stats->events = 1); otherwise one
 *  full dump, as tcpi_sockdiag_count. */
int tcpi_sockdiag_count_ev(uint32_t count[TCPI_NSCOPES][TCPI_NSTATES],
                           tcpi_sockdiag_stats_t *stats, char *err,
                           size_t errlen, const tcpi_ports_t *front,
                           const tcpi_ports_t *backend,
                           const volatile tcpi_ev_counts_t *ev);

/** Check the event counts against the kernel: read them, dump the states
 *  they cover but SYN_RECV (the kernel cannot tell full SYN_RECV sockets
 *  from request sockets in a dump), read them again. Returns 1 when the
 *  dump equals them, 0 when any in-scope count changed during the dump
 *  (no verdict) or the dump failed, -1 when they differ though nothing
 *  changed, with the first difference described in diff. */
int tcpi_sockdiag_check_ev(const volatile tcpi_ev_counts_t *ev,
                           const tcpi_ports_t *front,
                           const tcpi_ports_t *backend,
                           char *diff, size_t difflen);

#endif
