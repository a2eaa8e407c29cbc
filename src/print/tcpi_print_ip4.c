/*
 * tcpi_print_ip4.c — IPv4 (tcpdump's print-ip.c, non-verbose): version,
 * header and total length checks, fragments, then the protocol above it.
 */
#include "tcpi_print_int.h"

int tcpi_pr_ip4(pctx_t *c, uint32_t o, uint32_t length)
{
    uint8_t vhl, proto;
    uint16_t len, off;
    uint32_t hlen, save = c->snap;

    c->proto = "ip";
    G8(vhl, o + TCPI_IP4_VHL);
    if (vhl >> 4 != 4) {
        if (vhl >> 4 == 6) {
            PUTS(c, "IP6, wrong link-layer encapsulation");
        } else {
            PUTS(c, "IP");
            put_u64(c, vhl >> 4);
        }
        PUTS(c, " (invalid)");
        return P_OK;
    }
    PUTS(c, "IP ");
    if (!tcpi_have(c->snap, o, TCPI_IP4_HLEN_MIN)) {
        trunc_mark(c);
        return P_OK;
    }
    if (length < TCPI_IP4_HLEN_MIN) {
        PUTS(c, "truncated-ip ");
        put_u64(c, length);
        return P_OK;
    }
    hlen = (uint32_t)(vhl & 15) * 4;
    if (hlen < TCPI_IP4_HLEN_MIN) {
        PUTS(c, "bad-hlen ");
        put_u64(c, hlen);
        return P_OK;
    }
    G16(len, o + TCPI_IP4_LEN);
    if (length < len) {
        PUTS(c, "truncated-ip - ");
        put_u64(c, len - length);
        PUTS(c, " bytes missing! ");
    }
    if (len < hlen) {
        PUTS(c, "bad-len ");
        put_u64(c, len);
        return P_OK;
    }
    if (o + len < c->snap)
        c->snap = o + len;
    G16(off, o + TCPI_IP4_OFF);
    G8(proto, o + TCPI_IP4_PROTO);
    const uint8_t *src = c->d + o + TCPI_IP4_SRC;
    const uint8_t *dst = c->d + o + TCPI_IP4_DST;
    int r = P_OK;
    if ((off & TCPI_IP4_OFFMASK) == 0) {
        if (!l4_prints_addrs(proto)) {
            put_ip4(c, src);
            PUTS(c, " > ");
            put_ip4(c, dst);
            PUTS(c, ": ");
        }
        if (!tcpi_have(c->snap, o, hlen)) {
            PUTS(c, " [remaining caplen(");
            put_u64(c, c->snap - o);
            PUTS(c, ") < header length(");
            put_u64(c, hlen);
            PUTS(c, ")]");
            c->snap = save;
            return P_JUMP;
        }
        uint32_t u = o + hlen;
        if (proto == TCPI_IPPROTO_UDP && tcpi_have(c->snap, u, 4)) {
            put_ip4(c, src);
            putch(c, '.');
            put_u64(c, (uint32_t)c->d[u + TCPI_UDP_SPORT] << 8 |
                       c->d[u + TCPI_UDP_SPORT + 1]);
            PUTS(c, " > ");
            put_ip4(c, dst);
            putch(c, '.');
            put_u64(c, (uint32_t)c->d[u + TCPI_UDP_DPORT] << 8 |
                       c->d[u + TCPI_UDP_DPORT + 1]);
            PUTS(c, ": UDP, length ");
            put_u64(c, len - hlen >= TCPI_UDP_HLEN ? len - hlen - TCPI_UDP_HLEN
                                                   : 0);
        } else {
            r = tcpi_pr_ip_demux(c, proto, u, len - hlen, o, 0, 1);
        }
    } else {
        put_ip4(c, src);
        PUTS(c, " > ");
        put_ip4(c, dst);
        PUTS(c, ": ip-proto-");
        put_u64(c, proto);
    }
    c->snap = save;
    return r;
}
