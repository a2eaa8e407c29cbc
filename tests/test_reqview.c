/* Unit tests for the request views: selection, id syntax, JSON checked by
 * python3's parser (hostile bytes in the URI included), the detail page's
 * waterfall, findings and escaping, for summaries built by the real join
 * from hand-built packets. */
#include "tcpi_test.h"
#include "render/tcpi_reqview.h"
#include "tcpi_frames.h"

/* A URI with everything that must be escaped, and bytes that are not
 * UTF-8. */
static const char hostile[] = "/app/x?q=<script>\"'&\\\x01\x7f\xff</script>";

static void ep(tcpi_endpoint_t *e, fep_t f)
{
    memset(e, 0, sizeof(*e));
    e->family = 4;
    memcpy(e->addr, f.ip, 4);
    e->port = f.port;
}

static void rec_fill(tcpi_req_t *r, const char *id, uint64_t start, uint64_t end)
{
    memset(r, 0, sizeof(*r));
    strcpy(r->id, id);
    strcpy(r->method, "GET");
    memcpy(r->uri, hostile, sizeof(hostile));
    ep(&r->front_client, C);
    ep(&r->front_server, S);
    ep(&r->backend_local, H);
    ep(&r->backend_remote, J);
    r->has_backend = 1;
    r->backend_reused = 1;
    r->conn_requests = 2;
    r->status = 502;
    r->start_us = (T0 + start) / 1000;
    r->end_us = (T0 + end) / 1000;
}

static void pkt(tcpi_join_t *j, uint64_t ts, fep_t a, fep_t b, uint8_t fl,
                uint32_t seq, uint32_t ack, uint32_t len)
{
    frame_t f;
    frame_tcp(&f, a, b, fl, seq, ack, 1000, NULL, len);
    assert_int_equal(tcpi_join_packet(j, TCPI_LINKTYPE_RAW, f.data, f.len,
                                      f.len, T0 + ts), 0);
}

/* A 502 from the pooled-connection race, with a retransmission on the
 * frontend. */
static void race_summary(tcpi_reqsum_t *s, tcpi_req_t *r)
{
    tcpi_join_conf_t c = { .nflows = 64, .nevents = 1024 };
    tcpi_join_t *j = tcpi_join_create(&c);

    pkt(j, 0,          H, J, F_PA, 100, 900, 50);
    pkt(j, 1 * MS,     J, H, F_PA, 900, 150, 60);
    pkt(j, 1100 * US,  H, J, F_A,  150, 960, 0);
    pkt(j, 5000 * MS,  C, S, F_PA, 1, 1, 80);
    pkt(j, 5000 * MS + 500 * US, J, H, F_FA, 960, 150, 0);
    pkt(j, 5000 * MS + 520 * US, H, J, F_PA, 150, 961, 50);
    pkt(j, 5000 * MS + 540 * US, J, H, F_R,  961, 0, 0);
    pkt(j, 5001 * MS,  S, C, F_PA, 1, 81, 200);
    pkt(j, 5250 * MS,  S, C, F_PA, 1, 81, 200);     /* retransmitted */
    pkt(j, 5251 * MS,  C, S, F_A,  81, 201, 0);
    rec_fill(r, "race-1", 5000 * MS + 100 * US, 5001 * MS + 100 * US);
    tcpi_join_request(s, tcpi_join_flows(j), r, 9);
    tcpi_join_destroy(j);
}

static char *render_json(const tcpi_req_t *r, const tcpi_reqsum_t *s, int detail)
{
    static tcpi_out_t o;
    tcpi_membuf_t m = { 0 };
    tcpi_out_init(&o, tcpi_membuf_sink, &m);
    tcpi_render_request_json(&o, r, s, detail);
    tcpi_out_mem(&o, "", 1);
    assert_int_equal(tcpi_out_flush(&o), 0);
    return m.data;
}

static void test_detail_json(void **state)
{
    tcpi_req_t r;
    tcpi_reqsum_t s;
    char *js;

    race_summary(&s, &r);
    assert_true(s.pool_race);
    js = render_json(&r, &s, 1);
    assert_int_equal(tcpi_py_json(js,
        "d['id']=='race-1' and d['status']==502 and d['joined'] and "
        "d['uri'].startswith('/app/x?q=<script>\"\\'&\\\\\\x01\\ufffd') and "
        "d['front']['client']=='198.18.0.2:40000' and "
        "d['backend']['reused'] and d['backend']['pool_race'] and "
        "d['backend']['rst_by']=='backend' and "
        "d['front']['anomalies']['retransmission']==1 and "
        "d['timing']['backend_ttfb_ms'] is None and "
        "abs(d['timing']['backend_idle_ms'] - (5000.52 - 1.0)) < 0.001 and "
        "any(f['kind']=='pool_race' and 'ttl=' in f['explanation'] for f in d['findings']) and "
        "any(f['kind']=='retransmission' and f['leg']=='front' for f in d['findings']) and "
        "len(d['packets'])==d['packets_total'] and "
        "[p['t_ms'] for p in d['packets']]==sorted(p['t_ms'] for p in d['packets']) and "
        "d['points']['fwd_first_ms'] is not None"), 0);
    free(js);
    js = render_json(&r, NULL, 1);             /* not joined yet */
    assert_int_equal(tcpi_py_json(js,
        "not d['joined'] and d['timing']['backend_ttfb_ms'] is None and "
        "d['front']['found'] is None and 'packets' not in d"), 0);
    free(js);
}

static void test_list_json_and_filter(void **state)
{
    tcpi_reqlog_t *log = tcpi_reqlog_init(malloc(tcpi_reqlog_size()));
    tcpi_sumtab_t *t = tcpi_sumtab_init(malloc(tcpi_sumtab_size()));
    tcpi_req_t r, got[8];
    tcpi_reqsum_t s;
    uint64_t ks[8];
    tcpi_req_filter_t f = { 0 };
    tcpi_req_status_t st = { .log_dropped = 3, .have_join = 1 };
    tcpi_out_t o;
    tcpi_membuf_t m = { 0 };

    race_summary(&s, &r);
    tcpi_reqlog_put(log, &r);                  /* k = 0, not joined */
    s.k = 1;
    tcpi_reqlog_put(log, &r);                  /* k = 1, joined */
    tcpi_sumtab_put(t, &s);
    f.status = 502;
    assert_int_equal(tcpi_req_collect(got, ks, 8, log, &f), 2);
    assert_int_equal(ks[0], 1);                /* newest first */
    f.status = 200;
    assert_int_equal(tcpi_req_collect(got, ks, 8, log, &f), 0);
    f.status = 0;
    f.client = "198.18.0.2:";
    assert_int_equal(tcpi_req_collect(got, ks, 8, log, &f), 2);
    f.client = "198.18.0.3";
    assert_int_equal(tcpi_req_collect(got, ks, 8, log, &f), 0);
    f.client = NULL;
    assert_int_equal(tcpi_req_collect(got, ks, 8, log, &f), 2);

    tcpi_sumtab_stats(&st.join, t);
    tcpi_out_init(&o, tcpi_membuf_sink, &m);
    tcpi_render_requests_json(&o, got, ks, 2, t, &st);
    tcpi_out_mem(&o, "", 1);
    tcpi_out_flush(&o);
    assert_int_equal(tcpi_py_json(m.data,
        "d['dropped']==3 and d['join']['joined']==1 and len(d['requests'])==2 and "
        "d['requests'][0]['joined'] and not d['requests'][1]['joined'] and "
        "d['requests'][0]['backend']['local']=='127.0.0.1:50000'"), 0);
    free(m.data);

    memset(&m, 0, sizeof(m));
    tcpi_out_init(&o, tcpi_membuf_sink, &m);
    tcpi_render_requests_html(&o, got, ks, 2, t, &st, "/tcp-inspect");
    tcpi_out_mem(&o, "", 1);
    tcpi_out_flush(&o);
    assert_null(strstr(m.data, "<script>"));
    assert_non_null(strstr(m.data, "&lt;script&gt;"));
    assert_non_null(strstr(m.data, "href=\"/tcp-inspect/requests/race-1\""));
    free(m.data);
    free(log);
    free(t);
}

static void test_detail_html(void **state)
{
    tcpi_req_t r;
    tcpi_reqsum_t s;
    tcpi_out_t o;
    tcpi_membuf_t m = { 0 };

    race_summary(&s, &r);
    tcpi_out_init(&o, tcpi_membuf_sink, &m);
    tcpi_render_request_html(&o, &r, &s, "/tcp-inspect");
    tcpi_out_mem(&o, "", 1);
    tcpi_out_flush(&o);
    assert_null(strstr(m.data, "<script"));
    assert_non_null(strstr(m.data, "&lt;script&gt;&quot;&#39;&amp;"));
    assert_non_null(strstr(m.data, "<svg"));
    assert_non_null(strstr(m.data, "<rect"));
    assert_non_null(strstr(m.data, "pooled connection idle"));
    assert_non_null(strstr(m.data, "ttl="));
    assert_non_null(strstr(m.data, "RST from backend"));
    assert_non_null(strstr(m.data, "<td>[R]</td>"));
    /* nothing external: the only URL is the SVG namespace */
    for (const char *u = strstr(m.data, "://"); u; u = strstr(u + 3, "://"))
        assert_int_equal(strncmp(u, "://www.w3.org/2000/svg\"", 23), 0);
    free(m.data);

    memset(&m, 0, sizeof(m));
    tcpi_out_init(&o, tcpi_membuf_sink, &m);
    tcpi_render_request_html(&o, &r, NULL, "/tcp-inspect");
    tcpi_out_mem(&o, "", 1);
    tcpi_out_flush(&o);
    assert_non_null(strstr(m.data, "has not joined"));
    assert_null(strstr(m.data, "<svg"));
    free(m.data);
}

static void test_id_valid(void **state)
{
    assert_true(tcpi_req_id_valid("awaT4Cgq7O9r5wqQEYXEQgAAAIA", 27));
    assert_true(tcpi_req_id_valid("18c2f0-1a2b-3f", 14));
    assert_true(tcpi_req_id_valid("a@b_c-d", 7));
    assert_false(tcpi_req_id_valid("", 0));
    assert_false(tcpi_req_id_valid("a.json", 6));
    assert_false(tcpi_req_id_valid("a/b", 3));
    assert_false(tcpi_req_id_valid("<x>", 3));
    char big[TCPI_REQ_ID_MAX + 1];
    memset(big, 'a', sizeof(big));
    assert_true(tcpi_req_id_valid(big, TCPI_REQ_ID_MAX - 1));
    assert_false(tcpi_req_id_valid(big, TCPI_REQ_ID_MAX));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detail_json),
        cmocka_unit_test(test_list_json_and_filter),
        cmocka_unit_test(test_detail_html),
        cmocka_unit_test(test_id_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
