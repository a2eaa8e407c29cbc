/* tcpi_evstates.c — the event-kept state counter's loader (see the header). */
#include "tcpi_evstates.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* The compiled src/states/bpf/tcpi_evstates.bpf.c, as a byte array
 * (build/tcpi_evstates_obj.h, made by the Makefile). */
#include "tcpi_evstates_obj.h"

struct tcpi_evstates {
    struct bpf_object *obj;
    struct bpf_link   *link;        /* the tracepoint program */
    tcpi_ev_counts_t  *rw;          /* owner's read-write mapping */
    const volatile tcpi_ev_counts_t *ro;
    size_t             maplen;
};

/* libbpf's last warning, for the error message (its verifier logs go to
 * the debug level only). Loads happen in one thread at a time: httpd's
 * post_config, or a test. */
static char last_warning[160];

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
                        va_list ap)
{
    char line[512];
    size_t n;

    if (level == LIBBPF_DEBUG)
        return 0;
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n && (line[n - 1] == '\n'))
        line[--n] = '\0';
    if (level == LIBBPF_WARN && strncmp(line, "libbpf: ", 8) == 0) {
        n -= 8;
        if (n >= sizeof(last_warning))
            n = sizeof(last_warning) - 1;
        memcpy(last_warning, line + 8, n);
        last_warning[n] = '\0';
    }
    tcpi_log(TCPI_LOG_DEBUG, TCPI_TAG(0301), "%s", line);
    return 0;
}

static void set_bits(unsigned long long *bits, const tcpi_ports_t *ports)
{
    for (int i = 0; i < ports->n; i++)
        bits[ports->port[i] >> 6] |= 1ull << (ports->port[i] & 63);
}

static struct bpf_map *internal_map(struct bpf_object *obj, const char *suffix)
{
    struct bpf_map *m;
    size_t sl = strlen(suffix);

    bpf_object__for_each_map(m, obj) {
        const char *name = bpf_map__name(m);
        size_t nl = strlen(name);
        if (bpf_map__is_internal(m) && nl >= sl && strcmp(name + nl - sl, suffix) == 0)
            return m;
    }
    return NULL;
}

/* The programs' .rodata is one tcpi_ev_config_t. */
static int set_rodata(struct bpf_object *obj, uint32_t netns,
                      const tcpi_ports_t *front, const tcpi_ports_t *backend)
{
    struct bpf_map *m = internal_map(obj, ".rodata");
    size_t size = 0;
    tcpi_ev_config_t *cfg;

    if (m == NULL)
        return -1;
    /* Writable until the load (libbpf 1.1 declares it const). */
    cfg = (tcpi_ev_config_t *)bpf_map__initial_value(m, &size);
    if (cfg == NULL || size != sizeof(*cfg))
        return -1;
    memset(cfg, 0, sizeof(*cfg));
    cfg->netns_ino = netns;
    set_bits(cfg->front_bits, front);
    set_bits(cfg->backend_bits, backend);
    return 0;
}

static int fail(char *err, size_t errlen, const char *what, int e)
{
    if (last_warning[0])
        snprintf(err, errlen, "%s: %s (%s)", what, strerror(e), last_warning);
    else
        snprintf(err, errlen, "%s: %s", what, strerror(e));
    return -1;
}

/* Run the seeding walk once: read the iterator to its end. */
static int seed(struct bpf_object *obj, char *err, size_t errlen)
{
    struct bpf_program *p = bpf_object__find_program_by_name(obj, "tcpi_ev_seed");
    struct bpf_link *it;
    char buf[256];
    ssize_t n;
    int fd, rc = 0;

    it = p ? bpf_program__attach_iter(p, NULL) : NULL;
    if (it == NULL)
        return fail(err, errlen, "cannot attach the seeding walk (iter/tcp)", errno);
    fd = bpf_iter_create(bpf_link__fd(it));
    if (fd < 0) {
        rc = fail(err, errlen, "cannot start the seeding walk", errno);
    } else {
        while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
            ;
        if (n < 0)
            rc = fail(err, errlen, "the seeding walk failed", errno);
        close(fd);
    }
    bpf_link__destroy(it);
    return rc;
}

/* The readers' mapping, PROT_READ: the kernel clears VM_MAYWRITE on a BPF
 * map mapped without write, so no later mprotect can make it writable.
 * (A BPF_F_RDONLY descriptor cannot be mapped shared at all.) */
static const volatile tcpi_ev_counts_t *map_readonly(int fd, size_t len)
{
    void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);

    return p == MAP_FAILED ? NULL : p;
}

tcpi_evstates_t *tcpi_evstates_open(const tcpi_ports_t *front,
                                    const tcpi_ports_t *backend,
                                    char *err, size_t errlen)
{
    LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "tcpi_evstates");
    tcpi_evstates_t *ev = calloc(1, sizeof(*ev));
    struct bpf_program *p;
    struct bpf_map *cm;
    struct stat ns;
    long page = sysconf(_SC_PAGESIZE);
    void *rw;

    last_warning[0] = '\0';
    libbpf_set_print(libbpf_print);
    if (ev == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (stat("/proc/self/ns/net", &ns) != 0) {
        fail(err, errlen, "cannot read /proc/self/ns/net", errno);
        goto bad;
    }
    ev->obj = bpf_object__open_mem(tcpi_evstates_obj, sizeof(tcpi_evstates_obj), &oo);
    if (ev->obj == NULL) {
        fail(err, errlen, "cannot open the BPF object", errno);
        goto bad;
    }
    if (set_rodata(ev->obj, (uint32_t)ns.st_ino, front, backend) != 0) {
        snprintf(err, errlen, "the BPF object has no .rodata of the expected size");
        goto bad;
    }
    if (bpf_object__load(ev->obj) != 0) {
        fail(err, errlen, "the kernel refused the state-change programs", errno);
        goto bad;
    }
    cm = bpf_object__find_map_by_name(ev->obj, "counts");
    if (cm == NULL) {
        snprintf(err, errlen, "the BPF object has no counts map");
        goto bad;
    }
    ev->maplen = (sizeof(tcpi_ev_counts_t) + (size_t)page - 1) & ~((size_t)page - 1);
    rw = mmap(NULL, ev->maplen, PROT_READ | PROT_WRITE, MAP_SHARED,
              bpf_map__fd(cm), 0);
    if (rw == MAP_FAILED) {
        fail(err, errlen, "cannot map the counts", errno);
        goto bad;
    }
    ev->rw = rw;
    /* Nothing forked from here gets the writable mapping: children and
     * the worker read through ev->ro, and a process that never calls
     * tcpi_evstates_forget (another module's daemon) cannot write. */
    if (madvise(rw, ev->maplen, MADV_DONTFORK) != 0) {
        fail(err, errlen, "cannot keep the counts' writable mapping from "
             "children (madvise)", errno);
        goto bad;
    }
    ev->ro = map_readonly(bpf_map__fd(cm), ev->maplen);
    if (ev->ro == NULL) {
        fail(err, errlen, "cannot map the counts read-only", errno);
        goto bad;
    }
    __atomic_store_n(&ev->rw->seeding, 1, __ATOMIC_SEQ_CST);
    /* Events first, then the walk: nothing changes state unseen. */
    p = bpf_object__find_program_by_name(ev->obj, "tcpi_ev_state");
    ev->link = p ? bpf_program__attach(p) : NULL;
    if (ev->link == NULL) {
        fail(err, errlen, "cannot attach to sock:inet_sock_set_state", errno);
        goto bad;
    }
    if (seed(ev->obj, err, errlen) != 0)
        goto bad;
    __atomic_store_n(&ev->rw->seeding, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&ev->rw->valid, 1, __ATOMIC_RELEASE);
    return ev;
bad:
    tcpi_evstates_close(ev);
    return NULL;
}

const volatile tcpi_ev_counts_t *tcpi_evstates_counts(const tcpi_evstates_t *ev)
{
    return ev ? ev->ro : NULL;
}

void tcpi_evstates_close(tcpi_evstates_t *ev)
{
    if (ev == NULL)
        return;
    if (ev->rw) {
        /* Readers elsewhere fall back to dumps; a program kept attached by
         * a descriptor another forked process still holds (a tracing
         * link cannot be detached for all holders) stops counting. */
        __atomic_store_n(&ev->rw->valid, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&ev->rw->off, 1, __ATOMIC_SEQ_CST);
        munmap(ev->rw, ev->maplen);
    }
    if (ev->ro)
        munmap((void *)ev->ro, ev->maplen);
    bpf_link__destroy(ev->link);
    bpf_object__close(ev->obj);
    free(ev);
}

void tcpi_evstates_forget(tcpi_evstates_t *ev)
{
    if (ev == NULL)
        return;
    /* ev->rw was not inherited (MADV_DONTFORK): its address is not ours
     * to unmap here. */
    if (ev->link) {
        /* Close our copy only: the owner's link stays attached. */
        close(bpf_link__fd(ev->link));
        bpf_link__disconnect(ev->link);
        bpf_link__destroy(ev->link);
    }
    /* Closes this process's program and map descriptors; the kernel
     * objects live on through the owner's. */
    bpf_object__close(ev->obj);
    free(ev);
}
