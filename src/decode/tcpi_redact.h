/*
 * tcpi_redact.h — mask the values of named HTTP headers (Authorization,
 * Cookie, ...) in TCP payloads before a decoded view (/packets, the
 * printer's -X, match=) shows or searches them, in HTTP/1 text and in
 * HTTP/2 header blocks alike. When in doubt, a byte is masked.
 *
 * Payloads are masked in place, byte for byte ('*'), so lengths, sequence
 * numbers and hex offsets stay those of the wire. Each flow direction
 * keeps a little state: where its last segment ended (next_seq) and what
 * the scan was doing there. A segment that starts at next_seq continues
 * that scan ("in sync"); any other is placed as follows.
 *
 *   seq == next_seq       in sync.
 *   seq <  next_seq       a retransmission (within TCPI_REDACT_RETRANS_WIN):
 *                         the bytes before next_seq are masked whole, and
 *                         the state is lost for those after them: the
 *                         bytes seen before next_seq need not be this
 *                         segment's (a spoofed segment at next_seq, an
 *                         unterminated header line or a DATA frame header,
 *                         would have this one's new bytes read in its
 *                         state), so they are judged as after a gap, as
 *                         are the next segments until a provable start
 *                         (HTTP/2 stays HTTP/2, masked). A segment wholly
 *                         before next_seq (an old copy, or a view scanning
 *                         backward, as match= does) is judged alone, as
 *                         after lost state, and leaves the state as it was,
 *                         unless it ends exactly at next_seq: then it may
 *                         be the real segment behind spoofed bytes just as
 *                         long, and the state is lost (an exact
 *                         retransmission of the last segment too).
 *   otherwise (a gap)     the state is lost.
 * A connection's start is believed when both ends agree on it: a SYN is
 * recorded for its direction, which is lost until the other direction's
 * SYN-ACK acknowledges seq + 1; then both are anchored, their data
 * starting at their SYN's seq + 1, the connection's first byte. Anyone can
 * send a SYN with a victim's addresses and a sequence number read from a
 * view (-X), so
 *   - a SYN or SYN-ACK leaves alone a direction in sync with a stream that
 *     has not ended (by a FIN at its end, or a RST from either side);
 *   - a SYN is not recorded when its seq + 1 is within
 *     TCPI_REDACT_RETRANS_WIN of where the direction's stream was followed
 *     to: that stream's segments would read as the new one's (a new
 *     connection on the same addresses and ports is then lost, not
 *     anchored; ISNs elsewhere, after a FIN or RST, are anchored);
 *   - data on a SYN or SYN-ACK (TCP Fast Open) are masked whole, never
 *     judged (no HTTP/2 from them); a SYN-ACK that acknowledges them
 *     leaves that direction lost after them. A RST's data are masked too.
 * Bytes the capture did not keep (snaplen, GRO past the record size) are
 * skipped when they fall inside an anchored HTTP/2 frame payload;
 * otherwise the state is lost after them.
 *
 * HTTP/1 (in sync): a line whose name is redacted (case-insensitive) has
 * its value masked up to CR/LF, folded continuation lines (starting with
 * SP or HT) included. A NUL where a line starts is not HTTP/1 text: a
 * frame header (h2c's frames after "Upgrade: h2c" and the preface or a
 * 101) makes the direction HTTP/2, anything else loses the state; either
 * way the rest of the segment is masked.
 *
 * HTTP/2, anchored: the preface at the client's SYN + 1, or a SETTINGS
 * frame at the server's. Frame headers are followed (9 bytes, cut across
 * segments or not; length; type); the payload of every HEADERS,
 * PUSH_PROMISE and CONTINUATION frame, and of any type RFC 9113 does not
 * define, is masked whole. HPACK is not decoded, so with any name
 * configured every HTTP/2 header field is masked, not only the named ones
 * (dynamic-table references could not be resolved after lost state
 * anyway). DATA, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, RST_STREAM and
 * PRIORITY stay visible. A frame header that a peer could not send (flags
 * a type does not define, a length its type forbids, a CONTINUATION out of
 * place, ...) loses the state.
 *
 * HTTP/2, not anchored: the preface without its handshake, a chain of frame
 * headers after lost state, h2c after an upgrade, a frame header met in
 * HTTP/1 text, or any segment after an anchored direction lost its state.
 * Everything after the preface is masked, frame headers included: where
 * frames start is then read from the content, which a client controls (a
 * DATA body can hold bytes that read as a preface and frame headers whose
 * lengths cover the next request on a shared connection), and even a
 * chain re-found by chance can be off by a byte or two, its "frame header"
 * then covering the first bytes of a CONTINUATION payload. A direction
 * once seen carrying HTTP/2 (or whose reverse direction did) is never
 * read as HTTP/1 again in this state: HPACK literals can look like lines.
 *
 * Lost state (a gap, an overlap's new bytes, an old copy, the first
 * segment a view sees of a flow, bytes not captured, a SYN not
 * acknowledged): the segment is masked whole unless it provably starts at
 *   - the HTTP/2 client preface (or 3 or more bytes of it cut by the
 *     segment end): the preface is shown, what follows masked;
 *   - for a direction not known to carry HTTP/2, an HTTP/1 line of text
 *     (printable ASCII, HT) ending in CRLF inside the segment: a request
 *     line (METHOD SP target SP HTTP/d.d — "NTLM <base64>", an
 *     Authorization value cut after its name, is not one; a line cut
 *     before its HTTP-version is not known), a status line (HTTP/d.d SP
 *     ddd ...), or a header line ("name:" then SP, HT or CRLF) whose name
 *     is not the tail of a redacted one ("ie:" may end "cookie:"). A
 *     redacted name read this way has its value masked. The first line may
 *     also be skipped: when it and the folded lines after it (starting with
 *     SP or HT: a lost start on a fold is in a value) are text ending
 *     inside the segment and the next line is such a line, the skipped
 *     lines are masked and the scan goes on from there.
 *   A chain of plausible frame headers at the start (each one's length up
 *   to 16384, the default SETTINGS_MAX_FRAME_SIZE, type, flags, stream id
 *   valid for its type, CONTINUATION only in an open block, back to back
 *   up to the segment end or one crossing it) says HTTP/2: masked whole.
 * HTTP/1 read from a lost start is not anchored: until its next blank
 * line a byte header text never holds (a control byte but HT, CR, LF; or
 * one above 0x7e, as HPACK's indexed fields and Huffman strings are) loses
 * the state, and a NUL anywhere that begins a plausible frame header (cut
 * by the segment end: judged with the next one) makes it HTTP/2 — a lost
 * start inside an HTTP/2 DATA payload that reads as text (a multipart
 * part's headers) meets the next frame there.
 *
 * Not covered: a header value that itself reads as a header line or a
 * request line, first seen from its middle after lost state; HPACK bytes
 * that happen to form a CRLF-ended line of printable ASCII at the first
 * segment a view sees of an HTTP/2 connection whose other direction it
 * has not seen either (the value's tail is then readable up to the next
 * byte above 0x7e or control byte); a SYN and a SYN-ACK both forged (the
 * two ends' addresses spoofed) that are the first a view sees of a flow:
 * they are taken for a new connection's start.
 *
 * Per direction the state is 148 bytes; TCPI_REDACT_FLOWS of them live in
 * tcpi_redact_t (about 76 KiB, on a request pool or the heap).
 */
#ifndef TCPI_REDACT_H
#define TCPI_REDACT_H

#include "tcpi_decode.h"

#include <stddef.h>
#include <stdint.h>

#define TCPI_REDACT_MAX_NAMES 32
#define TCPI_REDACT_NAME_MAX  64      /* longest header name, with NUL */
#define TCPI_REDACT_FLOWS     512     /* flow directions remembered */
#define TCPI_REDACT_RETRANS_WIN (1u << 24) /* seq behind next_seq: a copy */
#define TCPI_REDACT_H2_MAXFRAME 16384 /* longest frame telling HTTP/2 */

typedef struct {
    uint8_t  used, v6;
    uint8_t  mode;                    /* scan state at next_seq */
    uint8_t  last_masked;             /* h1: last line was a masked value */
    uint8_t  plen;                    /* h1: bytes in pend */
    uint8_t  guard;                   /* h1 not anchored: text until blank */
    uint8_t  h1pend;                  /* h1: bit n-1: a frame header may
                                         start n bytes before the end of
                                         hb[0..hn), the segment's last */
    uint8_t  h2;                      /* this direction carries HTTP/2 */
    uint8_t  anchored;                /* followed since SYN + 1, no loss */
    uint8_t  pre;                     /* h2 preface bytes matched */
    uint8_t  hn;                      /* h2 frame header bytes in hb */
    uint8_t  fmask;                   /* h2: current payload is masked */
    uint8_t  cont;                    /* h2: a CONTINUATION is due */
    uint8_t  seen;                    /* next_seq ends bytes of a stream */
    uint8_t  closed;                  /* a FIN or RST ended that stream */
    uint8_t  syn_pend;                /* a SYN awaits its SYN-ACK */
    uint8_t  hb[9];                   /* h2 frame header so far */
    uint8_t  src[16], dst[16];
    uint16_t sport, dport;
    uint32_t next_seq;                /* where the last segment ended */
    uint32_t frem;                    /* h2: payload bytes still to come */
    uint32_t csid;                    /* h2: stream of the open block */
    uint32_t syn_seq, syn_end;        /* that SYN's seq + 1, + its data */
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

/** Set up rd with names[0..n) (n == 0: nothing is masked, HTTP/2 header
 *  blocks included). Returns NULL, or an error text (name too long or not
 *  a header token, too many). */
const char *tcpi_redact_init(tcpi_redact_t *rd, const char *const *names,
                             int n);

/** Mask, in place, the redacted bytes in payload[0..len) of the decoded
 *  segment pkt (its addresses, ports, seq, ack, flags and payload_len pick
 *  and advance the state; len is what was captured of payload_len). SYN,
 *  SYN-ACK, FIN and RST count even with len 0. Returns the number of bytes
 *  masked. */
size_t tcpi_redact_payload(tcpi_redact_t *rd, const tcpi_pkt_t *pkt,
                           uint8_t *payload, size_t len);

/** What every decoded view shows of a captured frame: decode src into
 *  *pkt, copy it to dst (caplen bytes) and mask there
 *  - in a TCP segment the decoder placed (TCPI_DR_ok): the redacted bytes
 *    of its payload, through rd's per-flow state (a SYN, FIN or RST, or a
 *    segment whose payload was not captured, still advances that state);
 *  - in any other frame (a non-first fragment, a tunnel such as IPIP or
 *    GRE, an IPv6 extension the decoder does not walk): every byte past
 *    the deepest header it decoded, since the redactor cannot place such
 *    bytes in a stream and -X would print them raw.
 *  With rd NULL or no names, dst is a plain copy. Returns tcpi_decode's
 *  reason. */
int tcpi_redact_frame(tcpi_redact_t *rd, tcpi_pkt_t *pkt, int32_t linktype,
                      const uint8_t *src, uint8_t *dst, uint32_t caplen,
                      uint32_t wirelen);

/** tcpi_redact_frame past its decode, in place: mask data (caplen bytes)
 *  as decoded into pkt with reason why (for a caller that decoded the
 *  frame already and needs the decode for more). */
void tcpi_redact_decoded(tcpi_redact_t *rd, const tcpi_pkt_t *pkt, int why,
                         uint8_t *data, uint32_t caplen);

#endif
