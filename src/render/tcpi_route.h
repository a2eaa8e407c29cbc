/*
 * tcpi_route.h — the pages under the handler's location, declared once:
 * each route's path (or `<id>` pattern), its formats, its typed query
 * parameters with their ranges and defaults, whether it is a download
 * (TCPInspectAllowDownload), its ring-scan budget, and one line saying
 * what it shows. The glue finds the route for a request, has the query
 * parsed against it, and hands the page the typed values; README.md's
 * "Pages" table is checked against this table (tests/test_route.c).
 *
 * The rules the glue relies on:
 *  - Fixed paths are matched exactly, before the id routes. An id route
 *    "<prefix><id><suffix>" is tried in table order (so ".json" before
 *    ""): the first whose prefix and suffix match decides. Its id must be
 *    a request id (tcpi_req_id_valid); an empty one, or one holding '/',
 *    is not found (404), any other bad one is "malformed request id"
 *    (400).
 *  - A query is refused (400) when it names a parameter the route does
 *    not take ("unknown query parameter") or names one twice, before
 *    any value is read; then each value is checked in the route's
 *    parameter order, and the first bad one gives the message.
 *  - A bare name (`?auto`) has the value "1", as httpd's ap_args_to_table
 *    reads it.
 */
#ifndef TCPI_ROUTE_H
#define TCPI_ROUTE_H

#include "tcpi/common.h"

#include <stddef.h>
#include <stdint.h>

/* What a page answers with; a route has one, and a flag parameter
 * (?auto, ?nagios) may ask for another. */
typedef enum {
    TCPI_FMT_HTML       = 1u << 0,
    TCPI_FMT_JSON       = 1u << 1,
    TCPI_FMT_TEXT       = 1u << 2,   /* tcpdump's lines */
    TCPI_FMT_AUTO       = 1u << 3,   /* mod_status-like Key: value */
    TCPI_FMT_NAGIOS     = 1u << 4,
    TCPI_FMT_PROMETHEUS = 1u << 5,
    TCPI_FMT_PCAP       = 1u << 6,
    TCPI_FMT_PCAPNG     = 1u << 7,
} tcpi_fmt_t;

/* The glue's page functions, one per page (its routes differ by format). */
typedef enum {
    TCPI_PAGE_OVERVIEW,
    TCPI_PAGE_STATUS,
    TCPI_PAGE_METRICS,
    TCPI_PAGE_REQUESTS,
    TCPI_PAGE_REQUEST,
    TCPI_PAGE_REQUEST_PCAPNG,
    TCPI_PAGE_PACKETS,
    TCPI_PAGE_CAPTURE,
    TCPI_PAGE_FLOWS,
    TCPI_PAGE_COUNT
} tcpi_page_t;

/* Every query parameter of any page: where its value lands in
 * tcpi_route_args_t.v[] (tcpi_route_arg_name gives its name). */
typedef enum {
    TCPI_ARG_AUTO, TCPI_ARG_NAGIOS, TCPI_ARG_REFRESH,
    TCPI_ARG_STATUS, TCPI_ARG_MIN_MS, TCPI_ARG_URI, TCPI_ARG_CLIENT,
    TCPI_ARG_LIMIT,
    TCPI_ARG_FILTER, TCPI_ARG_MATCH, TCPI_ARG_X, TCPI_ARG_SINCE,
    TCPI_ARG_IFACE, TCPI_ARG_SECONDS,
    TCPI_ARG_LEG, TCPI_ARG_STATE, TCPI_ARG_PORT,
    TCPI_ARG_COUNT
} tcpi_arg_t;

/* A parameter's type, which says how its value is read. */
typedef enum {
    TCPI_PT_UINT,    /* decimal digits in [min, max]; def when absent */
    TCPI_PT_PKTNO,   /* a ring packet number: digits, 0 to 2^63 - 1 */
    TCPI_PT_BIT,     /* "0" or "1" */
    TCPI_PT_FLAG,    /* present or not (any value): 1 when present */
    TCPI_PT_STR,     /* text of min..max bytes (max 0: unbounded) */
    TCPI_PT_ENUM,    /* one of a set of names: lookup gives the index */
    TCPI_PT_BPF,     /* a filter= expression that tcpi_bpfcheck accepts */
    TCPI_PT_IFACE,   /* an interface name: 1-15 printable bytes, no '/' */
} tcpi_ptype_t;

#define TCPI_PKTNO_MAX (UINT64_MAX / 2)

typedef struct {
    tcpi_arg_t   arg;
    tcpi_ptype_t type;
    uint64_t     min, max;       /* UINT: the range; STR: bytes */
    int          has_def;        /* UINT: def is the value when absent */
    uint64_t     def;
    int        (*lookup)(const char *name);  /* ENUM: index or -1 */
    tcpi_fmt_t   selects;        /* FLAG: the format it asks for, or 0 */
    const char  *msg;            /* the 400 message; NULL: from the type */
} tcpi_route_param_t;

/* tcpi_route_t.flags */
#define TCPI_ROUTE_DOWNLOAD 0x1u /* raw packet bytes: only where
                                    TCPInspectAllowDownload is On (403) */

typedef struct {
    const char  *path;           /* below the location; "<id>" marks where
                                    a request id goes */
    tcpi_page_t  page;
    tcpi_fmt_t   fmt;            /* the format without a flag parameter */
    unsigned     flags;          /* TCPI_ROUTE_* */
    uint64_t     budget_packets; /* its ring scan: records examined at most */
    uint64_t     budget_ms;      /* and time spent (0 0: no ring scan) */
    const tcpi_route_param_t *params;
    size_t       nparams;
    const char  *what;           /* one line */
} tcpi_route_t;

/** One query parameter as the glue decoded it; val NULL for a bare name. */
typedef struct {
    const char *key, *val;
} tcpi_route_kv_t;

/** A parameter's value after tcpi_route_parse. */
typedef struct {
    const char *raw;     /* as given (STR, BPF, IFACE: the value); NULL:
                            absent */
    uint64_t    u;       /* UINT, PKTNO, BIT, FLAG: the number (UINT: the
                            route's default when absent, else 0) */
    int         e;       /* ENUM: the index; -1 when absent */
} tcpi_route_val_t;

typedef struct {
    tcpi_fmt_t       fmt;               /* the format asked for */
    tcpi_route_val_t v[TCPI_ARG_COUNT]; /* by tcpi_arg_t */
} tcpi_route_args_t;

/* tcpi_route_find's answers */
enum { TCPI_ROUTE_FOUND = 0, TCPI_ROUTE_NOT_FOUND = 1, TCPI_ROUTE_BAD_ID = 2 };

/** The route for sub, the URI path below the handler's location ("/" at
 *  least). TCPI_ROUTE_FOUND with *rt (and, for an id route, *id from p;
 *  else NULL); TCPI_ROUTE_NOT_FOUND (404); TCPI_ROUTE_BAD_ID with the
 *  400 message in *err. */
int tcpi_route_find(const tcpi_route_t **rt, const char **id,
                    const char **err, const char *sub, apr_pool_t *p);

/** Read the query kv[0..n) against rt into a: NULL, or the 400 message
 *  (from p, or static). Unknown and repeated names are refused before
 *  any value is read; values are read in rt's parameter order. */
const char *tcpi_route_parse(tcpi_route_args_t *a, const tcpi_route_t *rt,
                             const tcpi_route_kv_t *kv, size_t n,
                             apr_pool_t *p);

/** The table, in matching order. */
const tcpi_route_t *tcpi_route_table(size_t *n);
/** rt's parameter for name, or NULL. */
const tcpi_route_param_t *tcpi_route_param(const tcpi_route_t *rt,
                                           const char *name);
/** Every format rt answers with (fmt and what its flags select). */
unsigned tcpi_route_formats(const tcpi_route_t *rt);

const char *tcpi_route_arg_name(tcpi_arg_t arg);
/** "html", "json", ... ; NULL for anything but one TCPI_FMT_* bit. */
const char *tcpi_route_fmt_name(unsigned fmt);
/** The Content-Type of a format. */
const char *tcpi_route_fmt_ctype(tcpi_fmt_t fmt);

#endif
