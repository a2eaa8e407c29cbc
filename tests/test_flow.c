/* Unit tests for the flow table: canonical keys, eviction, re-use of a
 * tuple, and the per-packet analysis checked against expected bits and,
 * when tshark is installed, against tshark's own tcp.analysis.* flags for
 * the same hand-built packets. */
#include "tcpi_test.h"
#include "flow/tcpi_flow.h"
#include "tcpi_frames.h"

#include <pcap/pcap.h>
#include <unistd.h>

typedef struct {
    uint64_t ts;
    int      from_client;
    uint8_t  flags;
    uint32_t seq, ack;
    uint16_t win;
    uint32_t len;
    uint16_t expect;               /* TCPI_AN_* */
} step_t;

/* Handshake, request, a lost segment with three duplicate ACKs and a fast
 * retransmission, a spurious retransmission, a segment out of order, a
 * zero window, a keep-alive, a second request and an RST. */
static const step_t script[] = {
    { 0,            1, F_S,  1000, 0,    64240, 0,    0 },
    { 100 * US,     0, F_SA, 5000, 1001, 65160, 0,    0 },
    { 200 * US,     1, F_A,  1001, 5001, 502,   0,    0 },
    { 1 * MS,       1, F_PA, 1001, 5001, 502,   100,  0 },
    { 2 * MS,       0, F_A,  5001, 1101, 509,   0,    0 },
    { 3 * MS,       0, F_PA, 5001, 1101, 509,   1000, 0 },
    { 3 * MS + 10 * US, 0, F_PA, 6001, 1101, 509, 1000, 0 },
    { 3 * MS + 20 * US, 0, F_PA, 7001, 1101, 509, 1000, 0 },
    { 3 * MS + 100 * US, 1, F_A, 1101, 6001, 502, 0,    0 },
    { 3 * MS + 200 * US, 1, F_A, 1101, 6001, 502, 0,    TCPI_AN_dup_ack },
    { 3 * MS + 300 * US, 1, F_A, 1101, 6001, 502, 0,    TCPI_AN_dup_ack },
    { 3 * MS + 350 * US, 1, F_A, 1101, 6001, 502, 0,    TCPI_AN_dup_ack },
    { 3 * MS + 400 * US, 0, F_PA, 6001, 1101, 509, 1000,
      TCPI_AN_fast_retransmission | TCPI_AN_retransmission },
    { 3 * MS + 500 * US, 1, F_A, 1101, 8001, 502, 0,    0 },
    { 300 * MS,     0, F_PA, 5001, 1101, 509,   1000,
      TCPI_AN_spurious | TCPI_AN_retransmission },
    { 400 * MS,     0, F_PA, 8001, 1101, 509,   500,  0 },
    { 400 * MS + 500 * US, 0, F_PA, 9001, 1101, 509, 500, 0 },
    { 400 * MS + 550 * US, 0, F_PA, 8501, 1101, 509, 500, TCPI_AN_out_of_order },
    { 401 * MS,     1, F_A,  1101, 9501, 0,     0,    TCPI_AN_zero_window },
    { 402 * MS,     1, F_A,  1101, 9501, 0,     0,    TCPI_AN_zero_window },
    { 500 * MS,     1, F_A,  1101, 9501, 502,   0,    0 },
    { 1500 * MS,    1, F_A,  1100, 9501, 502,   0,    TCPI_AN_keep_alive },
    { 2000 * MS,    1, F_PA, 1101, 9501, 502,   50,   0 },
    { 2001 * MS,    0, F_R,  9501, 0,    0,     0,    0 },
};
#define NSTEPS (sizeof(script) / sizeof(script[0]))

static void build(frame_t *f, const step_t *s)
{
    frame_tcp(f, s->from_client ? C : S, s->from_client ? S : C, s->flags,
              s->seq, s->ack, s->win, NULL, s->len);
}

/* Event i (oldest first) of a flow. */
static const tcpi_flow_ev_t *ev_at(const tcpi_flowtab_t *t, tcpi_flow_t *f,
                                   uint64_t i)
{
    static const tcpi_flow_ev_t *all[4096];
    tcpi_flow_span_t span = { .until_ns = UINT64_MAX };
    int complete;
    uint64_t n = tcpi_flow_events(all, 4096, &complete, t, f, &span);
    assert_true(complete);
    assert_true(i < n);
    return all[i];
}

static tcpi_flow_t *add(tcpi_flowtab_t *t, const frame_t *f, uint64_t ts)
{
    tcpi_pkt_t p;
    assert_int_equal(tcpi_decode(&p, TCPI_LINKTYPE_RAW, f->data, f->len, f->len),
                     TCPI_DR_ok);
    tcpi_ring_rec_t rec = { .n = 0, .ts_ns = ts, .linktype = TCPI_LINKTYPE_RAW };
    return tcpi_flowtab_add(t, &p, &rec);
}

static void test_script(void **state)
{
    tcpi_flowtab_t *t = tcpi_flowtab_create(64, 1024);
    tcpi_flow_t *f = NULL;
    frame_t fr;

    for (size_t i = 0; i < NSTEPS; i++) {
        build(&fr, &script[i]);
        f = add(t, &fr, T0 + script[i].ts);
        const tcpi_flow_ev_t *e = tcpi_flow_last(t, f);
        if (e->an != script[i].expect)
            fail_msg("frame %zu: analysis 0x%x, expected 0x%x", i + 1, e->an,
                     script[i].expect);
    }
    assert_int_equal(f->nev, NSTEPS);
    assert_int_equal(f->first_rtt_ns, 200 * US);
    tcpi_flowtab_stats_t st;
    tcpi_flowtab_stats(&st, t);
    assert_int_equal(st.flows, 1);
    assert_int_equal(st.packets, NSTEPS);
    tcpi_flowtab_destroy(t);
}

/* The same packets through tshark: the bits must agree frame by frame. */
static void test_against_tshark(void **state)
{
    char path[] = "/tmp/tcpi-flow-XXXXXX.pcap";
    int fd = mkstemps(path, 5);
    pcap_t *dead = pcap_open_dead(DLT_RAW, 65535);
    pcap_dumper_t *d;
    frame_t fr;
    tcpi_flowtab_t *t = tcpi_flowtab_create(64, 1024);
    uint16_t ours[NSTEPS];

    if (system("command -v tshark >/dev/null 2>&1") != 0) {
        close(fd);
        unlink(path);
        skip();
    }
    assert_true(fd >= 0);
    close(fd);
    d = pcap_dump_open(dead, path);
    assert_non_null(d);
    for (size_t i = 0; i < NSTEPS; i++) {
        struct pcap_pkthdr h;
        uint64_t ts = T0 + script[i].ts;
        build(&fr, &script[i]);
        h.ts.tv_sec = (time_t)(ts / 1000000000ull);
        h.ts.tv_usec = (suseconds_t)(ts % 1000000000ull / 1000);
        h.caplen = h.len = fr.len;
        pcap_dump((u_char *)d, &h, fr.data);
        /* microsecond file: analyse what tshark sees */
        tcpi_flow_t *f = add(t, &fr, ts / 1000 * 1000);
        ours[i] = tcpi_flow_last(t, f)->an;
    }
    pcap_dump_close(d);
    pcap_close(dead);

    static const struct { const char *field; uint16_t bit; } fields[] = {
        { "tcp.analysis.retransmission", TCPI_AN_retransmission },
        { "tcp.analysis.fast_retransmission", TCPI_AN_fast_retransmission },
        { "tcp.analysis.spurious_retransmission", TCPI_AN_spurious },
        { "tcp.analysis.out_of_order", TCPI_AN_out_of_order },
        { "tcp.analysis.duplicate_ack", TCPI_AN_dup_ack },
        { "tcp.analysis.zero_window", TCPI_AN_zero_window },
        { "tcp.analysis.keep_alive", TCPI_AN_keep_alive },
    };
    for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
        char cmd[512], line[64];
        int theirs[NSTEPS + 1] = { 0 };
        snprintf(cmd, sizeof(cmd), "tshark -n -r %s -Y %s -T fields -e frame.number "
                 "2>/dev/null", path, fields[k].field);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        while (fgets(line, sizeof(line), p)) {
            int n = atoi(line);
            if (n >= 1 && n <= (int)NSTEPS)
                theirs[n] = 1;
        }
        pclose(p);
        for (size_t i = 0; i < NSTEPS; i++)
            if (!!(ours[i] & fields[k].bit) != theirs[i + 1])
                fail_msg("frame %zu: %s is %d here, %d in tshark", i + 1,
                         fields[k].field, !!(ours[i] & fields[k].bit),
                         theirs[i + 1]);
    }
    unlink(path);
    tcpi_flowtab_destroy(t);
}

static void test_key_canonical(void **state)
{
    tcpi_flow_key_t k1, k2;
    int d1, d2;
    tcpi_flow_key(&k1, &d1, 4, C.ip, C.port, S.ip, S.port);
    tcpi_flow_key(&k2, &d2, 4, S.ip, S.port, C.ip, C.port);
    assert_memory_equal(&k1, &k2, sizeof(k1));
    assert_int_not_equal(d1, d2);

    tcpi_flowtab_t *t = tcpi_flowtab_create(16, 1024);
    frame_t fr;
    frame_tcp(&fr, C, S, F_S, 1, 0, 1000, NULL, 0);
    tcpi_flow_t *f1 = add(t, &fr, T0);
    frame_tcp(&fr, S, C, F_SA, 9, 2, 1000, NULL, 0);
    tcpi_flow_t *f2 = add(t, &fr, T0 + 1);
    assert_ptr_equal(f1, f2);
    tcpi_endpoint_t ec = { .family = 4, .port = C.port }, es = { .family = 4, .port = S.port };
    memcpy(ec.addr, C.ip, 4);
    memcpy(es.addr, S.ip, 4);
    int dir;
    assert_ptr_equal(tcpi_flowtab_find(t, &ec, &es, &dir), f1);
    assert_int_equal(dir, ev_at(t, f1, 0)->dir);
    assert_ptr_equal(tcpi_flowtab_find(t, &es, &ec, &dir), f1);
    assert_int_equal(dir, ev_at(t, f1, 1)->dir);
    es.port = 81;
    assert_null(tcpi_flowtab_find(t, &ec, &es, &dir));
    tcpi_flowtab_destroy(t);
}

/* More flows than entries: the oldest are replaced and counted. */
static void test_eviction(void **state)
{
    tcpi_flowtab_t *t = tcpi_flowtab_create(16, 1024);
    tcpi_flowtab_stats_t st;
    frame_t fr;

    for (uint16_t i = 0; i < 100; i++) {
        fep_t c = C;
        c.port = (uint16_t)(30000 + i);
        frame_tcp(&fr, c, S, F_S, 1, 0, 1000, NULL, 0);
        add(t, &fr, T0 + i * MS);
    }
    tcpi_flowtab_stats(&st, t);
    assert_int_equal(st.capacity, 16);
    assert_int_equal(st.flows, 100);
    assert_int_equal(st.evictions, 100 - 16);
    /* the newest is still there */
    tcpi_endpoint_t ec = { .family = 4, .port = 30099 }, es = { .family = 4, .port = 80 };
    memcpy(ec.addr, C.ip, 4);
    memcpy(es.addr, S.ip, 4);
    int dir;
    assert_non_null(tcpi_flowtab_find(t, &ec, &es, &dir));
    tcpi_flowtab_destroy(t);
}

/* A new SYN on the tuple starts a new connection: its data is not a
 * retransmission of the old one's, and the old events stay. */
static void test_port_reuse_and_wrap(void **state)
{
    tcpi_flowtab_t *t = tcpi_flowtab_create(16, 1024);
    frame_t fr;
    tcpi_flow_t *f;
    uint32_t isn = 0xfffffff0u;   /* sequence numbers wrap inside */

    frame_tcp(&fr, C, S, F_S, isn, 0, 1000, NULL, 0);
    add(t, &fr, T0);
    frame_tcp(&fr, C, S, F_PA, isn + 1, 1, 1000, NULL, 100);
    f = add(t, &fr, T0 + MS);
    assert_int_equal(ev_at(t, f, 1)->an, 0);
    frame_tcp(&fr, C, S, F_PA, isn + 101, 1, 1000, NULL, 100);   /* wrapped */
    f = add(t, &fr, T0 + 2 * MS);
    assert_int_equal(ev_at(t, f, 2)->an, 0);
    frame_tcp(&fr, C, S, F_PA, isn + 1, 1, 1000, NULL, 100);     /* again */
    f = add(t, &fr, T0 + 500 * MS);
    assert_int_equal(ev_at(t, f, 3)->an, TCPI_AN_retransmission);

    frame_tcp(&fr, C, S, F_S, 12345, 0, 1000, NULL, 0);
    f = add(t, &fr, T0 + 2000 * MS);
    frame_tcp(&fr, C, S, F_PA, 12346, 1, 1000, NULL, 10);
    f = add(t, &fr, T0 + 2001 * MS);
    assert_int_equal(ev_at(t, f, 5)->an, 0);
    assert_int_equal(f->nev, 6);
    tcpi_flowtab_stats_t st;
    tcpi_flowtab_stats(&st, t);
    assert_int_equal(st.reincarnations, 1);
    assert_int_equal(st.flows, 1);
    tcpi_flowtab_destroy(t);
}

/* The pool is shared: a busy flow overwrites a quiet one's old events,
 * and a read that wanted them says so. Spans select by time. */
static void test_pool_and_span(void **state)
{
    tcpi_flowtab_t *t = tcpi_flowtab_create(16, 16);
    const tcpi_flow_ev_t *out[64];
    frame_t fr;
    fep_t c2 = C;
    int complete;
    tcpi_flow_t *quiet, *busy = NULL;

    c2.port = 40001;
    frame_tcp(&fr, C, S, F_PA, 1, 1, 1000, NULL, 10);
    quiet = add(t, &fr, T0);
    for (int i = 0; i < 20; i++) {
        frame_tcp(&fr, c2, S, F_PA, 1 + 10 * (uint32_t)i, 1, 1000, NULL, 10);
        busy = add(t, &fr, T0 + (uint64_t)(i + 1) * MS);
    }
    tcpi_flow_span_t all = { .until_ns = UINT64_MAX };
    assert_int_equal(tcpi_flow_events(out, 64, &complete, t, quiet, &all), 0);
    assert_false(complete);                       /* overwritten */
    assert_int_equal(tcpi_flow_events(out, 64, &complete, t, busy, &all), 16);
    assert_false(complete);
    assert_int_equal(out[0]->ts_ns, T0 + 5 * MS); /* oldest still held */
    assert_int_equal(out[15]->ts_ns, T0 + 20 * MS);
    /* [10 ms, 12 ms] and two before it, nothing before 7 ms */
    tcpi_flow_span_t sp = { .until_ns = T0 + 12 * MS, .anchor_ns = T0 + 10 * MS,
                            .before = 2, .since_ns = T0 + 7 * MS };
    assert_int_equal(tcpi_flow_events(out, 64, &complete, t, busy, &sp), 5);
    assert_true(complete);
    assert_int_equal(out[0]->ts_ns, T0 + 8 * MS);
    assert_int_equal(out[4]->ts_ns, T0 + 12 * MS);
    sp.before = 10;                               /* since_ns stops it */
    assert_int_equal(tcpi_flow_events(out, 64, &complete, t, busy, &sp), 6);
    assert_int_equal(tcpi_flow_events(out, 3, &complete, t, busy, &sp), 3);
    assert_false(complete);                       /* max reached */
    /* reads start from where the last one did, forwards or backwards */
    tcpi_flow_span_t later = { .until_ns = T0 + 16 * MS, .anchor_ns = T0 + 15 * MS,
                               .before = 1, .since_ns = 0 };
    assert_int_equal(tcpi_flow_events(out, 64, &complete, t, busy, &later), 3);
    assert_int_equal(out[0]->ts_ns, T0 + 14 * MS);
    assert_int_equal(out[2]->ts_ns, T0 + 16 * MS);
    tcpi_flow_span_t earlier = { .until_ns = T0 + 10 * MS, .anchor_ns = T0 + 9 * MS,
                                 .before = 0, .since_ns = 0 };
    assert_int_equal(tcpi_flow_events(out, 64, &complete, t, busy, &earlier), 2);
    assert_int_equal(out[0]->ts_ns, T0 + 9 * MS);
    assert_true(complete);
    tcpi_flow_span_t none = { .until_ns = UINT64_MAX, .anchor_ns = T0 + 99 * MS,
                              .before = 2, .since_ns = 0 };
    assert_int_equal(tcpi_flow_events(out, 64, &complete, t, busy, &none), 2);
    assert_int_equal(out[1]->ts_ns, T0 + 20 * MS);   /* only the "before" */
    tcpi_flowtab_destroy(t);
}

static void test_names(void **state)
{
    assert_string_equal(tcpi_flow_an_name(0), "retransmission");
    assert_string_equal(tcpi_flow_an_name(TCPI_AN_COUNT - 1), "keep_alive");
    assert_string_equal(tcpi_flow_an_name(TCPI_AN_COUNT), "unknown");
    assert_string_equal(tcpi_flow_an_text(-1), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_script),
        cmocka_unit_test(test_against_tshark),
        cmocka_unit_test(test_key_canonical),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_port_reuse_and_wrap),
        cmocka_unit_test(test_pool_and_span),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
