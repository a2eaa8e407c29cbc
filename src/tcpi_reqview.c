/* tcpi_reqview.c — recent requests: selection and renderers. */
#include "tcpi_reqview.h"

#include <string.h>

int tcpi_req_match(const tcpi_req_t *r, const tcpi_req_filter_t *f)
{
    char ep[64];

    if (f->status && r->status != f->status)
        return 0;
    if (f->min_us && (r->end_us < r->start_us ||
                      r->end_us - r->start_us < f->min_us))
        return 0;
    if (f->uri_prefix && strncmp(r->uri, f->uri_prefix,
                                 strlen(f->uri_prefix)) != 0)
        return 0;
    if (f->id && strcmp(r->id, f->id) != 0)
        return 0;
    if (f->client) {
        tcpi_endpoint_format(ep, sizeof(ep), &r->front_client);
        if (strncmp(ep, f->client, strlen(f->client)) != 0)
            return 0;
    }
    return 1;
}

int tcpi_req_collect(tcpi_req_t *out, int max, const tcpi_reqlog_t *log,
                     const tcpi_req_filter_t *f)
{
    uint64_t head = tcpi_reqlog_head(log);
    uint64_t stop = head > TCPI_REQLOG_LEN ? head - TCPI_REQLOG_LEN : 0;
    int n = 0;

    for (uint64_t k = head; k > stop && n < max; k--)
        if (tcpi_reqlog_get(&out[n], log, k - 1) == 0 &&
            tcpi_req_match(&out[n], f))
            n++;
    return n;
}

static void json_ep(tcpi_out_t *o, const char *key, const tcpi_endpoint_t *ep)
{
    char buf[64];
    size_t n = tcpi_endpoint_format(buf, sizeof(buf), ep);

    tcpi_out_printf(o, "\"%s\":", key);
    if (n == 0)
        tcpi_out_str(o, "null");
    else
        tcpi_out_json_str(o, buf, n);
}

static double total_ms(const tcpi_req_t *r)
{
    return r->end_us >= r->start_us ? (double)(r->end_us - r->start_us) / 1000.0
                                    : 0.0;
}

void tcpi_render_request_json(tcpi_out_t *o, const tcpi_req_t *r)
{
    tcpi_out_str(o, "{\"id\":");
    tcpi_out_json_str(o, r->id, strlen(r->id));
    tcpi_out_str(o, ",\"method\":");
    tcpi_out_json_str(o, r->method, strlen(r->method));
    tcpi_out_str(o, ",\"uri\":");
    tcpi_out_json_str(o, r->uri, strlen(r->uri));
    tcpi_out_printf(o, ",\"status\":%u,\"bytes_sent\":%llu,\"start_us\":%llu,"
                    "\"pid\":%d,\"front\":{", r->status,
                    (unsigned long long)r->bytes_sent,
                    (unsigned long long)r->start_us, r->pid);
    json_ep(o, "client", &r->front_client);
    tcpi_out_str(o, ",");
    json_ep(o, "server", &r->front_server);
    tcpi_out_printf(o, ",\"connection\":%llu,\"keepalives\":%u,"
                    "\"requests_before\":%u},\"backend\":",
                    (unsigned long long)r->conn_id, r->keepalives,
                    r->conn_requests);
    if (r->has_backend) {
        tcpi_out_str(o, "{");
        json_ep(o, "local", &r->backend_local);
        tcpi_out_str(o, ",");
        json_ep(o, "remote", &r->backend_remote);
        tcpi_out_printf(o, ",\"reused\":%s,\"source\":\"%s\"}",
                        r->backend_reused ? "true" : "false",
                        r->backend_src == TCPI_BACKEND_SRC_NOTE ? "note"
                                                                : "create_req");
    } else {
        tcpi_out_str(o, "null");
    }
    tcpi_out_printf(o, ",\"timing\":{\"total_ms\":%.3f,\"backend_ttfb_ms\":null},"
                    "\"captured\":%s}", total_ms(r), r->capture ? "true" : "false");
}

void tcpi_render_requests_json(tcpi_out_t *o, const tcpi_req_t *r, int n,
                               uint64_t dropped)
{
    tcpi_out_printf(o, "{\"dropped\":%llu,\"requests\":[",
                    (unsigned long long)dropped);
    for (int i = 0; i < n; i++) {
        if (i)
            tcpi_out_str(o, ",\n");
        tcpi_render_request_json(o, &r[i]);
    }
    tcpi_out_str(o, "]}\n");
}

static void html_ep(tcpi_out_t *o, const tcpi_endpoint_t *ep)
{
    char buf[64];
    size_t n = tcpi_endpoint_format(buf, sizeof(buf), ep);
    tcpi_out_html(o, buf, n);
}

void tcpi_render_requests_html(tcpi_out_t *o, const tcpi_req_t *r, int n,
                               uint64_t dropped, const char *base)
{
    tcpi_out_str(o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset="
                 "\"utf-8\"><title>mod_tcpinspect: requests</title><style>"
                 "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em}"
                 "table{border-collapse:collapse}td,th{border:1px solid #ccc;"
                 "padding:.2em .5em;text-align:left}th{background:#f4f4f4}"
                 ".r{text-align:right}.e{background:#f7c1c1}</style></head>"
                 "<body>\n");
    tcpi_out_printf(o, "<h1>Recent requests</h1>\n<p><a href=\"%s/\">overview"
                    "</a> &middot; <a href=\"%s/requests.json\">JSON</a>. "
                    "%d shown, newest first; %llu dropped by the log.</p>\n",
                    base, base, n, (unsigned long long)dropped);
    tcpi_out_str(o, "<table><tr><th>id</th><th>request</th><th>status</th>"
                 "<th>ms</th><th>client</th><th>server</th><th>backend local"
                 "</th><th>backend</th><th>reused</th></tr>\n");
    for (int i = 0; i < n; i++) {
        tcpi_out_printf(o, "<tr%s><td><code>", r[i].status >= 500
                        ? " class=\"e\"" : "");
        tcpi_out_html(o, r[i].id, strlen(r[i].id));
        tcpi_out_str(o, "</code></td><td>");
        tcpi_out_html(o, r[i].method, strlen(r[i].method));
        tcpi_out_str(o, " ");
        tcpi_out_html(o, r[i].uri, strlen(r[i].uri));
        tcpi_out_printf(o, "</td><td>%u</td><td class=\"r\">%.1f</td><td>",
                        r[i].status, total_ms(&r[i]));
        html_ep(o, &r[i].front_client);
        tcpi_out_str(o, "</td><td>");
        html_ep(o, &r[i].front_server);
        tcpi_out_str(o, "</td><td>");
        html_ep(o, &r[i].backend_local);
        tcpi_out_str(o, "</td><td>");
        html_ep(o, &r[i].backend_remote);
        tcpi_out_printf(o, "</td><td>%s</td></tr>\n", !r[i].has_backend ? ""
                        : r[i].backend_reused ? "yes" : "no");
    }
    tcpi_out_str(o, "</table>\n</body></html>\n");
}
