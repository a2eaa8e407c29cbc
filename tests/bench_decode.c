/* Decode + format benchmark (make bench, part 2), and a tcpdump stand-in.
 *
 *   build/bench_decode FILE.pcap          formats every packet into a
 *       buffer, plain then -X, and prints packets=, plain_pps=, hex_pps=
 *   build/bench_decode -r [-X] FILE.pcap  prints the lines to stdout, as
 *       `tcpdump -n -tt [-X] -r FILE.pcap` would
 *
 * The file is read with libpcap into memory first, so the figures are the
 * formatting cost alone (tcpdump's also include reading the file). */
#include "tcpi_print.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    struct pcap_pkthdr h;
    size_t off;
} rec_t;

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

static double run(const rec_t *recs, size_t n, const uint8_t *data, int lt,
                  int opts, size_t *bytes)
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
        if (st.out_len > 65536) {   /* as a page flushing its buffer */
            *bytes += st.out_len;
            tcpi_print_clear(&st);
        }
    }
    *bytes += st.out_len;
    double t = now() - t0;
    tcpi_print_free(&st);
    return t;
}

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *d;

    if (argc >= 3 && !strcmp(argv[1], "-r"))
        return print_file(argv[2], 0);
    if (argc >= 4 && !strcmp(argv[1], "-X") && !strcmp(argv[2], "-r"))
        return print_file(argv[3], TCPI_PRINT_HEX);
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE.pcap | -r FILE | -X -r FILE\n", argv[0]);
        return 2;
    }
    pcap_t *p = pcap_open_offline(argv[1], err);
    if (!p) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int lt = linktype_of(p);
    size_t n = 0, cap = 1024, dlen = 0, dcap = 1 << 20;
    rec_t *recs = malloc(cap * sizeof(*recs));
    uint8_t *data = malloc(dcap);
    while (pcap_next_ex(p, &h, &d) == 1) {
        if (n == cap)
            recs = realloc(recs, (cap *= 2) * sizeof(*recs));
        while (dlen + h->caplen > dcap)
            data = realloc(data, dcap *= 2);
        if (!recs || !data) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        recs[n].h = *h;
        recs[n].off = dlen;
        memcpy(data + dlen, d, h->caplen);
        dlen += h->caplen;
        n++;
    }
    pcap_close(p);
    size_t pb, hb;
    double tp = run(recs, n, data, lt, 0, &pb);
    double th = run(recs, n, data, lt, TCPI_PRINT_HEX, &hb);
    printf("packets=%zu plain_s=%.3f plain_pps=%.0f plain_bytes=%zu "
           "hex_s=%.3f hex_pps=%.0f hex_bytes=%zu\n", n, tp,
           tp > 0 ? n / tp : 0, pb, th, th > 0 ? n / th : 0, hb);
    free(recs);
    free(data);
    return 0;
}
