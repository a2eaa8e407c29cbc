/*
 * tcpi_print.c — tcpdump-identical lines. The control flow follows what
 * tcpdump 4.99 prints (facts read from its print-*.c), not its code:
 * every read is checked against the captured bytes (tcpi_extract.h). A
 * read that tcpdump does with a GET_ macro ends the packet with
 * " [|proto]" and makes -X dump the whole frame (P_JUMP below); a check
 * tcpdump does with ND_TCHECK prints the mark where it happens and keeps
 * the link header out of the dump.
 */
#include "tcpi_print.h"
#include "tcpi_decode.h"
#include "tcpi_extract.h"
#include "tcpi_redact.h"

#include <net/if.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#define P_OK    0
#define P_JUMP  (-1)        /* tcpdump's longjmp on a short capture */

#define MAXIMUM_SNAPLEN 262144u

typedef struct {
    tcpi_print_t  *st;
    char          *w;       /* write position in st->out (space reserved) */
    const uint8_t *d;       /* the frame */
    uint32_t       snap;    /* bytes of d a printer may read (snapend) */
    const char    *proto;   /* for " [|proto]" */
} pctx_t;

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

/* The most one packet can print but for an IPv6 extension chain and -X
 * (they reserve their own room): fixed text (addresses, flags, options
 * expand at most ~10x of their <= 40 bytes), the HTTP line (<= caplen). */
#define WORST_CASE(caplen) (4096 + (size_t)(caplen) * 8)

/* Room for n more bytes at c->w: the buffer grows (and may move). Every
 * packet reserves a worst case first (see tcpi_print_packet), so the
 * writers below need no checks; the parts whose output is not bounded by
 * a small multiple of the bytes they read (an IPv6 extension chain, the
 * -X dump after it) ask for their own room. */
static int ensure(pctx_t *c, size_t n)
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

static inline void put(pctx_t *c, const char *s, size_t n)
{
    memcpy(c->w, s, n);
    c->w += n;
}

#define PUTS(c, lit) put((c), (lit), sizeof(lit) - 1)

static void puts0(pctx_t *c, const char *s) { put(c, s, strlen(s)); }

static inline void putch(pctx_t *c, char ch) { *c->w++ = ch; }

static const char digits2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Decimal from a table of the 10000 four-digit groups (zero-padded):
 * at most two divisions for any 32-bit value (ports, seq, ack, win, TS
 * values, lengths), no loop. */
static char digits4[10000][4];

static void digits4_init(void)
{
    for (int v = 0; v < 10000; v++) {
        digits4[v][0] = (char)('0' + v / 1000);
        digits4[v][1] = (char)('0' + v / 100 % 10);
        digits4[v][2] = (char)('0' + v / 10 % 10);
        digits4[v][3] = (char)('0' + v % 10);
    }
}

/* 1-4 digits, no leading zeros. */
static inline void put_small(pctx_t *c, uint32_t v)
{
    int n = 1 + (v >= 10) + (v >= 100) + (v >= 1000);
    memcpy(c->w, digits4[v] + 4 - n, 4);      /* over-copy: space reserved */
    c->w += n;
}

static inline void put_u32(pctx_t *c, uint32_t v)
{
    if (v < 10000) {
        put_small(c, v);
    } else if (v < 100000000) {
        put_small(c, v / 10000);
        memcpy(c->w, digits4[v % 10000], 4);
        c->w += 4;
    } else {
        uint32_t rest = v % 100000000;
        put_small(c, v / 100000000);
        memcpy(c->w, digits4[rest / 10000], 4);
        memcpy(c->w + 4, digits4[rest % 10000], 4);
        c->w += 8;
    }
}

static void put_u64(pctx_t *c, uint64_t v)
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

/* "0." .. "255." without division: 4 bytes each, the length in [3]. */
static char octets[256][4];
static uint8_t octet_len[256];

static void octets_init(void)
{
    for (int v = 0; v < 256; v++) {
        int n = 0;
        if (v >= 100)
            octets[v][n++] = (char)('0' + v / 100);
        if (v >= 10)
            octets[v][n++] = (char)('0' + v / 10 % 10);
        octets[v][n++] = (char)('0' + v % 10);
        octet_len[v] = (uint8_t)n;
    }
}

static const char hexdig[] = "0123456789abcdef";

/* %x, or %02x with width 2 */
static void put_hex(pctx_t *c, uint64_t v, int width)
{
    char b[20];
    int i = sizeof(b);

    do {
        b[--i] = hexdig[v & 15];
        v >>= 4;
    } while (v || (int)sizeof(b) - i < width);
    put(c, b + i, sizeof(b) - (size_t)i);
}

static void put_ip4(pctx_t *c, const uint8_t *a)
{
    for (int i = 0; i < 4; i++) {
        memcpy(c->w, octets[a[i]], 4);      /* over-copy, then advance */
        c->w += octet_len[a[i]];
        *c->w++ = '.';
    }
    c->w--;                                 /* no dot after the last */
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

static void put_ip6(pctx_t *c, const uint8_t *a)
{
    char b[64];
    put(c, b, tcpi_print_ip6(b, a));
}

static void put_addr(pctx_t *c, int v6, const uint8_t *a)
{
    if (v6)
        put_ip6(c, a);
    else
        put_ip4(c, a);
}

static void trunc_mark(pctx_t *c)
{
    PUTS(c, " [|");
    puts0(c, c->proto);
    putch(c, ']');
}

/* ---- relative sequence numbers ------------------------------------ */

static uint32_t conn_hash(const tcpi_print_conn_t *k)
{
    uint32_t w[8], h = k->port * 0x9e3779b1u;
    int n = k->v6 ? 4 : 1;

    memcpy(w, k->src, 16);
    memcpy(w + 4, k->dst, 16);
    for (int i = 0; i < n; i++)
        h = (h ^ w[i]) * 0x85ebca6bu ^ (w[4 + i] * 0xc2b2ae35u);
    return h ^ (h >> 15);
}

static int conn_same(const tcpi_print_conn_t *a, const tcpi_print_conn_t *b)
{
    return a->v6 == b->v6 && a->port == b->port &&
           !memcmp(a->src, b->src, 16) && !memcmp(a->dst, b->dst, 16);
}

static int conn_grow(tcpi_print_t *st)
{
    size_t cap = st->conn_cap ? st->conn_cap * 2 : 256;
    tcpi_print_conn_t *t = calloc(cap, sizeof(*t));

    if (!t)
        return -1;
    for (size_t i = 0; i < st->conn_cap; i++) {
        if (!st->conn[i].used)
            continue;
        size_t j = conn_hash(&st->conn[i]) & (cap - 1);
        while (t[j].used)
            j = (j + 1) & (cap - 1);
        t[j] = st->conn[i];
    }
    free(st->conn);
    st->conn = t;
    st->conn_cap = cap;
    return 0;
}

/* tcpdump's lookup: the entry for key, created (and reset) when missing
 * or when this is a SYN. *fresh says the numbers are printed absolute. */
static tcpi_print_conn_t *conn_find(tcpi_print_t *st,
                                    const tcpi_print_conn_t *key, int *found)
{
    if ((st->conn_n + 1) * 4 > st->conn_cap * 3 && conn_grow(st)) {
        st->oom = 1;
        return NULL;
    }
    size_t j = conn_hash(key) & (st->conn_cap - 1);
    while (st->conn[j].used) {
        if (conn_same(&st->conn[j], key)) {
            *found = 1;
            return &st->conn[j];
        }
        j = (j + 1) & (st->conn_cap - 1);
    }
    *found = 0;
    st->conn[j] = *key;
    st->conn[j].used = 1;
    st->conn_n++;
    return &st->conn[j];
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

/* ---- HTTP (tcpdump's txtproto_print, non-verbose) ------------------ */

static const char *const http_cmds[] = {
    "GET", "PUT", "COPY", "HEAD", "LOCK", "MOVE", "POLL", "POST", "BCOPY",
    "BMOVE", "MKCOL", "TRACE", "LABEL", "MERGE", "DELETE", "SEARCH",
    "UNLOCK", "REPORT", "UPDATE", "NOTIFY", "BDELETE", "CONNECT",
    "OPTIONS", "CHECKIN", "PROPFIND", "CHECKOUT", "CCM_POST", "SUBSCRIBE",
    "PROPPATCH", "BPROPFIND", NULL
};

#define MAX_TOKEN 128
#define ISPRINT(ch) ((ch) >= 0x20 && (ch) <= 0x7e)

/* The next token from idx: its end index (after trailing blanks), or 0. */
static uint32_t fetch_token(pctx_t *c, uint32_t base, uint32_t idx,
                            uint32_t len, char *tok)
{
    size_t tl = 0;
    uint8_t ch;

    for (; idx < len; idx++) {
        if (tcpi_get_u8(&ch, c->d, c->snap, base + idx))
            return 0;
        if (ch >= 0x80)
            return 0;
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
            break;
        if (!ISPRINT(ch) || tl + 2 > MAX_TOKEN + 1)
            return 0;
        tok[tl++] = (char)ch;
    }
    if (tl == 0)
        return 0;
    tok[tl] = 0;
    for (; idx < len; idx++) {
        if (tcpi_get_u8(&ch, c->d, c->snap, base + idx))
            break;
        if (ch == '\r' || ch == '\n' || !ISPRINT(ch))
            break;
        if (ch != ' ' && ch != '\t')
            break;
    }
    return idx;
}

static int print_first_line(pctx_t *c, uint32_t base, uint32_t len)
{
    uint32_t idx = 0, ll;
    uint8_t ch, nx;

    while (idx < len) {
        if (tcpi_get_u8(&ch, c->d, c->snap, base + idx))
            return P_JUMP;
        if (ch == '\n') {
            ll = idx;
            goto print;
        } else if (ch == '\r') {
            if (idx + 1 >= len)
                return P_OK;
            if (tcpi_get_u8(&nx, c->d, c->snap, base + idx + 1))
                return P_JUMP;
            if (nx == '\n') {
                ll = idx;
                goto print;
            }
            return P_OK;
        } else if (!ISPRINT(ch) && ch != '\t') {
            return P_OK;
        }
        idx++;
    }
    PUTS(c, ": ");
    put(c, (const char *)c->d + base, idx);
    trunc_mark(c);
    return P_OK;
print:
    PUTS(c, ": ");
    put(c, (const char *)c->d + base, ll);
    return P_OK;
}

static int print_http(pctx_t *c, uint32_t base, uint32_t len)
{
    char tok[MAX_TOKEN + 1];
    int print_this = 0;

    c->proto = "http";
    uint32_t idx = fetch_token(c, base, 0, len, tok);
    if (idx) {
        for (int i = 0; http_cmds[i]; i++)
            if (!strcasecmp(tok, http_cmds[i])) {
                print_this = 1;
                break;
            }
        idx = fetch_token(c, base, idx, len, tok);
        if (idx && tok[0] >= '0' && tok[0] <= '9' && tok[1] >= '0' &&
            tok[1] <= '9' && tok[2] >= '0' && tok[2] <= '9' && !tok[3])
            print_this = 1;
    }
    PUTS(c, "HTTP");
    return print_this ? print_first_line(c, base, len) : P_OK;
}

int tcpi_print_http_first_line(const uint8_t **line, size_t *len,
                               const uint8_t *p, size_t n)
{
    size_t i = 0, e;

    while (i < n && i < 16 && p[i] >= 'A' && p[i] <= 'Z')
        i++;
    int req = i >= 3 && i < n && p[i] == ' ';
    int resp = n >= 12 && !memcmp(p, "HTTP/", 5) && p[8] == ' ' &&
               p[9] >= '1' && p[9] <= '5';
    if (!req && !resp)
        return 0;
    for (e = 0; e < n && e < 8192 && p[e] != '\r' && p[e] != '\n'; e++)
        ;
    *line = p;
    *len = e;
    return 1;
}

/* ---- TCP ------------------------------------------------------------ */

/* tcpdump's option names, padded to 16 bytes so a fixed-size copy (no
 * strlen, no variable memcpy) writes them; the length in n. */
typedef struct { char s[15]; uint8_t n; } optname_t;
#define ON(str) { str, sizeof(str) - 1 }
static const optname_t *tcp_opt_name(uint8_t opt)
{
    static const optname_t names[] = {
        ON("eol"), ON("nop"), ON("mss"), ON("wscale"), ON("sackOK"),
        ON("sack"), ON("echo"), ON("echoreply"), ON("TS"), ON("cc"),
        ON("ccnew"), ON(""), ON("md5"), ON("scps"), ON("uto"), ON("tcp-ao"),
        ON("mptcp"), ON("tfo"), ON("exp"),
    };
    static const uint8_t kinds[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13,
                                    19, 20, 28, 29, 30, 34, 254};
    if (opt <= 8)
        return &names[opt];
    for (size_t i = 9; i < sizeof(kinds); i++)
        if (kinds[i] == opt)
            return &names[i];
    return NULL;
}
#undef ON

static int get8(uint8_t *v, pctx_t *c, uint32_t off)
{
    return tcpi_get_u8(v, c->d, c->snap, off);
}
static int get16(uint16_t *v, pctx_t *c, uint32_t off)
{
    return tcpi_get_be16(v, c->d, c->snap, off);
}
static int get32(uint32_t *v, pctx_t *c, uint32_t off)
{
    return tcpi_get_be32(v, c->d, c->snap, off);
}
static int get64(uint64_t *v, pctx_t *c, uint32_t off)
{
    uint32_t hi, lo;
    if (get32(&hi, c, off) || get32(&lo, c, off + 4))
        return -1;
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

#define G8(v, off)  do { if (get8(&(v), c, (off))) return P_JUMP; } while (0)
#define G16(v, off) do { if (get16(&(v), c, (off))) return P_JUMP; } while (0)
#define G32(v, off) do { if (get32(&(v), c, (off))) return P_JUMP; } while (0)
#define G64(v, off) do { if (get64(&(v), c, (off))) return P_JUMP; } while (0)

/* MPTCP (RFC 8684) subtypes as tcpdump prints them. o: option start,
 * len: option length. Returns 1 printed, 0 bad, P_JUMP. */
static int print_mptcp(pctx_t *c, uint32_t o, uint32_t len, uint8_t flags)
{
    static const char *const names[] = {"capable", "join", "dss", "add-addr",
        "rem-addr", "prio", "fail", "fast-close", "unknown"};
    uint8_t sub, b, f;
    uint64_t v64;
    uint32_t v32;
    uint16_t v16;

    c->proto = "mptcp";
    if (len < 3)
        return 0;
    G8(sub, o + 2);
    sub >>= 4;
    if (sub > 8)
        sub = 8;
    putch(c, ' ');
    put_u64(c, len);
    putch(c, ' ');
    puts0(c, names[sub]);
    switch (sub) {
    case 0:
        if (!((len == 12 || len == 4) && (flags & TCPI_TH_SYN)) &&
            !((len == 20 || len == 22) &&
              (flags & (TCPI_TH_SYN | TCPI_TH_ACK)) == TCPI_TH_ACK))
            return 0;
        G8(b, o + 2);
        b &= 15;
        if (b > 1) {
            PUTS(c, " Unknown Version (");
            put_u64(c, b);
            putch(c, ')');
            return 1;
        }
        PUTS(c, " v");
        put_u64(c, b);
        G8(f, o + 3);
        if (f & 0x80)
            PUTS(c, " csum");
        if (len == 12 || len >= 20) {
            G64(v64, o + 4);
            PUTS(c, " {0x");
            put_hex(c, v64, 0);
            if (len >= 20) {
                G64(v64, o + 12);
                PUTS(c, ",0x");
                put_hex(c, v64, 0);
            }
            putch(c, '}');
        }
        return 1;
    case 1:
        if (!(len == 12 && (flags & TCPI_TH_SYN)) &&
            !(len == 16 && (flags & (TCPI_TH_SYN | TCPI_TH_ACK)) ==
              (TCPI_TH_SYN | TCPI_TH_ACK)) &&
            !(len == 24 && (flags & TCPI_TH_ACK)))
            return 0;
        if (len != 24) {
            G8(b, o + 2);
            if (b & 1)
                PUTS(c, " backup");
            G8(b, o + 3);
            PUTS(c, " id ");
            put_u64(c, b);
        }
        if (len == 12) {
            G32(v32, o + 4);
            PUTS(c, " token 0x");
            put_hex(c, v32, 0);
            G32(v32, o + 8);
            PUTS(c, " nonce 0x");
            put_hex(c, v32, 0);
        } else if (len == 16) {
            G64(v64, o + 4);
            PUTS(c, " hmac 0x");
            put_hex(c, v64, 0);
            G32(v32, o + 12);
            PUTS(c, " nonce 0x");
            put_hex(c, v32, 0);
        } else {
            PUTS(c, " hmac 0x");
            for (uint32_t i = 0; i < 20; i++) {
                if (!tcpi_have(c->snap, o + 4 + i, 1))
                    return P_JUMP;   /* tcpdump reads it unchecked */
                put_hex(c, c->d[o + 4 + i], 2);
            }
        }
        return 1;
    case 2: {
        uint32_t p = o + 4, rem;
        if (len < 4 || (flags & TCPI_TH_SYN))
            return 0;
        rem = len - 4;
        G8(f, o + 3);
        if (f & 0x10)
            PUTS(c, " fin");
        if (f & 0x01) {
            PUTS(c, " ack ");
            if (f & 0x02) {
                if (rem < 8) return 0;
                G64(v64, p); put_u64(c, v64); p += 8; rem -= 8;
            } else {
                if (rem < 4) return 0;
                G32(v32, p); put_u64(c, v32); p += 4; rem -= 4;
            }
        }
        if (f & 0x04) {
            PUTS(c, " seq ");
            if (f & 0x08) {
                if (rem < 8) return 0;
                G64(v64, p); put_u64(c, v64); p += 8; rem -= 8;
            } else {
                if (rem < 4) return 0;
                G32(v32, p); put_u64(c, v32); p += 4; rem -= 4;
            }
            if (rem < 4) return 0;
            G32(v32, p); PUTS(c, " subseq "); put_u64(c, v32); p += 4; rem -= 4;
            if (rem < 2) return 0;
            G16(v16, p); PUTS(c, " len "); put_u64(c, v16); p += 2; rem -= 2;
            if (rem >= 2) {
                G16(v16, p); PUTS(c, " csum 0x"); put_hex(c, v16, 0);
                rem -= 2;
            }
        }
        return rem == 0;
    }
    case 3: {
        static const uint8_t ok[] = {8, 10, 16, 18, 20, 22, 28, 30};
        int v4 = len < 20, valid = 0;
        for (size_t i = 0; i < sizeof(ok); i++)
            valid |= ok[i] == len;
        if (!valid)
            return 0;
        G8(b, o + 2);
        b &= 15;
        putch(c, ' ');
        puts0(c, b == 6 ? "v0-ip6" : b == 4 ? "v0-ip4" : b == 1 ? "v1-echo" :
                 b == 0 ? "v1" : "[bad version/echo]");
        G8(b, o + 3);
        PUTS(c, " id ");
        put_u64(c, b);
        uint32_t alen = v4 ? 4 : 16;
        if (!tcpi_have(c->snap, o + 4, alen))
            return P_JUMP;
        putch(c, ' ');
        put_addr(c, !v4, c->d + o + 4);
        int port = len == 10 || len == 18 || len == 22 || len == 30;
        if (port) {
            G16(v16, o + 4 + alen);
            putch(c, ':');
            put_u64(c, v16);
        }
        if (len == 16 || len == 18 || len == 28 || len == 30) {
            G64(v64, o + 4 + alen + (port ? 2 : 0));
            PUTS(c, " hmac 0x");
            put_hex(c, v64, 0);
        }
        return 1;
    }
    case 4:
        if (len < 4)
            return 0;
        PUTS(c, " id");
        for (uint32_t i = 0; i < len - 3; i++) {
            G8(b, o + 3 + i);
            putch(c, ' ');
            put_u64(c, b);
        }
        return 1;
    case 5:
        if (len != 3 && len != 4)
            return 0;
        G8(b, o + 2);
        puts0(c, b & 1 ? " backup" : " non-backup");
        if (len == 4) {
            G8(b, o + 3);
            PUTS(c, " id ");
            put_u64(c, b);
        }
        return 1;
    case 6:
    case 7:
        if (len != 12)
            return 0;
        G64(v64, o + 4);
        if (sub == 6) {
            PUTS(c, " seq ");
            put_u64(c, v64);
        } else {
            PUTS(c, " key 0x");
            put_hex(c, v64, 0);
        }
        return 1;
    default:
        return 1;
    }
}

static int print_tfo(pctx_t *c, uint32_t o, uint32_t datalen)
{
    if (datalen == 0) {
        PUTS(c, " cookiereq");
        return P_OK;
    }
    if (datalen % 2 || datalen < 4 || datalen > 16) {
        PUTS(c, " (invalid)");
        return P_OK;
    }
    PUTS(c, " cookie ");
    for (uint32_t i = 0; i < datalen; i++) {
        uint8_t b;
        G8(b, o + i);
        put_hex(c, b, 2);
    }
    return P_OK;
}

/* The options loop. hlen: option bytes (data offset * 4 - 20). Returns
 * P_OK (printed "]" or a mark), P_JUMP. */
static int print_tcp_options(pctx_t *c, uint32_t o, uint32_t hlen,
                             uint8_t flags, int rev, uint32_t thseq,
                             uint32_t thack, uint32_t paylen, int v6,
                             uint32_t payoff)
{
    char ch = 0;
    uint8_t opt, len8, b;
    uint32_t len, datalen, v32, v32b;
    uint16_t v16;

    PUTS(c, ", options [");
    while (hlen > 0) {
        if (ch)
            putch(c, ch);
        G8(opt, o);
        o++;
        if (opt == 0 || opt == 1) {
            len = 1;
        } else {
            G8(len8, o);
            o++;
            len = len8;
            if (len < 2 || len > hlen)
                goto bad;
            --hlen;
        }
        --hlen;
        datalen = 0;
#define LENCHECK(l) do { if ((l) > hlen) goto bad; \
                         if (!tcpi_have(c->snap, o, (l))) goto trunc; } while (0)
        const optname_t *nm = tcp_opt_name(opt);
        if (nm) {
            memcpy(c->w, nm->s, 16);            /* fixed size: fast */
            c->w += nm->n;
        } else {
            PUTS(c, "unknown-");
            put_u64(c, opt);
        }
        switch (opt) {
        case 2:
            datalen = 2;
            LENCHECK(datalen);
            G16(v16, o);
            putch(c, ' ');
            put_u64(c, v16);
            break;
        case 3:
            datalen = 1;
            LENCHECK(datalen);
            G8(b, o);
            putch(c, ' ');
            put_u64(c, b);
            break;
        case 5:
            datalen = len - 2;
            if (datalen % 8) {
                PUTS(c, " invalid sack");
            } else {
                putch(c, ' ');
                put_u64(c, datalen / 8);
                putch(c, ' ');
                for (uint32_t i = 0; i < datalen; i += 8) {
                    LENCHECK(i + 4);
                    G32(v32, o + i);
                    LENCHECK(i + 8);
                    G32(v32b, o + i + 4);
                    uint32_t base = rev ? thseq : thack;
                    putch(c, '{');
                    put_u64(c, v32 - base);
                    putch(c, ':');
                    put_u64(c, v32b - base);
                    putch(c, '}');
                }
            }
            break;
        case 6: case 7: case 11: case 12: case 13:
            datalen = 4;
            LENCHECK(datalen);
            G32(v32, o);
            putch(c, ' ');
            put_u64(c, v32);
            break;
        case 8:
            datalen = 8;
            LENCHECK(datalen);
            G32(v32, o);
            G32(v32b, o + 4);
            PUTS(c, " val ");
            put_u64(c, v32);
            PUTS(c, " ecr ");
            put_u64(c, v32b);
            break;
        case 19:
            datalen = 16;
            LENCHECK(datalen);
            putch(c, ' ');
            /* tcpdump (with libcrypto) cannot check without -M: */
            if (!tcpi_have(c->snap, payoff, paylen))
                PUTS(c, "snaplen too short, ");
            else
                PUTS(c, "shared secret not supplied with -M, ");
            PUTS(c, "can't check - ");
            for (uint32_t i = 0; i < 16; i++) {
                G8(b, o + i);
                put_hex(c, b, 2);
            }
            break;
        case 20:
            datalen = 2;
            LENCHECK(datalen);
            PUTS(c, " cap ");
            G8(b, o);
            put_hex(c, b, 2);
            PUTS(c, " id ");
            G8(b, o + 1);
            put_u64(c, b);
            break;
        case 29:
            datalen = len - 2;
            if (datalen < 2) {
                PUTS(c, " (invalid)");
            } else {
                LENCHECK(1);
                G8(b, o);
                PUTS(c, " keyid ");
                put_u64(c, b);
                LENCHECK(2);
                G8(b, o + 1);
                PUTS(c, " rnextkeyid ");
                put_u64(c, b);
                if (datalen > 2) {
                    PUTS(c, " mac 0x");
                    for (uint32_t i = 2; i < datalen; i++) {
                        LENCHECK(i + 1);
                        G8(b, o + i);
                        put_hex(c, b, 2);
                    }
                }
            }
            break;
        case 0: case 1: case 4:
            break;
        case 28:
            datalen = 2;
            LENCHECK(datalen);
            G16(v16, o);
            PUTS(c, " 0x");
            put_hex(c, v16, 0);
            putch(c, ' ');
            put_u64(c, v16 & 1 ? (uint32_t)(v16 >> 1) * 60 : (uint32_t)v16 >> 1);
            break;
        case 30: {
            datalen = len - 2;
            LENCHECK(datalen);
            uint32_t save = c->snap;
            if (o - 2 + len < c->snap)
                c->snap = o - 2 + len;
            int r = print_mptcp(c, o - 2, len, flags);
            c->snap = save;
            if (r == P_JUMP)
                return P_JUMP;
            if (!r)
                goto bad;
            break;
        }
        case 34:
            datalen = len - 2;
            LENCHECK(datalen);
            putch(c, ' ');
            if (print_tfo(c, o, datalen) == P_JUMP)
                return P_JUMP;
            break;
        case 254:
            datalen = len - 2;
            LENCHECK(datalen);
            if (datalen < 2)
                goto bad;
            G16(v16, o);
            putch(c, '-');
            if (v16 == 0xf989) {
                PUTS(c, "tfo");
                if (print_tfo(c, o + 2, datalen - 2) == P_JUMP)
                    return P_JUMP;
            } else {
                put_hex(c, v16, 4);
            }
            break;
        default:
            datalen = len - 2;
            if (datalen)
                PUTS(c, " 0x");
            for (uint32_t i = 0; i < datalen; i++) {
                LENCHECK(i + 1);
                G8(b, o + i);
                put_hex(c, b, 2);
            }
            break;
        }
#undef LENCHECK
        o += datalen;
        hlen -= datalen;
        datalen += (opt == 0 || opt == 1) ? 1 : 2;
        if (datalen != len) {
            PUTS(c, "[len ");
            put_u64(c, len);
            putch(c, ']');
        }
        ch = ',';
        if (opt == 0)
            break;
    }
    putch(c, ']');
    return 1;
bad:
    PUTS(c, "[bad opt]");
    if (ch)
        putch(c, ']');
    return P_OK;
trunc:
    trunc_mark(c);
    if (ch)
        putch(c, '>');
    return P_OK;
}

/* Ports whose tcpdump dissector we do not reproduce (telnet, smtp, whois,
 * bgp, pptp, redis, ssh, beep, openflow, ftp): checked before HTTP. */
static int other_dissector(uint16_t sp, uint16_t dp)
{
    static const uint16_t ports[] = {23, 25, 43, 179, 1723, 6379, 22, 10288,
                                     6633, 6653, 21};
    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
        if (sp == ports[i] || dp == ports[i])
            return 1;
    return 0;
}

/* tcp_print: o is the TCP header, length the bytes the IP layer gives
 * it, ip the IP header (v6: next header was TCP directly when direct). */
static int print_tcp(pctx_t *c, uint32_t o, uint32_t length, uint32_t ip,
                     int v6, int direct)
{
    const uint8_t *src = c->d + ip + (v6 ? 8 : 12);
    const uint8_t *dst = c->d + ip + (v6 ? 24 : 16);
    uint16_t sport, dport, win, urp;
    uint32_t seq, ack, hlen, thseq = 0, thack = 0;
    uint8_t flags, off;
    int rev = 0;

    c->proto = "tcp";
    if (!tcpi_have(c->snap, o, 4)) {
        put_addr(c, v6, src);
        PUTS(c, " > ");
        put_addr(c, v6, dst);
        putch(c, ':');
        trunc_mark(c);
        return P_OK;
    }
    G16(sport, o);
    G16(dport, o + 2);
    if (direct) {
        put_addr(c, v6, src);
        putch(c, '.');
        put_u64(c, sport);
        PUTS(c, " > ");
        put_addr(c, v6, dst);
        putch(c, '.');
        put_u64(c, dport);
        PUTS(c, ": ");
    } else {
        put_u64(c, sport);
        PUTS(c, " > ");
        put_u64(c, dport);
        PUTS(c, ": ");
    }
    if (!tcpi_have(c->snap, o, 20)) {
        trunc_mark(c);
        return P_OK;
    }
    G8(off, o + 12);
    hlen = (uint32_t)(off >> 4) * 4;
    if (hlen < 20) {
        PUTS(c, " tcp ");
        put_u64(c, (uint32_t)(length - hlen));
        PUTS(c, " [bad hdr length ");
        put_u64(c, hlen);
        PUTS(c, " - too short, < 20]");
        return P_OK;
    }
    G32(seq, o + 4);
    G32(ack, o + 8);
    G16(win, o + 14);
    G16(urp, o + 18);
    G8(flags, o + 13);
    PUTS(c, "Flags [");
    if (!flags) {
        PUTS(c, "none");
    } else {
        static const char fl[] = "FSRP.UEW";
        for (int i = 0; i < 8; i++)
            if (flags & (1u << i))
                putch(c, fl[i]);
    }
    putch(c, ']');
    if (flags & TCPI_TH_ACK) {
        tcpi_print_conn_t key, *th;
        size_t al = v6 ? 16 : 4;
        int found = 0;

        memset(&key, 0, sizeof(key));
        key.v6 = (uint8_t)v6;
        if (sport > dport)
            rev = 1;
        else if (sport == dport && memcmp(src, dst, al) > 0)
            rev = 1;
        memcpy(key.src, rev ? dst : src, al);
        memcpy(key.dst, rev ? src : dst, al);
        key.port = rev ? (uint32_t)dport << 16 | sport
                       : (uint32_t)sport << 16 | dport;
        th = conn_find(c->st, &key, &found);
        if (th) {
            if (!found || (flags & TCPI_TH_SYN)) {
                if (rev)
                    th->ack = seq, th->seq = ack - 1;
                else
                    th->seq = seq, th->ack = ack - 1;
            } else if (rev) {
                seq -= th->ack, ack -= th->seq;
            } else {
                seq -= th->seq, ack -= th->ack;
            }
            thseq = th->seq;
            thack = th->ack;
        }
    }
    if (hlen > length) {
        PUTS(c, " [bad hdr length ");
        put_u64(c, hlen);
        PUTS(c, " - too long, > ");
        put_u64(c, length);
        putch(c, ']');
        return P_OK;
    }
    length -= hlen;
    if (length > 0 || (flags & (TCPI_TH_SYN | TCPI_TH_FIN | TCPI_TH_RST))) {
        PUTS(c, ", seq ");
        put_u64(c, seq);
        if (length > 0) {
            putch(c, ':');
            put_u64(c, (uint32_t)(seq + length));
        }
    }
    if (flags & TCPI_TH_ACK) {
        PUTS(c, ", ack ");
        put_u64(c, ack);
    }
    PUTS(c, ", win ");
    put_u64(c, win);
    if (flags & TCPI_TH_URG) {
        PUTS(c, ", urg ");
        put_u64(c, urp);
    }
    if (hlen > 20) {
        int r = print_tcp_options(c, o + 20, hlen - 20, flags, rev, thseq,
                                  thack, length, v6, o + hlen);
        if (r != 1)
            return r;
    }
    PUTS(c, ", length ");
    put_u64(c, length);
    if (length == 0)
        return P_OK;
    if (!tcpi_have(c->snap, o, hlen)) {
        PUTS(c, " [remaining caplen(");
        put_u64(c, c->snap > o ? c->snap - o : 0);
        PUTS(c, ") < header length(");
        put_u64(c, hlen);
        PUTS(c, ")]");
        return P_JUMP;
    }
    if (other_dissector(sport, dport))
        return P_OK;
    if (sport == 80 || dport == 80 || sport == 8080 || dport == 8080) {
        PUTS(c, ": ");
        return print_http(c, o + hlen, length);
    }
    return P_OK;
}

/* Protocols other than TCP: a short generic form. */
static int print_other_l4(pctx_t *c, uint8_t proto, uint32_t o, uint32_t len)
{
    uint16_t sp, dp;

    if (proto == 17 && tcpi_have(c->snap, o, 4)) {
        G16(sp, o);
        G16(dp, o + 2);
        PUTS(c, "UDP ");
        put_u64(c, sp);
        PUTS(c, " > ");
        put_u64(c, dp);
        PUTS(c, ", length ");
        put_u64(c, len >= 8 ? len - 8 : 0);
        return P_OK;
    }
    PUTS(c, "ip-proto-");
    put_u64(c, proto);
    putch(c, ' ');
    put_u64(c, len);
    return P_OK;
}

/* ---- IPv4 / IPv6 ---------------------------------------------------- */

static int print_ip4(pctx_t *c, uint32_t o, uint32_t length)
{
    uint8_t vhl, proto;
    uint16_t len, off;
    uint32_t hlen, save = c->snap;

    c->proto = "ip";
    G8(vhl, o);
    if (vhl >> 4 != 4) {
        if (vhl >> 4 == 6) {
            PUTS(c, "IP6, wrong link-layer encapsulation");
        } else {
            PUTS(c, "IP");
            put_u64(c, vhl >> 4);
        }
        PUTS(c, " (invalid)");
        return P_OK;
    }
    PUTS(c, "IP ");
    if (!tcpi_have(c->snap, o, 20)) {
        trunc_mark(c);
        return P_OK;
    }
    if (length < 20) {
        PUTS(c, "truncated-ip ");
        put_u64(c, length);
        return P_OK;
    }
    hlen = (uint32_t)(vhl & 15) * 4;
    if (hlen < 20) {
        PUTS(c, "bad-hlen ");
        put_u64(c, hlen);
        return P_OK;
    }
    G16(len, o + 2);
    if (length < len) {
        PUTS(c, "truncated-ip - ");
        put_u64(c, len - length);
        PUTS(c, " bytes missing! ");
    }
    if (len < hlen) {
        PUTS(c, "bad-len ");
        put_u64(c, len);
        return P_OK;
    }
    if (o + len < c->snap)
        c->snap = o + len;
    G16(off, o + 6);
    G8(proto, o + 9);
    const uint8_t *src = c->d + o + 12, *dst = c->d + o + 16;
    int r = P_OK;
    if ((off & 0x1fff) == 0) {
        if (proto != 6 && proto != 17 && proto != 132 && proto != 33) {
            put_ip4(c, src);
            PUTS(c, " > ");
            put_ip4(c, dst);
            PUTS(c, ": ");
        }
        if (!tcpi_have(c->snap, o, hlen)) {
            PUTS(c, " [remaining caplen(");
            put_u64(c, c->snap - o);
            PUTS(c, ") < header length(");
            put_u64(c, hlen);
            PUTS(c, ")]");
            c->snap = save;
            return P_JUMP;
        }
        if (proto == 6) {
            r = print_tcp(c, o + hlen, len - hlen, o, 0, 1);
        } else {
            if (proto == 17 && tcpi_have(c->snap, o + hlen, 4)) {
                put_ip4(c, src);
                putch(c, '.');
                put_u64(c, (uint32_t)c->d[o + hlen] << 8 | c->d[o + hlen + 1]);
                PUTS(c, " > ");
                put_ip4(c, dst);
                putch(c, '.');
                put_u64(c, (uint32_t)c->d[o + hlen + 2] << 8 | c->d[o + hlen + 3]);
                PUTS(c, ": UDP, length ");
                put_u64(c, len - hlen >= 8 ? len - hlen - 8 : 0);
            } else {
                r = print_other_l4(c, proto, o + hlen, len - hlen);
            }
        }
    } else {
        put_ip4(c, src);
        PUTS(c, " > ");
        put_ip4(c, dst);
        PUTS(c, ": ip-proto-");
        put_u64(c, proto);
    }
    c->snap = save;
    return r;
}

static int print_ip6(pctx_t *c, uint32_t o, uint32_t length)
{
    uint8_t vb, nh, ph = 255, hl;
    uint16_t plen, fo;
    uint32_t len, save = c->snap, cp = o, advance = 40, total = 0;
    int found_ext = 0, fragmented = 0, r = P_OK;

    c->proto = "ip6";
    if (!tcpi_have(c->snap, o, 40)) {
        trunc_mark(c);
        return P_OK;
    }
    if (length < 40) {
        PUTS(c, "truncated-ip6 ");
        put_u64(c, length);
        return P_OK;
    }
    PUTS(c, "IP6 ");
    G8(vb, o);
    if (vb >> 4 != 6) {
        PUTS(c, "version error: ");
        put_u64(c, vb >> 4);
        PUTS(c, " != 6");
        return P_OK;
    }
    G16(plen, o + 4);
    if (plen) {
        len = plen + 40u;
        if (length < len) {
            PUTS(c, "truncated-ip6 - ");
            put_u64(c, len - length);
            PUTS(c, " bytes missing!");
        }
    } else {
        len = length + 40;
    }
    G8(nh, o + 6);
    if (o + len < c->snap)
        c->snap = o + len;
    const uint8_t *src = c->d + o + 8, *dst = c->d + o + 24;
    while (cp < c->snap) {
        /* One extension header prints up to ~8x its 8 bytes: room for
         * the next one, whatever the chain has used already. */
        if (ensure(c, 1024))
            goto out;
        if (len < advance)
            goto trunc;
        cp += advance;
        len -= advance;
        total += advance;
        if (cp == o + 40 && nh != 6 && nh != 17 && nh != 33 && nh != 132) {
            put_ip6(c, src);
            PUTS(c, " > ");
            put_ip6(c, dst);
            PUTS(c, ": ");
        }
        switch (nh) {
        case 0:
        case 60:
            c->proto = nh ? "dstopt" : "hbhopt";
            if (nh == 0 && ph != 255) {
                PUTS(c, "[The Hop-by-Hop Options header don't follow the IPv6 header] (invalid)");
                goto out;
            }
            if (get8(&hl, c, cp + 1)) { r = P_JUMP; goto out; }
            advance = (hl + 1u) * 8;
            if (!tcpi_have(c->snap, cp, advance)) {
                trunc_mark(c);
                goto out;
            }
            puts0(c, nh ? "DSTOPT " : "HBH ");
            if (nh == 0 && plen == 0) {
                /* Jumbo Payload options are not looked for (no jumbograms
                 * on these links): tcpdump reports their absence */
                PUTS(c, "[No valid Jumbo Payload Hop-by-Hop option found] (invalid)");
                goto out;
            }
            found_ext = 1;
            ph = nh;
            if (get8(&nh, c, cp)) { r = P_JUMP; goto out; }
            break;
        case 44: {
            c->proto = "frag6";
            if (get16(&fo, c, cp + 2)) { r = P_JUMP; goto out; }
            PUTS(c, "frag (");
            put_u64(c, fo & 0xfff8);
            putch(c, '|');
            put_u64(c, (uint32_t)(40 + plen - (cp - o) - 8));
            putch(c, ')');
            if ((fo & 0xfff8) != 0)
                goto out;
            putch(c, ' ');
            if (c->snap <= cp + 8)
                goto out;
            advance = 8;
            found_ext = 1;
            fragmented = 1;
            ph = nh;
            if (get8(&nh, c, cp)) { r = P_JUMP; goto out; }
            break;
        }
        case 43: {
            uint8_t rl, rt, sl;
            uint32_t rsv;
            c->proto = "rt6";
            PUTS(c, "RT6");
            if (get8(&rl, c, cp + 1) || get8(&rt, c, cp + 2) ||
                get8(&sl, c, cp + 3)) { r = P_JUMP; goto out; }
            PUTS(c, " (len=");
            put_u64(c, rl);
            PUTS(c, ", type=");
            put_u64(c, rt);
            if (rt == 0)
                PUTS(c, " [Deprecated]");
            PUTS(c, ", segleft=");
            put_u64(c, sl);
            if (rt != 0 && rt != 2) {
                PUTS(c, ") ");
                advance = (rl + 1u) * 8;
            } else {
                if (get32(&rsv, c, cp + 4)) { r = P_JUMP; goto out; }
                if (rsv) {
                    PUTS(c, ", rsv=0x");
                    put_hex(c, rsv, 0);
                }
                if (rl % 2 == 1) {
                    PUTS(c, " (invalid length ");
                    put_u64(c, rl);
                    PUTS(c, ") (invalid)");
                    goto out;
                }
                for (uint32_t i = 0; i < rl / 2u; i++) {
                    if (!tcpi_have(c->snap, cp + 8 + 16 * i, 16)) {
                        r = P_JUMP;
                        goto out;
                    }
                    if (ensure(c, 128))
                        goto out;
                    PUTS(c, ", [");
                    put_u64(c, i);
                    putch(c, ']');
                    put_ip6(c, c->d + cp + 8 + 16 * i);
                }
                PUTS(c, ") ");
                advance = (rl + 1u) * 8;
            }
            found_ext = 1;
            ph = nh;
            if (get8(&nh, c, cp)) { r = P_JUMP; goto out; }
            break;
        }
        default:
            if (plen == 0) {
                if (found_ext)
                    goto trunc;
                len = 40;
                if (o + len < c->snap)
                    c->snap = o + len;
                len -= total;
            }
            if (ensure(c, WORST_CASE(c->snap - cp)))
                goto out;
            if (nh == 6) {
                r = print_tcp(c, cp, len, o, 1, cp == o + 40);
            } else {
                r = print_other_l4(c, nh, cp, len);
            }
            (void)fragmented;
            goto out;
        }
        c->proto = "ip6";
    }
    goto out;
trunc:
    trunc_mark(c);
out:
    c->snap = save;
    return r;
}

/* ---- link layers ---------------------------------------------------- */

/* ARP (RFC 826) request/reply for IPv4 over Ethernet, tcpdump's words. */
static int print_arp(pctx_t *c, uint32_t o, uint32_t length)
{
    uint16_t hrd, pro, op;
    uint8_t hln, pln;

    c->proto = "arp";
    if (!tcpi_have(c->snap, o, 28) || get16(&hrd, c, o) ||
        get16(&pro, c, o + 2) || get8(&hln, c, o + 4) ||
        get8(&pln, c, o + 5) || get16(&op, c, o + 6) || hrd != 1 ||
        pro != 0x0800 || hln != 6 || pln != 4 || (op != 1 && op != 2)) {
        PUTS(c, "ARP, length ");
        put_u64(c, length);
        return P_OK;
    }
    if (op == 1) {
        PUTS(c, "ARP, Request who-has ");
        put_ip4(c, c->d + o + 24);
        PUTS(c, " tell ");
        put_ip4(c, c->d + o + 14);
    } else {
        PUTS(c, "ARP, Reply ");
        put_ip4(c, c->d + o + 14);
        PUTS(c, " is-at ");
        for (int i = 0; i < 6; i++) {
            if (i)
                putch(c, ':');
            put_hex(c, c->d[o + 8 + i], 2);
        }
    }
    PUTS(c, ", length ");
    put_u64(c, length);
    return P_OK;
}

static int print_ethertype(pctx_t *c, uint16_t et, uint32_t o, uint32_t length)
{
    if (et == 0x0800)
        return print_ip4(c, o, length);
    if (et == 0x86dd)
        return print_ip6(c, o, length);
    if (et == 0x0806)
        return print_arp(c, o, length);
    PUTS(c, "ethertype 0x");
    put_hex(c, et, 4);
    PUTS(c, ", length ");
    put_u64(c, length);
    return P_OK;
}

/* Returns the link header length for -X, or P_JUMP. */
static int print_link(pctx_t *c, int32_t lt, uint32_t caplen, uint32_t len)
{
    uint16_t et;
    uint32_t o, af;
    uint8_t b;
    int r;

    switch (lt) {
    case TCPI_LINKTYPE_EN10MB:
        c->proto = "ether";
        if (caplen < 14) {
            trunc_mark(c);
            return (int)caplen;
        }
        o = 12;
        G16(et, o);
        o += 2;
        while (et == 0x8100 || et == 0x9100 || et == 0x9200 || et == 0x88a8) {
            if (caplen - o < 4 || len - o < 4) {
                c->proto = "vlan";
                trunc_mark(c);
                return (int)(caplen - o < 4 ? caplen : len);
            }
            G16(et, o + 2);
            o += 4;
        }
        if (et <= 1500) {
            PUTS(c, "802.3, length ");
            put_u64(c, et);
            return (int)o;
        }
        r = print_ethertype(c, et, o, len - o);
        return r == P_JUMP ? P_JUMP : (int)o;
    case TCPI_LINKTYPE_LINUX_SLL:
    case TCPI_LINKTYPE_LINUX_SLL2:
        if (lt == TCPI_LINKTYPE_LINUX_SLL2) {
            c->proto = "sll2";
            if (!tcpi_have(caplen, 0, 20))
                return P_JUMP;
            char ifname[IF_NAMESIZE + 1];
            uint32_t ifx;
            G32(ifx, 4);
            if (!if_indextoname(ifx, ifname))
                strcpy(ifname, "?");
            size_t n = strlen(ifname);
            put(c, ifname, n);
            for (; n < 5; n++)
                putch(c, ' ');
            putch(c, ' ');
            G8(b, 10);
            const char *dir = b == 0 ? "In" : b == 1 ? "B" : b == 2 ? "M" :
                              b == 3 ? "P" : b == 4 ? "Out" : "?";
            n = strlen(dir);
            put(c, dir, n);
            for (; n < 3; n++)
                putch(c, ' ');
            putch(c, ' ');
            G16(et, 0);
            o = 20;
        } else {
            c->proto = "sll";
            if (!tcpi_have(caplen, 0, 16))
                return P_JUMP;
            G16(et, 14);
            o = 16;
        }
        while (et == 0x8100) {
            if (caplen - o < 4) {
                c->proto = "vlan";
                trunc_mark(c);
                return (int)caplen;
            }
            G16(et, o + 2);
            if (et <= 1500)
                et = 4;
            PUTS(c, "ethertype ");
            puts0(c, et == 0x0800 ? "IPv4" : et == 0x86dd ? "IPv6" :
                     et == 0x0806 ? "ARP" : et == 0x8100 ? "802.1Q" :
                     "Unknown");
            PUTS(c, ", ");
            o += 4;
        }
        r = print_ethertype(c, et, o, len - o);
        return r == P_JUMP ? P_JUMP : (int)o;
    case TCPI_LINKTYPE_NULL:
    case TCPI_LINKTYPE_LOOP:
        c->proto = "null";
        if (!tcpi_have(caplen, 0, 4))
            return P_JUMP;
        if (tcpi_get_le32(&af, c->d, caplen, 0))
            return P_JUMP;
        if (af & 0xffff0000u)
            af = __builtin_bswap32(af);
        if (af == 2)
            r = print_ip4(c, 4, len - 4);
        else if (af == 24 || af == 28 || af == 30)
            r = print_ip6(c, 4, len - 4);
        else {
            PUTS(c, "AF Unknown (");
            put_u64(c, af);
            PUTS(c, "), length ");
            put_u64(c, len);
            PUTS(c, ": ");
            r = P_OK;
        }
        return r == P_JUMP ? P_JUMP : 4;
    case TCPI_LINKTYPE_RAW:
    case TCPI_DLT_RAW:
        c->proto = "ipn";
        G8(b, 0);
        if ((b & 0xf0) == 0x40)
            r = print_ip4(c, 0, len);
        else if ((b & 0xf0) == 0x60)
            r = print_ip6(c, 0, len);
        else {
            PUTS(c, "unknown ip ");
            put_u64(c, b >> 4);
            r = P_OK;
        }
        return r == P_JUMP ? P_JUMP : 0;
    case TCPI_LINKTYPE_IPV4:
        r = print_ip4(c, 0, len);
        return r == P_JUMP ? P_JUMP : 0;
    case TCPI_LINKTYPE_IPV6:
        r = print_ip6(c, 0, len);
        return r == P_JUMP ? P_JUMP : 0;
    default:
        PUTS(c, "unsupported link type ");
        put_u64(c, (uint32_t)lt);
        return (int)caplen;
    }
}

/* -X: offset, 8 groups of 2 bytes, two spaces, ASCII (0x21-0x7e). */
static void print_hex_ascii(pctx_t *c, const uint8_t *p, uint32_t n)
{
    char *h;

    if (ensure(c, (size_t)(n / 16 + 1) * 72 + 16))
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
