/* tcpi_tlsrec.c — TLS records in words (tcpi_tlsrec.h). */
#include "tcpi_tlsrec.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum {
    CT_CHANGE_CIPHER_SPEC = 20, CT_ALERT = 21, CT_HANDSHAKE = 22,
    CT_APPLICATION_DATA = 23, CT_HEARTBEAT = 24,
};
enum { HS_CLIENT_HELLO = 1, HS_SERVER_HELLO = 2 };
enum { EXT_SERVER_NAME = 0, EXT_ALPN = 16, EXT_SUPPORTED_VERSIONS = 43 };

/* A bounds-checked cursor: a read past the end marks it bad and gives 0. */
typedef struct {
    const uint8_t *p;
    size_t n, off;
    int bad;
} rd_t;

static int need(rd_t *r, size_t k)
{
    if (r->bad || k > r->n - r->off) {
        r->bad = 1;
        return 0;
    }
    return 1;
}

static unsigned u8(rd_t *r)
{
    return need(r, 1) ? r->p[r->off++] : 0;
}

static unsigned u16(rd_t *r)
{
    unsigned v;

    if (!need(r, 2))
        return 0;
    v = (unsigned)r->p[r->off] << 8 | r->p[r->off + 1];
    r->off += 2;
    return v;
}

static void skip(rd_t *r, size_t k)
{
    if (need(r, k))
        r->off += k;
}

/* A sub-cursor over the next k bytes (bad when they are not there). */
static rd_t sub(rd_t *r, size_t k)
{
    rd_t s = { NULL, 0, 0, 1 };

    if (need(r, k)) {
        s.p = r->p + r->off;
        s.n = k;
        s.bad = 0;
        r->off += k;
    }
    return s;
}

/* The next k bytes, or as many as there are (a record, a message or an
 * extension block that goes on in later segments); *cut says which. */
static rd_t upto(rd_t *r, size_t k, int *cut)
{
    rd_t s = { NULL, 0, 0, 1 };
    size_t left = r->bad ? 0 : r->n - r->off;

    *cut = k > left;
    if (!r->bad) {
        s.p = r->p + r->off;
        s.n = *cut ? left : k;
        s.bad = 0;
        r->off += s.n;
    }
    return s;
}

typedef struct {
    char  *buf;
    size_t cap, len;
} text_t;

static void add(text_t *t, const char *fmt, ...)
{
    va_list ap;
    int k;

    if (t->len + 1 >= t->cap)
        return;
    va_start(ap, fmt);
    k = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (k > 0)
        t->len += (size_t)k < t->cap - t->len ? (size_t)k : t->cap - t->len - 1;
}

/* Bytes from the wire, printable ASCII kept, anything else as '?'. */
static void add_bytes(text_t *t, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n && t->len + 1 < t->cap; i++) {
        uint8_t c = p[i];
        t->buf[t->len++] = c >= 0x21 && c < 0x7f ? (char)c : '?';
    }
    t->buf[t->len] = '\0';
}

const char *tcpi_tlsrec_version_name(unsigned v)
{
    switch (v) {
    case 0x0300: return "SSLv3";
    case 0x0301: return "TLSv1";
    case 0x0302: return "TLSv1.1";
    case 0x0303: return "TLSv1.2";
    case 0x0304: return "TLSv1.3";
    default:     return NULL;
    }
}

const char *tcpi_tlsrec_cipher_name(uint16_t s)
{
    switch (s) {
    case 0x1301: return "TLS_AES_128_GCM_SHA256";
    case 0x1302: return "TLS_AES_256_GCM_SHA384";
    case 0x1303: return "TLS_CHACHA20_POLY1305_SHA256";
    case 0xc02b: return "ECDHE-ECDSA-AES128-GCM-SHA256";
    case 0xc02c: return "ECDHE-ECDSA-AES256-GCM-SHA384";
    case 0xc02f: return "ECDHE-RSA-AES128-GCM-SHA256";
    case 0xc030: return "ECDHE-RSA-AES256-GCM-SHA384";
    case 0xcca8: return "ECDHE-RSA-CHACHA20-POLY1305";
    case 0xcca9: return "ECDHE-ECDSA-CHACHA20-POLY1305";
    case 0x009c: return "AES128-GCM-SHA256";
    case 0x009d: return "AES256-GCM-SHA384";
    default:     return NULL;
    }
}

static const char *alert_name(unsigned d)
{
    switch (d) {
    case 0:   return "close_notify";
    case 10:  return "unexpected_message";
    case 20:  return "bad_record_mac";
    case 22:  return "record_overflow";
    case 40:  return "handshake_failure";
    case 42:  return "bad_certificate";
    case 45:  return "certificate_expired";
    case 46:  return "certificate_unknown";
    case 47:  return "illegal_parameter";
    case 48:  return "unknown_ca";
    case 50:  return "decode_error";
    case 51:  return "decrypt_error";
    case 70:  return "protocol_version";
    case 71:  return "insufficient_security";
    case 80:  return "internal_error";
    case 86:  return "inappropriate_fallback";
    case 90:  return "user_canceled";
    case 109: return "missing_extension";
    case 112: return "unrecognized_name";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    default:  return NULL;
    }
}

/* The hello's extensions we name: SNI and ALPN of a ClientHello, the
 * version a ServerHello selects. */
static void hello_exts(text_t *t, rd_t *r, int client, unsigned *version)
{
    int cut;
    rd_t ex = upto(r, u16(r), &cut);

    while (!ex.bad && ex.off < ex.n) {
        unsigned type = u16(&ex);
        rd_t e = sub(&ex, u16(&ex));
        if (ex.bad)
            break;
        if (client && type == EXT_SERVER_NAME) {
            rd_t list = sub(&e, u16(&e));
            while (!list.bad && list.off < list.n) {
                unsigned kind = u8(&list), len = u16(&list);
                rd_t name = sub(&list, len);
                if (list.bad)
                    break;
                if (kind == 0) {
                    add(t, " SNI=");
                    add_bytes(t, name.p, name.n > 128 ? 128 : name.n);
                    break;
                }
            }
        } else if (client && type == EXT_ALPN) {
            rd_t list = sub(&e, u16(&e));
            int first = 1;
            while (!list.bad && list.off < list.n) {
                rd_t proto = sub(&list, u8(&list));
                if (list.bad)
                    break;
                add(t, first ? " ALPN=" : ",");
                add_bytes(t, proto.p, proto.n > 32 ? 32 : proto.n);
                first = 0;
            }
        } else if (!client && type == EXT_SUPPORTED_VERSIONS && e.n == 2) {
            *version = u16(&e);
        }
    }
}

/* A handshake record's first message, when it is a hello in clear. */
static void handshake(text_t *t, rd_t *r)
{
    unsigned type = u8(r), len, version, suite = 0;
    int cut;

    len = u8(r) << 16;
    len |= u16(r);
    if (r->bad || (type != HS_CLIENT_HELLO && type != HS_SERVER_HELLO)) {
        add(t, "Handshake");
        return;
    }
    rd_t m = upto(r, len, &cut);
    add(t, type == HS_CLIENT_HELLO ? "ClientHello" : "ServerHello");
    version = u16(&m);
    skip(&m, 32);                      /* random */
    skip(&m, u8(&m));                  /* session id */
    if (type == HS_CLIENT_HELLO) {
        skip(&m, u16(&m));             /* cipher suites */
        skip(&m, u8(&m));              /* compression methods */
        if (!m.bad && m.off < m.n)
            hello_exts(t, &m, 1, &version);
        return;
    }
    suite = u16(&m);
    skip(&m, 1);                       /* compression method */
    if (!m.bad && m.off < m.n)
        hello_exts(t, &m, 0, &version);
    if (tcpi_tlsrec_version_name(version))
        add(t, " %s", tcpi_tlsrec_version_name(version));
    if (suite && tcpi_tlsrec_cipher_name((uint16_t)suite))
        add(t, " %s", tcpi_tlsrec_cipher_name((uint16_t)suite));
    else if (suite)
        add(t, " cipher 0x%04x", suite);
}

size_t tcpi_tlsrec_describe(char *buf, size_t cap, const uint8_t *p, size_t n)
{
    text_t t = { buf, cap, 0 };
    rd_t r = { p, n, 0, 0 };
    int records = 0;

    if (cap == 0)
        return 0;
    buf[0] = '\0';
    while (r.off + 5 <= r.n && records < 16) {
        unsigned type = r.p[r.off], major = r.p[r.off + 1];
        if (type < CT_CHANGE_CIPHER_SPEC || type > CT_HEARTBEAT || major != 3)
            break;
        int partial;
        skip(&r, 3);
        unsigned len = u16(&r);
        rd_t rec = upto(&r, len, &partial);
        add(&t, records ? ", " : "TLS ");
        switch (type) {
        case CT_CHANGE_CIPHER_SPEC:
            add(&t, "ChangeCipherSpec");
            break;
        case CT_ALERT:
            if (rec.n == 2) {
                unsigned level = u8(&rec), desc = u8(&rec);
                add(&t, "Alert %s ", level == 2 ? "fatal" : level == 1
                                     ? "warning" : "level?");
                if (alert_name(desc))
                    add(&t, "%s", alert_name(desc));
                else
                    add(&t, "%u", desc);
            } else {
                add(&t, "Alert (encrypted)");
            }
            break;
        case CT_HANDSHAKE:
            handshake(&t, &rec);
            break;
        case CT_APPLICATION_DATA:
            add(&t, "ApplicationData %u", len);
            break;
        default:
            add(&t, "Heartbeat");
        }
        records++;
        if (partial)
            break;
    }
    if (records == 0) {
        buf[0] = '\0';
        return 0;
    }
    return t.len;
}

unsigned tcpi_tlsrec_server_version(const uint8_t *p, size_t n)
{
    char none[1];
    text_t t = { none, sizeof(none), 0 };
    rd_t r = { p, n, 0, 0 };
    unsigned version, len;
    int cut;

    if (n < 6 || p[0] != CT_HANDSHAKE || p[1] != 3 || p[5] != HS_SERVER_HELLO)
        return 0;
    skip(&r, 3);
    rd_t rec = upto(&r, u16(&r), &cut);
    skip(&rec, 1);                     /* the message type */
    len = u8(&rec) << 16;
    len |= u16(&rec);
    rd_t m = upto(&rec, len, &cut);
    if (cut)                           /* its extensions may be in the next */
        return 0;
    version = u16(&m);
    skip(&m, 32);                      /* random */
    skip(&m, u8(&m));                  /* session id */
    skip(&m, 3);                       /* cipher suite, compression */
    if (!m.bad && m.off < m.n)
        hello_exts(&t, &m, 0, &version);
    return !m.bad && tcpi_tlsrec_version_name(version) ? version : 0;
}
