/* Unit tests for the decoder's reason counters (counted by the worker's
 * join per ring interface) and for the flows published to shared memory:
 * newest activity first, bounded to TCPI_FLOWPUB_LEN, states carried
 * along, torn slots refused. */
#include "tcpi_test.h"
#include "flow/tcpi_flowpub.h"
#include "join/tcpi_join.h"
#include "tcpi_frames.h"

static void feed(tcpi_join_t *j, fep_t s, fep_t d, uint8_t fl, uint32_t seq,
                 uint32_t ack, uint32_t len, uint64_t ts)
{
    frame_t f;
    frame_tcp(&f, s, d, fl, seq, ack, 1000, NULL, len);
    tcpi_join_packet(j, TCPI_LINKTYPE_RAW, f.data, f.len, f.len, ts);
}

static void test_decode_counts(void **state)
{
    static uint8_t ring_mem[1 << 20];
    tcpi_dcount_t dc[3];
    uint64_t n[TCPI_DR_COUNT];
    tcpi_ring_t *ring = tcpi_ring_init(ring_mem, sizeof(ring_mem));
    void *logm = malloc(tcpi_reqlog_size()), *summ = malloc(tcpi_sumtab_size());
    tcpi_join_conf_t c = { .nflows = 64, .ring = ring, .dcount = dc,
                           .ndcount = 3, .log = tcpi_reqlog_init(logm),
                           .sums = tcpi_sumtab_init(summ) };
    tcpi_join_t *j;
    frame_t f;
    uint8_t arp[60] = { [12] = 0x08, [13] = 0x06 };
    (void)state;

    memset(dc, 0, sizeof(dc));
    j = tcpi_join_create(&c);
    assert_non_null(j);
    frame_tcp(&f, C, S, TCPI_TH_SYN, 1, 0, 1000, NULL, 0);
    /* iface 0: two good frames and one cut inside the TCP header */
    tcpi_ring_write(ring, T0, 0, TCPI_LINKTYPE_RAW, f.len, f.len, f.data);
    tcpi_ring_write(ring, T0 + 1, 0, TCPI_LINKTYPE_RAW, f.len, f.len, f.data);
    tcpi_ring_write(ring, T0 + 2, 0, TCPI_LINKTYPE_RAW, 30, f.len, f.data);
    /* iface 1: ARP on Ethernet; an unknown link type */
    tcpi_ring_write(ring, T0 + 3, 1, TCPI_LINKTYPE_EN10MB, 60, 60, arp);
    tcpi_ring_write(ring, T0 + 4, 1, 9999, f.len, f.len, f.data);
    /* iface 7: beyond the counters given, not counted anywhere */
    tcpi_ring_write(ring, T0 + 5, 7, TCPI_LINKTYPE_RAW, f.len, f.len, f.data);
    tcpi_join_run(j, T0 + 10 * MS);
    tcpi_dcount_read(n, &dc[0]);
    assert_int_equal(n[TCPI_DR_ok], 2);
    assert_int_equal(n[TCPI_DR_tcp_truncated], 1);
    assert_int_equal(n[TCPI_DR_not_ip], 0);
    tcpi_dcount_read(n, &dc[1]);
    assert_int_equal(n[TCPI_DR_ok], 0);
    assert_int_equal(n[TCPI_DR_not_ip], 1);
    assert_int_equal(n[TCPI_DR_link_unsupported], 1);
    tcpi_dcount_read(n, &dc[2]);
    for (int i = 0; i < TCPI_DR_COUNT; i++)
        assert_int_equal(n[i], 0);
    /* out-of-range reasons are ignored, not written past the block */
    tcpi_dcount_add(&dc[2], TCPI_DR_COUNT);
    tcpi_dcount_add(&dc[2], -1);
    tcpi_dcount_read(n, &dc[2]);
    for (int i = 0; i < TCPI_DR_COUNT; i++)
        assert_int_equal(n[i], 0);
    tcpi_join_destroy(j);
    free(logm);
    free(summ);
}

static tcpi_flowpub_t *pub_new(void)
{
    void *mem = malloc(tcpi_flowpub_size());
    assert_non_null(mem);
    return tcpi_flowpub_init(mem);
}

static void test_publish_order_and_states(void **state)
{
    tcpi_join_conf_t c = { .nflows = 64 };
    tcpi_join_t *j = tcpi_join_create(&c);
    tcpi_flowpub_t *pub = pub_new();
    tcpi_flowrec_t out[8];
    tcpi_flowpub_stats_t st;
    fep_t c2 = C;
    (void)state;

    assert_int_equal(tcpi_flowpub_read(out, 8, pub), 0);
    /* flow 1: a full front connection, client closes */
    feed(j, C, S, TCPI_TH_SYN, 100, 0, 0, T0);
    feed(j, S, C, TCPI_TH_SYN | TCPI_TH_ACK, 500, 101, 0, T0 + 1 * MS);
    feed(j, C, S, TCPI_TH_ACK, 101, 501, 0, T0 + 2 * MS);
    feed(j, C, S, TCPI_TH_FIN | TCPI_TH_ACK, 101, 501, 0, T0 + 3 * MS);
    feed(j, S, C, TCPI_TH_FIN | TCPI_TH_ACK, 501, 102, 0, T0 + 4 * MS);
    feed(j, C, S, TCPI_TH_ACK, 102, 502, 0, T0 + 5 * MS);
    /* flow 2, later: only a SYN */
    c2.port = 40001;
    feed(j, c2, S, TCPI_TH_SYN, 7, 0, 0, T0 + 9 * MS);
    tcpi_flowpub_publish(pub, tcpi_join_flows(j), T0 + 10 * MS);
    assert_int_equal(tcpi_flowpub_read(out, 8, pub), 2);
    assert_int_equal(out[0].last_ns, T0 + 9 * MS);
    assert_int_equal(out[1].first_ns, T0);
    assert_int_equal(out[1].last_ns, T0 + 5 * MS);
    /* the client's side is the direction its packets have in the key */
    int cd = memcmp(out[1].key.a, C.ip, 4) == 0 && out[1].key.pa == C.port
             ? 0 : 1;
    assert_int_equal(out[1].fs.initiator, cd);
    assert_int_equal(tcpi_flowstate_state(&out[1].fs, cd), TCPI_ST_TIME_WAIT);
    assert_int_equal(tcpi_flowstate_state(&out[1].fs, !cd), TCPI_ST_CLOSE);
    assert_int_equal(out[1].fs.side[cd].packets, 4);
    cd = memcmp(out[0].key.a, c2.ip, 4) == 0 && out[0].key.pa == c2.port
         ? 0 : 1;
    assert_int_equal(tcpi_flowstate_state(&out[0].fs, cd), TCPI_ST_SYN_SENT);
    assert_int_equal(tcpi_flowstate_state(&out[0].fs, !cd), TCPI_ST_SYN_RECV);
    /* max bounds the copy */
    assert_int_equal(tcpi_flowpub_read(out, 1, pub), 1);
    assert_int_equal(out[0].last_ns, T0 + 9 * MS);
    tcpi_flowpub_stats(&st, pub);
    assert_int_equal(st.publications, 1);
    assert_int_equal(st.count, 2);
    assert_int_equal(st.published_ns, T0 + 10 * MS);
    /* a slot being rewritten (odd seq) is never returned: slot 0's seq
     * follows the 40-byte header */
    _Atomic uint64_t *seq0 = (_Atomic uint64_t *)((char *)pub + 40);
    uint64_t keep = atomic_load(seq0);
    atomic_store(seq0, keep + 1);
    assert_int_equal(tcpi_flowpub_read(out, 8, pub), 0);
    atomic_store(seq0, keep);
    assert_int_equal(tcpi_flowpub_read(out, 8, pub), 2);
    free(pub);
    tcpi_join_destroy(j);
}

/* More flows than slots: the newest TCPI_FLOWPUB_LEN, newest first. */
static void test_publish_bound(void **state)
{
    tcpi_join_conf_t c = { .nflows = 4096 };
    tcpi_join_t *j = tcpi_join_create(&c);
    tcpi_flowpub_t *pub = pub_new();
    tcpi_flowrec_t *out = calloc(TCPI_FLOWPUB_LEN + 1, sizeof(*out));
    uint32_t nflows = TCPI_FLOWPUB_LEN + 500, n;
    (void)state;

    for (uint32_t i = 0; i < nflows; i++) {
        fep_t ci = C;
        ci.port = (uint16_t)(10000 + i);
        /* shuffled times: flow i active at T0 + perm(i) us */
        uint64_t t = T0 + ((i * 7919u) % nflows) * US;
        feed(j, ci, S, TCPI_TH_SYN, i, 0, 0, t);
    }
    tcpi_flowpub_publish(pub, tcpi_join_flows(j), T0 + MS);
    n = tcpi_flowpub_read(out, TCPI_FLOWPUB_LEN + 1, pub);
    assert_int_equal(n, TCPI_FLOWPUB_LEN);
    for (uint32_t k = 0; k < n; k++)
        assert_int_equal(out[k].last_ns, T0 + (nflows - 1 - k) * US);
    free(out);
    free(pub);
    tcpi_join_destroy(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_counts),
        cmocka_unit_test(test_publish_order_and_states),
        cmocka_unit_test(test_publish_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
