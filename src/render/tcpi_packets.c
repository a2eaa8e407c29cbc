/*
 * tcpi_packets.c — /packets.txt and /packets rendering over the ring.
 *
 * The window search (tcpi_query_start) examines each record once, and
 * reads none when every packet counts. Then one pass over the window:
 * each record the query returns (those the search selected) is read once
 * and decoded once (tcpi_query_decode: the filter's headers-only view, the
 * leg, the redactor, match= and the HTTP annotation share that decode),
 * masked in place and printed by its leg's printer. The text page streams
 * its lines; the HTML page streams the frontend's and holds the escaped
 * lines of the backend and other legs until their heading is written. A
 * held leg that passes the bound (hold_max bytes held in all) stops there;
 * when its turn comes it is read on from that packet (its packets then
 * read and decoded again: stats.passes counts it).
 *
 * Memory of a page, whatever the ring's size: the caller's record buffer,
 * a redaction state (76 KiB) and a printer per leg, the held lines
 * (hold_max plus one packet's lines), the query's verdicts (<= 256 KiB).
 */
#include "tcpi_packets.h"
#include "tcpi/decode.h"
#include "tcpi/print.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* For the window: a packet counts toward limit= when its redacted
 * payload holds the match= string. Matching sees masked bytes only, so
 * match= cannot be used to guess a secret. The decode is the query's (the
 * filter's headers-only view made it already, or this makes it for the
 * page). */
typedef struct {
    const tcpi_packets_opts_t *opt;
    tcpi_query_t *q;
    tcpi_redact_t *rd;
    uint8_t *scratch;
} window_ctx_t;

static int window_counts(void *ctx, const tcpi_ring_rec_t *rec,
                         const uint8_t *data)
{
    window_ctx_t *w = ctx;
    const tcpi_pkt_t *pkt;

    if (tcpi_query_decode(w->q, &pkt, rec, data) != TCPI_DR_ok ||
        pkt->payload_caplen < w->opt->match_len)
        return 0;
    memcpy(w->scratch, data + pkt->payload_off, pkt->payload_caplen);
    if (w->rd)
        tcpi_redact_payload(w->rd, pkt, w->scratch, pkt->payload_caplen);
    return memmem(w->scratch, pkt->payload_caplen, w->opt->match,
                  w->opt->match_len) != NULL;
}

/* The work of the query so far, in the page's counters. */
static void count_work(tcpi_packets_stats_t *st, const tcpi_query_t *q)
{
    st->scanned = q->read;
    st->decoded = q->decoded;
}

void tcpi_packets_window(tcpi_packets_stats_t *st, tcpi_query_t *q,
                         const tcpi_packets_opts_t *opt, uint8_t *buf,
                         size_t bufsize)
{
    window_ctx_t w = { opt, q, NULL, NULL };
    uint64_t read = q->read;

    memset(st, 0, sizeof(*st));
    q->limit = opt->limit;
    q->oldest = opt->have_since;
    if (opt->match) {
        /* Matching redacted payloads needs a redaction state of its own:
         * the window scan must not disturb the one used for printing.
         * Scanning backward, the state met is not the printer's (which
         * runs forward), so a match on the edge of a masked value may be
         * counted here and then hidden: the window errs on the large side. */
        w.scratch = malloc(bufsize);
        if (opt->redact && (w.rd = malloc(sizeof(*w.rd))) != NULL)
            *w.rd = *opt->redact;
        if (w.scratch && (!opt->redact || w.rd)) {
            q->count_if = window_counts;
            q->count_ctx = &w;
        } else {
            q->limit = 0;              /* out of memory: no window */
        }
    }
    /* The window search is charged to the query's budget; printing the
     * window afterwards is not charged again. */
    tcpi_query_start(q, buf, bufsize);
    q->count_if = NULL;
    q->count_ctx = NULL;
    st->next = q->end;
    st->passes = q->read > read;       /* it read the window, or found it
                                          from the packet numbers alone */
    count_work(st, q);
    free(w.scratch);
    free(w.rd);
}

int tcpi_packets_leg(const tcpi_shm_t *shm, const tcpi_ring_rec_t *rec,
                     const tcpi_pkt_t *pkt, const tcpi_ports_t *front,
                     const tcpi_ports_t *backend)
{
    uint32_t legs = rec->iface < shm->niface && rec->iface < TCPI_MAX_IFACES
                    ? shm->iface[rec->iface].legs : 0;

    if (legs == TCPI_LEG_FRONT || legs == TCPI_LEG_BACKEND)
        return (int)legs;
    if (pkt == NULL)
        return 0;
    if (front && (tcpi_ports_has(front, pkt->sport) ||
                  tcpi_ports_has(front, pkt->dport)))
        return TCPI_LEG_FRONT;
    if (backend && (tcpi_ports_has(backend, pkt->sport) ||
                    tcpi_ports_has(backend, pkt->dport)))
        return TCPI_LEG_BACKEND;
    return 0;
}

/* ---- the pass ------------------------------------------------------- */

/* A group of lines: the text page has one (every packet), the HTML page
 * one per leg, each with the printer and redaction state of a pass over
 * that leg's packets alone (the numbers and masks of tcpdump over them). */
typedef struct {
    const char    *title;      /* HTML heading */
    tcpi_print_t   pr;
    tcpi_redact_t *rd;         /* NULL: no masking */
    uint64_t       shown;
    uint64_t       from;       /* first packet number it has not taken */
    int            stopped;    /* its held lines reached the bound in this
                                  pass: it goes on from `from` later */
    tcpi_out_t    *hold;       /* HTML lines held until the leg's turn */
    tcpi_membuf_t  held;
} group_t;

enum { G_FRONT, G_BACKEND, G_OTHER, G_MAX };

typedef struct {
    tcpi_packets_stats_t *st;
    tcpi_out_t    *o;
    tcpi_query_t  *q;
    const tcpi_packets_opts_t *opt;
    uint8_t       *buf;
    size_t         bufsize;
    int            html;
    int            ngroup;
    uint64_t       start;      /* the window's first packet number */
    group_t        g[G_MAX];
} page_t;

static int page_init(page_t *p, tcpi_packets_stats_t *st, tcpi_out_t *o,
                     tcpi_query_t *q, const tcpi_packets_opts_t *opt,
                     uint8_t *buf, size_t bufsize, int html)
{
    static const char *const titles[G_MAX] = {
        "Frontend (clients &rarr; httpd)",
        "Backend (httpd &rarr; application servers)",
        "Other",
    };

    memset(p, 0, sizeof(*p));
    p->st = st;
    p->o = o;
    p->q = q;
    p->opt = opt;
    p->buf = buf;
    p->bufsize = bufsize;
    p->html = html;
    p->start = q->next;
    p->ngroup = html ? G_MAX : 1;
    for (int i = 0; i < p->ngroup; i++) {
        group_t *g = &p->g[i];
        g->title = titles[i];
        g->from = q->next;
        tcpi_print_init(&g->pr);
        if (opt->redact) {
            if ((g->rd = malloc(sizeof(*g->rd))) == NULL)
                return -1;
            *g->rd = *opt->redact;
        }
    }
    return 0;
}

static void page_free(page_t *p)
{
    for (int i = 0; i < p->ngroup; i++) {
        tcpi_print_free(&p->g[i].pr);
        free(p->g[i].rd);
        free(p->g[i].hold);
        free(p->g[i].held.data);
    }
    p->q->next = p->start;             /* the window, for another rendering */
    count_work(p->st, p->q);
}

static int group_done(const page_t *p, const group_t *g)
{
    return g->shown >= p->opt->limit;
}

/* Bytes held by the groups still waiting for their turn. */
static size_t held(const page_t *p)
{
    size_t n = 0;

    for (int i = 0; i < p->ngroup; i++)
        if (p->g[i].hold)
            n += p->g[i].held.len + p->g[i].hold->len;
    return n;
}

/* HTML-escape text keeping newlines and tabs (the -X lines). */
static void html_lines(tcpi_out_t *o, const char *p, size_t n)
{
    size_t s = 0;

    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n' || p[i] == '\t') {
            tcpi_out_html(o, p + s, i - s);
            tcpi_out_mem(o, &p[i], 1);
            s = i + 1;
        }
    }
    tcpi_out_html(o, p + s, n - s);
}

/* One packet's HTML: its lines, and the HTTP request or status line of
 * its (masked) payload, or the TLS records it starts with. */
static void emit_html(tcpi_out_t *o, const char *text, size_t len,
                      const tcpi_ring_rec_t *rec, const uint8_t *data,
                      const tcpi_pkt_t *pkt, int why)
{
    const uint8_t *line;
    size_t ll;

    tcpi_out_str(o, "<span class=\"p\" id=\"p");
    tcpi_out_u64(o, rec->n);
    tcpi_out_str(o, "\">");
    if (len && text[len - 1] == '\n')
        len--;
    html_lines(o, text, len);
    tcpi_out_str(o, "</span>");
    if (why == TCPI_DR_ok && pkt->payload_caplen > 0 &&
        tcpi_print_http_first_line(&line, &ll, data + pkt->payload_off,
                                   pkt->payload_caplen)) {
        tcpi_out_str(o, "  <b class=\"http\">");
        tcpi_out_html(o, (const char *)line, ll > 300 ? 300 : ll);
        if (ll > 300)
            tcpi_out_str(o, "&hellip;");
        tcpi_out_str(o, "</b>");
    } else if (why == TCPI_DR_ok && pkt->payload_caplen > 0) {
        char tls[TCPI_TLSREC_TEXT_MAX];
        size_t tl = tcpi_tlsrec_describe(tls, sizeof(tls),
                                         data + pkt->payload_off,
                                         pkt->payload_caplen);
        if (tl > 0) {
            tcpi_out_str(o, "  <b class=\"tls\">");
            tcpi_out_html(o, tls, tl);
            tcpi_out_str(o, "</b>");
        }
    }
    tcpi_out_str(o, "\n");
}

/* Where group g's lines go now: the page, or g's held lines. NULL when
 * out of memory. */
static tcpi_out_t *sink_of(page_t *p, group_t *g, int cur)
{
    if (g == &p->g[cur])
        return p->o;
    if (g->hold == NULL) {
        if ((g->hold = malloc(sizeof(*g->hold))) == NULL)
            return NULL;
        tcpi_out_init(g->hold, tcpi_membuf_sink, &g->held);
    }
    return g->hold;
}

/* Packet rec (in p->buf, decoded as pkt/why) for group g: mask it in
 * place, print it with g's printer (shown or not, so that the relative
 * numbers are those of tcpdump over the same packets), write the lines
 * of those shown. 0, or -1 when out of memory. */
static int take(page_t *p, group_t *g, int cur, const tcpi_ring_rec_t *rec,
                const tcpi_pkt_t *pkt, int why)
{
    const tcpi_packets_opts_t *opt = p->opt;
    uint8_t *data = p->buf;
    tcpi_out_t *o;
    size_t len;

    p->st->reasons.n[why]++;
    tcpi_redact_decoded(g->rd, pkt, why, data, rec->caplen);
    int show = opt->match == NULL ||
               (why == TCPI_DR_ok && pkt->payload_caplen > 0 &&
                pkt->payload_caplen >= opt->match_len &&
                memmem(data + pkt->payload_off, pkt->payload_caplen,
                       opt->match, opt->match_len) != NULL);
    len = tcpi_print_packet(&g->pr, (uint32_t)(rec->ts_ns / 1000000000u),
                            (uint32_t)(rec->ts_ns % 1000000000u / 1000u),
                            rec->linktype, data, rec->caplen, rec->wirelen,
                            opt->hex ? TCPI_PRINT_HEX : 0);
    if (g->pr.oom)
        return -1;
    g->from = rec->n + 1;
    if (show) {
        if ((o = sink_of(p, g, cur)) == NULL)
            return -1;
        if (p->html)
            emit_html(o, g->pr.out, len, rec, data, pkt, why);
        else
            tcpi_out_mem(o, g->pr.out, len);
        if (o != p->o && o->failed)
            return -1;
        g->shown++;
        p->st->shown++;
    }
    tcpi_print_clear(&g->pr);
    return 0;
}

/* The group a packet belongs to. */
static group_t *group_of(page_t *p, const tcpi_ring_rec_t *rec,
                         const tcpi_pkt_t *pkt, int why)
{
    if (!p->html)
        return &p->g[0];
    switch (tcpi_packets_leg(p->q->shm, rec, why == TCPI_DR_ok ? pkt : NULL,
                             p->opt->front_ports, p->opt->backend_ports)) {
    case TCPI_LEG_FRONT:
        return &p->g[G_FRONT];
    case TCPI_LEG_BACKEND:
        return &p->g[G_BACKEND];
    default:
        return &p->g[G_OTHER];
    }
}

/* Are the groups from cur on through with this pass? */
static int pass_over(const page_t *p, int cur)
{
    for (int i = cur; i < p->ngroup; i++)
        if (!p->g[i].stopped && !group_done(p, &p->g[i]))
            return 0;
    return 1;
}

/* One pass over the window from the first packet a group from cur on has
 * not taken: group cur's lines go to the page, the later groups' are held
 * (up to hold_max bytes), the earlier groups are complete. */
static int pass(page_t *p, int cur)
{
    tcpi_query_t *q = p->q;
    size_t hold_max = p->opt->hold_max ? p->opt->hold_max
                                       : TCPI_PACKETS_HOLD_MAX;
    uint64_t from = q->end;
    tcpi_ring_rec_t rec;
    int rc = 0;

    for (int i = cur; i < p->ngroup; i++) {
        p->g[i].stopped = 0;
        if (!group_done(p, &p->g[i]) && p->g[i].from < from)
            from = p->g[i].from;
    }
    if (from >= q->end)
        return 0;
    q->next = from;
    p->st->passes++;
    while (!pass_over(p, cur) &&
           tcpi_query_next(q, &rec, p->buf, p->bufsize)) {
        const tcpi_pkt_t *pkt;
        int why = tcpi_query_decode(q, &pkt, &rec, p->buf);
        group_t *g = group_of(p, &rec, pkt, why);

        if (g < &p->g[cur] || g->stopped || group_done(p, g) ||
            rec.n < g->from)
            continue;
        if (take(p, g, cur, &rec, pkt, why) != 0) {
            rc = -1;
            break;
        }
        if (p->o->failed)
            break;
        if (g->hold && held(p) > hold_max)
            g->stopped = 1;
    }
    for (int i = cur; i < p->ngroup; i++)
        if (!p->g[i].stopped && rc == 0 && !p->o->failed)
            p->g[i].from = q->end;     /* it has seen the whole window */
    p->st->gone += q->skipped_gone;
    q->skipped_gone = 0;
    return rc;
}

int tcpi_packets_text(tcpi_packets_stats_t *st, tcpi_out_t *o,
                      tcpi_query_t *q, const tcpi_packets_opts_t *opt,
                      uint8_t *buf, size_t bufsize)
{
    page_t p;
    int rc = page_init(&p, st, o, q, opt, buf, bufsize, 0);

    if (rc == 0)
        rc = pass(&p, 0);
    page_free(&p);
    return rc;
}

/* A held group's lines, to the page; -1 if holding them failed. */
static int release(page_t *p, group_t *g)
{
    int rc = 0;

    if (g->hold) {
        if (tcpi_out_flush(g->hold) != 0)
            rc = -1;
        else
            tcpi_out_mem(p->o, g->held.data, g->held.len);
        free(g->hold);
        free(g->held.data);
        g->hold = NULL;
        memset(&g->held, 0, sizeof(g->held));
    }
    return rc;
}

int tcpi_packets_html(tcpi_packets_stats_t *st, tcpi_out_t *o,
                      tcpi_query_t *q, const tcpi_packets_opts_t *opt,
                      uint8_t *buf, size_t bufsize)
{
    page_t p;
    int rc = page_init(&p, st, o, q, opt, buf, bufsize, 1);

    tcpi_out_str(o, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                 "<title>mod_tcpinspect packets</title><style>"
                 "body{font-family:sans-serif}pre{font-size:12px;"
                 "white-space:pre-wrap;word-break:break-all}"
                 ".http{color:#06c}.tls{color:#080}</style></head><body>\n"
                 "<h1>Recent packets</h1>\n<p><a href=\"");
    tcpi_out_str(o, opt->base);
    tcpi_out_str(o, "/\">overview</a> &middot; as <a href=\"packets.txt?");
    tcpi_out_str(o, opt->query_html ? opt->query_html : "");
    tcpi_out_str(o, "\">text</a></p>\n");
    if (q->truncated) {
        tcpi_out_str(o, "<p class=\"truncated\">The scan stopped early: ");
        tcpi_out_u64(o, q->examined);
        tcpi_out_str(o, " packets examined (#");
        tcpi_out_u64(o, q->next);
        tcpi_out_str(o, "&ndash;#");
        tcpi_out_u64(o, q->end - 1);
        tcpi_out_str(o, "), the most one page may; ");
        tcpi_out_str(o, opt->have_since ? "page on with the newer link."
                                        : "older packets were not searched: "
                                          "narrow the filter or add since=.");
        tcpi_out_str(o, "</p>\n");
    }
    for (int i = 0; i < p.ngroup && rc == 0; i++) {
        group_t *g = &p.g[i];
        tcpi_out_str(o, "<h2>");
        tcpi_out_str(o, g->title);
        tcpi_out_str(o, "</h2>\n<pre>\n");
        rc = release(&p, g);
        if (rc == 0 && !o->failed && !group_done(&p, g) && g->from < q->end)
            rc = pass(&p, i);           /* the first, or a stopped leg's */
        if (g->shown == 0)
            tcpi_out_str(o, "(no packets)\n");
        tcpi_out_str(o, "</pre>\n");
    }
    /* Frames the decoder could not take to a TCP header, by reason. */
    for (int i = 1; i < TCPI_DR_COUNT; i++) {
        if (!st->reasons.n[i])
            continue;
        tcpi_out_str(o, "<p class=\"undecoded\">");
        tcpi_out_u64(o, st->reasons.n[i]);
        tcpi_out_str(o, " ");
        tcpi_out_str(o, tcpi_decode_reason_name(i));
        tcpi_out_str(o, ": ");
        const char *t = tcpi_decode_reason_text(i);
        tcpi_out_html(o, t, strlen(t));
        tcpi_out_str(o, "</p>\n");
    }
    tcpi_out_str(o, "<p>");
    tcpi_out_u64(o, st->shown);
    tcpi_out_str(o, " packets; header values named by TCPInspectRedact are "
                 "masked. <a href=\"packets?");
    tcpi_out_str(o, opt->query_html ? opt->query_html : "");
    tcpi_out_str(o, opt->query_html && *opt->query_html ? "&amp;" : "");
    tcpi_out_str(o, "since=");
    tcpi_out_u64(o, st->next);
    tcpi_out_str(o, "\">newer packets &rarr;</a></p>\n</body></html>\n");
    page_free(&p);
    return rc;
}

int tcpi_filter_reads_payload(const char *expr)
{
    static const char *const named[] = { "tcpflags", "icmptype", "icmpcode",
                                         "icmp6type", "icmp6code" };
    const char *p = expr;

    while ((p = strchr(p, '[')) != NULL) {
        const char *q = ++p, *end;
        unsigned long idx, size = 1;
        char *num_end;
        int depth = 1, ok = 0;

        for (end = q; *end && depth; end++)
            depth += *end == '[' ? 1 : *end == ']' ? -1 : 0;
        if (depth)
            return 1;                  /* unbalanced: let nothing through */
        end--;                         /* at the closing ']' */
        while (q < end && isspace((unsigned char)*q))
            q++;
        for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
            size_t n = strlen(named[i]);
            if ((size_t)(end - q) >= n && strncmp(q, named[i], n) == 0 &&
                !isalnum((unsigned char)q[n]) && q[n] != '_')
                ok = 1, q += n;
        }
        if (!ok) {
            if (!isdigit((unsigned char)*q))
                return 1;
            idx = strtoul(q, &num_end, 0);
            q = num_end;
        } else {
            idx = 0;
        }
        while (q < end && isspace((unsigned char)*q))
            q++;
        if (q < end && *q == ':') {
            q++;
            while (q < end && isspace((unsigned char)*q))
                q++;
            if (!isdigit((unsigned char)*q))
                return 1;
            size = strtoul(q, &num_end, 10);
            q = num_end;
        }
        while (q < end && isspace((unsigned char)*q))
            q++;
        if (q != end || idx + size > 20)
            return 1;
        p = end + 1;
    }
    return 0;
}
