/* tcpi_sockdiag.c — socket counts from NETLINK_SOCK_DIAG (see the header). */
#include "tcpi_sockdiag.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

/* Kernel states 1..12 (TCP_ESTABLISHED .. TCP_NEW_SYN_RECV); not 13,
 * TCP_BOUND_INACTIVE, which would add a walk of the bind hash. */
#define ALL_STATES 0x1ffeu
_Static_assert((TCPI_SOCKDIAG_EV_STATES | TCPI_SOCKDIAG_DUMP_STATES) == ALL_STATES &&
               (TCPI_SOCKDIAG_EV_STATES & TCPI_SOCKDIAG_DUMP_STATES) == 0,
               "the event and dump states split the kernel states");
#define RECV_BUF   (64 * 1024)        /* a dump skb is at most 32 KiB */
#define SOCK_RCVBUF (1024 * 1024)
#define RECV_TIMEOUT_S 5

unsigned tcpi_sockdiag_scopes(uint16_t sport, uint16_t dport,
                              const tcpi_ports_t *front,
                              const tcpi_ports_t *backend)
{
    unsigned m = 0;

    if (tcpi_ports_has(front, sport))
        m |= 1u << TCPI_SCOPE_FRONT;
    if (tcpi_ports_has(backend, dport))
        m |= 1u << TCPI_SCOPE_BACKEND;
    if (tcpi_ports_has(backend, sport))
        m |= 1u << TCPI_SCOPE_BACKEND_LOCAL;
    return m;
}

/* "A or B or C" the way the kernel's inet_diag_bc_audit accepts it (and
 * ss builds it): every compare falls through on a match ("yes" = next op)
 * to a jump to the end, and skips that jump on a mismatch:
 *
 *   [S_EQ p1 | yes 8, no 12] [JMP | no -> end] [S_EQ p2 ...] ... [D_EQ pk]
 *
 * Landing exactly on the end accepts; jumping 4 bytes past it rejects. */
int tcpi_sockdiag_bytecode(unsigned char *out, size_t outlen,
                           const tcpi_ports_t *front,
                           const tcpi_ports_t *backend)
{
    struct { unsigned char code; uint16_t port; } cond[3 * TCPI_MAX_PORTS];
    int k = 0;
    size_t total, off = 0;

    for (int i = 0; i < front->n; i++)
        cond[k++] = (typeof(cond[0])){ INET_DIAG_BC_S_EQ, front->port[i] };
    for (int i = 0; i < backend->n; i++)
        if (!tcpi_ports_has(front, backend->port[i]))
            cond[k++] = (typeof(cond[0])){ INET_DIAG_BC_S_EQ, backend->port[i] };
    for (int i = 0; i < backend->n; i++)
        cond[k++] = (typeof(cond[0])){ INET_DIAG_BC_D_EQ, backend->port[i] };
    if (k == 0)
        return 0;
    total = (size_t)k * 12 - 4;
    if (total > outlen || total > UINT16_MAX)
        return -1;
    for (int i = 0; i < k; i++) {
        struct inet_diag_bc_op op = { cond[i].code, 8, 12 };
        struct inet_diag_bc_op arg = { 0, 0, cond[i].port };
        memcpy(out + off, &op, sizeof(op));
        memcpy(out + off + 4, &arg, sizeof(arg));
        off += 8;
        if (i + 1 < k) {
            struct inet_diag_bc_op jmp = { INET_DIAG_BC_JMP, 4,
                                           (uint16_t)(total - off) };
            memcpy(out + off, &jmp, sizeof(jmp));
            off += 4;
        }
    }
    return (int)total;
}

static int fail(char *err, size_t errlen, const char *what, int e)
{
    snprintf(err, errlen, "sock_diag: %s: %s", what, strerror(e));
    return -1;
}

int tcpi_sockdiag_parse(uint32_t count[TCPI_NSCOPES][TCPI_NSTATES],
                        tcpi_sockdiag_stats_t *stats, char *err, size_t errlen,
                        const void *buf, size_t len, uint32_t seq,
                        const tcpi_ports_t *front,
                        const tcpi_ports_t *backend)
{
    const unsigned char *p = buf;
    size_t off = 0;

    while (len - off >= sizeof(struct nlmsghdr)) {
        struct nlmsghdr h;
        const unsigned char *pl;
        size_t plen;
        int32_t e;

        memcpy(&h, p + off, sizeof(h));
        if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len - off) {
            snprintf(err, errlen, "sock_diag: malformed netlink message "
                     "(length %u with %zu bytes left)", h.nlmsg_len, len - off);
            return -1;
        }
        pl = p + off + NLMSG_HDRLEN;
        plen = h.nlmsg_len - NLMSG_HDRLEN;
        off += NLMSG_ALIGN(h.nlmsg_len) < len - off ? NLMSG_ALIGN(h.nlmsg_len)
                                                    : len - off;
        if (h.nlmsg_seq != seq)
            continue;                  /* not our dump: a stale answer */
        switch (h.nlmsg_type) {
        case NLMSG_DONE:
            /* Since 4.x a failed dump puts its error here. */
            if (plen >= sizeof(e)) {
                memcpy(&e, pl, sizeof(e));
                if (e < 0)
                    return fail(err, errlen, "dump failed", -e);
            }
            return 1;
        case NLMSG_ERROR:
            if (plen < sizeof(e)) {
                snprintf(err, errlen, "sock_diag: truncated error message");
                return -1;
            }
            memcpy(&e, pl, sizeof(e));
            if (e == 0)
                continue;
            return fail(err, errlen, "the kernel refused the request", -e);
        case SOCK_DIAG_BY_FAMILY:
        case TCPDIAG_GETSOCK: {         /* the reply to the legacy request */
            uint8_t kstate;
            uint16_t sport, dport;
            unsigned m;
            int st;
            if (plen < sizeof(struct inet_diag_msg)) {
                snprintf(err, errlen, "sock_diag: short inet_diag_msg (%zu "
                         "bytes)", plen);
                return -1;
            }
            memcpy(&kstate, pl + offsetof(struct inet_diag_msg, idiag_state), 1);
            memcpy(&sport, pl + offsetof(struct inet_diag_msg, id.idiag_sport), 2);
            memcpy(&dport, pl + offsetof(struct inet_diag_msg, id.idiag_dport), 2);
            m = tcpi_sockdiag_scopes(ntohs(sport), ntohs(dport), front, backend);
            st = tcpi_state_from_kernel(kstate);
            stats->sockets++;
            if (m == 0)
                stats->unscoped++;
            else if (st < 0)
                stats->unnamed++;
            for (int sc = 0; sc < TCPI_NSCOPES && st >= 0; sc++)
                if (m & (1u << sc))
                    count[sc][st]++;
            break;
        }
        default:
            break;
        }
    }
    if (off != len) {
        snprintf(err, errlen, "sock_diag: %zu trailing bytes", len - off);
        return -1;
    }
    return 0;
}

/* One dump. legacy: the TCPDIAG_GETSOCK request (struct inet_diag_req),
 * which the kernel runs with family AF_UNSPEC, so a single walk of its
 * socket hash covers IPv4 and IPv6; otherwise SOCK_DIAG_BY_FAMILY with
 * inet_diag_req_v2 for one family. */
static int dump(int fd, int legacy, uint8_t family, uint32_t seq,
                unsigned states, const unsigned char *bc, int bclen,
                unsigned char *rbuf,
                uint32_t count[TCPI_NSCOPES][TCPI_NSTATES],
                tcpi_sockdiag_stats_t *stats, char *err, size_t errlen,
                const tcpi_ports_t *front, const tcpi_ports_t *backend)
{
    unsigned char req[NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct inet_diag_req_v2)
                                                 + sizeof(struct inet_diag_req))
                      + NLA_HDRLEN + TCPI_SOCKDIAG_BC_MAX]
        __attribute__((aligned(4)));
    struct nlmsghdr h = { 0 };
    struct nlattr a;
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    size_t rlen;

    if (legacy) {
        struct inet_diag_req r;
        memset(&r, 0, sizeof(r));
        r.idiag_ext = 0;               /* no extensions: state and ports only */
        r.idiag_states = states;
        memcpy(req + NLMSG_HDRLEN, &r, sizeof(r));
        rlen = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(r));
        h.nlmsg_type = TCPDIAG_GETSOCK;
    } else {
        struct inet_diag_req_v2 r;
        memset(&r, 0, sizeof(r));
        r.sdiag_family = family;
        r.sdiag_protocol = IPPROTO_TCP;
        r.idiag_ext = 0;
        r.idiag_states = states;
        memcpy(req + NLMSG_HDRLEN, &r, sizeof(r));
        rlen = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(r));
        h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    }
    a.nla_type = INET_DIAG_REQ_BYTECODE;
    a.nla_len = (uint16_t)(NLA_HDRLEN + bclen);
    h.nlmsg_len = (uint32_t)(rlen + NLA_HDRLEN + (size_t)bclen);
    h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    h.nlmsg_seq = seq;
    memcpy(req, &h, sizeof(h));
    memcpy(req + rlen, &a, sizeof(a));
    memcpy(req + rlen + NLA_HDRLEN, bc, (size_t)bclen);
    if (sendto(fd, req, h.nlmsg_len, 0, (struct sockaddr *)&kernel,
               sizeof(kernel)) < 0)
        return fail(err, errlen, "cannot send the request", errno);
    stats->walks++;
    for (;;) {
        ssize_t n = recv(fd, rbuf, RECV_BUF, MSG_TRUNC);
        int rc;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(err, errlen, "cannot read the dump",
                        errno == EAGAIN ? ETIMEDOUT : errno);
        if (n == 0 || (size_t)n > RECV_BUF) {
            snprintf(err, errlen, "sock_diag: %s reply", n ? "truncated" : "empty");
            return -1;
        }
        stats->reads++;
        rc = tcpi_sockdiag_parse(count, stats, err, errlen, rbuf, (size_t)n,
                                 seq, front, backend);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
    }
}

static int open_diag(char *err, size_t errlen)
{
    struct timeval tv = { RECV_TIMEOUT_S, 0 };
    int rcvbuf = SOCK_RCVBUF;
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

    if (fd < 0)
        return fail(err, errlen, "cannot open a netlink socket", errno);
    /* Best effort: above rmem_max the kernel silently caps it. */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Two SOCK_DIAG_BY_FAMILY dumps, AF_INET then AF_INET6. */
static int count_v2(unsigned char *rbuf, unsigned states,
                    const unsigned char *bc, int bclen,
                    uint32_t count[TCPI_NSCOPES][TCPI_NSTATES],
                    tcpi_sockdiag_stats_t *stats, char *err, size_t errlen,
                    const tcpi_ports_t *front, const tcpi_ports_t *backend)
{
    static const uint8_t families[] = { AF_INET, AF_INET6 };
    int rc = 0, fd = open_diag(err, errlen);

    if (fd < 0)
        return -1;
    for (size_t i = 0; i < TCPI_ARRAY_LEN(families) && rc == 0; i++) {
        char ferr[160];
        rc = dump(fd, 0, families[i], (uint32_t)i + 2, states, bc, bclen, rbuf,
                  count,
                  stats, ferr, sizeof(ferr), front, backend);
        /* A kernel without IPv6 has no AF_INET6 handler: no v6 sockets. */
        if (rc != 0 && families[i] == AF_INET6 &&
            (strstr(ferr, strerror(ENOENT)) || strstr(ferr, strerror(EAFNOSUPPORT))))
            rc = 0;
        else if (rc != 0)
            snprintf(err, errlen, "%s (%s)", ferr,
                     families[i] == AF_INET ? "IPv4" : "IPv6");
    }
    close(fd);
    return rc;
}

static int count_how(uint32_t count[TCPI_NSCOPES][TCPI_NSTATES],
                     tcpi_sockdiag_stats_t *stats, char *err, size_t errlen,
                     const tcpi_ports_t *front, const tcpi_ports_t *backend,
                     int how, unsigned states)
{
    unsigned char bc[TCPI_SOCKDIAG_BC_MAX];
    int bclen, fd, rc = -1;
    tcpi_sockdiag_stats_t local;
    unsigned char *rbuf;

    if (stats == NULL)
        stats = &local;
    memset(stats, 0, sizeof(*stats));
    memset(count, 0, sizeof(uint32_t) * TCPI_NSCOPES * TCPI_NSTATES);
    if (errlen)
        err[0] = '\0';
    bclen = tcpi_sockdiag_bytecode(bc, sizeof(bc), front, backend);
    if (bclen < 0) {
        snprintf(err, errlen, "sock_diag: too many ports for the filter");
        return -1;
    }
    if (bclen == 0)
        return 0;                      /* no ports: nothing in any scope */
    rbuf = malloc(RECV_BUF);
    if (rbuf == NULL) {
        snprintf(err, errlen, "sock_diag: out of memory");
        return -1;
    }
    if (how != TCPI_SOCKDIAG_V2 && (fd = open_diag(err, errlen)) >= 0) {
        rc = dump(fd, 1, AF_UNSPEC, 1, states, bc, bclen, rbuf, count, stats,
                  err, errlen, front, backend);
        close(fd);
    }
    if (rc != 0 && how != TCPI_SOCKDIAG_LEGACY) {
        /* A kernel without the legacy request: one dump per family, on a
         * fresh socket (the failed dump may have left messages). */
        memset(stats, 0, sizeof(*stats));
        memset(count, 0, sizeof(uint32_t) * TCPI_NSCOPES * TCPI_NSTATES);
        rc = count_v2(rbuf, states, bc, bclen, count, stats, err, errlen,
                      front, backend);
    }
    free(rbuf);
    return rc;
}

int tcpi_sockdiag_count_how(uint32_t count[TCPI_NSCOPES][TCPI_NSTATES],
                            tcpi_sockdiag_stats_t *stats, char *err,
                            size_t errlen, const tcpi_ports_t *front,
                            const tcpi_ports_t *backend, int how)
{
    return count_how(count, stats, err, errlen, front, backend, how, ALL_STATES);
}

int tcpi_sockdiag_count_states(uint32_t count[TCPI_NSCOPES][TCPI_NSTATES],
                               tcpi_sockdiag_stats_t *stats, char *err,
                               size_t errlen, const tcpi_ports_t *front,
                               const tcpi_ports_t *backend, unsigned states)
{
    return count_how(count, stats, err, errlen, front, backend,
                     TCPI_SOCKDIAG_AUTO, states & ALL_STATES);
}

int tcpi_sockdiag_count(uint32_t count[TCPI_NSCOPES][TCPI_NSTATES],
                        tcpi_sockdiag_stats_t *stats, char *err, size_t errlen,
                        const tcpi_ports_t *front,
                        const tcpi_ports_t *backend)
{
    return tcpi_sockdiag_count_how(count, stats, err, errlen, front, backend,
                                   TCPI_SOCKDIAG_AUTO);
}

int tcpi_sockdiag_ev_usable(const volatile tcpi_ev_counts_t *ev)
{
    return ev != NULL && __atomic_load_n(&ev->valid, __ATOMIC_ACQUIRE) &&
           !__atomic_load_n(&ev->seeding, __ATOMIC_RELAXED) &&
           __atomic_load_n(&ev->lost, __ATOMIC_RELAXED) == 0;
}

void tcpi_sockdiag_ev_read(uint32_t count[TCPI_NSCOPES][TCPI_NSTATES],
                           const volatile tcpi_ev_counts_t *ev)
{
    memset(count, 0, sizeof(uint32_t) * TCPI_NSCOPES * TCPI_NSTATES);
    for (int sc = 0; sc < TCPI_NSCOPES && sc < TCPI_EV_NSCOPES; sc++)
        for (int k = 1; k < TCPI_EV_NKSTATES; k++) {
            long long v;
            int st = tcpi_state_from_kernel(k);
            if (!(TCPI_SOCKDIAG_EV_STATES & (1u << k)) || st < 0)
                continue;
            v = __atomic_load_n(&ev->count[sc][k], __ATOMIC_RELAXED);
            count[sc][st] += v > 0 ? (uint32_t)v : 0;
        }
}

int tcpi_sockdiag_count_ev(uint32_t count[TCPI_NSCOPES][TCPI_NSTATES],
                           tcpi_sockdiag_stats_t *stats, char *err,
                           size_t errlen, const tcpi_ports_t *front,
                           const tcpi_ports_t *backend,
                           const volatile tcpi_ev_counts_t *ev)
{
    uint32_t evc[TCPI_NSCOPES][TCPI_NSTATES];
    tcpi_sockdiag_stats_t local;

    if (stats == NULL)
        stats = &local;
    if (!tcpi_sockdiag_ev_usable(ev))
        return tcpi_sockdiag_count(count, stats, err, errlen, front, backend);
    if (tcpi_sockdiag_count_states(count, stats, err, errlen, front, backend,
                                   TCPI_SOCKDIAG_DUMP_STATES) != 0)
        return -1;
    tcpi_sockdiag_ev_read(evc, ev);
    for (int sc = 0; sc < TCPI_NSCOPES; sc++)
        for (int st = 0; st < TCPI_NSTATES; st++)
            count[sc][st] += evc[sc][st];
    stats->events = 1;
    return 0;
}

int tcpi_sockdiag_check_ev(const volatile tcpi_ev_counts_t *ev,
                           const tcpi_ports_t *front,
                           const tcpi_ports_t *backend,
                           char *diff, size_t difflen)
{
    uint32_t before[TCPI_NSCOPES][TCPI_NSTATES], after[TCPI_NSCOPES][TCPI_NSTATES];
    uint32_t dumped[TCPI_NSCOPES][TCPI_NSTATES];
    unsigned long long changes;
    char err[160];

    if (difflen)
        diff[0] = '\0';
    if (!tcpi_sockdiag_ev_usable(ev))
        return 0;
    changes = __atomic_load_n(&ev->changes, __ATOMIC_ACQUIRE);
    tcpi_sockdiag_ev_read(before, ev);
    /* Not SYN_RECV: asked for it, the kernel adds the request sockets
     * (reported as SYN_RECV too), which the events never count. */
    if (tcpi_sockdiag_count_states(dumped, NULL, err, sizeof(err), front,
                                   backend, TCPI_SOCKDIAG_EV_STATES &
                                   ~(1u << 3)) != 0)
        return 0;
    tcpi_sockdiag_ev_read(after, ev);
    /* Equal counts are not enough: a close in a bucket already dumped and
     * an open in one still ahead leave them equal and the dump one off. */
    if (__atomic_load_n(&ev->changes, __ATOMIC_ACQUIRE) != changes ||
        memcmp(before, after, sizeof(before)) != 0)
        return 0;
    for (int sc = 0; sc < TCPI_NSCOPES; sc++)
        for (int st = 0; st < TCPI_NSTATES; st++)
            if (st != TCPI_ST_SYN_RECV && dumped[sc][st] != before[sc][st]) {
                snprintf(diff, difflen, "%s %s: events %u, kernel dump %u",
                         tcpi_scope_name(sc), tcpi_state_name(st),
                         before[sc][st], dumped[sc][st]);
                return -1;
            }
    return 1;
}
