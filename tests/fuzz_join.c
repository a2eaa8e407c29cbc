/* libFuzzer target: arbitrary frames through the flow table and the
 * request join. Input: records of [linktype:1][dt_us:2][len:2][bytes]
 * (linktype 0 = RAW, 1 = EN10MB, 2 = LINUX_SLL2); afterwards the first
 * decoded frame's tuple is joined as both legs of a request. Must never
 * crash, read out of bounds or loop. */
#include "join/tcpi_join.h"

#include <stdlib.h>
#include <string.h>

static const int32_t linktypes[] = { TCPI_LINKTYPE_RAW, TCPI_LINKTYPE_EN10MB,
                                     TCPI_LINKTYPE_LINUX_SLL2 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tcpi_join_t *j;
    tcpi_join_conf_t c = { .nflows = 16, .nevents = 64 };
    uint64_t ts = 1700000000000000000ull;
    tcpi_req_t rec;
    tcpi_reqsum_t sum;
    int have = 0;
    size_t pos = 0;

    if (j)
        tcpi_join_destroy(j);
    j = tcpi_join_create(&c);
    memset(&rec, 0, sizeof(rec));
    while (pos + 5 <= size) {
        int32_t lt = linktypes[data[pos] % 3];
        uint32_t dt = (uint32_t)data[pos + 1] << 8 | data[pos + 2];
        uint32_t len = (uint32_t)data[pos + 3] << 8 | data[pos + 4];
        pos += 5;
        if (len > size - pos)
            len = (uint32_t)(size - pos);
        ts += (uint64_t)dt * 1000;
        /* a copy of exactly len bytes, so ASan sees any overread */
        uint8_t *frame = malloc(len ? len : 1);
        memcpy(frame, data + pos, len);
        if (tcpi_join_packet(j, lt, frame, len, len + (dt & 7), ts) == 0 && !have) {
            tcpi_pkt_t p;
            tcpi_decode(&p, lt, frame, len, len + (dt & 7));
            rec.front_client.family = rec.backend_local.family = p.family;
            rec.front_server.family = rec.backend_remote.family = p.family;
            memcpy(rec.front_client.addr, p.src, 16);
            memcpy(rec.front_server.addr, p.dst, 16);
            rec.front_client.port = p.sport;
            rec.front_server.port = p.dport;
            rec.backend_local = rec.front_client;
            rec.backend_remote = rec.front_server;
            rec.has_backend = 1;
            rec.start_us = ts / 1000;
            have = 1;
        }
        free(frame);
        pos += len;
    }
    rec.end_us = ts / 1000;
    rec.conn_requests = size & 1;
    tcpi_join_request(&sum, tcpi_join_flows(j), &rec, 0);
    if (sum.npkt > TCPI_SUM_PKTS)
        abort();
    return 0;
}
