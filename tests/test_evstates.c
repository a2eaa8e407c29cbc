/* Unit tests for the event-kept state counter (tcpi_evstates + the BPF
 * programs): loaded for real (root, as CI runs), fed by real loopback
 * sockets, and compared with a full NETLINK_SOCK_DIAG dump of the same
 * states (tcpi_sockdiag_count, itself checked against ss in
 * test_sockdiag). Covers the seeding walk (sockets older than the load),
 * transitions after it, closes, a forked reader that keeps only the
 * read-only mapping, and the fallback once the owner closes. */
#include "tcpi_test.h"
#include "states/tcpi_evstates.h"
#include "states/tcpi_sockdiag.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int listen_on(uint16_t *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t sl = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4096), 0);
    getsockname(fd, (struct sockaddr *)&a, &sl);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A connection to port: *client and *server are its two ends. */
static void pair(int l, uint16_t port, int *client, int *server)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    *client = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(*client, (struct sockaddr *)&a, sizeof(a)), 0);
    *server = accept(l, NULL, NULL);
    assert_true(*server >= 0);
}

/* The event-kept states equal a full dump's, in every scope (retried a few
 * times: a FIN in flight on loopback settles within milliseconds). */
static void assert_events_match(const volatile tcpi_ev_counts_t *ev,
                                const tcpi_ports_t *f, const tcpi_ports_t *b)
{
    char diff[200];
    int rc = 0;

    for (int i = 0; i < 50 && rc != 1; i++) {
        rc = tcpi_sockdiag_check_ev(ev, f, b, diff, sizeof(diff));
        if (rc != 1)
            poll(NULL, 0, 20);
    }
    if (rc != 1)
        fail_msg("event counts differ from the kernel: %s", diff);
}

static uint32_t ev_count(const volatile tcpi_ev_counts_t *ev, int scope, int st)
{
    uint32_t c[TCPI_NSCOPES][TCPI_NSTATES];

    tcpi_sockdiag_ev_read(c, ev);
    return c[scope][st];
}

static tcpi_evstates_t *open_or_skip(const tcpi_ports_t *f, const tcpi_ports_t *b)
{
    char err[256];
    tcpi_evstates_t *ev;

    if (geteuid() != 0) {
        print_message("not root: the event counter needs CAP_BPF; skipped\n");
        skip();
    }
    ev = tcpi_evstates_open(f, b, err, sizeof(err));
    if (ev == NULL)
        fail_msg("tcpi_evstates_open as root: %s", err);
    return ev;
}

static void test_seed_and_follow(void **state)
{
    tcpi_ports_t f = { .n = 0 }, b = { .n = 0 };
    uint16_t fport, bport;
    int lf = listen_on(&fport), lb = listen_on(&bport);
    int fc[5], fs[5], bc[3], bs[3];
    const volatile tcpi_ev_counts_t *c;
    tcpi_evstates_t *ev;

    tcpi_ports_add(&f, fport);
    tcpi_ports_add(&b, bport);
    /* Older than the load: only the seeding walk can know these. */
    for (int i = 0; i < 4; i++)
        pair(lf, fport, &fc[i], &fs[i]);
    for (int i = 0; i < 3; i++)
        pair(lb, bport, &bc[i], &bs[i]);

    ev = open_or_skip(&f, &b);
    c = tcpi_evstates_counts(ev);
    assert_true(tcpi_sockdiag_ev_usable(c));
    assert_true(c->seeded >= 4 + 1 + 3 + 3 + 1);
    assert_int_equal(ev_count(c, TCPI_SCOPE_FRONT, TCPI_ST_LISTEN), 1);
    assert_int_equal(ev_count(c, TCPI_SCOPE_FRONT, TCPI_ST_ESTABLISHED), 4);
    assert_int_equal(ev_count(c, TCPI_SCOPE_BACKEND, TCPI_ST_ESTABLISHED), 3);
    assert_int_equal(ev_count(c, TCPI_SCOPE_BACKEND_LOCAL, TCPI_ST_ESTABLISHED), 3);
    assert_int_equal(ev_count(c, TCPI_SCOPE_BACKEND_LOCAL, TCPI_ST_LISTEN), 1);
    assert_events_match(c, &f, &b);

    /* After the load: one more, then half-closes from either side. */
    pair(lf, fport, &fc[4], &fs[4]);
    assert_int_equal(ev_count(c, TCPI_SCOPE_FRONT, TCPI_ST_ESTABLISHED), 5);
    close(fc[1]);               /* front server side -> CLOSE_WAIT */
    close(bs[0]);               /* backend client side -> CLOSE_WAIT */
    assert_events_match(c, &f, &b);
    assert_int_equal(ev_count(c, TCPI_SCOPE_FRONT, TCPI_ST_CLOSE_WAIT), 1);
    assert_int_equal(ev_count(c, TCPI_SCOPE_BACKEND, TCPI_ST_CLOSE_WAIT), 1);
    close(fs[1]);               /* CLOSE_WAIT -> LAST_ACK -> gone */
    close(bc[0]);
    assert_events_match(c, &f, &b);
    assert_int_equal(ev_count(c, TCPI_SCOPE_FRONT, TCPI_ST_CLOSE_WAIT), 0);

    /* A request socket (TCP_DEFER_ACCEPT holds a connection that sent no
     * data as one): counted by the dump as SYN_RECV, never by the events,
     * and the worker's check still agrees. */
    int defer = 5, lr, rq;
    uint16_t rport;
    lr = socket(AF_INET, SOCK_STREAM, 0);
    {
        struct sockaddr_in ra = { .sin_family = AF_INET, .sin_port = 0 };
        socklen_t rl = sizeof(ra);
        inet_pton(AF_INET, "127.0.0.1", &ra.sin_addr);
        assert_int_equal(bind(lr, (struct sockaddr *)&ra, sizeof(ra)), 0);
        assert_int_equal(setsockopt(lr, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer,
                                    sizeof(defer)), 0);
        assert_int_equal(listen(lr, 16), 0);
        getsockname(lr, (struct sockaddr *)&ra, &rl);
        rport = ntohs(ra.sin_port);
        ra.sin_port = htons(rport);
        rq = socket(AF_INET, SOCK_STREAM, 0);
        assert_int_equal(connect(rq, (struct sockaddr *)&ra, sizeof(ra)), 0);
    }
    tcpi_ports_add(&f, rport);
    {
        uint32_t full[TCPI_NSCOPES][TCPI_NSTATES];
        char err[160];
        /* The loaded program does not know rport: only the dump-side
         * states may differ, and SYN_RECV is one. */
        assert_int_equal(tcpi_sockdiag_count(full, NULL, err, sizeof(err), &f, &b), 0);
        assert_int_equal(full[TCPI_SCOPE_FRONT][TCPI_ST_SYN_RECV], 1);
    }
    tcpi_evstates_close(ev);
    ev = open_or_skip(&f, &b);              /* now with rport in scope */
    c = tcpi_evstates_counts(ev);
    assert_events_match(c, &f, &b);
    assert_int_equal(ev_count(c, TCPI_SCOPE_FRONT, TCPI_ST_SYN_RECV), 0);

    /* The page's combination equals one full dump. */
    {
        uint32_t full[TCPI_NSCOPES][TCPI_NSTATES], mix[TCPI_NSCOPES][TCPI_NSTATES];
        tcpi_sockdiag_stats_t st;
        char err[160];
        assert_int_equal(tcpi_sockdiag_count(full, NULL, err, sizeof(err), &f, &b), 0);
        assert_int_equal(tcpi_sockdiag_count_ev(mix, &st, err, sizeof(err), &f, &b, c), 0);
        assert_int_equal(st.events, 1);
        assert_memory_equal(full, mix, sizeof(full));
    }

    /* Everything closed: back to zero, the listeners too. */
    for (int i = 0; i < 5; i++) {
        if (i != 1) {
            close(fc[i]);
            close(fs[i]);
        }
    }
    for (int i = 1; i < 3; i++) {
        close(bc[i]);
        close(bs[i]);
    }
    close(lf);
    close(lb);
    close(rq);
    close(lr);
    assert_events_match(c, &f, &b);
    for (int sc = 0; sc < TCPI_NSCOPES; sc++)
        for (int st = 0; st < TCPI_NSTATES; st++)
            if (st != TCPI_ST_FIN_WAIT2 && st != TCPI_ST_TIME_WAIT)
                assert_int_equal(ev_count(c, sc, st), 0);
    assert_int_equal(c->lost, 0);
    tcpi_evstates_close(ev);
}

/* A forked reader keeps reading through the read-only mapping after it
 * forgot every descriptor, cannot make it writable, and its forgetting
 * detaches nothing: the owner's counts still follow new sockets. */
static void test_forked_reader(void **state)
{
    tcpi_ports_t f = { .n = 0 }, b = { .n = 0 };
    uint16_t port;
    int l = listen_on(&port), cl, sv, status;
    const volatile tcpi_ev_counts_t *c;
    tcpi_evstates_t *ev;
    pid_t pid;

    tcpi_ports_add(&f, port);
    ev = open_or_skip(&f, &b);
    c = tcpi_evstates_counts(ev);
    pid = fork();
    if (pid == 0) {
        long page = sysconf(_SC_PAGESIZE);
        tcpi_evstates_forget(ev);
        if (ev_count(c, TCPI_SCOPE_FRONT, TCPI_ST_LISTEN) != 1)
            _exit(2);
        if (mprotect((void *)((uintptr_t)c & ~(uintptr_t)(page - 1)), (size_t)page,
                     PROT_READ | PROT_WRITE) == 0)
            _exit(3);                     /* writable: must not be */
        _exit(0);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    pair(l, port, &cl, &sv);
    assert_int_equal(ev_count(c, TCPI_SCOPE_FRONT, TCPI_ST_ESTABLISHED), 1);
    assert_events_match(c, &f, &b);
    close(cl);
    close(sv);
    close(l);
    tcpi_evstates_close(ev);
}

/* Once the owner closes, a mapping kept elsewhere reads invalid and the
 * page falls back to one full dump. */
static void test_closed_falls_back(void **state)
{
    tcpi_ports_t f = { .n = 0 }, b = { .n = 0 };
    uint32_t count[TCPI_NSCOPES][TCPI_NSTATES];
    tcpi_sockdiag_stats_t st;
    uint16_t port;
    int l = listen_on(&port), sv[2] = { -1, -1 };
    tcpi_evstates_t *ev;
    char err[160];
    pid_t pid;

    tcpi_ports_add(&f, port);
    ev = open_or_skip(&f, &b);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid = fork();
    if (pid == 0) {
        const volatile tcpi_ev_counts_t *c = tcpi_evstates_counts(ev);
        char go, ok;
        tcpi_evstates_forget(ev);
        close(sv[0]);
        if (read(sv[1], &go, 1) != 1)
            _exit(2);
        ok = (char)(!tcpi_sockdiag_ev_usable(c) &&
                    tcpi_sockdiag_count_ev(count, &st, err, sizeof(err), &f, &b, c) == 0 &&
                    st.events == 0 && count[TCPI_SCOPE_FRONT][TCPI_ST_LISTEN] == 1);
        _exit(write(sv[1], &ok, 1) == 1 && ok ? 0 : 1);
    }
    close(sv[1]);
    tcpi_evstates_close(ev);              /* the owner goes */
    {
        char go = 1, ok = 0;
        int status;
        assert_int_equal(write(sv[0], &go, 1), 1);
        assert_int_equal(read(sv[0], &ok, 1), 1);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(ok);
    }
    close(sv[0]);
    close(l);
}

/* Connections opened and closed as fast as loopback allows, from two
 * processes on two CPUs, while the counter loads and seeds and after: once
 * they stop, the event counts equal the kernel's again (the seeding walk
 * and the tracepoint race for every socket that changes state meanwhile). */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Connect and close until a byte arrives on stop (or 20,000 connections
 * or 5 s): three in four end with a reset, which leaves no TIME_WAIT
 * behind for the suites after this one, the fourth with FINs. */
static void churn(uint16_t port, int stop)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    struct pollfd p = { .fd = stop, .events = POLLIN };
    double end = now_s() + 5;

    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    for (int i = 0; i < 20000 && now_s() < end; i++) {
        struct linger abortive = { 1, 0 };
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(c, (struct sockaddr *)&a, sizeof(a)) == 0 && i % 4 != 0)
            setsockopt(c, SOL_SOCKET, SO_LINGER, &abortive, sizeof(abortive));
        close(c);
        if (i % 16 == 0 && poll(&p, 1, 0) == 1)
            break;
    }
}

static void test_churn_while_seeding(void **state)
{
    tcpi_ports_t f = { .n = 0 }, b = { .n = 0 };
    uint16_t port;
    int l = listen_on(&port), status, stop[2];
    pid_t client, server;
    tcpi_evstates_t *ev;

    tcpi_ports_add(&f, port);
    if (geteuid() != 0)
        skip();
    server = fork();
    if (server == 0) {          /* accepts and closes until 0.5 s of quiet */
        struct pollfd p = { .fd = l, .events = POLLIN };
        for (int i = 0; poll(&p, 1, 500) == 1; i++) {
            int s = accept(l, NULL, NULL);
            if (s < 0)
                _exit(1);
            if (i % 2)
                close(s);                 /* half close first here */
            else {
                char x;
                (void)read(s, &x, 1);
                close(s);
            }
        }
        _exit(0);
    }
    assert_int_equal(pipe(stop), 0);
    client = fork();
    if (client == 0) {
        churn(port, stop[0]);
        _exit(0);
    }
    poll(NULL, 0, 20);                    /* the churn is under way */
    ev = open_or_skip(&f, &b);
    poll(NULL, 0, 50);                    /* and goes on after the load */
    assert_int_equal(write(stop[1], "x", 1), 1);
    assert_int_equal(waitpid(client, &status, 0), client);
    close(stop[0]);
    close(stop[1]);
    assert_int_equal(waitpid(server, &status, 0), server);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(tcpi_evstates_counts(ev)->events > 100);
    print_message("churn: %llu state changes seen, %llu races between the "
                  "walk and the tracepoint\n",
                  (unsigned long long)tcpi_evstates_counts(ev)->events,
                  (unsigned long long)tcpi_evstates_counts(ev)->raced);
    assert_events_match(tcpi_evstates_counts(ev), &f, &b);
    assert_int_equal(ev_count(tcpi_evstates_counts(ev), TCPI_SCOPE_FRONT,
                              TCPI_ST_ESTABLISHED), 0);
    close(l);
    assert_events_match(tcpi_evstates_counts(ev), &f, &b);
    tcpi_evstates_close(ev);
}

/* IPv6: a listener on [::1] and a connection, one older than the load
 * and one after it. Skipped when the host has no IPv6 loopback. */
static void test_ipv6(void **state)
{
    tcpi_ports_t f = { .n = 0 }, b = { .n = 0 };
    struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
    socklen_t sl = sizeof(a);
    int l = socket(AF_INET6, SOCK_STREAM, 0), c[2], s[2];
    const volatile tcpi_ev_counts_t *cnt;
    tcpi_evstates_t *ev = NULL;

    inet_pton(AF_INET6, "::1", &a.sin6_addr);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0) {
        print_message("no IPv6 loopback here; skipped\n");
        if (l >= 0)
            close(l);
        skip();
    }
    assert_int_equal(listen(l, 16), 0);
    getsockname(l, (struct sockaddr *)&a, &sl);
    tcpi_ports_add(&f, ntohs(a.sin6_port));
    for (int i = 0; i < 2; i++) {
        if (i == 1)
            ev = open_or_skip(&f, &b);
        c[i] = socket(AF_INET6, SOCK_STREAM, 0);
        assert_int_equal(connect(c[i], (struct sockaddr *)&a, sizeof(a)), 0);
        s[i] = accept(l, NULL, NULL);
        assert_true(s[i] >= 0);
    }
    cnt = tcpi_evstates_counts(ev);
    assert_int_equal(ev_count(cnt, TCPI_SCOPE_FRONT, TCPI_ST_LISTEN), 1);
    assert_int_equal(ev_count(cnt, TCPI_SCOPE_FRONT, TCPI_ST_ESTABLISHED), 2);
    close(c[0]);                         /* server side -> CLOSE_WAIT */
    assert_events_match(cnt, &f, &b);
    assert_int_equal(ev_count(cnt, TCPI_SCOPE_FRONT, TCPI_ST_CLOSE_WAIT), 1);
    for (int i = 0; i < 2; i++) {
        close(s[i]);
        if (i)
            close(c[i]);
    }
    close(l);
    assert_events_match(cnt, &f, &b);
    assert_int_equal(ev_count(cnt, TCPI_SCOPE_FRONT, TCPI_ST_ESTABLISHED), 0);
    tcpi_evstates_close(ev);
}

/* NULL and unloaded counts are never used. */
static void test_unusable(void **state)
{
    tcpi_ev_counts_t fake;

    assert_false(tcpi_sockdiag_ev_usable(NULL));
    memset(&fake, 0, sizeof(fake));
    assert_false(tcpi_sockdiag_ev_usable(&fake));
    fake.valid = 1;
    assert_true(tcpi_sockdiag_ev_usable(&fake));
    fake.lost = 1;                         /* a socket went untracked */
    assert_false(tcpi_sockdiag_ev_usable(&fake));
    fake.lost = 0;
    fake.seeding = 1;
    assert_false(tcpi_sockdiag_ev_usable(&fake));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unusable),
        cmocka_unit_test(test_seed_and_follow),
        cmocka_unit_test(test_forked_reader),
        cmocka_unit_test(test_closed_falls_back),
        cmocka_unit_test(test_churn_while_seeding),
        cmocka_unit_test(test_ipv6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
