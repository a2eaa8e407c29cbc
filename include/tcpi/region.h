/*
 * tcpi/region.h — the region stage (src/region/):
 * the shared region of one configuration generation: where each
 * stage's part lives, the worker's check of it, the state-count history,
 * the interfaces' and the worker's status.
 *
 * The one header other stages and the httpd glue include for it; the
 * stage's other headers are its own (tests/check_layers.sh).
 */
#ifndef TCPI_STAGE_REGION_H
#define TCPI_STAGE_REGION_H

#include "region/tcpi_shm.h"

#endif
