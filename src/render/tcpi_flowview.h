/*
 * tcpi_flowview.h — /flows and /flows.json over the published flows
 * (tcpi_flowpub.h): which side is the client, which leg a flow is on,
 * the filters, and the two renderers.
 *
 * The client is the side that sent the first SYN; for a flow seen from
 * the middle, the side whose port is not a configured frontend or
 * backend port. The leg comes from the server's port: a frontend port
 * makes it "front", a backend port "backend" (neither: "other").
 */
#ifndef TCPI_FLOWVIEW_H
#define TCPI_FLOWVIEW_H

#include "tcpi/flow.h"
#include "tcpi/common.h"

#define TCPI_FLOWS_LIMIT_DEFAULT 100
#define TCPI_FLOWS_LIMIT_MAX     TCPI_FLOWPUB_LEN

enum { TCPI_FLEG_OTHER = 0, TCPI_FLEG_FRONT = 1, TCPI_FLEG_BACKEND = 2 };

typedef struct {
    int      leg;          /* -1 any, else TCPI_FLEG_* */
    int      state;        /* -1 any, else tcpi_state_e of either side */
    uint16_t port;         /* 0 any, else either endpoint's port */
    uint32_t limit;        /* rows at most */
} tcpi_flow_filter_t;

typedef struct {
    tcpi_flowrec_t rec;
    int leg;               /* TCPI_FLEG_* */
    int client;            /* the client's side (0 or 1) */
} tcpi_flowrow_t;

/** Parse "front", "backend" or "other" into a TCPI_FLEG_*; -1 if none. */
int tcpi_flowview_leg_from_name(const char *name);
const char *tcpi_flowview_leg_name(int leg);

/** The rows of recs[n] (newest first) that pass the filter, classified,
 *  into rows[]; returns how many (at most f->limit). */
uint32_t tcpi_flowview_select(tcpi_flowrow_t *rows, const tcpi_flowrec_t *recs,
                              uint32_t n, const tcpi_flow_filter_t *f,
                              const tcpi_ports_t *front,
                              const tcpi_ports_t *backend);

/** The BPF expression that selects exactly this flow's packets. */
void tcpi_flowview_bpf(char *buf, size_t len, const tcpi_flowrow_t *row);

/** A JSON array, one object per row. */
void tcpi_render_flows_json(tcpi_out_t *o, const tcpi_flowrow_t *rows,
                            uint32_t n);
/** The HTML page; base is the handler's URL path, already safe to print. */
void tcpi_render_flows_html(tcpi_out_t *o, const tcpi_flowrow_t *rows,
                            uint32_t n, const tcpi_flowpub_stats_t *st,
                            const char *base);

#endif
