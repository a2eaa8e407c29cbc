/* Unit tests for header redaction: values masked byte for byte, names
 * case-insensitive, a header cut across segments, folding, a flow whose
 * earlier segments were not seen, bad names; HTTP/2 header blocks (prior
 * knowledge and h2c), frames cut across segments, retransmissions, the
 * start of a connection (SYN). The randomised property test is
 * test_redact_prop.c. */
#include "tcpi_test.h"
#include "decode/tcpi_redact.h"

static tcpi_redact_t rd;

/* A decoded segment of flow 10.0.0.1:40000 -> 10.0.0.2:80 (dir 0) or
 * the reverse (dir 1) at seq. */
static tcpi_pkt_t seg(int dir, uint32_t seq, size_t len)
{
    tcpi_pkt_t p;
    memset(&p, 0, sizeof(p));
    p.family = 4;
    uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
    memcpy(p.src, dir ? b : a, 4);
    memcpy(p.dst, dir ? a : b, 4);
    p.sport = dir ? 80 : 40000;
    p.dport = dir ? 40000 : 80;
    p.seq = seq;
    p.payload_len = (uint32_t)len;
    return p;
}

/* Redact a string (copied) and return the result in a static buffer. */
static const char *red(int dir, uint32_t seq, const char *s)
{
    static char buf[4096];
    size_t n = strlen(s);
    tcpi_pkt_t p = seg(dir, seq, n);
    memcpy(buf, s, n + 1);
    tcpi_redact_payload(&rd, &p, (uint8_t *)buf, n);
    return buf;
}

/* A segment of raw bytes (may hold NULs), redacted in place. */
static void redb(int dir, uint32_t seq, uint8_t *b, size_t n)
{
    tcpi_pkt_t p = seg(dir, seq, n);
    tcpi_redact_payload(&rd, &p, b, n);
}

/* A SYN (dir 0) or SYN-ACK (dir 1, acknowledging ack) at seq isn, its
 * payload b[0..n) (Fast Open) redacted in place. */
static void red_synp(int dir, uint32_t isn, uint32_t ack, uint8_t *b, size_t n)
{
    tcpi_pkt_t p = seg(dir, isn, n);
    p.flags = dir ? (TCPI_TH_SYN | TCPI_TH_ACK) : TCPI_TH_SYN;
    p.ack = ack;
    tcpi_redact_payload(&rd, &p, b, n);
}

/* The handshake of a connection (SYN, SYN-ACK acknowledging it), the ISN
 * of direction dir isn, the other's far from it: dir's data start at
 * isn + 1. */
static void red_syn(int dir, uint32_t isn)
{
    uint32_t cisn = dir ? isn + 0x40000000u : isn;
    uint32_t sisn = dir ? isn : isn + 0x40000000u;
    red_synp(0, cisn, 0, NULL, 0);
    red_synp(1, sisn, cisn + 1, NULL, 0);
}

/* A segment with flags (FIN, RST) and no payload. */
static void red_flags(int dir, uint32_t seq, uint8_t flags)
{
    tcpi_pkt_t p = seg(dir, seq, 0);
    p.flags = flags;
    tcpi_redact_payload(&rd, &p, NULL, 0);
}

static int setup(void **state)
{
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    return 0;
}

static void test_whole_request(void **state)
{
    assert_string_equal(
        red(0, 1, "GET / HTTP/1.1\r\nHost: a\r\nauthorization:  Basic eHk=\r\n"
                  "Cookie: s=1; t=2\r\nX: Cookie: no\r\n\r\n"),
        "GET / HTTP/1.1\r\nHost: a\r\nauthorization:  **********\r\n"
        "Cookie: ********\r\nX: Cookie: no\r\n\r\n");
    assert_string_equal(
        red(1, 7, "HTTP/1.1 200 OK\r\nSET-COOKIE: id=42\r\nContent-Length: 0\r\n\r\n"),
        "HTTP/1.1 200 OK\r\nSET-COOKIE: *****\r\nContent-Length: 0\r\n\r\n");
}

/* The name, the colon and the value each cut by a segment end. A cut in
 * the request line leaves its start unknown (the HTTP-version is not
 * seen): that part is masked, the rest reads from the next line on. After
 * a SYN the first byte is known to start a line: every cut reads the same. */
static void test_split_across_segments(void **state)
{
    const char *full = "GET / HTTP/1.1\r\nProxy-Authorization: Basic c2VjcmV0\r\nA: b\r\n\r\n";
    const char *want = "GET / HTTP/1.1\r\nProxy-Authorization: **************\r\nA: b\r\n\r\n";
    size_t n = strlen(full);
    for (int syn = 0; syn < 2; syn++) {
        for (size_t cut = 1; cut < n; cut++) {
            char a[128], b[128], joined[256], exp[256];
            memcpy(a, full, cut);
            a[cut] = 0;
            strcpy(b, full + cut);
            assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
            if (syn)
                red_syn(0, 99);
            strcpy(joined, red(0, 100, a));
            strcat(joined, red(0, 100 + (uint32_t)cut, b));
            strcpy(exp, want);
            /* In the request line: the first part is not known to be one;
             * the second is masked too, unless it still parses as a
             * request line ("ET / HTTP/1.1", "T / HTTP/1.1"). */
            if (!syn && cut < 16)
                for (size_t k = 0; k < 16; k++)
                    if (k < cut || (cut > 2 && exp[k] != '\r' && exp[k] != '\n'))
                        exp[k] = '*';
            assert_string_equal(joined, exp);
        }
    }
}

static void test_folding_and_directions(void **state)
{
    assert_string_equal(red(0, 1, "GET / HTTP/1.1\r\nCookie: a\r\n  b=c\r\nHost: x\r\n"),
                        "GET / HTTP/1.1\r\nCookie: *\r\n  ***\r\nHost: x\r\n");
    /* The other direction has its own state. */
    assert_string_equal(red(1, 1, "HTTP/1.1 200 OK\r\nCooki"),
                        "HTTP/1.1 200 OK\r\nCooki");
    assert_string_equal(red(0, 44, "GET /2 HTTP/1.1\r\n"), "GET /2 HTTP/1.1\r\n");
    assert_string_equal(red(1, 23, "e: v\r\n"), "e: *\r\n");
}

/* A segment whose predecessor was not seen: its first line could be the
 * tail of a secret, so it is masked unless it is clearly something else. */
static void test_unknown_start(void **state)
{
    assert_string_equal(red(0, 5000, "c2VjcmV0\r\nHost: a\r\n"),
                        "********\r\nHost: a\r\n");
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 6000, "Host: a\r\nCookie: z\r\n"),
                        "Host: a\r\nCookie: *\r\n");
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 6000, "Cookie: z\r\n"), "Cookie: *\r\n");
    /* Out of order: the state is not applied to a segment that does not
     * continue the previous one; that one is judged afresh. */
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 1, "GET / HTTP/1.1\r\nCookie: ab"),
                        "GET / HTTP/1.1\r\nCookie: **");
    /* Nothing in it starts provably: masked whole, line ends too. */
    assert_string_equal(red(0, 900, "xyz\r\n"), "*****");
}

static void test_names(void **state)
{
    const char *mine[] = {"X-Api-Key"};
    assert_null(tcpi_redact_init(&rd, mine, 1));
    assert_string_equal(red(0, 1, "GET / HTTP/1.1\r\nx-api-key: k\r\nCookie: c\r\n"),
                        "GET / HTTP/1.1\r\nx-api-key: *\r\nCookie: c\r\n");
    assert_null(tcpi_redact_init(&rd, NULL, 0));     /* Off */
    assert_string_equal(red(0, 1, "Cookie: c\r\n"), "Cookie: c\r\n");
    const char *bad1[] = {"Bad Name"}, *bad2[] = {""};
    assert_non_null(tcpi_redact_init(&rd, bad1, 1));
    assert_non_null(tcpi_redact_init(&rd, bad2, 1));
    char longname[100];
    memset(longname, 'a', 99);
    longname[99] = 0;
    const char *bad3[] = {longname};
    assert_non_null(tcpi_redact_init(&rd, bad3, 1));
    assert_non_null(tcpi_redact_init(&rd, tcpi_redact_defaults,
                                     TCPI_REDACT_MAX_NAMES + 1));
}

/* Many flows: states are replaced and counted, never overflow. */
static void test_many_flows(void **state)
{
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    for (uint32_t i = 0; i < 5000; i++) {
        char buf[] = "Cookie: x\r\n";
        tcpi_pkt_t p = seg(0, 1, strlen(buf));
        p.sport = (uint16_t)(1000 + i);
        tcpi_redact_payload(&rd, &p, (uint8_t *)buf, strlen(buf));
        assert_string_equal(buf, "Cookie: *\r\n");
    }
    assert_true(rd.evicted > 0);
    assert_int_equal(rd.masked, 5000);
}

/* State lost in the middle of a header name (a retransmission, an evicted
 * flow): a first line that is the tail of a redacted name is masked whole;
 * a whole name, redacted or not, is still read as itself. */
static void test_name_tail_after_lost_state(void **state)
{
    assert_string_equal(red(0, 7000, "ie: SID=secret\r\nHost: a\r\n"),
                        "**************\r\nHost: a\r\n");
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 7000, "ization: Basic eHk=\r\n"),
                        "*********************");
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 7000, "Set-Cookie: a\r\n"), "Set-Cookie: *\r\n");
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 7000, "Host: ie\r\n"), "Host: ie\r\n");
}

/* A segment cut by the snaplen: the bytes not captured may have started a
 * redacted header, so the next segment's first line is judged afresh. */
static void test_snaplen_cut(void **state)
{
    char a[64] = "GET / HTTP/1.1\r\nX-Foo: 1\r\nCook", b[64] = "cdef\r\nHost: a\r\n";
    tcpi_pkt_t p = seg(0, 1, strlen(a) + 10);       /* 10 bytes not captured */
    tcpi_redact_payload(&rd, &p, (uint8_t *)a, strlen(a));
    assert_string_equal(red(0, 1 + (uint32_t)strlen(a) + 10, b),
                        "****\r\nHost: a\r\n");
}

/* ---- misreads ------------------------------------------------------------ */

/* An uppercase word and a space ("NTLM <base64>", the value of an
 * Authorization cut after its name) is not a request line: that needs
 * METHOD SP target SP HTTP/d.d and CRLF inside the segment. */
static void test_request_line_misread(void **state)
{
    assert_string_equal(
        red(0, 7000, "NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==\r\nHost: a\r\n"),
        "*************************************************************\r\nHost: a\r\n");
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 7000, "NTLM TlRMTVNTUAAB"), "*****************");
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 7000, "GET /x HTTP/1.1\r\nCookie: c\r\n"),
                        "GET /x HTTP/1.1\r\nCookie: *\r\n");
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 7000, "GET /x HTTP/1.1"), "***************");
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 7000, "GET /x HTTP/1.1\r"), "****************");
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(1, 7000, "HTTP/1.1 200 OK\r\nSet-Cookie: q\r\n"),
                        "HTTP/1.1 200 OK\r\nSet-Cookie: *\r\n");
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(1, 7000, "HTTP/1.1 2000 x\r\n"), "*****************");
    /* The value after "Authorization: " in the next segment, its
     * predecessor lost: the blank line after it proves nothing. */
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 1, "GET / HTTP/1.1\r\nAuthorization: "),
                        "GET / HTTP/1.1\r\nAuthorization: ");
    assert_string_equal(red(0, 40, "NTLM TlRMTVNTUAAB\r\n\r\n"),
                        "*********************");
}

/* A lost segment that starts with SP or HT starts in a folded value: the
 * line is masked, and so is each folded line after it. */
static void test_fold_at_lost_start(void **state)
{
    assert_string_equal(red(0, 7000, " b=c\r\n\tmore\r\nHost: x\r\n"),
                        "****\r\n*****\r\nHost: x\r\n");
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 7000, "\tb=c\r\n"), "******");
    /* In sync, then a gap: the old code masked only the first folded
     * line after it. */
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 1, "GET / HTTP/1.1\r\nCookie: a\r\n"),
                        "GET / HTTP/1.1\r\nCookie: *\r\n");
    assert_string_equal(red(0, 900, "  s1\r\n s2\r\nHost: x\r\n"),
                        "****\r\n***\r\nHost: x\r\n");
}

/* ---- HTTP/2 ------------------------------------------------------------- */

static const char pri[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* Append a frame (header and len bytes of payload) at b + *n. */
static void h2f(uint8_t *b, size_t *n, uint8_t type, uint8_t flags,
                uint32_t sid, const void *pl, size_t len)
{
    uint8_t *h = b + *n;
    h[0] = (uint8_t)(len >> 16); h[1] = (uint8_t)(len >> 8); h[2] = (uint8_t)len;
    h[3] = type; h[4] = flags;
    h[5] = (uint8_t)(sid >> 24); h[6] = (uint8_t)(sid >> 16);
    h[7] = (uint8_t)(sid >> 8); h[8] = (uint8_t)sid;
    memcpy(h + 9, pl, len);
    *n += 9 + len;
}

/* HPACK with raw literals: :method GET, :scheme http, :path /, then
 * cookie (static 32, incremental indexing) "session=s3cr3t". */
static const uint8_t hpack_req[] = "\x82\x86\x84\x60\x0esession=s3cr3t";
/* :status 200, set-cookie (static 55) "id=t0ps3cr3t" */
static const uint8_t hpack_resp[] = "\x88\x77\x0cid=t0ps3cr3t";

/* The client's side of an h2 connection: preface, SETTINGS, HEADERS on
 * stream 1 split into HEADERS + CONTINUATION, DATA "hello". Returns its
 * length; *hdr gets where each frame payload that must be masked starts
 * and ends (pairs, 0-terminated). */
static size_t h2_client(uint8_t *b, size_t *spans)
{
    size_t n = 0, k = 0;
    memcpy(b, pri, 24);
    n = 24;
    h2f(b, &n, 4, 0, 0, "\x00\x03\x00\x00\x00\x64", 6);         /* SETTINGS */
    spans[k++] = n + 9;
    h2f(b, &n, 1, 0, 1, hpack_req, 10);                          /* HEADERS */
    spans[k++] = n;
    spans[k++] = n + 9;
    h2f(b, &n, 9, 4, 1, hpack_req + 10, sizeof(hpack_req) - 11); /* CONT */
    spans[k++] = n;
    h2f(b, &n, 0, 1, 1, "hello", 5);                             /* DATA */
    spans[k] = 0;
    return n;
}

/* Is out what the client bytes look like with spans masked, and frame
 * payloads too when all_payloads (unanchored)? */
static void check_h2(const uint8_t *in, const uint8_t *out, size_t n,
                     const size_t *spans, int all_payloads)
{
    uint8_t want[512];
    memcpy(want, in, n);
    for (size_t k = 0; spans[k]; k += 2)
        memset(want + spans[k], '*', spans[k + 1] - spans[k]);
    if (all_payloads) {
        memset(want + 24 + 9, '*', 6);                /* SETTINGS */
        memset(want + n - 5, '*', 5);                 /* DATA */
    }
    assert_memory_equal(out, want, n);
}

/* Prior knowledge from the SYN: header blocks masked whole, the rest seen,
 * however the bytes are cut into segments. */
static void test_h2_anchored(void **state)
{
    uint8_t in[512], out[512];
    size_t spans[8], n = h2_client(in, spans);

    for (size_t c1 = 0; c1 < n; c1++) {
        for (size_t c2 = c1; c2 < n; c2++) {
            assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
            red_syn(0, 1000);
            memcpy(out, in, n);
            redb(0, 1001, out, c1);
            redb(0, 1001 + (uint32_t)c1, out + c1, c2 - c1);
            redb(0, 1001 + (uint32_t)c2, out + c2, n - c2);
            check_h2(in, out, n, spans, 0);
            assert_null(memmem(out, n, "s3cr3t", 6));
        }
    }
    /* The server: SETTINGS first (its connection preface), HEADERS with a
     * Set-Cookie, DATA. */
    size_t m = 0;
    h2f(in, &m, 4, 0, 0, "", 0);
    h2f(in, &m, 4, 1, 0, "", 0);
    h2f(in, &m, 1, 4, 1, hpack_resp, sizeof(hpack_resp) - 1);
    h2f(in, &m, 0, 1, 1, "body", 4);
    memcpy(out, in, m);
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    red_syn(1, 5000);
    redb(1, 5001, out, m);
    assert_memory_equal(out, in, 27);
    for (size_t i = 27; i < 27 + sizeof(hpack_resp) - 1; i++)
        assert_int_equal(out[i], '*');
    assert_memory_equal(out + m - 13, in + m - 13, 13);
}

/* No SYN seen: the preface says HTTP/2, but where the frames are was read
 * from the content (it could be a DATA body's): all after it is masked,
 * however it is cut. */
static void test_h2_unanchored(void **state)
{
    uint8_t in[512], out[512], want[512];
    size_t spans[8], n = h2_client(in, spans);

    memcpy(want, in, 24);
    memset(want + 24, '*', n - 24);
    for (size_t c1 = 0; c1 < n; c1++) {
        assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
        memcpy(out, in, n);
        redb(0, 1001, out, c1);
        redb(0, 1001 + (uint32_t)c1, out + c1, n - c1);
        if (c1 == 0 || c1 >= 3)             /* "PRI" seen whole */
            assert_memory_equal(out, want, n);
        else                                /* "P", "PR": not known */
            assert_memory_equal(out + 24, want + 24, n - 24);
    }
}

/* A direction known to carry HTTP/2, its state lost: masked whole, be it
 * at a frame boundary or in a frame, and HTTP/1 text is never trusted
 * there, nor in the other direction. A chain of frame headers at a lost
 * start says HTTP/2 as the preface does. */
static void test_h2_lost(void **state)
{
    uint8_t in[512], out[512], frames[256];
    size_t spans[8], n = h2_client(in, spans), m = 0;

    memcpy(out, in, n);
    redb(0, 1001, out, n);                          /* h2 now known */
    h2f(frames, &m, 0, 0, 3, "visible?", 8);
    h2f(frames, &m, 1, 4, 5, hpack_req, sizeof(hpack_req) - 1);
    for (size_t from = 0; from < 4; from += 3) {
        memcpy(out, frames + from, m - from);
        redb(0, 9000 + 1000 * (uint32_t)from, out, m - from);   /* gaps */
        for (size_t i = 0; i < m - from; i++)
            assert_int_equal(out[i], '*');
    }
    assert_string_equal(red(0, 30000, "Host: a\r\n"), "*********");
    assert_string_equal(red(1, 30000, "HTTP/1.1 200 OK\r\n"), "*****************");

    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    memcpy(out, frames, m);
    redb(1, 500, out, m);
    assert_string_equal(red(1, 9000, "Host: a\r\n"), "*********");
}

/* h2c: an HTTP/1.1 request with Upgrade, the preface and frames after it;
 * the 101 response and the server's frames. The frames start at a line
 * start with a NUL: read as HTTP/2 (unanchored) from there. */
static void test_h2c_upgrade(void **state)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, "
        "HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n";
    static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\n"
        "Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
    uint8_t in[512], out[512];
    size_t n = strlen(req), m;

    memcpy(in, req, n);
    memcpy(in + n, pri, 24);
    n += 24;
    h2f(in, &n, 4, 0, 0, "\x00\x03\x00\x00\x00\x64", 6);
    h2f(in, &n, 1, 5, 3, hpack_req, sizeof(hpack_req) - 1);
    for (size_t cut = 1; cut < n; cut++) {
        assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
        red_syn(0, 10);
        memcpy(out, in, n);
        redb(0, 11, out, cut);
        redb(0, 11 + (uint32_t)cut, out + cut, n - cut);
        assert_memory_equal(out, in, strlen(req) + 24);
        assert_null(memmem(out, n, "s3cr3t", 6));
    }
    m = strlen(resp);
    memcpy(in, resp, m);
    h2f(in, &m, 4, 0, 0, "", 0);
    h2f(in, &m, 1, 4, 1, hpack_resp, sizeof(hpack_resp) - 1);
    h2f(in, &m, 0, 1, 1, "body", 4);
    for (size_t cut = 1; cut < m; cut++) {
        assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
        red_syn(1, 50);
        memcpy(out, in, m);
        redb(1, 51, out, cut);
        redb(1, 51 + (uint32_t)cut, out + cut, m - cut);
        assert_memory_equal(out, in, strlen(resp));
        assert_null(memmem(out, m, "t0ps3cr3t", 9));
    }
}

/* A NUL at a line start that does not begin a frame is not text: the rest
 * is masked. Where HTTP/1 was guessed from a lost start (here: text in a
 * DATA payload, a multipart part's headers), a NUL anywhere that begins a
 * frame header is HTTP/2 from there on, even cut by the segment end. */
static void test_nul_in_h1(void **state)
{
    uint8_t b[256], want[256];
    static const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n";
    size_t n = strlen(r);

    red_syn(1, 0);
    memcpy(b, r, n);
    memcpy(b + n, "\0\xff\xff\xff" "abcde", 9);
    redb(1, 1, b, n + 9);
    memcpy(want, r, n);
    memset(want + n, '*', 9);
    assert_memory_equal(b, want, n + 9);

    static const char part[] = "Content-Disposition: form-data; name=a\r\n\r\nval";
    uint8_t in[256];
    size_t m = strlen(part);
    memcpy(in, part, m);
    h2f(in, &m, 1, 4, 3, hpack_req, sizeof(hpack_req) - 1);
    for (size_t cut = strlen(part) - 2; cut < m; cut++) {
        assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
        memcpy(b, in, m);
        redb(0, 500, b, cut);
        redb(0, 500 + (uint32_t)cut, b + cut, m - cut);
        assert_memory_equal(b, in, strlen(part));
        assert_null(memmem(b, m, "s3cr3t", 6));
    }
}

/* Where HTTP/1 was guessed from a lost start, its header section holds
 * text only until the blank line. */
static void test_guard(void **state)
{
    assert_string_equal(red(0, 7000, "Host: a\r\nX-B: q\x80z\r\nMore: v\r\n"),
                        "Host: a\r\nX-B: q*************");
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 7000, "Host: a\r\n\r\nq\x80\x01z"),
                        "Host: a\r\n\r\nq\x80\x01z");
}

/* ---- sequence ---------------------------------------------------------- */

/* A retransmission overlapping the end of what was seen: the old bytes are
 * masked, the new ones continue the state. A copy of old bytes is judged
 * alone and leaves the state alone. */
static void test_retransmission(void **state)
{
    assert_string_equal(red(0, 1, "GET / HTTP/1.1\r\nCookie: ab"),
                        "GET / HTTP/1.1\r\nCookie: **");
    assert_string_equal(red(0, 25, "abcd\r\nHost: x\r\n"), "****\r\nHost: x\r\n");
    assert_string_equal(red(0, 1, "GET / HTTP/1.1\r\nCookie: ab"),
                        "GET / HTTP/1.1\r\nCookie: **");
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 1, "GET / HTTP/1.1\r\nCookie: ab"),
                        "GET / HTTP/1.1\r\nCookie: **");
    assert_string_equal(red(0, 10, "1.1\r\n"), "*****");       /* old copy */
    assert_string_equal(red(0, 27, "cd\r\nHost: x\r\n"), "**\r\nHost: x\r\n");

    /* HTTP/2 followed from the SYN: a retransmitted HEADERS frame is
     * masked; its new bytes (the DATA) too: an overlap loses the state
     * (the bytes seen before next_seq may have been spoofed), and HTTP/2
     * after lost state is masked whole. */
    uint8_t in[512], out[512];
    size_t spans[8], n = h2_client(in, spans);
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    red_syn(0, 1000);
    memcpy(out, in, n);
    redb(0, 1001, out, n - 14);
    memcpy(out, in, n);
    redb(0, 1001 + 39, out + 39, n - 39);          /* from HEADERS on again */
    assert_null(memmem(out + 39, n - 39, "s3cr3t", 6));
    for (size_t i = n - 14; i < n; i++)
        assert_int_equal(out[i], '*');
}

/* Bytes not captured inside an anchored frame payload keep the framing:
 * the next segment is still read in sync. Not captured over a frame
 * header: lost, and re-found only from a frame boundary. */
static void test_snaplen_h2(void **state)
{
    uint8_t in[512], out[512], body[100];
    size_t n = 0;
    memset(body, 'D', sizeof(body));
    memcpy(in, pri, 24);
    n = 24;
    h2f(in, &n, 0, 0, 1, body, sizeof(body));
    size_t second = n;
    h2f(in, &n, 0, 1, 1, "seen", 4);
    red_syn(0, 0);
    memcpy(out, in, n);
    tcpi_pkt_t p = seg(0, 1, second);
    tcpi_redact_payload(&rd, &p, out, 24 + 9 + 20);     /* 80 not captured */
    redb(0, 1 + (uint32_t)second, out + second, n - second);
    assert_memory_equal(out, in, n);

    /* Not captured: the rest of the first DATA and all of the second. */
    size_t third = n;
    h2f(in, &n, 0, 1, 3, "more", 4);
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    red_syn(0, 0);
    memcpy(out, in, n);
    p = seg(0, 1, third);
    tcpi_redact_payload(&rd, &p, out, 24 + 9 + 20);
    redb(0, 1 + (uint32_t)third, out + third, n - third);
    for (size_t i = third; i < n; i++)                  /* not re-found */
        assert_int_equal(out[i], '*');
}

/* ---- connection starts (SYN, SYN-ACK, FIN, RST) ---------------------- */

/* What a spoofed SYN carries to turn redaction off: the client preface and
 * a DATA frame header claiming 16 MB (on stream 1). */
static size_t spoof_payload(uint8_t *b)
{
    static const uint8_t data_hdr[9] = { 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 1 };
    memcpy(b, pri, 24);
    memcpy(b + 24, data_hdr, 9);
    return 33;
}

/* The attack: a connection in sync (HTTP/1, followed from its handshake
 * or from a lost start), then a SYN with the client's (or the server's)
 * addresses whose sequence number lines up with the victim's next
 * segment: its data (the preface and a DATA header) end, or its seq + 1
 * is, exactly where that segment starts; the segment carries a secret
 * (from a request's start, or cut after "Cookie: "). Also after a FIN or
 * RST spoofed at the same place, and with a forged SYN-ACK acknowledging
 * the SYN. No variant shows the secret; where the flow was in sync and
 * nothing ended it, the victim's segment reads exactly as without the
 * SYN. */
static void test_spoofed_syn(void **state)
{
    static const char *first[2] = { "GET /a HTTP/1.1\r\nHost: a\r\n\r\n",
                                     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" };
    static const char *head[2] = { "GET /b HTTP/1.1\r\nCookie: ",
                                   "HTTP/1.1 200 OK\r\nSet-Cookie: " };
    static const char value[] = "s3cr3t-v4lue\r\n\r\n", masked[] = "************\r\n\r\n";
    const uint32_t base[2] = { 1000, 70000 };
    uint8_t spl[64], syn[64];
    size_t sl = spoof_payload(spl);
    int cases = 0;

    for (int dir = 0; dir < 2; dir++)
    for (int hs = 0; hs < 2; hs++)
    for (int mid = 0; mid < 2; mid++)
    for (int pl = 0; pl < 2; pl++)
    for (int pre = 0; pre < 3; pre++)
    for (int forge = 0; forge < 3; forge++) {
        char vict[128], want[128];
        assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
        if (hs) {
            red_synp(0, base[0] - 1, 0, NULL, 0);
            red_synp(1, base[1] - 1, base[0], NULL, 0);
        }
        assert_string_equal(red(0, base[0], first[0]), first[0]);
        assert_string_equal(red(1, base[1], first[1]), first[1]);
        uint32_t v = base[dir] + (uint32_t)strlen(first[dir]);
        snprintf(vict, sizeof(vict), "%s%s", head[dir], value);
        snprintf(want, sizeof(want), "%s%s", head[dir], masked);
        if (mid) {                      /* the secret starts a segment */
            assert_string_equal(red(dir, v, head[dir]), head[dir]);
            v += (uint32_t)strlen(head[dir]);
            strcpy(vict, value);
            strcpy(want, masked);
        }
        if (pre)                        /* a FIN or RST ends it first */
            red_flags(dir, v, pre == 1 ? (TCPI_TH_FIN | TCPI_TH_ACK) : TCPI_TH_RST);
        memcpy(syn, spl, sl);
        uint32_t n = pl ? (uint32_t)sl : 0, s = v - 1 - n;
        tcpi_pkt_t p = seg(dir, s, n);
        p.flags = TCPI_TH_SYN;
        tcpi_redact_payload(&rd, &p, syn, n);
        if (forge) {                    /* SYN-ACK: acks seq + 1, or the data */
            p = seg(!dir, base[!dir] + 0x40000000u, 0);
            p.flags = TCPI_TH_SYN | TCPI_TH_ACK;
            p.ack = forge == 1 ? s + 1 : s + 1 + n;
            tcpi_redact_payload(&rd, &p, NULL, 0);
        }
        const char *out = red(dir, v, vict);
        if (strstr(out, "s3cr3t"))
            fail_msg("dir %d handshake %d mid %d payload %d pre %d forge %d: %s",
                     dir, hs, mid, pl, pre, forge, out);
        if (!pre)                       /* in sync: the SYN changed nothing */
            assert_string_equal(out, want);
        for (uint32_t i = 0; i < n; i++)    /* its data: never judged */
            assert_int_equal(syn[i], '*');
        cases++;
    }
    assert_int_equal(cases, 2 * 2 * 2 * 2 * 3 * 3);
}

/* A SYN with data at a connection's start (TCP Fast Open, or a hostile
 * preface + DATA header): masked whole, never judged. The SYN-ACK not
 * taking the data: both directions anchored, the client's data (sent
 * again from seq + 1) read from the start; taking them: the client's
 * direction lost after them, the server's anchored. */
static void test_syn_payload(void **state)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: example.test\r\n"
                              "Cookie: s3cr3t\r\n\r\n";
    static const char req_m[] = "GET / HTTP/1.1\r\nHost: example.test\r\n"
                                "Cookie: ******\r\n\r\n";
    uint8_t syn[128], in[512], out[512], sv[256];
    size_t spans[8], n = h2_client(in, spans), m = 0;

    /* the server's side: SETTINGS, HEADERS (set-cookie), DATA "body" */
    h2f(sv, &m, 4, 0, 0, "", 0);
    h2f(sv, &m, 1, 4, 1, hpack_resp, sizeof(hpack_resp) - 1);
    h2f(sv, &m, 0, 1, 1, "body", 4);
    for (int what = 0; what < 2; what++) {      /* hostile, Fast Open */
        for (int taken = 0; taken < 2; taken++) {
            size_t sl = what ? strlen(req) : spoof_payload(syn);
            if (what)
                memcpy(syn, req, sl);
            assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
            red_synp(0, 99, 0, syn, sl);
            red_synp(1, 7000, 100 + (taken ? (uint32_t)sl : 0), NULL, 0);
            uint32_t c = 100 + (taken ? (uint32_t)sl : 0);
            if (!taken) {               /* the client sends again: anchored */
                assert_null(strstr(red(0, c, req), "s3cr3t"));
                assert_string_equal(red(0, c, req), req_m);   /* a copy */
                c += (uint32_t)strlen(req);
            }
            /* then an HTTP/1 request: a lost start reads its line too */
            assert_string_equal(red(0, c, req), req_m);
            for (size_t i = 0; i < sl; i++)     /* the SYN's data */
                assert_int_equal(syn[i], '*');
            memcpy(out, sv, m);
            redb(1, 7001, out, m);      /* the server's side: anchored */
            assert_memory_equal(out, sv, 9 + 9);
            assert_null(memmem(out, m, "t0ps3cr3t", 9));
            assert_memory_equal(out + m - 13, sv + m - 13, 13);
        }
    }
    /* Fast Open data taken, HTTP/2 after them: the client's direction is
     * lost there (its frames masked: their framing was not followed). */
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    memcpy(out, in, n);
    red_synp(0, 99, 0, out, 24);
    red_synp(1, 7000, 100 + 24, NULL, 0);
    redb(0, 124, out + 24, n - 24);
    assert_null(memmem(out, n, "s3cr3t", 6));
    assert_null(memmem(out, n, "hello", 5));
}

/* A SYN whose SYN-ACK never comes (or acknowledges another number) proves
 * nothing: its direction is judged as after lost state. */
static void test_syn_unanswered(void **state)
{
    uint8_t in[512], out[512], syn[64];
    size_t spans[8], n = h2_client(in, spans);

    for (int how = 0; how < 4; how++) {
        size_t sl = how & 1 ? spoof_payload(syn) : 0;
        uint32_t c = 1000 + (uint32_t)sl;
        assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
        red_synp(0, 999, 0, syn, sl);
        if (how & 2)                    /* a SYN-ACK for another SYN */
            red_synp(1, 5000, 1001 + (uint32_t)sl, NULL, 0);
        /* a secret's tail where the connection would start */
        assert_string_equal(red(0, c, "s3cr3t\r\nHost: a\r\n"), "******\r\nHost: a\r\n");
        assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
        red_synp(0, 999, 0, syn, sl);
        if (how & 2)
            red_synp(1, 5000, 1001 + (uint32_t)sl, NULL, 0);
        memcpy(out, in, n);
        redb(0, c, out, n);             /* the preface shown, the rest not */
        assert_memory_equal(out, in, 24);
        assert_null(memmem(out, n, "s3cr3t", 6));
        assert_null(memmem(out, n, "hello", 5));
    }
}

/* A new connection on the same addresses and ports after the old one
 * ended (FIN from both sides, or a RST from either) is followed from its
 * start once its SYN-ACK acknowledges its SYN: an HTTP/2 client's preface
 * and DATA shown, its HEADERS masked. Without a FIN or RST the old state
 * stays (the new connection's bytes are then judged as after lost state),
 * and so it does where the new ISN could continue the old stream. */
static void test_reuse_after_close(void **state)
{
    static const char req[] = "GET / HTTP/1.1\r\nCookie: a\r\n\r\n";
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    uint8_t in[512], out[512];
    size_t spans[8], n = h2_client(in, spans);

    for (int end = 0; end < 6; end++) {     /* none, FINs, RST c, RST s, near */
        assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
        red_synp(0, 999, 0, NULL, 0);
        red_synp(1, 4999, 1000, NULL, 0);
        assert_string_equal(red(0, 1000, req), "GET / HTTP/1.1\r\nCookie: *\r\n\r\n");
        assert_string_equal(red(1, 5000, resp), resp);
        uint32_t ce = 1000 + (uint32_t)strlen(req), se = 5000 + (uint32_t)strlen(resp);
        if (end == 1 || end == 4 || end == 5) {     /* FIN, FIN */
            red_flags(1, se, TCPI_TH_FIN | TCPI_TH_ACK);
            red_flags(0, ce, TCPI_TH_FIN | TCPI_TH_ACK);
        } else if (end == 2) {
            red_flags(0, ce, TCPI_TH_RST | TCPI_TH_ACK);
        } else if (end == 3) {
            red_flags(1, se, TCPI_TH_RST);
        }
        /* the new ISNs: far away, or (4, 5) near the old stream's end */
        uint32_t ci = end == 4 ? ce + 5000 : 0x9000000u, si = end == 5 ? se + 1 : 0xc0000000u;
        red_synp(0, ci, 0, NULL, 0);
        red_synp(1, si, ci + 1, NULL, 0);
        memcpy(out, in, n);
        redb(0, ci + 1, out, n);
        assert_null(memmem(out, n, "s3cr3t", 6));
        if (end >= 1 && end <= 3) {
            check_h2(in, out, n, spans, 0);
        } else {
            assert_memory_equal(out, in, 24);
            assert_null(memmem(out, n, "hello", 5));
        }
    }
}

/* ---- spoofed segments at the next sequence number ----------------------- */

/* The attack of a spoofed data segment, no SYN: at a direction's next
 * sequence number the attacker puts bytes that leave the scan in a state
 * that masks nothing (a header line not redacted and not ended, a folded
 * continuation of one, a bare token, the preface and a DATA frame header);
 * the victim's real segment, longer, then overlaps them. Its new bytes
 * must not be read in the attacker's state: the secret never shows, for
 * every injected length (shorter than the victim's segment, up to it,
 * longer), the cookie after 0 to 3 header lines, the victim's bytes in one
 * segment or cut before the value, both directions, with or without the
 * handshake. A further request after it is still masked; a provable line
 * after the victim's resyncs. */
static size_t inject_fill(int kind, char *b, size_t k)
{
    static const char *pre[3] = { "X-Foo: ", "X-Foo: a\r\n ", "X" };
    uint8_t spl[64];

    if (kind == 3) {                                /* preface + DATA header */
        size_t sl = spoof_payload(spl);
        memset(b, 'a', k);
        memcpy(b, spl, k < sl ? k : sl);
        return k;
    }
    size_t pl = strlen(pre[kind]);
    memset(b, kind == 2 ? 'X' : 'a', k);
    memcpy(b, pre[kind], k < pl ? k : pl);
    return k;
}

static void test_injected_overlap_h1(void **state)
{
    static const char *first[2] = { "GET /a HTTP/1.1\r\nHost: a\r\n\r\n",
                                     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" };
    static const char *line[2] = { "GET /b HTTP/1.1\r\n", "HTTP/1.1 200 OK\r\n" };
    static const char *name[2] = { "Cookie: ", "Set-Cookie: " };
    static const char *next[2] = { "GET /c HTTP/1.1\r\nCookie: s3cr3t-n3xt\r\n\r\n",
                                   "HTTP/1.1 200 OK\r\nSet-Cookie: s3cr3t-n3xt\r\n\r\n" };
    const uint32_t base[2] = { 1000, 70000 };
    int cases = 0;

    for (int dir = 0; dir < 2; dir++)
    for (int hs = 0; hs < 2; hs++)
    for (int pad = 0; pad < 4; pad++)
    for (int mid = 0; mid < 2; mid++)
    for (int kind = 0; kind < 4; kind++) {
        char vict[300], head[200];
        size_t hl = 0;
        hl += (size_t)sprintf(head + hl, "%s", line[dir]);
        for (int i = 0; i < pad; i++)
            hl += (size_t)sprintf(head + hl, "X-Pad-%d: %.*s\r\n", i, 3 * i + 1,
                                  "pppppppppppp");
        hl += (size_t)sprintf(head + hl, "%s", name[dir]);
        snprintf(vict, sizeof(vict), "%ss3cr3t-v4lue\r\n\r\n", head);
        size_t vl = strlen(vict), nl = strlen(next[dir]);

        for (size_t k = 1; k <= vl + nl + 8; k++) {
            char inj[512], out[512];
            assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
            if (hs) {
                red_synp(0, base[0] - 1, 0, NULL, 0);
                red_synp(1, base[1] - 1, base[0], NULL, 0);
            }
            assert_string_equal(red(0, base[0], first[0]), first[0]);
            assert_string_equal(red(1, base[1], first[1]), first[1]);
            uint32_t v = base[dir] + (uint32_t)strlen(first[dir]);
            inject_fill(kind, inj, k);
            redb(dir, v, (uint8_t *)inj, k);        /* spoofed, no SYN */
            if (mid) {                              /* cut before the value */
                memcpy(out, vict, hl);
                redb(dir, v, (uint8_t *)out, hl);
                memcpy(out + hl, vict + hl, vl - hl + 1);
                redb(dir, v + (uint32_t)hl, (uint8_t *)out + hl, vl - hl);
            } else {
                memcpy(out, vict, vl + 1);
                redb(dir, v, (uint8_t *)out, vl);
            }
            if (strstr(out, "s3cr3t") || strstr(out, "v4lue"))
                fail_msg("dir %d hs %d pad %d mid %d kind %d k %zu: %s",
                         dir, hs, pad, mid, kind, k, out);
            const char *o = red(dir, v + (uint32_t)vl, next[dir]);
            /* The injected bytes as long as the victim's (or ending with
             * its last segment): nothing overlaps, but that copy ends at
             * next_seq: the next segment is not read in the spoofed
             * bytes' state either. */
            if (strstr(o, "s3cr3t"))
                fail_msg("next: dir %d hs %d pad %d mid %d kind %d k %zu: %s",
                         dir, hs, pad, mid, kind, k, o);
            cases++;
        }
    }
    assert_true(cases > 2000);

    /* Resync: after the overlap, a segment that provably starts a line is
     * read again (the guard on until its blank line). */
    assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
    assert_string_equal(red(0, 1000, first[0]), first[0]);
    uint32_t v = 1000 + (uint32_t)strlen(first[0]);
    assert_string_equal(red(0, v, "X-Foo: aaaa"), "X-Foo: aaaa");
    assert_string_equal(red(0, v, "GET /b HTTP/1.1\r\nCookie: s3cr3t\r\n"),
                        "***************\r\nCookie: ******\r\n");
    assert_string_equal(red(0, v + 33, "Host: b\r\nCookie: x\r\n\r\n"),
                        "Host: b\r\nCookie: *\r\n\r\n");
}

/* The same against HTTP/2 followed from its SYN: the attacker's bytes a
 * DATA frame header claiming 16383 bytes (or the start of one), padded;
 * the victim's HEADERS frame (the cookie) overlapping them is masked, and
 * so is everything after on that direction, HTTP/1-looking text included
 * (never read as HTTP/1 again). */
static void test_injected_overlap_h2(void **state)
{
    static const uint8_t dh[9] = { 0x00, 0x3f, 0xff, 0, 0, 0, 0, 0, 3 };
    uint8_t in[512], out[512], vict[256], inj[512];
    size_t spans[8], n = h2_client(in, spans), vl = 0;

    /* The victim: HEADERS (cookie) at a frame boundary, a DATA frame
     * before it or not, then DATA. */
    for (int lead = 0; lead < 2; lead++)
    for (int pad = 0; pad < 2; pad++) {
        vl = 0;
        if (lead)
            h2f(vict, &vl, 0, 0, 1, "lead-data", 9);
        h2f(vict, &vl, 1, 5, 3, hpack_req, sizeof(hpack_req) - 1);
        h2f(vict, &vl, 0, 1, 3, "tail", 4);
        for (size_t k = 1; k <= vl + 16; k++) {
            assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
            red_syn(0, 1000);
            memcpy(out, in, n);
            redb(0, 1001, out, n);
            check_h2(in, out, n, spans, 0);
            uint32_t v = 1001 + (uint32_t)n;
            memset(inj, pad ? 0 : 'a', k);
            memcpy(inj, dh, k < 9 ? k : 9);
            redb(0, v, inj, k);
            memcpy(out, vict, vl);
            redb(0, v, out, vl);
            if (memmem(out, vl, "s3cr3t", 6))
                fail_msg("lead %d pad %d k %zu: secret shown", lead, pad, k);
            /* the next request: HEADERS again, then HTTP/1 text */
            uint32_t e = v + (uint32_t)vl;
            size_t m = 0;
            h2f(out, &m, 1, 5, 5, hpack_req, sizeof(hpack_req) - 1);
            redb(0, e, out, m);
            if (memmem(out, m, "s3cr3t", 6))
                fail_msg("lead %d pad %d k %zu: next secret shown", lead, pad, k);
            {                   /* the state lost: masked, not h1 */
                const char *o = red(0, e + (uint32_t)m,
                                    "GET / HTTP/1.1\r\nCookie: s3cr3t\r\n\r\n");
                assert_null(strstr(o, "s3cr3t"));
                assert_null(strstr(o, "GET"));      /* never back to h1 */
            }
        }
    }
}

/* Ordinary retransmissions: an exact copy of the last segment, a copy
 * with more bytes after it (identical in their overlap), a re-cut that
 * starts inside an earlier segment: the secrets stay masked (masking more
 * than before is fine), and a later provable line start is read again. */
static void test_retransmission_overlap(void **state)
{
    static const char req[] = "GET /b HTTP/1.1\r\nHost: b\r\nCookie: s3cr3t-v4lue\r\n"
                              "Authorization: Basic c2VjcmV0\r\n\r\n";
    const size_t rl = sizeof(req) - 1;

    for (size_t c1 = 1; c1 < rl; c1++)
    for (size_t lo = 0; lo < c1; lo += 3)
    for (size_t hi = c1; hi <= rl; hi += 5) {
        char out[256];
        assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
        red_syn(0, 999);
        memcpy(out, req, rl + 1);
        redb(0, 1000, (uint8_t *)out, c1);
        memcpy(out + lo, req + lo, hi - lo);        /* the re-sent bytes */
        redb(0, 1000 + (uint32_t)lo, (uint8_t *)out + lo, hi - lo);
        if (hi < rl)
            redb(0, 1000 + (uint32_t)hi, (uint8_t *)out + hi, rl - hi);
        if (strstr(out, "s3cr3t") || strstr(out, "c2VjcmV0"))
            fail_msg("c1 %zu lo %zu hi %zu: %s", c1, lo, hi, out);
        const char *o = red(0, 1000 + (uint32_t)rl,
                            "GET /c HTTP/1.1\r\nCookie: again\r\n\r\n");
        assert_string_equal(o, "GET /c HTTP/1.1\r\nCookie: *****\r\n\r\n");
    }
}

/* The frame view: a TCP payload is redacted; a frame the decoder cannot
 * place (here IPIP: an IPv4 header with protocol 4 around the request)
 * keeps only its IP header, so -X cannot print the inner secret. */
static void test_frame(void **state)
{
    static const char req[] = "GET / HTTP/1.1\r\nCookie: top-secret\r\n\r\n";
    uint8_t f[256], out[256];
    tcpi_pkt_t pkt;
    uint32_t n = tcpi_test_frame(f, 40000, 80, (uint32_t)strlen(req));

    memcpy(f + 54, req, strlen(req));
    assert_int_equal(tcpi_redact_frame(&rd, &pkt, 1, f, out, n, n), TCPI_DR_ok);
    assert_memory_equal(out, f, 54);
    assert_non_null(memmem(out + 54, n - 54, "Cookie: **********", 18));
    assert_null(memmem(out, n, "top-secret", 10));

    f[23] = 4;                                      /* IP protocol: IPIP */
    assert_int_equal(tcpi_redact_frame(&rd, &pkt, 1, f, out, n, n), TCPI_DR_not_tcp);
    assert_memory_equal(out, f, 34);                /* Ethernet + IPv4 */
    for (uint32_t i = 34; i < n; i++)
        assert_int_equal(out[i], '*');

    assert_int_equal(tcpi_redact_frame(NULL, &pkt, 1, f, out, n, n), TCPI_DR_not_tcp);
    assert_memory_equal(out, f, n);                 /* no names: a copy */

    /* A SYN frame anchors its direction: h2 DATA after the preface is then
     * shown; without it, masked. */
    uint8_t pl[128];
    size_t m = 24;
    memcpy(pl, pri, 24);
    h2f(pl, &m, 0, 1, 1, "hello", 5);
    for (int syn = 0; syn < 2; syn++) {
        assert_null(tcpi_redact_init(&rd, tcpi_redact_defaults, 4));
        if (syn) {                                  /* SYN, SYN-ACK */
            n = tcpi_test_frame(f, 40001, 80, 0);
            f[41] = 0;                              /* seq 0 */
            f[47] = TCPI_TH_SYN;
            assert_int_equal(tcpi_redact_frame(&rd, &pkt, 1, f, out, n, n), TCPI_DR_ok);
            n = tcpi_test_frame(f, 80, 40001, 0);
            f[45] = 1;                              /* ack 1 */
            f[47] = TCPI_TH_SYN | TCPI_TH_ACK;
            assert_int_equal(tcpi_redact_frame(&rd, &pkt, 1, f, out, n, n), TCPI_DR_ok);
        }
        n = tcpi_test_frame(f, 40001, 80, (uint32_t)m);   /* seq 1 */
        memcpy(f + 54, pl, m);
        assert_int_equal(tcpi_redact_frame(&rd, &pkt, 1, f, out, n, n), TCPI_DR_ok);
        assert_memory_equal(out, f, 54 + 24 + (syn ? 9 : 0));
        assert_true((memmem(out + 54, m, "hello", 5) != NULL) == syn);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_whole_request, setup),
        cmocka_unit_test_setup(test_split_across_segments, setup),
        cmocka_unit_test_setup(test_folding_and_directions, setup),
        cmocka_unit_test_setup(test_unknown_start, setup),
        cmocka_unit_test_setup(test_names, setup),
        cmocka_unit_test_setup(test_many_flows, setup),
        cmocka_unit_test_setup(test_name_tail_after_lost_state, setup),
        cmocka_unit_test_setup(test_snaplen_cut, setup),
        cmocka_unit_test_setup(test_request_line_misread, setup),
        cmocka_unit_test_setup(test_fold_at_lost_start, setup),
        cmocka_unit_test_setup(test_h2_anchored, setup),
        cmocka_unit_test_setup(test_h2_unanchored, setup),
        cmocka_unit_test_setup(test_h2_lost, setup),
        cmocka_unit_test_setup(test_h2c_upgrade, setup),
        cmocka_unit_test_setup(test_nul_in_h1, setup),
        cmocka_unit_test_setup(test_guard, setup),
        cmocka_unit_test_setup(test_retransmission, setup),
        cmocka_unit_test_setup(test_snaplen_h2, setup),
        cmocka_unit_test_setup(test_spoofed_syn, setup),
        cmocka_unit_test_setup(test_syn_payload, setup),
        cmocka_unit_test_setup(test_syn_unanswered, setup),
        cmocka_unit_test_setup(test_reuse_after_close, setup),
        cmocka_unit_test_setup(test_injected_overlap_h1, setup),
        cmocka_unit_test_setup(test_injected_overlap_h2, setup),
        cmocka_unit_test_setup(test_retransmission_overlap, setup),
        cmocka_unit_test_setup(test_frame, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
