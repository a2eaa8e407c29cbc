/* tcpi_flowpub.c — flows published to shared memory (tcpi_flowpub.h). */
#include "tcpi_flowpub.h"
#include "tcpi/common.h"

#include <string.h>
#include <time.h>

#define FLOWPUB_MAGIC 0x54434650u   /* "TCFP" */
#define READ_TRIES    4

typedef struct {
    _Atomic uint64_t seq;           /* seqlock, generation: the publication */
    tcpi_flowrec_t   rec;
} slot_t;

struct tcpi_flowpub {
    uint32_t magic;
    uint32_t len;
    _Atomic uint64_t gen;           /* publications completed */
    _Atomic uint64_t published_ns;
    _Atomic uint64_t scan_ns;
    _Atomic uint32_t count;
    uint32_t pad;
    slot_t slot[TCPI_FLOWPUB_LEN];
};

size_t tcpi_flowpub_size(void)
{
    return sizeof(tcpi_flowpub_t);
}

tcpi_flowpub_t *tcpi_flowpub_init(void *mem)
{
    tcpi_flowpub_t *p = mem;

    memset(p, 0, sizeof(*p));
    p->magic = FLOWPUB_MAGIC;
    p->len = TCPI_FLOWPUB_LEN;
    return p;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A min-heap of flows by last_ns: the root is the oldest of those kept. */
typedef struct {
    const tcpi_flow_t *f[TCPI_FLOWPUB_LEN];
    uint32_t n;
} heap_t;

static void heap_down(heap_t *h, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->f[l]->last_ns < h->f[m]->last_ns)
            m = l;
        if (r < h->n && h->f[r]->last_ns < h->f[m]->last_ns)
            m = r;
        if (m == i)
            return;
        const tcpi_flow_t *t = h->f[i];
        h->f[i] = h->f[m], h->f[m] = t;
        i = m;
    }
}

static void heap_offer(heap_t *h, const tcpi_flow_t *f)
{
    if (h->n < TCPI_FLOWPUB_LEN) {
        uint32_t i = h->n++;
        h->f[i] = f;
        while (i > 0 && h->f[(i - 1) / 2]->last_ns > h->f[i]->last_ns) {
            const tcpi_flow_t *t = h->f[i];
            h->f[i] = h->f[(i - 1) / 2], h->f[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
    } else if (f->last_ns > h->f[0]->last_ns) {
        h->f[0] = f;
        heap_down(h, 0);
    }
}

void tcpi_flowpub_publish(tcpi_flowpub_t *pub, const tcpi_flowtab_t *ft,
                          uint64_t now_wall_ns)
{
    heap_t h;                        /* 8 KiB of the worker's stack */
    const tcpi_flow_t *f;
    uint64_t t0 = mono_ns();
    uint64_t g = atomic_load_explicit(&pub->gen, memory_order_relaxed);
    uint32_t n;

    h.n = 0;
    for (uint32_t i = 0; (f = tcpi_flowtab_slot(ft, i)) != NULL; i++)
        if (f->used && f->fs.seen)
            heap_offer(&h, f);
    /* Popping the min-heap yields oldest first: fill from the back. */
    n = h.n;
    for (uint32_t k = n; k-- > 0;) {
        slot_t *s = &pub->slot[k];
        f = h.f[0];
        tcpi_seqlock_write_begin_gen(&s->seq, g);
        s->rec.key = f->key;
        s->rec.first_ns = f->first_ns;
        s->rec.last_ns = f->last_ns;
        s->rec.fs = f->fs;
        tcpi_seqlock_write_end_gen(&s->seq, g);
        h.f[0] = h.f[--h.n];
        heap_down(&h, 0);
    }
    atomic_store_explicit(&pub->count, n, memory_order_relaxed);
    atomic_store_explicit(&pub->published_ns, now_wall_ns,
                          memory_order_relaxed);
    atomic_store_explicit(&pub->scan_ns, mono_ns() - t0, memory_order_relaxed);
    atomic_store_explicit(&pub->gen, g + 1, memory_order_release);
}

uint32_t tcpi_flowpub_read(tcpi_flowrec_t *out, uint32_t max,
                           const tcpi_flowpub_t *pub)
{
    tcpi_flowpub_t *w = (tcpi_flowpub_t *)pub;
    uint32_t got = 0;

    for (int tries = 0; tries < READ_TRIES; tries++) {
        uint64_t g = atomic_load_explicit(&w->gen, memory_order_acquire);
        uint32_t n = atomic_load_explicit(&w->count, memory_order_relaxed);
        int torn = 0;

        if (g == 0)
            return 0;
        if (n > TCPI_FLOWPUB_LEN)
            n = TCPI_FLOWPUB_LEN;
        got = 0;
        for (uint32_t k = 0; k < n && got < max; k++) {
            const slot_t *s = &w->slot[k];
            /* Not publication g - 1 (a newer one is under way), or
             * rewritten while copied: read the table again. */
            if (tcpi_seqlock_copy_gen(&out[got], &s->rec, sizeof(out[got]),
                                      &s->seq, g - 1, NULL) != TCPI_SEQLOCK_OK) {
                torn = 1;
                break;
            }
            got++;
        }
        if (!torn)
            return got;
    }
    return got;      /* a consistent prefix of the newest publication */
}

void tcpi_flowpub_stats(tcpi_flowpub_stats_t *st, const tcpi_flowpub_t *pub)
{
    tcpi_flowpub_t *w = (tcpi_flowpub_t *)pub;

    st->publications = atomic_load(&w->gen);
    st->published_ns = atomic_load(&w->published_ns);
    st->count = atomic_load(&w->count);
    st->scan_ns = atomic_load(&w->scan_ns);
}
