/*
 * tcpi_seqlock.h — the one seqlock of the shared region: a 64-bit
 * sequence next to the bytes it protects, no lock a reader could hold.
 *
 *   writer                               reader (any process)
 *   seq = odd            (relaxed)        s1 = seq            (acquire)
 *   fence(release)                        s1 odd or not wanted: stop
 *   write the bytes                       copy the bytes
 *   seq = odd + 1        (release)        fence(acquire)
 *                                         s2 = seq            (relaxed)
 *                                         s1 == s2: the copy is whole
 *
 * The writer's release fence keeps its data stores after the odd value;
 * the reader's acquire fence keeps its data loads before the second look
 * (Boehm, "Can seqlocks get along with programming language memory
 * models?", 2012). The bytes are copied with plain memcpy, as every
 * seqlock does in practice (the Linux kernel's too): a copy that raced a
 * writer is thrown away, never used.
 *
 * Generation-encoded form: the value names what the bytes are, 2g+1
 * while generation g is written and 2g+2 once it is complete (g: a record
 * number whose slot is g % LEN, a publication number). A reader asks for
 * the generation it wants and is told what the slot held otherwise, so it
 * can reject a stale or future slot, or one no writer could have left.
 *
 * Readers treat the sequence as untrusted (another process writes it):
 * nothing here loops; the plain copy tries a bounded number of times and
 * reports a torn read as torn.
 */
#ifndef TCPI_SEQLOCK_H
#define TCPI_SEQLOCK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum {
    TCPI_SEQLOCK_OK = 0,
    TCPI_SEQLOCK_ABSENT = -1,    /* not the generation asked for (never
                                    written, being written, older, newer) */
    TCPI_SEQLOCK_TORN = -2,      /* written while it was copied */
};

/** The sequence values of generation g: being written, complete. */
static inline uint64_t tcpi_seq_writing(uint64_t g)
{
    return 2 * g + 1;
}

static inline uint64_t tcpi_seq_done(uint64_t g)
{
    return 2 * g + 2;
}

/** The generation a non-zero sequence value names, complete or being
 *  written (tcpi_seq_busy tells which). */
static inline uint64_t tcpi_seq_gen(uint64_t s)
{
    return (s - 1) / 2;
}

static inline int tcpi_seq_busy(uint64_t s)
{
    return (int)(s & 1);
}

/* ---- the writer (one at a time per sequence) ---------------------------- */

/** Start writing generation g. */
static inline void tcpi_seqlock_write_begin_gen(_Atomic uint64_t *seq,
                                                uint64_t g)
{
    atomic_store_explicit(seq, tcpi_seq_writing(g), memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

/** Generation g is complete. */
static inline void tcpi_seqlock_write_end_gen(_Atomic uint64_t *seq,
                                              uint64_t g)
{
    atomic_store_explicit(seq, tcpi_seq_done(g), memory_order_release);
}

/** Start a write of the plain form; returns the odd value to hand to
 *  tcpi_seqlock_write_end. A sequence left odd (a writer that died
 *  mid-write) moves on to the next odd value. */
static inline uint64_t tcpi_seqlock_write_begin(_Atomic uint64_t *seq)
{
    uint64_t w = (atomic_load_explicit(seq, memory_order_relaxed) + 1) | 1;

    atomic_store_explicit(seq, w, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    return w;
}

static inline void tcpi_seqlock_write_end(_Atomic uint64_t *seq, uint64_t w)
{
    atomic_store_explicit(seq, w + 1, memory_order_release);
}

/* ---- the readers -------------------------------------------------------- */

/** The first look, before copying. */
static inline uint64_t tcpi_seqlock_read_begin(const _Atomic uint64_t *seq)
{
    return atomic_load_explicit((_Atomic uint64_t *)seq, memory_order_acquire);
}

/** The second look, after copying: 1 when nothing was written meanwhile
 *  (the copy made since tcpi_seqlock_read_begin returned s1 is whole). */
static inline int tcpi_seqlock_read_valid(const _Atomic uint64_t *seq,
                                          uint64_t s1)
{
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit((_Atomic uint64_t *)seq,
                                memory_order_relaxed) == s1;
}

/** The first look of the generation-encoded form: TCPI_SEQLOCK_OK when
 *  the bytes are generation g, complete; else TCPI_SEQLOCK_ABSENT. *seen
 *  is the value found either way. */
static inline int tcpi_seqlock_read_begin_gen(uint64_t *seen,
                                              const _Atomic uint64_t *seq,
                                              uint64_t g)
{
    *seen = tcpi_seqlock_read_begin(seq);
    return *seen == tcpi_seq_done(g) ? TCPI_SEQLOCK_OK : TCPI_SEQLOCK_ABSENT;
}

/** Copy len bytes of generation g from src into dst: TCPI_SEQLOCK_OK,
 *  TCPI_SEQLOCK_ABSENT (dst untouched; *seen says what the sequence held)
 *  or TCPI_SEQLOCK_TORN (dst holds a mix: do not use it). */
static inline int tcpi_seqlock_copy_gen(void *dst, const void *src, size_t len,
                                        const _Atomic uint64_t *seq, uint64_t g,
                                        uint64_t *seen)
{
    uint64_t s1;

    if (tcpi_seqlock_read_begin_gen(&s1, seq, g) != TCPI_SEQLOCK_OK) {
        if (seen != NULL)
            *seen = s1;
        return TCPI_SEQLOCK_ABSENT;
    }
    if (seen != NULL)
        *seen = s1;
    memcpy(dst, src, len);
    return tcpi_seqlock_read_valid(seq, s1) ? TCPI_SEQLOCK_OK : TCPI_SEQLOCK_TORN;
}

/** Copy len bytes of the plain form, trying at most tries times (no
 *  waiting in between): TCPI_SEQLOCK_OK, or TCPI_SEQLOCK_TORN when every
 *  try found a write under way (dst then holds no consistent copy). */
static inline int tcpi_seqlock_copy(void *dst, const void *src, size_t len,
                                    const _Atomic uint64_t *seq, int tries)
{
    for (int i = 0; i < tries; i++) {
        uint64_t s1 = tcpi_seqlock_read_begin(seq);
        if (tcpi_seq_busy(s1))
            continue;
        memcpy(dst, src, len);
        if (tcpi_seqlock_read_valid(seq, s1))
            return TCPI_SEQLOCK_OK;
    }
    return TCPI_SEQLOCK_TORN;
}

#endif
