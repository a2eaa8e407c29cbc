/*
 * tcpi_bpfcheck.h — what a viewer's filter= may hand to pcap_compile.
 *
 * pcap_compile has two costs a page cannot afford. It resolves names
 * with blocking NSS calls (`host NAME` and a bare NAME: getaddrinfo /
 * gethostbyname, DNS; `net NAME`: getnetbyname_r; `port NAME` and
 * `portrange A-B` with names: /etc/services; `proto \NAME`,
 * `protochain \NAME`: getprotobyname_r; `ether host NAME`: ether_hostton).
 * And its optimiser grows much faster than the expression: on this
 * project's CI machine (AMD EPYC, libpcap 1.10.3) `port 1 or ... or
 * port N` takes 1.7 ms at N = 16, 27 ms at 64, 0.7 s at 200 and 6.4 s at
 * 400 (the 7 kB of the issue); `portrange` chains are the costliest
 * primitive: 4.0 ms at 16, 4.7 ms at 17, 13.7 ms at 24, 27.5 ms at 32.
 *
 * tcpi_bpfcheck therefore lexes the expression the way libpcap 1.10's
 * scanner does (longest match, keywords case-sensitive, `\x` escapes)
 * and accepts it only when
 *  - it is at most TCPI_BPF_MAX_LEN bytes;
 *  - every word is a pcap-filter(7) keyword or a literal: a number
 *    (decimal, 0x hex, octal), an IPv4 address or prefix (10.1, 10.1.2.3),
 *    an IPv6 address, a MAC address, or a numeric range right after
 *    `portrange` (80-90). Anything libpcap would lex as a name — host and
 *    network names, service names, `\`-escaped protocol names, words of
 *    the 802.11/LLC/pflog sub-grammars — is refused, naming the word;
 *  - it has at most TCPI_BPF_MAX_OPS boolean operators (and, or, not,
 *    &&, ||, !), so at most TCPI_BPF_MAX_OPS + 1 primitives.
 * With those bounds the worst expressions found (flat `portrange` chains;
 * a mutation search over mixes of portrange, port, host, net, vlan, mpls,
 * pppoes, protochain, byte comparisons and parentheses did no worse)
 * compile in under 5 ms per link type, and at most
 * 1 + TCPI_QUERY_MAX_LINKTYPES link types are compiled per request.
 *
 * After compiling, tcpi_query also refuses a program longer than
 * TCPI_BPF_MAX_INSNS instructions: it runs for every packet examined.
 * Ordinary filters compile to tens of instructions (`tcp port 80 and
 * host 10.1.2.3`: 18); the largest found within the bounds above are
 * geneve with 16 portranges (about 2,700, compiled in 2-5 ms).
 */
#ifndef TCPI_BPFCHECK_H
#define TCPI_BPFCHECK_H

#include <stddef.h>

#define TCPI_BPF_MAX_LEN    512     /* bytes of expression */
#define TCPI_BPF_MAX_OPS    16      /* and / or / not */
#define TCPI_BPF_MAX_INSNS  2048    /* compiled instructions */
#define TCPI_BPF_MAX_TOKEN  64      /* bytes of one word or literal */

/** Counts of an accepted expression. */
typedef struct {
    unsigned tokens;                /* lexical tokens */
    unsigned ops;                   /* boolean operators */
} tcpi_bpfcheck_stats_t;

/** May expr (a NUL-terminated filter= value) be given to pcap_compile?
 *  0 if so (st, when not NULL, gets its counts); -1 with a sentence in
 *  err that names the refused word or the bound, suitable for a 400 reply
 *  after a "filter: " prefix. Reads at most TCPI_BPF_MAX_LEN + 1 bytes of
 *  expr before deciding on its length; never compiles, never resolves. */
int tcpi_bpfcheck(tcpi_bpfcheck_stats_t *st, const char *expr, char *err,
                  size_t errlen);

/** The i-th keyword the check accepts (for tests); NULL past the end. */
const char *tcpi_bpfcheck_keyword(size_t i);

#endif
