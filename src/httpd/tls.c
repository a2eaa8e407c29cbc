/*
 * src/httpd/tls.c — TLS front connections, from mod_ssl: each request's
 * TLS facts (protocol, cipher, SNI, ALPN, resumption, client random) and,
 * under TCPInspectTLSKeys On, the connection's secrets for the pcapng
 * downloads' Decryption Secrets Block.
 *
 * mod_ssl runs two optional hooks for us (looked up by name: nothing here
 * links against mod_ssl, and without it they never run):
 *   init_server    once per SSL_CTX it made, in the parent's post_config:
 *                  our key-log callback goes on the context, chained to
 *                  the one already there (mod_ssl's SSLKEYLOGFILE);
 *   pre_handshake  per connection, right after SSL_new: the SSL handle is
 *                  kept for the facts, and when the connection's server
 *                  keeps keys it is tagged (SSL ex_data) so the callback
 *                  knows where the lines go.
 * OpenSSL calls the callback on the thread doing that connection's
 * handshake; the lines are kept in the connection's pool, parsed into
 * binary (the labels that decrypt records only), and copied into each
 * request record of the connection at log time.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_log.h"
#include "http_main.h"
#include "http_ssl.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"

#include "apr_atomic.h"
#include "apr_optional_hooks.h"
#include "apr_strings.h"

#include <openssl/ssl.h>

#include "mod_tcpinspect.h"
#include "tcpi/common.h"
#include "tcpi/store.h"

APLOG_USE_MODULE(tcpinspect);

/* mod_ssl's hooks, as mod_ssl_openssl.h declares them (not shipped by
 * Debian's apache2-dev): only the function types are needed. */
typedef int ssl_HOOK_init_server_t(server_rec *s, apr_pool_t *p,
                                   int is_proxy, SSL_CTX *ctx);
typedef int ssl_HOOK_pre_handshake_t(conn_rec *c, SSL *ssl, int is_proxy);

int tcpi_httpd_tls_keys_wanted;

static int ssl_idx = -1;              /* SSL ex_data: our connection state */
static int ctx_idx = -1;              /* SSL_CTX ex_data: the chained callback */

typedef struct {
    SSL_CTX_keylog_cb_func prev;
    int keys;                         /* the context's server keeps keys */
} chain_t;

/* The key log's lines, into the connection's state when it keeps keys,
 * then on to whoever had the context's callback before us. */
static void keylog_cb(const SSL *ssl, const char *line)
{
    tcpi_conn_state_t *cs = ssl_idx >= 0 ? SSL_get_ex_data(ssl, ssl_idx) : NULL;
    chain_t *ch = ctx_idx >= 0 ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
                                                     ctx_idx) : NULL;

    /* OpenSSL calls the callback of the context in use: after SNI, the
     * named host's, whose TCPInspectTLSKeys decides. */
    if (cs != NULL && line != NULL && ch != NULL && ch->keys) {
        tcpi_tls_key_t k;
        uint8_t rnd[TCPI_TLS_RANDOM_LEN];
        unsigned n = __atomic_load_n(&cs->nkeys, __ATOMIC_RELAXED);

        if (tcpi_tls_keyline_parse(&k, rnd, line, strlen(line)) == 0) {
            /* A new handshake on the connection (TLS 1.2 renegotiation):
             * its secrets replace the old ones. */
            if (n > 0 && memcmp(rnd, cs->random, sizeof(rnd)) != 0) {
                __atomic_store_n(&cs->nkeys, 0, __ATOMIC_RELEASE);
                cs->keys_dropped = 0;
                n = 0;
            }
            if (n < TCPI_TLS_KEYS_MAX) {
                memcpy(cs->random, rnd, sizeof(rnd));
                cs->keys[n] = k;
                /* Readers (an HTTP/2 stream's thread) take nkeys first. */
                __atomic_store_n(&cs->nkeys, n + 1, __ATOMIC_RELEASE);
            } else {
                cs->keys_dropped = 1;
            }
        }
        OPENSSL_cleanse(&k, sizeof(k));
    }
    if (ch != NULL && ch->prev != NULL)
        ch->prev(ssl, line);
}

/* TCPInspectTLSKeys for a server: its own, else the main server's. */
static int keys_on(server_rec *s)
{
    tcpi_srv_conf_t *c = tcpi_httpd_srv_conf(s);

    if (c->tls_keys != UNSET)
        return c->tls_keys == 1;
    c = tcpi_httpd_srv_conf(tcpi_httpd_state.s ? tcpi_httpd_state.s
                            : ap_server_conf ? ap_server_conf : s);
    return c->tls_keys == 1;
}

void tcpi_httpd_tls_kept_ports(tcpi_ports_t *out, server_rec *main_s,
                               const tcpi_ports_t *front)
{
    memset(out, 0, sizeof(*out));
    if (!tcpi_httpd_tls_keys_wanted)
        return;
    for (server_rec *s = main_s; s != NULL; s = s->next) {
        if (!keys_on(s))
            continue;
        /* The main server answers on every address no virtual host
         * takes, and a virtual host on "*" or port 0 on every port. */
        int every = s == main_s || s->addrs == NULL;
        for (server_addr_rec *a = s->addrs; a != NULL && !every; a = a->next)
            every = a->host_port == 0;
        for (int i = 0; i < front->n; i++) {
            int take = every;
            for (server_addr_rec *a = s->addrs; a != NULL && !take;
                 a = a->next)
                take = a->host_port == front->port[i];
            if (take)
                tcpi_ports_add(out, front->port[i]);
        }
    }
}

static int init_server(server_rec *s, apr_pool_t *p, int is_proxy,
                       SSL_CTX *ctx)
{
    SSL_CTX_keylog_cb_func prev;
    chain_t *ch;

    /* In the parent, before any connection: one index for every child.
     * No callbacks in it: libcrypto outlives this module's DSO across
     * httpd's configuration reloads, a function pointer would not. */
    if (ssl_idx < 0)
        ssl_idx = SSL_get_ex_new_index(0, "mod_tcpinspect", NULL, NULL, NULL);
    /* Only where the host keeps keys: with a callback set, OpenSSL formats
     * every secret as a key log line at each handshake (about 9% more
     * instructions for a full TLS 1.3 handshake). After SNI, OpenSSL
     * calls the named host's context's callback. A proxy context
     * (is_proxy: mod_proxy's connections to a TLS backend) is the host's
     * whose ProxyPass uses it. */
    if (!tcpi_httpd_tls_keys_wanted || ctx == NULL || !keys_on(s))
        return OK;
    if (ctx_idx < 0)
        ctx_idx = SSL_CTX_get_ex_new_index(0, "mod_tcpinspect", NULL, NULL,
                                           NULL);
    if (ssl_idx < 0 || ctx_idx < 0)
        return OK;
    prev = SSL_CTX_get_keylog_callback(ctx);
    if (prev == keylog_cb)
        return OK;                    /* a context seen twice */
    ch = apr_pcalloc(p, sizeof(*ch));
    ch->prev = prev;
    ch->keys = 1;
    if (SSL_CTX_set_ex_data(ctx, ctx_idx, ch) != 1)
        return OK;
    SSL_CTX_set_keylog_callback(ctx, keylog_cb);
    return OK;
}

/* ---- where each request's records are on the wire --------------------
 *
 * Two connection filters below mod_ssl (AP_FTYPE_CONNECTION + 5) count
 * the bytes of the TCP streams (the input one next to the socket, under a
 * PROXY protocol header's reader). mod_ssl reads exactly
 * the records OpenSSL asks for, so the count at a moment is an offset in
 * the client's stream: the handshake ends where the count stood when the
 * first read after it began; a request's first record begins where it
 * stood at the first read after the previous response's end (its EOR
 * bucket, which passes down here before httpd looks for a pipelined
 * request). The response's records lie between the server's count when
 * the request was read and at its EOR. */
static const char wire_name[] = "TCPINSPECT_TLS_WIRE";

static apr_uint64_t data_bytes(apr_bucket_brigade *bb)
{
    apr_uint64_t n = 0;

    for (apr_bucket *b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
         b = APR_BUCKET_NEXT(b))
        if (!APR_BUCKET_IS_METADATA(b) && b->length != (apr_size_t)-1)
            n += b->length;
    return n;
}

static apr_status_t wire_in(ap_filter_t *f, apr_bucket_brigade *bb,
                            ap_input_mode_t mode, apr_read_type_e block,
                            apr_off_t readbytes)
{
    tcpi_conn_state_t *cs = f->ctx;
    apr_uint64_t before, after;
    apr_status_t rv;

    if (mode == AP_MODE_SPECULATIVE || mode == AP_MODE_INIT)
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    before = data_bytes(bb);
    rv = ap_get_brigade(f->next, bb, mode, block, readbytes);
    if (rv != APR_SUCCESS || (after = data_bytes(bb)) <= before)
        return rv;
    /* mod_ssl's own view first: it frees its SSL handle on paths that do
     * not pass an EOC down here (a plain-HTTP request to the port, an
     * abortive handshake) */
    if (!cs->wire.hs_done && cs->ssl != NULL && ap_ssl_conn_is_ssl(f->c) &&
        SSL_is_init_finished(cs->ssl)) {
        cs->wire.hs_in = cs->wire.in;
        __atomic_store_n(&cs->wire.hs_done, 1, __ATOMIC_RELEASE);
        cs->wire.mark = 1;
    }
    if (cs->wire.mark && cs->wire.hs_done) {
        cs->wire.in_start = cs->wire.in;
        cs->wire.mark = 0;
    }
    cs->wire.in += after - before;
    return rv;
}

static apr_status_t wire_out(ap_filter_t *f, apr_bucket_brigade *bb)
{
    tcpi_conn_state_t *cs = f->ctx;

    for (apr_bucket *b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
         b = APR_BUCKET_NEXT(b)) {
        if (AP_BUCKET_IS_EOC(b)) {
            /* mod_ssl, above, has shut the connection down and freed its
             * SSL handle on this bucket: nothing may use it after. */
            cs->ssl = NULL;
        } else if (AP_BUCKET_IS_EOR(b)) {
            cs->wire.eor_in = cs->wire.in;
            cs->wire.eor_out = cs->wire.out;
            cs->wire.mark = 1;
        } else if (!APR_BUCKET_IS_METADATA(b) && b->length != (apr_size_t)-1) {
            cs->wire.out += b->length;
        }
    }
    return ap_pass_brigade(f->next, bb);
}

/* First thing after a request was read (before any other module's
 * post_read_request can fail it): where its records begin. Nothing read
 * since the previous response ended means it came in that one's records
 * (pipelined), where no count tells them apart. */
static int read_first(request_rec *r)
{
    conn_rec *c = r->connection;
    tcpi_conn_state_t *cs;

    if (r->main != NULL || r->prev != NULL || c->master != NULL)
        return DECLINED;
    cs = ap_get_module_config(c->conn_config, &tcpinspect_module);
    if (cs == NULL || !cs->wire.on)
        return DECLINED;
    cs->wire.req = r;
    cs->wire.req_pipelined = cs->wire.mark;
    cs->wire.mark = 0;
    cs->wire.req_in = cs->wire.in_start;
    cs->wire.req_out = cs->wire.out;
    return DECLINED;
}

void tcpi_httpd_tls_wire(tcpi_req_tls_t *t, conn_rec *front,
                         apr_uint64_t in_start, apr_uint64_t out_start,
                         int unplaced)
{
    tcpi_conn_state_t *cs = ap_get_module_config(front->conn_config,
                                                 &tcpinspect_module);

    if (!t->on || cs == NULL || !cs->wire.on ||
        !__atomic_load_n(&cs->wire.hs_done, __ATOMIC_ACQUIRE))
        return;
    t->hs_in = cs->wire.hs_in;
    /* An HTTP/2 stream has no records of its own, a pipelined request's
     * came with the one before: the handshake only. */
    if (unplaced || in_start < t->hs_in || cs->wire.eor_in < in_start ||
        cs->wire.eor_out < out_start)
        return;
    t->wire = 1;
    t->in_start = in_start;
    t->in_end = cs->wire.eor_in;
    t->out_start = out_start;
    t->out_end = cs->wire.eor_out;
}

/* ---- the secrets of a TLS backend connection -------------------------
 *
 * A pooled connection carries other clients' requests before and after
 * this one, and its secrets decrypt all of them: they go only with a
 * connection opened for this request (create_req: not reused) that
 * closed without a byte written on it since mod_proxy released it after
 * this request's exchange -- mod_proxy's release closing it
 * (disablereuse, the backend's "Connection: close", an error). The
 * release destroys the request mod_proxy made for the exchange (pr, its
 * pool a child of the connection's); a filter above mod_ssl marks any
 * data written after that. The count of create_req on the connection
 * (one), the request's own thread closing it and the request not yet
 * logged are further conditions. The box is shared by the connection
 * (which fills it as it closes) and the request (which reads it as it is
 * logged); each holds a reference. */
static const char bused_name[] = "TCPINSPECT_TLS_BACKEND";

static apr_status_t bused_out(ap_filter_t *f, apr_bucket_brigade *bb)
{
    tcpi_conn_state_t *cs = f->ctx;

    if (cs->released && !cs->used_after)
        for (apr_bucket *b = APR_BRIGADE_FIRST(bb);
             b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b))
            if (!APR_BUCKET_IS_METADATA(b) && b->length != 0) {
                cs->used_after = 1;   /* another exchange on it */
                break;
            }
    return ap_pass_brigade(f->next, bb);
}

static apr_status_t mark_released(void *data)
{
    tcpi_conn_state_t *cs = data;

    cs->released = 1;
    return APR_SUCCESS;
}

struct tcpi_bkeys_box {
    apr_uint32_t    refs;
    apr_uint32_t    sealed;           /* the request no longer takes any */
    apr_uint32_t    ready;            /* delivered */
    apr_os_thread_t thread;           /* the request's */
    tcpi_req_bkeys_t k;
};

void tcpi_httpd_tls_box_drop(struct tcpi_bkeys_box *b)
{
    if (b == NULL)
        return;
    apr_atomic_set32(&b->sealed, 1);
    if (apr_atomic_dec32(&b->refs) == 0) {
        explicit_bzero(b, sizeof(*b));
        free(b);
    }
}

static apr_status_t box_deliver(void *data)
{
    tcpi_conn_state_t *cs = data;
    struct tcpi_bkeys_box *b = cs->box;
    unsigned n = __atomic_load_n(&cs->nkeys, __ATOMIC_ACQUIRE);

    cs->box = NULL;
    if (b == NULL)
        return APR_SUCCESS;
    if (n > TCPI_TLS_KEYS_MAX)
        n = TCPI_TLS_KEYS_MAX;
    if (n > 0 && !cs->used_after && !apr_atomic_read32(&b->sealed) &&
        apr_atomic_read32(&cs->requests) == 1 &&
        apr_os_thread_equal(b->thread, apr_os_thread_current())) {
        memcpy(b->k.client_random, cs->random, sizeof(b->k.client_random));
        memcpy(b->k.keys, cs->keys, n * sizeof(b->k.keys[0]));
        b->k.nkeys = (uint8_t)n;
        b->k.keys_dropped = cs->keys_dropped != 0;
        apr_atomic_set32(&b->ready, 1);
    }
    tcpi_httpd_tls_box_drop(b);
    return APR_SUCCESS;
}

struct tcpi_bkeys_box *tcpi_httpd_tls_backend_box(request_rec *r,
                                                  request_rec *pr, int reused)
{
    conn_rec *bc = pr->connection;
    tcpi_conn_state_t *cs = ap_get_module_config(bc->conn_config,
                                                 &tcpinspect_module);
    struct tcpi_bkeys_box *b;

    if (cs == NULL || !cs->is_proxy)
        return NULL;
    /* every request on the connection counts, the reused ones too */
    apr_atomic_inc32(&cs->requests);
    if (reused || cs->released) {
        /* never to be handed on: wiped now, not when it closes */
        __atomic_store_n(&cs->nkeys, 0, __ATOMIC_RELEASE);
        explicit_bzero(cs->keys, sizeof(cs->keys));
        return NULL;
    }
    /* (mark_released writes the connection's state: only from a pool
     * that cannot outlive it; mod_proxy_http's exchange request has one
     * under the connection's) */
    if (cs->box != NULL || !cs->filtered || !keys_on(r->server) ||
        !apr_pool_is_ancestor(bc->pool, pr->pool) ||
        (b = calloc(1, sizeof(*b))) == NULL)
        return NULL;
    apr_pool_cleanup_register(pr->pool, cs, mark_released,
                              apr_pool_cleanup_null);
    b->refs = 2;
    b->thread = apr_os_thread_current();
    cs->box = b;
    /* after the state's own wipe was registered: runs before it */
    apr_pool_cleanup_register(bc->pool, cs, box_deliver,
                              apr_pool_cleanup_null);
    return b;
}

void tcpi_httpd_tls_backend_keys(tcpi_req_bkeys_t *out,
                                 struct tcpi_bkeys_box *b, request_rec *r)
{
    memset(out, 0, sizeof(*out));
    if (b == NULL)
        return;
    apr_atomic_set32(&b->sealed, 1);
    if (keys_on(r->server) && apr_atomic_read32(&b->ready))
        *out = b->k;
}

static int pre_handshake(conn_rec *c, SSL *ssl, int is_proxy)
{
    tcpi_conn_state_t *cs;

    if (c->master != NULL)
        return DECLINED;
    cs = tcpi_httpd_conn_state(c);
    cs->ssl = ssl;
    if (is_proxy) {
        /* mod_proxy's connection: its secrets go only to the request it
         * was opened for, once it closes (above) */
        cs->is_proxy = 1;
        if (ssl_idx >= 0)
            SSL_set_ex_data(ssl, ssl_idx, cs);
        if (tcpi_httpd_tls_keys_wanted && !cs->filtered) {
            cs->filtered = 1;
            ap_add_output_filter(bused_name, cs, NULL, c);
        }
        return DECLINED;
    }
    /* The secrets: the context in use when a secret is logged (the
     * SNI-named host's) decides (keylog_cb). */
    if (ssl_idx >= 0)
        SSL_set_ex_data(ssl, ssl_idx, cs);
    if (tcpi_httpd_state.shm != NULL && !cs->wire.on) {
        cs->wire.on = 1;
        ap_add_input_filter(wire_name, cs, NULL, c);
        ap_add_output_filter(wire_name, cs, NULL, c);
    }
    return DECLINED;
}

void tcpi_httpd_tls_register(void)
{
    ap_hook_post_read_request(read_first, NULL, NULL, APR_HOOK_REALLY_FIRST);
    /* in: next to the socket (as mod_logio), below mod_remoteip's PROXY
     * protocol header, which is part of the TCP stream */
    ap_register_input_filter(wire_name, wire_in, NULL, AP_FTYPE_NETWORK - 1);
    ap_register_output_filter(wire_name, wire_out, NULL,
                              AP_FTYPE_CONNECTION + 6);
    /* above mod_ssl (CONNECTION + 5): what mod_proxy writes, in clear */
    ap_register_output_filter(bused_name, bused_out, NULL,
                              AP_FTYPE_CONNECTION);
    APR_OPTIONAL_HOOK(ssl, init_server, init_server, NULL, NULL,
                      APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ssl, pre_handshake, pre_handshake, NULL, NULL,
                      APR_HOOK_MIDDLE);
}

static void copy_var(char *dst, size_t len, request_rec *r, const char *name)
{
    const char *v = ap_ssl_var_lookup(r->pool, r->server, r->connection, r,
                                      name);

    apr_cpystrn(dst, v ? v : "", len);
}

/* A request read for a host with TCPInspectTLSKeys Off: from now on its
 * connection's secrets go nowhere (set as the request is read, so an
 * HTTP/2 stream of another host logged meanwhile keeps none either). */
void tcpi_httpd_tls_request(request_rec *r, conn_rec *front)
{
    tcpi_conn_state_t *cs = ap_get_module_config(front->conn_config,
                                                 &tcpinspect_module);

    if (cs != NULL && ap_ssl_conn_is_ssl(front) && !keys_on(r->server))
        __atomic_store_n(&cs->keys_refused, 1, __ATOMIC_RELEASE);
}

void tcpi_httpd_tls_facts(tcpi_req_tls_t *t, request_rec *r, conn_rec *front)
{
    tcpi_conn_state_t *cs = ap_get_module_config(front->conn_config,
                                                 &tcpinspect_module);
    const char *resumed;

    memset(t, 0, sizeof(*t));
    if (!ap_ssl_conn_is_ssl(front))
        return;
    t->on = 1;
    copy_var(t->protocol, sizeof(t->protocol), r, "SSL_PROTOCOL");
    copy_var(t->cipher, sizeof(t->cipher), r, "SSL_CIPHER");
    copy_var(t->sni, sizeof(t->sni), r, "SSL_TLS_SNI");
    resumed = ap_ssl_var_lookup(r->pool, r->server, r->connection, r,
                                "SSL_SESSION_RESUMED");
    t->resumed = resumed != NULL && strcmp(resumed, "Resumed") == 0;
    if (cs == NULL || cs->ssl == NULL)
        return;
    {
        const unsigned char *alpn = NULL;
        unsigned int alen = 0;

        SSL_get0_alpn_selected(cs->ssl, &alpn, &alen);
        if (alpn != NULL && alen > 0) {
            size_t n = alen < sizeof(t->alpn) - 1 ? alen : sizeof(t->alpn) - 1;
            memcpy(t->alpn, alpn, n);
            t->alpn[n] = '\0';
        }
    }
    if (SSL_get_client_random(cs->ssl, t->client_random,
                              sizeof(t->client_random)) ==
        sizeof(t->client_random))
        t->has_random = 1;
    /* The secrets, so that every pcapng of the request decrypts (saved by
     * a rule, or /requests/<id>.pcapng later): where its server keeps
     * them, on a connection that never served a server that does not
     * (HTTP/2 coalescing, SNI not the Host: the capture holds the whole
     * connection), and only this connection's (the key log lines carry
     * its client random). The request log holding them is bounded and
     * overwritten oldest first. */
    if (!keys_on(r->server))
        __atomic_store_n(&cs->keys_refused, 1, __ATOMIC_RELEASE);
    t->keys_refused = __atomic_load_n(&cs->keys_refused, __ATOMIC_ACQUIRE) != 0;
    if (t->has_random && !t->keys_refused) {
        unsigned n = __atomic_load_n(&cs->nkeys, __ATOMIC_ACQUIRE);

        if (n > TCPI_TLS_KEYS_MAX)
            n = TCPI_TLS_KEYS_MAX;
        if (n > 0 && memcmp(cs->random, t->client_random,
                            TCPI_TLS_RANDOM_LEN) == 0) {
            memcpy(t->keys, cs->keys, n * sizeof(t->keys[0]));
            t->nkeys = (uint8_t)n;
            t->keys_dropped = cs->keys_dropped != 0;
        }
    }
}
