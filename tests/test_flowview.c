/* Unit tests for /flows: client and leg from the handshake or the ports,
 * each filter, the limit, the BPF of a flow (compiled by libpcap and
 * matching both directions of exactly that 4-tuple), the JSON (python3's
 * json module) and the HTML (links percent-encoded and escaped). */
#include "tcpi_test.h"
#include "render/tcpi_flowview.h"
#include "tcpi_frames.h"

#include <pcap/pcap.h>

static tcpi_ports_t front, backend;

static void rec(tcpi_flowrec_t *r, fep_t x, fep_t y, uint64_t t)
{
    int dir;
    memset(r, 0, sizeof(*r));
    tcpi_flow_key(&r->key, &dir, 4, x.ip, x.port, y.ip, y.port);
    tcpi_flowstate_reset(&r->fs);
    r->first_ns = r->last_ns = t;
}

/* recs: [0] backend H->J open (SYN seen, from H), [1] front C->S closed by
 * the client, [2] a front flow seen from the middle. */
static void make(tcpi_flowrec_t recs[3])
{
    int dir;
    fep_t c2 = C;

    rec(&recs[0], H, J, T0 + 3 * MS);
    tcpi_flow_key(&recs[0].key, &dir, 4, H.ip, H.port, J.ip, J.port);
    tcpi_flowstate_packet(&recs[0].fs, dir, TCPI_TH_SYN, 1, 0, 0, 0, T0 + 3 * MS);
    rec(&recs[1], C, S, T0 + 2 * MS);
    tcpi_flow_key(&recs[1].key, &dir, 4, C.ip, C.port, S.ip, S.port);
    tcpi_flowstate_packet(&recs[1].fs, dir, TCPI_TH_SYN, 1, 0, 0, 0, T0);
    tcpi_flowstate_packet(&recs[1].fs, !dir, TCPI_TH_SYN | TCPI_TH_ACK, 9, 2,
                          0, 0, T0 + MS);
    tcpi_flowstate_packet(&recs[1].fs, dir, TCPI_TH_FIN | TCPI_TH_ACK, 2, 10,
                          0, 1, T0 + 2 * MS);
    c2.port = 40002;
    rec(&recs[2], c2, S, T0 + MS);
    tcpi_flow_key(&recs[2].key, &dir, 4, S.ip, S.port, c2.ip, c2.port);
    tcpi_flowstate_packet(&recs[2].fs, dir, TCPI_TH_ACK, 5, 5, 10, 0, T0 + MS);
}

static uint32_t sel(tcpi_flowrow_t *rows, const tcpi_flowrec_t *recs, int leg,
                    int state, uint16_t port, uint32_t limit)
{
    tcpi_flow_filter_t f = { leg, state, port, limit };
    return tcpi_flowview_select(rows, recs, 3, &f, &front, &backend);
}

static int side_is(const tcpi_flowrow_t *row, int side, fep_t e)
{
    const tcpi_flow_key_t *k = &row->rec.key;
    return memcmp(side ? k->b : k->a, e.ip, 4) == 0 &&
           (side ? k->pb : k->pa) == e.port;
}

static void test_select(void **state)
{
    tcpi_flowrec_t recs[3];
    tcpi_flowrow_t rows[3];
    fep_t c2 = C;
    (void)state;

    c2.port = 40002;
    tcpi_ports_add(&front, 80);
    tcpi_ports_add(&backend, 7001);
    make(recs);
    assert_int_equal(sel(rows, recs, -1, -1, 0, 10), 3);
    assert_int_equal(rows[0].leg, TCPI_FLEG_BACKEND);
    assert_true(side_is(&rows[0], rows[0].client, H));
    assert_int_equal(rows[1].leg, TCPI_FLEG_FRONT);
    assert_true(side_is(&rows[1], rows[1].client, C));
    /* seen from the middle: the client is the side off port 80 */
    assert_int_equal(rows[2].leg, TCPI_FLEG_FRONT);
    assert_true(side_is(&rows[2], rows[2].client, c2));
    assert_int_equal(sel(rows, recs, TCPI_FLEG_FRONT, -1, 0, 10), 2);
    assert_int_equal(sel(rows, recs, TCPI_FLEG_BACKEND, -1, 0, 10), 1);
    assert_int_equal(sel(rows, recs, TCPI_FLEG_OTHER, -1, 0, 10), 0);
    assert_int_equal(sel(rows, recs, -1, TCPI_ST_FIN_WAIT1, 0, 10), 1);
    assert_true(side_is(&rows[0], 0, C) || side_is(&rows[0], 1, C));
    assert_int_equal(sel(rows, recs, -1, TCPI_ST_CLOSE_WAIT, 0, 10), 1);
    assert_int_equal(sel(rows, recs, -1, TCPI_ST_SYN_RECV, 0, 10), 1);
    assert_int_equal(sel(rows, recs, -1, TCPI_ST_ESTABLISHED, 0, 10), 1);
    assert_int_equal(sel(rows, recs, -1, TCPI_ST_TIME_WAIT, 0, 10), 0);
    assert_int_equal(sel(rows, recs, -1, -1, 40002, 10), 1);
    assert_int_equal(sel(rows, recs, -1, -1, 80, 10), 2);
    assert_int_equal(sel(rows, recs, -1, -1, 7001, 10), 1);
    assert_int_equal(sel(rows, recs, -1, -1, 0, 2), 2);
    assert_int_equal(sel(rows, recs, TCPI_FLEG_FRONT, -1, 0, 1), 1);
    assert_true(side_is(&rows[0], rows[0].client, C));
    assert_int_equal(tcpi_flowview_leg_from_name("Front"), TCPI_FLEG_FRONT);
    assert_int_equal(tcpi_flowview_leg_from_name("backend"), TCPI_FLEG_BACKEND);
    assert_int_equal(tcpi_flowview_leg_from_name("x"), -1);
    assert_string_equal(tcpi_flowview_leg_name(7), "unknown");
}

static int bpf_matches(const char *expr, fep_t s, fep_t d)
{
    pcap_t *p = pcap_open_dead(TCPI_DLT_RAW, 65535);
    struct bpf_program prog;
    struct pcap_pkthdr h;
    frame_t f;
    int m;

    assert_int_equal(pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN), 0);
    frame_tcp(&f, s, d, TCPI_TH_ACK, 1, 1, 100, NULL, 0);
    memset(&h, 0, sizeof(h));
    h.caplen = h.len = f.len;
    m = pcap_offline_filter(&prog, &h, f.data);
    pcap_freecode(&prog);
    pcap_close(p);
    return m != 0;
}

static void test_bpf(void **state)
{
    tcpi_flowrec_t recs[3];
    tcpi_flowrow_t rows[3];
    char bpf[320];
    fep_t c2 = C;
    (void)state;

    make(recs);
    sel(rows, recs, -1, -1, 0, 3);
    tcpi_flowview_bpf(bpf, sizeof(bpf), &rows[1]);
    assert_true(bpf_matches(bpf, C, S));
    assert_true(bpf_matches(bpf, S, C));
    c2.port = 40002;
    assert_false(bpf_matches(bpf, c2, S));
    assert_false(bpf_matches(bpf, S, c2));
    /* IPv6: the brackets of "[::1]:80" are not part of the address */
    memset(&rows[0].rec.key, 0, sizeof(rows[0].rec.key));
    rows[0].rec.key.family = 6;
    rows[0].rec.key.a[15] = 1;
    rows[0].rec.key.b[15] = 1;
    rows[0].rec.key.pa = 80;
    rows[0].rec.key.pb = 40000;
    tcpi_flowview_bpf(bpf, sizeof(bpf), &rows[0]);
    assert_non_null(strstr(bpf, "src host ::1 and src port 80 and dst host ::1 "
                                "and dst port 40000"));
}

static char *render_rows(const tcpi_flowrow_t *rows, uint32_t n, int json)
{
    tcpi_out_t o;
    tcpi_membuf_t m = { 0 };
    tcpi_flowpub_stats_t st = { 1, T0, 3, 1000 };

    tcpi_out_init(&o, tcpi_membuf_sink, &m);
    if (json)
        tcpi_render_flows_json(&o, rows, n);
    else
        tcpi_render_flows_html(&o, rows, n, &st, "/tcp-inspect");
    assert_int_equal(tcpi_out_flush(&o), 0);
    return m.data;
}

static void test_render(void **state)
{
    tcpi_flowrec_t recs[3];
    tcpi_flowrow_t rows[3];
    char *out;
    (void)state;

    make(recs);
    {
        /* the front flow's server chose TLS 1.3 in its ServerHello */
        uint8_t hello[55] = { 22, 3, 3, 0, 50, 2, 0, 0, 46, 3, 3 };
        const uint8_t tail[] = { 0, 0x13, 0x01, 0, 0, 6, 0, 43, 0, 2, 3, 4 };
        tcpi_flow_t f;
        tcpi_flow_key_t k;
        tcpi_pkt_t from_s, from_c;
        int cdir;

        memcpy(hello + 11 + 32, tail, sizeof(tail));
        memset(&f, 0, sizeof(f));
        memset(&from_s, 0, sizeof(from_s));
        from_s.family = 4;
        memcpy(from_s.src, S.ip, 4);
        from_s.sport = S.port;
        memcpy(from_s.dst, C.ip, 4);
        from_s.dport = C.port;
        from_c = from_s;
        memcpy(from_c.src, C.ip, 4);
        from_c.sport = C.port;
        memcpy(from_c.dst, S.ip, 4);
        from_c.dport = S.port;
        tcpi_flow_key(&k, &cdir, 4, C.ip, C.port, S.ip, S.port);
        f.fs.initiator = -1;                     /* who is the server? */
        tcpi_flow_payload(&f, &from_s, hello, sizeof(hello));
        assert_int_equal(f.fs.tls, 0);
        f.fs.initiator = (int8_t)cdir;
        tcpi_flow_payload(&f, &from_c, hello, sizeof(hello));   /* the client */
        assert_int_equal(f.fs.tls, 0);
        tcpi_flow_payload(&f, &from_s, hello, sizeof(hello) - 1);   /* cut */
        assert_int_equal(f.fs.tls, 0);
        tcpi_flow_payload(&f, &from_s, hello, sizeof(hello));
        recs[1].fs.tls = f.fs.tls;
    }
    sel(rows, recs, -1, -1, 0, 3);
    out = render_rows(rows, 3, 1);
    assert_int_equal(tcpi_py_json(out,
        "len(d)==3 and d[0]['leg']=='backend' and "
        "d[1]['client']['addr']=='198.18.0.2:40000' and "
        "d[1]['server']['addr']=='198.18.0.1:80' and "
        "[h['state'] for h in d[1]['client']['history']]=="
        "['SYN_SENT','ESTABLISHED','FIN_WAIT1'] and "
        "[h['state'] for h in d[1]['server']['history']]=="
        "['SYN_RECV','CLOSE_WAIT'] and "
        "d[1]['server']['state']=='CLOSE_WAIT' and "
        "abs(d[1]['client']['history'][1]['time']-1700000000.001)<1e-6 and "
        "d[1]['first']==1700000000.002 and d[1]['anomalies']['retransmission']==1 and "
        "d[1]['handshake_seen'] and not d[2]['handshake_seen'] and "
        "d[0]['server']['state']=='SYN_RECV' and d[0]['client']['packets']==1 and "
        "'dst port 7001' in d[0]['filter'] and d[1]['tls']=='TLSv1.3' and "
        "d[0]['tls'] is None"), 0);
    free(out);
    out = render_rows(rows, 0, 1);
    assert_int_equal(tcpi_py_json(out, "d==[]"), 0);
    free(out);
    out = render_rows(rows, 3, 0);
    assert_non_null(strstr(out, "<b>SYN_SENT</b> 22:13:20.000 &rarr; "
                                "<b>ESTABLISHED</b> 22:13:20.001"));
    assert_non_null(strstr(out, "href=\"/tcp-inspect/packets?filter=tcp%20and"
                                "%20%28%28src%20host%20"));
    assert_null(strstr(out, "filter=tcp and"));
    assert_non_null(strstr(out, "retransmission 1"));
    assert_non_null(strstr(out, "<td class=\"l\">TLSv1.3</td>"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_bpf),
        cmocka_unit_test(test_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
