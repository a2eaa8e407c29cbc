/* libFuzzer target: the capture-file reader on arbitrary bytes. Every
 * packet and comment it hands out must lie inside the input. */
#include "pcapfile/tcpi_pcapfile.h"

#include <stdlib.h>

static tcpi_capfile_t r;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tcpi_capfile_pkt_t pk;
    volatile unsigned sum = 0;
    int rc = 0, n = 0;

    if (tcpi_capfile_open(&r, data, size) != 0) {
        if (r.err[0] == '\0')
            abort();
        return 0;
    }
    while (n++ < 100000 && (rc = tcpi_capfile_next(&r, &pk)) == 1) {
        if (pk.data < data || pk.caplen > size
            || (size_t)(pk.data - data) > size - pk.caplen)
            abort();
        if (pk.comment && ((const uint8_t *)pk.comment < data
            || (size_t)((const uint8_t *)pk.comment - data) + pk.comment_len > size))
            abort();
        if (r.pcapng && pk.ifid >= r.nif)
            abort();
        for (uint32_t i = 0; i < pk.caplen; i++)
            sum += pk.data[i];
        for (size_t i = 0; i < pk.comment_len; i++)
            sum += (uint8_t)pk.comment[i];
    }
    if (rc < 0 && r.err[0] == '\0')
        abort();
    return 0;
}
