/* tcpi_pcapfile.c — pcap/pcapng writers and a bounds-checked reader
 * (tcpi_pcapfile.h). Block layouts: draft-ietf-opsawg-pcapng sections 4.1
 * (SHB), 4.2 (IDB), 4.3 (EPB), 4.4 (SPB), 4.6 (ISB), appendix A (OPB). */
#include "tcpi_pcapfile.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PCAP_MAGIC_US   0xa1b2c3d4u
#define PCAP_MAGIC_NS   0xa1b23c4du
#define NG_SHB          0x0a0d0d0au
#define NG_IDB          0x00000001u
#define NG_OPB          0x00000002u
#define NG_SPB          0x00000003u
#define NG_ISB          0x00000005u
#define NG_EPB          0x00000006u
#define NG_DSB          0x0000000au
#define NG_BOM          0x1a2b3c4du

enum {
    OPT_ENDOFOPT = 0, OPT_COMMENT = 1,
    SHB_USERAPPL = 4,
    IF_NAME = 2, IF_DESCRIPTION = 3, IF_TSRESOL = 9, IF_FILTER = 11,
    ISB_STARTTIME = 2, ISB_ENDTIME = 3, ISB_IFRECV = 4, ISB_IFDROP = 5,
    ISB_OSDROP = 7, ISB_USRDELIV = 8,
};

#define OPT_MAXLEN 65535u

/* ---- writers ---------------------------------------------------------- */

static void le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void le32(uint8_t *p, uint32_t v)
{
    le16(p, (uint16_t)v);
    le16(p + 2, (uint16_t)(v >> 16));
}

static void put32(tcpi_out_t *o, uint32_t v)
{
    uint8_t b[4];
    le32(b, v);
    tcpi_out_mem(o, b, 4);
}

static uint32_t pad4(uint32_t n) { return (n + 3u) & ~3u; }

static void put_pad(tcpi_out_t *o, uint32_t n)
{
    static const uint8_t zero[4];
    if (n & 3u)
        tcpi_out_mem(o, zero, 4 - (n & 3u));
}

/* An option's bytes on the wire: header, value, padding. */
static uint32_t opt_size(uint32_t len) { return 4 + pad4(len); }

static uint32_t str_len(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > OPT_MAXLEN ? OPT_MAXLEN : (uint32_t)n;
}

/* Write one option; the value is `pre` (0 or 1 byte) followed by v[0..n). */
static void put_opt(tcpi_out_t *o, uint16_t code, const uint8_t *pre,
                    uint32_t npre, const void *v, uint32_t n)
{
    uint8_t h[4];
    le16(h, code);
    le16(h + 2, (uint16_t)(npre + n));
    tcpi_out_mem(o, h, 4);
    if (npre)
        tcpi_out_mem(o, pre, npre);
    tcpi_out_mem(o, v, n);
    put_pad(o, npre + n);
}

static void put_opt_u64(tcpi_out_t *o, uint16_t code, uint64_t v)
{
    uint8_t b[8];
    le32(b, (uint32_t)v);
    le32(b + 4, (uint32_t)(v >> 32));
    put_opt(o, code, NULL, 0, b, 8);
}

/* Timestamps in if_tsresol units (ns) as the high and low 32-bit words. */
static void put_ts(tcpi_out_t *o, uint64_t ts)
{
    put32(o, (uint32_t)(ts >> 32));
    put32(o, (uint32_t)ts);
}

void tcpi_pcap_write_header(tcpi_out_t *o, int32_t linktype, uint32_t snaplen)
{
    uint8_t h[24];
    le32(h, PCAP_MAGIC_US);
    le16(h + 4, 2);
    le16(h + 6, 4);
    le32(h + 8, 0);                     /* thiszone */
    le32(h + 12, 0);                    /* sigfigs */
    le32(h + 16, snaplen);
    le32(h + 20, (uint32_t)linktype);
    tcpi_out_mem(o, h, sizeof(h));
}

void tcpi_pcap_write_packet(tcpi_out_t *o, uint64_t ts_ns, uint32_t caplen,
                            uint32_t wirelen, const uint8_t *data)
{
    uint8_t h[16];
    le32(h, (uint32_t)(ts_ns / 1000000000u));
    le32(h + 4, (uint32_t)(ts_ns % 1000000000u / 1000u));
    le32(h + 8, caplen);
    le32(h + 12, wirelen);
    tcpi_out_mem(o, h, sizeof(h));
    tcpi_out_mem(o, data, caplen);
}

void tcpi_pcapng_write_shb(tcpi_out_t *o, const char *appl)
{
    uint32_t na = str_len(appl);
    uint32_t opts = appl ? opt_size(na) + 4 : 0;
    uint32_t total = 28 + opts;

    put32(o, NG_SHB);
    put32(o, total);
    put32(o, NG_BOM);
    put32(o, 1u | (0u << 16));          /* version 1.0 */
    put32(o, 0xffffffffu);              /* section length unknown (-1) */
    put32(o, 0xffffffffu);
    if (appl) {
        put_opt(o, SHB_USERAPPL, NULL, 0, appl, na);
        put32(o, OPT_ENDOFOPT);
    }
    put32(o, total);
}

void tcpi_pcapng_write_idb(tcpi_out_t *o, const tcpi_pcapng_if_t *ifc)
{
    static const uint8_t filter_type = 0;   /* libpcap filter string */
    static const uint8_t tsresol = 9;
    uint32_t nn = str_len(ifc->name), nd = str_len(ifc->description);
    uint32_t nf = str_len(ifc->filter);
    uint32_t total, opts = opt_size(1) + 4;
    uint8_t h[8];

    if (nf > OPT_MAXLEN - 1)
        nf = OPT_MAXLEN - 1;
    if (ifc->name)
        opts += opt_size(nn);
    if (ifc->description)
        opts += opt_size(nd);
    if (ifc->filter)
        opts += opt_size(1 + nf);
    total = 20 + opts;
    put32(o, NG_IDB);
    put32(o, total);
    le16(h, (uint16_t)ifc->linktype);
    le16(h + 2, 0);
    le32(h + 4, ifc->snaplen);
    tcpi_out_mem(o, h, 8);
    if (ifc->name)
        put_opt(o, IF_NAME, NULL, 0, ifc->name, nn);
    if (ifc->description)
        put_opt(o, IF_DESCRIPTION, NULL, 0, ifc->description, nd);
    if (ifc->filter)
        put_opt(o, IF_FILTER, &filter_type, 1, ifc->filter, nf);
    put_opt(o, IF_TSRESOL, NULL, 0, &tsresol, 1);
    put32(o, OPT_ENDOFOPT);
    put32(o, total);
}

void tcpi_pcapng_write_epb(tcpi_out_t *o, uint32_t ifid, uint64_t ts_ns,
                           uint32_t caplen, uint32_t wirelen,
                           const uint8_t *data, const char *comment)
{
    uint32_t nc = str_len(comment);
    uint32_t opts = comment ? opt_size(nc) + 4 : 0;
    uint32_t total = 32 + pad4(caplen) + opts;

    put32(o, NG_EPB);
    put32(o, total);
    put32(o, ifid);
    put_ts(o, ts_ns);
    put32(o, caplen);
    put32(o, wirelen);
    tcpi_out_mem(o, data, caplen);
    put_pad(o, caplen);
    if (comment) {
        put_opt(o, OPT_COMMENT, NULL, 0, comment, nc);
        put32(o, OPT_ENDOFOPT);
    }
    put32(o, total);
}

void tcpi_pcapng_write_isb(tcpi_out_t *o, uint32_t ifid, uint64_t ts_ns,
                           uint64_t ifrecv, uint64_t ifdrop,
                           uint64_t osdrop, uint64_t usrdeliv)
{
    const uint64_t v[4] = { ifrecv, ifdrop, osdrop, usrdeliv };
    static const uint16_t code[4] = { ISB_IFRECV, ISB_IFDROP, ISB_OSDROP,
                                      ISB_USRDELIV };
    uint8_t ts[8];
    uint32_t opts = opt_size(8) + 4, total;

    for (int i = 0; i < 4; i++)
        if (v[i] != UINT64_MAX)
            opts += opt_size(8);
    total = 24 + opts;
    put32(o, NG_ISB);
    put32(o, total);
    put32(o, ifid);
    put_ts(o, ts_ns);
    /* isb_endtime: same high/low word order as the block timestamp. */
    le32(ts, (uint32_t)(ts_ns >> 32));
    le32(ts + 4, (uint32_t)ts_ns);
    put_opt(o, ISB_ENDTIME, NULL, 0, ts, 8);
    for (int i = 0; i < 4; i++)
        if (v[i] != UINT64_MAX)
            put_opt_u64(o, code[i], v[i]);
    put32(o, OPT_ENDOFOPT);
    put32(o, total);
}

void tcpi_pcapng_write_dsb(tcpi_out_t *o, uint32_t secrets_type,
                           const void *data, uint32_t len)
{
    uint32_t total = 20 + pad4(len);

    put32(o, NG_DSB);
    put32(o, total);
    put32(o, secrets_type);
    put32(o, len);
    tcpi_out_mem(o, data, len);
    put_pad(o, len);
    put32(o, total);
}

/* ---- reader ----------------------------------------------------------- */

static int fail(tcpi_capfile_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(tcpi_capfile_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof(r->err), fmt, ap);
    va_end(ap);
    return -1;
}

/* Callers have checked that p[0..n) lies inside the buffer. */
static uint16_t rd16(const tcpi_capfile_t *r, const uint8_t *p)
{
    return r->bigendian ? (uint16_t)(p[0] << 8 | p[1])
                        : (uint16_t)(p[1] << 8 | p[0]);
}

static uint32_t rd32(const tcpi_capfile_t *r, const uint8_t *p)
{
    return r->bigendian
        ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
        : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint64_t rd64(const tcpi_capfile_t *r, const uint8_t *p)
{
    uint64_t a = rd32(r, p), b = rd32(r, p + 4);
    return r->bigendian ? a << 32 | b : b << 32 | a;
}

static uint32_t rd32le(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* if_tsresol units -> ns. Bit 7 clear: 10^-v s; set: 2^-(v & 0x7f) s. */
static uint64_t ts_to_ns(uint8_t res, uint64_t t)
{
    if (res & 0x80) {
        unsigned k = res & 0x7f;
        return (uint64_t)(((unsigned __int128)t * 1000000000u) >> k);
    }
    uint64_t f = 1;
    if (res <= 9) {
        for (unsigned i = res; i < 9; i++)
            f *= 10;
        return t * f;
    }
    for (unsigned i = 9; i < res; i++)
        f *= 10;
    return t / f;
}

static void copy_str(char *dst, size_t dstlen, const uint8_t *p, size_t n)
{
    if (n >= dstlen)
        n = dstlen - 1;
    memcpy(dst, p, n);
    dst[n] = '\0';
}

/* Walk an option list p[0..n): calls fn for each option up to
 * opt_endofopt. -1 (with r->err) when an option runs past the end. */
typedef int opt_fn(tcpi_capfile_t *r, void *ctx, uint16_t code,
                   const uint8_t *v, uint16_t len);

static int walk_opts(tcpi_capfile_t *r, const uint8_t *p, size_t n,
                     size_t at, opt_fn *fn, void *ctx)
{
    size_t i = 0;
    while (n - i >= 4) {
        uint16_t code = rd16(r, p + i), len = rd16(r, p + i + 2);
        if (code == OPT_ENDOFOPT)
            return 0;
        if (pad4(len) > n - i - 4)
            return fail(r, "pcapng: option %u at offset %zu: length %u runs "
                        "past its block", code, at + i, len);
        if (fn(r, ctx, code, p + i + 4, len) != 0)
            return -1;
        i += 4 + pad4(len);
    }
    return 0;
}

static int idb_opt(tcpi_capfile_t *r, void *ctx, uint16_t code,
                   const uint8_t *v, uint16_t len)
{
    tcpi_capfile_if_t *ifc = ctx;
    switch (code) {
    case IF_NAME:
        copy_str(ifc->name, sizeof(ifc->name), v, len);
        break;
    case IF_DESCRIPTION:
        copy_str(ifc->description, sizeof(ifc->description), v, len);
        break;
    case IF_FILTER:
        if (len >= 1 && v[0] == 0)
            copy_str(ifc->filter, sizeof(ifc->filter), v + 1, len - 1u);
        break;
    case IF_TSRESOL:
        if (len != 1)
            return fail(r, "pcapng: if_tsresol has length %u, not 1", len);
        if ((v[0] & 0x80) ? (v[0] & 0x7f) > 63 : v[0] > 19)
            return fail(r, "pcapng: if_tsresol %#x is out of range", v[0]);
        ifc->tsresol = v[0];
        break;
    }
    return 0;
}

static int pkt_opt(tcpi_capfile_t *r, void *ctx, uint16_t code,
                   const uint8_t *v, uint16_t len)
{
    tcpi_capfile_pkt_t *pkt = ctx;
    if (code == OPT_COMMENT && pkt->comment == NULL) {
        pkt->comment = (const char *)v;
        pkt->comment_len = len;
    }
    return 0;
}

static int isb_opt(tcpi_capfile_t *r, void *ctx, uint16_t code,
                   const uint8_t *v, uint16_t len)
{
    tcpi_capfile_if_t *ifc = ctx;
    uint64_t *dst = code == ISB_IFRECV ? &ifc->ifrecv
                  : code == ISB_IFDROP ? &ifc->ifdrop
                  : code == ISB_OSDROP ? &ifc->osdrop
                  : code == ISB_USRDELIV ? &ifc->usrdeliv : NULL;
    if (dst == NULL)
        return 0;
    if (len != 8)
        return fail(r, "pcapng: statistics option %u has length %u, not 8",
                    code, len);
    *dst = rd64(r, v);
    return 0;
}

static int open_pcap(tcpi_capfile_t *r)
{
    uint32_t m = rd32le(r->buf);
    if (m == PCAP_MAGIC_US || m == PCAP_MAGIC_NS) {
        r->bigendian = 0;
    } else {
        r->bigendian = 1;
        m = rd32(r, r->buf);
        if (m != PCAP_MAGIC_US && m != PCAP_MAGIC_NS)
            return fail(r, "not a pcap or pcapng file (magic %08x)",
                        rd32le(r->buf));
    }
    if (r->len < 24)
        return fail(r, "pcap: file header truncated (%zu of 24 bytes)", r->len);
    r->nsec = m == PCAP_MAGIC_NS;
    r->nif = 1;
    r->ifc[0].snaplen = rd32(r, r->buf + 16);
    r->ifc[0].linktype = (int32_t)(rd32(r, r->buf + 20) & 0xffff);
    r->ifc[0].tsresol = r->nsec ? 9 : 6;
    r->pos = 24;
    return 0;
}

int tcpi_capfile_open(tcpi_capfile_t *r, const uint8_t *buf, size_t len)
{
    memset(r, 0, sizeof(*r));
    r->buf = buf;
    r->len = len;
    if (len < 4)
        return fail(r, "file too short (%zu bytes)", len);
    if (rd32le(buf) != NG_SHB)
        return open_pcap(r);
    r->pcapng = 1;
    if (len < 12)
        return fail(r, "pcapng: section header truncated (%zu bytes)", len);
    /* The SHB is parsed by the block loop; check its byte-order mark now
     * so a non-pcapng file fails at open. */
    if (rd32le(buf + 8) != NG_BOM && rd32le(buf + 8) != 0x4d3c2b1au)
        return fail(r, "pcapng: bad byte-order magic %08x", rd32le(buf + 8));
    return 0;
}

static int next_pcap(tcpi_capfile_t *r, tcpi_capfile_pkt_t *pkt)
{
    size_t left = r->len - r->pos;
    const uint8_t *p = r->buf + r->pos;

    if (left == 0)
        return 0;
    if (left < 16)
        return fail(r, "pcap: record header at offset %zu truncated (%zu of "
                    "16 bytes)", r->pos, left);
    uint32_t sec = rd32(r, p), frac = rd32(r, p + 4);
    uint32_t caplen = rd32(r, p + 8), wirelen = rd32(r, p + 12);
    if (caplen > left - 16)
        return fail(r, "pcap: record at offset %zu: caplen %u exceeds the "
                    "%zu bytes left", r->pos, caplen, left - 16);
    memset(pkt, 0, sizeof(*pkt));
    pkt->linktype = r->ifc[0].linktype;
    pkt->ts_ns = (uint64_t)sec * 1000000000u
               + (r->nsec ? frac : (uint64_t)frac * 1000u);
    pkt->caplen = caplen;
    pkt->wirelen = wirelen;
    pkt->data = p + 16;
    r->pos += 16 + (size_t)caplen;
    return 1;
}

/* The body of a block: p[0..n) between the length words. */
static int ng_shb(tcpi_capfile_t *r, const uint8_t *p, size_t n)
{
    if (n < 16)
        return fail(r, "pcapng: section header at offset %zu too short",
                    r->pos);
    if (rd16(r, p + 4) != 1)
        return fail(r, "pcapng: unsupported major version %u",
                    rd16(r, p + 4));
    r->nif = 0;
    r->sections++;
    return 0;
}

static int ng_idb(tcpi_capfile_t *r, const uint8_t *p, size_t n)
{
    tcpi_capfile_if_t *ifc;
    if (n < 8)
        return fail(r, "pcapng: interface block at offset %zu too short",
                    r->pos);
    if (r->nif >= TCPI_CAPFILE_MAX_IFACES)
        return fail(r, "pcapng: more than %d interfaces",
                    TCPI_CAPFILE_MAX_IFACES);
    ifc = &r->ifc[r->nif];
    memset(ifc, 0, sizeof(*ifc));
    ifc->linktype = rd16(r, p);
    ifc->snaplen = rd32(r, p + 4);
    ifc->tsresol = 6;
    ifc->ifrecv = ifc->ifdrop = ifc->osdrop = ifc->usrdeliv = UINT64_MAX;
    if (walk_opts(r, p + 8, n - 8, r->pos + 16, idb_opt, ifc) != 0)
        return -1;
    r->nif++;
    return 0;
}

static int ng_iface(tcpi_capfile_t *r, uint32_t ifid, const char *what)
{
    if (ifid >= r->nif)
        return fail(r, "pcapng: %s at offset %zu names interface %u, but "
                    "only %u are described", what, r->pos, ifid, r->nif);
    return 0;
}

/* EPB (hdr 20 bytes) and OPB (hdr 20 bytes, 16-bit interface id). */
static int ng_pkt(tcpi_capfile_t *r, const uint8_t *p, size_t n, int opb,
                  tcpi_capfile_pkt_t *pkt)
{
    const char *what = opb ? "packet block" : "enhanced packet block";
    if (n < 20)
        return fail(r, "pcapng: %s at offset %zu too short", what, r->pos);
    uint32_t ifid = opb ? rd16(r, p) : rd32(r, p);
    if (ng_iface(r, ifid, what) != 0)
        return -1;
    uint64_t ts = (uint64_t)rd32(r, p + 4) << 32 | rd32(r, p + 8);
    uint32_t caplen = rd32(r, p + 12);
    if (caplen > n - 20 || pad4(caplen) > n - 20)
        return fail(r, "pcapng: %s at offset %zu: caplen %u exceeds the "
                    "block", what, r->pos, caplen);
    memset(pkt, 0, sizeof(*pkt));
    pkt->ifid = ifid;
    pkt->linktype = r->ifc[ifid].linktype;
    pkt->ts_ns = ts_to_ns(r->ifc[ifid].tsresol, ts);
    pkt->caplen = caplen;
    pkt->wirelen = rd32(r, p + 16);
    pkt->data = p + 20;
    size_t o = 20 + pad4(caplen);
    return walk_opts(r, p + o, n - o, r->pos + 8 + o, pkt_opt, pkt);
}

static int ng_spb(tcpi_capfile_t *r, const uint8_t *p, size_t n,
                  tcpi_capfile_pkt_t *pkt)
{
    if (n < 4)
        return fail(r, "pcapng: simple packet block at offset %zu too short",
                    r->pos);
    if (ng_iface(r, 0, "simple packet block") != 0)
        return -1;
    uint32_t wirelen = rd32(r, p);
    uint32_t caplen = wirelen;
    if (r->ifc[0].snaplen && caplen > r->ifc[0].snaplen)
        caplen = r->ifc[0].snaplen;
    if (caplen > n - 4)
        caplen = (uint32_t)(n - 4);
    memset(pkt, 0, sizeof(*pkt));
    pkt->linktype = r->ifc[0].linktype;
    pkt->caplen = caplen;
    pkt->wirelen = wirelen;
    pkt->data = p + 4;
    return 0;
}

static int ng_isb(tcpi_capfile_t *r, const uint8_t *p, size_t n)
{
    if (n < 12)
        return fail(r, "pcapng: statistics block at offset %zu too short",
                    r->pos);
    uint32_t ifid = rd32(r, p);
    if (ng_iface(r, ifid, "statistics block") != 0)
        return -1;
    r->ifc[ifid].have_stats = 1;
    return walk_opts(r, p + 12, n - 12, r->pos + 20, isb_opt, &r->ifc[ifid]);
}

static int next_pcapng(tcpi_capfile_t *r, tcpi_capfile_pkt_t *pkt)
{
    for (;;) {
        size_t left = r->len - r->pos;
        const uint8_t *p = r->buf + r->pos;
        if (left == 0)
            return 0;
        if (left < 12)
            return fail(r, "pcapng: block header at offset %zu truncated "
                        "(%zu bytes left)", r->pos, left);
        uint32_t type = rd32le(p);
        if (type == NG_SHB) {
            uint32_t bom = rd32le(p + 8);
            if (bom != NG_BOM && bom != 0x4d3c2b1au)
                return fail(r, "pcapng: bad byte-order magic at offset %zu",
                            r->pos);
            r->bigendian = bom != NG_BOM;
        } else if (r->sections == 0) {
            return fail(r, "pcapng: no section header before offset %zu",
                        r->pos);
        } else {
            type = rd32(r, p);
        }
        uint32_t total = rd32(r, p + 4);
        if (total < 12 || total % 4 != 0 || total > left)
            return fail(r, "pcapng: block type %#x at offset %zu: bad total "
                        "length %u (%zu bytes left)", type, r->pos, total,
                        left);
        if (rd32(r, p + total - 4) != total)
            return fail(r, "pcapng: block at offset %zu: trailing length %u "
                        "differs from %u", r->pos, rd32(r, p + total - 4),
                        total);
        const uint8_t *body = p + 8;
        size_t n = total - 12;
        int rc = 0, got = 0;
        switch (type) {
        case NG_SHB: rc = ng_shb(r, body, n); break;
        case NG_IDB: rc = ng_idb(r, body, n); break;
        case NG_ISB: rc = ng_isb(r, body, n); break;
        case NG_EPB: rc = ng_pkt(r, body, n, 0, pkt); got = 1; break;
        case NG_OPB: rc = ng_pkt(r, body, n, 1, pkt); got = 1; break;
        case NG_SPB: rc = ng_spb(r, body, n, pkt); got = 1; break;
        case NG_DSB:                    /* counted, its secrets not kept */
            r->secrets_blocks++;
            break;
        default: break;                 /* NRB, custom...: skipped */
        }
        if (rc != 0)
            return -1;
        r->pos += total;
        if (got)
            return 1;
    }
}

int tcpi_capfile_next(tcpi_capfile_t *r, tcpi_capfile_pkt_t *pkt)
{
    if (r->err[0])
        return -1;
    return r->pcapng ? next_pcapng(r, pkt) : next_pcap(r, pkt);
}
