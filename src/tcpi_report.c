/* tcpi_report.c — snapshot and renderers (see tcpi_report.h). */
#include "tcpi_report.h"

#include <pcap/pcap.h>
#include <string.h>

void tcpi_snapshot_capture(tcpi_snapshot_t *s, const tcpi_shm_t *shm)
{
    tcpi_shm_t *w = (tcpi_shm_t *)shm;
    uint64_t now = tcpi_now_mono_ns();

    s->now_wall_ns = tcpi_now_wall_ns();
    if (shm == NULL)
        return;
    s->generation = shm->generation;
    s->running = tcpi_shm_worker_alive(shm, now);
    s->pid = atomic_load(&w->worker_pid);
    s->uid = atomic_load(&w->worker_uid);
    uint64_t started = atomic_load(&w->worker_started_ns);
    uint64_t hb = atomic_load(&w->heartbeat_ns);
    s->uptime_s = (s->pid > 0 && started && now > started)
                  ? (now - started) / 1000000000ull : 0;
    s->heartbeat_age_ms = hb && now > hb ? (now - hb) / 1000000ull : 0;
    s->restarts = atomic_load(&w->restarts);
    s->startup_failures = atomic_load(&w->startup_failures);
    s->last_exit = atomic_load(&w->last_exit);
    s->niface = shm->niface < TCPI_MAX_IFACES ? shm->niface : TCPI_MAX_IFACES;
    for (uint32_t i = 0; i < s->niface; i++) {
        const tcpi_shm_iface_t *f = &shm->iface[i];
        tcpi_shm_iface_t *fw = &w->iface[i];
        tcpi_snap_iface_t *d = &s->iface[i];
        tcpi_shm_copy_str(d->name, sizeof(d->name), f->name, sizeof(f->name));
        tcpi_shm_copy_str(d->filter, sizeof(d->filter), f->filter,
                          sizeof(f->filter));
        tcpi_shm_copy_str(d->error, sizeof(d->error), f->error,
                          sizeof(f->error));
        d->legs = f->legs;
        d->linktype = atomic_load(&fw->linktype);
        d->status = atomic_load(&fw->status);
        d->received = atomic_load(&fw->received);
        d->dropped = atomic_load(&fw->dropped);
        d->if_dropped = atomic_load(&fw->if_dropped);
        d->packets = atomic_load(&fw->packets);
        d->bytes = atomic_load(&fw->bytes);
    }
    tcpi_ring_t *ring = tcpi_shm_ring(w);
    if (ring != NULL) {
        tcpi_ring_stats(&s->ring, ring);
        s->have_ring = 1;
    }
}

const char *tcpi_linktype_name(int32_t linktype)
{
    const char *n = linktype >= 0 ? pcap_datalink_val_to_name(linktype) : NULL;
    return n ? n : "none";
}

static const char *iface_status(uint32_t st)
{
    return st == TCPI_IF_OK ? "ok" : st == TCPI_IF_ERROR ? "error" : "pending";
}

static const char *legs_name(uint32_t legs)
{
    switch (legs & 3) {
    case TCPI_LEG_FRONT: return "front";
    case TCPI_LEG_BACKEND: return "backend";
    case 3: return "front+backend";
    default: return "none";
    }
}

static uint64_t oldest_age_ms(const tcpi_snapshot_t *s)
{
    if (!s->have_ring || s->ring.oldest_ts_ns == 0 ||
        s->ring.oldest_ts_ns > s->now_wall_ns)
        return 0;
    return (s->now_wall_ns - s->ring.oldest_ts_ns) / 1000000ull;
}

/* ---- JSON ------------------------------------------------------------ */

static void json_key(tcpi_out_t *o, const char *k)
{
    tcpi_out_json_str(o, k, strlen(k));
    tcpi_out_mem(o, ":", 1);
}

static void json_u64(tcpi_out_t *o, const char *k, uint64_t v, int comma)
{
    json_key(o, k);
    tcpi_out_u64(o, v);
    if (comma)
        tcpi_out_mem(o, ",", 1);
}

static void json_strf(tcpi_out_t *o, const char *k, const char *v, int comma)
{
    json_key(o, k);
    tcpi_out_json_str(o, v, strlen(v));
    if (comma)
        tcpi_out_mem(o, ",", 1);
}

static void json_capture(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    json_key(o, "capture");
    tcpi_out_str(o, "{\"engine\":");
    tcpi_out_str(o, s->engine ? "true" : "false");
    tcpi_out_str(o, ",\"running\":");
    tcpi_out_str(o, s->running ? "true," : "false,");
    tcpi_out_printf(o, "\"pid\":%d,", s->pid);
    json_u64(o, "uid", s->uid, 1);
    json_u64(o, "uptime_s", s->uptime_s, 1);
    json_u64(o, "heartbeat_age_ms", s->heartbeat_age_ms, 1);
    json_u64(o, "restarts", s->restarts, 1);
    json_u64(o, "startup_failures", s->startup_failures, 1);
    tcpi_out_printf(o, "\"last_exit\":%d,", s->last_exit);
    json_u64(o, "snaplen", s->snaplen, 1);
    json_key(o, "interfaces");
    tcpi_out_mem(o, "[", 1);
    for (uint32_t i = 0; i < s->niface; i++) {
        const tcpi_snap_iface_t *f = &s->iface[i];
        tcpi_out_str(o, i ? ",{" : "{");
        json_strf(o, "name", f->name, 1);
        json_strf(o, "leg", legs_name(f->legs), 1);
        json_strf(o, "filter", f->filter, 1);
        json_strf(o, "linktype", tcpi_linktype_name(f->linktype), 1);
        json_strf(o, "status", iface_status(f->status), 1);
        json_strf(o, "error", f->error, 1);
        json_u64(o, "received", f->received, 1);
        json_u64(o, "dropped", f->dropped, 1);
        json_u64(o, "if_dropped", f->if_dropped, 1);
        json_u64(o, "packets", f->packets, 1);
        json_u64(o, "bytes", f->bytes, 0);
        tcpi_out_mem(o, "}", 1);
    }
    tcpi_out_str(o, "],\"ring\":{");
    json_u64(o, "size", s->ring.data_size, 1);
    json_u64(o, "slots", s->ring.ndesc, 1);
    json_u64(o, "packets", s->ring.packets, 1);
    json_u64(o, "bytes", s->ring.bytes, 1);
    json_u64(o, "overwritten", s->ring.overwritten, 1);
    json_u64(o, "held", s->ring.packets - s->ring.overwritten, 1);
    json_u64(o, "used_bytes", s->ring.used_bytes, 1);
    json_u64(o, "fill_percent", s->ring.data_size
             ? s->ring.used_bytes * 100 / s->ring.data_size : 0, 1);
    json_u64(o, "oldest_age_ms", oldest_age_ms(s), 0);
    tcpi_out_str(o, "}}");
}

void tcpi_render_json(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    tcpi_out_str(o, "{");
    json_u64(o, "time", s->now_wall_ns / 1000000000ull, 1);
    json_u64(o, "generation", s->generation, 1);
    json_capture(o, s);
    tcpi_out_str(o, "}\n");
}

/* ---- ?auto ----------------------------------------------------------- */

void tcpi_render_auto(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    tcpi_out_printf(o, "Generation: %u\n", s->generation);
    tcpi_out_printf(o, "CaptureRunning: %d\n", s->running);
    tcpi_out_printf(o, "CapturePid: %d\n", s->pid);
    tcpi_out_printf(o, "CaptureUptime: %llu\n", (unsigned long long)s->uptime_s);
    tcpi_out_printf(o, "CaptureRestarts: %u\n", s->restarts);
    for (uint32_t i = 0; i < s->niface; i++) {
        const tcpi_snap_iface_t *f = &s->iface[i];
        /* Interface names were checked at config time: no spaces, no ':'
         * at the start, printable. */
        tcpi_out_printf(o, "capture.%s.received: %llu\n", f->name,
                        (unsigned long long)f->received);
        tcpi_out_printf(o, "capture.%s.dropped: %llu\n", f->name,
                        (unsigned long long)f->dropped);
    }
    tcpi_out_printf(o, "RingPackets: %llu\n", (unsigned long long)s->ring.packets);
    tcpi_out_printf(o, "RingOverwritten: %llu\n",
                    (unsigned long long)s->ring.overwritten);
}

/* ---- Prometheus ------------------------------------------------------ */

static void prom_head(tcpi_out_t *o, const char *name, const char *type,
                      const char *help)
{
    tcpi_out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_iface(tcpi_out_t *o, const char *name,
                       const tcpi_snap_iface_t *f, uint64_t v)
{
    tcpi_out_printf(o, "%s{interface=\"", name);
    tcpi_out_prom_label(o, f->name, strlen(f->name));
    tcpi_out_str(o, "\"} ");
    tcpi_out_u64(o, v);
    tcpi_out_mem(o, "\n", 1);
}

void tcpi_render_metrics(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    prom_head(o, "tcpinspect_capture_running", "gauge",
              "1 while the capture worker heartbeats.");
    tcpi_out_printf(o, "tcpinspect_capture_running %d\n", s->running);
    prom_head(o, "tcpinspect_capture_restarts_total", "counter",
              "Capture worker restarts in this generation.");
    tcpi_out_printf(o, "tcpinspect_capture_restarts_total %u\n", s->restarts);
    static const struct { const char *name, *help; size_t off; } ifm[] = {
        { "tcpinspect_interface_received_total",
          "Packets the kernel handed to the handle (pcap_stats ps_recv).",
          offsetof(tcpi_snap_iface_t, received) },
        { "tcpinspect_interface_dropped_total",
          "Packets dropped because the kernel buffer was full (ps_drop).",
          offsetof(tcpi_snap_iface_t, dropped) },
        { "tcpinspect_interface_if_dropped_total",
          "Packets dropped by the interface (ps_ifdrop).",
          offsetof(tcpi_snap_iface_t, if_dropped) },
        { "tcpinspect_interface_packets_total",
          "Packets written to the ring.",
          offsetof(tcpi_snap_iface_t, packets) },
    };
    for (size_t m = 0; m < TCPI_ARRAY_LEN(ifm); m++) {
        prom_head(o, ifm[m].name, "counter", ifm[m].help);
        for (uint32_t i = 0; i < s->niface; i++)
            prom_iface(o, ifm[m].name, &s->iface[i],
                       *(const uint64_t *)((const char *)&s->iface[i] +
                                           ifm[m].off));
    }
    prom_head(o, "tcpinspect_ring_overwritten_total", "counter",
              "Packets overwritten in the ring before anyone read them.");
    tcpi_out_printf(o, "tcpinspect_ring_overwritten_total %llu\n",
                    (unsigned long long)s->ring.overwritten);
    prom_head(o, "tcpinspect_ring_fill_ratio", "gauge",
              "Fraction of the ring's data area holding packets.");
    tcpi_out_printf(o, "tcpinspect_ring_fill_ratio %.4f\n", s->ring.data_size
                    ? (double)s->ring.used_bytes / (double)s->ring.data_size : 0.0);
    prom_head(o, "tcpinspect_ring_oldest_age_seconds", "gauge",
              "Age of the oldest packet in the ring.");
    tcpi_out_printf(o, "tcpinspect_ring_oldest_age_seconds %.3f\n",
                    (double)oldest_age_ms(s) / 1000.0);
}

/* ---- HTML ------------------------------------------------------------ */

static const char html_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>mod_tcpinspect</title><style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
    "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;"
    "border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;margin:.5em 0}"
    "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}"
    "th{background:#f4f4f4}td.l,th.l{text-align:left}"
    ".ok{background:#d9f2d9}.warning{background:#fff0b3}"
    ".critical{background:#f7c1c1}.error{color:#a00}"
    "code{font-size:.95em}nav a{margin-right:1em}\n"
    "</style></head><body>\n";

static void html_capture(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    tcpi_out_str(o, "<h2 id=\"capture\">Capture health</h2>\n<p>");
    if (!s->engine)
        tcpi_out_str(o, "TCPInspectEngine is Off: no capture worker.");
    else if (s->running)
        tcpi_out_printf(o, "<span class=\"ok\">running</span>: worker pid %d "
                        "(uid %u), up %llu s, %u restart(s) in this "
                        "generation.", s->pid, s->uid,
                        (unsigned long long)s->uptime_s, s->restarts);
    else
        tcpi_out_printf(o, "<span class=\"critical\">not running</span> "
                        "(last exit %d, %u restart(s)).", s->last_exit,
                        s->restarts);
    tcpi_out_str(o, "</p>\n<table><tr><th class=\"l\">interface</th>"
                 "<th class=\"l\">leg</th><th class=\"l\">filter</th>"
                 "<th class=\"l\">link</th><th>received</th><th>dropped</th>"
                 "<th>if_dropped</th><th>in ring</th><th class=\"l\">status"
                 "</th></tr>\n");
    for (uint32_t i = 0; i < s->niface; i++) {
        const tcpi_snap_iface_t *f = &s->iface[i];
        tcpi_out_str(o, "<tr><td class=\"l\">");
        tcpi_out_html(o, f->name, strlen(f->name));
        tcpi_out_printf(o, "</td><td class=\"l\">%s</td><td class=\"l\"><code>",
                        legs_name(f->legs));
        tcpi_out_html(o, f->filter, strlen(f->filter));
        tcpi_out_printf(o, "</code></td><td class=\"l\">%s</td>",
                        tcpi_linktype_name(f->linktype));
        tcpi_out_printf(o, "<td>%llu</td><td%s>%llu</td><td>%llu</td>"
                        "<td>%llu</td>", (unsigned long long)f->received,
                        f->dropped ? " class=\"warning\"" : "",
                        (unsigned long long)f->dropped,
                        (unsigned long long)f->if_dropped,
                        (unsigned long long)f->packets);
        tcpi_out_printf(o, "<td class=\"l %s\">%s ", f->status == TCPI_IF_ERROR
                        ? "error" : "", iface_status(f->status));
        tcpi_out_html(o, f->error, strlen(f->error));
        tcpi_out_str(o, "</td></tr>\n");
    }
    tcpi_out_str(o, "</table>\n");
    if (s->have_ring)
        tcpi_out_printf(o, "<p>Packet ring: %llu packets held of %llu "
                        "written, %llu overwritten, %llu%% full, oldest "
                        "%.1f s old.</p>\n",
                        (unsigned long long)(s->ring.packets - s->ring.overwritten),
                        (unsigned long long)s->ring.packets,
                        (unsigned long long)s->ring.overwritten,
                        (unsigned long long)(s->ring.data_size ? s->ring.used_bytes
                                             * 100 / s->ring.data_size : 0),
                        (double)oldest_age_ms(s) / 1000.0);
}

void tcpi_render_html(tcpi_out_t *o, const tcpi_snapshot_t *s,
                      const char *base)
{
    tcpi_out_str(o, html_head);
    tcpi_out_str(o, "<h1>mod_tcpinspect</h1>\n<nav>");
    tcpi_out_printf(o, "<a href=\"%s/status.json\">status.json</a>"
                    "<a href=\"%s/?auto\">?auto</a>"
                    "<a href=\"%s/metrics\">metrics</a>", base, base, base);
    tcpi_out_str(o, "</nav>\n");
    tcpi_out_printf(o, "<p>Generation %u.</p>\n", s->generation);
    html_capture(o, s);
    tcpi_out_str(o, "</body></html>\n");
}
