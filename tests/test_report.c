/* Unit tests for the snapshot renderers: JSON validity (python3's json
 * module as an independent parser), escaping, ?auto and Prometheus lines,
 * history downsampling. */
#include "tcpi_test.h"
#include "render/tcpi_report.h"

static tcpi_snapshot_t snap;

static char *render(void (*fn)(tcpi_out_t *, const tcpi_snapshot_t *))
{
    static tcpi_out_t o;
    tcpi_membuf_t m = { 0 };
    tcpi_out_init(&o, tcpi_membuf_sink, &m);
    fn(&o, &snap);
    assert_int_equal(tcpi_out_flush(&o), 0);
    return m.data;
}

static void html_fn(tcpi_out_t *o, const tcpi_snapshot_t *s)
{
    tcpi_render_html(o, s, "/tcp-inspect");
}

static int setup(void **state)
{
    static const tcpi_threshold_t th[] = { { TCPI_ST_ESTABLISHED, -1, 600, 800 } };
    uint32_t count[TCPI_NSCOPES][TCPI_NSTATES] = { { 0 } };

    memset(&snap, 0, sizeof(snap));
    snap.generation = 3;
    snap.engine = 1;
    snap.running = 1;
    snap.pid = 1234;
    snap.niface = 1;
    strcpy(snap.iface[0].name, "eth\"<0>");
    strcpy(snap.iface[0].filter, "tcp and (port 80) and (host 10.0.0.1 && \"x\\y\")");
    strcpy(snap.iface[0].error, "line\nbreak\x01");
    snap.iface[0].received = 77;
    snap.iface[0].legs = TCPI_LEG_FRONT;
    count[TCPI_SCOPE_FRONT][TCPI_ST_ESTABLISHED] = 700;
    count[TCPI_SCOPE_BACKEND][TCPI_ST_TIME_WAIT] = 5;
    tcpi_snapshot_counts(&snap, count, th, 1);
    tcpi_ports_add(&snap.ports[TCPI_SCOPE_FRONT], 80);
    tcpi_ports_add(&snap.ports[TCPI_SCOPE_BACKEND], 7001);
    snap.have_sysctl = 1;
    snap.sysctl.k[TCPI_SYS_FIN_TIMEOUT] = (tcpi_sysctl_value_t){ 1, 1, { 60 }, "60" };
    snap.sysctl.k[TCPI_SYS_LOCAL_PORT_RANGE] =
        (tcpi_sysctl_value_t){ 1, 2, { 32768, 60999 }, "32768 60999" };
    snap.sysctl.k[TCPI_SYS_SYNCOOKIES] = (tcpi_sysctl_value_t){ 1, 0, { 0 }, "<\"x>" };
    snap.nadvice = tcpi_sysctl_advise(snap.advice, TCPI_MAX_ADVICE, &snap.sysctl,
                                      count, 1);
    snap.nhist = 2;
    snap.hist_step_s = 1;
    snap.hist[1][TCPI_SCOPE_FRONT][TCPI_ST_ESTABLISHED] = 700;
    return 0;
}

static void test_json(void **state)
{
    char *j = render(tcpi_render_json);
    assert_int_equal(tcpi_py_json(j, "d['version']=='" TCPI_VERSION "' and "
                              "d['states']['front']['ESTABLISHED']==700 and "
                              "d['states']['backend']['TIME_WAIT']==5 and "
                              "all(len(d['states'][s])==13 for s in d['states']) and "
                              "d['states']['front']['ports']==[80] and "
                              "d['thresholds'][0]=={'scope':'front','state':'ESTABLISHED',"
                              "'warning':600,'critical':800,'value':700,'level':'warning'} and "
                              "d['level']=='warning' and "
                              "d['capture']['running'] is True and "
                              "d['capture']['interfaces'][0]['name']=='eth\"<0>' and "
                              "d['capture']['interfaces'][0]['error']=='line\\nbreak\\x01' and "
                              "d['history']['series']['front']['ESTABLISHED']==[0,700] and "
                              "d['sysctl']['tcp_fin_timeout']==60 and "
                              "d['sysctl']['ip_local_port_range']==[32768,60999] and "
                              "d['sysctl']['tcp_syncookies']=='<\"x>' and "
                              "d['sysctl']['tcp_tw_recycle'] is None and "
                              "len(d['sysctl'])==15 and "
                              "[a['level'] for a in d['advice'] if a['topic']=='tw_recycle']==['info'] and "
                              "any('fixed 60 s' in a['text'] for a in d['advice'])"), 0);
    free(j);
}

/* status.json's request_log keeps its first names for two of the join's
 * counters (missed, corrupt) next to the join's own object. */
static void test_request_log_names(void **state)
{
    snap.req.log_dropped = 4;
    snap.req.join.records_missed = 5;
    snap.req.join.records_corrupt = 6;
    snap.req.join.joined = 7;
    char *j = render(tcpi_render_json);
    assert_int_equal(tcpi_py_json(j, "d['capture']['request_log']=="
                                  "{'dropped':4,'missed':5,'corrupt':6} and "
                                  "d['capture']['join']['records_missed']==5 and "
                                  "d['capture']['join']['records_corrupt']==6 and "
                                  "d['capture']['join']['joined']==7"), 0);
    free(j);
}

static void test_html_escapes(void **state)
{
    char *h = render(html_fn);
    assert_null(strstr(h, "eth\"<0>"));
    assert_non_null(strstr(h, "eth&quot;&lt;0&gt;"));
    assert_non_null(strstr(h, "&amp;&amp; &quot;x\\y&quot;"));
    assert_non_null(strstr(h, "<td class=\"warning\">700</td>"));
    assert_non_null(strstr(h, "<svg"));
    assert_null(strstr(h, "<script"));
    assert_non_null(strstr(h, "<code>net/ipv4/tcp_fin_timeout</code></td><td class=\"l\">60<"));
    assert_non_null(strstr(h, "&lt;&quot;x&gt;"));
    assert_non_null(strstr(h, "<i>absent</i>"));
    assert_non_null(strstr(h, "removed in Linux 4.12"));
    free(h);
}

static void test_auto_and_metrics(void **state)
{
    snap.have_ring = 1;
    snap.ring.packets = 1234;
    snap.ring.bytes = 56789;
    snap.ring.overwritten = 34;
    snap.ring.data_size = 1000;
    snap.ring.used_bytes = 250;
    snap.iface[0].bytes = 4321;
    char *a = render(tcpi_render_auto);
    assert_non_null(strstr(a, "\nRingPackets: 1234\n"));
    assert_non_null(strstr(a, "\nRingBytes: 56789\n"));
    assert_non_null(strstr(a, "\nRingOverwritten: 34\n"));
    assert_non_null(strstr(a, "\nRingFillPercent: 25\n"));
    assert_non_null(strstr(a, "\nfront.ESTABLISHED: 700\n"));
    assert_non_null(strstr(a, "\nbackend.TIME_WAIT: 5\n"));
    assert_non_null(strstr(a, "threshold.front.ESTABLISHED: warning 700"));
    assert_non_null(strstr(a, "\nsysctl.tcp_fin_timeout: 60\n"));
    assert_non_null(strstr(a, "\nsysctl.ip_local_port_range: 32768 60999\n"));
    assert_non_null(strstr(a, "\nsysctl.tcp_tw_recycle: absent\n"));
    assert_non_null(strstr(a, "\nadvice.tw_recycle: info\n"));
    free(a);
    char *m = render(tcpi_render_metrics);
    assert_non_null(strstr(m, "# TYPE tcpinspect_sockets gauge\n"));
    assert_non_null(strstr(m, "\ntcpinspect_sockets{scope=\"front\",state=\"ESTABLISHED\"} 700\n"));
    assert_non_null(strstr(m, "\ntcpinspect_sysctl{name=\"ip_local_port_range\",index=\"1\"} 60999\n"));
    assert_non_null(strstr(m, "\ntcpinspect_advice_level{topic=\"tw_recycle\"} 1\n"));
    assert_null(strstr(m, "name=\"tcp_syncookies\""));
    assert_non_null(strstr(m, "tcpinspect_interface_received_total{interface=\"eth\\\"<0>\"} 77\n"));
    assert_non_null(strstr(m, "tcpinspect_interface_bytes_total{interface=\"eth\\\"<0>\"} 4321\n"));
    assert_non_null(strstr(m, "\ntcpinspect_ring_packets_total 1234\n"));
    assert_non_null(strstr(m, "\ntcpinspect_ring_bytes_total 56789\n"));
    assert_non_null(strstr(m, "\ntcpinspect_ring_overwritten_total 34\n"));
    assert_non_null(strstr(m, "\ntcpinspect_ring_fill_ratio 0.2500\n"));
    /* Every non-comment line is "name{labels} value" or "name value". */
    for (char *line = strtok(m, "\n"); line; line = strtok(NULL, "\n"))
        if (line[0] != '#')
            assert_non_null(strchr(line, ' '));
    free(m);
    /* Two thresholds on one scope and state: ?auto keys stay unique. */
    {
        static const tcpi_threshold_t th2[] = {
            { TCPI_ST_ESTABLISHED, -1, 600, 800 },
            { TCPI_ST_ESTABLISHED, TCPI_SCOPE_FRONT, 3, 6 },
        };
        tcpi_snapshot_t keep = snap;
        tcpi_snapshot_counts(&snap, (const uint32_t (*)[TCPI_NSTATES])keep.count, th2, 2);
        char *a2 = render(tcpi_render_auto);
        assert_non_null(strstr(a2, "\nthreshold.front.ESTABLISHED: warning 700 (warning 600, critical 800)\n"));
        assert_non_null(strstr(a2, "\nthreshold.front.ESTABLISHED.2: critical 700 (warning 3, critical 6)\n"));
        assert_non_null(strstr(a2, "\nthreshold.backend.ESTABLISHED: ok 0"));
        free(a2);
        snap = keep;
    }
    char *n = render(tcpi_render_nagios);
    assert_string_equal(n, "TCPINSPECT WARNING - front ESTABLISHED=700 (>=600) | "
                        "front_ESTABLISHED=700;600;800 backend_ESTABLISHED=0;600;800\n");
    free(n);
}

/* Counting failed: every renderer says so instead of showing zeros. */
static void test_counts_failed(void **state)
{
    memset(snap.count, 0, sizeof(snap.count));
    snap.counts_ok = 0;
    snap.nresults = 0;
    strcpy(snap.counts_error, "sock_diag: <refused> & \"gone\"");
    snap.nadvice = tcpi_sysctl_advise(snap.advice, TCPI_MAX_ADVICE, &snap.sysctl,
                                      (const uint32_t (*)[TCPI_NSTATES])snap.count, 0);
    char *j = render(tcpi_render_json);
    assert_int_equal(tcpi_py_json(j, "d['counts']['ok'] is False and "
                              "d['counts']['error']=='sock_diag: <refused> & \"gone\"' and "
                              "d['level']=='unknown' and "
                              "[a['topic'] for a in d['advice']][0]=='counts'"), 0);
    free(j);
    char *h = render(html_fn);
    assert_non_null(strstr(h, "Cannot count sockets: sock_diag: &lt;refused&gt; &amp; &quot;gone&quot;"));
    free(h);
    char *n = render(tcpi_render_nagios);
    assert_string_equal(n, "TCPINSPECT UNKNOWN - cannot count sockets: sock_diag: "
                        "<refused> & \"gone\"\n");
    free(n);
    char *m = render(tcpi_render_metrics);
    assert_null(strstr(m, "tcpinspect_sockets{"));
    free(m);
    char *a = render(tcpi_render_auto);
    assert_non_null(strstr(a, "CountsOK: 0\n"));
    assert_non_null(strstr(a, "\nLevel: unknown\n"));
    assert_non_null(strstr(a, "\nadvice.counts: info\n"));
    free(a);
}

static void test_history_downsample(void **state)
{
    size_t size = tcpi_shm_size(1 << 20);
    void *mem = calloc(1, size);
    tcpi_shm_t *shm = tcpi_shm_init(mem, 1 << 20, 1);
    uint32_t c[TCPI_NSCOPES][TCPI_NSTATES] = { { 0 } };

    tcpi_snapshot_history(&snap, shm, 3600);
    assert_int_equal(snap.nhist, 0);
    for (uint32_t k = 0; k < 5000; k++) {      /* wraps the 3600 ring */
        c[TCPI_SCOPE_FRONT][TCPI_ST_TIME_WAIT] = k % 100 == 0 ? 999 : 1;
        tcpi_shm_hist_put(shm, 1000 + k, c);
    }
    tcpi_snapshot_history(&snap, shm, 3600);
    assert_int_equal(snap.hist_step_s, 10);
    assert_int_equal(snap.nhist, 360);
    assert_int_equal(snap.hist_start_s, 1000 + 5000 - 3600);
    /* The peaks survive downsampling (max of each bucket). */
    int peaks = 0;
    for (uint32_t i = 0; i < snap.nhist; i++)
        peaks += snap.hist[i][TCPI_SCOPE_FRONT][TCPI_ST_TIME_WAIT] == 999;
    assert_int_equal(peaks, 36);
    tcpi_snapshot_history(&snap, shm, 60);
    assert_int_equal(snap.hist_step_s, 1);
    assert_int_equal(snap.nhist, 60);
    free(mem);
}

/* The decoder's reason counters from shared memory through the snapshot
 * into status.json (every reason, zeros included), ?auto, Prometheus and
 * the HTML capture-health table. */
static void test_decode_counters(void **state)
{
    size_t size = tcpi_shm_size(1 << 20);
    void *mem = calloc(1, size);
    tcpi_shm_t *shm = tcpi_shm_init(mem, 1 << 20, 1);
    char *out;
    (void)state;

    assert_non_null(shm);
    assert_int_equal(tcpi_shm_add_iface(shm, "lo", TCPI_LEG_BACKEND, "tcp"), 0);
    assert_int_equal(tcpi_shm_add_iface(shm, "veth0", TCPI_LEG_FRONT, "tcp"), 1);
    for (int i = 0; i < 5; i++)
        tcpi_dcount_add(&shm->decode[0], TCPI_DR_ok);
    tcpi_dcount_add(&shm->decode[1], TCPI_DR_ok);
    tcpi_dcount_add(&shm->decode[1], TCPI_DR_tcp_truncated);
    tcpi_dcount_add(&shm->decode[1], TCPI_DR_tcp_truncated);
    memset(&snap, 0, sizeof(snap));
    tcpi_snapshot_capture(&snap, shm);
    assert_int_equal(snap.iface[0].decode[TCPI_DR_ok], 5);
    assert_int_equal(snap.iface[1].decode[TCPI_DR_tcp_truncated], 2);

    out = render(tcpi_render_json);
    char expr[512];
    snprintf(expr, sizeof(expr), "%s%d",
        "d['capture']['decode']['ok']==6 and "
        "d['capture']['decode']['tcp_truncated']==2 and "
        "d['capture']['decode']['not_ip']==0 and "
        "d['capture']['interfaces'][1]['decode']['tcp_truncated']==2 and "
        "d['capture']['interfaces'][0]['decode']['ok']==5 and "
        "len(d['capture']['decode'])==", TCPI_DR_COUNT);
    assert_int_equal(tcpi_py_json(out, expr), 0);
    free(out);

    out = render(tcpi_render_auto);
    assert_non_null(strstr(out, "\ncapture.decode.ok: 6\n"));
    assert_non_null(strstr(out, "\ncapture.decode.tcp_truncated: 2\n"));
    assert_non_null(strstr(out, "\ncapture.decode.tcp_hlen_too_long: 0\n"));
    free(out);

    out = render(tcpi_render_metrics);
    assert_non_null(strstr(out, "# HELP tcpinspect_decode_packets_total "));
    assert_non_null(strstr(out, "# TYPE tcpinspect_decode_packets_total counter\n"));
    assert_non_null(strstr(out, "\ntcpinspect_decode_packets_total{interface="
                                "\"lo\",reason=\"ok\"} 5\n"));
    assert_non_null(strstr(out, "\ntcpinspect_decode_packets_total{interface="
                                "\"veth0\",reason=\"tcp_truncated\"} 2\n"));
    /* every reason of every interface, once */
    int lines = 0;
    for (char *p = out; (p = strstr(p, "\ntcpinspect_decode_packets_total{"));
         p++)
        lines++;
    assert_int_equal(lines, 2 * TCPI_DR_COUNT);
    free(out);

    out = render(html_fn);
    assert_non_null(strstr(out, "<table id=\"decode\">"));
    assert_non_null(strstr(out, "<code>tcp_truncated</code></td><td>0</td>"
                                "<td class=\"warning\">2</td>"));
    free(out);
    free(mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_counters),
        cmocka_unit_test_setup(test_json, setup),
        cmocka_unit_test_setup(test_request_log_names, setup),
        cmocka_unit_test_setup(test_html_escapes, setup),
        cmocka_unit_test_setup(test_auto_and_metrics, setup),
        cmocka_unit_test_setup(test_counts_failed, setup),
        cmocka_unit_test_setup(test_history_downsample, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
