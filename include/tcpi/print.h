/*
 * tcpi/print.h — the print stage (src/print/):
 * tcpdump's one-line text of a decoded packet, per protocol
 * (link, IPv4, IPv6, TCP and its options, MPTCP).
 *
 * The one header other stages and the httpd glue include for it; the
 * stage's other headers are its own (tests/check_layers.sh).
 */
#ifndef TCPI_STAGE_PRINT_H
#define TCPI_STAGE_PRINT_H

#include "print/tcpi_print.h"

#endif
