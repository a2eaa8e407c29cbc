/*
 * src/httpd/worker.c — the capture worker's life cycle (the mod_cgid
 * pattern): post_config maps the shared region and plans the worker,
 * which is forked, restarted on death and stopped by a pconf cleanup;
 * the event-kept state counter; child_init.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"
#include "ap_listen.h"
#include "ap_mpm.h"
#include "mpm_common.h"
#include "unixd.h"

#include "apr_strings.h"
#include "apr_signal.h"

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mod_tcpinspect.h"
#include "tcpi/common.h"
#include "tcpi/states.h"
#include "tcpi/capture.h"
#include "tcpi/region.h"
#include "tcpi/store.h"
#include "tcpi/reqcap.h"

APLOG_USE_MODULE(tcpinspect);

/* Process-wide state (mod_tcpinspect.h). */
tcpi_httpd_state_t tcpi_httpd_state;

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
const volatile tcpi_ev_counts_t *tcpi_httpd_usable_ev(void)
{
    if (tcpi_httpd_state.ev == NULL ||
        (tcpi_httpd_state.shm && atomic_load(&tcpi_httpd_state.shm->ev_drift)))
        return NULL;
    return tcpi_httpd_state.ev;
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
    char diff[sizeof(tcpi_httpd_state.shm->ev_diff)];
    int rc;

    if (tcpi_httpd_usable_ev() == NULL || ++ticks % EV_CHECK_EVERY != 0)
        return;
    rc = tcpi_sockdiag_check_ev(tcpi_httpd_state.ev,
                                &tcpi_httpd_state.front_ports,
                                &tcpi_httpd_state.backend_ports, diff,
                                sizeof(diff));
    if (rc == 0)
        return;                         /* they moved: no verdict */
    atomic_fetch_add(&tcpi_httpd_state.shm_rw->ev_checks, 1);
    if (rc > 0) {
        atomic_fetch_add(&tcpi_httpd_state.shm_rw->ev_agreed, 1);
        strikes = 0;
        return;
    }
    atomic_fetch_add(&tcpi_httpd_state.shm_rw->ev_disagreed, 1);
    memcpy(tcpi_httpd_state.shm_rw->ev_diff, diff, sizeof(diff));
    if (++strikes >= EV_CHECK_STRIKES) {
        atomic_store(&tcpi_httpd_state.shm_rw->ev_drift, 1);
        tcpi_log(TCPI_LOG_ERR, TCPI_TAG(0302), "the state-change event counts "
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
    return tcpi_sockdiag_count_ev(count, NULL, err, sizeof(err),
                                  &tcpi_httpd_state.front_ports,
                                  &tcpi_httpd_state.backend_ports,
                                  tcpi_httpd_usable_ev());
}

/* Sleep the restart delay before opening anything, watching for
 * SIGTERM and for the parent's death; 0 when it is time to start. */
static int worker_delay(apr_interval_time_t delay)
{
    apr_time_t until = apr_time_now() + delay;

    while (!worker_stop && apr_time_now() < until) {
        if (getppid() != tcpi_httpd_state.parent)
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
    /* the plan: private memory */
    tcpi_worker_conf_t wc = tcpi_httpd_state.wconf;
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
    tcpi_evstates_forget(tcpi_httpd_state.evh);
    tcpi_httpd_state.evh = NULL;
    if (delay > 0 && worker_delay(delay) != 0)
        _exit(TCPI_EXIT_OK);
    {
        /* Only what the worker writes to stays open: the error logs and
         * TCPInspectRequestLog's file or pipe; not the MPM's pipe of
         * death, nor other modules' files and sockets. */
        int keep[65];
        size_t n = error_log_fds(s, keep, 64);
        if (tcpi_httpd_state.json_log_fd >= 0)
            keep[n++] = tcpi_httpd_state.json_log_fd;
        tcpi_sandbox_close_inherited(keep, n);
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
    /* Then, still root: confine it to the capture directory (nothing else
     * of the file system is reachable: not /proc, not a web root), and
     * become httpd's User/Group ourselves, keeping the handles: by number
     * (no NSS inside the jail), with no supplementary group, and never
     * dumpable (httpd's own drop makes a process dumpable when
     * CoreDumpDirectory is set: a child could then take its sockets). */
    if (geteuid() == 0) {
        const char *dir = tcpi_httpd_srv_conf(s)->capture_dir;
        int in = tcpi_sandbox_confine(dir, err, sizeof(err));
        if (in < 0) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, TCPILOG(0107)
                         "capture worker cannot confine itself: %s", err);
            _exit(TCPI_EXIT_STARTUP);
        }
        if (in == 1)
            tcpi_trigger_confined("/");
        else if (dir != NULL)
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, TCPILOG(0108)
                         "capture worker: TCPInspectCaptureDir %s cannot be "
                         "entered: no captures are saved", dir);
        if (tcpi_sandbox_drop(ap_unixd_config.user_id,
                              ap_unixd_config.group_id, err, sizeof(err)) != 0) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, TCPILOG(0102)
                         "capture worker cannot drop privileges: %s", err);
            _exit(TCPI_EXIT_STARTUP);
        }
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
    /* tcpi_sandbox_enter checked each of these before it returned 0
     * (there is no /proc to read them back from in the jail). */
    atomic_store(&tcpi_httpd_state.shm_rw->worker_sandbox,
                 TCPI_SANDBOXED_NO_NEW_PRIVS | TCPI_SANDBOXED_SECCOMP |
                 TCPI_SANDBOXED_NO_CAPS | TCPI_SANDBOXED_NOT_DUMPABLE);
    atomic_store(&tcpi_httpd_state.shm_rw->worker_uid, (uint32_t)getuid());
    atomic_store(&tcpi_httpd_state.shm_rw->worker_pid, (int32_t)getpid());
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

    tcpi_shmmap_fork_begin(&tcpi_httpd_state.map);
    tcpi_httpd_jsonlog_forking_worker = 1;     /* it keeps the JSON log */
    rv = apr_proc_fork(&proc, tcpi_httpd_state.pconf);
    tcpi_httpd_jsonlog_forking_worker = 0;
    if (rv == APR_INCHILD) {
        apr_pool_t *p;
        apr_pool_create(&p, tcpi_httpd_state.pconf);
        worker_main(tcpi_httpd_state.s, p, delay);
        _exit(1);                       /* not reached */
    }
    tcpi_shmmap_fork_end(&tcpi_httpd_state.map);
    if (rv != APR_INPARENT) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, tcpi_httpd_state.s,
                     TCPILOG(0104) "cannot fork the capture worker; trying "
                     "again from httpd's maintenance loop");
        tcpi_httpd_state.fork_failed = 1;
        tcpi_httpd_state.fork_retry = delay;
        return rv;
    }
    tcpi_httpd_state.fork_failed = 0;
    tcpi_httpd_state.proc = proc;
    tcpi_httpd_state.backoff = delay;
    tcpi_httpd_state.started_at = apr_time_now() + delay;
    /* Not running until it beats itself: the last worker's heartbeat is
     * not this one's. */
    atomic_store(&tcpi_httpd_state.shm_rw->heartbeat_ns, 0);
    atomic_store(&tcpi_httpd_state.shm_rw->worker_sandbox, 0);
    atomic_store(&tcpi_httpd_state.shm_rw->worker_pid, (int32_t)proc.pid);
    apr_proc_other_child_register(&tcpi_httpd_state.proc, worker_maint,
                                  &tcpi_httpd_state.proc, NULL,
                                  tcpi_httpd_state.pconf);
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
        tcpi_httpd_state.proc.pid = 0;
        if (tcpi_httpd_state.shm_rw == NULL)
            break;                      /* the region is gone already */
        atomic_store(&tcpi_httpd_state.shm_rw->worker_pid, 0);
        if (reason == APR_OC_REASON_DEATH) {
            code = WIFEXITED(status) ? WEXITSTATUS(status)
                 : WIFSIGNALED(status) ? -WTERMSIG(status) : 0;
            atomic_store(&tcpi_httpd_state.shm_rw->last_exit, code);
        }
        if (tcpi_httpd_state.stopping)
            break;
        atomic_store(&tcpi_httpd_state.shm_rw->restarts,
                     ++tcpi_httpd_state.restarts);
        if (code == TCPI_EXIT_STARTUP)
            atomic_store(&tcpi_httpd_state.shm_rw->startup_failures,
                         ++tcpi_httpd_state.startup_failures);
        delay = apr_time_from_msec(tcpi_worker_backoff_ms(
            (uint64_t)apr_time_as_msec(tcpi_httpd_state.backoff),
            apr_time_now() > tcpi_httpd_state.started_at
                ? (uint64_t)apr_time_as_msec(apr_time_now() -
                                             tcpi_httpd_state.started_at)
                : 0,
            code == TCPI_EXIT_STARTUP));
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, tcpi_httpd_state.s,
                     TCPILOG(0105) "capture worker exited (%d); restarting "
                     "in %" APR_TIME_T_FMT ".%03d s", code, apr_time_sec(delay),
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
    pid_t pid = tcpi_httpd_state.proc.pid;

    if (getpid() != tcpi_httpd_state.parent)
        return APR_SUCCESS;            /* an MPM child exiting: not ours */
    tcpi_httpd_state.stopping = 1;
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
        tcpi_httpd_state.proc.pid = 0;
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
    tcpi_httpd_state.proc.pid = 0;
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
    if (getpid() != tcpi_httpd_state.parent)
        return APR_SUCCESS;
    tcpi_httpd_state.shm = tcpi_httpd_state.shm_rw = NULL;
    tcpi_httpd_state.reqlog = NULL;
    tcpi_shmmap_destroy(&tcpi_httpd_state.map);
    return APR_SUCCESS;
}

/* pconf cleanup in the parent: detach this generation's event counter
 * (its counts read invalid from then on, in every process). */
static apr_status_t ev_cleanup(void *data)
{
    if (getpid() == tcpi_httpd_state.parent && tcpi_httpd_state.evh != NULL) {
        tcpi_evstates_close(tcpi_httpd_state.evh);
        tcpi_httpd_state.evh = NULL;
        tcpi_httpd_state.ev = NULL;
    }
    return APR_SUCCESS;
}

/* Load the event-kept state counter, or say why every count will be a
 * full dump. */
static void ev_start(server_rec *s, apr_pool_t *pconf)
{
    char err[256];

    if (tcpi_httpd_state.front_ports.n == 0 &&
        tcpi_httpd_state.backend_ports.n == 0)
        return;
    tcpi_httpd_state.evh = tcpi_evstates_open(&tcpi_httpd_state.front_ports,
                                              &tcpi_httpd_state.backend_ports,
                                              err, sizeof(err));
    if (tcpi_httpd_state.evh == NULL) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, TCPILOG(0005)
                     "state counts: no state-change event counter (%s); "
                     "every count is a full sock_diag dump", err);
        return;
    }
    tcpi_httpd_state.ev = tcpi_evstates_counts(tcpi_httpd_state.evh);
    apr_pool_cleanup_register(pconf, NULL, ev_cleanup, apr_pool_cleanup_null);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, TCPILOG(0006)
                 "state counts: full sockets kept from state-change events "
                 "(%" APR_UINT64_T_FMT " in scope at load)",
                 (apr_uint64_t)tcpi_httpd_state.ev->seeded);
}

/* httpd's monitor hook (about every 10 s in the parent): a fork that
 * failed (no memory, a process limit) is tried again, from private
 * state only. */
int tcpi_httpd_monitor(apr_pool_t *p, server_rec *s)
{
    if (tcpi_httpd_state.fork_failed && !tcpi_httpd_state.stopping &&
        tcpi_httpd_state.proc.pid == 0 && tcpi_httpd_state.shm_rw != NULL &&
        getpid() == tcpi_httpd_state.parent)
        worker_start(tcpi_httpd_state.fork_retry);
    return DECLINED;
}

void tcpi_httpd_child_init(apr_pool_t *p, server_rec *s)
{
    if (getpid() == tcpi_httpd_state.parent)
        return;                 /* httpd -X: the "child" is the owner */
    tcpi_evstates_forget(tcpi_httpd_state.evh);
    tcpi_httpd_state.evh = NULL;
    chld_cleanup(NULL);
    tcpi_httpd_jsonlog_child_init();
    /* The writers' view was not inherited (MADV_DONTFORK): forget it. */
    tcpi_httpd_state.shm_rw = NULL;
    tcpi_httpd_state.map.rw = NULL;
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

    tcpi_trigger_configure(tcpi_httpd_state.shm_rw,
                           too_long ? NULL : c->capture_dir,
                           c->capture_count, c->capture_size,
                           (uint32_t)c->snaplen);
    if (c->capture_dir == NULL) {
        if (tcpi_httpd_capture_rules_seen)
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, TCPILOG(0603)
                         "TCPInspectCapture rules are configured but "
                         "TCPInspectCaptureDir is not: matching requests' "
                         "packets are only kept in the ring");
        tcpi_httpd_capture_rules_seen = 0;
        return;
    }
    tcpi_httpd_capture_rules_seen = 0;
    if (too_long) {
        tcpi_trigger_set_error(tcpi_httpd_state.shm_rw,
                               "TCPInspectCaptureDir is too long");
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, TCPILOG(0604)
                     "TCPInspectCaptureDir %s is longer than %d bytes: no "
                     "captures are saved", c->capture_dir, TCPI_PATH_MAX - 1);
        return;
    }
    if (geteuid() == 0 &&
        tcpi_trigger_prepare_dir(err, sizeof(err), c->capture_dir,
                                 ap_unixd_config.user_id,
                                 ap_unixd_config.group_id) != 0) {
        tcpi_trigger_set_error(tcpi_httpd_state.shm_rw, err);
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, TCPILOG(0605)
                     "TCPInspectCaptureDir: %s; requests keep being served "
                     "and their packets stay in the ring", err);
    }
}

int tcpi_httpd_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    tcpi_srv_conf_t *c = tcpi_httpd_srv_conf(s);
    plan_iface_t plan[TCPI_MAX_IFACES];
    int nplan = 0;
    const char *front_if, *back_if;
    tcpi_shm_layout_t lay;
    char err[256];
    int rc;

    memset(&tcpi_httpd_state, 0, sizeof(tcpi_httpd_state));
    tcpi_httpd_state.json_log_fd = tcpi_httpd_state.json_log_rfd = -1;
    tcpi_httpd_state.pconf = pconf;
    tcpi_httpd_state.s = s;
    tcpi_httpd_state.parent = getpid();
    tcpi_log_set(core_log, s);

    /* Resolve defaults. */
    if (c->snaplen == 0)
        c->snaplen = TCPI_SNAPLEN_DEFAULT;
    if (c->ring_size == 0)
        c->ring_size = TCPI_RING_DEFAULT;
    if (c->kernel_buffer == 0)
        c->kernel_buffer = TCPI_KBUF_DEFAULT;
    tcpi_httpd_resolve_legs(s, c, &tcpi_httpd_state.front_ports,
                            &tcpi_httpd_state.backend_ports, &front_if,
                            &back_if);

    /* The first pass only checks the configuration. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;

    if (tcpi_httpd_state.front_ports.n)
        plan_add(plan, &nplan, front_if, TCPI_LEG_FRONT,
                 &tcpi_httpd_state.front_ports);
    if (tcpi_httpd_state.backend_ports.n)
        plan_add(plan, &nplan, back_if, TCPI_LEG_BACKEND,
                 &tcpi_httpd_state.backend_ports);

    tcpi_shm_layout(&lay, c->ring_size);
    if (tcpi_shmmap_create(&tcpi_httpd_state.map, lay.size, lay.reqlog_off, err,
                           sizeof(err)) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, TCPILOG(0001)
                     "cannot create %" APR_UINT64_T_FMT " bytes of shared "
                     "memory (TCPInspectRingSize): %s", lay.size, err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_pool_cleanup_register(pconf, NULL, map_cleanup, apr_pool_cleanup_null);
    tcpi_httpd_state.shm_rw = tcpi_shm_init(tcpi_httpd_state.map.rw,
                                    c->ring_size,
                                    (uint32_t)ap_state_query(AP_SQ_CONFIG_GEN));
    if (tcpi_httpd_state.shm_rw == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, TCPILOG(0002)
                     "cannot format the shared region");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    tcpi_httpd_state.shm = tcpi_httpd_state.map.ro;
    tcpi_httpd_state.reqlog = (tcpi_reqlog_t *)((char *)tcpi_httpd_state.map.ro +
                                                lay.reqlog_off);
    /* Every process finds the parts of both views by this layout, never
     * by the offsets in the header the worker writes. */
    if (tcpi_shm_trust(tcpi_httpd_state.map.ro, c->ring_size) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, TCPILOG(0008)
                     "out of memory for the shared region's layout");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* The worker's plan, kept here in the parent's private memory. */
    memset(&tcpi_httpd_state.wconf, 0, sizeof(tcpi_httpd_state.wconf));
    tcpi_httpd_state.wconf.shm = tcpi_httpd_state.shm_rw;
    tcpi_httpd_state.wconf.ring_size = c->ring_size;
    tcpi_httpd_state.wconf.snaplen = (uint32_t)c->snaplen;
    tcpi_httpd_state.wconf.kernel_buffer = c->kernel_buffer;
    tcpi_httpd_state.wconf.parent = tcpi_httpd_state.parent;
    tcpi_httpd_tls_kept_ports(&tcpi_httpd_state.wconf.hs_ports, s,
                              &tcpi_httpd_state.front_ports);
    for (int i = 0; i < nplan; i++) {
        tcpi_worker_iface_t *wi =
            &tcpi_httpd_state.wconf.iface[tcpi_httpd_state.wconf.niface];
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
        tcpi_shm_add_iface(tcpi_httpd_state.shm_rw, wi->name, wi->legs,
                           wi->filter);
        tcpi_httpd_state.wconf.niface++;
    }
    setup_capture_dir(c, s);
    if ((rc = tcpi_httpd_jsonlog_open(pconf, s, c->engine == 1 && nplan > 0))
        != OK)
        return rc;
    apr_pool_cleanup_register(pconf, NULL, worker_cleanup,
                              apr_pool_cleanup_null);
    ev_start(s, pconf);
    if (c->engine == 1 && nplan > 0) {
        wake_on_child_exit(pconf);
        worker_start(0);
    }
    return OK;
}
