/*
 * tcpi/pcapfile.h — the pcapfile stage (src/pcapfile/):
 * pcap and pcapng files: the writers and a bounds-checked reader.
 *
 * The one header other stages and the httpd glue include for it; the
 * stage's other headers are its own (tests/check_layers.sh).
 */
#ifndef TCPI_STAGE_PCAPFILE_H
#define TCPI_STAGE_PCAPFILE_H

#include "pcapfile/tcpi_pcapfile.h"

#endif
