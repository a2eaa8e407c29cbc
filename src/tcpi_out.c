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

/* Escapers: interim byte loops, to be replaced by tcpi_esc's tested ones. */
void tcpi_out_json_str(tcpi_out_t *o, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    tcpi_out_mem(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            tcpi_out_mem(o, e, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            tcpi_out_mem(o, e, 6);
        } else {
            tcpi_out_mem(o, &p[i], 1);
        }
    }
    tcpi_out_mem(o, "\"", 1);
}

void tcpi_out_html(tcpi_out_t *o, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        switch (c) {
        case '<': tcpi_out_str(o, "&lt;"); break;
        case '>': tcpi_out_str(o, "&gt;"); break;
        case '&': tcpi_out_str(o, "&amp;"); break;
        case '"': tcpi_out_str(o, "&quot;"); break;
        case '\'': tcpi_out_str(o, "&#39;"); break;
        default:
            if (c < 0x20 || c >= 0x7f)
                tcpi_out_printf(o, "&#%u;", c < 0x20 || c == 0x7f ? 0xfffdu : c);
            else
                tcpi_out_mem(o, &p[i], 1);
        }
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
