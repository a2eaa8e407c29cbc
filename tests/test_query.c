/* Unit tests for packet selection: BPF filter per link type, interface,
 * since, limit (newest N), time window, bad expressions. */
#include "tcpi_test.h"
#include "tcpi_query.h"

static void *mem;
static tcpi_shm_t *shm;

/* Ethernet + IPv4 + TCP (no options), ports as given. */
static size_t mk_pkt(uint8_t *p, uint16_t sport, uint16_t dport)
{
    memset(p, 0, 54);
    p[12] = 0x08;                               /* ethertype IPv4 */
    p[14] = 0x45; p[17] = 40; p[22] = 64; p[23] = 6;
    p[26] = 127; p[29] = 1; p[30] = 127; p[33] = 1;
    p[34] = sport >> 8; p[35] = sport & 0xff;
    p[36] = dport >> 8; p[37] = dport & 0xff;
    p[46] = 0x50; p[47] = 0x10;                 /* hlen 20, ACK */
    return 54;
}

static int setup(void **state)
{
    size_t size = tcpi_shm_size(1 << 20);
    uint8_t pkt[64];

    mem = calloc(1, size);
    shm = tcpi_shm_init(mem, 1 << 20, 1);
    tcpi_shm_add_iface(shm, "veth0", TCPI_LEG_FRONT, "tcp");
    tcpi_shm_add_iface(shm, "lo", TCPI_LEG_BACKEND, "tcp");
    atomic_store(&shm->iface[0].linktype, DLT_EN10MB);
    atomic_store(&shm->iface[1].linktype, DLT_EN10MB);
    tcpi_ring_t *r = tcpi_shm_ring(shm);
    /* Packet n: even n on veth0 port 80, odd n on lo port 7001. */
    for (uint64_t n = 0; n < 100; n++) {
        size_t len = mk_pkt(pkt, 40000 + (uint16_t)n, n % 2 ? 7001 : 80);
        tcpi_ring_write(r, 1000000000ull * (100 + n), (uint16_t)(n % 2),
                        DLT_EN10MB, (uint32_t)len, (uint32_t)len, pkt);
    }
    return 0;
}

static int teardown(void **state) { free(mem); return 0; }

static int collect(tcpi_query_t *q, uint64_t *out, int max)
{
    uint8_t buf[256];
    tcpi_ring_rec_t rec;
    int n = 0;

    tcpi_query_start(q, buf, sizeof(buf));
    while (tcpi_query_next(q, &rec, buf, sizeof(buf)) && n < max)
        out[n++] = rec.n;
    return n;
}

static void test_filter_and_limit(void **state)
{
    tcpi_query_t q;
    char err[256];
    uint64_t got[128];

    assert_int_equal(tcpi_query_init(&q, shm, -1, NULL, err, sizeof(err)), 0);
    assert_int_equal(collect(&q, got, 128), 100);
    tcpi_query_free(&q);

    assert_int_equal(tcpi_query_init(&q, shm, -1, "tcp dst port 7001", err, sizeof(err)), 0);
    assert_int_equal(collect(&q, got, 128), 50);
    assert_int_equal(got[0], 1);
    assert_int_equal(got[49], 99);
    tcpi_query_free(&q);

    assert_int_equal(tcpi_query_init(&q, shm, -1, "port 80 and src port 40010", err,
                                     sizeof(err)), 0);
    assert_int_equal(collect(&q, got, 128), 1);
    assert_int_equal(got[0], 10);
    tcpi_query_free(&q);

    /* The newest 5 on port 80, oldest first. */
    assert_int_equal(tcpi_query_init(&q, shm, -1, "port 80", err, sizeof(err)), 0);
    q.limit = 5;
    assert_int_equal(collect(&q, got, 128), 5);
    assert_int_equal(got[0], 90);
    assert_int_equal(got[4], 98);
    tcpi_query_free(&q);

    /* Interface, since and time window. */
    assert_int_equal(tcpi_query_init(&q, shm, 1, NULL, err, sizeof(err)), 0);
    q.since = 90;
    assert_int_equal(collect(&q, got, 128), 5);
    assert_int_equal(got[0], 91);
    tcpi_query_free(&q);
    assert_int_equal(tcpi_query_init(&q, shm, -1, NULL, err, sizeof(err)), 0);
    q.from_ts_ns = 1000000000ull * 195;
    assert_int_equal(collect(&q, got, 128), 5);
    assert_int_equal(got[0], 95);
    q.limit = 1000;                 /* more than there is */
    assert_int_equal(collect(&q, got, 128), 5);
    tcpi_query_free(&q);
}

static void test_bad_filter(void **state)
{
    tcpi_query_t q;
    char err[256] = "";
    assert_int_equal(tcpi_query_init(&q, shm, -1, "tcp port", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "syntax error"));
    assert_int_equal(tcpi_query_init(&q, shm, -1, "port 99999", err, sizeof(err)), -1);
    assert_true(strlen(err) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_and_limit),
        cmocka_unit_test(test_bad_filter),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
