/*
 * mod_tcpinspect.c — the httpd glue: directives, the capture worker's life
 * cycle (the mod_cgid pattern), and the /tcp-inspect handler. Everything
 * else lives in the core library (src/, include/), which never sees httpd.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_listen.h"
#include "ap_mpm.h"
#include "ap_expr.h"
#include "mpm_common.h"
#include "util_script.h"
#include "unixd.h"
#include "mod_proxy.h"
#include "mod_status.h"

#include "apr_strings.h"
#include "apr_signal.h"
#include "apr_atomic.h"
#include "apr_uri.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

#include <pcap/pcap.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tcpi_common.h"
#include "tcpi_config.h"
#include "tcpi_evstates.h"
#include "tcpi_export.h"
#include "tcpi_flowview.h"
#include "tcpi_packets.h"
#include "tcpi_report.h"
#include "tcpi_reqcap.h"
#include "tcpi_reqview.h"
#include "tcpi_sandbox.h"
#include "tcpi_shm.h"
#include "tcpi_shmmap.h"
#include "tcpi_sockdiag.h"
#include "tcpi_trigger.h"
#include "tcpi_worker.h"

module AP_MODULE_DECLARE_DATA tcpinspect_module;

/* The project's own stable log tags, like httpd's APLOGNO. */
#define TCPILOG(n) "TCPI" #n ": "

#define UNSET (-1)

typedef struct {
    int              engine;
    tcpi_leg_t       front;
    tcpi_leg_t       backend;
    const char      *filter;
    uint64_t         snaplen;
    uint64_t         ring_size;
    uint64_t         kernel_buffer;
    apr_array_header_t *thresholds;   /* tcpi_threshold_t */
    const char      *capture_dir;
    uint64_t         capture_count;
    uint64_t         capture_size;
    apr_array_header_t *redact;       /* const char * */
    int              redact_off;
} tcpi_srv_conf_t;

typedef enum { CAPTURE_UNSET = 0, CAPTURE_OFF, CAPTURE_ON, CAPTURE_EXPR } capture_mode_e;

typedef struct {
    const char     *location;         /* the <Location> path, for sub-pages */
    int             allow_download;
    capture_mode_e  capture;
    ap_expr_info_t *capture_expr;
} tcpi_dir_conf_t;

/* Process-wide state of the parent (and, inherited read-only, of the MPM
 * children). Reset in every post_config: the DSO may be reloaded on
 * restart, and a generation's region dies with its pconf. */
static struct {
    tcpi_shm_t  *shm;            /* the read-only view (the log writable) */
    tcpi_shm_t  *shm_rw;         /* the writers' view: parent and worker
                                    only, NULL elsewhere (tcpi_shmmap.h) */
    tcpi_shmmap_t map;
    tcpi_worker_conf_t wconf;    /* the worker's plan, private to the
                                    parent, copied at fork */
    apr_pool_t  *pconf;
    server_rec  *s;
    pid_t        parent;
    apr_proc_t   proc;           /* the current worker; pid 0 when none */
    int          stopping;       /* pconf is being cleared */
    apr_time_t   started_at;     /* when the current worker's delay ends */
    apr_interval_time_t backoff; /* the current worker's delay */
    uint32_t     restarts, startup_failures;
    tcpi_ports_t front_ports;
    tcpi_ports_t backend_ports;
    /* The event-kept state counter: owned (loaded, attached) by the
     * parent; every forked process forgets the handle in child_init or
     * worker_main and keeps only the read-only counts. */
    tcpi_evstates_t *evh;
    const volatile tcpi_ev_counts_t *ev;
} g;

/* ---- configuration --------------------------------------------------- */

static void *create_srv_conf(apr_pool_t *p, server_rec *s)
{
    tcpi_srv_conf_t *c = apr_pcalloc(p, sizeof(*c));

    c->engine = UNSET;
    c->thresholds = apr_array_make(p, 4, sizeof(tcpi_threshold_t));
    c->redact = apr_array_make(p, 4, sizeof(const char *));
    return c;
}

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    tcpi_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));

    c->location = dir;
    c->allow_download = UNSET;
    return c;
}

static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    tcpi_dir_conf_t *base = basev, *add = addv;
    tcpi_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));

    c->location = add->location ? add->location : base->location;
    c->allow_download = add->allow_download != UNSET ? add->allow_download
                                                     : base->allow_download;
    if (add->capture != CAPTURE_UNSET) {
        c->capture = add->capture;
        c->capture_expr = add->capture_expr;
    } else {
        c->capture = base->capture;
        c->capture_expr = base->capture_expr;
    }
    return c;
}

static tcpi_srv_conf_t *srv_conf(server_rec *s)
{
    return ap_get_module_config(s->module_config, &tcpinspect_module);
}

/* Every TCPInspect server directive is global (one capture worker per
 * httpd): a virtual host's own server config is empty, so requests read
 * the main server's. */
static tcpi_srv_conf_t *global_conf(request_rec *r)
{
    return srv_conf(g.s ? g.s : r->server);
}

/* Directive setters stay thin: the core parses, we name the directive. */
static const char *named(cmd_parms *cmd, const char *err)
{
    return err ? apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL) : NULL;
}

static const char *global_only(cmd_parms *cmd)
{
    return ap_check_cmd_context(cmd, GLOBAL_ONLY);
}

static const char *set_engine(cmd_parms *cmd, void *d, int flag)
{
    const char *err = global_only(cmd);
    if (err)
        return err;
    srv_conf(cmd->server)->engine = flag;
    return NULL;
}

static const char *set_leg(cmd_parms *cmd, void *d, int argc,
                           char *const argv[])
{
    tcpi_srv_conf_t *c = srv_conf(cmd->server);
    tcpi_leg_t *leg = cmd->info ? &c->backend : &c->front;
    const char *err = global_only(cmd);
    if (err)
        return err;
    if ((err = tcpi_conf_parse_leg(leg, argc, argv, cmd->pool)) != NULL)
        return named(cmd, err);
    return NULL;
}

static const char *set_filter(cmd_parms *cmd, void *d, const char *arg)
{
    const char *err = global_only(cmd);
    if (err)
        return err;
    /* Compiled here for a named interface's link type (Ethernet), so a
     * filter that cannot compile fails with this line; whether it also runs
     * on "any" (LINUX_SLL) is known once every leg is read:
     * tcpi_check_config. */
    tcpi_srv_conf_t *c = srv_conf(cmd->server);
    if ((err = tcpi_conf_check_bpf(arg, DLT_EN10MB, cmd->pool)) != NULL)
        return named(cmd, err);
    c->filter = arg;
    return NULL;
}

static const char *set_size(cmd_parms *cmd, void *d, const char *arg)
{
    tcpi_srv_conf_t *c = srv_conf(cmd->server);
    const char *which = cmd->info;
    const char *err = global_only(cmd);
    if (err)
        return err;
    if (strcmp(which, "snaplen") == 0)
        err = tcpi_conf_parse_size(&c->snaplen, arg, TCPI_SNAPLEN_MIN,
                                   TCPI_SNAPLEN_MAX, cmd->pool);
    else if (strcmp(which, "ring") == 0)
        err = tcpi_conf_parse_size(&c->ring_size, arg, TCPI_RING_MIN,
                                   TCPI_RING_MAX, cmd->pool);
    else
        err = tcpi_conf_parse_size(&c->kernel_buffer, arg, TCPI_KBUF_MIN,
                                   TCPI_KBUF_MAX, cmd->pool);
    return named(cmd, err);
}

static const char *set_threshold(cmd_parms *cmd, void *d, int argc,
                                 char *const argv[])
{
    tcpi_srv_conf_t *c = srv_conf(cmd->server);
    tcpi_threshold_t t;
    const char *err = global_only(cmd);
    if (err)
        return err;
    if ((err = tcpi_conf_parse_threshold(&t, argc, argv, cmd->pool)) != NULL)
        return named(cmd, err);
    if (c->thresholds->nelts >= TCPI_MAX_THRESHOLDS)
        return named(cmd, "too many thresholds");
    *(tcpi_threshold_t *)apr_array_push(c->thresholds) = t;
    return NULL;
}

static const char *set_capture_dir(cmd_parms *cmd, void *d, const char *arg)
{
    const char *err = global_only(cmd);
    const char *path;
    if (err)
        return err;
    path = ap_server_root_relative(cmd->pool, arg);
    if (path == NULL || *arg == '\0')
        return named(cmd, apr_psprintf(cmd->pool, "invalid path '%s'", arg));
    srv_conf(cmd->server)->capture_dir = path;
    return NULL;
}

static const char *set_capture_limit(cmd_parms *cmd, void *d,
                                     const char *count, const char *size)
{
    tcpi_srv_conf_t *c = srv_conf(cmd->server);
    const char *err = global_only(cmd);
    if (err)
        return err;
    if ((err = tcpi_conf_parse_count(&c->capture_count, count, 1, 1000000,
                                     cmd->pool)) != NULL)
        return named(cmd, apr_pstrcat(cmd->pool, "count: ", err, NULL));
    if ((err = tcpi_conf_parse_size(&c->capture_size, size, 1 << 20,
                                    1ull << 40, cmd->pool)) != NULL)
        return named(cmd, apr_pstrcat(cmd->pool, "size: ", err, NULL));
    return NULL;
}

static const char *set_redact(cmd_parms *cmd, void *d, int argc,
                              char *const argv[])
{
    tcpi_srv_conf_t *c = srv_conf(cmd->server);
    const char *err = global_only(cmd);
    if (err)
        return err;
    if (argc == 0)
        return named(cmd, "takes header names or Off");
    if (argc == 1 && strcasecmp(argv[0], "off") == 0) {
        c->redact_off = 1;
        return NULL;
    }
    for (int i = 0; i < argc; i++) {
        if ((err = tcpi_conf_check_header(argv[i], cmd->pool)) != NULL)
            return named(cmd, err);
        if (strlen(argv[i]) >= TCPI_REDACT_NAME_MAX)
            return named(cmd, apr_psprintf(cmd->pool, "header name longer "
                         "than %d characters", TCPI_REDACT_NAME_MAX - 1));
        if (c->redact->nelts >= TCPI_MAX_REDACT)
            return named(cmd, "too many headers");
        *(const char **)apr_array_push(c->redact) = argv[i];
    }
    return NULL;
}

static const char *set_allow_download(cmd_parms *cmd, void *d, int flag)
{
    ((tcpi_dir_conf_t *)d)->allow_download = flag;
    return NULL;
}

/* A TCPInspectCapture rule other than Off was configured (this
 * generation): post_config warns when there is no directory for it. */
static int capture_rules_seen;

static const char *set_capture(cmd_parms *cmd, void *d, const char *arg)
{
    tcpi_dir_conf_t *c = d;
    const char *err = NULL;

    if (strcasecmp(arg, "off") != 0)
        capture_rules_seen = 1;

    if (strcasecmp(arg, "on") == 0) {
        c->capture = CAPTURE_ON;
    } else if (strcasecmp(arg, "off") == 0) {
        c->capture = CAPTURE_OFF;
    } else if (strncasecmp(arg, "expr=", 5) == 0) {
        c->capture_expr = ap_expr_parse_cmd(cmd, arg + 5,
                                            AP_EXPR_FLAG_DONT_VARY, &err, NULL);
        if (err != NULL)
            return named(cmd, apr_psprintf(cmd->pool, "cannot parse "
                                           "expression '%s': %s", arg + 5, err));
        c->capture = CAPTURE_EXPR;
    } else {
        return named(cmd, apr_psprintf(cmd->pool, "'%s' is not On, Off or "
                                       "expr=<expression>", arg));
    }
    return NULL;
}

static const command_rec tcpi_cmds[] = {
    AP_INIT_FLAG("TCPInspectEngine", set_engine, NULL, RSRC_CONF,
                 "On to run the capture worker"),
    AP_INIT_TAKE_ARGV("TCPInspectFrontend", set_leg, NULL, RSRC_CONF,
                      "[interface] port... of the client-facing leg"),
    AP_INIT_TAKE_ARGV("TCPInspectBackend", set_leg, (void *)1, RSRC_CONF,
                      "[interface] port... of the backend leg"),
    AP_INIT_TAKE1("TCPInspectFilter", set_filter, NULL, RSRC_CONF,
                  "BPF expression ANDed with the port scope"),
    AP_INIT_TAKE1("TCPInspectSnaplen", set_size, "snaplen", RSRC_CONF,
                  "bytes kept per packet"),
    AP_INIT_TAKE1("TCPInspectRingSize", set_size, "ring", RSRC_CONF,
                  "size of the shared recent-packet ring"),
    AP_INIT_TAKE1("TCPInspectKernelBuffer", set_size, "kbuf", RSRC_CONF,
                  "kernel capture buffer per interface"),
    AP_INIT_TAKE_ARGV("TCPInspectThreshold", set_threshold, NULL, RSRC_CONF,
                      "STATE warning critical [front|backend|backend_local]"),
    AP_INIT_TAKE1("TCPInspectCaptureDir", set_capture_dir, NULL, RSRC_CONF,
                  "directory for triggered per-request captures"),
    AP_INIT_TAKE2("TCPInspectCaptureLimit", set_capture_limit, NULL, RSRC_CONF,
                  "count size: bound of the capture directory"),
    AP_INIT_TAKE_ARGV("TCPInspectRedact", set_redact, NULL, RSRC_CONF,
                      "header names masked in decoded views, or Off"),
    AP_INIT_FLAG("TCPInspectAllowDownload", set_allow_download, NULL,
                 OR_AUTHCFG | RSRC_CONF, "serve raw pcap/pcapng downloads"),
    AP_INIT_TAKE1("TCPInspectCapture", set_capture, NULL,
                  OR_AUTHCFG | RSRC_CONF, "On, Off or expr=<expression>"),
    { NULL }
};

/* ---- defaults from Listen and mod_proxy ------------------------------ */

static void default_front_ports(tcpi_ports_t *ports)
{
    for (ap_listen_rec *lr = ap_listeners; lr; lr = lr->next)
        if (lr->bind_addr != NULL)
            tcpi_ports_add(ports, lr->bind_addr->port);
}

static int is_loopback_host(const char *h)
{
    return strncmp(h, "127.", 4) == 0 || strcasecmp(h, "localhost") == 0 ||
           strcmp(h, "::1") == 0 || strcmp(h, "[::1]") == 0;
}

static void add_worker(tcpi_ports_t *ports, int *all_loopback,
                       const proxy_worker *w)
{
    const proxy_worker_shared *ws = w->s;
    const char *host;

    if (ws == NULL || strcasecmp(ws->scheme, "http") != 0)
        return;
    host = ws->hostname_ex[0] ? ws->hostname_ex : ws->hostname;
    if (!is_loopback_host(host))
        *all_loopback = 0;
    tcpi_ports_add(ports, ws->port ? ws->port : 80);
}

/* Every ProxyPass / BalancerMember http worker of every server. */
static void default_backend(tcpi_ports_t *ports, int *all_loopback,
                            server_rec *main_s)
{
    module *proxy = ap_find_linked_module("mod_proxy.c");

    *all_loopback = 1;
    if (proxy == NULL)
        return;
    for (server_rec *s = main_s; s; s = s->next) {
        proxy_server_conf *pc = ap_get_module_config(s->module_config, proxy);
        if (pc == NULL)
            continue;
        if (pc->workers && pc->workers->elt_size == sizeof(proxy_worker))
            for (int i = 0; i < pc->workers->nelts; i++)
                add_worker(ports, all_loopback,
                           &((proxy_worker *)pc->workers->elts)[i]);
        if (pc->balancers == NULL)
            continue;
        for (int b = 0; b < pc->balancers->nelts; b++) {
            proxy_balancer *bal = &((proxy_balancer *)pc->balancers->elts)[b];
            if (bal->workers == NULL)
                continue;
            for (int i = 0; i < bal->workers->nelts; i++)
                add_worker(ports, all_loopback,
                           ((proxy_worker **)bal->workers->elts)[i]);
        }
    }
}

/* ---- the capture worker ---------------------------------------------- */

static volatile sig_atomic_t worker_stop;

static void worker_on_term(int sig)
{
    worker_stop = 1;
}

static void core_log(void *baton, int level, const char *tag, const char *msg)
{
    ap_log_error(APLOG_MARK, level, 0, (server_rec *)baton, "%s: %s", tag, msg);
}

/* The event counts, unless the worker found them wrong this generation. */
static const volatile tcpi_ev_counts_t *usable_ev(void)
{
    if (g.ev == NULL || (g.shm && atomic_load(&g.shm->ev_drift)))
        return NULL;
    return g.ev;
}

/* Every EV_CHECK_EVERY samples the worker checks the event counts against
 * a dump of the same states; EV_CHECK_STRIKES disagreements in a row (a
 * verdict needs the counts to stand still during the dump) retire them
 * until the next restart, and every page counts with full dumps. */
#define EV_CHECK_EVERY 10
#define EV_CHECK_STRIKES 3

static void worker_check_ev(void)
{
    static unsigned ticks, strikes;
    char diff[sizeof(g.shm->ev_diff)];
    int rc;

    if (usable_ev() == NULL || ++ticks % EV_CHECK_EVERY != 0)
        return;
    rc = tcpi_sockdiag_check_ev(g.ev, &g.front_ports, &g.backend_ports, diff,
                                sizeof(diff));
    if (rc == 0)
        return;                         /* they moved: no verdict */
    atomic_fetch_add(&g.shm_rw->ev_checks, 1);
    if (rc > 0) {
        atomic_fetch_add(&g.shm_rw->ev_agreed, 1);
        strikes = 0;
        return;
    }
    atomic_fetch_add(&g.shm_rw->ev_disagreed, 1);
    memcpy(g.shm_rw->ev_diff, diff, sizeof(diff));
    if (++strikes >= EV_CHECK_STRIKES) {
        atomic_store(&g.shm_rw->ev_drift, 1);
        tcpi_log(TCPI_LOG_ERR, "TCPI0302", "the state-change event counts "
                 "disagree with the kernel (%s) %u times in a row: counting "
                 "with full sock_diag dumps until the next restart", diff,
                 strikes);
    }
}

/* The worker's once-a-second history sample (it runs as User by then). */
static int worker_sample(void *baton, uint32_t count[TCPI_NSCOPES][TCPI_NSTATES])
{
    char err[160];

    worker_check_ev();
    return tcpi_sockdiag_count_ev(count, NULL, err, sizeof(err), &g.front_ports,
                                  &g.backend_ports, usable_ev());
}

/* Sleep the restart delay before opening anything, watching for
 * SIGTERM and for the parent's death; 0 when it is time to start. */
static int worker_delay(apr_interval_time_t delay)
{
    apr_time_t until = apr_time_now() + delay;

    while (!worker_stop && apr_time_now() < until) {
        if (getppid() != g.parent)
            return -1;
        apr_sleep(apr_time_from_msec(100));
    }
    return worker_stop ? -1 : 0;
}

/* Every server's error log descriptor (a file or a piped logger). */
static size_t error_log_fds(server_rec *s, int *fds, size_t max)
{
    size_t n = 0;

    for (; s != NULL && n < max; s = s->next) {
        apr_os_file_t fd;
        if (s->error_log && apr_os_file_get(&fd, s->error_log) == APR_SUCCESS)
            fds[n++] = fd;
    }
    return n;
}

static void worker_main(server_rec *s, apr_pool_t *p, apr_interval_time_t delay)
{
    tcpi_worker_conf_t wc = g.wconf;    /* the plan: private memory */
    tcpi_worker_t *w;
    char err[256];
    int rc;

    /* Not an MPM child: default signal dispositions, no listeners. The
     * parent's graceful/restart signals to the process group are ignored;
     * the parent stops us with SIGTERM from its pconf cleanup. */
    apr_signal(SIGCHLD, SIG_DFL);
    apr_signal(SIGPIPE, SIG_IGN);
    apr_signal(SIGHUP, SIG_IGN);
    apr_signal(SIGUSR1, SIG_IGN);
    apr_signal(SIGWINCH, SIG_IGN);
    apr_signal(SIGINT, worker_on_term);
    apr_signal(SIGTERM, worker_on_term);
    ap_close_listeners();
    tcpi_evstates_forget(g.evh);
    g.evh = NULL;
    if (delay > 0 && worker_delay(delay) != 0)
        _exit(TCPI_EXIT_OK);
    {
        /* Only what the worker writes to stays open: not the MPM's pipe
         * of death, nor other modules' files and sockets. */
        int keep[64];
        tcpi_sandbox_close_inherited(keep, error_log_fds(s, keep, 64));
    }

    wc.sample = worker_sample;
    /* As root: check the region against the plan, open the packet
     * sockets. Nothing shared is read. */
    w = tcpi_worker_open(&wc, err, sizeof(err));
    if (w == NULL) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, TCPILOG(0101)
                     "capture worker cannot start: %s", err);
        _exit(TCPI_EXIT_STARTUP);
    }
    /* Then become httpd's User/Group, keeping the handles. */
    if (ap_run_drop_privileges(p, s) != OK) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, TCPILOG(0102)
                     "capture worker cannot drop privileges");
        _exit(TCPI_EXIT_STARTUP);
    }
    /* No capabilities, no_new_privs, not dumpable, and a seccomp filter
     * that allows only what the loop, the join, the sampler and the
     * capture files need (tcpi_sandbox.h). */
    {
        tcpi_sandbox_conf_t sc = { .log_only = 0 };
        if (tcpi_sandbox_enter(&sc, err, sizeof(err)) != 0) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, TCPILOG(0106)
                         "capture worker cannot enter its sandbox: %s", err);
            _exit(TCPI_EXIT_STARTUP);
        }
    }
    {
        tcpi_sandbox_status_t ss;
        uint32_t bits = 0;
        if (tcpi_sandbox_status(&ss) == 0)
            bits = (ss.no_new_privs ? TCPI_SANDBOXED_NO_NEW_PRIVS : 0) |
                   (ss.seccomp == 2 ? TCPI_SANDBOXED_SECCOMP : 0) |
                   (!ss.cap_eff && !ss.cap_prm ? TCPI_SANDBOXED_NO_CAPS : 0) |
                   (!ss.dumpable ? TCPI_SANDBOXED_NOT_DUMPABLE : 0);
        atomic_store(&g.shm_rw->worker_sandbox, bits);
    }
    atomic_store(&g.shm_rw->worker_uid, (uint32_t)getuid());
    atomic_store(&g.shm_rw->worker_pid, (int32_t)getpid());
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, TCPILOG(0103)
                 "capture worker %d running as uid %d with %d of %u "
                 "interface(s)", (int)getpid(), (int)getuid(),
                 tcpi_worker_active(w), wc.niface);
    rc = tcpi_worker_run(w, &worker_stop);
    tcpi_worker_close(w);
    /* _exit: the pools and atexit handlers belong to the parent. */
    _exit(rc == 0 ? TCPI_EXIT_OK : 1);
}

static void worker_maint(int reason, void *data, apr_wait_t status);

/* Fork the worker now; it waits `delay` itself before it opens anything,
 * so a restart needs no timer in the parent. */
static apr_status_t worker_start(apr_interval_time_t delay)
{
    apr_status_t rv;
    apr_proc_t proc;

    tcpi_shmmap_fork_begin(&g.map);
    rv = apr_proc_fork(&proc, g.pconf);
    if (rv == APR_INCHILD) {
        apr_pool_t *p;
        apr_pool_create(&p, g.pconf);
        worker_main(g.s, p, delay);
        _exit(1);                       /* not reached */
    }
    tcpi_shmmap_fork_end(&g.map);
    if (rv != APR_INPARENT) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, g.s, TCPILOG(0104)
                     "cannot fork the capture worker");
        return rv;
    }
    g.proc = proc;
    g.backoff = delay;
    g.started_at = apr_time_now() + delay;
    /* Not running until it beats itself: the last worker's heartbeat is
     * not this one's. */
    atomic_store(&g.shm_rw->heartbeat_ns, 0);
    atomic_store(&g.shm_rw->worker_sandbox, 0);
    atomic_store(&g.shm_rw->worker_pid, (int32_t)proc.pid);
    apr_proc_other_child_register(&g.proc, worker_maint, &g.proc, NULL,
                                  g.pconf);
    return APR_SUCCESS;
}

/* Called by the MPM when the worker dies or the parent restarts. The
 * parent reads nothing shared here: its counts are its own, and only
 * stored. */
static void worker_maint(int reason, void *data, apr_wait_t status)
{
    int code = 0;
    apr_interval_time_t delay;

    switch (reason) {
    case APR_OC_REASON_DEATH:
    case APR_OC_REASON_LOST:
        apr_proc_other_child_unregister(data);
        /* Reaped: never signal this pid again. */
        g.proc.pid = 0;
        if (g.shm_rw == NULL)
            break;                      /* the region is gone already */
        atomic_store(&g.shm_rw->worker_pid, 0);
        if (reason == APR_OC_REASON_DEATH) {
            code = WIFEXITED(status) ? WEXITSTATUS(status)
                 : WIFSIGNALED(status) ? -WTERMSIG(status) : 0;
            atomic_store(&g.shm_rw->last_exit, code);
        }
        if (g.stopping)
            break;
        atomic_store(&g.shm_rw->restarts, ++g.restarts);
        if (code == TCPI_EXIT_STARTUP)
            atomic_store(&g.shm_rw->startup_failures, ++g.startup_failures);
        delay = apr_time_from_msec(tcpi_worker_backoff_ms(
            (uint64_t)apr_time_as_msec(g.backoff),
            apr_time_now() > g.started_at
                ? (uint64_t)apr_time_as_msec(apr_time_now() - g.started_at) : 0,
            code == TCPI_EXIT_STARTUP));
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, g.s, TCPILOG(0105)
                     "capture worker exited (%d); restarting in %" APR_TIME_T_FMT
                     ".%03d s", code, apr_time_sec(delay),
                     (int)(apr_time_as_msec(delay) % 1000));
        worker_start(delay);
        break;
    case APR_OC_REASON_RESTART:
        /* httpd restarts: the pconf cleanup stops this worker and the next
         * generation's post_config starts its own. */
        apr_proc_other_child_unregister(data);
        break;
    default:
        break;
    }
}

/* pconf cleanup in the parent: stop this generation's worker. */
static apr_status_t worker_cleanup(void *data)
{
    pid_t pid = g.proc.pid;

    if (getpid() != g.parent)
        return APR_SUCCESS;            /* an MPM child exiting: not ours */
    g.stopping = 1;
    if (pid <= 0)
        return APR_SUCCESS;
    /* No apr_proc_other_child_unregister here: the registration's own
     * pconf cleanup (registered after this one, so run before it) or the
     * RESTART callback already removed it, and APR crashes on a second
     * unregister. */
    /* Still our unreaped child? After the RESTART unregister the MPM's
     * own waitpid may have reaped it, and its pid may be someone else's
     * by now: signal only a child that waitpid says is still running. */
    if (waitpid(pid, NULL, WNOHANG) != 0) {
        g.proc.pid = 0;
        return APR_SUCCESS;
    }
    kill(pid, SIGTERM);
    for (int i = 0; i < 40; i++) {         /* up to 2 s */
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            pid = 0;
            break;
        }
        apr_sleep(apr_time_from_msec(50));
    }
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    g.proc.pid = 0;
    return APR_SUCCESS;
}

/* httpd's maintenance loop reaps children that are not its own after a
 * one-second sleep. A SIGCHLD handler that does nothing cuts that sleep
 * short (the sleep returns EINTR), so a dead worker is restarted at once.
 * Installed only over the default disposition, and removed again before
 * the DSO can be unloaded (a pconf cleanup) and in every MPM child. */
static void parent_on_chld(int sig)
{
}

static apr_status_t chld_cleanup(void *data)
{
    struct sigaction cur;

    if (sigaction(SIGCHLD, NULL, &cur) == 0 && cur.sa_handler == parent_on_chld)
        apr_signal(SIGCHLD, SIG_DFL);
    return APR_SUCCESS;
}

static void wake_on_child_exit(apr_pool_t *pconf)
{
    struct sigaction cur, sa;

    if (sigaction(SIGCHLD, NULL, &cur) != 0 || (cur.sa_flags & SA_SIGINFO) ||
        (cur.sa_handler != SIG_DFL && cur.sa_handler != parent_on_chld))
        return;                         /* someone else's: leave it */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = parent_on_chld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGCHLD, &sa, NULL) == 0)
        apr_pool_cleanup_register(pconf, NULL, chld_cleanup,
                                  apr_pool_cleanup_null);
}

/* pconf cleanup: unmap this generation's region (in the parent, after
 * its worker was stopped: cleanups run in reverse order). */
static apr_status_t map_cleanup(void *data)
{
    if (getpid() != g.parent)
        return APR_SUCCESS;
    g.shm = g.shm_rw = NULL;
    tcpi_shmmap_destroy(&g.map);
    return APR_SUCCESS;
}

/* pconf cleanup in the parent: detach this generation's event counter
 * (its counts read invalid from then on, in every process). */
static apr_status_t ev_cleanup(void *data)
{
    if (getpid() == g.parent && g.evh != NULL) {
        tcpi_evstates_close(g.evh);
        g.evh = NULL;
        g.ev = NULL;
    }
    return APR_SUCCESS;
}

/* Load the event-kept state counter, or say why every count will be a
 * full dump. */
static void ev_start(server_rec *s, apr_pool_t *pconf)
{
    char err[256];

    if (g.front_ports.n == 0 && g.backend_ports.n == 0)
        return;
    g.evh = tcpi_evstates_open(&g.front_ports, &g.backend_ports, err, sizeof(err));
    if (g.evh == NULL) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, TCPILOG(0005)
                     "state counts: no state-change event counter (%s); "
                     "every count is a full sock_diag dump", err);
        return;
    }
    g.ev = tcpi_evstates_counts(g.evh);
    apr_pool_cleanup_register(pconf, NULL, ev_cleanup, apr_pool_cleanup_null);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, TCPILOG(0006)
                 "state counts: full sockets kept from state-change events "
                 "(%llu in scope at load)", (unsigned long long)g.ev->seeded);
}

static void tcpi_child_init(apr_pool_t *p, server_rec *s)
{
    if (getpid() == g.parent)
        return;                 /* httpd -X: the "child" is the owner */
    tcpi_evstates_forget(g.evh);
    g.evh = NULL;
    chld_cleanup(NULL);
    /* The writers' view was not inherited (MADV_DONTFORK): forget it. */
    g.shm_rw = NULL;
    g.map.rw = NULL;
}

/* The two legs as the worker will open them: the ports (the directive's,
 * else the Listen ports and the proxy workers' ports) and the interface
 * (the directive's, else "any"; a backend of loopback workers only is
 * "lo"). */
static void resolve_legs(server_rec *s, tcpi_srv_conf_t *c, tcpi_ports_t *front,
                         tcpi_ports_t *backend, const char **front_if,
                         const char **back_if)
{
    tcpi_ports_t proxy_ports = { .n = 0 };
    int backend_lo = 1;

    memset(front, 0, sizeof(*front));
    if (c->front.set)
        *front = c->front.ports;
    else
        default_front_ports(front);
    default_backend(&proxy_ports, &backend_lo, s);
    *backend = c->backend.set ? c->backend.ports : proxy_ports;
    *front_if = c->front.iface[0] ? c->front.iface : "any";
    *back_if = c->backend.iface[0] ? c->backend.iface
               : (backend_lo && proxy_ports.n ? "lo" : "any");
}

/* Once the whole configuration is read (also for `apachectl configtest`),
 * whatever the order of the directives: a TCPInspectFilter must compile
 * for the LINUX_SLL link type of every leg that will capture on "any". */
static int tcpi_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    tcpi_srv_conf_t *c = srv_conf(s);
    tcpi_ports_t ports[2];
    const char *ifname[2], *err;

    if (c->capture_dir != NULL) {
        char why[TCPI_PATH_MAX + 256];
        /* Here, not in the directive: User may come later in the file. */
        uid_t uid = geteuid() == 0 ? ap_unixd_config.user_id : geteuid();
        gid_t gid = geteuid() == 0 ? ap_unixd_config.group_id : getegid();
        if (tcpi_trigger_check_dir(why, sizeof(why), c->capture_dir, uid,
                                   gid) != 0) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, NULL,
                         TCPILOG(0606) "TCPInspectCaptureDir: %s", why);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    if (c->filter == NULL)
        return OK;
    resolve_legs(s, c, &ports[0], &ports[1], &ifname[0], &ifname[1]);
    for (int leg = 0; leg < 2; leg++) {
        if (ports[leg].n == 0 || strcmp(ifname[leg], "any") != 0)
            continue;
        err = tcpi_conf_check_bpf(c->filter, DLT_LINUX_SLL, ptemp);
        if (err != NULL) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, NULL,
                         TCPILOG(0007) "TCPInspectFilter: cannot run on the "
                         "%s leg's interface any (name its interface with %s "
                         "to use link-layer fields): %s",
                         leg ? "backend" : "frontend",
                         leg ? "TCPInspectBackend" : "TCPInspectFrontend", err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

/* ---- post_config ----------------------------------------------------- */

typedef struct {
    char         name[TCPI_IFNAMSIZ];
    uint32_t     legs;
    tcpi_ports_t ports;
} plan_iface_t;

static void plan_add(plan_iface_t *plan, int *n, const char *name,
                     uint32_t leg, const tcpi_ports_t *ports)
{
    int i;

    for (i = 0; i < *n; i++)
        if (strcmp(plan[i].name, name) == 0)
            break;
    if (i == *n) {
        if (*n >= TCPI_MAX_IFACES)
            return;
        memset(&plan[i], 0, sizeof(plan[i]));
        apr_cpystrn(plan[i].name, name, sizeof(plan[i].name));
        (*n)++;
    }
    plan[i].legs |= leg;
    for (int k = 0; k < ports->n; k++)
        tcpi_ports_add(&plan[i].ports, ports->port[k]);
}

/* Triggered captures: the parent (still root) creates the directory and
 * gives it to User, so that the worker can write there after dropping
 * privileges. A directory that cannot be set up is reported, not fatal:
 * httpd serves, and the status page says why no files are written. */
static void setup_capture_dir(tcpi_srv_conf_t *c, server_rec *s)
{
    char err[TCPI_PATH_MAX + 128];
    int too_long = c->capture_dir && strlen(c->capture_dir) >= TCPI_PATH_MAX;

    tcpi_trigger_configure(g.shm_rw, too_long ? NULL : c->capture_dir,
                           c->capture_count, c->capture_size,
                           (uint32_t)c->snaplen);
    if (c->capture_dir == NULL) {
        if (capture_rules_seen)
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, TCPILOG(0603)
                         "TCPInspectCapture rules are configured but "
                         "TCPInspectCaptureDir is not: matching requests' "
                         "packets are only kept in the ring");
        capture_rules_seen = 0;
        return;
    }
    capture_rules_seen = 0;
    if (too_long) {
        tcpi_trigger_set_error(g.shm_rw, "TCPInspectCaptureDir is too long");
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, TCPILOG(0604)
                     "TCPInspectCaptureDir %s is longer than %d bytes: no "
                     "captures are saved", c->capture_dir, TCPI_PATH_MAX - 1);
        return;
    }
    if (geteuid() == 0 &&
        tcpi_trigger_prepare_dir(err, sizeof(err), c->capture_dir,
                                 ap_unixd_config.user_id,
                                 ap_unixd_config.group_id) != 0) {
        tcpi_trigger_set_error(g.shm_rw, err);
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, TCPILOG(0605)
                     "TCPInspectCaptureDir: %s; requests keep being served "
                     "and their packets stay in the ring", err);
    }
}

static int tcpi_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s)
{
    tcpi_srv_conf_t *c = srv_conf(s);
    plan_iface_t plan[TCPI_MAX_IFACES];
    int nplan = 0;
    const char *front_if, *back_if;
    tcpi_shm_layout_t lay;
    char err[256];

    memset(&g, 0, sizeof(g));
    g.pconf = pconf;
    g.s = s;
    g.parent = getpid();
    tcpi_log_set(core_log, s);

    /* Resolve defaults. */
    if (c->snaplen == 0)
        c->snaplen = TCPI_SNAPLEN_DEFAULT;
    if (c->ring_size == 0)
        c->ring_size = TCPI_RING_DEFAULT;
    if (c->kernel_buffer == 0)
        c->kernel_buffer = TCPI_KBUF_DEFAULT;
    resolve_legs(s, c, &g.front_ports, &g.backend_ports, &front_if, &back_if);

    /* The first pass only checks the configuration. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;

    if (g.front_ports.n)
        plan_add(plan, &nplan, front_if, TCPI_LEG_FRONT, &g.front_ports);
    if (g.backend_ports.n)
        plan_add(plan, &nplan, back_if, TCPI_LEG_BACKEND, &g.backend_ports);

    tcpi_shm_layout(&lay, c->ring_size);
    if (tcpi_shmmap_create(&g.map, lay.size, lay.reqlog_off, err,
                           sizeof(err)) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, TCPILOG(0001)
                     "cannot create %" APR_UINT64_T_FMT " bytes of shared "
                     "memory (TCPInspectRingSize): %s", lay.size, err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_pool_cleanup_register(pconf, NULL, map_cleanup, apr_pool_cleanup_null);
    g.shm_rw = tcpi_shm_init(g.map.rw, c->ring_size,
                             (uint32_t)ap_state_query(AP_SQ_CONFIG_GEN));
    if (g.shm_rw == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, TCPILOG(0002)
                     "cannot format the shared region");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    g.shm = g.map.ro;
    /* The worker's plan, kept here in the parent's private memory. */
    memset(&g.wconf, 0, sizeof(g.wconf));
    g.wconf.shm = g.shm_rw;
    g.wconf.ring_size = c->ring_size;
    g.wconf.snaplen = (uint32_t)c->snaplen;
    g.wconf.kernel_buffer = c->kernel_buffer;
    g.wconf.parent = g.parent;
    for (int i = 0; i < nplan; i++) {
        tcpi_worker_iface_t *wi = &g.wconf.iface[g.wconf.niface];
        if (tcpi_filter_build(wi->filter, sizeof(wi->filter), &plan[i].ports,
                              c->filter) != 0) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, TCPILOG(0003)
                         "TCPInspectFilter: the filter for %s is longer than "
                         "%d bytes", plan[i].name, TCPI_FILTER_MAX);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        apr_cpystrn(wi->name, plan[i].name, sizeof(wi->name));
        wi->legs = plan[i].legs;
        /* The pages' copy of the plan. */
        tcpi_shm_add_iface(g.shm_rw, wi->name, wi->legs, wi->filter);
        g.wconf.niface++;
    }
    setup_capture_dir(c, s);
    apr_pool_cleanup_register(pconf, NULL, worker_cleanup,
                              apr_pool_cleanup_null);
    ev_start(s, pconf);
    if (c->engine == 1 && nplan > 0) {
        wake_on_child_exit(pconf);
        worker_start(0);
    }
    return OK;
}

/* ---- requests: ids, backend tuples, the request log ------------------- */

typedef struct {
    const char     *id;
    int             has_backend;
    int             reused;
    unsigned long   conn_requests;    /* on the frontend connection, before */
    tcpi_endpoint_t backend_local;
    tcpi_endpoint_t backend_remote;
} req_state_t;

/* Per frontend connection (the master under HTTP/2), in c->conn_config:
 * the event MPM moves a connection between threads, so nothing of this
 * lives in a thread-local. Allocated in pre_connection, on the
 * connection's own thread: HTTP/2 streams run on other threads and must
 * not allocate from the master's pool; they only count, atomically. */
typedef struct {
    apr_uint32_t requests;            /* read so far */
} tcpi_conn_state_t;

static apr_uint32_t req_counter;      /* per process; ids are pid-scoped */

static void endpoint_from(tcpi_endpoint_t *ep, const apr_sockaddr_t *sa)
{
    memset(ep, 0, sizeof(*ep));
    if (sa == NULL)
        return;
    if (sa->family == APR_INET) {
        ep->family = 4;
        memcpy(ep->addr, &sa->sa.sin.sin_addr, 4);
    }
#if APR_HAVE_IPV6
    else if (sa->family == APR_INET6 &&
             IN6_IS_ADDR_V4MAPPED(&sa->sa.sin6.sin6_addr)) {
        /* A dual-stack listener: the packets on the wire are IPv4. */
        ep->family = 4;
        memcpy(ep->addr, (const char *)&sa->sa.sin6.sin6_addr + 12, 4);
    } else if (sa->family == APR_INET6) {
        ep->family = 6;
        memcpy(ep->addr, &sa->sa.sin6.sin6_addr, 16);
    }
#endif
    ep->port = sa->port;
}

static conn_rec *front_conn(conn_rec *c)
{
    while (c->master)          /* HTTP/2: the real client connection */
        c = c->master;
    return c;
}

static req_state_t *req_state(request_rec *r)
{
    req_state_t *st;

    while (r->prev)            /* internal redirects keep the first id */
        r = r->prev;
    while (r->main)
        r = r->main;
    st = ap_get_module_config(r->request_config, &tcpinspect_module);
    if (st == NULL) {
        conn_rec *c = front_conn(r->connection);
        tcpi_conn_state_t *cs = ap_get_module_config(c->conn_config,
                                                     &tcpinspect_module);
        const char *uid = apr_table_get(r->subprocess_env, "UNIQUE_ID");

        /* UNIQUE_ID may come from elsewhere than mod_unique_id (SetEnvIf
         * from a client's X-Request-Id): used only when it is an id the
         * pages, file names and the access log can carry unchanged. */
        if (uid && !tcpi_req_id_valid(uid, strlen(uid)))
            uid = NULL;

        st = apr_pcalloc(r->pool, sizeof(*st));
        if (cs != NULL)
            st->conn_requests = apr_atomic_inc32(&cs->requests);
        /* mod_unique_id's id when it is loaded, else our own: time, pid
         * and a per-process counter (atomic: threaded MPMs) make it
         * unique on this host. */
        st->id = uid ? uid : apr_psprintf(r->pool, "%" APR_UINT64_T_HEX_FMT
                                          "-%x-%x", (apr_uint64_t)r->request_time,
                                          (unsigned)getpid(),
                                          apr_atomic_inc32(&req_counter) + 1);
        ap_set_module_config(r->request_config, &tcpinspect_module, st);
        apr_table_setn(r->notes, "tcpinspect-id", st->id);
    }
    return st;
}

static int tcpi_pre_connection(conn_rec *c, void *csd)
{
    if (c->master == NULL && csd != NULL)
        ap_set_module_config(c->conn_config, &tcpinspect_module,
                             apr_pcalloc(c->pool, sizeof(tcpi_conn_state_t)));
    return OK;
}

/* After mod_unique_id (APR_HOOK_MIDDLE) so its id is used when present. */
static int tcpi_post_read_request(request_rec *r)
{
    if (r->main == NULL && r->prev == NULL)
        req_state(r);
    return DECLINED;
}

/* mod_proxy's create_req: pr is the backend request, pr->connection the
 * backend connection. mod_proxy_http calls it from make_fake_req when it
 * starts reading the response, after sending the request. A pooled
 * connection keeps its conn_rec while it stays in the pool (proxy_util.c
 * creates one only when proxy_conn_rec->connection is NULL, and
 * socket_cleanup clears that when the socket closes), and mod_proxy_http
 * counts each HTTP/1.1 response on it in keepalives after this hook runs:
 * keepalives > 0 is exactly "reused" -- the same test mod_proxy uses for
 * its keepalive race. A retry on a fresh connection calls us again and
 * overwrites the tuple with the connection that answered. */
static int tcpi_proxy_create_req(request_rec *r, request_rec *pr)
{
    req_state_t *st = req_state(r);
    conn_rec *bc = pr->connection;

    if (bc == NULL)
        return OK;
    st->reused = bc->keepalives > 0;
    st->has_backend = 1;
    endpoint_from(&st->backend_local, bc->local_addr);
    endpoint_from(&st->backend_remote, bc->client_addr);
    return OK;
}

/* Without create_req (another proxy module, or a mod_proxy that did not
 * run it) mod_proxy_http's proxy-source-port note still names the local
 * port; the remote end comes from the proxy: URL when it is an address
 * literal. The local address of a loopback backend is the loopback
 * address of the same family (Linux picks it; mod_proxy 2.4 does not
 * bind a source address). */
static void backend_from_note(tcpi_req_t *rec, request_rec *r)
{
    const char *port = apr_table_get(r->notes, "proxy-source-port");
    apr_uri_t u;
    tcpi_endpoint_t *rem = &rec->backend_remote, *loc = &rec->backend_local;
    char *end;
    long lp;

    if (port == NULL || r->filename == NULL ||
        strncmp(r->filename, "proxy:", 6) != 0 ||
        apr_uri_parse(r->pool, r->filename + 6, &u) != APR_SUCCESS ||
        u.hostname == NULL)
        return;
    lp = strtol(port, &end, 10);
    if (*end != '\0' || lp <= 0 || lp > 65535)
        return;
    memset(rem, 0, sizeof(*rem));
    if (inet_pton(AF_INET, u.hostname, rem->addr) == 1)
        rem->family = 4;
    else if (inet_pton(AF_INET6, u.hostname, rem->addr) == 1)
        rem->family = 6;
    else
        return;
    rem->port = u.port ? u.port : apr_uri_port_of_scheme(u.scheme);
    memset(loc, 0, sizeof(*loc));
    loc->family = rem->family;
    loc->port = (uint16_t)lp;
    if (rem->family == 4 && rem->addr[0] == 127)
        loc->addr[0] = 127, loc->addr[3] = 1;
    else if (rem->family == 6 && IN6_IS_ADDR_LOOPBACK((struct in6_addr *)rem->addr))
        loc->addr[15] = 1;
    else
        return;                 /* local address unknown: no tuple */
    rec->has_backend = 1;
    rec->backend_src = TCPI_BACKEND_SRC_NOTE;
}

/* The socket's own addresses: modules such as mod_remoteip change what
 * the request sees (r->useragent_addr; others rewrite c->client_addr),
 * the wire only knows the socket. */
static void front_from_socket(tcpi_req_t *rec, conn_rec *c)
{
    apr_socket_t *sock = ap_get_conn_socket(c);
    apr_sockaddr_t *sa;

    if (sock != NULL && apr_socket_addr_get(&sa, APR_REMOTE, sock) == APR_SUCCESS)
        endpoint_from(&rec->front_client, sa);
    else
        endpoint_from(&rec->front_client, c->client_addr);
    if (sock != NULL && apr_socket_addr_get(&sa, APR_LOCAL, sock) == APR_SUCCESS)
        endpoint_from(&rec->front_server, sa);
    else
        endpoint_from(&rec->front_server, c->local_addr);
}

static int capture_matches(request_rec *r)
{
    tcpi_dir_conf_t *dc = ap_get_module_config(r->per_dir_config,
                                               &tcpinspect_module);
    const char *err = NULL;
    int rc;

    switch (dc->capture) {
    case CAPTURE_ON:
        return 1;
    case CAPTURE_EXPR:
        rc = ap_expr_exec(r, dc->capture_expr, &err);
        if (err != NULL) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, TCPILOG(0301)
                          "TCPInspectCapture: cannot evaluate: %s", err);
            return 0;
        }
        return rc > 0;
    default:
        return 0;
    }
}

/* Log time: one fixed-size record into the shared request log. */
static int tcpi_log_transaction(request_rec *r)
{
    req_state_t *st;
    tcpi_req_t rec;
    conn_rec *c = r->connection;
    request_rec *rf = r;
    const char *dur;

    if (g.shm == NULL || r->main != NULL)
        return DECLINED;
    /* log_transaction gets the original request; after an internal
     * redirect (ErrorDocument, DirectoryIndex, ...) the status, the bytes
     * and the location whose TCPInspectCapture applies are the final
     * one's, as mod_log_config's %>s. */
    while (rf->next)
        rf = rf->next;
    st = req_state(r);
    /* mod_log_config reads %{...}n from the final request: the id goes
     * there too, or a redirected request logs "-" for it. */
    for (request_rec *n = r->next; n; n = n->next)
        apr_table_setn(n->notes, "tcpinspect-id", st->id);
    c = front_conn(c);
    memset(&rec, 0, sizeof(rec));
    apr_cpystrn(rec.id, st->id, sizeof(rec.id));
    apr_cpystrn(rec.method, r->method ? r->method : "", sizeof(rec.method));
    apr_cpystrn(rec.uri, r->unparsed_uri ? r->unparsed_uri : "", sizeof(rec.uri));
    front_from_socket(&rec, c);
    if (st->has_backend) {
        rec.has_backend = 1;
        rec.backend_src = TCPI_BACKEND_SRC_CREATE_REQ;
        rec.backend_reused = (uint8_t)st->reused;
        rec.backend_local = st->backend_local;
        rec.backend_remote = st->backend_remote;
    } else {
        backend_from_note(&rec, rf);
    }
    rec.status = (uint16_t)rf->status;
    rec.pid = (int32_t)getpid();
    rec.start_us = (uint64_t)r->request_time;
    rec.end_us = (uint64_t)apr_time_now();
    rec.bytes_sent = (uint64_t)rf->bytes_sent;
    rec.conn_id = (uint64_t)c->id;
    rec.keepalives = (uint32_t)c->keepalives;
    rec.conn_requests = (uint32_t)st->conn_requests;
    /* ap_expr has no duration: TCPInspectCapture rules read it as
     * %{note:tcpinspect-duration-ms}. */
    dur = apr_psprintf(r->pool, "%" APR_UINT64_T_FMT,
                       (apr_uint64_t)(rec.end_us > rec.start_us
                                      ? (rec.end_us - rec.start_us) / 1000 : 0));
    apr_table_setn(r->notes, "tcpinspect-duration-ms", dur);
    if (rf != r)
        apr_table_setn(rf->notes, "tcpinspect-duration-ms", dur);
    rec.capture = (uint8_t)capture_matches(rf);
    tcpi_reqlog_put(tcpi_shm_reqlog(g.shm), &rec);
    return DECLINED;
}

/* ---- the handler ----------------------------------------------------- */

static int out_sink(void *baton, const void *buf, size_t len)
{
    request_rec *r = baton;
    return ap_rwrite(buf, (int)len, r) < 0 ? -1 : 0;
}

typedef struct {
    request_rec     *r;
    tcpi_dir_conf_t *dc;
    apr_table_t     *args;
    const char      *base;     /* handler location, HTML-safe */
} page_t;

typedef int page_fn(page_t *pg);

/* Counted here, in the serving process, straight from the kernel: no
 * privilege needed and nothing shared with the capture worker. */
static void count_states(tcpi_snapshot_t *snap, tcpi_srv_conf_t *c)
{
    uint32_t count[TCPI_NSCOPES][TCPI_NSTATES];
    uint64_t t0 = tcpi_now_mono_ns();
    tcpi_sockdiag_stats_t st = { 0 };

    if (tcpi_sockdiag_count_ev(count, &st, snap->counts_error,
                               sizeof(snap->counts_error), &g.front_ports,
                               &g.backend_ports, usable_ev()) == 0)
        tcpi_snapshot_counts(snap, count,
                             (const tcpi_threshold_t *)c->thresholds->elts,
                             c->thresholds->nelts);
    else
        snap->counts_ok = 0;
    snap->counts_took_us = (tcpi_now_mono_ns() - t0) / 1000;
    snap->ev.used = (int)st.events;
    snap->ev.loaded = g.ev != NULL;
    if (g.ev) {
        snap->ev.changes = g.ev->events;
        snap->ev.seeded = g.ev->seeded;
        snap->ev.lost = g.ev->lost;
        snap->ev.raced = g.ev->raced;
    }
    if (g.shm == NULL)
        return;
    snap->ev.checks = atomic_load(&g.shm->ev_checks);
    snap->ev.agreed = atomic_load(&g.shm->ev_agreed);
    snap->ev.disagreed = atomic_load(&g.shm->ev_disagreed);
    snap->ev.drift = (int)atomic_load(&g.shm->ev_drift);
    memcpy(snap->ev.diff, g.shm->ev_diff, sizeof(snap->ev.diff));
    snap->ev.diff[sizeof(snap->ev.diff) - 1] = '\0';
}

static void take_snapshot(tcpi_snapshot_t *snap, request_rec *r)
{
    tcpi_srv_conf_t *c = global_conf(r);

    memset(snap, 0, sizeof(*snap));
    tcpi_snapshot_capture(snap, g.shm);
    tcpi_snapshot_history(snap, g.shm, TCPI_HIST_LEN);
    count_states(snap, c);
    tcpi_snapshot_sysctl(snap, "/proc/sys");
    tcpi_snapshot_requests(snap, g.shm);
    snap->engine = c->engine == 1;
    snap->snaplen = (uint32_t)c->snaplen;
    snap->ports[TCPI_SCOPE_FRONT] = g.front_ports;
    snap->ports[TCPI_SCOPE_BACKEND] = g.backend_ports;
    snap->ports[TCPI_SCOPE_BACKEND_LOCAL] = g.backend_ports;
}

/* An error page in plain text: the message may quote the client's
 * input, so it is never HTML. */
static int plain_error(request_rec *r, int status, const char *msg)
{
    ap_set_content_type(r, "text/plain; charset=utf-8");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    apr_table_unset(r->headers_out, "Content-Disposition");
    r->status = status;
    ap_rprintf(r, "%s: %s\n", ap_get_status_line(status), msg);
    return OK;
}

static int bad_request(request_rec *r, const char *msg)
{
    return plain_error(r, HTTP_BAD_REQUEST, msg);
}

typedef void render_fn(tcpi_out_t *o, const tcpi_snapshot_t *s);

static int send_rendered(page_t *pg, const char *ctype, render_fn *fn)
{
    tcpi_snapshot_t *snap = apr_palloc(pg->r->pool, sizeof(*snap));
    tcpi_out_t *o = apr_palloc(pg->r->pool, sizeof(*o));

    take_snapshot(snap, pg->r);
    ap_set_content_type(pg->r, ctype);
    apr_table_setn(pg->r->headers_out, "Cache-Control", "no-store");
    if (pg->r->header_only)
        return OK;
    tcpi_out_init(o, out_sink, pg->r);
    fn(o, snap);
    tcpi_out_flush(o);
    return OK;
}

static int page_overview(page_t *pg)
{
    request_rec *r = pg->r;
    const char *refresh = apr_table_get(pg->args, "refresh");
    tcpi_snapshot_t *snap;
    tcpi_out_t *o;

    if (apr_table_get(pg->args, "auto"))
        return send_rendered(pg, "text/plain; charset=utf-8", tcpi_render_auto);
    if (refresh != NULL) {
        uint64_t n;
        if (tcpi_conf_parse_count(&n, refresh, 1, 3600, r->pool) != NULL)
            return bad_request(r, "refresh must be a number of seconds "
                               "from 1 to 3600");
        apr_table_setn(r->headers_out, "Refresh", apr_psprintf(r->pool, "%u",
                                                               (unsigned)n));
    }
    snap = apr_palloc(r->pool, sizeof(*snap));
    o = apr_palloc(r->pool, sizeof(*o));
    take_snapshot(snap, r);
    if (apr_table_get(pg->args, "nagios")) {
        ap_set_content_type(r, "text/plain; charset=utf-8");
        apr_table_setn(r->headers_out, "Cache-Control", "no-store");
        if (r->header_only)
            return OK;
        tcpi_out_init(o, out_sink, r);
        tcpi_render_nagios(o, snap);
        tcpi_out_flush(o);
        return OK;
    }
    ap_set_content_type(r, "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Content-Security-Policy",
                   "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'");
    if (r->header_only)
        return OK;
    tcpi_out_init(o, out_sink, r);
    tcpi_render_html(o, snap, pg->base);
    tcpi_out_flush(o);
    return OK;
}

static int page_json(page_t *pg)
{
    return send_rendered(pg, "application/json", tcpi_render_json);
}

static int page_metrics(page_t *pg)
{
    return send_rendered(pg, "text/plain; version=0.0.4; charset=utf-8",
                         tcpi_render_metrics);
}

#define REQ_LIMIT_DEFAULT 100
#define REQ_LIMIT_MAX     TCPI_REQLOG_LEN

static void req_status(tcpi_req_status_t *st)
{
    memset(st, 0, sizeof(*st));
    if (g.shm == NULL)
        return;
    st->log_dropped = tcpi_reqlog_dropped(tcpi_shm_reqlog(g.shm));
    st->have_join = 1;
    tcpi_sumtab_stats(&st->join, tcpi_shm_sumtab(g.shm));
}

/* /requests and /requests.json: recent requests, newest first. */
static tcpi_out_t *view_start(request_rec *r, int json);

static int page_requests(page_t *pg, int json)
{
    request_rec *r = pg->r;
    tcpi_req_filter_t f;
    const char *v;
    uint64_t n, limit = REQ_LIMIT_DEFAULT, *ks;
    tcpi_req_t *recs;
    tcpi_req_status_t st;
    const tcpi_sumtab_t *sums;
    tcpi_out_t *o;
    int count;

    memset(&f, 0, sizeof(f));
    if ((v = apr_table_get(pg->args, "status")) != NULL) {
        if (tcpi_conf_parse_count(&n, v, 100, 599, r->pool) != NULL)
            return bad_request(r, "status must be an HTTP status 100-599");
        f.status = (int)n;
    }
    if ((v = apr_table_get(pg->args, "min_ms")) != NULL) {
        if (tcpi_conf_parse_count(&n, v, 0, 86400000, r->pool) != NULL)
            return bad_request(r, "min_ms must be a number of milliseconds");
        f.min_us = n * 1000;
    }
    if ((v = apr_table_get(pg->args, "limit")) != NULL &&
        tcpi_conf_parse_count(&limit, v, 1, REQ_LIMIT_MAX, r->pool) != NULL)
        return bad_request(r, apr_psprintf(r->pool, "limit must be 1-%u",
                                           REQ_LIMIT_MAX));
    f.uri_prefix = apr_table_get(pg->args, "uri");
    f.client = apr_table_get(pg->args, "client");
    recs = apr_palloc(r->pool, sizeof(*recs) * limit);
    ks = apr_palloc(r->pool, sizeof(*ks) * limit);
    count = g.shm ? tcpi_req_collect(recs, ks, (int)limit,
                                     tcpi_shm_reqlog(g.shm), &f) : 0;
    /* The list shows clients' methods and URIs: the same headers (CSP)
     * as every other view. */
    if ((o = view_start(r, json)) == NULL)
        return OK;
    req_status(&st);
    sums = g.shm ? tcpi_shm_sumtab(g.shm) : NULL;
    if (json)
        tcpi_render_requests_json(o, recs, ks, count, sums, &st);
    else
        tcpi_render_requests_html(o, recs, ks, count, sums, &st, pg->base);
    tcpi_out_flush(o);
    return OK;
}

static int page_requests_html(page_t *pg) { return page_requests(pg, 0); }
static int page_requests_json(page_t *pg) { return page_requests(pg, 1); }

/* ---- downloads: /capture.pcap, /capture.pcapng ------------------------ */

#define DOWNLOAD_SECONDS_MAX 86400

static int download_refused(request_rec *r)
{
    ap_set_content_type(r, "text/plain; charset=utf-8");
    r->status = HTTP_FORBIDDEN;
    ap_rputs("403 Forbidden: capture downloads hold the raw, unredacted "
             "packet bytes (cookies, credentials) and are off here. Allow "
             "them with \"TCPInspectAllowDownload On\" in a <Location> that "
             "only trusted clients reach (see tcpinspect.conf).\n", r);
    return OK;
}

/* The ring as a file, streamed packet by packet (never copied whole). */
static int page_capture(page_t *pg, int pcapng)
{
    request_rec *r = pg->r;
    tcpi_srv_conf_t *c = global_conf(r);
    const char *v, *filter = apr_table_get(pg->args, "filter");
    char err[PCAP_ERRBUF_SIZE + 512], stamp[32];
    int32_t linktype = 1;
    int iface = -1;
    uint64_t secs = 0;
    apr_size_t slen;
    apr_time_exp_t tm;
    tcpi_ring_stats_t st;

    if (pg->dc == NULL || pg->dc->allow_download != 1)
        return download_refused(r);
    if (g.shm == NULL)
        return HTTP_SERVICE_UNAVAILABLE;
    if ((v = apr_table_get(pg->args, "iface")) != NULL &&
        (iface = tcpi_shm_find_iface(g.shm, v)) < 0) {
        const char *names = "";
        for (uint32_t i = 0; i < g.shm->niface && i < TCPI_MAX_IFACES; i++)
            names = apr_pstrcat(r->pool, names, i ? ", " : "",
                                g.shm->iface[i].name, NULL);
        return bad_request(r, apr_psprintf(r->pool, "iface: no captured "
                           "interface is named \"%s\"; the interfaces are: %s",
                           v, names));
    }
    if ((v = apr_table_get(pg->args, "seconds")) != NULL &&
        tcpi_conf_parse_count(&secs, v, 1, DOWNLOAD_SECONDS_MAX, r->pool) != NULL)
        return bad_request(r, apr_psprintf(r->pool, "seconds must be a whole "
                           "number from 1 to %d", DOWNLOAD_SECONDS_MAX));
    if (!pcapng && tcpi_export_linktype(&linktype, g.shm, iface, err,
                                        sizeof(err)) != 0)
        return bad_request(r, err);
    tcpi_query_t *q = apr_palloc(r->pool, sizeof(*q));
    /* Downloads are allowed here, so the filter may read payload. */
    if (tcpi_query_init_ex(q, g.shm, iface, filter, TCPI_QUERY_PAYLOAD, err,
                           sizeof(err)) != 0)
        return bad_request(r, apr_pstrcat(r->pool, "filter: ", err, NULL));
    if (secs)
        q->from_ts_ns = tcpi_now_wall_ns() - secs * 1000000000ull;
    /* A download may be as large as the ring, but a filter that matches
     * little must not scan a 16 GB ring for nothing: no record bound,
     * 2 s of scanning (writing to the client is not counted). */
    q->budget_packets = 0;
    q->budget_ns = 8ull * TCPI_QUERY_BUDGET_MS * 1000000ull;

    apr_time_exp_gmt(&tm, apr_time_now());
    apr_strftime(stamp, &slen, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    ap_set_content_type(r, pcapng ? "application/x-pcapng"
                                  : "application/vnd.tcpdump.pcap");
    apr_table_setn(r->headers_out, "Content-Disposition", apr_psprintf(r->pool,
                   "attachment; filename=\"tcpinspect-%s.%s\"", stamp,
                   pcapng ? "pcapng" : "pcap"));
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    if (r->header_only) {
        tcpi_query_free(q);
        return OK;
    }
    tcpi_ring_stats(&st, tcpi_shm_ring(g.shm));
    size_t bufsize = st.max_caplen ? (size_t)st.max_caplen : 65536;
    uint8_t *buf = apr_palloc(r->pool, bufsize);
    tcpi_out_t *o = apr_palloc(r->pool, sizeof(*o));
    uint64_t n;
    tcpi_out_init(o, out_sink, r);
    n = pcapng ? tcpi_export_pcapng(o, q, (uint32_t)c->snaplen,
                                    tcpi_now_wall_ns(), buf, bufsize)
               : tcpi_export_pcap(o, q, linktype, (uint32_t)c->snaplen, buf,
                                  bufsize);
    tcpi_out_flush(o);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, TCPILOG(0451)
                  "download: %" APR_UINT64_T_FMT " packets, %" APR_UINT64_T_FMT
                  " overwritten while reading%s", n, q->skipped_gone,
                  o->failed ? ", client went away" : "");
    if (q->truncated)
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, TCPILOG(0452)
                      "download cut by the scan budget after %" APR_UINT64_T_FMT
                      " packets examined (%" APR_UINT64_T_FMT " ms); packets "
                      "from #%" APR_UINT64_T_FMT " on are not in it: use "
                      "seconds= or a narrower filter=", q->examined,
                      q->spent_ns / 1000000, q->end);
    tcpi_query_free(q);
    return OK;
}

static int page_capture_pcap(page_t *pg) { return page_capture(pg, 0); }
static int page_capture_pcapng(page_t *pg) { return page_capture(pg, 1); }
/* ---- /packets.txt and /packets (tcpi_packets.h) ---------------------- */

/* The redaction state for one request: TCPInspectRedact names, the
 * defaults when none are given, NULL when Off. */
static tcpi_redact_t *request_redact(request_rec *r)
{
    tcpi_srv_conf_t *c = global_conf(r);
    tcpi_redact_t *rd;
    const char *err;

    if (c->redact_off)
        return NULL;
    rd = apr_palloc(r->pool, sizeof(*rd));
    if (c->redact->nelts > 0)
        err = tcpi_redact_init(rd, (const char *const *)c->redact->elts,
                               c->redact->nelts);
    else
        err = tcpi_redact_init(rd, tcpi_redact_defaults, 4);
    if (err != NULL) {          /* the directive checked the names */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "TCPI0401: redaction: %s",
                      err);
        tcpi_redact_init(rd, tcpi_redact_defaults, 4);
    }
    return rd;
}

static int page_packets(page_t *pg, int html)
{
    request_rec *r = pg->r;
    tcpi_packets_opts_t opt;
    tcpi_packets_stats_t st;
    tcpi_query_t q;
    tcpi_ring_stats_t rs;
    const char *v, *filter = apr_table_get(pg->args, "filter");
    char err[PCAP_ERRBUF_SIZE + 64];
    uint64_t n, max = html ? TCPI_PACKETS_HTML_LIMIT_MAX : TCPI_PACKETS_TXT_LIMIT_MAX;
    int iface = -1, rc;

    memset(&opt, 0, sizeof(opt));
    opt.limit = html ? TCPI_PACKETS_HTML_LIMIT_DEFAULT : TCPI_PACKETS_TXT_LIMIT_DEFAULT;
    if ((v = apr_table_get(pg->args, "limit")) != NULL &&
        tcpi_conf_parse_count(&opt.limit, v, 1, max, r->pool) != NULL)
        return bad_request(r, apr_psprintf(r->pool, "limit must be 1-%u",
                                           (unsigned)max));
    if ((v = apr_table_get(pg->args, "x")) != NULL) {
        if (strcmp(v, "1") != 0 && strcmp(v, "0") != 0)
            return bad_request(r, "x must be 0 or 1");
        opt.hex = v[0] == '1';
    }
    if ((v = apr_table_get(pg->args, "match")) != NULL) {
        if (*v == '\0' || strlen(v) > 256)
            return bad_request(r, "match must be 1-256 bytes");
        opt.match = v;
        opt.match_len = strlen(v);
    }
    if ((v = apr_table_get(pg->args, "iface")) != NULL &&
        (g.shm == NULL || (iface = tcpi_shm_find_iface(g.shm, v)) < 0))
        return bad_request(r, "iface names no captured interface");
    if (g.shm == NULL) {
        ap_set_content_type(r, html ? "text/html; charset=utf-8"
                                    : "text/plain; charset=utf-8");
        return OK;             /* no capture configured: nothing to show */
    }
    /* The filter sees headers only (payload bytes read as zero: no
     * filter can tell a redacted byte) unless the raw bytes may be
     * downloaded here anyway, or nothing is redacted. */
    unsigned qflags = global_conf(r)->redact_off ||
                      (pg->dc != NULL && pg->dc->allow_download == 1)
                      ? TCPI_QUERY_PAYLOAD : 0;
    if (tcpi_query_init_ex(&q, g.shm, iface, filter, qflags, err,
                           sizeof(err)) != 0)
        return bad_request(r, apr_pstrcat(r->pool, "filter: ", err, NULL));
    if ((v = apr_table_get(pg->args, "since")) != NULL) {
        if (tcpi_conf_parse_count(&n, v, 0, UINT64_MAX / 2, r->pool) != NULL) {
            tcpi_query_free(&q);
            return bad_request(r, "since must be a packet number");
        }
        q.since = n;
        opt.have_since = 1;
    }
    opt.redact = request_redact(r);
    opt.front_ports = &g.front_ports;
    opt.backend_ports = &g.backend_ports;
    opt.base = pg->base;
    {
        /* The page's other parameters, for its links (escaped). */
        const char *keep[] = {"filter", "match", "x", "limit", "iface"};
        const char *qs = "";
        for (size_t i = 0; i < TCPI_ARRAY_LEN(keep); i++)
            if ((v = apr_table_get(pg->args, keep[i])) != NULL)
                qs = apr_pstrcat(r->pool, qs, *qs ? "&" : "", keep[i], "=",
                                 ap_escape_urlencoded(r->pool, v), NULL);
        opt.query_html = ap_escape_html2(r->pool, qs, 1);
    }
    tcpi_ring_stats(&rs, q.ring);
    size_t bufsize = rs.max_caplen ? rs.max_caplen : 65536;
    uint8_t *buf = apr_palloc(r->pool, bufsize);

    tcpi_packets_window(&st, &q, &opt, buf, bufsize);
    ap_set_content_type(r, html ? "text/html; charset=utf-8"
                                : "text/plain; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-TCPInspect-Next",
                   apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, st.next));
    if (q.truncated)
        /* The window search hit the scan budget: the page covers only
         * packets #first..#last (the HTML page says so too). */
        apr_table_setn(r->headers_out, "X-TCPInspect-Truncated",
                       apr_psprintf(r->pool, "examined=%" APR_UINT64_T_FMT
                                    "; first=%" APR_UINT64_T_FMT "; last=%"
                                    APR_UINT64_T_FMT, q.examined, q.next,
                                    q.end - 1));
    if (html)
        apr_table_setn(r->headers_out, "Content-Security-Policy",
                       "default-src 'none'; style-src 'unsafe-inline'");
    else
        apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    if (r->header_only) {
        tcpi_query_free(&q);
        return OK;
    }
    tcpi_out_t *o = apr_palloc(r->pool, sizeof(*o));
    tcpi_out_init(o, out_sink, r);
    rc = html ? tcpi_packets_html(&st, o, &q, &opt, buf, bufsize)
              : tcpi_packets_text(&st, o, &q, &opt, buf, bufsize);
    tcpi_out_flush(o);
    tcpi_query_free(&q);
    if (rc != 0)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "TCPI0402: packets "
                      "page cut short: out of memory after %" APR_UINT64_T_FMT
                      " packets", st.shown);
    return OK;
}

static int page_packets_txt(page_t *pg) { return page_packets(pg, 0); }
static int page_packets_html(page_t *pg) { return page_packets(pg, 1); }

/* Headers of a JSON or HTML view; its output, or NULL for HEAD. */
static tcpi_out_t *view_start(request_rec *r, int json)
{
    tcpi_out_t *o;

    ap_set_content_type(r, json ? "application/json"
                                : "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!json)
        apr_table_setn(r->headers_out, "Content-Security-Policy",
                       "default-src 'none'; style-src 'unsafe-inline'");
    if (r->header_only)
        return NULL;
    o = apr_palloc(r->pool, sizeof(*o));
    tcpi_out_init(o, out_sink, r);
    return o;
}

/* /requests/<id> and /requests/<id>.json: one request, looked up by id
 * among the records the log still holds. */
static int page_request(page_t *pg, const char *id, int json)
{
    request_rec *r = pg->r;
    tcpi_req_filter_t f;
    tcpi_req_t rec;
    tcpi_reqsum_t *sum = apr_palloc(r->pool, sizeof(*sum));
    const tcpi_reqsum_t *s = NULL;
    tcpi_out_t *o;
    uint64_t k;

    memset(&f, 0, sizeof(f));
    f.id = id;
    if (g.shm == NULL ||
        tcpi_req_collect(&rec, &k, 1, tcpi_shm_reqlog(g.shm), &f) != 1)
        return HTTP_NOT_FOUND;
    if (tcpi_sumtab_get_for(sum, tcpi_shm_sumtab(g.shm), k, rec.id) == 0)
        s = sum;
    if ((o = view_start(r, json)) == NULL)
        return OK;
    if (json) {
        tcpi_render_request_json(o, &rec, s, 1);
        tcpi_out_str(o, "\n");
    } else {
        tcpi_render_request_html(o, &rec, s, pg->base);
    }
    tcpi_out_flush(o);
    return OK;
}

static int page_request_html(page_t *pg, const char *id)
{
    return page_request(pg, id, 0);
}

static int page_request_json(page_t *pg, const char *id)
{
    return page_request(pg, id, 1);
}

static apr_status_t close_fd(void *fd)
{
    close((int)(intptr_t)fd);
    return APR_SUCCESS;
}

/* A saved capture from a descriptor opened without following a symlink
 * and checked with fstat: no window between a check of the name and the
 * open (tcpi_trigger_open_saved). */
static int send_saved_capture(request_rec *r, const char *dir, const char *name)
{
    struct stat st;
    apr_os_file_t osfd;
    apr_file_t *fd;
    apr_size_t sent;
    int f = tcpi_trigger_open_saved(&st, dir, name, geteuid());

    if (f < 0) {
        if (errno != ENOENT)
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, errno, r, TCPILOG(0607)
                          "TCPInspectCaptureDir: %s/%s not served: not a regular "
                          "file of uid %ld reached without a symlink", dir, name,
                          (long)geteuid());
        return DECLINED;
    }
    apr_pool_cleanup_register(r->pool, (void *)(intptr_t)f, close_fd,
                              apr_pool_cleanup_null);
    osfd = f;
    if (apr_os_file_put(&fd, &osfd, APR_FOPEN_READ | APR_FOPEN_BINARY, r->pool)
        != APR_SUCCESS)
        return DECLINED;
    ap_set_content_type(r, "application/x-pcapng");
    ap_set_content_length(r, st.st_size);
    if (!r->header_only)
        ap_send_fd(fd, r, 0, (apr_size_t)st.st_size, &sent);
    return OK;
}

static apr_status_t free_reqcap(void *sel)
{
    tcpi_reqcap_free(sel);
    return APR_SUCCESS;
}

/* /requests/<id>.pcapng: the saved file of a triggered request, else the
 * request's packets from the ring while they are still there. */
static int page_request_pcapng(page_t *pg, const char *id)
{
    request_rec *r = pg->r;
    tcpi_srv_conf_t *c = global_conf(r);
    char name[TCPI_REQ_ID_MAX + 16];
    tcpi_req_filter_t f;
    tcpi_req_t rec;
    tcpi_reqcap_t *sel;
    tcpi_out_t *o;
    uint64_t k;

    if (pg->dc == NULL || pg->dc->allow_download != 1)
        return download_refused(r);
    if (tcpi_trigger_filename(name, sizeof(name), id) != 0)
        return plain_error(r, HTTP_NOT_FOUND, "no such request id");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    apr_table_setn(r->headers_out, "Content-Disposition",
                   apr_psprintf(r->pool, "attachment; filename=\"%s\"", name));
    if (c->capture_dir != NULL &&
        send_saved_capture(r, c->capture_dir, name) == OK)
        return OK;
    memset(&f, 0, sizeof(f));
    f.id = id;
    if (g.shm == NULL ||
        tcpi_req_collect(&rec, &k, 1, tcpi_shm_reqlog(g.shm), &f) != 1)
        return plain_error(r, HTTP_NOT_FOUND, apr_psprintf(r->pool,
                           "request %s is not in the recent-request log and "
                           "has no saved capture", id));
    sel = apr_pcalloc(r->pool, sizeof(*sel));
    apr_pool_cleanup_register(r->pool, sel, free_reqcap, apr_pool_cleanup_null);
    if (tcpi_reqcap_select(sel, g.shm, &rec) != 0)
        return HTTP_INTERNAL_SERVER_ERROR;
    if (sel->n == 0)
        return plain_error(r, HTTP_NOT_FOUND, apr_psprintf(r->pool,
                           "the packets of request %s are no longer in the "
                           "ring (TCPInspectRingSize), and it has no saved "
                           "capture", id));
    ap_set_content_type(r, "application/x-pcapng");
    if (r->header_only)
        return OK;
    o = apr_palloc(r->pool, sizeof(*o));
    tcpi_out_init(o, out_sink, r);
    tcpi_reqcap_write(o, sel, g.shm, &rec, (uint32_t)c->snaplen);
    return OK;
}

/* /flows and /flows.json: the flows the worker published, filtered. */
static int page_flows(page_t *pg, int json)
{
    request_rec *r = pg->r;
    tcpi_flow_filter_t f = { .leg = -1, .state = -1, .port = 0,
                             .limit = TCPI_FLOWS_LIMIT_DEFAULT };
    tcpi_flowpub_stats_t st;
    tcpi_flowrec_t *recs;
    tcpi_flowrow_t *rows;
    const char *v;
    uint64_t n;
    uint32_t nrec = 0, nrow;
    tcpi_out_t *o;

    if ((v = apr_table_get(pg->args, "leg")) != NULL &&
        (f.leg = tcpi_flowview_leg_from_name(v)) < 0)
        return bad_request(r, "leg must be front, backend or other");
    if ((v = apr_table_get(pg->args, "state")) != NULL &&
        (f.state = tcpi_state_from_name(v)) < 0)
        return bad_request(r, "state must be a netstat state name "
                           "(ESTABLISHED, TIME_WAIT, ...)");
    if ((v = apr_table_get(pg->args, "port")) != NULL &&
        tcpi_conf_parse_port(&f.port, v, r->pool) != NULL)
        return bad_request(r, "port must be 1-65535");
    if ((v = apr_table_get(pg->args, "limit")) != NULL) {
        if (tcpi_conf_parse_count(&n, v, 1, TCPI_FLOWS_LIMIT_MAX, r->pool))
            return bad_request(r, apr_psprintf(r->pool, "limit must be 1-%u",
                                               TCPI_FLOWS_LIMIT_MAX));
        f.limit = (uint32_t)n;
    }
    memset(&st, 0, sizeof(st));
    recs = apr_palloc(r->pool, sizeof(*recs) * TCPI_FLOWPUB_LEN);
    rows = apr_palloc(r->pool, sizeof(*rows) * f.limit);
    if (g.shm != NULL) {
        tcpi_flowpub_stats(&st, tcpi_shm_flowpub(g.shm));
        nrec = tcpi_flowpub_read(recs, TCPI_FLOWPUB_LEN,
                                 tcpi_shm_flowpub(g.shm));
    }
    nrow = tcpi_flowview_select(rows, recs, nrec, &f, &g.front_ports,
                                &g.backend_ports);
    if ((o = view_start(r, json)) == NULL)
        return OK;
    if (json)
        tcpi_render_flows_json(o, rows, nrow);
    else
        tcpi_render_flows_html(o, rows, nrow, &st, pg->base);
    tcpi_out_flush(o);
    return OK;
}

static int page_flows_html(page_t *pg) { return page_flows(pg, 0); }
static int page_flows_json(page_t *pg) { return page_flows(pg, 1); }

/* Each page and the query parameters it accepts (an allow-list). */
static const struct {
    const char *path;
    page_fn    *fn;
    const char *params[8];
} pages[] = {
    { "/",            page_overview, { "auto", "refresh", "nagios", NULL } },
    { "/status.json", page_json,     { NULL } },
    { "/metrics",     page_metrics,  { NULL } },
    { "/requests",    page_requests_html,
      { "status", "min_ms", "uri", "client", "limit", NULL } },
    { "/requests.json", page_requests_json,
      { "status", "min_ms", "uri", "client", "limit", NULL } },
    { "/capture.pcap",   page_capture_pcap,
      { "filter", "seconds", "iface", NULL } },
    { "/capture.pcapng", page_capture_pcapng,
      { "filter", "seconds", "iface", NULL } },
    { "/packets.txt", page_packets_txt,
      { "filter", "match", "x", "limit", "since", "iface", NULL } },
    { "/packets",     page_packets_html,
      { "filter", "match", "x", "limit", "since", "iface", NULL } },
    { "/flows",       page_flows_html, { "leg", "state", "port", "limit", NULL } },
    { "/flows.json",  page_flows_json, { "leg", "state", "port", "limit", NULL } },
};

/* Pages about one object: <prefix><id><suffix>, tried in order (so the
 * longer suffixes first; "" last). The id must be well-formed (400). */
typedef int page_id_fn(page_t *pg, const char *id);
static const struct {
    const char *prefix, *suffix;
    page_id_fn *fn;
    const char *params[4];
} id_pages[] = {
    { "/requests/", ".pcapng", page_request_pcapng, { NULL } },
    { "/requests/", ".json",   page_request_json,   { NULL } },
    { "/requests/", "",        page_request_html,   { NULL } },
};

static int check_params(request_rec *r, apr_table_t *args,
                        const char *const *allowed)
{
    const apr_array_header_t *arr = apr_table_elts(args);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;

    for (int i = 0; i < arr->nelts; i++) {
        int ok = 0;
        for (int k = 0; allowed[k]; k++)
            if (strcmp(e[i].key, allowed[k]) == 0)
                ok = 1;
        if (!ok)
            return bad_request(r, "unknown query parameter");
    }
    return DECLINED;
}

/* The <Location> whose SetHandler sent this request here: our per-dir
 * config only exists where one of our directives appears, so look the
 * section up in core's list. The longest prefix wins, as in the walk. */
static const char *handler_location(request_rec *r, size_t *len)
{
    core_server_config *sc = ap_get_core_module_config(r->server->module_config);
    ap_conf_vector_t **sec = (ap_conf_vector_t **)sc->sec_url->elts;
    const char *best = NULL;

    *len = 0;
    for (int i = 0; i < sc->sec_url->nelts; i++) {
        core_dir_config *d = ap_get_core_module_config(sec[i]);
        const char *h = d->handler, *err = NULL;
        size_t n;

        if (d->r != NULL || d->d == NULL)
            continue;                      /* <LocationMatch>: no prefix */
        n = strlen(d->d);
        while (n > 0 && d->d[n - 1] == '/')
            n--;
        if (strncmp(r->uri, d->d, n) != 0 ||
            (r->uri[n] != '\0' && r->uri[n] != '/'))
            continue;
        if (h == NULL && d->expr_handler != NULL)
            h = ap_expr_str_exec(r, d->expr_handler, &err);
        if (h == NULL || err != NULL || strcasecmp(h, "tcp-inspect") != 0)
            continue;
        if (best == NULL || n >= *len) {
            best = d->d;
            *len = n;
        }
    }
    return best;
}

static int tcpi_handler(request_rec *r)
{
    tcpi_dir_conf_t *dc;
    page_t pg;
    const char *sub, *loc;
    size_t loclen;

    if (r->handler == NULL || strcmp(r->handler, "tcp-inspect") != 0)
        return DECLINED;
    dc = ap_get_module_config(r->per_dir_config, &tcpinspect_module);
    r->allowed |= (AP_METHOD_BIT << M_GET);
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;

    /* The page is the part of the URI below the <Location>. */
    if ((loc = handler_location(r, &loclen)) == NULL)
        return HTTP_NOT_FOUND;
    sub = r->uri + loclen;
    if (*sub == '\0') {
        /* /tcp-inspect -> /tcp-inspect/ so relative links work. */
        apr_table_setn(r->headers_out, "Location",
                       apr_pstrcat(r->pool, ap_escape_uri(r->pool, r->uri), "/",
                                   r->args ? "?" : "", r->args, NULL));
        return HTTP_MOVED_PERMANENTLY;
    }

    memset(&pg, 0, sizeof(pg));
    pg.r = r;
    pg.dc = dc;
    pg.base = ap_escape_html2(r->pool, ap_escape_uri(r->pool,
                              apr_pstrmemdup(r->pool, loc, loclen)), 1);
    ap_args_to_table(r, &pg.args);
    for (size_t i = 0; i < TCPI_ARRAY_LEN(pages); i++) {
        if (strcmp(sub, pages[i].path) != 0)
            continue;
        if (check_params(r, pg.args, pages[i].params) == OK)
            return OK;
        return pages[i].fn(&pg);
    }
    for (size_t i = 0; i < TCPI_ARRAY_LEN(id_pages); i++) {
        size_t pl = strlen(id_pages[i].prefix), sl = strlen(id_pages[i].suffix);
        size_t n = strlen(sub);
        const char *id;

        if (n < pl + sl || strncmp(sub, id_pages[i].prefix, pl) != 0 ||
            strcmp(sub + n - sl, id_pages[i].suffix) != 0)
            continue;
        id = apr_pstrmemdup(r->pool, sub + pl, n - pl - sl);
        if (!tcpi_req_id_valid(id, n - pl - sl)) {
            if (*id == '\0' || strchr(id, '/'))
                return HTTP_NOT_FOUND;
            return bad_request(r, "malformed request id");
        }
        if (check_params(r, pg.args, id_pages[i].params) == OK)
            return OK;
        return id_pages[i].fn(&pg, id);
    }
    return HTTP_NOT_FOUND;
}

/* A section in mod_status's /server-status (and its ?auto form). */
static int tcpi_status_hook(request_rec *r, int flags)
{
    tcpi_snapshot_t *snap = apr_palloc(r->pool, sizeof(*snap));
    tcpi_out_t *o = apr_palloc(r->pool, sizeof(*o));

    take_snapshot(snap, r);
    tcpi_out_init(o, out_sink, r);
    if (flags & AP_STATUS_SHORT) {
        tcpi_render_auto(o, snap);
    } else {
        tcpi_out_str(o, "<hr /><h2>mod_tcpinspect</h2>\n");
        tcpi_render_html_states(o, snap);
    }
    tcpi_out_flush(o);
    return OK;
}

static void tcpi_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_connection(tcpi_pre_connection, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(tcpi_post_read_request, NULL, NULL,
                              APR_HOOK_LAST);
    /* Before mod_log_config, so %{tcpinspect-id}n is set when it logs. */
    ap_hook_log_transaction(tcpi_log_transaction, NULL, NULL, APR_HOOK_FIRST);
    /* mod_proxy runs create_req as an optional hook: registered by name,
     * so the module loads (and simply sees no backend) without it. */
    APR_OPTIONAL_HOOK(proxy, create_req, tcpi_proxy_create_req, NULL, NULL,
                      APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, tcpi_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
    ap_hook_check_config(tcpi_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(tcpi_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(tcpi_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(tcpi_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(tcpinspect) = {
    STANDARD20_MODULE_STUFF,
    create_dir_conf,
    merge_dir_conf,
    create_srv_conf,
    NULL,
    tcpi_cmds,
    tcpi_register_hooks
};
