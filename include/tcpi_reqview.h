/*
 * tcpi_reqview.h — selecting and rendering recent requests from the
 * request log (/requests, /requests.json).
 */
#ifndef TCPI_REQVIEW_H
#define TCPI_REQVIEW_H

#include "tcpi_out.h"
#include "tcpi_reqlog.h"

typedef struct {
    int         status;        /* 0: any */
    uint64_t    min_us;        /* minimum duration */
    const char *uri_prefix;    /* NULL: any */
    const char *client;        /* client "ip" or "ip:port" prefix; NULL: any */
    const char *id;            /* exact id; NULL: any */
} tcpi_req_filter_t;

int tcpi_req_match(const tcpi_req_t *r, const tcpi_req_filter_t *f);

/** Collect up to max records, newest first, that match f. */
int tcpi_req_collect(tcpi_req_t *out, int max, const tcpi_reqlog_t *log,
                     const tcpi_req_filter_t *f);

void tcpi_render_requests_json(tcpi_out_t *o, const tcpi_req_t *r, int n,
                               uint64_t dropped);
void tcpi_render_requests_html(tcpi_out_t *o, const tcpi_req_t *r, int n,
                               uint64_t dropped, const char *base);
/** One request as a JSON object (no trailing newline). */
void tcpi_render_request_json(tcpi_out_t *o, const tcpi_req_t *r);

#endif
