/*
 * tcpi_report.h — one snapshot of everything the status pages show, and
 * the renderers over it (HTML, JSON, ?auto, Prometheus). The glue takes a
 * snapshot and hands it to the renderer a URL asks for; no renderer reads
 * shared memory or the kernel itself.
 */
#ifndef TCPI_REPORT_H
#define TCPI_REPORT_H

#include "tcpi_out.h"
#include "tcpi_shm.h"

typedef struct {
    char     name[TCPI_IFNAMSIZ];
    char     filter[TCPI_FILTER_MAX];
    uint32_t legs;
    int32_t  linktype;
    uint32_t status;
    char     error[256];
    uint64_t received, dropped, if_dropped, packets, bytes;
} tcpi_snap_iface_t;

typedef struct {
    uint64_t now_wall_ns;
    uint32_t generation;
    int      engine;              /* TCPInspectEngine */
    /* capture worker */
    int      running;             /* pid set and heartbeat fresh */
    int32_t  pid;
    uint32_t uid;
    uint64_t uptime_s;
    uint64_t heartbeat_age_ms;
    uint32_t restarts;
    uint32_t startup_failures;
    int32_t  last_exit;
    uint32_t niface;
    tcpi_snap_iface_t iface[TCPI_MAX_IFACES];
    int      have_ring;
    tcpi_ring_stats_t ring;
    uint32_t snaplen;
    tcpi_ports_t ports[TCPI_NSCOPES];
} tcpi_snapshot_t;

/** Fill the capture part of a snapshot from the shared region (may be
 *  NULL when the module has no region, e.g. in a config test). */
void tcpi_snapshot_capture(tcpi_snapshot_t *snap, const tcpi_shm_t *shm);

const char *tcpi_linktype_name(int32_t linktype);

void tcpi_render_json(tcpi_out_t *o, const tcpi_snapshot_t *s);
void tcpi_render_auto(tcpi_out_t *o, const tcpi_snapshot_t *s);
void tcpi_render_metrics(tcpi_out_t *o, const tcpi_snapshot_t *s);
/** base: the handler's URL path (for links), already safe to print. */
void tcpi_render_html(tcpi_out_t *o, const tcpi_snapshot_t *s,
                      const char *base);

#endif
