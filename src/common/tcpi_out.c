/* tcpi_out.c — buffered output sink for the renderers. */
#include "tcpi_out.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tcpi_out_init(tcpi_out_t *o, tcpi_sink_fn *sink, void *baton)
{
    o->sink = sink;
    o->baton = baton;
    o->failed = 0;
    o->len = 0;
}

int tcpi_out_flush(tcpi_out_t *o)
{
    if (o->len > 0 && !o->failed && o->sink(o->baton, o->buf, o->len) != 0)
        o->failed = 1;
    o->len = 0;
    return o->failed ? -1 : 0;
}

void tcpi_out_mem(tcpi_out_t *o, const void *p, size_t n)
{
    if (o->failed)
        return;
    if (n > sizeof(o->buf) - o->len) {
        tcpi_out_flush(o);
        if (n >= sizeof(o->buf)) {
            if (!o->failed && o->sink(o->baton, p, n) != 0)
                o->failed = 1;
            return;
        }
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

void tcpi_out_str(tcpi_out_t *o, const char *s)
{
    tcpi_out_mem(o, s, strlen(s));
}

void tcpi_out_printf(tcpi_out_t *o, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        tcpi_out_mem(o, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        o->failed = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    tcpi_out_mem(o, big, (size_t)n);
    free(big);
}

void tcpi_out_u64(tcpi_out_t *o, uint64_t v)
{
    char tmp[24];
    int i = sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    tcpi_out_mem(o, tmp + i, sizeof(tmp) - (size_t)i);
}

/* One well-formed UTF-8 sequence (RFC 3629: no overlong form, no
 * surrogate, at most U+10FFFF) at p: its length, or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t v, min;

    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if ((p[0] & 0xe0) == 0xc0) {
        len = 2; v = p[0] & 0x1f; min = 0x80;
    } else if ((p[0] & 0xf0) == 0xe0) {
        len = 3; v = p[0] & 0x0f; min = 0x800;
    } else if ((p[0] & 0xf8) == 0xf0) {
        len = 4; v = p[0] & 0x07; min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (p[k] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

/* Characters shown as U+FFFD: C0 and C1 controls, DEL, and the bidi
 * controls that would reorder the text around them. */
static int unshown(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Escapers: text from the wire is UTF-8 where it is well-formed (shown as
 * the characters it is), and U+FFFD for every other byte. */
void tcpi_out_json_str(tcpi_out_t *o, const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    tcpi_out_mem(o, "\"", 1);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_seq(u + i, n - i, &cp);
        if (len == 1 && (cp == '"' || cp == '\\')) {
            char e[2] = { '\\', (char)cp };
            tcpi_out_mem(o, e, 2);
        } else if (len == 1 && cp < 0x20) {
            tcpi_out_printf(o, "\\u%04x", (unsigned)cp);
        } else if (len == 0 || unshown(cp)) {
            tcpi_out_str(o, "\\ufffd");
        } else {
            tcpi_out_mem(o, p + i, len);
        }
        i += len ? len : 1;
    }
    tcpi_out_mem(o, "\"", 1);
}

void tcpi_out_html(tcpi_out_t *o, const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_seq(u + i, n - i, &cp);
        switch (len == 1 ? cp : 0) {
        case '<': tcpi_out_str(o, "&lt;"); break;
        case '>': tcpi_out_str(o, "&gt;"); break;
        case '&': tcpi_out_str(o, "&amp;"); break;
        case '"': tcpi_out_str(o, "&quot;"); break;
        case '\'': tcpi_out_str(o, "&#39;"); break;
        default:
            if (len == 0 || unshown(cp))
                tcpi_out_str(o, "&#xfffd;");
            else
                tcpi_out_mem(o, p + i, len);
        }
        i += len ? len : 1;
    }
}

void tcpi_out_prom_label(tcpi_out_t *o, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\') tcpi_out_str(o, "\\\\");
        else if (p[i] == '"') tcpi_out_str(o, "\\\"");
        else if (p[i] == '\n') tcpi_out_str(o, "\\n");
        else tcpi_out_mem(o, &p[i], 1);
    }
}

int tcpi_membuf_sink(void *baton, const void *buf, size_t len)
{
    tcpi_membuf_t *m = baton;

    if (m->len + len + 1 > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + len + 1)
            cap *= 2;
        char *d = realloc(m->data, cap);
        if (d == NULL)
            return -1;
        m->data = d;
        m->cap = cap;
    }
    memcpy(m->data + m->len, buf, len);
    m->len += len;
    m->data[m->len] = '\0';
    return 0;
}

/* ---- JSON ------------------------------------------------------------ */

void tcpi_json_init(tcpi_json_t *j, tcpi_out_t *o)
{
    j->o = o;
    j->depth = 0;
    j->nonempty = 0;
    j->array = 0;
}

/* The comma before every member but a container's first, and "key":. */
static void json_member(tcpi_json_t *j, const char *key)
{
    uint32_t bit = 1u << j->depth;

    if (j->nonempty & bit)
        tcpi_out_mem(j->o, ",", 1);
    j->nonempty |= bit;
    if (key != NULL) {
        tcpi_out_json_str(j->o, key, strlen(key));
        tcpi_out_mem(j->o, ":", 1);
    }
}

static void json_open(tcpi_json_t *j, const char *key, int array)
{
    json_member(j, key);
    tcpi_out_mem(j->o, array ? "[" : "{", 1);
    if (j->depth >= TCPI_JSON_DEPTH) {      /* a bug in a renderer */
        j->o->failed = 1;
        return;
    }
    j->depth++;
    j->nonempty &= ~(1u << j->depth);
    if (array)
        j->array |= 1u << j->depth;
    else
        j->array &= ~(1u << j->depth);
}

void tcpi_json_obj(tcpi_json_t *j, const char *key)
{
    json_open(j, key, 0);
}

void tcpi_json_arr(tcpi_json_t *j, const char *key)
{
    json_open(j, key, 1);
}

void tcpi_json_end(tcpi_json_t *j)
{
    if (j->depth == 0) {
        j->o->failed = 1;
        return;
    }
    tcpi_out_mem(j->o, j->array & (1u << j->depth) ? "]" : "}", 1);
    j->depth--;
}

void tcpi_json_u64(tcpi_json_t *j, const char *key, uint64_t v)
{
    json_member(j, key);
    tcpi_out_u64(j->o, v);
}

void tcpi_json_i64(tcpi_json_t *j, const char *key, int64_t v)
{
    json_member(j, key);
    if (v < 0) {
        tcpi_out_mem(j->o, "-", 1);
        tcpi_out_u64(j->o, (uint64_t)0 - (uint64_t)v);
    } else {
        tcpi_out_u64(j->o, (uint64_t)v);
    }
}

void tcpi_json_bool(tcpi_json_t *j, const char *key, int v)
{
    json_member(j, key);
    tcpi_out_str(j->o, v ? "true" : "false");
}

void tcpi_json_null(tcpi_json_t *j, const char *key)
{
    json_member(j, key);
    tcpi_out_str(j->o, "null");
}

void tcpi_json_fixed(tcpi_json_t *j, const char *key, double v, int prec)
{
    json_member(j, key);
    tcpi_out_printf(j->o, "%.*f", prec, v);
}

void tcpi_json_strn(tcpi_json_t *j, const char *key, const char *p, size_t n)
{
    json_member(j, key);
    tcpi_out_json_str(j->o, p, n);
}

void tcpi_json_str(tcpi_json_t *j, const char *key, const char *s)
{
    if (s == NULL)
        tcpi_json_null(j, key);
    else
        tcpi_json_strn(j, key, s, strlen(s));
}

/* ---- HTML page chrome -------------------------------------------------- */

static const char page_css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
    "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;"
    "border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;margin:.5em 0}"
    "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right;"
    "vertical-align:top}"
    "th{background:#f4f4f4;font-size:.85em}td.l,th.l{text-align:left}"
    ".ok{background:#d9f2d9}.warning{background:#fff0b3}"
    ".critical{background:#f7c1c1}.error{color:#a00}"
    "code{font-size:.95em}nav a{margin-right:1em}td b{font-weight:600}"
    ".req td,.req th{text-align:left}.req td.r{text-align:right}"
    ".req tr.e{background:#f7c1c1}.req tr.w{background:#fbe7b5}"
    "table.ctr{display:inline-table;margin-right:1em}"
    "pre{font-size:12px;white-space:pre-wrap;word-break:break-all}"
    ".http{color:#06c}\n";

/* Every page of the handler, as the overview's nav has always listed
 * them (capture.pcapng answers 403 unless downloads are allowed). */
static const char *const page_nav[][2] = {
    { "/", "overview" }, { "/packets", "packets" },
    { "/requests", "requests" }, { "/flows", "flows" },
    { "/capture.pcapng", "capture.pcapng" },
    { "/status.json", "status.json" }, { "/?auto", "?auto" },
    { "/?nagios", "nagios" }, { "/metrics", "metrics" },
};

void tcpi_out_page_head(tcpi_out_t *o, const char *title, const char *base)
{
    tcpi_out_str(o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
                 "charset=\"utf-8\"><title>mod_tcpinspect");
    if (title != NULL) {
        tcpi_out_str(o, ": ");
        tcpi_out_html(o, title, strlen(title));
    }
    tcpi_out_str(o, "</title><style>\n");
    tcpi_out_str(o, page_css);
    tcpi_out_str(o, "</style></head><body>\n<nav>");
    for (size_t i = 0; i < sizeof(page_nav) / sizeof(page_nav[0]); i++)
        tcpi_out_printf(o, "<a href=\"%s%s\">%s</a>", base, page_nav[i][0],
                        page_nav[i][1]);
    tcpi_out_str(o, "</nav>\n");
}

void tcpi_out_page_foot(tcpi_out_t *o)
{
    tcpi_out_str(o, "</body></html>\n");
}

/* ---- counter lists ----------------------------------------------------- */

void tcpi_counters_json(tcpi_json_t *j, const tcpi_counter_t *c, size_t n,
                        const uint64_t *v)
{
    for (size_t k = 0; k < n; k++) {
        if (c[k].json == NULL)
            continue;
        if (c[k].type == TCPI_CT_BOOL)
            tcpi_json_bool(j, c[k].json, v[k] != 0);
        else
            tcpi_json_u64(j, c[k].json, v[k]);
    }
}

void tcpi_counters_auto(tcpi_out_t *o, const char *prefix,
                        const tcpi_counter_t *c, size_t n, const uint64_t *v)
{
    for (size_t k = 0; k < n; k++) {
        if (c[k].autok == NULL)
            continue;
        tcpi_out_str(o, prefix);
        tcpi_out_str(o, c[k].autok);
        tcpi_out_mem(o, ": ", 2);
        tcpi_out_u64(o, c[k].type == TCPI_CT_BOOL ? v[k] != 0 : v[k]);
        tcpi_out_mem(o, "\n", 1);
    }
}

static void prom_value(tcpi_out_t *o, const tcpi_counter_t *c, uint64_t v)
{
    int prec = 0;

    if (c->type == TCPI_CT_BOOL)
        v = v != 0;
    if (c->div <= 1) {
        tcpi_out_u64(o, v);
        return;
    }
    for (uint32_t d = c->div; d > 1; d /= 10)
        prec++;
    tcpi_out_printf(o, "%.*f", prec, (double)v / c->div);
}

void tcpi_counters_prom(tcpi_out_t *o, const tcpi_counter_t *c, size_t n,
                        const uint64_t *v, size_t nset, const char *label,
                        const char *const *lv)
{
    const char *last = NULL;
    size_t lastlen = 0;

    for (size_t k = 0; k < n; k++) {
        const char *name = c[k].prom;
        if (name == NULL)
            continue;
        size_t blen = strcspn(name, "{");
        const char *labels = name + blen;   /* "" or "{a=\"b\"}" */
        if (last == NULL || blen != lastlen || memcmp(last, name, blen) != 0)
            tcpi_out_printf(o, "# HELP %.*s %s\n# TYPE %.*s %s\n", (int)blen,
                            name, c[k].help, (int)blen, name,
                            c[k].type == TCPI_CT_GAUGE ||
                            c[k].type == TCPI_CT_BOOL ? "gauge" : "counter");
        last = name;
        lastlen = blen;
        for (size_t i = 0; i < nset; i++) {
            tcpi_out_mem(o, name, blen);
            if (label != NULL) {
                tcpi_out_printf(o, "{%s=\"", label);
                tcpi_out_prom_label(o, lv[i], strlen(lv[i]));
                tcpi_out_str(o, labels[0] ? "\"," : "\"}");
                if (labels[0])
                    tcpi_out_str(o, labels + 1);
            } else {
                tcpi_out_str(o, labels);
            }
            tcpi_out_mem(o, " ", 1);
            prom_value(o, &c[k], v[i * n + k]);
            tcpi_out_mem(o, "\n", 1);
        }
    }
}

void tcpi_counters_html_cell(tcpi_out_t *o, const tcpi_counter_t *c,
                             uint64_t v)
{
    tcpi_out_str(o, c->type == TCPI_CT_LOSS && v ? "<td class=\"warning\">"
                                                 : "<td>");
    if (c->type == TCPI_CT_BOOL)
        tcpi_out_str(o, v ? "yes" : "no");
    else
        tcpi_out_u64(o, v);
    tcpi_out_str(o, "</td>");
}

void tcpi_counters_html_rows(tcpi_out_t *o, const tcpi_counter_t *c,
                             size_t n, const uint64_t *v)
{
    for (size_t k = 0; k < n; k++) {
        if (c[k].label == NULL)
            continue;
        tcpi_out_str(o, "<tr><td class=\"l\" title=\"");
        tcpi_out_html(o, c[k].help, strlen(c[k].help));
        tcpi_out_str(o, "\">");
        tcpi_out_html(o, c[k].label, strlen(c[k].label));
        tcpi_out_str(o, "</td>");
        tcpi_counters_html_cell(o, &c[k], v[k]);
        tcpi_out_str(o, "</tr>\n");
    }
}

void tcpi_counters_html_th(tcpi_out_t *o, const tcpi_counter_t *c, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (c[k].label == NULL)
            continue;
        tcpi_out_str(o, "<th title=\"");
        tcpi_out_html(o, c[k].help, strlen(c[k].help));
        tcpi_out_str(o, "\">");
        tcpi_out_html(o, c[k].label, strlen(c[k].label));
        tcpi_out_str(o, "</th>");
    }
}

void tcpi_counters_html_td(tcpi_out_t *o, const tcpi_counter_t *c, size_t n,
                           const uint64_t *v)
{
    for (size_t k = 0; k < n; k++)
        if (c[k].label != NULL)
            tcpi_counters_html_cell(o, &c[k], v[k]);
}
