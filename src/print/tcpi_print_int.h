/*
 * tcpi_print_int.h — private to the printer (src/tcpi_print*.c), as
 * tcpdump's netdissect.h is to its print-*.c: the context a packet is
 * printed in, the output helpers, and the entry points of the
 * per-protocol printers.
 *
 *   tcpi_print.c        public API, output buffer, timestamps, -X dump,
 *                       the dispatch tables (link type, ethertype, the
 *                       protocol above IP)
 *   tcpi_print_link.c   Ethernet (802.1Q/802.1ad tags), SLL, SLL2,
 *                       NULL/LOOP, RAW, IPV4/IPV6 link types, ARP
 *   tcpi_print_ip4.c    IPv4
 *   tcpi_print_ip6.c    IPv6 and its extension headers
 *   tcpi_print_tcp.c    TCP, its options, relative sequence numbers, the
 *                       HTTP first line
 *   tcpi_print_mptcp.c  the MPTCP option (RFC 8684)
 *
 * The control flow follows what tcpdump 4.99 prints (facts read from its
 * print-*.c), not its code: every read is checked against the captured
 * bytes (tcpi_extract.h). A read that tcpdump does with a GET_ macro ends
 * the packet with " [|proto]" and makes -X dump the whole frame (P_JUMP);
 * a check tcpdump does with ND_TCHECK prints the mark where it happens and
 * keeps the link header out of the dump.
 *
 * Output: tcpi_print_packet reserves room for the worst case of a packet
 * (WORST_CASE) before any printer runs, so the writers below do no bounds
 * checks; a part whose output is not bounded by a small multiple of the
 * bytes it reads (an IPv6 extension chain, the -X dump) asks for more room
 * with tcpi_pr_ensure.
 */
#ifndef TCPI_PRINT_INT_H
#define TCPI_PRINT_INT_H

#include "tcpi_print.h"
#include "tcpi/decode.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The tcpi_pr_* symbols are shared by the printer's files only: hidden,
 * so that in the module's shared object they are neither exported nor
 * reached through the GOT/PLT (the tables below are read per digit). */
#pragma GCC visibility push(hidden)

#define P_OK    0
#define P_JUMP  (-1)        /* tcpdump's longjmp on a short capture */

/* The most one packet can print but for an IPv6 extension chain and -X
 * (they reserve their own room): fixed text (addresses, flags, options
 * expand at most ~10x of their <= 40 bytes), the HTTP line (<= caplen). */
#define WORST_CASE(caplen) (4096 + (size_t)(caplen) * 8)

typedef struct {
    tcpi_print_t  *st;
    char          *w;       /* write position in st->out (space reserved) */
    const uint8_t *d;       /* the frame */
    uint32_t       snap;    /* bytes of d a printer may read (snapend) */
    const char    *proto;   /* for " [|proto]" */
} pctx_t;

/* ---- output --------------------------------------------------------- */

/** Room for n more bytes at c->w: the buffer grows (and may move). -1
 *  (st->oom set) when it cannot. */
int tcpi_pr_ensure(pctx_t *c, size_t n);

/* Filled once by tcpi_print_init: the 10000 four-digit groups
 * (zero-padded), and "0".."255" with their lengths. */
extern char    tcpi_pr_digits4[10000][4];
extern char    tcpi_pr_octets[256][4];
extern uint8_t tcpi_pr_octet_len[256];

static const char hexdig[] = "0123456789abcdef";

static inline void put(pctx_t *c, const char *s, size_t n)
{
    memcpy(c->w, s, n);
    c->w += n;
}

#define PUTS(c, lit) put((c), (lit), sizeof(lit) - 1)

static inline void puts0(pctx_t *c, const char *s) { put(c, s, strlen(s)); }

static inline void putch(pctx_t *c, char ch) { *c->w++ = ch; }

/* 1-4 digits, no leading zeros. */
static inline void put_small(pctx_t *c, uint32_t v)
{
    int n = 1 + (v >= 10) + (v >= 100) + (v >= 1000);
    memcpy(c->w, tcpi_pr_digits4[v] + 4 - n, 4);   /* over-copy: room kept */
    c->w += n;
}

/* Decimal: at most two divisions for any 32-bit value (ports, seq, ack,
 * win, TS values, lengths), no loop. */
static inline void put_u32(pctx_t *c, uint32_t v)
{
    if (v < 10000) {
        put_small(c, v);
    } else if (v < 100000000) {
        put_small(c, v / 10000);
        memcpy(c->w, tcpi_pr_digits4[v % 10000], 4);
        c->w += 4;
    } else {
        uint32_t rest = v % 100000000;
        put_small(c, v / 100000000);
        memcpy(c->w, tcpi_pr_digits4[rest / 10000], 4);
        memcpy(c->w + 4, tcpi_pr_digits4[rest % 10000], 4);
        c->w += 8;
    }
}

static inline void put_u64(pctx_t *c, uint64_t v)
{
    if (v <= UINT32_MAX) {
        put_u32(c, (uint32_t)v);
        return;
    }
    char b[24];
    int i = sizeof(b);
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(c->w, b + i, sizeof(b) - (size_t)i);
    c->w += sizeof(b) - (size_t)i;
}

/* %x, or %02x with width 2 */
static inline void put_hex(pctx_t *c, uint64_t v, int width)
{
    char b[20];
    int i = sizeof(b);

    do {
        b[--i] = hexdig[v & 15];
        v >>= 4;
    } while (v || (int)sizeof(b) - i < width);
    put(c, b + i, sizeof(b) - (size_t)i);
}

static inline void put_ip4(pctx_t *c, const uint8_t *a)
{
    for (int i = 0; i < 4; i++) {
        memcpy(c->w, tcpi_pr_octets[a[i]], 4);  /* over-copy, then advance */
        c->w += tcpi_pr_octet_len[a[i]];
        *c->w++ = '.';
    }
    c->w--;                                     /* no dot after the last */
}

static inline void put_ip6(pctx_t *c, const uint8_t *a)
{
    char b[64];
    put(c, b, tcpi_print_ip6(b, a));
}

static inline void put_addr(pctx_t *c, int v6, const uint8_t *a)
{
    if (v6)
        put_ip6(c, a);
    else
        put_ip4(c, a);
}

/* " [|proto]" */
static inline void trunc_mark(pctx_t *c)
{
    PUTS(c, " [|");
    puts0(c, c->proto);
    putch(c, ']');
}

/* ---- reads within c->snap ------------------------------------------- */

static inline int get8(uint8_t *v, pctx_t *c, uint32_t off)
{
    return tcpi_get_u8(v, c->d, c->snap, off);
}
static inline int get16(uint16_t *v, pctx_t *c, uint32_t off)
{
    return tcpi_get_be16(v, c->d, c->snap, off);
}
static inline int get32(uint32_t *v, pctx_t *c, uint32_t off)
{
    return tcpi_get_be32(v, c->d, c->snap, off);
}
static inline int get64(uint64_t *v, pctx_t *c, uint32_t off)
{
    uint32_t hi, lo;
    if (get32(&hi, c, off) || get32(&lo, c, off + 4))
        return -1;
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

/* Read or return P_JUMP (c in scope). */
#define G8(v, off)  do { if (get8(&(v), c, (off))) return P_JUMP; } while (0)
#define G16(v, off) do { if (get16(&(v), c, (off))) return P_JUMP; } while (0)
#define G32(v, off) do { if (get32(&(v), c, (off))) return P_JUMP; } while (0)
#define G64(v, off) do { if (get64(&(v), c, (off))) return P_JUMP; } while (0)

/* ---- the printers --------------------------------------------------- */

/* The protocols above IP whose printers start with the addresses and
 * ports themselves: for the others IP prints "src > dst: " first. */
static inline int l4_prints_addrs(uint8_t proto)
{
    return proto == TCPI_IPPROTO_TCP || proto == TCPI_IPPROTO_UDP ||
           proto == TCPI_IPPROTO_SCTP || proto == TCPI_IPPROTO_DCCP;
}

/* Link types (tcpi_print_link.c): each returns the length of the link
 * header (what -X leaves out of the dump), or P_JUMP. caplen: captured
 * bytes, len: wire length. */
int tcpi_pr_ether_if(pctx_t *c, uint32_t caplen, uint32_t len);
int tcpi_pr_sll_if(pctx_t *c, uint32_t caplen, uint32_t len);
int tcpi_pr_sll2_if(pctx_t *c, uint32_t caplen, uint32_t len);
int tcpi_pr_null_if(pctx_t *c, uint32_t caplen, uint32_t len);
int tcpi_pr_raw_if(pctx_t *c, uint32_t caplen, uint32_t len);
int tcpi_pr_ipv4_if(pctx_t *c, uint32_t caplen, uint32_t len);
int tcpi_pr_ipv6_if(pctx_t *c, uint32_t caplen, uint32_t len);

/* The printers below take o, the offset of their header in c->d, and
 * length, the bytes the layer below gives them (wire, not captured);
 * they return P_OK or P_JUMP. */

/** The network layer after a link header (tcpi_print.c). */
int tcpi_pr_ethertype(pctx_t *c, uint16_t et, uint32_t o, uint32_t length);
/** ARP over Ethernet (tcpi_print_link.c). */
int tcpi_pr_arp(pctx_t *c, uint32_t o, uint32_t length);
/** IPv4 (tcpi_print_ip4.c). */
int tcpi_pr_ip4(pctx_t *c, uint32_t o, uint32_t length);
/** IPv6 and its extension headers (tcpi_print_ip6.c). */
int tcpi_pr_ip6(pctx_t *c, uint32_t o, uint32_t length);
/** The protocol above IP (tcpi_print.c): TCP, else a short generic form.
 *  ip: the IP header; v6; direct: TCP follows the IPv6 header directly
 *  (the line then starts with the addresses). */
int tcpi_pr_ip_demux(pctx_t *c, uint8_t proto, uint32_t o, uint32_t length,
                     uint32_t ip, int v6, int direct);
/** TCP (tcpi_print_tcp.c). */
int tcpi_pr_tcp(pctx_t *c, uint32_t o, uint32_t length, uint32_t ip, int v6,
                int direct);
/** One MPTCP option (tcpi_print_mptcp.c): o its start (kind byte), len its
 *  length, flags the segment's TCP flags. Returns 1 printed, 0 bad
 *  option, or P_JUMP. */
int tcpi_pr_mptcp(pctx_t *c, uint32_t o, uint32_t len, uint8_t flags);

#pragma GCC visibility pop

#endif
