/*
 * tcpi_proto.h — the protocol vocabulary the decoder, the printer and the
 * redactor share: link types, ethertypes, IP protocol numbers, TCP flag
 * bits and option kinds, and the "header views": the offset of each field
 * a reader takes from a header (packets are byte arrays read through
 * tcpi_extract.h, never cast to structs, so a header is a set of offsets).
 *
 * Values as on the wire and in pcap files; the names follow tcpdump's
 * (ethertype.h, ipproto.h, tcp.h, ip.h, ip6.h) with a TCPI_ prefix.
 */
#ifndef TCPI_PROTO_H
#define TCPI_PROTO_H

#include <stdint.h>

/* ---- link types ---------------------------------------------------- */

/* LINKTYPE_* values as they appear in pcap files (pcap/dlt.h for the
 * DLT_* that differ). */
#define TCPI_LINKTYPE_NULL        0
#define TCPI_LINKTYPE_EN10MB      1
#define TCPI_LINKTYPE_RAW         101
#define TCPI_LINKTYPE_LOOP        108
#define TCPI_LINKTYPE_LINUX_SLL   113
#define TCPI_LINKTYPE_IPV4        228
#define TCPI_LINKTYPE_IPV6        229
#define TCPI_LINKTYPE_LINUX_SLL2  276
/* pcap_datalink() gives DLT_RAW (12 on Linux) for LINKTYPE_RAW handles;
 * both are accepted. The other values above are the same as DLT and
 * LINKTYPE. */
#define TCPI_DLT_RAW              12

/* Ethernet II / IEEE 802.3: dst[6] src[6] type[2]. */
#define TCPI_ETH_TYPE             12
#define TCPI_ETH_HLEN             14
/* A type field up to 1500 is an 802.3 length (tcpdump's
 * MAX_ETHERNET_LENGTH_VAL); from 0x0600 on it is an ethertype. */
#define TCPI_ETH_MAX_LEN          1500
#define TCPI_ETHERTYPE_MIN        0x0600

#define TCPI_ETHERTYPE_IP         0x0800
#define TCPI_ETHERTYPE_ARP        0x0806
#define TCPI_ETHERTYPE_8021Q      0x8100
#define TCPI_ETHERTYPE_IPV6       0x86dd
#define TCPI_ETHERTYPE_8021AD     0x88a8
#define TCPI_ETHERTYPE_QINQ       0x9100     /* pre-802.1ad QinQ TPIDs */
#define TCPI_ETHERTYPE_QINQ2      0x9200

/* An 802.1Q / 802.1ad tag after a type field: TCI[2] type[2]. */
#define TCPI_VLAN_TYPE            2
#define TCPI_VLAN_HLEN            4
#define TCPI_VLAN_VID_MASK        0x0fff

/** Is t a VLAN tag's TPID? Ethernet takes 802.1Q, 802.1ad and the old
 *  QinQ values (any_tpid); the cooked headers only 802.1Q, as tcpdump. */
static inline int tcpi_ethertype_is_vlan(uint16_t t, int any_tpid)
{
    return t == TCPI_ETHERTYPE_8021Q || (any_tpid &&
           (t == TCPI_ETHERTYPE_8021AD || t == TCPI_ETHERTYPE_QINQ ||
            t == TCPI_ETHERTYPE_QINQ2));
}

/* Linux cooked capture v1: pkttype[2] hatype[2] halen[2] addr[8]
 * protocol[2]. */
#define TCPI_SLL_PKTTYPE          0
#define TCPI_SLL_PROTOCOL         14
#define TCPI_SLL_HLEN             16
/* v2: protocol[2] reserved[2] ifindex[4] hatype[2] pkttype[1] halen[1]
 * addr[8]. */
#define TCPI_SLL2_PROTOCOL        0
#define TCPI_SLL2_IFINDEX         4
#define TCPI_SLL2_PKTTYPE         10
#define TCPI_SLL2_HLEN            20
/* A protocol value up to 1500 after a tag is not an ethertype: the frame
 * is 802.2 LLC (linux/if_ether.h ETH_P_802_2). */
#define TCPI_SLL_P_802_2          4

/* sll_pkttype (linux/if_packet.h PACKET_*). */
#define TCPI_PACKET_HOST          0
#define TCPI_PACKET_BROADCAST     1
#define TCPI_PACKET_MULTICAST     2
#define TCPI_PACKET_OTHERHOST     3
#define TCPI_PACKET_OUTGOING      4

/* DLT_NULL / DLT_LOOP: a 4-byte address family. */
#define TCPI_NULL_HLEN            4
#define TCPI_BSD_AF_INET          2
#define TCPI_BSD_AF_INET6_BSD     24         /* NetBSD, OpenBSD */
#define TCPI_BSD_AF_INET6_FREEBSD 28
#define TCPI_BSD_AF_INET6_DARWIN  30

/** Is a DLT_NULL/LOOP address family IPv6? (Linux's 10 is not one, as
 *  for tcpdump.) */
static inline int tcpi_bsd_af_is_inet6(uint32_t af)
{
    return af == TCPI_BSD_AF_INET6_BSD || af == TCPI_BSD_AF_INET6_FREEBSD ||
           af == TCPI_BSD_AF_INET6_DARWIN;
}

/* ---- IP ------------------------------------------------------------ */

/* IP protocol numbers (IANA), IPv6 extension headers included. */
#define TCPI_IPPROTO_HOPOPTS      0
#define TCPI_IPPROTO_TCP          6
#define TCPI_IPPROTO_UDP          17
#define TCPI_IPPROTO_DCCP         33
#define TCPI_IPPROTO_ROUTING      43
#define TCPI_IPPROTO_FRAGMENT     44
#define TCPI_IPPROTO_AH           51
#define TCPI_IPPROTO_DSTOPTS      60
#define TCPI_IPPROTO_SCTP         132

/* IPv4 (RFC 791). */
#define TCPI_IP4_VHL              0          /* version << 4 | IHL */
#define TCPI_IP4_TOS              1
#define TCPI_IP4_LEN              2
#define TCPI_IP4_ID               4
#define TCPI_IP4_OFF              6          /* flags and fragment offset */
#define TCPI_IP4_TTL              8
#define TCPI_IP4_PROTO            9
#define TCPI_IP4_SRC              12
#define TCPI_IP4_DST              16
#define TCPI_IP4_HLEN_MIN         20
#define TCPI_IP4_DF               0x4000
#define TCPI_IP4_MF               0x2000
#define TCPI_IP4_OFFMASK          0x1fff     /* in 8-byte units */

/* IPv6 (RFC 8200). */
#define TCPI_IP6_VCF              0          /* version, class, flow label */
#define TCPI_IP6_PLEN             4
#define TCPI_IP6_NXT              6
#define TCPI_IP6_HLIM             7
#define TCPI_IP6_SRC              8
#define TCPI_IP6_DST              24
#define TCPI_IP6_HLEN             40
/* Every extension header: next header[1] length[1] ... */
#define TCPI_IP6E_NXT             0
#define TCPI_IP6E_LEN             1
/* Fragment header: nxt[1] reserved[1] offset and M flag[2] id[4]. */
#define TCPI_IP6F_OFF             2
#define TCPI_IP6F_ID              4
#define TCPI_IP6F_HLEN            8
#define TCPI_IP6F_OFFMASK         0xfff8     /* in bytes */
#define TCPI_IP6F_MORE            0x0001
/* Routing header: nxt[1] len[1] type[1] segments left[1] reserved[4]
 * addresses (types 0 and 2). */
#define TCPI_IP6R_TYPE            2
#define TCPI_IP6R_SEGLEFT         3
#define TCPI_IP6R_RSV             4
#define TCPI_IP6R_ADDR            8

/* UDP (RFC 768). */
#define TCPI_UDP_SPORT            0
#define TCPI_UDP_DPORT            2
#define TCPI_UDP_HLEN             8

/* ---- TCP (RFC 9293) ------------------------------------------------ */

#define TCPI_TCP_SPORT            0
#define TCPI_TCP_DPORT            2
#define TCPI_TCP_SEQ              4
#define TCPI_TCP_ACK              8
#define TCPI_TCP_OFF              12         /* data offset << 4 */
#define TCPI_TCP_FLAGS            13
#define TCPI_TCP_WIN              14
#define TCPI_TCP_SUM              16
#define TCPI_TCP_URP              18
#define TCPI_TCP_HLEN_MIN         20

/* TCP flag bits, as in the header's 13th byte. */
#define TCPI_TH_FIN 0x01
#define TCPI_TH_SYN 0x02
#define TCPI_TH_RST 0x04
#define TCPI_TH_PSH 0x08
#define TCPI_TH_ACK 0x10
#define TCPI_TH_URG 0x20
#define TCPI_TH_ECE 0x40
#define TCPI_TH_CWR 0x80

/* TCP option kinds (IANA "TCP Option Kind Numbers"). */
#define TCPI_TCPOPT_EOL           0
#define TCPI_TCPOPT_NOP           1
#define TCPI_TCPOPT_MSS           2
#define TCPI_TCPOPT_WSCALE        3          /* RFC 7323 */
#define TCPI_TCPOPT_SACKOK        4          /* RFC 2018 */
#define TCPI_TCPOPT_SACK          5
#define TCPI_TCPOPT_ECHO          6          /* RFC 1072 */
#define TCPI_TCPOPT_ECHOREPLY     7
#define TCPI_TCPOPT_TIMESTAMP     8          /* RFC 7323 */
#define TCPI_TCPOPT_CC            11         /* RFC 1644 */
#define TCPI_TCPOPT_CCNEW         12
#define TCPI_TCPOPT_CCECHO        13
#define TCPI_TCPOPT_MD5           19         /* RFC 2385 */
#define TCPI_TCPOPT_SCPS          20
#define TCPI_TCPOPT_UTO           28         /* RFC 5482 */
#define TCPI_TCPOPT_TCPAO         29         /* RFC 5925 */
#define TCPI_TCPOPT_MPTCP         30         /* RFC 8684 */
#define TCPI_TCPOPT_TFO           34         /* RFC 7413 */
#define TCPI_TCPOPT_EXP           254        /* RFC 6994 */

/* Lengths of the options whose size is fixed (kind and length bytes
 * included). */
#define TCPI_TCPOLEN_MSS          4
#define TCPI_TCPOLEN_WSCALE       3
#define TCPI_TCPOLEN_SACKOK       2
#define TCPI_TCPOLEN_TIMESTAMP    10

#endif
