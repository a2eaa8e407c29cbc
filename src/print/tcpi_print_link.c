/*
 * tcpi_print_link.c — the link layers (tcpdump's print-ether.c,
 * print-sll.c, print-null.c, print-raw.c) and ARP (print-arp.c, the
 * IPv4-over-Ethernet request and reply only). Each *_if printer returns
 * the length of its link header, which -X leaves out of the dump, or
 * P_JUMP.
 */
#include "tcpi_print_int.h"

#include <net/if.h>
#include <string.h>

/* ARP (RFC 826) for IPv4 over Ethernet: the fixed layout. */
#define ARP_HRD         0
#define ARP_PRO         2
#define ARP_HLN         4
#define ARP_PLN         5
#define ARP_OP          6
#define ARP_SHA         8
#define ARP_SPA         14
#define ARP_TPA         24
#define ARP_LEN         28
#define ARPHRD_ETHER    1
#define ARPOP_REQUEST   1
#define ARPOP_REPLY     2

/* Request/reply for IPv4 over Ethernet, tcpdump's words. */
int tcpi_pr_arp(pctx_t *c, uint32_t o, uint32_t length)
{
    uint16_t hrd, pro, op;
    uint8_t hln, pln;

    c->proto = "arp";
    if (!tcpi_have(c->snap, o, ARP_LEN) || get16(&hrd, c, o + ARP_HRD) ||
        get16(&pro, c, o + ARP_PRO) || get8(&hln, c, o + ARP_HLN) ||
        get8(&pln, c, o + ARP_PLN) || get16(&op, c, o + ARP_OP) ||
        hrd != ARPHRD_ETHER || pro != TCPI_ETHERTYPE_IP || hln != 6 ||
        pln != 4 || (op != ARPOP_REQUEST && op != ARPOP_REPLY)) {
        PUTS(c, "ARP, length ");
        put_u64(c, length);
        return P_OK;
    }
    if (op == ARPOP_REQUEST) {
        PUTS(c, "ARP, Request who-has ");
        put_ip4(c, c->d + o + ARP_TPA);
        PUTS(c, " tell ");
        put_ip4(c, c->d + o + ARP_SPA);
    } else {
        PUTS(c, "ARP, Reply ");
        put_ip4(c, c->d + o + ARP_SPA);
        PUTS(c, " is-at ");
        for (int i = 0; i < 6; i++) {
            if (i)
                putch(c, ':');
            put_hex(c, c->d[o + ARP_SHA + i], 2);
        }
    }
    PUTS(c, ", length ");
    put_u64(c, length);
    return P_OK;
}

int tcpi_pr_ether_if(pctx_t *c, uint32_t caplen, uint32_t len)
{
    uint16_t et;
    uint32_t o;
    int r;

    c->proto = "ether";
    if (caplen < TCPI_ETH_HLEN) {
        trunc_mark(c);
        return (int)caplen;
    }
    o = TCPI_ETH_TYPE;
    G16(et, o);
    o += 2;
    while (tcpi_ethertype_is_vlan(et, 1)) {
        if (caplen - o < TCPI_VLAN_HLEN || len - o < TCPI_VLAN_HLEN) {
            c->proto = "vlan";
            trunc_mark(c);
            return (int)(caplen - o < TCPI_VLAN_HLEN ? caplen : len);
        }
        G16(et, o + TCPI_VLAN_TYPE);
        o += TCPI_VLAN_HLEN;
    }
    if (et <= TCPI_ETH_MAX_LEN) {
        PUTS(c, "802.3, length ");
        put_u64(c, et);
        return (int)o;
    }
    r = tcpi_pr_ethertype(c, et, o, len - o);
    return r == P_JUMP ? P_JUMP : (int)o;
}

/* The cooked headers: 802.1Q tags (each named by the type it carries),
 * then the network layer. o: after the SLL header, et its protocol. */
static int sll_payload(pctx_t *c, uint32_t caplen, uint32_t len, uint16_t et,
                       uint32_t o)
{
    int r;

    while (tcpi_ethertype_is_vlan(et, 0)) {
        if (caplen - o < TCPI_VLAN_HLEN) {
            c->proto = "vlan";
            trunc_mark(c);
            return (int)caplen;
        }
        G16(et, o + TCPI_VLAN_TYPE);
        if (et <= TCPI_ETH_MAX_LEN)
            et = TCPI_SLL_P_802_2;
        PUTS(c, "ethertype ");
        puts0(c, et == TCPI_ETHERTYPE_IP ? "IPv4" :
                 et == TCPI_ETHERTYPE_IPV6 ? "IPv6" :
                 et == TCPI_ETHERTYPE_ARP ? "ARP" :
                 et == TCPI_ETHERTYPE_8021Q ? "802.1Q" : "Unknown");
        PUTS(c, ", ");
        o += TCPI_VLAN_HLEN;
    }
    r = tcpi_pr_ethertype(c, et, o, len - o);
    return r == P_JUMP ? P_JUMP : (int)o;
}

int tcpi_pr_sll_if(pctx_t *c, uint32_t caplen, uint32_t len)
{
    uint16_t et;

    c->proto = "sll";
    if (!tcpi_have(caplen, 0, TCPI_SLL_HLEN))
        return P_JUMP;
    G16(et, TCPI_SLL_PROTOCOL);
    return sll_payload(c, caplen, len, et, TCPI_SLL_HLEN);
}

/* SLL2 starts the line with the interface name and the direction, each
 * padded as tcpdump pads them. */
int tcpi_pr_sll2_if(pctx_t *c, uint32_t caplen, uint32_t len)
{
    static const char *const dirs[] = {
        [TCPI_PACKET_HOST] = "In", [TCPI_PACKET_BROADCAST] = "B",
        [TCPI_PACKET_MULTICAST] = "M", [TCPI_PACKET_OTHERHOST] = "P",
        [TCPI_PACKET_OUTGOING] = "Out",
    };
    char ifname[IF_NAMESIZE + 1];
    uint32_t ifx;
    uint16_t et;
    uint8_t b;

    c->proto = "sll2";
    if (!tcpi_have(caplen, 0, TCPI_SLL2_HLEN))
        return P_JUMP;
    G32(ifx, TCPI_SLL2_IFINDEX);
    if (!if_indextoname(ifx, ifname))
        strcpy(ifname, "?");
    size_t n = strlen(ifname);
    put(c, ifname, n);
    for (; n < 5; n++)
        putch(c, ' ');
    putch(c, ' ');
    G8(b, TCPI_SLL2_PKTTYPE);
    const char *dir = b <= TCPI_PACKET_OUTGOING ? dirs[b] : "?";
    n = strlen(dir);
    put(c, dir, n);
    for (; n < 3; n++)
        putch(c, ' ');
    putch(c, ' ');
    G16(et, TCPI_SLL2_PROTOCOL);
    return sll_payload(c, caplen, len, et, TCPI_SLL2_HLEN);
}

/* DLT_NULL and DLT_LOOP: the address family in either byte order. */
int tcpi_pr_null_if(pctx_t *c, uint32_t caplen, uint32_t len)
{
    uint32_t af;
    int r;

    c->proto = "null";
    if (!tcpi_have(caplen, 0, TCPI_NULL_HLEN))
        return P_JUMP;
    if (tcpi_get_le32(&af, c->d, caplen, 0))
        return P_JUMP;
    if (af & 0xffff0000u)
        af = __builtin_bswap32(af);
    if (af == TCPI_BSD_AF_INET) {
        r = tcpi_pr_ip4(c, TCPI_NULL_HLEN, len - TCPI_NULL_HLEN);
    } else if (tcpi_bsd_af_is_inet6(af)) {
        r = tcpi_pr_ip6(c, TCPI_NULL_HLEN, len - TCPI_NULL_HLEN);
    } else {
        PUTS(c, "AF Unknown (");
        put_u64(c, af);
        PUTS(c, "), length ");
        put_u64(c, len);
        PUTS(c, ": ");
        r = P_OK;
    }
    return r == P_JUMP ? P_JUMP : TCPI_NULL_HLEN;
}

/* DLT_RAW: IPv4 or IPv6 by the version nibble. */
int tcpi_pr_raw_if(pctx_t *c, uint32_t caplen, uint32_t len)
{
    uint8_t b;
    int r;

    c->proto = "ipn";
    G8(b, 0);
    if ((b & 0xf0) == 0x40) {
        r = tcpi_pr_ip4(c, 0, len);
    } else if ((b & 0xf0) == 0x60) {
        r = tcpi_pr_ip6(c, 0, len);
    } else {
        PUTS(c, "unknown ip ");
        put_u64(c, b >> 4);
        r = P_OK;
    }
    return r == P_JUMP ? P_JUMP : 0;
}

int tcpi_pr_ipv4_if(pctx_t *c, uint32_t caplen, uint32_t len)
{
    return tcpi_pr_ip4(c, 0, len) == P_JUMP ? P_JUMP : 0;
}

int tcpi_pr_ipv6_if(pctx_t *c, uint32_t caplen, uint32_t len)
{
    return tcpi_pr_ip6(c, 0, len) == P_JUMP ? P_JUMP : 0;
}
