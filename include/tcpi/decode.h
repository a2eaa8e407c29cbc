/*
 * tcpi/decode.h — the decode stage (src/decode/):
 * one packet's bytes as views: link, IPv4/IPv6, TCP and its options,
 * the protocol constants the printer and the redactor share, the decode
 * reason counters, the redactor of HTTP secrets in payloads, and the TLS
 * records at a segment's start in words.
 *
 * The one header other stages and the httpd glue include for it; the
 * stage's other headers are its own (tests/check_layers.sh).
 */
#ifndef TCPI_STAGE_DECODE_H
#define TCPI_STAGE_DECODE_H

#include "decode/tcpi_dcount.h"
#include "decode/tcpi_decode.h"
#include "decode/tcpi_extract.h"
#include "decode/tcpi_redact.h"
#include "decode/tcpi_tlsrec.h"

#endif
