/*
 * tcpi_print.h — the line `tcpdump -n -tt -r file` prints for a packet
 * (tcpdump 4.99 / libpcap 1.10 as in Debian 12), byte for byte, and with
 * TCPI_PRINT_HEX the lines `tcpdump -X` adds.
 *
 * What is reproduced: the timestamp, the link layers of tcpi_decode.h
 * (SLL2 interface name and direction), IPv4 (options, fragments, bad and
 * truncated lengths), IPv6 (hop-by-hop, destination options, routing
 * type 0/2, fragment), TCP (flags, relative seq/ack per connection the
 * way tcpdump keeps them, win, urg, every option tcpdump names including
 * MPTCP, md5, TFO, AO, unknown; [bad opt], [|tcp] and the other
 * truncation marks) and the HTTP first line on ports 80 and 8080.
 * Other payload dissectors (tcpdump picks them by port: ssh, smtp, bgp,
 * ...) and non-TCP protocols are not reproduced: for those the line ends
 * after "length N" or gets a short generic form.
 *
 * Relative sequence numbers: tcpdump records, per connection (addresses
 * and ports in a canonical order), the seq/ack of the first packet with
 * ACK set it sees (or of a SYN-ACK / SYN with ACK), prints that packet's
 * numbers absolute and later ones relative. The state lives in the
 * caller-owned tcpi_print_t, so a page can stream packets one at a time
 * and get the same numbers tcpdump gets when it reads the same packets
 * in the same order.
 */
#ifndef TCPI_PRINT_H
#define TCPI_PRINT_H

#include <stddef.h>
#include <stdint.h>

struct tcpi_redact;

/** Options for tcpi_print_packet. */
enum {
    TCPI_PRINT_HEX = 1,     /* add the -X hex + ASCII lines */
};

/** One connection in the relative-sequence table (internal layout). */
typedef struct {
    uint8_t  used, v6;
    uint8_t  src[16], dst[16];
    uint32_t port;          /* sport << 16 | dport, canonical order */
    uint32_t seq, ack;      /* tcpdump's th->seq / th->ack */
} tcpi_print_conn_t;

/** Printer state: the connection table and the output buffer. */
typedef struct {
    tcpi_print_conn_t *conn;    /* open addressing, cap a power of 2 */
    size_t   conn_cap, conn_n;
    char    *out;               /* text of the packets printed so far */
    size_t   out_len, out_cap;
    int      oom;               /* an allocation failed: output is partial */
    struct tcpi_redact *redact; /* when set, payloads are masked first */
    uint8_t *scratch;           /* copy of a frame being redacted */
    size_t   scratch_cap;
    uint32_t ts_sec;            /* "sec." of the last packet, kept */
    uint8_t  ts_len;
    char     ts_text[16];
} tcpi_print_t;

/** An empty state (no allocation until the first packet). */
void tcpi_print_init(tcpi_print_t *st);
/** Free the table and buffers. */
void tcpi_print_free(tcpi_print_t *st);
/** Forget every connection (as a new tcpdump process would). */
void tcpi_print_forget(tcpi_print_t *st);

/** Append the line(s) for one packet, each ending in '\n', to st->out.
 *  ts_sec/ts_usec as in the pcap record; linktype a LINKTYPE_* value.
 *  Returns the number of bytes appended (0 when out of memory). */
size_t tcpi_print_packet(tcpi_print_t *st, uint32_t ts_sec, uint32_t ts_usec,
                         int32_t linktype, const uint8_t *data,
                         uint32_t caplen, uint32_t wirelen, int opts);

/** Drop the buffered text (after the caller wrote it out). */
static inline void tcpi_print_clear(tcpi_print_t *st) { st->out_len = 0; }

/** Format an IPv6 address the way tcpdump does (RFC 5952-like, longest
 *  zero run compressed, embedded IPv4 for ::a.b.c.d and ::ffff:a.b.c.d).
 *  buf needs 46 bytes; returns the length written. */
size_t tcpi_print_ip6(char *buf, const uint8_t a[16]);

/** The HTTP request or status line at the start of a payload, for
 *  annotations: *line and *len point into payload when the payload starts
 *  with a request method or "HTTP/x.y NNN"; returns 1, else 0. */
int tcpi_print_http_first_line(const uint8_t **line, size_t *len,
                               const uint8_t *payload, size_t paylen);

#endif
