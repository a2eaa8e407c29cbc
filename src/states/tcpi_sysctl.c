/* tcpi_sysctl.c — the sysctl advisor (see the header). Read-only. */
#include "tcpi_sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
    const char *path;
    const char *help;
} knobs[TCPI_NSYSCTL] = {
    [TCPI_SYS_SYN_RETRIES] = { "net/ipv4/tcp_syn_retries",
        "SYN retransmissions of an outgoing connect (httpd to the backend) "
        "before it fails: how long SYN_SENT lasts (6: about 127 s)." },
    [TCPI_SYS_SYNACK_RETRIES] = { "net/ipv4/tcp_synack_retries",
        "SYN/ACK retransmissions for a half-open incoming connection: how "
        "long SYN_RECV lasts (5: about 63 s)." },
    [TCPI_SYS_MAX_SYN_BACKLOG] = { "net/ipv4/tcp_max_syn_backlog",
        "Half-open (SYN_RECV) connections a listener keeps when syncookies "
        "are off; beyond it new SYNs are dropped." },
    [TCPI_SYS_SYNCOOKIES] = { "net/ipv4/tcp_syncookies",
        "1: answer with SYN cookies when a listener's SYN queue overflows "
        "(SYN flood defence); 0: drop new SYNs; 2: always cookies." },
    [TCPI_SYS_SOMAXCONN] = { "net/core/somaxconn",
        "Cap on every listen() backlog (httpd ListenBacklog, Jetty's accept "
        "queue): the accept and SYN queues of a listener." },
    [TCPI_SYS_KEEPALIVE_TIME] = { "net/ipv4/tcp_keepalive_time",
        "Idle seconds before the first keepalive probe on sockets that ask "
        "for SO_KEEPALIVE (e.g. ProxyPass keepalive=On)." },
    [TCPI_SYS_KEEPALIVE_PROBES] = { "net/ipv4/tcp_keepalive_probes",
        "Unanswered keepalive probes before an idle ESTABLISHED connection "
        "is dropped." },
    [TCPI_SYS_KEEPALIVE_INTVL] = { "net/ipv4/tcp_keepalive_intvl",
        "Seconds between keepalive probes." },
    [TCPI_SYS_FIN_TIMEOUT] = { "net/ipv4/tcp_fin_timeout",
        "How long an orphaned FIN_WAIT2 socket waits for the peer's FIN. It "
        "does not set the length of TIME_WAIT." },
    [TCPI_SYS_TW_REUSE] = { "net/ipv4/tcp_tw_reuse",
        "Reuse the port of a TIME_WAIT socket for a new outgoing connection "
        "when timestamps make it safe: 0 off, 1 on, 2 loopback only." },
    [TCPI_SYS_MAX_TW_BUCKETS] = { "net/ipv4/tcp_max_tw_buckets",
        "Most TIME_WAIT sockets the host keeps; beyond it new ones are "
        "destroyed at once (\"time wait bucket table overflow\")." },
    [TCPI_SYS_LOCAL_PORT_RANGE] = { "net/ipv4/ip_local_port_range",
        "Ephemeral ports of outgoing connections (httpd to the backend): at "
        "most this many to one backend ip:port at a time." },
    [TCPI_SYS_RMEM] = { "net/ipv4/tcp_rmem",
        "Receive buffer per socket: min, default and max bytes (autotuned "
        "in between)." },
    [TCPI_SYS_WMEM] = { "net/ipv4/tcp_wmem",
        "Send buffer per socket: min, default and max bytes." },
    [TCPI_SYS_TW_RECYCLE] = { "net/ipv4/tcp_tw_recycle",
        "Removed in Linux 4.12: it broke clients behind NAT." },
};

const char *tcpi_sysctl_path(int k)
{
    return k >= 0 && k < TCPI_NSYSCTL ? knobs[k].path : "";
}

const char *tcpi_sysctl_name(int k)
{
    const char *p = tcpi_sysctl_path(k), *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

const char *tcpi_sysctl_help(int k)
{
    return k >= 0 && k < TCPI_NSYSCTL ? knobs[k].help : "";
}

static void read_one(tcpi_sysctl_value_t *v, const char *root, const char *path)
{
    char file[512], raw[128];
    ssize_t n;
    size_t o = 0;
    int fd;

    memset(v, 0, sizeof(*v));
    snprintf(file, sizeof(file), "%s/%s", root, path);
    fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        v->present = errno == ENOENT ? 0 : -1;
        return;
    }
    n = read(fd, raw, sizeof(raw) - 1);
    close(fd);
    if (n < 0) {
        v->present = -1;
        return;
    }
    raw[n] = '\0';
    v->present = 1;
    /* Collapse runs of blanks (/proc uses tabs) and trim. */
    for (char *p = raw; *p && o + 1 < sizeof(v->text); p++) {
        int blank = *p == ' ' || *p == '\t' || *p == '\n';
        if (blank && (o == 0 || v->text[o - 1] == ' '))
            continue;
        v->text[o++] = blank ? ' ' : (*p >= 0x20 && *p < 0x7f ? *p : '?');
    }
    while (o > 0 && v->text[o - 1] == ' ')
        o--;
    v->text[o] = '\0';
    for (const char *p = v->text; *p && v->nv < TCPI_SYSCTL_MAXV; ) {
        char *end;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (end == p || errno != 0 || (*end != ' ' && *end != '\0')) {
            v->nv = 0;                 /* not a list of integers */
            break;
        }
        v->v[v->nv++] = x;
        p = *end ? end + 1 : end;
    }
}

void tcpi_sysctl_read(tcpi_sysctl_t *out, const char *root)
{
    for (int k = 0; k < TCPI_NSYSCTL; k++)
        read_one(&out->k[k], root, knobs[k].path);
}

const char *tcpi_advice_level_name(int level)
{
    static const char *const n[] = { "ok", "info", "warning", "critical" };
    return level >= 0 && level <= 3 ? n[level] : "info";
}

/* ---- advice ---------------------------------------------------------- */

typedef struct {
    tcpi_advice_t *out;
    int max, n;
} advice_list_t;

static void add(advice_list_t *a, int level, const char *topic,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void add(advice_list_t *a, int level, const char *topic,
                const char *fmt, ...)
{
    va_list ap;
    tcpi_advice_t *e;

    if (a->n >= a->max)
        return;
    e = &a->out[a->n++];
    e->level = level;
    snprintf(e->topic, sizeof(e->topic), "%s", topic);
    va_start(ap, fmt);
    vsnprintf(e->text, sizeof(e->text), fmt, ap);
    va_end(ap);
}

/* The knob's first integer, or -1 when it is absent or not a number. */
static long long val(const tcpi_sysctl_t *s, int k)
{
    return s->k[k].present == 1 && s->k[k].nv >= 1 ? s->k[k].v[0] : -1;
}

static uint32_t pct(uint64_t part, uint64_t whole)
{
    return whole ? (uint32_t)(part * 100 / whole) : 0;
}

static int level_of(uint32_t percent, int over_half, int over_most)
{
    return percent >= 80 ? over_most : percent >= 50 ? over_half
                                                     : TCPI_ADVICE_OK;
}

static void advise_time_wait(advice_list_t *a, const tcpi_sysctl_t *s,
                             const uint32_t c[TCPI_NSCOPES][TCPI_NSTATES])
{
    long long max = val(s, TCPI_SYS_MAX_TW_BUCKETS);
    uint32_t tw = 0, p;

    for (int sc = 0; sc < TCPI_NSCOPES; sc++)
        tw += c[sc][TCPI_ST_TIME_WAIT];
    if (max <= 0)
        return;
    p = pct(tw, (uint64_t)max);
    add(a, level_of(p, TCPI_ADVICE_WARNING, TCPI_ADVICE_CRITICAL), "time_wait",
        "TIME_WAIT: %u sockets in scope, %u%% of tcp_max_tw_buckets (%lld)%s",
        tw, p, max, p >= 50 ? ". Beyond it the kernel destroys new TIME_WAIT "
        "sockets at once; reuse connections (keep-alive to the backend) "
        "rather than raising it" : ": room to spare");
}

static void advise_ports(advice_list_t *a, const tcpi_sysctl_t *s,
                         const uint32_t c[TCPI_NSCOPES][TCPI_NSTATES])
{
    const tcpi_sysctl_value_t *r = &s->k[TCPI_SYS_LOCAL_PORT_RANGE];
    long long reuse = val(s, TCPI_SYS_TW_REUSE), range;
    uint32_t used = 0, tw = c[TCPI_SCOPE_BACKEND][TCPI_ST_TIME_WAIT], p;

    if (r->present != 1 || r->nv != 2 || r->v[1] < r->v[0])
        return;
    range = r->v[1] - r->v[0] + 1;
    for (int st = 0; st < TCPI_NSTATES; st++)
        used += c[TCPI_SCOPE_BACKEND][st];
    /* With tcp_tw_reuse=1 a TIME_WAIT port is free for a new connect. */
    p = pct(reuse == 1 ? used - tw : used, (uint64_t)range);
    add(a, level_of(p, TCPI_ADVICE_WARNING, TCPI_ADVICE_CRITICAL),
        "ephemeral_ports", "Ephemeral ports of the backend leg: %u sockets "
        "towards the backend ports (%u in TIME_WAIT) against %lld ports in "
        "ip_local_port_range (%lld-%lld): %u%% used%s. Each backend ip:port "
        "takes at most that many at once; when they run out connect() fails "
        "(EADDRNOTAVAIL) and mod_proxy answers 503.", used, tw, range,
        (long long)r->v[0], (long long)r->v[1], p,
        reuse == 1 ? ", TIME_WAIT not counted (tcp_tw_reuse=1)"
        : reuse == 2 ? " (tcp_tw_reuse=2: loopback backends may reuse their "
                       "TIME_WAIT ports)" : "");
}

static void advise_syn_recv(advice_list_t *a, const tcpi_sysctl_t *s,
                            const uint32_t c[TCPI_NSCOPES][TCPI_NSTATES])
{
    long long backlog = val(s, TCPI_SYS_MAX_SYN_BACKLOG);
    long long somax = val(s, TCPI_SYS_SOMAXCONN);
    long long cookies = val(s, TCPI_SYS_SYNCOOKIES);
    long long limit = backlog > 0 && (somax <= 0 || backlog < somax) ? backlog
                                                                    : somax;
    uint32_t n = c[TCPI_SCOPE_FRONT][TCPI_ST_SYN_RECV] +
                 c[TCPI_SCOPE_BACKEND_LOCAL][TCPI_ST_SYN_RECV];
    uint32_t p = limit > 0 ? pct(n, (uint64_t)limit) : 0;
    int level = p >= 100 ? (cookies == 0 ? TCPI_ADVICE_CRITICAL
                                         : TCPI_ADVICE_WARNING)
              : p >= 50 ? TCPI_ADVICE_WARNING : TCPI_ADVICE_OK;

    if (limit <= 0)
        return;
    add(a, level, "syn_recv", "SYN_RECV: %u half-open connections on the "
        "local ports; a listener keeps at most min(tcp_max_syn_backlog %lld, "
        "somaxconn %lld, its backlog)%s httpd's AcceptFilter (TCP_DEFER_ACCEPT) "
        "also keeps connections that sent no data yet in SYN_RECV. "
        "tcp_syncookies=%lld: %s", n, backlog, somax, p >= 50 ? ", and this "
        "is a pile-up: a SYN flood, idle clients, or clients whose final ACK "
        "is lost." : ".", cookies,
        cookies == 0 ? "off, so new SYNs are dropped once a queue is full: "
                       "set it to 1."
        : cookies == 1 ? "cookies answer SYNs when a queue overflows (the "
                         "kernel then logs \"Possible SYN flooding\")."
        : cookies == 2 ? "every SYN gets a cookie." : "unknown.");
}

static void advise_close_wait(advice_list_t *a,
                              const uint32_t c[TCPI_NSCOPES][TCPI_NSTATES])
{
    static const char *const why[TCPI_NSCOPES] = {
        "clients closed but httpd has not closed its side: the application "
        "on this side is not closing (stuck workers or requests still "
        "waiting on the backend; see mod_status).",
        "the backend closed connections that httpd (mod_proxy) still holds, "
        "usually idle pooled ones: httpd is the side not closing; set "
        "ProxyPass ttl= below the backend's idle timeout.",
        "httpd closed but the local backend has not: the application on "
        "that side (Jetty) is not closing (leaked connections or stuck "
        "threads).",
    };
    static const char *const topic[TCPI_NSCOPES] = {
        "close_wait.front", "close_wait.backend", "close_wait.backend_local",
    };
    int any = 0;

    for (int sc = 0; sc < TCPI_NSCOPES; sc++) {
        uint32_t n = c[sc][TCPI_ST_CLOSE_WAIT];
        if (n == 0)
            continue;
        any = 1;
        add(a, n >= 10 ? TCPI_ADVICE_WARNING : TCPI_ADVICE_INFO, topic[sc],
            "%s: %u CLOSE_WAIT: %s The kernel never times CLOSE_WAIT out.",
            tcpi_scope_name(sc), n, why[sc]);
    }
    if (!any)
        add(a, TCPI_ADVICE_OK, "close_wait", "No CLOSE_WAIT in any scope: "
            "both sides close what the peer closed.");
}

static void advise_fin_wait2(advice_list_t *a, const tcpi_sysctl_t *s,
                             const uint32_t c[TCPI_NSCOPES][TCPI_NSTATES])
{
    uint32_t f = c[TCPI_SCOPE_FRONT][TCPI_ST_FIN_WAIT2];
    uint32_t b = c[TCPI_SCOPE_BACKEND][TCPI_ST_FIN_WAIT2];
    uint32_t l = c[TCPI_SCOPE_BACKEND_LOCAL][TCPI_ST_FIN_WAIT2];
    uint32_t n = f + b + l;

    if (n == 0) {
        add(a, TCPI_ADVICE_OK, "fin_wait2", "No FIN_WAIT2: peers answer "
            "this side's FIN with their own.");
        return;
    }
    add(a, n >= 100 ? TCPI_ADVICE_WARNING : TCPI_ADVICE_INFO, "fin_wait2",
        "FIN_WAIT2: %u (front %u, backend %u, backend_local %u): this side "
        "closed and the peer has not sent its FIN. Orphaned ones are dropped "
        "after tcp_fin_timeout (%lld s); many mean peers that never close. "
        "Lowering tcp_fin_timeout shortens only this wait.", n, f, b, l,
        val(s, TCPI_SYS_FIN_TIMEOUT));
}

static void advise_myths(advice_list_t *a, const tcpi_sysctl_t *s)
{
    const tcpi_sysctl_value_t *r = &s->k[TCPI_SYS_TW_RECYCLE];

    if (r->present == 0)
        add(a, TCPI_ADVICE_INFO, "tw_recycle", "tcp_tw_recycle is absent: it "
            "was removed in Linux 4.12 because it dropped connections from "
            "clients behind NAT. Advice to enable it is obsolete; "
            "tcp_tw_reuse (%s) is the knob for outgoing connections.",
            s->k[TCPI_SYS_TW_REUSE].present == 1 ? s->k[TCPI_SYS_TW_REUSE].text
                                                 : "absent");
    else if (val(s, TCPI_SYS_TW_RECYCLE) > 0)
        add(a, TCPI_ADVICE_CRITICAL, "tw_recycle", "tcp_tw_recycle=%s: this "
            "kernel still has it, and it drops SYNs from clients behind NAT; "
            "set it to 0.", r->text);
    add(a, TCPI_ADVICE_INFO, "time_wait_length", "TIME_WAIT lasts a fixed "
        "60 s on Linux (TCP_TIMEWAIT_LEN, compiled in): no sysctl changes "
        "it, and tcp_fin_timeout (%lld s) governs orphaned FIN_WAIT2 only.",
        val(s, TCPI_SYS_FIN_TIMEOUT));
}

int tcpi_sysctl_advise(tcpi_advice_t *out, int max, const tcpi_sysctl_t *sys,
                       const uint32_t count[TCPI_NSCOPES][TCPI_NSTATES],
                       int counts_ok)
{
    advice_list_t a = { out, max, 0 };

    if (counts_ok) {
        advise_time_wait(&a, sys, count);
        advise_ports(&a, sys, count);
        advise_syn_recv(&a, sys, count);
        advise_close_wait(&a, count);
        advise_fin_wait2(&a, sys, count);
    } else {
        add(&a, TCPI_ADVICE_INFO, "counts", "The state counts are not "
            "available, so the advice that needs them is left out.");
    }
    advise_myths(&a, sys);
    return a.n;
}
