/*
 * tcpi/join.h — the join stage (src/join/):
 * requests joined to their two flows: the request-log reader, the
 * join's per-request wire timings, the shared summary table.
 *
 * The one header other stages and the httpd glue include for it; the
 * stage's other headers are its own (tests/check_layers.sh).
 */
#ifndef TCPI_STAGE_JOIN_H
#define TCPI_STAGE_JOIN_H

#include "join/tcpi_join.h"

#endif
