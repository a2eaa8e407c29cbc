/* libFuzzer target for redaction: a flow whose bytes around a planted
 * secret header come from the input, cut into segments the input chooses
 * (drops, copies, overlapping re-sends, reordering, snaplen cuts, a view
 * starting at any segment), must never show a byte of the secret — in the
 * printer's view (tcpi_redact_frame, forward) nor in match='s
 * (tcpi_redact_payload on copies, backward). A shown byte aborts.
 *
 * Input: [mode][n1][n1 bytes before][n2][n2 bytes after][ops...]
 *   mode bits 0-1: 0 HTTP/1.1 request (Cookie), 1 response (Set-Cookie),
 *                  2 HTTP/2 client (preface, frames, cookie in HEADERS),
 *                  3 HTTP/2 server (SETTINGS, frames, set-cookie);
 *        bit 2: the handshake is seen (SYN, SYN-ACK); bit 3: Huffman-coded
 *        secret (HTTP/2); bit 4: the header block split into HEADERS +
 *        CONTINUATION; bit 5: the SYN carries the stream's first (up to)
 *        64 bytes (Fast Open); bit 6: the SYN-ACK takes them (the stream
 *        goes on after them; else it is sent again from its start);
 *        bit 7: the SYN-ACK is not seen.
 *   HTTP/1: the bytes before and after go around "\r\nCookie: <secret>\r\n"
 *   as they are. HTTP/2: they are frames, each [type][flags][len][len
 *   bytes], the length set by the harness so the planted HEADERS stays a
 *   header block whatever comes before it.
 *   ops, 2 bytes each: [segment length - 1][what]: what bits 0-1: 0 send,
 *   1 drop, 2 send and re-send, 3 send and re-send overlapping the one
 *   before; bit 2: snaplen cut; bit 3: swap with the one before; bit 4:
 *   a view starts here; bits 5-6: before this segment a spoofed SYN lined
 *   up with it: 1 no data, seq + 1 at its start; 2 the fake preface and a
 *   DATA header ending at its start; 3 the same after a spoofed FIN (bit
 *   7 clear) or RST (set) there; bit 7: that SYN is a SYN-ACK. Bytes left
 *   after the ops go in 200-byte segments. No byte of a SYN's data may be
 *   shown either. No SYN-ACK acknowledges a spoofed SYN (the server has a
 *   live connection: it answers with a challenge ACK). */
#include "tcpi_frames.h"
#include "decode/tcpi_redact.h"

#include <stdlib.h>
#include <string.h>

#define MAXS  12288
#define MAXEV 512

static const char secret[] = "s3cr3tZq7Xw2Kp9Rt4Vb8Ym";
/* RFC 7541 Huffman coding of secret (test_redact_prop.c's encoder). */
static const uint8_t secret_huff[] =
    "\x43\x24\xb1\x94\xfe\xf6\x77\xf3\xc0\xb3\x56\xfe\xd4\xb5\xc6\x37\xb9\xd3";

static uint8_t st[MAXS], sec[MAXS];
static size_t sn;

enum { EV_DATA, EV_SYN, EV_SYNACK, EV_SPOOF, EV_CTL };

typedef struct {
    uint32_t off, len, cap;      /* stream bytes [off, off + len) */
    uint8_t  flags, kind;
    uint32_t ack;
} ev_t;

/* What a spoofed SYN carries: the preface and a DATA header (16 MB). */
static const uint8_t fake[33] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                                "\xff\xff\xff\x00\x00\x00\x00\x00\x01";

static ev_t ev[MAXEV];
static int nev, starts[MAXEV], nstarts;

static int put(const void *p, size_t n, int secret_bytes)
{
    if (sn + n > MAXS)
        return -1;
    memcpy(st + sn, p, n);
    memset(sec + sn, secret_bytes, n);
    sn += n;
    return 0;
}

static int frame(uint8_t type, uint8_t flags, uint32_t sid, const uint8_t *pl,
                 size_t len)
{
    uint8_t h[9] = { (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len,
                     type, flags, (uint8_t)(sid >> 24), (uint8_t)(sid >> 16),
                     (uint8_t)(sid >> 8), (uint8_t)sid };
    return put(h, 9, 0) || put(pl, len, 0);
}

/* The input's frames: [type][flags][len][payload]; SETTINGS, PING and
 * GOAWAY on stream 0, the rest on 1 or 3. */
static int frames(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i + 3 <= n) {
        uint8_t type = p[i], flags = p[i + 1];
        size_t len = p[i + 2];
        i += 3;
        if (len > n - i)
            len = n - i;
        uint32_t sid = type == 4 || type == 6 || type == 7 ? 0
                                                           : 1 + 2 * (flags & 1);
        if (frame(type, flags, sid, p + i, len))
            return -1;
        i += len;
    }
    return 0;
}

/* The planted header block: :method GET, :scheme http, :path /, then the
 * cookie (client, static 32) or set-cookie (server, static 55) literal. */
static int planted_h2(int server, int huffman, int split)
{
    uint8_t blk[64];
    size_t n = 0, s0;
    if (server) {
        blk[n++] = 0x88;
        blk[n++] = 0x40 | 55;
    } else {
        blk[n++] = 0x82;
        blk[n++] = 0x86;
        blk[n++] = 0x84;
        blk[n++] = 0x40 | 32;
    }
    size_t sl = huffman ? sizeof(secret_huff) - 1 : sizeof(secret) - 1;
    blk[n++] = (uint8_t)((huffman ? 0x80 : 0) | sl);
    s0 = n;
    memcpy(blk + n, huffman ? secret_huff : (const uint8_t *)secret, sl);
    n += sl;
    size_t cut = split ? s0 + sl / 2 : n;
    size_t at = sn + 9;
    if (frame(1, split ? 0 : 4, 1, blk, cut))
        return -1;
    if (split && frame(9, 4, 1, blk + cut, n - cut))
        return -1;
    /* mark the secret's bytes (a CONTINUATION header may sit among them) */
    for (size_t k = s0; k < n; k++)
        sec[at + k + (split && k >= cut ? 9 : 0)] = 1;
    return 0;
}

static int build_stream(int mode, const uint8_t *a, size_t na,
                        const uint8_t *b, size_t nb)
{
    sn = 0;
    switch (mode & 3) {
    case 0:
    case 1: {
        const char *first = (mode & 3) ? "HTTP/1.1 200 OK\r\n" : "GET / HTTP/1.1\r\n";
        const char *name = (mode & 3) ? "\r\nSet-Cookie: " : "\r\nCookie: ";
        if (put(first, strlen(first), 0) || put(a, na, 0) ||
            put(name, strlen(name), 0) ||
            put(secret, sizeof(secret) - 1, 1) || put("\r\n", 2, 0) ||
            put(b, nb, 0))
            return -1;
        return 0;
    }
    case 2:
        if (put("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24, 0) ||
            frame(4, 0, 0, (const uint8_t *)"", 0))
            return -1;
        break;
    default:
        if (frame(4, 0, 0, (const uint8_t *)"\x00\x03\x00\x00\x00\x64", 6))
            return -1;
        break;
    }
    return frames(a, na) || planted_h2((mode & 3) == 3, mode & 8, mode & 16) ||
           frames(b, nb);
}

static void schedule(const uint8_t *ops, size_t n, int mode)
{
    uint32_t off = 0;
    nev = nstarts = 0;
    if (mode & 4) {
        uint32_t k = (mode & 32) ? (sn < 64 ? (uint32_t)sn : 64) : 0;
        ev[nev++] = (ev_t){ 0, k, 40 + k, TCPI_TH_SYN, EV_SYN, 0 };
        if (!(mode & 128))
            ev[nev++] = (ev_t){ 0, 0, 40, TCPI_TH_SYN | TCPI_TH_ACK, EV_SYNACK,
                                1000 + ((mode & 64) ? k : 0) };
        if (mode & 64)
            off = k;
    }
    for (size_t i = 0; i + 2 <= n && off < sn && nev < MAXEV - 5; i += 2) {
        uint32_t len = (uint32_t)ops[i] + 1, what = ops[i + 1];
        if (len > sn - off)
            len = (uint32_t)(sn - off);
        if ((what & 16) && nstarts < MAXEV - 1)
            starts[nstarts++] = nev;
        if ((what & 0x60) == 0x60)
            ev[nev++] = (ev_t){ off, 0, 40, (what & 128) ? TCPI_TH_RST
                                : TCPI_TH_FIN | TCPI_TH_ACK, EV_CTL, 1 };
        if (what & 0x60) {
            uint32_t fl = (what & 0x60) == 0x20 ? 0 : sizeof(fake);
            ev[nev++] = (ev_t){ off, fl, 40 + fl, (what & 128) ?
                                TCPI_TH_SYN | TCPI_TH_ACK : TCPI_TH_SYN,
                                EV_SPOOF, 1 };
        }
        ev_t e = { off, len, 40 + len, F_PA, EV_DATA, 1 };
        off += len;
        if ((what & 3) == 1)
            continue;
        ev[nev++] = e;
        if ((what & 3) == 2)
            ev[nev++] = e;
        if ((what & 3) == 3 && nev >= 2 && ev[nev - 2].kind == EV_DATA) {
            uint32_t lo = ev[nev - 2].off + ev[nev - 2].len / 2;
            if (lo < e.off + e.len)
                ev[nev++] = (ev_t){ lo, e.off + e.len - lo, 40 + e.off + e.len - lo,
                                    F_PA, EV_DATA, 1 };
        }
        if (what & 4)
            ev[nev - 1].cap = 40 + ev[nev - 1].len / 2;
        if ((what & 8) && nev >= 2) {
            ev_t t = ev[nev - 1];
            ev[nev - 1] = ev[nev - 2];
            ev[nev - 2] = t;
        }
    }
    while (off < sn && nev < MAXEV) {
        uint32_t len = sn - off > 200 ? 200 : (uint32_t)(sn - off);
        ev[nev++] = (ev_t){ off, len, 40 + len, F_PA, EV_DATA, 1 };
        off += len;
    }
}

static void build(frame_t *f, const ev_t *e)
{
    const char *pl = e->len ? (const char *)st + e->off : NULL;
    uint32_t seq = 1000 + e->off;

    switch (e->kind) {
    case EV_SYN:
        seq = 999;
        break;
    case EV_SYNACK:
        frame_tcp(f, S, C, e->flags, 4999, e->ack, 65535, NULL, 0);
        return;
    case EV_SPOOF:
        seq = 1000 + e->off - 1 - e->len;
        pl = e->len ? (const char *)fake : NULL;
        break;
    default:
        break;
    }
    frame_tcp(f, C, S, e->flags, seq, e->ack, 65535, pl, e->len);
}

static void check(const ev_t *e, const uint8_t *out, uint32_t n)
{
    if (e->kind != EV_DATA) {               /* a SYN's data: never judged */
        for (uint32_t j = 0; j < n; j++)
            if (out[j] != '*')
                abort();
        return;
    }
    for (uint32_t j = 0; j < n && e->off + j < sn; j++)
        if (sec[e->off + j] && out[j] != '*')
            abort();                        /* a secret byte shown */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tcpi_redact_t rd;
    static const char *const names[] = { "Cookie", "Set-Cookie", "Authorization" };
    frame_t f;
    uint8_t out[1600];
    tcpi_pkt_t pkt;

    if (size < 3)
        return 0;
    int mode = data[0];
    size_t n1 = data[1], pos = 2;
    if (n1 > size - pos)
        n1 = size - pos;
    const uint8_t *a = data + pos;
    pos += n1;
    size_t n2 = pos < size ? data[pos++] : 0;
    if (n2 > size - pos)
        n2 = size - pos;
    const uint8_t *b = data + pos;
    pos += n2;
    if (build_stream(mode, a, n1, b, n2))
        return 0;
    schedule(data + pos, size - pos, mode);
    starts[nstarts++] = 0;

    for (int s = 0; s < nstarts; s++) {     /* forward, as the printer */
        tcpi_redact_init(&rd, names, 3);
        for (int i = starts[s]; i < nev; i++) {
            build(&f, &ev[i]);
            uint32_t cap = ev[i].cap < f.len ? ev[i].cap : f.len;
            if (tcpi_redact_frame(&rd, &pkt, TCPI_LINKTYPE_RAW, f.data, out, cap,
                                  f.len) != TCPI_DR_ok)
                abort();
            check(&ev[i], out + pkt.payload_off, pkt.payload_caplen);
        }
    }
    tcpi_redact_init(&rd, names, 3);        /* backward, as match= */
    for (int i = nev - 1; i >= 0; i--) {
        build(&f, &ev[i]);
        uint32_t cap = ev[i].cap < f.len ? ev[i].cap : f.len;
        if (tcpi_decode(&pkt, TCPI_LINKTYPE_RAW, f.data, cap, f.len) != TCPI_DR_ok)
            abort();
        uint8_t *copy = malloc(pkt.payload_caplen ? pkt.payload_caplen : 1);
        memcpy(copy, f.data + pkt.payload_off, pkt.payload_caplen);
        tcpi_redact_payload(&rd, &pkt, copy, pkt.payload_caplen);
        check(&ev[i], copy, pkt.payload_caplen);
        free(copy);
    }
    return 0;
}
