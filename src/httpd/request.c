/*
 * src/httpd/request.c — the request hooks: each request's id, the
 * backend connection mod_proxy used, and at log time one record into
 * the shared request log.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_ssl.h"
#include "ap_expr.h"

#include "apr_strings.h"
#include "apr_atomic.h"
#include "apr_uri.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include "mod_tcpinspect.h"
#include "tcpi/render.h"
#include "tcpi/region.h"

APLOG_USE_MODULE(tcpinspect);

/* ---- requests: ids, backend tuples, the request log ------------------- */

typedef struct {
    const char     *id;
    int             has_backend;
    int             reused;
    unsigned long   conn_requests;    /* on the frontend connection, before */
    apr_uint64_t    wire_in, wire_out; /* a TLS front's counts as it was read */
    int             wire_pipelined;    /* ... which cannot place it */
    tcpi_endpoint_t backend_local;
    tcpi_endpoint_t backend_remote;
    int             backend_tls;      /* mod_proxy's connection is TLS */
    apr_time_t      backend_at;       /* when create_req ran */
    struct tcpi_bkeys_box *box;       /* ... its secrets, once it closes */
} req_state_t;

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
        /* HTTP/1.1 on a TLS front, read on the connection's own thread:
         * where its records begin (tls.c) */
        if (cs != NULL && c == r->connection && cs->wire.on) {
            /* taken first thing after it was read (tls.c); a request
             * whose state is made later (another module's hook failed
             * before ours) cannot be placed */
            st->wire_pipelined = cs->wire.req != r || cs->wire.req_pipelined;
            st->wire_in = cs->wire.req_in;
            st->wire_out = cs->wire.req_out;
        }
        if (cs != NULL)
            tcpi_httpd_tls_request(r, c);
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

/* The secrets leave memory with the connection. */
static apr_status_t conn_state_wipe(void *data)
{
    tcpi_conn_state_t *cs = data;

    memset(cs->keys, 0, sizeof(cs->keys));
    __atomic_store_n(&cs->nkeys, 0, __ATOMIC_RELEASE);
    return APR_SUCCESS;
}

tcpi_conn_state_t *tcpi_httpd_conn_state(conn_rec *c)
{
    tcpi_conn_state_t *cs = ap_get_module_config(c->conn_config,
                                                 &tcpinspect_module);

    if (cs == NULL) {
        cs = apr_pcalloc(c->pool, sizeof(*cs));
        apr_pool_cleanup_register(c->pool, cs, conn_state_wipe,
                                  apr_pool_cleanup_null);
        ap_set_module_config(c->conn_config, &tcpinspect_module, cs);
    }
    return cs;
}

int tcpi_httpd_pre_connection(conn_rec *c, void *csd)
{
    /* mod_ssl's pre_handshake (tls.c) may have made it already. */
    if (c->master == NULL && csd != NULL)
        tcpi_httpd_conn_state(c);
    return OK;
}

/* After mod_unique_id (APR_HOOK_MIDDLE) so its id is used when present. */
int tcpi_httpd_post_read_request(request_rec *r)
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
static apr_status_t box_drop(void *data)
{
    req_state_t *st = data;

    tcpi_httpd_tls_box_drop(st->box);
    st->box = NULL;
    return APR_SUCCESS;
}

int tcpi_httpd_proxy_create_req(request_rec *r, request_rec *pr)
{
    req_state_t *st = req_state(r);
    conn_rec *bc = pr->connection;
    struct tcpi_bkeys_box *box;

    if (bc == NULL)
        return OK;
    st->reused = bc->keepalives > 0;
    st->has_backend = 1;
    /* mod_proxy_http runs create_req as it turns to read the response:
     * the request is on the wire, its answer not yet read, the connection
     * this request's alone (the join finds its exchange by this time). */
    st->backend_at = apr_time_now();
    st->backend_tls = ap_ssl_conn_is_ssl(bc);     /* SSLProxyEngine */
    /* A retry's connection replaces the first one's secrets too. */
    box = st->backend_tls ? tcpi_httpd_tls_backend_box(r, pr, st->reused)
                          : NULL;
    if (st->box == NULL && box != NULL)
        apr_pool_cleanup_register(r->pool, st, box_drop,
                                  apr_pool_cleanup_null);
    tcpi_httpd_tls_box_drop(st->box);
    st->box = box;
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

/* r is the final request of the chain, orig the one logged; the
 * duration (ms) is set as a note for an expression to read. */
static int capture_matches(request_rec *r, request_rec *orig,
                           uint64_t duration_ms)
{
    tcpi_dir_conf_t *dc = ap_get_module_config(r->per_dir_config,
                                               &tcpinspect_module);
    const char *err = NULL, *dur;
    int rc;

    switch (dc->capture) {
    case CAPTURE_ON:
        return 1;
    case CAPTURE_EXPR:
        /* ap_expr has no duration: rules read it as
         * %{note:tcpinspect-duration-ms}, built only where a rule is. */
        dur = apr_psprintf(r->pool, "%" APR_UINT64_T_FMT,
                           (apr_uint64_t)duration_ms);
        apr_table_setn(r->notes, "tcpinspect-duration-ms", dur);
        if (orig != r)
            apr_table_setn(orig->notes, "tcpinspect-duration-ms", dur);
        rc = ap_expr_exec(r, dc->capture_expr, &err);
        if (err != NULL) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, TCPILOG(0608)
                          "TCPInspectCapture: cannot evaluate: %s", err);
            return 0;
        }
        return rc > 0;
    default:
        return 0;
    }
}

/* Log time: one fixed-size record into the shared request log. */
int tcpi_httpd_log_transaction(request_rec *r)
{
    req_state_t *st;
    tcpi_req_t rec;
    conn_rec *c = r->connection;
    request_rec *rf = r;

    if (tcpi_httpd_state.shm == NULL || r->main != NULL)
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
        rec.backend_tls = st->backend_tls != 0;
        rec.backend_local = st->backend_local;
        rec.backend_remote = st->backend_remote;
    } else {
        backend_from_note(&rec, rf);
    }
    rec.status = (uint16_t)rf->status;
    rec.pid = (int32_t)getpid();
    rec.start_us = (uint64_t)r->request_time;
    rec.end_us = (uint64_t)apr_time_now();
    /* (not where the wall clock stepped back in between: the join then
     * goes by the request's start) */
    if (st->has_backend && (uint64_t)st->backend_at >= rec.start_us &&
        (uint64_t)st->backend_at <= rec.end_us)
        rec.backend_at_us = (uint64_t)st->backend_at;
    rec.bytes_sent = (uint64_t)rf->bytes_sent;
    rec.conn_id = (uint64_t)c->id;
    rec.keepalives = (uint32_t)c->keepalives;
    rec.conn_requests = (uint32_t)st->conn_requests;
    rec.http2 = r->proto_num >= HTTP_VERSION(2, 0);
    rec.capture = (uint8_t)capture_matches(rf, r, rec.end_us > rec.start_us
                                           ? (rec.end_us - rec.start_us) / 1000
                                           : 0);
    tcpi_httpd_tls_facts(&rec.tls, rf, c);
    tcpi_httpd_tls_wire(&rec.tls, c, st->wire_in, st->wire_out,
                        rec.http2 || st->wire_pipelined);
    if (rec.backend_tls && !rec.backend_reused)
        tcpi_httpd_tls_backend_keys(&rec.backend_keys, st->box, rf);
    tcpi_reqlog_put(tcpi_httpd_state.reqlog, &rec);
    explicit_bzero(rec.tls.keys, sizeof(rec.tls.keys));
    explicit_bzero(&rec.backend_keys, sizeof(rec.backend_keys));
    return DECLINED;
}
