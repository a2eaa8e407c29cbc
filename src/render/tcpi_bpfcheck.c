/*
 * tcpi_bpfcheck.c — a lexer over filter= with libpcap 1.10's token rules
 * (scanner.l), deciding which words would reach a name lookup.
 *
 * flex takes the longest match at each position and, between matches of
 * equal length, the rule listed first; keywords and literals come before
 * the ID rule [A-Za-z0-9]([-_.A-Za-z0-9]*[.A-Za-z0-9])?. So a maximal
 * ID-shaped run is a keyword or a literal only when the whole run is one
 * (`tcp-synx` and `10.1.2.3.4` are IDs). The only longer matches are the
 * forms with ':' (IPv6, MAC, "bogus ethernet address"), which the ID rule
 * cannot span.
 */
#include "tcpi_bpfcheck.h"

#include <stdio.h>
#include <string.h>

/* Every word libpcap 1.10's scanner returns as something other than ID.
 * A word missing here is merely refused; a word here that the installed
 * libpcap lexes as ID would be looked up, which test_bpfcheck checks by
 * compiling `host WORD` for each with the NSS functions interposed. */
static const char *const keywords[] = {
    "dst", "src", "link", "ether", "ppp", "slip", "fddi", "tr", "wlan",
    "arp", "rarp", "ip", "sctp", "tcp", "udp", "icmp", "igmp", "igrp", "pim",
    "vrrp", "carp", "radio", "ip6", "icmp6", "ah", "esp", "atalk", "aarp",
    "decnet", "lat", "sca", "moprc", "mopdl", "iso", "esis", "es-is",
    "isis", "is-is", "l1", "l2", "iih", "lsp", "snp", "csnp", "psnp", "clnp",
    "stp", "ipx", "netbeui", "host", "net", "mask", "port", "portrange",
    "proto", "protochain", "gateway", "type", "subtype", "direction", "dir",
    "address1", "addr1", "address2", "addr2", "address3", "addr3",
    "address4", "addr4", "ra", "ta", "less", "greater", "byte", "broadcast",
    "multicast", "and", "or", "not", "len", "length", "inbound", "outbound",
    "ifindex", "vlan", "mpls", "pppoed", "pppoes", "geneve", "lane", "llc",
    "metac", "bcc", "oam", "oamf4", "oamf4ec", "oamf4sc", "sc", "ilmic",
    "vpi", "vci", "connectmsg", "metaconnect", "on", "ifname", "rset",
    "ruleset", "rnr", "rulenum", "srnr", "subrulenum", "reason", "action",
    "fisu", "lssu", "lsu", "msu", "hfisu", "hlssu", "hmsu", "sio", "opc",
    "dpc", "sls", "hsio", "hopc", "hdpc", "hsls",
    /* named constants (the scanner returns them as numbers) */
    "icmptype", "icmpcode", "icmp-echoreply", "icmp-unreach",
    "icmp-sourcequench", "icmp-redirect", "icmp-echo", "icmp-routeradvert",
    "icmp-routersolicit", "icmp-timxceed", "icmp-paramprob", "icmp-tstamp",
    "icmp-tstampreply", "icmp-ireq", "icmp-ireqreply", "icmp-maskreq",
    "icmp-maskreply", "icmp6type", "icmp6code", "icmp6-destinationunreach",
    "icmp6-packettoobig", "icmp6-timeexceeded", "icmp6-parameterproblem",
    "icmp6-echo", "icmp6-echoreply", "icmp6-multicastlistenerquery",
    "icmp6-multicastlistenerreportv1", "icmp6-multicastlistenerdone",
    "icmp6-routersolicit", "icmp6-routeradvert", "icmp6-neighborsolicit",
    "icmp6-neighboradvert", "icmp6-redirect", "icmp6-routerrenum",
    "icmp6-nodeinformationquery", "icmp6-nodeinformationresponse",
    "icmp6-ineighbordiscoverysolicit", "icmp6-ineighbordiscoveryadvert",
    "icmp6-multicastlistenerreportv2", "icmp6-homeagentdiscoveryrequest",
    "icmp6-homeagentdiscoveryreply", "icmp6-mobileprefixsolicit",
    "icmp6-mobileprefixadvert", "icmp6-certpathsolicit",
    "icmp6-certpathadvert", "icmp6-multicastrouteradvert",
    "icmp6-multicastroutersolicit", "icmp6-multicastrouterterm",
    "tcpflags", "tcp-fin", "tcp-syn", "tcp-rst", "tcp-push", "tcp-ack",
    "tcp-urg", "tcp-ece", "tcp-cwr",
};

const char *tcpi_bpfcheck_keyword(size_t i)
{
    return i < sizeof(keywords) / sizeof(keywords[0]) ? keywords[i] : NULL;
}

static int is_keyword(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
        if (strlen(keywords[i]) == n && memcmp(keywords[i], s, n) == 0)
            return 1;
    return 0;
}

/* ASCII classes; no locale (flex's classes are bytes). */
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static int is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Length of the ID rule's longest match at s (0 if none). */
static size_t id_len(const char *s)
{
    size_t n = 0, last = 0;

    if (!is_alnum(s[0]))
        return 0;
    while (is_alnum(s[n]) || s[n] == '-' || s[n] == '_' || s[n] == '.') {
        if (is_alnum(s[n]) || s[n] == '.')
            last = n + 1;          /* the rule must end on [.A-Za-z0-9] */
        n++;
    }
    return last;
}

/* Runs of exactly n characters of a class. */
static size_t span(const char *s, size_t n, int (*cls)(char))
{
    size_t i = 0;

    while (i < n && cls(s[i]))
        i++;
    return i;
}

/* N: [0-9]+ | 0[xX][0-9A-Fa-f]+, the whole of s[0..n). */
static int full_num(const char *s, size_t n)
{
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        return span(s + 2, n - 2, is_hex) == n - 2;
    return n > 0 && span(s, n, is_digit) == n;
}

/* N.N, N.N.N or N.N.N.N (libpcap's HID), the whole of s[0..n). */
static int full_hid(const char *s, size_t n, int exactly4)
{
    size_t parts = 0, i = 0;

    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != '.')
            j++;
        if (!full_num(s + i, j - i))
            return 0;
        parts++;
        i = j + 1;
    }
    return exactly4 ? parts == 4 : parts >= 2 && parts <= 4;
}

/* B-B-B-B-B-B, B.B.B.B.B.B (B: 1-2 hex), HHHH.HHHH.HHHH or 12 hex digits:
 * the MAC forms without ':', the whole of s[0..n). */
static int full_mac_nocolon(const char *s, size_t n)
{
    if (n == 12 && span(s, 12, is_hex) == 12)
        return 1;
    if (n == 14 && span(s, 4, is_hex) == 4 && s[4] == '.' &&
        span(s + 5, 4, is_hex) == 4 && s[9] == '.' &&
        span(s + 10, 4, is_hex) == 4)
        return 1;
    for (int k = 0; k < 2; k++) {
        char sep = k ? '.' : '-';
        size_t i = 0, parts = 0;
        while (i < n && parts < 6) {
            size_t h = span(s + i, n - i < 2 ? n - i : 2, is_hex);
            if (h == 0)
                break;
            i += h;
            parts++;
            if (parts < 6) {
                if (i >= n || s[i] != sep)
                    break;
                i++;
            }
        }
        if (parts == 6 && i == n)
            return 1;
    }
    return 0;
}

/* libpcap's V6 rule: 8 groups of 1-4 hex digits; or fewer with one "::"
 * (at most 7 groups); either may end in an N.N.N.N replacing two groups
 * (then 6 groups without "::", at most 5 with it). Whole of s[0..n). */
static int full_v6(const char *s, size_t n)
{
    size_t i = 0, groups = 0;
    int dcolon = 0, v4 = 0;

    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        dcolon = 1;
        i = 2;
        if (i == n)
            return 1;
    } else if (n == 0 || s[0] == ':') {
        return 0;
    }
    for (;;) {
        size_t j = i;
        while (j < n && s[j] != ':')
            j++;
        /* s[i..j) is a group, or the final dotted quad */
        if (j == n && memchr(s + i, '.', j - i) != NULL) {
            if (!full_hid(s + i, j - i, 1))
                return 0;
            v4 = 1;
            break;
        }
        if (j == i || j - i > 4 || span(s + i, j - i, is_hex) != j - i)
            return 0;
        groups++;
        if (j == n)
            break;
        i = j + 1;                 /* past ':' */
        if (i < n && s[i] == ':') {
            if (dcolon)
                return 0;
            dcolon = 1;
            i++;
            if (i == n)
                break;             /* ends in "::" */
        } else if (i == n) {
            return 0;              /* ends in a single ':' */
        }
    }
    if (v4)
        return dcolon ? groups <= 5 : groups == 6;
    return dcolon ? groups <= 7 : groups == 8;
}

/* {B}:{B}:{B}:{B}:{B}:{B} */
static int full_mac_colon(const char *s, size_t n)
{
    size_t i = 0;

    for (int part = 0; part < 6; part++) {
        size_t h = span(s + i, n - i < 2 ? n - i : 2, is_hex);
        if (h == 0)
            return 0;
        i += h;
        if (part < 5) {
            if (i >= n || s[i] != ':')
                return 0;
            i++;
        }
    }
    return i == n;
}

/* {B}:+({B}:+)+ — libpcap's "bogus ethernet address". */
static int full_bogus_eid(const char *s, size_t n)
{
    size_t i = 0, groups = 0;

    while (i < n) {
        size_t h = span(s + i, n - i < 2 ? n - i : 2, is_hex);
        if (h == 0)
            return 0;
        i += h;
        if (i >= n || s[i] != ':')
            return 0;
        while (i < n && s[i] == ':')
            i++;
        groups++;
    }
    return groups >= 2;
}

static int v6_char(char c) { return is_hex(c) || c == ':' || c == '.' ||
                                    c == 'x' || c == 'X'; }

/* The longest match at s of the forms containing ':'; *kind: 6 for
 * IPv6, 'm' for a MAC, 'b' for a bogus ethernet address. 0 if none.
 * A run of such characters longer than TCPI_BPF_MAX_TOKEN is not
 * searched: *kind is then 'l' (the caller refuses it). */
static size_t colon_len(const char *s, int *kind)
{
    size_t run = 0;

    while (run <= TCPI_BPF_MAX_TOKEN && v6_char(s[run]))
        run++;
    if (memchr(s, ':', run) == NULL)
        return 0;
    if (run > TCPI_BPF_MAX_TOKEN) {
        *kind = 'l';
        return run;
    }
    for (size_t n = run; n > 0; n--) {
        if (full_v6(s, n)) {
            *kind = 6;
            return n;
        }
        if (full_mac_colon(s, n)) {
            *kind = 'm';
            return n;
        }
        if (full_bogus_eid(s, n)) {
            *kind = 'b';
            return n;
        }
    }
    return 0;
}

/* A numeric port range, decimal on both sides: pcap_nametoportrange reads
 * it with sscanf "%d-%d" and looks nothing up (0x10-20 it would: %d
 * stops at the x). Stricter than libpcap, which ignores a trailer. */
static int full_range(const char *s, size_t n)
{
    size_t a = span(s, n, is_digit);

    return a > 0 && a + 1 < n && s[a] == '-' &&
           span(s + a + 1, n - a - 1, is_digit) == n - a - 1;
}

static int refuse(char *err, size_t errlen, const char *fmt, const char *tok,
                  size_t toklen)
{
    char word[TCPI_BPF_MAX_TOKEN + 1];
    size_t n = toklen < TCPI_BPF_MAX_TOKEN ? toklen : TCPI_BPF_MAX_TOKEN;

    memcpy(word, tok, n);
    word[n] = '\0';
    snprintf(err, errlen, fmt, word);
    return -1;
}

/* Why a word is refused, from the keyword before it. */
static const char *name_message(const char *prev, size_t prevlen)
{
#define PREV(k) (prevlen == strlen(k) && memcmp(prev, k, prevlen) == 0)
    if (prev && (PREV("port") || PREV("portrange")))
        return "\"%s\" is not a port number: service names are not looked "
               "up here; give numbers (port 80, portrange 8000-8080)";
    if (prev && (PREV("proto") || PREV("protochain")))
        return "\"%s\" is not a protocol number: protocol names are not "
               "looked up here; give numbers (ip proto 6, ip6 protochain 17)";
#undef PREV
    return "\"%s\" is not a filter keyword: names (hosts, networks, "
           "services, protocols) are not looked up here; give numeric "
           "addresses and numbers (host 10.1.2.3, net 10.0.0.0/8, port 80, "
           "ether host 00:11:22:33:44:55)";
}

int tcpi_bpfcheck(tcpi_bpfcheck_stats_t *st, const char *expr, char *err,
                  size_t errlen)
{
    static const char *const two[] = { ">=", "<=", "!=", "==", "<<", ">>",
                                       "&&", "||" };
    size_t len = strnlen(expr, TCPI_BPF_MAX_LEN + 1);
    const char *prev = NULL;       /* the previous token, when a word */
    size_t prevlen = 0;
    tcpi_bpfcheck_stats_t c = { 0, 0 };

    if (len > TCPI_BPF_MAX_LEN) {
        snprintf(err, errlen, "longer than %d bytes (compiling long "
                 "expressions costs too much for a page)", TCPI_BPF_MAX_LEN);
        return -1;
    }
    for (size_t i = 0; i < len;) {
        const char *s = expr + i;
        size_t n = 0, l_id, l_col;
        int kind = 0, word = 0;

        if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
            i++;
            continue;
        }
        c.tokens++;
        if (*s == '\\')
            return refuse(err, errlen, "\"%s\": escaped names are looked up; "
                          "give the number instead (ip proto 6, ether proto "
                          "0x0800)", s, strcspn(s, " !()\n\t"));
        for (size_t k = 0; k < sizeof(two) / sizeof(two[0]) && !n; k++)
            if (s[0] == two[k][0] && s[1] == two[k][1])
                n = 2;
        if (n) {
            if ((s[0] == '&' || s[0] == '|') && ++c.ops > TCPI_BPF_MAX_OPS)
                goto too_many;
            prev = NULL;
            i += n;
            continue;
        }
        l_col = colon_len(s, &kind);
        if (*s == ':' && l_col <= 1) {
            prev = NULL;
            i++;
            continue;
        }
        if (strchr("+-*/%[]!<>()&|^=", *s) != NULL) {
            if (*s == '!' && ++c.ops > TCPI_BPF_MAX_OPS)
                goto too_many;
            prev = NULL;
            i++;
            continue;
        }
        l_id = id_len(s);
        if (l_id == 0 && l_col == 0) {
            char ch[8];
            if ((unsigned char)*s >= 0x21 && (unsigned char)*s < 0x7f)
                snprintf(ch, sizeof(ch), "%c", *s);
            else
                snprintf(ch, sizeof(ch), "\\x%02x", (unsigned char)*s);
            return refuse(err, errlen, "unexpected character '%s'", ch,
                          strlen(ch));
        }
        if (kind == 'l')
            return refuse(err, errlen, "\"%s...\": word longer than 64 "
                          "bytes", s, l_col);
        if (l_col > l_id) {
            n = l_col;
            if (kind == 'b')
                return refuse(err, errlen, "\"%s\" is not an address", s, n);
        } else {
            n = l_id;
            if (n > TCPI_BPF_MAX_TOKEN)
                return refuse(err, errlen, "\"%s...\": word longer than 64 "
                              "bytes", s, n);
            if (is_keyword(s, n)) {
                word = 1;
                if ((n == 3 && (!memcmp(s, "and", 3) || !memcmp(s, "not", 3))) ||
                    (n == 2 && !memcmp(s, "or", 2)))
                    if (++c.ops > TCPI_BPF_MAX_OPS)
                        goto too_many;
            } else if (!full_num(s, n) && !full_hid(s, n, 0) &&
                       !full_mac_nocolon(s, n) &&
                       !(prev && prevlen == 9 &&
                         !memcmp(prev, "portrange", 9) && full_range(s, n))) {
                return refuse(err, errlen, name_message(prev, prevlen), s, n);
            }
        }
        prev = word ? s : NULL;
        prevlen = word ? n : 0;
        i += n;
    }
    if (st)
        *st = c;
    return 0;
too_many:
    snprintf(err, errlen, "more than %d and/or/not operators (compiling "
             "larger expressions costs too much for a page)",
             TCPI_BPF_MAX_OPS);
    return -1;
}
