/* libFuzzer target for tcpi_bpfcheck. Input: a filter= value (up to the
 * first NUL). Whatever the check accepts stays within its bounds and
 * compiles with libpcap without a single name lookup: the lookup
 * functions libpcap imports are defined here and abort (numeric IPv6
 * conversions, which glibc does without NSS, are passed on). */
#include "render/tcpi_bpfcheck.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/ether.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int armed;

static void looked_up(const char *fn, const char *name)
{
    if (!armed)
        return;
    fprintf(stderr, "%s(\"%s\") from an accepted filter\n", fn,
            name ? name : "");
    abort();
}

int getaddrinfo(const char *restrict node, const char *restrict service,
                const struct addrinfo *restrict hints,
                struct addrinfo **restrict res)
{
    typedef int gai_fn(const char *, const char *, const struct addrinfo *,
                       struct addrinfo **);
    struct in6_addr a6;

    if (node && service == NULL && hints &&
        ((hints->ai_flags & AI_NUMERICHOST) ||
         inet_pton(AF_INET6, node, &a6) == 1)) {
        gai_fn *real = (gai_fn *)dlsym(RTLD_NEXT, "getaddrinfo");
        struct addrinfo h = *hints;
        h.ai_flags |= AI_NUMERICHOST;
        return real(node, service, &h, res);
    }
    looked_up("getaddrinfo", node ? node : service);
    return EAI_NONAME;
}
struct hostent *gethostbyname(const char *name)
{
    looked_up("gethostbyname", name);
    return NULL;
}
int getnetbyname_r(const char *name, struct netent *rb, char *buf,
                   size_t buflen, struct netent **result, int *h_errnop)
{
    looked_up("getnetbyname_r", name);
    *result = NULL;
    *h_errnop = HOST_NOT_FOUND;
    return 2;
}
int getprotobyname_r(const char *name, struct protoent *rb, char *buf,
                     size_t buflen, struct protoent **result)
{
    looked_up("getprotobyname_r", name);
    *result = NULL;
    return 2;
}
int ether_hostton(const char *hostname, struct ether_addr *addr)
{
    looked_up("ether_hostton", hostname);
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tcpi_bpfcheck_stats_t st;
    char err[512];
    char *expr;

    if (size > 4 * TCPI_BPF_MAX_LEN)
        return 0;
    expr = malloc(size + 1);
    memcpy(expr, data, size);
    expr[size] = '\0';
    err[0] = '\0';
    if (tcpi_bpfcheck(&st, expr, err, sizeof(err)) == 0) {
        if (strlen(expr) > TCPI_BPF_MAX_LEN || st.ops > TCPI_BPF_MAX_OPS)
            abort();
        pcap_t *d = pcap_open_dead(DLT_EN10MB, 262144);
        struct bpf_program p;
        armed = 1;
        if (pcap_compile(d, &p, expr, 1, PCAP_NETMASK_UNKNOWN) == 0)
            pcap_freecode(&p);
        armed = 0;
        pcap_close(d);
    } else if (err[0] == '\0') {
        abort();                       /* a refusal always says why */
    }
    free(expr);
    return 0;
}
