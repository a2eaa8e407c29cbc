/* tcpi_sandbox.c — the capture worker's sandbox (tcpi_sandbox.h). */
#include "tcpi_sandbox.h"
#include "tcpi/common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/sched.h>

#ifndef SO_RCVTIMEO_OLD
#define SO_RCVTIMEO_OLD 20
#endif
#ifndef SO_RCVTIMEO_NEW
#define SO_RCVTIMEO_NEW 66
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

/* Every flag by which clone(2) makes something other than a thread of
 * this process: a new process (no CLONE_THREAD) or any new namespace. */
#define CLONE_NS_FLAGS (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS |       \
                        CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |        \
                        CLONE_NEWNET)
#define MAX_INHERITED_SOCKETS 128

/* ---- the allow-list ---------------------------------------------------
 *
 * One row per rule: the call, the errno it fails with instead of running
 * (0: it runs), and up to two argument compares that must all hold. A
 * call may have several rows with disjoint arguments; a call or argument
 * value with no row kills the process. */
typedef struct {
    int                 nr;
    const char         *name;
    int                 err;
    int                 self_a0;     /* arg 0 must be our pid */
    unsigned            nargs;
    struct scmp_arg_cmp arg[2];
} rule_t;

#define EQ(i, v)        { (i), SCMP_CMP_EQ, (scmp_datum_t)(v), 0 }
#define BITS(i, m, v)   { (i), SCMP_CMP_MASKED_EQ, (scmp_datum_t)(m), (scmp_datum_t)(v) }
#define ALLOW(sc)       { SCMP_SYS(sc), #sc, 0, 0, 0, { { 0 } } }
#define ALLOW1(sc, a)   { SCMP_SYS(sc), #sc, 0, 0, 1, { a } }
#define ALLOW2(sc, a, b) { SCMP_SYS(sc), #sc, 0, 0, 2, { a, b } }
#define FAIL(sc, e)     { SCMP_SYS(sc), #sc, (e), 0, 0, { { 0 } } }
#define FAIL1(sc, e, a) { SCMP_SYS(sc), #sc, (e), 0, 1, { a } }
#define FAIL2(sc, e, a, b) { SCMP_SYS(sc), #sc, (e), 0, 2, { a, b } }
#define ALLOW_SELF(sc)  { SCMP_SYS(sc), #sc, 0, 1, 0, { { 0 } } }

static const rule_t allow_list[] = {
    /* Memory: malloc, thread stacks, the pcap ring's unmap at close.
     * Never executable: a hijacked worker cannot map code of its own. */
    ALLOW(brk), ALLOW(munmap), ALLOW(mremap), ALLOW(madvise),
    ALLOW1(mmap, BITS(2, PROT_EXEC, 0)),
    FAIL1(mmap, EPERM, BITS(2, PROT_EXEC, PROT_EXEC)),
    ALLOW1(mprotect, BITS(2, PROT_EXEC, 0)),
    FAIL1(mprotect, EPERM, BITS(2, PROT_EXEC, PROT_EXEC)),

    /* Threads: the state-count sampler (pthread_create, pthread_join).
     * clone3 keeps its flags in memory a filter cannot read, so it fails
     * with ENOSYS and glibc falls back to clone, allowed for a thread and
     * nothing else (no fork, no namespace). sched_getaffinity sizes
     * malloc's arenas; rseq is glibc's per-thread registration. */
    ALLOW1(clone, BITS(0, CLONE_THREAD | CLONE_NS_FLAGS, CLONE_THREAD)),
    FAIL(clone3, ENOSYS),
    ALLOW(futex), ALLOW(set_robust_list), ALLOW(rseq), ALLOW(sched_yield),
    ALLOW(sched_getaffinity), ALLOW(exit), ALLOW(exit_group),

    /* Time: timestamps, the sampler's pacing (mostly vDSO, these are the
     * fallbacks). */
    ALLOW(clock_gettime), ALLOW(clock_getres), ALLOW(gettimeofday),
    ALLOW(time), ALLOW(nanosleep), ALLOW(clock_nanosleep),

    /* Capture loop: poll the handles' fds; libpcap's TPACKET_V3 dispatch
     * (poll, read of its wakeup eventfd, SO_ERROR); pcap_stats
     * (PACKET_STATISTICS). After an ENETDOWN libpcap asks whether the
     * interface is gone (getsockname) or up again (SIOCGIFFLAGS), and a
     * corrupt ring frame is reported with uname. All of them only read. */
    ALLOW(poll), ALLOW(ppoll), ALLOW(read), ALLOW(getsockopt),
    ALLOW(getsockname), ALLOW1(ioctl, EQ(1, SIOCGIFFLAGS)), ALLOW(uname),

    /* State counts (tcpi_sockdiag.c): a NETLINK_SOCK_DIAG socket a sample,
     * its receive buffer and timeout, the dump request and its replies.
     * No other socket: the packet sockets were opened as root. */
    ALLOW2(socket, EQ(0, AF_NETLINK), EQ(2, NETLINK_SOCK_DIAG)),
    ALLOW2(setsockopt, EQ(1, SOL_SOCKET), EQ(2, SO_RCVBUF)),
    ALLOW2(setsockopt, EQ(1, SOL_SOCKET), EQ(2, SO_RCVTIMEO_OLD)),
    ALLOW2(setsockopt, EQ(1, SOL_SOCKET), EQ(2, SO_RCVTIMEO_NEW)),
    ALLOW(sendto), ALLOW(sendmsg), ALLOW(recvfrom), ALLOW(recvmsg),
    /* pcap_close tears its ring down first (the close does it anyway, and
     * libpcap ignores the failure); no other packet socket option, which
     * could widen what the socket sees. */
    FAIL2(setsockopt, EPERM, EQ(1, SOL_PACKET), EQ(2, PACKET_RX_RING)),
    /* ErrorLog syslog: glibc reconnects to /dev/log when syslogd went
     * away. It fails (the line is lost) rather than killing. */
    FAIL1(socket, EACCES, EQ(0, AF_UNIX)),

    /* Files: triggered captures (tcpi_trigger.c: O_EXCL temporary, write,
     * fstat, rename, unlink, the directory scan with lstat and qsort,
     * whose glibc asks sysinfo for the memory size), the error log
     * (write, writev), this file's /proc/self/status reader. */
    ALLOW(openat), ALLOW(open), ALLOW(close), ALLOW(write), ALLOW(writev),
    ALLOW(lseek), ALLOW(fstat), ALLOW(newfstatat), ALLOW(stat), ALLOW(lstat),
    ALLOW(statx), ALLOW(getdents64), ALLOW(access), ALLOW(faccessat),
    ALLOW(faccessat2), ALLOW(rename), ALLOW(renameat), ALLOW(renameat2),
    ALLOW(unlink), ALLOW(unlinkat), ALLOW(fsync), ALLOW(fdatasync),
    ALLOW(sysinfo),
    /* Flags only: no F_DUPFD (a copy of a packet socket under another
     * number would escape the descriptor filter), no F_SETOWN (SIGIO to
     * another process). */
    ALLOW1(fcntl, EQ(1, F_GETFD)), ALLOW1(fcntl, EQ(1, F_SETFD)),
    ALLOW1(fcntl, EQ(1, F_GETFL)), ALLOW1(fcntl, EQ(1, F_SETFL)),
    /* stdio's isatty() probe on a stream: "not a terminal". */
    FAIL1(ioctl, ENOTTY, EQ(1, TCGETS)),

    /* Signals: SIGTERM from httpd, abort()/raise() to ourselves only (no
     * kill: httpd's children run as the same user). sigaltstack is the
     * sanitizers' per-thread signal stack. */
    ALLOW(rt_sigaction), ALLOW(rt_sigprocmask), ALLOW(rt_sigreturn),
    ALLOW(sigaltstack), ALLOW(restart_syscall), ALLOW_SELF(tgkill),

    /* Identity: getppid tells the worker that httpd is gone; the rest
     * goes into log lines. Reading only. */
    ALLOW(getpid), ALLOW(getppid), ALLOW(gettid), ALLOW(getuid),
    ALLOW(geteuid), ALLOW(getgid), ALLOW(getegid), ALLOW(getrandom),
    /* tcpi_sandbox_status. Setting dumpable again is not allowed. */
    ALLOW1(prctl, EQ(0, PR_GET_DUMPABLE)),
};

/* Calls that write to or send on a descriptor: none of them may touch an
 * inherited network socket (filter 1). */
static const int send_calls[] = {
    SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(pwrite64),
    SCMP_SYS(pwritev), SCMP_SYS(pwritev2), SCMP_SYS(sendto),
    SCMP_SYS(sendmsg), SCMP_SYS(sendmmsg),
};

/* The reason in err, with errno e's text when e is not 0; -1. */
static int fail(char *err, size_t errlen, int e, const char *what)
{
    if (e)
        snprintf(err, errlen, "%s: %s", what, strerror(e));
    else
        snprintf(err, errlen, "%s", what);
    return -1;
}

/* ---- privileges ------------------------------------------------------ */

static int caps_get(struct __user_cap_data_struct d[2])
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };

    memset(d, 0, 2 * sizeof(*d));
    return (int)syscall(SYS_capget, &h, d);
}

static int drop_caps(char *err, size_t errlen)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];

    /* Before Linux 4.3 there is no ambient set to clear. */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 &&
        errno != EINVAL)
        return fail(err, errlen, errno, "clearing the ambient capabilities");
    if (caps_get(d) != 0)
        return fail(err, errlen, errno, "capget");
    /* The bounding set needs CAP_SETPCAP; without it (the usual case once
     * the uid is not 0) the permitted set is empty and no_new_privs keeps
     * it so. PR_CAPBSET_READ fails past the kernel's last capability. */
    if (d[CAP_SETPCAP / 32].effective & (1u << (CAP_SETPCAP % 32)))
        for (int c = 0; prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++)
            if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0)
                return fail(err, errlen, errno,
                            "dropping the bounding capabilities");
    memset(d, 0, sizeof(d));
    if (syscall(SYS_capset, &h, d) != 0)
        return fail(err, errlen, errno, "capset");
    return 0;
}

/* Root stays root without capabilities: it owns /etc and its files. */
static int check_identity(char *err, size_t errlen)
{
    struct __user_cap_data_struct d[2];
    uid_t ru, eu, su;
    gid_t rg, eg, sg, *groups;
    int n, root_group = 0;

    if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
        return fail(err, errlen, errno, "getresuid");
    if (ru == 0 || eu == 0 || su == 0)
        return fail(err, errlen, 0, "refusing to run as uid 0 (is "
                    "httpd's User root?)");
    if (rg == 0 || eg == 0 || sg == 0)
        return fail(err, errlen, 0, "refusing to run as gid 0 (is "
                    "httpd's Group root?)");
    n = getgroups(0, NULL);
    groups = malloc((size_t)(n > 0 ? n : 1) * sizeof(*groups));
    if (n < 0 || groups == NULL || (n = getgroups(n, groups)) < 0) {
        free(groups);
        return fail(err, errlen, errno, "getgroups");
    }
    for (int i = 0; i < n; i++)
        root_group |= groups[i] == 0;
    free(groups);
    if (root_group)
        return fail(err, errlen, 0, "refusing to run with the "
                    "supplementary group 0");
    if (caps_get(d) != 0)
        return fail(err, errlen, errno, "capget");
    for (int i = 0; i < 2; i++)
        if (d[i].effective || d[i].permitted || d[i].inheritable)
            return fail(err, errlen, 0, "a capability is left after "
                        "dropping them all");
    return 0;
}

/* ---- the filters ----------------------------------------------------- */

static int load(scmp_filter_ctx ctx, const char *which, char *err,
                size_t errlen)
{
    int rc = seccomp_load(ctx);

    seccomp_release(ctx);
    return rc ? fail(err, errlen, -rc, which) : 0;
}

/* Filter 1, default allow: a write or send on an inherited network socket
 * kills. Own filter because seccomp takes the harshest verdict of all
 * filters, while one libseccomp filter mixing "allow write" with "kill
 * write to fd 5" resolves the overlap by the order of the rules. */
/* The process's network sockets (packet, inet), from /proc/self/fd:
 * their count, or -1 with the reason in err. */
static int net_sockets(int *fds, char *err, size_t errlen)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return fail(err, errlen, errno, "listing /proc/self/fd");
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        int dom = -1;
        socklen_t len = sizeof(dom);
        if (*end != '\0' || end == e->d_name || fd == dirfd(d) ||
            getsockopt((int)fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) != 0 ||
            (dom != AF_PACKET && dom != AF_INET && dom != AF_INET6))
            continue;
        if (n == MAX_INHERITED_SOCKETS) {
            closedir(d);
            return fail(err, errlen, 0, "more than 128 inherited "
                        "network sockets");
        }
        fds[n++] = (int)fd;
    }
    closedir(d);
    return n;
}

/* Counted by tcpi_sandbox_confine while /proc was there. */
static int confined_fds[MAX_INHERITED_SOCKETS], confined_nfds = -1;

static int load_fd_filter(uint32_t kill, char *err, size_t errlen)
{
    int fds[MAX_INHERITED_SOCKETS], n;
    scmp_filter_ctx ctx;

    if (confined_nfds >= 0) {
        n = confined_nfds;
        memcpy(fds, confined_fds, sizeof(int) * (size_t)n);
    } else if ((n = net_sockets(fds, err, errlen)) < 0) {
        return -1;
    }
    if (n == 0)
        return 0;
    ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL)
        return fail(err, errlen, ENOMEM, "seccomp_init");
    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, kill);
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < TCPI_ARRAY_LEN(send_calls); k++) {
            struct scmp_arg_cmp fd = EQ(0, fds[i]);
            int rc = seccomp_rule_add_array(ctx, kill, send_calls[k], 1, &fd);
            if (rc != 0) {
                seccomp_release(ctx);
                return fail(err, errlen, -rc, "the descriptor filter");
            }
        }
    return load(ctx, "loading the descriptor filter", err, errlen);
}

/* Filter 2: the allow-list; what it does not name ends the process. */
static int load_allow_list(uint32_t deny, uint32_t badarch, char *err,
                           size_t errlen)
{
    struct scmp_arg_cmp self = EQ(0, getpid());
    scmp_filter_ctx ctx = seccomp_init(deny);

    if (ctx == NULL)
        return fail(err, errlen, ENOMEM, "seccomp_init");
    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, badarch);
    /* A binary search over the calls instead of a linear chain; older
     * libseccomp lacks the attribute and keeps the chain. */
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    for (size_t i = 0; i < TCPI_ARRAY_LEN(allow_list); i++) {
        const rule_t *r = &allow_list[i];
        uint32_t act = r->err ? SCMP_ACT_ERRNO((uint32_t)r->err)
                              : SCMP_ACT_ALLOW;
        int rc = r->self_a0 ? seccomp_rule_add_array(ctx, act, r->nr, 1, &self)
                            : seccomp_rule_add_array(ctx, act, r->nr, r->nargs,
                                                     r->arg);
        if (rc != 0) {
            char what[64];
            snprintf(what, sizeof(what), "the seccomp rule for %s", r->name);
            seccomp_release(ctx);
            return fail(err, errlen, -rc, what);
        }
    }
    return load(ctx, "loading the allow-list", err, errlen);
}

/* Set by tcpi_sandbox_confine once it saw a single thread. */
static int confined_single;

int tcpi_sandbox_enter(const tcpi_sandbox_conf_t *conf, char *err,
                       size_t errlen)
{
    tcpi_sandbox_status_t st;
    /* KILL_PROCESS and LOG came with Linux 4.14; before, a trapped
     * SIGSYS that nobody handles ends the whole process too. */
    int modern = seccomp_api_get() >= 3;
    uint32_t kill = modern ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_TRAP;
    uint32_t deny = kill;

    if (conf != NULL && conf->log_only) {
        if (!modern)
            return fail(err, errlen, 0, "log-only needs Linux 4.14");
        deny = SCMP_ACT_LOG;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return fail(err, errlen, errno, "PR_SET_NO_NEW_PRIVS");
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return fail(err, errlen, errno, "PR_SET_DUMPABLE");
    if (drop_caps(err, errlen) != 0 || check_identity(err, errlen) != 0)
        return -1;
    /* Capabilities and no_new_privs belong to the calling thread only.
     * Confined, there is no /proc: tcpi_sandbox_confine counted them. */
    if (tcpi_sandbox_status(&st) != 0) {
        if (!confined_single)
            return fail(err, errlen, 0, "cannot read /proc/self/status");
        st.threads = 1;
    }
    if (st.threads != 1)
        return fail(err, errlen, 0, "the process already has threads");
    if (load_fd_filter(kill, err, errlen) != 0)
        return -1;
    return load_allow_list(deny, kill, err, errlen);
}

/* ---- inherited descriptors ------------------------------------------ */

static int keep_fd(int fd, const int *keep, size_t nkeep)
{
    struct sockaddr_storage peer;
    socklen_t len = sizeof(peer);
    int dom = -1, type = -1;
    socklen_t dl = sizeof(dom), tl = sizeof(type);

    if (fd < 3)
        return 1;
    for (size_t i = 0; i < nkeep; i++)
        if (keep[i] == fd)
            return 1;
    return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &dl) == 0 &&
           getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
           dom == AF_UNIX && type == SOCK_DGRAM &&
           getpeername(fd, (struct sockaddr *)&peer, &len) == 0;
}

int tcpi_sandbox_confine(const char *dir, char *err, size_t errlen)
{
    char tmpl[] = "/tmp/tcpinspect-jail-XXXXXX";
    tcpi_sandbox_status_t st;

    /* Count the threads while /proc is there (tcpi_sandbox_enter needs
     * one): a confined process only creates them after entering. */
    if (tcpi_sandbox_status(&st) != 0 || st.threads != 1) {
        snprintf(err, errlen, "confine: the process has threads, or no /proc");
        return -1;
    }
    /* And the sockets the descriptor filter will cover: the confined
     * process opens no network socket before it enters the sandbox. */
    if ((confined_nfds = net_sockets(confined_fds, err, errlen)) < 0)
        return -1;
    confined_single = 1;

    if (dir != NULL && *dir != '\0' && chdir(dir) == 0 && chroot(".") == 0 &&
        chdir("/") == 0)
        return 1;
    /* An empty directory of root's, removed before we enter it: nothing
     * can be created in it, nothing is there. */
    if (mkdtemp(tmpl) == NULL) {
        snprintf(err, errlen, "mkdtemp %s: %s", tmpl, strerror(errno));
        return -1;
    }
    if (chdir(tmpl) != 0 || rmdir(tmpl) != 0 || chroot(".") != 0 ||
        chdir("/") != 0) {
        snprintf(err, errlen, "chroot into an empty directory: %s",
                 strerror(errno));
        rmdir(tmpl);
        return -1;
    }
    return 0;
}

int tcpi_sandbox_drop(uid_t uid, gid_t gid, char *err, size_t errlen)
{
    uid_t r, e, s;
    gid_t rg, eg, sg;

    if (uid == 0 || gid == 0) {
        snprintf(err, errlen, "will not run as uid/gid 0");
        return -1;
    }
    if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 ||
        setresuid(uid, uid, uid) != 0) {
        snprintf(err, errlen, "cannot become uid %ld gid %ld: %s", (long)uid,
                 (long)gid, strerror(errno));
        return -1;
    }
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (getresuid(&r, &e, &s) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
        r != uid || e != uid || s != uid || rg != gid || eg != gid ||
        sg != gid || prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) {
        snprintf(err, errlen, "the privilege drop did not hold");
        return -1;
    }
    return 0;
}

int tcpi_sandbox_close_inherited(const int *keep, size_t nkeep)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int *list = NULL, n = 0, cap = 0, closed = 0;

    if (d == NULL)
        return -1;
    /* Listed first, closed after: closing while reading the directory
     * would change what it lists. */
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end != '\0' || end == e->d_name || fd == dirfd(d) ||
            keep_fd((int)fd, keep, nkeep))
            continue;
        if (n == cap) {
            int *nl;
            cap = cap ? cap * 2 : 64;
            nl = realloc(list, (size_t)cap * sizeof(*nl));
            if (nl == NULL) {
                closedir(d);
                free(list);
                return -1;
            }
            list = nl;
        }
        list[n++] = (int)fd;
    }
    closedir(d);
    for (int i = 0; i < n; i++)
        closed += close(list[i]) == 0;
    free(list);
    return closed;
}

/* ---- status ---------------------------------------------------------- */

/* The value after "key:" at the start of a line, or NULL. */
static const char *field(const char *buf, const char *key)
{
    size_t k = strlen(key);
    const char *p = buf;

    while (p != NULL) {
        if (strncmp(p, key, k) == 0 && p[k] == ':')
            return p + k + 1;
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return NULL;
}

int tcpi_sandbox_status(tcpi_sandbox_status_t *st)
{
    char buf[8192];
    size_t n = 0;
    ssize_t r;
    const char *v;
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC), rc = 0;

    memset(st, 0, sizeof(*st));
    st->seccomp_filters = -1;
    if (fd < 0)
        return -1;
    while (n < sizeof(buf) - 1 &&
           ((r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0 ||
            (r < 0 && errno == EINTR)))
        n += r > 0 ? (size_t)r : 0;
    close(fd);
    buf[n] = '\0';
    if ((v = field(buf, "NoNewPrivs")) != NULL)
        st->no_new_privs = (int)strtol(v, NULL, 10);
    else
        rc = -1;
    if ((v = field(buf, "Seccomp")) != NULL)
        st->seccomp = (int)strtol(v, NULL, 10);
    else
        rc = -1;
    if ((v = field(buf, "Seccomp_filters")) != NULL)
        st->seccomp_filters = (int)strtol(v, NULL, 10);
    if ((v = field(buf, "Threads")) != NULL)
        st->threads = (int)strtol(v, NULL, 10);
    else
        rc = -1;
    if ((v = field(buf, "CapEff")) != NULL)
        st->cap_eff = strtoull(v, NULL, 16);
    else
        rc = -1;
    if ((v = field(buf, "CapPrm")) != NULL)
        st->cap_prm = strtoull(v, NULL, 16);
    else
        rc = -1;
    st->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    if (st->dumpable < 0)
        rc = -1;
    return rc;
}
