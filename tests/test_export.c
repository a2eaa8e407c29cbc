/* Unit tests for ring exports: pcapng interfaces, order, comments,
 * statistics; pcap link-type choice; filter and time window; a failing
 * sink stops the export. Files are read back with tcpi_capfile. */
#include "tcpi_test.h"
#include "render/tcpi_export.h"
#include "pcapfile/tcpi_pcapfile.h"

#define NPKT 100
#define T0   1700000000000000000ull

static void *mem;
static tcpi_shm_t *shm;
static uint8_t buf[65536];

static int setup(void **state)
{
    size_t size = tcpi_shm_size(1 << 20);
    uint8_t pkt[64];

    mem = calloc(1, size);
    shm = tcpi_shm_init(mem, 1 << 20, 1);
    tcpi_shm_add_iface(shm, "veth0", TCPI_LEG_FRONT, "tcp port 80");
    tcpi_shm_add_iface(shm, "lo", TCPI_LEG_BACKEND, "tcp dst port 7001");
    atomic_store(&shm->iface[0].linktype, 1);
    atomic_store(&shm->iface[1].linktype, 1);
    atomic_store(&shm->iface[0].received, 1000);
    atomic_store(&shm->iface[0].dropped, 3);
    atomic_store(&shm->iface[0].if_dropped, 2);
    atomic_store(&shm->iface[0].packets, 50);
    atomic_store(&shm->iface[1].received, 77);
    tcpi_ring_t *r = tcpi_shm_ring(shm);
    /* Packet n: even n on veth0 port 80, odd n on lo port 7001. */
    for (uint64_t n = 0; n < NPKT; n++) {
        size_t len = tcpi_test_frame(pkt, 40000 + (uint16_t)n, n % 2 ? 7001 : 80, 0);
        tcpi_ring_write(r, T0 + 1000000000ull * n + n, (uint16_t)(n % 2), 1,
                        (uint32_t)len, (uint32_t)len + 10, pkt);
    }
    return 0;
}

static int teardown(void **state) { free(mem); return 0; }

/* Export with a filter / time bound into memory, with the held secrets
 * (pcapng) where some host keeps keys; the packet count. */
static uint64_t export_with(tcpi_membuf_t *m, int pcapng, int iface,
                            const char *filter, uint64_t from_ts,
                            int secrets)
{
    tcpi_query_t q;
    tcpi_out_t *o = malloc(sizeof(*o));
    char err[256];
    uint64_t n;

    memset(m, 0, sizeof(*m));
    assert_int_equal(tcpi_query_init(&q, shm, iface, filter, err,
                                     sizeof(err)), 0);
    q.from_ts_ns = from_ts;
    tcpi_out_init(o, tcpi_membuf_sink, m);
    n = pcapng ? tcpi_export_pcapng(o, &q, 262144, T0 + 500, buf, sizeof(buf),
                                    secrets)
               : tcpi_export_pcap(o, &q, 1, 262144, buf, sizeof(buf));
    assert_int_equal(tcpi_out_flush(o), 0);
    tcpi_query_free(&q);
    free(o);
    return n;
}

static uint64_t export(tcpi_membuf_t *m, int pcapng, int iface,
                       const char *filter, uint64_t from_ts)
{
    return export_with(m, pcapng, iface, filter, from_ts, 1);
}

static void test_pcapng_all(void **state)
{
    tcpi_membuf_t m;
    tcpi_capfile_t *r = malloc(sizeof(*r));
    tcpi_capfile_pkt_t pk;
    char want[64];
    uint64_t n = 0;

    assert_int_equal(export(&m, 1, -1, NULL, 0), NPKT);
    assert_int_equal(tcpi_capfile_open(r, (uint8_t *)m.data, m.len), 0);
    while (tcpi_capfile_next(r, &pk) == 1) {
        assert_int_equal(pk.ifid, n % 2);
        assert_int_equal(pk.ts_ns, T0 + 1000000000ull * n + n);
        assert_int_equal(pk.caplen, 54);
        assert_int_equal(pk.wirelen, 64);
        snprintf(want, sizeof(want), "ring #%llu %s", (unsigned long long)n,
                 n % 2 ? "backend" : "frontend");
        assert_int_equal(pk.comment_len, strlen(want));
        assert_memory_equal(pk.comment, want, pk.comment_len);
        n++;
    }
    assert_string_equal(r->err, "");
    assert_int_equal(n, NPKT);
    assert_int_equal(r->nif, 2);
    assert_string_equal(r->ifc[0].name, "veth0");
    assert_string_equal(r->ifc[0].description, "frontend");
    assert_string_equal(r->ifc[0].filter, "tcp port 80");
    assert_string_equal(r->ifc[1].name, "lo");
    assert_string_equal(r->ifc[1].filter, "tcp dst port 7001");
    assert_int_equal(r->ifc[1].snaplen, 262144);
    assert_int_equal(r->ifc[0].ifrecv, 1000);
    assert_int_equal(r->ifc[0].osdrop, 3);
    assert_int_equal(r->ifc[0].ifdrop, 2);
    assert_int_equal(r->ifc[0].usrdeliv, 50);
    assert_int_equal(r->ifc[1].ifrecv, 77);
    free(r);
    free(m.data);
}

static void test_filter_and_window(void **state)
{
    tcpi_membuf_t m;
    tcpi_capfile_t *r = malloc(sizeof(*r));
    tcpi_capfile_pkt_t pk;
    int n = 0;

    assert_int_equal(export(&m, 1, -1, "tcp port 7001", 0), NPKT / 2);
    assert_int_equal(tcpi_capfile_open(r, (uint8_t *)m.data, m.len), 0);
    while (tcpi_capfile_next(r, &pk) == 1) {
        assert_int_equal(pk.ifid, 1);
        n++;
    }
    assert_int_equal(n, NPKT / 2);
    assert_int_equal(r->nif, 2);            /* every IDB, even unused */
    free(m.data);

    /* The last 10 seconds: packets 90..99. */
    assert_int_equal(export(&m, 1, -1, NULL, T0 + 90000000000ull), 10);
    free(m.data);
    /* One interface. */
    assert_int_equal(export(&m, 0, 0, NULL, 0), NPKT / 2);
    free(m.data);
    free(r);
}

static void test_pcap(void **state)
{
    tcpi_membuf_t m;
    tcpi_capfile_t *r = malloc(sizeof(*r));
    tcpi_capfile_pkt_t pk;
    uint64_t n = 0;

    assert_int_equal(export(&m, 0, -1, "tcp port 80", 0), NPKT / 2);
    assert_int_equal(tcpi_capfile_open(r, (uint8_t *)m.data, m.len), 0);
    assert_false(r->pcapng);
    assert_int_equal(r->ifc[0].linktype, 1);
    while (tcpi_capfile_next(r, &pk) == 1) {
        assert_int_equal(pk.ts_ns, (T0 + 2000000000ull * n + 2 * n) / 1000 * 1000);
        n++;
    }
    assert_int_equal(n, NPKT / 2);
    free(m.data);
    free(r);
}

static void test_linktype_choice(void **state)
{
    char err[256];
    int32_t lt;

    assert_int_equal(tcpi_export_linktype(&lt, shm, -1, err, sizeof(err)), 0);
    assert_int_equal(lt, 1);
    atomic_store(&shm->iface[1].linktype, 113);
    assert_int_equal(tcpi_export_linktype(&lt, shm, -1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "veth0 (EN10MB), lo (LINUX_SLL)"));
    assert_non_null(strstr(err, "iface=<name>"));
    assert_int_equal(tcpi_export_linktype(&lt, shm, 1, err, sizeof(err)), 0);
    assert_int_equal(lt, 113);
    atomic_store(&shm->iface[1].linktype, -1);      /* not active yet */
    assert_int_equal(tcpi_export_linktype(&lt, shm, -1, err, sizeof(err)), 0);
    assert_int_equal(lt, 1);
    atomic_store(&shm->iface[1].linktype, 1);
}

/* Keep the lo packets with an even source port; comment only some. */
static int pick_even(void *baton, const tcpi_ring_rec_t *rec,
                     const uint8_t *data, char *comment, size_t commentlen)
{
    if (rec->iface != 1 || data[35] % 4 == 1)
        return 0;
    if (data[35] % 4 == 3)
        snprintf(comment, commentlen, "req %s-%u backend", (char *)baton,
                 data[35]);
    return 1;
}

static void test_pick(void **state)
{
    tcpi_query_t q;
    tcpi_out_t *o = malloc(sizeof(*o));
    tcpi_membuf_t m = { 0 };
    tcpi_capfile_t *r = malloc(sizeof(*r));
    tcpi_capfile_pkt_t pk;
    char err[64], want[64];
    int n = 0;

    assert_int_equal(tcpi_query_init(&q, shm, -1, NULL, err, sizeof(err)), 0);
    tcpi_out_init(o, tcpi_membuf_sink, &m);
    /* Ports 40001, 40003, ...: 40003 % 4 == 3 kept with a comment,
     * 40001 % 4 == 1 skipped. */
    assert_int_equal(tcpi_export_pcapng_pick(o, &q, 65535, T0, buf, sizeof(buf),
                                             pick_even, "X7"), NPKT / 4);
    assert_int_equal(tcpi_out_flush(o), 0);
    assert_int_equal(tcpi_capfile_open(r, (uint8_t *)m.data, m.len), 0);
    while (tcpi_capfile_next(r, &pk) == 1) {
        uint16_t sport = (uint16_t)(pk.data[34] << 8 | pk.data[35]);
        assert_int_equal(pk.ifid, 1);
        assert_int_equal(sport % 4, 3);
        snprintf(want, sizeof(want), "req X7-%u backend", pk.data[35]);
        assert_int_equal(pk.comment_len, strlen(want));
        assert_memory_equal(pk.comment, want, pk.comment_len);
        n++;
    }
    assert_int_equal(n, NPKT / 4);
    assert_int_equal(r->nif, 2);
    tcpi_query_free(&q);
    free(m.data);
    free(r);
    free(o);
}

static int failing_sink(void *baton, const void *b, size_t len)
{
    (*(int *)baton)++;
    return -1;
}

/* Once the client is gone (the sink failed) no more records are read. */
static void test_sink_failure_stops(void **state)
{
    tcpi_query_t q;
    tcpi_out_t *o = malloc(sizeof(*o));
    char err[64];
    int calls = 0;

    assert_int_equal(tcpi_query_init(&q, shm, -1, NULL, err, sizeof(err)), 0);
    tcpi_out_init(o, failing_sink, &calls);
    tcpi_out_mem(o, buf, sizeof(o->buf));      /* fills, then fails */
    tcpi_out_mem(o, buf, 1);
    assert_true(o->failed);
    assert_int_equal(tcpi_export_pcapng(o, &q, 262144, T0, buf, sizeof(buf),
                                        1), 0);
    assert_int_equal(tcpi_export_pcap(o, &q, 1, 262144, buf, sizeof(buf)), 0);
    assert_int_equal(calls, 1);
    tcpi_query_free(&q);
    free(o);
}

/* A request record holding its TLS connection's secrets (its host has
 * TCPInspectTLSKeys On), for the front tuple 127.0.0.1:cport -> :80. */
static void held_as(uint16_t cport, uint8_t rnd, int refused, uint64_t end_ns)
{
    tcpi_req_t rec;

    memset(&rec, 0, sizeof(rec));
    snprintf(rec.id, sizeof(rec.id), "held-%u", cport);
    rec.front_client.family = rec.front_server.family = 4;
    rec.front_client.addr[0] = rec.front_server.addr[0] = 127;
    rec.front_client.addr[3] = rec.front_server.addr[3] = 1;
    rec.front_client.port = cport;
    rec.front_server.port = 80;
    rec.start_us = rec.end_us = end_ns / 1000;
    rec.tls.on = rec.tls.has_random = 1;
    memset(rec.tls.client_random, rnd, TCPI_TLS_RANDOM_LEN);
    rec.tls.keys_refused = (uint8_t)refused;
    rec.tls.nkeys = !refused;
    rec.tls.keys[0].label = TCPI_TLS_KEY_CLIENT_TRAFFIC_SECRET_0;
    rec.tls.keys[0].len = 32;
    memset(rec.tls.keys[0].secret, 0x11, 32);
    assert_true(tcpi_req_check(&rec));
    assert_int_equal(tcpi_reqlog_put(tcpi_shm_reqlog(shm), &rec), 0);
}

/* packet n of the ring is at T0 + n s: records logged after the last one */
#define AFTER_ALL (T0 + 1000000000ull * NPKT)

static void held(uint16_t cport, uint8_t rnd)
{
    held_as(cport, rnd, 0, AFTER_ALL);
}

static uint32_t secrets_blocks_with(const char *filter, uint64_t from_ts,
                                    int secrets)
{
    tcpi_membuf_t m;
    tcpi_capfile_t *r = malloc(sizeof(*r));
    tcpi_capfile_pkt_t pk;
    uint32_t n;

    export_with(&m, 1, -1, filter, from_ts, secrets);
    assert_int_equal(tcpi_capfile_open(r, (uint8_t *)m.data, m.len), 0);
    while (tcpi_capfile_next(r, &pk) == 1)
        ;
    n = r->secrets_blocks;
    free(r);
    free(m.data);
    return n;
}

static uint32_t secrets_blocks_from(const char *filter, uint64_t from_ts)
{
    return secrets_blocks_with(filter, from_ts, 1);
}

static uint32_t secrets_blocks(const char *filter)
{
    return secrets_blocks_from(filter, 0);
}

/* A segment of 127.0.0.1:sport > :dport at ts: payload bytes, flags
 * (0x11 FIN/ACK, 0x10 ACK). */
static void segment(uint16_t sport, uint16_t dport, uint32_t payload,
                    uint8_t flags, uint64_t ts)
{
    uint8_t pkt[64];
    size_t len = tcpi_test_frame(pkt, sport, dport, payload);

    pkt[47] = flags;
    tcpi_ring_write(tcpi_shm_ring(shm), ts, 0, 1, (uint32_t)len,
                    (uint32_t)len, pkt);
}

/* /capture.pcapng carries the held secrets of the connections it has
 * packets of (one block each, however many of its requests hold them)
 * once nothing can be added to them: closed, every request on them
 * logged, none for a host with TCPInspectTLSKeys Off. What a filter
 * leaves out of the file still counts. */
static void test_window_secrets(void **state)
{
    assert_int_equal(secrets_blocks(NULL), 0);
    held(40000, 0xa1);                 /* packet 0 is 127.0.0.1:40000 > :80 */
    held(40000, 0xa1);                 /* a later request, same connection */
    held(40002, 0xa2);                 /* packet 2 */
    held(39999, 0xa3);                 /* no packet of it in the ring */
    assert_int_equal(secrets_blocks(NULL), 0);        /* still open */
    segment(40000, 80, 0, 0x11, AFTER_ALL + 1000);    /* the clients close */
    segment(40002, 80, 0, 0x11, AFTER_ALL + 2000);
    assert_int_equal(secrets_blocks(NULL), 2);
    assert_int_equal(secrets_blocks("tcp port 7001"), 2);
    /* where no host keeps keys (now), none: the log is not walked */
    assert_int_equal(secrets_blocks_with(NULL, 0, 0), 0);
    /* a window after all their packets: none */
    assert_int_equal(secrets_blocks_from(NULL, AFTER_ALL + 500000000ull), 0);
    /* The connection then served a host with TCPInspectTLSKeys Off (a
     * record older than the newest with secrets says so): none. */
    held_as(40002, 0xa2, 1, AFTER_ALL);
    held(40002, 0xa2);
    assert_int_equal(secrets_blocks(NULL), 1);
    /* Its client sent bytes after its newest record (a request not yet
     * logged, maybe for such a host): none either, whatever the filter;
     * but for its server's bytes then (its close_notify, a slow
     * response). */
    segment(40100, 80, 10, 0x18, AFTER_ALL + 5000000000ull);
    segment(40100, 80, 0, 0x11, AFTER_ALL + 5000001000ull);
    held_as(40100, 0xa5, 0, AFTER_ALL);
    assert_int_equal(secrets_blocks(NULL), 1);
    assert_int_equal(secrets_blocks("tcp port 40000"), 1);
    held_as(40100, 0xa5, 0, AFTER_ALL + 5000000000ull);
    assert_int_equal(secrets_blocks(NULL), 2);
    segment(80, 40100, 10, 0x18, AFTER_ALL + 9000000000ull);
    assert_int_equal(secrets_blocks(NULL), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pcapng_all),
        cmocka_unit_test(test_filter_and_window),
        cmocka_unit_test(test_pcap),
        cmocka_unit_test(test_linktype_choice),
        cmocka_unit_test(test_pick),
        cmocka_unit_test(test_sink_failure_stops),
        cmocka_unit_test(test_window_secrets),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
