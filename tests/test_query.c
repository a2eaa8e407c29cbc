/* Unit tests for packet selection: BPF filter per link type, interface,
 * since, limit (newest N, oldest N, counted), time window, bad and
 * refused expressions, the headers-only view the filter gets where
 * payload is hidden, and the scan budget. */
#include "tcpi_test.h"
#include "render/tcpi_query.h"
#include "render/tcpi_bpfcheck.h"

#include <time.h>

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

/* ---- what the filter sees -------------------------------------------- */

/* A ring of its own with one Ethernet interface. */
static tcpi_shm_t *own_ring(void **memp)
{
    size_t size = tcpi_shm_size(1 << 20);
    tcpi_shm_t *s;

    *memp = calloc(1, size);
    s = tcpi_shm_init(*memp, 1 << 20, 1);
    tcpi_shm_add_iface(s, "lo", TCPI_LEG_BACKEND, "tcp");
    atomic_store(&s->iface[0].linktype, DLT_EN10MB);
    return s;
}

static void put(tcpi_shm_t *s, const uint8_t *f, uint32_t len)
{
    tcpi_ring_write(tcpi_shm_ring(s), 1000, 0, DLT_EN10MB, len, len, f);
}

/* Ethernet + IPv4 (id and total length as given) + TCP 40000 -> 7001
 * PSH|ACK + an HTTP request carrying a cookie, padded with '.' up to the
 * total length. *secret: offset of "abc" in the frame. */
static uint32_t http_frame(uint8_t *p, uint16_t ip_id, uint16_t iplen,
                           uint32_t *secret)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: app\r\n"
                              "Cookie: SID=abc\r\n\r\n";
    uint32_t plen = iplen - 40u;

    tcpi_test_frame(p, 40000, 7001, plen);
    p[16] = (uint8_t)(iplen >> 8);
    p[17] = (uint8_t)iplen;
    p[18] = (uint8_t)(ip_id >> 8);
    p[19] = (uint8_t)ip_id;
    memset(p + 54, '.', plen);
    memcpy(p + 54, req, sizeof(req) - 1);
    *secret = 54 + (uint32_t)(strstr(req, "SID=abc") - req) + 4;
    return 54 + plen;
}

static int count_matches(tcpi_shm_t *s, const char *filter, unsigned flags)
{
    static uint8_t buf[4096];
    tcpi_query_t q;
    tcpi_ring_rec_t rec;
    char err[256];
    int n = 0;

    if (tcpi_query_init_ex(&q, s, -1, filter, flags, err, sizeof(err)) != 0)
        fail_msg("\"%s\": %s", filter, err);
    tcpi_query_start(&q, buf, sizeof(buf));
    while (tcpi_query_next(&q, &rec, buf, sizeof(buf)))
        n++;
    tcpi_query_free(&q);
    return n;
}

/* The oracle: `mpls` (or `vlan`) moves libpcap's idea of where the
 * network header starts, so that ip6[k] (ip[k]) reads the frame at 18 + k
 * once the shifted "MPLS bottom of stack"/"IPv6 version" (or "ethertype")
 * checks pass; an IPv4 id of 0x6xxx and a total length of 0x01xx (or
 * 0x0800) make them pass. A guess of a cookie byte then selects the packet
 * or not. Two rings hold the same request but for the cookie value (abc,
 * xyz): where payload is hidden every guess gets the same answer from
 * both, so no answer tells a cookie byte; where it is visible the guesses
 * tell them apart (so the test can fail). */
static void test_offset_shift_oracle(void **state)
{
    static const struct {
        const char *fmt;
        uint16_t ip_id, iplen;
    } v[] = {
        { "(mpls and less 1) or ip6[%u] = %u", 0x6001, 0x0140 },
        { "(vlan and less 1) or ip[%u] = %u", 0x0001, 0x0800 },
    };
    static uint8_t f[4096];
    char expr[128];
    uint32_t secret, len;
    void *m1, *m2;

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        tcpi_shm_t *s1 = own_ring(&m1), *s2 = own_ring(&m2);
        len = http_frame(f, v[i].ip_id, v[i].iplen, &secret);
        assert_memory_equal(f + secret, "abc", 3);
        put(s1, f, len);
        memcpy(f + secret, "xyz", 3);
        put(s2, f, len);
        for (uint32_t k = 0; k < 3; k++) {
            int right = 0, wrong = 0, told = 0;
            for (unsigned g = 0; g < 256; g++) {
                snprintf(expr, sizeof(expr), v[i].fmt, secret + k - 18, g);
                int p1 = count_matches(s1, expr, TCPI_QUERY_PAYLOAD);
                int p2 = count_matches(s2, expr, TCPI_QUERY_PAYLOAD);
                int h1 = count_matches(s1, expr, 0);
                int h2 = count_matches(s2, expr, 0);
                if (g == (unsigned char)"abc"[k])
                    right += p1;
                else
                    wrong += p1;
                told += p1 != p2;
                if (h1 != h2)
                    fail_msg("%s tells cookie byte %u apart", expr, k);
            }
            assert_int_equal(right, 1);
            assert_int_equal(wrong, 0);
            assert_int_equal(told, 2);     /* guessing either value */
        }
        /* Headers, and the wire length, still work where payload is hidden. */
        assert_int_equal(count_matches(s1, "tcp dst port 7001 and greater 300 "
                                           "and tcp[tcpflags] = 0x18", 0), 1);
        assert_int_equal(count_matches(s1, "less 300", 0), v[i].iplen < 300);
        free(m1);
        free(m2);
    }
}

/* Bytes a previous frame's longer headers left in the copy are cleared:
 * ether[60] is a TCP option of the first frame, payload of the second. */
static void test_headers_copy_cleared(void **state)
{
    uint8_t f1[128], f2[128];
    void *m;
    tcpi_shm_t *s = own_ring(&m);

    tcpi_test_frame(f1, 40000, 7001, 0);
    memmove(f1 + 66, f1 + 54, 0);
    f1[17] = 52;                               /* IP length 40 + 12 options */
    f1[46] = 0x80;                             /* TCP header 32 bytes */
    memset(f1 + 54, 0x01, 12);                 /* NOPs ... */
    f1[60] = 0x41;                             /* ... and one odd byte */
    put(s, f1, 66);
    tcpi_test_frame(f2, 40000, 7001, 20);
    f2[60] = 0x41;                             /* payload */
    put(s, f2, 74);
    assert_int_equal(count_matches(s, "ether[60] = 0x41", TCPI_QUERY_PAYLOAD), 2);
    assert_int_equal(count_matches(s, "ether[60] = 0x41", 0), 1);
    assert_int_equal(count_matches(s, "ether[60] = 0", 0), 1);
    free(m);
}

/* Where the headers end, frame by frame. */
static void test_headers_len(void **state)
{
    uint8_t f[256];

    /* Ethernet, IPv4, TCP: 54, whatever the payload. */
    tcpi_test_frame(f, 1, 2, 30);
    assert_int_equal(tcpi_query_headers_len(1, f, 84, 84), 54);
    /* cut inside the TCP header: all of it is header */
    assert_int_equal(tcpi_query_headers_len(1, f, 40, 84), 40);
    /* TCP options */
    f[46] = 0x80;
    assert_int_equal(tcpi_query_headers_len(1, f, 84, 84), 66);
    f[46] = 0x50;
    /* a data offset below 5 or beyond the IP length: the fixed header */
    f[46] = 0x30;
    assert_int_equal(tcpi_query_headers_len(1, f, 84, 84), 54);
    f[46] = 0xf0;
    f[17] = 60;
    assert_int_equal(tcpi_query_headers_len(1, f, 84, 84), 54);
    f[46] = 0x50;
    f[17] = 70;
    /* not TCP (UDP): the IP header only */
    f[23] = 17;
    assert_int_equal(tcpi_query_headers_len(1, f, 84, 84), 34);
    f[23] = 6;
    /* a non-first fragment: the IP header only */
    f[20] = 0x00;
    f[21] = 0x10;
    assert_int_equal(tcpi_query_headers_len(1, f, 84, 84), 34);
    f[21] = 0;
    /* IPv4 header length below 20: 20 of it */
    f[14] = 0x44;
    assert_int_equal(tcpi_query_headers_len(1, f, 84, 84), 34);
    f[14] = 0x45;
    /* version 6 where 4 is claimed: the link header */
    f[14] = 0x65;
    assert_int_equal(tcpi_query_headers_len(1, f, 84, 84), 14);
    f[14] = 0x45;
    /* MPLS, PPPoE, ARP...: the Ethernet header */
    f[12] = 0x88;
    f[13] = 0x47;
    assert_int_equal(tcpi_query_headers_len(1, f, 84, 84), 14);
    /* 802.1Q: the tag counts */
    memmove(f + 18, f + 14, 70);
    f[12] = 0x81; f[13] = 0x00; f[14] = 0; f[15] = 5; f[16] = 0x08; f[17] = 0;
    assert_int_equal(tcpi_query_headers_len(1, f, 88, 88), 58);
    /* Raw IPv4 and an unsupported link type */
    assert_int_equal(tcpi_query_headers_len(TCPI_LINKTYPE_RAW, f + 18, 70, 70), 40);
    assert_int_equal(tcpi_query_headers_len(147, f, 88, 88), 0);
    /* truncated link header: what there is */
    assert_int_equal(tcpi_query_headers_len(1, f, 10, 88), 10);

    /* IPv6: a hop-by-hop header is walked; an unknown one is not. */
    memset(f, 0, sizeof(f));
    f[12] = 0x86; f[13] = 0xdd;
    f[14] = 0x60;
    f[18] = 0; f[19] = 8 + 20 + 10;                /* payload length */
    f[20] = 0;                                     /* next: hop-by-hop */
    f[54] = 6;                                     /* then TCP */
    f[62 + 12] = 0x50;
    assert_int_equal(tcpi_query_headers_len(1, f, 100, 100), 82);
    f[20] = 135;                                   /* mobility: not walked */
    assert_int_equal(tcpi_query_headers_len(1, f, 100, 100), 54);
    f[20] = 44;                                    /* fragment, offset 8 */
    f[54] = 6;
    f[57] = 8;
    assert_int_equal(tcpi_query_headers_len(1, f, 100, 100), 62);
    f[20] = 0;
    f[55] = 20;                                    /* beyond the capture */
    assert_int_equal(tcpi_query_headers_len(1, f, 100, 100), 54);
}

/* ---- refused and bounded expressions ---------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_refused_filters(void **state)
{
    tcpi_query_t q;
    char err[512];
    static char expr[16384];
    size_t n = 0;

    assert_int_equal(tcpi_query_init(&q, shm, -1, "host some.name", err,
                                     sizeof(err)), -1);
    assert_non_null(strstr(err, "\"some.name\" is not a filter keyword"));
    assert_int_equal(tcpi_query_init_ex(&q, shm, -1, "tcp port http",
                                        TCPI_QUERY_PAYLOAD, err,
                                        sizeof(err)), -1);
    assert_non_null(strstr(err, "\"http\" is not a port number"));
    /* An expression like the 7 kB one (6.4 s to compile at 400
     * ports on this machine) answers at once. */
    for (int i = 1; n < 7168; i++)
        n += (size_t)snprintf(expr + n, sizeof(expr) - n, "%sport %d",
                              i > 1 ? " or " : "", i);
    double t0 = now_ms();
    assert_int_equal(tcpi_query_init(&q, shm, -1, expr, err, sizeof(err)), -1);
    assert_true(now_ms() - t0 < 100);
    assert_non_null(strstr(err, "longer than"));
    /* Within the lexical bounds but too long a program. */
    n = (size_t)snprintf(expr, sizeof(expr), "geneve 1 and (");
    for (int i = 2; i <= 16; i++)
        n += (size_t)snprintf(expr + n, sizeof(expr) - n,
                              "%sportrange %d-9000", i > 2 ? " or " : "", i);
    snprintf(expr + n, sizeof(expr) - n, ")");
    assert_int_equal(tcpi_bpfcheck(NULL, expr, err, sizeof(err)), 0);
    assert_int_equal(tcpi_query_init(&q, shm, -1, expr, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "BPF instructions, more than 2048"));
    /* and what passes compiles for both link types in the ring */
    assert_int_equal(tcpi_query_init(&q, shm, -1, "portrange 1-2 or port 80",
                                     err, sizeof(err)), 0);
    assert_int_equal(q.nprog, 1);
    assert_int_equal(q.headers_only, 1);
    tcpi_query_free(&q);
}

/* ---- budget ------------------------------------------------------------ */

static int n_mod4_is_1(void *ctx, const tcpi_ring_rec_t *rec,
                       const uint8_t *data)
{
    ++*(int *)ctx;
    return rec->n % 4 == 1;
}

static void test_budget(void **state)
{
    uint8_t buf[256];
    tcpi_ring_rec_t rec;
    tcpi_query_t q;
    char err[256];
    uint64_t got[128];
    int n, calls = 0;

    /* Forward without a window: stops after budget_packets, says so, and
     * leaves end where it stopped. */
    assert_int_equal(tcpi_query_init(&q, shm, -1, NULL, err, sizeof(err)), 0);
    assert_int_equal(q.budget_packets, TCPI_QUERY_BUDGET_PACKETS);
    assert_int_equal(q.budget_ns, TCPI_QUERY_BUDGET_MS * 1000000ull);
    q.budget_packets = 10;
    assert_int_equal(collect(&q, got, 128), 10);
    assert_int_equal(q.truncated, 1);
    assert_int_equal(q.examined, 10);
    assert_int_equal(q.end, 10);
    assert_int_equal(got[9], 9);
    /* A rewound pass over the same records is not charged again and is
     * cut at the same place. */
    q.next = 0;
    for (n = 0; tcpi_query_next(&q, &rec, buf, sizeof(buf)); n++)
        ;
    assert_int_equal(n, 10);
    assert_int_equal(q.examined, 10);
    /* Unbounded: all of it. */
    q.budget_packets = 0;
    assert_int_equal(collect(&q, got, 128), 100);
    assert_int_equal(q.truncated, 0);
    assert_int_equal(q.examined, 100);
    tcpi_query_free(&q);

    /* Newest N: the backward search is charged; a filter that matches
     * nothing stops after the budget, and the window is what it saw. */
    assert_int_equal(tcpi_query_init(&q, shm, -1, "port 9999", err,
                                     sizeof(err)), 0);
    q.limit = 5;
    q.budget_packets = 30;
    assert_int_equal(collect(&q, got, 128), 0);
    assert_int_equal(q.truncated, 1);
    assert_int_equal(q.next, 100);
    assert_int_equal(q.end, 100);
    assert_int_equal(q.examined, 30);
    tcpi_query_start(&q, buf, sizeof(buf));
    assert_int_equal(q.next, 70);
    tcpi_query_free(&q);
    /* ... and one that matches: the newest 5 on port 80 cost 10 records,
     * printing them costs nothing more. */
    assert_int_equal(tcpi_query_init(&q, shm, -1, "port 80", err,
                                     sizeof(err)), 0);
    q.limit = 5;
    q.budget_packets = 10;
    assert_int_equal(collect(&q, got, 128), 5);
    assert_int_equal(got[0], 90);
    assert_int_equal(q.truncated, 0);
    assert_int_equal(q.examined, 10);
    q.budget_packets = 9;                     /* one record short */
    assert_int_equal(collect(&q, got, 128), 4);
    assert_int_equal(got[0], 92);
    assert_int_equal(q.truncated, 1);
    tcpi_query_free(&q);

    /* Oldest N from since: the window ends after the limit-th match, or
     * where the budget stopped. */
    assert_int_equal(tcpi_query_init(&q, shm, -1, "tcp dst port 7001", err,
                                     sizeof(err)), 0);
    q.limit = 5;
    q.oldest = 1;
    q.since = 20;
    assert_int_equal(collect(&q, got, 128), 5);
    assert_int_equal(got[0], 21);
    assert_int_equal(got[4], 29);
    assert_int_equal(q.end, 30);
    assert_int_equal(q.examined, 10);
    q.budget_packets = 4;
    assert_int_equal(collect(&q, got, 128), 2);
    assert_int_equal(q.truncated, 1);
    assert_int_equal(q.end, 24);
    /* count_if decides what counts toward limit, not what is shown. */
    q.budget_packets = 0;
    q.oldest = 0;
    q.since = 0;
    q.limit = 2;
    q.count_if = n_mod4_is_1;
    q.count_ctx = &calls;
    assert_int_equal(collect(&q, got, 128), 4);
    assert_int_equal(got[0], 93);
    assert_int_equal(got[3], 99);
    assert_true(calls > 0);
    q.count_if = NULL;
    tcpi_query_free(&q);

    /* Time: a budget of 1 ns stops at the first clock check. */
    assert_int_equal(tcpi_query_init(&q, shm, -1, "tcp", err, sizeof(err)), 0);
    q.budget_packets = 0;
    q.budget_ns = 1;
    n = collect(&q, got, 128);
    assert_true(n <= 64);
    assert_int_equal(q.truncated, 1);
    assert_true(q.examined <= 64);
    assert_true(q.spent_ns >= 1);
    assert_int_equal(q.end, q.examined);
    tcpi_query_free(&q);
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_and_limit),
        cmocka_unit_test(test_bad_filter),
        cmocka_unit_test(test_offset_shift_oracle),
        cmocka_unit_test(test_headers_copy_cleared),
        cmocka_unit_test(test_headers_len),
        cmocka_unit_test(test_refused_filters),
        cmocka_unit_test(test_budget),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
