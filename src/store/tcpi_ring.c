/* tcpi_ring.c — seqlock packet ring (layout in tcpi_ring.h). */
#include "tcpi_ring.h"
#include "tcpi/common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define RING_MAGIC   0x54435052u   /* "TCPR" */
#define RING_VERSION 1u

typedef struct {
    _Atomic uint64_t seq;   /* seqlock, generation n (tcpi_seqlock.h) */
    uint64_t pos;           /* monotonic byte position of the data */
    uint64_t ts_ns;
    uint32_t caplen;
    uint32_t wirelen;
    uint16_t iface;
    uint16_t pad;
    int32_t  linktype;
} ring_desc_t;

/* The shared header. Its geometry fields are written once by
 * tcpi_ring_init and only ever compared (tcpi_ring_check): every process
 * uses the geometry it computed itself from the size it trusts, so a
 * header rewritten by another process cannot move an access. */
typedef struct {
    uint32_t magic;
    uint32_t version;
    uint64_t size;
    uint64_t desc_off;
    uint64_t data_off;
    uint64_t ndesc;            /* power of two */
    uint64_t data_size;
    uint64_t max_caplen;
    _Atomic uint64_t head;     /* next packet number */
    _Atomic uint64_t tail;     /* oldest valid packet number */
    _Atomic uint64_t reserved; /* end of the bytes written or being written */
    _Atomic uint64_t bytes;
} ring_hdr_t;

/* A process's handle on a ring: where its parts are, from the size. */
struct tcpi_ring {
    ring_hdr_t  *h;
    ring_desc_t *desc;
    uint8_t     *data;
    uint64_t     size, ndesc, data_size, max_caplen;
    struct tcpi_ring *next;    /* the handle list */
};

_Static_assert(sizeof(ring_desc_t) == 40, "descriptor layout");

static ring_desc_t *descs(const tcpi_ring_t *r)
{
    return r->desc;
}

static uint8_t *data(const tcpi_ring_t *r)
{
    return r->data;
}

/* The geometry of a ring in a region of `size` bytes. */
static void geometry(ring_hdr_t *g, size_t size)
{
    uint64_t hdr = (sizeof(*g) + 63) & ~63ull;
    uint64_t ndesc = 1;

    /* One descriptor per 512 bytes of region: proxied HTTP packets on the
     * two legs average a few hundred bytes; bigger ones use fewer slots. */
    while (ndesc * 2 <= size / 512)
        ndesc *= 2;
    g->magic = RING_MAGIC;
    g->version = RING_VERSION;
    g->size = size;
    g->desc_off = hdr;
    g->data_off = hdr + ndesc * sizeof(ring_desc_t);
    g->ndesc = ndesc;
    g->data_size = size - g->data_off;
    /* A record is at most a quarter of the data area and never more than
     * the largest snaplen: readers size their one copy buffer by it. */
    g->max_caplen = g->data_size / 4 < TCPI_RING_MAX_RECORD
                    ? g->data_size / 4 : TCPI_RING_MAX_RECORD;
}

/* Handles live for the process (a ring is mapped once per generation):
 * one per ring address, updated when a ring is formatted there again. */
static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static tcpi_ring_t *handles;

static tcpi_ring_t *handle(void *mem, size_t size)
{
    ring_hdr_t g;
    tcpi_ring_t *r;

    memset(&g, 0, sizeof(g));
    geometry(&g, size);
    pthread_mutex_lock(&handles_lock);
    for (r = handles; r != NULL; r = r->next)
        if (r->h == mem)
            break;
    if (r == NULL && (r = calloc(1, sizeof(*r))) != NULL) {
        r->h = mem;
        r->next = handles;
        handles = r;
    }
    if (r != NULL) {
        r->desc = (ring_desc_t *)((char *)mem + g.desc_off);
        r->data = (uint8_t *)mem + g.data_off;
        r->size = size;
        r->ndesc = g.ndesc;
        r->data_size = g.data_size;
        r->max_caplen = g.max_caplen;
    }
    pthread_mutex_unlock(&handles_lock);
    return r;
}

static tcpi_ring_t *init(void *mem, size_t size, int zeroed)
{
    ring_hdr_t *h = mem;
    tcpi_ring_t *r;

    if (mem == NULL || size < TCPI_RING_MIN_REGION)
        return NULL;
    memset(h, 0, (sizeof(*h) + 63) & ~63ull);
    geometry(h, size);
    if ((r = handle(mem, size)) == NULL)
        return NULL;
    if (!zeroed)
        memset(r->desc, 0, r->ndesc * sizeof(ring_desc_t));
    return r;
}

tcpi_ring_t *tcpi_ring_init(void *mem, size_t size)
{
    return init(mem, size, 0);
}

tcpi_ring_t *tcpi_ring_init_zeroed(void *mem, size_t size)
{
    return init(mem, size, 1);
}

int tcpi_ring_check(const void *mem, size_t size)
{
    const ring_hdr_t *r = mem;
    ring_hdr_t g;

    if (mem == NULL || size < TCPI_RING_MIN_REGION)
        return -1;
    memset(&g, 0, sizeof(g));
    geometry(&g, size);
    return r->magic == g.magic && r->version == g.version &&
           r->size == g.size && r->desc_off == g.desc_off &&
           r->data_off == g.data_off && r->ndesc == g.ndesc &&
           r->data_size == g.data_size && r->max_caplen == g.max_caplen
           ? 0 : -1;
}

tcpi_ring_t *tcpi_ring_attach(void *mem, size_t size)
{
    const ring_hdr_t *h = mem;

    if (h == NULL || size < TCPI_RING_MIN_REGION || h->magic != RING_MAGIC ||
        h->version != RING_VERSION)
        return NULL;
    return handle(mem, size);
}

static void copy_in(tcpi_ring_t *r, uint64_t pos, const uint8_t *src,
                    uint32_t len)
{
    uint64_t off = pos % r->data_size;
    uint64_t first = r->data_size - off;

    if (first >= len) {
        memcpy(data(r) + off, src, len);
    } else {
        memcpy(data(r) + off, src, first);
        memcpy(data(r), src + first, len - first);
    }
}

static void copy_out(uint8_t *dst, const tcpi_ring_t *r, uint64_t pos,
                     uint32_t len)
{
    uint64_t off = pos % r->data_size;
    uint64_t first = r->data_size - off;

    if (first >= len) {
        memcpy(dst, data(r) + off, len);
    } else {
        memcpy(dst, data(r) + off, first);
        memcpy(dst + first, data(r), len - first);
    }
}

void tcpi_ring_write(tcpi_ring_t *r, uint64_t ts_ns, uint16_t iface,
                     int32_t linktype, uint32_t caplen, uint32_t wirelen,
                     const uint8_t *bytes)
{
    uint64_t n = atomic_load_explicit(&r->h->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&r->h->tail, memory_order_relaxed);
    uint64_t pos = atomic_load_explicit(&r->h->reserved, memory_order_relaxed);
    ring_desc_t *d = &descs(r)[n & (r->ndesc - 1)];

    if (caplen > r->max_caplen)
        caplen = (uint32_t)r->max_caplen;
    /* Evict what this record overwrites: its slot's previous owner and
     * every record whose bytes lie within the next caplen bytes. Only the
     * writer moves tail, so reading older descriptors here is safe. */
    while (tail < n) {
        const ring_desc_t *old = &descs(r)[tail & (r->ndesc - 1)];
        if (n - tail >= r->ndesc || old->pos + r->data_size < pos + caplen)
            tail++;
        else
            break;
    }
    atomic_store_explicit(&r->h->tail, tail, memory_order_relaxed);
    atomic_store_explicit(&r->h->reserved, pos + caplen, memory_order_relaxed);
    /* Its release fence also orders tail and reserved before the bytes. */
    tcpi_seqlock_write_begin_gen(&d->seq, n);
    d->pos = pos;
    d->ts_ns = ts_ns;
    d->caplen = caplen;
    d->wirelen = wirelen;
    d->iface = iface;
    d->linktype = linktype;
    copy_in(r, pos, bytes, caplen);
    tcpi_seqlock_write_end_gen(&d->seq, n);
    atomic_fetch_add_explicit(&r->h->bytes, caplen, memory_order_relaxed);
    atomic_store_explicit(&r->h->head, n + 1, memory_order_release);
}

void tcpi_ring_bounds(uint64_t *tail, uint64_t *head, const tcpi_ring_t *r)
{
    tcpi_ring_t *w = (tcpi_ring_t *)r;
    *head = atomic_load_explicit(&w->h->head, memory_order_acquire);
    *tail = atomic_load_explicit(&w->h->tail, memory_order_acquire);
    if (*tail > *head)
        *tail = *head;
}

int tcpi_ring_read(tcpi_ring_rec_t *rec, uint8_t *buf, size_t bufsize,
                   const tcpi_ring_t *r, uint64_t n)
{
    ring_desc_t *d = &descs(r)[n & (r->ndesc - 1)];
    tcpi_ring_t *w = (tcpi_ring_t *)r;
    uint64_t s1, pos, reserved;
    uint32_t len;

    if (tcpi_seqlock_read_begin_gen(&s1, &d->seq, n) != TCPI_SEQLOCK_OK)
        return -1;
    pos = d->pos;
    rec->n = n;
    rec->ts_ns = d->ts_ns;
    rec->caplen = d->caplen;
    rec->wirelen = d->wirelen;
    rec->iface = d->iface;
    rec->linktype = d->linktype;
    /* A torn descriptor can hold any length: clamp before copying, the
     * sequence check below throws the copy away anyway. */
    len = rec->caplen;
    if (len > r->max_caplen)
        len = (uint32_t)r->max_caplen;
    if (len > bufsize)
        len = (uint32_t)bufsize;
    copy_out(buf, r, pos, len);
    if (!tcpi_seqlock_read_valid(&d->seq, s1))
        return -1;
    /* After the fence of read_valid: a writer that reserved these bytes
     * for a later record did so before writing them. */
    reserved = atomic_load_explicit(&w->h->reserved, memory_order_relaxed);
    if (reserved - pos > r->data_size)
        return -1;
    rec->caplen = len;
    return 0;
}

void tcpi_ring_stats(tcpi_ring_stats_t *st, const tcpi_ring_t *r)
{
    tcpi_ring_t *w = (tcpi_ring_t *)r;
    uint64_t tail, head;

    memset(st, 0, sizeof(*st));
    tcpi_ring_bounds(&tail, &head, r);
    st->packets = head;
    st->bytes = atomic_load_explicit(&w->h->bytes, memory_order_relaxed);
    st->overwritten = tail;
    st->data_size = r->data_size;
    st->ndesc = r->ndesc;
    st->max_caplen = r->max_caplen;
    /* The oldest record may be overwritten while we look: retry a little. */
    for (int tries = 0; tries < 4 && tail < head; tries++, tail++) {
        ring_desc_t *d = &descs(r)[tail & (r->ndesc - 1)];
        uint64_t s1;
        int rc = tcpi_seqlock_read_begin_gen(&s1, &d->seq, tail);
        uint64_t ts = d->ts_ns, pos = d->pos;
        if (rc == TCPI_SEQLOCK_OK && tcpi_seqlock_read_valid(&d->seq, s1)) {
            uint64_t reserved = atomic_load_explicit(&w->h->reserved,
                                                     memory_order_relaxed);
            st->oldest_ts_ns = ts;
            st->used_bytes = reserved - pos;
            break;
        }
    }
}

uint64_t tcpi_ring_seek_time(const tcpi_ring_t *r, uint64_t ts_ns)
{
    uint64_t lo, hi, head;

    tcpi_ring_bounds(&lo, &head, r);
    hi = head;
    /* Timestamps are nearly monotonic (two handles interleave within a
     * poll batch); a binary search lands within a batch of the answer. */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        ring_desc_t *d = &descs(r)[mid & (r->ndesc - 1)];
        uint64_t s1;
        int rc = tcpi_seqlock_read_begin_gen(&s1, &d->seq, mid);
        uint64_t ts = d->ts_ns;
        if (rc != TCPI_SEQLOCK_OK || !tcpi_seqlock_read_valid(&d->seq, s1)) {
            lo = mid + 1;          /* overwritten: everything older is too */
            continue;
        }
        if (ts < ts_ns)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
