/* Every counter of every family (tcpi_counters.h) in all four formats
 * with the same value: a snapshot with a distinct value per counter is
 * rendered as status.json (read back by python3's json module, an
 * independent parser), ?auto, /metrics and the overview, and each table
 * entry is looked up under its own name in each. A renderer that skips an
 * entry, or a format that lacks a name, fails here. */
#include "tcpi_test.h"
#include "render/tcpi_counters.h"
#include "render/tcpi_report.h"

static tcpi_snapshot_t snap;
static char *json, *autotxt, *prom, *html, *reqjson;
static char *flat;                 /* status.json as "path\tvalue" lines */
static char *reqflat;              /* requests.json the same way */
static int failures;

#define FAIL(...)                                                           \
    do {                                                                    \
        fprintf(stderr, "  counters: " __VA_ARGS__);                        \
        fprintf(stderr, "\n");                                              \
        failures++;                                                         \
    } while (0)

/* The one format that may lack a counter: /metrics has the event checks
 * as agreed + disagreed with a result label, not a third series. */
static int exempt(const tcpi_counter_family_t *f, const tcpi_counter_t *c,
                  const char *format)
{
    return !strcmp(format, "metrics") && !strcmp(f->name, "events") &&
           !strcmp(c->json, "checks");
}

static uint64_t next_value(void)
{
    static uint64_t n = 1000;
    return n += 17;                    /* distinct, and never a boolean */
}

/* A distinct value in every counter of the snapshot (booleans mixed). */
static void fill(tcpi_snapshot_t *s)
{
    memset(s, 0, sizeof(*s));
    s->now_wall_ns = 1700000000000000000ull;
    s->generation = 7;
    s->engine = 1;
    s->running = 1;
    s->pid = 4242;
    s->uptime_s = next_value();
    s->heartbeat_age_ms = next_value();
    s->restarts = (uint32_t)next_value();
    s->startup_failures = (uint32_t)next_value();
    s->sample_errors = next_value();
    s->niface = 2;
    strcpy(s->iface[0].name, "eth0");
    strcpy(s->iface[1].name, "lo");
    for (uint32_t i = 0; i < s->niface; i++) {
        tcpi_snap_iface_t *f = &s->iface[i];
        f->received = next_value();
        f->dropped = next_value();
        f->if_dropped = next_value();
        f->packets = next_value();
        f->bytes = next_value();
        for (int k = 0; k < TCPI_DR_COUNT; k++)
            f->decode[k] = next_value();
    }
    s->have_ring = 1;
    s->ring.data_size = 64000000;
    s->ring.ndesc = 65536;
    s->ring.packets = 900001;
    s->ring.bytes = 7000001;
    s->ring.overwritten = 100003;
    s->ring.used_bytes = 31000007;
    s->ring.oldest_ts_ns = s->now_wall_ns - 4321000000ull;   /* 4321 ms */
    strcpy(s->trigger.dir, "/var/cache/tcpinspect");
    s->trigger.error = 1;
    strcpy(s->trigger.last_error, "No space left on device");
    s->trigger.last_error_ns = s->now_wall_ns - 31337000000000ull;
    s->trigger.max_files = next_value();
    s->trigger.max_bytes = next_value();
    s->trigger.files = next_value();
    s->trigger.bytes = next_value();
    s->trigger.matched = next_value();
    s->trigger.written = next_value();
    s->trigger.failed = next_value();
    s->trigger.skipped = next_value();
    s->trigger.removed = next_value();
    s->trigger.records_missed = next_value();
    s->trigger.scanned = next_value();
    s->json_log.kind = 2;                       /* a pipe */
    s->json_log.written = next_value();
    s->json_log.delayed = next_value();
    s->json_log.dropped = next_value();
    s->json_log.write_errors = next_value();
    s->json_log.pending_bytes = next_value();
    s->hs.kept = 1;
    s->hs.connections = next_value();
    s->hs.complete = next_value();
    s->hs.cut = next_value();
    s->hs.packets = next_value();
    s->hs.missed = next_value();
    s->hs.ring.data_size = next_value();
    s->hs.ring.overwritten = next_value();
    s->counts_ok = 1;
    s->counts_took_us = next_value();
    s->ev.loaded = 1;
    s->ev.used = 0;
    s->ev.drift = 1;
    s->ev.changes = next_value();
    s->ev.seeded = next_value();
    s->ev.lost = next_value();
    s->ev.raced = next_value();
    s->ev.agreed = next_value();
    s->ev.disagreed = next_value();
    s->ev.checks = s->ev.agreed + s->ev.disagreed;
    s->req.have_join = 1;
    s->req.log_dropped = next_value();
    /* every field of the join's counters, new ones included */
    uint64_t *j = (uint64_t *)&s->req.join;
    for (size_t k = 0; k < sizeof(s->req.join) / sizeof(uint64_t); k++)
        j[k] = next_value();
}

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

/* A JSON document as "a.b.0.c\t<value as JSON>" lines, by python3. */
static char *flatten(const char *doc)
{
    char path[] = "/tmp/tcpi-ctr-XXXXXX", cmd[512];
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    tcpi_membuf_t m = { 0 };
    char buf[4096];
    size_t n;

    assert_non_null(f);
    fputs(doc, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "python3 -c '"
             "import json,sys\n"
             "def walk(d, p):\n"
             "  if isinstance(d, dict): [walk(v, p + [k]) for k, v in d.items()]\n"
             "  elif isinstance(d, list): [walk(v, p + [str(i)]) for i, v in enumerate(d)]\n"
             "  else: print(\".\".join(p) + \"\\t\" + json.dumps(d))\n"
             "walk(json.load(open(sys.argv[1])), [])' %s", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        tcpi_membuf_sink(&m, buf, n);
    assert_int_equal(pclose(p), 0);
    unlink(path);
    assert_non_null(m.data);
    return m.data;
}

/* The value at path in a flattened document, or NULL. */
static const char *flat_get(char *out, size_t len, const char *fl,
                            const char *path)
{
    size_t pl = strlen(path);

    for (const char *l = fl; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, path, pl) && l[pl] == '\t') {
            size_t vl = strcspn(l + pl + 1, "\n");
            snprintf(out, len, "%.*s", (int)vl, l + pl + 1);
            return out;
        }
    return NULL;
}

/* tmpl with '*' replaced by sub. */
static void subst(char *out, size_t len, const char *tmpl, const char *sub)
{
    const char *star = strchr(tmpl, '*');

    if (star == NULL)
        snprintf(out, len, "%s", tmpl);
    else
        snprintf(out, len, "%.*s%s%s", (int)(star - tmpl), tmpl, sub, star + 1);
}

/* The cells of one <tr>, tags stripped. */
static int html_row(char cells[][128], int max, const char *r, const char *end)
{
    int n = 0;

    while (n < max) {
        const char *td = strstr(r, "<td"), *th = strstr(r, "<th");
        const char *c = td && (!th || td < th) ? td : th;
        if (c == NULL || c >= end)
            break;
        c = strchr(c, '>') + 1;
        const char *ce = strstr(c, "</t");
        size_t k = 0;
        for (int in = 0; c < ce; c++) {
            if (*c == '<')
                in = 1;
            else if (*c == '>')
                in = 0;
            else if (!in && k + 1 < sizeof(cells[0]))
                cells[n][k++] = *c;
        }
        cells[n++][k] = '\0';
        r = ce + 3;
    }
    return n;
}

/* The cell of table `id` in the row whose first cell reads row and the
 * column whose header reads col; 0, or -1 when there is none. */
static int html_cell(char *out, size_t len, const char *h, const char *id,
                     const char *row, const char *col)
{
    char key[64], cells[48][128];
    int ci = -1;

    snprintf(key, sizeof(key), "<table id=\"%s\"", id);
    const char *t = strstr(h, key);
    if (t == NULL) {
        snprintf(key, sizeof(key), "id=\"%s\"", id);
        t = strstr(h, key);
    }
    if (t == NULL)
        return -1;
    const char *end = strstr(t, "</table>");
    for (const char *r = strstr(t, "<tr"); r && r < end; r = strstr(r + 3, "<tr")) {
        const char *re = strstr(r, "</tr>");
        int n = html_row(cells, 48, r, re);
        if (ci < 0) {
            for (int i = 0; i < n; i++)
                if (!strcmp(cells[i], col))
                    ci = i;
            if (ci < 0)
                return -1;
        } else if (n > ci && !strcmp(cells[0], row)) {
            snprintf(out, len, "%s", cells[ci]);
            return 0;
        }
    }
    return -1;
}

/* The value as each format writes it. */
static void as_json(char *b, size_t n, const tcpi_counter_t *c, uint64_t v)
{
    if (c->type == TCPI_CT_BOOL)
        snprintf(b, n, "%s", v ? "true" : "false");
    else
        snprintf(b, n, "%llu", (unsigned long long)v);
}

static void as_auto(char *b, size_t n, const tcpi_counter_t *c, uint64_t v)
{
    snprintf(b, n, "%llu", (unsigned long long)(c->type == TCPI_CT_BOOL
                                                ? v != 0 : v));
}

static void as_prom(char *b, size_t n, const tcpi_counter_t *c, uint64_t v)
{
    if (c->type == TCPI_CT_BOOL)
        v = v != 0;
    if (c->div == 1000)
        snprintf(b, n, "%.3f", (double)v / 1e3);
    else if (c->div == 1000000)
        snprintf(b, n, "%.6f", (double)v / 1e6);
    else
        snprintf(b, n, "%llu", (unsigned long long)v);
}

static void as_html(char *b, size_t n, const tcpi_counter_t *c, uint64_t v)
{
    if (c->type == TCPI_CT_BOOL)
        snprintf(b, n, "%s", v ? "yes" : "no");
    else
        snprintf(b, n, "%llu", (unsigned long long)v);
}

/* The metric's sample line: name{interface="x",own labels} value. */
static void prom_line(char *b, size_t n, const tcpi_counter_t *c,
                      const char *ifname, const char *value)
{
    size_t blen = strcspn(c->prom, "{");
    const char *labels = c->prom + blen;

    if (ifname == NULL)
        snprintf(b, n, "\n%s %s\n", c->prom, value);
    else if (labels[0])
        snprintf(b, n, "\n%.*s{interface=\"%s\",%s %s\n", (int)blen, c->prom,
                 ifname, labels + 1, value);
    else
        snprintf(b, n, "\n%s{interface=\"%s\"} %s\n", c->prom, ifname, value);
}

/* One entry of one family for one source, in all four formats. */
static void check_entry(const tcpi_counter_family_t *f, const tcpi_counter_t *c,
                        uint64_t v, int iface)
{
    char want[64], got[256], path[256], line[512];
    const char *ifname = iface >= 0 ? snap.iface[iface].name : NULL;
    char idx[16];

    snprintf(idx, sizeof(idx), "%d", iface);
    /* status.json */
    if (c->json == NULL) {
        FAIL("%s: an entry without a status.json key", f->name);
    } else {
        char obj[128];
        subst(obj, sizeof(obj), f->json, idx);
        snprintf(path, sizeof(path), "%s.%s", obj, c->json);
        as_json(want, sizeof(want), c, v);
        if (flat_get(got, sizeof(got), flat, path) == NULL)
            FAIL("status.json lacks %s", path);
        else if (strcmp(got, want))
            FAIL("status.json %s is %s, not %s", path, got, want);
    }
    /* ?auto */
    if (c->autok == NULL) {
        FAIL("%s.%s: no ?auto key", f->name, c->json);
    } else {
        char pre[128];
        subst(pre, sizeof(pre), f->autop, ifname ? ifname : "");
        as_auto(want, sizeof(want), c, v);
        snprintf(line, sizeof(line), "\n%s%s: %s\n", pre, c->autok, want);
        if (strstr(autotxt, line) == NULL)
            FAIL("?auto lacks the line %s%s: %s", pre, c->autok, want);
    }
    /* /metrics */
    if (c->prom == NULL) {
        if (!exempt(f, c, "metrics"))
            FAIL("%s.%s: no metric", f->name, c->json);
    } else {
        size_t blen = strcspn(c->prom, "{");
        as_prom(want, sizeof(want), c, v);
        prom_line(line, sizeof(line), c, ifname, want);
        if (strstr(prom, line) == NULL)
            FAIL("metrics lack the sample %.*s", (int)strlen(line) - 2,
                 line + 1);
        snprintf(line, sizeof(line), "\n# TYPE %.*s %s\n", (int)blen, c->prom,
                 c->type == TCPI_CT_GAUGE || c->type == TCPI_CT_BOOL
                 ? "gauge" : "counter");
        if (strstr(prom, line) == NULL)
            FAIL("metrics lack %.*s", (int)strlen(line) - 2, line + 1);
        snprintf(line, sizeof(line), "\n# HELP %.*s ", (int)blen, c->prom);
        if (strstr(prom, line) == NULL)
            FAIL("metrics lack the HELP of %.*s", (int)blen, c->prom);
    }
    /* the overview */
    if (c->label == NULL) {
        FAIL("%s.%s: no label on the page", f->name, c->json);
    } else {
        char id[64];
        int rc;
        as_html(want, sizeof(want), c, v);
        if (f == &tcpi_ctr_iface) {
            rc = html_cell(got, sizeof(got), html, "interfaces", ifname, c->label);
        } else if (f == &tcpi_ctr_decode) {
            rc = html_cell(got, sizeof(got), html, "decode", c->label, ifname);
        } else {
            snprintf(id, sizeof(id), "ctr-%s", f->name);
            rc = html_cell(got, sizeof(got), html, id, c->label, "value");
        }
        if (rc != 0)
            FAIL("the page lacks %s \"%s\"%s%s", f->name, c->label,
                 ifname ? " of " : "", ifname ? ifname : "");
        else if (strcmp(got, want))
            FAIL("the page shows %s \"%s\" as %s, not %s", f->name, c->label,
                 got, want);
    }
}

/* Every value of every family, for the distinctness check. */
static struct { uint64_t v; const char *fam, *key; int iface; } seen[1024];
static size_t nseen;

static void check_family(const tcpi_counter_family_t *f, const void *src,
                         int iface)
{
    uint64_t v[TCPI_CTR_MAX];

    assert_true(f->n <= TCPI_CTR_MAX);
    f->values(v, src);
    for (size_t k = 0; k < f->n; k++) {
        check_entry(f, &f->c[k], v[k], iface);
        if (f->c[k].type != TCPI_CT_BOOL && v[k] == 0)
            FAIL("%s.%s is 0: its value reads a field fill() leaves alone",
                 f->name, f->c[k].json);
        if (f->c[k].type != TCPI_CT_BOOL && nseen < TCPI_ARRAY_LEN(seen)) {
            seen[nseen].v = v[k];
            seen[nseen].fam = f->name;
            seen[nseen].key = f->c[k].json;
            seen[nseen++].iface = iface;
        }
    }
}

static int setup(void **state)
{
    fill(&snap);
    json = render(tcpi_render_json);
    autotxt = render(tcpi_render_auto);
    prom = render(tcpi_render_metrics);
    html = render(html_fn);
    /* lookups of "\n<line>\n" find the first line too */
    char *a = malloc(strlen(autotxt) + 2), *p = malloc(strlen(prom) + 2);
    sprintf(a, "\n%s", autotxt);
    sprintf(p, "\n%s", prom);
    free(autotxt);
    free(prom);
    autotxt = a;
    prom = p;
    flat = flatten(json);
    {
        static tcpi_out_t o;
        tcpi_membuf_t m = { 0 };
        tcpi_out_init(&o, tcpi_membuf_sink, &m);
        tcpi_render_requests_json(&o, NULL, NULL, 0, NULL, &snap.req);
        assert_int_equal(tcpi_out_flush(&o), 0);
        reqjson = m.data;
        reqflat = flatten(reqjson);
    }
    failures = 0;
    nseen = 0;
    return 0;
}

static int teardown(void **state)
{
    free(json);
    free(autotxt);
    free(prom);
    free(html);
    free(reqjson);
    free(flat);
    free(reqflat);
    return 0;
}

static void test_every_counter_everywhere(void **state)
{
    int nfam = 0;
    size_t nentries = 0;

    for (const tcpi_counter_family_t *const *fp = tcpi_counter_families;
         *fp; fp++, nfam++) {
        const tcpi_counter_family_t *f = *fp;
        nentries += f->n;
        if (f->src == TCPI_CTR_SRC_IFACE)
            for (uint32_t i = 0; i < snap.niface; i++)
                check_family(f, &snap.iface[i], (int)i);
        else
            check_family(f, f->src == TCPI_CTR_SRC_REQ ? (const void *)&snap.req
                                                       : (const void *)&snap, -1);
    }
    fprintf(stderr, "  counters: %d families, %zu entries\n", nfam, nentries);
    assert_true(nfam >= 9);
    /* A value that two counters share could hide a renderer that writes
     * one counter's value under the other's name. */
    for (size_t a = 0; a < nseen; a++)
        for (size_t b = a + 1; b < nseen; b++)
            if (seen[a].v == seen[b].v)
                FAIL("%s.%s (%d) and %s.%s (%d) both hold %llu: fill them "
                     "apart in this test", seen[a].fam, seen[a].key,
                     seen[a].iface, seen[b].fam, seen[b].key, seen[b].iface,
                     (unsigned long long)seen[a].v);
    assert_int_equal(failures, 0);
}

/* The decoder's sums: status.json capture.decode and ?auto capture.decode. */
static void test_decode_sums(void **state)
{
    char got[64], want[64], path[128], line[256];

    for (int k = 0; k < TCPI_DR_COUNT; k++) {
        uint64_t sum = 0;
        for (uint32_t i = 0; i < snap.niface; i++)
            sum += snap.iface[i].decode[k];
        snprintf(want, sizeof(want), "%llu", (unsigned long long)sum);
        snprintf(path, sizeof(path), "capture.decode.%s",
                 tcpi_decode_reason_name(k));
        if (flat_get(got, sizeof(got), flat, path) == NULL || strcmp(got, want))
            FAIL("status.json %s is not %s", path, want);
        snprintf(line, sizeof(line), "\n%s: %s\n", path, want);
        if (strstr(autotxt, line) == NULL)
            FAIL("?auto lacks %s: %s", path, want);
    }
    assert_int_equal(failures, 0);
}

/* requests.json: the request log's counters at the top, the join's under
 * "join", from the same tables. */
static void test_requests_json(void **state)
{
    const tcpi_counter_family_t *fams[] = { &tcpi_ctr_reqlog, &tcpi_ctr_join };
    char got[64], want[64], path[128];

    for (size_t i = 0; i < TCPI_ARRAY_LEN(fams); i++) {
        uint64_t v[TCPI_CTR_MAX];
        fams[i]->values(v, &snap.req);
        for (size_t k = 0; k < fams[i]->n; k++) {
            snprintf(path, sizeof(path), "%s%s", fams[i] == &tcpi_ctr_join
                     ? "join." : "", fams[i]->c[k].json);
            as_json(want, sizeof(want), &fams[i]->c[k], v[k]);
            if (flat_get(got, sizeof(got), reqflat, path) == NULL ||
                strcmp(got, want))
                FAIL("requests.json %s is not %s", path, want);
        }
    }
    assert_int_equal(failures, 0);
}

/* Names: ?auto keys unique, every line "Key: value"; one HELP and TYPE
 * per metric, before its samples, which follow each other; JSON keys and
 * labels unique within a family. */
static void test_names(void **state)
{
    char *a = strdup(autotxt + 1), *save = NULL;
    char keys[512][96];
    int nk = 0;

    for (char *l = strtok_r(a, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *colon = strstr(l, ": ");
        if (colon == NULL || colon == l || strchr(l, ' ') < colon) {
            FAIL("?auto line \"%s\" is not \"Key: value\"", l);
            continue;
        }
        *colon = '\0';
        for (int i = 0; i < nk; i++)
            if (!strcmp(keys[i], l))
                FAIL("?auto key %s twice", l);
        if (nk < 512)
            snprintf(keys[nk++], sizeof(keys[0]), "%s", l);
    }
    free(a);

    char *m = strdup(prom + 1), help[160][96], cur[96] = "";
    int nh = 0;
    save = NULL;
    for (char *l = strtok_r(m, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char name[96];
        if (!strncmp(l, "# HELP ", 7)) {
            sscanf(l + 7, "%95s", name);
            for (int i = 0; i < nh; i++)
                if (!strcmp(help[i], name))
                    FAIL("metric %s has a second HELP: its samples are apart",
                         name);
            if (nh < 160)
                snprintf(help[nh++], sizeof(help[0]), "%s", name);
            snprintf(cur, sizeof(cur), "%s", name);
            continue;
        }
        if (l[0] == '#')
            continue;
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(l, "{ "), l);
        if (strncmp(name, cur, strlen(cur)) != 0)
            FAIL("sample %s is not under its HELP (%s)", l, cur);
    }
    free(m);

    for (const tcpi_counter_family_t *const *fp = tcpi_counter_families;
         *fp; fp++)
        for (size_t x = 0; x < (*fp)->n; x++)
            for (size_t y = x + 1; y < (*fp)->n; y++) {
                if (!strcmp((*fp)->c[x].json, (*fp)->c[y].json))
                    FAIL("%s: JSON key %s twice", (*fp)->name, (*fp)->c[x].json);
                if (!strcmp((*fp)->c[x].label, (*fp)->c[y].label))
                    FAIL("%s: label %s twice", (*fp)->name, (*fp)->c[x].label);
            }
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_counter_everywhere, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_decode_sums, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requests_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
