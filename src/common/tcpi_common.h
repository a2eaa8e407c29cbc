/*
 * tcpi_common.h — vocabulary shared by every core unit of mod_tcpinspect:
 * netstat's TCP state names, the three socket scopes, port sets, and the
 * logging callback the httpd glue installs.
 *
 * The core (the stages of src/, include/tcpi/) never includes httpd
 * headers; only mod_tcpinspect.c and src/httpd/ do.
 */
#ifndef TCPI_COMMON_H
#define TCPI_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* netstat's eleven state names, in netstat's order. */
typedef enum {
    TCPI_ST_ESTABLISHED = 0,
    TCPI_ST_SYN_SENT,
    TCPI_ST_SYN_RECV,
    TCPI_ST_FIN_WAIT1,
    TCPI_ST_FIN_WAIT2,
    TCPI_ST_TIME_WAIT,
    TCPI_ST_CLOSE,
    TCPI_ST_CLOSE_WAIT,
    TCPI_ST_LAST_ACK,
    TCPI_ST_LISTEN,
    TCPI_ST_CLOSING,
    TCPI_NSTATES
} tcpi_state_e;

/** Name of a state ("ESTABLISHED"); "UNKNOWN" when out of range. */
const char *tcpi_state_name(int state);
/** State index for a name (case-insensitive), or -1. */
int tcpi_state_from_name(const char *name);
/** Map a Linux kernel TCP state (TCP_ESTABLISHED=1 .. TCP_NEW_SYN_RECV=12)
 *  to a netstat state index, or -1 (TCP_NEW_SYN_RECV counts as SYN_RECV). */
int tcpi_state_from_kernel(int kstate);

/* Socket scopes (README: TCP states): front = local port is a frontend port;
 * backend = remote port is a backend port (httpd's side);
 * backend_local = local port is a backend port (a backend on this host). */
typedef enum {
    TCPI_SCOPE_FRONT = 0,
    TCPI_SCOPE_BACKEND,
    TCPI_SCOPE_BACKEND_LOCAL,
    TCPI_NSCOPES
} tcpi_scope_e;

const char *tcpi_scope_name(int scope);
int tcpi_scope_from_name(const char *name);

#define TCPI_MAX_PORTS 32

/** A small set of TCP ports (unique, in insertion order). */
typedef struct {
    uint16_t port[TCPI_MAX_PORTS];
    int      n;
} tcpi_ports_t;

/** Add a port; returns 0, or -1 when the set is full (duplicates are
 *  ignored and return 0). */
int tcpi_ports_add(tcpi_ports_t *set, uint16_t port);
int tcpi_ports_has(const tcpi_ports_t *set, uint16_t port);

/* Logging: the glue installs a callback; the core never logs per packet.
 * tag is a stable per-call-site identifier, TCPI_TAG(nnnn) below. */
typedef enum { TCPI_LOG_ERR = 3, TCPI_LOG_WARN = 4, TCPI_LOG_NOTICE = 5,
               TCPI_LOG_INFO = 6, TCPI_LOG_DEBUG = 7 } tcpi_log_level_e;
typedef void tcpi_log_fn(void *baton, int level, const char *tag,
                         const char *msg);
void tcpi_log_set(tcpi_log_fn *fn, void *baton);
/* A log message tag, written TCPI_TAG(nnnn) in the core and TCPILOG(nnnn)
 * in the glue; each is used at one call site and listed in
 * tests/log-message-tags (tests/check_logtags.sh checks both). */
#define TCPI_TAG(n) "TCPI" #n
void tcpi_log(int level, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define TCPI_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
