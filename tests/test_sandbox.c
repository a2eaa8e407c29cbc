/* Unit tests for the capture worker's sandbox (tcpi_sandbox.h). Every case
 * forks: the child opens what it needs as root, drops to nobody the way
 * httpd's worker does, enters the sandbox and reports through a pipe and
 * its exit status; the parent checks. A forbidden call is run once
 * without the sandbox too, to show that only the filter stops it. The
 * children end with _exit: no atexit handlers, so no LeakSanitizer pass
 * (it needs ptrace) in a sandboxed process. Needs root; skipped without. */
#include "tcpi_test.h"
#include "tcpi_reqcap_frames.h"
#include "capture/tcpi_sandbox.h"
#include "states/tcpi_sockdiag.h"
#include "reqcap/tcpi_trigger.h"
#include "capture/tcpi_worker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>

#define NOBODY 65534
#define RING   (4u << 20)

extern char **environ;

/* ---- child plumbing -------------------------------------------------- */

typedef int child_fn(int out, void *arg);

typedef struct {
    pid_t pid;
    int   fd;              /* the read end of the child's pipe */
    int   status;          /* waitpid's */
    char  text[8192];      /* what the child wrote */
    size_t n;
} child_t;

static void spawn(child_t *c, child_fn *fn, void *arg)
{
    int p[2];

    memset(c, 0, sizeof(*c));
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        close(p[0]);
        alarm(60);              /* a hang ends as SIGALRM, not a stuck run */
        _exit(fn(p[1], arg));
    }
    close(p[1]);
    c->fd = p[0];
}

/* Read until the child's text holds marker (NULL: until end of file). */
static int read_until(child_t *c, const char *marker)
{
    while (marker == NULL || strstr(c->text, marker) == NULL) {
        ssize_t r = read(c->fd, c->text + c->n, sizeof(c->text) - 1 - c->n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return marker == NULL ? 0 : -1;
        c->n += (size_t)r;
        c->text[c->n] = '\0';
    }
    return 0;
}

static void collect(child_t *c)
{
    read_until(c, NULL);
    close(c->fd);
    assert_int_equal(waitpid(c->pid, &c->status, 0), c->pid);
}

static void run(child_t *c, child_fn *fn, void *arg)
{
    spawn(c, fn, arg);
    collect(c);
}

static void expect_exit0(const child_t *c)
{
    if (!WIFEXITED(c->status) || WEXITSTATUS(c->status) != 0)
        print_message("child status %#x, said:\n%s", c->status, c->text);
    assert_true(WIFEXITED(c->status));
    assert_int_equal(WEXITSTATUS(c->status), 0);
}

static void expect_sigsys(const child_t *c)
{
    if (!WIFSIGNALED(c->status) || WTERMSIG(c->status) != SIGSYS)
        print_message("child status %#x, said:\n%s", c->status, c->text);
    assert_true(WIFSIGNALED(c->status));
    assert_int_equal(WTERMSIG(c->status), SIGSYS);
}

static void say(int out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int out, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0 && write(out, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1) < 0)
        _exit(99);
}

/* In a child: report the first failed check and give up. */
#define CHECK(cond) do {                                                     \
        if (!(cond)) {                                                       \
            say(out, "FAILED line %d: %s (errno: %s)\n", __LINE__, #cond,    \
                strerror(errno));                                            \
            return 1;                                                        \
        }                                                                    \
    } while (0)

static int drop_to_nobody(int out)
{
    if (setgroups(0, NULL) != 0 || setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
        setresuid(NOBODY, NOBODY, NOBODY) != 0) {
        say(out, "cannot become nobody: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

static int enter(int out, const tcpi_sandbox_conf_t *conf)
{
    char err[256];

    if (tcpi_sandbox_enter(conf, err, sizeof(err)) != 0) {
        say(out, "enter failed: %s\n", err);
        return -1;
    }
    say(out, "entered\n");
    return 0;
}

static void need_root(void)
{
    if (geteuid() != 0) {
        print_message("skipped: dropping to nobody needs root\n");
        skip();
    }
}

/* ---- status ------------------------------------------------------------ */

/* The reader against capget(2) and prctl, outside the sandbox. */
static void test_status_unsandboxed(void **state)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    tcpi_sandbox_status_t st;

    assert_int_equal(tcpi_sandbox_status(&st), 0);
    assert_int_equal(syscall(SYS_capget, &h, d), 0);
    assert_int_equal(st.cap_eff, (uint64_t)d[1].effective << 32 | d[0].effective);
    assert_int_equal(st.cap_prm, (uint64_t)d[1].permitted << 32 | d[0].permitted);
    assert_int_equal(st.dumpable, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
    assert_int_equal(st.threads, 1);
    assert_true(st.no_new_privs == 0 || st.no_new_privs == 1);
    assert_true(st.seccomp >= 0 && st.seccomp <= 2);
}

static int child_status(int out, void *arg)
{
    tcpi_sandbox_status_t st;
    int pkt = socket(AF_PACKET, SOCK_RAW, 0);   /* as root: no packets */

    CHECK(pkt >= 0);
    if (drop_to_nobody(out) != 0)
        return 1;
    /* What httpd does when CoreDumpDirectory is set. */
    CHECK(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0);
    if (enter(out, NULL) != 0)
        return 1;
    CHECK(tcpi_sandbox_status(&st) == 0);
    say(out, "nnp=%d seccomp=%d filters=%d eff=%llx prm=%llx dumpable=%d\n",
        st.no_new_privs, st.seccomp, st.seccomp_filters,
        (unsigned long long)st.cap_eff, (unsigned long long)st.cap_prm,
        st.dumpable);
    return 0;
}

static void test_status_sandboxed(void **state)
{
    tcpi_sandbox_status_t before;
    child_t c;
    int nnp, sec, filters, dumpable;
    unsigned long long eff, prm;
    const char *line;

    need_root();
    assert_int_equal(tcpi_sandbox_status(&before), 0);
    run(&c, child_status, NULL);
    expect_exit0(&c);
    line = strstr(c.text, "nnp=");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "nnp=%d seccomp=%d filters=%d eff=%llx prm=%llx "
                            "dumpable=%d", &nnp, &sec, &filters, &eff, &prm,
                            &dumpable), 6);
    assert_int_equal(nnp, 1);
    assert_int_equal(sec, 2);
    assert_int_equal(eff, 0);
    assert_int_equal(prm, 0);
    assert_int_equal(dumpable, 0);
    /* The descriptor filter (an inherited packet socket) and the
     * allow-list, on top of whatever the test runs under. */
    if (before.seccomp_filters >= 0)
        assert_int_equal(filters, before.seccomp_filters + 2);
}

/* ---- refusals ----------------------------------------------------------- */

static int child_as_root(int out, void *arg)
{
    char err[256];
    int rc = tcpi_sandbox_enter(NULL, err, sizeof(err)), s;

    say(out, "rc=%d err=%s\n", rc, rc ? err : "");
    /* Refused before any filter: an IPv4 socket still opens. */
    s = socket(AF_INET, SOCK_STREAM, 0);
    say(out, "inet %s\n", s >= 0 ? "ok" : strerror(errno));
    return 0;
}

static void test_refuses_root(void **state)
{
    child_t c;

    need_root();
    run(&c, child_as_root, NULL);
    expect_exit0(&c);
    assert_non_null(strstr(c.text, "rc=-1 "));
    assert_non_null(strstr(c.text, "uid 0"));
    assert_non_null(strstr(c.text, "inet ok"));
}

static int child_gid_root(int out, void *arg)
{
    char err[256];
    int rc;

    CHECK(setgroups(0, NULL) == 0);
    CHECK(setresuid(NOBODY, NOBODY, NOBODY) == 0);      /* gid stays 0 */
    rc = tcpi_sandbox_enter(NULL, err, sizeof(err));
    say(out, "rc=%d err=%s\n", rc, rc ? err : "");
    return 0;
}

/* Confined to a directory, then dropped: only that directory is there
 * (no /proc, no /etc), files are written in it; the drop is numeric,
 * leaves no supplementary group and a process that is not dumpable. */
static int child_confined(int out, void *arg)
{
    const char *dir = arg;
    char err[256];
    gid_t groups[8];
    int fd;

    CHECK(tcpi_sandbox_confine(dir, err, sizeof(err)) == 1);
    CHECK(tcpi_sandbox_drop(NOBODY, NOBODY, err, sizeof(err)) == 0);
    CHECK(getuid() == NOBODY && geteuid() == NOBODY && getgid() == NOBODY);
    CHECK(getgroups(8, groups) == 1 && groups[0] == NOBODY);
    CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
    CHECK(access("/proc/self/status", F_OK) != 0);
    CHECK(access("/etc/passwd", F_OK) != 0);
    CHECK(access("/marker", F_OK) == 0);
    CHECK((fd = open("/written", O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
    close(fd);
    /* Entering needs no /proc once confined (threads and sockets were
     * counted by tcpi_sandbox_confine). */
    CHECK(tcpi_sandbox_enter(NULL, err, sizeof(err)) == 0);
    say(out, "confined ok\n");
    return 0;
}

/* No usable directory: an empty one without a name, where nothing can
 * be created. */
static int child_confined_empty(int out, void *arg)
{
    char err[256];

    CHECK(tcpi_sandbox_confine(NULL, err, sizeof(err)) == 0);
    CHECK(tcpi_sandbox_drop(NOBODY, NOBODY, err, sizeof(err)) == 0);
    CHECK(access("/proc/self/status", F_OK) != 0);
    CHECK(access("/tmp", F_OK) != 0);
    CHECK(open("/x", O_WRONLY | O_CREAT, 0600) < 0);
    CHECK(tcpi_sandbox_drop(0, NOBODY, err, sizeof(err)) == -1);
    say(out, "empty ok\n");
    return 0;
}

static void test_confine_and_drop(void **state)
{
    char dir[] = "/tmp/tcpi-confine-XXXXXX", path[64];
    child_t c;

    need_root();
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chown(dir, NOBODY, NOBODY), 0);
    snprintf(path, sizeof(path), "%s/marker", dir);
    close(open(path, O_WRONLY | O_CREAT, 0600));
    run(&c, child_confined, dir);
    expect_exit0(&c);
    assert_non_null(strstr(c.text, "confined ok"));
    snprintf(path, sizeof(path), "%s/written", dir);
    assert_int_equal(access(path, F_OK), 0);     /* written where it was */
    unlink(path);
    snprintf(path, sizeof(path), "%s/marker", dir);
    unlink(path);
    rmdir(dir);
    run(&c, child_confined_empty, NULL);
    expect_exit0(&c);
    assert_non_null(strstr(c.text, "empty ok"));
}

static void test_refuses_gid_root(void **state)
{
    child_t c;

    need_root();
    run(&c, child_gid_root, NULL);
    expect_exit0(&c);
    assert_non_null(strstr(c.text, "rc=-1 "));
    assert_non_null(strstr(c.text, "gid 0"));
}

static void *idle_thread(void *arg)
{
    pause();
    return NULL;
}

/* Capabilities and no_new_privs are per thread: a second one is refused. */
static int child_threaded(int out, void *arg)
{
    pthread_t t;
    char err[256];
    int rc;

    if (drop_to_nobody(out) != 0)
        return 1;
    CHECK(pthread_create(&t, NULL, idle_thread, NULL) == 0);
    rc = tcpi_sandbox_enter(NULL, err, sizeof(err));
    say(out, "rc=%d err=%s\n", rc, rc ? err : "");
    return 0;
}

static void test_refuses_threads(void **state)
{
    child_t c;

    need_root();
    run(&c, child_threaded, NULL);
    expect_exit0(&c);
    assert_non_null(strstr(c.text, "rc=-1 "));
    assert_non_null(strstr(c.text, "threads"));
}

/* ---- inherited descriptors ------------------------------------------ */

static int open_fd(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

static int child_close(int out, void *arg)
{
    int p[2], dg[2], st[2], inet, file, keep[2], n;

    CHECK(pipe(p) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) == 0);    /* like syslog's */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, st) == 0);
    inet = socket(AF_INET, SOCK_DGRAM, 0);
    file = open("/dev/null", O_RDONLY);
    CHECK(inet >= 0 && file >= 0);
    keep[0] = out;
    keep[1] = p[1];
    n = tcpi_sandbox_close_inherited(keep, 2);
    CHECK(n >= 5);
    CHECK(open_fd(out) && open_fd(p[1]) && open_fd(dg[0]) && open_fd(dg[1]));
    CHECK(!open_fd(p[0]) && !open_fd(st[0]) && !open_fd(st[1]));
    CHECK(!open_fd(inet) && !open_fd(file));
    say(out, "closed %d\n", n);
    return 0;
}

static void test_close_inherited(void **state)
{
    child_t c;

    run(&c, child_close, NULL);
    expect_exit0(&c);
    assert_non_null(strstr(c.text, "closed "));
}

/* ---- what the worker does keeps working ------------------------------- */

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
    got_usr1 = 1;
}

static void *malloc_thread(void *arg)
{
    char *p = malloc(1 << 20);

    if (p != NULL) {
        memset(p, 1, 1 << 20);
        *(int *)arg = p[12345] + 41;
    }
    free(p);
    return NULL;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

static int child_allowed(int out, void *arg)
{
    const char *dir = arg;
    int pkt = socket(AF_PACKET, SOCK_RAW, 0);    /* as root: no packets */
    struct sigaction sa = { .sa_handler = on_usr1 };
    char path[256], final[256], err[160];
    struct timespec ts, nap = { 0, 1000000 };
    struct pollfd pfd;
    struct stat sb;
    struct tpacket_stats tp;
    socklen_t tplen = sizeof(tp);
    uint32_t count[TCPI_NSCOPES][TCPI_NSTATES];
    tcpi_sockdiag_stats_t dstats;
    tcpi_ports_t front = { .n = 0 }, backend = { .n = 0 };
    tcpi_sandbox_status_t st;
    pthread_t t;
    int v = 0, fd, nl, *arr, n;
    char *big, block[4096];
    DIR *d;
    struct dirent *e;

    CHECK(pkt >= 0);
    if (drop_to_nobody(out) != 0 || enter(out, NULL) != 0)
        return 1;
    /* The capture loop: poll, the clock, a nap, getppid, pcap_stats. */
    pfd = (struct pollfd){ .fd = pkt, .events = POLLIN };
    CHECK(poll(&pfd, 1, 10) == 0);
    CHECK(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
    CHECK(clock_gettime(CLOCK_REALTIME, &ts) == 0);
    CHECK(nanosleep(&nap, NULL) == 0);
    CHECK(getppid() > 1);
    CHECK(getsockopt(pkt, SOL_PACKET, PACKET_STATISTICS, &tp, &tplen) == 0);
    /* Memory: a big block (mmap), grown (mremap), freed (munmap). */
    big = malloc(64u << 20);
    CHECK(big != NULL);
    memset(big, 0xa5, 64u << 20);
    big = realloc(big, 96u << 20);
    CHECK(big != NULL && big[(64u << 20) - 1] == (char)0xa5);
    free(big);
    /* The sampler thread, with an arena of its own. */
    CHECK(pthread_create(&t, NULL, malloc_thread, &v) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(v == 42);
    /* A sock_diag socket and a real dump. */
    nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    CHECK(nl >= 0);
    close(nl);
    tcpi_ports_add(&front, 80);
    tcpi_ports_add(&backend, 7001);
    CHECK(tcpi_sockdiag_count(count, &dstats, err, sizeof(err), &front,
                              &backend) == 0);
    CHECK(dstats.walks >= 1);
    /* A capture file: O_EXCL temporary, write, fsync, rename, listing,
     * unlink. */
    snprintf(path, sizeof(path), "%s/.x.pcapng.tmp", dir);
    snprintf(final, sizeof(final), "%s/x.pcapng", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    CHECK(fd >= 0);
    memset(block, 'p', sizeof(block));
    CHECK(write(fd, block, sizeof(block)) == (ssize_t)sizeof(block));
    CHECK(fsync(fd) == 0);
    CHECK(fstat(fd, &sb) == 0 && sb.st_size == (off_t)sizeof(block));
    CHECK(sb.st_uid == NOBODY);
    CHECK(close(fd) == 0);
    CHECK(access(final, F_OK) == -1 && errno == ENOENT);
    CHECK(rename(path, final) == 0);
    CHECK(lstat(final, &sb) == 0 && S_ISREG(sb.st_mode));
    d = opendir(dir);
    CHECK(d != NULL);
    n = 0;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, "x.pcapng") == 0;
    closedir(d);
    CHECK(n == 1);
    CHECK(unlink(final) == 0);
    /* glibc's qsort of more than a page asks sysinfo for the memory size
     * (the trigger's directory scan). */
    arr = malloc(4096 * sizeof(*arr));
    CHECK(arr != NULL);
    for (int i = 0; i < 4096; i++)
        arr[i] = (i * 7919) % 4096;
    qsort(arr, 4096, sizeof(*arr), cmp_int);
    CHECK(arr[0] == 0 && arr[4095] == 4095);
    free(arr);
    /* A signal to ourselves (tgkill), handled (rt_sigreturn). */
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    CHECK(raise(SIGUSR1) == 0);
    CHECK(got_usr1 == 1);
    CHECK(tcpi_sandbox_status(&st) == 0 && st.seccomp == 2);
    say(out, "all done\n");
    return 0;
}

static void test_allowed_work(void **state)
{
    char dir[] = "/tmp/tcpi-sbx-XXXXXX", cmd[64];
    child_t c;

    need_root();
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chown(dir, NOBODY, NOBODY), 0);
    run(&c, child_allowed, dir);
    expect_exit0(&c);
    assert_non_null(strstr(c.text, "all done"));
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* Calls the allow-list refuses with an errno instead of killing. */
static int child_refused(int out, void *arg)
{
    int pkt = socket(AF_PACKET, SOCK_RAW, 0);
    struct tpacket_req req;
    struct termios tio;
    void *p;

    CHECK(pkt >= 0);
    if (drop_to_nobody(out) != 0 || enter(out, NULL) != 0)
        return 1;
    /* No executable memory, new or changed. */
    errno = 0;
    CHECK(mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
               -1, 0) == MAP_FAILED && errno == EPERM);
    p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
    CHECK(p != MAP_FAILED);
    errno = 0;
    CHECK(mprotect(p, 4096, PROT_READ | PROT_EXEC) == -1 && errno == EPERM);
    CHECK(mprotect(p, 4096, PROT_READ) == 0);
    /* clone3: glibc falls back to clone. */
    errno = 0;
    CHECK(syscall(SYS_clone3, NULL, 0) == -1 && errno == ENOSYS);
    /* syslog's reconnect. */
    errno = 0;
    CHECK(socket(AF_UNIX, SOCK_DGRAM, 0) == -1 && errno == EACCES);
    /* isatty's probe. */
    errno = 0;
    CHECK(ioctl(pkt, TCGETS, &tio) == -1 && errno == ENOTTY);
    CHECK(isatty(pkt) == 0);
    /* libpcap's ring teardown at close. */
    memset(&req, 0, sizeof(req));
    errno = 0;
    CHECK(setsockopt(pkt, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) == -1 &&
          errno == EPERM);
    say(out, "all refused\n");
    return 0;
}

static void test_refused_not_killed(void **state)
{
    child_t c;

    need_root();
    run(&c, child_refused, NULL);
    expect_exit0(&c);
    assert_non_null(strstr(c.text, "all refused"));
}

/* ---- the real worker ------------------------------------------------- */

typedef struct {
    tcpi_shm_t  *shm;
    tcpi_ports_t front, backend;         /* for the sampler */
    tcpi_worker_iface_t iface[2];        /* the parent's plan */
    uint32_t     niface;
    int          triggers;               /* write two triggered captures */
} worker_arg_t;

static void plan(worker_arg_t *a, const char *name, uint32_t legs,
                 const char *filter)
{
    tcpi_worker_iface_t *pi = &a->iface[a->niface++];

    snprintf(pi->name, sizeof(pi->name), "%s", name);
    snprintf(pi->filter, sizeof(pi->filter), "%s", filter);
    pi->legs = legs;
    tcpi_shm_add_iface(a->shm, name, legs, filter);
}

static tcpi_shm_t *shared_region(void)
{
    void *mem = mmap(NULL, tcpi_shm_size(RING), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    assert_true(mem != MAP_FAILED);
    return tcpi_shm_init(mem, RING, 1);
}

static volatile sig_atomic_t stop_flag;

static void on_term(int sig)
{
    stop_flag = 1;
}

static int sample(void *baton, uint32_t count[TCPI_NSCOPES][TCPI_NSTATES])
{
    worker_arg_t *a = baton;
    char err[160];

    return tcpi_sockdiag_count(count, NULL, err, sizeof(err), &a->front,
                               &a->backend);
}

/* Like the glue's: a line to a descriptor opened before (the error log). */
static void log_line(void *baton, int level, const char *tag, const char *msg)
{
    say(*(int *)baton, "log %s %s\n", tag, msg);
}

static void log_requests(tcpi_shm_t *shm, int n)
{
    uint64_t now_us = tcpi_now_wall_ns() / 1000;

    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof(id), "sbx-%d", i);
        tcpi_req_t r = proxied_request(tcpi_shm_ring(shm), id,
                                       now_us - 3000000 + (uint64_t)i * 20000,
                                       ep("198.18.0.2", (uint16_t)(30000 + i)),
                                       ep("198.18.0.1", 80),
                                       ep("127.0.0.1", (uint16_t)(40000 + i)),
                                       ep("127.0.0.1", 7001), "/u");
        r.capture = 1;
        tcpi_reqlog_put(tcpi_shm_reqlog(shm), &r);
    }
}

/* The worker as the glue runs it: handles opened as root, then nobody,
 * the sandbox, (triggered captures,) the loop with its sampler thread
 * until SIGTERM or a failed handle, and the close. */
static int child_worker(int out, void *arg)
{
    worker_arg_t *a = arg;
    tcpi_worker_conf_t wc = { .shm = a->shm, .ring_size = RING,
                              .niface = a->niface, .snaplen = 65535,
                              .kernel_buffer = 1 << 20, .parent = getppid(),
                              .sample = sample, .sample_baton = a };
    struct sigaction sa = { .sa_handler = on_term };
    tcpi_trigger_t *t = NULL;
    tcpi_worker_t *w;
    char err[256];
    int rc;

    memcpy(wc.iface, a->iface, sizeof(a->iface));
    tcpi_log_set(log_line, &out);
    CHECK(sigaction(SIGTERM, &sa, NULL) == 0);
    w = tcpi_worker_open(&wc, err, sizeof(err));
    if (w == NULL)
        say(out, "tcpi_worker_open: %s\n", err);
    CHECK(w != NULL);
    CHECK(tcpi_worker_active(w) == 1);
    if (drop_to_nobody(out) != 0 || enter(out, NULL) != 0)
        return 1;
    if (a->triggers) {
        /* The first call scans the directory, the second writes the two
         * requests' files and trims the directory. */
        tcpi_trigger_run(&t, a->shm, NULL, tcpi_now_wall_ns());
        log_requests(a->shm, 2);
        tcpi_trigger_run(&t, a->shm, NULL, tcpi_now_wall_ns());
        tcpi_trigger_close(t);
    }
    say(out, "running\n");
    rc = tcpi_worker_run(w, &stop_flag);
    say(out, "run=%d\n", rc);
    tcpi_worker_close(w);
    say(out, "closed\n");
    return 0;
}

static void test_worker_in_sandbox(void **state)
{
    char dir[] = "/tmp/tcpi-sbx-XXXXXX", path[128];
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t sl = sizeof(sa);
    struct timespec run_for = { 2, 200000000 };
    worker_arg_t a = { .triggers = 1 };
    char filter[TCPI_FILTER_MAX];
    tcpi_trigger_status_t ts;
    tcpi_hist_sample_t hs;
    struct stat sb;
    uint32_t est = 0, listen_n = 0;
    child_t c;
    int ls, cs, as;

    need_root();
    a.shm = shared_region();
    /* A listener on an ephemeral loopback port: captured on lo, counted
     * by the sampler as the front scope. */
    ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(ls, 4), 0);
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    tcpi_ports_add(&a.front, ntohs(sa.sin_port));
    assert_int_equal(tcpi_filter_build(filter, sizeof(filter), &a.front, NULL), 0);
    /* As test_shm lays them out: front on a missing interface, backend
     * on lo (the request frames use both). */
    plan(&a, "tcpi-none0", TCPI_LEG_FRONT, filter);
    plan(&a, "lo", TCPI_LEG_BACKEND, filter);
    atomic_store(&a.shm->iface[0].linktype, TCPI_LINKTYPE_EN10MB);
    /* The capture directory, as the parent prepares it, with 40 files of
     * an earlier run (the limit) and a crashed write's temporary. */
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chown(dir, NOBODY, NOBODY), 0);
    for (int i = 0; i < 40; i++) {
        snprintf(path, sizeof(path), "%s/old-%02d.pcapng", dir, i);
        close(open(path, O_CREAT | O_WRONLY, 0600));
        utimensat(AT_FDCWD, path, (struct timespec[]){ { i + 1, 0 }, { i + 1, 0 } }, 0);
    }
    snprintf(path, sizeof(path), "%s/.crashed.pcapng.tmp", dir);
    close(open(path, O_CREAT | O_WRONLY, 0600));
    tcpi_trigger_configure(a.shm, dir, 40, 1 << 30, 65535);

    spawn(&c, child_worker, &a);
    if (read_until(&c, "running\n") != 0) {
        collect(&c);
        print_message("child status %#x, said:\n%s", c.status, c.text);
        fail();
    }
    /* Traffic while it runs: one connection with data, kept open. */
    cs = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(cs, (struct sockaddr *)&sa, sizeof(sa)), 0);
    as = accept(ls, NULL, NULL);
    assert_true(as >= 0);
    assert_int_equal(write(cs, "hello", 5), 5);
    nanosleep(&run_for, NULL);
    /* httpd stops the worker with SIGTERM. */
    assert_int_equal(kill(c.pid, SIGTERM), 0);
    collect(&c);
    expect_exit0(&c);
    assert_non_null(strstr(c.text, "run=0"));
    assert_non_null(strstr(c.text, "closed"));
    close(cs);
    close(as);
    close(ls);

    /* Packets reached the ring, stats and heartbeat were published. */
    assert_int_equal(atomic_load(&a.shm->iface[1].status), TCPI_IF_OK);
    assert_true(atomic_load(&a.shm->iface[1].packets) >= 3);
    assert_true(atomic_load(&a.shm->iface[1].received) >= 3);
    assert_true(atomic_load(&a.shm->heartbeat_ns) > 0);
    /* The sampler thread's dumps: our listener and connection. */
    assert_int_equal(atomic_load(&a.shm->sample_errors), 0);
    assert_true(atomic_load(&a.shm->hist_count) >= 2);
    for (uint64_t k = 0; k < atomic_load(&a.shm->hist_count); k++) {
        if (tcpi_shm_hist_get(&hs, a.shm, k) != 0)
            continue;
        if (hs.count[TCPI_SCOPE_FRONT][TCPI_ST_LISTEN] > listen_n)
            listen_n = hs.count[TCPI_SCOPE_FRONT][TCPI_ST_LISTEN];
        if (hs.count[TCPI_SCOPE_FRONT][TCPI_ST_ESTABLISHED] > est)
            est = hs.count[TCPI_SCOPE_FRONT][TCPI_ST_ESTABLISHED];
    }
    assert_int_equal(listen_n, 1);
    assert_true(est >= 1);
    /* Both captures written by nobody, 0600; the two oldest files and the
     * temporary removed. */
    tcpi_trigger_status(&ts, a.shm);
    if (ts.written != 2 || ts.failed != 0)
        print_message("trigger: %s\nchild said:\n%s", ts.last_error, c.text);
    assert_int_equal(ts.written, 2);
    assert_int_equal(ts.failed, 0);
    assert_int_equal(ts.removed, 2);
    assert_int_equal(ts.files, 40);
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/sbx-%d.pcapng", dir, i);
        assert_int_equal(stat(path, &sb), 0);
        assert_int_equal(sb.st_uid, NOBODY);
        assert_int_equal(sb.st_mode & 0777, 0600);
        assert_true(sb.st_size > 0);
    }
    snprintf(path, sizeof(path), "%s/old-00.pcapng", dir);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof(path), "%s/.crashed.pcapng.tmp", dir);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof(path), "rm -rf %s", dir);
    assert_int_equal(system(path), 0);
    munmap(a.shm, tcpi_shm_size(RING));
}

/* "ip link <what>", what naming the interface (every %s). */
static int ip_link(const char *what, const char *name)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), what, name, name);
    return system(cmd);
}

static int alive_after(pid_t pid, long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    int st;

    nanosleep(&ts, NULL);
    return waitpid(pid, &st, WNOHANG) == 0;
}

/* An interface taken down, brought up again, then deleted: libpcap looks
 * at it (getsockname, SIOCGIFFLAGS) inside the sandbox, and the worker
 * ends with an error it logs, not with SIGSYS. */
static void test_interface_down_and_gone(void **state)
{
    worker_arg_t a = { 0 };
    char ifname[16];
    int down_alive, up_alive;
    child_t c;

    need_root();
    snprintf(ifname, sizeof(ifname), "tsbx%u", (unsigned)getpid() % 100000);
    if (ip_link("ip link add %s type veth peer name p%s 2>/dev/null", ifname) != 0) {
        print_message("skipped: cannot create a veth pair\n");
        skip();
    }
    ip_link("ip link set %s up", ifname);
    a.shm = shared_region();
    plan(&a, ifname, TCPI_LEG_FRONT, "tcp");
    spawn(&c, child_worker, &a);
    if (read_until(&c, "running\n") != 0) {
        ip_link("ip link del %s", ifname);
        collect(&c);
        print_message("child status %#x, said:\n%s", c.status, c.text);
        fail();
    }
    ip_link("ip link set %s down", ifname);
    down_alive = alive_after(c.pid, 400);
    ip_link("ip link set %s up", ifname);
    up_alive = alive_after(c.pid, 400);
    ip_link("ip link del %s", ifname);
    collect(&c);
    munmap(a.shm, tcpi_shm_size(RING));
    if (!down_alive || !up_alive)
        print_message("child said:\n%s", c.text);
    assert_true(down_alive);
    assert_true(up_alive);
    expect_exit0(&c);
    assert_non_null(strstr(c.text, "run=-1"));
    assert_non_null(strstr(c.text, "TCPI0204"));
    assert_non_null(strstr(c.text, "disappeared"));
}

/* ---- forbidden calls kill ------------------------------------------- */

static int f_execve(int pkt)
{
    char *argv[] = { "true", NULL };
    execve("/bin/true", argv, environ);
    return errno;
}

static int f_inet(int pkt)
{
    return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : errno;
}

static int f_ptrace(int pkt)
{
    return ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0 ? 0 : errno;
}

static int f_setuid(int pkt)
{
    return setuid(0) == 0 ? 0 : errno;
}

static int f_unshare(int pkt)
{
    return unshare(CLONE_NEWUSER) == 0 ? 0 : errno;
}

static int f_bpf(int pkt)
{
    union bpf_attr attr;
    long fd;

    memset(&attr, 0, sizeof(attr));
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    fd = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
    if (fd >= 0)
        close((int)fd);
    return fd >= 0 ? 0 : errno;
}

static int f_fork(int pkt)
{
    pid_t p = fork();

    if (p == 0)
        _exit(0);
    return p > 0 ? 0 : errno;
}

/* A thread in a new network namespace: EPERM for nobody, killed in the
 * sandbox before the kernel looks. */
static int f_clone_ns(int pkt)
{
    long rc = syscall(SYS_clone, CLONE_VM | CLONE_SIGHAND | CLONE_THREAD |
                      CLONE_NEWNET, NULL, NULL, NULL, 0);
    return rc >= 0 ? 0 : errno;
}

static int f_kill_parent(int pkt)
{
    return kill(getppid(), 0) == 0 ? 0 : errno;
}

static int f_dumpable(int pkt)
{
    return prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0 ? 0 : errno;
}

/* The packet socket captures; it never sends (zero bytes: nothing would
 * leave even where it is allowed). */
static int f_send_packet(int pkt)
{
    return write(pkt, "", 0) >= 0 ? 0 : errno;
}

static int f_dup_packet(int pkt)
{
    int fd = fcntl(pkt, F_DUPFD_CLOEXEC, 100);
    return fd >= 0 ? 0 : errno;
}

/* A wider filter would show the worker traffic it must not see. */
static int f_attach_filter(int pkt)
{
    struct sock_filter code[] = { BPF_STMT(BPF_RET | BPF_K, 0xffff) };
    struct sock_fprog prog = { 1, code };
    return setsockopt(pkt, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
                      sizeof(prog)) == 0 ? 0 : errno;
}

typedef struct {
    const char *name;
    int (*call)(int pkt);
    int sandboxed;
    const tcpi_sandbox_conf_t *conf;
} forbidden_t;

static int child_forbidden(int out, void *arg)
{
    const forbidden_t *f = arg;
    int pkt = socket(AF_PACKET, SOCK_RAW, 0), rc;

    CHECK(pkt >= 0);
    if (drop_to_nobody(out) != 0)
        return 1;
    if (f->sandboxed && enter(out, f->conf) != 0)
        return 1;
    say(out, "calling %s\n", f->name);
    rc = f->call(pkt);
    say(out, "returned %d\n", rc);
    return 0;
}

static void test_forbidden_calls_kill(void **state)
{
    static const forbidden_t calls[] = {
        { "execve", f_execve, 0, NULL },
        { "socket(AF_INET)", f_inet, 0, NULL },
        { "ptrace(TRACEME)", f_ptrace, 0, NULL },
        { "setuid(0)", f_setuid, 0, NULL },
        { "unshare(CLONE_NEWUSER)", f_unshare, 0, NULL },
        { "bpf(MAP_CREATE)", f_bpf, 0, NULL },
        { "fork", f_fork, 0, NULL },
        { "clone(CLONE_THREAD|CLONE_NEWNET)", f_clone_ns, 0, NULL },
        { "kill(parent)", f_kill_parent, 0, NULL },
        { "prctl(SET_DUMPABLE)", f_dumpable, 0, NULL },
        { "write(packet socket)", f_send_packet, 0, NULL },
        { "fcntl(F_DUPFD)", f_dup_packet, 0, NULL },
        { "SO_ATTACH_FILTER", f_attach_filter, 0, NULL },
    };
    child_t c;

    need_root();
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        forbidden_t f = calls[i];
        /* Without the sandbox the call runs or fails, it does not kill. */
        run(&c, child_forbidden, &f);
        if (!WIFEXITED(c.status))
            print_message("%s without the sandbox:\n", f.name);
        expect_exit0(&c);
        f.sandboxed = 1;
        run(&c, child_forbidden, &f);
        if (!WIFSIGNALED(c.status))
            print_message("%s in the sandbox:\n", f.name);
        expect_sigsys(&c);
        assert_non_null(strstr(c.text, "entered"));
        assert_non_null(strstr(c.text, "calling"));
        assert_null(strstr(c.text, "returned"));
    }
}

/* log_only: a call outside the allow-list runs (the kernel logs it); the
 * descriptor filter still kills. */
static void test_log_only(void **state)
{
    static const tcpi_sandbox_conf_t conf = { .log_only = 1 };
    forbidden_t inet = { "socket(AF_INET)", f_inet, 1, &conf };
    forbidden_t send = { "write(packet socket)", f_send_packet, 1, &conf };
    child_t c;

    need_root();
    run(&c, child_forbidden, &inet);
    expect_exit0(&c);
    assert_non_null(strstr(c.text, "returned 0"));
    run(&c, child_forbidden, &send);
    expect_sigsys(&c);
    assert_null(strstr(c.text, "returned"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_unsandboxed),
        cmocka_unit_test(test_status_sandboxed),
        cmocka_unit_test(test_refuses_root),
        cmocka_unit_test(test_refuses_gid_root),
        cmocka_unit_test(test_confine_and_drop),
        cmocka_unit_test(test_refuses_threads),
        cmocka_unit_test(test_close_inherited),
        cmocka_unit_test(test_allowed_work),
        cmocka_unit_test(test_refused_not_killed),
        cmocka_unit_test(test_worker_in_sandbox),
        cmocka_unit_test(test_interface_down_and_gone),
        cmocka_unit_test(test_forbidden_calls_kill),
        cmocka_unit_test(test_log_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
