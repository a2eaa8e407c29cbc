/* libFuzzer target for tcpi_sockdiag_parse: any buffer a netlink recv
 * could return. Counts never exceed the messages that fit, errors always
 * come with text. */
#include "states/tcpi_sockdiag.h"

#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t count[TCPI_NSCOPES][TCPI_NSTATES];
    tcpi_sockdiag_stats_t st;
    tcpi_ports_t f = { .n = 0 }, b = { .n = 0 };
    char err[160] = "";
    uint64_t total = 0;

    tcpi_ports_add(&f, 80);
    tcpi_ports_add(&b, 7001);
    memset(count, 0, sizeof(count));
    memset(&st, 0, sizeof(st));
    /* A private copy so ASan sees any read past the end. */
    uint8_t *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    int rc = tcpi_sockdiag_parse(count, &st, err, sizeof(err), buf, size, 7,
                                 &f, &b);
    if (rc < -1 || rc > 1 || (rc == -1 && err[0] == '\0'))
        abort();
    for (int sc = 0; sc < TCPI_NSCOPES; sc++)
        for (int s = 0; s < TCPI_NSTATES; s++)
            total += count[sc][s];
    if (st.sockets > size / NLMSG_HDRLEN || total > 3ull * st.sockets)
        abort();
    free(buf);
    return 0;
}
