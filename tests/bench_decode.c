/* Decode + format benchmark (make bench, part 2), and a tcpdump stand-in.
 *
 *   build/bench_decode FILE.pcap          formats every packet into a
 *       buffer, plain then -X, and prints packets=, plain_pps=, hex_pps=
 *       (packets already in memory, as the module has them in its ring)
 *       and plainread_pps=, hexread_pps= (reading the file with libpcap
 *       inside the timed loop, as tcpdump -r does), and plainmap_pps=,
 *       hexmap_pps= (the file mapped and walked with the core's own
 *       bounds-checked reader, tcpi_capfile, open and map timed too)
 *   build/bench_decode -r [-X] FILE.pcap  prints the lines to stdout, as
 *       `tcpdump -n -tt [-X] -r FILE.pcap` would
 *   build/bench_decode -p [CASE]          the packet pages over a ring of
 *       synthetic proxy traffic (one interface serving both legs, split
 *       by port; HTTP with cookies, redaction on): shown packets per
 *       second of /packets.txt and /packets, window search included
 *
 */
#include "pcapfile/tcpi_pcapfile.h"
#include "print/tcpi_print.h"
#include "render/tcpi_packets.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int linktype_of(pcap_t *p)
{
    int dlt = pcap_datalink(p);
    return dlt;     /* the printer takes DLT_RAW as well as LINKTYPE_RAW */
}

static int print_file(const char *path, int opts)
{
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *d;
    tcpi_print_t st;
    pcap_t *p = pcap_open_offline(path, err);

    if (!p) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int lt = linktype_of(p);
    tcpi_print_init(&st);
    while (pcap_next_ex(p, &h, &d) == 1) {
        tcpi_print_packet(&st, (uint32_t)h->ts.tv_sec, (uint32_t)h->ts.tv_usec,
                          lt, d, h->caplen, h->len, opts);
        if (st.out_len > 65536) {
            fwrite(st.out, 1, st.out_len, stdout);
            tcpi_print_clear(&st);
        }
    }
    fwrite(st.out, 1, st.out_len, stdout);
    tcpi_print_free(&st);
    pcap_close(p);
    return 0;
}

/* Read the file with libpcap and format every packet into the printer's
 * buffer (flushed every 64 KiB, as a page does): the same work as
 * `tcpdump -n -tt [-X] -r FILE > /dev/null`, reading included. */
static double run(const char *path, int opts, size_t *n, size_t *bytes)
{
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *d;
    tcpi_print_t st;
    pcap_t *p = pcap_open_offline(path, err);

    if (!p) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    int lt = linktype_of(p);
    double t0 = now();
    tcpi_print_init(&st);
    *bytes = *n = 0;
    while (pcap_next_ex(p, &h, &d) == 1) {
        tcpi_print_packet(&st, (uint32_t)h->ts.tv_sec, (uint32_t)h->ts.tv_usec,
                          lt, d, h->caplen, h->len, opts);
        (*n)++;
        if (st.out_len > 65536) {
            *bytes += st.out_len;
            tcpi_print_clear(&st);
        }
    }
    *bytes += st.out_len;
    double t = now() - t0;
    tcpi_print_free(&st);
    pcap_close(p);
    return t;
}

/* The file mapped (no copy through a read buffer) and walked with the
 * core's reader: what the module's own code does with a capture file. */
static double run_map(const char *path, int opts, size_t *n, size_t *bytes)
{
    tcpi_capfile_t *r = malloc(sizeof(*r));
    tcpi_capfile_pkt_t pkt;
    tcpi_print_t st;
    struct stat sb;
    double t0 = now();
    int fd = open(path, O_RDONLY);

    if (r == NULL || fd < 0 || fstat(fd, &sb) != 0) {
        perror(path);
        exit(1);
    }
    void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED || tcpi_capfile_open(r, m, (size_t)sb.st_size) != 0) {
        fprintf(stderr, "%s: cannot map or read\n", path);
        exit(1);
    }
    madvise(m, (size_t)sb.st_size, MADV_SEQUENTIAL);
    tcpi_print_init(&st);
    *bytes = *n = 0;
    while (tcpi_capfile_next(r, &pkt) == 1) {
        tcpi_print_packet(&st, (uint32_t)(pkt.ts_ns / 1000000000u),
                          (uint32_t)(pkt.ts_ns % 1000000000u / 1000u),
                          pkt.linktype, pkt.data, pkt.caplen, pkt.wirelen, opts);
        (*n)++;
        if (st.out_len > 65536) {
            *bytes += st.out_len;
            tcpi_print_clear(&st);
        }
    }
    *bytes += st.out_len;
    tcpi_print_free(&st);
    munmap(m, (size_t)sb.st_size);
    close(fd);
    free(r);
    return now() - t0;
}

/* Every record of the file in memory (read with libpcap, not timed). */
typedef struct {
    struct pcap_pkthdr h;
    size_t off;
} rec_t;

static double run_mem(const rec_t *recs, size_t n, const uint8_t *data,
                      int lt, int opts, size_t *bytes)
{
    tcpi_print_t st;
    double t0 = now();

    tcpi_print_init(&st);
    *bytes = 0;
    for (size_t i = 0; i < n; i++) {
        tcpi_print_packet(&st, (uint32_t)recs[i].h.ts.tv_sec,
                          (uint32_t)recs[i].h.ts.tv_usec, lt,
                          data + recs[i].off, recs[i].h.caplen,
                          recs[i].h.len, opts);
        if (st.out_len > 65536) {
            *bytes += st.out_len;
            tcpi_print_clear(&st);
        }
    }
    *bytes += st.out_len;
    double t = now() - t0;
    tcpi_print_free(&st);
    return t;
}

static size_t load(const char *path, rec_t **recsp, uint8_t **datap, int *lt)
{
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *d;
    pcap_t *p = pcap_open_offline(path, err);
    size_t n = 0, cap = 1024, dlen = 0, dcap = 1 << 20;
    rec_t *recs = malloc(cap * sizeof(*recs));
    uint8_t *data = malloc(dcap);

    if (!p) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    *lt = linktype_of(p);
    while (pcap_next_ex(p, &h, &d) == 1) {
        if (n == cap)
            recs = realloc(recs, (cap *= 2) * sizeof(*recs));
        while (dlen + h->caplen > dcap)
            data = realloc(data, dcap *= 2);
        if (!recs || !data) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        recs[n].h = *h;
        recs[n].off = dlen;
        memcpy(data + dlen, d, h->caplen);
        dlen += h->caplen;
        n++;
    }
    pcap_close(p);
    *recsp = recs;
    *datap = data;
    return n;
}

/* ---- the packet pages (-p) ------------------------------------------ */

/* Ethernet + IPv4 + TCP (TS option) + payload: the frame's length. */
static uint32_t frame(uint8_t *p, uint32_t src, uint32_t dst, uint16_t sport,
                      uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                      const char *payload, uint32_t plen)
{
    uint32_t iplen = 20 + 32 + plen;

    memset(p, 0, 14 + 20 + 32);
    p[12] = 0x08;
    p[14] = 0x45; p[16] = (uint8_t)(iplen >> 8); p[17] = (uint8_t)iplen;
    p[20] = 0x40; p[22] = 64; p[23] = 6;
    for (int i = 0; i < 4; i++) {
        p[26 + i] = (uint8_t)(src >> (24 - 8 * i));
        p[30 + i] = (uint8_t)(dst >> (24 - 8 * i));
        p[38 + i] = (uint8_t)(seq >> (24 - 8 * i));
        p[42 + i] = (uint8_t)(ack >> (24 - 8 * i));
    }
    p[34] = (uint8_t)(sport >> 8); p[35] = (uint8_t)sport;
    p[36] = (uint8_t)(dport >> 8); p[37] = (uint8_t)dport;
    p[46] = 0x80; p[47] = flags;
    p[48] = 0x01; p[49] = 0xf5;
    p[54] = 1; p[55] = 1; p[56] = 8; p[57] = 10;        /* nop nop TS */
    p[61] = (uint8_t)seq; p[65] = (uint8_t)ack;
    for (uint32_t i = 0; i < plen; i++)
        p[66 + i] = payload ? (uint8_t)payload[i] : (uint8_t)('a' + i % 26);
    return 66 + plen;
}

enum { F_ = 0x01, S_ = 0x02, P_ = 0x08, A_ = 0x10 };

/* One request through the proxy: the client's connection to port 80,
 * httpd's to the backend's 8080, and an ssh packet (the "other" leg). */
static uint64_t put_request(tcpi_ring_t *ring, uint64_t ts, uint32_t k)
{
    static const char req[] = "GET /item/12345 HTTP/1.1\r\n"
        "Host: shop.example\r\nUser-Agent: bench\r\n"
        "Cookie: session=c2VjcmV0LXNlc3Npb24tdG9rZW4=\r\n"
        "Accept: */*\r\n\r\n";
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
        "Set-Cookie: id=42; HttpOnly\r\nContent-Length: 400\r\n\r\n";
    uint8_t f[2048], body[sizeof(resp) - 1 + 400];
    uint32_t cl = 0x0a000000u | (k & 0xffffu), px = 0xc0000201u,
             be = 0xc0000202u, rq = sizeof(req) - 1, rs = sizeof(body);
    uint16_t cp = (uint16_t)(20000 + k % 40000),
             bp = (uint16_t)(40000 + k % 20000);
    uint32_t c0 = k * 7919u, s0 = k * 104729u, h0 = k * 15485863u,
             b0 = k * 32452843u;
    struct { uint32_t s, d; uint16_t sp, dp; uint32_t seq, ack; uint8_t fl;
             const char *pl; uint32_t n; } pk[] = {
        {cl, px, cp, 80, c0, 0, S_, NULL, 0},
        {px, cl, 80, cp, s0, c0 + 1, S_ | A_, NULL, 0},
        {cl, px, cp, 80, c0 + 1, s0 + 1, A_, NULL, 0},
        {cl, px, cp, 80, c0 + 1, s0 + 1, P_ | A_, req, rq},
        {px, be, bp, 8080, h0, 0, S_, NULL, 0},
        {be, px, 8080, bp, b0, h0 + 1, S_ | A_, NULL, 0},
        {px, be, bp, 8080, h0 + 1, b0 + 1, A_, NULL, 0},
        {px, be, bp, 8080, h0 + 1, b0 + 1, P_ | A_, req, rq},
        {be, px, 8080, bp, b0 + 1, h0 + 1 + rq, P_ | A_, (char *)body, rs},
        {px, be, bp, 8080, h0 + 1 + rq, b0 + 1 + rs, A_, NULL, 0},
        {px, cl, 80, cp, s0 + 1, c0 + 1 + rq, P_ | A_, (char *)body, rs},
        {cl, px, cp, 80, c0 + 1 + rq, s0 + 1 + rs, A_, NULL, 0},
        {px, be, bp, 8080, h0 + 1 + rq, b0 + 1 + rs, F_ | A_, NULL, 0},
        {be, px, 8080, bp, b0 + 1 + rs, h0 + 2 + rq, F_ | A_, NULL, 0},
        {cl, px, cp, 80, c0 + 1 + rq, s0 + 1 + rs, F_ | A_, NULL, 0},
        {px, cl, 80, cp, s0 + 1 + rs, c0 + 2 + rq, F_ | A_, NULL, 0},
        {cl, px, cp, 80, c0 + 2 + rq, s0 + 2 + rs, A_, NULL, 0},
        {be, cl, 22, 50022, k, k, P_ | A_, NULL, 48},
    };
    memcpy(body, resp, sizeof(resp) - 1);
    memset(body + sizeof(resp) - 1, 'x', 400);
    for (size_t i = 0; i < sizeof(pk) / sizeof(pk[0]); i++) {
        uint32_t n = frame(f, pk[i].s, pk[i].d, pk[i].sp, pk[i].dp, pk[i].seq,
                           pk[i].ack, pk[i].fl, pk[i].pl, pk[i].n);
        tcpi_ring_write(ring, ts, 0, 1, n, n, f);
        ts += 10000;
    }
    return ts;
}

static int count_sink(void *baton, const void *buf, size_t len)
{
    (void)buf;
    *(size_t *)baton += len;
    return 0;
}

/* Render one page as the glue does, `rounds` times; packets shown/s of
 * the fastest round (this host's other work only slows rounds down). */
static double page(const tcpi_shm_t *shm, int html, const char *filter,
                   tcpi_packets_opts_t *opt, int rounds, uint64_t *shown,
                   size_t *bytes, tcpi_packets_stats_t *st)
{
    static uint8_t buf[65536];
    static tcpi_out_t o;
    char err[256];
    double best = 0;

    for (int i = 0; i < rounds; i++) {
        double t0 = now(), t;
        tcpi_query_t q;
        *bytes = 0;
        if (tcpi_query_init(&q, shm, -1, filter, err, sizeof(err)) != 0) {
            fprintf(stderr, "filter: %s\n", err);
            exit(1);
        }
        tcpi_out_init(&o, count_sink, bytes);
        tcpi_packets_window(st, &q, opt, buf, sizeof(buf));
        int rc = html ? tcpi_packets_html(st, &o, &q, opt, buf, sizeof(buf))
                      : tcpi_packets_text(st, &o, &q, opt, buf, sizeof(buf));
        if (rc != 0) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        tcpi_out_flush(&o);
        tcpi_query_free(&q);
        t = now() - t0;
        if (t > 0 && (double)st->shown / t > best)
            best = (double)st->shown / t;
    }
    *shown = st->shown;
    return best;
}

static int bench_pages(const char *only)
{
    size_t size = tcpi_shm_size(64u << 20);
    void *mem = calloc(1, size);
    tcpi_shm_t *shm = tcpi_shm_init(mem, 64u << 20, 1);
    tcpi_ports_t front, back;
    tcpi_redact_t *rd = malloc(sizeof(*rd));
    uint64_t ts = 1700000000ull * 1000000000u, shown;
    size_t bytes;

    if (!shm || !rd) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    memset(&front, 0, sizeof(front));
    memset(&back, 0, sizeof(back));
    tcpi_shm_add_iface(shm, "any", TCPI_LEG_FRONT | TCPI_LEG_BACKEND, "tcp");
    atomic_store(&shm->iface[0].linktype, 1);
    tcpi_ports_add(&front, 80);
    tcpi_ports_add(&back, 8080);
    tcpi_redact_init(rd, tcpi_redact_defaults, 4);
    for (uint32_t k = 0; k < 12000; k++)
        ts = put_request(tcpi_shm_ring(shm), ts, k);
    static const struct {
        const char *name; int html; const char *filter, *match; uint64_t limit;
        int hex, rounds;
    } cases[] = {
        {"text",        0, NULL, NULL, 100000, 0, 8},
        {"html",        1, NULL, NULL, 5000, 0, 60},
        {"html_filter", 1, "tcp port 8080", NULL, 5000, 0, 60},
        {"html_x",      1, NULL, NULL, 5000, 1, 20},
        {"text_match",  0, NULL, "200 OK", 1000, 0, 60},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tcpi_packets_opts_t opt;
        tcpi_packets_stats_t st;
        if (only && strcmp(only, cases[i].name) != 0)
            continue;
        memset(&opt, 0, sizeof(opt));
        opt.limit = cases[i].limit;
        opt.hex = cases[i].hex;
        opt.redact = rd;
        opt.match = cases[i].match;
        opt.match_len = opt.match ? strlen(opt.match) : 0;
        opt.front_ports = &front;
        opt.backend_ports = &back;
        opt.base = "/tcp-inspect";
        opt.query_html = "";
        double pps = page(shm, cases[i].html, cases[i].filter, &opt, 1, &shown,
                          &bytes, &st);                       /* warm up */
        pps = page(shm, cases[i].html, cases[i].filter, &opt, cases[i].rounds,
                   &shown, &bytes, &st);
        printf("page=%s shown=%llu bytes=%zu shown_pps=%.0f read=%llu "
               "decoded=%llu passes=%llu\n", cases[i].name,
               (unsigned long long)shown, bytes, pps,
               (unsigned long long)st.scanned, (unsigned long long)st.decoded,
               (unsigned long long)st.passes);
    }
    free(rd);
    free(mem);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "-p"))
        return bench_pages(argc > 2 ? argv[2] : NULL);
    if (argc >= 3 && !strcmp(argv[1], "-r"))
        return print_file(argv[2], 0);
    if (argc >= 4 && !strcmp(argv[1], "-X") && !strcmp(argv[2], "-r"))
        return print_file(argv[3], TCPI_PRINT_HEX);
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE.pcap | -r FILE | -X -r FILE | -p [CASE]\n",
                argv[0]);
        return 2;
    }
    size_t n, pb, hb, rn, rpb, rhb;
    rec_t *recs;
    uint8_t *data;
    int lt;
    run(argv[1], 0, &rn, &rpb);                /* warm the page cache */
    double rtp = run(argv[1], 0, &rn, &rpb);
    double rth = run(argv[1], TCPI_PRINT_HEX, &rn, &rhb);
    size_t mn, mpb, mhb;
    double mtp = run_map(argv[1], 0, &mn, &mpb);
    double mth = run_map(argv[1], TCPI_PRINT_HEX, &mn, &mhb);
    n = load(argv[1], &recs, &data, &lt);
    double tp = run_mem(recs, n, data, lt, 0, &pb);
    double th = run_mem(recs, n, data, lt, TCPI_PRINT_HEX, &hb);
    printf("packets=%zu plain_s=%.3f plain_pps=%.0f plain_bytes=%zu "
           "hex_s=%.3f hex_pps=%.0f hex_bytes=%zu plainread_pps=%.0f "
           "hexread_pps=%.0f plainmap_pps=%.0f hexmap_pps=%.0f\n", n, tp,
           tp > 0 ? n / tp : 0, pb, th, th > 0 ? n / th : 0, hb,
           rtp > 0 ? rn / rtp : 0, rth > 0 ? rn / rth : 0,
           mtp > 0 ? mn / mtp : 0, mth > 0 ? mn / mth : 0);
    free(recs);
    free(data);
    return 0;
}
