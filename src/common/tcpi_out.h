/*
 * tcpi_out.h — a small buffered sink the renderers write through. The
 * glue points it at ap_rwrite (or a brigade), the tests at memory.
 *
 * On top of it, the pieces every renderer shares: the escapers, one JSON
 * writer (tcpi_json_*), one HTML page chrome (tcpi_out_page_*), and the
 * writers of a counter list in each format (tcpi_counters_*; the lists
 * themselves are in tcpi_counters.h).
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

/* ---- JSON ------------------------------------------------------------ */

/* A JSON writer that places the commas itself. Every value call takes the
 * member's key: a name inside an object, NULL inside an array (and for
 * the document itself). Containers nest up to TCPI_JSON_DEPTH. */
#define TCPI_JSON_DEPTH 31

typedef struct {
    tcpi_out_t *o;
    unsigned    depth;
    uint32_t    nonempty;     /* bit d: the container at depth d has members */
    uint32_t    array;        /* bit d: the container at depth d is an array */
} tcpi_json_t;

void tcpi_json_init(tcpi_json_t *j, tcpi_out_t *o);
void tcpi_json_obj(tcpi_json_t *j, const char *key);
void tcpi_json_arr(tcpi_json_t *j, const char *key);
/** Close the innermost object or array. */
void tcpi_json_end(tcpi_json_t *j);
void tcpi_json_u64(tcpi_json_t *j, const char *key, uint64_t v);
void tcpi_json_i64(tcpi_json_t *j, const char *key, int64_t v);
void tcpi_json_bool(tcpi_json_t *j, const char *key, int v);
void tcpi_json_null(tcpi_json_t *j, const char *key);
/** A number with `prec` decimals ("%.3f"). */
void tcpi_json_fixed(tcpi_json_t *j, const char *key, double v, int prec);
/** A string (escaped); s NULL writes null. */
void tcpi_json_str(tcpi_json_t *j, const char *key, const char *s);
void tcpi_json_strn(tcpi_json_t *j, const char *key, const char *p, size_t n);

/* ---- HTML page chrome -------------------------------------------------- */

/** The start of every HTML view: doctype, <title> ("mod_tcpinspect" or
 *  "mod_tcpinspect: <title>"), the one style sheet, and the nav linking
 *  every page under base (the handler's URL path, HTML-safe). */
void tcpi_out_page_head(tcpi_out_t *o, const char *title, const char *base);
/** The end of every HTML view. */
void tcpi_out_page_foot(tcpi_out_t *o);

/* ---- counter lists ----------------------------------------------------- */

/* What a number is: TYPE in /metrics, and how HTML shows it. */
typedef enum {
    TCPI_CT_COUNTER,        /* only grows */
    TCPI_CT_LOSS,           /* a counter of something lost or refused:
                               highlighted on the page when not 0 */
    TCPI_CT_GAUGE,          /* goes up and down */
    TCPI_CT_BOOL            /* a gauge that is 0 or 1: true/false in JSON,
                               yes/no on the page */
} tcpi_counter_type_e;

/** One counter's names, one per format. A NULL name: not in that format
 *  (the table says why). */
typedef struct {
    int         type;      /* TCPI_CT_* */
    const char *json;      /* key inside its family's JSON object */
    const char *autok;     /* ?auto key (after the family's prefix) */
    const char *prom;      /* metric name, with its labels when several
                              entries share one name (adjacent in a list) */
    uint32_t    div;       /* 1; 1000 (a value in ms) or 1000000 (in us):
                              /metrics shows seconds */
    const char *help;      /* HELP in /metrics, title on the page */
    const char *label;     /* the page's label */
} tcpi_counter_t;

/* v[k] is the value of c[k]. */
void tcpi_counters_json(tcpi_json_t *j, const tcpi_counter_t *c, size_t n,
                        const uint64_t *v);
/** "<prefix><key>: <value>" lines. */
void tcpi_counters_auto(tcpi_out_t *o, const char *prefix,
                        const tcpi_counter_t *c, size_t n, const uint64_t *v);
/** HELP and TYPE once per metric, then a sample per label set: v holds
 *  nset rows of n values; with a label name, row i carries
 *  label="lv[i]" (escaped) before the entry's own labels. */
void tcpi_counters_prom(tcpi_out_t *o, const tcpi_counter_t *c, size_t n,
                        const uint64_t *v, size_t nset, const char *label,
                        const char *const *lv);
/** Rows "<label> | <value>" of a two-column table. */
void tcpi_counters_html_rows(tcpi_out_t *o, const tcpi_counter_t *c,
                             size_t n, const uint64_t *v);
/** A table with one column per counter: its header cells, and the cells
 *  of one row. */
void tcpi_counters_html_th(tcpi_out_t *o, const tcpi_counter_t *c, size_t n);
void tcpi_counters_html_td(tcpi_out_t *o, const tcpi_counter_t *c, size_t n,
                           const uint64_t *v);
/** One value as a table cell (highlighted: a loss that is not 0). */
void tcpi_counters_html_cell(tcpi_out_t *o, const tcpi_counter_t *c,
                             uint64_t v);

#endif
