/* tcpi_report.c — snapshot and renderers (see tcpi_report.h). */
#include "tcpi_report.h"
#include "tcpi_reqview.h"

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
    s->sandbox = atomic_load(&w->worker_sandbox);
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
        tcpi_dcount_read(d->decode, &shm->decode[i]);
    }
    tcpi_trigger_status(&s->trigger, shm);
    tcpi_ring_t *ring = tcpi_shm_ring(w);
    if (ring != NULL) {
        tcpi_ring_stats(&s->ring, ring);
        s->have_ring = 1;
    }
    s->have_join = 1;
    s->reqlog_dropped = tcpi_reqlog_dropped(tcpi_shm_reqlog(shm));
    tcpi_sumtab_stats(&s->join, tcpi_shm_sumtab(shm));
    for (int ph = 0; ph < TCPI_PH_COUNT; ph++)
        tcpi_sumtab_hist(s->phase_bucket[ph], &s->phase_count[ph],
                         &s->phase_sum_ns[ph], tcpi_shm_sumtab(shm), ph);
}

void tcpi_snapshot_requests(tcpi_snapshot_t *s, const tcpi_shm_t *shm)
{
    uint64_t ks[TCPI_SNAP_REQUESTS];
    tcpi_req_filter_t all;

    s->nrecent = 0;
    if (shm == NULL)
        return;
    memset(&all, 0, sizeof(all));
    s->nrecent = tcpi_req_collect(s->recent, ks, TCPI_SNAP_REQUESTS,
                                  tcpi_shm_reqlog(shm), &all);
    for (int i = 0; i < s->nrecent; i++)
        s->recent_joined[i] = tcpi_sumtab_get_for(&s->recent_sum[i],
                                                  tcpi_shm_sumtab(shm), ks[i],
                                                  s->recent[i].id) == 0;
}

void tcpi_snapshot_counts(tcpi_snapshot_t *s,
                          const uint32_t count[TCPI_NSCOPES][TCPI_NSTATES],
                          const tcpi_threshold_t *th, int nth)
{
    s->counts_ok = 1;
    memcpy(s->count, count, sizeof(s->count));
    for (int sc = 0; sc < TCPI_NSCOPES; sc++) {
        s->total[sc] = 0;
        for (int st = 0; st < TCPI_NSTATES; st++)
            s->total[sc] += count[sc][st];
    }
    s->nresults = tcpi_threshold_eval(s->results, TCPI_MAX_RESULTS, th, nth,
                                      count);
}

void tcpi_snapshot_history(tcpi_snapshot_t *s, const tcpi_shm_t *shm,
                           uint32_t window_s)
{
    tcpi_shm_t *w = (tcpi_shm_t *)shm;
    uint64_t k_end, k_start, span;
    tcpi_hist_sample_t smp;

    s->nhist = 0;
    if (shm == NULL)
        return;
    k_end = atomic_load_explicit(&w->hist_count, memory_order_acquire);
    span = window_s < shm->hist_len ? window_s : shm->hist_len;
    k_start = k_end > span ? k_end - span : 0;
    if (k_end == k_start)
        return;
    s->hist_step_s = (uint32_t)((k_end - k_start + TCPI_HIST_POINTS - 1) /
                                TCPI_HIST_POINTS);
    if (s->hist_step_s == 0)
        s->hist_step_s = 1;
    memset(s->hist, 0, sizeof(s->hist));
    for (uint64_t k = k_start; k < k_end; k++) {
        uint32_t b = (uint32_t)((k - k_start) / s->hist_step_s);
        if (b >= TCPI_HIST_POINTS || tcpi_shm_hist_get(&smp, shm, k) != 0)
            continue;
        if (s->nhist == 0)
            s->hist_start_s = smp.time_s;
        for (int sc = 0; sc < TCPI_NSCOPES; sc++)
            for (int st = 0; st < TCPI_NSTATES; st++)
                if (smp.count[sc][st] > s->hist[b][sc][st])
                    s->hist[b][sc][st] = smp.count[sc][st];
        if (b + 1 > s->nhist)
            s->nhist = b + 1;
    }
}

void tcpi_snapshot_sysctl(tcpi_snapshot_t *s, const char *root)
{
    tcpi_sysctl_read(&s->sysctl, root);
    s->have_sysctl = 1;
    s->nadvice = tcpi_sysctl_advise(s->advice, TCPI_MAX_ADVICE, &s->sysctl,
                                    (const uint32_t (*)[TCPI_NSTATES])s->count,
                                    s->counts_ok);
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

/* capture.triggered: the TCPInspectCapture files. */
static void json_trigger(tcpi_out_t *o, const tcpi_trigger_status_t *t,
                         uint64_t now_ns)
{
    json_key(o, "triggered");
    tcpi_out_str(o, "{\"dir\":");
    if (t->dir[0])
        tcpi_out_json_str(o, t->dir, strlen(t->dir));
    else
        tcpi_out_str(o, "null");
    tcpi_out_printf(o, ",\"ok\":%s,", t->error ? "false" : "true");
    json_u64(o, "max_files", t->max_files, 1);
    json_u64(o, "max_bytes", t->max_bytes, 1);
    json_u64(o, "files", t->files, 1);
    json_u64(o, "bytes", t->bytes, 1);
    json_u64(o, "matched", t->matched, 1);
    json_u64(o, "written", t->written, 1);
    json_u64(o, "failed", t->failed, 1);
    json_u64(o, "skipped", t->skipped, 1);
    json_u64(o, "removed", t->removed, 1);
    json_u64(o, "records_missed", t->records_missed, 1);
    json_u64(o, "scanned", t->scanned, 1);
    json_strf(o, "last_error", t->last_error, 1);
    json_u64(o, "last_error_age_s", t->last_error_ns && now_ns > t->last_error_ns
             ? (now_ns - t->last_error_ns) / 1000000000ull : 0, 0);
    tcpi_out_mem(o, "}", 1);
}

/* Decode results summed over the interfaces (iface < 0) or of one. */
static void decode_counts(uint64_t n[TCPI_DR_COUNT], const tcpi_snapshot_t *s,
                          int iface)
{
    memset(n, 0, sizeof(uint64_t) * TCPI_DR_COUNT);
    for (uint32_t i = 0; i < s->niface; i++)
        for (int k = 0; k < TCPI_DR_COUNT && (iface < 0 || (int)i == iface); k++)
            n[k] += s->iface[i].decode[k];
}

/* "decode":{"ok":n,...}: every reason, zeros included. */
static void json_decode(tcpi_out_t *o, const tcpi_snapshot_t *s, int iface)
{
    uint64_t n[TCPI_DR_COUNT];

    decode_counts(n, s, iface);
    json_key(o, "decode");
    tcpi_out_mem(o, "{", 1);
    for (int k = 0; k < TCPI_DR_COUNT; k++)
        json_u64(o, tcpi_decode_reason_name(k), n[k], k + 1 < TCPI_DR_COUNT);
    tcpi_out_mem(o, "}", 1);
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
    tcpi_out_printf(o, "\"sandbox\":{\"no_new_privs\":%s,\"seccomp\":%s,"
                    "\"no_capabilities\":%s,\"not_dumpable\":%s},",
                    s->sandbox & TCPI_SANDBOXED_NO_NEW_PRIVS ? "true" : "false",
                    s->sandbox & TCPI_SANDBOXED_SECCOMP ? "true" : "false",
                    s->sandbox & TCPI_SANDBOXED_NO_CAPS ? "true" : "false",
                    s->sandbox & TCPI_SANDBOXED_NOT_DUMPABLE ? "true" : "false");
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
        json_u64(o, "bytes", f->bytes, 1);
        json_decode(o, s, (int)i);
        tcpi_out_mem(o, "}", 1);
    }
    tcpi_out_str(o, "],");
    json_decode(o, s, -1);
    tcpi_out_str(o, ",\"ring\":{");
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
    tcpi_out_str(o, "},\"request_log\":{");
    json_u64(o, "dropped", s->reqlog_dropped, 1);
    json_u64(o, "missed", s->join.records_missed, 1);
    json_u64(o, "corrupt", s->join.records_corrupt, 0);
    tcpi_out_str(o, "},");
    json_trigger(o, &s->trigger, s->now_wall_ns);
    tcpi_out_str(o, "}");
}

static void json_ports(tcpi_out_t *o, const tcpi_ports_t *p)
{
    tcpi_out_mem(o, "[", 1);
    for (int i = 0; i < p->n; i++) {
        if (i)
            tcpi_out_mem(o, ",", 1);
        tcpi_out_u64(o, p->port[i]);
    }
    tcpi_out_mem(o, "]", 1);
}

static void json_states(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    json_key(o, "states");
    tcpi_out_mem(o, "{", 1);
    for (int sc = 0; sc < TCPI_NSCOPES; sc++) {
        json_key(o, tcpi_scope_name(sc));
        tcpi_out_mem(o, "{", 1);
        for (int st = 0; st < TCPI_NSTATES; st++)
            json_u64(o, tcpi_state_name(st), s->count[sc][st], 1);
        json_u64(o, "total", s->total[sc], 1);
        json_key(o, "ports");
        json_ports(o, &s->ports[sc]);
        tcpi_out_str(o, sc + 1 < TCPI_NSCOPES ? "}," : "}");
    }
    tcpi_out_str(o, "},\"counts\":{\"ok\":");
    tcpi_out_str(o, s->counts_ok ? "true," : "false,");
    json_strf(o, "error", s->counts_error, 1);
    json_u64(o, "took_us", s->counts_took_us, 1);
    json_strf(o, "source", s->ev.used ? "events+dump" : "dump", 1);
    json_key(o, "events");
    tcpi_out_printf(o, "{\"loaded\":%s,", s->ev.loaded ? "true" : "false");
    json_u64(o, "changes", s->ev.changes, 1);
    json_u64(o, "seeded", s->ev.seeded, 1);
    json_u64(o, "lost", s->ev.lost, 1);
    json_u64(o, "raced", s->ev.raced, 1);
    json_u64(o, "checks", s->ev.checks, 1);
    json_u64(o, "agreed", s->ev.agreed, 1);
    json_u64(o, "disagreed", s->ev.disagreed, 1);
    tcpi_out_printf(o, "\"drift\":%s,", s->ev.drift ? "true" : "false");
    json_strf(o, "last_difference", s->ev.diff, 0);
    tcpi_out_str(o, "}},");
    json_key(o, "thresholds");
    tcpi_out_mem(o, "[", 1);
    for (int i = 0; i < s->nresults; i++) {
        const tcpi_threshold_result_t *r = &s->results[i];
        tcpi_out_str(o, i ? ",{" : "{");
        json_strf(o, "scope", tcpi_scope_name(r->scope), 1);
        json_strf(o, "state", tcpi_state_name(r->state), 1);
        json_u64(o, "warning", r->warning, 1);
        json_u64(o, "critical", r->critical, 1);
        json_u64(o, "value", r->value, 1);
        json_strf(o, "level", tcpi_level_name(r->level), 0);
        tcpi_out_mem(o, "}", 1);
    }
    tcpi_out_str(o, "],");
    json_strf(o, "level", tcpi_level_name(s->counts_ok
              ? tcpi_threshold_worst(s->results, s->nresults)
              : TCPI_LEVEL_UNKNOWN), 1);
}

static void json_history(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    json_key(o, "history");
    tcpi_out_mem(o, "{", 1);
    json_u64(o, "start", s->hist_start_s, 1);
    json_u64(o, "step_s", s->hist_step_s, 1);
    json_u64(o, "points", s->nhist, 1);
    json_key(o, "series");
    tcpi_out_mem(o, "{", 1);
    for (int sc = 0; sc < TCPI_NSCOPES; sc++) {
        json_key(o, tcpi_scope_name(sc));
        tcpi_out_mem(o, "{", 1);
        for (int st = 0; st < TCPI_NSTATES; st++) {
            json_key(o, tcpi_state_name(st));
            tcpi_out_mem(o, "[", 1);
            for (uint32_t i = 0; i < s->nhist; i++) {
                if (i)
                    tcpi_out_mem(o, ",", 1);
                tcpi_out_u64(o, s->hist[i][sc][st]);
            }
            tcpi_out_str(o, st + 1 < TCPI_NSTATES ? "]," : "]");
        }
        tcpi_out_str(o, sc + 1 < TCPI_NSCOPES ? "}," : "}");
    }
    tcpi_out_str(o, "}},");
}

/* sysctl.<name>: a number, a list of numbers, a string, or null when the
 * knob is absent or unreadable; then the advice. */
static void json_sysctl(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    if (!s->have_sysctl)
        return;
    json_key(o, "sysctl");
    for (int k = 0; k < TCPI_NSYSCTL; k++) {
        const tcpi_sysctl_value_t *v = &s->sysctl.k[k];
        tcpi_out_str(o, k ? "," : "{");
        json_key(o, tcpi_sysctl_name(k));
        if (v->present != 1) {
            tcpi_out_str(o, "null");
        } else if (v->nv == 1) {
            tcpi_out_printf(o, "%lld", (long long)v->v[0]);
        } else if (v->nv > 1) {
            for (int i = 0; i < v->nv; i++)
                tcpi_out_printf(o, "%s%lld", i ? "," : "[", (long long)v->v[i]);
            tcpi_out_str(o, "]");
        } else {
            tcpi_out_json_str(o, v->text, strlen(v->text));
        }
    }
    tcpi_out_str(o, "},");
    json_key(o, "advice");
    tcpi_out_str(o, "[");
    for (int i = 0; i < s->nadvice; i++) {
        tcpi_out_str(o, i ? ",{" : "{");
        json_strf(o, "level", tcpi_advice_level_name(s->advice[i].level), 1);
        json_strf(o, "topic", s->advice[i].topic, 1);
        json_strf(o, "text", s->advice[i].text, 0);
        tcpi_out_str(o, "}");
    }
    tcpi_out_str(o, "],");
}

void tcpi_render_json(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    tcpi_out_str(o, "{");
    json_u64(o, "time", s->now_wall_ns / 1000000000ull, 1);
    json_u64(o, "generation", s->generation, 1);
    json_states(o, s);
    json_sysctl(o, s);
    json_history(o, s);
    json_capture(o, s);
    tcpi_out_str(o, ",\"recent_requests\":[");
    for (int i = 0; i < s->nrecent; i++) {
        if (i)
            tcpi_out_str(o, ",");
        tcpi_render_request_json(o, &s->recent[i], s->recent_joined[i]
                                 ? &s->recent_sum[i] : NULL, 0);
    }
    tcpi_out_str(o, "]}\n");
}

void tcpi_render_nagios(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    char line[4096];
    size_t n = tcpi_threshold_nagios(line, sizeof(line), s->results,
                                     s->nresults, s->counts_ok,
                                     s->counts_error);
    tcpi_out_mem(o, line, n < sizeof(line) ? n : sizeof(line) - 1);
}

/* ---- ?auto ----------------------------------------------------------- */

void tcpi_render_auto(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    tcpi_out_printf(o, "Generation: %u\n", s->generation);
    tcpi_out_printf(o, "CountsOK: %d\n", s->counts_ok);
    tcpi_out_printf(o, "CountsSource: %s\n", s->ev.used ? "events+dump" : "dump");
    for (int sc = 0; sc < TCPI_NSCOPES; sc++) {
        for (int st = 0; st < TCPI_NSTATES; st++)
            tcpi_out_printf(o, "%s.%s: %u\n", tcpi_scope_name(sc),
                            tcpi_state_name(st), s->count[sc][st]);
        tcpi_out_printf(o, "%s.total: %u\n", tcpi_scope_name(sc), s->total[sc]);
    }
    for (int i = 0; i < s->nresults; i++) {
        const tcpi_threshold_result_t *r = &s->results[i];
        int rep = 1;             /* keys stay unique: .2, .3 for repeats */
        for (int k = 0; k < i; k++)
            rep += s->results[k].scope == r->scope &&
                   s->results[k].state == r->state;
        tcpi_out_printf(o, "threshold.%s.%s", tcpi_scope_name(r->scope),
                        tcpi_state_name(r->state));
        if (rep > 1)
            tcpi_out_printf(o, ".%d", rep);
        tcpi_out_printf(o, ": %s %u (warning %u, critical %u)\n",
                        tcpi_level_name(r->level), r->value, r->warning,
                        r->critical);
    }
    tcpi_out_printf(o, "Level: %s\n", tcpi_level_name(s->counts_ok
                    ? tcpi_threshold_worst(s->results, s->nresults)
                    : TCPI_LEVEL_UNKNOWN));
    for (int k = 0; k < TCPI_NSYSCTL && s->have_sysctl; k++) {
        const tcpi_sysctl_value_t *v = &s->sysctl.k[k];
        tcpi_out_printf(o, "sysctl.%s: %s\n", tcpi_sysctl_name(k),
                        v->present == 1 ? v->text
                        : v->present == 0 ? "absent" : "unreadable");
    }
    for (int i = 0; i < s->nadvice; i++)
        tcpi_out_printf(o, "advice.%s: %s\n", s->advice[i].topic,
                        tcpi_advice_level_name(s->advice[i].level));
    tcpi_out_printf(o, "CaptureRunning: %d\n", s->running);
    tcpi_out_printf(o, "CapturePid: %d\n", s->pid);
    tcpi_out_printf(o, "CaptureUptime: %llu\n", (unsigned long long)s->uptime_s);
    tcpi_out_printf(o, "CaptureRestarts: %u\n", s->restarts);
    tcpi_out_printf(o, "CaptureSandboxed: %d\n", s->sandbox == 15);
    for (uint32_t i = 0; i < s->niface; i++) {
        const tcpi_snap_iface_t *f = &s->iface[i];
        /* Interface names were checked at config time: no spaces, no ':'
         * at the start, printable. */
        tcpi_out_printf(o, "capture.%s.received: %llu\n", f->name,
                        (unsigned long long)f->received);
        tcpi_out_printf(o, "capture.%s.dropped: %llu\n", f->name,
                        (unsigned long long)f->dropped);
        tcpi_out_printf(o, "capture.%s.if_dropped: %llu\n", f->name,
                        (unsigned long long)f->if_dropped);
    }
    {
        uint64_t n[TCPI_DR_COUNT];
        decode_counts(n, s, -1);
        for (int k = 0; k < TCPI_DR_COUNT; k++)
            tcpi_out_printf(o, "capture.decode.%s: %llu\n",
                            tcpi_decode_reason_name(k), (unsigned long long)n[k]);
    }
    tcpi_out_printf(o, "RingPackets: %llu\n", (unsigned long long)s->ring.packets);
    tcpi_out_printf(o, "RingBytes: %llu\n", (unsigned long long)s->ring.bytes);
    tcpi_out_printf(o, "RingOverwritten: %llu\n",
                    (unsigned long long)s->ring.overwritten);
    tcpi_out_printf(o, "RingFillPercent: %llu\n", (unsigned long long)
                    (s->ring.data_size ? s->ring.used_bytes * 100 /
                                         s->ring.data_size : 0));
    tcpi_out_printf(o, "RingOldestAgeMs: %llu\n",
                    (unsigned long long)oldest_age_ms(s));
    tcpi_out_printf(o, "RequestsCorrupt: %llu\n",
                    (unsigned long long)s->join.records_corrupt);
    tcpi_out_printf(o, "TriggeredOK: %d\n", !s->trigger.error);
    tcpi_out_printf(o, "TriggeredFiles: %llu\n",
                    (unsigned long long)s->trigger.files);
    tcpi_out_printf(o, "TriggeredWritten: %llu\n",
                    (unsigned long long)s->trigger.written);
    tcpi_out_printf(o, "TriggeredFailed: %llu\n",
                    (unsigned long long)s->trigger.failed);
    tcpi_out_printf(o, "TriggeredSkipped: %llu\n",
                    (unsigned long long)s->trigger.skipped);
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

/* The request join: counters, and the wire timings as one histogram
 * with a phase label (names from the phase table, never from requests). */
static void render_join_metrics(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    const double *le = tcpi_join_bucket_ms();
    static const struct { const char *name, *help; size_t off; } jm[] = {
        { "tcpinspect_requests_joined_total",
          "Requests joined to their packets by the capture worker.",
          offsetof(tcpi_join_stats_t, joined) },
        { "tcpinspect_requests_missed_total",
          "Request records overwritten in the log before the join read them.",
          offsetof(tcpi_join_stats_t, records_missed) },
        { "tcpinspect_requests_corrupt_total",
          "Request log records that no httpd child writes (corrupt shared "
          "memory), passed over by the join.",
          offsetof(tcpi_join_stats_t, records_corrupt) },
        { "tcpinspect_join_packets_lost_total",
          "Packets overwritten in the ring before the join read them.",
          offsetof(tcpi_join_stats_t, packets_lost) },
        { "tcpinspect_flow_evictions_total",
          "Flows replaced in the full flow table.",
          offsetof(tcpi_join_stats_t, evictions) },
    };

    prom_head(o, "tcpinspect_requests_dropped_total", "counter",
              "Request records dropped by the full request log.");
    tcpi_out_printf(o, "tcpinspect_requests_dropped_total %llu\n",
                    (unsigned long long)s->reqlog_dropped);
    for (size_t m = 0; m < TCPI_ARRAY_LEN(jm); m++) {
        prom_head(o, jm[m].name, "counter", jm[m].help);
        tcpi_out_printf(o, "%s %llu\n", jm[m].name, (unsigned long long)
                        *(const uint64_t *)((const char *)&s->join + jm[m].off));
    }
    prom_head(o, "tcpinspect_request_phase_seconds", "histogram",
              "Wire timings of requests per phase, measured on the packets.");
    for (int ph = 0; ph < TCPI_PH_COUNT; ph++) {
        const char *name = tcpi_join_phase_name(ph);
        uint64_t cum = 0;
        for (int b = 0; b < TCPI_JOIN_NBUCKETS; b++) {
            cum += s->phase_bucket[ph][b];
            if (b < TCPI_JOIN_NBUCKETS - 1)
                tcpi_out_printf(o, "tcpinspect_request_phase_seconds_bucket"
                                "{phase=\"%s\",le=\"%g\"} %llu\n", name,
                                le[b] / 1000.0, (unsigned long long)cum);
            else
                tcpi_out_printf(o, "tcpinspect_request_phase_seconds_bucket"
                                "{phase=\"%s\",le=\"+Inf\"} %llu\n", name,
                                (unsigned long long)cum);
        }
        tcpi_out_printf(o, "tcpinspect_request_phase_seconds_sum{phase=\"%s\"} "
                        "%.9f\ntcpinspect_request_phase_seconds_count"
                        "{phase=\"%s\"} %llu\n", name,
                        (double)s->phase_sum_ns[ph] / 1e9, name,
                        (unsigned long long)s->phase_count[ph]);
    }
}

void tcpi_render_metrics(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    prom_head(o, "tcpinspect_sockets", "gauge",
              "TCP sockets per scope and netstat state, from the kernel.");
    for (int sc = 0; sc < TCPI_NSCOPES && s->counts_ok; sc++)
        for (int st = 0; st < TCPI_NSTATES; st++)
            tcpi_out_printf(o, "tcpinspect_sockets{scope=\"%s\",state=\"%s\"} %u\n",
                            tcpi_scope_name(sc), tcpi_state_name(st),
                            s->count[sc][st]);
    prom_head(o, "tcpinspect_threshold_level", "gauge",
              "0 ok, 1 warning, 2 critical, per configured threshold.");
    for (int i = 0; i < s->nresults; i++)
        tcpi_out_printf(o, "tcpinspect_threshold_level{scope=\"%s\",state=\"%s\","
                        "warning=\"%u\",critical=\"%u\"} %d\n",
                        tcpi_scope_name(s->results[i].scope),
                        tcpi_state_name(s->results[i].state),
                        s->results[i].warning, s->results[i].critical,
                        s->results[i].level);
    prom_head(o, "tcpinspect_sysctl", "gauge",
              "Kernel settings that govern the TCP states (read-only); index "
              "is the position in a multi-value setting.");
    for (int k = 0; k < TCPI_NSYSCTL && s->have_sysctl; k++)
        for (int i = 0; i < s->sysctl.k[k].nv && s->sysctl.k[k].present == 1; i++)
            tcpi_out_printf(o, "tcpinspect_sysctl{name=\"%s\",index=\"%d\"} %lld\n",
                            tcpi_sysctl_name(k), i,
                            (long long)s->sysctl.k[k].v[i]);
    prom_head(o, "tcpinspect_advice_level", "gauge",
              "Sysctl advisor: 0 ok, 1 info, 2 warning, 3 critical, per topic.");
    for (int i = 0; i < s->nadvice; i++)
        tcpi_out_printf(o, "tcpinspect_advice_level{topic=\"%s\"} %d\n",
                        s->advice[i].topic, s->advice[i].level);
    prom_head(o, "tcpinspect_count_seconds", "gauge",
              "Time the kernel dump for these counts took.");
    tcpi_out_printf(o, "tcpinspect_count_seconds %.6f\n",
                    (double)s->counts_took_us / 1e6);
    prom_head(o, "tcpinspect_count_events_used", "gauge",
              "1 when full sockets were counted from state-change events.");
    tcpi_out_printf(o, "tcpinspect_count_events_used %d\n", s->ev.used);
    prom_head(o, "tcpinspect_count_event_checks_total", "counter",
              "Checks of the event counts against a kernel dump, by result.");
    tcpi_out_printf(o, "tcpinspect_count_event_checks_total{result=\"agreed\"} %llu\n"
                    "tcpinspect_count_event_checks_total{result=\"disagreed\"} %llu\n",
                    (unsigned long long)s->ev.agreed,
                    (unsigned long long)s->ev.disagreed);
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
        { "tcpinspect_interface_bytes_total",
          "Captured bytes written to the ring.",
          offsetof(tcpi_snap_iface_t, bytes) },
    };
    for (size_t m = 0; m < TCPI_ARRAY_LEN(ifm); m++) {
        prom_head(o, ifm[m].name, "counter", ifm[m].help);
        for (uint32_t i = 0; i < s->niface; i++)
            prom_iface(o, ifm[m].name, &s->iface[i],
                       *(const uint64_t *)((const char *)&s->iface[i] +
                                           ifm[m].off));
    }
    prom_head(o, "tcpinspect_decode_packets_total", "counter",
              "Captured frames the worker decoded, by result: ok, or the "
              "reason the decoder rejected the frame.");
    for (uint32_t i = 0; i < s->niface; i++)
        for (int k = 0; k < TCPI_DR_COUNT; k++) {
            tcpi_out_str(o, "tcpinspect_decode_packets_total{interface=\"");
            tcpi_out_prom_label(o, s->iface[i].name, strlen(s->iface[i].name));
            tcpi_out_printf(o, "\",reason=\"%s\"} %llu\n",
                            tcpi_decode_reason_name(k),
                            (unsigned long long)s->iface[i].decode[k]);
        }
    const struct { const char *name, *type, *help; uint64_t v; } ringm[] = {
        { "tcpinspect_ring_packets_total", "counter",
          "Packets written to the ring since the worker started.",
          s->ring.packets },
        { "tcpinspect_ring_bytes_total", "counter",
          "Captured bytes written to the ring.", s->ring.bytes },
        { "tcpinspect_ring_size_bytes", "gauge",
          "Size of the ring's data area.", s->ring.data_size },
        { "tcpinspect_ring_overwritten_total", "counter",
          "Packets overwritten in the ring before anyone read them.",
          s->ring.overwritten },
        { "tcpinspect_triggered_matched_total", "counter",
          "Requests whose TCPInspectCapture rule matched.",
          s->trigger.matched },
        { "tcpinspect_triggered_written_total", "counter",
          "Per-request capture files written.", s->trigger.written },
        { "tcpinspect_triggered_failed_total", "counter",
          "Per-request captures that could not be written (see status.json).",
          s->trigger.failed },
        { "tcpinspect_triggered_skipped_total", "counter",
          "Per-request captures skipped: packets gone or worker over budget.",
          s->trigger.skipped },
        { "tcpinspect_triggered_scanned_total", "counter",
          "Per-request captures selected by scanning the ring: the join's "
          "flows no longer covered the request.", s->trigger.scanned },
        { "tcpinspect_triggered_removed_total", "counter",
          "Oldest capture files removed for TCPInspectCaptureLimit.",
          s->trigger.removed },
        { "tcpinspect_triggered_files", "gauge",
          "Capture files in TCPInspectCaptureDir.", s->trigger.files },
        { "tcpinspect_triggered_bytes", "gauge",
          "Bytes of capture files in TCPInspectCaptureDir.", s->trigger.bytes },
    };
    for (size_t m = 0; m < TCPI_ARRAY_LEN(ringm); m++) {
        prom_head(o, ringm[m].name, ringm[m].type, ringm[m].help);
        tcpi_out_printf(o, "%s %llu\n", ringm[m].name,
                        (unsigned long long)ringm[m].v);
    }
    prom_head(o, "tcpinspect_ring_fill_ratio", "gauge",
              "Fraction of the ring's data area holding packets.");
    tcpi_out_printf(o, "tcpinspect_ring_fill_ratio %.4f\n", s->ring.data_size
                    ? (double)s->ring.used_bytes / (double)s->ring.data_size : 0.0);
    prom_head(o, "tcpinspect_ring_oldest_age_seconds", "gauge",
              "Age of the oldest packet in the ring.");
    tcpi_out_printf(o, "tcpinspect_ring_oldest_age_seconds %.3f\n",
                    (double)oldest_age_ms(s) / 1000.0);
    if (s->have_join)
        render_join_metrics(o, s);
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
    "code{font-size:.95em}nav a{margin-right:1em}th{font-size:.85em}"
    ".req td{text-align:left}.req td.r{text-align:right}"
    ".req tr.e{background:#f7c1c1}.req tr.w{background:#fbe7b5}\n"
    "</style></head><body>\n";

static const char *const state_colour[TCPI_NSTATES] = {
    "#1f77b4", "#ff7f0e", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#2ca02c", "#000000",
};

static int cell_level(const tcpi_snapshot_t *s, int sc, int st)
{
    int lvl = -1;
    for (int i = 0; i < s->nresults; i++)
        if (s->results[i].scope == sc && s->results[i].state == st &&
            s->results[i].level > lvl)
            lvl = s->results[i].level;
    return lvl;
}

static void html_ports(tcpi_out_t *o, const tcpi_ports_t *p)
{
    for (int i = 0; i < p->n; i++)
        tcpi_out_printf(o, "%s%u", i ? " " : "", p->port[i]);
    if (p->n == 0)
        tcpi_out_str(o, "none");
}

void tcpi_render_html_states(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    tcpi_out_str(o, "<h2 id=\"states\">TCP states</h2>\n");
    if (!s->counts_ok) {
        tcpi_out_str(o, "<p class=\"error\">Cannot count sockets: ");
        tcpi_out_html(o, s->counts_error, strlen(s->counts_error));
        tcpi_out_str(o, "</p>\n");
    }
    tcpi_out_str(o, "<table><tr><th class=\"l\">scope</th>"
                 "<th class=\"l\">ports</th>");
    for (int st = 0; st < TCPI_NSTATES; st++)
        tcpi_out_printf(o, "<th>%s</th>", tcpi_state_name(st));
    tcpi_out_str(o, "<th>total</th></tr>\n");
    for (int sc = 0; sc < TCPI_NSCOPES; sc++) {
        tcpi_out_printf(o, "<tr><td class=\"l\">%s</td><td class=\"l\">",
                        tcpi_scope_name(sc));
        html_ports(o, &s->ports[sc]);
        tcpi_out_str(o, "</td>");
        for (int st = 0; st < TCPI_NSTATES; st++) {
            int lvl = cell_level(s, sc, st);
            if (lvl >= 0)
                tcpi_out_printf(o, "<td class=\"%s\">%u</td>",
                                tcpi_level_name(lvl), s->count[sc][st]);
            else
                tcpi_out_printf(o, "<td>%u</td>", s->count[sc][st]);
        }
        tcpi_out_printf(o, "<td>%u</td></tr>\n", s->total[sc]);
    }
    if (s->ev.used)
        tcpi_out_printf(o, "</table>\n<p>Counted from the kernel in %llu &micro;s: "
                        "full sockets from state-change events (%llu changes "
                        "since load; checked against a dump %llu times, %llu "
                        "agreed), TIME_WAIT, FIN_WAIT2 and request sockets "
                        "with sock_diag.</p>\n",
                        (unsigned long long)s->counts_took_us,
                        (unsigned long long)s->ev.changes,
                        (unsigned long long)s->ev.checks,
                        (unsigned long long)s->ev.agreed);
    else
        tcpi_out_printf(o, "</table>\n<p>Counted from the kernel (sock_diag) in "
                        "%llu &micro;s%s.</p>\n", (unsigned long long)s->counts_took_us,
                        s->ev.drift ? "; the state-change events disagreed with "
                        "the kernel and are not used until the next restart" : "");
    if (s->nresults == 0)
        return;
    tcpi_out_str(o, "<table><tr><th class=\"l\">threshold</th><th>value</th>"
                 "<th>warning</th><th>critical</th><th class=\"l\">level</th>"
                 "</tr>\n");
    for (int i = 0; i < s->nresults; i++) {
        const tcpi_threshold_result_t *r = &s->results[i];
        tcpi_out_printf(o, "<tr class=\"%s\"><td class=\"l\">%s %s</td>"
                        "<td>%u</td><td>%u</td><td>%u</td><td class=\"l\">%s"
                        "</td></tr>\n", tcpi_level_name(r->level),
                        tcpi_scope_name(r->scope), tcpi_state_name(r->state),
                        r->value, r->warning, r->critical,
                        tcpi_level_name(r->level));
    }
    tcpi_out_str(o, "</table>\n");
}

/* One inline SVG chart per scope: no script, no external resource. */
static void html_history(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    const int W = 720, H = 160, L = 50, B = 20;

    tcpi_out_str(o, "<h2 id=\"history\">State history</h2>\n");
    if (s->nhist == 0) {
        tcpi_out_str(o, "<p>No samples yet: the capture worker takes one a "
                     "second while TCPInspectEngine is On.</p>\n");
        return;
    }
    tcpi_out_printf(o, "<p>Last %u s, one point per %u s (the maximum of "
                    "each interval).</p>\n", s->nhist * s->hist_step_s,
                    s->hist_step_s);
    for (int sc = 0; sc < TCPI_NSCOPES; sc++) {
        uint32_t max = 1;
        for (uint32_t i = 0; i < s->nhist; i++)
            for (int st = 0; st < TCPI_NSTATES; st++)
                if (s->hist[i][sc][st] > max)
                    max = s->hist[i][sc][st];
        tcpi_out_printf(o, "<figure><figcaption>%s</figcaption>"
                        "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                        "width=\"%d\" height=\"%d\" role=\"img\" "
                        "aria-label=\"%s state history\">"
                        "<rect x=\"%d\" y=\"0\" width=\"%d\" height=\"%d\" "
                        "fill=\"#fafafa\" stroke=\"#ccc\"/>"
                        "<text x=\"%d\" y=\"12\" font-size=\"11\" "
                        "text-anchor=\"end\">%u</text>"
                        "<text x=\"%d\" y=\"%d\" font-size=\"11\" "
                        "text-anchor=\"end\">0</text>",
                        tcpi_scope_name(sc), W + 190, H + B,
                        tcpi_scope_name(sc), L, W, H, L - 4, max, L - 4, H);
        for (int st = 0; st < TCPI_NSTATES; st++) {
            int any = 0;
            for (uint32_t i = 0; i < s->nhist && !any; i++)
                any = s->hist[i][sc][st] != 0;
            if (!any)
                continue;
            tcpi_out_printf(o, "<polyline fill=\"none\" stroke=\"%s\" "
                            "stroke-width=\"1.5\" points=\"", state_colour[st]);
            for (uint32_t i = 0; i < s->nhist; i++) {
                double x = L + (s->nhist > 1 ? (double)i * W / (s->nhist - 1) : 0);
                double y = H - (double)s->hist[i][sc][st] * (H - 4) / max;
                tcpi_out_printf(o, "%.1f,%.1f ", x, y);
            }
            tcpi_out_str(o, "\"/>");
        }
        for (int st = 0, row = 0; st < TCPI_NSTATES; st++) {
            tcpi_out_printf(o, "<text x=\"%d\" y=\"%d\" font-size=\"11\" "
                            "fill=\"%s\">%s %u</text>", L + W + 8,
                            12 + row * 14, state_colour[st],
                            tcpi_state_name(st),
                            s->nhist ? s->hist[s->nhist - 1][sc][st] : 0);
            row++;
        }
        tcpi_out_str(o, "</svg></figure>\n");
    }
}

static void html_trigger(tcpi_out_t *o, const tcpi_trigger_status_t *t)
{
    tcpi_out_str(o, "<p>Triggered captures (TCPInspectCapture): ");
    if (!t->dir[0]) {
        tcpi_out_printf(o, "%llu matched; no TCPInspectCaptureDir, so their "
                        "packets are only in the ring.</p>\n",
                        (unsigned long long)t->matched);
        return;
    }
    tcpi_out_str(o, "<code>");
    tcpi_out_html(o, t->dir, strlen(t->dir));
    tcpi_out_printf(o, "</code> holds %llu file(s), %llu bytes (limit %llu "
                    "files, %llu bytes); %llu matched, %llu written, %llu "
                    "failed, %llu skipped, %llu removed for the limit; %llu "
                    "selected by scanning the ring (their flows had left the "
                    "join's table).",
                    (unsigned long long)t->files, (unsigned long long)t->bytes,
                    (unsigned long long)t->max_files,
                    (unsigned long long)t->max_bytes,
                    (unsigned long long)t->matched,
                    (unsigned long long)t->written,
                    (unsigned long long)t->failed,
                    (unsigned long long)t->skipped,
                    (unsigned long long)t->removed,
                    (unsigned long long)t->scanned);
    if (t->error) {
        tcpi_out_str(o, " <span class=\"critical\">Not writing: ");
        tcpi_out_html(o, t->last_error, strlen(t->last_error));
        tcpi_out_str(o, "</span> (requests are served; capture goes on in "
                     "the ring)");
    }
    tcpi_out_str(o, "</p>\n");
}

/* Decode results per interface: one row per reason, zeros included. */
static void html_decode(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    tcpi_out_str(o, "<table id=\"decode\"><tr><th class=\"l\">decoded frames"
                 "</th>");
    for (uint32_t i = 0; i < s->niface; i++) {
        tcpi_out_str(o, "<th>");
        tcpi_out_html(o, s->iface[i].name, strlen(s->iface[i].name));
        tcpi_out_str(o, "</th>");
    }
    tcpi_out_str(o, "<th class=\"l\">meaning</th></tr>\n");
    for (int k = 0; k < TCPI_DR_COUNT; k++) {
        tcpi_out_printf(o, "<tr><td class=\"l\"><code>%s</code></td>",
                        tcpi_decode_reason_name(k));
        for (uint32_t i = 0; i < s->niface; i++)
            tcpi_out_printf(o, "<td%s>%llu</td>", k != TCPI_DR_ok &&
                            s->iface[i].decode[k] ? " class=\"warning\"" : "",
                            (unsigned long long)s->iface[i].decode[k]);
        tcpi_out_printf(o, "<td class=\"l\">%s</td></tr>\n",
                        tcpi_decode_reason_text(k));
    }
    tcpi_out_str(o, "</table>\n");
}

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
    html_decode(o, s);
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
    if (s->join.records_corrupt)
        tcpi_out_printf(o, "<p class=\"warning\">Request log: %llu corrupt "
                        "records passed over (shared memory written by "
                        "something other than this module).</p>\n",
                        (unsigned long long)s->join.records_corrupt);
    html_trigger(o, &s->trigger);
}

static void html_sysctl(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    static const char *const cls[] = { "ok", "ok", "warning", "critical" };

    if (!s->have_sysctl)
        return;
    tcpi_out_str(o, "<h2 id=\"sysctl\">Kernel settings and advice</h2>\n"
                 "<p>Read from /proc/sys (never written by this module).</p>\n<ul>");
    for (int i = 0; i < s->nadvice; i++) {
        const tcpi_advice_t *a = &s->advice[i];
        tcpi_out_printf(o, "<li class=\"%s\"><b>%s</b> ", cls[a->level & 3],
                        tcpi_advice_level_name(a->level));
        tcpi_out_html(o, a->text, strlen(a->text));
        tcpi_out_str(o, "</li>\n");
    }
    tcpi_out_str(o, "</ul>\n<table><tr><th class=\"l\">sysctl</th>"
                 "<th class=\"l\">value</th><th class=\"l\">governs</th></tr>\n");
    for (int k = 0; k < TCPI_NSYSCTL; k++) {
        const tcpi_sysctl_value_t *v = &s->sysctl.k[k];
        tcpi_out_printf(o, "<tr><td class=\"l\"><code>%s</code></td>"
                        "<td class=\"l\">", tcpi_sysctl_path(k));
        if (v->present == 1)
            tcpi_out_html(o, v->text, strlen(v->text));
        else
            tcpi_out_str(o, v->present == 0 ? "<i>absent</i>" : "<i>unreadable</i>");
        tcpi_out_str(o, "</td><td class=\"l\">");
        tcpi_out_html(o, tcpi_sysctl_help(k), strlen(tcpi_sysctl_help(k)));
        tcpi_out_str(o, "</td></tr>\n");
    }
    tcpi_out_str(o, "</table>\n");
}

static void html_requests(tcpi_out_t *o, const tcpi_snapshot_t *s,
                          const char *base)
{
    tcpi_out_printf(o, "<h2>Recent requests</h2>\n<p>The newest %d; all of "
                    "them, filtered, on <a href=\"%s/requests\">requests</a>."
                    "</p>\n", s->nrecent, base);
    if (s->nrecent == 0)
        return;
    tcpi_render_requests_thead(o);
    for (int i = 0; i < s->nrecent; i++)
        tcpi_render_request_row(o, &s->recent[i], s->recent_joined[i]
                                ? &s->recent_sum[i] : NULL, base);
    tcpi_out_str(o, "</table>\n");
}

void tcpi_render_html(tcpi_out_t *o, const tcpi_snapshot_t *s,
                      const char *base)
{
    tcpi_out_str(o, html_head);
    tcpi_out_str(o, "<h1>mod_tcpinspect</h1>\n<nav>");
    tcpi_out_printf(o, "<a href=\"%s/packets\">packets</a>"
                    "<a href=\"%s/requests\">requests</a>"
                    "<a href=\"%s/flows\">flows</a>"
                    "<a href=\"%s/capture.pcapng\">capture.pcapng</a>"
                    "<a href=\"%s/status.json\">status.json</a>"
                    "<a href=\"%s/?auto\">?auto</a>"
                    "<a href=\"%s/?nagios\">nagios</a>"
                    "<a href=\"%s/metrics\">metrics</a>",
                    base, base, base, base, base, base, base, base);
    tcpi_out_str(o, "</nav>\n");
    const char *lvl = tcpi_level_name(s->counts_ok
                                      ? tcpi_threshold_worst(s->results, s->nresults)
                                      : TCPI_LEVEL_UNKNOWN);
    tcpi_out_printf(o, "<p>Generation %u. Level: <span class=\"%s\">%s</span>"
                    "</p>\n", s->generation, lvl, lvl);
    tcpi_render_html_states(o, s);
    html_history(o, s);
    html_capture(o, s);
    html_sysctl(o, s);
    html_requests(o, s, base);
    tcpi_out_str(o, "</body></html>\n");
}
