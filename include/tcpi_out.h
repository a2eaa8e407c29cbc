/*
 * tcpi_out.h — a small buffered sink the renderers write through. The
 * glue points it at ap_rwrite (or a brigade), the tests at memory.
 */
#ifndef TCPI_OUT_H
#define TCPI_OUT_H

#include <stddef.h>
#include <stdint.h>

typedef int tcpi_sink_fn(void *baton, const void *buf, size_t len);

typedef struct {
    tcpi_sink_fn *sink;
    void         *baton;
    int           failed;      /* the sink returned an error: stop writing */
    size_t        len;
    char          buf[16384];
} tcpi_out_t;

void tcpi_out_init(tcpi_out_t *o, tcpi_sink_fn *sink, void *baton);
void tcpi_out_mem(tcpi_out_t *o, const void *p, size_t n);
void tcpi_out_str(tcpi_out_t *o, const char *s);
void tcpi_out_printf(tcpi_out_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tcpi_out_u64(tcpi_out_t *o, uint64_t v);
/** Write p[0..n) as a quoted JSON string (escaped; NUL-safe). */
void tcpi_out_json_str(tcpi_out_t *o, const char *p, size_t n);
/** Write p[0..n) HTML-escaped (text or attribute context). */
void tcpi_out_html(tcpi_out_t *o, const char *p, size_t n);
/** Write p[0..n) escaped as a Prometheus label value. */
void tcpi_out_prom_label(tcpi_out_t *o, const char *p, size_t n);
/** Flush to the sink; returns 0 or -1 if any write failed. */
int tcpi_out_flush(tcpi_out_t *o);

/** A sink that appends to a caller-owned growable memory buffer (tests). */
typedef struct { char *data; size_t len, cap; } tcpi_membuf_t;
int tcpi_membuf_sink(void *baton, const void *buf, size_t len);

#endif
