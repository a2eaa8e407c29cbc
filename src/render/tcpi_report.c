/* tcpi_report.c — snapshot and renderers (see tcpi_report.h). */
#include "tcpi_report.h"
#include "tcpi_counters.h"
#include "tcpi_reqview.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

/* The module's version: the Makefile reads it from debian/changelog, the
 * one place it is written, and passes it to every build. */
#ifndef TCPI_VERSION
#error "TCPI_VERSION is not defined: build with the Makefile"
#endif

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
    s->sample_errors = atomic_load(&w->sample_errors);
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
    s->json_log.kind = shm->json_log.kind;
    s->json_log.written = atomic_load(&w->json_log.st.written);
    s->json_log.delayed = atomic_load(&w->json_log.st.delayed);
    s->json_log.dropped = atomic_load(&w->json_log.st.dropped);
    s->json_log.write_errors = atomic_load(&w->json_log.st.write_errors);
    s->json_log.pending_bytes = atomic_load(&w->json_log.st.pending_bytes);
    s->hs.kept = atomic_load(&w->hskeep.kept);
    s->hs.connections = atomic_load(&w->hskeep.connections);
    s->hs.complete = atomic_load(&w->hskeep.complete);
    s->hs.cut = atomic_load(&w->hskeep.cut);
    s->hs.packets = atomic_load(&w->hskeep.packets);
    s->hs.missed = atomic_load(&w->hskeep.missed);
    tcpi_ring_t *hs = tcpi_shm_hsring(w);
    if (hs != NULL)
        tcpi_ring_stats(&s->hs.ring, hs);
    tcpi_ring_t *ring = tcpi_shm_ring(w);
    if (ring != NULL) {
        tcpi_ring_stats(&s->ring, ring);
        s->have_ring = 1;
    }
    s->req.have_join = 1;
    s->req.log_dropped = tcpi_reqlog_dropped(tcpi_shm_reqlog(shm));
    tcpi_sumtab_stats(&s->req.join, tcpi_shm_sumtab(shm));
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
    span = window_s < TCPI_HIST_LEN ? window_s : TCPI_HIST_LEN;
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

static const char *overall_level(const tcpi_snapshot_t *s)
{
    return tcpi_level_name(s->counts_ok
                           ? tcpi_threshold_worst(s->results, s->nresults)
                           : TCPI_LEVEL_UNKNOWN);
}

static uint64_t ring_fill_percent(const tcpi_snapshot_t *s)
{
    return s->ring.data_size ? s->ring.used_bytes * 100 / s->ring.data_size : 0;
}

/* ---- the counter families (tcpi_counters.h) --------------------------- */

TCPI_CTR_FAMILY(worker, TCPI_CTR_WORKER, tcpi_snapshot_t,
                TCPI_CTR_SRC_SNAPSHOT, "capture worker", "capture", "");
TCPI_CTR_FAMILY(ring, TCPI_CTR_RING, tcpi_snapshot_t,
                TCPI_CTR_SRC_SNAPSHOT, "packet ring", "capture.ring", "");
TCPI_CTR_FAMILY(trigger, TCPI_CTR_TRIGGER, tcpi_snapshot_t,
                TCPI_CTR_SRC_SNAPSHOT, "triggered captures",
                "capture.triggered", "");
TCPI_CTR_FAMILY(jsonlog, TCPI_CTR_JSONLOG, tcpi_snapshot_t,
                TCPI_CTR_SRC_SNAPSHOT, "JSON request log", "capture.json_log",
                "");
TCPI_CTR_FAMILY(hsstore, TCPI_CTR_HSSTORE, tcpi_snapshot_t,
                TCPI_CTR_SRC_SNAPSHOT, "handshake store",
                "capture.handshake_store", "");
TCPI_CTR_FAMILY(counts, TCPI_CTR_COUNTS, tcpi_snapshot_t,
                TCPI_CTR_SRC_SNAPSHOT, "state counts", "counts", "");
TCPI_CTR_FAMILY(events, TCPI_CTR_EVENTS, tcpi_snapshot_t,
                TCPI_CTR_SRC_SNAPSHOT, "state-change events",
                "counts.events", "");
TCPI_CTR_FAMILY(iface, TCPI_CTR_IFACE, tcpi_snap_iface_t, TCPI_CTR_SRC_IFACE,
                "interfaces", "capture.interfaces.*", "capture.*.");

/* The decoder's reasons are a table already (tcpi_decode.h). */
#define DECODE_DESC(name, text)                                              \
    { TCPI_DR_##name == TCPI_DR_ok ? TCPI_CT_COUNTER : TCPI_CT_LOSS, #name,  \
      #name, "tcpinspect_decode_packets_total{reason=\"" #name "\"}", 1,     \
      TCPI_CTR_DECODE_HELP, #name },
static const tcpi_counter_t decode_c[] = { TCPI_DECODE_REASONS(DECODE_DESC) };
_Static_assert(TCPI_DR_COUNT <= TCPI_CTR_MAX, "decode: too many reasons");

static void decode_values(uint64_t *out, const void *src)
{
    const tcpi_snap_iface_t *f = src;
    memcpy(out, f->decode, sizeof(f->decode));
}

const tcpi_counter_family_t tcpi_ctr_decode = {
    "decode", "decoded frames", "capture.interfaces.*.decode",
    "capture.*.decode.", TCPI_CTR_SRC_IFACE, decode_c, TCPI_DR_COUNT,
    decode_values
};

const tcpi_counter_family_t *const tcpi_counter_families[] = {
    &tcpi_ctr_counts, &tcpi_ctr_events, &tcpi_ctr_worker, &tcpi_ctr_iface,
    &tcpi_ctr_decode, &tcpi_ctr_ring, &tcpi_ctr_reqlog, &tcpi_ctr_join,
    &tcpi_ctr_trigger, &tcpi_ctr_jsonlog, &tcpi_ctr_hsstore, NULL
};

/* A family's values from the snapshot (not for the per-interface ones). */
static void values_of(uint64_t v[TCPI_CTR_MAX], const tcpi_counter_family_t *f,
                      const tcpi_snapshot_t *s)
{
    f->values(v, f->src == TCPI_CTR_SRC_REQ ? (const void *)&s->req
                                            : (const void *)s);
}

/* Decode results summed over the interfaces. */
static void decode_sum(uint64_t n[TCPI_DR_COUNT], const tcpi_snapshot_t *s)
{
    memset(n, 0, sizeof(uint64_t) * TCPI_DR_COUNT);
    for (uint32_t i = 0; i < s->niface; i++)
        for (int k = 0; k < TCPI_DR_COUNT; k++)
            n[k] += s->iface[i].decode[k];
}

/* ---- JSON ------------------------------------------------------------ */

/* The family's counters as members of the object open in j. */
static void json_family(tcpi_json_t *j, const tcpi_counter_family_t *f,
                        const void *src)
{
    uint64_t v[TCPI_CTR_MAX];

    f->values(v, src);
    tcpi_counters_json(j, f->c, f->n, v);
}

static void json_interface(tcpi_json_t *j, const tcpi_snap_iface_t *f)
{
    tcpi_json_obj(j, NULL);
    tcpi_json_str(j, "name", f->name);
    tcpi_json_str(j, "leg", legs_name(f->legs));
    tcpi_json_str(j, "filter", f->filter);
    tcpi_json_str(j, "linktype", tcpi_linktype_name(f->linktype));
    tcpi_json_str(j, "status", iface_status(f->status));
    tcpi_json_str(j, "error", f->error);
    json_family(j, &tcpi_ctr_iface, f);
    tcpi_json_obj(j, "decode");                 /* every reason, zeros too */
    json_family(j, &tcpi_ctr_decode, f);
    tcpi_json_end(j);
    tcpi_json_end(j);
}

static void json_capture(tcpi_json_t *j, const tcpi_snapshot_t *s)
{
    uint64_t n[TCPI_DR_COUNT];

    tcpi_json_obj(j, "capture");
    tcpi_json_i64(j, "pid", s->pid);
    tcpi_json_u64(j, "uid", s->uid);
    tcpi_json_obj(j, "sandbox");
    tcpi_json_bool(j, "no_new_privs", s->sandbox & TCPI_SANDBOXED_NO_NEW_PRIVS);
    tcpi_json_bool(j, "seccomp", s->sandbox & TCPI_SANDBOXED_SECCOMP);
    tcpi_json_bool(j, "no_capabilities", s->sandbox & TCPI_SANDBOXED_NO_CAPS);
    tcpi_json_bool(j, "not_dumpable", s->sandbox & TCPI_SANDBOXED_NOT_DUMPABLE);
    tcpi_json_end(j);
    tcpi_json_i64(j, "last_exit", s->last_exit);
    tcpi_json_u64(j, "snaplen", s->snaplen);
    json_family(j, &tcpi_ctr_worker, s);
    tcpi_json_arr(j, "interfaces");
    for (uint32_t i = 0; i < s->niface; i++)
        json_interface(j, &s->iface[i]);
    tcpi_json_end(j);
    decode_sum(n, s);
    tcpi_json_obj(j, "decode");
    tcpi_counters_json(j, decode_c, TCPI_DR_COUNT, n);
    tcpi_json_end(j);
    tcpi_json_obj(j, "ring");
    json_family(j, &tcpi_ctr_ring, s);
    tcpi_json_u64(j, "fill_percent", ring_fill_percent(s));
    tcpi_json_end(j);
    tcpi_json_obj(j, "request_log");
    json_family(j, &tcpi_ctr_reqlog, &s->req);
    tcpi_json_u64(j, "missed", s->req.join.records_missed);  /* first names */
    tcpi_json_u64(j, "corrupt", s->req.join.records_corrupt);
    tcpi_json_end(j);
    tcpi_json_obj(j, "join");
    json_family(j, &tcpi_ctr_join, &s->req);
    tcpi_json_end(j);
    tcpi_json_obj(j, "triggered");              /* TCPInspectCapture files */
    tcpi_json_str(j, "dir", s->trigger.dir[0] ? s->trigger.dir : NULL);
    json_family(j, &tcpi_ctr_trigger, s);
    tcpi_json_str(j, "last_error", s->trigger.last_error);
    tcpi_json_end(j);
    tcpi_json_obj(j, "json_log");               /* TCPInspectRequestLog */
    tcpi_json_str(j, "kind", s->json_log.kind == TCPI_JSONLOG_FILE ? "file"
                  : s->json_log.kind == TCPI_JSONLOG_PIPE ? "pipe" : NULL);
    json_family(j, &tcpi_ctr_jsonlog, s);
    tcpi_json_end(j);
    tcpi_json_obj(j, "handshake_store");        /* tcpi_hskeep.h */
    json_family(j, &tcpi_ctr_hsstore, s);
    tcpi_json_end(j);
    tcpi_json_end(j);
}

static void json_states(tcpi_json_t *j, const tcpi_snapshot_t *s)
{
    tcpi_json_obj(j, "states");
    for (int sc = 0; sc < TCPI_NSCOPES; sc++) {
        const tcpi_ports_t *p = &s->ports[sc];
        tcpi_json_obj(j, tcpi_scope_name(sc));
        for (int st = 0; st < TCPI_NSTATES; st++)
            tcpi_json_u64(j, tcpi_state_name(st), s->count[sc][st]);
        tcpi_json_u64(j, "total", s->total[sc]);
        tcpi_json_arr(j, "ports");
        for (int i = 0; i < p->n; i++)
            tcpi_json_u64(j, NULL, p->port[i]);
        tcpi_json_end(j);
        tcpi_json_end(j);
    }
    tcpi_json_end(j);
    tcpi_json_obj(j, "counts");
    json_family(j, &tcpi_ctr_counts, s);
    tcpi_json_str(j, "error", s->counts_error);
    tcpi_json_str(j, "source", s->ev.used ? "events+dump" : "dump");
    tcpi_json_obj(j, "events");
    json_family(j, &tcpi_ctr_events, s);
    tcpi_json_str(j, "last_difference", s->ev.diff);
    tcpi_json_end(j);
    tcpi_json_end(j);
    tcpi_json_arr(j, "thresholds");
    for (int i = 0; i < s->nresults; i++) {
        const tcpi_threshold_result_t *r = &s->results[i];
        tcpi_json_obj(j, NULL);
        tcpi_json_str(j, "scope", tcpi_scope_name(r->scope));
        tcpi_json_str(j, "state", tcpi_state_name(r->state));
        tcpi_json_u64(j, "warning", r->warning);
        tcpi_json_u64(j, "critical", r->critical);
        tcpi_json_u64(j, "value", r->value);
        tcpi_json_str(j, "level", tcpi_level_name(r->level));
        tcpi_json_end(j);
    }
    tcpi_json_end(j);
    tcpi_json_str(j, "level", overall_level(s));
}

static void json_history(tcpi_json_t *j, const tcpi_snapshot_t *s)
{
    tcpi_json_obj(j, "history");
    tcpi_json_u64(j, "start", s->hist_start_s);
    tcpi_json_u64(j, "step_s", s->hist_step_s);
    tcpi_json_u64(j, "points", s->nhist);
    tcpi_json_obj(j, "series");
    for (int sc = 0; sc < TCPI_NSCOPES; sc++) {
        tcpi_json_obj(j, tcpi_scope_name(sc));
        for (int st = 0; st < TCPI_NSTATES; st++) {
            tcpi_json_arr(j, tcpi_state_name(st));
            for (uint32_t i = 0; i < s->nhist; i++)
                tcpi_json_u64(j, NULL, s->hist[i][sc][st]);
            tcpi_json_end(j);
        }
        tcpi_json_end(j);
    }
    tcpi_json_end(j);
    tcpi_json_end(j);
}

/* sysctl.<name>: a number, a list of numbers, a string, or null when the
 * knob is absent or unreadable; then the advice. */
static void json_sysctl(tcpi_json_t *j, const tcpi_snapshot_t *s)
{
    if (!s->have_sysctl)
        return;
    tcpi_json_obj(j, "sysctl");
    for (int k = 0; k < TCPI_NSYSCTL; k++) {
        const tcpi_sysctl_value_t *v = &s->sysctl.k[k];
        const char *name = tcpi_sysctl_name(k);
        if (v->present != 1) {
            tcpi_json_null(j, name);
        } else if (v->nv == 1) {
            tcpi_json_i64(j, name, v->v[0]);
        } else if (v->nv > 1) {
            tcpi_json_arr(j, name);
            for (int i = 0; i < v->nv; i++)
                tcpi_json_i64(j, NULL, v->v[i]);
            tcpi_json_end(j);
        } else {
            tcpi_json_str(j, name, v->text);
        }
    }
    tcpi_json_end(j);
    tcpi_json_arr(j, "advice");
    for (int i = 0; i < s->nadvice; i++) {
        tcpi_json_obj(j, NULL);
        tcpi_json_str(j, "level", tcpi_advice_level_name(s->advice[i].level));
        tcpi_json_str(j, "topic", s->advice[i].topic);
        tcpi_json_str(j, "text", s->advice[i].text);
        tcpi_json_end(j);
    }
    tcpi_json_end(j);
}

void tcpi_render_json(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    tcpi_json_t j;

    tcpi_json_init(&j, o);
    tcpi_json_obj(&j, NULL);
    tcpi_json_str(&j, "version", TCPI_VERSION);
    tcpi_json_u64(&j, "time", s->now_wall_ns / 1000000000ull);
    tcpi_json_u64(&j, "generation", s->generation);
    json_states(&j, s);
    json_sysctl(&j, s);
    json_history(&j, s);
    json_capture(&j, s);
    tcpi_json_arr(&j, "recent_requests");
    for (int i = 0; i < s->nrecent; i++)
        tcpi_reqview_json(&j, NULL, &s->recent[i], s->recent_joined[i]
                          ? &s->recent_sum[i] : NULL, 0);
    tcpi_json_end(&j);
    tcpi_json_end(&j);
    tcpi_out_str(o, "\n");
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

static void auto_family(tcpi_out_t *o, const char *prefix,
                        const tcpi_counter_family_t *f, const void *src)
{
    uint64_t v[TCPI_CTR_MAX];

    f->values(v, src);
    tcpi_counters_auto(o, prefix, f->c, f->n, v);
}

void tcpi_render_auto(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    uint64_t n[TCPI_DR_COUNT];

    tcpi_out_printf(o, "Generation: %u\n", s->generation);
    auto_family(o, "", &tcpi_ctr_counts, s);
    tcpi_out_printf(o, "CountsSource: %s\n", s->ev.used ? "events+dump" : "dump");
    auto_family(o, "", &tcpi_ctr_events, s);
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
    tcpi_out_printf(o, "Level: %s\n", overall_level(s));
    for (int k = 0; k < TCPI_NSYSCTL && s->have_sysctl; k++) {
        const tcpi_sysctl_value_t *v = &s->sysctl.k[k];
        tcpi_out_printf(o, "sysctl.%s: %s\n", tcpi_sysctl_name(k),
                        v->present == 1 ? v->text
                        : v->present == 0 ? "absent" : "unreadable");
    }
    for (int i = 0; i < s->nadvice; i++)
        tcpi_out_printf(o, "advice.%s: %s\n", s->advice[i].topic,
                        tcpi_advice_level_name(s->advice[i].level));
    auto_family(o, "", &tcpi_ctr_worker, s);
    tcpi_out_printf(o, "CapturePid: %d\n", s->pid);
    tcpi_out_printf(o, "CaptureSandboxed: %d\n", s->sandbox == 15);
    for (uint32_t i = 0; i < s->niface; i++) {
        /* Interface names were checked at config time: no spaces, no ':'
         * at the start, printable. */
        char p[TCPI_IFNAMSIZ + 32];
        snprintf(p, sizeof(p), "capture.%s.", s->iface[i].name);
        auto_family(o, p, &tcpi_ctr_iface, &s->iface[i]);
        snprintf(p, sizeof(p), "capture.%s.decode.", s->iface[i].name);
        auto_family(o, p, &tcpi_ctr_decode, &s->iface[i]);
    }
    decode_sum(n, s);
    tcpi_counters_auto(o, "capture.decode.", decode_c, TCPI_DR_COUNT, n);
    auto_family(o, "", &tcpi_ctr_ring, s);
    tcpi_out_printf(o, "RingFillPercent: %llu\n",
                    (unsigned long long)ring_fill_percent(s));
    auto_family(o, "", &tcpi_ctr_reqlog, &s->req);
    auto_family(o, "", &tcpi_ctr_join, &s->req);
    auto_family(o, "", &tcpi_ctr_trigger, s);
    auto_family(o, "", &tcpi_ctr_jsonlog, s);
    auto_family(o, "", &tcpi_ctr_hsstore, s);
}

/* ---- Prometheus ------------------------------------------------------ */

static void prom_head(tcpi_out_t *o, const char *name, const char *type,
                      const char *help)
{
    tcpi_out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_family(tcpi_out_t *o, const tcpi_counter_family_t *f,
                        const tcpi_snapshot_t *s)
{
    uint64_t v[TCPI_CTR_MAX];

    values_of(v, f, s);
    tcpi_counters_prom(o, f->c, f->n, v, 1, NULL, NULL);
}

/* A per-interface family: one sample per interface, labelled. */
static void prom_ifaces(tcpi_out_t *o, const tcpi_counter_family_t *f,
                        const tcpi_snapshot_t *s)
{
    uint64_t v[TCPI_MAX_IFACES * TCPI_CTR_MAX];
    const char *names[TCPI_MAX_IFACES];

    for (uint32_t i = 0; i < s->niface; i++) {
        f->values(&v[i * f->n], &s->iface[i]);
        names[i] = s->iface[i].name;
    }
    tcpi_counters_prom(o, f->c, f->n, v, s->niface, "interface", names);
}

/* The wire timings as one histogram with a phase label (names from the
 * phase table, never from requests). */
static void prom_phases(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    const double *le = tcpi_join_bucket_ms();

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
    prom_family(o, &tcpi_ctr_counts, s);
    prom_family(o, &tcpi_ctr_events, s);
    prom_family(o, &tcpi_ctr_worker, s);
    prom_ifaces(o, &tcpi_ctr_iface, s);
    prom_ifaces(o, &tcpi_ctr_decode, s);
    prom_family(o, &tcpi_ctr_ring, s);
    prom_head(o, "tcpinspect_ring_fill_ratio", "gauge",
              "Fraction of the ring's data area holding packets.");
    tcpi_out_printf(o, "tcpinspect_ring_fill_ratio %.4f\n", s->ring.data_size
                    ? (double)s->ring.used_bytes / (double)s->ring.data_size : 0.0);
    prom_family(o, &tcpi_ctr_trigger, s);
    prom_family(o, &tcpi_ctr_jsonlog, s);
    prom_family(o, &tcpi_ctr_hsstore, s);
    if (!s->req.have_join)
        return;
    prom_family(o, &tcpi_ctr_reqlog, s);
    prom_family(o, &tcpi_ctr_join, s);
    prom_phases(o, s);
}

/* ---- HTML ------------------------------------------------------------ */

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
    uint64_t v[TCPI_MAX_IFACES][TCPI_DR_COUNT];

    tcpi_out_str(o, "<table id=\"decode\"><tr><th class=\"l\">decoded frames"
                 "</th>");
    for (uint32_t i = 0; i < s->niface; i++) {
        tcpi_out_str(o, "<th>");
        tcpi_out_html(o, s->iface[i].name, strlen(s->iface[i].name));
        tcpi_out_str(o, "</th>");
        tcpi_ctr_decode.values(v[i], &s->iface[i]);
    }
    tcpi_out_str(o, "<th class=\"l\">meaning</th></tr>\n");
    for (int k = 0; k < TCPI_DR_COUNT; k++) {
        tcpi_out_printf(o, "<tr><td class=\"l\"><code>%s</code></td>",
                        decode_c[k].label);
        for (uint32_t i = 0; i < s->niface; i++)
            tcpi_counters_html_cell(o, &decode_c[k], v[i][k]);
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
    tcpi_out_str(o, "</p>\n<table id=\"interfaces\"><tr><th class=\"l\">"
                 "interface</th><th class=\"l\">leg</th><th class=\"l\">"
                 "filter</th><th class=\"l\">link</th>");
    tcpi_counters_html_th(o, tcpi_ctr_iface.c, tcpi_ctr_iface.n);
    tcpi_out_str(o, "<th class=\"l\">status</th></tr>\n");
    for (uint32_t i = 0; i < s->niface; i++) {
        const tcpi_snap_iface_t *f = &s->iface[i];
        uint64_t v[TCPI_CTR_MAX];
        tcpi_out_str(o, "<tr><td class=\"l\">");
        tcpi_out_html(o, f->name, strlen(f->name));
        tcpi_out_printf(o, "</td><td class=\"l\">%s</td><td class=\"l\"><code>",
                        legs_name(f->legs));
        tcpi_out_html(o, f->filter, strlen(f->filter));
        tcpi_out_printf(o, "</code></td><td class=\"l\">%s</td>",
                        tcpi_linktype_name(f->linktype));
        tcpi_ctr_iface.values(v, f);
        tcpi_counters_html_td(o, tcpi_ctr_iface.c, tcpi_ctr_iface.n, v);
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
                        (unsigned long long)ring_fill_percent(s),
                        (double)tcpi_ctr_age(s->now_wall_ns,
                                             s->ring.oldest_ts_ns, 1000000)
                        / 1000.0);
    if (s->req.join.records_corrupt)
        tcpi_out_printf(o, "<p class=\"warning\">Request log: %llu corrupt "
                        "records passed over (shared memory written by "
                        "something other than this module).</p>\n",
                        (unsigned long long)s->req.join.records_corrupt);
    html_trigger(o, &s->trigger);
}

/* Every family that is not per interface: one small table each. */
static void html_counters(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    static const tcpi_counter_family_t *const fams[] = {
        &tcpi_ctr_worker, &tcpi_ctr_ring, &tcpi_ctr_reqlog, &tcpi_ctr_join,
        &tcpi_ctr_trigger, &tcpi_ctr_jsonlog, &tcpi_ctr_hsstore,
        &tcpi_ctr_counts, &tcpi_ctr_events,
    };

    tcpi_out_str(o, "<h2 id=\"counters\">Counters</h2>\n<p>The numbers of "
                 "status.json, ?auto and metrics, by family; hover a name "
                 "for what it counts.</p>\n");
    for (size_t i = 0; i < TCPI_ARRAY_LEN(fams); i++) {
        uint64_t v[TCPI_CTR_MAX];
        values_of(v, fams[i], s);
        tcpi_out_printf(o, "<table class=\"ctr\" id=\"ctr-%s\"><tr><th "
                        "class=\"l\">%s</th><th>value</th></tr>\n",
                        fams[i]->name, fams[i]->title);
        tcpi_counters_html_rows(o, fams[i]->c, fams[i]->n, v);
        tcpi_out_str(o, "</table>\n");
    }
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
    const char *lvl = overall_level(s);

    tcpi_out_page_head(o, NULL, base);
    tcpi_out_str(o, "<h1>mod_tcpinspect</h1>\n");
    tcpi_out_printf(o, "<p>Generation %u. Level: <span class=\"%s\">%s</span>"
                    "</p>\n", s->generation, lvl, lvl);
    tcpi_render_html_states(o, s);
    html_history(o, s);
    html_capture(o, s);
    html_counters(o, s);
    html_sysctl(o, s);
    html_requests(o, s, base);
    tcpi_out_page_foot(o);
}
