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
 *
 */
#include "pcapfile/tcpi_pcapfile.h"
#include "print/tcpi_print.h"

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

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "-r"))
        return print_file(argv[2], 0);
    if (argc >= 4 && !strcmp(argv[1], "-X") && !strcmp(argv[2], "-r"))
        return print_file(argv[3], TCPI_PRINT_HEX);
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE.pcap | -r FILE | -X -r FILE\n", argv[0]);
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
