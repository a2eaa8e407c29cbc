/* tcpi_tls.c — TLS key-log lines, read and written (tcpi_tls.h). */
#include "tcpi_tls.h"

#include <string.h>

static const char *const label_names[TCPI_TLS_KEY_NLABELS] = {
    [TCPI_TLS_KEY_CLIENT_RANDOM] = "CLIENT_RANDOM",
    [TCPI_TLS_KEY_CLIENT_EARLY_TRAFFIC_SECRET] = "CLIENT_EARLY_TRAFFIC_SECRET",
    [TCPI_TLS_KEY_CLIENT_HANDSHAKE_TRAFFIC_SECRET] =
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    [TCPI_TLS_KEY_SERVER_HANDSHAKE_TRAFFIC_SECRET] =
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    [TCPI_TLS_KEY_CLIENT_TRAFFIC_SECRET_0] = "CLIENT_TRAFFIC_SECRET_0",
    [TCPI_TLS_KEY_SERVER_TRAFFIC_SECRET_0] = "SERVER_TRAFFIC_SECRET_0",
};

const char *tcpi_tls_label_name(unsigned label)
{
    return label > TCPI_TLS_KEY_NONE && label < TCPI_TLS_KEY_NLABELS
           ? label_names[label] : NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* n hex digits at s (n even) into n / 2 bytes at out; -1 on a non-digit. */
static int unhex(uint8_t *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int tcpi_tls_keyline_parse(tcpi_tls_key_t *key,
                           uint8_t random[TCPI_TLS_RANDOM_LEN],
                           const char *line, size_t len)
{
    const char *sp1, *sp2, *end = line + len;
    size_t sec;

    while (end > line && (end[-1] == '\n' || end[-1] == '\r'))
        end--;
    if ((sp1 = memchr(line, ' ', (size_t)(end - line))) == NULL)
        return -1;
    memset(key, 0, sizeof(*key));
    for (unsigned l = TCPI_TLS_KEY_NONE + 1; l < TCPI_TLS_KEY_NLABELS; l++)
        if (strlen(label_names[l]) == (size_t)(sp1 - line) &&
            memcmp(label_names[l], line, (size_t)(sp1 - line)) == 0)
            key->label = (uint8_t)l;
    if (key->label == TCPI_TLS_KEY_NONE)
        return -1;
    if ((size_t)(end - sp1) <= 1 + 2 * TCPI_TLS_RANDOM_LEN + 1)
        return -1;
    sp2 = sp1 + 1 + 2 * TCPI_TLS_RANDOM_LEN;
    if (*sp2 != ' ' ||
        unhex(random, sp1 + 1, 2 * TCPI_TLS_RANDOM_LEN) != 0)
        return -1;
    sec = (size_t)(end - sp2 - 1);
    if (sec == 0 || sec % 2 != 0 || sec / 2 > TCPI_TLS_SECRET_MAX ||
        unhex(key->secret, sp2 + 1, sec) != 0) {
        memset(key, 0, sizeof(*key));
        return -1;
    }
    key->len = (uint8_t)(sec / 2);
    return 0;
}

int tcpi_tls_key_ok(const tcpi_tls_key_t *key)
{
    return tcpi_tls_label_name(key->label) != NULL && key->len > 0 &&
           key->len <= TCPI_TLS_SECRET_MAX;
}

static char *put_hex(char *p, const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        *p++ = digits[b[i] >> 4];
        *p++ = digits[b[i] & 15];
    }
    return p;
}

size_t tcpi_tls_keylog_format(char *buf, size_t cap,
                              const uint8_t random[TCPI_TLS_RANDOM_LEN],
                              const tcpi_tls_key_t *keys, unsigned n)
{
    size_t need = 0;

    for (unsigned i = 0; i < n; i++)
        if (tcpi_tls_key_ok(&keys[i]))
            need += strlen(label_names[keys[i].label]) + 1 +
                    2 * TCPI_TLS_RANDOM_LEN + 1 + 2u * keys[i].len + 1;
    if (need > cap)
        return need;
    for (unsigned i = 0; i < n; i++) {
        const char *name;
        size_t nl;

        if (!tcpi_tls_key_ok(&keys[i]))
            continue;
        name = label_names[keys[i].label];
        nl = strlen(name);
        memcpy(buf, name, nl);
        buf += nl;
        *buf++ = ' ';
        buf = put_hex(buf, random, TCPI_TLS_RANDOM_LEN);
        *buf++ = ' ';
        buf = put_hex(buf, keys[i].secret, keys[i].len);
        *buf++ = '\n';
    }
    return need;
}
