/*
 * tcpi_redact.c — header value masking across segment boundaries.
 */
#include "tcpi_redact.h"

#include <string.h>

const char *const tcpi_redact_defaults[] = {
    "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", NULL
};

/* Where the scan is: the state saved at the end of a segment. */
enum {
    RM_NAME,        /* in a line's first token; pend holds it so far */
    RM_OWS,         /* after a redacted name's colon: keep blanks */
    RM_MASK,        /* in a redacted value: mask until CR/LF */
    RM_OTHER,       /* elsewhere in a line: skip to LF */
    RM_UNKNOWN,     /* a flow's first segment: judge the first line */
};

/* RFC 9110 tchar */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
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

static tcpi_redact_flow_t *flow_get(tcpi_redact_t *rd, const tcpi_pkt_t *pkt)
{
    size_t alen = pkt->family == 6 ? 16 : 4;
    uint32_t h = 2166136261u;
    const uint8_t *k[2] = {pkt->src, pkt->dst};

    for (int j = 0; j < 2; j++)
        for (size_t i = 0; i < alen; i++)
            h = (h ^ k[j][i]) * 16777619u;
    h = (h ^ pkt->sport) * 16777619u;
    h = (h ^ pkt->dport) * 16777619u;
    tcpi_redact_flow_t *f = &rd->flow[h % TCPI_REDACT_FLOWS];
    if (f->used && f->v6 == (pkt->family == 6) && f->sport == pkt->sport &&
        f->dport == pkt->dport && !memcmp(f->src, pkt->src, alen) &&
        !memcmp(f->dst, pkt->dst, alen))
        return f;
    if (f->used)
        rd->evicted++;
    memset(f, 0, sizeof(*f));
    f->used = 1;
    f->v6 = pkt->family == 6;
    memcpy(f->src, pkt->src, alen);
    memcpy(f->dst, pkt->dst, alen);
    f->sport = pkt->sport;
    f->dport = pkt->dport;
    f->mode = RM_UNKNOWN;
    f->next_seq = pkt->seq;
    return f;
}

/* Does the segment start at a line boundary? Yes when its first line is
 * a status line, a request line ("METHOD SP") or a header ("name:" and a
 * blank or the line end: a cookie or base64 tail has no ": "). Otherwise
 * it may be the tail of a secret whose start was not seen. */
static int starts_at_line(const uint8_t *p, size_t len)
{
    size_t i = 0;

    if (len >= 5 && !memcmp(p, "HTTP/", 5))
        return 1;
    while (i < len && i < TCPI_REDACT_NAME_MAX && is_tchar(p[i]))
        i++;
    if (i == 0 || i >= len)
        return 0;
    if (p[i] == ' ') {
        for (size_t k = 0; k < i; k++)
            if (p[k] < 'A' || p[k] > 'Z')
                return 0;
        return 1;
    }
    return p[i] == ':' && (i + 1 == len || p[i + 1] == ' ' ||
                           p[i + 1] == '\t' || p[i + 1] == '\r' ||
                           p[i + 1] == '\n');
}

/* Is the token p[0..l) the tail of a redacted name ("ie" of "cookie")?
 * A segment whose state was lost (a retransmission, an evicted flow, the
 * first one a page sees) may start there: its value is a secret. */
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

/* The first line of a segment with no state: a line to read (RM_NAME) or
 * one to mask whole (RM_MASK). */
static uint8_t first_line_mode(const tcpi_redact_t *rd, const uint8_t *p,
                               size_t len)
{
    char tok[TCPI_REDACT_NAME_MAX];
    size_t t = 0;

    if (!starts_at_line(p, len))
        return RM_MASK;
    while (t < len && t < sizeof(tok) && is_tchar(p[t])) {
        tok[t] = (char)lower(p[t]);
        t++;
    }
    /* "Cookie:" is read as itself (its value masked); "ie:" may be the end
     * of one: masked whole. */
    if (t < len && p[t] == ':' && !name_redacted(rd, tok, t) &&
        name_tail_redacted(rd, p, t))
        return RM_MASK;
    return RM_NAME;
}

size_t tcpi_redact_payload(tcpi_redact_t *rd, const tcpi_pkt_t *pkt,
                           uint8_t *p, size_t len)
{
    if (rd->nnames == 0 || len == 0)
        return 0;
    tcpi_redact_flow_t *f = flow_get(rd, pkt);
    size_t masked = 0, i = 0;
    uint8_t mode = f->mode;

    if (pkt->seq != f->next_seq) {
        /* Not the continuation of what we saw: start afresh, cautiously. */
        mode = RM_UNKNOWN;
        f->plen = 0;
        f->last_masked = 0;
    }
    if (mode == RM_UNKNOWN)
        mode = first_line_mode(rd, p, len);
    for (; i < len; i++) {
        uint8_t c = p[i];

        switch (mode) {
        case RM_NAME:
            if (f->plen == 0 && (c == ' ' || c == '\t') && f->last_masked) {
                mode = RM_OWS;              /* obs-fold continuation */
            } else if (c == ':') {
                f->last_masked = name_redacted(rd, f->pend, f->plen);
                mode = f->last_masked ? RM_OWS : RM_OTHER;
                f->plen = 0;
            } else if (c == '\n') {
                f->plen = 0;
                f->last_masked = 0;
            } else if (is_tchar(c) && f->plen < TCPI_REDACT_NAME_MAX - 1) {
                f->pend[f->plen++] = (char)lower(c);
            } else if (c != '\r') {
                mode = RM_OTHER;
                f->plen = 0;
                f->last_masked = 0;
            }
            break;
        case RM_OWS:
            if (c == ' ' || c == '\t')
                break;
            mode = RM_MASK;
            /* fall through */
        case RM_MASK:
            if (c == '\n') {
                mode = RM_NAME;
                f->plen = 0;
            } else if (c != '\r') {
                p[i] = '*';
                masked++;
            }
            break;
        default:    /* RM_OTHER */
            if (c == '\n') {
                mode = RM_NAME;
                f->plen = 0;
                f->last_masked = 0;
            }
            break;
        }
    }
    /* Bytes not captured (snaplen, a GRO segment past the ring's record
     * size) may have started a redacted header: what follows them starts
     * afresh, cautiously. */
    f->mode = len < pkt->payload_len ? RM_UNKNOWN : mode;
    f->next_seq = pkt->seq + (uint32_t)pkt->payload_len;
    rd->masked += masked;
    return masked;
}

int tcpi_redact_frame(tcpi_redact_t *rd, tcpi_pkt_t *pkt, int32_t linktype,
                      const uint8_t *src, uint8_t *dst, uint32_t caplen,
                      uint32_t wirelen)
{
    int why = tcpi_decode(pkt, linktype, src, caplen, wirelen);
    uint32_t keep;

    memcpy(dst, src, caplen);
    if (rd == NULL || rd->nnames == 0)
        return why;
    if (why == TCPI_DR_ok) {
        if (pkt->payload_caplen > 0)
            tcpi_redact_payload(rd, pkt, dst + pkt->payload_off,
                                pkt->payload_caplen);
        return why;
    }
    /* The deepest header decoded: TCP's fixed 20 bytes (what a bad-header
     * line prints), else the IP header, else the link header. */
    if (pkt->tcp_off && pkt->tcp_off + 20 <= caplen)
        keep = pkt->tcp_off + 20;
    else if (pkt->ip_hlen && pkt->ip_off + pkt->ip_hlen <= caplen)
        keep = pkt->ip_off + pkt->ip_hlen;
    else
        keep = pkt->ip_off <= caplen ? pkt->ip_off : 0;
    memset(dst + keep, '*', caplen - keep);
    return why;
}
