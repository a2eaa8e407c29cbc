/* Unit tests for the handshake keeper (tcpi_hskeep.h) and the per-request
 * capture that takes a connection's start from it (tcpi_reqcap.h): real
 * rings, the worker's join over them, hand-built TLS 1.3 and 1.2
 * handshakes. */
#include "tcpi_test.h"
#include "tcpi_reqcap_frames.h"
#include "flow/tcpi_hskeep.h"
#include "join/tcpi_join.h"
#include "pcapfile/tcpi_pcapfile.h"
#include "reqcap/tcpi_reqcap.h"

#define T0 1700000000000000ull           /* a wall-clock start, in µs */
#define KEPT_PORT 443

typedef struct {
    uint8_t b[8192];
    size_t  n;
} buf_t;

static void bput(buf_t *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof(b->b));
    memcpy(b->b + b->n, p, n);
    b->n += n;
}
static void b8(buf_t *b, unsigned v) { uint8_t x = (uint8_t)v; bput(b, &x, 1); }
static void b16(buf_t *b, unsigned v) { b8(b, v >> 8); b8(b, v); }

/* A record of type with a body of len bytes (filler). */
static void rec(buf_t *b, unsigned type, size_t len)
{
    b8(b, type);
    b16(b, 0x0303);
    b16(b, (unsigned)len);
    for (size_t i = 0; i < len; i++)
        b8(b, 0xa5);
}

/* A ServerHello record; selected: the supported_versions it names (0:
 * none, a TLS 1.2 hello); share: a key_share extension of that many
 * bytes first (a post-quantum one is over 1100). */
static void server_hello(buf_t *b, unsigned selected, size_t share)
{
    buf_t m = { .n = 0 };
    uint8_t random[32] = { 2 };

    b16(&m, 0x0303);
    bput(&m, random, 32);
    b8(&m, 0);
    b16(&m, 0x1301);
    b8(&m, 0);
    if (selected) {
        b16(&m, (unsigned)(6 + (share ? 4 + share : 0)));
        if (share) {
            b16(&m, 51);
            b16(&m, (unsigned)share);
            for (size_t i = 0; i < share; i++)
                b8(&m, 0x5a);
        }
        b16(&m, 43);
        b16(&m, 2);
        b16(&m, selected);
    }
    b8(b, 22);
    b16(b, 0x0303);
    b16(b, (unsigned)m.n + 4);
    b8(b, 2);
    b8(b, 0);
    b16(b, (unsigned)m.n);
    bput(b, m.b, m.n);
}

/* A ClientHello record of 512 bytes whose client random is 32 times r. */
static void client_hello(buf_t *b, uint8_t r)
{
    b8(b, 22);
    b16(b, 0x0301);
    b16(b, 512);
    b8(b, 1);
    b8(b, 0);
    b16(b, 508);
    b16(b, 0x0303);
    for (int i = 0; i < 32; i++)
        b8(b, r);
    for (int i = 0; i < 508 - 34; i++)
        b8(b, 0xc1);
}

typedef struct {
    tcpi_ring_t *ring;
    uint8_t random;              /* its ClientHello's */
    tcpi_endpoint_t c, s;
    uint32_t seq[2];             /* next seq: 0 client, 1 server */
    uint64_t t;                  /* µs */
} conn_t;

/* One segment of the connection, its payload p[0..n). */
static void seg(conn_t *k, int from_server, uint8_t flags, const void *p,
                size_t n)
{
    uint8_t f[9000];
    const tcpi_endpoint_t *src = from_server ? &k->s : &k->c;
    const tcpi_endpoint_t *dst = from_server ? &k->c : &k->s;
    uint32_t len = frame(f, src, dst, flags, k->seq[from_server], NULL);

    assert_true(len + n <= sizeof(f));
    if (n > 0)
        memcpy(f + len, p, n);
    put16(f + 14 + 2, (uint16_t)(20 + 20 + n));       /* IPv4 total length */
    k->seq[from_server] += (uint32_t)n + ((flags & (TCPI_TH_SYN | TCPI_TH_FIN))
                                          ? 1 : 0);
    k->t += 100;
    tcpi_ring_write(k->ring, k->t * 1000, 0, TCPI_LINKTYPE_EN10MB,
                    len + (uint32_t)n, len + (uint32_t)n, f);
}

static void segb(conn_t *k, int from_server, const buf_t *b)
{
    seg(k, from_server, PA_, b->b, b->n);
}

static conn_t conn_isn(tcpi_ring_t *ring, const char *cip, uint16_t cport,
                       uint16_t sport, uint64_t t, uint32_t isn, uint8_t random)
{
    conn_t k = { .ring = ring, .random = random, .c = ep(cip, cport),
                 .s = ep("198.18.0.1", sport), .seq = { isn, 5000 }, .t = t };
    seg(&k, 0, S_, NULL, 0);
    seg(&k, 1, SA_, NULL, 0);
    seg(&k, 0, A_, NULL, 0);
    return k;
}

static conn_t conn(tcpi_ring_t *ring, const char *cip, uint16_t cport,
                   uint16_t sport, uint64_t t)
{
    return conn_isn(ring, cip, cport, sport, t, 1000, 0x22);
}

/* A TLS 1.3 handshake on k, up to the client's Finished and the server's
 * two tickets; share: the ServerHello's key_share bytes (0: none). */
static void tls13_handshake_share(conn_t *k, size_t share)
{
    buf_t ch = { .n = 0 }, sf = { .n = 0 }, cf = { .n = 0 }, nst = { .n = 0 };

    client_hello(&ch, k->random);
    segb(k, 0, &ch);
    seg(k, 1, A_, NULL, 0);
    server_hello(&sf, 0x0304, share);
    rec(&sf, 20, 1);
    rec(&sf, 23, 2500);          /* EncryptedExtensions .. Finished */
    segb(k, 1, &sf);
    rec(&cf, 20, 1);
    rec(&cf, 23, 53);            /* the client's Finished */
    segb(k, 0, &cf);
    rec(&nst, 23, 250);
    rec(&nst, 23, 250);
    segb(k, 1, &nst);
}

static void tls13_handshake(conn_t *k)
{
    tls13_handshake_share(k, 0);
}

/* The store's packets: their count, and the seq of each in order. */
static size_t store_pkts(tcpi_shm_t *shm, uint32_t *seqs, size_t max,
                         uint16_t port)
{
    tcpi_ring_t *hs = tcpi_shm_hsring(shm);
    uint64_t tail, head;
    size_t m = 0;
    uint8_t buf[TCPI_DECODE_COPY];

    tcpi_ring_bounds(&tail, &head, hs);
    for (uint64_t n = tail; n < head; n++) {
        tcpi_ring_rec_t r;
        tcpi_pkt_t p;
        assert_int_equal(tcpi_ring_read(&r, buf, sizeof(buf), hs, n), 0);
        assert_int_equal(tcpi_decode(&p, r.linktype, buf, r.caplen, r.wirelen),
                         TCPI_DR_ok);
        if (p.sport != port && p.dport != port)
            continue;
        if (m < max)
            seqs[m] = p.seq;
        m++;
    }
    return m;
}

static tcpi_join_t *keeper_join(tcpi_shm_t *shm)
{
    tcpi_join_conf_t jc = {
        .ring = tcpi_shm_ring(shm), .sums = tcpi_shm_sumtab(shm),
        .nflows = 64, .nevents = 4096, .hs_store = tcpi_shm_hsring(shm),
    };
    tcpi_ports_add(&jc.hs_ports, KEPT_PORT);
    tcpi_join_t *j = tcpi_join_create(&jc);
    assert_non_null(j);
    return j;
}

static void test_tls13(void **state)
{
    tcpi_shm_t *shm = test_shm(1 << 20);
    tcpi_join_t *j = keeper_join(shm);
    tcpi_hskeep_stats_t st;
    buf_t req = { .n = 0 }, resp = { .n = 0 };
    uint32_t seqs[32];

    /* Opened ahead of its use: kept until it goes idle. A post-quantum
     * key share makes the ServerHello bigger than the decoder's copy:
     * its version still counts. */
    for (size_t share = 0; share <= 1200; share += 1200) {
        uint16_t port = (uint16_t)(40000 + share);
        conn_t k = conn(tcpi_shm_ring(shm), "198.18.0.2", port, KEPT_PORT, T0);
        tls13_handshake_share(&k, share);
        seg(&k, 0, A_, NULL, 0);
        seg(&k, 0, A_, NULL, 0);        /* the same ACK again */
        k.t += 2000000;                 /* two seconds idle */
        rec(&req, 23, 90);
        segb(&k, 0, &req);              /* the request: the ring's */
        rec(&resp, 23, 300);
        segb(&k, 1, &resp);
        req.n = resp.n = 0;
        tcpi_join_run(j, 0);
        /* SYN, SYN/ACK, ACK, ClientHello, ACK, the server's flight, the
         * client's Finished, the tickets, two ACKs. */
        assert_int_equal(store_pkts(shm, seqs, 32, port), 10);
        assert_int_equal(seqs[0], 1000);                   /* the SYN */
    }
    tcpi_join_hskeep_stats(&st, j);
    assert_true(st.active);
    assert_int_equal(st.connections, 2);
    assert_int_equal(st.complete, 2);
    assert_int_equal(st.cut, 0);
    assert_int_equal(st.packets, 20);
    assert_int_equal(st.missed, 0);

    /* Used at once: the first request and its answer are kept too, and
     * a SYN seen again (a second interface, late) starts nothing over. */
    conn_t k = conn(tcpi_shm_ring(shm), "198.18.0.2", 40002, KEPT_PORT, T0);
    tls13_handshake(&k);
    rec(&req, 23, 90);
    segb(&k, 0, &req);
    k.seq[0] = 1000;
    seg(&k, 0, S_, NULL, 0);
    rec(&resp, 23, 300);
    segb(&k, 1, &resp);
    k.t += 2000000;
    segb(&k, 0, &req);
    tcpi_join_run(j, 0);
    assert_int_equal(store_pkts(shm, seqs, 32, 40002), 10);
    tcpi_join_hskeep_stats(&st, j);
    assert_int_equal(st.connections, 3);
    assert_int_equal(st.complete, 3);
    tcpi_join_destroy(j);
    free(shm);
}

static void test_tls12_and_split_records(void **state)
{
    tcpi_shm_t *shm = test_shm(1 << 20);
    tcpi_join_t *j = keeper_join(shm);
    tcpi_hskeep_stats_t st;
    conn_t k = conn(tcpi_shm_ring(shm), "198.18.0.2", 40001, KEPT_PORT, T0);
    buf_t ch = { .n = 0 }, sf = { .n = 0 }, cf = { .n = 0 }, sf2 = { .n = 0 };
    buf_t req = { .n = 0 };
    uint32_t seqs[32];

    rec(&ch, 22, 300);
    segb(&k, 0, &ch);
    /* ServerHello, a Certificate, ServerHelloDone, split across three
     * segments: the records after the certificate begin mid-segment. */
    server_hello(&sf, 0, 0);
    rec(&sf, 22, 5000);
    rec(&sf, 22, 4);
    seg(&k, 1, A_, sf.b, 1400);
    seg(&k, 1, A_, sf.b + 1400, 2800);
    seg(&k, 1, PA_, sf.b + 4200, sf.n - 4200);
    rec(&cf, 22, 70);            /* ClientKeyExchange */
    rec(&cf, 20, 1);
    rec(&cf, 22, 40);            /* Finished (encrypted) */
    segb(&k, 0, &cf);
    /* Application data from the client before the server's CCS is no
     * request yet (it cannot be: the handshake is not over). */
    rec(&sf2, 22, 200);          /* NewSessionTicket */
    rec(&sf2, 20, 1);
    rec(&sf2, 22, 40);
    segb(&k, 1, &sf2);
    k.t += 1500000;              /* idle, then the request: not kept */
    rec(&req, 23, 120);
    segb(&k, 0, &req);
    seg(&k, 1, PA_, "x", 1);
    tcpi_join_run(j, 0);
    assert_int_equal(store_pkts(shm, seqs, 32, 40001), 9);
    tcpi_join_hskeep_stats(&st, j);
    assert_int_equal(st.complete, 1);
    assert_int_equal(st.cut, 0);
    tcpi_join_destroy(j);
    free(shm);
}

static void test_not_kept(void **state)
{
    tcpi_shm_t *shm = test_shm(1 << 20);
    tcpi_join_t *j = keeper_join(shm);
    tcpi_hskeep_stats_t st;
    uint32_t seqs[8];
    conn_t plain = conn(tcpi_shm_ring(shm), "198.18.0.2", 40002, KEPT_PORT, T0);
    conn_t other = conn(tcpi_shm_ring(shm), "198.18.0.2", 40003, 8443, T0);
    conn_t late = { .ring = tcpi_shm_ring(shm), .c = ep("198.18.0.2", 40004),
                    .s = ep("198.18.0.1", KEPT_PORT), .seq = { 1, 1 },
                    .t = T0 };

    /* Plain HTTP on a kept port: its first bytes are no TLS record. */
    seg(&plain, 0, PA_, "GET / HTTP/1.1\r\n\r\n", 18);
    /* TLS on a port not kept. */
    tls13_handshake(&other);
    /* A connection whose SYN came before the capture. */
    tls13_handshake(&late);
    tcpi_join_run(j, 0);
    assert_int_equal(store_pkts(shm, seqs, 8, 40002), 0);
    assert_int_equal(store_pkts(shm, seqs, 8, 40003), 0);
    assert_int_equal(store_pkts(shm, seqs, 8, 40004), 0);
    tcpi_join_hskeep_stats(&st, j);
    assert_int_equal(st.connections, 0);
    tcpi_join_destroy(j);

    /* No ports: nothing at all (a server with TCPInspectTLSKeys Off). */
    tcpi_join_conf_t jc = {
        .ring = tcpi_shm_ring(shm), .sums = tcpi_shm_sumtab(shm),
        .nflows = 64, .nevents = 4096, .hs_store = tcpi_shm_hsring(shm),
    };
    j = tcpi_join_create(&jc);
    conn_t k = conn(tcpi_shm_ring(shm), "198.18.0.2", 40005, KEPT_PORT, T0);
    tls13_handshake(&k);
    tcpi_join_run(j, 0);
    assert_int_equal(store_pkts(shm, seqs, 8, 40005), 0);
    tcpi_join_destroy(j);
    free(shm);
}

static void test_bounds(void **state)
{
    tcpi_shm_t *shm = test_shm(1 << 20);
    tcpi_join_t *j = keeper_join(shm);
    tcpi_hskeep_stats_t st;
    uint32_t seqs[64];
    buf_t ch = { .n = 0 }, junk = { .n = 0 };

    /* A handshake that never ends: kept up to the packet bound. */
    conn_t k = conn(tcpi_shm_ring(shm), "198.18.0.2", 40006, KEPT_PORT, T0);
    rec(&ch, 22, 300);
    segb(&k, 0, &ch);
    rec(&junk, 22, 10);
    for (int i = 0; i < 100; i++)
        segb(&k, i & 1, &junk);
    /* One that ends with the client's RST. */
    conn_t r = conn(tcpi_shm_ring(shm), "198.18.0.2", 40007, KEPT_PORT, T0);
    segb(&r, 0, &ch);
    seg(&r, 0, TCPI_TH_RST, NULL, 0);
    segb(&r, 1, &junk);
    tcpi_join_run(j, 0);
    assert_int_equal(store_pkts(shm, seqs, 64, 40006), TCPI_HSKEEP_PKTS);
    assert_int_equal(store_pkts(shm, seqs, 64, 40007), 5);
    tcpi_join_hskeep_stats(&st, j);
    assert_int_equal(st.connections, 2);
    assert_int_equal(st.cut, 1);
    assert_int_equal(st.complete, 0);
    tcpi_join_destroy(j);
    free(shm);
}

/* A kept-alive TLS connection whose handshake the ring overwrote: the
 * request's capture starts at its SYN, from the store, then the ring. */
static void test_capture_takes_the_store(void **state)
{
    tcpi_shm_t *shm = test_shm(1 << 20);
    tcpi_ring_t *ring = tcpi_shm_ring(shm);
    tcpi_join_t *j = keeper_join(shm);
    tcpi_ring_stats_t rst;
    buf_t req = { .n = 0 }, resp = { .n = 0 };
    char filler[1400];
    uint64_t t_req;

    /* An earlier connection on the same tuple (another client behind the
     * same NAT, say), closed; then the request's, opened ahead. */
    conn_t old = conn_isn(ring, "198.18.0.2", 40008, KEPT_PORT, T0, 77777, 0x11);
    tls13_handshake(&old);
    seg(&old, 0, FA_, NULL, 0);
    conn_t k = conn_isn(ring, "198.18.0.2", 40008, KEPT_PORT, old.t + 1000,
                        1000, 0x22);
    tls13_handshake(&k);
    tcpi_join_run(j, 0);
    /* Other traffic until the ring no longer holds the connection. */
    memset(filler, 'f', sizeof(filler) - 1);
    filler[sizeof(filler) - 1] = 0;
    conn_t o = conn(ring, "198.18.0.9", 50000, 8080, k.t + 1000);
    for (int i = 0; i < 2000; i++) {
        seg(&o, 0, PA_, filler, sizeof(filler) - 1);
        if (i % 64 == 0)
            tcpi_join_run(j, 0);
    }
    tcpi_join_run(j, 0);
    tcpi_ring_stats(&rst, ring);
    assert_true(rst.overwritten > 20);
    /* The request, much later. */
    k.t = o.t + 1000;
    t_req = k.t + 100;
    rec(&req, 23, 90);
    segb(&k, 0, &req);
    rec(&resp, 23, 300);
    segb(&k, 1, &resp);
    seg(&k, 0, A_, NULL, 0);
    tcpi_join_run(j, 0);

    tcpi_req_t r = record("Hs@-1", k.c, k.s, ep("127.0.0.1", 1),
                          ep("127.0.0.1", 7001), t_req, k.t);
    r.has_backend = 0;
    r.conn_requests = 0;
    r.tls.on = 1;
    r.tls.nkeys = 1;
    r.tls.has_random = 1;
    memset(r.tls.client_random, 0x22, sizeof(r.tls.client_random));
    for (int how = 0; how < 2; how++) {
        tcpi_reqcap_t sel;
        tcpi_membuf_t mb = { 0 };
        tcpi_out_t o2;
        tcpi_capfile_t rd;
        tcpi_capfile_pkt_t p;
        tcpi_pkt_t d;
        int n = 0, rc;

        if (how == 0)
            assert_int_equal(tcpi_reqcap_select(&sel, shm, &r), 0);
        else
            assert_int_equal(tcpi_reqcap_select_join(&sel, j, shm, &r), 0);
        /* SYN .. tickets from the store (not the earlier connection's),
         * the request, response and ACK from the ring. */
        assert_int_equal(sel.kept, 8);
        assert_int_equal(sel.n, 11);
        assert_true(sel.pkt[0].kept && (sel.pkt[0].flags & TCPI_TH_SYN));
        assert_true(sel.pkt[7].kept);
        assert_false(sel.pkt[8].kept);
        tcpi_out_init(&o2, tcpi_membuf_sink, &mb);
        assert_int_equal(tcpi_reqcap_write(&o2, &sel, shm, &r, 65535), 11);
        assert_int_equal(tcpi_capfile_open(&rd, (uint8_t *)mb.data, mb.len), 0);
        while ((rc = tcpi_capfile_next(&rd, &p)) == 1) {
            assert_int_equal(tcpi_decode(&d, TCPI_LINKTYPE_EN10MB, p.data,
                                         p.caplen, p.caplen), TCPI_DR_ok);
            if (n == 0)
                assert_int_equal(d.flags, S_);
            if (n == 3)          /* the ClientHello, whole */
                assert_int_equal(d.payload_caplen, 517);
            n++;
        }
        assert_int_equal(n, 11);
        free(mb.data);
        tcpi_reqcap_free(&sel);
    }

    /* Another client random (no hello of it kept): nothing from the
     * store, not the earlier connection's. */
    tcpi_reqcap_t other;
    memset(r.tls.client_random, 0x11 + 0x22, sizeof(r.tls.client_random));
    assert_int_equal(tcpi_reqcap_select(&other, shm, &r), 0);
    assert_int_equal(other.kept, 0);
    assert_int_equal(other.n, 3);
    tcpi_reqcap_free(&other);

    /* Without secrets the file starts where the request does: no store. */
    r.tls.nkeys = 0;
    tcpi_reqcap_t sel;
    assert_int_equal(tcpi_reqcap_select(&sel, shm, &r), 0);
    assert_int_equal(sel.kept, 0);
    tcpi_reqcap_free(&sel);
    tcpi_join_destroy(j);
    free(shm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls13),
        cmocka_unit_test(test_tls12_and_split_records),
        cmocka_unit_test(test_not_kept),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_capture_takes_the_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
