/* tcpi_flowview.c — /flows and /flows.json (tcpi_flowview.h). */
#include "tcpi_flowview.h"
#include "tcpi/store.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const leg_names[] = { "other", "front", "backend" };

const char *tcpi_flowview_leg_name(int leg)
{
    return leg >= 0 && leg < (int)TCPI_ARRAY_LEN(leg_names) ? leg_names[leg]
                                                          : "unknown";
}

int tcpi_flowview_leg_from_name(const char *name)
{
    for (int i = 0; i < (int)TCPI_ARRAY_LEN(leg_names); i++)
        if (strcasecmp(name, leg_names[i]) == 0)
            return i;
    return -1;
}

static uint16_t side_port(const tcpi_flowrec_t *r, int side)
{
    return side ? r->key.pb : r->key.pa;
}

static int server_port(uint16_t port, const tcpi_ports_t *front,
                       const tcpi_ports_t *backend)
{
    return (front && tcpi_ports_has(front, port)) ||
           (backend && tcpi_ports_has(backend, port));
}

static void classify(tcpi_flowrow_t *row, const tcpi_ports_t *front,
                     const tcpi_ports_t *backend)
{
    const tcpi_flowrec_t *r = &row->rec;
    uint16_t sp;

    if (r->fs.initiator == 0 || r->fs.initiator == 1)
        row->client = r->fs.initiator;
    else if (server_port(r->key.pa, front, backend) &&
             !server_port(r->key.pb, front, backend))
        row->client = 1;
    else
        row->client = 0;
    sp = side_port(r, !row->client);
    row->leg = front && tcpi_ports_has(front, sp) ? TCPI_FLEG_FRONT
             : backend && tcpi_ports_has(backend, sp) ? TCPI_FLEG_BACKEND
             : TCPI_FLEG_OTHER;
}

uint32_t tcpi_flowview_select(tcpi_flowrow_t *rows, const tcpi_flowrec_t *recs,
                              uint32_t n, const tcpi_flow_filter_t *f,
                              const tcpi_ports_t *front,
                              const tcpi_ports_t *backend)
{
    uint32_t out = 0;

    for (uint32_t i = 0; i < n && out < f->limit; i++) {
        tcpi_flowrow_t *row = &rows[out];
        row->rec = recs[i];
        classify(row, front, backend);
        if (f->leg >= 0 && row->leg != f->leg)
            continue;
        if (f->port && recs[i].key.pa != f->port && recs[i].key.pb != f->port)
            continue;
        if (f->state >= 0 && tcpi_flowstate_state(&recs[i].fs, 0) != f->state &&
            tcpi_flowstate_state(&recs[i].fs, 1) != f->state)
            continue;
        out++;
    }
    return out;
}

static void endpoint(char *buf, size_t len, const tcpi_flowrec_t *r, int side)
{
    tcpi_endpoint_t ep;

    memset(&ep, 0, sizeof(ep));
    ep.family = r->key.family;
    memcpy(ep.addr, side ? r->key.b : r->key.a, sizeof(ep.addr));
    ep.port = side_port(r, side);
    tcpi_endpoint_format(buf, len, &ep);
}

/* The bare address of a side, as BPF takes it. */
static void address(char *buf, size_t len, const tcpi_flowrec_t *r, int side)
{
    if (inet_ntop(r->key.family == 6 ? AF_INET6 : AF_INET,
                  side ? r->key.b : r->key.a, buf, (socklen_t)len) == NULL)
        snprintf(buf, len, "0.0.0.0");
}

void tcpi_flowview_bpf(char *buf, size_t len, const tcpi_flowrow_t *row)
{
    const tcpi_flowrec_t *r = &row->rec;
    char a[64], b[64];

    address(a, sizeof(a), r, 0);
    address(b, sizeof(b), r, 1);
    snprintf(buf, len, "tcp and ((src host %s and src port %u and dst host %s "
             "and dst port %u) or (src host %s and src port %u and dst host "
             "%s and dst port %u))", a, r->key.pa, b, r->key.pb, b, r->key.pb,
             a, r->key.pa);
}

static void out_secs(tcpi_out_t *o, uint64_t ns)
{
    tcpi_out_printf(o, "%llu.%06llu", (unsigned long long)(ns / 1000000000ull),
                    (unsigned long long)(ns % 1000000000ull / 1000));
}

static void json_side(tcpi_out_t *o, const tcpi_flowrec_t *r, int side)
{
    const tcpi_fs_side_t *s = &r->fs.side[side];
    int st = tcpi_flowstate_state(&r->fs, side);
    char ep[64];
    uint64_t ts;

    endpoint(ep, sizeof(ep), r, side);
    tcpi_out_str(o, "{\"addr\":");
    tcpi_out_json_str(o, ep, strlen(ep));
    tcpi_out_str(o, ",\"state\":");
    if (st >= 0)
        tcpi_out_printf(o, "\"%s\"", tcpi_state_name(st));
    else
        tcpi_out_str(o, "null");
    tcpi_out_printf(o, ",\"packets\":%llu,\"bytes\":%llu,\"history\":[",
                    (unsigned long long)s->packets,
                    (unsigned long long)s->bytes);
    for (int i = 0; (st = tcpi_flowstate_hist(&ts, &r->fs, side, i)) >= 0; i++) {
        tcpi_out_printf(o, "%s{\"state\":\"%s\",\"time\":", i ? "," : "",
                        tcpi_state_name(st));
        out_secs(o, ts);
        tcpi_out_str(o, "}");
    }
    tcpi_out_printf(o, "],\"history_dropped\":%u}", s->hist_dropped);
}

/* The TLS version its ServerHello chose (a name of ours: no wire bytes). */
static const char *tls_name(const tcpi_flowrec_t *r)
{
    return r->fs.tls ? tcpi_tlsrec_version_name(0x0300u + r->fs.tls - 1) : NULL;
}

void tcpi_render_flows_json(tcpi_out_t *o, const tcpi_flowrow_t *rows,
                            uint32_t n)
{
    char bpf[320];

    tcpi_out_str(o, "[");
    for (uint32_t i = 0; i < n; i++) {
        const tcpi_flowrec_t *r = &rows[i].rec;
        tcpi_out_printf(o, "%s\n{\"leg\":\"%s\",\"handshake_seen\":%s,"
                        "\"first\":", i ? "," : "",
                        tcpi_flowview_leg_name(rows[i].leg),
                        r->fs.midstream ? "false" : "true");
        out_secs(o, r->first_ns);
        tcpi_out_str(o, ",\"tls\":");
        if (tls_name(r))
            tcpi_out_printf(o, "\"%s\"", tls_name(r));
        else
            tcpi_out_str(o, "null");
        tcpi_out_str(o, ",\"last\":");
        out_secs(o, r->last_ns);
        tcpi_out_str(o, ",\"client\":");
        json_side(o, r, rows[i].client);
        tcpi_out_str(o, ",\"server\":");
        json_side(o, r, !rows[i].client);
        tcpi_out_str(o, ",\"anomalies\":{");
        for (int b = 0; b < TCPI_AN_COUNT; b++)
            tcpi_out_printf(o, "%s\"%s\":%u", b ? "," : "",
                            tcpi_flow_an_name(b), r->fs.an[b]);
        tcpi_flowview_bpf(bpf, sizeof(bpf), &rows[i]);
        tcpi_out_str(o, "},\"filter\":");
        tcpi_out_json_str(o, bpf, strlen(bpf));
        tcpi_out_str(o, "}");
    }
    tcpi_out_str(o, "\n]\n");
}

/* ---- HTML ------------------------------------------------------------ */

static void out_clock(tcpi_out_t *o, uint64_t ns)
{
    time_t t = (time_t)(ns / 1000000000ull);
    struct tm tm;

    gmtime_r(&t, &tm);
    tcpi_out_printf(o, "%02d:%02d:%02d.%03u", tm.tm_hour, tm.tm_min, tm.tm_sec,
                    (unsigned)(ns % 1000000000ull / 1000000));
}

static void html_side(tcpi_out_t *o, const tcpi_flowrec_t *r, int side)
{
    uint64_t ts;
    int st;

    tcpi_out_str(o, "<td class=\"l\">");
    if (r->fs.side[side].hist_dropped)
        tcpi_out_printf(o, "&hellip;(%u) ", r->fs.side[side].hist_dropped);
    for (int i = 0; (st = tcpi_flowstate_hist(&ts, &r->fs, side, i)) >= 0; i++) {
        tcpi_out_printf(o, "%s<b>%s</b> ", i ? " &rarr; " : "",
                        tcpi_state_name(st));
        out_clock(o, ts);
    }
    tcpi_out_str(o, "</td>");
}

/* Percent-encode for a query value (RFC 3986 unreserved kept). */
static void out_urlenc(tcpi_out_t *o, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~')
            tcpi_out_mem(o, s, 1);
        else
            tcpi_out_printf(o, "%%%02X", c);
    }
}

void tcpi_render_flows_html(tcpi_out_t *o, const tcpi_flowrow_t *rows,
                            uint32_t n, const tcpi_flowpub_stats_t *st,
                            const char *base)
{
    char ep[64], bpf[320];

    tcpi_out_page_head(o, "flows", base);
    tcpi_out_printf(o, "<h1>Flows</h1>\n<p><a href=\"%s/\">overview</a> "
                    "<a href=\"%s/flows.json\">flows.json</a></p>\n<p>The "
                    "most recently active TCP flows the capture worker "
                    "tracks, newest first, with each side's TCP state as the "
                    "packets show it (", base, base);
    if (st->publications)
        out_clock(o, st->published_ns);
    else
        tcpi_out_str(o, "not published yet");
    tcpi_out_printf(o, " UTC, %u flows, published in %.2f ms). %u shown.</p>\n",
                    st->count, (double)st->scan_ns / 1e6, n);
    tcpi_out_str(o, "<table><tr><th class=\"l\">leg</th><th class=\"l\">client"
                 "</th><th class=\"l\">server</th><th class=\"l\">TLS</th>"
                 "<th class=\"l\">client "
                 "states</th><th class=\"l\">server states</th><th>packets "
                 "c&rarr;s / s&rarr;c</th><th>bytes c&rarr;s / s&rarr;c</th>"
                 "<th class=\"l\">anomalies</th><th class=\"l\">last packet"
                 "</th><th></th></tr>\n");
    for (uint32_t i = 0; i < n; i++) {
        const tcpi_flowrec_t *r = &rows[i].rec;
        int c = rows[i].client;
        tcpi_out_printf(o, "<tr><td class=\"l\">%s</td>",
                        tcpi_flowview_leg_name(rows[i].leg));
        for (int k = 0; k < 2; k++) {
            endpoint(ep, sizeof(ep), r, k ? !c : c);
            tcpi_out_str(o, "<td class=\"l\"><code>");
            tcpi_out_html(o, ep, strlen(ep));
            tcpi_out_str(o, "</code></td>");
        }
        tcpi_out_printf(o, "<td class=\"l\">%s</td>",
                        tls_name(r) ? tls_name(r) : "");
        html_side(o, r, c);
        html_side(o, r, !c);
        tcpi_out_printf(o, "<td>%llu / %llu</td><td>%llu / %llu</td>"
                        "<td class=\"l\">",
                        (unsigned long long)r->fs.side[c].packets,
                        (unsigned long long)r->fs.side[!c].packets,
                        (unsigned long long)r->fs.side[c].bytes,
                        (unsigned long long)r->fs.side[!c].bytes);
        for (int b = 0; b < TCPI_AN_COUNT; b++)
            if (r->fs.an[b])
                tcpi_out_printf(o, "%s %u<br>", tcpi_flow_an_name(b),
                                r->fs.an[b]);
        tcpi_out_str(o, "</td><td class=\"l\">");
        out_clock(o, r->last_ns);
        tcpi_flowview_bpf(bpf, sizeof(bpf), &rows[i]);
        tcpi_out_printf(o, "</td><td class=\"l\"><a href=\"%s/packets?filter=",
                        base);
        out_urlenc(o, bpf);
        tcpi_out_str(o, "\">packets</a></td></tr>\n");
    }
    tcpi_out_str(o, "</table>\n");
    tcpi_out_page_foot(o);
}
