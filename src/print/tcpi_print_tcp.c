/*
 * tcpi_print_tcp.c — TCP as tcpdump's print-tcp.c prints it,
 * non-verbose: ports, flags, relative sequence numbers per connection,
 * window, every option tcpdump names (MPTCP in tcpi_print_mptcp.c), and
 * on ports 80 and 8080 the HTTP first line (print-http.c, txtproto_print).
 */
#include "tcpi_print_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The experiment id of TCP Fast Open in the shared experimental option
 * (RFC 7413 §4.1.1, RFC 6994). */
#define EXP_ID_TFO      0xf989

/* ---- relative sequence numbers ------------------------------------ */

static uint32_t conn_hash(const tcpi_print_conn_t *k)
{
    uint32_t w[8], h = k->port * 0x9e3779b1u;
    int n = k->v6 ? 4 : 1;

    memcpy(w, k->src, 16);
    memcpy(w + 4, k->dst, 16);
    for (int i = 0; i < n; i++)
        h = (h ^ w[i]) * 0x85ebca6bu ^ (w[4 + i] * 0xc2b2ae35u);
    return h ^ (h >> 15);
}

static int conn_same(const tcpi_print_conn_t *a, const tcpi_print_conn_t *b)
{
    return a->v6 == b->v6 && a->port == b->port &&
           !memcmp(a->src, b->src, 16) && !memcmp(a->dst, b->dst, 16);
}

static int conn_grow(tcpi_print_t *st)
{
    size_t cap = st->conn_cap ? st->conn_cap * 2 : 256;
    tcpi_print_conn_t *t = calloc(cap, sizeof(*t));

    if (!t)
        return -1;
    for (size_t i = 0; i < st->conn_cap; i++) {
        if (!st->conn[i].used)
            continue;
        size_t j = conn_hash(&st->conn[i]) & (cap - 1);
        while (t[j].used)
            j = (j + 1) & (cap - 1);
        t[j] = st->conn[i];
    }
    free(st->conn);
    st->conn = t;
    st->conn_cap = cap;
    return 0;
}

/* tcpdump's lookup: the entry for key, created (and reset) when missing
 * or when this is a SYN. *fresh says the numbers are printed absolute. */
static tcpi_print_conn_t *conn_find(tcpi_print_t *st,
                                    const tcpi_print_conn_t *key, int *found)
{
    if ((st->conn_n + 1) * 4 > st->conn_cap * 3 && conn_grow(st)) {
        st->oom = 1;
        return NULL;
    }
    size_t j = conn_hash(key) & (st->conn_cap - 1);
    while (st->conn[j].used) {
        if (conn_same(&st->conn[j], key)) {
            *found = 1;
            return &st->conn[j];
        }
        j = (j + 1) & (st->conn_cap - 1);
    }
    *found = 0;
    st->conn[j] = *key;
    st->conn[j].used = 1;
    st->conn_n++;
    return &st->conn[j];
}

/* ---- HTTP (tcpdump's txtproto_print, non-verbose) ------------------ */

static const char *const http_cmds[] = {
    "GET", "PUT", "COPY", "HEAD", "LOCK", "MOVE", "POLL", "POST", "BCOPY",
    "BMOVE", "MKCOL", "TRACE", "LABEL", "MERGE", "DELETE", "SEARCH",
    "UNLOCK", "REPORT", "UPDATE", "NOTIFY", "BDELETE", "CONNECT",
    "OPTIONS", "CHECKIN", "PROPFIND", "CHECKOUT", "CCM_POST", "SUBSCRIBE",
    "PROPPATCH", "BPROPFIND", NULL
};

#define MAX_TOKEN 128
#define ISPRINT(ch) ((ch) >= 0x20 && (ch) <= 0x7e)

/* The next token from idx: its end index (after trailing blanks), or 0. */
static uint32_t fetch_token(pctx_t *c, uint32_t base, uint32_t idx,
                            uint32_t len, char *tok)
{
    size_t tl = 0;
    uint8_t ch;

    for (; idx < len; idx++) {
        if (tcpi_get_u8(&ch, c->d, c->snap, base + idx))
            return 0;
        if (ch >= 0x80)
            return 0;
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
            break;
        if (!ISPRINT(ch) || tl + 2 > MAX_TOKEN + 1)
            return 0;
        tok[tl++] = (char)ch;
    }
    if (tl == 0)
        return 0;
    tok[tl] = 0;
    for (; idx < len; idx++) {
        if (tcpi_get_u8(&ch, c->d, c->snap, base + idx))
            break;
        if (ch == '\r' || ch == '\n' || !ISPRINT(ch))
            break;
        if (ch != ' ' && ch != '\t')
            break;
    }
    return idx;
}

static int print_first_line(pctx_t *c, uint32_t base, uint32_t len)
{
    uint32_t idx = 0, ll;
    uint8_t ch, nx;

    while (idx < len) {
        if (tcpi_get_u8(&ch, c->d, c->snap, base + idx))
            return P_JUMP;
        if (ch == '\n') {
            ll = idx;
            goto print;
        } else if (ch == '\r') {
            if (idx + 1 >= len)
                return P_OK;
            if (tcpi_get_u8(&nx, c->d, c->snap, base + idx + 1))
                return P_JUMP;
            if (nx == '\n') {
                ll = idx;
                goto print;
            }
            return P_OK;
        } else if (!ISPRINT(ch) && ch != '\t') {
            return P_OK;
        }
        idx++;
    }
    PUTS(c, ": ");
    put(c, (const char *)c->d + base, idx);
    trunc_mark(c);
    return P_OK;
print:
    PUTS(c, ": ");
    put(c, (const char *)c->d + base, ll);
    return P_OK;
}

static int print_http(pctx_t *c, uint32_t base, uint32_t len)
{
    char tok[MAX_TOKEN + 1];
    int print_this = 0;

    c->proto = "http";
    uint32_t idx = fetch_token(c, base, 0, len, tok);
    if (idx) {
        for (int i = 0; http_cmds[i]; i++)
            if (!strcasecmp(tok, http_cmds[i])) {
                print_this = 1;
                break;
            }
        idx = fetch_token(c, base, idx, len, tok);
        if (idx && tok[0] >= '0' && tok[0] <= '9' && tok[1] >= '0' &&
            tok[1] <= '9' && tok[2] >= '0' && tok[2] <= '9' && !tok[3])
            print_this = 1;
    }
    PUTS(c, "HTTP");
    return print_this ? print_first_line(c, base, len) : P_OK;
}

int tcpi_print_http_first_line(const uint8_t **line, size_t *len,
                               const uint8_t *p, size_t n)
{
    size_t i = 0, e;

    while (i < n && i < 16 && p[i] >= 'A' && p[i] <= 'Z')
        i++;
    int req = i >= 3 && i < n && p[i] == ' ';
    int resp = n >= 12 && !memcmp(p, "HTTP/", 5) && p[8] == ' ' &&
               p[9] >= '1' && p[9] <= '5';
    if (!req && !resp)
        return 0;
    for (e = 0; e < n && e < 8192 && p[e] != '\r' && p[e] != '\n'; e++)
        ;
    *line = p;
    *len = e;
    return 1;
}

/* ---- TCP options ---------------------------------------------------- */

/* tcpdump's option names, padded to 16 bytes so a fixed-size copy (no
 * strlen, no variable memcpy) writes them; the length in n. */
typedef struct { char s[15]; uint8_t n; } optname_t;
#define ON(str) { str, sizeof(str) - 1 }
static const optname_t *tcp_opt_name(uint8_t opt)
{
    static const optname_t names[] = {
        ON("eol"), ON("nop"), ON("mss"), ON("wscale"), ON("sackOK"),
        ON("sack"), ON("echo"), ON("echoreply"), ON("TS"), ON("cc"),
        ON("ccnew"), ON(""), ON("md5"), ON("scps"), ON("uto"), ON("tcp-ao"),
        ON("mptcp"), ON("tfo"), ON("exp"),
    };
    static const uint8_t kinds[] = {
        TCPI_TCPOPT_EOL, TCPI_TCPOPT_NOP, TCPI_TCPOPT_MSS, TCPI_TCPOPT_WSCALE,
        TCPI_TCPOPT_SACKOK, TCPI_TCPOPT_SACK, TCPI_TCPOPT_ECHO,
        TCPI_TCPOPT_ECHOREPLY, TCPI_TCPOPT_TIMESTAMP, TCPI_TCPOPT_CC,
        TCPI_TCPOPT_CCNEW, TCPI_TCPOPT_CCECHO, TCPI_TCPOPT_MD5,
        TCPI_TCPOPT_SCPS, TCPI_TCPOPT_UTO, TCPI_TCPOPT_TCPAO,
        TCPI_TCPOPT_MPTCP, TCPI_TCPOPT_TFO, TCPI_TCPOPT_EXP,
    };
    /* kinds 0 to 8 are their own index */
    if (opt <= TCPI_TCPOPT_TIMESTAMP)
        return &names[opt];
    for (size_t i = TCPI_TCPOPT_TIMESTAMP + 1; i < sizeof(kinds); i++)
        if (kinds[i] == opt)
            return &names[i];
    return NULL;
}
#undef ON

static int print_tfo(pctx_t *c, uint32_t o, uint32_t datalen)
{
    if (datalen == 0) {
        PUTS(c, " cookiereq");
        return P_OK;
    }
    if (datalen % 2 || datalen < 4 || datalen > 16) {
        PUTS(c, " (invalid)");
        return P_OK;
    }
    PUTS(c, " cookie ");
    for (uint32_t i = 0; i < datalen; i++) {
        uint8_t b;
        G8(b, o + i);
        put_hex(c, b, 2);
    }
    return P_OK;
}

/* The options loop. hlen: option bytes (data offset * 4 - 20). Returns
 * 1 (printed "]"), P_OK (printed a mark: the line ends), P_JUMP. */
static int print_tcp_options(pctx_t *c, uint32_t o, uint32_t hlen,
                             uint8_t flags, int rev, uint32_t thseq,
                             uint32_t thack, uint32_t paylen, int v6,
                             uint32_t payoff)
{
    char ch = 0;
    uint8_t opt, len8, b;
    uint32_t len, datalen, v32, v32b;
    uint16_t v16;

    PUTS(c, ", options [");
    while (hlen > 0) {
        if (ch)
            putch(c, ch);
        G8(opt, o);
        o++;
        if (opt == TCPI_TCPOPT_EOL || opt == TCPI_TCPOPT_NOP) {
            len = 1;
        } else {
            G8(len8, o);
            o++;
            len = len8;
            if (len < 2 || len > hlen)
                goto bad;
            --hlen;
        }
        --hlen;
        datalen = 0;
#define LENCHECK(l) do { if ((l) > hlen) goto bad; \
                         if (!tcpi_have(c->snap, o, (l))) goto trunc; } while (0)
        const optname_t *nm = tcp_opt_name(opt);
        if (nm) {
            memcpy(c->w, nm->s, 16);            /* fixed size: fast */
            c->w += nm->n;
        } else {
            PUTS(c, "unknown-");
            put_u64(c, opt);
        }
        switch (opt) {
        case TCPI_TCPOPT_MSS:
            datalen = TCPI_TCPOLEN_MSS - 2;
            LENCHECK(datalen);
            G16(v16, o);
            putch(c, ' ');
            put_u64(c, v16);
            break;
        case TCPI_TCPOPT_WSCALE:
            datalen = TCPI_TCPOLEN_WSCALE - 2;
            LENCHECK(datalen);
            G8(b, o);
            putch(c, ' ');
            put_u64(c, b);
            break;
        case TCPI_TCPOPT_SACK:
            datalen = len - 2;
            if (datalen % 8) {
                PUTS(c, " invalid sack");
            } else {
                putch(c, ' ');
                put_u64(c, datalen / 8);
                putch(c, ' ');
                for (uint32_t i = 0; i < datalen; i += 8) {
                    LENCHECK(i + 4);
                    G32(v32, o + i);
                    LENCHECK(i + 8);
                    G32(v32b, o + i + 4);
                    uint32_t base = rev ? thseq : thack;
                    putch(c, '{');
                    put_u64(c, v32 - base);
                    putch(c, ':');
                    put_u64(c, v32b - base);
                    putch(c, '}');
                }
            }
            break;
        case TCPI_TCPOPT_ECHO:
        case TCPI_TCPOPT_ECHOREPLY:
        case TCPI_TCPOPT_CC:
        case TCPI_TCPOPT_CCNEW:
        case TCPI_TCPOPT_CCECHO:
            datalen = 4;
            LENCHECK(datalen);
            G32(v32, o);
            putch(c, ' ');
            put_u64(c, v32);
            break;
        case TCPI_TCPOPT_TIMESTAMP:
            datalen = TCPI_TCPOLEN_TIMESTAMP - 2;
            LENCHECK(datalen);
            G32(v32, o);
            G32(v32b, o + 4);
            PUTS(c, " val ");
            put_u64(c, v32);
            PUTS(c, " ecr ");
            put_u64(c, v32b);
            break;
        case TCPI_TCPOPT_MD5:
            datalen = 16;
            LENCHECK(datalen);
            putch(c, ' ');
            /* tcpdump (with libcrypto) cannot check without -M: */
            if (!tcpi_have(c->snap, payoff, paylen))
                PUTS(c, "snaplen too short, ");
            else
                PUTS(c, "shared secret not supplied with -M, ");
            PUTS(c, "can't check - ");
            for (uint32_t i = 0; i < 16; i++) {
                G8(b, o + i);
                put_hex(c, b, 2);
            }
            break;
        case TCPI_TCPOPT_SCPS:
            datalen = 2;
            LENCHECK(datalen);
            PUTS(c, " cap ");
            G8(b, o);
            put_hex(c, b, 2);
            PUTS(c, " id ");
            G8(b, o + 1);
            put_u64(c, b);
            break;
        case TCPI_TCPOPT_TCPAO:
            datalen = len - 2;
            if (datalen < 2) {
                PUTS(c, " (invalid)");
            } else {
                LENCHECK(1);
                G8(b, o);
                PUTS(c, " keyid ");
                put_u64(c, b);
                LENCHECK(2);
                G8(b, o + 1);
                PUTS(c, " rnextkeyid ");
                put_u64(c, b);
                if (datalen > 2) {
                    PUTS(c, " mac 0x");
                    for (uint32_t i = 2; i < datalen; i++) {
                        LENCHECK(i + 1);
                        G8(b, o + i);
                        put_hex(c, b, 2);
                    }
                }
            }
            break;
        case TCPI_TCPOPT_EOL:
        case TCPI_TCPOPT_NOP:
        case TCPI_TCPOPT_SACKOK:
            break;
        case TCPI_TCPOPT_UTO:
            datalen = 2;
            LENCHECK(datalen);
            G16(v16, o);
            PUTS(c, " 0x");
            put_hex(c, v16, 0);
            putch(c, ' ');
            /* RFC 5482: the low bit says minutes */
            put_u64(c, v16 & 1 ? (uint32_t)(v16 >> 1) * 60
                               : (uint32_t)v16 >> 1);
            break;
        case TCPI_TCPOPT_MPTCP: {
            datalen = len - 2;
            LENCHECK(datalen);
            uint32_t save = c->snap;
            if (o - 2 + len < c->snap)
                c->snap = o - 2 + len;
            int r = tcpi_pr_mptcp(c, o - 2, len, flags);
            c->snap = save;
            if (r == P_JUMP)
                return P_JUMP;
            if (!r)
                goto bad;
            break;
        }
        case TCPI_TCPOPT_TFO:
            datalen = len - 2;
            LENCHECK(datalen);
            putch(c, ' ');
            if (print_tfo(c, o, datalen) == P_JUMP)
                return P_JUMP;
            break;
        case TCPI_TCPOPT_EXP:
            datalen = len - 2;
            LENCHECK(datalen);
            if (datalen < 2)
                goto bad;
            G16(v16, o);
            putch(c, '-');
            if (v16 == EXP_ID_TFO) {
                PUTS(c, "tfo");
                if (print_tfo(c, o + 2, datalen - 2) == P_JUMP)
                    return P_JUMP;
            } else {
                put_hex(c, v16, 4);
            }
            break;
        default:
            datalen = len - 2;
            if (datalen)
                PUTS(c, " 0x");
            for (uint32_t i = 0; i < datalen; i++) {
                LENCHECK(i + 1);
                G8(b, o + i);
                put_hex(c, b, 2);
            }
            break;
        }
#undef LENCHECK
        o += datalen;
        hlen -= datalen;
        datalen += (opt == TCPI_TCPOPT_EOL || opt == TCPI_TCPOPT_NOP) ? 1 : 2;
        if (datalen != len) {
            PUTS(c, "[len ");
            put_u64(c, len);
            putch(c, ']');
        }
        ch = ',';
        if (opt == TCPI_TCPOPT_EOL)
            break;
    }
    putch(c, ']');
    return 1;
bad:
    PUTS(c, "[bad opt]");
    if (ch)
        putch(c, ']');
    return P_OK;
trunc:
    trunc_mark(c);
    if (ch)
        putch(c, '>');
    return P_OK;
}

/* Ports whose tcpdump dissector we do not reproduce (telnet, smtp, whois,
 * bgp, pptp, redis, ssh, beep, openflow, ftp): checked before HTTP. */
static int other_dissector(uint16_t sp, uint16_t dp)
{
    static const uint16_t ports[] = {23, 25, 43, 179, 1723, 6379, 22, 10288,
                                     6633, 6653, 21};
    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
        if (sp == ports[i] || dp == ports[i])
            return 1;
    return 0;
}

/* tcp_print: o is the TCP header, length the bytes the IP layer gives
 * it, ip the IP header (v6: next header was TCP directly when direct). */
int tcpi_pr_tcp(pctx_t *c, uint32_t o, uint32_t length, uint32_t ip, int v6,
                int direct)
{
    const uint8_t *src = c->d + ip + (v6 ? TCPI_IP6_SRC : TCPI_IP4_SRC);
    const uint8_t *dst = c->d + ip + (v6 ? TCPI_IP6_DST : TCPI_IP4_DST);
    uint16_t sport, dport, win, urp;
    uint32_t seq, ack, hlen, thseq = 0, thack = 0;
    uint8_t flags, off;
    int rev = 0;

    c->proto = "tcp";
    if (!tcpi_have(c->snap, o, 4)) {
        put_addr(c, v6, src);
        PUTS(c, " > ");
        put_addr(c, v6, dst);
        putch(c, ':');
        trunc_mark(c);
        return P_OK;
    }
    G16(sport, o + TCPI_TCP_SPORT);
    G16(dport, o + TCPI_TCP_DPORT);
    if (direct) {
        put_addr(c, v6, src);
        putch(c, '.');
        put_u64(c, sport);
        PUTS(c, " > ");
        put_addr(c, v6, dst);
        putch(c, '.');
        put_u64(c, dport);
        PUTS(c, ": ");
    } else {
        put_u64(c, sport);
        PUTS(c, " > ");
        put_u64(c, dport);
        PUTS(c, ": ");
    }
    if (!tcpi_have(c->snap, o, TCPI_TCP_HLEN_MIN)) {
        trunc_mark(c);
        return P_OK;
    }
    G8(off, o + TCPI_TCP_OFF);
    hlen = (uint32_t)(off >> 4) * 4;
    if (hlen < TCPI_TCP_HLEN_MIN) {
        PUTS(c, " tcp ");
        put_u64(c, (uint32_t)(length - hlen));
        PUTS(c, " [bad hdr length ");
        put_u64(c, hlen);
        PUTS(c, " - too short, < 20]");
        return P_OK;
    }
    G32(seq, o + TCPI_TCP_SEQ);
    G32(ack, o + TCPI_TCP_ACK);
    G16(win, o + TCPI_TCP_WIN);
    G16(urp, o + TCPI_TCP_URP);
    G8(flags, o + TCPI_TCP_FLAGS);
    PUTS(c, "Flags [");
    if (!flags) {
        PUTS(c, "none");
    } else {
        static const char fl[] = "FSRP.UEW";  /* TCPI_TH_FIN .. _CWR */
        for (int i = 0; i < 8; i++)
            if (flags & (1u << i))
                putch(c, fl[i]);
    }
    putch(c, ']');
    if (flags & TCPI_TH_ACK) {
        tcpi_print_conn_t key, *th;
        size_t al = v6 ? 16 : 4;
        int found = 0;

        memset(&key, 0, sizeof(key));
        key.v6 = (uint8_t)v6;
        if (sport > dport)
            rev = 1;
        else if (sport == dport && memcmp(src, dst, al) > 0)
            rev = 1;
        memcpy(key.src, rev ? dst : src, al);
        memcpy(key.dst, rev ? src : dst, al);
        key.port = rev ? (uint32_t)dport << 16 | sport
                       : (uint32_t)sport << 16 | dport;
        th = conn_find(c->st, &key, &found);
        if (th) {
            if (!found || (flags & TCPI_TH_SYN)) {
                if (rev)
                    th->ack = seq, th->seq = ack - 1;
                else
                    th->seq = seq, th->ack = ack - 1;
            } else if (rev) {
                seq -= th->ack, ack -= th->seq;
            } else {
                seq -= th->seq, ack -= th->ack;
            }
            thseq = th->seq;
            thack = th->ack;
        }
    }
    if (hlen > length) {
        PUTS(c, " [bad hdr length ");
        put_u64(c, hlen);
        PUTS(c, " - too long, > ");
        put_u64(c, length);
        putch(c, ']');
        return P_OK;
    }
    length -= hlen;
    if (length > 0 || (flags & (TCPI_TH_SYN | TCPI_TH_FIN | TCPI_TH_RST))) {
        PUTS(c, ", seq ");
        put_u64(c, seq);
        if (length > 0) {
            putch(c, ':');
            put_u64(c, (uint32_t)(seq + length));
        }
    }
    if (flags & TCPI_TH_ACK) {
        PUTS(c, ", ack ");
        put_u64(c, ack);
    }
    PUTS(c, ", win ");
    put_u64(c, win);
    if (flags & TCPI_TH_URG) {
        PUTS(c, ", urg ");
        put_u64(c, urp);
    }
    if (hlen > TCPI_TCP_HLEN_MIN) {
        int r = print_tcp_options(c, o + TCPI_TCP_HLEN_MIN,
                                  hlen - TCPI_TCP_HLEN_MIN, flags, rev, thseq,
                                  thack, length, v6, o + hlen);
        if (r != 1)
            return r;
    }
    PUTS(c, ", length ");
    put_u64(c, length);
    if (length == 0)
        return P_OK;
    if (!tcpi_have(c->snap, o, hlen)) {
        PUTS(c, " [remaining caplen(");
        put_u64(c, c->snap > o ? c->snap - o : 0);
        PUTS(c, ") < header length(");
        put_u64(c, hlen);
        PUTS(c, ")]");
        return P_JUMP;
    }
    if (other_dissector(sport, dport))
        return P_OK;
    if (sport == 80 || dport == 80 || sport == 8080 || dport == 8080) {
        PUTS(c, ": ");
        return print_http(c, o + hlen, length);
    }
    return P_OK;
}
