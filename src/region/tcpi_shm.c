/* tcpi_shm.c — the shared region (layout in tcpi_shm.h). */
#include "tcpi_shm.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SHM_MAGIC   0x54435049u  /* "TCPI" */
#define SHM_VERSION 5u

static uint64_t align64(uint64_t v) { return (v + 63) & ~63ull; }

static uint64_t sizeof_hdr(void) { return align64(sizeof(tcpi_shm_t)); }

/* Everything the worker writes, then the request log on a page of its
 * own: the two are mapped separately (tcpi_shmmap.h). */
static void layout(tcpi_shm_layout_t *l, uint64_t ring_size)
{
    l->hist_off = align64(sizeof(tcpi_shm_t));
    l->sumtab_off = l->hist_off +
                    align64(TCPI_HIST_LEN * sizeof(tcpi_hist_sample_t));
    l->flowpub_off = l->sumtab_off + align64(tcpi_sumtab_size());
    l->ring_off = l->flowpub_off + align64(tcpi_flowpub_size());
    l->hs_off = align64(l->ring_off + ring_size);
    l->hs_size = align64(ring_size / 8);
    if (l->hs_size < TCPI_RING_MIN_REGION)
        l->hs_size = TCPI_RING_MIN_REGION;
    l->reqlog_off = (l->hs_off + l->hs_size + TCPI_SHM_PAGE - 1) &
                    ~(uint64_t)(TCPI_SHM_PAGE - 1);
    l->size = l->reqlog_off + ((tcpi_reqlog_size() + TCPI_SHM_PAGE - 1) &
                               ~(uint64_t)(TCPI_SHM_PAGE - 1));
}

void tcpi_shm_layout(tcpi_shm_layout_t *l, uint64_t ring_size)
{
    layout(l, ring_size);
}

/* The regions this process formatted or was told to trust, with the
 * layout it computed itself: every part is found from that, never from
 * offsets in the header, which the worker (or anyone who owns it) can
 * rewrite. A handful per process: the views of one generation. */
typedef struct trusted {
    const void     *base;
    uint64_t        ring_size;
    tcpi_shm_layout_t l;
    struct trusted *next;
} trusted_t;
static pthread_mutex_t trusted_lock = PTHREAD_MUTEX_INITIALIZER;
static trusted_t *trusted;

int tcpi_shm_trust(const void *base, uint64_t ring_size)
{
    trusted_t *t;

    pthread_mutex_lock(&trusted_lock);
    for (t = trusted; t != NULL; t = t->next)
        if (t->base == base)
            break;
    if (t == NULL && (t = calloc(1, sizeof(*t))) != NULL) {
        t->base = base;
        t->next = trusted;
        trusted = t;
    }
    if (t != NULL) {
        t->ring_size = ring_size;
        layout(&t->l, ring_size);
    }
    pthread_mutex_unlock(&trusted_lock);
    return t != NULL ? 0 : -1;
}

/* The layout of a region: the trusted one; for one never registered
 * (there is none in the module) the header's, if it is self-consistent. */
static int layout_of(tcpi_shm_layout_t *l, uint64_t *ring_size,
                     const tcpi_shm_t *shm)
{
    const trusted_t *t;
    int found = 0;

    pthread_mutex_lock(&trusted_lock);
    for (t = trusted; t != NULL; t = t->next)
        if (t->base == (const void *)shm) {
            *l = t->l;
            *ring_size = t->ring_size;
            found = 1;
            break;
        }
    pthread_mutex_unlock(&trusted_lock);
    if (found)
        return 0;
    *ring_size = shm->ring_size;
    layout(l, *ring_size);
    return shm->size == l->size && shm->reqlog_off == l->reqlog_off ? 0 : -1;
}

size_t tcpi_shm_size(uint64_t ring_size)
{
    tcpi_shm_layout_t l;

    layout(&l, ring_size);
    return l.size;
}

int tcpi_shm_check(const tcpi_shm_t *shm, uint64_t ring_size, char *err,
                   size_t errlen)
{
    tcpi_shm_layout_t l;

    layout(&l, ring_size);
    if (shm->magic != SHM_MAGIC || shm->version != SHM_VERSION ||
        shm->size != l.size || shm->hist_off != l.hist_off ||
        shm->hist_len != TCPI_HIST_LEN || shm->reqlog_off != l.reqlog_off ||
        shm->sumtab_off != l.sumtab_off || shm->flowpub_off != l.flowpub_off ||
        shm->ring_off != l.ring_off || shm->ring_size != ring_size ||
        shm->hs_off != l.hs_off || shm->hs_size != l.hs_size) {
        snprintf(err, errlen, "the shared region's header is not the layout "
                 "of a %llu-byte ring", (unsigned long long)ring_size);
        return -1;
    }
    if (tcpi_ring_check((char *)shm + l.ring_off, ring_size) != 0) {
        snprintf(err, errlen, "the packet ring's header is not the layout "
                 "of a %llu-byte ring", (unsigned long long)ring_size);
        return -1;
    }
    if (tcpi_ring_check((char *)shm + l.hs_off, l.hs_size) != 0) {
        snprintf(err, errlen, "the handshake store's header is not the "
                 "layout of a %llu-byte ring", (unsigned long long)l.hs_size);
        return -1;
    }
    return 0;
}

tcpi_shm_t *tcpi_shm_init(void *mem, uint64_t ring_size, uint32_t generation)
{
    tcpi_shm_t *shm = mem;
    tcpi_shm_layout_t l;

    layout(&l, ring_size);
    memset(shm, 0, sizeof(*shm));
    shm->magic = SHM_MAGIC;
    shm->version = SHM_VERSION;
    shm->size = l.size;
    shm->hist_off = l.hist_off;
    shm->hist_len = TCPI_HIST_LEN;
    shm->reqlog_off = l.reqlog_off;
    shm->sumtab_off = l.sumtab_off;
    shm->flowpub_off = l.flowpub_off;
    shm->ring_off = l.ring_off;
    shm->hs_off = l.hs_off;
    shm->hs_size = l.hs_size;
    tcpi_reqlog_init((char *)shm + shm->reqlog_off);
    tcpi_sumtab_init((char *)shm + shm->sumtab_off);
    tcpi_flowpub_init((char *)shm + shm->flowpub_off);
    shm->ring_size = ring_size;
    shm->generation = generation;
    memset((char *)shm + shm->hist_off, 0,
           TCPI_HIST_LEN * sizeof(tcpi_hist_sample_t));
    if (tcpi_ring_init((char *)shm + shm->ring_off, ring_size) == NULL ||
        /* untouched until a handshake is kept (the region is zeroed) */
        tcpi_ring_init_zeroed((char *)shm + l.hs_off, l.hs_size) == NULL ||
        tcpi_shm_trust(shm, ring_size) != 0)
        return NULL;
    return shm;
}

/* The part at the layout field `field` (an offsetof into the layout). */
static void *part(const tcpi_shm_t *shm, size_t field)
{
    tcpi_shm_layout_t l;
    uint64_t rs;

    if (layout_of(&l, &rs, shm) != 0)
        return NULL;
    return (char *)shm + *(const uint64_t *)((const char *)&l + field);
}

tcpi_reqlog_t *tcpi_shm_reqlog(const tcpi_shm_t *shm)
{
    return part(shm, offsetof(tcpi_shm_layout_t, reqlog_off));
}

tcpi_sumtab_t *tcpi_shm_sumtab(const tcpi_shm_t *shm)
{
    return part(shm, offsetof(tcpi_shm_layout_t, sumtab_off));
}

tcpi_flowpub_t *tcpi_shm_flowpub(const tcpi_shm_t *shm)
{
    return part(shm, offsetof(tcpi_shm_layout_t, flowpub_off));
}

tcpi_ring_t *tcpi_shm_ring(tcpi_shm_t *shm)
{
    tcpi_shm_layout_t l;
    uint64_t rs;

    if (layout_of(&l, &rs, shm) != 0)
        return NULL;
    return tcpi_ring_attach((char *)shm + l.ring_off, rs);
}

tcpi_ring_t *tcpi_shm_hsring(tcpi_shm_t *shm)
{
    tcpi_shm_layout_t l;
    uint64_t rs;

    if (layout_of(&l, &rs, shm) != 0)
        return NULL;
    return tcpi_ring_attach((char *)shm + l.hs_off, l.hs_size);
}

int tcpi_shm_add_iface(tcpi_shm_t *shm, const char *name, uint32_t legs,
                       const char *filter)
{
    tcpi_shm_iface_t *ifc;

    if (shm->niface >= TCPI_MAX_IFACES)
        return -1;
    ifc = &shm->iface[shm->niface];
    memset(ifc, 0, sizeof(*ifc));
    strncpy(ifc->name, name, sizeof(ifc->name) - 1);
    strncpy(ifc->filter, filter, sizeof(ifc->filter) - 1);
    ifc->legs = legs;
    atomic_store(&ifc->linktype, -1);
    return (int)shm->niface++;
}

int tcpi_shm_find_iface(const tcpi_shm_t *shm, const char *name)
{
    for (uint32_t i = 0; i < shm->niface && i < TCPI_MAX_IFACES; i++)
        if (strcmp(shm->iface[i].name, name) == 0)
            return (int)i;
    return -1;
}

static tcpi_hist_sample_t *hist(const tcpi_shm_t *shm)
{
    return (tcpi_hist_sample_t *)((char *)shm + sizeof_hdr());
}

void tcpi_shm_hist_put(tcpi_shm_t *shm, uint64_t time_s,
                       const uint32_t count[TCPI_NSCOPES][TCPI_NSTATES])
{
    uint64_t k = atomic_load_explicit(&shm->hist_count, memory_order_relaxed);
    tcpi_hist_sample_t *s = &hist(shm)[k % TCPI_HIST_LEN];

    tcpi_seqlock_write_begin_gen(&s->seq, k);
    s->time_s = time_s;
    memcpy(s->count, count, sizeof(s->count));
    tcpi_seqlock_write_end_gen(&s->seq, k);
    atomic_store_explicit(&shm->hist_count, k + 1, memory_order_release);
}

int tcpi_shm_hist_get(tcpi_hist_sample_t *out, const tcpi_shm_t *shm,
                      uint64_t k)
{
    const tcpi_hist_sample_t *s = &hist(shm)[k % TCPI_HIST_LEN];
    uint64_t s1;

    if (tcpi_seqlock_read_begin_gen(&s1, &s->seq, k) != TCPI_SEQLOCK_OK)
        return -1;
    out->time_s = s->time_s;
    memcpy(out->count, s->count, sizeof(out->count));
    if (!tcpi_seqlock_read_valid(&s->seq, s1))
        return -1;
    atomic_store_explicit(&out->seq, s1, memory_order_relaxed);
    return 0;
}

uint64_t tcpi_now_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t tcpi_now_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int tcpi_shm_worker_alive(const tcpi_shm_t *shm, uint64_t now_mono_ns)
{
    tcpi_shm_t *w = (tcpi_shm_t *)shm;
    int32_t pid = atomic_load(&w->worker_pid);
    uint64_t hb = atomic_load(&w->heartbeat_ns);

    return pid > 0 && hb != 0 && now_mono_ns - hb < TCPI_HEARTBEAT_STALE_NS;
}

void tcpi_shm_copy_str(char *dst, size_t dstlen, const char *src,
                       size_t srclen)
{
    size_t n = 0;

    if (dstlen == 0)
        return;
    while (n + 1 < dstlen && n < srclen && src[n] != '\0') {
        dst[n] = src[n];
        n++;
    }
    dst[n] = '\0';
}
