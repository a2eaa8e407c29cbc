/*
 * tcpi/common.h — the common stage (src/common/):
 * the vocabulary every stage shares: TCP state and scope names, port sets,
 * the log callback and tag macro, directive value parsers, the output sink
 * with its JSON writer and HTML page chrome, the seqlock, the whole-line
 * writer of the JSON request log.
 *
 * The one header other stages and the httpd glue include for it; the
 * stage's other headers are its own (tests/check_layers.sh).
 */
#ifndef TCPI_STAGE_COMMON_H
#define TCPI_STAGE_COMMON_H

#include "common/tcpi_common.h"
#include "common/tcpi_config.h"
#include "common/tcpi_linelog.h"
#include "common/tcpi_out.h"
#include "common/tcpi_seqlock.h"
#include "common/tcpi_tls.h"

#endif
