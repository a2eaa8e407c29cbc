/*
 * tcpi/reqcap.h — the reqcap stage (src/reqcap/):
 * one request's packets out of the ring (its two flows, redacted and
 * trimmed) and the triggered per-request captures written as pcapng files.
 *
 * The one header other stages and the httpd glue include for it; the
 * stage's other headers are its own (tests/check_layers.sh).
 */
#ifndef TCPI_STAGE_REQCAP_H
#define TCPI_STAGE_REQCAP_H

#include "reqcap/tcpi_reqcap.h"
#include "reqcap/tcpi_trigger.h"

#endif
