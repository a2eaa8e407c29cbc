/*
 * tcpi_ring.h — the recent-packet ring: one writer (the capture worker),
 * any number of readers in other processes, no lock shared with them.
 *
 * Layout inside the region handed to tcpi_ring_init (offsets, never
 * pointers, so every process can map it anywhere):
 *
 *   +--------------------+ 0
 *   | tcpi_ring_hdr_t    |  magic, sizes, head/tail/reserved counters
 *   +--------------------+ hdr.desc_off
 *   | desc[ndesc]        |  fixed 40-byte descriptors, ndesc a power of 2
 *   +--------------------+ hdr.data_off
 *   | data[data_size]    |  packet bytes, a byte ring addressed by a
 *   |                    |  monotonic 64-bit position (pos % data_size)
 *   +--------------------+
 *
 * Packet number n lives in desc[n % ndesc]. Its seq is 2n+1 while being
 * written and 2n+2 once complete (a per-record seqlock of generation n,
 * tcpi_seqlock.h). The writer first
 * publishes `reserved` (the end of the bytes it is about to overwrite),
 * so a reader that copied a record and then finds
 * reserved - pos > data_size knows the bytes were overwritten under it.
 * When the ring is full the oldest records are overwritten and counted in
 * `tail` (packets lost to the ring = tail); the writer never waits.
 */
#ifndef TCPI_RING_H
#define TCPI_RING_H

#include <stddef.h>
#include <stdint.h>

typedef struct tcpi_ring tcpi_ring_t;

/** A copied record: valid only when tcpi_ring_read returned 0. */
typedef struct {
    uint64_t n;          /* packet number (monotonic since the worker started) */
    uint64_t ts_ns;      /* capture time, ns since the epoch */
    uint32_t caplen;     /* bytes kept */
    uint32_t wirelen;    /* length on the wire */
    uint16_t iface;      /* index into the shared interface table */
    int32_t  linktype;   /* LINKTYPE_* of the capture handle */
} tcpi_ring_rec_t;

/** Largest record kept (bytes): TCPInspectSnaplen's maximum. */
#define TCPI_RING_MAX_RECORD 262144u

/** Smallest region tcpi_ring_init accepts. */
#define TCPI_RING_MIN_REGION 65536

/** Format a region of `size` bytes as an empty ring. NULL if too small. */
tcpi_ring_t *tcpi_ring_init(void *mem, size_t size);
/** tcpi_ring_init for a region that is all zero (a fresh mapping): its
 *  descriptors are left as they are, so a ring never written costs no
 *  memory beyond its header's page. */
tcpi_ring_t *tcpi_ring_init_zeroed(void *mem, size_t size);
/** 0 when the header at mem is exactly what tcpi_ring_init(mem, size)
 *  writes (the writer's check before it trusts an offset), else -1. */
int tcpi_ring_check(const void *mem, size_t size);
/** Use a region of `size` bytes formatted by tcpi_ring_init (after a
 *  magic check). The geometry comes from size, never from the header:
 *  whoever else can write the ring cannot move this process's accesses.
 *  Handles are per process and per address, and live as long as it. */
tcpi_ring_t *tcpi_ring_attach(void *mem, size_t size);

/** Append one packet (caplen bytes of data). Never blocks; overwrites the
 *  oldest records when needed. Bytes beyond max_caplen are cut off. */
void tcpi_ring_write(tcpi_ring_t *r, uint64_t ts_ns, uint16_t iface,
                     int32_t linktype, uint32_t caplen, uint32_t wirelen,
                     const uint8_t *data);

/** The oldest still-valid packet number and the next to be written:
 *  packets [*tail, *head) may be read. */
void tcpi_ring_bounds(uint64_t *tail, uint64_t *head, const tcpi_ring_t *r);

/** Copy packet n into rec/buf (buf holds up to bufsize bytes; a longer
 *  packet is cut to bufsize and rec->caplen says so). Returns 0, or -1
 *  when n is not (or no longer) in the ring or was torn by the writer. */
int tcpi_ring_read(tcpi_ring_rec_t *rec, uint8_t *buf, size_t bufsize,
                   const tcpi_ring_t *r, uint64_t n);

/** Counters for the status page. */
typedef struct {
    uint64_t packets;      /* written since start */
    uint64_t bytes;        /* captured bytes written */
    uint64_t overwritten;  /* records lost to the ring bound */
    uint64_t data_size;    /* bytes of the data area */
    uint64_t ndesc;        /* record slots */
    uint64_t used_bytes;   /* bytes held by valid records */
    uint64_t oldest_ts_ns; /* timestamp of the oldest valid record, 0 if empty */
    uint64_t max_caplen;   /* largest record the ring accepts */
} tcpi_ring_stats_t;
void tcpi_ring_stats(tcpi_ring_stats_t *st, const tcpi_ring_t *r);

/** Find the first packet number >= from whose timestamp is >= ts_ns
 *  (binary search over valid records; head if none). */
uint64_t tcpi_ring_seek_time(const tcpi_ring_t *r, uint64_t ts_ns);

#endif
