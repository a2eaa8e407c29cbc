/* Unit tests for per-request packet selection and the pcapng it writes:
 * a real ring filled with hand-built frames, read back with the capfile
 * reader and with tshark. */
#include "tcpi_test.h"
#include "tcpi_reqcap_frames.h"
#include "pcapfile/tcpi_pcapfile.h"
#include "reqcap/tcpi_reqcap.h"
#include "join/tcpi_join.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1700000000000000ull           /* a wall-clock start, in µs */

static void test_classify(void **state)
{
    tcpi_req_t r;
    tcpi_pkt_t p;
    uint8_t b[256];
    tcpi_endpoint_t c = ep("198.18.0.2", 40000), s = ep("198.18.0.1", 80);
    tcpi_endpoint_t l = ep("127.0.0.1", 50000), bk = ep("127.0.0.1", 7001);
    tcpi_endpoint_t other = ep("198.18.0.2", 40001);
    int to_server = -1;
    uint32_t n;

    memset(&r, 0, sizeof(r));
    r.front_client = c;
    r.front_server = s;
    r.backend_local = l;
    r.backend_remote = bk;
    n = frame(b, &c, &s, A_, 1, NULL);
    assert_int_equal(tcpi_decode(&p, TCPI_LINKTYPE_EN10MB, b, n, n), TCPI_DR_ok);
    assert_int_equal(tcpi_reqcap_classify(&to_server, &r, &p), TCPI_LEG_FRONT);
    assert_int_equal(to_server, 1);
    n = frame(b, &s, &c, A_, 1, NULL);
    tcpi_decode(&p, TCPI_LINKTYPE_EN10MB, b, n, n);
    assert_int_equal(tcpi_reqcap_classify(&to_server, &r, &p), TCPI_LEG_FRONT);
    assert_int_equal(to_server, 0);
    /* The backend tuple only counts when the record has a backend. */
    n = frame(b, &bk, &l, A_, 1, NULL);
    tcpi_decode(&p, TCPI_LINKTYPE_EN10MB, b, n, n);
    assert_int_equal(tcpi_reqcap_classify(&to_server, &r, &p), 0);
    r.has_backend = 1;
    assert_int_equal(tcpi_reqcap_classify(&to_server, &r, &p), TCPI_LEG_BACKEND);
    assert_int_equal(to_server, 0);
    /* Another port, a half-matching tuple, another family: not ours. */
    n = frame(b, &other, &s, A_, 1, NULL);
    tcpi_decode(&p, TCPI_LINKTYPE_EN10MB, b, n, n);
    assert_int_equal(tcpi_reqcap_classify(&to_server, &r, &p), 0);
    n = frame(b, &c, &c, A_, 1, NULL);
    tcpi_decode(&p, TCPI_LINKTYPE_EN10MB, b, n, n);
    assert_int_equal(tcpi_reqcap_classify(&to_server, &r, &p), 0);
    tcpi_endpoint_t c6 = ep("::1", 40000), s6 = ep("::1", 80);
    n = frame(b, &c6, &s6, A_, 1, NULL);
    tcpi_decode(&p, TCPI_LINKTYPE_EN10MB, b, n, n);
    assert_int_equal(tcpi_reqcap_classify(&to_server, &r, &p), 0);
    r.front_client = c6;
    r.front_server = s6;
    assert_int_equal(tcpi_reqcap_classify(&to_server, &r, &p), TCPI_LEG_FRONT);
}

/* The capture worker's join over the shm's ring, drained. */
static tcpi_join_t *join_over(tcpi_shm_t *shm, uint32_t nflows,
                              uint32_t nevents)
{
    tcpi_join_conf_t jc = {
        .ring = tcpi_shm_ring(shm), .log = tcpi_shm_reqlog(shm),
        .sums = tcpi_shm_sumtab(shm), .nflows = nflows, .nevents = nevents,
    };
    tcpi_join_t *j = tcpi_join_create(&jc);

    assert_non_null(j);
    tcpi_join_run(j, 0);
    assert_true(tcpi_join_covers(j, UINT64_MAX - 1));
    return j;
}

static void assert_same(const tcpi_reqcap_t *a, const tcpi_reqcap_t *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->pkt[i].n, b->pkt[i].n);
        assert_int_equal(a->pkt[i].ts_ns, b->pkt[i].ts_ns);
        assert_int_equal(a->pkt[i].iface, b->pkt[i].iface);
        assert_int_equal(a->pkt[i].leg, b->pkt[i].leg);
        assert_int_equal(a->pkt[i].to_server, b->pkt[i].to_server);
        assert_int_equal(a->pkt[i].flags, b->pkt[i].flags);
        assert_int_equal(a->pkt[i].payload_len, b->pkt[i].payload_len);
    }
    assert_memory_equal(a->if_linktype, b->if_linktype, sizeof(a->if_linktype));
}

/* Select by scanning the ring and through the worker's flow table: the
 * two must agree packet for packet. */
static void select_both(tcpi_reqcap_t *sel, tcpi_shm_t *shm, const tcpi_req_t *r)
{
    tcpi_join_t *j = join_over(shm, 64, 4096);
    tcpi_reqcap_t other;

    assert_int_equal(tcpi_reqcap_select(sel, shm, r), 0);
    assert_int_equal(tcpi_reqcap_select_flows(&other, tcpi_join_flows(j), shm, r), 0);
    assert_same(&other, sel);
    tcpi_reqcap_free(&other);
    assert_int_equal(tcpi_reqcap_select_join(&other, j, shm, r), 0);
    assert_false(other.scanned);
    assert_same(&other, sel);
    tcpi_reqcap_free(&other);
    tcpi_join_destroy(j);
}

/* Two interleaved requests on fresh connections plus a late packet. */
static tcpi_req_t two_requests(tcpi_ring_t *ring, tcpi_req_t *other)
{
    tcpi_endpoint_t s = ep("198.18.0.1", 80), bk = ep("127.0.0.1", 7001);
    tcpi_req_t r;

    *other = proxied_request(ring, "other", T0 + 2000, ep("198.18.0.2", 40001),
                             s, ep("127.0.0.1", 50001), bk, "/other");
    r = proxied_request(ring, "Yxz@-1", T0, ep("198.18.0.2", 40000), s,
                        ep("127.0.0.1", 50000), bk, "/app/echo?u=1");
    /* A packet of the same front flow long after the grace period. */
    tcpi_endpoint_t c = ep("198.18.0.2", 40000);
    emit(ring, 0, r.end_us + TCPI_REQCAP_GRACE_US + 1000, &c, &s, A_, NULL);
    return r;
}

static void test_select_fresh(void **state)
{
    tcpi_shm_t *shm = test_shm(1 << 20);
    tcpi_req_t other, r = two_requests(tcpi_shm_ring(shm), &other);
    tcpi_reqcap_t sel;

    select_both(&sel, shm, &r);
    assert_int_equal(sel.n, 15);
    assert_int_equal(sel.nleg[TCPI_LEG_FRONT], 9);
    assert_int_equal(sel.nleg[TCPI_LEG_BACKEND], 6);
    /* The handshake from before the request is in, in time order. */
    assert_int_equal(sel.pkt[0].flags, S_);
    assert_int_equal(sel.pkt[0].leg, TCPI_LEG_FRONT);
    assert_int_equal(sel.pkt[0].ts_ns, (T0 - 3000) * 1000);
    for (size_t i = 1; i < sel.n; i++)
        assert_true(sel.pkt[i - 1].ts_ns <= sel.pkt[i].ts_ns);
    assert_int_equal(sel.pkt[sel.n - 1].ts_ns, (T0 + 9200) * 1000);
    tcpi_reqcap_free(&sel);
    select_both(&sel, shm, &other);
    assert_int_equal(sel.n, 15);
    tcpi_reqcap_free(&sel);
    free(shm);
}

/* A kept-alive front connection and a reused backend connection, with
 * the previous and the next request on both. */
static void test_select_keepalive(void **state)
{
    tcpi_shm_t *shm = test_shm(1 << 20);
    tcpi_ring_t *ring = tcpi_shm_ring(shm);
    tcpi_endpoint_t c = ep("127.0.0.1", 40000), s = ep("127.0.0.1", 80);
    tcpi_endpoint_t l = ep("127.0.0.1", 50000), bk = ep("127.0.0.1", 7001);
    tcpi_reqcap_t sel;
    tcpi_req_t r;

    emit(ring, 0, T0 - 50000, &c, &s, PA_, "GET /prev HTTP/1.1\r\n\r\n");
    emit(ring, 1, T0 - 48000, &l, &bk, PA_, "GET /prev HTTP/1.1\r\n\r\n");
    emit(ring, 1, T0 - 45000, &bk, &l, PA_, "HTTP/1.1 200 OK\r\n\r\n");
    emit(ring, 1, T0 - 44000, &l, &bk, A_, NULL);     /* the previous one's */
    emit(ring, 0, T0 - 40000, &s, &c, PA_, "HTTP/1.1 200 OK\r\n\r\n");
    emit(ring, 0, T0 - 39000, &c, &s, A_, NULL);                  /* in */
    emit(ring, 0, T0 - 100, &c, &s, PA_, "GET /this HTTP/1.1\r\n\r\n");
    emit(ring, 1, T0 + 1200, &l, &bk, PA_, "GET /this HTTP/1.1\r\n\r\n");
    emit(ring, 1, T0 + 5000, &bk, &l, PA_, "HTTP/1.1 200 OK\r\n\r\n");
    emit(ring, 1, T0 + 5100, &l, &bk, A_, NULL);
    emit(ring, 0, T0 + 5300, &s, &c, PA_, "HTTP/1.1 200 OK\r\n\r\n");
    emit(ring, 0, T0 + 5400, &c, &s, A_, NULL);
    emit(ring, 0, T0 + 8000, &c, &s, PA_, "GET /next HTTP/1.1\r\n\r\n");
    emit(ring, 1, T0 + 8100, &l, &bk, PA_, "GET /next HTTP/1.1\r\n\r\n");
    emit(ring, 0, T0 + 8200, &s, &c, A_, NULL);
    r = record("ka", c, s, l, bk, T0, T0 + 5350);
    r.backend_reused = 1;
    r.conn_requests = 1;
    select_both(&sel, shm, &r);
    assert_int_equal(sel.nleg[TCPI_LEG_FRONT], 4);
    /* The backend leg is this exchange: httpd's ACK of the previous
     * response belongs to the previous request. */
    assert_int_equal(sel.nleg[TCPI_LEG_BACKEND], 3);
    assert_int_equal(sel.pkt[0].ts_ns, (T0 - 39000) * 1000);
    assert_int_equal(sel.pkt[sel.n - 1].ts_ns, (T0 + 5400) * 1000);
    tcpi_reqcap_free(&sel);

    /* The same connection seen as fresh for the backend: the same. */
    r.backend_reused = 0;
    select_both(&sel, shm, &r);
    assert_int_equal(sel.nleg[TCPI_LEG_BACKEND], 3);
    tcpi_reqcap_free(&sel);
    free(shm);
}

/* A connection opened seconds before its first request (a browser's
 * preconnect): the handshake is still found. */
static void test_select_preconnect(void **state)
{
    tcpi_shm_t *shm = test_shm(1 << 20);
    tcpi_ring_t *ring = tcpi_shm_ring(shm);
    tcpi_endpoint_t c = ep("198.18.0.2", 41000), s = ep("198.18.0.1", 80);
    tcpi_reqcap_t sel;
    tcpi_req_t r;

    emit(ring, 0, T0 - 3000000, &c, &s, S_, NULL);
    emit(ring, 0, T0 - 2999900, &s, &c, SA_, NULL);
    emit(ring, 0, T0 - 2999800, &c, &s, A_, NULL);
    emit(ring, 0, T0 - 100, &c, &s, PA_, "GET / HTTP/1.1\r\n\r\n");
    emit(ring, 0, T0 + 300, &s, &c, PA_, "HTTP/1.1 200 OK\r\n\r\n");
    r = record("pre", c, s, ep("127.0.0.1", 1), ep("127.0.0.1", 2), T0, T0 + 200);
    r.has_backend = 0;
    r.conn_requests = 0;           /* the connection's first request */
    select_both(&sel, shm, &r);
    assert_int_equal(sel.n, 5);
    assert_int_equal(sel.pkt[0].flags, S_);
    tcpi_reqcap_free(&sel);
    /* The second request on it: from the end of the first response. */
    emit(ring, 0, T0 + 400, &c, &s, A_, NULL);
    emit(ring, 0, T0 + 900, &c, &s, PA_, "GET /2 HTTP/1.1\r\n\r\n");
    emit(ring, 0, T0 + 1300, &s, &c, PA_, "HTTP/1.1 200 OK\r\n\r\n");
    r.conn_requests = 1;
    r.start_us = T0 + 1000;
    r.end_us = T0 + 1200;
    select_both(&sel, shm, &r);
    assert_int_equal(sel.n, 3);
    assert_int_equal(sel.pkt[0].ts_ns, (T0 + 400) * 1000);
    tcpi_reqcap_free(&sel);
    free(shm);
}

static void emit_seq(tcpi_ring_t *ring, uint64_t ts_us, const tcpi_endpoint_t *src,
                     const tcpi_endpoint_t *dst, uint8_t flags, uint32_t seq)
{
    uint8_t b[256];
    uint32_t n = frame(b, src, dst, flags, seq, NULL);
    tcpi_ring_write(ring, ts_us * 1000, 0, TCPI_LINKTYPE_EN10MB, n, n, b);
}

/* A SYN sent again (same ISN) a second later: the handshake starts at
 * the first one, as the join counts it (and tshark, reading the file,
 * then sees the second as a retransmission); an earlier connection's SYN
 * on the same tuple (another ISN) is not part of it. */
static void test_select_syn_again(void **state)
{
    tcpi_shm_t *shm = test_shm(1 << 20);
    tcpi_ring_t *ring = tcpi_shm_ring(shm);
    tcpi_endpoint_t c = ep("198.18.0.2", 42000), s = ep("198.18.0.1", 80);
    tcpi_reqcap_t sel;
    tcpi_req_t r;

    emit_seq(ring, T0 - 2000000, &c, &s, S_, 5);
    emit_seq(ring, T0 - 1999990, &s, &c, TCPI_TH_RST | TCPI_TH_ACK, 0);
    emit_seq(ring, T0 - 1000000, &c, &s, S_, 1000);
    emit_seq(ring, T0 - 999990, &s, &c, SA_, 77);
    emit_seq(ring, T0 - 3000, &c, &s, S_, 1000);
    emit_seq(ring, T0 - 2990, &s, &c, SA_, 77);
    emit_seq(ring, T0 - 2980, &c, &s, A_, 1001);
    emit(ring, 0, T0 - 100, &c, &s, PA_, "GET / HTTP/1.1\r\n\r\n");
    emit(ring, 0, T0 + 300, &s, &c, PA_, "HTTP/1.1 200 OK\r\n\r\n");
    r = record("again", c, s, ep("127.0.0.1", 1), ep("127.0.0.1", 2), T0, T0 + 200);
    r.has_backend = 0;
    select_both(&sel, shm, &r);
    assert_int_equal(sel.n, 7);
    assert_int_equal(sel.pkt[0].flags, S_);
    assert_int_equal(sel.pkt[0].ts_ns, (T0 - 1000000) * 1000);
    tcpi_reqcap_free(&sel);
    free(shm);
}

static int has_bytes(const uint8_t *p, size_t n, const char *s)
{
    size_t k = strlen(s);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, s, k) == 0)
            return 1;
    return 0;
}

static void test_write_readback(void **state)
{
    tcpi_shm_t *shm = test_shm(1 << 20);
    tcpi_req_t other, r = two_requests(tcpi_shm_ring(shm), &other);
    tcpi_membuf_t mb = { 0 };
    tcpi_out_t o;
    tcpi_reqcap_t sel;
    tcpi_capfile_t rd;
    tcpi_capfile_pkt_t p;
    int count[2] = { 0, 0 }, uri[2] = { 0, 0 }, rc;

    assert_int_equal(tcpi_reqcap_select(&sel, shm, &r), 0);
    tcpi_out_init(&o, tcpi_membuf_sink, &mb);
    assert_int_equal(tcpi_reqcap_write(&o, &sel, shm, &r, 65535), 15);
    assert_int_equal(tcpi_capfile_open(&rd, (uint8_t *)mb.data, mb.len), 0);
    while ((rc = tcpi_capfile_next(&rd, &p)) == 1) {
        char want[64];
        assert_true(p.ifid < 2);
        snprintf(want, sizeof(want), "tcpinspect-id=Yxz@-1 leg=%s",
                 p.ifid == 0 ? "front" : "backend");
        assert_int_equal(p.comment_len, strlen(want));
        assert_memory_equal(p.comment, want, p.comment_len);
        count[p.ifid]++;
        uri[p.ifid] += has_bytes(p.data, p.caplen, "GET /app/echo?u=1 ");
    }
    assert_int_equal(rc, 0);
    assert_int_equal(rd.nif, 2);
    assert_string_equal(rd.ifc[0].name, "tcpih0");
    assert_string_equal(rd.ifc[1].name, "lo");
    assert_int_equal(count[0], 9);
    assert_int_equal(count[1], 6);
    assert_int_equal(uri[0], 1);
    assert_int_equal(uri[1], 1);

    /* tshark, an oracle we did not write, reads the same file. */
    char path[] = "/tmp/tcpi-reqcap-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, mb.data, mb.len), (ssize_t)mb.len);
    close(fd);
    if (system("command -v tshark >/dev/null 2>&1") == 0) {
        char cmd[512], line[512];
        int lines = 0, front = 0, backend = 0;
        snprintf(cmd, sizeof(cmd), "tshark -r %s -T fields -E separator='|' "
                 "-e frame.interface_name -e frame.interface_description "
                 "-e frame.comment 2>/dev/null", path);
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        while (fgets(line, sizeof(line), f)) {
            lines++;
            front += strcmp(line, "tcpih0|front|tcpinspect-id=Yxz@-1 leg=front\n") == 0;
            backend += strcmp(line, "lo|backend|tcpinspect-id=Yxz@-1 leg=backend\n") == 0;
        }
        assert_int_equal(pclose(f), 0);
        assert_int_equal(lines, 15);
        assert_int_equal(front, 9);
        assert_int_equal(backend, 6);
        snprintf(cmd, sizeof(cmd), "tshark -r %s -Y 'http.request.uri == "
                 "\"/app/echo?u=1\"' -T fields -e frame.interface_description "
                 "2>/dev/null | sort | tr '\\n' ' '", path);
        f = popen(cmd, "r");
        assert_non_null(fgets(line, sizeof(line), f));
        pclose(f);
        assert_string_equal(line, "backend front ");
    } else {
        print_message("tshark not installed: its check is skipped\n");
    }
    unlink(path);
    tcpi_reqcap_free(&sel);
    free(mb.data);
    free(shm);
}

/* The selection written as pcapng and read back: in how many packets of
 * each leg (index TCPI_LEG_*) needle appears. */
static void legs_with(int hits[3], const tcpi_reqcap_t *sel, tcpi_shm_t *shm,
                      const tcpi_req_t *r, const char *needle)
{
    tcpi_membuf_t mb = { 0 };
    tcpi_out_t o;
    tcpi_capfile_t rd;
    tcpi_capfile_pkt_t p;

    hits[0] = hits[TCPI_LEG_FRONT] = hits[TCPI_LEG_BACKEND] = 0;
    tcpi_out_init(&o, tcpi_membuf_sink, &mb);
    assert_int_equal(tcpi_reqcap_write(&o, sel, shm, r, 0), (long)sel->n);
    assert_int_equal(tcpi_capfile_open(&rd, (uint8_t *)mb.data, mb.len), 0);
    while (tcpi_capfile_next(&rd, &p) == 1) {
        int backend = p.comment_len > 7 &&
                      memcmp(p.comment + p.comment_len - 7, "backend", 7) == 0;
        if (has_bytes(p.data, p.caplen, needle))
            hits[backend ? TCPI_LEG_BACKEND : TCPI_LEG_FRONT]++;
    }
    free(mb.data);
}

static int in_selection(tcpi_shm_t *shm, const tcpi_reqcap_t *sel,
                        const tcpi_req_t *r, const char *needle)
{
    int hits[3];

    legs_with(hits, sel, shm, r, needle);
    return hits[TCPI_LEG_FRONT] + hits[TCPI_LEG_BACKEND];
}

/* One pooled backend connection l <-> bk serves P (before), A, B and C
 * (after). A's client reads its response slowly: mod_proxy hands the
 * connection on once it has A's response, B's request goes over it, and
 * only then is A logged. Each request's file holds its own exchange on
 * the backend and nobody else's cookie. */
static void test_pooled_slow_client(void **state)
{
    tcpi_shm_t *shm = test_shm(1 << 20);
    tcpi_ring_t *ring = tcpi_shm_ring(shm);
    tcpi_endpoint_t ca = ep("198.18.0.2", 40000), cb = ep("198.18.0.3", 40001);
    tcpi_endpoint_t s = ep("198.18.0.1", 80);
    tcpi_endpoint_t l = ep("127.0.0.1", 50000), bk = ep("127.0.0.1", 7001);
    tcpi_reqcap_t sel;
    tcpi_req_t a, b;
    int hits[3];

    emit(ring, 1, T0 - 50000, &l, &bk, PA_, "GET /p HTTP/1.1\r\nCookie: P-secret\r\n\r\n");
    emit(ring, 1, T0 - 45000, &bk, &l, PA_, "HTTP/1.1 200 OK\r\nSet-Cookie: P-resp\r\n\r\n");
    emit(ring, 1, T0 - 44000, &l, &bk, A_, NULL);
    /* A */
    emit(ring, 0, T0 - 100, &ca, &s, PA_, "GET /a HTTP/1.1\r\nCookie: A-secret\r\n\r\n");
    emit(ring, 1, T0 + 1200, &l, &bk, PA_, "GET /a HTTP/1.1\r\nCookie: A-secret\r\n\r\n");
    emit(ring, 1, T0 + 5000, &bk, &l, PA_, "HTTP/1.1 200 OK\r\nSet-Cookie: A-resp\r\n\r\n");
    emit(ring, 1, T0 + 5100, &l, &bk, A_, NULL);
    emit(ring, 0, T0 + 5300, &s, &ca, PA_, "HTTP/1.1 200 OK\r\nSet-Cookie: A-resp\r\n\r\n");
    emit(ring, 0, T0 + 9000, &ca, &s, A_, NULL);
    /* B, on the connection A's request released */
    emit(ring, 0, T0 + 19900, &cb, &s, PA_, "GET /b HTTP/1.1\r\nCookie: B-secret\r\n\r\n");
    emit(ring, 1, T0 + 21000, &l, &bk, PA_, "GET /b HTTP/1.1\r\nCookie: B-secret\r\n\r\n");
    emit(ring, 1, T0 + 25000, &bk, &l, PA_, "HTTP/1.1 200 OK\r\nSet-Cookie: B-resp\r\n\r\n");
    emit(ring, 1, T0 + 25100, &l, &bk, A_, NULL);
    emit(ring, 0, T0 + 25300, &s, &cb, PA_, "HTTP/1.1 200 OK\r\nSet-Cookie: B-resp\r\n\r\n");
    emit(ring, 0, T0 + 25400, &cb, &s, A_, NULL);
    /* A's slow client takes the rest of its response */
    emit(ring, 0, T0 + 100000, &s, &ca, PA_, "more of A's body");
    emit(ring, 0, T0 + 199000, &s, &ca, PA_, "the end of A's body");
    emit(ring, 0, T0 + 199500, &ca, &s, A_, NULL);
    /* C, after A was logged */
    emit(ring, 1, T0 + 300000, &l, &bk, PA_, "GET /c HTTP/1.1\r\nCookie: C-secret\r\n\r\n");
    emit(ring, 1, T0 + 305000, &bk, &l, PA_, "HTTP/1.1 200 OK\r\n\r\n");

    a = record("A", ca, s, l, bk, T0, T0 + 199200);
    a.backend_reused = 1;
    a.conn_requests = 1;
    b = record("B", cb, s, l, bk, T0 + 20000, T0 + 25350);
    b.backend_reused = 1;
    b.conn_requests = 1;

    select_both(&sel, shm, &a);
    legs_with(hits, &sel, shm, &a, "A-secret");
    assert_int_equal(hits[TCPI_LEG_FRONT], 1);
    assert_int_equal(hits[TCPI_LEG_BACKEND], 1);
    assert_int_equal(in_selection(shm, &sel, &a, "B-secret"), 0);
    assert_int_equal(in_selection(shm, &sel, &a, "B-resp"), 0);
    assert_int_equal(in_selection(shm, &sel, &a, "P-secret"), 0);
    assert_int_equal(in_selection(shm, &sel, &a, "C-secret"), 0);
    assert_int_equal(in_selection(shm, &sel, &a, "the end of A's body"), 1);
    /* request, response, httpd's ACK */
    assert_int_equal(sel.nleg[TCPI_LEG_BACKEND], 3);
    tcpi_reqcap_free(&sel);

    select_both(&sel, shm, &b);
    legs_with(hits, &sel, shm, &b, "B-secret");
    assert_int_equal(hits[TCPI_LEG_FRONT], 1);
    assert_int_equal(hits[TCPI_LEG_BACKEND], 1);
    assert_int_equal(in_selection(shm, &sel, &b, "A-secret"), 0);
    assert_int_equal(in_selection(shm, &sel, &b, "A-resp"), 0);
    assert_int_equal(in_selection(shm, &sel, &b, "C-secret"), 0);
    assert_int_equal(sel.nleg[TCPI_LEG_BACKEND], 3);
    tcpi_reqcap_free(&sel);
    free(shm);
}

/* B arrives while A's exchange is under way and waits for the single
 * pooled connection: B starts before A's response, whose packets are
 * still coming in after B's start, yet none of them is B's. */
static void test_pooled_waiting(void **state)
{
    tcpi_shm_t *shm = test_shm(1 << 20);
    tcpi_ring_t *ring = tcpi_shm_ring(shm);
    tcpi_endpoint_t ca = ep("198.18.0.2", 40000), cb = ep("198.18.0.3", 40001);
    tcpi_endpoint_t s = ep("198.18.0.1", 80);
    tcpi_endpoint_t l = ep("127.0.0.1", 50000), bk = ep("127.0.0.1", 7001);
    tcpi_reqcap_t sel;
    tcpi_req_t a, b;
    int hits[3];

    emit(ring, 0, T0 - 100, &ca, &s, PA_, "GET /a HTTP/1.1\r\nCookie: A-secret\r\n\r\n");
    emit(ring, 1, T0 + 1000, &l, &bk, S_, NULL);
    emit(ring, 1, T0 + 1050, &bk, &l, SA_, NULL);
    emit(ring, 1, T0 + 1100, &l, &bk, A_, NULL);
    emit(ring, 1, T0 + 1200, &l, &bk, PA_, "GET /a HTTP/1.1\r\nCookie: A-secret\r\n\r\n");
    emit(ring, 0, T0 + 2900, &cb, &s, PA_, "GET /b HTTP/1.1\r\nCookie: B-secret\r\n\r\n");
    emit(ring, 1, T0 + 5000, &bk, &l, PA_, "HTTP/1.1 200 OK\r\nSet-Cookie: A-resp\r\n\r\n");
    emit(ring, 1, T0 + 5500, &bk, &l, PA_, "A's body, last part");
    emit(ring, 1, T0 + 5600, &l, &bk, A_, NULL);
    emit(ring, 0, T0 + 5700, &s, &ca, PA_, "HTTP/1.1 200 OK\r\nSet-Cookie: A-resp\r\n\r\n");
    emit(ring, 1, T0 + 6000, &l, &bk, PA_, "GET /b HTTP/1.1\r\nCookie: B-secret\r\n\r\n");
    emit(ring, 1, T0 + 9000, &bk, &l, PA_, "HTTP/1.1 200 OK\r\nSet-Cookie: B-resp\r\n\r\n");
    emit(ring, 1, T0 + 9100, &l, &bk, A_, NULL);
    emit(ring, 0, T0 + 9300, &s, &cb, PA_, "HTTP/1.1 200 OK\r\nSet-Cookie: B-resp\r\n\r\n");
    emit(ring, 0, T0 + 30000, &s, &ca, PA_, "the end of A's body");

    a = record("A", ca, s, l, bk, T0, T0 + 30100);
    a.conn_requests = 1;
    b = record("B", cb, s, l, bk, T0 + 3000, T0 + 9350);
    b.backend_reused = 1;
    b.conn_requests = 1;

    select_both(&sel, shm, &b);
    legs_with(hits, &sel, shm, &b, "B-secret");
    assert_int_equal(hits[TCPI_LEG_FRONT], 1);
    assert_int_equal(hits[TCPI_LEG_BACKEND], 1);
    assert_int_equal(in_selection(shm, &sel, &b, "A-secret"), 0);
    assert_int_equal(in_selection(shm, &sel, &b, "A-resp"), 0);
    assert_int_equal(in_selection(shm, &sel, &b, "A's body"), 0);
    assert_int_equal(sel.nleg[TCPI_LEG_BACKEND], 3);
    tcpi_reqcap_free(&sel);

    /* A: from its SYN, up to B's request. */
    select_both(&sel, shm, &a);
    assert_int_equal(in_selection(shm, &sel, &a, "B-secret"), 0);
    assert_int_equal(in_selection(shm, &sel, &a, "B-resp"), 0);
    assert_int_equal(in_selection(shm, &sel, &a, "A's body, last part"), 1);
    assert_int_equal(sel.nleg[TCPI_LEG_BACKEND], 7);
    tcpi_reqcap_free(&sel);

    /* B again, started before A's exchange (an HTTP/2 stream read with
     * another): by its start alone A's exchange would be its own; by
     * create_req's time (B's request sent, its answer not yet read), its
     * own, as the join takes it. */
    b.start_us = T0 + 100;
    select_both(&sel, shm, &b);
    assert_int_equal(in_selection(shm, &sel, &b, "A-secret"), 1);
    tcpi_reqcap_free(&sel);
    b.backend_at_us = T0 + 6100;
    b.backend_src = TCPI_BACKEND_SRC_CREATE_REQ;
    assert_true(tcpi_req_check(&b));
    select_both(&sel, shm, &b);
    legs_with(hits, &sel, shm, &b, "B-secret");
    assert_int_equal(hits[TCPI_LEG_BACKEND], 1);
    assert_int_equal(in_selection(shm, &sel, &b, "A-secret"), 0);
    assert_int_equal(in_selection(shm, &sel, &b, "A-resp"), 0);
    assert_int_equal(sel.nleg[TCPI_LEG_BACKEND], 3);
    tcpi_reqcap_free(&sel);
    free(shm);
}

/* Interim heads, as the trim reads them; each input ends a page that is
 * followed by an inaccessible one (picohttpparser's test layout), so a
 * read past the end faults under any build. */
static void test_interim(void **state)
{
    static const struct { const char *in; int want; } cases[] = {
        { "HTTP/1.1 100 Continue\r\n\r\n", 1 },
        { "HTTP/1.0 100 Continue\r\n\r\n", 1 },
        { "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", 1 },
        { "HTTP/1.1 100\r\n\r\n", 1 },
        { "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n", 1 }, /* 4 */
        { "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", 0 },
        { "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", 0 },
        { "HTTP/1.1 100 Continue\r\n\r\nx", 0 },
        { "HTTP/1.1 100 Continue\r\n", 0 },
        { "HTTP/1.1 100 Continue\r\n\r", 0 },
        { "HTTP/1.1 200 OK\r\n\r\n", 0 },
        { "HTTP/1.1 199x\r\n\r\n\r\n", 0 },
        { "HTTP/1.1 1000 Big\r\n\r\n", 0 },
        { "HTTP/1.1 10 Short\r\n\r\n", 0 },
        { "HTTP/2.0 100 Continue\r\n\r\n", 0 },
        { "http/1.1 100 Continue\r\n\r\n", 0 },
        { "HTTP/1.1  100 Continue\r\n\r\n", 0 },
        { "HTTP/1.1 100", 0 },
        { "", 0 },
    };
    long pg = sysconf(_SC_PAGESIZE);
    uint8_t *mem = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    assert_true(mem != MAP_FAILED);
    assert_int_equal(mprotect(mem + pg, (size_t)pg, PROT_NONE), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].in);
        uint8_t *at = mem + pg - n;
        memcpy(at, cases[i].in, n);
        if (tcpi_reqcap_interim(at, n) != cases[i].want)
            fail_msg("tcpi_reqcap_interim(\"%s\") != %d", cases[i].in, cases[i].want);
        /* a single head cut anywhere is no interim head */
        for (size_t k = 0; cases[i].want && i != 4 && k < n; k++) {
            uint8_t *p = mem + pg - k;
            memmove(p, cases[i].in, k);
            if (tcpi_reqcap_interim(p, k))
                fail_msg("case %zu cut to %zu bytes taken as interim", i, k);
        }
    }
    munmap(mem, (size_t)pg * 2);
}

/* 100-continue on the pooled connection: httpd sends the headers, the
 * backend its "100 Continue", httpd the body, the backend its answer.
 * The body and the answer are the request's; the next client's request
 * is not. A "100 Continue" sharing its segment with the final answer is
 * a final answer. */
static void test_pooled_continue(void **state)
{
    tcpi_shm_t *shm = test_shm(1 << 20);
    tcpi_ring_t *ring = tcpi_shm_ring(shm);
    tcpi_endpoint_t c = ep("198.18.0.2", 40000), s = ep("198.18.0.1", 80);
    tcpi_endpoint_t l = ep("127.0.0.1", 50000), bk = ep("127.0.0.1", 7001);
    tcpi_reqcap_t sel;
    tcpi_req_t r;

    emit(ring, 0, T0 - 100, &c, &s, PA_, "POST /up HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
    emit(ring, 1, T0 + 1200, &l, &bk, PA_, "POST /up HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
    emit(ring, 1, T0 + 1500, &bk, &l, PA_, "HTTP/1.1 100 Continue\r\n\r\n");
    emit(ring, 0, T0 + 1600, &s, &c, PA_, "HTTP/1.1 100 Continue\r\n\r\n");
    emit(ring, 0, T0 + 1700, &c, &s, PA_, "the-body");
    emit(ring, 1, T0 + 1800, &l, &bk, PA_, "the-body");
    emit(ring, 1, T0 + 5000, &bk, &l, PA_, "HTTP/1.1 201 Created\r\n\r\n");
    emit(ring, 1, T0 + 5100, &l, &bk, A_, NULL);
    emit(ring, 0, T0 + 5300, &s, &c, PA_, "HTTP/1.1 201 Created\r\n\r\n");
    emit(ring, 1, T0 + 6000, &l, &bk, PA_, "GET /n HTTP/1.1\r\nCookie: N-secret\r\n\r\n");
    emit(ring, 1, T0 + 7000, &bk, &l, PA_, "HTTP/1.1 200 OK\r\n\r\n");
    emit(ring, 0, T0 + 90000, &c, &s, A_, NULL);
    r = record("C", c, s, l, bk, T0, T0 + 80000);
    r.backend_reused = 1;
    r.conn_requests = 1;
    select_both(&sel, shm, &r);
    assert_int_equal(in_selection(shm, &sel, &r, "the-body"), 2);
    assert_int_equal(in_selection(shm, &sel, &r, "201 Created"), 2);
    assert_int_equal(in_selection(shm, &sel, &r, "N-secret"), 0);
    assert_int_equal(sel.nleg[TCPI_LEG_BACKEND], 5);
    tcpi_reqcap_free(&sel);
    free(shm);

    shm = test_shm(1 << 20);
    ring = tcpi_shm_ring(shm);
    emit(ring, 1, T0 + 1200, &l, &bk, PA_, "POST /up HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
    emit(ring, 1, T0 + 1500, &bk, &l, PA_, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 417 No\r\n\r\n");
    emit(ring, 1, T0 + 6000, &l, &bk, PA_, "GET /n HTTP/1.1\r\nCookie: N-secret\r\n\r\n");
    select_both(&sel, shm, &r);
    assert_int_equal(in_selection(shm, &sel, &r, "N-secret"), 0);
    assert_int_equal(sel.nleg[TCPI_LEG_BACKEND], 2);
    tcpi_reqcap_free(&sel);
    free(shm);
}

/* Packets that left the ring are not there to select, and packets
 * overwritten between selection and writing are left out. */
static void test_gone(void **state)
{
    tcpi_shm_t *shm = test_shm(1 << 20);
    tcpi_ring_t *ring = tcpi_shm_ring(shm);
    tcpi_req_t other, r = two_requests(ring, &other);
    tcpi_endpoint_t x = ep("10.0.0.1", 1), y = ep("10.0.0.2", 2);
    char big[1201];
    tcpi_membuf_t mb = { 0 };
    tcpi_out_t o;
    tcpi_reqcap_t sel;

    tcpi_join_t *j = join_over(shm, 64, 4096);
    tcpi_join_stats_t st;

    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(tcpi_reqcap_select(&sel, shm, &r), 0);
    assert_int_equal(sel.n, 15);
    for (int i = 0; i < 2000; i++)
        emit(ring, 0, r.end_us + 2000000 + (uint64_t)i, &x, &y, PA_, big);
    tcpi_out_init(&o, tcpi_membuf_sink, &mb);
    assert_int_equal(tcpi_reqcap_write(&o, &sel, shm, &r, 0), 0);
    tcpi_reqcap_free(&sel);
    assert_int_equal(tcpi_reqcap_select(&sel, shm, &r), 0);
    assert_int_equal(sel.n, 0);
    tcpi_reqcap_free(&sel);
    /* The flow table still holds the events, but their packets left the
     * ring: nothing is selected, and nothing stale is read. */
    assert_int_equal(tcpi_reqcap_select_flows(&sel, tcpi_join_flows(j), shm, &r), 0);
    assert_int_equal(sel.n, 0);
    tcpi_reqcap_free(&sel);
    /* Packets overwritten before the join saw them are counted. */
    for (int i = 0; i < 2000; i++)
        emit(ring, 0, r.end_us + 4000000 + (uint64_t)i, &x, &y, PA_, big);
    tcpi_join_run(j, 0);
    tcpi_sumtab_stats(&st, tcpi_shm_sumtab(shm));
    assert_true(st.packets_lost > 0);
    tcpi_join_destroy(j);
    free(mb.data);
    free(shm);
}

/* The flow table's bounds: a pool that recycled a request's events, or
 * its flows evicted, make the walk report incomplete (never reading a
 * recycled event), and the worker's selection falls back to the scan. */
static void test_flows_bounded(void **state)
{
    tcpi_shm_t *shm = test_shm(1 << 20);
    tcpi_ring_t *ring = tcpi_shm_ring(shm);
    tcpi_req_t other, r = two_requests(ring, &other);
    tcpi_reqcap_t a, b;
    tcpi_join_t *j = join_over(shm, 16, 16);      /* 31 packets, 16 kept */

    /* r's packets came last: all still in the pool. */
    assert_int_equal(tcpi_reqcap_select(&a, shm, &r), 0);
    assert_int_equal(tcpi_reqcap_select_flows(&b, tcpi_join_flows(j), shm, &r), 0);
    assert_same(&b, &a);
    tcpi_reqcap_free(&a);
    tcpi_reqcap_free(&b);
    /* other's were recycled. */
    assert_int_equal(tcpi_reqcap_select_flows(&b, tcpi_join_flows(j), shm, &other),
                     TCPI_REQCAP_INCOMPLETE);
    assert_int_equal(b.n, 0);
    assert_int_equal(tcpi_reqcap_select(&a, shm, &other), 0);
    assert_int_equal(a.n, 15);
    assert_int_equal(tcpi_reqcap_select_join(&b, j, shm, &other), 0);
    assert_true(b.scanned);
    assert_same(&b, &a);
    tcpi_reqcap_free(&b);
    tcpi_join_destroy(j);

    /* A table of 16 flows: 16 later flows evict r's. */
    j = join_over(shm, 16, 4096);
    for (int i = 0; i < 16; i++) {
        tcpi_endpoint_t x = ep("10.0.0.1", (uint16_t)(1000 + i));
        tcpi_endpoint_t y = ep("10.0.0.2", 80);
        emit(ring, 0, r.end_us + 2000000 + (uint64_t)i, &x, &y, S_, NULL);
    }
    tcpi_join_run(j, 0);
    assert_int_equal(tcpi_reqcap_select_flows(&b, tcpi_join_flows(j), shm, &r),
                     TCPI_REQCAP_INCOMPLETE);
    tcpi_reqcap_free(&a);
    assert_int_equal(tcpi_reqcap_select(&a, shm, &r), 0);
    assert_int_equal(a.n, 15);
    assert_int_equal(tcpi_reqcap_select_join(&b, j, shm, &r), 0);
    assert_true(b.scanned);
    assert_same(&b, &a);
    tcpi_reqcap_free(&a);
    tcpi_reqcap_free(&b);
    /* A join that has not seen the window yet is not asked. */
    assert_int_equal(tcpi_reqcap_select_join(&b, NULL, shm, &r), 0);
    assert_true(b.scanned);
    assert_int_equal(b.n, 15);
    tcpi_reqcap_free(&b);
    tcpi_join_destroy(j);
    free(shm);
}

/* A leg without packets still gets its interface block; a request
 * without a backend gets none for the backend. */
static void test_interfaces_without_packets(void **state)
{
    tcpi_shm_t *shm = test_shm(1 << 20);
    tcpi_ring_t *ring = tcpi_shm_ring(shm);
    tcpi_endpoint_t c = ep("::1", 40000), s = ep("::1", 80);
    tcpi_membuf_t mb = { 0 };
    tcpi_out_t o;
    tcpi_reqcap_t sel;
    tcpi_capfile_t rd;
    tcpi_capfile_pkt_t p;
    tcpi_req_t r;

    emit(ring, 0, T0 - 10, &c, &s, PA_, "GET /tcp-inspect/ HTTP/1.1\r\n\r\n");
    emit(ring, 0, T0 + 10, &s, &c, PA_, "HTTP/1.1 200 OK\r\n\r\n");
    memset(&r, 0, sizeof(r));
    strcpy(r.id, "v6");
    r.front_client = c;
    r.front_server = s;
    r.conn_requests = 3;
    r.start_us = T0;
    r.end_us = T0 + 20;
    for (int with_backend = 0; with_backend < 2; with_backend++) {
        r.has_backend = (uint8_t)with_backend;
        r.backend_local = ep("::1", 50000);
        r.backend_remote = ep("::1", 7001);
        assert_int_equal(tcpi_reqcap_select(&sel, shm, &r), 0);
        assert_int_equal(sel.n, 2);
        mb.len = 0;
        tcpi_out_init(&o, tcpi_membuf_sink, &mb);
        assert_int_equal(tcpi_reqcap_write(&o, &sel, shm, &r, 0), 2);
        assert_int_equal(tcpi_capfile_open(&rd, (uint8_t *)mb.data, mb.len), 0);
        while (tcpi_capfile_next(&rd, &p) == 1)
            assert_int_equal(p.ifid, 0);
        assert_int_equal(rd.nif, 1 + with_backend);
        tcpi_reqcap_free(&sel);
    }
    free(mb.data);
    free(shm);
}

/* A TLS front: a connection opened for the request keeps its handshake
 * (the server's flight before the request is not a previous response);
 * with its secrets kept, a kept-alive connection is taken whole, from its
 * SYN, since TLS numbers its records from the handshake on; and the file
 * carries the secrets in one Decryption Secrets Block before the packets. */
static void test_tls_front(void **state)
{
    tcpi_shm_t *shm = test_shm(1 << 20);
    tcpi_ring_t *ring = tcpi_shm_ring(shm);
    tcpi_endpoint_t c = ep("198.18.0.2", 41000), s = ep("198.18.0.1", 443);
    tcpi_endpoint_t l = ep("127.0.0.1", 51000), bk = ep("127.0.0.1", 7001);
    tcpi_reqcap_t sel;
    tcpi_req_t first, second;

    emit(ring, 0, T0 - 9000, &c, &s, S_, NULL);
    emit(ring, 0, T0 - 8990, &s, &c, SA_, NULL);
    emit(ring, 0, T0 - 8980, &c, &s, A_, NULL);
    emit(ring, 0, T0 - 8900, &c, &s, PA_, "\x16\x03\x01 client hello");
    emit(ring, 0, T0 - 8800, &s, &c, PA_, "\x16\x03\x03 server hello");
    emit(ring, 0, T0 - 8700, &c, &s, PA_, "\x17\x03\x03 finished");
    emit(ring, 0, T0 - 8000, &c, &s, PA_, "\x17\x03\x03 request one");
    emit(ring, 1, T0 - 7900, &l, &bk, S_, NULL);
    emit(ring, 1, T0 - 7800, &bk, &l, SA_, NULL);
    emit(ring, 1, T0 - 7700, &l, &bk, PA_, "GET /one HTTP/1.1\r\n\r\n");
    emit(ring, 1, T0 - 7000, &bk, &l, PA_, "HTTP/1.1 200 OK\r\n\r\n");
    emit(ring, 0, T0 - 6900, &s, &c, PA_, "\x17\x03\x03 response one");
    emit(ring, 0, T0 - 6800, &c, &s, A_, NULL);
    emit(ring, 0, T0 - 100, &c, &s, PA_, "\x17\x03\x03 request two");
    emit(ring, 1, T0 + 100, &l, &bk, PA_, "GET /two HTTP/1.1\r\n\r\n");
    emit(ring, 1, T0 + 900, &bk, &l, PA_, "HTTP/1.1 200 OK\r\n\r\n");
    emit(ring, 0, T0 + 1000, &s, &c, PA_, "\x17\x03\x03 response two");
    emit(ring, 0, T0 + 1100, &c, &s, A_, NULL);

    first = record("tls-1", c, s, l, bk, T0 - 8200, T0 - 6850);
    first.tls.on = 1;
    snprintf(first.tls.protocol, sizeof(first.tls.protocol), "TLSv1.3");
    second = record("tls-2", c, s, l, bk, T0 - 150, T0 + 1050);
    second.tls = first.tls;
    second.conn_requests = 1;
    second.backend_reused = 1;

    /* Fresh, no secrets: from the SYN, the server's hello included. */
    select_both(&sel, shm, &first);
    assert_int_equal(sel.pkt[0].flags, S_);
    assert_int_equal(sel.nleg[TCPI_LEG_FRONT], 9);
    tcpi_reqcap_free(&sel);
    /* Kept-alive, no secrets: from after the previous response. */
    assert_false(tcpi_reqcap_whole_front(&second));
    select_both(&sel, shm, &second);
    assert_int_equal(sel.nleg[TCPI_LEG_FRONT], 4);
    tcpi_reqcap_free(&sel);

    /* Kept-alive with its secrets (its host keeps them, whether a rule
     * saved it or not): the whole connection. */
    second.tls.has_random = 1;
    memset(second.tls.client_random, 0xab, TCPI_TLS_RANDOM_LEN);
    second.tls.nkeys = 2;
    second.tls.keys[0].label = TCPI_TLS_KEY_CLIENT_TRAFFIC_SECRET_0;
    second.tls.keys[0].len = 32;
    memset(second.tls.keys[0].secret, 0x11, 32);
    second.tls.keys[1].label = TCPI_TLS_KEY_SERVER_TRAFFIC_SECRET_0;
    second.tls.keys[1].len = 32;
    memset(second.tls.keys[1].secret, 0x22, 32);
    assert_true(tcpi_req_check(&second));
    assert_true(tcpi_reqcap_whole_front(&second));
    select_both(&sel, shm, &second);
    assert_int_equal(sel.pkt[0].flags, S_);
    assert_int_equal(sel.pkt[0].ts_ns, (T0 - 9000) * 1000);
    assert_int_equal(sel.nleg[TCPI_LEG_FRONT], 12);
    assert_int_equal(sel.nleg[TCPI_LEG_BACKEND], 2);

    tcpi_membuf_t mb = { 0 };
    tcpi_out_t o;
    tcpi_capfile_t rd;
    tcpi_capfile_pkt_t p;
    tcpi_out_init(&o, tcpi_membuf_sink, &mb);
    assert_int_equal(tcpi_reqcap_write(&o, &sel, shm, &second, 0), (long)sel.n);
    assert_int_equal(tcpi_capfile_open(&rd, (uint8_t *)mb.data, mb.len), 0);
    assert_int_equal(tcpi_capfile_next(&rd, &p), 1);  /* the first packet */
    assert_int_equal(rd.secrets_blocks, 1);           /* came after it */
    while (tcpi_capfile_next(&rd, &p) == 1)
        ;
    assert_int_equal(rd.secrets_blocks, 1);
    char line[256];
    snprintf(line, sizeof(line), "CLIENT_TRAFFIC_SECRET_0 %s %s\n",
             "abababababababababababababababababababababababababababababababab",
             "1111111111111111111111111111111111111111111111111111111111111111");
    assert_true(has_bytes((uint8_t *)mb.data, mb.len, line));
    assert_true(has_bytes((uint8_t *)mb.data, mb.len, "SERVER_TRAFFIC_SECRET_0 abab"));
    free(mb.data);
    tcpi_reqcap_free(&sel);

    /* Without secrets, no block. */
    memset(&mb, 0, sizeof(mb));
    select_both(&sel, shm, &first);
    tcpi_out_init(&o, tcpi_membuf_sink, &mb);
    tcpi_reqcap_write(&o, &sel, shm, &first, 0);
    assert_int_equal(tcpi_capfile_open(&rd, (uint8_t *)mb.data, mb.len), 0);
    while (tcpi_capfile_next(&rd, &p) == 1)
        ;
    assert_int_equal(rd.secrets_blocks, 0);
    free(mb.data);
    tcpi_reqcap_free(&sel);
    free(shm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_select_fresh),
        cmocka_unit_test(test_select_keepalive),
        cmocka_unit_test(test_select_preconnect),
        cmocka_unit_test(test_select_syn_again),
        cmocka_unit_test(test_write_readback),
        cmocka_unit_test(test_pooled_slow_client),
        cmocka_unit_test(test_pooled_waiting),
        cmocka_unit_test(test_interim),
        cmocka_unit_test(test_pooled_continue),
        cmocka_unit_test(test_gone),
        cmocka_unit_test(test_flows_bounded),
        cmocka_unit_test(test_interfaces_without_packets),
        cmocka_unit_test(test_tls_front),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
