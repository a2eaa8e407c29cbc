/* tcpi_common.c — state and scope name tables, port sets, log callback. */
#include "tcpi_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

static const char *const state_names[TCPI_NSTATES] = {
    "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
    "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
};

const char *tcpi_state_name(int state)
{
    if (state < 0 || state >= TCPI_NSTATES)
        return "UNKNOWN";
    return state_names[state];
}

int tcpi_state_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < TCPI_NSTATES; i++)
        if (strcasecmp(name, state_names[i]) == 0)
            return i;
    return -1;
}

int tcpi_state_from_kernel(int kstate)
{
    /* include/net/tcp_states.h: ESTABLISHED=1 SYN_SENT SYN_RECV FIN_WAIT1
     * FIN_WAIT2 TIME_WAIT CLOSE CLOSE_WAIT LAST_ACK LISTEN CLOSING
     * NEW_SYN_RECV=12 — the same order as netstat's names. */
    if (kstate >= 1 && kstate <= 11)
        return kstate - 1;
    if (kstate == 12)
        return TCPI_ST_SYN_RECV;
    return -1;
}

static const char *const scope_names[TCPI_NSCOPES] = {
    "front", "backend", "backend_local",
};

const char *tcpi_scope_name(int scope)
{
    if (scope < 0 || scope >= TCPI_NSCOPES)
        return "unknown";
    return scope_names[scope];
}

int tcpi_scope_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < TCPI_NSCOPES; i++)
        if (strcasecmp(name, scope_names[i]) == 0)
            return i;
    return -1;
}

int tcpi_ports_add(tcpi_ports_t *set, uint16_t port)
{
    if (tcpi_ports_has(set, port))
        return 0;
    if (set->n >= TCPI_MAX_PORTS)
        return -1;
    set->port[set->n++] = port;
    return 0;
}

int tcpi_ports_has(const tcpi_ports_t *set, uint16_t port)
{
    for (int i = 0; i < set->n; i++)
        if (set->port[i] == port)
            return 1;
    return 0;
}

static tcpi_log_fn *log_fn;
static void *log_baton;

void tcpi_log_set(tcpi_log_fn *fn, void *baton)
{
    log_fn = fn;
    log_baton = baton;
}

void tcpi_log(int level, const char *tag, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (log_fn == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_fn(log_baton, level, tag, msg);
}
