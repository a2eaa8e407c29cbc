/*
 * tcpi_print_mptcp.c — the MPTCP option (RFC 8684) as tcpdump's
 * print-mptcp.c prints it, non-verbose: one subtype, its fields, and
 * whether its length suits the segment's flags.
 */
#include "tcpi_print_int.h"

/* Subtypes (the option's third byte, high nibble). */
enum {
    MP_CAPABLE, MP_JOIN, MP_DSS, MP_ADD_ADDR, MP_REMOVE_ADDR, MP_PRIO,
    MP_FAIL, MP_FASTCLOSE, MP_UNKNOWN
};

#define MP_CAPABLE_A    0x80    /* checksum required */
#define MP_JOIN_B       0x01    /* backup */
#define MP_PRIO_B       0x01
#define MP_DSS_F        0x10    /* DATA_FIN */
#define MP_DSS_m        0x08    /* data sequence number is 8 bytes */
#define MP_DSS_M        0x04    /* data sequence number present */
#define MP_DSS_a        0x02    /* data ack is 8 bytes */
#define MP_DSS_A        0x01    /* data ack present */

/* o: option start, len: option length. Returns 1 printed, 0 bad,
 * P_JUMP. */
int tcpi_pr_mptcp(pctx_t *c, uint32_t o, uint32_t len, uint8_t flags)
{
    static const char *const names[] = {"capable", "join", "dss", "add-addr",
        "rem-addr", "prio", "fail", "fast-close", "unknown"};
    uint8_t sub, b, f;
    uint64_t v64;
    uint32_t v32;
    uint16_t v16;

    c->proto = "mptcp";
    if (len < 3)
        return 0;
    G8(sub, o + 2);
    sub >>= 4;
    if (sub > MP_UNKNOWN)
        sub = MP_UNKNOWN;
    putch(c, ' ');
    put_u64(c, len);
    putch(c, ' ');
    puts0(c, names[sub]);
    switch (sub) {
    case MP_CAPABLE:
        if (!((len == 12 || len == 4) && (flags & TCPI_TH_SYN)) &&
            !((len == 20 || len == 22) &&
              (flags & (TCPI_TH_SYN | TCPI_TH_ACK)) == TCPI_TH_ACK))
            return 0;
        G8(b, o + 2);
        b &= 15;
        if (b > 1) {
            PUTS(c, " Unknown Version (");
            put_u64(c, b);
            putch(c, ')');
            return 1;
        }
        PUTS(c, " v");
        put_u64(c, b);
        G8(f, o + 3);
        if (f & MP_CAPABLE_A)
            PUTS(c, " csum");
        if (len == 12 || len >= 20) {
            G64(v64, o + 4);
            PUTS(c, " {0x");
            put_hex(c, v64, 0);
            if (len >= 20) {
                G64(v64, o + 12);
                PUTS(c, ",0x");
                put_hex(c, v64, 0);
            }
            putch(c, '}');
        }
        return 1;
    case MP_JOIN:
        if (!(len == 12 && (flags & TCPI_TH_SYN)) &&
            !(len == 16 && (flags & (TCPI_TH_SYN | TCPI_TH_ACK)) ==
              (TCPI_TH_SYN | TCPI_TH_ACK)) &&
            !(len == 24 && (flags & TCPI_TH_ACK)))
            return 0;
        if (len != 24) {
            G8(b, o + 2);
            if (b & MP_JOIN_B)
                PUTS(c, " backup");
            G8(b, o + 3);
            PUTS(c, " id ");
            put_u64(c, b);
        }
        if (len == 12) {
            G32(v32, o + 4);
            PUTS(c, " token 0x");
            put_hex(c, v32, 0);
            G32(v32, o + 8);
            PUTS(c, " nonce 0x");
            put_hex(c, v32, 0);
        } else if (len == 16) {
            G64(v64, o + 4);
            PUTS(c, " hmac 0x");
            put_hex(c, v64, 0);
            G32(v32, o + 12);
            PUTS(c, " nonce 0x");
            put_hex(c, v32, 0);
        } else {
            PUTS(c, " hmac 0x");
            for (uint32_t i = 0; i < 20; i++) {
                if (!tcpi_have(c->snap, o + 4 + i, 1))
                    return P_JUMP;   /* tcpdump reads it unchecked */
                put_hex(c, c->d[o + 4 + i], 2);
            }
        }
        return 1;
    case MP_DSS: {
        uint32_t p = o + 4, rem;
        if (len < 4 || (flags & TCPI_TH_SYN))
            return 0;
        rem = len - 4;
        G8(f, o + 3);
        if (f & MP_DSS_F)
            PUTS(c, " fin");
        if (f & MP_DSS_A) {
            PUTS(c, " ack ");
            if (f & MP_DSS_a) {
                if (rem < 8) return 0;
                G64(v64, p); put_u64(c, v64); p += 8; rem -= 8;
            } else {
                if (rem < 4) return 0;
                G32(v32, p); put_u64(c, v32); p += 4; rem -= 4;
            }
        }
        if (f & MP_DSS_M) {
            PUTS(c, " seq ");
            if (f & MP_DSS_m) {
                if (rem < 8) return 0;
                G64(v64, p); put_u64(c, v64); p += 8; rem -= 8;
            } else {
                if (rem < 4) return 0;
                G32(v32, p); put_u64(c, v32); p += 4; rem -= 4;
            }
            if (rem < 4) return 0;
            G32(v32, p); PUTS(c, " subseq "); put_u64(c, v32); p += 4; rem -= 4;
            if (rem < 2) return 0;
            G16(v16, p); PUTS(c, " len "); put_u64(c, v16); p += 2; rem -= 2;
            if (rem >= 2) {
                G16(v16, p); PUTS(c, " csum 0x"); put_hex(c, v16, 0);
                rem -= 2;
            }
        }
        return rem == 0;
    }
    case MP_ADD_ADDR: {
        static const uint8_t ok[] = {8, 10, 16, 18, 20, 22, 28, 30};
        int v4 = len < 20, valid = 0;
        for (size_t i = 0; i < sizeof(ok); i++)
            valid |= ok[i] == len;
        if (!valid)
            return 0;
        G8(b, o + 2);
        b &= 15;
        putch(c, ' ');
        puts0(c, b == 6 ? "v0-ip6" : b == 4 ? "v0-ip4" : b == 1 ? "v1-echo" :
                 b == 0 ? "v1" : "[bad version/echo]");
        G8(b, o + 3);
        PUTS(c, " id ");
        put_u64(c, b);
        uint32_t alen = v4 ? 4 : 16;
        if (!tcpi_have(c->snap, o + 4, alen))
            return P_JUMP;
        putch(c, ' ');
        put_addr(c, !v4, c->d + o + 4);
        int port = len == 10 || len == 18 || len == 22 || len == 30;
        if (port) {
            G16(v16, o + 4 + alen);
            putch(c, ':');
            put_u64(c, v16);
        }
        if (len == 16 || len == 18 || len == 28 || len == 30) {
            G64(v64, o + 4 + alen + (port ? 2 : 0));
            PUTS(c, " hmac 0x");
            put_hex(c, v64, 0);
        }
        return 1;
    }
    case MP_REMOVE_ADDR:
        if (len < 4)
            return 0;
        PUTS(c, " id");
        for (uint32_t i = 0; i < len - 3; i++) {
            G8(b, o + 3 + i);
            putch(c, ' ');
            put_u64(c, b);
        }
        return 1;
    case MP_PRIO:
        if (len != 3 && len != 4)
            return 0;
        G8(b, o + 2);
        puts0(c, b & MP_PRIO_B ? " backup" : " non-backup");
        if (len == 4) {
            G8(b, o + 3);
            PUTS(c, " id ");
            put_u64(c, b);
        }
        return 1;
    case MP_FAIL:
    case MP_FASTCLOSE:
        if (len != 12)
            return 0;
        G64(v64, o + 4);
        if (sub == MP_FAIL) {
            PUTS(c, " seq ");
            put_u64(c, v64);
        } else {
            PUTS(c, " key 0x");
            put_hex(c, v64, 0);
        }
        return 1;
    default:
        return 1;
    }
}
