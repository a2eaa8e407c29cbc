/* Unit tests for the capture files: pcap and pcapng round trips, files we
 * write read by tcpdump/capinfos/tshark, files they write read by us,
 * both byte orders and every timestamp resolution, and truncated or
 * corrupted input at every block boundary (behind a PROT_NONE page). */
#include "tcpi_test.h"
#include "pcapfile/tcpi_pcapfile.h"

#include <sys/mman.h>
#include <unistd.h>

#define NPKT 8

typedef struct {
    uint32_t ifid;
    uint64_t ts_ns;
    uint32_t caplen, wirelen;
    uint8_t  data[128];
    const char *comment;
} pkt_t;

static pkt_t pkts[NPKT];
static char dir[64];

static const tcpi_pcapng_if_t ifs[2] = {
    { "veth0", "frontend", "tcp port 80", 1, 262144 },
    { "lo", "backend", "tcp port 7001", 1, 65535 },
};
/* libpcap (tcpdump) reads pcapng only when every interface has the first
 * one's link type and snapshot length: the module writes one snaplen. */
static const tcpi_pcapng_if_t ifs_same[2] = {
    { "veth0", "frontend", "tcp port 80", 1, 262144 },
    { "lo", "backend", "tcp port 7001", 1, 262144 },
};

static int setup(void **state)
{
    static const char *comments[NPKT] = {
        "req 1 front", NULL, "", "req 2 backend x", NULL, "c", "ab", NULL };
    for (int i = 0; i < NPKT; i++) {
        pkt_t *k = &pkts[i];
        k->ifid = (uint32_t)(i % 2);
        k->ts_ns = 1700000000ull * 1000000000ull + (uint64_t)i * 1000123456ull;
        k->caplen = tcpi_test_frame(k->data, (uint16_t)(40000 + i),
                             k->ifid ? 7001 : 80, (uint32_t)i * 3);
        k->wirelen = k->caplen + (i == 7 ? 100 : 0);
        k->comment = comments[i];
    }
    snprintf(dir, sizeof(dir), "/tmp/tcpi_pcapfile.XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    if (getenv("TCPI_KEEP"))
        return 0;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_pcap(tcpi_membuf_t *m)
{
    tcpi_out_t *o = malloc(sizeof(*o));
    tcpi_out_init(o, tcpi_membuf_sink, m);
    tcpi_pcap_write_header(o, 1, 262144);
    for (int i = 0; i < NPKT; i++)
        tcpi_pcap_write_packet(o, pkts[i].ts_ns, pkts[i].caplen,
                               pkts[i].wirelen, pkts[i].data);
    assert_int_equal(tcpi_out_flush(o), 0);
    free(o);
}

static void write_pcapng_ifs(tcpi_membuf_t *m, const tcpi_pcapng_if_t *ifc)
{
    tcpi_out_t *o = malloc(sizeof(*o));
    tcpi_out_init(o, tcpi_membuf_sink, m);
    tcpi_pcapng_write_shb(o, "mod_tcpinspect test");
    tcpi_pcapng_write_idb(o, &ifc[0]);
    tcpi_pcapng_write_idb(o, &ifc[1]);
    for (int i = 0; i < NPKT; i++)
        tcpi_pcapng_write_epb(o, pkts[i].ifid, pkts[i].ts_ns, pkts[i].caplen,
                              pkts[i].wirelen, pkts[i].data, pkts[i].comment);
    tcpi_pcapng_write_isb(o, 0, pkts[NPKT - 1].ts_ns, 100, 2, 3, 4);
    tcpi_pcapng_write_isb(o, 1, pkts[NPKT - 1].ts_ns, 50, 0, UINT64_MAX, 7);
    assert_int_equal(tcpi_out_flush(o), 0);
    free(o);
}

static void write_pcapng(tcpi_membuf_t *m)
{
    write_pcapng_ifs(m, ifs);
}

static char *save(const char *name, const tcpi_membuf_t *m)
{
    static char path[8][128];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 128, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(m->data, 1, m->len, f), m->len);
    fclose(f);
    return p;
}

static void load(tcpi_membuf_t *m, const char *path)
{
    FILE *f = fopen(path, "rb");
    char b[4096];
    size_t n;
    assert_non_null(f);
    memset(m, 0, sizeof(*m));
    while ((n = fread(b, 1, sizeof(b), f)) > 0)
        assert_int_equal(tcpi_membuf_sink(m, b, n), 0);
    fclose(f);
}

/* Run a shell command; its stdout in a malloc'd string, exit status 0. */
static char *run(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    tcpi_membuf_t m = { 0 };
    char b[4096];
    size_t n;
    while ((n = fread(b, 1, sizeof(b), f)) > 0)
        assert_int_equal(tcpi_membuf_sink(&m, b, n), 0);
    int rc = pclose(f);
    if (rc != 0)
        fail_msg("`%s` exited with %d", cmd, rc);
    return m.data ? m.data : strdup("");
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Read every packet; compare with pkts[] (µs precision when us != 0). */
static void check_pkts(const uint8_t *buf, size_t len, int pcapng, int us,
                       int comments)
{
    tcpi_capfile_t *r = malloc(sizeof(*r));
    tcpi_capfile_pkt_t pk;
    int i = 0, rc;

    assert_int_equal(tcpi_capfile_open(r, buf, len), 0);
    while ((rc = tcpi_capfile_next(r, &pk)) == 1) {
        assert_true(i < NPKT);
        const pkt_t *k = &pkts[i];
        assert_int_equal(pk.ifid, pcapng ? k->ifid : 0);
        assert_int_equal(pk.linktype, 1);
        assert_int_equal(pk.ts_ns, us ? k->ts_ns / 1000 * 1000 : k->ts_ns);
        assert_int_equal(pk.caplen, k->caplen);
        assert_int_equal(pk.wirelen, k->wirelen);
        assert_memory_equal(pk.data, k->data, k->caplen);
        if (comments && k->comment) {
            assert_int_equal(pk.comment_len, strlen(k->comment));
            assert_memory_equal(pk.comment, k->comment, pk.comment_len);
        } else if (comments) {
            assert_null(pk.comment);
        }
        i++;
    }
    if (rc != 0)
        fail_msg("reader: %s", r->err);
    assert_int_equal(i, NPKT);
    free(r);
}

static void test_pcap_roundtrip(void **state)
{
    tcpi_membuf_t m = { 0 };
    write_pcap(&m);
    assert_int_equal(m.len, 24 + NPKT * 16 + (54 * NPKT + 3 * 28));
    assert_memory_equal(m.data, "\xd4\xc3\xb2\xa1\x02\x00\x04\x00", 8);
    check_pkts((uint8_t *)m.data, m.len, 0, 1, 0);
    free(m.data);
}

static void test_pcapng_roundtrip(void **state)
{
    tcpi_membuf_t m = { 0 };
    tcpi_capfile_t *r = malloc(sizeof(*r));
    tcpi_capfile_pkt_t pk;

    write_pcapng(&m);
    assert_int_equal(m.len % 4, 0);
    check_pkts((uint8_t *)m.data, m.len, 1, 0, 1);
    /* Interfaces and the statistics read back. */
    assert_int_equal(tcpi_capfile_open(r, (uint8_t *)m.data, m.len), 0);
    while (tcpi_capfile_next(r, &pk) == 1)
        ;
    assert_string_equal(r->err, "");
    assert_int_equal(r->nif, 2);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(r->ifc[i].name, ifs[i].name);
        assert_string_equal(r->ifc[i].description, ifs[i].description);
        assert_string_equal(r->ifc[i].filter, ifs[i].filter);
        assert_int_equal(r->ifc[i].snaplen, ifs[i].snaplen);
        assert_int_equal(r->ifc[i].tsresol, 9);
        assert_true(r->ifc[i].have_stats);
    }
    assert_int_equal(r->ifc[0].ifrecv, 100);
    assert_int_equal(r->ifc[0].ifdrop, 2);
    assert_int_equal(r->ifc[0].osdrop, 3);
    assert_int_equal(r->ifc[0].usrdeliv, 4);
    assert_int_equal(r->ifc[1].osdrop, UINT64_MAX);
    assert_int_equal(r->ifc[1].usrdeliv, 7);
    free(r);
    free(m.data);
}

/* Our files through the oracles: tcpdump, capinfos, tshark. */
static void test_tools_read_ours(void **state)
{
    tcpi_membuf_t a = { 0 }, b = { 0 };
    write_pcap(&a);
    write_pcapng_ifs(&b, ifs_same);
    const char *pcap = save("ours.pcap", &a), *ng = save("ours.pcapng", &b);
    char *s;

    s = run("tcpdump -n -tt -r %s 2>/dev/null", pcap);
    assert_int_equal(count_lines(s), NPKT);
    assert_non_null(strstr(s, "1700000000.000000 IP 127.0.0.1.40000 > "
                              "127.0.0.1.80: Flags [.], ack 0, win 65535, length 0\n"));
    assert_non_null(strstr(s, "1700000003.000370 IP 127.0.0.1.40003 > "
                              "127.0.0.1.7001: Flags [P.], seq 1:10, ack 0, "
                              "win 65535, length 9\n"));
    free(s);
    s = run("tcpdump -n -tt -r %s 2>/dev/null", ng);
    assert_int_equal(count_lines(s), NPKT);
    free(s);
    free(b.data);
    memset(&b, 0, sizeof(b));
    write_pcapng(&b);
    ng = save("ours.pcapng", &b);

    s = run("capinfos -M -c -t %s", ng);
    assert_non_null(strstr(s, "Number of packets:   8\n"));
    assert_non_null(strstr(s, "File type:           pcapng\n"));
    free(s);
    s = run("capinfos -M -c -t -E %s", pcap);
    assert_non_null(strstr(s, "Number of packets:   8\n"));
    assert_non_null(strstr(s, "File type:           pcap\n"));
    assert_non_null(strstr(s, "File encapsulation:  ether\n"));
    free(s);
    s = run("capinfos -I %s", ng);
    assert_non_null(strstr(s, "Number of interfaces in file: 2\n"));
    assert_non_null(strstr(s, "Name = veth0\n"));
    assert_non_null(strstr(s, "Name = lo\n"));
    assert_non_null(strstr(s, "Description = frontend\n"));
    assert_non_null(strstr(s, "Capture length = 262144\n"));
    assert_non_null(strstr(s, "Capture length = 65535\n"));
    assert_non_null(strstr(s, "Time precision = nanoseconds (9)\n"));
    assert_non_null(strstr(s, "Filter string = tcp port 80\n"));
    assert_non_null(strstr(s, "Filter string = tcp port 7001\n"));
    assert_non_null(strstr(s, "Number of stat entries = 1\n"));
    free(s);

    s = run("tshark -r %s -T fields -E separator=, -e frame.interface_name "
            "-e frame.comment -e frame.time_epoch -e frame.len 2>/dev/null", ng);
    assert_string_equal(s,
        "veth0,req 1 front,1700000000.000000000,54\n"
        "lo,,1700000001.000123456,57\n"
        "veth0,,1700000002.000246912,60\n"
        "lo,req 2 backend x,1700000003.000370368,63\n"
        "veth0,,1700000004.000493824,66\n"
        "lo,c,1700000005.000617280,69\n"
        "veth0,ab,1700000006.000740736,72\n"
        "lo,,1700000007.000864192,175\n");
    free(s);
    s = run("tshark -r %s -T fields -e frame.cap_len 2>/dev/null | tail -1", ng);
    assert_string_equal(s, "75\n");
    free(s);
    free(a.data);
    free(b.data);
}

/* Files written by tcpdump -w, editcap and tshark, read by us. */
static void test_read_tools_files(void **state)
{
    tcpi_membuf_t a = { 0 }, b = { 0 }, m;
    write_pcap(&a);
    write_pcapng(&b);
    const char *pcap = save("src.pcap", &a), *ng = save("src.pcapng", &b);
    char *s;
    tcpi_capfile_t *r = malloc(sizeof(*r));

    s = run("tcpdump -r %s -w %s/td.pcap 2>/dev/null", pcap, dir);
    free(s);
    s = run("editcap -F pcapng %s %s/ed.pcapng", pcap, dir);
    free(s);
    s = run("editcap -F nsecpcap %s %s/ns.pcap", ng, dir);
    free(s);
    s = run("tshark -r %s -w %s/ts.pcapng 2>&1", ng, dir);
    free(s);

    char path[160];
    snprintf(path, sizeof(path), "%s/td.pcap", dir);
    load(&m, path);
    check_pkts((uint8_t *)m.data, m.len, 0, 1, 0);
    free(m.data);

    snprintf(path, sizeof(path), "%s/ed.pcapng", dir);
    load(&m, path);
    check_pkts((uint8_t *)m.data, m.len, 0, 1, 0);
    assert_int_equal(tcpi_capfile_open(r, (uint8_t *)m.data, m.len), 0);
    assert_true(r->pcapng);
    free(m.data);

    snprintf(path, sizeof(path), "%s/ns.pcap", dir);
    load(&m, path);
    assert_int_equal(tcpi_capfile_open(r, (uint8_t *)m.data, m.len), 0);
    assert_true(r->nsec);
    /* editcap keeps one pcap interface; interface ids collapse to 0. */
    tcpi_capfile_pkt_t pk;
    int n = 0;
    while (tcpi_capfile_next(r, &pk) == 1) {
        assert_int_equal(pk.ts_ns, pkts[n].ts_ns);
        assert_int_equal(pk.caplen, pkts[n].caplen);
        n++;
    }
    assert_string_equal(r->err, "");
    assert_int_equal(n, NPKT);
    free(m.data);

    snprintf(path, sizeof(path), "%s/ts.pcapng", dir);
    load(&m, path);
    check_pkts((uint8_t *)m.data, m.len, 1, 0, 1);
    free(m.data);
    free(r);
    free(a.data);
    free(b.data);
}

/* ---- hand-built blocks, either byte order ------------------------------ */

typedef struct { uint8_t b[4096]; size_t n; int be; } blk_t;

static void b8(blk_t *k, uint8_t v) { k->b[k->n++] = v; }
static void b16(blk_t *k, uint16_t v)
{
    if (k->be) { b8(k, (uint8_t)(v >> 8)); b8(k, (uint8_t)v); }
    else { b8(k, (uint8_t)v); b8(k, (uint8_t)(v >> 8)); }
}
static void b32(blk_t *k, uint32_t v)
{
    if (k->be) { b16(k, (uint16_t)(v >> 16)); b16(k, (uint16_t)v); }
    else { b16(k, (uint16_t)v); b16(k, (uint16_t)(v >> 16)); }
}
static void bmem(blk_t *k, const void *p, size_t n)
{
    memcpy(k->b + k->n, p, n);
    k->n += n;
    while (k->n % 4)
        b8(k, 0);
}
/* Open a block; blk_end fills the two length words. */
static size_t blk_begin(blk_t *k, uint32_t type)
{
    size_t at = k->n;
    b32(k, type);
    b32(k, 0);
    return at;
}
static void blk_end(blk_t *k, size_t at)
{
    uint32_t total = (uint32_t)(k->n - at + 4);
    blk_t t = { .be = k->be };
    b32(&t, total);
    memcpy(k->b + at + 4, t.b, 4);
    b32(k, total);
}

static void shb(blk_t *k)
{
    size_t at = blk_begin(k, 0x0a0d0d0a);
    b32(k, 0x1a2b3c4d);
    b16(k, 1); b16(k, 0);
    b32(k, 0xffffffff); b32(k, 0xffffffff);
    blk_end(k, at);
}

static void idb(blk_t *k, uint16_t lt, uint32_t snap, int tsresol)
{
    size_t at = blk_begin(k, 1);
    b16(k, lt); b16(k, 0); b32(k, snap);
    b16(k, 2); b16(k, 3); bmem(k, "eth", 3);
    if (tsresol >= 0) {
        b16(k, 9); b16(k, 1); uint8_t v = (uint8_t)tsresol; bmem(k, &v, 1);
    }
    b16(k, 0); b16(k, 0);
    blk_end(k, at);
}

static void epb(blk_t *k, uint32_t ifid, uint64_t ts, const pkt_t *p)
{
    size_t at = blk_begin(k, 6);
    b32(k, ifid); b32(k, (uint32_t)(ts >> 32)); b32(k, (uint32_t)ts);
    b32(k, p->caplen); b32(k, p->wirelen);
    bmem(k, p->data, p->caplen);
    blk_end(k, at);
}

static int read_all(tcpi_capfile_t *r, const blk_t *k, tcpi_capfile_pkt_t *out,
                    int max)
{
    tcpi_capfile_pkt_t pk;
    int n = 0, rc;
    if (tcpi_capfile_open(r, k->b, k->n) != 0)
        return -1;
    while ((rc = tcpi_capfile_next(r, &pk)) == 1)
        if (n < max)
            out[n++] = pk;
    return rc < 0 ? -1 : n;
}

/* Big-endian pcapng with power-of-2 and decimal resolutions, an unknown
 * block, an SPB, an OPB, a second section; big-endian classic pcap. */
static void test_byte_orders_and_blocks(void **state)
{
    tcpi_capfile_t *r = malloc(sizeof(*r));
    tcpi_capfile_pkt_t pk[8];
    for (int be = 0; be <= 1; be++) {
        blk_t *k = calloc(1, sizeof(*k));
        k->be = be;
        shb(k);
        idb(k, 1, 40, 0x80 | 20);       /* 2^-20 s units */
        idb(k, 113, 0, 3);              /* ms */
        idb(k, 1, 0, -1);               /* default: µs */
        size_t at = blk_begin(k, 0x0bad);
        b32(k, 42);
        blk_end(k, at);
        epb(k, 0, (3ull << 20) | (1u << 19), &pkts[0]);  /* 3.5 s */
        epb(k, 1, 1500, &pkts[1]);                        /* 1.5 s */
        epb(k, 2, 2000001, &pkts[2]);                     /* 2.000001 s */
        at = blk_begin(k, 3);                             /* SPB */
        b32(k, pkts[3].caplen);
        bmem(k, pkts[3].data, pkts[3].caplen);
        blk_end(k, at);
        at = blk_begin(k, 2);                             /* OPB */
        b16(k, 1); b16(k, 0); b32(k, 0); b32(k, 7000);
        b32(k, pkts[4].caplen); b32(k, pkts[4].wirelen);
        bmem(k, pkts[4].data, pkts[4].caplen);
        b16(k, 1); b16(k, 2); bmem(k, "hi", 2); b16(k, 0); b16(k, 0);
        blk_end(k, at);
        shb(k);                                           /* new section */
        idb(k, 1, 0, 9);
        epb(k, 0, 5, &pkts[5]);

        assert_int_equal(read_all(r, k, pk, 8), 6);
        assert_int_equal(r->bigendian, be);
        assert_int_equal(r->sections, 2);
        assert_int_equal(pk[0].ts_ns, 3500000000ull);
        assert_int_equal(pk[0].caplen, pkts[0].caplen);
        assert_int_equal(pk[1].ts_ns, 1500000000ull);
        assert_int_equal(pk[1].linktype, 113);
        assert_int_equal(pk[2].ts_ns, 2000001000ull);
        assert_int_equal(pk[3].caplen, 40);   /* SPB: cut to snaplen */
        assert_int_equal(pk[3].wirelen, pkts[3].caplen);
        assert_memory_equal(pk[3].data, pkts[3].data, 40);
        assert_int_equal(pk[4].ifid, 1);
        assert_int_equal(pk[4].ts_ns, 7000000000ull);
        assert_int_equal(pk[4].comment_len, 2);
        assert_memory_equal(pk[4].comment, "hi", 2);
        assert_int_equal(pk[5].ts_ns, 5);
        assert_int_equal(r->nif, 1);
        free(k);
    }

    /* Classic pcap, big-endian, µs and ns magic. */
    for (int ns = 0; ns <= 1; ns++) {
        blk_t *k = calloc(1, sizeof(*k));
        k->be = 1;
        b32(k, ns ? 0xa1b23c4d : 0xa1b2c3d4);
        b16(k, 2); b16(k, 4); b32(k, 0); b32(k, 0); b32(k, 65535);
        b32(k, 1);
        b32(k, 10); b32(k, 999); b32(k, pkts[1].caplen); b32(k, 1000);
        memcpy(k->b + k->n, pkts[1].data, pkts[1].caplen);
        k->n += pkts[1].caplen;
        assert_int_equal(read_all(r, k, pk, 8), 1);
        assert_int_equal(pk[0].ts_ns, 10000000000ull + (ns ? 999 : 999000));
        assert_int_equal(pk[0].wirelen, 1000);
        assert_int_equal(r->ifc[0].snaplen, 65535);
        free(k);
    }
    free(r);
}

/* ---- hostile input ------------------------------------------------------ */

/* Read buf[0..len) placed right before a PROT_NONE page; the packet
 * count, or -1 with a message. Touches every byte handed out. */
static int read_guarded(const uint8_t *src, size_t len, char *err, size_t el)
{
    long pg = sysconf(_SC_PAGESIZE);
    size_t span = ((len + (size_t)pg - 1) / (size_t)pg + 1) * (size_t)pg;
    uint8_t *map = mmap(NULL, span, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(map != MAP_FAILED);
    assert_int_equal(mprotect(map + span - pg, (size_t)pg, PROT_NONE), 0);
    uint8_t *b = map + span - (size_t)pg - len;
    memcpy(b, src, len);
    tcpi_capfile_t *r = malloc(sizeof(*r));
    tcpi_capfile_pkt_t pk;
    int n = 0, rc = -1;
    unsigned sum = 0;
    if (tcpi_capfile_open(r, b, len) == 0) {
        while ((rc = tcpi_capfile_next(r, &pk)) == 1 && n < 100000) {
            for (uint32_t i = 0; i < pk.caplen; i++)
                sum += pk.data[i];
            for (size_t i = 0; i < pk.comment_len; i++)
                sum += (unsigned char)pk.comment[i];
            n++;
        }
    }
    if (rc < 0)
        assert_true(r->err[0] != '\0');
    snprintf(err, el, "%s", r->err);
    free(r);
    munmap(map, span);
    (void)sum;
    return rc < 0 ? -1 : n;
}

/* Every prefix: a clean end exactly at a block/record boundary (with the
 * packets before it), an error with a message anywhere else. The
 * boundaries come from walking the lengths here, not from the reader. */
static void check_prefixes(const tcpi_membuf_t *m, int pcapng)
{
    const uint8_t *d = (const uint8_t *)m->data;
    size_t bound[64], pos = pcapng ? 0 : 24;
    int at_pkts[64], nb = 0, npk = 0;
    char err[160];

    if (!pcapng) {
        bound[nb] = 24; at_pkts[nb++] = 0;
    }
    while (pos < m->len) {
        uint32_t v = (uint32_t)d[pos + 4] | (uint32_t)d[pos + 5] << 8
                   | (uint32_t)d[pos + 6] << 16 | (uint32_t)d[pos + 7] << 24;
        if (pcapng) {
            npk += d[pos] == 6;
            pos += v;
        } else {
            v = (uint32_t)d[pos + 8] | (uint32_t)d[pos + 9] << 8;
            npk++;
            pos += 16 + v;
        }
        assert_true(nb < 64);
        bound[nb] = pos; at_pkts[nb++] = npk;
    }
    assert_int_equal(pos, m->len);
    assert_int_equal(npk, NPKT);
    for (size_t len = 0; len <= m->len; len++) {
        int want = -1;
        for (int i = 0; i < nb; i++)
            if (bound[i] == len)
                want = at_pkts[i];
        int got = read_guarded(d, len, err, sizeof(err));
        if (got != want)
            fail_msg("prefix %zu of %zu: got %d want %d (%s)", len, m->len,
                     got, want, err);
    }
}

static void test_truncated(void **state)
{
    tcpi_membuf_t a = { 0 }, b = { 0 };
    write_pcap(&a);
    write_pcapng(&b);
    check_prefixes(&a, 0);
    check_prefixes(&b, 1);
    /* A cut inside a block always fails with a message naming it. */
    char err[160];
    assert_int_equal(read_guarded((uint8_t *)b.data, b.len - 1, err,
                                  sizeof(err)), -1);
    assert_non_null(strstr(err, "bad total length"));
    assert_int_equal(read_guarded((uint8_t *)a.data, a.len - 1, err,
                                  sizeof(err)), -1);
    assert_non_null(strstr(err, "exceeds"));
    assert_int_equal(read_guarded((uint8_t *)a.data, 10, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "file header truncated"));
    free(a.data);
    free(b.data);
}

static void put_le32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (char)(v >> (8 * i));
}

/* Specific corruptions of each block with the expected message, then
 * every byte of both files flipped: never a crash, never a hang. */
static void test_corrupt(void **state)
{
    tcpi_membuf_t b = { 0 }, a = { 0 };
    write_pcapng(&b);
    write_pcap(&a);
    char *c = malloc(b.len), err[160];
    uint32_t len_shb, len_idb0, len_idb1;
    memcpy(&len_shb, b.data + 4, 4);
    assert_int_equal(len_shb, 28 + 4 + 20 + 4);       /* + userappl, end */
    size_t idb0 = len_shb;
    memcpy(&len_idb0, b.data + idb0 + 4, 4);
    memcpy(&len_idb1, b.data + idb0 + len_idb0 + 4, 4);
    size_t epb0 = idb0 + len_idb0 + len_idb1;
    assert_int_equal((unsigned char)b.data[epb0], 6);

    static const struct { size_t off; uint32_t v; const char *msg; } cases[] = {
        { 4, 0xfffffff0u, "bad total length" },        /* SHB length */
        { 8, 0x11111111u, "byte-order magic" },
        { 12, 2, "major version" },
        { 56 + 4, 13, "bad total length" },            /* IDB length odd */
        { 56 + 4, 8, "bad total length" },             /* below minimum */
        { 56 + 4, 16, "trailing length" },
        { 56 + 16 + 2, 0x4000u, "runs past" },         /* if_name length */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(c, b.data, b.len);
        put_le32(c + cases[i].off, cases[i].v);
        assert_int_equal(read_guarded((uint8_t *)c, b.len, err, sizeof(err)),
                         -1);
        if (strstr(err, cases[i].msg) == NULL)
            fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].msg);
    }
    /* EPB: interface id out of range, caplen past the block, tsresol. */
    memcpy(c, b.data, b.len);
    put_le32(c + epb0 + 8, 2);
    assert_int_equal(read_guarded((uint8_t *)c, b.len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "names interface 2"));
    memcpy(c, b.data, b.len);
    put_le32(c + epb0 + 20, 0xffffffe0u);
    assert_int_equal(read_guarded((uint8_t *)c, b.len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "caplen"));
    memcpy(c, b.data, b.len);
    char *tsr = memmem(c + idb0, len_idb0, "\x09\x00\x01\x00\x09", 5);
    assert_non_null(tsr);
    tsr[4] = (char)0xc0;                              /* 2^-64: too fine */
    assert_int_equal(read_guarded((uint8_t *)c, b.len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "if_tsresol"));
    /* Garbage and an empty file. */
    assert_int_equal(read_guarded((const uint8_t *)"GIF89a", 6, err,
                                  sizeof(err)), -1);
    assert_non_null(strstr(err, "not a pcap or pcapng"));
    assert_int_equal(read_guarded((const uint8_t *)"", 0, err, sizeof(err)),
                     -1);

    for (int f = 0; f < 2; f++) {
        tcpi_membuf_t *m = f ? &a : &b;
        for (size_t i = 0; i < m->len; i++) {
            for (int v = 0; v < 3; v++) {
                memcpy(c, m->data, m->len);
                c[i] = v == 0 ? (char)(c[i] ^ 0xff) : v == 1 ? 0 : (char)0x7f;
                int n = read_guarded((uint8_t *)c, m->len, err, sizeof(err));
                assert_true(n >= -1 && n <= NPKT + 1);
            }
        }
    }
    free(c);
    free(a.data);
    free(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pcap_roundtrip),
        cmocka_unit_test(test_pcapng_roundtrip),
        cmocka_unit_test(test_tools_read_ours),
        cmocka_unit_test(test_read_tools_files),
        cmocka_unit_test(test_byte_orders_and_blocks),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupt),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
