/* Unit tests for the decoder: every fixture packet against the fields
 * scapy put in it (tests/pcap/<name>.expect), every link type, every
 * truncation point of every packet (read at the end of a page followed by
 * a PROT_NONE page, so one byte too far faults), hostile lengths. */
#include "tcpi_test.h"
#include "decode/tcpi_decode.h"
#include "decode/tcpi_extract.h"

#include <pcap/pcap.h>
#include <sys/mman.h>
#include <unistd.h>

/* A copy of a frame that ends exactly at a PROT_NONE page. */
static uint8_t *guard_mem;
static size_t   guard_size;

static const uint8_t *guarded(const uint8_t *src, uint32_t len)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t need = ((len + pg - 1) / pg + 1) * pg;

    if (need > guard_size) {
        if (guard_mem)
            munmap(guard_mem, guard_size);
        guard_mem = mmap(NULL, need, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assert_true(guard_mem != MAP_FAILED);
        guard_size = need;
        assert_int_equal(mprotect(guard_mem + need - pg, pg, PROT_NONE), 0);
    }
    uint8_t *dst = guard_mem + guard_size - pg - len;
    memcpy(dst, src, len);
    return dst;
}

/* The value of one .expect key for a decoded packet, as text. */
static void field(char *out, size_t n, const char *key, int reason,
                  const tcpi_pkt_t *p)
{
    struct { const char *k; uint64_t v; } num[] = {
        {"family", p->family}, {"ip_len", p->ip_len},
        {"ip_len_zero", p->ip_len_zero}, {"ip_hlen", p->ip_hlen},
        {"ip_mf", p->ip_mf}, {"ip_df", p->ip_df}, {"frag_off", p->frag_off},
        {"ttl", p->ttl}, {"flowlabel", p->flowlabel},
        {"sport", p->sport}, {"dport", p->dport}, {"seq", p->seq},
        {"ack", p->ack}, {"flags", p->flags}, {"win", p->win},
        {"tcp_hlen", p->tcp_hlen}, {"payload_len", p->payload_len},
        {"urp", p->urp}, {"mss", p->has_mss ? p->mss : 99999},
        {"wscale", p->has_wscale ? p->wscale : 999},
        {"sackok", p->has_sackok}, {"tsval", p->has_ts ? p->tsval : 1ull << 40},
        {"tsecr", p->has_ts ? p->tsecr : 1ull << 40}, {"nsack", p->nsack},
        {"link", (uint64_t)p->linktype}, {"nvlan", p->nvlan},
        {"caplen", p->caplen}, {"opt_truncated", p->opt_truncated},
    };
    if (!strcmp(key, "reason")) {
        snprintf(out, n, "%s", tcpi_decode_reason_name(reason));
        return;
    }
    if (!strcmp(key, "sack0")) {
        snprintf(out, n, "%u-%u", p->sack_left[0], p->sack_right[0]);
        return;
    }
    for (size_t i = 0; i < sizeof(num) / sizeof(num[0]); i++)
        if (!strcmp(key, num[i].k)) {
            snprintf(out, n, "%llu", (unsigned long long)num[i].v);
            return;
        }
    fail_msg("unknown expect key %s", key);
}

/* Decode every packet of tests/pcap/<name>.pcap and compare with .expect;
 * returns the packet count. */
static int check_fixture(const char *name)
{
    char path[256], err[PCAP_ERRBUF_SIZE], line[2048];
    struct pcap_pkthdr *h;
    const u_char *data;
    int n = 0;

    snprintf(path, sizeof(path), "tests/pcap/%s.pcap", name);
    pcap_t *pc = pcap_open_offline(path, err);
    assert_non_null(pc);
    snprintf(path, sizeof(path), "tests/pcap/%s.expect", name);
    FILE *ex = fopen(path, "r");
    assert_non_null(ex);
    while (pcap_next_ex(pc, &h, &data) == 1) {
        tcpi_pkt_t pkt;
        assert_non_null(fgets(line, sizeof(line), ex));
        int rc = tcpi_decode(&pkt, pcap_datalink(pc) == DLT_NULL ? 0 :
                             pcap_datalink(pc) == 12 ? 101 :
                             pcap_datalink(pc), guarded(data, h->caplen),
                             h->caplen, h->len);
        for (char *tok = strtok(line, " \n"); tok; tok = strtok(NULL, " \n")) {
            char *eq = strchr(tok, '='), got[64];
            assert_non_null(eq);
            *eq = 0;
            field(got, sizeof(got), tok, rc, &pkt);
            if (strcmp(eq + 1, "any") && strcmp(got, eq + 1))
                fail_msg("%s packet %d: %s is %s, scapy says %s", name, n,
                         tok, got, eq + 1);
        }
        n++;
    }
    assert_null(fgets(line, sizeof(line), ex));
    fclose(ex);
    pcap_close(pc);
    return n;
}

static void test_en10mb(void **state)   { assert_int_equal(check_fixture("en10mb"), 40); }
static void test_sll(void **state)      { assert_int_equal(check_fixture("sll"), 10); }
static void test_sll2(void **state)     { assert_int_equal(check_fixture("sll2"), 10); }
static void test_null(void **state)     { assert_int_equal(check_fixture("null"), 10); }
static void test_null_be(void **state)  { assert_int_equal(check_fixture("null_be"), 10); }
static void test_loop(void **state)     { assert_int_equal(check_fixture("loop"), 10); }
static void test_raw(void **state)      { assert_int_equal(check_fixture("raw"), 10); }
static void test_ipv4(void **state)     { assert_int_equal(check_fixture("ipv4"), 5); }
static void test_ipv6(void **state)     { assert_int_equal(check_fixture("ipv6"), 5); }
static void test_trunc(void **state)    { assert_int_equal(check_fixture("trunc"), 29); }
/* Mutated and odd frames: only that nothing is read out of bounds. */
static void test_wild(void **state)
{
    assert_int_equal(check_fixture("wild"), 442);
    assert_int_equal(check_fixture("sll_vlan"), 4);
    assert_int_equal(check_fixture("sll2_dirs"), 5);
}

/* Cut every decodable packet of every fixture at every length: the reason
 * must follow from where the cut falls, and what was decoded must agree
 * with the full decode. */
static void cut_everywhere(const char *name)
{
    char path[256], err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *data;

    snprintf(path, sizeof(path), "tests/pcap/%s.pcap", name);
    pcap_t *pc = pcap_open_offline(path, err);
    assert_non_null(pc);
    int32_t lt = pcap_datalink(pc) == 12 ? 101 : pcap_datalink(pc);
    while (pcap_next_ex(pc, &h, &data) == 1) {
        tcpi_pkt_t full, cut;
        if (tcpi_decode(&full, lt, guarded(data, h->caplen), h->caplen,
                        h->len) != TCPI_DR_ok)
            continue;
        for (uint32_t c = 0; c <= h->caplen; c++) {
            int rc = tcpi_decode(&cut, lt, guarded(data, c), c, h->len);
            int want;
            if (c < full.ip_off)
                want = TCPI_DR_link_truncated;
            else if (c < full.ip_off + (full.family == 4 ? full.ip_hlen : 40))
                want = TCPI_DR_ip_truncated;
            else if (c < full.tcp_off)
                want = TCPI_DR_ip6_ext_truncated;
            else if (c < full.tcp_off + 20)
                want = TCPI_DR_tcp_truncated;
            else
                want = TCPI_DR_ok;
            if (lt == TCPI_LINKTYPE_RAW && c == 0)
                want = TCPI_DR_ip_truncated;
            if (rc != want)
                fail_msg("%s: cut at %u of %u: %s, want %s", name, c,
                         h->caplen, tcpi_decode_reason_name(rc),
                         tcpi_decode_reason_name(want));
            if (rc != TCPI_DR_ok)
                continue;
            assert_int_equal(cut.seq, full.seq);
            assert_int_equal(cut.payload_len, full.payload_len);
            assert_int_equal(cut.ip_len, full.ip_len);
            assert_int_equal(cut.opt_truncated,
                             c < full.tcp_off + full.tcp_hlen);
            assert_true(cut.payload_caplen <= full.payload_caplen);
            assert_true(cut.opt_off + cut.opt_len <= c);
            if (c >= full.tcp_off + full.tcp_hlen) {
                assert_int_equal(cut.has_ts, full.has_ts);
                assert_int_equal(cut.tsval, full.tsval);
                assert_int_equal(cut.nsack, full.nsack);
                assert_int_equal(cut.payload_caplen, c - full.payload_off);
            }
        }
    }
    pcap_close(pc);
}

static void test_cut_everywhere(void **state)
{
    const char *names[] = {"en10mb", "sll", "sll2", "null", "null_be",
                           "loop", "raw", "ipv4", "ipv6", "sll_vlan",
                           "sll2_dirs"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        cut_everywhere(names[i]);
}

/* Hand-made frames for what scapy will not build. */
static void test_hostile(void **state)
{
    uint8_t f[80];
    tcpi_pkt_t p;

    /* IPv4 hlen 4 (below 20). */
    memset(f, 0, sizeof(f));
    f[0] = 0x41; f[3] = 60; f[9] = 6;
    assert_int_equal(tcpi_decode(&p, TCPI_LINKTYPE_RAW, guarded(f, 60), 60, 60),
                     TCPI_DR_ip_hlen_too_small);
    /* IPv4 total length 10 < hlen 20. */
    f[0] = 0x45; f[3] = 10;
    assert_int_equal(tcpi_decode(&p, TCPI_LINKTYPE_RAW, guarded(f, 60), 60, 60),
                     TCPI_DR_ip_len_too_small);
    /* TCP data offset 4 (16 bytes). */
    f[3] = 60; f[32] = 0x40;
    assert_int_equal(tcpi_decode(&p, TCPI_LINKTYPE_RAW, guarded(f, 60), 60, 60),
                     TCPI_DR_tcp_hlen_too_small);
    /* TCP data offset 60 bytes in a 40-byte datagram. */
    f[3] = 40; f[32] = 0xf0;
    assert_int_equal(tcpi_decode(&p, TCPI_LINKTYPE_RAW, guarded(f, 60), 60, 60),
                     TCPI_DR_tcp_hlen_too_long);
    /* Version 6 header on an IPV4 link. */
    f[0] = 0x60;
    assert_int_equal(tcpi_decode(&p, TCPI_LINKTYPE_IPV4, guarded(f, 60), 60, 60),
                     TCPI_DR_ip_bad_version);
    /* RAW with version 5. */
    f[0] = 0x50;
    assert_int_equal(tcpi_decode(&p, TCPI_LINKTYPE_RAW, guarded(f, 60), 60, 60),
                     TCPI_DR_not_ip);
    /* Unsupported link type, and an 802.3 length in the ethertype. */
    assert_int_equal(tcpi_decode(&p, 147, guarded(f, 60), 60, 60),
                     TCPI_DR_link_unsupported);
    f[12] = 0x00; f[13] = 0x40;
    assert_int_equal(tcpi_decode(&p, TCPI_LINKTYPE_EN10MB, guarded(f, 60), 60, 60),
                     TCPI_DR_not_ip);
    /* A chain of VLAN tags running off the end. */
    for (int i = 12; i < 80; i += 4) { f[i] = 0x81; f[i + 1] = 0; }
    assert_int_equal(tcpi_decode(&p, TCPI_LINKTYPE_EN10MB, guarded(f, 80), 80, 80),
                     TCPI_DR_link_truncated);
    assert_true(p.nvlan > TCPI_MAX_VLAN);     /* counted, not stored */
    /* IPv6 with a routing header claiming 2 KiB. */
    memset(f, 0, sizeof(f));
    f[0] = 0x60; f[5] = 40; f[6] = 43; f[41] = 255;
    assert_int_equal(tcpi_decode(&p, TCPI_LINKTYPE_IPV6, guarded(f, 80), 80, 80),
                     TCPI_DR_ip6_ext_truncated);
    /* IPv6 next header UDP. */
    f[6] = 17;
    assert_int_equal(tcpi_decode(&p, TCPI_LINKTYPE_IPV6, guarded(f, 80), 80, 80),
                     TCPI_DR_not_tcp);
    /* NULL with an unknown family. */
    memset(f, 0, 8); f[0] = 99;
    assert_int_equal(tcpi_decode(&p, TCPI_LINKTYPE_NULL, guarded(f, 8), 8, 8),
                     TCPI_DR_not_ip);
}

/* Options with lengths that lie: parsing stops, nothing is read beyond
 * the header or the capture. */
static void test_lying_options(void **state)
{
    uint8_t f[60];
    tcpi_pkt_t p;

    memset(f, 0, sizeof(f));
    f[0] = 0x45; f[3] = 60; f[9] = 6;
    f[32] = 0xa0;                        /* 40-byte TCP header */
    f[40] = 2; f[41] = 40;               /* mss claiming 40 bytes */
    assert_int_equal(tcpi_decode(&p, TCPI_LINKTYPE_RAW, guarded(f, 60), 60, 60),
                     TCPI_DR_ok);
    assert_false(p.has_mss);
    f[40] = 5; f[41] = 1;                /* sack with length 1 */
    assert_int_equal(tcpi_decode(&p, TCPI_LINKTYPE_RAW, guarded(f, 60), 60, 60),
                     TCPI_DR_ok);
    assert_int_equal(p.nsack, 0);
    f[40] = 5; f[41] = 18;               /* sack 2 blocks */
    f[42] = 0; f[45] = 9; f[49] = 10;
    assert_int_equal(tcpi_decode(&p, TCPI_LINKTYPE_RAW, guarded(f, 60), 60, 60),
                     TCPI_DR_ok);
    assert_int_equal(p.nsack, 2);
    assert_int_equal(p.sack_left[0], 9);
    assert_int_equal(p.sack_right[0], 10);
    /* Cut inside the option: opt_truncated, no read past the cut. */
    assert_int_equal(tcpi_decode(&p, TCPI_LINKTYPE_RAW, guarded(f, 45), 45, 60),
                     TCPI_DR_ok);
    assert_true(p.opt_truncated);
    assert_int_equal(p.nsack, 0);
}

static void test_names(void **state)
{
    assert_string_equal(tcpi_decode_reason_name(TCPI_DR_tcp_truncated),
                        "tcp_truncated");
    assert_string_equal(tcpi_decode_reason_name(-1), "unknown");
    assert_string_equal(tcpi_decode_reason_name(TCPI_DR_COUNT), "unknown");
    assert_string_equal(tcpi_decode_reason_text(TCPI_DR_not_tcp), "not TCP");
    assert_true(tcpi_seq_lt(0xfffffff0u, 5));
    assert_false(tcpi_seq_lt(5, 0xfffffff0u));
    assert_true(tcpi_seq_leq(7, 7));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_en10mb),
        cmocka_unit_test(test_sll),
        cmocka_unit_test(test_sll2),
        cmocka_unit_test(test_null),
        cmocka_unit_test(test_null_be),
        cmocka_unit_test(test_loop),
        cmocka_unit_test(test_raw),
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_trunc),
        cmocka_unit_test(test_wild),
        cmocka_unit_test(test_cut_everywhere),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_lying_options),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
