/* Unit tests for the seqlock (tcpi_seqlock.h): the sequence values of
 * both forms, a reader's answers for a slot never written, being written,
 * of another generation or rewritten under it, and two-thread torture
 * tests in which a writer fills blocks with a pattern derived from the
 * generation and a reader checks that every copy it accepted is one
 * generation's pattern; a reader that skips the second look must see
 * torn copies, so the check is shown to catch them. */
#include "tcpi_test.h"
#include "common/tcpi_seqlock.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#define WORDS 512                   /* 4 KiB: a copy overlaps a write */
#define SLOTS 8

typedef struct {
    _Atomic uint64_t seq;
    uint64_t w[WORDS];
} blk_t;

/* Word 0 names the generation, the others are derived from it. */
static uint64_t pattern(uint64_t g, int i)
{
    return i == 0 ? g : (g + 1) * 0x9e3779b97f4a7c15ull ^
                        (uint64_t)i * 0xbf58476d1ce4e5b9ull;
}

/* 1 when every word is generation g's. */
static int whole(const uint64_t *w, uint64_t g)
{
    for (int i = 0; i < WORDS; i++)
        if (w[i] != pattern(g, i))
            return 0;
    return 1;
}

static void fill(blk_t *b, uint64_t g)
{
    for (int i = 0; i < WORDS; i++)
        b->w[i] = pattern(g, i);
}

static void test_values(void **state)
{
    assert_int_equal(tcpi_seq_writing(3), 7);
    assert_int_equal(tcpi_seq_done(3), 8);
    assert_int_equal(tcpi_seq_gen(7), 3);
    assert_int_equal(tcpi_seq_gen(8), 3);
    assert_true(tcpi_seq_busy(7));
    assert_false(tcpi_seq_busy(8));
    assert_int_equal(tcpi_seq_done(0), 2);
}

/* The generation form: what a reader is told at each step. */
static void test_generation_edges(void **state)
{
    static blk_t b;
    uint64_t out[WORDS], seen = 99, s1;

    memset(&b, 0, sizeof(b));
    memset(out, 0xab, sizeof(out));
    /* Never written: absent, nothing copied. */
    assert_int_equal(tcpi_seqlock_copy_gen(out, b.w, sizeof(out), &b.seq, 0,
                                           &seen), TCPI_SEQLOCK_ABSENT);
    assert_int_equal(seen, 0);
    assert_int_equal(out[0], 0xababababababababull);
    /* Being written (odd): absent, and the value says which one. */
    tcpi_seqlock_write_begin_gen(&b.seq, 5);
    fill(&b, 5);
    assert_int_equal(tcpi_seqlock_copy_gen(out, b.w, sizeof(out), &b.seq, 5,
                                           &seen), TCPI_SEQLOCK_ABSENT);
    assert_true(tcpi_seq_busy(seen));
    assert_int_equal(tcpi_seq_gen(seen), 5);
    assert_int_equal(out[0], 0xababababababababull);
    /* The plain form gives up after its tries, reporting it torn. */
    assert_int_equal(tcpi_seqlock_copy(out, b.w, sizeof(out), &b.seq, 3),
                     TCPI_SEQLOCK_TORN);
    tcpi_seqlock_write_end_gen(&b.seq, 5);
    assert_int_equal(tcpi_seqlock_copy_gen(out, b.w, sizeof(out), &b.seq, 5,
                                           &seen), TCPI_SEQLOCK_OK);
    assert_int_equal(seen, tcpi_seq_done(5));
    assert_true(whole(out, 5));
    /* Another generation, older or newer than the one asked for. */
    assert_int_equal(tcpi_seqlock_copy_gen(out, b.w, sizeof(out), &b.seq, 4,
                                           &seen), TCPI_SEQLOCK_ABSENT);
    assert_int_equal(tcpi_seq_gen(seen), 5);
    assert_int_equal(tcpi_seqlock_copy_gen(out, b.w, sizeof(out), &b.seq,
                                           5 + SLOTS, NULL), TCPI_SEQLOCK_ABSENT);
    /* Rewritten between the two looks: the second look says so. */
    assert_int_equal(tcpi_seqlock_read_begin_gen(&s1, &b.seq, 5), TCPI_SEQLOCK_OK);
    tcpi_seqlock_write_begin_gen(&b.seq, 5 + SLOTS);
    assert_false(tcpi_seqlock_read_valid(&b.seq, s1));
    tcpi_seqlock_write_end_gen(&b.seq, 5 + SLOTS);
    assert_false(tcpi_seqlock_read_valid(&b.seq, s1));
    /* Nothing written between the looks: valid. */
    assert_int_equal(tcpi_seqlock_read_begin_gen(&s1, &b.seq, 5 + SLOTS),
                     TCPI_SEQLOCK_OK);
    assert_true(tcpi_seqlock_read_valid(&b.seq, s1));
}

/* The plain form: odd while written, even after; a sequence left odd by
 * a writer that died moves on to the next odd value. */
static void test_plain_edges(void **state)
{
    static blk_t b;
    uint64_t out[WORDS], w;

    memset(&b, 0, sizeof(b));
    w = tcpi_seqlock_write_begin(&b.seq);
    assert_int_equal(w, 1);
    fill(&b, 1);
    assert_int_equal(tcpi_seqlock_copy(out, b.w, sizeof(out), &b.seq, 4),
                     TCPI_SEQLOCK_TORN);
    tcpi_seqlock_write_end(&b.seq, w);
    assert_int_equal(atomic_load(&b.seq), 2);
    assert_int_equal(tcpi_seqlock_copy(out, b.w, sizeof(out), &b.seq, 4),
                     TCPI_SEQLOCK_OK);
    assert_true(whole(out, 1));
    atomic_store(&b.seq, 3);                 /* a writer died mid-write */
    w = tcpi_seqlock_write_begin(&b.seq);
    assert_int_equal(w, 5);
    tcpi_seqlock_write_end(&b.seq, w);
    assert_int_equal(atomic_load(&b.seq), 6);
    /* Zero tries: nothing copied, torn. */
    assert_int_equal(tcpi_seqlock_copy(out, b.w, sizeof(out), &b.seq, 0),
                     TCPI_SEQLOCK_TORN);
}

/* ---- torture -------------------------------------------------------- */

typedef struct {
    blk_t            slot[SLOTS];
    _Atomic uint64_t head;          /* generations complete */
    _Atomic int      stop;
    int              plain;         /* one block, the plain form */
} arena_t;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Generation g into slot g % SLOTS (the plain form: the generation its
 * odd value names, always into slot 0), until told to stop; a pause of
 * varying length after each write, so that the reader's copies both
 * overlap writes and fall between them. */
static void *writer(void *arg)
{
    arena_t *a = arg;

    for (uint64_t g = 0; !atomic_load_explicit(&a->stop, memory_order_relaxed);
         g++) {
        blk_t *b = &a->slot[a->plain ? 0 : g % SLOTS];
        uint64_t w = 0;
        if (a->plain)
            w = tcpi_seqlock_write_begin(&b->seq);
        else
            tcpi_seqlock_write_begin_gen(&b->seq, g);
        for (int i = 0; i < WORDS; i++)
            b->w[i] = pattern(a->plain ? tcpi_seq_gen(w) : g, i);
        if (a->plain)
            tcpi_seqlock_write_end(&b->seq, w);
        else
            tcpi_seqlock_write_end_gen(&b->seq, g);
        atomic_store_explicit(&a->head, g + 1, memory_order_release);
        for (uint64_t spin = (g * 7919) % 2048; spin > 0; spin--)
            (void)atomic_load_explicit(&a->stop, memory_order_relaxed);
    }
    return NULL;
}

typedef struct {
    uint64_t ok, bad, absent, torn, residue;
} tally_t;

/* Read for ns nanoseconds. checked = 0: the plain copy of a reader that
 * takes no second look (the control). */
static void reader(tally_t *t, arena_t *a, uint64_t ns, int checked)
{
    uint64_t out[WORDS], end = mono_ns() + ns;

    memset(t, 0, sizeof(*t));
    for (uint64_t n = 0; (n & 63) != 0 || mono_ns() < end; n++) {
        uint64_t head = atomic_load_explicit(&a->head, memory_order_acquire);
        if (head == 0)
            continue;
        if (a->plain) {
            blk_t *b = &a->slot[0];
            if (!checked) {
                memcpy(out, b->w, sizeof(out));
            } else if (tcpi_seqlock_copy(out, b->w, sizeof(out), &b->seq, 4) !=
                       TCPI_SEQLOCK_OK) {
                t->torn++;
                continue;
            }
            if (whole(out, out[0]))
                t->ok++;
            else
                t->bad++;
            continue;
        }
        /* One of the recent generations, in any of the slots. */
        uint64_t back = n % SLOTS, seen;
        uint64_t k = head - 1 - (back < head ? back : 0);
        blk_t *b = &a->slot[k % SLOTS];
        int rc = tcpi_seqlock_copy_gen(out, b->w, sizeof(out), &b->seq, k, &seen);
        if (rc == TCPI_SEQLOCK_OK) {
            if (whole(out, k))
                t->ok++;
            else
                t->bad++;
        } else if (rc == TCPI_SEQLOCK_TORN) {
            t->torn++;
        } else {
            t->absent++;
            /* a slot only ever holds generations of its own residue */
            if (seen != 0 && tcpi_seq_gen(seen) % SLOTS != k % SLOTS)
                t->residue++;
        }
    }
}

static void torture(tally_t *t, int plain, int checked, uint64_t ns)
{
    arena_t *a = calloc(1, sizeof(*a));
    pthread_t th;

    a->plain = plain;
    assert_int_equal(pthread_create(&th, NULL, writer, a), 0);
    reader(t, a, ns, checked);
    atomic_store(&a->stop, 1);
    pthread_join(th, NULL);
    print_message("%s%s: %llu writes, ok=%llu bad=%llu torn=%llu absent=%llu\n",
                  plain ? "plain" : "generation", checked ? "" : " (no check)",
                  (unsigned long long)atomic_load(&a->head),
                  (unsigned long long)t->ok, (unsigned long long)t->bad,
                  (unsigned long long)t->torn, (unsigned long long)t->absent);
    free(a);
}

/* Every copy the reader accepted is one generation's, and the one it
 * asked for; slots hold only their own residue. */
static void test_torture_generation(void **state)
{
    tally_t t;

    torture(&t, 0, 1, 400000000ull);
    assert_int_equal(t.bad, 0);
    assert_int_equal(t.residue, 0);
    assert_true(t.ok > 0);
}

static void test_torture_plain(void **state)
{
    tally_t t;

    torture(&t, 1, 1, 400000000ull);
    assert_int_equal(t.bad, 0);
    assert_true(t.ok > 0);
}

/* The control: the same copies without the seqlock's looks are torn,
 * and the pattern check sees it (with two CPUs to race on). */
static void test_torture_control(void **state)
{
    tally_t t;

    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        print_message("skipped: one CPU, the threads never overlap\n");
        skip();
    }
    torture(&t, 1, 0, 200000000ull);
    assert_true(t.bad > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_generation_edges),
        cmocka_unit_test(test_plain_edges),
        cmocka_unit_test(test_torture_generation),
        cmocka_unit_test(test_torture_plain),
        cmocka_unit_test(test_torture_control),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
