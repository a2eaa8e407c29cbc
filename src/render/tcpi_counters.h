/*
 * tcpi_counters.h — every counter and gauge the status pages show, listed
 * once, one table per family (as Suricata registers each counter once and
 * every output walks the registry). status.json, ?auto, /metrics and the
 * overview walk these tables (tcpi_counters_* in tcpi_out.h), so a new
 * counter is one entry here and appears in all four with the same value;
 * tests/test_counters.c checks that it does.
 *
 * An entry: X(type, value, json, auto, prom, div, help, label)
 *   type   COUNTER, LOSS (a counter of something lost: highlighted on the
 *          page when not 0), GAUGE, or BOOL (true/false in JSON, 1/0 in
 *          ?auto and /metrics, yes/no on the page)
 *   value  an expression over v, the family's source (said per family)
 *   json   its key inside the family's object in status.json
 *   auto   its ?auto key (after the family's prefix)
 *   prom   its metric; entries of one metric with different labels follow
 *          each other; NULL only where the table says why
 *   div    1, or 1000 / 1000000 for a value in ms / us: /metrics shows it
 *          in seconds
 *   help   the metric's HELP and the page's tooltip
 *   label  the page's label
 * The names of existing keys and metrics are part of the interface:
 * operators' checks and the suites in t/ read them. Add; never rename.
 *
 * Not counters, so not here: the state counts with their thresholds, the
 * history, the sysctl panel, recent requests, and the text fields (pid,
 * uid, last exit, filters, errors, the sandbox flags).
 */
#ifndef TCPI_COUNTERS_H
#define TCPI_COUNTERS_H

#include "tcpi/common.h"

/* The capture worker. v: the snapshot (tcpi_report.h); status.json
 * "capture". */
#define TCPI_CTR_WORKER(X)                                                    \
    X(BOOL, v->engine, "engine", "CaptureEngine",                             \
      "tcpinspect_capture_engine", 1,                                         \
      "1 where TCPInspectEngine is On (a capture worker should run).",        \
      "engine On")                                                            \
    X(BOOL, v->running, "running", "CaptureRunning",                          \
      "tcpinspect_capture_running", 1,                                        \
      "1 while the capture worker heartbeats.", "running")                    \
    X(GAUGE, v->uptime_s, "uptime_s", "CaptureUptime",                        \
      "tcpinspect_capture_uptime_seconds", 1,                                 \
      "Seconds since the running capture worker started.", "uptime (s)")      \
    X(GAUGE, v->heartbeat_age_ms, "heartbeat_age_ms", "CaptureHeartbeatAgeMs",\
      "tcpinspect_capture_heartbeat_age_seconds", 1000,                       \
      "Time since the capture worker's last heartbeat.",                      \
      "heartbeat age (ms)")                                                   \
    X(COUNTER, v->restarts, "restarts", "CaptureRestarts",                    \
      "tcpinspect_capture_restarts_total", 1,                                 \
      "Capture worker restarts in this generation.", "restarts")              \
    X(LOSS, v->startup_failures, "startup_failures", "CaptureStartupFailures",\
      "tcpinspect_capture_startup_failures_total", 1,                         \
      "Capture workers that failed to start (exit code 3) in this "           \
      "generation.", "startup failures")                                      \
    X(LOSS, v->sample_errors, "sample_errors", "CaptureSampleErrors",         \
      "tcpinspect_capture_sample_errors_total", 1,                            \
      "Seconds the worker could not count the states for the history.",      \
      "history samples missed")

/* Per captured interface. v: a tcpi_snap_iface_t; status.json
 * "capture.interfaces[i]", ?auto "capture.<name>.", /metrics with an
 * interface label; on the page, columns of the interface table. */
#define TCPI_CTR_IFACE(X)                                                     \
    X(COUNTER, v->received, "received", "received",                           \
      "tcpinspect_interface_received_total", 1,                               \
      "Packets the kernel handed to the handle (pcap_stats ps_recv).",        \
      "received")                                                             \
    X(LOSS, v->dropped, "dropped", "dropped",                                 \
      "tcpinspect_interface_dropped_total", 1,                                \
      "Packets dropped because the kernel buffer was full (ps_drop).",        \
      "dropped")                                                              \
    X(LOSS, v->if_dropped, "if_dropped", "if_dropped",                        \
      "tcpinspect_interface_if_dropped_total", 1,                             \
      "Packets dropped by the interface (ps_ifdrop).", "if_dropped")          \
    X(COUNTER, v->packets, "packets", "packets",                              \
      "tcpinspect_interface_packets_total", 1,                                \
      "Packets written to the ring.", "in ring")                              \
    X(COUNTER, v->bytes, "bytes", "bytes",                                    \
      "tcpinspect_interface_bytes_total", 1,                                  \
      "Captured bytes written to the ring.", "bytes in ring")

/* The decoder's results per interface: TCPI_DECODE_REASONS
 * (tcpi_decode.h), one entry per reason named by it: status.json
 * "capture.interfaces[i].decode.<reason>", ?auto
 * "capture.<name>.decode.<reason>", /metrics
 * tcpinspect_decode_packets_total{interface,reason}, the page's decode
 * table. Their sum over the interfaces is "capture.decode" in status.json
 * and "capture.decode.<reason>" in ?auto (an aggregate: /metrics leaves
 * it to sum()). */
#define TCPI_CTR_DECODE_HELP                                                  \
    "Captured frames the worker decoded, by result: ok, or the reason the "   \
    "decoder rejected the frame."

/* The packet ring. v: the snapshot; status.json "capture.ring". Its fill
 * (fill_percent, RingFillPercent, tcpinspect_ring_fill_ratio) is
 * used_bytes over size, written next to the table. */
#define TCPI_CTR_RING(X)                                                      \
    X(GAUGE, v->ring.data_size, "size", "RingSize",                           \
      "tcpinspect_ring_size_bytes", 1,                                        \
      "Size of the ring's data area.", "size (bytes)")                        \
    X(GAUGE, v->ring.ndesc, "slots", "RingSlots", "tcpinspect_ring_slots", 1, \
      "Record slots: the most packets the ring can hold.", "slots")           \
    X(COUNTER, v->ring.packets, "packets", "RingPackets",                     \
      "tcpinspect_ring_packets_total", 1,                                     \
      "Packets written to the ring since the worker started.",                \
      "packets written")                                                      \
    X(COUNTER, v->ring.bytes, "bytes", "RingBytes",                           \
      "tcpinspect_ring_bytes_total", 1,                                       \
      "Captured bytes written to the ring.", "bytes written")                 \
    X(COUNTER, v->ring.overwritten, "overwritten", "RingOverwritten",         \
      "tcpinspect_ring_overwritten_total", 1,                                 \
      "Packets overwritten in the ring before anyone read them.",             \
      "overwritten")                                                          \
    X(GAUGE, v->ring.packets - v->ring.overwritten, "held", "RingHeld",       \
      "tcpinspect_ring_held_packets", 1,                                      \
      "Packets the ring holds.", "packets held")                              \
    X(GAUGE, v->ring.used_bytes, "used_bytes", "RingUsedBytes",               \
      "tcpinspect_ring_used_bytes", 1,                                        \
      "Bytes of the data area holding packets.", "bytes held")                \
    X(GAUGE, tcpi_ctr_age(v->now_wall_ns,                                     \
                          v->have_ring ? v->ring.oldest_ts_ns : 0, 1000000),  \
      "oldest_age_ms", "RingOldestAgeMs",                                     \
      "tcpinspect_ring_oldest_age_seconds", 1000,                             \
      "Age of the oldest packet in the ring.", "oldest packet age (ms)")

/* The request log. v: a tcpi_req_status_t (tcpi_reqview.h); status.json
 * "capture.request_log", the top of requests.json. (status.json's
 * request_log also keeps "missed" and "corrupt", its first names for the
 * join's records_missed and records_corrupt.) */
#define TCPI_CTR_REQLOG(X)                                                    \
    X(LOSS, v->log_dropped, "dropped", "RequestsDropped",                     \
      "tcpinspect_requests_dropped_total", 1,                                 \
      "Request records dropped by the full request log.",                     \
      "records dropped")

/* The request join (tcpi_join_stats_t). v: a tcpi_req_status_t;
 * "join" in requests.json and status.json "capture.join". /metrics only
 * with the shared region. */
#define TCPI_CTR_JOIN(X)                                                      \
    X(COUNTER, v->join.joined, "joined", "RequestsJoined",                    \
      "tcpinspect_requests_joined_total", 1,                                  \
      "Requests joined to their packets by the capture worker.",              \
      "requests joined")                                                      \
    X(COUNTER, v->join.front_found, "front_found", "JoinFrontFound",          \
      "tcpinspect_join_front_found_total", 1,                                 \
      "Joined requests whose frontend flow was found.", "frontend found")     \
    X(COUNTER, v->join.backend_expected, "backend_expected",                  \
      "JoinBackendExpected", "tcpinspect_join_backend_expected_total", 1,     \
      "Joined requests that name a backend connection.", "backend expected") \
    X(COUNTER, v->join.backend_found, "backend_found", "JoinBackendFound",    \
      "tcpinspect_join_backend_found_total", 1,                               \
      "Joined requests whose backend flow was found.", "backend found")       \
    X(COUNTER, v->join.pool_race, "pool_race", "JoinPoolRace",                \
      "tcpinspect_join_pool_race_total", 1,                                   \
      "Joined requests sent on a pooled backend connection the backend "      \
      "was closing (mod_proxy's 502 race).", "pooled-connection races")      \
    X(GAUGE, v->join.pending, "pending", "JoinPending",                       \
      "tcpinspect_join_pending", 1,                                           \
      "Request records waiting for their grace period.", "waiting")           \
    X(GAUGE, v->join.lag_ms, "lag_ms", "JoinLagMs",                           \
      "tcpinspect_join_lag_seconds", 1000,                                    \
      "Age of the oldest request record waiting for the join.",               \
      "oldest waiting (ms)")                                                  \
    X(LOSS, v->join.records_missed, "records_missed", "RequestsMissed",       \
      "tcpinspect_requests_missed_total", 1,                                  \
      "Request records overwritten in the log before the join read them.",    \
      "records missed")                                                       \
    X(LOSS, v->join.records_skipped, "records_skipped", "RequestsSkipped",    \
      "tcpinspect_requests_skipped_total", 1,                                 \
      "Request records their child never completed, passed over.",            \
      "records skipped")                                                      \
    X(LOSS, v->join.records_corrupt, "records_corrupt", "RequestsCorrupt",    \
      "tcpinspect_requests_corrupt_total", 1,                                 \
      "Request log records that no httpd child writes (corrupt shared "       \
      "memory), passed over by the join.", "records corrupt")                 \
    X(COUNTER, v->join.packets, "packets", "JoinPackets",                     \
      "tcpinspect_join_packets_total", 1,                                     \
      "Packets decoded into the join's flow table.", "packets decoded")       \
    X(LOSS, v->join.packets_lost, "packets_lost", "JoinPacketsLost",          \
      "tcpinspect_join_packets_lost_total", 1,                                \
      "Packets overwritten in the ring before the join read them.",           \
      "packets lost")                                                         \
    X(COUNTER, v->join.flows, "flows", "JoinFlows",                           \
      "tcpinspect_join_flows_total", 1,                                       \
      "Flows created in the join's flow table.", "flows created")             \
    X(COUNTER, v->join.evictions, "flow_evictions", "JoinFlowEvictions",      \
      "tcpinspect_flow_evictions_total", 1,                                   \
      "Flows replaced in the full flow table.", "flows evicted")              \
    X(COUNTER, v->join.not_tcp, "not_tcp", "JoinNotTcp",                      \
      "tcpinspect_join_not_tcp_total", 1,                                     \
      "Ring packets the join did not decode to TCP (the decode counters "     \
      "say why).", "not TCP")                                                 \
    X(COUNTER, v->join.dup_skipped, "dup_skipped", "JoinDupSkipped",          \
      "tcpinspect_join_dup_skipped_total", 1,                                 \
      "Loopback packets captured twice on the any device: the outgoing "      \
      "copy, skipped.", "loopback copies skipped")

/* Triggered per-request captures (tcpi_trigger_status_t). v: the
 * snapshot; status.json "capture.triggered". */
#define TCPI_CTR_TRIGGER(X)                                                   \
    X(BOOL, !v->trigger.error, "ok", "TriggeredOK", "tcpinspect_triggered_ok",\
      1, "1 unless the capture directory refuses files.", "writing")          \
    X(GAUGE, v->trigger.max_files, "max_files", "TriggeredMaxFiles",          \
      "tcpinspect_triggered_max_files", 1,                                    \
      "TCPInspectCaptureLimit: files kept at most.", "limit (files)")         \
    X(GAUGE, v->trigger.max_bytes, "max_bytes", "TriggeredMaxBytes",          \
      "tcpinspect_triggered_max_bytes", 1,                                    \
      "TCPInspectCaptureLimit: bytes kept at most.", "limit (bytes)")         \
    X(GAUGE, v->trigger.files, "files", "TriggeredFiles",                     \
      "tcpinspect_triggered_files", 1,                                        \
      "Capture files in TCPInspectCaptureDir.", "files")                      \
    X(GAUGE, v->trigger.bytes, "bytes", "TriggeredBytes",                     \
      "tcpinspect_triggered_bytes", 1,                                        \
      "Bytes of capture files in TCPInspectCaptureDir.", "bytes")             \
    X(COUNTER, v->trigger.matched, "matched", "TriggeredMatched",             \
      "tcpinspect_triggered_matched_total", 1,                                \
      "Requests whose TCPInspectCapture rule matched.", "matched")            \
    X(COUNTER, v->trigger.written, "written", "TriggeredWritten",             \
      "tcpinspect_triggered_written_total", 1,                                \
      "Per-request capture files written.", "written")                        \
    X(LOSS, v->trigger.failed, "failed", "TriggeredFailed",                   \
      "tcpinspect_triggered_failed_total", 1,                                 \
      "Per-request captures that could not be written (see status.json).",    \
      "failed")                                                               \
    X(LOSS, v->trigger.skipped, "skipped", "TriggeredSkipped",                \
      "tcpinspect_triggered_skipped_total", 1,                                \
      "Per-request captures skipped: packets gone or worker over budget.",    \
      "skipped")                                                              \
    X(COUNTER, v->trigger.removed, "removed", "TriggeredRemoved",             \
      "tcpinspect_triggered_removed_total", 1,                                \
      "Oldest capture files removed for TCPInspectCaptureLimit.",             \
      "removed for the limit")                                                \
    X(LOSS, v->trigger.records_missed, "records_missed",                      \
      "TriggeredRecordsMissed", "tcpinspect_triggered_records_missed_total",  \
      1, "Request records overwritten in the log before the trigger read "    \
      "them.", "records missed")                                              \
    X(COUNTER, v->trigger.scanned, "scanned", "TriggeredScanned",             \
      "tcpinspect_triggered_scanned_total", 1,                                \
      "Per-request captures selected by scanning the ring: the join's "       \
      "flows no longer covered the request.", "found by a ring scan")         \
    X(GAUGE, tcpi_ctr_age(v->now_wall_ns, v->trigger.last_error_ns,           \
                          1000000000),                                        \
      "last_error_age_s", "TriggeredLastErrorAge",                            \
      "tcpinspect_triggered_last_error_age_seconds", 1,                       \
      "Seconds since the last capture error (0: none).",                      \
      "last error age (s)")

/* The JSON request log (TCPInspectRequestLog; tcpi_linelog.h). v: the
 * snapshot; status.json "capture.json_log". */
#define TCPI_CTR_JSONLOG(X)                                                   \
    X(BOOL, v->json_log.kind != 0, "enabled", "JsonLogEnabled",               \
      "tcpinspect_json_log_enabled", 1,                                       \
      "1 when TCPInspectRequestLog writes each joined request as a JSON "     \
      "line.", "configured")                                                  \
    X(COUNTER, v->json_log.written, "written", "JsonLogWritten",              \
      "tcpinspect_json_log_written_total", 1,                                 \
      "Request lines written whole to the TCPInspectRequestLog file or "      \
      "pipe.", "lines written")                                               \
    X(COUNTER, v->json_log.delayed, "delayed", "JsonLogDelayed",              \
      "tcpinspect_json_log_delayed_total", 1,                                 \
      "Request lines that waited in the worker's buffer first: the pipe or "  \
      "file was full.", "lines that waited")                                  \
    X(LOSS, v->json_log.dropped, "dropped", "JsonLogDropped",                 \
      "tcpinspect_json_log_dropped_total", 1,                                 \
      "Request lines dropped whole: the pipe or file stayed full (or "        \
      "failed) and the worker's buffer was full.", "lines dropped")           \
    X(LOSS, v->json_log.write_errors, "write_errors", "JsonLogWriteErrors",   \
      "tcpinspect_json_log_write_errors_total", 1,                            \
      "Writes to the request log that failed other than on a full pipe "      \
      "(a full disk, an I/O error).", "write errors")                         \
    X(GAUGE, v->json_log.pending_bytes, "pending_bytes",                      \
      "JsonLogPendingBytes", "tcpinspect_json_log_pending_bytes", 1,          \
      "Bytes of request lines waiting in the worker's buffer.",               \
      "bytes waiting")

/* The handshake store (tcpi_hskeep.h): the TLS fronts' handshakes kept
 * apart from the ring. v: the snapshot; status.json
 * "capture.handshake_store". */
#define TCPI_CTR_HSSTORE(X)                                                   \
    X(BOOL, v->hs.kept, "enabled", "HandshakeStoreEnabled",                   \
      "tcpinspect_handshake_store_enabled", 1,                                \
      "1 when the worker keeps the TLS handshakes of the front ports a "      \
      "server with TCPInspectTLSKeys On answers on.", "keeping")              \
    X(GAUGE, v->hs.ring.data_size, "size_bytes", "HandshakeStoreBytes",                 \
      "tcpinspect_handshake_store_bytes", 1,                                  \
      "Size of the handshake store (an eighth of TCPInspectRingSize).",       \
      "size (bytes)")                                                         \
    X(COUNTER, v->hs.connections, "connections", "HandshakeStoreConnections", \
      "tcpinspect_handshake_store_connections_total", 1,                      \
      "TLS connections whose handshake was kept (from the SYN).",             \
      "handshakes")                                                           \
    X(COUNTER, v->hs.complete, "complete", "HandshakeStoreComplete",          \
      "tcpinspect_handshake_store_complete_total", 1,                         \
      "Handshakes kept until their connection went idle (a second without "  \
      "a packet).", "to idle")                                                \
    X(LOSS, v->hs.cut, "cut", "HandshakeStoreCut",                            \
      "tcpinspect_handshake_store_cut_total", 1,                              \
      "Connections whose keeping the bounds ended (48 packets, 96 KiB, "     \
      "10 s) before they went idle.", "cut by the bounds")                    \
    X(COUNTER, v->hs.packets, "packets", "HandshakeStorePackets",             \
      "tcpinspect_handshake_store_packets_total", 1,                          \
      "Packets written to the handshake store.", "packets")                   \
    X(LOSS, v->hs.missed, "missed", "HandshakeStoreMissed",                   \
      "tcpinspect_handshake_store_missed_total", 1,                           \
      "Handshake packets the ring had overwritten before they could be "      \
      "kept.", "missed")                                                      \
    X(COUNTER, v->hs.ring.overwritten, "overwritten", "HandshakeStoreOverwritten", \
      "tcpinspect_handshake_store_overwritten_total", 1,                      \
      "Kept packets overwritten by newer handshakes (the store is full).",    \
      "overwritten")

/* How the states were counted. v: the snapshot; status.json "counts". */
#define TCPI_CTR_COUNTS(X)                                                    \
    X(BOOL, v->counts_ok, "ok", "CountsOK", "tcpinspect_count_ok", 1,         \
      "1 when the kernel answered this count of the states.", "counted")      \
    X(GAUGE, v->counts_took_us, "took_us", "CountsTookUs",                    \
      "tcpinspect_count_seconds", 1000000,                                    \
      "Time the kernel dump for these counts took.", "took (us)")

/* The event-kept state counter (tcpi_evstates.h). v: the snapshot;
 * status.json "counts.events". checks is agreed + disagreed: /metrics
 * has the two as one metric with a result label, and no third series. */
#define TCPI_CTR_EVENTS(X)                                                    \
    X(BOOL, v->ev.loaded, "loaded", "CountsEventsLoaded",                     \
      "tcpinspect_count_events_loaded", 1,                                    \
      "1 when the state-change event counter is loaded.", "loaded")           \
    X(BOOL, v->ev.used, "used", "CountsEventsUsed",                           \
      "tcpinspect_count_events_used", 1,                                      \
      "1 when full sockets were counted from state-change events.", "used")   \
    X(COUNTER, v->ev.changes, "changes", "CountsEventsChanges",               \
      "tcpinspect_count_event_changes_total", 1,                              \
      "State changes the event counter saw in this network namespace.",       \
      "state changes")                                                        \
    X(COUNTER, v->ev.seeded, "seeded", "CountsEventsSeeded",                  \
      "tcpinspect_count_event_seeded_total", 1,                               \
      "Sockets the event counter's seeding walk added.", "seeded")            \
    X(LOSS, v->ev.lost, "lost", "CountsEventsLost",                           \
      "tcpinspect_count_event_lost_total", 1,                                 \
      "Sockets the event counter could not track or forgot.", "lost")         \
    X(COUNTER, v->ev.raced, "raced", "CountsEventsRaced",                     \
      "tcpinspect_count_event_raced_total", 1,                                \
      "Sockets the seeding walk and the tracepoint met on.", "raced")         \
    X(COUNTER, v->ev.checks, "checks", "CountsEventsChecks", NULL, 1,         \
      "Checks of the event counts against a kernel dump.", "checks")          \
    X(COUNTER, v->ev.agreed, "agreed", "CountsEventsAgreed",                  \
      "tcpinspect_count_event_checks_total{result=\"agreed\"}", 1,            \
      "Checks of the event counts against a kernel dump, by result.",         \
      "checks agreed")                                                        \
    X(LOSS, v->ev.disagreed, "disagreed", "CountsEventsDisagreed",            \
      "tcpinspect_count_event_checks_total{result=\"disagreed\"}", 1,         \
      "Checks of the event counts against a kernel dump, by result.",         \
      "checks disagreed")                                                     \
    X(BOOL, v->ev.drift, "drift", "CountsEventsDrift",                        \
      "tcpinspect_count_events_drift", 1,                                     \
      "1 once the events disagreed with the kernel: set aside until the "     \
      "next restart.", "set aside")

/* (now - then) / unit, or 0 when then is 0 or not in the past. */
static inline uint64_t tcpi_ctr_age(uint64_t now, uint64_t then,
                                    uint64_t unit)
{
    return then && now > then ? (now - then) / unit : 0;
}

/* Expanders: an entry's descriptor and its value. */
#define TCPI_CTR_DESC(type, value, json, autok, prom, div, help, label)      \
    { TCPI_CT_##type, json, autok, prom, div, help, label },
#define TCPI_CTR_VALUE(type, value, json, autok, prom, div, help, label)     \
    (uint64_t)(value),

/* Where a family's values come from. */
typedef enum {
    TCPI_CTR_SRC_SNAPSHOT,      /* const tcpi_snapshot_t * */
    TCPI_CTR_SRC_REQ,           /* const tcpi_req_status_t * */
    TCPI_CTR_SRC_IFACE          /* const tcpi_snap_iface_t * */
} tcpi_ctr_src_e;

#define TCPI_CTR_MAX 32         /* entries in one family at most */

/** A family: its table as data, and its values for one source. */
typedef struct {
    const char           *name;   /* "ring": the page's table id ctr-ring */
    const char           *title;  /* the page's caption */
    const char           *json;   /* its object in status.json, '.'-separated
                                     ('*': the interface's index) */
    const char           *autop;  /* its ?auto prefix ('*': the interface's
                                     name) */
    int                   src;    /* TCPI_CTR_SRC_* */
    const tcpi_counter_t *c;
    size_t                n;
    void                (*values)(uint64_t *v, const void *src);
} tcpi_counter_family_t;

/* In tcpi_report.c */
extern const tcpi_counter_family_t tcpi_ctr_worker, tcpi_ctr_ring,
    tcpi_ctr_trigger, tcpi_ctr_jsonlog, tcpi_ctr_hsstore, tcpi_ctr_counts,
    tcpi_ctr_events,
    tcpi_ctr_iface, tcpi_ctr_decode;
/* In tcpi_reqview.c */
extern const tcpi_counter_family_t tcpi_ctr_reqlog, tcpi_ctr_join;

/** Every family, for the tests; NULL-terminated. */
extern const tcpi_counter_family_t *const tcpi_counter_families[];

/* Defines tcpi_ctr_<name> from the table TABLE over sources of type T. */
#define TCPI_CTR_FAMILY(fname, TABLE, T, srckind, ftitle, fjson, fautop)    \
    static const tcpi_counter_t fname##_c[] = { TABLE(TCPI_CTR_DESC) };     \
    _Static_assert(sizeof(fname##_c) / sizeof(fname##_c[0]) <= TCPI_CTR_MAX,\
                   #fname " has more than TCPI_CTR_MAX entries");           \
    static void fname##_values(uint64_t *out, const void *src)              \
    {                                                                       \
        const T *v = src;                                                   \
        const uint64_t x[] = { TABLE(TCPI_CTR_VALUE) };                     \
        memcpy(out, x, sizeof(x));                                          \
    }                                                                       \
    const tcpi_counter_family_t tcpi_ctr_##fname = {                        \
        #fname, ftitle, fjson, fautop, srckind, fname##_c,                  \
        sizeof(fname##_c) / sizeof(fname##_c[0]), fname##_values }

#endif
