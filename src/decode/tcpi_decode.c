/*
 * tcpi_decode.c — link layer, IPv4/IPv6 and TCP header decoding. Every
 * byte is read through tcpi_extract.h against the captured length.
 */
#include "tcpi_decode.h"
#include "tcpi_extract.h"

#include <string.h>

static const char *const reason_names[] = {
#define TCPI_DR_NAME(name, text) #name,
    TCPI_DECODE_REASONS(TCPI_DR_NAME)
#undef TCPI_DR_NAME
};
static const char *const reason_texts[] = {
#define TCPI_DR_TEXT(name, text) text,
    TCPI_DECODE_REASONS(TCPI_DR_TEXT)
#undef TCPI_DR_TEXT
};

const char *tcpi_decode_reason_name(int reason)
{
    return reason >= 0 && reason < TCPI_DR_COUNT ? reason_names[reason]
                                                 : "unknown";
}

const char *tcpi_decode_reason_text(int reason)
{
    return reason >= 0 && reason < TCPI_DR_COUNT ? reason_texts[reason]
                                                 : "unknown reason";
}

/* Shorthands: read or return the given reason. d/caplen are in scope. */
#define GET8(v, off, why)  do { if (tcpi_get_u8(&(v), d, caplen, (off))) return (why); } while (0)
#define GET16(v, off, why) do { if (tcpi_get_be16(&(v), d, caplen, (off))) return (why); } while (0)
#define GET32(v, off, why) do { if (tcpi_get_be32(&(v), d, caplen, (off))) return (why); } while (0)

/* VLAN tags after an ethertype at *off. Ethernet takes 802.1Q, 802.1ad
 * and the old QinQ TPIDs; the cooked headers only 802.1Q (as tcpdump). */
static int skip_vlans(tcpi_pkt_t *pkt, const uint8_t *d, uint32_t caplen,
                      uint32_t *off, int any_tpid)
{
    while (tcpi_ethertype_is_vlan(pkt->ethertype, any_tpid)) {
        uint16_t tci, et;

        GET16(tci, *off, TCPI_DR_link_truncated);
        GET16(et, *off + TCPI_VLAN_TYPE, TCPI_DR_link_truncated);
        if (pkt->nvlan < TCPI_MAX_VLAN)
            pkt->vlan[pkt->nvlan] = tci & TCPI_VLAN_VID_MASK;
        pkt->nvlan++;
        pkt->ethertype = et;
        *off += TCPI_VLAN_HLEN;
    }
    return TCPI_DR_ok;
}

/* Link layer: sets pkt->ethertype and *off to the network header. */
static int decode_link(tcpi_pkt_t *pkt, const uint8_t *d, uint32_t caplen,
                       uint32_t *off)
{
    uint32_t af;
    uint16_t v16;
    uint8_t  v8;

    switch (pkt->linktype) {
    case TCPI_LINKTYPE_EN10MB:
        GET16(pkt->ethertype, TCPI_ETH_TYPE, TCPI_DR_link_truncated);
        *off = TCPI_ETH_HLEN;
        if (pkt->ethertype < TCPI_ETHERTYPE_MIN)    /* 802.3 length: LLC */
            return TCPI_DR_not_ip;
        return skip_vlans(pkt, d, caplen, off, 1);
    case TCPI_LINKTYPE_LINUX_SLL:
        /* pkttype, hatype, halen, addr[8], protocol (RFC-less: pcap-linktype) */
        if (!tcpi_have(caplen, 0, TCPI_SLL_HLEN))
            return TCPI_DR_link_truncated;
        GET16(pkt->sll_pkttype, TCPI_SLL_PKTTYPE, TCPI_DR_link_truncated);
        GET16(pkt->ethertype, TCPI_SLL_PROTOCOL, TCPI_DR_link_truncated);
        *off = TCPI_SLL_HLEN;
        return skip_vlans(pkt, d, caplen, off, 0);
    case TCPI_LINKTYPE_LINUX_SLL2:
        /* protocol, reserved, ifindex, hatype, pkttype, halen, addr[8] */
        if (!tcpi_have(caplen, 0, TCPI_SLL2_HLEN))
            return TCPI_DR_link_truncated;
        GET16(pkt->ethertype, TCPI_SLL2_PROTOCOL, TCPI_DR_link_truncated);
        GET32(pkt->sll2_ifindex, TCPI_SLL2_IFINDEX, TCPI_DR_link_truncated);
        GET8(v8, TCPI_SLL2_PKTTYPE, TCPI_DR_link_truncated);
        pkt->sll_pkttype = v8;
        *off = TCPI_SLL2_HLEN;
        return skip_vlans(pkt, d, caplen, off, 0);
    case TCPI_LINKTYPE_NULL:
    case TCPI_LINKTYPE_LOOP:
        /* NULL: AF in the capturing host's order; LOOP: network order.
         * Like tcpdump, an AF with bits in the high half is byte-swapped. */
        GET32(af, 0, TCPI_DR_link_truncated);
        if (pkt->linktype == TCPI_LINKTYPE_NULL && (af & 0xffff0000u))
            af = __builtin_bswap32(af);
        *off = TCPI_NULL_HLEN;
        if (af == TCPI_BSD_AF_INET)
            pkt->ethertype = TCPI_ETHERTYPE_IP;
        else if (tcpi_bsd_af_is_inet6(af))
            pkt->ethertype = TCPI_ETHERTYPE_IPV6;
        else
            return TCPI_DR_not_ip;
        return TCPI_DR_ok;
    case TCPI_LINKTYPE_RAW:
    case TCPI_DLT_RAW:
        *off = 0;
        GET8(v8, 0, TCPI_DR_ip_truncated);
        v16 = v8 >> 4;
        if (v16 == 4)
            pkt->ethertype = TCPI_ETHERTYPE_IP;
        else if (v16 == 6)
            pkt->ethertype = TCPI_ETHERTYPE_IPV6;
        else
            return TCPI_DR_not_ip;
        return TCPI_DR_ok;
    case TCPI_LINKTYPE_IPV4:
        *off = 0;
        pkt->ethertype = TCPI_ETHERTYPE_IP;
        return TCPI_DR_ok;
    case TCPI_LINKTYPE_IPV6:
        *off = 0;
        pkt->ethertype = TCPI_ETHERTYPE_IPV6;
        return TCPI_DR_ok;
    default:
        return TCPI_DR_link_unsupported;
    }
}

/* IPv4 (RFC 791): sets the TCP offset in *off. */
static int decode_ip4(tcpi_pkt_t *pkt, const uint8_t *d, uint32_t caplen,
                      uint32_t wirelen, uint32_t *off)
{
    uint32_t o = pkt->ip_off, rest;
    uint16_t len, frag;
    uint8_t  vhl, proto;

    GET8(vhl, o + TCPI_IP4_VHL, TCPI_DR_ip_truncated);
    if (vhl >> 4 != 4)
        return TCPI_DR_ip_bad_version;
    if (!tcpi_have(caplen, o, TCPI_IP4_HLEN_MIN))
        return TCPI_DR_ip_truncated;
    pkt->family = 4;
    pkt->ip_hlen = (uint32_t)(vhl & 0x0f) * 4;
    GET8(pkt->tos, o + TCPI_IP4_TOS, TCPI_DR_ip_truncated);
    GET16(len, o + TCPI_IP4_LEN, TCPI_DR_ip_truncated);
    GET16(pkt->ip_id, o + TCPI_IP4_ID, TCPI_DR_ip_truncated);
    GET16(frag, o + TCPI_IP4_OFF, TCPI_DR_ip_truncated);
    GET8(pkt->ttl, o + TCPI_IP4_TTL, TCPI_DR_ip_truncated);
    GET8(proto, o + TCPI_IP4_PROTO, TCPI_DR_ip_truncated);
    memcpy(pkt->src, d + o + TCPI_IP4_SRC, 4);   /* inside the 20 checked */
    memcpy(pkt->dst, d + o + TCPI_IP4_DST, 4);
    pkt->ip_df = !!(frag & TCPI_IP4_DF);
    pkt->ip_mf = !!(frag & TCPI_IP4_MF);
    pkt->frag_off = (uint16_t)((frag & TCPI_IP4_OFFMASK) * 8);
    if (pkt->ip_hlen < TCPI_IP4_HLEN_MIN)
        return TCPI_DR_ip_hlen_too_small;
    rest = wirelen > o ? wirelen - o : 0;
    pkt->ip_len = len;
    if (len == 0) {                          /* TSO/GRO: the wire decides */
        pkt->ip_len_zero = 1;
        pkt->ip_len = rest;
    }
    if (pkt->ip_len < pkt->ip_hlen)
        return TCPI_DR_ip_len_too_small;
    if (!tcpi_have(caplen, o, pkt->ip_hlen))
        return TCPI_DR_ip_truncated;
    if (pkt->frag_off != 0)
        return TCPI_DR_ip_fragment;
    if (proto != TCPI_IPPROTO_TCP)
        return TCPI_DR_not_tcp;
    *off = o + pkt->ip_hlen;
    return TCPI_DR_ok;
}

/* IPv6 (RFC 8200) and its extension headers, up to TCP. */
static int decode_ip6(tcpi_pkt_t *pkt, const uint8_t *d, uint32_t caplen,
                      uint32_t wirelen, uint32_t *off)
{
    uint32_t o = pkt->ip_off, vcf, hoff;
    uint16_t plen;
    uint8_t  nh, hl;

    GET8(nh, o + TCPI_IP6_VCF, TCPI_DR_ip_truncated);
    if (nh >> 4 != 6)
        return TCPI_DR_ip_bad_version;
    if (!tcpi_have(caplen, o, TCPI_IP6_HLEN))
        return TCPI_DR_ip_truncated;
    pkt->family = 6;
    GET32(vcf, o + TCPI_IP6_VCF, TCPI_DR_ip_truncated);
    pkt->tos = (uint8_t)(vcf >> 20);
    pkt->flowlabel = vcf & 0xfffff;
    GET16(plen, o + TCPI_IP6_PLEN, TCPI_DR_ip_truncated);
    GET8(nh, o + TCPI_IP6_NXT, TCPI_DR_ip_truncated);
    GET8(pkt->ttl, o + TCPI_IP6_HLIM, TCPI_DR_ip_truncated);
    memcpy(pkt->src, d + o + TCPI_IP6_SRC, 16);
    memcpy(pkt->dst, d + o + TCPI_IP6_DST, 16);
    if (plen == 0) {                          /* jumbogram or TSO */
        pkt->ip_len_zero = 1;
        pkt->ip_len = wirelen > o ? wirelen - o : 0;
    } else {
        pkt->ip_len = TCPI_IP6_HLEN + (uint32_t)plen;
    }
    hoff = o + TCPI_IP6_HLEN;
    for (;;) {
        uint16_t fo;

        switch (nh) {
        case TCPI_IPPROTO_HOPOPTS:
        case TCPI_IPPROTO_ROUTING:
        case TCPI_IPPROTO_DSTOPTS:
            GET8(hl, hoff + TCPI_IP6E_LEN, TCPI_DR_ip6_ext_truncated);
            GET8(nh, hoff + TCPI_IP6E_NXT, TCPI_DR_ip6_ext_truncated);
            hoff += 8u + 8u * hl;
            if (!tcpi_have(caplen, 0, hoff))
                return TCPI_DR_ip6_ext_truncated;
            break;
        case TCPI_IPPROTO_AH:   /* RFC 4302: length in 4-byte units minus 2 */
            GET8(hl, hoff + TCPI_IP6E_LEN, TCPI_DR_ip6_ext_truncated);
            GET8(nh, hoff + TCPI_IP6E_NXT, TCPI_DR_ip6_ext_truncated);
            hoff += 4u * (hl + 2u);
            if (!tcpi_have(caplen, 0, hoff))
                return TCPI_DR_ip6_ext_truncated;
            break;
        case TCPI_IPPROTO_FRAGMENT:
            GET8(nh, hoff + TCPI_IP6E_NXT, TCPI_DR_ip6_ext_truncated);
            GET16(fo, hoff + TCPI_IP6F_OFF, TCPI_DR_ip6_ext_truncated);
            {
                uint32_t id;
                GET32(id, hoff + TCPI_IP6F_ID, TCPI_DR_ip6_ext_truncated);
                pkt->ip_id = (uint16_t)id;
            }
            pkt->frag_off = fo & TCPI_IP6F_OFFMASK;
            pkt->ip_mf = fo & TCPI_IP6F_MORE;
            hoff += TCPI_IP6F_HLEN;
            if (pkt->frag_off != 0) {
                pkt->ip_hlen = hoff - o;
                return TCPI_DR_ip_fragment;
            }
            break;
        case TCPI_IPPROTO_TCP:
            pkt->ip_hlen = hoff - o;
            if (pkt->ip_len < pkt->ip_hlen)
                return TCPI_DR_ip_len_too_small;
            *off = hoff;
            return TCPI_DR_ok;
        default:
            pkt->ip_hlen = hoff - o;
            return TCPI_DR_not_tcp;
        }
        if (hoff - o > pkt->ip_len)
            return TCPI_DR_ip6_ext_truncated;
    }
}

/* TCP options (RFC 9293 §3.1, RFC 7323, RFC 2018): the common ones are
 * kept in pkt; the printer walks the raw bytes for the rest. */
static void parse_options(tcpi_pkt_t *pkt, const uint8_t *d, uint32_t caplen)
{
    uint32_t o = pkt->opt_off, end = pkt->opt_off + pkt->opt_len;

    while (o < end) {
        uint8_t kind, len;

        if (tcpi_get_u8(&kind, d, caplen, o))
            return;
        if (kind == TCPI_TCPOPT_EOL)
            return;
        if (kind == TCPI_TCPOPT_NOP) {
            o++;
            continue;
        }
        if (tcpi_get_u8(&len, d, caplen, o + 1) || len < 2 ||
            o + len > end)
            return;
        switch (kind) {
        case TCPI_TCPOPT_MSS:
            if (len == TCPI_TCPOLEN_MSS && !tcpi_get_be16(&pkt->mss, d, caplen, o + 2))
                pkt->has_mss = 1;
            break;
        case TCPI_TCPOPT_WSCALE:
            if (len == TCPI_TCPOLEN_WSCALE && !tcpi_get_u8(&pkt->wscale, d, caplen, o + 2))
                pkt->has_wscale = 1;
            break;
        case TCPI_TCPOPT_SACKOK:
            pkt->has_sackok = len == TCPI_TCPOLEN_SACKOK;
            break;
        case TCPI_TCPOPT_SACK:
            for (uint32_t s = o + 2; s + 8 <= o + len &&
                 pkt->nsack < TCPI_MAX_SACK; s += 8) {
                if (tcpi_get_be32(&pkt->sack_left[pkt->nsack], d, caplen, s) ||
                    tcpi_get_be32(&pkt->sack_right[pkt->nsack], d, caplen, s + 4))
                    break;
                pkt->nsack++;
            }
            break;
        case TCPI_TCPOPT_TIMESTAMP:
            if (len == TCPI_TCPOLEN_TIMESTAMP &&
                !tcpi_get_be32(&pkt->tsval, d, caplen, o + 2) &&
                !tcpi_get_be32(&pkt->tsecr, d, caplen, o + 6))
                pkt->has_ts = 1;
            break;
        default:
            break;
        }
        o += len;
    }
}

static int decode_tcp(tcpi_pkt_t *pkt, const uint8_t *d, uint32_t caplen)
{
    uint32_t o = pkt->tcp_off, seg, hend;
    uint8_t  v8;

    if (!tcpi_have(caplen, o, TCPI_TCP_HLEN_MIN))
        return TCPI_DR_tcp_truncated;
    GET16(pkt->sport, o + TCPI_TCP_SPORT, TCPI_DR_tcp_truncated);
    GET16(pkt->dport, o + TCPI_TCP_DPORT, TCPI_DR_tcp_truncated);
    GET32(pkt->seq, o + TCPI_TCP_SEQ, TCPI_DR_tcp_truncated);
    GET32(pkt->ack, o + TCPI_TCP_ACK, TCPI_DR_tcp_truncated);
    GET8(v8, o + TCPI_TCP_OFF, TCPI_DR_tcp_truncated);
    pkt->tcp_hlen = (uint16_t)((v8 >> 4) * 4);
    GET8(pkt->flags, o + TCPI_TCP_FLAGS, TCPI_DR_tcp_truncated);
    GET16(pkt->win, o + TCPI_TCP_WIN, TCPI_DR_tcp_truncated);
    GET16(pkt->csum, o + TCPI_TCP_SUM, TCPI_DR_tcp_truncated);
    GET16(pkt->urp, o + TCPI_TCP_URP, TCPI_DR_tcp_truncated);
    if (pkt->tcp_hlen < TCPI_TCP_HLEN_MIN)
        return TCPI_DR_tcp_hlen_too_small;
    seg = pkt->ip_len - pkt->ip_hlen;
    if (pkt->tcp_hlen > seg)
        return TCPI_DR_tcp_hlen_too_long;
    hend = o + pkt->tcp_hlen;
    pkt->opt_off = o + TCPI_TCP_HLEN_MIN;
    pkt->opt_len = pkt->tcp_hlen - (uint32_t)TCPI_TCP_HLEN_MIN;
    if (hend > caplen) {
        pkt->opt_truncated = 1;
        pkt->opt_len = caplen - pkt->opt_off;
    }
    parse_options(pkt, d, caplen);
    pkt->payload_off = hend;
    pkt->payload_len = seg - pkt->tcp_hlen;
    pkt->payload_caplen = hend < caplen ? caplen - hend : 0;
    if (pkt->payload_caplen > pkt->payload_len)
        pkt->payload_caplen = pkt->payload_len;   /* Ethernet padding */
    return TCPI_DR_ok;
}

int tcpi_decode(tcpi_pkt_t *pkt, int32_t linktype, const uint8_t *d,
                uint32_t caplen, uint32_t wirelen)
{
    uint32_t off = 0;
    int rc;

    memset(pkt, 0, sizeof(*pkt));
    pkt->linktype = linktype;
    pkt->sll_pkttype = 0xffff;
    pkt->caplen = caplen;
    pkt->wirelen = wirelen < caplen ? caplen : wirelen;
    wirelen = pkt->wirelen;
    if ((rc = decode_link(pkt, d, caplen, &off)) != TCPI_DR_ok)
        return rc;
    pkt->ip_off = off;
    if (pkt->ethertype == TCPI_ETHERTYPE_IP)
        rc = decode_ip4(pkt, d, caplen, wirelen, &off);
    else if (pkt->ethertype == TCPI_ETHERTYPE_IPV6)
        rc = decode_ip6(pkt, d, caplen, wirelen, &off);
    else
        return TCPI_DR_not_ip;
    if (rc != TCPI_DR_ok)
        return rc;
    pkt->tcp_off = off;
    return decode_tcp(pkt, d, caplen);
}

static int loopback_addr(uint8_t family, const uint8_t *a)
{
    static const uint8_t v6lo[16] = { [15] = 1 };
    return family == 4 ? a[0] == 127 : memcmp(a, v6lo, 16) == 0;
}

int tcpi_decode_lo_outgoing(const tcpi_pkt_t *p)
{
    return p->sll_pkttype == TCPI_PACKET_OUTGOING &&
           ((p->linktype == TCPI_LINKTYPE_LINUX_SLL2 && p->sll2_ifindex == 1) ||
            (p->linktype == TCPI_LINKTYPE_LINUX_SLL &&
             loopback_addr(p->family, p->src) && loopback_addr(p->family, p->dst)));
}
