/* libFuzzer target for tcpi_decode. Input: one byte choosing the link
 * type, one byte of extra wire length (snaplen cut), then the frame. */
#include "decode/tcpi_decode.h"

#include <stdlib.h>
#include <string.h>

static const int32_t links[] = {
    TCPI_LINKTYPE_EN10MB, TCPI_LINKTYPE_LINUX_SLL, TCPI_LINKTYPE_LINUX_SLL2,
    TCPI_LINKTYPE_NULL, TCPI_LINKTYPE_LOOP, TCPI_LINKTYPE_RAW,
    TCPI_LINKTYPE_IPV4, TCPI_LINKTYPE_IPV6,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tcpi_pkt_t p;

    if (size < 2)
        return 0;
    int32_t lt = links[data[0] % (sizeof(links) / sizeof(links[0]))];
    uint32_t caplen = (uint32_t)(size - 2);
    /* A private copy so ASan sees any read past the captured bytes. */
    uint8_t *f = malloc(caplen ? caplen : 1);
    memcpy(f, data + 2, caplen);
    int rc = tcpi_decode(&p, lt, f, caplen, caplen + data[1]);
    if (rc < 0 || rc >= TCPI_DR_COUNT)
        abort();
    if (rc == TCPI_DR_ok) {
        if (p.opt_off + p.opt_len > caplen || p.tcp_off + 20 > caplen)
            abort();
        if (p.payload_caplen && p.payload_off + p.payload_caplen > caplen)
            abort();
        if (p.payload_caplen > p.payload_len || p.nsack > TCPI_MAX_SACK)
            abort();
    }
    free(f);
    return 0;
}
