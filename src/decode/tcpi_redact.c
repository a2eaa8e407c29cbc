/*
 * tcpi_redact.c — header value masking across segment boundaries, for
 * HTTP/1 text and HTTP/2 frames (the rules are in tcpi_redact.h).
 */
#include "tcpi_redact.h"

#include <string.h>

const char *const tcpi_redact_defaults[] = {
    "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", NULL
};

/* Where the scan is: the state saved at the end of a segment. */
enum {
    RM_NAME,        /* h1: in a line's first token; pend holds it so far */
    RM_OWS,         /* h1: after a redacted name's colon: keep blanks */
    RM_MASK,        /* h1: in a redacted value: mask until CR/LF */
    RM_OTHER,       /* h1: elsewhere in a line: skip to LF */
    RM_LOST,        /* content unknown: judge the next segment afresh */
    RM_START,       /* the connection's first byte (SYN, SYN-ACK) */
    RM_PREFACE,     /* h2: in the client preface (pre bytes matched) */
    RM_H2HDR,       /* h2: in a frame header (hn bytes in hb) */
    RM_H2PAY,       /* h2: in a frame payload (frem bytes to come) */
};

/* RFC 9113 §3.4 */
static const uint8_t preface[24] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* RFC 9113 §6: frame types, the flags each defines, whether its stream id
 * must be non-zero (1), zero (0) or either (2). */
enum { FT_DATA, FT_HEADERS, FT_PRIORITY, FT_RST, FT_SETTINGS, FT_PUSH,
       FT_PING, FT_GOAWAY, FT_WINUP, FT_CONT, FT_KNOWN };
#define FL_END_STREAM  0x01
#define FL_ACK         0x01
#define FL_END_HEADERS 0x04
#define FL_PADDED      0x08
#define FL_PRIORITY    0x20
static const uint8_t ft_flags[FT_KNOWN] = { 0x09, 0x2d, 0, 0, 0x01, 0x0c,
                                            0x01, 0, 0, 0x04 };
static const uint8_t ft_stream[FT_KNOWN] = { 1, 1, 1, 1, 0, 1, 0, 0, 2, 1 };

/* RFC 9110 tchar */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A byte HTTP/1 header text never holds (RFC 9110 §5.5: field values are
 * VCHAR, SP, HT and obs-text; CR and LF end lines). */
static int is_bad_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f;
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

const char *tcpi_redact_init(tcpi_redact_t *rd, const char *const *names,
                             int n)
{
    memset(rd, 0, sizeof(*rd));
    if (n > TCPI_REDACT_MAX_NAMES)
        return "too many header names";
    for (int i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        if (l == 0 || l >= TCPI_REDACT_NAME_MAX)
            return "header name empty or too long";
        for (size_t k = 0; k < l; k++) {
            if (!is_tchar((unsigned char)names[i][k]))
                return "header name is not an HTTP token";
            rd->names[i][k] = (char)lower((unsigned char)names[i][k]);
        }
        rd->nlen[i] = (uint8_t)l;
    }
    rd->nnames = n;
    return NULL;
}

static int name_redacted(const tcpi_redact_t *rd, const char *p, size_t l)
{
    for (int i = 0; i < rd->nnames; i++)
        if (rd->nlen[i] == l && !memcmp(rd->names[i], p, l))
            return 1;
    return 0;
}

/* ---- flow table ---------------------------------------------------------- */

static uint32_t flow_hash(size_t alen, const uint8_t *a, const uint8_t *b,
                          uint16_t pa, uint16_t pb)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < alen; i++)
        h = (h ^ a[i]) * 16777619u;
    for (size_t i = 0; i < alen; i++)
        h = (h ^ b[i]) * 16777619u;
    h = (h ^ pa) * 16777619u;
    h = (h ^ pb) * 16777619u;
    return h % TCPI_REDACT_FLOWS;
}

static int flow_is(const tcpi_redact_flow_t *f, int v6, const uint8_t *a,
                   const uint8_t *b, uint16_t pa, uint16_t pb)
{
    size_t alen = v6 ? 16 : 4;

    return f->used && f->v6 == v6 && f->sport == pa && f->dport == pb &&
           !memcmp(f->src, a, alen) && !memcmp(f->dst, b, alen);
}

/* Back to "content unknown": the direction's protocol stays known. */
static void go_lost(tcpi_redact_flow_t *f)
{
    f->mode = RM_LOST;
    f->plen = f->last_masked = f->guard = f->h1pend = 0;
    f->anchored = f->pre = f->hn = f->fmask = f->cont = 0;
    f->frem = f->csid = 0;
}

static tcpi_redact_flow_t *flow_get(tcpi_redact_t *rd, const tcpi_pkt_t *pkt)
{
    int v6 = pkt->family == 6;
    size_t alen = v6 ? 16 : 4;
    tcpi_redact_flow_t *f =
        &rd->flow[flow_hash(alen, pkt->src, pkt->dst, pkt->sport, pkt->dport)];

    if (flow_is(f, v6, pkt->src, pkt->dst, pkt->sport, pkt->dport))
        return f;
    if (f->used)
        rd->evicted++;
    memset(f, 0, sizeof(*f));
    f->used = 1;
    f->v6 = (uint8_t)v6;
    memcpy(f->src, pkt->src, alen);
    memcpy(f->dst, pkt->dst, alen);
    f->sport = pkt->sport;
    f->dport = pkt->dport;
    go_lost(f);
    f->next_seq = pkt->seq;
    return f;
}

/* The state kept for pkt's direction (peer 0) or the other one (peer 1),
 * or NULL: nothing is created. */
static tcpi_redact_flow_t *flow_find(tcpi_redact_t *rd, const tcpi_pkt_t *pkt,
                                     int peer)
{
    int v6 = pkt->family == 6;
    const uint8_t *a = peer ? pkt->dst : pkt->src;
    const uint8_t *b = peer ? pkt->src : pkt->dst;
    uint16_t pa = peer ? pkt->dport : pkt->sport;
    uint16_t pb = peer ? pkt->sport : pkt->dport;
    tcpi_redact_flow_t *f = &rd->flow[flow_hash(v6 ? 16 : 4, a, b, pa, pb)];

    return flow_is(f, v6, a, b, pa, pb) ? f : NULL;
}

/* Does the other direction of pkt's connection carry HTTP/2? */
static int peer_is_h2(tcpi_redact_t *rd, const tcpi_pkt_t *pkt)
{
    const tcpi_redact_flow_t *f = flow_find(rd, pkt, 1);

    return f && f->h2;
}

static void mask(tcpi_redact_t *rd, uint8_t *p, size_t n)
{
    memset(p, '*', n);
    rd->masked += n;
}

/* ---- HTTP/2 frame headers ------------------------------------------------ */

static uint32_t get24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t get31(const uint8_t *p)
{
    return ((uint32_t)p[0] & 0x7f) << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

/* Could h[0..n) (n <= 9) begin a frame header a compliant peer sends?
 * strict: telling HTTP/2 from other bytes (not following anchored
 * framing), so lengths are held to 16384, types to RFC 9113's and the
 * reserved bit to 0. cont: whether a header block is open on stream csid
 * (2: not known). */
static int fh_plausible(const uint8_t *h, size_t n, int strict, int cont,
                        uint32_t csid)
{
    uint32_t len, sid;
    uint8_t type, fl;

    if (n < 3)
        return 1;
    len = get24(h);
    if (strict && len > TCPI_REDACT_H2_MAXFRAME)
        return 0;
    if (n < 4)
        return 1;
    type = h[3];
    if ((cont == 1 && type != FT_CONT) || (cont == 0 && type == FT_CONT))
        return 0;
    if (type >= FT_KNOWN)
        return !strict;
    if (n < 5)
        return 1;
    fl = h[4];
    if (fl & ~ft_flags[type])
        return 0;
    switch (type) {
    case FT_DATA:     if (len < ((fl & FL_PADDED) ? 1u : 0u)) return 0; break;
    case FT_HEADERS:  if (len < ((fl & FL_PADDED) ? 1u : 0u) +
                                ((fl & FL_PRIORITY) ? 5u : 0u)) return 0;
                      break;
    case FT_PRIORITY: if (len != 5) return 0; break;
    case FT_RST:      if (len != 4) return 0; break;
    case FT_SETTINGS: if ((fl & FL_ACK) ? len != 0 : len % 6 != 0) return 0;
                      break;
    case FT_PUSH:     if (len < ((fl & FL_PADDED) ? 5u : 4u)) return 0; break;
    case FT_PING:     if (len != 8) return 0; break;
    case FT_GOAWAY:   if (len < 8) return 0; break;
    case FT_WINUP:    if (len != 4) return 0; break;
    default:          break;
    }
    if (n < 9)
        return 1;
    if (strict && (h[5] & 0x80))
        return 0;
    sid = get31(h + 5);
    if ((ft_stream[type] == 1 && sid == 0) || (ft_stream[type] == 0 && sid))
        return 0;
    return !(cont == 1 && sid != csid);
}

/* Does p[0..len) start with a plausible chain of frame headers, back to
 * back up to exactly len or a frame crossing it (its header may be cut)?
 * At a lost start this says HTTP/2 (the segment is masked all the same). */
static int chain_ok(const uint8_t *p, size_t len)
{
    size_t off = 0;
    int cont = 2;
    uint32_t csid = 0;

    if (len < 9)
        return 0;
    while (off < len) {
        size_t n = len - off < 9 ? len - off : 9;
        const uint8_t *h = p + off;

        if (!fh_plausible(h, n, 1, cont, csid))
            return 0;
        if (n < 9)
            break;
        if (h[3] == FT_HEADERS || h[3] == FT_PUSH || h[3] == FT_CONT) {
            cont = !(h[4] & FL_END_HEADERS);
            csid = get31(h + 5);
        } else {
            cont = 0;
        }
        off += 9 + (size_t)get24(h);
    }
    return 1;
}

/* A complete, plausible header is in f->hb (anchored framing): set up its
 * payload. */
static void frame_begin(tcpi_redact_flow_t *f)
{
    uint8_t type = f->hb[3];

    f->frem = get24(f->hb);
    f->fmask = type == FT_HEADERS || type == FT_PUSH || type == FT_CONT ||
               type >= FT_KNOWN;
    if (type == FT_HEADERS || type == FT_PUSH || type == FT_CONT) {
        f->cont = !(f->hb[4] & FL_END_HEADERS);
        f->csid = get31(f->hb + 5);
    } else {
        f->cont = 0;
    }
    f->hn = 0;
    f->mode = f->frem ? RM_H2PAY : RM_H2HDR;
}

/* HTTP/2 found without its connection's start: where its frames are
 * cannot be trusted (see tcpi_redact.h), so the rest is masked. */
static void h2_unanchored(tcpi_redact_flow_t *f)
{
    go_lost(f);
    f->h2 = 1;
}

/* ---- HTTP/1 lines --------------------------------------------------------- */

/* Is the token p[0..l) the tail of a redacted name ("ie" of "cookie")? */
static int name_tail_redacted(const tcpi_redact_t *rd, const uint8_t *p,
                              size_t l)
{
    for (int i = 0; i < rd->nnames; i++) {
        size_t n = rd->nlen[i];
        if (l == 0 || l >= n)
            continue;
        size_t k = 0;
        while (k < l && lower(p[k]) == (unsigned char)rd->names[i][n - l + k])
            k++;
        if (k == l)
            return 1;
    }
    return 0;
}

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

/* Is p[0..n) an HTTP-version (HTTP/d.d)? */
static int http_version(const uint8_t *p, size_t n)
{
    return n == 8 && !memcmp(p, "HTTP/", 5) && is_digit(p[5]) &&
           p[6] == '.' && is_digit(p[7]);
}

/* Text in the rest of a line read after lost state: VCHAR, SP, HT. Not
 * obs-text: rare in headers, while HPACK's Huffman strings and indexed
 * fields are full of such bytes. */
static int line_text(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_bad_ctl(p[i]) || p[i] >= 0x80 || p[i] == '\r' || p[i] == '\n')
            return 0;
    return 1;
}

/* Does p[0..len) start with an HTTP/1 line that provably begins a line:
 * a request line, a status line, or a header line whose name is not the
 * tail of a redacted one? Each must end in CRLF inside p: a line cut by
 * the segment end is not known. */
static int provable_line(const tcpi_redact_t *rd, const uint8_t *p,
                         size_t len)
{
    const uint8_t *lf = memchr(p, '\n', len);
    size_t e, t = 0;

    if (!lf || lf == p || lf[-1] != '\r')
        return 0;
    e = (size_t)(lf - p) - 1;                   /* the line without CRLF */
    if (e >= 12 && http_version(p, 8) && p[8] == ' ' && is_digit(p[9]) &&
        is_digit(p[10]) && is_digit(p[11]) && (e == 12 || p[12] == ' '))
        return line_text(p + 12, e - 12);       /* status line */
    while (t < e && t < TCPI_REDACT_NAME_MAX && is_tchar(p[t]))
        t++;
    if (t == 0 || t == e)
        return 0;
    if (p[t] == ':') {                          /* header line */
        char tok[TCPI_REDACT_NAME_MAX];
        for (size_t k = 0; k < t; k++)
            tok[k] = (char)lower(p[k]);
        if (t + 1 < e && p[t + 1] != ' ' && p[t + 1] != '\t')
            return 0;                           /* a base64 tail has no ": " */
        if (!name_redacted(rd, tok, t) && name_tail_redacted(rd, p, t))
            return 0;
        return line_text(p + t + 1, e - t - 1);
    }
    if (p[t] != ' ' || e < t + 11)              /* request line */
        return 0;
    size_t s = t + 1;
    while (s < e && p[s] > ' ' && p[s] < 0x7f)
        s++;
    return s > t + 1 && s + 9 == e && p[s] == ' ' &&
           http_version(p + s + 1, 8);
}

/* The index after the (CR)LF ending the text line at p[i], or 0 if there
 * is none in p or the line is not text (printable ASCII and HT): skipped
 * lines are a secret's tail or folded values, not binary, whose CR and LF
 * bytes would be data. */
static size_t line_end(const uint8_t *p, size_t i, size_t len)
{
    for (; i < len; i++) {
        if (p[i] == '\n')
            return i + 1;
        if (p[i] == '\r')
            return i + 1 < len && p[i + 1] == '\n' ? i + 2 : 0;
        if ((p[i] < ' ' && p[i] != '\t') || p[i] >= 0x7f)
            return 0;
    }
    return 0;
}

/* Mask the text of p[0..n), keeping CR and LF (masked header lines). */
static void mask_lines(tcpi_redact_t *rd, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != '\r' && p[i] != '\n') {
            p[i] = '*';
            rd->masked++;
        }
}

/* ---- segment starts ------------------------------------------------------- */

/* The direction's first byte (SYN + 1): the preface or the server's
 * SETTINGS make it anchored HTTP/2, anything else is HTTP/1 at a line
 * start. */
static void judge_start(tcpi_redact_flow_t *f, const uint8_t *p, size_t len)
{
    size_t n = len < sizeof(preface) ? len : sizeof(preface);

    go_lost(f);
    if (!memcmp(p, preface, n)) {
        f->h2 = f->anchored = 1;
        f->mode = RM_PREFACE;
    } else if (len >= 4 && p[3] == FT_SETTINGS &&
               fh_plausible(p, len < 9 ? len : 9, 1, 0, 0)) {
        f->h2 = f->anchored = 1;
        f->mode = RM_H2HDR;
    } else {
        f->anchored = 1;
        f->mode = RM_NAME;
    }
}

/* A segment whose start is not known: see tcpi_redact.h. Returns how many
 * bytes were dealt with (masked); f->mode says how to read the rest. */
static size_t judge_lost(tcpi_redact_t *rd, tcpi_redact_flow_t *f,
                         const tcpi_pkt_t *pkt, uint8_t *p, size_t len)
{
    size_t n = len < sizeof(preface) ? len : sizeof(preface), e;

    go_lost(f);
    if (n >= 3 && !memcmp(p, preface, n)) {
        f->h2 = 1;
        f->mode = RM_PREFACE;
        return 0;
    }
    if (chain_ok(p, len)) {
        h2_unanchored(f);
        return 0;                               /* masked whole */
    }
    if (f->h2 || peer_is_h2(rd, pkt)) {
        f->h2 = 1;
        return 0;                               /* RM_LOST: masked whole */
    }
    e = 0;
    if (!provable_line(rd, p, len)) {
        /* The first line, and folded lines after it, may continue a
         * secret: masked, if they are text and a provable line follows. */
        e = line_end(p, 0, len);
        while (e && e < len && (p[e] == ' ' || p[e] == '\t'))
            e = line_end(p, e, len);
        if (!e || e == len || !provable_line(rd, p + e, len - e))
            return 0;
        mask_lines(rd, p, e);
    }
    f->mode = RM_NAME;
    f->guard = 1;
    return e;
}

/* ---- the scan ------------------------------------------------------------- */

#define H1_READ ((size_t)-1)

/* A NUL in HTTP/1 text where a frame header may start (one always does:
 * lengths up to 16384 have a zero first byte): at a line start, where
 * h2c's frames begin after an upgrade, or anywhere when the direction was
 * not followed from its start (a lost start inside an HTTP/2 DATA payload
 * that reads as text meets the next frame here). Returns where the scan
 * goes on (i: HTTP/2 or not text, the state is lost and the rest masked),
 * or H1_READ to read the byte as HTTP/1. A header cut by the segment end
 * is judged with the next segment: bit n - 1 of h1pend marks one n bytes
 * before the end. */
static size_t h1_nul(tcpi_redact_flow_t *f, const uint8_t *p, size_t i,
                     size_t len)
{
    int at_start = f->mode == RM_NAME && f->plen == 0;
    size_t n = len - i < 9 ? len - i : 9;

    if (!at_start && f->anchored)
        return H1_READ;
    if (fh_plausible(p + i, n, 1, 2, 0)) {
        if (n < 9) {
            f->h1pend |= (uint8_t)(1u << (n - 1));
            return H1_READ;
        }
        h2_unanchored(f);
        return i;
    }
    if (!at_start)
        return H1_READ;
    go_lost(f);                 /* not text, not HTTP/2: mask the rest */
    return i;
}

/* The previous segment ended in what may be the start of a frame header
 * (h1pend, its last hn bytes in hb): if with this segment's first bytes
 * one is (or may be, the segment being too short to tell), the direction
 * is HTTP/2 and this segment is masked whole. */
static void h1_pend(tcpi_redact_flow_t *f, const uint8_t *p, size_t len)
{
    uint8_t h[9], pend = f->h1pend;

    f->h1pend = 0;
    for (size_t n = f->hn; n >= 1; n--) {
        if (!(pend & (1u << (n - 1))))
            continue;
        size_t k = 9 - n < len ? 9 - n : len;
        memcpy(h, f->hb + f->hn - n, n);
        memcpy(h + n, p, k);
        if (fh_plausible(h, n + k, 1, 2, 0)) {
            h2_unanchored(f);
            return;
        }
    }
}

/* One HTTP/1 byte at p[i]: returns where the scan goes on (i + 1, or i
 * when the state is now lost or HTTP/2: the rest is then masked). */
static size_t h1_step(tcpi_redact_t *rd, tcpi_redact_flow_t *f, uint8_t *p,
                      size_t i, size_t len)
{
    uint8_t c = p[i];
    size_t r;

    if (c == 0 && (r = h1_nul(f, p, i, len)) != H1_READ)
        return r;
    /* Not followed from its start, a header section holds text only:
     * HPACK (indexed fields, Huffman strings, prefixes and lengths) is
     * found here if a lost start took it for a header line. */
    if (f->guard && (is_bad_ctl(c) || c >= 0x80)) {
        go_lost(f);
        return i;
    }
    switch (f->mode) {
    case RM_NAME:
        if (f->plen == 0 && (c == ' ' || c == '\t') && f->last_masked) {
            f->mode = RM_OWS;               /* obs-fold continuation */
        } else if (c == ':') {
            f->last_masked = (uint8_t)name_redacted(rd, f->pend, f->plen);
            f->mode = f->last_masked ? RM_OWS : RM_OTHER;
            f->plen = 0;
        } else if (c == '\n') {
            if (f->plen == 0)
                f->guard = 0;               /* blank line: headers end */
            f->plen = 0;
            f->last_masked = 0;
        } else if (is_tchar(c) && f->plen < TCPI_REDACT_NAME_MAX - 1) {
            f->pend[f->plen++] = (char)lower(c);
        } else if (c != '\r') {
            f->mode = RM_OTHER;
            f->plen = 0;
            f->last_masked = 0;
        }
        break;
    case RM_OWS:
        if (c == ' ' || c == '\t')
            break;
        f->mode = RM_MASK;
        /* fall through */
    case RM_MASK:
        if (c == '\n') {
            f->mode = RM_NAME;
            f->plen = 0;
        } else if (c != '\r') {
            p[i] = '*';
            rd->masked++;
        }
        break;
    default:    /* RM_OTHER */
        if (c == '\n') {
            f->mode = RM_NAME;
            f->plen = 0;
            f->last_masked = 0;
        }
        break;
    }
    return i + 1;
}

/* Frame header bytes from p[i]; returns the index after them. */
static size_t h2_header(tcpi_redact_flow_t *f, const uint8_t *p,
                        size_t i, size_t len)
{
    size_t n = 9u - f->hn < len - i ? 9u - f->hn : len - i;

    memcpy(f->hb + f->hn, p + i, n);
    f->hn = (uint8_t)(f->hn + n);
    if (!fh_plausible(f->hb, f->hn, 0, f->cont, f->csid)) {
        go_lost(f);
        return i;                           /* the caller masks the rest */
    }
    if (f->hn < 9)                          /* cut by the segment end */
        return i + n;
    frame_begin(f);
    return i + n;
}

static void scan(tcpi_redact_t *rd, tcpi_redact_flow_t *f,
                 const tcpi_pkt_t *pkt, uint8_t *p, size_t len)
{
    size_t i = 0, n;
    uint8_t tail[8];
    size_t tn = len < sizeof(tail) ? len : sizeof(tail);

    if (len == 0)
        return;
    memcpy(tail, p + len - tn, tn);             /* before any masking */
    if (f->mode == RM_START)
        judge_start(f, p, len);
    else if (f->mode == RM_LOST)
        i = judge_lost(rd, f, pkt, p, len);
    else if (f->h1pend)
        h1_pend(f, p, len);
    while (i < len) {
        switch (f->mode) {
        case RM_LOST:                       /* nothing known: all of it */
            mask(rd, p + i, len - i);
            i = len;
            break;
        case RM_PREFACE:
            if (p[i] != preface[f->pre]) {
                go_lost(f);
                break;
            }
            i++;
            if (++f->pre == sizeof(preface)) {
                if (f->anchored) {
                    f->mode = RM_H2HDR;
                    f->cont = 0;
                } else {
                    h2_unanchored(f);       /* the frames: masked */
                }
            }
            break;
        case RM_H2HDR:
            i = h2_header(f, p, i, len);
            break;
        case RM_H2PAY:
            n = f->frem < len - i ? f->frem : len - i;
            if (f->fmask)
                mask(rd, p + i, n);
            f->frem -= (uint32_t)n;
            i += n;
            if (f->frem == 0)
                f->mode = RM_H2HDR;
            break;
        default:                            /* HTTP/1 */
            i = h1_step(rd, f, p, i, len);
            break;
        }
    }
    if (f->h1pend && f->mode <= RM_OTHER) {       /* still HTTP/1 */
        memcpy(f->hb, tail, tn);
        f->hn = (uint8_t)tn;
    } else {
        f->h1pend = 0;
    }
}

/* Bytes of the stream that were not captured. */
static void skip(tcpi_redact_flow_t *f, uint32_t n)
{
    if (n == 0)
        return;
    if (f->mode == RM_H2PAY && f->frem >= n) {
        f->frem -= n;
        if (f->frem == 0)
            f->mode = RM_H2HDR;
        return;
    }
    go_lost(f);
}

/* ---- connection starts and ends ------------------------------------------ */

/* Could a new stream whose data start at a be confused with the one f
 * followed up to next_seq? Within the retransmission window a segment of
 * the old stream would read as a copy of, an overlap with, or the next
 * bytes of the new one, from a start (RM_START) chosen by whoever sent
 * the SYN. */
static int near_stream(const tcpi_redact_flow_t *f, uint32_t a)
{
    return f->seen && (uint32_t)(a - f->next_seq + TCPI_REDACT_RETRANS_WIN) <=
                          2u * TCPI_REDACT_RETRANS_WIN;
}

/* A SYN (or SYN-ACK) from pkt's source, data at seq + 1 for wire bytes.
 * A direction in sync with a stream that has not ended (no FIN or RST at
 * its end) keeps its state: anyone can send a SYN with its addresses.
 * Any other is lost and records the SYN, unless its data could be taken
 * for the old stream's; syn_ack anchors it. Returns the state. */
static tcpi_redact_flow_t *syn_sent(tcpi_redact_t *rd, const tcpi_pkt_t *pkt,
                                    uint32_t wire)
{
    tcpi_redact_flow_t *f = flow_get(rd, pkt);
    uint32_t a = pkt->seq + 1;

    if (f->syn_pend && f->syn_seq == a) {       /* the same SYN again */
        if (tcpi_seq_lt(f->syn_end, a + wire))
            f->syn_end = a + wire;
        return f;
    }
    if (f->mode != RM_LOST && !f->closed)
        return f;                               /* in sync: not touched */
    go_lost(f);
    f->syn_pend = 0;
    if (near_stream(f, a))
        return f;
    f->syn_pend = 1;
    f->syn_seq = a;
    f->syn_end = a + wire;
    return f;
}

/* A new connection's direction, its stream from seq a on: anchored (its
 * first byte is judged by judge_start), or lost where its SYN's data were
 * taken by the handshake (TCP Fast Open: masked, never judged). */
static void conn_start(tcpi_redact_flow_t *f, uint32_t a, int anchor)
{
    go_lost(f);
    f->h2 = 0;
    f->syn_pend = f->closed = 0;
    f->seen = 1;
    f->next_seq = a;
    if (anchor)
        f->mode = RM_START;
}

/* A SYN-ACK from pkt's source (fr, its SYN recorded by syn_sent): if it
 * acknowledges the SYN recorded for the other direction, a connection
 * starts: both directions are followed from their SYN + 1. A SYN-ACK that
 * acknowledges the SYN's data too (Fast Open) leaves that direction lost
 * after them. */
static void syn_ack(tcpi_redact_t *rd, const tcpi_pkt_t *pkt,
                    tcpi_redact_flow_t *fr)
{
    tcpi_redact_flow_t *fd = flow_find(rd, pkt, 1);

    if (fd == NULL || fd == fr || !fd->syn_pend || !fr->syn_pend ||
        fr->syn_seq != pkt->seq + 1)
        return;
    if (pkt->ack == fd->syn_seq)
        conn_start(fd, fd->syn_seq, 1);
    else if (pkt->ack == fd->syn_end)
        conn_start(fd, fd->syn_end, 0);
    else
        return;
    if (fr->syn_end == fr->syn_seq)
        conn_start(fr, fr->syn_seq, 1);
    else
        conn_start(fr, fr->syn_end, 0);
}

/* A RST at the end of pkt's direction (or of a stream not followed): the
 * connection is over, both directions may start anew with a SYN. */
static void rst_seen(tcpi_redact_t *rd, const tcpi_pkt_t *pkt)
{
    tcpi_redact_flow_t *f = flow_find(rd, pkt, 0), *peer;

    if (f && f->mode != RM_LOST && !f->closed &&
        pkt->seq - f->next_seq > 1)             /* after a FIN: + 1 */
        return;
    if (f)
        f->closed = 1;
    if ((peer = flow_find(rd, pkt, 1)) != NULL)
        peer->closed = 1;
}

size_t tcpi_redact_payload(tcpi_redact_t *rd, const tcpi_pkt_t *pkt,
                           uint8_t *p, size_t len)
{
    uint64_t before = rd->masked;
    uint8_t fl = pkt->flags;
    uint32_t wire = pkt->payload_len > len ? pkt->payload_len : (uint32_t)len;
    uint32_t seq = pkt->seq, end = seq + wire;
    tcpi_redact_flow_t *f;

    if (rd->nnames == 0 ||
        (wire == 0 && !(fl & (TCPI_TH_SYN | TCPI_TH_FIN | TCPI_TH_RST))))
        return 0;
    if (fl & (TCPI_TH_SYN | TCPI_TH_RST)) {
        /* A SYN's data (Fast Open) are never judged: a SYN proves nothing
         * until its SYN-ACK. A RST's are no stream's. */
        if (len)
            mask(rd, p, len);
        if (!(fl & TCPI_TH_SYN))
            rst_seen(rd, pkt);
        else if (!(fl & (TCPI_TH_FIN | TCPI_TH_RST))) {
            f = syn_sent(rd, pkt, wire);
            if (fl & TCPI_TH_ACK)
                syn_ack(rd, pkt, f);
        }
        return (size_t)(rd->masked - before);
    }
    if (wire == 0) {                            /* a FIN alone */
        f = flow_find(rd, pkt, 0);
        if (f && f->mode != RM_LOST && seq == f->next_seq)
            f->closed = 1;
        return 0;
    }
    f = flow_get(rd, pkt);
    f->syn_pend = 0;                            /* data before the SYN-ACK */
    f->seen = 1;
    uint32_t behind = f->next_seq - seq;
    if (behind != 0 && (tcpi_seq_lt(f->next_seq, seq) ||
                        behind > TCPI_REDACT_RETRANS_WIN)) {
        go_lost(f);                         /* a gap */
        f->next_seq = seq;
        behind = 0;
    }
    if (behind >= wire) {
        /* A copy of bytes already passed: judged alone, state kept but
         * for what it tells of the protocol. */
        tcpi_redact_flow_t tmp = *f;
        go_lost(&tmp);
        scan(rd, &tmp, pkt, p, len);
        f->h2 |= tmp.h2;
        /* Ending where the stream was followed to, it may be the real
         * segment behind bytes spoofed there (as long as it, or ending
         * with it): those bytes' state is not to be trusted for the next
         * ones. An exact retransmission of the last segment costs the
         * same. */
        if (behind == wire)
            go_lost(f);
        if ((fl & TCPI_TH_FIN) && behind == wire)
            f->closed = 1;
        return (size_t)(rd->masked - before);
    }
    if (behind) {
        /* An overlap: the bytes before next_seq are masked, and the new
         * ones are not read in the state the bytes seen there left. Those
         * may not be this segment's: anyone can send a segment at the
         * next sequence number (an unterminated header line, a DATA frame
         * header) ahead of the real one, which then comes as an overlap
         * whose new bytes would be read in the spoofer's state. The
         * direction is lost: its new bytes, starting mid-line or mid-frame
         * as a rule, are judged afresh, and so are the next segments
         * until a provable start. */
        size_t old = behind < len ? behind : len;
        go_lost(f);
        mask(rd, p, old);
        p += old;
        len -= old;
        wire -= behind;
    }
    scan(rd, f, pkt, p, len);
    skip(f, wire - (uint32_t)len);
    f->next_seq = end;
    f->closed = (fl & TCPI_TH_FIN) != 0;    /* new bytes: not over yet */
    return (size_t)(rd->masked - before);
}

void tcpi_redact_decoded(tcpi_redact_t *rd, const tcpi_pkt_t *pkt, int why,
                         uint8_t *data, uint32_t caplen)
{
    uint32_t keep;

    if (rd == NULL || rd->nnames == 0)
        return;
    if (why == TCPI_DR_ok) {
        if (pkt->payload_len > 0 ||
            (pkt->flags & (TCPI_TH_SYN | TCPI_TH_FIN | TCPI_TH_RST)))
            tcpi_redact_payload(rd, pkt, data + (pkt->payload_off < caplen
                                                 ? pkt->payload_off : caplen),
                                pkt->payload_caplen);
        return;
    }
    /* The deepest header decoded: TCP's fixed 20 bytes (what a bad-header
     * line prints), else the IP header, else the link header. */
    if (pkt->tcp_off && pkt->tcp_off + TCPI_TCP_HLEN_MIN <= caplen)
        keep = pkt->tcp_off + TCPI_TCP_HLEN_MIN;
    else if (pkt->ip_hlen && pkt->ip_off + pkt->ip_hlen <= caplen)
        keep = pkt->ip_off + pkt->ip_hlen;
    else
        keep = pkt->ip_off <= caplen ? pkt->ip_off : 0;
    memset(data + keep, '*', caplen - keep);
}

int tcpi_redact_frame(tcpi_redact_t *rd, tcpi_pkt_t *pkt, int32_t linktype,
                      const uint8_t *src, uint8_t *dst, uint32_t caplen,
                      uint32_t wirelen)
{
    int why = tcpi_decode(pkt, linktype, src, caplen, wirelen);

    memcpy(dst, src, caplen);
    tcpi_redact_decoded(rd, pkt, why, dst, caplen);
    return why;
}
