/* Property test for redaction: for generated connections — HTTP/1.1
 * requests and responses, HTTP/2 with prior knowledge, h2c after an
 * Upgrade — carrying random secrets in Cookie, Authorization,
 * Proxy-Authorization, Set-Cookie and a configured X-Custom-Secret (HPACK:
 * static and literal names, each representation, Huffman-coded or raw,
 * blocks split into CONTINUATIONs, padding, priority, PUSH_PROMISE),
 * public bodies (text, header-like lines, binary, and now and then an
 * attack: a fake preface and frame headers where a segment likes to
 * start), cut into random TCP segments, with retransmissions (copies and
 * overlapping re-cuts), reordering, losses, snaplen cuts, with and without
 * the handshake (its SYN now and then carrying data: Fast Open's, taken by
 * the SYN-ACK or not, or a fake preface; its SYN-ACK now and then not
 * seen), and spoofed SYNs inserted before segments carrying a secret,
 * lined up so that the SYN (its data a fake preface and DATA header, or
 * none) ends where that segment starts, sometimes after a spoofed FIN or
 * RST, no byte of a secret is ever shown, nor any byte of a SYN's data:
 *   - by position: every captured payload byte that belongs to a secret
 *     (its raw bytes, or its Huffman-coded bytes in HPACK) comes out '*';
 *   - by content: no 4-byte substring of a raw secret (so none longer),
 *     and no secret's whole Huffman coding, appears in any output payload.
 * Three views per case: the printer's (tcpi_redact_frame, forward from the
 * first packet), the same from a random later packet (lost state), and
 * match='s (tcpi_redact_payload on payload copies, scanning backward from
 * a random packet). The share of public bytes shown is checked too, so
 * that masking everything would fail.
 *
 * The HPACK encoder (RFC 7541 §5, §6) and its Huffman code (Appendix B)
 * are written here for the test; test_huffman checks the table against
 * the RFC's canonical-code structure and its Appendix C examples.
 * Deterministic: one seed, PROP_CASES cases (TCPI_PROP_SEED and
 * TCPI_PROP_CASES in the environment explore further). */
#include "tcpi_test.h"
#include "tcpi_frames.h"
#include "decode/tcpi_redact.h"

#define PROP_CASES 3000
#define MAXS       16384          /* bytes per stream direction */
#define MAXEV      4096
#define MAXSEC     64

/* ---- a seeded PRNG (splitmix64) ----------------------------------------- */

static uint64_t rstate;

static uint64_t rnd(void)
{
    uint64_t z = (rstate += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t rn(uint32_t n) { return n ? (uint32_t)(rnd() % n) : 0; }
static int chance(uint32_t pct) { return rn(100) < pct; }

/* ---- RFC 7541 Appendix B: the Huffman code (code, length in bits) ------ */

static const struct { uint32_t code; uint8_t bits; } huff[257] = {
    {0x1ff8, 13}, {0x7fffd8, 23}, {0xfffffe2, 28}, {0xfffffe3, 28},
    {0xfffffe4, 28}, {0xfffffe5, 28}, {0xfffffe6, 28}, {0xfffffe7, 28},
    {0xfffffe8, 28}, {0xffffea, 24}, {0x3ffffffc, 30}, {0xfffffe9, 28},
    {0xfffffea, 28}, {0x3ffffffd, 30}, {0xfffffeb, 28}, {0xfffffec, 28},
    {0xfffffed, 28}, {0xfffffee, 28}, {0xfffffef, 28}, {0xffffff0, 28},
    {0xffffff1, 28}, {0xffffff2, 28}, {0x3ffffffe, 30}, {0xffffff3, 28},
    {0xffffff4, 28}, {0xffffff5, 28}, {0xffffff6, 28}, {0xffffff7, 28},
    {0xffffff8, 28}, {0xffffff9, 28}, {0xffffffa, 28}, {0xffffffb, 28},
    /* ' ' .. '/' */
    {0x14, 6}, {0x3f8, 10}, {0x3f9, 10}, {0xffa, 12},
    {0x1ff9, 13}, {0x15, 6}, {0xf8, 8}, {0x7fa, 11},
    {0x3fa, 10}, {0x3fb, 10}, {0xf9, 8}, {0x7fb, 11},
    {0xfa, 8}, {0x16, 6}, {0x17, 6}, {0x18, 6},
    /* '0' .. '?' */
    {0x0, 5}, {0x1, 5}, {0x2, 5}, {0x19, 6},
    {0x1a, 6}, {0x1b, 6}, {0x1c, 6}, {0x1d, 6},
    {0x1e, 6}, {0x1f, 6}, {0x5c, 7}, {0xfb, 8},
    {0x7ffc, 15}, {0x20, 6}, {0xffb, 12}, {0x3fc, 10},
    /* '@' .. 'O' */
    {0x1ffa, 13}, {0x21, 6}, {0x5d, 7}, {0x5e, 7},
    {0x5f, 7}, {0x60, 7}, {0x61, 7}, {0x62, 7},
    {0x63, 7}, {0x64, 7}, {0x65, 7}, {0x66, 7},
    {0x67, 7}, {0x68, 7}, {0x69, 7}, {0x6a, 7},
    /* 'P' .. '_' */
    {0x6b, 7}, {0x6c, 7}, {0x6d, 7}, {0x6e, 7},
    {0x6f, 7}, {0x70, 7}, {0x71, 7}, {0x72, 7},
    {0xfc, 8}, {0x73, 7}, {0xfd, 8}, {0x1ffb, 13},
    {0x7fff0, 19}, {0x1ffc, 13}, {0x3ffc, 14}, {0x22, 6},
    /* '`' .. 'o' */
    {0x7ffd, 15}, {0x3, 5}, {0x23, 6}, {0x4, 5},
    {0x24, 6}, {0x5, 5}, {0x25, 6}, {0x26, 6},
    {0x27, 6}, {0x6, 5}, {0x74, 7}, {0x75, 7},
    {0x28, 6}, {0x29, 6}, {0x2a, 6}, {0x7, 5},
    /* 'p' .. DEL */
    {0x2b, 6}, {0x76, 7}, {0x2c, 6}, {0x8, 5},
    {0x9, 5}, {0x2d, 6}, {0x77, 7}, {0x78, 7},
    {0x79, 7}, {0x7a, 7}, {0x7b, 7}, {0x7ffe, 15},
    {0x7fc, 11}, {0x3ffd, 14}, {0x1ffd, 13}, {0xffffffc, 28},
    /* 128 .. */
    {0xfffe6, 20}, {0x3fffd2, 22}, {0xfffe7, 20}, {0xfffe8, 20},
    {0x3fffd3, 22}, {0x3fffd4, 22}, {0x3fffd5, 22}, {0x7fffd9, 23},
    {0x3fffd6, 22}, {0x7fffda, 23}, {0x7fffdb, 23}, {0x7fffdc, 23},
    {0x7fffdd, 23}, {0x7fffde, 23}, {0xffffeb, 24}, {0x7fffdf, 23},
    {0xffffec, 24}, {0xffffed, 24}, {0x3fffd7, 22}, {0x7fffe0, 23},
    {0xffffee, 24}, {0x7fffe1, 23}, {0x7fffe2, 23}, {0x7fffe3, 23},
    {0x7fffe4, 23}, {0x1fffdc, 21}, {0x3fffd8, 22}, {0x7fffe5, 23},
    {0x3fffd9, 22}, {0x7fffe6, 23}, {0x7fffe7, 23}, {0xffffef, 24},
    /* 160 .. */
    {0x3fffda, 22}, {0x1fffdd, 21}, {0xfffe9, 20}, {0x3fffdb, 22},
    {0x3fffdc, 22}, {0x7fffe8, 23}, {0x7fffe9, 23}, {0x1fffde, 21},
    {0x7fffea, 23}, {0x3fffdd, 22}, {0x3fffde, 22}, {0xfffff0, 24},
    {0x1fffdf, 21}, {0x3fffdf, 22}, {0x7fffeb, 23}, {0x7fffec, 23},
    {0x1fffe0, 21}, {0x1fffe1, 21}, {0x3fffe0, 22}, {0x1fffe2, 21},
    {0x7fffed, 23}, {0x3fffe1, 22}, {0x7fffee, 23}, {0x7fffef, 23},
    {0xfffea, 20}, {0x3fffe2, 22}, {0x3fffe3, 22}, {0x3fffe4, 22},
    {0x7ffff0, 23}, {0x3fffe5, 22}, {0x3fffe6, 22}, {0x7ffff1, 23},
    /* 192 .. */
    {0x3ffffe0, 26}, {0x3ffffe1, 26}, {0xfffeb, 20}, {0x7fff1, 19},
    {0x3fffe7, 22}, {0x7ffff2, 23}, {0x3fffe8, 22}, {0x1ffffec, 25},
    {0x3ffffe2, 26}, {0x3ffffe3, 26}, {0x3ffffe4, 26}, {0x7ffffde, 27},
    {0x7ffffdf, 27}, {0x3ffffe5, 26}, {0xfffff1, 24}, {0x1ffffed, 25},
    {0x7fff2, 19}, {0x1fffe3, 21}, {0x3ffffe6, 26}, {0x7ffffe0, 27},
    {0x7ffffe1, 27}, {0x3ffffe7, 26}, {0x7ffffe2, 27}, {0xfffff2, 24},
    {0x1fffe4, 21}, {0x1fffe5, 21}, {0x3ffffe8, 26}, {0x3ffffe9, 26},
    {0xffffffd, 28}, {0x7ffffe3, 27}, {0x7ffffe4, 27}, {0x7ffffe5, 27},
    /* 224 .. */
    {0xfffec, 20}, {0xfffff3, 24}, {0xfffed, 20}, {0x1fffe6, 21},
    {0x3fffe9, 22}, {0x1fffe7, 21}, {0x1fffe8, 21}, {0x7ffff3, 23},
    {0x3fffea, 22}, {0x3fffeb, 22}, {0x1ffffee, 25}, {0x1ffffef, 25},
    {0xfffff4, 24}, {0xfffff5, 24}, {0x3ffffea, 26}, {0x7ffff4, 23},
    {0x3ffffeb, 26}, {0x7ffffe6, 27}, {0x3ffffec, 26}, {0x3ffffed, 26},
    {0x7ffffe7, 27}, {0x7ffffe8, 27}, {0x7ffffe9, 27}, {0x7ffffea, 27},
    {0x7ffffeb, 27}, {0xffffffe, 28}, {0x7ffffec, 27}, {0x7ffffed, 27},
    {0x7ffffee, 27}, {0x7ffffef, 27}, {0x7fffff0, 27}, {0x3ffffee, 26},
    /* EOS */
    {0x3fffffff, 30},
};

/* Huffman-code s[0..n) into out (RFC 7541 §5.2: padded with the most
 * significant bits of EOS, i.e. ones). Returns the length. */
static size_t huff_encode(uint8_t *out, const uint8_t *s, size_t n)
{
    uint64_t acc = 0;
    unsigned nb = 0;
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        acc = acc << huff[s[i]].bits | huff[s[i]].code;
        nb += huff[s[i]].bits;
        while (nb >= 8) {
            out[o++] = (uint8_t)(acc >> (nb - 8));
            nb -= 8;
        }
    }
    if (nb)
        out[o++] = (uint8_t)(acc << (8 - nb) | (0xffu >> nb));
    return o;
}

/* ---- streams with their secret bytes marked ------------------------------- */

typedef struct {
    uint8_t b[MAXS];
    uint8_t sec[MAXS];           /* 1: a secret's byte */
    size_t  n;
    uint32_t hint[64];           /* offsets a segment likes to start at */
    int     nhint;
} stream_t;

typedef struct {
    uint8_t raw[48];
    size_t  rl;
    uint8_t huf[48];             /* Huffman coding of the whole value */
    size_t  hl;                  /* 0: never sent Huffman-coded */
} secret_t;

static stream_t cs, ss;          /* client to server, server to client */
static secret_t secs[MAXSEC];
static int nsec;

static void put(stream_t *s, const void *p, size_t n, int secret)
{
    assert_true(s->n + n <= MAXS);
    memcpy(s->b + s->n, p, n);
    memset(s->sec + s->n, secret, n);
    s->n += n;
}

static void puts_(stream_t *s, const char *t) { put(s, t, strlen(t), 0); }

static void putb(stream_t *s, uint8_t c) { put(s, &c, 1, 0); }

/* A new secret: base64url and '=', 8..40 bytes (no SP, no ':' — a value
 * that itself reads as a header line is documented as not covered). */
static secret_t *new_secret(void)
{
    static const char al[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    assert_true(nsec < MAXSEC);
    secret_t *s = &secs[nsec++];
    s->rl = 8 + rn(33);
    for (size_t i = 0; i < s->rl; i++)
        s->raw[i] = (uint8_t)al[rn(64)];
    if (chance(20))
        s->raw[s->rl - 1] = '=';
    s->hl = 0;
    return s;
}

/* A body a client can send to make a view misread what follows: a fake
 * HTTP/2 preface and frame headers whose lengths cover the bytes after
 * the body (the next request on a shared connection, another stream's
 * HEADERS). Segments like to start there (see cut). */
static void attack(stream_t *s, size_t end)
{
    static const uint8_t fake_data[9] = { 0, 0x30, 0, 0, 0, 0, 0, 0, 1 };
    static const uint8_t fake_settings[9] = { 0, 0, 0, 4, 0, 0, 0, 0, 0 };
    uint8_t chunk[64];
    size_t k = 0;

    if (rn(2)) {
        memcpy(chunk, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
        k = 24;
        memcpy(chunk + k, fake_settings, 9);
        k += 9;
    }
    memcpy(chunk + k, fake_data, 9);
    k += 9;
    if (k > end - s->n)
        return;
    if (s->nhint < 64)
        s->hint[s->nhint++] = (uint32_t)s->n;
    put(s, chunk, k, 0);
}

/* Public text for bodies and values: lines, some of which look like
 * header lines (multipart parts), blank lines, sometimes binary bytes or
 * an attack. */
static void public_body(stream_t *s, size_t n)
{
    static const char *lines[] = {
        "Content-Disposition: form-data; name=\"f\"\r\n", "\r\n",
        "hello world\r\n", "{\"k\": [1, 2, 3]}\n", "x-note: plain text\r\n",
        "cookie: not-a-secret-here\r\n", "GET /not/a/request HTTP/1.1\r\n",
        "<p>some html</p>\n", "  indented line\r\n",
    };
    size_t end = s->n + n;
    if (chance(10))
        attack(s, end);
    if (chance(25)) {                       /* binary */
        while (s->n < end)
            putb(s, (uint8_t)rn(256));
        return;
    }
    while (s->n < end) {
        const char *l = lines[rn(sizeof(lines) / sizeof(lines[0]))];
        size_t k = strlen(l);
        put(s, l, k < end - s->n ? k : end - s->n, 0);
    }
}

/* ---- HTTP/1.1 --------------------------------------------------------------- */

static const char *casing(const char *a, const char *b, const char *c)
{
    uint32_t k = rn(3);
    return k == 0 ? a : k == 1 ? b : c;
}

static void h1_secret_value(stream_t *s)
{
    secret_t *x = new_secret();
    put(s, x->raw, x->rl, 1);
}

static void h1_headers(stream_t *s, size_t body)
{
    int order[7];
    for (int i = 0; i < 7; i++)
        order[i] = i;
    for (int i = 6; i > 0; i--) {
        int j = (int)rn((uint32_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int k = 0; k < 7; k++) {
        switch (order[k]) {
        case 0:
            puts_(s, "Host: example.test\r\n");
            break;
        case 1:
            if (!chance(80))
                break;
            puts_(s, casing("Cookie: ", "cookie:", "COOKIE:\t"));
            puts_(s, "a=");
            h1_secret_value(s);
            if (chance(30)) {               /* obs-fold */
                puts_(s, chance(50) ? "\r\n " : "\r\n\t");
                puts_(s, "b=");
                h1_secret_value(s);
            } else if (chance(50)) {
                puts_(s, "; b=");
                h1_secret_value(s);
            }
            puts_(s, "\r\n");
            break;
        case 2:
            if (!chance(70))
                break;
            puts_(s, casing("Authorization: ", "authorization: ",
                            "AUTHORIZATION:  "));
            puts_(s, casing("Basic ", "NTLM ", "Bearer "));
            h1_secret_value(s);
            puts_(s, "\r\n");
            break;
        case 3:
            if (!chance(30))
                break;
            puts_(s, "Proxy-Authorization: Basic ");
            h1_secret_value(s);
            puts_(s, "\r\n");
            break;
        case 4:
            if (!chance(50))
                break;
            puts_(s, casing("X-Custom-Secret: ", "x-custom-secret: ",
                            "X-CUSTOM-SECRET: "));
            h1_secret_value(s);
            puts_(s, "\r\n");
            break;
        case 5:
            puts_(s, "User-Agent: prop/1.0 (test)\r\n");
            break;
        default:
            if (body) {
                char cl[48];
                snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", body);
                puts_(s, cl);
            }
            break;
        }
    }
    puts_(s, "\r\n");
}

static void h1_request(stream_t *s)
{
    size_t body = chance(40) ? 1 + rn(600) : 0;
    char line[64];
    snprintf(line, sizeof(line), "%s /p%u HTTP/1.1\r\n",
             body ? (chance(50) ? "POST" : "PUT") : "GET", rn(100000));
    puts_(s, line);
    h1_headers(s, body);
    public_body(s, body);
}

static void h1_response(stream_t *s)
{
    size_t body = rn(800);
    char line[64];
    snprintf(line, sizeof(line), "HTTP/1.1 %s\r\n",
             chance(80) ? "200 OK" : "302 Found");
    puts_(s, line);
    int n = (int)rn(3);
    for (int i = 0; i < n; i++) {
        puts_(s, casing("Set-Cookie: ", "set-cookie: ", "SET-COOKIE: "));
        puts_(s, "sid=");
        h1_secret_value(s);
        puts_(s, "; Path=/; HttpOnly\r\n");
    }
    char cl[48];
    snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n\r\n", body);
    puts_(s, cl);
    public_body(s, body);
}

/* ---- HPACK (RFC 7541) -------------------------------------------------------- */

typedef struct {
    uint8_t b[4096];
    uint8_t sec[4096];
    size_t  n;
} block_t;

static void bput(block_t *k, const void *p, size_t n, int secret)
{
    assert_true(k->n + n <= sizeof(k->b));
    memcpy(k->b + k->n, p, n);
    memset(k->sec + k->n, secret, n);
    k->n += n;
}

/* §5.1: an integer with an N-bit prefix, first byte's high bits `hi`. */
static void hp_int(block_t *k, uint8_t hi, unsigned nbits, uint32_t v)
{
    uint32_t max = (1u << nbits) - 1;
    uint8_t c;
    if (v < max) {
        c = (uint8_t)(hi | v);
        bput(k, &c, 1, 0);
        return;
    }
    c = (uint8_t)(hi | max);
    bput(k, &c, 1, 0);
    v -= max;
    while (v >= 128) {
        c = (uint8_t)(v % 128 + 128);
        bput(k, &c, 1, 0);
        v /= 128;
    }
    c = (uint8_t)v;
    bput(k, &c, 1, 0);
}

/* §5.2: a string literal, Huffman-coded or raw. sec: the secret it holds
 * (its raw bytes at raw[off..off+rl) in s), or NULL for a public one. */
static void hp_str(block_t *k, const uint8_t *s, size_t n, int huffman,
                   secret_t *sec, size_t off)
{
    if (huffman) {
        uint8_t h[256];
        size_t hl = huff_encode(h, s, n);
        hp_int(k, 0x80, 7, (uint32_t)hl);
        bput(k, h, hl, sec != NULL);
        if (sec && hl <= sizeof(sec->huf)) {
            memcpy(sec->huf, h, hl);
            sec->hl = hl;
        }
        return;
    }
    hp_int(k, 0, 7, (uint32_t)n);
    bput(k, s, off, 0);
    bput(k, s + off, sec ? sec->rl : 0, 1);
    bput(k, s + off + (sec ? sec->rl : 0), n - off - (sec ? sec->rl : 0), 0);
}

/* A literal field (§6.2) with a static-table name index (0: the name as a
 * literal), its value prefix + a new secret (or public text). */
static void hp_field(block_t *k, uint32_t idx, const char *name,
                     const char *prefix, int secret)
{
    uint32_t rep = rn(3);       /* incremental indexing, without, never */
    if (rep == 0)
        hp_int(k, 0x40, 6, idx);
    else
        hp_int(k, rep == 1 ? 0x00 : 0x10, 4, idx);
    if (idx == 0)
        hp_str(k, (const uint8_t *)name, strlen(name), chance(50), NULL, 0);
    uint8_t v[128];
    size_t pl = strlen(prefix), n = pl;
    memcpy(v, prefix, pl);
    secret_t *x = NULL;
    if (secret) {
        x = new_secret();
        memcpy(v + n, x->raw, x->rl);
        n += x->rl;
    }
    hp_str(k, v, n, chance(60), x, pl);
}

static void hp_request(block_t *k, int post, int later)
{
    uint8_t c;
    c = post ? 0x83 : 0x82;             /* :method */
    bput(k, &c, 1, 0);
    c = 0x86;                           /* :scheme http */
    bput(k, &c, 1, 0);
    char path[32];
    snprintf(path, sizeof(path), "/p%u", rn(100000));
    hp_int(k, 0x40, 6, 4);              /* :path, indexed name */
    hp_str(k, (const uint8_t *)path, strlen(path), chance(50), NULL, 0);
    if (later && chance(50)) {
        c = 0xbe;                       /* a dynamic-table entry: index only */
        bput(k, &c, 1, 0);
    } else {
        hp_field(k, 1, NULL, "example.test", 0);     /* :authority */
    }
    int crumbs = (int)rn(3);
    for (int i = 0; i < crumbs; i++)
        hp_field(k, chance(80) ? 32 : 0, "cookie", "a=", 1);
    if (chance(70))
        hp_field(k, chance(80) ? 23 : 0, "authorization",
                 chance(50) ? "Bearer " : "Basic ", 1);
    if (chance(20))
        hp_field(k, 49, NULL, "Basic ", 1);           /* proxy-authorization */
    if (chance(50))
        hp_field(k, 0, "x-custom-secret", "", 1);
    hp_field(k, 58, NULL, "prop/2.0", 0);             /* user-agent */
}

static void hp_response(block_t *k)
{
    uint8_t c = 0x88;                   /* :status 200 */
    bput(k, &c, 1, 0);
    int n = (int)rn(3);
    for (int i = 0; i < n; i++)
        hp_field(k, chance(80) ? 55 : 0, "set-cookie", "sid=", 1);
    hp_field(k, 31, NULL, "text/plain", 0);           /* content-type */
}

/* ---- HTTP/2 frames (RFC 9113) ---------------------------------------------- */

static void fhdr(stream_t *s, uint32_t len, uint8_t type, uint8_t flags,
                 uint32_t sid)
{
    uint8_t h[9] = { (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len,
                     type, flags, (uint8_t)(sid >> 24), (uint8_t)(sid >> 16),
                     (uint8_t)(sid >> 8), (uint8_t)sid };
    put(s, h, 9, 0);
}

/* A header block as HEADERS (or PUSH_PROMISE) + CONTINUATIONs, with
 * padding and priority sometimes. */
static void h2_block(stream_t *s, uint8_t type, uint32_t sid, uint32_t promised,
                     const block_t *k, int end_stream)
{
    size_t off = 0;
    int first = 1;
    while (first || off < k->n) {
        size_t frag = k->n - off;
        if (frag > 1 && chance(40))
            frag = 1 + rn((uint32_t)frag);
        int last = off + frag == k->n;
        uint8_t flags = last ? 0x04 : 0;
        if (first) {
            size_t pad = chance(20) ? rn(20) : 0;
            int prio = type == 1 && chance(20);
            size_t extra = (pad ? 1 + pad : 0) + (prio ? 5 : 0) +
                           (type == 5 ? 4 : 0);
            flags |= (uint8_t)((pad ? 0x08 : 0) | (prio ? 0x20 : 0) |
                               (end_stream && type == 1 ? 0x01 : 0));
            fhdr(s, (uint32_t)(frag + extra), type, flags, sid);
            if (pad)
                putb(s, (uint8_t)pad);
            if (prio)
                put(s, "\x00\x00\x00\x00\x0f", 5, 0);
            if (type == 5) {
                uint8_t p4[4] = { 0, 0, 0, (uint8_t)promised };
                put(s, p4, 4, 0);
            }
            put(s, k->b + off, frag, 0);
            memcpy(s->sec + s->n - frag, k->sec + off, frag);
            for (size_t i = 0; i < pad; i++)
                putb(s, 0);
            first = 0;
        } else {
            fhdr(s, (uint32_t)frag, 9, flags, sid);
            put(s, k->b + off, frag, 0);
            memcpy(s->sec + s->n - frag, k->sec + off, frag);
        }
        off += frag;
    }
}

static void h2_data(stream_t *s, uint32_t sid, size_t n, int end)
{
    while (n > 0 || end) {
        size_t f = n > 1000 ? 1 + rn(1000) : n;
        int last = f == n;
        fhdr(s, (uint32_t)f, 0, (uint8_t)(last && end ? 1 : 0), sid);
        public_body(s, f);
        n -= f;
        if (last)
            break;
    }
}

static void h2_control(stream_t *s)
{
    switch (rn(4)) {
    case 0:
        fhdr(s, 8, 6, 0, 0);
        put(s, "pingpong", 8, 0);
        break;
    case 1:
        fhdr(s, 4, 8, 0, 0);
        put(s, "\x00\x01\x00\x00", 4, 0);
        break;
    case 2:
        fhdr(s, 5, 2, 0, 1 + 2 * rn(5));
        put(s, "\x00\x00\x00\x00\x10", 5, 0);
        break;
    default:
        break;
    }
}

static void h2_settings(stream_t *s)
{
    uint32_t n = rn(4);
    fhdr(s, 6 * n, 4, 0, 0);
    for (uint32_t i = 0; i < n; i++)
        put(s, "\x00\x03\x00\x00\x00\x64", 6, 0);
}

/* Client streams first_sid, +2, ...; the server answers each. */
static void h2_exchange(int first_sid, int streams, int server_prefaced)
{
    if (!server_prefaced) {
        h2_settings(&ss);
        fhdr(&ss, 0, 4, 1, 0);
    }
    fhdr(&cs, 0, 4, 1, 0);                          /* SETTINGS ACK */
    for (int i = 0; i < streams; i++) {
        uint32_t sid = (uint32_t)(first_sid + 2 * i);
        block_t k = { .n = 0 };
        int post = chance(30);
        hp_request(&k, post, i > 0);
        h2_block(&cs, 1, sid, 0, &k, !post);
        if (post)
            h2_data(&cs, sid, 1 + rn(1500), 1);
        if (chance(30))
            h2_control(&cs);
        if (sid == 1 && chance(25)) {               /* server push */
            block_t pk = { .n = 0 };
            hp_request(&pk, 0, 0);
            h2_block(&ss, 5, sid, 2, &pk, 0);
        }
        block_t r = { .n = 0 };
        hp_response(&r);
        h2_block(&ss, 1, sid, 0, &r, 0);
        h2_data(&ss, sid, rn(2000), 1);
        if (chance(30))
            h2_control(&ss);
    }
    if (chance(30)) {                               /* GOAWAY + debug text */
        fhdr(&ss, 8 + 9, 7, 0, 0);
        put(&ss, "\x00\x00\x00\x01\x00\x00\x00\x00" "shutdown!", 17, 0);
    }
}

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static void gen_h2(void)
{
    put(&cs, preface, 24, 0);
    h2_settings(&cs);
    if (chance(50)) {
        fhdr(&cs, 4, 8, 0, 0);
        put(&cs, "\x00\x0f\x00\x01", 4, 0);
    }
    h2_exchange(1, 1 + (int)rn(3), 0);
}

/* h2c (RFC 7540 §3.2): an HTTP/1.1 request with Upgrade, 101, then the
 * preface and frames; the upgraded request is stream 1. */
static void gen_h2c(void)
{
    puts_(&cs, "GET /up HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade, "
          "HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n");
    puts_(&cs, "Cookie: a=");
    h1_secret_value(&cs);
    puts_(&cs, "\r\n\r\n");
    puts_(&ss, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
          "Upgrade: h2c\r\n\r\n");
    h2_settings(&ss);
    block_t r = { .n = 0 };
    hp_response(&r);
    h2_block(&ss, 1, 1, 0, &r, 0);
    h2_data(&ss, 1, rn(1000), 1);
    put(&cs, preface, 24, 0);
    h2_settings(&cs);
    h2_exchange(3, (int)rn(3), 1);
}

static void gen_h1(void)
{
    int n = 1 + (int)rn(3);
    for (int i = 0; i < n; i++) {
        h1_request(&cs);
        h1_response(&ss);
    }
}

/* ---- packets ------------------------------------------------------------------ */

enum {
    EV_DATA,                     /* stream bytes [off, off + len) */
    EV_SYN,                      /* the handshake's SYN or SYN-ACK; with
                                    len: Fast Open, stream bytes [0, len) */
    EV_SYN_FAKE,                 /* the handshake's SYN carrying fake[] */
    EV_SPOOF,                    /* a SYN with the addresses of dir, its
                                    len bytes of fake[] (if any) ending
                                    where stream offset off starts */
    EV_CTL,                      /* flags (FIN, RST) at stream offset off */
    EV_INJECT,                   /* a spoofed data segment at stream offset
                                    off, len bytes of pattern pat */
};

typedef struct {
    int      dir;                /* 0 client, 1 server */
    uint8_t  flags, kind;
    uint32_t off, len;           /* stream bytes [off, off + len) */
    uint32_t caplen;             /* bytes of the frame captured */
    uint32_t ack;
    uint8_t  pat;                /* EV_INJECT: what it carries */
} ev_t;

static ev_t ev[MAXEV];
static int nev;
static unsigned long long n_spoof, n_spoof_end, n_tfo, n_fake, n_no_synack;
static unsigned long long n_inject, n_inject_len[3];
static const uint32_t isn[2] = { 0x7ffffff0u, 0xfffffff5u };   /* wrap */

/* What a spoofed SYN carries to turn redaction off (the review's attack):
 * the client preface and a DATA frame header claiming 16 MB. */
static const uint8_t fake[33] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                                "\xff\xff\xff\x00\x00\x00\x00\x00\x01";

static void add(int dir, uint8_t flags, uint8_t kind, uint32_t off,
                uint32_t len, uint32_t ack)
{
    assert_true(nev < MAXEV);
    ev[nev++] = (ev_t){ dir, flags, kind, off, len, 40 + len, ack, 0 };
}

/* Cut a direction from offset off on into segments: small, medium and
 * full-size ones. */
static int cut(int dir, const stream_t *s, uint32_t off, ev_t *out, int max)
{
    int k = 0;
    while (off < s->n && k < max) {
        uint32_t m = rn(3) == 0 ? 1 + rn(16) : rn(2) ? 17 + rn(200) : 200 + rn(1249);
        if (m > s->n - off)
            m = (uint32_t)(s->n - off);
        for (int h = 0; h < s->nhint; h++)
            if (s->hint[h] > off && s->hint[h] < off + m && rn(2))
                m = s->hint[h] - off;           /* the next one starts there */
        out[k++] = (ev_t){ dir, F_PA, EV_DATA, off, m, 40 + m, 1, 0 };
        off += m;
    }
    return k;
}

static int has_secret(const ev_t *e)
{
    const stream_t *s = e->dir ? &ss : &cs;
    for (uint32_t i = 0; i < e->len; i++)
        if (s->sec[e->off + i])
            return 1;
    return 0;
}

/* The handshake when syn: the client's SYN (now and then with data: Fast
 * Open, its first bytes, which the SYN-ACK takes or not; or the fake
 * preface and DATA header, which it does not take), the server's SYN-ACK
 * (now and then never seen). Then both directions' segments, mixed, lost,
 * copied, re-cut, reordered, cut by the snaplen; and now and then, before
 * a segment carrying a secret, the attack: a SYN with that direction's
 * addresses lined up with it (its data, the fake preface and DATA header
 * or none, end where the segment starts), sometimes after a FIN or RST
 * spoofed there too. Its SYN-ACK never comes (the server has a live
 * connection: it sends a challenge ACK). */
static void schedule(int syn)
{
    static ev_t a[MAXEV / 2], b[MAXEV / 2];
    uint32_t c0 = 0;
    int ia = 0, ib = 0;

    nev = 0;
    if (syn) {
        uint32_t k = 0, taken = 0;
        if (chance(20)) {                               /* Fast Open */
            k = 1 + rn(200);
            if (k > cs.n)
                k = (uint32_t)cs.n;
            taken = chance(50);
            add(0, F_S, EV_SYN, 0, k, 0);
            n_tfo++;
        } else if (chance(10)) {                        /* hostile data */
            add(0, F_S, EV_SYN_FAKE, 0, sizeof(fake), 0);
            n_fake++;
        } else {
            add(0, F_S, EV_SYN, 0, 0, 0);
        }
        if (!chance(10))
            add(1, F_SA, EV_SYN, 0, 0, isn[0] + 1 + (taken ? k : 0));
        else
            n_no_synack++;
        c0 = taken ? k : 0;
    }
    int na = cut(0, &cs, c0, a, MAXEV / 4), nb = cut(1, &ss, 0, b, MAXEV / 4);
    while (ia < na || ib < nb) {
        ev_t e = (ib >= nb || (ia < na && rn(2))) ? a[ia++] : b[ib++];
        if (chance(4))
            continue;                                   /* lost */
        assert_true(nev < MAXEV - 8);
        if (e.off > 0 && chance(30) && has_secret(&e)) { /* the attack */
            if (chance(25)) {
                add(e.dir, rn(2) ? F_FA : F_R, EV_CTL, e.off, 0, 1);
                n_spoof_end++;
            }
            add(e.dir, rn(4) ? F_S : F_SA, EV_SPOOF, e.off,
                rn(2) ? sizeof(fake) : 0, 1);
            n_spoof++;
        }
        if (e.off > 0 && chance(15) && has_secret(&e)) { /* spoofed data */
            const stream_t *t = e.dir ? &ss : &cs;
            uint32_t j = 0, l;
            while (!t->sec[e.off + j])
                j++;
            int how = (int)rn(3);
            if (how == 0 && j > 0)
                l = j;                          /* up to the secret */
            else if (how == 1)
                l = e.len;                      /* as long as the victim */
            else
                l = 1 + rn(e.len + 64), how = 2;
            if (l > 1400)
                l = 1400;
            add(e.dir, F_PA, EV_INJECT, e.off, l, 1);
            ev[nev - 1].pat = (uint8_t)rn(4);
            n_inject++;
            n_inject_len[how]++;
        }
        ev[nev++] = e;
        const stream_t *s = e.dir ? &ss : &cs;
        if (chance(6))                                  /* a copy */
            ev[nev++] = e;
        if (chance(6)) {                                /* re-cut overlap */
            uint32_t lo = e.off > 30 ? e.off - rn(30) : 0;
            uint32_t hi = e.off + e.len + rn(60);
            if (hi > s->n)
                hi = (uint32_t)s->n;
            if (hi - lo > 1400)
                hi = lo + 1400;
            if (hi > lo)
                ev[nev++] = (ev_t){ e.dir, F_PA, EV_DATA, lo, hi - lo,
                                    40 + hi - lo, 1, 0 };
        }
        if (chance(4) && nev >= 2) {                    /* reordered */
            ev_t t = ev[nev - 1];
            ev[nev - 1] = ev[nev - 2];
            ev[nev - 2] = t;
        }
        if (chance(4) && e.len > 2 && ev[nev - 1].kind == EV_DATA) /* snaplen */
            ev[nev - 1].caplen = 40 + rn(ev[nev - 1].len);
    }
}

/* What a spoofed data segment carries to leave the scan in a state that
 * masks nothing for the real segment overlapping it: a header line not
 * redacted and not ended, a folded continuation of one, a DATA frame
 * header claiming 16383 bytes, random bytes. */
static void inject_fill(uint8_t pat, uint8_t *b, uint32_t n)
{
    static const uint8_t dh[9] = { 0x00, 0x3f, 0xff, 0, 0, 0, 0, 0, 1 };
    static const char *const pre[2] = { "X-Foo: ", "X-Foo: a\r\n " };
    uint64_t x = 0x9e3779b97f4a7c15ull * (n + 1);

    memset(b, pat == 2 ? 0 : 'a', n);
    if (pat < 2)
        memcpy(b, pre[pat], n < strlen(pre[pat]) ? n : strlen(pre[pat]));
    else if (pat == 2)
        memcpy(b, dh, n < 9 ? n : 9);
    else
        for (uint32_t i = 0; i < n; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            b[i] = (uint8_t)x;
        }
}

static void build(frame_t *f, const ev_t *e)
{
    const stream_t *s = e->dir ? &ss : &cs;
    fep_t a = C, b = S;
    uint32_t seq = isn[e->dir] + 1 + e->off;
    const char *pl = e->len ? (const char *)s->b + e->off : NULL;

    if (e->kind == EV_SYN || e->kind == EV_SYN_FAKE)
        seq = isn[e->dir];
    else if (e->kind == EV_SPOOF)
        seq = isn[e->dir] + 1 + e->off - 1 - e->len;
    if (e->kind == EV_SYN_FAKE || e->kind == EV_SPOOF)
        pl = e->len ? (const char *)fake : NULL;
    if (e->kind == EV_INJECT) {
        static char inj[1600];
        inject_fill(e->pat, (uint8_t *)inj, e->len);
        pl = inj;
    }
    frame_tcp(f, e->dir ? b : a, e->dir ? a : b, e->flags, seq, e->ack, 65535,
              pl, e->len);
}

/* ---- the checks -------------------------------------------------------------- */

/* Secret 4-grams that no public window of either stream holds. */
static uint32_t grams[MAXSEC * 48];
static size_t ngrams;

static int cmp32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t gram(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void drop_public(const stream_t *s, uint8_t *gone)
{
    for (size_t i = 0; i + 4 <= s->n; i++) {
        if (s->sec[i] | s->sec[i + 1] | s->sec[i + 2] | s->sec[i + 3])
            continue;
        uint32_t g = gram(s->b + i);
        uint32_t *at = bsearch(&g, grams, ngrams, sizeof(g), cmp32);
        if (at)
            gone[at - grams] = 1;
    }
}

static void make_grams(void)
{
    static uint8_t gone[MAXSEC * 48];
    size_t k = 0;

    ngrams = 0;
    for (int j = 0; j < nsec; j++)
        for (size_t i = 0; i + 4 <= secs[j].rl; i++)
            grams[ngrams++] = gram(secs[j].raw + i);
    qsort(grams, ngrams, sizeof(grams[0]), cmp32);
    memset(gone, 0, ngrams);
    drop_public(&cs, gone);
    drop_public(&ss, gone);
    for (size_t i = 0; i < ngrams; i++)
        if (!gone[i])
            grams[k++] = grams[i];
    ngrams = k;
}

static unsigned long long checked_bytes, checked_frames, secret_bytes_seen;
static unsigned long long public_bytes[3][3], public_shown[3][3];
static int cur_kind, cur_view;          /* h1 h2 h2c; first, lost, match */
static uint32_t cur_case;
static int verbose = 1;

/* The shown payload of a segment at stream offset off (captured n bytes):
 * no secret byte unmasked, no secret 4-gram, no Huffman-coded secret.
 * Returns the number of leaks (the first ones are described). */
static int check_payload(int dir, uint32_t off, const uint8_t *out, size_t n,
                         const char *view)
{
    const stream_t *s = dir ? &ss : &cs;
    int leaks = 0;

    checked_frames++;
    checked_bytes += n;
    for (size_t j = 0; j < n && off + j < s->n; j++) {
        if (!s->sec[off + j]) {
            public_bytes[cur_kind][cur_view]++;
            public_shown[cur_kind][cur_view] += out[j] == s->b[off + j];
            continue;
        }
        secret_bytes_seen++;
        if (out[j] != '*' && leaks++ < 3 && verbose)
            fprintf(stderr, "case %u (%s): secret byte at %s offset %u shown\n",
                    cur_case, view, dir ? "server" : "client", off + (unsigned)j);
    }
    for (size_t j = 0; j + 4 <= n; j++) {
        uint32_t g = gram(out + j);
        if (bsearch(&g, grams, ngrams, sizeof(g), cmp32) && leaks++ < 3 &&
            verbose)
            fprintf(stderr, "case %u (%s): a secret's 4 bytes \"%.4s\" shown\n",
                    cur_case, view, (const char *)out + j);
    }
    for (int k = 0; k < nsec; k++)
        if (secs[k].hl >= 4 && memmem(out, n, secs[k].huf, secs[k].hl) &&
            leaks++ < 3 && verbose)
            fprintf(stderr, "case %u (%s): a Huffman-coded secret shown\n",
                    cur_case, view);
    return leaks;
}

/* The shown payload of event e: a segment's is checked as above; a SYN's
 * data (Fast Open's, the fake preface's) are never judged: all masked. */
static int check_event(const ev_t *e, const uint8_t *out, size_t n,
                       const char *view)
{
    int leaks = 0;

    if (e->kind == EV_DATA)
        return check_payload(e->dir, e->off, out, n, view);
    if (e->kind == EV_INJECT)               /* the attacker's own bytes */
        return 0;
    if (e->kind == EV_SYN)
        leaks = check_payload(e->dir, 0, out, n, view);
    for (size_t j = 0; j < n; j++)
        if (out[j] != '*') {
            if (verbose)
                fprintf(stderr, "case %u (%s): a SYN's data shown\n",
                        cur_case, view);
            return leaks + 1;
        }
    return leaks;
}

static const char *const names[] = {
    "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
    "X-Custom-Secret",
};

/* The printer's view: frames through tcpi_redact_frame, from packet `from`
 * on (a page whose window starts there). */
static int view_frames(tcpi_redact_t *rd, int from, const char *what)
{
    int leaks = 0;
    frame_t f;
    static uint8_t out[1600];
    tcpi_pkt_t pkt;

    assert_null(tcpi_redact_init(rd, (const char *const *)names, 5));
    for (int i = from; i < nev; i++) {
        build(&f, &ev[i]);
        uint32_t cap = ev[i].caplen < f.len ? ev[i].caplen : f.len;
        assert_int_equal(tcpi_redact_frame(rd, &pkt, TCPI_LINKTYPE_RAW, f.data,
                                           out, cap, f.len), TCPI_DR_ok);
        if (ev[i].kind == EV_DATA)
            assert_int_equal(pkt.seq, isn[ev[i].dir] + 1 + ev[i].off);
        leaks += check_event(&ev[i], out + pkt.payload_off,
                             pkt.payload_caplen, what);
    }
    return leaks;
}

/* match='s view: payload copies through tcpi_redact_payload, newest first
 * (tcpi_packets_window scans backward). */
static int view_match(tcpi_redact_t *rd, int from)
{
    int leaks = 0;
    frame_t f;
    static uint8_t copy[1600];
    tcpi_pkt_t pkt;

    assert_null(tcpi_redact_init(rd, (const char *const *)names, 5));
    for (int i = from; i >= 0; i--) {
        build(&f, &ev[i]);
        uint32_t cap = ev[i].caplen < f.len ? ev[i].caplen : f.len;
        assert_int_equal(tcpi_decode(&pkt, TCPI_LINKTYPE_RAW, f.data, cap, f.len),
                         TCPI_DR_ok);
        if (pkt.payload_caplen == 0)
            continue;
        memcpy(copy, f.data + pkt.payload_off, pkt.payload_caplen);
        tcpi_redact_payload(rd, &pkt, copy, pkt.payload_caplen);
        leaks += check_event(&ev[i], copy, pkt.payload_caplen, "match");
    }
    return leaks;
}

static int run_case(tcpi_redact_t *rd, int kind)
{
    int leaks;

    cs.n = ss.n = 0;
    cs.nhint = ss.nhint = 0;
    nsec = 0;
    if (kind == 0)
        gen_h1();
    else if (kind == 1)
        gen_h2();
    else
        gen_h2c();
    make_grams();
    schedule(chance(50));
    cur_kind = kind;
    cur_view = 0;
    leaks = view_frames(rd, 0, "frames from the first packet");
    if (nev > 1) {
        cur_view = 1;
        leaks += view_frames(rd, 1 + (int)rn((uint32_t)nev - 1),
                             "frames, lost start");
        cur_view = 2;
        leaks += view_match(rd, (int)rn((uint32_t)nev));
    }
    return leaks;
}

static void test_property(void **state)
{
    tcpi_redact_t *rd = malloc(sizeof(*rd));
    unsigned kinds[3] = {0, 0, 0}, bad = 0;

    /* TCPI_PROP_SEED / TCPI_PROP_CASES explore beyond the fixed run. */
    const char *e = getenv("TCPI_PROP_SEED");
    uint32_t cases = PROP_CASES;
    rstate = e ? strtoull(e, NULL, 0) : 0x5eed2024u;
    if ((e = getenv("TCPI_PROP_CASES")) != NULL)
        cases = (uint32_t)strtoul(e, NULL, 0);
    for (cur_case = 0; cur_case < cases; cur_case++) {
        int kind = (int)(cur_case % 3);
        kinds[kind]++;
        bad += run_case(rd, kind) != 0;
    }
    printf("property: %u cases (h1 %u, h2 %u, h2c %u), %llu payloads, "
           "%llu bytes checked, %llu of them secret and masked\n",
           cases, kinds[0], kinds[1], kinds[2], checked_frames,
           checked_bytes, secret_bytes_seen);
    printf("SYNs: %llu spoofed before a segment with a secret (%llu after a "
           "spoofed FIN or RST), %llu handshakes with Fast Open data, %llu "
           "with a fake preface, %llu without the SYN-ACK\n", n_spoof,
           n_spoof_end, n_tfo, n_fake, n_no_synack);
    printf("spoofed data segments at a secret's segment: %llu (%llu up to "
           "the secret, %llu as long as it, %llu random length)\n", n_inject,
           n_inject_len[0], n_inject_len[1], n_inject_len[2]);
    /* Not everything masked: public bytes are shown (HTTP/2 after a lost
     * start is masked whole by design, hence its low share). */
    double share[3][3];
    for (int k = 0; k < 3; k++) {
        for (int v = 0; v < 3; v++)
            share[k][v] = public_bytes[k][v]
                ? (double)public_shown[k][v] / (double)public_bytes[k][v] : 0;
        printf("public bytes shown, %s: %.0f%% from the first packet, "
               "%.0f%% from a later one, %.0f%% for match=\n",
               k == 0 ? "h1" : k == 1 ? "h2" : "h2c", 100 * share[k][0],
               100 * share[k][1], 100 * share[k][2]);
    }
    free(rd);
    assert_int_equal(bad, 0);
    for (int v = 0; v < 3; v++)
        assert_true(share[0][v] > 0.5);
    /* 0.12, was 0.15 (23% shown then): an overlap, or a copy ending at
     * next_seq, may follow spoofed bytes, so it loses the state, and an
     * HTTP/2 direction after lost state is masked for the rest of the
     * connection; the 6% copies and 6% re-cuts bring the share to 16%,
     * the spoofed data segments to 15%. */
    assert_true(share[1][0] > 0.12);
    assert_true(secret_bytes_seen > 100 * (unsigned long long)cases);
    assert_true(n_spoof > cases / 2 && n_spoof_end > cases / 10);
    assert_true(n_inject > cases / 4 && n_inject_len[0] > cases / 40 &&
                n_inject_len[1] > cases / 40);
    assert_true(n_tfo > cases / 20 && n_fake > cases / 100 &&
                n_no_synack > cases / 100);
}

/* The table is RFC 7541's: canonical (codes of one length consecutive in
 * symbol order, each length's first code the previous length's last + 1,
 * shifted), complete (EOS is all ones), and Appendix C's examples encode
 * as printed there. */
static void test_huffman(void **state)
{
    uint32_t code = 0;
    unsigned bits = 0, seen = 0;
    for (unsigned len = 5; len <= 30; len++) {
        code <<= len - bits;
        bits = len;
        for (unsigned s = 0; s < 257; s++) {
            if (huff[s].bits != len)
                continue;
            assert_int_equal(huff[s].code, code);
            code++;
            seen++;
        }
    }
    assert_int_equal(seen, 257);
    assert_int_equal(code, 1u << 30);                /* Kraft sum 1 */
    static const struct { const char *s; const char *hex; } ex[] = {
        {"www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"},            /* C.4.1 */
        {"no-cache", "a8eb10649cbf"},                               /* C.4.2 */
        {"custom-key", "25a849e95ba97d7f"},                         /* C.4.3 */
        {"custom-value", "25a849e95bb8e8b4bf"},
        {"302", "6402"},                                            /* C.6.1 */
        {"private", "aec3771a4b"},
        {"Mon, 21 Oct 2013 20:13:21 GMT",
         "d07abe941054d444a8200595040b8166e082a62d1bff"},
        {"https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3"},
        {"foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
         "94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587"
         "316065c003ed4ee5b1063d5007"},                             /* C.6.3 */
    };
    for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
        uint8_t out[128];
        char hex[257];
        size_t n = huff_encode(out, (const uint8_t *)ex[i].s, strlen(ex[i].s));
        for (size_t k = 0; k < n; k++)
            snprintf(hex + 2 * k, 3, "%02x", out[k]);
        hex[2 * n] = 0;
        assert_string_equal(hex, ex[i].hex);
    }
}

/* The checks can fail: a view that shows the secrets is caught. */
static void test_checks_catch_a_leak(void **state)
{
    rstate = 7;
    cs.n = ss.n = 0;
    cs.nhint = ss.nhint = 0;
    nsec = 0;
    gen_h2();
    make_grams();
    assert_true(nsec > 0 || ngrams == 0);
    size_t at = 0;
    while (at < cs.n && !cs.sec[at])
        at++;
    assert_true(at < cs.n);
    /* the raw stream shows them; masking just the secret bytes passes */
    verbose = 0;
    assert_true(check_payload(0, 0, cs.b, cs.n, "raw") > 0);
    verbose = 1;
    static uint8_t m[MAXS];
    for (size_t i = 0; i < cs.n; i++)
        m[i] = cs.sec[i] ? '*' : cs.b[i];
    assert_int_equal(check_payload(0, 0, m, cs.n, "masked"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_huffman),
        cmocka_unit_test(test_checks_catch_a_leak),
        cmocka_unit_test(test_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
