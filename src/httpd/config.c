/*
 * src/httpd/config.c — the directives: the server and per-directory
 * records and their setters (thin: the core parses, the glue names the
 * directive), the defaults from Listen and mod_proxy, and the check of
 * the whole configuration (check_config).
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_listen.h"
#include "ap_expr.h"
#include "unixd.h"
#include "mod_proxy.h"

#include "apr_strings.h"

#include <pcap/pcap.h>
#include <unistd.h>

#include "mod_tcpinspect.h"
#include "tcpi/common.h"
#include "tcpi/decode.h"
#include "tcpi/reqcap.h"

APLOG_USE_MODULE(tcpinspect);

/* ---- configuration --------------------------------------------------- */

void *tcpi_httpd_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    tcpi_srv_conf_t *c = apr_pcalloc(p, sizeof(*c));

    c->engine = UNSET;
    c->tls_keys = UNSET;
    /* The main server's comes first at each reading of the configuration
     * (a restart, where the module may stay loaded): whether some host
     * keeps keys is decided anew by its directives. */
    if (!s->is_virtual)
        tcpi_httpd_tls_keys_wanted = 0;
    c->thresholds = apr_array_make(p, 4, sizeof(tcpi_threshold_t));
    c->redact = apr_array_make(p, 4, sizeof(const char *));
    return c;
}

void *tcpi_httpd_create_dir_conf(apr_pool_t *p, char *dir)
{
    tcpi_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));

    c->location = dir;
    c->allow_download = UNSET;
    return c;
}

void *tcpi_httpd_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
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

tcpi_srv_conf_t *tcpi_httpd_srv_conf(server_rec *s)
{
    return ap_get_module_config(s->module_config, &tcpinspect_module);
}

/* Every TCPInspect server directive is global (one capture worker per
 * httpd): a virtual host's own server config is empty, so requests read
 * the main server's. */
tcpi_srv_conf_t *tcpi_httpd_global_conf(request_rec *r)
{
    return tcpi_httpd_srv_conf(tcpi_httpd_state.s ? tcpi_httpd_state.s
                                                  : r->server);
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

const char *tcpi_httpd_set_engine(cmd_parms *cmd, void *d, int flag)
{
    const char *err = global_only(cmd);
    if (err)
        return err;
    tcpi_httpd_srv_conf(cmd->server)->engine = flag;
    return NULL;
}

const char *tcpi_httpd_set_leg(cmd_parms *cmd, void *d, int argc,
                               char *const argv[])
{
    tcpi_srv_conf_t *c = tcpi_httpd_srv_conf(cmd->server);
    tcpi_leg_t *leg = cmd->info ? &c->backend : &c->front;
    const char *err = global_only(cmd);
    if (err)
        return err;
    if ((err = tcpi_conf_parse_leg(leg, argc, argv, cmd->pool)) != NULL)
        return named(cmd, err);
    return NULL;
}

const char *tcpi_httpd_set_filter(cmd_parms *cmd, void *d, const char *arg)
{
    const char *err = global_only(cmd);
    if (err)
        return err;
    /* Compiled here for a named interface's link type (Ethernet), so a
     * filter that cannot compile fails with this line; whether it also runs
     * on "any" (LINUX_SLL) is known once every leg is read:
     * tcpi_httpd_check_config. */
    tcpi_srv_conf_t *c = tcpi_httpd_srv_conf(cmd->server);
    if ((err = tcpi_conf_check_bpf(arg, DLT_EN10MB, cmd->pool)) != NULL)
        return named(cmd, err);
    c->filter = arg;
    return NULL;
}

const char *tcpi_httpd_set_size(cmd_parms *cmd, void *d, const char *arg)
{
    tcpi_srv_conf_t *c = tcpi_httpd_srv_conf(cmd->server);
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

const char *tcpi_httpd_set_threshold(cmd_parms *cmd, void *d, int argc,
                                     char *const argv[])
{
    tcpi_srv_conf_t *c = tcpi_httpd_srv_conf(cmd->server);
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

const char *tcpi_httpd_set_capture_dir(cmd_parms *cmd, void *d, const char *arg)
{
    const char *err = global_only(cmd);
    const char *path;
    if (err)
        return err;
    path = ap_server_root_relative(cmd->pool, arg);
    if (path == NULL || *arg == '\0')
        return named(cmd, apr_psprintf(cmd->pool, "invalid path '%s'", arg));
    tcpi_httpd_srv_conf(cmd->server)->capture_dir = path;
    return NULL;
}

const char *tcpi_httpd_set_capture_limit(cmd_parms *cmd, void *d,
                                         const char *count, const char *size)
{
    tcpi_srv_conf_t *c = tcpi_httpd_srv_conf(cmd->server);
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

const char *tcpi_httpd_set_redact(cmd_parms *cmd, void *d, int argc,
                                  char *const argv[])
{
    tcpi_srv_conf_t *c = tcpi_httpd_srv_conf(cmd->server);
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

const char *tcpi_httpd_set_allow_download(cmd_parms *cmd, void *d, int flag)
{
    ((tcpi_dir_conf_t *)d)->allow_download = flag;
    return NULL;
}

/* Server or virtual host: a vhost without it follows the main server. */
const char *tcpi_httpd_set_tls_keys(cmd_parms *cmd, void *d, int flag)
{
    tcpi_httpd_srv_conf(cmd->server)->tls_keys = flag;
    if (flag)
        tcpi_httpd_tls_keys_wanted = 1;
    return NULL;
}

/* CustomLog's syntax: a file (relative to ServerRoot), checked here
 * without being created, or "|command" for a piped logger. */
const char *tcpi_httpd_set_request_log(cmd_parms *cmd, void *d,
                                       const char *arg)
{
    tcpi_srv_conf_t *c = tcpi_httpd_srv_conf(cmd->server);
    const char *err = global_only(cmd), *command, *path;
    if (err)
        return err;
    if ((err = tcpi_conf_parse_log_target(&command, arg, cmd->pool)) != NULL)
        return named(cmd, err);
    if (command != NULL) {
        c->request_log = arg;
        c->request_log_pipe = 1;
        return NULL;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (path == NULL)
        return named(cmd, apr_psprintf(cmd->pool, "invalid path '%s'", arg));
    if ((err = tcpi_conf_check_log_file(path, cmd->pool)) != NULL)
        return named(cmd, err);
    c->request_log = path;
    c->request_log_pipe = 0;
    return NULL;
}

/* A TCPInspectCapture rule other than Off was configured (this
 * generation): post_config warns when there is no directory for it. */
int tcpi_httpd_capture_rules_seen;

const char *tcpi_httpd_set_capture(cmd_parms *cmd, void *d, const char *arg)
{
    tcpi_dir_conf_t *c = d;
    const char *err = NULL;

    if (strcasecmp(arg, "off") != 0)
        tcpi_httpd_capture_rules_seen = 1;

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

/* The two legs as the worker will open them: the ports (the directive's,
 * else the Listen ports and the proxy workers' ports) and the interface
 * (the directive's, else "any"; a backend of loopback workers only is
 * "lo"). */
void tcpi_httpd_resolve_legs(server_rec *s, tcpi_srv_conf_t *c,
                             tcpi_ports_t *front, tcpi_ports_t *backend,
                             const char **front_if, const char **back_if)
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
int tcpi_httpd_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s)
{
    tcpi_srv_conf_t *c = tcpi_httpd_srv_conf(s);
    tcpi_ports_t ports[2];
    const char *ifname[2], *err;

    /* The secrets come from mod_ssl: without it the directive would keep
     * nothing, silently. */
    for (server_rec *v = s; v != NULL; v = v->next) {
        if (tcpi_httpd_srv_conf(v)->tls_keys == 1 &&
            ap_find_linked_module("mod_ssl.c") == NULL) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, NULL,
                         TCPILOG(0009) "TCPInspectTLSKeys On needs mod_ssl "
                         "(LoadModule ssl_module): the secrets come from it");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }

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
    tcpi_httpd_resolve_legs(s, c, &ports[0], &ports[1], &ifname[0], &ifname[1]);
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
