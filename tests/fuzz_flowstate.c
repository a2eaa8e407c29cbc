/* libFuzzer target for tcpi_flowstate. Input: 14-byte packets (dir and
 * flags, seq, ack, payload length, analysis bits); after each, both sides
 * must be in a netstat state or unknown, their histories bounded, time
 * ordered and ending in the current state. */
#include "flow/tcpi_flowstate.h"

#include <stdlib.h>
#include <string.h>

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tcpi_flowstate_t fs;
    uint64_t ts = 1, t;

    tcpi_flowstate_reset(&fs);
    for (size_t off = 0; off + 14 <= size; off += 14) {
        const uint8_t *d = data + off;
        ts += d[13];
        tcpi_flowstate_packet(&fs, d[0] & 1, d[1], rd32(d + 2), rd32(d + 6),
                              (uint32_t)(d[10] << 8 | d[11]), d[12], ts);
        for (int side = 0; side < 2; side++) {
            int st = tcpi_flowstate_state(&fs, side), h, last = -1, i;
            uint64_t prev = 0;
            if (st < -1 || st >= TCPI_NSTATES || fs.side[side].nhist > TCPI_FS_HIST)
                abort();
            for (i = 0; (h = tcpi_flowstate_hist(&t, &fs, side, i)) >= 0; i++) {
                if (h >= TCPI_NSTATES || t < prev || t > ts)
                    abort();
                prev = t;
                last = h;
            }
            if (last != st)
                abort();
        }
    }
    return 0;
}
