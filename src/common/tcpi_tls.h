/*
 * tcpi_tls.h — the TLS secrets one front connection is decrypted with, as
 * the NSS key log names them (the format of SSLKEYLOGFILE, of OpenSSL's
 * keylog callback and of a pcapng Decryption Secrets Block):
 *
 *   LABEL SP hex(client_random, 32 bytes) SP hex(secret)
 *
 * Only the secrets that decrypt the connection's records are kept: the
 * TLS 1.2 master secret (CLIENT_RANDOM) and the TLS 1.3 handshake,
 * application and early traffic secrets. Exporter secrets are not (they
 * decrypt nothing and derive keys for other protocols). A secret grants
 * the records of the one connection whose client random it carries.
 */
#ifndef TCPI_TLS_H
#define TCPI_TLS_H

#include <stddef.h>
#include <stdint.h>

#define TCPI_TLS_RANDOM_LEN 32
#define TCPI_TLS_SECRET_MAX 48       /* SHA-384: the longest suite hash */
#define TCPI_TLS_KEYS_MAX   6        /* TLS 1.3: 4 (5 with early data) */

typedef enum {
    TCPI_TLS_KEY_NONE = 0,
    TCPI_TLS_KEY_CLIENT_RANDOM,                  /* TLS 1.2 master secret */
    TCPI_TLS_KEY_CLIENT_EARLY_TRAFFIC_SECRET,
    TCPI_TLS_KEY_CLIENT_HANDSHAKE_TRAFFIC_SECRET,
    TCPI_TLS_KEY_SERVER_HANDSHAKE_TRAFFIC_SECRET,
    TCPI_TLS_KEY_CLIENT_TRAFFIC_SECRET_0,
    TCPI_TLS_KEY_SERVER_TRAFFIC_SECRET_0,
    TCPI_TLS_KEY_NLABELS
} tcpi_tls_label_t;

typedef struct {
    uint8_t label;                   /* tcpi_tls_label_t */
    uint8_t len;                     /* secret bytes, 1..TCPI_TLS_SECRET_MAX */
    uint8_t secret[TCPI_TLS_SECRET_MAX];
} tcpi_tls_key_t;

/** The key log's name of a label; NULL for one not kept. */
const char *tcpi_tls_label_name(unsigned label);

/** Read one key-log line (without or with its newline). 0: *key and
 *  random hold it; -1: not a line of a kept label, or malformed (bad
 *  hex, a client random not 32 bytes, a secret over SECRET_MAX bytes). */
int tcpi_tls_keyline_parse(tcpi_tls_key_t *key,
                           uint8_t random[TCPI_TLS_RANDOM_LEN],
                           const char *line, size_t len);

/** 1 when key could have come from tcpi_tls_keyline_parse. */
int tcpi_tls_key_ok(const tcpi_tls_key_t *key);

/** The key-log text of n keys of the connection with client random
 *  random, one line each ending in '\n': the bytes it takes (written
 *  when cap allows, else nothing). Keys that are not ok are left out. */
size_t tcpi_tls_keylog_format(char *buf, size_t cap,
                              const uint8_t random[TCPI_TLS_RANDOM_LEN],
                              const tcpi_tls_key_t *keys, unsigned n);

#endif
