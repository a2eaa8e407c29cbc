/*
 * tcpi/capture.h — the capture stage (src/capture/):
 * the capture worker: libpcap handles on both legs, the loop that
 * feeds the ring and drives the decode, flow, join and trigger stages, the
 * restart backoff, and the sandbox it runs in.
 *
 * The one header other stages and the httpd glue include for it; the
 * stage's other headers are its own (tests/check_layers.sh).
 */
#ifndef TCPI_STAGE_CAPTURE_H
#define TCPI_STAGE_CAPTURE_H

#include "capture/tcpi_sandbox.h"
#include "capture/tcpi_worker.h"

#endif
