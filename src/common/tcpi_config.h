/*
 * tcpi_config.h — parsing and validation of every TCPInspect* directive
 * value. Each returns NULL on success or an error text (allocated from
 * the pool) that the glue prefixes with the directive name. They change
 * nothing: the log file's check only looks at the file system.
 */
#ifndef TCPI_CONFIG_H
#define TCPI_CONFIG_H

#include "tcpi_common.h"
#include <apr_pools.h>

#define TCPI_IFNAMSIZ 16        /* Linux IFNAMSIZ, including the NUL */
#define TCPI_MAX_THRESHOLDS 64
#define TCPI_MAX_REDACT 32

/* Bounds of the capture sizes, with the defaults the README justifies. */
#define TCPI_SNAPLEN_MIN      68u
#define TCPI_SNAPLEN_MAX      262144u
#define TCPI_SNAPLEN_DEFAULT  262144u         /* tcpdump's default */
#define TCPI_RING_MIN         (1u << 20)      /* 1M */
#define TCPI_RING_MAX         (16ull << 30)   /* 16G */
#define TCPI_RING_DEFAULT     (64u << 20)     /* 64M */
#define TCPI_KBUF_MIN         (64u << 10)     /* 64K */
#define TCPI_KBUF_MAX         (1ull << 30)    /* 1G */
#define TCPI_KBUF_DEFAULT     (8u << 20)      /* 8M per handle */

/** One capture leg: an interface (empty = default) and its ports. */
typedef struct {
    char         iface[TCPI_IFNAMSIZ];
    tcpi_ports_t ports;
    int          set;               /* the directive was given */
} tcpi_leg_t;

/** TCPInspectThreshold STATE warning critical [scope]. */
typedef struct {
    int      state;                 /* tcpi_state_e */
    int      scope;                 /* tcpi_scope_e, or -1 for front+backend */
    uint32_t warning;
    uint32_t critical;
} tcpi_threshold_t;

/** Parse "On"/"Off" (case-insensitive). */
const char *tcpi_conf_parse_flag(int *out, const char *arg, apr_pool_t *p);
/** Parse a TCP port 1..65535 (decimal digits only). */
const char *tcpi_conf_parse_port(uint16_t *out, const char *arg, apr_pool_t *p);
/** Parse a size: digits with an optional K/M/G suffix (powers of 1024),
 *  checked against [min, max]. */
const char *tcpi_conf_parse_size(uint64_t *out, const char *arg,
                                 uint64_t min, uint64_t max, apr_pool_t *p);
/** Parse a count (plain decimal) in [min, max]. */
const char *tcpi_conf_parse_count(uint64_t *out, const char *arg,
                                  uint64_t min, uint64_t max, apr_pool_t *p);
/** Parse "[interface] port..." — the first word is an interface name when
 *  it is not all digits. At least one port is required. */
const char *tcpi_conf_parse_leg(tcpi_leg_t *out, int argc,
                                char *const argv[], apr_pool_t *p);
/** Check an interface name: 1..15 chars, no '/', ':' is allowed
 *  (aliases), no whitespace. */
const char *tcpi_conf_check_iface(const char *name, apr_pool_t *p);
/** Parse "STATE warning critical [front|backend|backend_local]". */
const char *tcpi_conf_parse_threshold(tcpi_threshold_t *out, int argc,
                                      char *const argv[], apr_pool_t *p);
/** Check an HTTP header field name (RFC 9110 token). */
const char *tcpi_conf_check_header(const char *name, apr_pool_t *p);
/** Check that a BPF expression compiles for the given link type
 *  (pcap_compile on a dead handle). */
const char *tcpi_conf_check_bpf(const char *expr, int linktype,
                                apr_pool_t *p);
/** TCPInspectRequestLog's value, in CustomLog's syntax: "|command" (and
 *  "||command") runs the command without a shell, "|$command" through
 *  the shell; anything else is a file name. *cmd: the command without its
 *  bars and '$' (NULL for a file). The command may not be empty; when its
 *  program is an absolute path, that must be an executable file. */
const char *tcpi_conf_parse_log_target(const char **cmd, const char *arg,
                                       apr_pool_t *p);
/** The log file at an absolute path, checked for what opening it to
 *  append (creating it) will meet, without creating or changing
 *  anything: not a directory; an existing file opens for writing; a new
 *  one's directory exists and is writable. */
const char *tcpi_conf_check_log_file(const char *path, apr_pool_t *p);

#endif
