/*
 * tcpi_sysctl.h — the read-only sysctl advisor: the kernel knobs that
 * govern each TCP state, read from /proc/sys (never written), what each
 * one governs in a line, and advice computed from the live state counts.
 *
 * The values are those of the reader's network namespace, the one httpd
 * serves from. The root directory is a parameter so tests can point it
 * at a fake tree.
 */
#ifndef TCPI_SYSCTL_H
#define TCPI_SYSCTL_H

#include "tcpi/common.h"

typedef enum {
    TCPI_SYS_SYN_RETRIES = 0,
    TCPI_SYS_SYNACK_RETRIES,
    TCPI_SYS_MAX_SYN_BACKLOG,
    TCPI_SYS_SYNCOOKIES,
    TCPI_SYS_SOMAXCONN,
    TCPI_SYS_KEEPALIVE_TIME,
    TCPI_SYS_KEEPALIVE_PROBES,
    TCPI_SYS_KEEPALIVE_INTVL,
    TCPI_SYS_FIN_TIMEOUT,
    TCPI_SYS_TW_REUSE,
    TCPI_SYS_MAX_TW_BUCKETS,
    TCPI_SYS_LOCAL_PORT_RANGE,
    TCPI_SYS_RMEM,
    TCPI_SYS_WMEM,
    TCPI_SYS_TW_RECYCLE,          /* removed in Linux 4.12: read to say so */
    TCPI_NSYSCTL
} tcpi_sysctl_e;

#define TCPI_SYSCTL_MAXV 3        /* values per knob (tcp_rmem has three) */

typedef struct {
    int     present;               /* 1 read, 0 absent, -1 unreadable */
    int     nv;                    /* integers parsed from the text */
    int64_t v[TCPI_SYSCTL_MAXV];
    char    text[64];              /* the value, whitespace collapsed */
} tcpi_sysctl_value_t;

typedef struct {
    tcpi_sysctl_value_t k[TCPI_NSYSCTL];
} tcpi_sysctl_t;

/** Short name ("tcp_fin_timeout"), path under root
 *  ("net/ipv4/tcp_fin_timeout") and what it governs, in one line. */
const char *tcpi_sysctl_name(int k);
const char *tcpi_sysctl_path(int k);
const char *tcpi_sysctl_help(int k);

/** Read every knob below root (normally "/proc/sys"). Never fails: a
 *  missing or unreadable file is recorded in its entry. */
void tcpi_sysctl_read(tcpi_sysctl_t *out, const char *root);

typedef enum { TCPI_ADVICE_OK = 0, TCPI_ADVICE_INFO, TCPI_ADVICE_WARNING,
               TCPI_ADVICE_CRITICAL } tcpi_advice_level_e;

/** "ok", "info", "warning", "critical". */
const char *tcpi_advice_level_name(int level);

#define TCPI_MAX_ADVICE 16

typedef struct {
    int  level;
    char topic[32];                /* a stable key: "time_wait", ... */
    char text[512];
} tcpi_advice_t;

/** Advice from the knobs and the live counts (counts_ok = 0: only what
 *  needs no counts). Returns the number of entries written (<= max). */
int tcpi_sysctl_advise(tcpi_advice_t *out, int max, const tcpi_sysctl_t *sys,
                       const uint32_t count[TCPI_NSCOPES][TCPI_NSTATES],
                       int counts_ok);

#endif
