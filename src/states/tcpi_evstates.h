/*
 * tcpi_evstates.h — load, seed and share the event-kept state counter
 * (src/states/bpf/tcpi_evstates.bpf.c) with libbpf.
 *
 * Why: a NETLINK_SOCK_DIAG dump costs the kernel a walk of every TCP socket
 * on the host and a message per socket in scope; a full socket's message is
 * the dear part (its fill reads the tcp_sock: about 0.7 us each here). The
 * counts of full sockets are instead kept by a BPF program on the
 * sock:inet_sock_set_state tracepoint, seeded once by a bpf_iter walk, and
 * read from a read-only shared mapping with no system call. TIME_WAIT and
 * request sockets have no tracepoint, so the page still asks the kernel
 * for those with a dump restricted to their states
 * (tcpi_sockdiag_count_ev), which skips every full socket after one
 * compare.
 *
 * Who does what:
 *   the owner (httpd's parent, root, in post_config) opens: loads,
 *   attaches, seeds, and maps the counts twice, read-write for itself and
 *   read-only for everybody it forks;
 *   a forked process calls tcpi_evstates_forget: it closes its copies of
 *   the descriptors and keeps only the read-only mapping (the writable
 *   one is MADV_DONTFORK), so a child can read but never write or
 *   detach;
 *   the owner closes at the end of the generation: the counts are marked
 *   invalid first, so a reader still holding the mapping falls back to a
 *   full dump.
 *
 * Needs CAP_BPF + CAP_PERFMON (root), a kernel with BTF and bpf_iter/tcp
 * (5.9+). Without them open fails with a reason and the module counts with
 * full dumps as before.
 */
#ifndef TCPI_EVSTATES_H
#define TCPI_EVSTATES_H

#include "tcpi/common.h"
#include "tcpi_evshared.h"

typedef struct tcpi_evstates tcpi_evstates_t;

/** Load, attach and seed for these port sets in the caller's network
 *  namespace. Returns NULL with err filled when this kernel or this
 *  process cannot (no privilege, no BTF, programs refused). */
tcpi_evstates_t *tcpi_evstates_open(const tcpi_ports_t *front,
                                    const tcpi_ports_t *backend,
                                    char *err, size_t errlen);

/** The counts, mapped read-only; valid in every process forked after open
 *  (also after tcpi_evstates_forget). */
const volatile tcpi_ev_counts_t *tcpi_evstates_counts(const tcpi_evstates_t *ev);

/** The owner: mark the counts invalid, detach, free. */
void tcpi_evstates_close(tcpi_evstates_t *ev);

/** In a process forked from the owner: drop this process's descriptors
 *  (the read-write mapping is never inherited), keep the read-only
 *  mapping. Frees ev. Never in the owner itself. */
void tcpi_evstates_forget(tcpi_evstates_t *ev);

#endif
