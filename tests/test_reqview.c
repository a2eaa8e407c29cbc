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

/* A line of the JSON request log: the /requests.json entry (detail 0)
 * and a newline, nothing else; the longest record there can be (every
 * string full of bytes that escape to six) still fits a line; a buffer
 * too small gives 0. */
static void test_line(void **state)
{
    tcpi_req_t r;
    tcpi_reqsum_t s;
    char line[TCPI_LINELOG_LINE_MAX], *js;
    size_t n;

    race_summary(&s, &r);
    js = render_json(&r, &s, 0);
    n = tcpi_reqview_line(line, sizeof(line), &r, &s);
    assert_int_equal(n, strlen(js) + 1);
    assert_memory_equal(line, js, n - 1);
    assert_int_equal(line[n - 1], '\n');
    assert_null(memchr(line, '\n', n - 1));
    assert_int_equal(tcpi_reqview_line(line, n - 1, &r, &s), 0);
    free(js);

    memset(r.id, 'A', sizeof(r.id) - 1);
    memset(r.method, '\x01', sizeof(r.method) - 1);
    memset(r.uri, '\x01', sizeof(r.uri) - 1);
    r.uri[sizeof(r.uri) - 1] = '\0';
    r.tls.on = 1;
    r.tls.has_random = 1;
    memset(r.tls.protocol, '\x01', sizeof(r.tls.protocol) - 1);
    memset(r.tls.cipher, '\x01', sizeof(r.tls.cipher) - 1);
    memset(r.tls.sni, '\x01', sizeof(r.tls.sni) - 1);
    memset(r.tls.alpn, '\x01', sizeof(r.tls.alpn) - 1);
    n = tcpi_reqview_line(line, sizeof(line), &r, &s);
    assert_true(n > 0);
    print_message("  the longest line: %zu bytes of %u\n", n,
                  TCPI_LINELOG_LINE_MAX);
    assert_null(memchr(line, '\n', n - 1));
    line[n - 1] = '\0';
    assert_int_equal(tcpi_py_json(line, "d['front']['tls']['sni'] == "
                                  "'\\x01' * 127 and len(d['uri']) == 255"),
                     0);
}

/* A view's copies of the log keep no secret byte (what says they were
 * kept stays); a download's do. */
static void test_copies_without_secrets(void **state)
{
    tcpi_reqlog_t *log = tcpi_reqlog_init(malloc(tcpi_reqlog_size()));
    tcpi_req_t r, got;
    tcpi_reqsum_t s;
    tcpi_req_filter_t f = { 0 };
    static const uint8_t zero[TCPI_TLS_SECRET_MAX];

    race_summary(&s, &r);
    r.tls.on = r.tls.has_random = 1;
    r.tls.nkeys = 1;
    r.tls.keys[0].label = TCPI_TLS_KEY_CLIENT_RANDOM;
    r.tls.keys[0].len = 48;
    memset(r.tls.keys[0].secret, 0x11, 48);
    assert_true(tcpi_req_check(&r));
    tcpi_reqlog_put(log, &r);
    assert_int_equal(tcpi_req_collect(&got, NULL, 1, log, &f), 1);
    assert_int_equal(got.tls.nkeys, 1);
    assert_memory_equal(got.tls.keys[0].secret, zero, sizeof(zero));
    assert_true(tcpi_req_check(&got));           /* still a record */
    f.secrets = 1;
    assert_int_equal(tcpi_req_collect(&got, NULL, 1, log, &f), 1);
    assert_memory_equal(got.tls.keys[0].secret, r.tls.keys[0].secret, 48);
    tcpi_req_wipe_secrets(&got);
    free(log);
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

/* ---- the lists read from the log record by record ------------------- */

typedef struct {
    int json;
    const tcpi_sumtab_t *sums;
    const tcpi_req_status_t *st;
} list_ctx_t;

/* The list as the pages built it before: every record collected first. */
static char *list_collected(const list_ctx_t *c, const tcpi_reqlog_t *log,
                            const tcpi_req_filter_t *f, int max)
{
    tcpi_req_t *recs = malloc(sizeof(*recs) * (size_t)max);
    uint64_t *ks = malloc(sizeof(*ks) * (size_t)max);
    int n = log ? tcpi_req_collect(recs, ks, max, log, f) : 0;
    tcpi_out_t o;
    tcpi_membuf_t m = { 0 };

    tcpi_out_init(&o, tcpi_membuf_sink, &m);
    if (c->json)
        tcpi_render_requests_json(&o, recs, ks, n, c->sums, c->st);
    else
        tcpi_render_requests_html(&o, recs, ks, n, c->sums, c->st, "/ti");
    tcpi_out_mem(&o, "", 1);
    assert_int_equal(tcpi_out_flush(&o), 0);
    free(recs);
    free(ks);
    return m.data;
}

static char *list_streamed(const list_ctx_t *c, const tcpi_reqlog_t *log,
                           const tcpi_req_filter_t *f, int max)
{
    tcpi_out_t o;
    tcpi_membuf_t m = { 0 };

    tcpi_out_init(&o, tcpi_membuf_sink, &m);
    if (c->json)
        tcpi_render_requests_json_log(&o, log, f, max, c->sums, c->st);
    else
        tcpi_render_requests_html_log(&o, log, f, max, c->sums, c->st, "/ti");
    tcpi_out_mem(&o, "", 1);
    assert_int_equal(tcpi_out_flush(&o), 0);
    return m.data;
}

static size_t count_of(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* /requests?limit=16384 used to hold limit records (7 MB); the pages now
 * render each record as the walk finds it. The bytes are the same as
 * collecting them first: over a log that wrapped (more records than it
 * holds), with filters that match many, few and none, limits below and
 * above the matches, joined and unjoined records. */
static void test_list_streamed(void **state)
{
    tcpi_reqlog_t *log = tcpi_reqlog_init(malloc(tcpi_reqlog_size()));
    tcpi_sumtab_t *t = tcpi_sumtab_init(malloc(tcpi_sumtab_size()));
    tcpi_req_status_t st = { .log_dropped = 7, .have_join = 1 };
    tcpi_req_t r;
    tcpi_reqsum_t s;
    const uint64_t total = TCPI_REQLOG_LEN + 1500;

    race_summary(&s, &r);
    for (uint64_t k = 0; k < total; k++) {
        snprintf(r.id, sizeof(r.id), "req-%llu", (unsigned long long)k);
        snprintf(r.uri, sizeof(r.uri), "/%s/%llu", k % 3 ? "app" : "big",
                 (unsigned long long)k);
        r.status = k % 7 == 0 ? 502 : 200;
        r.front_client.port = (uint16_t)(40000 + k % 5);
        r.end_us = r.start_us + (k % 11) * 1000;
        assert_int_equal(tcpi_reqlog_put(log, &r), 0);
        if (k % 4 == 0) {                  /* every fourth one joined */
            s.k = k;
            strcpy(s.id, r.id);
            tcpi_sumtab_put(t, &s);
        }
    }
    tcpi_sumtab_stats(&st.join, t);

    const tcpi_req_filter_t filters[] = {
        { 0 },
        { .status = 502 },
        { .uri_prefix = "/big/" },
        { .client = "198.18.0.2:40003" },
        { .min_us = 9000 },
        { .status = 404 },                 /* none */
        { .id = "req-17000" },
    };
    const int limits[] = { 1, 100, 4096, TCPI_REQLOG_LEN };
    for (int json = 0; json <= 1; json++) {
        list_ctx_t c = { json, t, &st };
        for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
            for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
                char *a = list_collected(&c, log, &filters[i], limits[l]);
                char *b = list_streamed(&c, log, &filters[i], limits[l]);
                assert_string_equal(a, b);
                free(a);
                free(b);
            }
        /* no region: no records */
        char *a = list_collected(&c, NULL, &filters[0], 10);
        char *b = list_streamed(&c, NULL, &filters[0], 10);
        assert_string_equal(a, b);
        free(a);
        free(b);
    }

    /* What the pages show: the whole log, newest first. */
    tcpi_req_filter_t all = { 0 };
    list_ctx_t c = { 1, t, &st };
    char *js = list_streamed(&c, log, &all, TCPI_REQLOG_LEN);
    assert_int_equal(count_of(js, "\"id\":\"req-"), TCPI_REQLOG_LEN);
    assert_int_equal(tcpi_py_json(js,
        "len(d['requests'])==16384 and d['requests'][0]['id']=='req-17883' and "
        "d['requests'][-1]['id']=='req-1500' and d['requests'][3]['joined'] and "
        "not d['requests'][0]['joined'] and d['dropped']==7"), 0);
    free(js);
    c.json = 0;
    char *html = list_streamed(&c, log, &filters[1], TCPI_REQLOG_LEN);
    size_t rows = count_of(html, "<tr class=");
    assert_true(rows > 2000);
    char want[64];
    snprintf(want, sizeof(want), "%zu shown, newest first", rows);
    assert_non_null(strstr(html, want));
    free(html);

    /* The walk itself: newest first, at most max, a copy walks again. */
    tcpi_req_iter_t it, again;
    uint64_t k, prev = UINT64_MAX;
    int n = 0;
    tcpi_req_iter_init(&it, log, &filters[1], 50);
    again = it;
    while (tcpi_req_iter_next(&r, &k, &it)) {
        assert_true(k < prev);
        assert_int_equal(r.status, 502);
        prev = k;
        n++;
    }
    assert_int_equal(n, 50);
    assert_int_equal(tcpi_req_iter_next(&r, &k, &it), 0);
    assert_int_equal(tcpi_req_iter_next(&r, &k, &again), 1);
    tcpi_req_iter_init(&it, NULL, &filters[0], 50);
    assert_int_equal(tcpi_req_iter_next(&r, &k, &it), 0);
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
        cmocka_unit_test(test_line),
        cmocka_unit_test(test_copies_without_secrets),
        cmocka_unit_test(test_list_json_and_filter),
        cmocka_unit_test(test_list_streamed),
        cmocka_unit_test(test_detail_html),
        cmocka_unit_test(test_id_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
