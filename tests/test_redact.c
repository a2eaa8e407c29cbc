/* Unit tests for header redaction: values masked byte for byte, names
 * case-insensitive, a header cut across segments, folding, a flow whose
 * earlier segments were not seen, bad names. */
#include "tcpi_test.h"
#include "tcpi_redact.h"

static tcpi_redact_t rd;

/* A decoded segment of flow 10.0.0.1:40000 -> 10.0.0.2:80 (dir 0) or
 * the reverse (dir 1) at seq. */
static tcpi_pkt_t seg(int dir, uint32_t seq, size_t len)
{
    tcpi_pkt_t p;
    memset(&p, 0, sizeof(p));
    p.family = 4;
    uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
    memcpy(p.src, dir ? b : a, 4);
    memcpy(p.dst, dir ? a : b, 4);
    p.sport = dir ? 80 : 40000;
    p.dport = dir ? 40000 : 80;
    p.seq = seq;
    p.payload_len = (uint32_t)len;
    return p;
}

/* Redact a string (copied) and return the result in a static buffer. */
static const char *red(int dir, uint32_t seq, const char *s)
{
    static char buf[4096];
    size_t n = strlen(s);
    tcpi_pkt_t p = seg(dir, seq, n);
    memcpy(buf, s, n + 1);
    tcpi_redact_payload(&rd, &p, (uint8_t *)buf, n);
    return buf;
}

static int setup(void **state)
{
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    return 0;
}

static void test_whole_request(void **state)
{
    assert_string_equal(
        red(0, 1, "GET / HTTP/1.1\r\nHost: a\r\nauthorization:  Basic eHk=\r\n"
                  "Cookie: s=1; t=2\r\nX: Cookie: no\r\n\r\n"),
        "GET / HTTP/1.1\r\nHost: a\r\nauthorization:  **********\r\n"
        "Cookie: ********\r\nX: Cookie: no\r\n\r\n");
    assert_string_equal(
        red(1, 7, "HTTP/1.1 200 OK\r\nSET-COOKIE: id=42\r\nContent-Length: 0\r\n\r\n"),
        "HTTP/1.1 200 OK\r\nSET-COOKIE: *****\r\nContent-Length: 0\r\n\r\n");
}

/* The name, the colon and the value each cut by a segment end. */
static void test_split_across_segments(void **state)
{
    const char *full = "GET / HTTP/1.1\r\nProxy-Authorization: Basic c2VjcmV0\r\nA: b\r\n\r\n";
    size_t n = strlen(full);
    for (size_t cut = 4; cut < n; cut++) {   /* "GET " seen */
        char a[128], b[128], joined[256];
        memcpy(a, full, cut);
        a[cut] = 0;
        strcpy(b, full + cut);
        assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
        strcpy(joined, red(0, 100, a));
        strcat(joined, red(0, 100 + (uint32_t)cut, b));
        assert_string_equal(joined, "GET / HTTP/1.1\r\nProxy-Authorization: "
                            "**************\r\nA: b\r\n\r\n");
    }
}

static void test_folding_and_directions(void **state)
{
    assert_string_equal(red(0, 1, "GET / HTTP/1.1\r\nCookie: a\r\n  b=c\r\nHost: x\r\n"),
                        "GET / HTTP/1.1\r\nCookie: *\r\n  ***\r\nHost: x\r\n");
    /* The other direction has its own state. */
    assert_string_equal(red(1, 1, "HTTP/1.1 200 OK\r\nCooki"),
                        "HTTP/1.1 200 OK\r\nCooki");
    assert_string_equal(red(0, 43, "GET /2 HTTP/1.1\r\n"), "GET /2 HTTP/1.1\r\n");
    assert_string_equal(red(1, 23, "e: v\r\n"), "e: *\r\n");
}

/* A segment whose predecessor was not seen: its first line could be the
 * tail of a secret, so it is masked unless it is clearly something else. */
static void test_unknown_start(void **state)
{
    assert_string_equal(red(0, 5000, "c2VjcmV0\r\nHost: a\r\n"),
                        "********\r\nHost: a\r\n");
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 6000, "Host: a\r\nCookie: z\r\n"),
                        "Host: a\r\nCookie: *\r\n");
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 6000, "Cookie: z\r\n"), "Cookie: *\r\n");
    /* Out of order: the state is not applied to a segment that does not
     * continue the previous one; that one is judged afresh. */
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 1, "GET / HTTP/1.1\r\nCookie: ab"),
                        "GET / HTTP/1.1\r\nCookie: **");
    assert_string_equal(red(0, 900, "xyz\r\n"), "***\r\n");
}

static void test_names(void **state)
{
    const char *mine[] = {"X-Api-Key"};
    assert_null(tcpi_redact_init(&rd, mine, 1));
    assert_string_equal(red(0, 1, "GET / HTTP/1.1\r\nx-api-key: k\r\nCookie: c\r\n"),
                        "GET / HTTP/1.1\r\nx-api-key: *\r\nCookie: c\r\n");
    assert_null(tcpi_redact_init(&rd, NULL, 0));     /* Off */
    assert_string_equal(red(0, 1, "Cookie: c\r\n"), "Cookie: c\r\n");
    const char *bad1[] = {"Bad Name"}, *bad2[] = {""};
    assert_non_null(tcpi_redact_init(&rd, bad1, 1));
    assert_non_null(tcpi_redact_init(&rd, bad2, 1));
    char longname[100];
    memset(longname, 'a', 99);
    longname[99] = 0;
    const char *bad3[] = {longname};
    assert_non_null(tcpi_redact_init(&rd, bad3, 1));
    assert_non_null(tcpi_redact_init(&rd, tcpi_redact_defaults,
                                     TCPI_REDACT_MAX_NAMES + 1));
}

/* Many flows: states are replaced and counted, never overflow. */
static void test_many_flows(void **state)
{
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    for (uint32_t i = 0; i < 5000; i++) {
        char buf[] = "Cookie: x\r\n";
        tcpi_pkt_t p = seg(0, 1, strlen(buf));
        p.sport = (uint16_t)(1000 + i);
        tcpi_redact_payload(&rd, &p, (uint8_t *)buf, strlen(buf));
        assert_string_equal(buf, "Cookie: *\r\n");
    }
    assert_true(rd.evicted > 0);
    assert_int_equal(rd.masked, 5000);
}

/* State lost in the middle of a header name (a retransmission, an evicted
 * flow): a first line that is the tail of a redacted name is masked whole;
 * a whole name, redacted or not, is still read as itself. */
static void test_name_tail_after_lost_state(void **state)
{
    assert_string_equal(red(0, 7000, "ie: SID=secret\r\nHost: a\r\n"),
                        "**************\r\nHost: a\r\n");
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 7000, "ization: Basic eHk=\r\n"),
                        "*******************\r\n");
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 7000, "Set-Cookie: a\r\n"), "Set-Cookie: *\r\n");
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 7000, "Host: ie\r\n"), "Host: ie\r\n");
}

/* A segment cut by the snaplen: the bytes not captured may have started a
 * redacted header, so the next segment's first line is judged afresh. */
static void test_snaplen_cut(void **state)
{
    char a[64] = "GET / HTTP/1.1\r\nX-Foo: 1\r\nCook", b[64] = "cdef\r\nHost: a\r\n";
    tcpi_pkt_t p = seg(0, 1, strlen(a) + 10);       /* 10 bytes not captured */
    tcpi_redact_payload(&rd, &p, (uint8_t *)a, strlen(a));
    assert_string_equal(red(0, 1 + (uint32_t)strlen(a) + 10, b),
                        "****\r\nHost: a\r\n");
}

/* The frame view: a TCP payload is redacted; a frame the decoder cannot
 * place (here IPIP: an IPv4 header with protocol 4 around the request)
 * keeps only its IP header, so -X cannot print the inner secret. */
static void test_frame(void **state)
{
    static const char req[] = "GET / HTTP/1.1\r\nCookie: top-secret\r\n\r\n";
    uint8_t f[256], out[256];
    tcpi_pkt_t pkt;
    uint32_t n = tcpi_test_frame(f, 40000, 80, (uint32_t)strlen(req));

    memcpy(f + 54, req, strlen(req));
    assert_int_equal(tcpi_redact_frame(&rd, &pkt, 1, f, out, n, n), TCPI_DR_ok);
    assert_memory_equal(out, f, 54);
    assert_non_null(memmem(out + 54, n - 54, "Cookie: **********", 18));
    assert_null(memmem(out, n, "top-secret", 10));

    f[23] = 4;                                      /* IP protocol: IPIP */
    assert_int_equal(tcpi_redact_frame(&rd, &pkt, 1, f, out, n, n), TCPI_DR_not_tcp);
    assert_memory_equal(out, f, 34);                /* Ethernet + IPv4 */
    for (uint32_t i = 34; i < n; i++)
        assert_int_equal(out[i], '*');

    assert_int_equal(tcpi_redact_frame(NULL, &pkt, 1, f, out, n, n), TCPI_DR_not_tcp);
    assert_memory_equal(out, f, n);                 /* no names: a copy */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_whole_request, setup),
        cmocka_unit_test_setup(test_split_across_segments, setup),
        cmocka_unit_test_setup(test_folding_and_directions, setup),
        cmocka_unit_test_setup(test_unknown_start, setup),
        cmocka_unit_test_setup(test_names, setup),
        cmocka_unit_test_setup(test_many_flows, setup),
        cmocka_unit_test_setup(test_name_tail_after_lost_state, setup),
        cmocka_unit_test_setup(test_snaplen_cut, setup),
        cmocka_unit_test_setup(test_frame, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
