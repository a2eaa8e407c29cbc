/*
 * tcpi_report.h — one snapshot of everything the status pages show, and
 * the renderers over it (HTML, JSON, ?auto, Prometheus). The glue takes a
 * snapshot and hands it to the renderer a URL asks for; no renderer reads
 * shared memory or the kernel itself. The counters in it are listed once,
 * by family, in tcpi_counters.h; every renderer walks those tables.
 */
#ifndef TCPI_REPORT_H
#define TCPI_REPORT_H

#include "tcpi/common.h"
#include "tcpi_reqview.h"
#include "tcpi/region.h"
#include "tcpi/states.h"
#include "tcpi/reqcap.h"

#define TCPI_HIST_POINTS 360
#define TCPI_SNAP_REQUESTS 10

typedef struct {
    char     name[TCPI_IFNAMSIZ];
    char     filter[TCPI_FILTER_MAX];
    uint32_t legs;
    int32_t  linktype;
    uint32_t status;
    char     error[256];
    uint64_t received, dropped, if_dropped, packets, bytes;
    uint64_t decode[TCPI_DR_COUNT];  /* the worker's decode results */
} tcpi_snap_iface_t;

typedef struct {
    uint64_t now_wall_ns;
    uint32_t generation;
    int      engine;              /* TCPInspectEngine */
    /* capture worker */
    int      running;             /* pid set and heartbeat fresh */
    int32_t  pid;
    uint32_t uid;
    uint32_t sandbox;              /* TCPI_SANDBOXED_* */
    uint64_t uptime_s;
    uint64_t heartbeat_age_ms;
    uint32_t restarts;
    uint32_t startup_failures;
    uint64_t sample_errors;        /* state samples the worker missed */
    int32_t  last_exit;
    uint32_t niface;
    tcpi_snap_iface_t iface[TCPI_MAX_IFACES];
    int      have_ring;
    tcpi_ring_stats_t ring;
    tcpi_trigger_status_t trigger;   /* triggered per-request captures */
    struct {                         /* TCPInspectRequestLog */
        uint32_t kind;               /* TCPI_JSONLOG_* */
        uint64_t written, delayed, dropped, write_errors, pending_bytes;
    } json_log;
    struct {                         /* the handshake store */
        uint32_t kept;
        uint64_t connections, complete, cut, packets, missed;
        tcpi_ring_stats_t ring;      /* its size, what it overwrote */
    } hs;
    uint32_t snaplen;
    tcpi_ports_t ports[TCPI_NSCOPES];
    /* live state counts (counted in the serving process) */
    int      counts_ok;
    char     counts_error[160];
    uint64_t counts_took_us;
    /* how they were counted: full sockets from the event counter
     * (tcpi_evstates.h) plus a dump of the rest, or one full dump */
    struct {
        int      used;                 /* this count used the events */
        int      loaded;               /* the counter is loaded */
        uint64_t changes, seeded, lost, raced;
        uint64_t checks, agreed, disagreed;
        int      drift;
        char     diff[160];
    } ev;
    uint32_t count[TCPI_NSCOPES][TCPI_NSTATES];
    uint32_t total[TCPI_NSCOPES];
    int      nresults;
    tcpi_threshold_result_t results[TCPI_MAX_RESULTS];
    /* history, downsampled to at most TCPI_HIST_POINTS buckets (max of
     * each bucket, so short peaks stay visible) */
    uint32_t nhist;
    uint32_t hist_step_s;
    uint64_t hist_start_s;
    uint32_t hist[TCPI_HIST_POINTS][TCPI_NSCOPES][TCPI_NSTATES];
    /* the sysctl advisor (read in the serving process, never written) */
    int      have_sysctl;
    tcpi_sysctl_t sysctl;
    int      nadvice;
    tcpi_advice_t advice[TCPI_MAX_ADVICE];
    /* the request log and join: counters (have_join in it: the region
     * was there), and the wire-timing histograms per phase */
    tcpi_req_status_t req;
    uint64_t phase_bucket[TCPI_PH_COUNT][TCPI_JOIN_NBUCKETS];
    uint64_t phase_count[TCPI_PH_COUNT];
    uint64_t phase_sum_ns[TCPI_PH_COUNT];
    /* the newest requests (overview and status.json) */
    int      nrecent;
    tcpi_req_t recent[TCPI_SNAP_REQUESTS];
    uint8_t  recent_joined[TCPI_SNAP_REQUESTS];
    tcpi_reqsum_t recent_sum[TCPI_SNAP_REQUESTS];
} tcpi_snapshot_t;

/** Fill the capture part of a snapshot from the shared region (may be
 *  NULL when the module has no region, e.g. in a config test). */
void tcpi_snapshot_capture(tcpi_snapshot_t *snap, const tcpi_shm_t *shm);

/** Fill the recent-requests part: the newest TCPI_SNAP_REQUESTS records
 *  of the request log with their wire summaries where joined. */
void tcpi_snapshot_requests(tcpi_snapshot_t *snap, const tcpi_shm_t *shm);

/** Fill the history part: the last `window_s` seconds of samples. */
void tcpi_snapshot_history(tcpi_snapshot_t *snap, const tcpi_shm_t *shm,
                           uint32_t window_s);
/** Set the live counts and evaluate the thresholds against them. */
void tcpi_snapshot_counts(tcpi_snapshot_t *snap,
                          const uint32_t count[TCPI_NSCOPES][TCPI_NSTATES],
                          const tcpi_threshold_t *th, int nth);

/** Read the sysctl knobs below root ("/proc/sys") and compute the advice
 *  from the counts already in the snapshot (call after the counts). */
void tcpi_snapshot_sysctl(tcpi_snapshot_t *snap, const char *root);

const char *tcpi_linktype_name(int32_t linktype);

void tcpi_render_json(tcpi_out_t *o, const tcpi_snapshot_t *s);
void tcpi_render_auto(tcpi_out_t *o, const tcpi_snapshot_t *s);
void tcpi_render_metrics(tcpi_out_t *o, const tcpi_snapshot_t *s);
/** The states and thresholds section alone (for mod_status's page). */
void tcpi_render_html_states(tcpi_out_t *o, const tcpi_snapshot_t *s);
/** The Nagios-style one-line summary. */
void tcpi_render_nagios(tcpi_out_t *o, const tcpi_snapshot_t *s);
/** base: the handler's URL path (for links), already safe to print. */
void tcpi_render_html(tcpi_out_t *o, const tcpi_snapshot_t *s,
                      const char *base);

#endif
