/* A small builder of raw IPv4/TCP frames (LINKTYPE_RAW) for the flow and
 * join tests: hand-built packets, decoded by the real decoder. */
#ifndef TCPI_FRAMES_H
#define TCPI_FRAMES_H

#include "decode/tcpi_decode.h"

#include <stdint.h>
#include <string.h>

typedef struct {
    uint8_t  data[1600];
    uint32_t len;
} frame_t;

typedef struct {
    uint8_t  ip[4];
    uint16_t port;
} fep_t;

static inline void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24; p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static inline uint16_t csum16(const uint8_t *p, size_t n, uint32_t sum)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* IPv4 + TCP (20 bytes, no options) + payload of len bytes ('x' or the
 * given text). Checksums are right, so tshark does not complain. */
static inline void frame_tcp(frame_t *f, fep_t src, fep_t dst, uint8_t flags,
                             uint32_t seq, uint32_t ack, uint16_t win,
                             const char *text, uint32_t len)
{
    uint8_t *ip = f->data, *tcp = f->data + 20;
    uint32_t tot = 40 + len, sum = 0;

    memset(f->data, 0, 40);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)tot);
    put16(ip + 4, 1);
    ip[6] = 0x40;                  /* DF */
    ip[8] = 64;
    ip[9] = 6;
    memcpy(ip + 12, src.ip, 4);
    memcpy(ip + 16, dst.ip, 4);
    put16(ip + 10, csum16(ip, 20, 0));
    put16(tcp, src.port);
    put16(tcp + 2, dst.port);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    put16(tcp + 14, win);
    for (uint32_t i = 0; i < len; i++)
        tcp[20 + i] = text ? (uint8_t)text[i] : 'x';
    /* pseudo header */
    sum += (uint32_t)(src.ip[0] << 8 | src.ip[1]) + (uint32_t)(src.ip[2] << 8 | src.ip[3]);
    sum += (uint32_t)(dst.ip[0] << 8 | dst.ip[1]) + (uint32_t)(dst.ip[2] << 8 | dst.ip[3]);
    sum += 6 + 20 + len;
    put16(tcp + 16, csum16(tcp, 20 + len, sum));
    f->len = tot;
}

/* Times and the rig's endpoints: client, httpd's front, httpd's backend
 * side, Jetty. */
#define T0 1700000000000000000ull
#define MS 1000000ull
#define US 1000ull

__attribute__((unused)) static const fep_t C = { { 198, 18, 0, 2 }, 40000 };
__attribute__((unused)) static const fep_t S = { { 198, 18, 0, 1 }, 80 };
__attribute__((unused)) static const fep_t H = { { 127, 0, 0, 1 }, 50000 };
__attribute__((unused)) static const fep_t J = { { 127, 0, 0, 1 }, 7001 };

#define F_S  TCPI_TH_SYN
#define F_A  TCPI_TH_ACK
#define F_SA (TCPI_TH_SYN | TCPI_TH_ACK)
#define F_PA (TCPI_TH_PSH | TCPI_TH_ACK)
#define F_FA (TCPI_TH_FIN | TCPI_TH_ACK)
#define F_R  TCPI_TH_RST
#define F_RA (TCPI_TH_RST | TCPI_TH_ACK)

#endif
