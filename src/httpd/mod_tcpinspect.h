/*
 * mod_tcpinspect.h — private to the httpd glue (mod_tcpinspect.c and
 * src/httpd/): the configuration records, the process-wide state, and what
 * one glue file calls in another. The core library (the stages of src/,
 * include/tcpi/) and the unit tests never include it: it speaks httpd.
 *
 *   mod_tcpinspect.c   the module record, the directives' table, hooks
 *   config.c           directives, defaults from Listen/mod_proxy,
 *                      check_config
 *   worker.c           post_config, the capture worker's life cycle,
 *                      the event counter, child_init
 *   request.c          request ids, backend tuples, the request log
 *   pages.c            the handler (routes: the core's tcpi_route.h),
 *                      its views
 *   download.c         pcap/pcapng downloads, saved captures
 *   status.c           the mod_status section
 *   tls.c              TLS facts and secrets from mod_ssl
 *
 * Every .c file here starts with APLOG_USE_MODULE(tcpinspect), so that
 * its log lines carry the module (and follow LogLevel tcpinspect:...).
 */
#ifndef TCPI_HTTPD_H
#define TCPI_HTTPD_H

#include "httpd.h"
#include "http_config.h"
#include "ap_expr.h"

#include <sys/types.h>

#include "tcpi/common.h"
#include "tcpi/states.h"
#include "tcpi/render.h"
#include "tcpi/region.h"
#include "tcpi/store.h"
#include "tcpi/capture.h"

extern module AP_MODULE_DECLARE_DATA tcpinspect_module;

/* The project's own stable log tags, like httpd's APLOGNO. */
#define TCPILOG(n) TCPI_TAG(n) ": "

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
    int              tls_keys;        /* TCPInspectTLSKeys (this server's) */
    const char      *request_log;     /* TCPInspectRequestLog: the file's
                                         full path, or "|command" */
    int              request_log_pipe;
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
 * restart, and a generation's region dies with its pconf. Defined in
 * worker.c. */
typedef struct {
    tcpi_shm_t  *shm;            /* the read-only view (the log writable) */
    tcpi_shm_t  *shm_rw;         /* the writers' view: parent and worker
                                    only, NULL elsewhere (tcpi_shmmap.h) */
    tcpi_shmmap_t map;
    tcpi_reqlog_t *reqlog;       /* the request log in the read-only view,
                                    placed once (log_transaction's path) */
    tcpi_worker_conf_t wconf;    /* the worker's plan, private to the
                                    parent, copied at fork */
    apr_pool_t  *pconf;
    server_rec  *s;
    pid_t        parent;
    apr_proc_t   proc;           /* the current worker; pid 0 when none */
    int          stopping;       /* pconf is being cleared */
    apr_interval_time_t fork_retry; /* a fork that failed: the monitor
                                       hook tries again with this delay */
    int          fork_failed;
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
    /* TCPInspectRequestLog, opened by the parent for the worker: the
     * file, or the write end of the piped logger's pipe (and its read
     * end, which the parent keeps for httpd's restarts of the logger);
     * -1 when none. MPM children hold /dev/null in their place. */
    int          json_log_fd, json_log_rfd;
} tcpi_httpd_state_t;

extern tcpi_httpd_state_t tcpi_httpd_state;

/* A request to one of the handler's pages: its route (tcpi_route.h)
 * and its query read against the route. */
typedef struct {
    request_rec     *r;
    tcpi_dir_conf_t *dc;
    const tcpi_route_t *rt;
    const tcpi_route_args_t *a;  /* a->fmt: the format asked for */
    const char      *id;       /* an id route's id, else NULL */
    const char      *base;     /* handler location, HTML-safe */
} page_t;

/* ---- config.c ---------------------------------------------------------- */

void *tcpi_httpd_create_srv_conf(apr_pool_t *p, server_rec *s);
void *tcpi_httpd_create_dir_conf(apr_pool_t *p, char *dir);
void *tcpi_httpd_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);
tcpi_srv_conf_t *tcpi_httpd_srv_conf(server_rec *s);
/* The main server's config: every TCPInspect server directive is global. */
tcpi_srv_conf_t *tcpi_httpd_global_conf(request_rec *r);

/* The directives' setters (the table is in mod_tcpinspect.c). */
const char *tcpi_httpd_set_engine(cmd_parms *cmd, void *d, int flag);
const char *tcpi_httpd_set_leg(cmd_parms *cmd, void *d, int argc,
                               char *const argv[]);
const char *tcpi_httpd_set_filter(cmd_parms *cmd, void *d, const char *arg);
const char *tcpi_httpd_set_size(cmd_parms *cmd, void *d, const char *arg);
const char *tcpi_httpd_set_threshold(cmd_parms *cmd, void *d, int argc,
                                     char *const argv[]);
const char *tcpi_httpd_set_capture_dir(cmd_parms *cmd, void *d,
                                       const char *arg);
const char *tcpi_httpd_set_capture_limit(cmd_parms *cmd, void *d,
                                         const char *count, const char *size);
const char *tcpi_httpd_set_redact(cmd_parms *cmd, void *d, int argc,
                                  char *const argv[]);
const char *tcpi_httpd_set_allow_download(cmd_parms *cmd, void *d, int flag);
const char *tcpi_httpd_set_capture(cmd_parms *cmd, void *d, const char *arg);
const char *tcpi_httpd_set_request_log(cmd_parms *cmd, void *d,
                                       const char *arg);

/* A TCPInspectCapture rule other than Off was configured (this
 * generation); setup_capture_dir reads and resets it. */
extern int tcpi_httpd_capture_rules_seen;

/* The two legs' ports and interfaces as the worker will open them. */
void tcpi_httpd_resolve_legs(server_rec *s, tcpi_srv_conf_t *c,
                             tcpi_ports_t *front, tcpi_ports_t *backend,
                             const char **front_if, const char **back_if);
int tcpi_httpd_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s);

/* ---- worker.c ---------------------------------------------------------- */

int tcpi_httpd_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s);
int tcpi_httpd_monitor(apr_pool_t *p, server_rec *s);
void tcpi_httpd_child_init(apr_pool_t *p, server_rec *s);
/* The event counts, unless the worker found them wrong this generation. */
const volatile tcpi_ev_counts_t *tcpi_httpd_usable_ev(void);

/* ---- jsonlog.c --------------------------------------------------------- */

/* post_config (the real pass, before the worker is forked): open
 * TCPInspectRequestLog's file or start its piped logger, and put the
 * descriptor in the worker's plan. OK, or an error (logged) that stops
 * httpd, as CustomLog's does. */
int tcpi_httpd_jsonlog_open(apr_pool_t *pconf, server_rec *s, int worker);
/* An MPM child: let go of the log (children never write it). */
void tcpi_httpd_jsonlog_child_init(void);
/* Set by the parent around the capture worker's fork: the one process
 * forked from it that keeps the JSON log's write end. */
extern int tcpi_httpd_jsonlog_forking_worker;

/* ---- request.c --------------------------------------------------------- */

int tcpi_httpd_pre_connection(conn_rec *c, void *csd);
int tcpi_httpd_post_read_request(request_rec *r);
int tcpi_httpd_proxy_create_req(request_rec *r, request_rec *pr);
int tcpi_httpd_log_transaction(request_rec *r);

/* ---- pages.c ----------------------------------------------------------- */

int tcpi_httpd_handler(request_rec *r);
/* tcpi_out_t's sink: ap_rwrite to the request (baton). */
int tcpi_httpd_out_sink(void *baton, const void *buf, size_t len);
void tcpi_httpd_take_snapshot(tcpi_snapshot_t *snap, request_rec *r,
                              int full);
/* An error page in plain text (status); bad_request is the 400 one. */
int tcpi_httpd_plain_error(request_rec *r, int status, const char *msg);
int tcpi_httpd_bad_request(request_rec *r, const char *msg);
/* The captured interface named by iface=: NULL with *index, or the 400
 * message. */
const char *tcpi_httpd_iface(int *index, request_rec *r, const char *name);

/* ---- download.c -------------------------------------------------------- */

/* The 403 of a download route where TCPInspectAllowDownload is not On. */
int tcpi_httpd_download_refused(request_rec *r);
int tcpi_httpd_page_capture(page_t *pg);
int tcpi_httpd_page_request_pcapng(page_t *pg);

/* ---- status.c ---------------------------------------------------------- */

int tcpi_httpd_status_hook(request_rec *r, int flags);

/* ---- request.c, tls.c: per frontend connection -------------------------- */

/* Per frontend connection (the master under HTTP/2), in c->conn_config:
 * the event MPM moves a connection between threads, so nothing of this
 * lives in a thread-local. Made in pre_connection (or mod_ssl's
 * pre_handshake, whichever runs first), on the connection's own thread:
 * HTTP/2 streams run on other threads and must not allocate from the
 * master's pool; they only count, atomically, and read. */
typedef struct ssl_st SSL;
typedef struct {
    apr_uint32_t requests;            /* read so far */
    SSL         *ssl;                 /* mod_ssl's handle (TLS fronts) */
    unsigned     nkeys;               /* secrets kept (TCPInspectTLSKeys) */
    int          keys_dropped;        /* more lines than TCPI_TLS_KEYS_MAX */
    int          keys_refused;        /* served a server with TLSKeys Off
                                         (atomic: HTTP/2 streams set it) */
    uint8_t      random[TCPI_TLS_RANDOM_LEN];
    tcpi_tls_key_t keys[TCPI_TLS_KEYS_MAX];
    int          is_proxy;            /* mod_proxy's TLS connection to a
                                         backend (SSLProxyEngine) */
    struct tcpi_bkeys_box *box;       /* ... the request it was opened for */
    int          released;            /* ... mod_proxy released it once */
    int          used_after;          /* ... and wrote on it after that */
    int          filtered;            /* ... whose writes are watched */
    /* A TLS front's bytes, counted between mod_ssl and the socket on the
     * connection's own thread (tls.c): where each request's records lie
     * in the streams, for the join (tcpi_req_tls_t's offsets). */
    struct {
        apr_uint64_t in, out;         /* taken from / handed to the socket */
        apr_uint64_t hs_in;           /* in when the handshake had finished */
        apr_uint64_t in_start;        /* in before the current request */
        apr_uint64_t eor_in, eor_out; /* in and out as the last response ended */
        int          hs_done;         /* hs_in is set (read by h2 streams
                                         only after their connection's
                                         handshake) */
        int          mark;            /* the next record read starts a request */
        int          on;              /* counting (mod_ssl's connection) */
        /* taken first thing after a request was read (tls.c), for
         * request.c's state of that request */
        const void  *req;             /* the request_rec they belong to */
        apr_uint64_t req_in, req_out;
        int          req_pipelined;
    } wire;
} tcpi_conn_state_t;

/* The TLS request's offsets at log time, from the connection's counts and
 * the two taken when the request was read (in_start, out_start); unplaced:
 * an HTTP/2 stream or a pipelined request, the handshake's only. */
void tcpi_httpd_tls_wire(tcpi_req_tls_t *t, conn_rec *front,
                         apr_uint64_t in_start, apr_uint64_t out_start,
                         int unplaced);

/* The secrets of mod_proxy's TLS connection to the backend (tls.c): a
 * box the connection fills as it closes, when it was opened for request
 * r and closed in its thread before r was logged. backend_box: at
 * create_req (NULL: none to keep); backend_keys: at log time (seals the
 * box); box_drop: the request's reference, when it ends. */
struct tcpi_bkeys_box;
struct tcpi_bkeys_box *tcpi_httpd_tls_backend_box(request_rec *r,
                                                  request_rec *pr, int reused);
void tcpi_httpd_tls_backend_keys(tcpi_req_bkeys_t *out,
                                 struct tcpi_bkeys_box *b, request_rec *r);
void tcpi_httpd_tls_box_drop(struct tcpi_bkeys_box *b);

/* A request was read on a TLS front connection (tls.c). */
void tcpi_httpd_tls_request(request_rec *r, conn_rec *front);

tcpi_conn_state_t *tcpi_httpd_conn_state(conn_rec *c);

extern int tcpi_httpd_tls_keys_wanted;   /* some server has TLSKeys On */
const char *tcpi_httpd_set_tls_keys(cmd_parms *cmd, void *d, int flag);
/** The front ports whose TLS handshakes the worker keeps apart: those a
 *  server with TCPInspectTLSKeys On answers on (tcpi_hskeep.h). */
void tcpi_httpd_tls_kept_ports(tcpi_ports_t *out, server_rec *main_s,
                               const tcpi_ports_t *front);
void tcpi_httpd_tls_register(void);
/** front.tls of the request record: zeros for plain HTTP; the
 *  connection's secrets where the request's host keeps them
 *  (TCPInspectTLSKeys On). */
void tcpi_httpd_tls_facts(tcpi_req_tls_t *t, request_rec *r, conn_rec *front);

#endif /* TCPI_HTTPD_H */
