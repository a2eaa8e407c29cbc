/*
 * tcpi_print.c — tcpdump-identical lines: the public API, the output
 * buffer, timestamps, the -X dump and the dispatch from a link type to its
 * printer, from an ethertype to the network layer and from IP to the
 * protocol above it. The printers of each protocol are in
 * tcpi_print_<protocol>.c (see tcpi_print_int.h).
 */
#include "tcpi_print_int.h"
#include "tcpi/decode.h"

#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#define MAXIMUM_SNAPLEN 262144u

/* ---- output ------------------------------------------------------- */

static int out_reserve(tcpi_print_t *st, size_t n)
{
    if (st->out_len + n <= st->out_cap)
        return 0;
    size_t cap = st->out_cap ? st->out_cap : 4096;
    while (cap < st->out_len + n)
        cap *= 2;
    char *p = realloc(st->out, cap);
    if (!p) {
        st->oom = 1;
        return -1;
    }
    st->out = p;
    st->out_cap = cap;
    return 0;
}

/* Every packet reserves a worst case first (see tcpi_print_packet), so
 * the writers need no checks; the parts whose output is not bounded by a
 * small multiple of the bytes they read (an IPv6 extension chain, the -X
 * dump after it) ask for their own room here. */
int tcpi_pr_ensure(pctx_t *c, size_t n)
{
    tcpi_print_t *st = c->st;
    size_t off = (size_t)(c->w - st->out), cap = st->out_cap;
    char *p;

    if (cap - off >= n)
        return 0;
    while (cap - off < n)
        cap *= 2;
    p = realloc(st->out, cap);
    if (p == NULL) {
        st->oom = 1;
        return -1;
    }
    st->out = p;
    st->out_cap = cap;
    c->w = p + off;
    return 0;
}

static const char digits2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Decimal from a table of the 10000 four-digit groups (zero-padded):
 * put_u32 needs at most two divisions for any 32-bit value, no loop. */
char tcpi_pr_digits4[10000][4];

static void digits4_init(void)
{
    for (int v = 0; v < 10000; v++) {
        tcpi_pr_digits4[v][0] = (char)('0' + v / 1000);
        tcpi_pr_digits4[v][1] = (char)('0' + v / 100 % 10);
        tcpi_pr_digits4[v][2] = (char)('0' + v / 10 % 10);
        tcpi_pr_digits4[v][3] = (char)('0' + v % 10);
    }
}

/* "0" .. "255" without division: 4 bytes each, the length apart. */
char tcpi_pr_octets[256][4];
uint8_t tcpi_pr_octet_len[256];

static void octets_init(void)
{
    for (int v = 0; v < 256; v++) {
        int n = 0;
        if (v >= 100)
            tcpi_pr_octets[v][n++] = (char)('0' + v / 100);
        if (v >= 10)
            tcpi_pr_octets[v][n++] = (char)('0' + v / 10 % 10);
        tcpi_pr_octets[v][n++] = (char)('0' + v % 10);
        tcpi_pr_octet_len[v] = (uint8_t)n;
    }
}

size_t tcpi_print_ip6(char *buf, const uint8_t a[16])
{
    uint16_t w[8];
    int best = -1, blen = 0, cur = -1, clen = 0;
    char *p = buf;

    for (int i = 0; i < 8; i++)
        w[i] = (uint16_t)(a[2 * i] << 8 | a[2 * i + 1]);
    for (int i = 0; i < 8; i++) {
        if (w[i] == 0) {
            if (cur < 0)
                cur = i, clen = 1;
            else
                clen++;
        } else if (cur >= 0) {
            if (best < 0 || clen > blen)
                best = cur, blen = clen;
            cur = -1;
        }
    }
    if (cur >= 0 && (best < 0 || clen > blen))
        best = cur, blen = clen;
    if (best >= 0 && blen < 2)
        best = -1;
    for (int i = 0; i < 8; i++) {
        if (best >= 0 && i >= best && i < best + blen) {
            if (i == best)
                *p++ = ':';
            continue;
        }
        if (i)
            *p++ = ':';
        if (i == 6 && best == 0 && (blen == 6 || (blen == 5 && w[5] == 0xffff))) {
            for (int k = 12; k < 16; k++) {
                unsigned v = a[k];
                if (v >= 100)
                    *p++ = (char)('0' + v / 100);
                if (v >= 10)
                    *p++ = (char)('0' + v / 10 % 10);
                *p++ = (char)('0' + v % 10);
                if (k < 15)
                    *p++ = '.';
            }
            *p = 0;
            return (size_t)(p - buf);
        }
        int started = 0;
        for (int s = 12; s >= 0; s -= 4) {
            unsigned nib = (w[i] >> s) & 15;
            if (nib || started || s == 0) {
                *p++ = hexdig[nib];
                started = 1;
            }
        }
    }
    if (best >= 0 && best + blen == 8)
        *p++ = ':';
    *p = 0;
    return (size_t)(p - buf);
}

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void tables_init(void)
{
    digits4_init();
    octets_init();
}

void tcpi_print_init(tcpi_print_t *st)
{
    memset(st, 0, sizeof(*st));
    /* Request threads of a worker/event child may get here at once: the
     * tables are filled exactly once and published to every thread. */
    pthread_once(&tables_once, tables_init);
}

void tcpi_print_forget(tcpi_print_t *st)
{
    if (st->conn)
        memset(st->conn, 0, st->conn_cap * sizeof(*st->conn));
    st->conn_n = 0;
}

void tcpi_print_free(tcpi_print_t *st)
{
    free(st->conn);
    free(st->out);
    free(st->scratch);
    memset(st, 0, sizeof(*st));
}

/* ---- dispatch ------------------------------------------------------- */

/* Link types and their printers (tcpdump's if_printers[]). */
static const struct {
    int32_t lt;
    int (*print)(pctx_t *c, uint32_t caplen, uint32_t len);
} if_printers[] = {
    { TCPI_LINKTYPE_EN10MB,     tcpi_pr_ether_if },
    { TCPI_LINKTYPE_LINUX_SLL,  tcpi_pr_sll_if },
    { TCPI_LINKTYPE_LINUX_SLL2, tcpi_pr_sll2_if },
    { TCPI_LINKTYPE_NULL,       tcpi_pr_null_if },
    { TCPI_LINKTYPE_LOOP,       tcpi_pr_null_if },
    { TCPI_LINKTYPE_RAW,        tcpi_pr_raw_if },
    { TCPI_DLT_RAW,             tcpi_pr_raw_if },
    { TCPI_LINKTYPE_IPV4,       tcpi_pr_ipv4_if },
    { TCPI_LINKTYPE_IPV6,       tcpi_pr_ipv6_if },
};

/* Returns the link header length for -X, or P_JUMP. */
static int print_link(pctx_t *c, int32_t lt, uint32_t caplen, uint32_t len)
{
    for (size_t i = 0; i < sizeof(if_printers) / sizeof(if_printers[0]); i++)
        if (if_printers[i].lt == lt)
            return if_printers[i].print(c, caplen, len);
    PUTS(c, "unsupported link type ");
    put_u64(c, (uint32_t)lt);
    return (int)caplen;
}

int tcpi_pr_ethertype(pctx_t *c, uint16_t et, uint32_t o, uint32_t length)
{
    switch (et) {
    case TCPI_ETHERTYPE_IP:
        return tcpi_pr_ip4(c, o, length);
    case TCPI_ETHERTYPE_IPV6:
        return tcpi_pr_ip6(c, o, length);
    case TCPI_ETHERTYPE_ARP:
        return tcpi_pr_arp(c, o, length);
    default:
        PUTS(c, "ethertype 0x");
        put_hex(c, et, 4);
        PUTS(c, ", length ");
        put_u64(c, length);
        return P_OK;
    }
}

/* Protocols other than TCP: a short generic form. */
static int print_other_l4(pctx_t *c, uint8_t proto, uint32_t o, uint32_t len)
{
    uint16_t sp, dp;

    if (proto == TCPI_IPPROTO_UDP && tcpi_have(c->snap, o, 4)) {
        G16(sp, o + TCPI_UDP_SPORT);
        G16(dp, o + TCPI_UDP_DPORT);
        PUTS(c, "UDP ");
        put_u64(c, sp);
        PUTS(c, " > ");
        put_u64(c, dp);
        PUTS(c, ", length ");
        put_u64(c, len >= TCPI_UDP_HLEN ? len - TCPI_UDP_HLEN : 0);
        return P_OK;
    }
    PUTS(c, "ip-proto-");
    put_u64(c, proto);
    putch(c, ' ');
    put_u64(c, len);
    return P_OK;
}

int tcpi_pr_ip_demux(pctx_t *c, uint8_t proto, uint32_t o, uint32_t length,
                     uint32_t ip, int v6, int direct)
{
    if (proto == TCPI_IPPROTO_TCP)
        return tcpi_pr_tcp(c, o, length, ip, v6, direct);
    return print_other_l4(c, proto, o, length);
}

/* ---- the packet ----------------------------------------------------- */

/* -X: offset, 8 groups of 2 bytes, two spaces, ASCII (0x21-0x7e). */
static void print_hex_ascii(pctx_t *c, const uint8_t *p, uint32_t n)
{
    char *h;

    if (tcpi_pr_ensure(c, (size_t)(n / 16 + 1) * 72 + 16))
        return;
    h = c->w;                             /* in place: space is reserved */

    for (uint32_t off = 0; off < n; off += 16) {
        uint32_t k = n - off < 16 ? n - off : 16, i;

        memcpy(h, "\n\t0x", 4);
        h += 4;
        for (int s = 12; s >= 0; s -= 4)
            *h++ = hexdig[(off >> s) & 15];
        *h++ = ':';
        *h++ = ' ';
        char *hx = h;
        for (i = 0; i < k; i++) {
            if (!(i & 1))
                *h++ = ' ';
            *h++ = hexdig[p[off + i] >> 4];
            *h++ = hexdig[p[off + i] & 15];
        }
        while (h - hx < 40)
            *h++ = ' ';
        *h++ = ' ';
        *h++ = ' ';
        for (i = 0; i < k; i++) {
            uint8_t ch = p[off + i];
            *h++ = ch > 0x20 && ch < 0x7f ? (char)ch : '.';
        }
    }
    c->w = h;
}

/* Mask redacted headers in a private copy of the frame. */
static const uint8_t *redacted_copy(tcpi_print_t *st, int32_t lt,
                                    const uint8_t *d, uint32_t caplen,
                                    uint32_t wirelen)
{
    tcpi_pkt_t pkt;

    if (st->scratch_cap < caplen) {
        uint8_t *p = realloc(st->scratch, caplen);
        if (!p)
            return NULL;
        st->scratch = p;
        st->scratch_cap = caplen;
    }
    tcpi_redact_frame(st->redact, &pkt, lt, d, st->scratch, caplen, wirelen);
    return st->scratch;
}

size_t tcpi_print_packet(tcpi_print_t *st, uint32_t ts_sec, uint32_t ts_usec,
                         int32_t lt, const uint8_t *d, uint32_t caplen,
                         uint32_t wirelen, int opts)
{
    pctx_t c = {st, NULL, d, caplen, ""};
    size_t start = st->out_len;
    int bad = 0;

    if (out_reserve(st, WORST_CASE(caplen > MAXIMUM_SNAPLEN ? 0 : caplen)))
        return 0;
    c.w = st->out + st->out_len;

    if (caplen == 0) {
        PUTS(&c, "[Invalid header: caplen==0");
        bad = 1;
    }
    if (wirelen == 0 || wirelen < caplen) {
        puts0(&c, bad ? "," : "[Invalid header:");
        bad = 1;
        if (wirelen == 0) {
            PUTS(&c, " len==0");
        } else {
            PUTS(&c, " len(");
            put_u64(&c, wirelen);
            PUTS(&c, ") < caplen(");
            put_u64(&c, caplen);
            putch(&c, ')');
        }
    }
    if (caplen > MAXIMUM_SNAPLEN) {
        puts0(&c, bad ? "," : "[Invalid header:");
        bad = 1;
        PUTS(&c, " caplen(");
        put_u64(&c, caplen);
        PUTS(&c, ") > 262144");
    }
    if (wirelen > MAXIMUM_SNAPLEN) {
        puts0(&c, bad ? "," : "[Invalid header:");
        bad = 1;
        PUTS(&c, " len(");
        put_u64(&c, wirelen);
        PUTS(&c, ") > 262144");
    }
    if (bad) {
        PUTS(&c, "]\n");
        st->out_len = (size_t)(c.w - st->out);
        return st->out_len - start;
    }
    if (st->redact) {
        c.d = d = redacted_copy(st, lt, d, caplen, wirelen);
        if (!d) {
            st->oom = 1;
            return 0;
        }
    }
    if (ts_sec & 0x80000000u) {
        PUTS(&c, "[Error converting time]");
    } else {
        /* "sec." is the same for every packet of a second: kept. */
        if (st->ts_sec != ts_sec || !st->ts_len) {
            pctx_t t = c;
            t.w = st->ts_text;
            put_u32(&t, ts_sec);
            *t.w++ = '.';
            st->ts_len = (uint8_t)(t.w - st->ts_text);
            st->ts_sec = ts_sec;
        }
        memcpy(c.w, st->ts_text, 16);
        c.w += st->ts_len;
        uint32_t u = ts_usec;
        if (u < 1000000) {                  /* %06u */
            memcpy(c.w, digits2 + 2 * (u / 10000), 2);
            memcpy(c.w + 2, digits2 + 2 * (u / 100 % 100), 2);
            memcpy(c.w + 4, digits2 + 2 * (u % 100), 2);
            c.w += 6;
        } else {
            put_u32(&c, u);
        }
        *c.w++ = ' ';
    }
    int hdr = print_link(&c, lt, caplen, wirelen);
    if (hdr == P_JUMP) {
        trunc_mark(&c);
        hdr = 0;
    }
    if ((opts & TCPI_PRINT_HEX) && caplen > (uint32_t)hdr)
        print_hex_ascii(&c, d + hdr, caplen - (uint32_t)hdr);
    putch(&c, '\n');
    st->out_len = (size_t)(c.w - st->out);
    return st->out_len - start;
}
