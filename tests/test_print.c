/* Unit tests for the tcpdump-identical printer: every fixture against the
 * output of `tcpdump -n -tt [-X] -r` committed next to it
 * (tests/pcap/<name>.txt, .X.txt), a check that the installed tcpdump
 * still prints those files, streaming state, IPv6 text, HTTP first line. */
#include "tcpi_test.h"
#include "print/tcpi_print.h"
#include "decode/tcpi_redact.h"

#include <pcap/pcap.h>

static const char *const fixtures[] = {
    "en10mb", "sll", "sll2", "null", "null_be", "loop", "raw", "ipv4",
    "ipv6", "trunc", "wild", "sll_vlan", "sll2_dirs", NULL
};

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0, r;
    char *b = malloc(cap);
    while ((r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap)
            b = realloc(b, cap *= 2);
    }
    fclose(f);
    *len = n;
    return b;
}

/* Print a fixture with the core; the text in a malloc'd buffer. */
static char *core_print(const char *name, int opts, size_t *len)
{
    char path[256], err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *d;
    tcpi_print_t st;

    snprintf(path, sizeof(path), "tests/pcap/%s.pcap", name);
    pcap_t *p = pcap_open_offline(path, err);
    assert_non_null(p);
    tcpi_print_init(&st);
    while (pcap_next_ex(p, &h, &d) == 1)
        assert_true(tcpi_print_packet(&st, (uint32_t)h->ts.tv_sec,
                                      (uint32_t)h->ts.tv_usec,
                                      pcap_datalink(p), d, h->caplen,
                                      h->len, opts) > 0);
    pcap_close(p);
    char *out = malloc(st.out_len + 1);
    memcpy(out, st.out, st.out_len);
    *len = st.out_len;
    tcpi_print_free(&st);
    return out;
}

/* First differing line, for a readable failure. */
static void same_text(const char *what, const char *a, size_t alen,
                      const char *b, size_t blen)
{
    size_t i = 0, line = 1, ls = 0;
    while (i < alen && i < blen && a[i] == b[i]) {
        if (a[i] == '\n') {
            line++;
            ls = i + 1;
        }
        i++;
    }
    if (i == alen && i == blen)
        return;
    const char *ea = memchr(a + ls, '\n', alen - ls);
    const char *eb = memchr(b + ls, '\n', blen - ls);
    fail_msg("%s differs at line %zu:\n  want: %.*s\n  got:  %.*s", what,
             line, (int)((ea ? ea : a + alen) - (a + ls)), a + ls,
             (int)((eb ? eb : b + blen) - (b + ls)), b + ls);
}

static void test_fixtures_plain_and_hex(void **state)
{
    for (int i = 0; fixtures[i]; i++) {
        for (int x = 0; x < 2; x++) {
            char path[256], what[300];
            size_t wl, gl;
            snprintf(path, sizeof(path), "tests/pcap/%s%s.txt", fixtures[i],
                     x ? ".X" : "");
            char *want = slurp(path, &wl);
            assert_non_null(want);
            char *got = core_print(fixtures[i], x ? TCPI_PRINT_HEX : 0, &gl);
            snprintf(what, sizeof(what), "%s vs core", path);
            same_text(what, want, wl, got, gl);
            free(want);
            free(got);
        }
    }
}

/* The committed expectations are what this machine's tcpdump prints. */
static void test_expected_files_match_tcpdump(void **state)
{
    if (system("command -v tcpdump >/dev/null 2>&1") != 0)
        skip();
    for (int i = 0; fixtures[i]; i++) {
        for (int x = 0; x < 2; x++) {
            char cmd[512], path[256], what[300];
            snprintf(cmd, sizeof(cmd), "tcpdump -n -tt %s -r tests/pcap/%s.pcap"
                     " >build/tcpdump.out 2>/dev/null", x ? "-X" : "", fixtures[i]);
            assert_int_equal(system(cmd), 0);
            snprintf(path, sizeof(path), "tests/pcap/%s%s.txt", fixtures[i],
                     x ? ".X" : "");
            size_t wl, gl;
            char *want = slurp(path, &wl), *got = slurp("build/tcpdump.out", &gl);
            assert_non_null(want);
            assert_non_null(got);
            snprintf(what, sizeof(what), "%s vs installed tcpdump", path);
            same_text(what, want, wl, got, gl);
            free(want);
            free(got);
        }
    }
}

/* A page streams packets through one state: printing them in pieces and
 * clearing the buffer in between gives the same text. */
static void test_streaming_state(void **state)
{
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *d;
    tcpi_print_t st;
    size_t wl, total = 0;
    char *want = slurp("tests/pcap/en10mb.txt", &wl);
    char *got = malloc(wl + 1);

    pcap_t *p = pcap_open_offline("tests/pcap/en10mb.pcap", err);
    tcpi_print_init(&st);
    while (pcap_next_ex(p, &h, &d) == 1) {
        size_t n = tcpi_print_packet(&st, (uint32_t)h->ts.tv_sec,
                                     (uint32_t)h->ts.tv_usec, 1, d,
                                     h->caplen, h->len, 0);
        assert_int_equal(n, st.out_len);
        assert_true(total + n <= wl);
        memcpy(got + total, st.out, n);
        total += n;
        tcpi_print_clear(&st);
    }
    same_text("streamed en10mb", want, wl, got, total);
    /* A new state (or forget) starts over: the first data segment of a
     * flow is absolute again. */
    tcpi_print_forget(&st);
    pcap_close(p);
    p = pcap_open_offline("tests/pcap/en10mb.pcap", err);
    for (int i = 0; i < 4; i++)
        pcap_next_ex(p, &h, &d);
    tcpi_print_packet(&st, 0, 0, 1, d, h->caplen, h->len, 0);
    assert_non_null(strstr(st.out, "seq 1000001:1000086, ack 2000001"));
    tcpi_print_free(&st);
    pcap_close(p);
    free(want);
    free(got);
}

static void test_ip6_text(void **state)
{
    struct { const char *hex, *want; } cases[] = {
        {"00000000000000000000000000000001", "::1"},
        {"00000000000000000000000000000000", "::"},
        {"20010db8000000000000000000000001", "2001:db8::1"},
        {"20010db8000100000001000000000001", "2001:db8:1:0:1::1"},
        {"20010db8000000010000000000000000", "2001:db8:0:1::"},
        {"00000000000000000000ffffc6120001", "::ffff:198.18.0.1"},
        {"000000000000000000000000c6120001", "::198.18.0.1"},
        {"fe800000000000000000000000000000", "fe80::"},
        {"20010000000000010000000000000001", "2001:0:0:1::1"},
        {"20010000000000010000000000010001", "2001::1:0:0:1:1"},
        {"000100020003000400050006000700ff", "1:2:3:4:5:6:7:ff"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t a[16];
        char buf[64];
        for (int k = 0; k < 16; k++)
            sscanf(cases[i].hex + 2 * k, "%2hhx", &a[k]);
        size_t n = tcpi_print_ip6(buf, a);
        assert_string_equal(buf, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
    }
}

static void test_http_first_line(void **state)
{
    const uint8_t *l;
    size_t n;
    const char *req = "GET /x HTTP/1.1\r\nHost: a\r\n";
    assert_true(tcpi_print_http_first_line(&l, &n, (const uint8_t *)req, strlen(req)));
    assert_int_equal(n, 15);
    const char *resp = "HTTP/1.1 502 Bad Gateway\r\n";
    assert_true(tcpi_print_http_first_line(&l, &n, (const uint8_t *)resp, strlen(resp)));
    assert_int_equal(n, 24);
    assert_false(tcpi_print_http_first_line(&l, &n, (const uint8_t *)"hello", 5));
    assert_false(tcpi_print_http_first_line(&l, &n, (const uint8_t *)"HTTP/1.1", 8));
}

/* Invalid pcap headers print tcpdump's complaint, never crash. */
static void test_invalid_headers(void **state)
{
    tcpi_print_t st;
    uint8_t f[64] = {0};

    tcpi_print_init(&st);
    tcpi_print_packet(&st, 1, 2, 1, f, 0, 0, TCPI_PRINT_HEX);
    tcpi_print_packet(&st, 1, 2, 1, f, 60, 10, 0);
    tcpi_print_packet(&st, 0x80000000u, 2, 147, f, 60, 60, 0);
    st.out[st.out_len] = 0;
    assert_string_equal(st.out,
        "[Invalid header: caplen==0, len==0]\n"
        "[Invalid header: len(10) < caplen(60)]\n"
        "[Error converting time]unsupported link type 147\n");
    tcpi_print_free(&st);
}

/* The longest text per captured byte: a 64 KB frame that is one chain of
 * 8-byte type-0 routing headers (each printed with its reserved field),
 * with -X. It used to outgrow the packet's reserved output (run under
 * ASan to see that). */
static void test_ip6_extension_chain(void **state)
{
    enum { CAP = 65535 };
    uint8_t *f = calloc(1, CAP);
    tcpi_print_t st;
    uint32_t n = (CAP - 54) / 8;

    f[12] = 0x86; f[13] = 0xdd;
    f[14] = 0x60;
    f[18] = (uint8_t)((n * 8) >> 8); f[19] = (uint8_t)(n * 8);
    f[20] = 43;                                 /* next: routing */
    f[21] = 64;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *h = f + 54 + 8 * i;
        h[0] = i + 1 < n ? 43 : 59;             /* then none */
        h[1] = 0;                               /* 8 bytes */
        h[2] = 0;                               /* type 0 */
        h[3] = 255;
        memset(h + 4, 0xff, 4);                 /* rsv printed in hex */
    }
    tcpi_print_init(&st);
    /* Two -X dumps first, so that the buffer's doubling leaves less room
     * after the chain's reservation than the chain prints. */
    uint8_t *z = calloc(1, CAP);
    tcpi_print_packet(&st, 1, 1, 1, z, CAP, CAP, TCPI_PRINT_HEX);
    tcpi_print_packet(&st, 1, 1, 1, z, 16384, 16384, TCPI_PRINT_HEX);
    free(z);
    size_t len = tcpi_print_packet(&st, 1, 2, 1, f, CAP, CAP, TCPI_PRINT_HEX);
    assert_false(st.oom);
    assert_true(len > (size_t)CAP * 8 + 4096);  /* past the old bound */
    assert_int_equal(st.out[st.out_len - 1], '\n');
    size_t rt = 0;
    for (const char *p = st.out; (p = strstr(p, "RT6 (len=0, type=0")); p++)
        rt++;
    assert_int_equal(rt, n);
    tcpi_print_free(&st);
    free(f);
}

/* With a redaction state the printed bytes (line and -X) are masked. */
static void test_print_redacted(void **state)
{
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *d;
    tcpi_print_t st;
    tcpi_redact_t *rd = malloc(sizeof(*rd));

    assert_null(tcpi_redact_init(rd, tcpi_redact_defaults, 4));
    tcpi_print_init(&st);
    st.redact = rd;
    pcap_t *p = pcap_open_offline("tests/pcap/en10mb.pcap", err);
    while (pcap_next_ex(p, &h, &d) == 1)
        tcpi_print_packet(&st, 0, 0, 1, d, h->caplen, h->len, TCPI_PRINT_HEX);
    pcap_close(p);
    assert_true(st.out_len > 0);
    st.out[st.out_len - 1] = 0;
    assert_null(strstr(st.out, "c2Vj"));        /* base64 of the secret */
    assert_null(strstr(st.out, "id=42"));       /* the Set-Cookie value */
    assert_non_null(strstr(st.out, "orization:.*****"));
    assert_non_null(strstr(st.out, "HTTP: GET /hello.txt HTTP/1.1"));
    assert_true(rd->masked > 0);
    tcpi_print_free(&st);
    free(rd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_plain_and_hex),
        cmocka_unit_test(test_expected_files_match_tcpdump),
        cmocka_unit_test(test_streaming_state),
        cmocka_unit_test(test_ip6_text),
        cmocka_unit_test(test_http_first_line),
        cmocka_unit_test(test_invalid_headers),
        cmocka_unit_test(test_ip6_extension_chain),
        cmocka_unit_test(test_print_redacted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
