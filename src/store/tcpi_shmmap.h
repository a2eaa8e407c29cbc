/*
 * tcpi_shmmap.h — the shared region (tcpi_shm.h) mapped so that the
 * kernel enforces who may write which part.
 *
 * Two memfds back it: "tcpinspect" (everything the parent and the worker
 * write) and "tcpinspect-log" (the request log, which every MPM child
 * writes). Each process sees them at one address, at the offsets of
 * tcpi_shm.h, through one of two views:
 *
 *   view   tcpinspect part            tcpinspect-log part   who has it
 *   ro     read-only, from a          read-write            every process
 *          descriptor opened O_RDONLY                       (inherited)
 *   rw     read-write                 read-write            the parent and,
 *          (MADV_DONTFORK)                                  for one fork, the
 *                                                           worker
 *
 * A mapping of a descriptor opened read-only never gets write permission
 * back: mprotect(PROT_WRITE) fails with EACCES, and so does a /proc/<pid>/mem
 * write. The memfds are sealed (no resize, no new writable mapping) and
 * their descriptors closed once mapped, so a child holds no handle that
 * could map the first part writable again. The rw view is left out of
 * every fork except the worker's (tcpi_shmmap_fork_begin/end around it).
 */
#ifndef TCPI_SHMMAP_H
#define TCPI_SHMMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    void   *ro;          /* the view every process reads */
    void   *rw;          /* the writers' view; NULL where not mapped */
    size_t  size;        /* both views */
    size_t  log_off;     /* where the child-writable part starts */
} tcpi_shmmap_t;

/** Create both memfds (size bytes in all, the last size - log_off of
 *  them child-writable; both page-aligned) and both views. 0, or -1 with
 *  the reason in err and nothing left mapped. */
int tcpi_shmmap_create(tcpi_shmmap_t *m, size_t size, size_t log_off,
                       char *err, size_t errlen);
/** Unmap both views (the process's own mappings only). */
void tcpi_shmmap_destroy(tcpi_shmmap_t *m);

/** Around the one fork that must keep the rw view (the worker's): begin
 *  lets the next fork copy it, end (in the parent, after the fork)
 *  excludes it again. The caller forks from one thread, as httpd's
 *  parent does. */
void tcpi_shmmap_fork_begin(tcpi_shmmap_t *m);
void tcpi_shmmap_fork_end(tcpi_shmmap_t *m);

#endif
