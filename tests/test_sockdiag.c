/* Unit tests for the sock_diag counter: the bytecode's shape, the parser
 * on malformed buffers, and real loopback sockets put into LISTEN,
 * ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT2, CLOSE_WAIT and TIME_WAIT,
 * counted per scope and compared with `ss -tanH` (the oracle). */
#include "tcpi_test.h"
#include "states/tcpi_sockdiag.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_bytecode(void **state)
{
    unsigned char bc[TCPI_SOCKDIAG_BC_MAX];
    tcpi_ports_t f = { .n = 0 }, b = { .n = 0 };
    struct inet_diag_bc_op op;

    assert_int_equal(tcpi_sockdiag_bytecode(bc, sizeof(bc), &f, &b), 0);
    tcpi_ports_add(&f, 80);
    tcpi_ports_add(&b, 7001);
    /* S_EQ 80, S_EQ 7001, D_EQ 7001: 3 compares, 2 jumps. */
    assert_int_equal(tcpi_sockdiag_bytecode(bc, sizeof(bc), &f, &b), 32);
    memcpy(&op, bc, 4);
    assert_int_equal(op.code, INET_DIAG_BC_S_EQ);
    assert_int_equal(op.yes, 8);
    assert_int_equal(op.no, 12);
    memcpy(&op, bc + 4, 4);
    assert_int_equal(op.no, 80);
    memcpy(&op, bc + 8, 4);
    assert_int_equal(op.code, INET_DIAG_BC_JMP);
    assert_int_equal(op.no, 32 - 8);       /* lands exactly on the end */
    memcpy(&op, bc + 24, 4);
    assert_int_equal(op.code, INET_DIAG_BC_D_EQ);
    memcpy(&op, bc + 28, 4);
    assert_int_equal(op.no, 7001);
    /* A port in both sets is compared as a local port once. */
    tcpi_ports_add(&f, 7001);
    assert_int_equal(tcpi_sockdiag_bytecode(bc, sizeof(bc), &f, &b), 32);
    assert_int_equal(tcpi_sockdiag_bytecode(bc, 31, &f, &b), -1);
    /* The largest sets fit: 64 local compares and 32 remote ones. */
    f.n = b.n = 0;
    for (int i = 0; i < TCPI_MAX_PORTS; i++) {
        tcpi_ports_add(&f, (uint16_t)(1000 + i));
        tcpi_ports_add(&b, (uint16_t)(2000 + i));
    }
    assert_int_equal(tcpi_sockdiag_bytecode(bc, sizeof(bc), &f, &b),
                     TCPI_SOCKDIAG_BC_MAX - 4);
}

static void test_scopes(void **state)
{
    tcpi_ports_t f = { .n = 0 }, b = { .n = 0 };
    tcpi_ports_add(&f, 80);
    tcpi_ports_add(&b, 7001);
    assert_int_equal(tcpi_sockdiag_scopes(80, 51000, &f, &b), 1u << TCPI_SCOPE_FRONT);
    assert_int_equal(tcpi_sockdiag_scopes(51000, 7001, &f, &b), 1u << TCPI_SCOPE_BACKEND);
    assert_int_equal(tcpi_sockdiag_scopes(7001, 51000, &f, &b),
                     1u << TCPI_SCOPE_BACKEND_LOCAL);
    assert_int_equal(tcpi_sockdiag_scopes(51000, 80, &f, &b), 0);
    assert_int_equal(tcpi_sockdiag_scopes(80, 7001, &f, &b),
                     (1u << TCPI_SCOPE_FRONT) | (1u << TCPI_SCOPE_BACKEND));
}

/* ---- the parser on crafted buffers ---------------------------------- */

static size_t put_msg(unsigned char *buf, uint16_t type, uint32_t seq,
                      const void *payload, size_t plen)
{
    struct nlmsghdr h = { .nlmsg_len = (uint32_t)(NLMSG_HDRLEN + plen),
                          .nlmsg_type = type, .nlmsg_seq = seq };
    memcpy(buf, &h, sizeof(h));
    memcpy(buf + NLMSG_HDRLEN, payload, plen);
    return NLMSG_ALIGN(h.nlmsg_len);
}

static size_t put_sock(unsigned char *buf, uint32_t seq, uint8_t kstate,
                       uint16_t sport, uint16_t dport)
{
    struct inet_diag_msg m;
    memset(&m, 0, sizeof(m));
    m.idiag_family = AF_INET;
    m.idiag_state = kstate;
    m.id.idiag_sport = htons(sport);
    m.id.idiag_dport = htons(dport);
    return put_msg(buf, SOCK_DIAG_BY_FAMILY, seq, &m, sizeof(m));
}

static void test_parse(void **state)
{
    unsigned char buf[1024] __attribute__((aligned(4)));
    uint32_t count[TCPI_NSCOPES][TCPI_NSTATES];
    tcpi_sockdiag_stats_t st = { 0 };
    tcpi_ports_t f = { .n = 0 }, b = { .n = 0 };
    char err[160];
    size_t n = 0;
    int32_t e;

    tcpi_ports_add(&f, 80);
    tcpi_ports_add(&b, 7001);
    memset(count, 0, sizeof(count));
    n += put_sock(buf + n, 7, 1, 80, 40000);       /* front ESTABLISHED */
    n += put_sock(buf + n, 7, 12, 80, 40001);      /* NEW_SYN_RECV */
    n += put_sock(buf + n, 7, 6, 40002, 7001);     /* backend TIME_WAIT */
    n += put_sock(buf + n, 9, 1, 80, 40003);       /* another dump: ignored */
    n += put_sock(buf + n, 7, 13, 7001, 40004);    /* no netstat name */
    n += put_sock(buf + n, 7, 1, 8080, 40005);     /* out of scope */
    assert_int_equal(tcpi_sockdiag_parse(count, &st, err, sizeof(err), buf,
                                         n, 7, &f, &b), 0);
    assert_int_equal(count[TCPI_SCOPE_FRONT][TCPI_ST_ESTABLISHED], 1);
    assert_int_equal(count[TCPI_SCOPE_FRONT][TCPI_ST_SYN_RECV], 1);
    assert_int_equal(count[TCPI_SCOPE_BACKEND][TCPI_ST_TIME_WAIT], 1);
    assert_int_equal(st.unnamed, 1);
    assert_int_equal(st.unscoped, 1);
    assert_int_equal(st.sockets, 5);
    e = 0;
    size_t done = put_msg(buf + n, NLMSG_DONE, 7, &e, sizeof(e));
    assert_int_equal(tcpi_sockdiag_parse(count, &st, err, sizeof(err), buf,
                                         n + done, 7, &f, &b), 1);
    assert_int_equal(count[TCPI_SCOPE_FRONT][TCPI_ST_ESTABLISHED], 2);

    /* Every truncation of the buffer: an error or "more", never a read
     * past the end (ASan checks that in make unit-asan). */
    for (size_t cut = 0; cut < n; cut++) {
        unsigned char *copy = malloc(cut ? cut : 1);
        memcpy(copy, buf, cut);
        int rc = tcpi_sockdiag_parse(count, &st, err, sizeof(err), copy, cut,
                                     7, &f, &b);
        assert_true(rc == 0 || rc == -1);
        if (cut % NLMSG_ALIGN(NLMSG_HDRLEN + sizeof(struct inet_diag_msg)) != 0)
            assert_int_equal(rc, -1);
        free(copy);
    }

    /* A message claiming more than there is. */
    struct nlmsghdr h = { .nlmsg_len = 4000, .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                          .nlmsg_seq = 7 };
    memcpy(buf, &h, sizeof(h));
    assert_int_equal(tcpi_sockdiag_parse(count, &st, err, sizeof(err), buf,
                                         64, 7, &f, &b), -1);
    assert_non_null(strstr(err, "malformed"));
    /* A diag message too short for inet_diag_msg. */
    n = put_msg(buf, SOCK_DIAG_BY_FAMILY, 7, "abcd", 4);
    assert_int_equal(tcpi_sockdiag_parse(count, &st, err, sizeof(err), buf,
                                         n, 7, &f, &b), -1);
    assert_non_null(strstr(err, "short inet_diag_msg"));
    /* The kernel's error, as text. */
    e = -EINVAL;
    n = put_msg(buf, NLMSG_ERROR, 7, &e, sizeof(e));
    assert_int_equal(tcpi_sockdiag_parse(count, &st, err, sizeof(err), buf,
                                         n, 7, &f, &b), -1);
    assert_non_null(strstr(err, strerror(EINVAL)));
    e = -EINTR;
    n = put_msg(buf, NLMSG_DONE, 7, &e, sizeof(e));
    assert_int_equal(tcpi_sockdiag_parse(count, &st, err, sizeof(err), buf,
                                         n, 7, &f, &b), -1);
    assert_non_null(strstr(err, "dump failed"));
    n = put_msg(buf, NLMSG_ERROR, 7, "ab", 2);
    assert_int_equal(tcpi_sockdiag_parse(count, &st, err, sizeof(err), buf,
                                         n, 7, &f, &b), -1);
}

/* ---- real sockets against ss ----------------------------------------- */

static int listener(int family, const char *addr, int backlog, uint16_t *port)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int one = 1, fd = socket(family, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(*port);
        inet_pton(AF_INET, addr, &s4->sin_addr);
        sl = sizeof(*s4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(*port);
        inet_pton(AF_INET6, addr, &s6->sin6_addr);
        sl = sizeof(*s6);
    }
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        close(fd);
        return -1;
    }
    assert_int_equal(listen(fd, backlog), 0);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

static int connect_to(int family, const char *addr, uint16_t port, int block)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd = socket(family, SOCK_STREAM | (block ? 0 : SOCK_NONBLOCK), 0);

    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        inet_pton(AF_INET, addr, &s4->sin_addr);
        sl = sizeof(*s4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        inet_pton(AF_INET6, addr, &s6->sin6_addr);
        sl = sizeof(*s6);
    }
    int rc = connect(fd, (struct sockaddr *)&ss, sl);
    assert_true(rc == 0 || (!block && errno == EINPROGRESS));
    return fd;
}

/* A connection to l whose server side (or client side) closes first,
 * so that side ends in TIME_WAIT. */
static void time_wait_pair(int l, uint16_t port, int server_first)
{
    int c = connect_to(AF_INET, "127.0.0.1", port, 1);
    int s = accept(l, NULL, NULL);
    int first = server_first ? s : c, second = server_first ? c : s;
    char x;

    close(first);
    assert_int_equal(read(second, &x, 1), 0);
    close(second);
}

static void pause_ms(int ms)
{
    poll(NULL, 0, ms);
}

/* ss's state names, in netstat's order (tcpi_state_e). */
static const char *const ss_names[TCPI_NSTATES] = {
    "ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2",
    "TIME-WAIT", "UNCONN", "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING",
};

/* `ss -tanH state all '( dir = :p or ... )'` tallied per state. */
static void ss_count(uint32_t out[TCPI_NSTATES], const char *dir,
                     const tcpi_ports_t *ports)
{
    char cmd[1024], line[512];
    size_t n;
    FILE *p;

    memset(out, 0, sizeof(uint32_t) * TCPI_NSTATES);
    n = (size_t)snprintf(cmd, sizeof(cmd), "ss -tanH state all '(");
    for (int i = 0; i < ports->n; i++)
        n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "%s %s = :%u",
                              i ? " or" : "", dir, ports->port[i]);
    snprintf(cmd + n, sizeof(cmd) - n, " )'");
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof(line), p)) {
        char name[32];
        int known = 0;
        if (sscanf(line, "%31s", name) != 1)
            continue;
        for (int st = 0; st < TCPI_NSTATES; st++)
            if (strcmp(name, ss_names[st]) == 0) {
                out[st]++;
                known = 1;
            }
        if (!known)
            fail_msg("ss printed an unknown state: %s", line);
    }
    assert_int_equal(pclose(p), 0);
}

typedef uint32_t counts_t[TCPI_NSCOPES][TCPI_NSTATES];

static void ss_all(counts_t out, const tcpi_ports_t *f, const tcpi_ports_t *b)
{
    ss_count(out[TCPI_SCOPE_FRONT], "sport", f);
    ss_count(out[TCPI_SCOPE_BACKEND], "dport", b);
    ss_count(out[TCPI_SCOPE_BACKEND_LOCAL], "sport", b);
}

static void test_real_sockets(void **state)
{
    uint16_t pf = 0, pf2 = 0, pb = 0, pb2 = 0, po = 0;
    int lf, lf2, lf6, lb, lb2, lo, one = 1;
    int fds[64], nfd = 0;
    tcpi_ports_t f = { .n = 0 }, b = { .n = 0 }, out = { .n = 0 };
    counts_t before, mod, after;
    tcpi_sockdiag_stats_t stats;
    char err[160];

    lf = listener(AF_INET, "127.0.0.1", 16, &pf);
    lb = listener(AF_INET, "127.0.0.1", 16, &pb);
    lo = listener(AF_INET, "127.0.0.1", 16, &po);
    /* SYN_RECV: with TCP_DEFER_ACCEPT the server keeps the request socket
     * until data arrives, though the client's handshake completed. */
    lf2 = socket(AF_INET, SOCK_STREAM, 0);
    {
        struct sockaddr_in a = { .sin_family = AF_INET };
        socklen_t sl = sizeof(a);
        int secs = 30;
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        setsockopt(lf2, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs));
        assert_int_equal(bind(lf2, (struct sockaddr *)&a, sl), 0);
        assert_int_equal(listen(lf2, 16), 0);
        getsockname(lf2, (struct sockaddr *)&a, &sl);
        pf2 = ntohs(a.sin_port);
    }
    /* SYN_SENT: a listener with backlog 0 and one unaccepted connection
     * has a full accept queue, so the kernel drops further SYNs. */
    lb2 = listener(AF_INET, "127.0.0.1", 0, &pb2);
    /* IPv6 on the front port too, when the host has ::1. */
    lf6 = listener(AF_INET6, "::1", 16, &pf);
    tcpi_ports_add(&f, pf);
    tcpi_ports_add(&f, pf2);
    tcpi_ports_add(&b, pb);
    tcpi_ports_add(&b, pb2);
    tcpi_ports_add(&out, po);

    /* ESTABLISHED: 3 on the front port (+1 over IPv6), 2 to the backend. */
    for (int i = 0; i < 3; i++) {
        fds[nfd++] = connect_to(AF_INET, "127.0.0.1", pf, 1);
        fds[nfd++] = accept(lf, NULL, NULL);
    }
    if (lf6 >= 0) {
        fds[nfd++] = connect_to(AF_INET6, "::1", pf, 1);
        fds[nfd++] = accept(lf6, NULL, NULL);
    }
    for (int i = 0; i < 2; i++) {
        fds[nfd++] = connect_to(AF_INET, "127.0.0.1", pb, 1);
        fds[nfd++] = accept(lb, NULL, NULL);
    }
    /* Out of scope: two pairs that must never be counted. */
    for (int i = 0; i < 2; i++) {
        fds[nfd++] = connect_to(AF_INET, "127.0.0.1", po, 1);
        fds[nfd++] = accept(lo, NULL, NULL);
    }
    /* TIME_WAIT on the front port (the server closes first) and towards
     * the backend (the client closes first). */
    time_wait_pair(lf, pf, 1);
    time_wait_pair(lb, pb, 0);
    /* Backend closes, client does not: client CLOSE_WAIT (backend),
     * server FIN_WAIT2 (backend_local). */
    {
        fds[nfd++] = connect_to(AF_INET, "127.0.0.1", pb, 1);
        int s = accept(lb, NULL, NULL);
        close(s);
    }
    /* Client half-closes, backend does not: client FIN_WAIT2 (backend),
     * server CLOSE_WAIT (backend_local). */
    {
        int c = connect_to(AF_INET, "127.0.0.1", pb, 1);
        fds[nfd++] = c;
        fds[nfd++] = accept(lb, NULL, NULL);
        shutdown(c, SHUT_WR);
    }
    /* SYN_RECV on pf2 and SYN_SENT towards pb2. */
    fds[nfd++] = connect_to(AF_INET, "127.0.0.1", pf2, 1);
    fds[nfd++] = connect_to(AF_INET, "127.0.0.1", pb2, 1);
    pause_ms(50);
    fds[nfd++] = connect_to(AF_INET, "127.0.0.1", pb2, 0);
    setsockopt(fds[nfd - 1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    pause_ms(200);

    /* Both requests: the single-walk legacy one and one per family. */
    for (int how = TCPI_SOCKDIAG_LEGACY; how <= TCPI_SOCKDIAG_V2; how++) {
        ss_all(before, &f, &b);
        assert_int_equal(tcpi_sockdiag_count_how(mod, &stats, err, sizeof(err),
                                                 &f, &b, how), 0);
        ss_all(after, &f, &b);
        assert_int_equal(stats.walks, how == TCPI_SOCKDIAG_LEGACY ? 1 : 2);
        /* The kernel filtered: no socket out of scope was sent to us. */
        assert_int_equal(stats.unscoped, 0);
        assert_true(stats.sockets >= 20);
        for (int sc = 0; sc < TCPI_NSCOPES; sc++)
            for (int st = 0; st < TCPI_NSTATES; st++) {
                uint32_t lo_ = before[sc][st] < after[sc][st] ? before[sc][st] : after[sc][st];
                uint32_t hi_ = before[sc][st] > after[sc][st] ? before[sc][st] : after[sc][st];
                if (mod[sc][st] < lo_ || mod[sc][st] > hi_)
                    fail_msg("%s %s (request %d): module %u, ss %u before and %u after",
                             tcpi_scope_name(sc), tcpi_state_name(st), how,
                             mod[sc][st], before[sc][st], after[sc][st]);
            }
    }
    assert_int_equal(tcpi_sockdiag_count(mod, &stats, err, sizeof(err), &f, &b), 0);
    assert_int_equal(stats.walks, 1);
    /* What was built is there (the oracle agrees, so these pin both). */
    assert_int_equal(mod[TCPI_SCOPE_FRONT][TCPI_ST_LISTEN], lf6 >= 0 ? 3 : 2);
    assert_int_equal(mod[TCPI_SCOPE_FRONT][TCPI_ST_ESTABLISHED], lf6 >= 0 ? 4 : 3);
    assert_int_equal(mod[TCPI_SCOPE_FRONT][TCPI_ST_SYN_RECV], 1);
    assert_true(mod[TCPI_SCOPE_FRONT][TCPI_ST_TIME_WAIT] >= 1);
    assert_int_equal(mod[TCPI_SCOPE_BACKEND][TCPI_ST_ESTABLISHED], 2 + 1);
    assert_int_equal(mod[TCPI_SCOPE_BACKEND][TCPI_ST_SYN_SENT], 1);
    assert_int_equal(mod[TCPI_SCOPE_BACKEND][TCPI_ST_CLOSE_WAIT], 1);
    assert_int_equal(mod[TCPI_SCOPE_BACKEND][TCPI_ST_FIN_WAIT2], 1);
    assert_true(mod[TCPI_SCOPE_BACKEND][TCPI_ST_TIME_WAIT] >= 1);
    assert_int_equal(mod[TCPI_SCOPE_BACKEND][TCPI_ST_LISTEN], 0);
    assert_int_equal(mod[TCPI_SCOPE_BACKEND_LOCAL][TCPI_ST_LISTEN], 2);
    assert_int_equal(mod[TCPI_SCOPE_BACKEND_LOCAL][TCPI_ST_ESTABLISHED], 2 + 1);
    assert_int_equal(mod[TCPI_SCOPE_BACKEND_LOCAL][TCPI_ST_FIN_WAIT2], 1);
    assert_int_equal(mod[TCPI_SCOPE_BACKEND_LOCAL][TCPI_ST_CLOSE_WAIT], 1);

    /* The out-of-scope sockets exist: counted when their port is asked. */
    tcpi_ports_t none = { .n = 0 };
    assert_int_equal(tcpi_sockdiag_count(mod, &stats, err, sizeof(err), &out, &none), 0);
    assert_int_equal(mod[TCPI_SCOPE_FRONT][TCPI_ST_ESTABLISHED], 2);
    assert_int_equal(mod[TCPI_SCOPE_FRONT][TCPI_ST_LISTEN], 1);
    /* No ports: nothing, and no error. */
    assert_int_equal(tcpi_sockdiag_count(mod, &stats, err, sizeof(err), &none, &none), 0);
    for (int sc = 0; sc < TCPI_NSCOPES; sc++)
        for (int st = 0; st < TCPI_NSTATES; st++)
            assert_int_equal(mod[sc][st], 0);

    for (int i = 0; i < nfd; i++)
        close(fds[i]);
    close(lf);
    close(lf2);
    close(lb);
    close(lb2);
    close(lo);
    if (lf6 >= 0)
        close(lf6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytecode),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_real_sockets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
