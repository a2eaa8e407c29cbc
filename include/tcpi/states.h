/*
 * tcpi/states.h — the states stage (src/states/):
 * the kernel's TCP state counts: NETLINK_SOCK_DIAG dumps, the BPF
 * state-change counter and its loader, the sysctl advisor, thresholds.
 *
 * The one header other stages and the httpd glue include for it; the
 * stage's other headers are its own (tests/check_layers.sh).
 */
#ifndef TCPI_STAGE_STATES_H
#define TCPI_STAGE_STATES_H

#include "states/tcpi_evstates.h"
#include "states/tcpi_sockdiag.h"
#include "states/tcpi_sysctl.h"
#include "states/tcpi_threshold.h"

#endif
