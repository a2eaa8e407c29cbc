/* Decode + format benchmark (make bench, part 2), and a tcpdump stand-in.
 *
 *   build/bench_decode FILE.pcap          formats every packet into a
 *       buffer, plain then -X, and prints packets=, plain_pps=, hex_pps=
 *   build/bench_decode -r [-X] FILE.pcap  prints the lines to stdout, as
 *       `tcpdump -n -tt [-X] -r FILE.pcap` would
 *
 * Both figures include reading the file with libpcap, as tcpdump's do. */
#include "tcpi_print.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    size_t n, pb, hb;
    run(argv[1], 0, &n, &pb);                  /* warm the page cache */
    double tp = run(argv[1], 0, &n, &pb);
    double th = run(argv[1], TCPI_PRINT_HEX, &n, &hb);
    printf("packets=%zu plain_s=%.3f plain_pps=%.0f plain_bytes=%zu "
           "hex_s=%.3f hex_pps=%.0f hex_bytes=%zu\n", n, tp,
           tp > 0 ? n / tp : 0, pb, th, th > 0 ? n / th : 0, hb);
    return 0;
}
