/*
 * tcpi_redact.h — mask the values of named HTTP headers (Authorization,
 * Cookie, ...) in TCP payloads before a decoded view shows them.
 *
 * Payloads are masked in place, byte for byte ('*'), so lengths, sequence
 * numbers and hex offsets stay those of the wire. A header line may be cut
 * across two segments of the same flow direction: each direction keeps a
 * little state (where the last segment ended: in a header name, in a
 * masked value, elsewhere) that applies to the segment starting at the
 * sequence number where the previous one ended. A segment of a flow with
 * no state (the first one a page sees) has its first line masked unless
 * that line is a request/status line or a header that is not redacted:
 * it may be the tail of a secret whose start the page did not see.
 *
 * Header folding (a line starting with SP/HT continues the previous
 * header) keeps a redacted value masked. Matching is case-insensitive.
 */
#ifndef TCPI_REDACT_H
#define TCPI_REDACT_H

#include "tcpi_decode.h"

#include <stddef.h>
#include <stdint.h>

#define TCPI_REDACT_MAX_NAMES 32
#define TCPI_REDACT_NAME_MAX  64      /* longest header name, with NUL */
#define TCPI_REDACT_FLOWS     512     /* flow directions remembered */

typedef struct {
    uint8_t  used, v6, mode, last_masked, plen;
    uint8_t  src[16], dst[16];
    uint16_t sport, dport;
    uint32_t next_seq;                /* where the last segment ended */
    char     pend[TCPI_REDACT_NAME_MAX]; /* header name cut by a segment end */
} tcpi_redact_flow_t;

typedef struct tcpi_redact {
    int      nnames;
    uint8_t  nlen[TCPI_REDACT_MAX_NAMES];
    char     names[TCPI_REDACT_MAX_NAMES][TCPI_REDACT_NAME_MAX];
    tcpi_redact_flow_t flow[TCPI_REDACT_FLOWS];
    uint64_t masked;                  /* bytes masked */
    uint64_t evicted;                 /* flow states replaced by others */
} tcpi_redact_t;

/** The default list: Authorization, Proxy-Authorization, Cookie,
 *  Set-Cookie. */
extern const char *const tcpi_redact_defaults[];

/** Set up rd with names[0..n) (n == 0: nothing is masked). Returns NULL,
 *  or an error text (name too long or not a header token, too many). */
const char *tcpi_redact_init(tcpi_redact_t *rd, const char *const *names,
                             int n);

/** Mask, in place, the redacted header values in payload[0..len) of the
 *  decoded segment pkt (its addresses, ports and seq pick the state).
 *  Returns the number of bytes masked. */
size_t tcpi_redact_payload(tcpi_redact_t *rd, const tcpi_pkt_t *pkt,
                           uint8_t *payload, size_t len);

/** What every decoded view shows of a captured frame: decode src into
 *  *pkt, copy it to dst (caplen bytes) and mask there
 *  - in a TCP payload the decoder placed (TCPI_DR_ok): the redacted header
 *    values, through rd's per-flow state;
 *  - in any other frame (a non-first fragment, a tunnel such as IPIP or
 *    GRE, an IPv6 extension the decoder does not walk): every byte past
 *    the deepest header it decoded, since the redactor cannot place such
 *    bytes in a stream and -X would print them raw.
 *  With rd NULL or no names, dst is a plain copy. Returns tcpi_decode's
 *  reason. */
int tcpi_redact_frame(tcpi_redact_t *rd, tcpi_pkt_t *pkt, int32_t linktype,
                      const uint8_t *src, uint8_t *dst, uint32_t caplen,
                      uint32_t wirelen);

#endif
