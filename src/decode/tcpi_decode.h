/*
 * tcpi_decode.h — bounds-checked decoding of one captured frame down to its
 * TCP header. Every read goes through a getter that checks it against the
 * captured length; captured length and wire length are kept apart (a
 * snaplen-cut frame still reports the lengths its headers claim).
 *
 * Link types: EN10MB (with 802.1Q / 802.1ad / QinQ tags), LINUX_SLL,
 * LINUX_SLL2, NULL and LOOP (either byte order), RAW / IPV4 / IPV6.
 * Network: IPv4 (options; fragments recognised: a non-first fragment has
 * no TCP header), IPv6 (hop-by-hop, routing, destination options,
 * fragment and AH extension headers).
 *
 * Each reason to reject a frame is a named counter (tcpi_decode_reason_e),
 * so pages can show how many frames were not TCP, truncated, and so on.
 */
#ifndef TCPI_DECODE_H
#define TCPI_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "tcpi_proto.h"

/* Link types, ethertypes, IP protocol numbers, TCP flag bits and the
 * header offsets the decoder reads: tcpi_proto.h. */

/* Why a frame was not decoded to a TCP header. X(name, text). */
#define TCPI_DECODE_REASONS(X)                                          \
    X(ok,                 "decoded")                                    \
    X(link_truncated,     "link-layer header truncated")                \
    X(link_unsupported,   "link type not supported")                    \
    X(not_ip,             "not IPv4 or IPv6 (ARP, LLDP, ...)")           \
    X(ip_truncated,       "IP header truncated")                        \
    X(ip_bad_version,     "IP version does not match the link type")    \
    X(ip_hlen_too_small,  "IPv4 header length below 20")                \
    X(ip_len_too_small,   "IP total length below the header length")    \
    X(ip6_ext_truncated,  "IPv6 extension header truncated")            \
    X(ip_fragment,        "non-first IP fragment (no TCP header)")      \
    X(not_tcp,            "not TCP")                                    \
    X(tcp_truncated,      "TCP header truncated")                       \
    X(tcp_hlen_too_small, "TCP data offset below 20 bytes")            \
    X(tcp_hlen_too_long,  "TCP data offset beyond the IP length")

typedef enum {
#define TCPI_DR_ENUM(name, text) TCPI_DR_##name,
    TCPI_DECODE_REASONS(TCPI_DR_ENUM)
#undef TCPI_DR_ENUM
    TCPI_DR_COUNT
} tcpi_decode_reason_e;

/** "tcp_truncated" etc. ("unknown" out of range). */
const char *tcpi_decode_reason_name(int reason);
/** A sentence for the page. */
const char *tcpi_decode_reason_text(int reason);

#define TCPI_MAX_VLAN 2
#define TCPI_MAX_SACK 4

typedef struct {
    /* link layer */
    int32_t  linktype;
    uint32_t caplen, wirelen;  /* as given (wirelen at least caplen) */
    uint16_t sll_pkttype;      /* LINUX_SLL/SLL2 packet type; 0xffff if none */
    uint32_t sll2_ifindex;     /* LINUX_SLL2 interface index; 0 if none */
    uint16_t nvlan;
    uint16_t vlan[TCPI_MAX_VLAN];  /* VLAN ids, outermost first */
    uint16_t ethertype;        /* of the network layer (0x0800, 0x86dd) */

    /* network layer: offsets are into the captured bytes */
    uint8_t  family;           /* 4 or 6 */
    uint8_t  ttl;              /* TTL / hop limit */
    uint8_t  tos;              /* IPv4 TOS / IPv6 traffic class */
    uint8_t  ip_df;            /* IPv4 don't-fragment */
    uint8_t  ip_mf;            /* more fragments */
    uint16_t ip_id;            /* IPv4 id (IPv6: low 16 of fragment id) */
    uint16_t frag_off;         /* fragment offset in bytes */
    uint32_t flowlabel;        /* IPv6 */
    uint8_t  src[16], dst[16]; /* IPv4 in the first 4 bytes */
    uint32_t ip_off;           /* IP header */
    uint32_t ip_hlen;          /* IPv4 header, IPv6 40 + extension headers */
    uint32_t ip_len;           /* total length the header claims (IPv6:
                                  40 + payload length); 0 in the header
                                  (TSO/GRO, jumbogram) is replaced by the
                                  wire length and ip_len_zero set (tcpdump
                                  4.99 prints "bad-len 0" for IPv4; so does
                                  tcpi_print) */
    uint8_t  ip_len_zero;

    /* TCP */
    uint32_t tcp_off;          /* TCP header */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t  flags;            /* TCPI_TH_* */
    uint16_t win;              /* as sent (not scaled) */
    uint16_t urp;
    uint16_t csum;
    uint16_t tcp_hlen;         /* data offset * 4 */
    uint32_t opt_off, opt_len; /* raw options within the captured bytes;
                                  opt_len is cut to what was captured */
    uint8_t  opt_truncated;    /* the header's options were cut by snaplen */

    /* parsed options (valid where has_* is set) */
    uint8_t  has_mss, has_wscale, has_sackok, has_ts;
    uint16_t mss;
    uint8_t  wscale;
    uint32_t tsval, tsecr;
    uint8_t  nsack;
    uint32_t sack_left[TCPI_MAX_SACK], sack_right[TCPI_MAX_SACK];

    /* payload */
    uint32_t payload_off;      /* in the captured bytes */
    uint32_t payload_len;      /* per the IP length: what tcpdump prints
                                  as "length N" */
    uint32_t payload_caplen;   /* of it, bytes actually captured */
} tcpi_pkt_t;

/* Bytes of a frame the capture worker copies out of the ring to decode
 * it: every header up to TCP, IPv6 extension headers included. The join
 * and the per-request capture use the same, so they decode alike. */
#define TCPI_DECODE_COPY 1024

/** A packet socket on "any" hands each loopback packet over twice, as it
 *  leaves and as it arrives: 1 for the leaving copy (the one the worker
 *  skips), 0 otherwise. */
int tcpi_decode_lo_outgoing(const tcpi_pkt_t *p);

/** Decode one frame. caplen bytes of data were captured of a wirelen-byte
 *  frame. Returns TCPI_DR_ok with *pkt filled, or the reason it is not a
 *  decodable TCP segment (pkt then holds what was decoded so far). Never
 *  reads beyond data[caplen). */
int tcpi_decode(tcpi_pkt_t *pkt, int32_t linktype, const uint8_t *data,
                uint32_t caplen, uint32_t wirelen);

/** Per-reason counters, e.g. for the frames a page looked at. */
typedef struct {
    uint64_t n[TCPI_DR_COUNT];
} tcpi_decode_stats_t;

/** Wrap-safe sequence comparisons (RFC 9293 §3.4). */
static inline int tcpi_seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}
static inline int tcpi_seq_leq(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}

#endif
