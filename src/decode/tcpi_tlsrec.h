/*
 * tcpi_tlsrec.h — the TLS records at the start of a TCP segment's
 * payload, in words, for the packet pages' annotations:
 *
 *   TLS ClientHello SNI=shop.example ALPN=h2,http/1.1
 *   TLS ServerHello TLSv1.3 TLS_AES_256_GCM_SHA384
 *   TLS ChangeCipherSpec, ApplicationData 517
 *   TLS Alert fatal handshake_failure
 *
 * Only what is in clear on the wire: the hellos, a plaintext alert, the
 * records' types and lengths (everything after the handshake is opaque).
 * Every byte is bounds-checked; a segment that does not start with a TLS
 * record header gives nothing. The text is plain ASCII but for the SNI,
 * which comes from the client: the renderer escapes it.
 */
#ifndef TCPI_TLSREC_H
#define TCPI_TLSREC_H

#include <stddef.h>
#include <stdint.h>

/* At most this many bytes of text (NUL included). */
#define TCPI_TLSREC_TEXT_MAX 320

/** The records starting at p[0..n) described into buf (cap bytes, NUL-
 *  terminated): its length, or 0 when p does not start with a TLS record
 *  header (content type 20-24, version 3.x). Records that go on past n
 *  are named by their header alone. */
size_t tcpi_tlsrec_describe(char *buf, size_t cap, const uint8_t *p, size_t n);

/** The IANA name of a TLS cipher suite the module knows, or NULL. */
const char *tcpi_tlsrec_cipher_name(uint16_t suite);

/** The version a ServerHello at the start of p[0..n) selects (its
 *  supported_versions extension, else its legacy version): 0x0300 to
 *  0x0304, or 0 when p holds no complete-enough ServerHello. */
unsigned tcpi_tlsrec_server_version(const uint8_t *p, size_t n);

/** "TLSv1.3" for 0x0304 etc.; NULL for a version the module does not name. */
const char *tcpi_tlsrec_version_name(unsigned v);

#endif
