/* Unit tests for the packet pages' core: the en10mb fixture loaded into a
 * ring (interface 0 frontend, 1 backend) comes out as tcpdump printed it,
 * filter/match/limit/since select as documented, the HTML escapes and
 * groups by leg, redaction applies to text, -X and HTML; each packet is
 * read and decoded once by one pass, for the HTML legs too. */
#include "tcpi_test.h"
#include "render/tcpi_packets.h"

#include <glob.h>
#include <pcap/pcap.h>

static void *mem;
static tcpi_shm_t *shm;
static uint8_t buf[65536];
static tcpi_ports_t front, back;
static uint64_t npkts;
static uint64_t examined;       /* by the last render's query */

/* The en10mb fixture into a fresh ring: split (interfaces serving one leg
 * each) puts the IPv6 conversation on "lo" (backend) and the rest on
 * veth0 (frontend); otherwise every packet is on "any", which serves both
 * legs and is split by port. */
static tcpi_shm_t *load_ring(void **memp, int split)
{
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *d;
    size_t size = tcpi_shm_size(1 << 20);
    uint64_t n = 0;
    tcpi_shm_t *s;

    *memp = calloc(1, size);
    s = tcpi_shm_init(*memp, 1 << 20, 1);
    if (split) {
        tcpi_shm_add_iface(s, "veth0", TCPI_LEG_FRONT, "tcp");
        tcpi_shm_add_iface(s, "lo", TCPI_LEG_BACKEND, "tcp");
        atomic_store(&s->iface[1].linktype, DLT_EN10MB);
    } else {
        tcpi_shm_add_iface(s, "any", TCPI_LEG_FRONT | TCPI_LEG_BACKEND, "tcp");
    }
    atomic_store(&s->iface[0].linktype, DLT_EN10MB);
    pcap_t *p = pcap_open_offline("tests/pcap/en10mb.pcap", err);
    assert_non_null(p);
    while (pcap_next_ex(p, &h, &d) == 1) {
        uint16_t ifx = split && n >= 11 && n < 22 ? 1 : 0;
        tcpi_ring_write(tcpi_shm_ring(s),
                        (uint64_t)h->ts.tv_sec * 1000000000ull +
                        (uint64_t)h->ts.tv_usec * 1000u + 999,
                        ifx, DLT_EN10MB, h->caplen, h->len, d);
        n++;
    }
    pcap_close(p);
    npkts = n;
    return s;
}

static int setup(void **state)
{
    shm = load_ring(&mem, 1);
    tcpi_ports_add(&front, 80);
    tcpi_ports_add(&back, 7001);
    return 0;
}

static int teardown(void **state) { free(mem); return 0; }

static char *render_on(tcpi_shm_t *s, int html, const char *filter,
                       tcpi_packets_opts_t *opt, uint64_t since,
                       tcpi_packets_stats_t *st)
{
    static tcpi_membuf_t mb;
    tcpi_out_t *o = malloc(sizeof(*o));
    tcpi_query_t q;
    char err[256];

    free(mb.data);
    memset(&mb, 0, sizeof(mb));
    assert_int_equal(tcpi_query_init(&q, s, -1, filter, err, sizeof(err)), 0);
    q.since = since;
    opt->front_ports = &front;
    opt->backend_ports = &back;
    opt->base = "/tcp-inspect";
    if (!opt->limit)
        opt->limit = 100000;
    tcpi_out_init(o, tcpi_membuf_sink, &mb);
    tcpi_packets_window(st, &q, opt, buf, sizeof(buf));
    assert_int_equal(html ? tcpi_packets_html(st, o, &q, opt, buf, sizeof(buf))
                          : tcpi_packets_text(st, o, &q, opt, buf, sizeof(buf)), 0);
    tcpi_out_flush(o);
    free(o);
    examined = q.examined;
    tcpi_query_free(&q);
    mb.data = realloc(mb.data, mb.len + 1);
    mb.data[mb.len] = 0;
    return mb.data;
}

static char *render(int html, const char *filter, tcpi_packets_opts_t *opt,
                    uint64_t since, tcpi_packets_stats_t *st)
{
    return render_on(shm, html, filter, opt, since, st);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    static char b[1 << 18];
    size_t n = fread(b, 1, sizeof(b) - 1, f);
    fclose(f);
    b[n] = 0;
    return b;
}

static void test_text_equals_tcpdump(void **state)
{
    tcpi_packets_opts_t opt = {0};
    tcpi_packets_stats_t st;
    assert_string_equal(render(0, NULL, &opt, 0, &st), slurp("tests/pcap/en10mb.txt"));
    assert_int_equal(st.shown, npkts);
    assert_int_equal(st.next, npkts);
    opt.hex = 1;
    assert_string_equal(render(0, NULL, &opt, 0, &st), slurp("tests/pcap/en10mb.X.txt"));
}

/* filter= selects what tcpdump's filter selects, and the relative
 * numbers are those of tcpdump over the filtered packets. */
static void test_filter(void **state)
{
    tcpi_packets_opts_t opt = {0};
    tcpi_packets_stats_t st;
    char path[] = "/tmp/tcpi-filter-XXXXXX", cmd[256];
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    close(fd);
    snprintf(cmd, sizeof(cmd), "tcpdump -n -tt -r tests/pcap/en10mb.pcap "
             "'ip6 and src port 40001' >%s 2>/dev/null", path);
    assert_int_equal(system(cmd), 0);
    char *want = strdup(slurp(path));
    unlink(path);
    assert_string_equal(render(0, "ip6 and src port 40001", &opt, 0, &st), want);
    assert_int_equal(st.shown, 7);
    free(want);
}

static void test_match_limit_since(void **state)
{
    tcpi_packets_opts_t opt = {0};
    tcpi_packets_stats_t st;
    /* match= keeps the lines of packets whose payload has the string;
     * the numbers stay those of the full stream (tcpdump | grep). */
    opt.match = "200 OK";
    opt.match_len = 6;
    char *t = render(0, NULL, &opt, 0, &st);
    assert_int_equal(st.shown, 2);
    assert_non_null(strstr(t, "seq 1:74, ack 86"));
    /* A secret is not matchable. */
    opt.match = "c2VjcmV0";
    opt.match_len = 8;
    tcpi_redact_t *rd = malloc(sizeof(*rd));
    tcpi_redact_init(rd, tcpi_redact_defaults, 4);
    opt.redact = rd;
    render(0, NULL, &opt, 0, &st);
    assert_int_equal(st.shown, 0);
    opt.redact = NULL;
    render(0, NULL, &opt, 0, &st);
    assert_int_equal(st.shown, 2);
    free(rd);
    /* limit: the newest N; since: forward from N, next says where to go on. */
    memset(&opt, 0, sizeof(opt));
    opt.limit = 3;
    t = render(0, NULL, &opt, 0, &st);
    assert_int_equal(st.shown, 3);
    assert_non_null(strstr(t, "1700000037.037007"));
    assert_null(strstr(t, "1700000036.036007"));
    opt.have_since = 1;
    t = render(0, "tcp", &opt, 5, &st);
    assert_int_equal(st.shown, 3);
    assert_true(strncmp(t, "1700000005.005007", 17) == 0);
    assert_int_equal(st.next, 8);
    t = render(0, "tcp", &opt, st.next, &st);
    assert_true(strncmp(t, "1700000008.008007", 17) == 0);
}

static void test_html(void **state)
{
    tcpi_packets_opts_t opt = {0};
    tcpi_packets_stats_t st;
    tcpi_redact_t *rd = malloc(sizeof(*rd));
    tcpi_redact_init(rd, tcpi_redact_defaults, 4);
    opt.redact = rd;
    opt.hex = 1;
    opt.query_html = "x=1&amp;filter=%3Cb%3E";
    char *h = render(1, NULL, &opt, 0, &st);
    char *fr = strstr(h, "<h2>Frontend"), *bk = strstr(h, "<h2>Backend");
    char *ot = strstr(h, "<h2>Other");
    assert_non_null(fr);
    assert_non_null(bk);
    assert_non_null(ot);
    /* IPv4 conversation under frontend, IPv6 (on lo) under backend. */
    char *v4 = strstr(h, "IP 198.18.0.2.40000 &gt; 198.18.0.1.80");
    char *v6 = strstr(h, "IP6 2001:db8::2.40001 &gt; 2001:db8::1.80");
    assert_true(v4 > fr && v4 < bk);
    assert_true(v6 > bk && v6 < ot);
    assert_non_null(strstr(h, "<b class=\"http\">GET /hello.txt HTTP/1.1</b>"));
    assert_non_null(strstr(h, "<b class=\"http\">HTTP/1.1 200 OK</b>"));
    assert_null(strstr(h, "c2Vj"));
    assert_null(strstr(h, "id=42"));
    assert_non_null(strstr(h, "since=40"));
    /* Frames that are not TCP segments are counted by reason. */
    assert_non_null(strstr(h, "<p class=\"undecoded\">1 not_ip: "));
    assert_non_null(strstr(h, "<p class=\"undecoded\">1 not_tcp: not TCP</p>"));
    assert_non_null(strstr(h, " ip_fragment: "));
    /* Nothing from the wire reaches the page unescaped: the only tags are
     * ours. */
    for (char *p = strchr(h, '<'); p; p = strchr(p + 1, '<'))
        assert_true(!strncmp(p, "<span", 5) || !strncmp(p, "</span", 6) ||
                    !strncmp(p, "<b ", 3) || !strncmp(p, "</b>", 4) ||
                    !strncmp(p, "<pre", 4) || !strncmp(p, "</pre", 5) ||
                    !strncmp(p, "<h", 2) || !strncmp(p, "</h", 3) ||
                    !strncmp(p, "<p>", 3) || !strncmp(p, "<p class=", 9) ||
                    !strncmp(p, "</p>", 4) ||
                    !strncmp(p, "<a ", 3) || !strncmp(p, "</a>", 4) ||
                    !strncmp(p, "<!DOCTYPE", 9) || !strncmp(p, "<meta", 5) ||
                    !strncmp(p, "<title", 6) || !strncmp(p, "</title", 7) ||
                    !strncmp(p, "<style", 6) || !strncmp(p, "</style", 7) ||
                    !strncmp(p, "<body", 5) || !strncmp(p, "</body", 6));
    free(rd);
}

/* A non-first fragment's bytes cannot be placed in a stream the redactor
 * follows: with redaction on, -X shows none of them; with it off, tcpdump's
 * dump as it is. */
static void test_fragment_masked(void **state)
{
    tcpi_packets_opts_t opt = {0};
    tcpi_packets_stats_t st;
    tcpi_redact_t *rd = malloc(sizeof(*rd));

    opt.hex = 1;
    opt.limit = 1000;
    char *t = render(0, NULL, &opt, 0, &st);
    assert_non_null(strstr(t, "BBBBBBBBBBBB"));
    assert_non_null(strstr(t, "DDDDDDDD"));
    tcpi_redact_init(rd, tcpi_redact_defaults, 4);
    opt.redact = rd;
    t = render(0, NULL, &opt, 0, &st);
    assert_null(strstr(t, "BBBB"));
    assert_null(strstr(t, "DDDD"));
    assert_null(strstr(t, "4242"));
    assert_non_null(strstr(t, "ip-proto-6"));      /* the line itself stays */
    assert_non_null(strstr(t, "frag (40|8)"));
    free(rd);
}

/* Each packet is read from the ring and decoded once, by one pass, for
 * the text page and for the HTML page and its three legs alike (before:
 * the text page decoded a packet up to four times, the HTML page read the
 * window once per leg, decoding each packet for its leg every time). */
static void test_decoded_once(void **state)
{
    tcpi_redact_t *rd = malloc(sizeof(*rd));
    tcpi_packets_opts_t opt;
    tcpi_packets_stats_t st;
    void *mem2;
    tcpi_shm_t *any = load_ring(&mem2, 0);
    tcpi_ports_t fr = {0}, bk = {0};

    tcpi_redact_init(rd, tcpi_redact_defaults, 4);
    for (int html = 0; html < 2; html++) {
        for (int hex = 0; hex < 2; hex++) {
            /* No filter, no match: the window is found from the packet
             * numbers, without reading; then one pass. */
            memset(&opt, 0, sizeof(opt));
            opt.redact = rd;
            opt.hex = hex;
            render(html, NULL, &opt, 0, &st);
            assert_int_equal(st.shown, npkts);
            assert_int_equal(examined, npkts);
            assert_int_equal(st.scanned, npkts);
            assert_int_equal(st.decoded, npkts);
            assert_int_equal(st.passes, 1);
            /* The same over an interface serving both legs, split by
             * port: IPv4 port 80 frontend, the rest on port 80 backend,
             * UDP, ARP and the fragments other. */
            opt.front_ports = &fr;
            opt.backend_ports = &bk;
            char *h = render_on(any, html, NULL, &opt, 0, &st);
            assert_int_equal(st.shown, npkts);
            assert_int_equal(st.decoded, npkts);
            assert_int_equal(st.scanned, npkts);
            assert_int_equal(st.passes, 1);
            if (html) {
                assert_non_null(strstr(h, "<b class=\"http\">GET /hello.txt"));
                assert_null(strstr(h, "c2Vj"));
            }
        }
        /* A filter (headers only): the search reads and decodes every
         * record once, the pass only those it selected, once more. */
        memset(&opt, 0, sizeof(opt));
        opt.redact = rd;
        render(html, "tcp and port 80", &opt, 0, &st);
        assert_true(st.shown > 10 && st.shown < npkts);
        assert_int_equal(examined, npkts);
        assert_int_equal(st.scanned, examined + st.shown);
        assert_int_equal(st.decoded, examined + st.shown);
        assert_int_equal(st.passes, 2);
        /* match=: the search decodes each record it examines (the newest
         * first, until limit matches: that is the window), the pass each
         * record of the window once more, up to the last one shown. */
        opt.match = "HTTP/1.1";
        opt.match_len = 8;
        opt.limit = 3;
        render(html, NULL, &opt, 0, &st);
        assert_int_equal(st.shown, 3);
        assert_true(examined > 3 && examined < npkts);
        assert_true(st.decoded > examined + 3);
        assert_true(st.decoded <= 2 * examined);
        assert_int_equal(st.scanned, st.decoded);
        assert_int_equal(st.passes, 2);
    }
    free(mem2);
    free(rd);
}

/* The HTML page holds the backend and other legs' lines while it writes
 * the frontend's; past hold_max a leg stops and is read on from there
 * when its turn comes. The page is the same. */
static void test_html_hold_bound(void **state)
{
    tcpi_redact_t *rd = malloc(sizeof(*rd));
    tcpi_packets_opts_t opt = {0};
    tcpi_packets_stats_t st;

    tcpi_redact_init(rd, tcpi_redact_defaults, 4);
    for (int hex = 0; hex < 2; hex++) {
        memset(&opt, 0, sizeof(opt));
        opt.redact = rd;
        opt.hex = hex;
        char *want = strdup(render(1, NULL, &opt, 0, &st));
        assert_int_equal(st.passes, 1);
        for (size_t hold = 1; hold < 4096; hold *= 4) {
            opt.hold_max = hold;
            assert_string_equal(render(1, NULL, &opt, 0, &st), want);
            assert_int_equal(st.shown, npkts);
            assert_true(st.passes >= 2);
            assert_true(st.decoded > npkts);
        }
        free(want);
    }
    free(rd);
}

/* The page masks in place from the decode it made once; that is what
 * tcpi_redact_frame does after its own decode, byte for byte and state
 * for state, over every fixture. */
static void test_redact_in_place(void **state)
{
    tcpi_redact_t *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *d;
    glob_t g;
    size_t frames = 0;

    assert_int_equal(glob("tests/pcap/*.pcap", 0, NULL, &g), 0);
    assert_true(g.gl_pathc > 10);
    for (int names = 0; names < 2; names++) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            pcap_t *p = pcap_open_offline(g.gl_pathv[i], err);
            assert_non_null(p);
            int lt = pcap_datalink(p);
            tcpi_redact_init(a, tcpi_redact_defaults, names ? 4 : 0);
            tcpi_redact_init(b, tcpi_redact_defaults, names ? 4 : 0);
            while (pcap_next_ex(p, &h, &d) == 1) {
                uint8_t *x = malloc(h->caplen + 1), *y = malloc(h->caplen + 1);
                tcpi_pkt_t pa, pb;
                int wa = tcpi_redact_frame(a, &pa, lt, d, x, h->caplen, h->len);
                int wb = tcpi_decode(&pb, lt, d, h->caplen, h->len);
                memcpy(y, d, h->caplen);
                tcpi_redact_decoded(b, &pb, wb, y, h->caplen);
                assert_int_equal(wa, wb);
                assert_memory_equal(x, y, h->caplen);
                assert_int_equal(a->masked, b->masked);
                assert_memory_equal(a->flow, b->flow, sizeof(a->flow));
                free(x);
                free(y);
                frames++;
            }
            pcap_close(p);
        }
    }
    assert_true(a->masked > 0);
    assert_true(frames > 100);
    globfree(&g);
    free(a);
    free(b);
}

static void test_filter_reads_payload(void **state)
{
    (void)state;
    assert_int_equal(tcpi_filter_reads_payload("tcp port 80"), 0);
    assert_int_equal(tcpi_filter_reads_payload("tcp[tcpflags] & tcp-syn != 0"), 0);
    assert_int_equal(tcpi_filter_reads_payload("tcp[13] = 2 and ip[8] < 5"), 0);
    assert_int_equal(tcpi_filter_reads_payload("tcp[ 16 : 4 ] = 0"), 0);
    assert_int_equal(tcpi_filter_reads_payload("icmp[icmptype] = 8"), 0);
    assert_int_equal(tcpi_filter_reads_payload("tcp[18:4] = 0"), 1);
    assert_int_equal(tcpi_filter_reads_payload("tcp[20] = 0x41"), 1);
    assert_int_equal(tcpi_filter_reads_payload("tcp[0x40] = 1"), 1);
    assert_int_equal(tcpi_filter_reads_payload(
                         "tcp[((tcp[12]&0xf0)>>2)+4:1] = 0x41"), 1);
    assert_int_equal(tcpi_filter_reads_payload("ip[len - 1] = 0"), 1);
    assert_int_equal(tcpi_filter_reads_payload("tcp[13"), 1);
    assert_int_equal(tcpi_filter_reads_payload("tcp[tcpflagsx] = 1"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_equals_tcpdump),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_filter_reads_payload),
        cmocka_unit_test(test_fragment_masked),
        cmocka_unit_test(test_match_limit_since),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_decoded_once),
        cmocka_unit_test(test_html_hold_bound),
        cmocka_unit_test(test_redact_in_place),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
