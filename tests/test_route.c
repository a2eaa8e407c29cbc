/* Unit tests for the route table (tcpi_route.h): finding a route (id
 * routes included), every parameter of every route read against its type
 * (ranges, defaults, bad values), unknown and repeated names, the queries
 * the t/ suites send, and README.md's "Pages" table against the table. */
#include "tcpi_test.h"
#include "render/tcpi_route.h"
#include "render/tcpi_bpfcheck.h"
#include "render/tcpi_query.h"
#include "render/tcpi_flowview.h"
#include "tcpi/store.h"

#include <apr_general.h>
#include <apr_strings.h>
#include <ctype.h>

static apr_pool_t *pool;

static int setup(void **state)
{
    apr_initialize();
    return apr_pool_create(&pool, NULL) == APR_SUCCESS ? 0 : -1;
}

static int teardown(void **state)
{
    apr_pool_destroy(pool);
    apr_terminate();
    return 0;
}

static const tcpi_route_t *route(const char *path)
{
    size_t n;
    const tcpi_route_t *t = tcpi_route_table(&n);

    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].path, path) == 0)
            return &t[i];
    fail_msg("no route %s", path);
    return NULL;
}

static int has_id(const tcpi_route_t *rt)
{
    return strstr(rt->path, "<id>") != NULL;
}

/* A query string read as the glue reads it (pages.c query_pairs): split
 * at '&' and the first '=', '+' is a space, %XX decoded. */
static size_t split_query(tcpi_route_kv_t *kv, size_t max, const char *q)
{
    char *s = apr_pstrdup(pool, q), *tok, *st;
    size_t n = 0;

    for (char *c = s; *c; c++)
        if (*c == '+')
            *c = ' ';
    for (tok = apr_strtok(s, "&", &st); tok && n < max;
         tok = apr_strtok(NULL, "&", &st)) {
        char *v = strchr(tok, '=');
        if (v)
            *v++ = '\0';
        for (char **p = (char *[]){ tok, v }, **e = p + 2; p < e; p++) {
            char *r = *p, *w = *p;
            if (r == NULL)
                continue;
            for (; *r; r++, w++) {
                if (r[0] == '%' && isxdigit((unsigned char)r[1]) &&
                    isxdigit((unsigned char)r[2])) {
                    char hex[3] = { r[1], r[2], 0 };
                    *w = (char)strtol(hex, NULL, 16);
                    r += 2;
                } else {
                    *w = *r;
                }
            }
            *w = '\0';
        }
        kv[n].key = tok;
        kv[n].val = v;
        n++;
    }
    return n;
}

/* NULL or the 400 message for path?query; a is filled. */
static const char *parse(tcpi_route_args_t *a, const char *path,
                         const char *query)
{
    tcpi_route_kv_t kv[32];
    size_t n = split_query(kv, 32, query);

    return tcpi_route_parse(a, route(path), kv, n, pool);
}

static const char *parse1(tcpi_route_args_t *a, const tcpi_route_t *rt,
                          const char *key, const char *val)
{
    tcpi_route_kv_t kv = { key, val };
    return tcpi_route_parse(a, rt, &kv, 1, pool);
}

/* ---- the table's shape ----------------------------------------------- */

static int one_bit(unsigned v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

static void test_table(void **state)
{
    size_t n;
    const tcpi_route_t *t = tcpi_route_table(&n);
    int type_of[TCPI_ARG_COUNT], pages[TCPI_PAGE_COUNT] = { 0 };

    for (int i = 0; i < TCPI_ARG_COUNT; i++) {
        assert_non_null(tcpi_route_arg_name((tcpi_arg_t)i));
        type_of[i] = -1;
    }
    assert_null(tcpi_route_arg_name(TCPI_ARG_COUNT));
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        const tcpi_route_t *rt = &t[i];
        unsigned seen = 0, fmts = tcpi_route_formats(rt);

        assert_true(rt->path[0] == '/');
        assert_true(rt->page < TCPI_PAGE_COUNT);
        pages[rt->page]++;
        assert_true(one_bit(rt->fmt));
        assert_non_null(tcpi_route_fmt_name(rt->fmt));
        assert_true(rt->what != NULL && rt->what[0] != '\0');
        /* the raw bytes go only where downloads are allowed */
        assert_int_equal(!!(rt->flags & TCPI_ROUTE_DOWNLOAD),
                         !!(fmts & (TCPI_FMT_PCAP | TCPI_FMT_PCAPNG)));
        for (size_t k = 0; k < rt->nparams; k++) {
            const tcpi_route_param_t *pr = &rt->params[k];
            assert_true(pr->arg < TCPI_ARG_COUNT);
            assert_false(seen & (1u << pr->arg));          /* once a route */
            seen |= 1u << pr->arg;
            /* one name, one type, so one meaning of its value */
            if (type_of[pr->arg] < 0)
                type_of[pr->arg] = (int)pr->type;
            assert_int_equal(type_of[pr->arg], pr->type);
            assert_ptr_equal(tcpi_route_param(rt, tcpi_route_arg_name(pr->arg)), pr);
            assert_true(pr->min <= pr->max || pr->type == TCPI_PT_FLAG ||
                        pr->type == TCPI_PT_ENUM);
            if (pr->has_def) {
                assert_int_equal(pr->type, TCPI_PT_UINT);
                assert_true(pr->def >= pr->min && pr->def <= pr->max);
            }
            assert_int_equal(pr->lookup != NULL, pr->type == TCPI_PT_ENUM);
            if (pr->selects) {
                assert_int_equal(pr->type, TCPI_PT_FLAG);
                assert_true(one_bit(pr->selects));
                assert_true(pr->selects != rt->fmt);
            }
        }
        /* a page with a ring scan has a budget, and only those */
        if (rt->page == TCPI_PAGE_PACKETS) {
            assert_int_equal(rt->budget_packets, TCPI_QUERY_BUDGET_PACKETS);
            assert_int_equal(rt->budget_ms, TCPI_QUERY_BUDGET_MS);
        } else if (rt->page == TCPI_PAGE_CAPTURE) {
            assert_int_equal(rt->budget_packets, 0);   /* the whole ring */
            assert_int_equal(rt->budget_ms, 8 * TCPI_QUERY_BUDGET_MS);
        } else {
            assert_int_equal(rt->budget_packets, 0);
            assert_int_equal(rt->budget_ms, 0);
        }
        /* a path is declared once */
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(t[j].path, rt->path);
    }
    for (int p = 0; p < TCPI_PAGE_COUNT; p++)
        assert_true(pages[p] > 0);
}

static void test_formats(void **state)
{
    assert_string_equal(tcpi_route_fmt_ctype(TCPI_FMT_HTML), "text/html; charset=utf-8");
    assert_string_equal(tcpi_route_fmt_ctype(TCPI_FMT_JSON), "application/json");
    assert_string_equal(tcpi_route_fmt_ctype(TCPI_FMT_TEXT), "text/plain; charset=utf-8");
    assert_string_equal(tcpi_route_fmt_ctype(TCPI_FMT_AUTO), "text/plain; charset=utf-8");
    assert_string_equal(tcpi_route_fmt_ctype(TCPI_FMT_NAGIOS), "text/plain; charset=utf-8");
    assert_string_equal(tcpi_route_fmt_ctype(TCPI_FMT_PROMETHEUS),
                        "text/plain; version=0.0.4; charset=utf-8");
    assert_string_equal(tcpi_route_fmt_ctype(TCPI_FMT_PCAP), "application/vnd.tcpdump.pcap");
    assert_string_equal(tcpi_route_fmt_ctype(TCPI_FMT_PCAPNG), "application/x-pcapng");
    assert_null(tcpi_route_fmt_name(TCPI_FMT_HTML | TCPI_FMT_JSON));
    assert_int_equal(tcpi_route_formats(route("/")),
                     TCPI_FMT_HTML | TCPI_FMT_AUTO | TCPI_FMT_NAGIOS);
    assert_int_equal(tcpi_route_formats(route("/metrics")), TCPI_FMT_PROMETHEUS);
}

/* ---- finding a route ------------------------------------------------- */

static int find(const tcpi_route_t **rt, const char **id, const char **err,
                const char *sub)
{
    return tcpi_route_find(rt, id, err, sub, pool);
}

static void test_find(void **state)
{
    size_t n;
    const tcpi_route_t *t = tcpi_route_table(&n), *rt;
    const char *id, *err;

    /* every route is found at its own path: none shadows another */
    for (size_t i = 0; i < n; i++) {
        const char *sub = t[i].path;
        if (has_id(&t[i])) {
            const char *m = strstr(sub, "<id>");
            sub = apr_pstrcat(pool, apr_pstrmemdup(pool, sub, (size_t)(m - sub)),
                              "Ab3_-@x", m + 4, NULL);
        }
        assert_int_equal(find(&rt, &id, &err, sub), TCPI_ROUTE_FOUND);
        assert_ptr_equal(rt, &t[i]);
        if (has_id(&t[i]))
            assert_string_equal(id, "Ab3_-@x");
        else
            assert_null(id);
    }
    /* id routes are tried in order: a suffix that ends another (as ""
     * ends ".json") comes after it, else the longer one is never reached */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            const char *a = strstr(t[i].path, "<id>"), *b = strstr(t[j].path, "<id>");
            if (!a || !b || a - t[i].path != b - t[j].path ||
                strncmp(t[i].path, t[j].path, (size_t)(a - t[i].path)) != 0)
                continue;
            size_t la = strlen(a + 4), lb = strlen(b + 4);
            assert_false(lb > la && strcmp(b + 4 + lb - la, a + 4) == 0);
        }

    assert_int_equal(find(&rt, &id, &err, "/requests/awaT4Cgq7O9r5wqQEYXEQgAAAIA.json"),
                     TCPI_ROUTE_FOUND);
    assert_string_equal(rt->path, "/requests/<id>.json");
    assert_int_equal(rt->fmt, TCPI_FMT_JSON);
    assert_string_equal(id, "awaT4Cgq7O9r5wqQEYXEQgAAAIA");
    assert_int_equal(find(&rt, &id, &err, "/requests/r-1.pcapng"), TCPI_ROUTE_FOUND);
    assert_int_equal(rt->page, TCPI_PAGE_REQUEST_PCAPNG);
    assert_true(rt->flags & TCPI_ROUTE_DOWNLOAD);
    assert_int_equal(find(&rt, &id, &err, "/requests/no-such-id-0"), TCPI_ROUTE_FOUND);
    assert_int_equal(rt->page, TCPI_PAGE_REQUEST);
    assert_int_equal(find(&rt, &id, &err, "/requests"), TCPI_ROUTE_FOUND);
    assert_int_equal(rt->page, TCPI_PAGE_REQUESTS);
    assert_int_equal(find(&rt, &id, &err, "/"), TCPI_ROUTE_FOUND);
    assert_int_equal(rt->page, TCPI_PAGE_OVERVIEW);

    /* not found: 404 */
    static const char *const none[] = {
        "/nope", "/status.json/", "/STATUS.JSON", "/metrics.json", "//",
        "/requests/", "/requests/.json", "/requests/.pcapng", "/requests/x/y",
        "/requests/x/y.json", "/requests/../../etc/passwd.pcapng", "/requests.",
        "/packets/", "/capture", "",
    };
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        assert_int_equal(find(&rt, &id, &err, none[i]), TCPI_ROUTE_NOT_FOUND);
        assert_null(rt);
    }
    /* malformed: 400 */
    char big[TCPI_REQ_ID_MAX + 16] = "/requests/";
    memset(big + 10, 'a', TCPI_REQ_ID_MAX);
    big[10 + TCPI_REQ_ID_MAX] = '\0';
    static const char *const bad[] = {
        "/requests/bad<id>", "/requests/a.b", "/requests/a.json.json",
        "/requests/a b", "/requests/a%2e", "/requests/\xff.pcapng",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) + 1; i++) {
        const char *sub = i < sizeof(bad) / sizeof(bad[0]) ? bad[i] : big;
        assert_int_equal(find(&rt, &id, &err, sub), TCPI_ROUTE_BAD_ID);
        assert_string_equal(err, "malformed request id");
        assert_null(rt);
    }
    big[10 + TCPI_REQ_ID_MAX - 1] = '\0';                   /* the longest */
    assert_int_equal(find(&rt, &id, &err, big), TCPI_ROUTE_FOUND);
}

/* ---- every parameter of every route ---------------------------------- */

static const char *default_msg(const tcpi_route_param_t *pr)
{
    const char *n = tcpi_route_arg_name(pr->arg);

    if (pr->msg)
        return pr->msg;
    switch (pr->type) {
    case TCPI_PT_UINT:
        return apr_psprintf(pool, "%s must be %" APR_UINT64_T_FMT "-%" APR_UINT64_T_FMT, n,
                            (uint64_t)pr->min, (uint64_t)pr->max);
    case TCPI_PT_PKTNO:
        return apr_psprintf(pool, "%s must be a packet number", n);
    case TCPI_PT_BIT:
        return apr_psprintf(pool, "%s must be 0 or 1", n);
    case TCPI_PT_STR:
        return pr->min ? apr_psprintf(pool, "%s must be %" APR_UINT64_T_FMT "-%" APR_UINT64_T_FMT " bytes", n,
                                      (uint64_t)pr->min,
                                      (uint64_t)pr->max)
                       : apr_psprintf(pool, "%s must be at most %" APR_UINT64_T_FMT " bytes", n,
                                      (uint64_t)pr->max);
    case TCPI_PT_IFACE:
        return apr_psprintf(pool, "%s must be an interface name of 1-15 characters", n);
    default:
        return NULL;
    }
}

static void refused(const tcpi_route_t *rt, const tcpi_route_param_t *pr,
                    const char *val, const char *want)
{
    tcpi_route_args_t a;
    const char *err = parse1(&a, rt, tcpi_route_arg_name(pr->arg), val);

    if (err == NULL)
        fail_msg("%s?%s=%s accepted", rt->path, tcpi_route_arg_name(pr->arg), val);
    if (want && strcmp(err, want) != 0)
        fail_msg("%s?%s=%s: \"%s\", not \"%s\"", rt->path,
                 tcpi_route_arg_name(pr->arg), val, err, want);
}

static const tcpi_route_val_t *accepted(tcpi_route_args_t *a,
                                        const tcpi_route_t *rt,
                                        const tcpi_route_param_t *pr,
                                        const char *val)
{
    const char *err = parse1(a, rt, tcpi_route_arg_name(pr->arg), val);

    if (err != NULL)
        fail_msg("%s?%s=%s refused: %s", rt->path, tcpi_route_arg_name(pr->arg),
                 val ? val : "(bare)", err);
    assert_non_null(a->v[pr->arg].raw);
    return &a->v[pr->arg];
}

static char *digits(uint64_t v)
{
    return apr_psprintf(pool, "%" APR_UINT64_T_FMT, (uint64_t)v);
}

static char *bytes(size_t n, char c)
{
    char *s = apr_palloc(pool, n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void check_param(const tcpi_route_t *rt, const tcpi_route_param_t *pr)
{
    tcpi_route_args_t a;
    const tcpi_route_val_t *v;
    const char *msg = default_msg(pr);

    switch (pr->type) {
    case TCPI_PT_UINT:
        assert_int_equal(accepted(&a, rt, pr, digits(pr->min))->u, pr->min);
        assert_int_equal(accepted(&a, rt, pr, digits(pr->max))->u, pr->max);
        if (pr->max > pr->min + 1)
            assert_int_equal(accepted(&a, rt, pr, digits(pr->min + 1))->u,
                             pr->min + 1);
        if (pr->min > 0)
            refused(rt, pr, digits(pr->min - 1), msg);
        refused(rt, pr, digits(pr->max + 1), msg);
        for (const char *const *b = (const char *const[]){
                 "", "abc", "-1", "+1", " 1", "1 ", "0x10", "1.5", "1e3", "8o",
                 "99999999999999999999999", "<b>x</b>", NULL }; *b; b++)
            refused(rt, pr, *b, msg);
        break;
    case TCPI_PT_PKTNO:
        assert_int_equal(accepted(&a, rt, pr, "0")->u, 0);
        assert_int_equal(accepted(&a, rt, pr, "12345")->u, 12345);
        assert_int_equal(accepted(&a, rt, pr, digits(TCPI_PKTNO_MAX))->u, TCPI_PKTNO_MAX);
        refused(rt, pr, digits(TCPI_PKTNO_MAX + 1), msg);
        refused(rt, pr, "abc", msg);
        refused(rt, pr, "", msg);
        refused(rt, pr, "-1", msg);
        break;
    case TCPI_PT_BIT:
        assert_int_equal(accepted(&a, rt, pr, "0")->u, 0);
        assert_int_equal(accepted(&a, rt, pr, "1")->u, 1);
        assert_int_equal(accepted(&a, rt, pr, NULL)->u, 1);   /* ?x */
        for (const char *const *b = (const char *const[]){
                 "2", "", "01", "true", "on", " 1", NULL }; *b; b++)
            refused(rt, pr, *b, msg);
        break;
    case TCPI_PT_FLAG:
        v = accepted(&a, rt, pr, NULL);
        assert_int_equal(v->u, 1);
        assert_string_equal(v->raw, "1");
        assert_int_equal(a.fmt, pr->selects ? pr->selects : rt->fmt);
        assert_int_equal(accepted(&a, rt, pr, "anything")->u, 1);
        break;
    case TCPI_PT_STR:
        v = accepted(&a, rt, pr, bytes(pr->max, 'a'));
        assert_int_equal(strlen(v->raw), pr->max);
        accepted(&a, rt, pr, bytes(pr->min ? pr->min : 0, 'b'));
        accepted(&a, rt, pr, "<script>\"'&");
        refused(rt, pr, bytes(pr->max + 1, 'a'), msg);
        if (pr->min > 0)
            refused(rt, pr, bytes(pr->min - 1, 'a'), msg);
        break;
    case TCPI_PT_ENUM:
        refused(rt, pr, "<script>", pr->msg);
        refused(rt, pr, "", pr->msg);
        refused(rt, pr, "FOO", pr->msg);
        assert_null(strstr(pr->msg, "<script>"));
        break;
    case TCPI_PT_BPF:
        assert_string_equal(accepted(&a, rt, pr, "tcp port 80")->raw, "tcp port 80");
        accepted(&a, rt, pr, "");
        accepted(&a, rt, pr, bytes(TCPI_BPF_MAX_LEN - 3, ' '));
        refused(rt, pr, "host example.com", NULL);
        assert_int_equal(strncmp(parse1(&a, rt, "filter", "host example.com"),
                                 "filter: \"example.com\" is not a filter keyword", 44), 0);
        char *long_f = apr_pstrcat(pool, "tcp port 1", bytes(TCPI_BPF_MAX_LEN, ' '), NULL);
        assert_non_null(strstr(parse1(&a, rt, "filter", long_f), "longer than 512 bytes"));
        break;
    case TCPI_PT_IFACE:
        assert_string_equal(accepted(&a, rt, pr, "lo")->raw, "lo");
        accepted(&a, rt, pr, "eth0:1");
        accepted(&a, rt, pr, bytes(15, 'e'));
        accepted(&a, rt, pr, "nosuch");        /* the glue looks it up */
        for (const char *const *b = (const char *const[]){
                 "", "a/b", "a b", "a\tb", "\x01", NULL }; *b; b++)
            refused(rt, pr, *b, msg);
        refused(rt, pr, bytes(16, 'e'), msg);
        break;
    }
}

static void test_every_param(void **state)
{
    size_t n;
    const tcpi_route_t *t = tcpi_route_table(&n);

    for (size_t i = 0; i < n; i++) {
        const tcpi_route_t *rt = &t[i];
        tcpi_route_args_t a;

        /* no query: the defaults */
        assert_null(tcpi_route_parse(&a, rt, NULL, 0, pool));
        assert_int_equal(a.fmt, rt->fmt);
        for (int k = 0; k < TCPI_ARG_COUNT; k++) {
            const tcpi_route_param_t *pr = tcpi_route_param(rt, tcpi_route_arg_name(k));
            assert_null(a.v[k].raw);
            assert_int_equal(a.v[k].e, -1);
            assert_int_equal(a.v[k].u, pr && pr->has_def ? pr->def : 0);
        }
        for (size_t k = 0; k < rt->nparams; k++)
            check_param(rt, &rt->params[k]);
        /* a name it does not take, or takes twice */
        assert_string_equal(parse1(&a, rt, "bogus", "1"), "unknown query parameter");
        assert_string_equal(parse1(&a, rt, "", "1"), "unknown query parameter");
        assert_string_equal(parse1(&a, rt, "LIMIT", "1"), "unknown query parameter");
        for (int k = 0; k < TCPI_ARG_COUNT; k++) {
            const char *name = tcpi_route_arg_name(k);
            if (tcpi_route_param(rt, name) == NULL) {
                assert_string_equal(parse1(&a, rt, name, "1"), "unknown query parameter");
                continue;
            }
            tcpi_route_kv_t kv[2] = { { name, "1" }, { name, "1" } };
            assert_string_equal(tcpi_route_parse(&a, rt, kv, 2, pool),
                                apr_psprintf(pool, "%s is given more than once", name));
        }
    }
}

static void test_values(void **state)
{
    tcpi_route_args_t a;

    /* defaults and values the pages read */
    assert_null(parse(&a, "/requests", ""));
    assert_int_equal(a.v[TCPI_ARG_LIMIT].u, 100);
    assert_int_equal(a.v[TCPI_ARG_STATUS].u, 0);
    assert_null(parse(&a, "/requests.json", "status=502&min_ms=250&uri=/app/echo%3Fu=x&client=10.0.0.1:&limit=16384"));
    assert_int_equal(a.fmt, TCPI_FMT_JSON);
    assert_int_equal(a.v[TCPI_ARG_STATUS].u, 502);
    assert_int_equal(a.v[TCPI_ARG_MIN_MS].u, 250);
    assert_string_equal(a.v[TCPI_ARG_URI].raw, "/app/echo?u=x");
    assert_string_equal(a.v[TCPI_ARG_CLIENT].raw, "10.0.0.1:");
    assert_int_equal(a.v[TCPI_ARG_LIMIT].u, 16384);
    assert_null(parse(&a, "/packets.txt", ""));
    assert_int_equal(a.v[TCPI_ARG_LIMIT].u, 1000);
    assert_null(parse(&a, "/packets", ""));
    assert_int_equal(a.v[TCPI_ARG_LIMIT].u, 200);
    assert_null(parse(&a, "/packets", "x&filter=tcp+port+80&since=7"));
    assert_int_equal(a.v[TCPI_ARG_X].u, 1);
    assert_string_equal(a.v[TCPI_ARG_FILTER].raw, "tcp port 80");
    assert_int_equal(a.v[TCPI_ARG_SINCE].u, 7);
    assert_null(parse(&a, "/flows", ""));
    assert_int_equal(a.v[TCPI_ARG_LIMIT].u, 100);
    assert_int_equal(a.v[TCPI_ARG_LEG].e, -1);
    assert_int_equal(a.v[TCPI_ARG_STATE].e, -1);
    assert_int_equal(a.v[TCPI_ARG_PORT].u, 0);
    assert_null(parse(&a, "/flows.json", "leg=BACKEND&state=time_wait&port=8080"));
    assert_int_equal(a.v[TCPI_ARG_LEG].e, tcpi_flowview_leg_from_name("backend"));
    assert_int_equal(a.v[TCPI_ARG_STATE].e, TCPI_ST_TIME_WAIT);
    assert_int_equal(a.v[TCPI_ARG_PORT].u, 8080);
    assert_null(parse(&a, "/capture.pcap", ""));
    assert_int_equal(a.v[TCPI_ARG_SECONDS].u, 0);
    assert_null(parse(&a, "/", "refresh=30"));
    assert_int_equal(a.fmt, TCPI_FMT_HTML);
    assert_int_equal(a.v[TCPI_ARG_REFRESH].u, 30);

    /* the formats the flags ask for; two are refused */
    assert_null(parse(&a, "/", "auto"));
    assert_int_equal(a.fmt, TCPI_FMT_AUTO);
    assert_null(parse(&a, "/", "nagios=0"));
    assert_int_equal(a.fmt, TCPI_FMT_NAGIOS);
    assert_string_equal(parse(&a, "/", "auto&nagios"),
                        "auto and nagios ask for different formats: give one");

    /* names before values: an unknown or repeated name wins over a bad
     * value, whatever the order */
    assert_string_equal(parse(&a, "/packets.txt", "limit=0&bogus=1"), "unknown query parameter");
    assert_string_equal(parse(&a, "/packets.txt", "limit=abc&limit=5"),
                        "limit is given more than once");
    assert_string_equal(parse(&a, "/packets.txt", "limit=5&limit=5"),
                        "limit is given more than once");
    assert_string_equal(parse(&a, "/", "auto&auto"), "auto is given more than once");
    /* then values in the route's order, not the query's */
    assert_string_equal(parse(&a, "/packets.txt", "x=2&limit=0"), "limit must be 1-100000");
    assert_string_equal(parse(&a, "/flows.json", "limit=0&leg=middle"),
                        "leg must be front, backend or other");

    /* today's messages, word for word */
    static const struct { const char *path, *query, *msg; } msgs[] = {
        { "/", "refresh=0", "refresh must be a number of seconds from 1 to 3600" },
        { "/requests", "status=99", "status must be an HTTP status 100-599" },
        { "/requests", "limit=0", "limit must be 1-16384" },
        { "/requests.json", "limit=16385", "limit must be 1-16384" },
        { "/packets.txt", "limit=100001", "limit must be 1-100000" },
        { "/packets", "limit=5001", "limit must be 1-5000" },
        { "/packets", "x=2", "x must be 0 or 1" },
        { "/packets", "match=", "match must be 1-256 bytes" },
        { "/packets.txt", "since=abc", "since must be a packet number" },
        { "/capture.pcapng", "seconds=86401", "seconds must be a whole number from 1 to 86400" },
        { "/flows.json", "leg=middle", "leg must be front, backend or other" },
        { "/flows.json", "state=FOO", "state must be a netstat state name (ESTABLISHED, TIME_WAIT, ...)" },
        { "/flows.json", "port=70000", "port must be 1-65535" },
        { "/flows.json", "limit=1025", "limit must be 1-1024" },
        { "/status.json", "x=1", "unknown query parameter" },
    };
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
        assert_string_equal(parse(&a, msgs[i].path, msgs[i].query), msgs[i].msg);
}

/* The queries the t/ suites send, and what they expect of them. */
static void test_suite_queries(void **state)
{
    static const struct { const char *path, *query; int ok; } q[] = {
        /* t/31_thresholds.t */
        { "/", "refresh=abc", 0 }, { "/", "refresh=0", 0 },
        { "/", "refresh=99999", 0 }, { "/", "refresh=", 0 },
        { "/", "bogus=1", 0 }, { "/", "auto&%3Cscript%3E=1", 0 },
        { "/status.json", "x=1", 0 }, { "/metrics", "format=json", 0 },
        { "/", "auto", 1 }, { "/", "nagios", 1 }, { "/", "refresh=5", 1 },
        /* t/13_overview.t */
        { "/requests", "limit=<b>x</b>", 0 },
        /* t/40_packets.t */
        { "/packets.txt", "limit=0", 0 }, { "/packets.txt", "limit=100001", 0 },
        { "/packets.txt", "x=2", 0 }, { "/packets.txt", "since=abc", 0 },
        { "/packets.txt", "bogus=1", 0 }, { "/packets.txt", "match=", 0 },
        { "/packets", "limit=5001", 0 },
        { "/packets.txt", "limit=100000&filter=ip6", 1 },
        { "/packets.txt", "limit=100000&x=1&iface=lo", 1 },
        { "/packets.txt", "since=0&limit=7", 1 },
        { "/packets", "limit=5000&x=1", 1 },
        { "/packets.txt", "iface=nosuch", 1 },          /* 400 from the glue */
        { "/packets.txt", "filter=tcp%20port", 1 },     /* 400 from libpcap */
        { "/packets.txt", "limit=3&filter=tcp+port+8080", 1 },
        { "/packets.txt", "x=1&match=v1s1ble-1", 1 },
        { "/packets.txt", "x=1&limit=1&since=20000&filter=tcp%20dst%20port%209", 1 },
        /* t/41_capture.t */
        { "/capture.pcapng", "seconds=0", 0 }, { "/capture.pcapng", "seconds=abc", 0 },
        { "/capture.pcapng", "seconds=86401", 0 }, { "/capture.pcapng", "seconds=-1", 0 },
        { "/capture.pcapng", "foo=1", 0 },
        { "/capture.pcap", "iface=lo", 1 }, { "/capture.pcap", "seconds=2", 1 },
        { "/capture.pcapng", "filter=tcp%20port%208080", 1 },
        /* t/50_requests.t, t/21, t/50_h2.t, t/50_retrans.t */
        { "/requests.json", "limit=0", 0 }, { "/requests.json", "bogus=1", 0 },
        { "/requests.json", "limit=4096&uri=/app/echo?u=1-", 1 },
        { "/requests.json", "limit=64&uri=/app/echo?u=t-", 1 },
        { "/requests.json", "uri=/app/echo%3Fu=1-", 1 },
        { "/requests.json", "uri=/app/delay%3Fms=200%26u=1-delay", 1 },
        { "/requests.json", "limit=1", 1 }, { "/requests", "limit=50", 1 },
        /* t/52_flows.t */
        { "/flows.json", "leg=middle", 0 }, { "/flows.json", "state=FOO", 0 },
        { "/flows.json", "port=0", 0 }, { "/flows.json", "port=70000", 0 },
        { "/flows.json", "port=8o", 0 }, { "/flows.json", "limit=0", 0 },
        { "/flows.json", "limit=1025", 0 }, { "/flows.json", "limit=-1", 0 },
        { "/flows.json", "bogus=1", 0 }, { "/flows", "state=<script>", 0 },
        { "/flows.json", "limit=1024", 1 }, { "/flows.json", "leg=front&limit=1024", 1 },
        { "/flows.json", "port=40123", 1 }, { "/flows.json", "state=time_wait&limit=1024", 1 },
        { "/flows.json", "limit=1", 1 }, { "/flows", "port=40123", 1 },
    };
    tcpi_route_args_t a;

    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        const char *err = parse(&a, q[i].path, q[i].query);
        if ((err == NULL) != q[i].ok)
            fail_msg("%s?%s: %s", q[i].path, q[i].query, err ? err : "accepted");
        /* a message never carries markup back */
        if (err)
            assert_null(strchr(err, '<'));
    }
    /* the '+' of a form-encoded query is a space; the id of the uri
     * prefix keeps its decoded '?' */
    assert_null(parse(&a, "/packets.txt", "filter=tcp+port+80"));
    assert_string_equal(a.v[TCPI_ARG_FILTER].raw, "tcp port 80");
}

/* ---- README.md's "Pages" table --------------------------------------- */

typedef struct {
    char *cell[4];           /* path, formats, parameters, what */
    const tcpi_route_t *rt[4];
    int nrt;
} row_t;

/* The table's rows after "## Pages" (up to the next heading). */
static int readme_rows(row_t *rows, int max)
{
    FILE *f = fopen("README.md", "r");
    char line[8192];
    int in = 0, n = 0, header = 0;

    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "## ", 3) == 0 || strncmp(line, "### ", 4) == 0) {
            if (in)
                break;
            in = strcmp(line, "## Pages\n") == 0;
            continue;
        }
        if (!in || line[0] != '|')
            continue;
        if (header++ < 2) {                 /* the header and its rule */
            if (header == 1)
                assert_string_equal(line, "| path | formats | parameters | what |\n");
            continue;
        }
        assert_true(n < max);
        row_t *r = &rows[n++];
        memset(r, 0, sizeof(*r));
        /* cells split at '|' but not at "\|" */
        char *p = apr_pstrdup(pool, line + 1);
        for (int c = 0; c < 4; c++) {
            char *s = p;
            while (*p && !(*p == '|' && p[-1] != '\\'))
                p++;
            assert_int_equal(*p, '|');
            *p++ = '\0';
            while (*s == ' ')
                s++;
            for (char *e = s + strlen(s); e > s && e[-1] == ' '; )
                *--e = '\0';
            r->cell[c] = s;
        }
    }
    fclose(f);
    assert_true(in || n > 0);
    return n;
}

/* The words of a cell in backticks: `x`. */
static int backticked(char **out, int max, const char *cell)
{
    int n = 0;
    for (const char *p = strchr(cell, '`'); p; ) {
        const char *e = strchr(p + 1, '`');
        if (e == NULL)
            break;
        assert_true(n < max);
        out[n++] = apr_pstrmemdup(pool, p + 1, (size_t)(e - p - 1));
        p = strchr(e + 1, '`');
    }
    return n;
}

/* How the table states a parameter. */
static const char *param_doc(const tcpi_route_param_t *pr)
{
    const char *n = tcpi_route_arg_name(pr->arg);
    uint64_t lo = pr->min, hi = pr->max;

    switch (pr->type) {
    case TCPI_PT_UINT:
        return pr->has_def
            ? apr_psprintf(pool, "`%s=%" APR_UINT64_T_FMT "–%" APR_UINT64_T_FMT "` (default %" APR_UINT64_T_FMT ")", n, lo, hi,
                           (uint64_t)pr->def)
            : apr_psprintf(pool, "`%s=%" APR_UINT64_T_FMT "–%" APR_UINT64_T_FMT "`", n, lo, hi);
    case TCPI_PT_PKTNO:
        return apr_psprintf(pool, "`%s=N`", n);
    case TCPI_PT_BIT:
        return apr_psprintf(pool, "`%s=1`", n);
    case TCPI_PT_FLAG:
        return apr_psprintf(pool, "`%s`", n);
    case TCPI_PT_STR:
        return lo ? apr_psprintf(pool, "`%s=` (%" APR_UINT64_T_FMT "–%" APR_UINT64_T_FMT " bytes)", n, lo, hi)
                  : apr_psprintf(pool, "`%s=` (at most %" APR_UINT64_T_FMT " bytes)", n, hi);
    default:
        return apr_psprintf(pool, "`%s=`", n);
    }
}

static int has_word(const char *cell, const char *w)
{
    size_t l = strlen(w);
    for (const char *p = strstr(cell, w); p; p = strstr(p + 1, w))
        if ((p == cell || !isalnum((unsigned char)p[-1])) && !isalnum((unsigned char)p[l]))
            return 1;
    return 0;
}

static void test_readme(void **state)
{
    row_t rows[64];
    int nrows = readme_rows(rows, 64);
    size_t n;
    const tcpi_route_t *t = tcpi_route_table(&n);
    int documented[64] = { 0 };

    assert_true(nrows > 0);
    /* every documented path is a route, and documented once */
    for (int i = 0; i < nrows; i++) {
        char *paths[8];
        int np = backticked(paths, 8, rows[i].cell[0]);
        assert_true(np > 0);
        for (int k = 0; k < np; k++) {
            size_t j;
            for (j = 0; j < n; j++)
                if (strcmp(paths[k], t[j].path) == 0)
                    break;
            if (j == n)
                fail_msg("README's Pages table: `%s` is not a route", paths[k]);
            if (documented[j]++)
                fail_msg("README's Pages table: `%s` twice", paths[k]);
            rows[i].rt[rows[i].nrt++] = &t[j];
        }
    }
    /* every route is documented */
    for (size_t j = 0; j < n; j++)
        if (!documented[j])
            fail_msg("README's Pages table has no row for `%s`", t[j].path);

    for (int i = 0; i < nrows; i++) {
        row_t *r = &rows[i];
        unsigned fmts = 0;
        for (int k = 0; k < r->nrt; k++) {
            const tcpi_route_t *rt = r->rt[k];
            fmts |= tcpi_route_formats(rt);
            /* its parameters, with their ranges and defaults */
            for (size_t p = 0; p < rt->nparams; p++)
                if (strstr(r->cell[2], param_doc(&rt->params[p])) == NULL)
                    fail_msg("README's row for `%s` does not state %s", rt->path,
                             param_doc(&rt->params[p]));
            if (rt->nparams == 0)
                assert_string_equal(r->cell[2], "none");
            /* a download says so */
            assert_int_equal(strstr(r->cell[3], "TCPInspectAllowDownload") != NULL,
                             !!(rt->flags & TCPI_ROUTE_DOWNLOAD));
        }
        /* and nothing else: each `name=`, `name` is a parameter of every
         * route of the row */
        char *words[32];
        int nw = backticked(words, 32, r->cell[2]);
        for (int w = 0; w < nw; w++) {
            char *name = words[w], *eq = strchr(name, '=');
            if (eq)
                *eq = '\0';
            for (int k = 0; k < r->nrt; k++)
                if (tcpi_route_param(r->rt[k], name) == NULL)
                    fail_msg("README's row for `%s` names `%s`, which it does "
                             "not take", r->rt[k]->path, name);
        }
        /* the formats: exactly those of the row's routes */
        for (unsigned b = 1; b <= TCPI_FMT_PCAPNG; b <<= 1)
            if (has_word(r->cell[1], tcpi_route_fmt_name(b)) != !!(fmts & b))
                fail_msg("README's row for `%s`: format %s %s", r->rt[0]->path,
                         tcpi_route_fmt_name(b), fmts & b ? "missing" : "not served");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_every_param),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_suite_queries),
        cmocka_unit_test(test_readme),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
