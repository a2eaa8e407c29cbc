/* tcpi_route.c — the route table and the query parser (tcpi_route.h). */
#include "tcpi_route.h"
#include "tcpi_bpfcheck.h"
#include "tcpi_flowview.h"
#include "tcpi_packets.h"
#include "tcpi_query.h"

#include "tcpi/store.h"

#include <apr_strings.h>
#include <ctype.h>
#include <string.h>

#define REQUESTS_LIMIT_DEFAULT 100
#define DOWNLOAD_SECONDS_MAX   86400
/* The longest "ip:port" a request's client can be: "[v6]:port". */
#define CLIENT_MAX             47

/* Each query parameter's name, by tcpi_arg_t. */
static const char *const arg_names[TCPI_ARG_COUNT] = {
    [TCPI_ARG_AUTO] = "auto",       [TCPI_ARG_NAGIOS] = "nagios",
    [TCPI_ARG_REFRESH] = "refresh", [TCPI_ARG_STATUS] = "status",
    [TCPI_ARG_MIN_MS] = "min_ms",   [TCPI_ARG_URI] = "uri",
    [TCPI_ARG_CLIENT] = "client",   [TCPI_ARG_LIMIT] = "limit",
    [TCPI_ARG_FILTER] = "filter",   [TCPI_ARG_MATCH] = "match",
    [TCPI_ARG_X] = "x",             [TCPI_ARG_SINCE] = "since",
    [TCPI_ARG_IFACE] = "iface",     [TCPI_ARG_SECONDS] = "seconds",
    [TCPI_ARG_LEG] = "leg",         [TCPI_ARG_STATE] = "state",
    [TCPI_ARG_PORT] = "port",
};

/* ---- the parameters of each page ------------------------------------- */

/* One macro per type, so that each line reads as its declaration. */
#define P(id, type, lo, hi, hasdef, def, fn, fmt, msg)                      \
    { TCPI_ARG_##id, TCPI_PT_##type, lo, hi, hasdef, def, fn, fmt, msg }
#define UINT(id, lo, hi, msg)        P(id, UINT, lo, hi, 0, 0, NULL, 0, msg)
#define UINT_DEF(id, lo, hi, d, msg) P(id, UINT, lo, hi, 1, d, NULL, 0, msg)
#define PKTNO(id, msg)    P(id, PKTNO, 0, TCPI_PKTNO_MAX, 0, 0, NULL, 0, msg)
#define BIT(id)           P(id, BIT, 0, 1, 0, 0, NULL, 0, NULL)
#define FLAG(id, fmt)     P(id, FLAG, 0, 0, 0, 0, NULL, TCPI_FMT_##fmt, NULL)
#define STR(id, lo, hi)   P(id, STR, lo, hi, 0, 0, NULL, 0, NULL)
#define ENUM(id, fn, msg) P(id, ENUM, 0, 0, 0, 0, fn, 0, msg)
#define BPF(id)           P(id, BPF, 0, TCPI_BPF_MAX_LEN, 0, 0, NULL, 0, NULL)
#define IFACE(id)         P(id, IFACE, 1, TCPI_IFNAMSIZ - 1, 0, 0, NULL, 0, NULL)

static const tcpi_route_param_t overview_params[] = {
    FLAG(AUTO, AUTO),
    UINT(REFRESH, 1, 3600, "refresh must be a number of seconds from 1 to 3600"),
    FLAG(NAGIOS, NAGIOS),
};

static const tcpi_route_param_t requests_params[] = {
    UINT(STATUS, 100, 599, "status must be an HTTP status 100-599"),
    UINT(MIN_MS, 0, 86400000,
         "min_ms must be a number of milliseconds from 0 to 86400000"),
    UINT_DEF(LIMIT, 1, TCPI_REQLOG_LEN, REQUESTS_LIMIT_DEFAULT, NULL),
    STR(URI, 0, TCPI_REQ_URI_MAX - 1),      /* a prefix of what the log keeps */
    STR(CLIENT, 0, CLIENT_MAX),             /* a prefix */
};

#define PACKETS_PARAMS(lo, hi, d)                                           \
    UINT_DEF(LIMIT, lo, hi, d, NULL),                                       \
    BIT(X),                                                                 \
    STR(MATCH, 1, 256),                                                     \
    IFACE(IFACE),                                                           \
    BPF(FILTER),                                                            \
    PKTNO(SINCE, "since must be a packet number")

static const tcpi_route_param_t packets_txt_params[] = {
    PACKETS_PARAMS(1, TCPI_PACKETS_TXT_LIMIT_MAX, TCPI_PACKETS_TXT_LIMIT_DEFAULT),
};

static const tcpi_route_param_t packets_html_params[] = {
    PACKETS_PARAMS(1, TCPI_PACKETS_HTML_LIMIT_MAX, TCPI_PACKETS_HTML_LIMIT_DEFAULT),
};

static const tcpi_route_param_t capture_params[] = {
    IFACE(IFACE),
    UINT(SECONDS, 1, DOWNLOAD_SECONDS_MAX,
         "seconds must be a whole number from 1 to 86400"),
    BPF(FILTER),
};

static const tcpi_route_param_t flows_params[] = {
    ENUM(LEG, tcpi_flowview_leg_from_name, "leg must be front, backend or other"),
    ENUM(STATE, tcpi_state_from_name,
         "state must be a netstat state name (ESTABLISHED, TIME_WAIT, ...)"),
    UINT(PORT, 1, 65535, NULL),
    UINT_DEF(LIMIT, 1, TCPI_FLOWS_LIMIT_MAX, TCPI_FLOWS_LIMIT_DEFAULT, NULL),
};

/* ---- the routes ------------------------------------------------------ */

#define PARAMS(a) a, TCPI_ARRAY_LEN(a)
#define NO_PARAMS NULL, 0
/* A packet page: the default budget (tcpi_query.h). A download may be as
 * large as the ring, but a filter that matches little must not scan a
 * 16 GB ring for nothing: no record bound, 8 times the time (writing to
 * the client is not counted). */
#define PAGE_SCAN     TCPI_QUERY_BUDGET_PACKETS, TCPI_QUERY_BUDGET_MS
#define DOWNLOAD_SCAN 0, 8ull * TCPI_QUERY_BUDGET_MS
#define NO_SCAN       0, 0

static const tcpi_route_t routes[] = {
    { "/", TCPI_PAGE_OVERVIEW, TCPI_FMT_HTML, 0, NO_SCAN,
      PARAMS(overview_params),
      "the overview: state counts, history, capture health, sysctl advice, "
      "newest requests" },
    { "/status.json", TCPI_PAGE_STATUS, TCPI_FMT_JSON, 0, NO_SCAN, NO_PARAMS,
      "everything on the overview" },
    { "/metrics", TCPI_PAGE_METRICS, TCPI_FMT_PROMETHEUS, 0, NO_SCAN,
      NO_PARAMS, "every counter and gauge for Prometheus" },
    { "/requests", TCPI_PAGE_REQUESTS, TCPI_FMT_HTML, 0, NO_SCAN,
      PARAMS(requests_params), "recent requests, newest first" },
    { "/requests.json", TCPI_PAGE_REQUESTS, TCPI_FMT_JSON, 0, NO_SCAN,
      PARAMS(requests_params), "recent requests, newest first" },
    { "/capture.pcap", TCPI_PAGE_CAPTURE, TCPI_FMT_PCAP, TCPI_ROUTE_DOWNLOAD,
      DOWNLOAD_SCAN, PARAMS(capture_params), "the packet ring as a pcap file" },
    { "/capture.pcapng", TCPI_PAGE_CAPTURE, TCPI_FMT_PCAPNG,
      TCPI_ROUTE_DOWNLOAD, DOWNLOAD_SCAN, PARAMS(capture_params),
      "the packet ring as a pcapng file" },
    { "/packets.txt", TCPI_PAGE_PACKETS, TCPI_FMT_TEXT, 0, PAGE_SCAN,
      PARAMS(packets_txt_params), "the ring's packets as tcpdump prints them" },
    { "/packets", TCPI_PAGE_PACKETS, TCPI_FMT_HTML, 0, PAGE_SCAN,
      PARAMS(packets_html_params), "the ring's packets by leg, annotated" },
    { "/flows", TCPI_PAGE_FLOWS, TCPI_FMT_HTML, 0, NO_SCAN,
      PARAMS(flows_params), "recently active flows with their state history" },
    { "/flows.json", TCPI_PAGE_FLOWS, TCPI_FMT_JSON, 0, NO_SCAN,
      PARAMS(flows_params), "recently active flows with their state history" },
    /* id routes: tried in this order, so the longer suffixes first */
    { "/requests/<id>.pcapng", TCPI_PAGE_REQUEST_PCAPNG, TCPI_FMT_PCAPNG,
      TCPI_ROUTE_DOWNLOAD, NO_SCAN, NO_PARAMS,
      "one request's packets, both legs (its saved capture, else the ring)" },
    { "/requests/<id>.json", TCPI_PAGE_REQUEST, TCPI_FMT_JSON, 0, NO_SCAN,
      NO_PARAMS, "one request: timings, findings, packets" },
    { "/requests/<id>", TCPI_PAGE_REQUEST, TCPI_FMT_HTML, 0, NO_SCAN,
      NO_PARAMS, "one request: waterfall, findings, packets" },
};

const tcpi_route_t *tcpi_route_table(size_t *n)
{
    *n = TCPI_ARRAY_LEN(routes);
    return routes;
}

const char *tcpi_route_arg_name(tcpi_arg_t arg)
{
    return (unsigned)arg < TCPI_ARG_COUNT ? arg_names[arg] : NULL;
}

static const struct {
    tcpi_fmt_t  fmt;
    const char *name, *ctype;
} fmts[] = {
    { TCPI_FMT_HTML,       "html",       "text/html; charset=utf-8" },
    { TCPI_FMT_JSON,       "json",       "application/json" },
    { TCPI_FMT_TEXT,       "text",       "text/plain; charset=utf-8" },
    { TCPI_FMT_AUTO,       "auto",       "text/plain; charset=utf-8" },
    { TCPI_FMT_NAGIOS,     "nagios",     "text/plain; charset=utf-8" },
    { TCPI_FMT_PROMETHEUS, "prometheus", "text/plain; version=0.0.4; charset=utf-8" },
    { TCPI_FMT_PCAP,       "pcap",       "application/vnd.tcpdump.pcap" },
    { TCPI_FMT_PCAPNG,     "pcapng",     "application/x-pcapng" },
};

const char *tcpi_route_fmt_name(unsigned fmt)
{
    for (size_t i = 0; i < TCPI_ARRAY_LEN(fmts); i++)
        if (fmts[i].fmt == fmt)
            return fmts[i].name;
    return NULL;
}

const char *tcpi_route_fmt_ctype(tcpi_fmt_t fmt)
{
    for (size_t i = 0; i < TCPI_ARRAY_LEN(fmts); i++)
        if (fmts[i].fmt == fmt)
            return fmts[i].ctype;
    return "application/octet-stream";
}

unsigned tcpi_route_formats(const tcpi_route_t *rt)
{
    unsigned f = rt->fmt;

    for (size_t i = 0; i < rt->nparams; i++)
        f |= rt->params[i].selects;
    return f;
}

const tcpi_route_param_t *tcpi_route_param(const tcpi_route_t *rt,
                                           const char *name)
{
    for (size_t i = 0; i < rt->nparams; i++)
        if (name != NULL && strcmp(arg_names[rt->params[i].arg], name) == 0)
            return &rt->params[i];
    return NULL;
}

/* ---- finding the route ----------------------------------------------- */

int tcpi_route_find(const tcpi_route_t **rt, const char **id,
                    const char **err, const char *sub, apr_pool_t *p)
{
    size_t n = strlen(sub);

    *rt = NULL;
    *id = NULL;
    *err = NULL;
    for (size_t i = 0; i < TCPI_ARRAY_LEN(routes); i++)
        if (strstr(routes[i].path, "<id>") == NULL &&
            strcmp(sub, routes[i].path) == 0) {
            *rt = &routes[i];
            return TCPI_ROUTE_FOUND;
        }
    for (size_t i = 0; i < TCPI_ARRAY_LEN(routes); i++) {
        const char *mark = strstr(routes[i].path, "<id>"), *suffix;
        size_t pl, sl;
        char *s;

        if (mark == NULL)
            continue;
        pl = (size_t)(mark - routes[i].path);
        suffix = mark + 4;
        sl = strlen(suffix);
        if (n < pl + sl || strncmp(sub, routes[i].path, pl) != 0 ||
            strcmp(sub + n - sl, suffix) != 0)
            continue;
        s = apr_pstrmemdup(p, sub + pl, n - pl - sl);
        if (!tcpi_req_id_valid(s, n - pl - sl)) {
            if (*s == '\0' || strchr(s, '/') != NULL)
                return TCPI_ROUTE_NOT_FOUND;
            *err = "malformed request id";
            return TCPI_ROUTE_BAD_ID;
        }
        *rt = &routes[i];
        *id = s;
        return TCPI_ROUTE_FOUND;
    }
    return TCPI_ROUTE_NOT_FOUND;
}

/* ---- reading the query ----------------------------------------------- */

/* As tcpi_conf_check_iface: printable, no '/', no space. */
static int iface_chars_ok(const char *s)
{
    for (; *s; s++)
        if (*s == '/' || isspace((unsigned char)*s) || !isprint((unsigned char)*s))
            return 0;
    return 1;
}

/* One value, present: NULL or the 400 message. */
static const char *read_value(tcpi_route_val_t *v, const tcpi_route_param_t *pr,
                              apr_pool_t *p)
{
    const char *name = arg_names[pr->arg], *s = v->raw;
    size_t len = strlen(s);
    char err[256];

    switch (pr->type) {
    case TCPI_PT_UINT:
        if (tcpi_conf_parse_count(&v->u, s, pr->min, pr->max, p) == NULL)
            return NULL;
        return pr->msg ? pr->msg
                       : apr_psprintf(p, "%s must be %" APR_UINT64_T_FMT "-%"
                                      APR_UINT64_T_FMT, name, pr->min, pr->max);
    case TCPI_PT_PKTNO:
        if (tcpi_conf_parse_count(&v->u, s, 0, TCPI_PKTNO_MAX, p) == NULL)
            return NULL;
        return pr->msg ? pr->msg
                       : apr_psprintf(p, "%s must be a packet number", name);
    case TCPI_PT_BIT:
        if (strcmp(s, "0") == 0 || strcmp(s, "1") == 0) {
            v->u = (uint64_t)(s[0] - '0');
            return NULL;
        }
        return pr->msg ? pr->msg : apr_psprintf(p, "%s must be 0 or 1", name);
    case TCPI_PT_FLAG:
        v->u = 1;
        return NULL;
    case TCPI_PT_STR:
        if (len >= pr->min && (pr->max == 0 || len <= pr->max))
            return NULL;
        if (pr->msg)
            return pr->msg;
        if (pr->min > 0)
            return apr_psprintf(p, "%s must be %" APR_UINT64_T_FMT "-%"
                                APR_UINT64_T_FMT " bytes", name, pr->min, pr->max);
        return apr_psprintf(p, "%s must be at most %" APR_UINT64_T_FMT " bytes",
                            name, pr->max);
    case TCPI_PT_ENUM:
        if ((v->e = pr->lookup(s)) >= 0)
            return NULL;
        return pr->msg ? pr->msg : apr_psprintf(p, "%s: no such value", name);
    case TCPI_PT_BPF:
        /* The syntax and the bounds; compiling needs the ring's link
         * types (tcpi_query_init_ex, which checks again). */
        if (tcpi_bpfcheck(NULL, s, err, sizeof(err)) == 0)
            return NULL;
        return apr_pstrcat(p, name, ": ", err, NULL);
    case TCPI_PT_IFACE:
        if (len >= pr->min && len <= pr->max && iface_chars_ok(s))
            return NULL;
        return pr->msg ? pr->msg
                       : apr_psprintf(p, "%s must be an interface name of %"
                                      APR_UINT64_T_FMT "-%" APR_UINT64_T_FMT
                                      " characters", name, pr->min, pr->max);
    }
    return "bad parameter type";
}

const char *tcpi_route_parse(tcpi_route_args_t *a, const tcpi_route_t *rt,
                             const tcpi_route_kv_t *kv, size_t n,
                             apr_pool_t *p)
{
    const char *err, *asked = NULL;

    memset(a, 0, sizeof(*a));
    a->fmt = rt->fmt;
    for (int i = 0; i < TCPI_ARG_COUNT; i++)
        a->v[i].e = -1;
    /* Names first: an unknown or repeated one is refused whatever the
     * values (which of two values would count is not the client's
     * guess to make). */
    for (size_t i = 0; i < n; i++) {
        const tcpi_route_param_t *pr = tcpi_route_param(rt, kv[i].key);

        if (pr == NULL)
            return "unknown query parameter";
        if (a->v[pr->arg].raw != NULL)
            return apr_psprintf(p, "%s is given more than once",
                                arg_names[pr->arg]);
        a->v[pr->arg].raw = kv[i].val ? kv[i].val : "1";
    }
    for (size_t i = 0; i < rt->nparams; i++) {
        const tcpi_route_param_t *pr = &rt->params[i];
        tcpi_route_val_t *v = &a->v[pr->arg];

        if (v->raw == NULL) {
            v->u = pr->has_def ? pr->def : 0;
            continue;
        }
        if ((err = read_value(v, pr, p)) != NULL)
            return err;
        if (pr->type == TCPI_PT_FLAG && pr->selects) {
            if (asked != NULL)
                return apr_psprintf(p, "%s and %s ask for different formats: "
                                    "give one", asked, arg_names[pr->arg]);
            asked = arg_names[pr->arg];
            a->fmt = pr->selects;
        }
    }
    return NULL;
}
