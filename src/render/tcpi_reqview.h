/*
 * tcpi_reqview.h — selecting recent requests from the request log, with
 * the worker's join of each (tcpi_join.h), and rendering them: the list
 * (/requests, /requests.json) and one request (/requests/<id>,
 * /requests/<id>.json) with its wire timings, a waterfall in inline SVG,
 * the anomalies of each leg in plain words and both legs' packets
 * interleaved in time.
 */
#ifndef TCPI_REQVIEW_H
#define TCPI_REQVIEW_H

#include "tcpi/join.h"
#include "tcpi/common.h"
#include "tcpi/store.h"

typedef struct {
    int         status;        /* 0: any */
    uint64_t    min_us;        /* minimum duration */
    const char *uri_prefix;    /* NULL: any */
    const char *client;        /* client "ip" or "ip:port" prefix; NULL: any */
    const char *id;            /* exact id; NULL: any */
    int         secrets;       /* the copies keep their secret bytes (a
                                  download); else they are wiped */
} tcpi_req_filter_t;

int tcpi_req_match(const tcpi_req_t *r, const tcpi_req_filter_t *f);

/** A walk over the log's records, newest first, that match a filter:
 *  one record at a time, so its memory does not grow with max. The
 *  walk covers the records logged before tcpi_req_iter_init (a copy of
 *  the iterator walks them again). */
typedef struct {
    const tcpi_reqlog_t     *log;    /* NULL: no records */
    const tcpi_req_filter_t *f;
    uint64_t k;                      /* the next record is k - 1 */
    uint64_t stop;                   /* the oldest the log may hold */
    int      left;                   /* matches still to give */
} tcpi_req_iter_t;

void tcpi_req_iter_init(tcpi_req_iter_t *it, const tcpi_reqlog_t *log,
                        const tcpi_req_filter_t *f, int max);
/** The next match into *out and its record number into *k (k may be
 *  NULL): 1, or 0 when max were given or the log has no more. */
int tcpi_req_iter_next(tcpi_req_t *out, uint64_t *k, tcpi_req_iter_t *it);

/** Collect up to max records, newest first, that match f; ks (may be
 *  NULL) receives each record's number in the log. */
int tcpi_req_collect(tcpi_req_t *out, uint64_t *ks, int max,
                     const tcpi_reqlog_t *log, const tcpi_req_filter_t *f);

/** Everything the list pages show besides the records: the counters of
 *  the request log and the join (tcpi_counters.h: TCPI_CTR_REQLOG,
 *  TCPI_CTR_JOIN). */
typedef struct {
    uint64_t          log_dropped;
    int               have_join;
    tcpi_join_stats_t join;
} tcpi_req_status_t;

/** sums may be NULL (no region): then nothing is joined. */
void tcpi_render_requests_json(tcpi_out_t *o, const tcpi_req_t *r,
                               const uint64_t *ks, int n,
                               const tcpi_sumtab_t *sums,
                               const tcpi_req_status_t *st);
/** The requests table's header row (opens the <table>) and one row; the
 *  caller closes the table. Shared by /requests and the overview. s may
 *  be NULL (not joined yet). base is HTML-safe. */
void tcpi_render_requests_thead(tcpi_out_t *o);
void tcpi_render_request_row(tcpi_out_t *o, const tcpi_req_t *r,
                             const tcpi_reqsum_t *s, const char *base);
void tcpi_render_requests_html(tcpi_out_t *o, const tcpi_req_t *r,
                               const uint64_t *ks, int n,
                               const tcpi_sumtab_t *sums,
                               const tcpi_req_status_t *st, const char *base);
/** The same two lists straight from the log: up to max records, newest
 *  first, that match f, each rendered as it is read (memory independent
 *  of max; log NULL: none). The HTML page states its count before the
 *  rows, so it counts them first and then renders at most that many from
 *  the same records: if the log laps the walk in between (TCPI_REQLOG_LEN
 *  requests logged meanwhile), the page shows fewer rows than it says. */
void tcpi_render_requests_json_log(tcpi_out_t *o, const tcpi_reqlog_t *log,
                                   const tcpi_req_filter_t *f, int max,
                                   const tcpi_sumtab_t *sums,
                                   const tcpi_req_status_t *st);
void tcpi_render_requests_html_log(tcpi_out_t *o, const tcpi_reqlog_t *log,
                                   const tcpi_req_filter_t *f, int max,
                                   const tcpi_sumtab_t *sums,
                                   const tcpi_req_status_t *st,
                                   const char *base);
/** One request as a JSON object (no trailing newline); s NULL when not
 *  joined (yet). detail adds the time points, anomalies and packets. */
void tcpi_render_request_json(tcpi_out_t *o, const tcpi_req_t *r,
                              const tcpi_reqsum_t *s, int detail);
/** The same as the member `key` of the JSON being written (NULL in an
 *  array), e.g. status.json's recent_requests. */
void tcpi_reqview_json(tcpi_json_t *j, const char *key, const tcpi_req_t *r,
                       const tcpi_reqsum_t *s, int detail);
/** The same object (detail 0: a /requests.json entry) as one line of the
 *  JSON request log, '\n' included, into buf: its length, or 0 when it
 *  does not fit in cap. The capture worker's tcpi_worker_line_fn. */
size_t tcpi_reqview_line(char *buf, size_t cap, const tcpi_req_t *r,
                         const tcpi_reqsum_t *s);
/** The /requests/<id> page. */
void tcpi_render_request_html(tcpi_out_t *o, const tcpi_req_t *r,
                              const tcpi_reqsum_t *s, const char *base);

#endif
