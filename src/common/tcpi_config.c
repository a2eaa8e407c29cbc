/* tcpi_config.c — directive value parsers (see tcpi_config.h). */
#include "tcpi_config.h"

#include <apr_strings.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

const char *tcpi_conf_parse_flag(int *out, const char *arg, apr_pool_t *p)
{
    if (strcasecmp(arg, "on") == 0)
        *out = 1;
    else if (strcasecmp(arg, "off") == 0)
        *out = 0;
    else
        return apr_psprintf(p, "'%s' is not On or Off", arg);
    return NULL;
}

/* Decimal digits only: strtoull accepts signs, spaces and hex prefixes. */
static int parse_digits(uint64_t *out, const char *s, const char **end)
{
    uint64_t v = 0;
    const char *c = s;

    if (!isdigit((unsigned char)*c))
        return -1;
    for (; isdigit((unsigned char)*c); c++) {
        unsigned d = (unsigned)(*c - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    *end = c;
    return 0;
}

const char *tcpi_conf_parse_port(uint16_t *out, const char *arg, apr_pool_t *p)
{
    uint64_t v;
    const char *end;

    if (parse_digits(&v, arg, &end) != 0 || *end != '\0')
        return apr_psprintf(p, "'%s' is not a port number", arg);
    if (v < 1 || v > 65535)
        return apr_psprintf(p, "port %s is out of range 1-65535", arg);
    *out = (uint16_t)v;
    return NULL;
}

static const char *human(uint64_t v, apr_pool_t *p)
{
    if (v >= (1ull << 30) && v % (1ull << 30) == 0)
        return apr_psprintf(p, "%" APR_UINT64_T_FMT "G", v >> 30);
    if (v >= (1ull << 20) && v % (1ull << 20) == 0)
        return apr_psprintf(p, "%" APR_UINT64_T_FMT "M", v >> 20);
    if (v >= (1ull << 10) && v % (1ull << 10) == 0)
        return apr_psprintf(p, "%" APR_UINT64_T_FMT "K", v >> 10);
    return apr_psprintf(p, "%" APR_UINT64_T_FMT, v);
}

const char *tcpi_conf_parse_size(uint64_t *out, const char *arg,
                                 uint64_t min, uint64_t max, apr_pool_t *p)
{
    uint64_t v, mult = 1;
    const char *end;

    if (parse_digits(&v, arg, &end) != 0)
        return apr_psprintf(p, "'%s' is not a size (digits with an optional "
                            "K, M or G suffix)", arg);
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': mult = 1ull << 10; end++; break;
    case 'm': case 'M': mult = 1ull << 20; end++; break;
    case 'g': case 'G': mult = 1ull << 30; end++; break;
    default: end = NULL; break;
    }
    if (end == NULL || *end != '\0')
        return apr_psprintf(p, "'%s' is not a size (digits with an optional "
                            "K, M or G suffix)", arg);
    if (v > UINT64_MAX / mult || v * mult < min || v * mult > max)
        return apr_psprintf(p, "size %s is out of range %s-%s", arg,
                            human(min, p), human(max, p));
    *out = v * mult;
    return NULL;
}

const char *tcpi_conf_parse_count(uint64_t *out, const char *arg,
                                  uint64_t min, uint64_t max, apr_pool_t *p)
{
    uint64_t v;
    const char *end;

    if (parse_digits(&v, arg, &end) != 0 || *end != '\0')
        return apr_psprintf(p, "'%s' is not a number", arg);
    if (v < min || v > max)
        return apr_psprintf(p, "%s is out of range %" APR_UINT64_T_FMT "-%"
                            APR_UINT64_T_FMT, arg, min, max);
    *out = v;
    return NULL;
}

const char *tcpi_conf_check_iface(const char *name, apr_pool_t *p)
{
    size_t n = strlen(name);

    if (n == 0 || n >= TCPI_IFNAMSIZ)
        return apr_psprintf(p, "interface name '%s' must be 1-%d characters",
                            name, TCPI_IFNAMSIZ - 1);
    for (const char *c = name; *c; c++)
        if (*c == '/' || isspace((unsigned char)*c) || !isprint((unsigned char)*c))
            return apr_psprintf(p, "interface name '%s' has an invalid "
                                "character", name);
    return NULL;
}

static int all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

const char *tcpi_conf_parse_leg(tcpi_leg_t *out, int argc,
                                char *const argv[], apr_pool_t *p)
{
    int i = 0;
    const char *err;

    memset(out, 0, sizeof(*out));
    if (argc > 0 && !all_digits(argv[0]) && !isdigit((unsigned char)argv[0][0])) {
        if ((err = tcpi_conf_check_iface(argv[0], p)) != NULL)
            return err;
        apr_cpystrn(out->iface, argv[0], sizeof(out->iface));
        i = 1;
    }
    if (i >= argc)
        return "needs at least one port, optionally after an interface name";
    for (; i < argc; i++) {
        uint16_t port;
        if ((err = tcpi_conf_parse_port(&port, argv[i], p)) != NULL)
            return err;
        if (tcpi_ports_add(&out->ports, port) != 0)
            return apr_psprintf(p, "at most %d ports", TCPI_MAX_PORTS);
    }
    out->set = 1;
    return NULL;
}

const char *tcpi_conf_parse_threshold(tcpi_threshold_t *out, int argc,
                                      char *const argv[], apr_pool_t *p)
{
    uint64_t w, c;
    const char *err;

    if (argc < 3 || argc > 4)
        return "takes STATE warning critical [front|backend|backend_local]";
    if ((out->state = tcpi_state_from_name(argv[0])) < 0)
        return apr_psprintf(p, "unknown TCP state '%s' (one of ESTABLISHED "
                            "SYN_SENT SYN_RECV FIN_WAIT1 FIN_WAIT2 TIME_WAIT "
                            "CLOSE CLOSE_WAIT LAST_ACK LISTEN CLOSING)", argv[0]);
    if ((err = tcpi_conf_parse_count(&w, argv[1], 0, UINT32_MAX, p)) != NULL)
        return apr_pstrcat(p, "warning: ", err, NULL);
    if ((err = tcpi_conf_parse_count(&c, argv[2], 0, UINT32_MAX, p)) != NULL)
        return apr_pstrcat(p, "critical: ", err, NULL);
    if (w > c)
        return apr_psprintf(p, "warning %s is above critical %s", argv[1],
                            argv[2]);
    out->warning = (uint32_t)w;
    out->critical = (uint32_t)c;
    out->scope = -1;
    if (argc == 4 && (out->scope = tcpi_scope_from_name(argv[3])) < 0)
        return apr_psprintf(p, "unknown scope '%s' (front, backend or "
                            "backend_local)", argv[3]);
    return NULL;
}

const char *tcpi_conf_check_header(const char *name, apr_pool_t *p)
{
    /* RFC 9110 5.6.2: token = 1*tchar */
    static const char tchar_extra[] = "!#$%&'*+-.^_`|~";

    if (*name == '\0')
        return "empty header name";
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && strchr(tchar_extra, *c) == NULL)
            return apr_psprintf(p, "'%s' is not a valid header name", name);
    return NULL;
}

const char *tcpi_conf_check_bpf(const char *expr, int linktype, apr_pool_t *p)
{
    pcap_t *dead = pcap_open_dead(linktype, 65535);
    struct bpf_program prog;
    const char *err = NULL;

    if (dead == NULL)
        return "cannot open a libpcap handle to compile the filter";
    if (pcap_compile(dead, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0)
        err = apr_psprintf(p, "filter '%s' does not compile: %s", expr,
                           pcap_geterr(dead));
    else
        pcap_freecode(&prog);
    pcap_close(dead);
    return err;
}

/* ---- TCPInspectRequestLog -------------------------------------------- */

const char *tcpi_conf_parse_log_target(const char **cmd, const char *arg,
                                       apr_pool_t *p)
{
    const char *c, *end;
    int shell = 0;
    struct stat st;

    *cmd = NULL;
    if (arg[0] == '\0')
        return "takes a file name or \"|command\" (a piped logger)";
    if (arg[0] != '|')
        return NULL;
    c = arg + 1;
    if (*c == '|')                      /* "||prog": 2.2's spelling */
        c++;
    if (*c == '$') {                    /* "|$cmd": through the shell */
        shell = 1;
        c++;
    }
    while (isspace((unsigned char)*c))
        c++;
    if (*c == '\0')
        return apr_psprintf(p, "no command after \"%s\"", arg);
    *cmd = c;
    if (shell || *c != '/')
        return NULL;                    /* found in PATH at start */
    for (end = c; *end && !isspace((unsigned char)*end); end++)
        ;
    const char *prog = apr_pstrmemdup(p, c, (apr_size_t)(end - c));
    if (stat(prog, &st) != 0)
        return apr_psprintf(p, "the piped logger %s: %s", prog,
                            strerror(errno));
    if (!S_ISREG(st.st_mode) || access(prog, X_OK) != 0)
        return apr_psprintf(p, "the piped logger %s is not an executable "
                            "file", prog);
    return NULL;
}

const char *tcpi_conf_check_log_file(const char *path, apr_pool_t *p)
{
    struct stat st;
    char *dir, *slash;
    int fd;

    if (path[0] != '/')
        return apr_psprintf(p, "'%s' is not an absolute path", path);
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return apr_psprintf(p, "'%s' is a directory", path);
        if (S_ISFIFO(st.st_mode))
            return NULL;                /* opening would wait for a reader */
        /* No O_CREAT, no O_TRUNC: nothing changes. */
        fd = open(path, O_WRONLY | O_APPEND | O_NOCTTY | O_NONBLOCK |
                  O_CLOEXEC);
        if (fd < 0)
            return apr_psprintf(p, "cannot open '%s' for writing: %s", path,
                                strerror(errno));
        close(fd);
        return NULL;
    }
    if (errno != ENOENT)
        return apr_psprintf(p, "cannot open '%s': %s", path, strerror(errno));
    dir = apr_pstrdup(p, path);
    slash = strrchr(dir, '/');
    if (slash[1] == '\0')
        return apr_psprintf(p, "'%s' names a directory", path);
    if (slash == dir)
        slash[1] = '\0';               /* "/file": the directory is "/" */
    else
        *slash = '\0';
    if (stat(dir, &st) != 0)
        return apr_psprintf(p, "cannot create '%s': its directory %s: %s",
                            path, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return apr_psprintf(p, "cannot create '%s': %s is not a directory",
                            path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return apr_psprintf(p, "cannot create '%s' in %s: %s", path, dir,
                            strerror(errno));
    return NULL;
}
