/* Unit tests for the seqlock packet ring: order, eviction, wrap, and a
 * writer with concurrent readers that must never see a torn record. */
#include "tcpi_test.h"
#include "common/tcpi_config.h"
#include "store/tcpi_ring.h"

#include <pthread.h>
#include <stdatomic.h>

static uint32_t len_of(uint64_t n) { return (uint32_t)(40 + (n * 7919) % 1400); }
static uint8_t byte_of(uint64_t n, uint32_t i) { return (uint8_t)(n * 131 + i * 7); }

static void fill(uint8_t *buf, uint64_t n)
{
    for (uint32_t i = 0; i < len_of(n); i++)
        buf[i] = byte_of(n, i);
}

static int check(const tcpi_ring_rec_t *rec, const uint8_t *buf)
{
    if (rec->caplen != len_of(rec->n) || rec->wirelen != len_of(rec->n) + 1 ||
        rec->ts_ns != rec->n * 1000 || rec->iface != rec->n % 3 ||
        rec->linktype != 1)
        return -1;
    for (uint32_t i = 0; i < rec->caplen; i++)
        if (buf[i] != byte_of(rec->n, i))
            return -1;
    return 0;
}

static void put(tcpi_ring_t *r, uint64_t n)
{
    uint8_t buf[2048];
    fill(buf, n);
    tcpi_ring_write(r, n * 1000, (uint16_t)(n % 3), 1, len_of(n), len_of(n) + 1, buf);
}

static void test_small_region(void **state)
{
    static uint8_t mem[TCPI_RING_MIN_REGION];
    assert_null(tcpi_ring_init(mem, sizeof(mem) - 1));
    assert_null(tcpi_ring_init(NULL, sizeof(mem)));
    assert_non_null(tcpi_ring_init(mem, sizeof(mem)));
    assert_non_null(tcpi_ring_attach(mem, sizeof(mem)));
    static uint8_t junk[TCPI_RING_MIN_REGION] = { 1, 2, 3 };
    assert_null(tcpi_ring_attach(junk, sizeof(junk)));
}

static void test_order_and_eviction(void **state)
{
    size_t size = 1 << 20;
    void *mem = malloc(size);
    tcpi_ring_t *r = tcpi_ring_init(mem, size);
    uint64_t tail, head;
    uint8_t buf[4096];
    tcpi_ring_rec_t rec;

    tcpi_ring_bounds(&tail, &head, r);
    assert_int_equal(tail, 0);
    assert_int_equal(head, 0);
    assert_int_equal(tcpi_ring_read(&rec, buf, sizeof(buf), r, 0), -1);

    for (uint64_t n = 0; n < 100; n++)
        put(r, n);
    tcpi_ring_bounds(&tail, &head, r);
    assert_int_equal(tail, 0);
    assert_int_equal(head, 100);
    for (uint64_t n = 0; n < 100; n++) {
        assert_int_equal(tcpi_ring_read(&rec, buf, sizeof(buf), r, n), 0);
        assert_int_equal(check(&rec, buf), 0);
    }
    assert_int_equal(tcpi_ring_read(&rec, buf, sizeof(buf), r, 100), -1);

    /* Far more than fits: the oldest are overwritten and counted. */
    for (uint64_t n = 100; n < 20000; n++)
        put(r, n);
    tcpi_ring_stats_t st;
    tcpi_ring_stats(&st, r);
    tcpi_ring_bounds(&tail, &head, r);
    assert_int_equal(head, 20000);
    assert_true(tail > 0);
    assert_int_equal(st.overwritten, tail);
    assert_true(st.used_bytes <= st.data_size);
    assert_int_equal(st.oldest_ts_ns, tail * 1000);
    assert_int_equal(tcpi_ring_read(&rec, buf, sizeof(buf), r, tail - 1), -1);
    for (uint64_t n = tail; n < head; n++) {
        assert_int_equal(tcpi_ring_read(&rec, buf, sizeof(buf), r, n), 0);
        assert_int_equal(check(&rec, buf), 0);
    }
    /* Seek by time. */
    assert_int_equal(tcpi_ring_seek_time(r, 0), tail);
    assert_int_equal(tcpi_ring_seek_time(r, 19990 * 1000), 19990);
    assert_int_equal(tcpi_ring_seek_time(r, 19990 * 1000 - 1), 19990);
    assert_int_equal(tcpi_ring_seek_time(r, UINT64_MAX), head);
    free(mem);
}

static void test_truncating_reads(void **state)
{
    size_t size = 1 << 20;
    void *mem = malloc(size);
    tcpi_ring_t *r = tcpi_ring_init(mem, size);
    uint8_t big[300000], buf[16];
    tcpi_ring_rec_t rec;
    tcpi_ring_stats_t st;

    memset(big, 0xab, sizeof(big));
    tcpi_ring_write(r, 1, 0, 1, sizeof(big), sizeof(big), big);
    tcpi_ring_stats(&st, r);
    assert_int_equal(tcpi_ring_read(&rec, buf, sizeof(buf), r, 0), 0);
    assert_int_equal(rec.caplen, sizeof(buf));
    assert_int_equal(rec.wirelen, sizeof(big));
    assert_int_equal(buf[15], 0xab);
    uint8_t *all = malloc(sizeof(big));
    assert_int_equal(tcpi_ring_read(&rec, all, sizeof(big), r, 0), 0);
    assert_int_equal(rec.caplen, st.max_caplen); /* cut to the ring's bound */
    free(all);
    free(mem);

    /* A large ring: records (and so every reader's buffer) stay bounded by
     * the largest snaplen, not by a quarter of the ring. */
    size = 64u << 20;
    mem = malloc(size);
    r = tcpi_ring_init(mem, size);
    tcpi_ring_stats(&st, r);
    assert_int_equal(st.max_caplen, TCPI_RING_MAX_RECORD);
    assert_true(TCPI_SNAPLEN_MAX <= TCPI_RING_MAX_RECORD);
    free(mem);
}

typedef struct {
    tcpi_ring_t *r;
    atomic_int done;
    atomic_ulong ok, gone, torn;
} race_t;

static void *reader(void *arg)
{
    race_t *rc = arg;
    uint8_t *buf = malloc(4096);
    tcpi_ring_rec_t rec;
    while (!atomic_load(&rc->done)) {
        uint64_t tail, head;
        tcpi_ring_bounds(&tail, &head, rc->r);
        for (uint64_t n = tail; n < head; n += 1 + (n % 5)) {
            if (tcpi_ring_read(&rec, buf, 4096, rc->r, n) != 0) {
                atomic_fetch_add(&rc->gone, 1);
                continue;
            }
            if (rec.n != n || check(&rec, buf) != 0)
                atomic_fetch_add(&rc->torn, 1);
            else
                atomic_fetch_add(&rc->ok, 1);
        }
    }
    free(buf);
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    /* A small ring so that the writer laps readers constantly. */
    size_t size = TCPI_RING_MIN_REGION * 2;
    void *mem = malloc(size);
    race_t rc = { .r = tcpi_ring_init(mem, size) };
    pthread_t th[3];

    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, reader, &rc);
    for (uint64_t n = 0; n < 2000000; n++)
        put(rc.r, n);
    atomic_store(&rc.done, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    print_message("reads ok=%lu gone=%lu torn=%lu\n", atomic_load(&rc.ok),
                  atomic_load(&rc.gone), atomic_load(&rc.torn));
    assert_int_equal(atomic_load(&rc.torn), 0);
    assert_true(atomic_load(&rc.ok) > 0);
    free(mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_region),
        cmocka_unit_test(test_order_and_eviction),
        cmocka_unit_test(test_truncating_reads),
        cmocka_unit_test(test_concurrent_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
