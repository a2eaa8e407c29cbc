/* tcpi_shmmap.c — the shared region's two views (tcpi_shmmap.h). */
#include "tcpi_shmmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

/* One view: reserve the address range, then place the two parts in it. */
static void *map_view(size_t size, size_t log_off, int fd_main, int prot_main,
                      int fd_log)
{
    void *base = mmap(NULL, size, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (base == MAP_FAILED)
        return NULL;
    if (mmap(base, log_off, prot_main, MAP_SHARED | MAP_FIXED, fd_main, 0)
            == MAP_FAILED ||
        mmap((char *)base + log_off, size - log_off, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_FIXED, fd_log, 0) == MAP_FAILED) {
        munmap(base, size);
        return NULL;
    }
    return base;
}

int tcpi_shmmap_create(tcpi_shmmap_t *m, size_t size, size_t log_off,
                       char *err, size_t errlen)
{
    int fd = -1, fd_ro = -1, fd_log = -1;
    char path[64];
    const char *what;

    memset(m, 0, sizeof(*m));
    if (log_off == 0 || log_off >= size || log_off % 4096 || size % 4096) {
        snprintf(err, errlen, "bad shared region geometry");
        return -1;
    }
    what = "memfd_create";
    fd = memfd_create("tcpinspect", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    fd_log = memfd_create("tcpinspect-log", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || fd_log < 0)
        goto fail;
    what = "ftruncate";
    if (ftruncate(fd, (off_t)log_off) != 0 ||
        ftruncate(fd_log, (off_t)(size - log_off)) != 0)
        goto fail;
    /* The read-only descriptor: a second open of the same memfd. */
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    what = "reopening the memfd read-only";
    fd_ro = open(path, O_RDONLY | O_CLOEXEC);
    if (fd_ro < 0)
        goto fail;
    what = "mmap";
    m->size = size;
    m->log_off = log_off;
    m->rw = map_view(size, log_off, fd, PROT_READ | PROT_WRITE, fd_log);
    if (m->rw == NULL)
        goto fail;
    /* No further writable mapping of the writers' part, by anyone. */
    what = "sealing";
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
              F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) != 0 ||
        fcntl(fd_log, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
            != 0)
        goto fail;
    what = "mmap";
    m->ro = map_view(size, log_off, fd_ro, PROT_READ, fd_log);
    if (m->ro == NULL)
        goto fail;
    what = "madvise";
    if (madvise(m->rw, size, MADV_DONTFORK) != 0)
        goto fail;
    close(fd);
    close(fd_ro);
    close(fd_log);
    return 0;
fail:
    snprintf(err, errlen, "%s: %s", what, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (fd_ro >= 0)
        close(fd_ro);
    if (fd_log >= 0)
        close(fd_log);
    tcpi_shmmap_destroy(m);
    return -1;
}

void tcpi_shmmap_destroy(tcpi_shmmap_t *m)
{
    if (m->rw != NULL)
        munmap(m->rw, m->size);
    if (m->ro != NULL)
        munmap(m->ro, m->size);
    m->rw = m->ro = NULL;
}

void tcpi_shmmap_fork_begin(tcpi_shmmap_t *m)
{
    if (m->rw != NULL)
        madvise(m->rw, m->size, MADV_DOFORK);
}

void tcpi_shmmap_fork_end(tcpi_shmmap_t *m)
{
    if (m->rw != NULL)
        madvise(m->rw, m->size, MADV_DONTFORK);
}
