/* Unit tests for the packet pages' core: the en10mb fixture loaded into a
 * ring (interface 0 frontend, 1 backend) comes out as tcpdump printed it,
 * filter/match/limit/since select as documented, the HTML escapes and
 * groups by leg, redaction applies to text, -X and HTML. */
#include "tcpi_test.h"
#include "render/tcpi_packets.h"

#include <pcap/pcap.h>

static void *mem;
static tcpi_shm_t *shm;
static uint8_t buf[65536];
static tcpi_ports_t front, back;
static uint64_t npkts;

static int setup(void **state)
{
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *d;
    size_t size = tcpi_shm_size(1 << 20);

    mem = calloc(1, size);
    shm = tcpi_shm_init(mem, 1 << 20, 1);
    tcpi_shm_add_iface(shm, "veth0", TCPI_LEG_FRONT, "tcp");
    tcpi_shm_add_iface(shm, "lo", TCPI_LEG_BACKEND, "tcp");
    atomic_store(&shm->iface[0].linktype, DLT_EN10MB);
    atomic_store(&shm->iface[1].linktype, DLT_EN10MB);
    tcpi_ports_add(&front, 80);
    tcpi_ports_add(&back, 7001);
    pcap_t *p = pcap_open_offline("tests/pcap/en10mb.pcap", err);
    assert_non_null(p);
    /* IPv6 conversation on "lo" (backend), the rest on veth0. */
    while (pcap_next_ex(p, &h, &d) == 1) {
        uint16_t ifx = (npkts >= 11 && npkts < 22) ? 1 : 0;
        tcpi_ring_write(tcpi_shm_ring(shm),
                        (uint64_t)h->ts.tv_sec * 1000000000ull +
                        (uint64_t)h->ts.tv_usec * 1000u + 999,
                        ifx, DLT_EN10MB, h->caplen, h->len, d);
        npkts++;
    }
    pcap_close(p);
    return 0;
}

static int teardown(void **state) { free(mem); return 0; }

static char *render(int html, const char *filter, tcpi_packets_opts_t *opt,
                    uint64_t since, tcpi_packets_stats_t *st)
{
    static tcpi_membuf_t mb;
    tcpi_out_t *o = malloc(sizeof(*o));
    tcpi_query_t q;
    char err[256];

    free(mb.data);
    memset(&mb, 0, sizeof(mb));
    assert_int_equal(tcpi_query_init(&q, shm, -1, filter, err, sizeof(err)), 0);
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
    tcpi_query_free(&q);
    mb.data = realloc(mb.data, mb.len + 1);
    mb.data[mb.len] = 0;
    return mb.data;
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
    assert_int_equal(system("tcpdump -n -tt -r tests/pcap/en10mb.pcap 'ip6 and src port 40001'"
                            " >build/filter.txt 2>/dev/null"), 0);
    char *want = strdup(slurp("build/filter.txt"));
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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
