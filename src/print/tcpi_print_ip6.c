/*
 * tcpi_print_ip6.c — IPv6 (tcpdump's print-ip6.c) and the extension
 * headers tcpdump prints on the way to the upper layer: hop-by-hop and
 * destination options (print-ip6opts.c), routing types 0 and 2
 * (print-rt6.c), fragment (print-frag6.c).
 */
#include "tcpi_print_int.h"

#define RTHDR_TYPE_0    0       /* source route (RFC 5095: deprecated) */
#define RTHDR_TYPE_2    2       /* Mobile IPv6 (RFC 6275) */

int tcpi_pr_ip6(pctx_t *c, uint32_t o, uint32_t length)
{
    uint8_t vb, nh, ph = 255, hl;
    uint16_t plen, fo;
    uint32_t len, save = c->snap, cp = o, advance = TCPI_IP6_HLEN, total = 0;
    uint32_t rest;
    int found_ext = 0, r = P_OK;

    c->proto = "ip6";
    if (!tcpi_have(c->snap, o, TCPI_IP6_HLEN)) {
        trunc_mark(c);
        return P_OK;
    }
    if (length < TCPI_IP6_HLEN) {
        PUTS(c, "truncated-ip6 ");
        put_u64(c, length);
        return P_OK;
    }
    PUTS(c, "IP6 ");
    G8(vb, o + TCPI_IP6_VCF);
    if (vb >> 4 != 6) {
        PUTS(c, "version error: ");
        put_u64(c, vb >> 4);
        PUTS(c, " != 6");
        return P_OK;
    }
    G16(plen, o + TCPI_IP6_PLEN);
    if (plen) {
        len = plen + (uint32_t)TCPI_IP6_HLEN;
        if (length < len) {
            PUTS(c, "truncated-ip6 - ");
            put_u64(c, len - length);
            PUTS(c, " bytes missing!");
        }
    } else {
        len = length + TCPI_IP6_HLEN;
    }
    G8(nh, o + TCPI_IP6_NXT);
    if (o + len < c->snap)
        c->snap = o + len;
    const uint8_t *src = c->d + o + TCPI_IP6_SRC;
    const uint8_t *dst = c->d + o + TCPI_IP6_DST;
    while (cp < c->snap) {
        /* One extension header prints up to ~8x its 8 bytes: room for
         * the next one, whatever the chain has used already. */
        if (tcpi_pr_ensure(c, 1024))
            goto out;
        if (len < advance)
            goto trunc;
        cp += advance;
        len -= advance;
        total += advance;
        if (cp == o + TCPI_IP6_HLEN && !l4_prints_addrs(nh)) {
            put_ip6(c, src);
            PUTS(c, " > ");
            put_ip6(c, dst);
            PUTS(c, ": ");
        }
        switch (nh) {
        case TCPI_IPPROTO_HOPOPTS:
        case TCPI_IPPROTO_DSTOPTS:
            c->proto = nh == TCPI_IPPROTO_DSTOPTS ? "dstopt" : "hbhopt";
            if (nh == TCPI_IPPROTO_HOPOPTS && ph != 255) {
                PUTS(c, "[The Hop-by-Hop Options header don't follow the IPv6 header] (invalid)");
                goto out;
            }
            if (get8(&hl, c, cp + TCPI_IP6E_LEN)) { r = P_JUMP; goto out; }
            advance = (hl + 1u) * 8;
            if (!tcpi_have(c->snap, cp, advance)) {
                trunc_mark(c);
                goto out;
            }
            puts0(c, nh == TCPI_IPPROTO_DSTOPTS ? "DSTOPT " : "HBH ");
            if (nh == TCPI_IPPROTO_HOPOPTS && plen == 0) {
                /* Jumbo Payload options are not looked for (no jumbograms
                 * on these links): tcpdump reports their absence */
                PUTS(c, "[No valid Jumbo Payload Hop-by-Hop option found] (invalid)");
                goto out;
            }
            found_ext = 1;
            ph = nh;
            if (get8(&nh, c, cp + TCPI_IP6E_NXT)) { r = P_JUMP; goto out; }
            break;
        case TCPI_IPPROTO_FRAGMENT: {
            c->proto = "frag6";
            if (get16(&fo, c, cp + TCPI_IP6F_OFF)) { r = P_JUMP; goto out; }
            PUTS(c, "frag (");
            put_u64(c, fo & TCPI_IP6F_OFFMASK);
            putch(c, '|');
            put_u64(c, (uint32_t)(TCPI_IP6_HLEN + plen - (cp - o) -
                                  TCPI_IP6F_HLEN));
            putch(c, ')');
            if ((fo & TCPI_IP6F_OFFMASK) != 0)
                goto out;
            putch(c, ' ');
            if (c->snap <= cp + TCPI_IP6F_HLEN)
                goto out;
            advance = TCPI_IP6F_HLEN;
            found_ext = 1;
            ph = nh;
            if (get8(&nh, c, cp + TCPI_IP6E_NXT)) { r = P_JUMP; goto out; }
            break;
        }
        case TCPI_IPPROTO_ROUTING: {
            uint8_t rl, rt, sl;
            uint32_t rsv;
            c->proto = "rt6";
            PUTS(c, "RT6");
            if (get8(&rl, c, cp + TCPI_IP6E_LEN) ||
                get8(&rt, c, cp + TCPI_IP6R_TYPE) ||
                get8(&sl, c, cp + TCPI_IP6R_SEGLEFT)) { r = P_JUMP; goto out; }
            PUTS(c, " (len=");
            put_u64(c, rl);
            PUTS(c, ", type=");
            put_u64(c, rt);
            if (rt == RTHDR_TYPE_0)
                PUTS(c, " [Deprecated]");
            PUTS(c, ", segleft=");
            put_u64(c, sl);
            if (rt != RTHDR_TYPE_0 && rt != RTHDR_TYPE_2) {
                PUTS(c, ") ");
                advance = (rl + 1u) * 8;
            } else {
                if (get32(&rsv, c, cp + TCPI_IP6R_RSV)) {
                    r = P_JUMP;
                    goto out;
                }
                if (rsv) {
                    PUTS(c, ", rsv=0x");
                    put_hex(c, rsv, 0);
                }
                if (rl % 2 == 1) {
                    PUTS(c, " (invalid length ");
                    put_u64(c, rl);
                    PUTS(c, ") (invalid)");
                    goto out;
                }
                for (uint32_t i = 0; i < rl / 2u; i++) {
                    uint32_t a = cp + TCPI_IP6R_ADDR + 16 * i;
                    if (!tcpi_have(c->snap, a, 16)) {
                        r = P_JUMP;
                        goto out;
                    }
                    if (tcpi_pr_ensure(c, 128))
                        goto out;
                    PUTS(c, ", [");
                    put_u64(c, i);
                    putch(c, ']');
                    put_ip6(c, c->d + a);
                }
                PUTS(c, ") ");
                advance = (rl + 1u) * 8;
            }
            found_ext = 1;
            ph = nh;
            if (get8(&nh, c, cp + TCPI_IP6E_NXT)) { r = P_JUMP; goto out; }
            break;
        }
        default:
            if (plen == 0) {
                if (found_ext)
                    goto trunc;
                len = TCPI_IP6_HLEN;
                if (o + len < c->snap)
                    c->snap = o + len;
                len -= total;
            }
            /* A routing header of an unknown type is skipped unchecked:
             * cp may be past the capture (the printers above check). */
            rest = c->snap > cp ? c->snap - cp : 0;
            if (tcpi_pr_ensure(c, WORST_CASE(rest)))
                goto out;
            r = tcpi_pr_ip_demux(c, nh, cp, len, o, 1, cp == o + TCPI_IP6_HLEN);
            goto out;
        }
        c->proto = "ip6";
    }
    goto out;
trunc:
    trunc_mark(c);
out:
    c->snap = save;
    return r;
}
