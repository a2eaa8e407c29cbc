/*
 * tcpi/render.h — the render stage (src/render/):
 * what the pages show, from a snapshot: the status snapshot and its
 * renderers (HTML, JSON, ?auto, /metrics), recent requests, flows,
 * tcpdump-identical packet views with filter=, ring exports as pcap/pcapng,
 * and the route table of the pages with their query parameters.
 *
 * The one header other stages and the httpd glue include for it; the
 * stage's other headers are its own (tests/check_layers.sh).
 */
#ifndef TCPI_STAGE_RENDER_H
#define TCPI_STAGE_RENDER_H

#include "render/tcpi_export.h"
#include "render/tcpi_flowview.h"
#include "render/tcpi_packets.h"
#include "render/tcpi_report.h"
#include "render/tcpi_reqview.h"
#include "render/tcpi_route.h"

#endif
