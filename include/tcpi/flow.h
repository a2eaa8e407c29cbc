/*
 * tcpi/flow.h — the flow stage (src/flow/):
 * TCP flows from decoded packets: the flow table, each side's state
 * (handshake, retransmissions, FIN/RST, TIME_WAIT), the flows published to
 * shared memory once a second, the TLS fronts' handshakes kept apart.
 *
 * The one header other stages and the httpd glue include for it; the
 * stage's other headers are its own (tests/check_layers.sh).
 */
#ifndef TCPI_STAGE_FLOW_H
#define TCPI_STAGE_FLOW_H

#include "flow/tcpi_flow.h"
#include "flow/tcpi_flowpub.h"
#include "flow/tcpi_hskeep.h"

#endif
