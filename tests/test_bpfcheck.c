/* Unit tests for tcpi_bpfcheck: what filter= may hand to pcap_compile.
 *
 * The oracle is libpcap itself: this binary defines the five name-lookup
 * functions libpcap 1.10 imports (getaddrinfo, gethostbyname,
 * getnetbyname_r, getprotobyname_r, ether_hostton), so they count every
 * lookup pcap_compile makes instead of asking NSS. Every accepted
 * expression must compile with no lookup; the refused ones are shown to
 * cause one (so the check refuses for a reason, and the counting works). */
#include "tcpi_test.h"
#include "render/tcpi_bpfcheck.h"
#include "common/tcpi_common.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/ether.h>
#include <pcap/pcap.h>
#include <time.h>

static int lookups;

/* Numeric conversions are no lookup: the scanner checks IPv6 literals
 * with AI_NUMERICHOST, then gen_mcode6 converts them again without the
 * flag (glibc parses a numeric address before it would ask NSS). Those
 * are forwarded, with AI_NUMERICHOST to be sure. */
int getaddrinfo(const char *restrict node, const char *restrict service,
                const struct addrinfo *restrict hints,
                struct addrinfo **restrict res)
{
    typedef int gai_fn(const char *, const char *, const struct addrinfo *,
                       struct addrinfo **);
    struct in6_addr a6;

    if (node && service == NULL && hints &&
        ((hints->ai_flags & AI_NUMERICHOST) ||
         inet_pton(AF_INET6, node, &a6) == 1)) {
        gai_fn *real = (gai_fn *)dlsym(RTLD_NEXT, "getaddrinfo");
        struct addrinfo h = *hints;
        h.ai_flags |= AI_NUMERICHOST;
        return real(node, service, &h, res);
    }
    lookups++;
    return EAI_NONAME;
}
struct hostent *gethostbyname(const char *name)
{
    lookups++;
    return NULL;
}
int getnetbyname_r(const char *name, struct netent *rb, char *buf,
                   size_t buflen, struct netent **result, int *h_errnop)
{
    lookups++;
    *result = NULL;
    *h_errnop = HOST_NOT_FOUND;
    return ENOENT;
}
int getprotobyname_r(const char *name, struct protoent *rb, char *buf,
                     size_t buflen, struct protoent **result)
{
    lookups++;
    *result = NULL;
    return ENOENT;
}
int ether_hostton(const char *hostname, struct ether_addr *addr)
{
    lookups++;
    return -1;
}

/* Compile for Ethernet; the number of lookups it made. *ok: compiled. */
static int compile_lookups(const char *expr, int *ok)
{
    pcap_t *d = pcap_open_dead(DLT_EN10MB, 262144);
    struct bpf_program p;
    int before = lookups;

    *ok = pcap_compile(d, &p, expr, 1, PCAP_NETMASK_UNKNOWN) == 0;
    if (*ok)
        pcap_freecode(&p);
    pcap_close(d);
    return lookups - before;
}

static const char *const good[] = {
    "tcp port 80",
    "host 10.1.2.3 and not port 22",
    "tcp and (port 80 or port 7001)",
    "net 10.0.0.0/8",
    "net 10.1",
    "src net 192.168.0.0 mask 255.255.0.0",
    "ip6 host 2001:db8::1",
    "ip6 net 2001:db8::/32",
    "host ::1",
    "host ::ffff:10.1.2.3",
    "ip6 host 1:2:3:4:5:6:7:8",
    "ether host 00:11:22:33:44:55",
    "ether host 0011.2233.4455",
    "ether host 00-11-22-33-44-55",
    "ether src 001122334455",
    "portrange 8000-8080",
    "tcp dst portrange 1-1023",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) != 0",
    "tcp[13] & tcp-fin = tcp-fin",
    "icmp[icmptype] = icmp-echo",
    "icmp6 and ip6[40] = icmp6-echo",
    "len >= 100 && less 1500",
    "greater 64 || len <= 40",
    "ip proto 6",
    "ip6 protochain 17",
    "ether proto 0x0800",
    "ether proto 0X86DD",
    "vlan 100 and mpls",
    "pppoes and tcp",
    "tcp[12:1] >> 4 > 5",
    "tcp[2:2] = 7001",
    "ether[0:4]=0x01005e00",
    "ip[6:2] & 0x1fff = 0",
    "!tcp",
    "not(port 80)",
    "port 80 || port 0x1bb",
    "tcp[13] % 3 = 1 and tcp[14] ^ 2 = 0 and tcp[15] * 2 - 1 = 3",
    "tcp src port 40000 and tcp[((tcp[12] & 0xf0) >> 2):4] = 0x47455420",
    "(((port 1)))",
    "inbound",
    /* the /flows links to /packets (tcpi_flowview_bpf) */
    "tcp and ((src host 198.18.0.2 and src port 40000 and dst host "
    "198.18.0.1 and dst port 80) or (src host 198.18.0.1 and src port 80 "
    "and dst host 198.18.0.2 and dst port 40000))",
    "tcp and ((src host 2001:db8::2 and src port 40001 and dst host "
    "2001:db8::1 and dst port 80) or (src host 2001:db8::1 and src port 80 "
    "and dst host 2001:db8::2 and dst port 40001))",
    "ip broadcast or ether multicast",
};

static void test_accepted_compile_without_lookups(void **state)
{
    char err[256];
    int ok;

    for (size_t i = 0; i < TCPI_ARRAY_LEN(good); i++) {
        err[0] = '\0';
        if (tcpi_bpfcheck(NULL, good[i], err, sizeof(err)) != 0)
            fail_msg("refused \"%s\": %s", good[i], err);
        assert_int_equal(compile_lookups(good[i], &ok), 0);
    }
    /* They also compile (those meant to; broadcast needs a netmask). */
    for (size_t i = 0; i + 1 < TCPI_ARRAY_LEN(good); i++) {
        compile_lookups(good[i], &ok);
        if (!ok)
            fail_msg("libpcap did not compile \"%s\"", good[i]);
    }
}

/* Each refused expression with the word the message must name, and
 * whether pcap_compile would have looked a name up for it. */
static const struct {
    const char *expr, *word;
    int looks_up;
} bad[] = {
    { "host some.name", "\"some.name\"", 1 },
    { "port http", "\"http\" is not a port number", 1 },
    { "tcp port https and host 10.1.2.3", "\"https\"", 1 },
    { "src localhost", "\"localhost\"", 1 },
    { "localhost", "\"localhost\"", 0 },  /* a syntax error for libpcap */
    { "host 10.1.2.3 or web1", "\"web1\"", 1 },
    { "tcp and web2", "\"web2\"", 0 },    /* a syntax error for libpcap */
    { "src host db-1.internal and port 5432", "\"db-1.internal\"", 1 },
    { "host 10.1.2.3.4", "\"10.1.2.3.4\"", 1 },
    { "host 10.", "\"10.\"", 1 },
    { "host 1e5", "\"1e5\"", 1 },
    { "port 0x", "\"0x\"", 1 },
    { "port 80-90", "\"80-90\"", 1 },      /* only portrange reads N-N */
    { "portrange http-https", "\"http-https\"", 1 },
    { "portrange 0x10-20", "\"0x10-20\"", 1 },   /* found by fuzz_bpfcheck */
    { "net loopback", "\"loopback\"", 1 },
    { "ether host myhost", "\"myhost\"", 1 },
    { "ip proto \\tcp", "\"\\tcp\"", 1 },
    { "ip6 protochain \\udp", "\"\\udp\"", 1 },
    { "port 80 or ftp", "\"ftp\"", 1 },
    { "host tcp-synx", "\"tcp-synx\"", 1 },
    { "host TCP", "\"TCP\"", 1 },     /* keywords are case-sensitive */
    { "tcp AND port 80", "\"AND\"", 0 },
    { "ether proto \\ip", "\"\\ip\"", 0 }, /* a table, but still refused */
    { "portrange 1-2 or 3-4", "\"3-4\"", 0 },
    { "type mgt", "\"mgt\"", 0 },
    { "port 80 # comment", "'#'", 0 },
    { "port 80; reboot", "';'", 0 },
    { "host $1", "'$'", 0 },
    { "host .1", "'.'", 0 },
    { "port 80 \xc3\xa9", "'\\xc3'", 0 },
    { "ether host 1:2:", "\"1:2:\"", 0 },
};

static void test_names_refused(void **state)
{
    char err[512];
    int ok;

    for (size_t i = 0; i < TCPI_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        if (tcpi_bpfcheck(NULL, bad[i].expr, err, sizeof(err)) != -1)
            fail_msg("accepted \"%s\"", bad[i].expr);
        if (strstr(err, bad[i].word) == NULL)
            fail_msg("\"%s\": message \"%s\" does not name %s", bad[i].expr,
                     err, bad[i].word);
        if (bad[i].looks_up && compile_lookups(bad[i].expr, &ok) == 0)
            fail_msg("\"%s\" makes no lookup in libpcap", bad[i].expr);
    }
}

/* Every word the check takes for a keyword is one for the installed
 * libpcap: were it an ID, `host WORD` would look it up. */
static void test_keywords_are_libpcap_keywords(void **state)
{
    const char *kw;
    char expr[128];
    int ok;
    size_t n = 0;

    assert_int_equal(compile_lookups("host notakeyword", &ok), 1);
    for (size_t i = 0; (kw = tcpi_bpfcheck_keyword(i)) != NULL; i++, n++) {
        snprintf(expr, sizeof(expr), "host %s", kw);
        if (compile_lookups(expr, &ok) != 0)
            fail_msg("\"%s\" is a name for libpcap", kw);
        snprintf(expr, sizeof(expr), "port 1 or %s", kw);
        if (compile_lookups(expr, &ok) != 0)
            fail_msg("\"%s\" is a name for libpcap", kw);
    }
    assert_true(n > 150);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_limits(void **state)
{
    char expr[8192], err[256];
    tcpi_bpfcheck_stats_t st;
    size_t n = 0;

    /* The 7 kB expression: refused on its length at once. */
    for (int i = 1; i < 400; i++)
        n += (size_t)snprintf(expr + n, sizeof(expr) - n, "%sport %d",
                              i > 1 ? " or " : "", i);
    assert_true(n > 4000);
    double t0 = now_ms();
    assert_int_equal(tcpi_bpfcheck(NULL, expr, err, sizeof(err)), -1);
    assert_true(now_ms() - t0 < 50);
    assert_non_null(strstr(err, "longer than 512 bytes"));

    /* Length: 512 bytes pass, 513 do not. */
    memset(expr, ' ', 512);
    memcpy(expr, "tcp", 3);
    expr[512] = '\0';
    assert_int_equal(tcpi_bpfcheck(&st, expr, err, sizeof(err)), 0);
    assert_int_equal(st.tokens, 1);
    expr[512] = ' ';
    expr[513] = '\0';
    assert_int_equal(tcpi_bpfcheck(NULL, expr, err, sizeof(err)), -1);

    /* Operators: 16 pass, 17 do not, whatever their spelling. */
    n = 0;
    for (int i = 1; i <= 17; i++)
        n += (size_t)snprintf(expr + n, sizeof(expr) - n, "%sportrange %d-9000",
                              i > 1 ? " or " : "", i);
    assert_int_equal(tcpi_bpfcheck(&st, expr, err, sizeof(err)), 0);
    assert_int_equal(st.ops, 16);
    strcat(expr, " and not tcp");
    assert_int_equal(tcpi_bpfcheck(NULL, expr, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "more than 16 and/or/not"));
    n = 0;
    for (int i = 1; i <= 17; i++)
        n += (size_t)snprintf(expr + n, sizeof(expr) - n, "%s!tcp",
                              i > 1 ? (i % 2 ? "&&" : "||") : "");
    assert_int_equal(tcpi_bpfcheck(NULL, expr, err, sizeof(err)), -1);
    assert_int_equal(tcpi_bpfcheck(&st, "!tcp&&!udp||port 1!=2", err,
                                   sizeof(err)), 0);
    assert_int_equal(st.ops, 4);

    /* One word at most 64 bytes; an over-long numeric run too. */
    snprintf(expr, sizeof(expr), "port %s", "1111111111111111111111111111111111111111111111111111111111111111");
    assert_int_equal(tcpi_bpfcheck(NULL, expr, err, sizeof(err)), 0);
    strcat(expr, "1");
    assert_int_equal(tcpi_bpfcheck(NULL, expr, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "longer than 64"));
    snprintf(expr, sizeof(expr), "host ::%s.2.3.4",
             "1111111111111111111111111111111111111111111111111111111111111");
    assert_int_equal(tcpi_bpfcheck(NULL, expr, err, sizeof(err)), -1);
}

/* The worst accepted expressions compile in bounded time (generous bound:
 * the machine is shared; they take 2-6 ms each, see tcpi_bpfcheck.h). */
static void test_worst_compile_bounded(void **state)
{
    static const int links[] = { DLT_EN10MB, DLT_LINUX_SLL, 276, DLT_RAW,
                                 DLT_NULL };
    char chain[1024], geneve[1024], err[256];
    size_t n = 0, m;
    int ok;

    for (int i = 1; i <= 17; i++)
        n += (size_t)snprintf(chain + n, sizeof(chain) - n,
                              "%sportrange %d-9000", i > 1 ? " or " : "", i);
    m = (size_t)snprintf(geneve, sizeof(geneve), "geneve 1 and (");
    for (int i = 2; i <= 16; i++)
        m += (size_t)snprintf(geneve + m, sizeof(geneve) - m,
                              "%sportrange %d-9000", i > 2 ? " or " : "", i);
    snprintf(geneve + m, sizeof(geneve) - m, ")");
    assert_int_equal(tcpi_bpfcheck(NULL, chain, err, sizeof(err)), 0);
    assert_int_equal(tcpi_bpfcheck(NULL, geneve, err, sizeof(err)), 0);
    double t0 = now_ms();
    for (size_t i = 0; i < TCPI_ARRAY_LEN(links); i++) {
        pcap_t *d = pcap_open_dead(links[i], 262144);
        struct bpf_program p;
        for (int k = 0; k < 2; k++) {
            ok = pcap_compile(d, &p, k ? geneve : chain, 1,
                              PCAP_NETMASK_UNKNOWN) == 0;
            if (ok)
                pcap_freecode(&p);
        }
        pcap_close(d);
    }
    double ms = now_ms() - t0;
    print_message("worst accepted expressions, 5 link types x 2: %.1f ms\n", ms);
    assert_true(ms < 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted_compile_without_lookups),
        cmocka_unit_test(test_names_refused),
        cmocka_unit_test(test_keywords_are_libpcap_keywords),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_worst_compile_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
