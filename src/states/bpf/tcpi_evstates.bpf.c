/*
 * tcpi_evstates.bpf.c — full TCP sockets per scope and state, kept up to
 * date from the kernel's state-change tracepoint instead of re-counted.
 *
 * Two programs and two maps:
 *   tcpi_ev_state  tp_btf/inet_sock_set_state: every state change of a
 *                  full TCP socket (tcp_set_state, inet_sk_set_state and
 *                  inet_sk_state_store all fire it). Moves the socket's
 *                  count from its old (scope, state) to its new one.
 *   tcpi_ev_seed   iter/tcp: one walk over the sockets that existed before
 *                  the tracepoint program was attached; adds those not yet
 *                  tracked.
 *   socks          socket address -> (state, scope mask) of every tracked
 *                  full socket in scope.
 *   counts         the mmap-able tcpi_ev_counts_t that readers map.
 *
 * TIME_WAIT sockets (inet_timewait_sock) and request sockets
 * (TCP_NEW_SYN_RECV) have no tracepoint: user space counts those with a
 * NETLINK_SOCK_DIAG dump restricted to their states
 * (tcpi_sockdiag_count_ev).
 *
 * Seeding races: the walk inserts with BPF_NOEXIST, so a socket the
 * tracepoint already tracks keeps the newer state; a socket that closes
 * while the walk runs leaves a tombstone, so the walk cannot re-add it from
 * a state it read before the close. The owner sets counts.seeding around
 * the walk.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include "tcpi_evshared.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define EEXIST 17
#define TCP_TIME_WAIT 6
#define TCP_CLOSE 7
#define TCP_NEW_SYN_RECV 12

/* Only the fields read here; CO-RE relocates them against the running
 * kernel's BTF, whatever its layout. */
struct ns_common { unsigned int inum; } __attribute__((preserve_access_index));
struct net { struct ns_common ns; } __attribute__((preserve_access_index));
typedef struct { struct net *net; } __attribute__((preserve_access_index)) possible_net_t;
struct sock_common {
    unsigned short skc_family;
    volatile unsigned char skc_state;
    __u16 skc_num;
    __be16 skc_dport;
    possible_net_t skc_net;
} __attribute__((preserve_access_index));
struct sock {
    struct sock_common __sk_common;
    __u16 sk_protocol;
} __attribute__((preserve_access_index));
struct bpf_iter_meta { void *seq; } __attribute__((preserve_access_index));
struct bpf_iter__tcp {
    struct bpf_iter_meta *meta;
    struct sock_common *sk_common;
} __attribute__((preserve_access_index));

/* Set by the loader before load: our network namespace and the two port
 * sets as 65536-bit maps. */
const volatile tcpi_ev_config_t cfg = {};

struct tcpi_ev_sock {
    __u8 state;
    __u8 mask;      /* scope bits */
    __u8 tomb;      /* closed while seeding: not counted */
    __u8 pad;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1 << 20);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u64);
    __type(value, struct tcpi_ev_sock);
} socks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __uint(map_flags, BPF_F_MMAPABLE);
    __type(key, __u32);
    __type(value, tcpi_ev_counts_t);
} counts SEC(".maps");

static __always_inline int has(const volatile __u64 *bits, __u16 port)
{
    return (bits[port >> 6] >> (port & 63)) & 1;
}

/* The same scopes as tcpi_sockdiag_scopes: front = local port in front,
 * backend = remote port in backend, backend_local = local port in
 * backend. */
static __always_inline __u8 scopes(__u16 sport, __u16 dport)
{
    return (has(cfg.front_bits, sport) ? 1 : 0) |
           (has(cfg.backend_bits, dport) ? 2 : 0) |
           (has(cfg.backend_bits, sport) ? 4 : 0);
}

static __always_inline void add(tcpi_ev_counts_t *c, __u8 mask, __u8 state,
                                long long d)
{
    __u32 s = state & (TCPI_EV_NKSTATES - 1);

    if (mask)
        __sync_fetch_and_add(&c->changes, 1);
    if (mask & 1)
        __sync_fetch_and_add(&c->count[0][s], d);
    if (mask & 2)
        __sync_fetch_and_add(&c->count[1][s], d);
    if (mask & 4)
        __sync_fetch_and_add(&c->count[2][s], d);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcpi_ev_state, const struct sock *sk, int oldstate, int newstate)
{
    const struct sock_common *skc = &sk->__sk_common;
    struct tcpi_ev_sock v = {}, *e;
    __u64 key = (__u64)sk;
    __u32 zero = 0;
    tcpi_ev_counts_t *c;
    int gone;
    __u8 mask;

    if (sk->sk_protocol != IPPROTO_TCP)
        return 0;
    if (skc->skc_family != AF_INET && skc->skc_family != AF_INET6)
        return 0;
    if (skc->skc_net.net->ns.inum != cfg.netns_ino)
        return 0;
    c = bpf_map_lookup_elem(&counts, &zero);
    if (c == NULL || c->off)
        return 0;
    __sync_fetch_and_add(&c->events, 1);
    mask = scopes(skc->skc_num, bpf_ntohs(skc->skc_dport));
    gone = newstate == TCP_CLOSE || newstate >= TCPI_EV_NKSTATES || mask == 0;

    /* Twice at most: a first insert can lose against the seeding walk,
     * and the second pass then finds its entry. */
    for (int tries = 0; tries < 2; tries++) {
        long err;

        e = bpf_map_lookup_elem(&socks, &key);
        if (e) {
            if (!e->tomb)
                add(c, e->mask, e->state, -1);
            if (!gone) {
                e->state = (__u8)newstate;
                e->mask = mask;
                e->tomb = 0;
                add(c, mask, (__u8)newstate, 1);
            } else if (c->seeding) {
                e->tomb = 1;
            } else if (bpf_map_delete_elem(&socks, &key) != 0) {
                /* A stale entry would be charged again when a new socket
                 * reuses this address. */
                __sync_fetch_and_add(&c->lost, 1);
            }
            return 0;
        }
        if (gone && !(c->seeding && newstate == TCP_CLOSE))
            return 0;                     /* never tracked, nothing to undo */
        v.state = (__u8)newstate;
        v.mask = mask;
        v.tomb = gone;
        err = bpf_map_update_elem(&socks, &key, &v, BPF_NOEXIST);
        if (err == 0) {
            if (!gone)
                add(c, mask, (__u8)newstate, 1);
            return 0;
        }
        if (err != -EEXIST) {
            __sync_fetch_and_add(&c->lost, 1);
            return 0;
        }
        __sync_fetch_and_add(&c->raced, 1);
    }
    return 0;
}

SEC("iter/tcp")
int tcpi_ev_seed(struct bpf_iter__tcp *ctx)
{
    struct sock_common *skc = ctx->sk_common;
    struct tcpi_ev_sock v = {};
    __u32 zero = 0;
    tcpi_ev_counts_t *c;
    __u64 key;
    long err;
    __u8 st, mask;

    if (skc == NULL)
        return 0;
    st = skc->skc_state;
    /* TIME_WAIT and request sockets are counted by the dump; CLOSE is
     * not a socket anybody lists. */
    if (st == 0 || st == TCP_TIME_WAIT || st == TCP_CLOSE ||
        st >= TCP_NEW_SYN_RECV)
        return 0;
    if (skc->skc_family != AF_INET && skc->skc_family != AF_INET6)
        return 0;
    mask = scopes(skc->skc_num, bpf_ntohs(skc->skc_dport));
    if (mask == 0)
        return 0;
    c = bpf_map_lookup_elem(&counts, &zero);
    if (c == NULL || c->off)
        return 0;
    key = (__u64)skc;
    v.state = st;
    v.mask = mask;
    err = bpf_map_update_elem(&socks, &key, &v, BPF_NOEXIST);
    if (err == 0) {
        add(c, mask, st, 1);
        __sync_fetch_and_add(&c->seeded, 1);
    } else if (err == -EEXIST) {
        __sync_fetch_and_add(&c->raced, 1);
    } else {
        __sync_fetch_and_add(&c->lost, 1);
    }
    return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
