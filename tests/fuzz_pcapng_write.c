/* libFuzzer target: interfaces and packets taken from the input are
 * written as pcapng (and the packets of interface 0 as classic pcap),
 * read back, and must come out exactly as they went in. */
#include "pcapfile/tcpi_pcapfile.h"

#include <stdlib.h>
#include <string.h>

#define MAXPKT 64

typedef struct { const uint8_t *p; size_t n; } in_t;

static uint64_t take(in_t *in, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) {
        v = v << 8 | (in->n ? *in->p : 0);
        if (in->n) { in->p++; in->n--; }
    }
    return v;
}

/* A string of up to max-1 bytes without NUL (the writer takes C strings). */
static char *take_str(in_t *in, size_t max, char *dst)
{
    size_t len = take(in, 1) % max;
    if (len == 0 && take(in, 1) & 1)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        char c = (char)take(in, 1);
        dst[i] = c ? c : '0';
    }
    dst[len] = '\0';
    return dst;
}

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char names[4][3][300], comments[MAXPKT][300];
    static tcpi_pcapng_if_t ifs[4];
    static struct { uint32_t ifid, caplen, wirelen; uint64_t ts;
                    const uint8_t *data; const char *comment; } pk[MAXPKT];
    static tcpi_out_t o;
    static tcpi_capfile_t r;
    in_t in = { data, size };
    tcpi_membuf_t m = { 0 }, c = { 0 };
    uint32_t nif = (uint32_t)(take(&in, 1) % 4) + 1;
    int npk = 0;

    for (uint32_t i = 0; i < nif; i++) {
        ifs[i].linktype = (int32_t)take(&in, 2);
        ifs[i].snaplen = (uint32_t)take(&in, 4);
        ifs[i].name = take_str(&in, 64, names[i][0]);
        ifs[i].description = take_str(&in, 64, names[i][1]);
        ifs[i].filter = take_str(&in, 256, names[i][2]);
    }
    while (in.n > 0 && npk < MAXPKT) {
        pk[npk].ifid = (uint32_t)take(&in, 1) % nif;
        pk[npk].ts = take(&in, 8);
        pk[npk].wirelen = (uint32_t)take(&in, 4);
        pk[npk].caplen = (uint32_t)(take(&in, 1) % 80);
        if (pk[npk].caplen > in.n)
            pk[npk].caplen = (uint32_t)in.n;
        pk[npk].data = in.p;
        in.p += pk[npk].caplen;
        in.n -= pk[npk].caplen;
        pk[npk].comment = take_str(&in, 300, comments[npk]);
        npk++;
    }

    tcpi_out_init(&o, tcpi_membuf_sink, &m);
    tcpi_pcapng_write_shb(&o, "fuzz");
    for (uint32_t i = 0; i < nif; i++)
        tcpi_pcapng_write_idb(&o, &ifs[i]);
    for (int k = 0; k < npk; k++)
        tcpi_pcapng_write_epb(&o, pk[k].ifid, pk[k].ts, pk[k].caplen,
                              pk[k].wirelen, pk[k].data, pk[k].comment);
    for (uint32_t i = 0; i < nif; i++)
        tcpi_pcapng_write_isb(&o, i, 1, i, i % 2 ? UINT64_MAX : 7, 8, 9);
    check(tcpi_out_flush(&o) == 0);

    tcpi_out_init(&o, tcpi_membuf_sink, &c);
    tcpi_pcap_write_header(&o, ifs[0].linktype, ifs[0].snaplen);
    for (int k = 0; k < npk; k++)
        if (pk[k].ifid == 0)
            tcpi_pcap_write_packet(&o, pk[k].ts, pk[k].caplen, pk[k].wirelen,
                                   pk[k].data);
    check(tcpi_out_flush(&o) == 0);

    tcpi_capfile_pkt_t got;
    int n = 0, rc;
    check(m.len % 4 == 0);
    check(tcpi_capfile_open(&r, (uint8_t *)m.data, m.len) == 0);
    while ((rc = tcpi_capfile_next(&r, &got)) == 1) {
        check(n < npk);
        check(got.ifid == pk[n].ifid && got.ts_ns == pk[n].ts);
        check(got.linktype == (ifs[got.ifid].linktype & 0xffff));
        check(got.caplen == pk[n].caplen && got.wirelen == pk[n].wirelen);
        check(memcmp(got.data, pk[n].data, got.caplen) == 0);
        if (pk[n].comment)
            check(got.comment_len == strlen(pk[n].comment)
                  && memcmp(got.comment, pk[n].comment, got.comment_len) == 0);
        else
            check(got.comment == NULL);
        n++;
    }
    check(rc == 0 && n == npk && r.nif == nif);
    for (uint32_t i = 0; i < nif; i++) {
        check(strcmp(r.ifc[i].name, ifs[i].name ? ifs[i].name : "") == 0);
        check(strcmp(r.ifc[i].description,
                     ifs[i].description ? ifs[i].description : "") == 0);
        check(strcmp(r.ifc[i].filter, ifs[i].filter ? ifs[i].filter : "") == 0);
        check(r.ifc[i].snaplen == ifs[i].snaplen && r.ifc[i].tsresol == 9);
        check(r.ifc[i].have_stats && r.ifc[i].ifrecv == i && r.ifc[i].osdrop == 8
              && r.ifc[i].ifdrop == (i % 2 ? UINT64_MAX : 7));
    }

    n = 0;
    check(tcpi_capfile_open(&r, (uint8_t *)c.data, c.len) == 0);
    check(r.ifc[0].linktype == (ifs[0].linktype & 0xffff));
    for (int k = 0; k < npk; k++) {
        if (pk[k].ifid != 0)
            continue;
        check(tcpi_capfile_next(&r, &got) == 1);
        check(got.ts_ns == pk[k].ts / 1000 * 1000
              || pk[k].ts / 1000000000u > UINT32_MAX);
        check(got.caplen == pk[k].caplen && got.wirelen == pk[k].wirelen);
        check(memcmp(got.data, pk[k].data, got.caplen) == 0);
    }
    check(tcpi_capfile_next(&r, &got) == 0);
    free(m.data);
    free(c.data);
    return 0;
}
