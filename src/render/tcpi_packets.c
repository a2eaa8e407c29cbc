/*
 * tcpi_packets.c — /packets.txt and /packets rendering over the ring.
 */
#include "tcpi_packets.h"
#include "tcpi/decode.h"
#include "tcpi/print.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Redact a copy of the payload into scratch and say whether it contains
 * the match string. Matching sees masked bytes only, so match= cannot be
 * used to guess a secret. */
static int payload_matches(const tcpi_packets_opts_t *opt,
                           const tcpi_ring_rec_t *rec, const uint8_t *data,
                           tcpi_redact_t *rd, uint8_t *scratch)
{
    tcpi_pkt_t pkt;

    if (opt->match == NULL)
        return 1;
    if (tcpi_decode(&pkt, rec->linktype, data, rec->caplen, rec->wirelen) !=
        TCPI_DR_ok || pkt.payload_caplen < opt->match_len)
        return 0;
    memcpy(scratch, data + pkt.payload_off, pkt.payload_caplen);
    if (rd)
        tcpi_redact_payload(rd, &pkt, scratch, pkt.payload_caplen);
    return memmem(scratch, pkt.payload_caplen, opt->match,
                  opt->match_len) != NULL;
}

/* For the window: a packet counts toward limit= when its redacted
 * payload holds the match= string. */
typedef struct {
    const tcpi_packets_opts_t *opt;
    tcpi_redact_t *rd;
    uint8_t *scratch;
} window_ctx_t;

static int window_counts(void *ctx, const tcpi_ring_rec_t *rec,
                         const uint8_t *data)
{
    window_ctx_t *w = ctx;
    return payload_matches(w->opt, rec, data, w->rd, w->scratch);
}

void tcpi_packets_window(tcpi_packets_stats_t *st, tcpi_query_t *q,
                         const tcpi_packets_opts_t *opt, uint8_t *buf,
                         size_t bufsize)
{
    window_ctx_t w = { opt, NULL, NULL };

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
    free(w.scratch);
    free(w.rd);
}

/* One pass over the window: redact a copy of each packet, print it, and
 * hand the text of those shown to emit. leg: only packets of this leg
 * (-1: all). Every packet of the leg goes through the printer, shown or
 * not, so relative numbers are those of tcpdump over the same packets. */
typedef void emit_fn(tcpi_out_t *o, const char *text, size_t len,
                     const tcpi_ring_rec_t *rec, const uint8_t *data,
                     const tcpi_packets_opts_t *opt);

static int pass(tcpi_packets_stats_t *st, tcpi_out_t *o, tcpi_query_t *q,
                const tcpi_packets_opts_t *opt, uint8_t *buf, size_t bufsize,
                int leg, emit_fn *emit)
{
    tcpi_print_t pr;
    tcpi_ring_rec_t rec;
    tcpi_redact_t *rd = NULL;
    uint8_t *copy = malloc(bufsize);
    uint64_t start = q->next, shown = 0;
    int rc = 0;

    if (!copy)
        return -1;
    if (opt->redact) {
        if ((rd = malloc(sizeof(*rd))) == NULL) {
            free(copy);
            return -1;
        }
        *rd = *opt->redact;
    }
    tcpi_print_init(&pr);
    while (shown < opt->limit && tcpi_query_next(q, &rec, buf, bufsize)) {
        tcpi_pkt_t pkt;
        const uint8_t *data;
        int ok;

        st->scanned++;
        if (leg >= 0 && tcpi_packets_leg(q->shm, &rec, buf, opt->front_ports,
                                         opt->backend_ports) != leg)
            continue;
        int why = tcpi_redact_frame(rd, &pkt, rec.linktype, buf, copy,
                                    rec.caplen, rec.wirelen);
        st->reasons.n[why]++;
        ok = why == TCPI_DR_ok && pkt.payload_caplen > 0;
        data = copy;
        int show = opt->match == NULL ||
                   (ok && pkt.payload_caplen >= opt->match_len &&
                    memmem(data + pkt.payload_off, pkt.payload_caplen,
                           opt->match, opt->match_len) != NULL);
        size_t len = tcpi_print_packet(&pr, (uint32_t)(rec.ts_ns / 1000000000u),
                                       (uint32_t)(rec.ts_ns % 1000000000u / 1000u),
                                       rec.linktype, data, rec.caplen,
                                       rec.wirelen, opt->hex ? TCPI_PRINT_HEX : 0);
        if (pr.oom) {
            rc = -1;
            break;
        }
        if (show) {
            emit(o, pr.out, len, &rec, data, opt);
            shown++;
            st->shown++;
        }
        tcpi_print_clear(&pr);
        if (o->failed)
            break;
    }
    st->gone += q->skipped_gone;
    q->skipped_gone = 0;
    q->next = start;
    tcpi_print_free(&pr);
    free(rd);
    free(copy);
    return rc;
}

static void emit_text(tcpi_out_t *o, const char *text, size_t len,
                      const tcpi_ring_rec_t *rec, const uint8_t *data,
                      const tcpi_packets_opts_t *opt)
{
    tcpi_out_mem(o, text, len);
}

int tcpi_packets_text(tcpi_packets_stats_t *st, tcpi_out_t *o,
                      tcpi_query_t *q, const tcpi_packets_opts_t *opt,
                      uint8_t *buf, size_t bufsize)
{
    return pass(st, o, q, opt, buf, bufsize, -1, emit_text);
}

int tcpi_packets_leg(const tcpi_shm_t *shm, const tcpi_ring_rec_t *rec,
                     const uint8_t *data, const tcpi_ports_t *front,
                     const tcpi_ports_t *backend)
{
    uint32_t legs = rec->iface < shm->niface && rec->iface < TCPI_MAX_IFACES
                    ? shm->iface[rec->iface].legs : 0;
    tcpi_pkt_t pkt;

    if (legs == TCPI_LEG_FRONT || legs == TCPI_LEG_BACKEND)
        return (int)legs;
    if (tcpi_decode(&pkt, rec->linktype, data, rec->caplen, rec->wirelen) !=
        TCPI_DR_ok)
        return 0;
    if (front && (tcpi_ports_has(front, pkt.sport) ||
                  tcpi_ports_has(front, pkt.dport)))
        return TCPI_LEG_FRONT;
    if (backend && (tcpi_ports_has(backend, pkt.sport) ||
                    tcpi_ports_has(backend, pkt.dport)))
        return TCPI_LEG_BACKEND;
    return 0;
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

static void emit_html(tcpi_out_t *o, const char *text, size_t len,
                      const tcpi_ring_rec_t *rec, const uint8_t *data,
                      const tcpi_packets_opts_t *opt)
{
    tcpi_out_str(o, "<span class=\"p\" id=\"p");
    tcpi_out_u64(o, rec->n);
    tcpi_out_str(o, "\">");
    if (len && text[len - 1] == '\n')
        len--;
    html_lines(o, text, len);
    tcpi_out_str(o, "</span>");
    /* data is the redacted copy the line was printed from. */
    tcpi_pkt_t pkt;
    const uint8_t *line;
    size_t ll;
    if (tcpi_decode(&pkt, rec->linktype, data, rec->caplen, rec->wirelen) ==
        TCPI_DR_ok && pkt.payload_caplen > 0 &&
        tcpi_print_http_first_line(&line, &ll, data + pkt.payload_off,
                                   pkt.payload_caplen)) {
        tcpi_out_str(o, "  <b class=\"http\">");
        tcpi_out_html(o, (const char *)line, ll > 300 ? 300 : ll);
        if (ll > 300)
            tcpi_out_str(o, "&hellip;");
        tcpi_out_str(o, "</b>");
    }
    tcpi_out_str(o, "\n");
}

int tcpi_packets_html(tcpi_packets_stats_t *st, tcpi_out_t *o,
                      tcpi_query_t *q, const tcpi_packets_opts_t *opt,
                      uint8_t *buf, size_t bufsize)
{
    static const struct { int leg; const char *title; } legs[] = {
        {TCPI_LEG_FRONT, "Frontend (clients &rarr; httpd)"},
        {TCPI_LEG_BACKEND, "Backend (httpd &rarr; application servers)"},
        {0, "Other"},
    };
    int rc = 0;

    tcpi_out_str(o, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                 "<title>mod_tcpinspect packets</title><style>"
                 "body{font-family:sans-serif}pre{font-size:12px;"
                 "white-space:pre-wrap;word-break:break-all}"
                 ".http{color:#06c}</style></head><body>\n"
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
    for (size_t i = 0; i < TCPI_ARRAY_LEN(legs) && rc == 0; i++) {
        uint64_t before = st->shown;
        tcpi_out_str(o, "<h2>");
        tcpi_out_str(o, legs[i].title);
        tcpi_out_str(o, "</h2>\n<pre>\n");
        rc = pass(st, o, q, opt, buf, bufsize, legs[i].leg, emit_html);
        if (st->shown == before)
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
