/* Hand-built Ethernet/IPv4|IPv6/TCP frames and request records for the
 * per-request capture tests (test_reqcap.c, test_trigger.c). */
#ifndef TCPI_REQCAP_FRAMES_H
#define TCPI_REQCAP_FRAMES_H

#include "decode/tcpi_decode.h"
#include "store/tcpi_reqlog.h"
#include "region/tcpi_shm.h"

#include <arpa/inet.h>

static inline void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24; p[1] = (v >> 16) & 0xff; p[2] = (v >> 8) & 0xff; p[3] = v & 0xff;
}

/** An endpoint from text ("198.18.0.2" or "::1") and a port. */
static inline tcpi_endpoint_t ep(const char *ip, uint16_t port)
{
    tcpi_endpoint_t e;
    memset(&e, 0, sizeof(e));
    if (inet_pton(AF_INET, ip, e.addr) == 1)
        e.family = 4;
    else if (inet_pton(AF_INET6, ip, e.addr) == 1)
        e.family = 6;
    e.port = port;
    return e;
}

/** Ethernet + IP + 20-byte TCP header + payload from src to dst. */
static inline uint32_t frame(uint8_t *b, const tcpi_endpoint_t *src,
                             const tcpi_endpoint_t *dst, uint8_t flags,
                             uint32_t seq, const char *payload)
{
    uint32_t plen = payload ? (uint32_t)strlen(payload) : 0, off = 14, ipl;
    uint8_t *t;

    memset(b, 0, 14 + 40 + 20 + plen);
    b[5] = 1; b[11] = 2;
    if (src->family == 4) {
        put16(b + 12, 0x0800);
        ipl = 20;
        b[off] = 0x45;
        put16(b + off + 2, (uint16_t)(20 + 20 + plen));
        b[off + 8] = 64;
        b[off + 9] = 6;
        memcpy(b + off + 12, src->addr, 4);
        memcpy(b + off + 16, dst->addr, 4);
    } else {
        put16(b + 12, 0x86dd);
        ipl = 40;
        b[off] = 0x60;
        put16(b + off + 4, (uint16_t)(20 + plen));
        b[off + 6] = 6;
        b[off + 7] = 64;
        memcpy(b + off + 8, src->addr, 16);
        memcpy(b + off + 24, dst->addr, 16);
    }
    t = b + off + ipl;
    put16(t, src->port);
    put16(t + 2, dst->port);
    put32(t + 4, seq);
    put32(t + 8, (flags & TCPI_TH_ACK) ? 1000 : 0);
    t[12] = 5 << 4;
    t[13] = flags;
    put16(t + 14, 65535);
    if (plen)
        memcpy(t + 20, payload, plen);
    return off + ipl + 20 + plen;
}

/** Append one frame to the ring at ts_us (wall clock microseconds). */
static inline void emit(tcpi_ring_t *ring, uint16_t iface, uint64_t ts_us,
                        const tcpi_endpoint_t *src, const tcpi_endpoint_t *dst,
                        uint8_t flags, const char *payload)
{
    uint8_t b[2048];
    uint32_t n = frame(b, src, dst, flags, (uint32_t)ts_us, payload);
    tcpi_ring_write(ring, ts_us * 1000, iface, TCPI_LINKTYPE_EN10MB, n, n, b);
}

#define S_   TCPI_TH_SYN
#define SA_  (TCPI_TH_SYN | TCPI_TH_ACK)
#define A_   TCPI_TH_ACK
#define PA_  (TCPI_TH_PSH | TCPI_TH_ACK)
#define FA_  (TCPI_TH_FIN | TCPI_TH_ACK)

/** A shared region with a front interface 0 and a backend interface 1
 *  (both Ethernet), as the parent and worker would set it up. */
static inline tcpi_shm_t *test_shm(uint64_t ring_size)
{
    tcpi_shm_t *shm = tcpi_shm_init(calloc(1, tcpi_shm_size(ring_size)),
                                    ring_size, 1);
    tcpi_shm_add_iface(shm, "tcpih0", TCPI_LEG_FRONT, "tcp and port 80");
    tcpi_shm_add_iface(shm, "lo", TCPI_LEG_BACKEND, "tcp and port 7001");
    atomic_store(&shm->iface[0].linktype, TCPI_LINKTYPE_EN10MB);
    atomic_store(&shm->iface[1].linktype, TCPI_LINKTYPE_EN10MB);
    return shm;
}

/** A proxied GET's record: front c -> s, backend l -> bk, fresh. */
static inline tcpi_req_t record(const char *id, tcpi_endpoint_t c,
                                tcpi_endpoint_t s, tcpi_endpoint_t l,
                                tcpi_endpoint_t bk, uint64_t start_us,
                                uint64_t end_us)
{
    tcpi_req_t r;

    memset(&r, 0, sizeof(r));
    snprintf(r.id, sizeof(r.id), "%s", id);
    snprintf(r.method, sizeof(r.method), "GET");
    r.front_client = c;
    r.front_server = s;
    r.backend_local = l;
    r.backend_remote = bk;
    r.has_backend = 1;
    r.status = 200;
    r.start_us = start_us;
    r.end_us = end_us;
    return r;
}

/** One complete proxied request on fresh connections, t0 = its start:
 *  client c -> httpd s (iface 0), httpd l -> backend b (iface 1). The
 *  URI appears in the request on both legs. Returns the record. */
static inline tcpi_req_t proxied_request(tcpi_ring_t *ring, const char *id,
                                         uint64_t t0, tcpi_endpoint_t c,
                                         tcpi_endpoint_t s, tcpi_endpoint_t l,
                                         tcpi_endpoint_t bk, const char *uri)
{
    char req[512], fwd[512];
    tcpi_req_t r;

    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", uri);
    snprintf(fwd, sizeof(fwd), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", uri);
    emit(ring, 0, t0 - 3000, &c, &s, S_, NULL);
    emit(ring, 0, t0 - 2900, &s, &c, SA_, NULL);
    emit(ring, 0, t0 - 2800, &c, &s, A_, NULL);
    emit(ring, 0, t0 - 100, &c, &s, PA_, req);
    emit(ring, 1, t0 + 1000, &l, &bk, S_, NULL);
    emit(ring, 1, t0 + 1050, &bk, &l, SA_, NULL);
    emit(ring, 1, t0 + 1100, &l, &bk, A_, NULL);
    emit(ring, 1, t0 + 1200, &l, &bk, PA_, fwd);
    emit(ring, 1, t0 + 5000, &bk, &l, PA_, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    emit(ring, 1, t0 + 5100, &l, &bk, A_, NULL);
    emit(ring, 0, t0 + 5300, &s, &c, PA_, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    emit(ring, 0, t0 + 5400, &c, &s, A_, NULL);
    emit(ring, 0, t0 + 9000, &c, &s, FA_, NULL);
    emit(ring, 0, t0 + 9100, &s, &c, FA_, NULL);
    emit(ring, 0, t0 + 9200, &c, &s, A_, NULL);
    r = record(id, c, s, l, bk, t0, t0 + 5350);
    snprintf(r.uri, sizeof(r.uri), "%s", uri);
    return r;
}

#endif
