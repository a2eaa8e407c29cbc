/* test_tlsrec.c — TLS records in words: hellos, alerts, opaque records,
 * and every cut of them read within bounds. */
#include "tcpi_test.h"
#include "decode/tcpi_tlsrec.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t b[2048];
    size_t  n;
} buf_t;

static void put(buf_t *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof(b->b));
    memcpy(b->b + b->n, p, n);
    b->n += n;
}
static void put8(buf_t *b, unsigned v) { uint8_t x = (uint8_t)v; put(b, &x, 1); }
static void put16(buf_t *b, unsigned v) { put8(b, v >> 8); put8(b, v); }
static void put24(buf_t *b, unsigned v) { put8(b, v >> 16); put16(b, v); }

/* A record of type around a body. */
static void record(buf_t *out, unsigned type, unsigned version, const buf_t *body)
{
    put8(out, type);
    put16(out, version);
    put16(out, (unsigned)body->n);
    put(out, body->b, body->n);
}

static void client_hello(buf_t *rec, const char *sni, const char *alpn1,
                         const char *alpn2)
{
    buf_t m = { .n = 0 }, ex = { .n = 0 }, e = { .n = 0 }, hs = { .n = 0 };
    uint8_t random[32] = { 1 };

    /* server_name */
    put16(&e, (unsigned)strlen(sni) + 3);
    put8(&e, 0);
    put16(&e, (unsigned)strlen(sni));
    put(&e, sni, strlen(sni));
    put16(&ex, 0);
    put16(&ex, (unsigned)e.n);
    put(&ex, e.b, e.n);
    /* ALPN */
    e.n = 0;
    put16(&e, (unsigned)(strlen(alpn1) + strlen(alpn2) + 2));
    put8(&e, (unsigned)strlen(alpn1));
    put(&e, alpn1, strlen(alpn1));
    put8(&e, (unsigned)strlen(alpn2));
    put(&e, alpn2, strlen(alpn2));
    put16(&ex, 16);
    put16(&ex, (unsigned)e.n);
    put(&ex, e.b, e.n);

    put16(&m, 0x0303);
    put(&m, random, 32);
    put8(&m, 0);                       /* session id */
    put16(&m, 4);
    put16(&m, 0x1301);
    put16(&m, 0x1302);
    put8(&m, 1);
    put8(&m, 0);
    put16(&m, (unsigned)ex.n);
    put(&m, ex.b, ex.n);
    put8(&hs, 1);
    put24(&hs, (unsigned)m.n);
    put(&hs, m.b, m.n);
    record(rec, 22, 0x0301, &hs);
}

static void server_hello(buf_t *rec, unsigned suite, unsigned selected)
{
    buf_t m = { .n = 0 }, hs = { .n = 0 };
    uint8_t random[32] = { 2 };

    put16(&m, 0x0303);
    put(&m, random, 32);
    put8(&m, 0);
    put16(&m, suite);
    put8(&m, 0);
    if (selected) {
        put16(&m, 6);
        put16(&m, 43);
        put16(&m, 2);
        put16(&m, selected);
    }
    put8(&hs, 2);
    put24(&hs, (unsigned)m.n);
    put(&hs, m.b, m.n);
    record(rec, 22, 0x0303, &hs);
}

static const char *describe(const buf_t *b)
{
    static char text[TCPI_TLSREC_TEXT_MAX];
    size_t n = tcpi_tlsrec_describe(text, sizeof(text), b->b, b->n);
    assert_int_equal(n, strlen(text));
    return text;
}

static void test_hellos(void **state)
{
    buf_t b = { .n = 0 };

    client_hello(&b, "shop.example", "h2", "http/1.1");
    assert_string_equal(describe(&b),
                        "TLS ClientHello SNI=shop.example ALPN=h2,http/1.1");
    b.n = 0;
    server_hello(&b, 0x1302, 0x0304);
    assert_string_equal(describe(&b), "TLS ServerHello TLSv1.3 TLS_AES_256_GCM_SHA384");
    b.n = 0;
    server_hello(&b, 0xc02c, 0);
    assert_string_equal(describe(&b),
                        "TLS ServerHello TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384");
    b.n = 0;
    server_hello(&b, 0x1234, 0x0304);
    assert_string_equal(describe(&b), "TLS ServerHello TLSv1.3 cipher 0x1234");
    /* A hostile SNI: bytes outside printable ASCII become '?'. */
    b.n = 0;
    client_hello(&b, "<b>\x01\xff", "x", "y");
    assert_string_equal(describe(&b), "TLS ClientHello SNI=<b>?? ALPN=x,y");
}

static void test_records(void **state)
{
    buf_t b = { .n = 0 }, body = { .n = 0 };

    put8(&body, 1);
    record(&b, 20, 0x0303, &body);               /* ChangeCipherSpec */
    body.n = 0;
    for (int i = 0; i < 517; i++)
        put8(&body, (unsigned)i);
    record(&b, 23, 0x0303, &body);
    assert_string_equal(describe(&b), "TLS ChangeCipherSpec, ApplicationData 517");
    b.n = 0;
    body.n = 0;
    put8(&body, 2);
    put8(&body, 40);
    record(&b, 21, 0x0303, &body);
    assert_string_equal(describe(&b), "TLS Alert fatal handshake_failure");
    /* An application data record that goes on in the next segment. */
    b.n = 0;
    put8(&b, 23);
    put16(&b, 0x0303);
    put16(&b, 16384);
    put(&b, "abc", 3);
    assert_string_equal(describe(&b), "TLS ApplicationData 16384");
    /* Not TLS: an HTTP request, SSLv2, content types out of range. */
    static const struct { const char *p; size_t n; } not_tls[] = {
        { "GET / HTTP/1.1\r\n", 16 },
        { "\x80\x2e\x01\x00\x02", 5 },          /* SSLv2 */
        { "\x19\x03\x03\x00\x00", 5 },          /* content type 25 */
        { "\x13\x03\x03\x00\x00", 5 },          /* content type 19 */
        { "\x16\x02\x00\x00\x00", 5 },          /* version 2.0 */
        { "\x16\x03\x03\x00", 4 },              /* a header cut short */
        { "", 0 },
    };
    char text[64];
    for (size_t i = 0; i < sizeof(not_tls) / sizeof(not_tls[0]); i++)
        assert_int_equal(tcpi_tlsrec_describe(text, sizeof(text),
                                              (const uint8_t *)not_tls[i].p,
                                              not_tls[i].n), 0);
    assert_int_equal(tcpi_tlsrec_describe(text, 0, b.b, b.n), 0);
}

/* Every cut of a segment, and random bytes after a valid header: read
 * within bounds (ASan), the text always terminated and bounded. */
static void test_cuts(void **state)
{
    buf_t b = { .n = 0 };
    char text[TCPI_TLSREC_TEXT_MAX];

    client_hello(&b, "a-rather-long-name.example.org", "h2", "http/1.1");
    server_hello(&b, 0x1301, 0x0304);
    for (size_t n = 0; n <= b.n; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b.b, n);
        size_t k = tcpi_tlsrec_describe(text, sizeof(text), copy, n);
        assert_true(k < sizeof(text));
        assert_int_equal(k, strlen(text));
        if (n >= 5)
            assert_true(k > 0);
        free(copy);
    }
    srand(7);
    for (int i = 0; i < 20000; i++) {
        size_t n = 5 + (size_t)(rand() % 200);
        uint8_t *p = malloc(n);
        p[0] = (uint8_t)(20 + rand() % 5);
        p[1] = 3;
        for (size_t j = 2; j < n; j++)
            p[j] = (uint8_t)rand();
        size_t k = tcpi_tlsrec_describe(text, 1 + (size_t)(rand() % sizeof(text)),
                                        p, n);
        assert_int_equal(k, strlen(text));
        free(p);
    }
}

/* The version a ServerHello selects, for the flows view: whole hellos
 * only (a cut one may have lost its supported_versions), every cut and
 * random bytes read within bounds. */
static void test_server_version(void **state)
{
    buf_t b = { .n = 0 };

    server_hello(&b, 0x1302, 0x0304);
    assert_int_equal(tcpi_tlsrec_server_version(b.b, b.n), 0x0304);
    assert_string_equal(tcpi_tlsrec_version_name(0x0304), "TLSv1.3");
    for (size_t n = 0; n < b.n; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b.b, n);
        assert_int_equal(tcpi_tlsrec_server_version(copy, n), 0);
        free(copy);
    }
    b.n = 0;
    server_hello(&b, 0xc02c, 0);
    assert_int_equal(tcpi_tlsrec_server_version(b.b, b.n), 0x0303);
    b.n = 0;
    server_hello(&b, 0xc02c, 0x7f17);          /* a version it does not name */
    assert_int_equal(tcpi_tlsrec_server_version(b.b, b.n), 0);
    assert_null(tcpi_tlsrec_version_name(0x7f17));
    b.n = 0;
    client_hello(&b, "x", "h2", "y");
    assert_int_equal(tcpi_tlsrec_server_version(b.b, b.n), 0);
    srand(11);
    for (int i = 0; i < 20000; i++) {
        size_t n = 6 + (size_t)(rand() % 200);
        uint8_t *p = malloc(n);
        for (size_t j = 0; j < n; j++)
            p[j] = (uint8_t)rand();
        p[0] = 22, p[1] = 3, p[5] = 2;
        unsigned v = tcpi_tlsrec_server_version(p, n);
        assert_true(v == 0 || (v >= 0x0300 && v <= 0x0304));
        free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hellos),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_cuts),
        cmocka_unit_test(test_server_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
