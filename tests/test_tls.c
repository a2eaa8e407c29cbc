/* test_tls.c — TLS key-log lines: the labels kept, what is refused, and
 * the text written back is what was read. */
#include "tcpi_test.h"
#include "common/tcpi_tls.h"

#include <stdio.h>
#include <string.h>

#define RND "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
#define S48 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" \
            "202122232425262728292a2b2c2d2e2f"

static int parse(tcpi_tls_key_t *k, uint8_t *rnd, const char *line)
{
    return tcpi_tls_keyline_parse(k, rnd, line, strlen(line));
}

static void test_roundtrip(void **state)
{
    static const char *const lines[] = {
        "CLIENT_RANDOM " RND " " S48 "\n",
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET " RND " " S48 "\n",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET " RND " " S48 "\n",
        "CLIENT_TRAFFIC_SECRET_0 " RND " " S48 "\n",
        "SERVER_TRAFFIC_SECRET_0 " RND " " S48 "\n",
        "CLIENT_EARLY_TRAFFIC_SECRET " RND " 00112233445566778899aabbccddeeff"
        "00112233445566778899aabbccddeeff\n",
    };
    tcpi_tls_key_t keys[6];
    uint8_t rnd[TCPI_TLS_RANDOM_LEN], first[TCPI_TLS_RANDOM_LEN];
    char text[2048], want[2048] = "";

    for (unsigned i = 0; i < 6; i++) {
        assert_int_equal(parse(&keys[i], rnd, lines[i]), 0);
        assert_true(tcpi_tls_key_ok(&keys[i]));
        if (i == 0)
            memcpy(first, rnd, sizeof(rnd));
        assert_memory_equal(first, rnd, sizeof(rnd));
        strcat(want, lines[i]);
    }
    assert_int_equal(rnd[0], 0x0f);
    assert_int_equal(keys[0].len, 48);
    assert_int_equal(keys[5].len, 32);
    size_t n = tcpi_tls_keylog_format(text, sizeof(text), rnd, keys, 6);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(text, want, n);
    /* Too small a buffer: the size, nothing written. */
    memset(text, 'x', sizeof(text));
    assert_int_equal(tcpi_tls_keylog_format(text, 10, rnd, keys, 6), n);
    assert_int_equal(text[0], 'x');
    /* Upper-case hex and CRLF read the same. */
    char up[512];
    snprintf(up, sizeof(up), "CLIENT_RANDOM %s %s\r\n",
             "0F1E2D3C4B5A69788796A5B4C3D2E1F00F1E2D3C4B5A69788796A5B4C3D2E1F0",
             S48);
    tcpi_tls_key_t k;
    assert_int_equal(parse(&k, rnd, up), 0);
    assert_memory_equal(&k, &keys[0], sizeof(k));
}

static void test_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "CLIENT_RANDOM",
        "CLIENT_RANDOM " RND,
        "CLIENT_RANDOM " RND " ",
        "EXPORTER_SECRET " RND " " S48,            /* decrypts nothing: not kept */
        "EARLY_EXPORTER_SECRET " RND " " S48,
        "RSA 0011223344556677 " S48,
        "CLIENT_RANDOMX " RND " " S48,
        "CLIENT_RANDOM " RND "0 " S48,              /* a random of 65 digits */
        "CLIENT_RANDOM 0" RND " " S48,
        "CLIENT_RANDOM " RND " " S48 "0",           /* odd length */
        "CLIENT_RANDOM " RND " " S48 "0001",        /* 50 bytes */
        "CLIENT_RANDOM " RND " zz" S48,
        "CLIENT_RANDOM " RND "  " S48,
    };
    tcpi_tls_key_t k;
    uint8_t rnd[TCPI_TLS_RANDOM_LEN];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(&k, rnd, bad[i]), -1);
    }
    memset(&k, 0, sizeof(k));
    assert_false(tcpi_tls_key_ok(&k));
    k.label = TCPI_TLS_KEY_NLABELS;
    k.len = 16;
    assert_false(tcpi_tls_key_ok(&k));
    k.label = TCPI_TLS_KEY_CLIENT_RANDOM;
    k.len = TCPI_TLS_SECRET_MAX + 1;
    assert_false(tcpi_tls_key_ok(&k));
    /* A key that is not ok is left out of the text. */
    tcpi_tls_key_t two[2] = { k, k };
    two[1].len = 1;
    char text[512];
    size_t n = tcpi_tls_keylog_format(text, sizeof(text), rnd, two, 2);
    assert_int_equal(n, strlen("CLIENT_RANDOM ") + 64 + 1 + 2 + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
