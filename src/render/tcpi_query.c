/* tcpi_query.c — packet selection over the ring (tcpi_query.h). */
#include "tcpi_query.h"
#include "tcpi_bpfcheck.h"
#include "tcpi/decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The headers-only copy: bytes [0, dirty) may be non-zero, the rest are.
 * Allocated zeroed at the largest record size (pages never touched stay
 * unmapped), so each frame costs a copy of its headers only. */
struct tcpi_query_hdrbuf {
    uint32_t size, dirty;
    uint8_t  data[];
};

/* The budget's clock is checked once per this many records. */
#define CLOCK_EVERY 64

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int add_prog(tcpi_query_t *q, int32_t linktype, const char *filter,
                    char *err, size_t errlen)
{
    pcap_t *dead;

    for (int i = 0; i < q->nprog; i++)
        if (q->prog_linktype[i] == linktype)
            return 0;
    if (q->nprog >= TCPI_QUERY_MAX_LINKTYPES) {
        snprintf(err, errlen, "too many link types");
        return -1;
    }
    dead = pcap_open_dead(linktype, 262144);
    if (dead == NULL) {
        snprintf(err, errlen, "cannot open a libpcap handle");
        return -1;
    }
    if (pcap_compile(dead, &q->prog[q->nprog], filter, 1,
                     PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(err, errlen, "%s", pcap_geterr(dead));
        pcap_close(dead);
        return -1;
    }
    pcap_close(dead);
    if (q->prog[q->nprog].bf_len > TCPI_BPF_MAX_INSNS) {
        snprintf(err, errlen, "compiles to %u BPF instructions, more than "
                 "%d: run for every packet examined, that costs too much "
                 "for a page", q->prog[q->nprog].bf_len, TCPI_BPF_MAX_INSNS);
        pcap_freecode(&q->prog[q->nprog]);
        return -1;
    }
    q->prog_linktype[q->nprog++] = linktype;
    return 0;
}

int tcpi_query_init_ex(tcpi_query_t *q, const tcpi_shm_t *shm, int iface,
                       const char *filter, unsigned flags, char *err,
                       size_t errlen)
{
    memset(q, 0, sizeof(*q));
    q->shm = shm;
    q->ring = tcpi_shm_ring((tcpi_shm_t *)shm);
    q->iface = iface;
    q->budget_packets = TCPI_QUERY_BUDGET_PACKETS;
    q->budget_ns = TCPI_QUERY_BUDGET_MS * 1000000ull;
    if (filter == NULL || *filter == '\0')
        return 0;
    q->have_filter = 1;
    q->headers_only = !(flags & TCPI_QUERY_PAYLOAD);
    /* No name lookup, no compile beyond the bounds. */
    if (tcpi_bpfcheck(NULL, filter, err, errlen) != 0)
        return -1;
    if (q->headers_only) {
        q->hdr = calloc(1, sizeof(*q->hdr) + TCPI_RING_MAX_RECORD);
        if (q->hdr == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        q->hdr->size = TCPI_RING_MAX_RECORD;
    }
    /* Compile for the link types the selected handles have, and always
     * once for Ethernet so a bad expression is reported even when no
     * handle is active yet. */
    if (add_prog(q, DLT_EN10MB, filter, err, errlen) != 0)
        goto fail;
    for (uint32_t i = 0; i < shm->niface && i < TCPI_MAX_IFACES; i++) {
        int32_t lt = atomic_load(&((tcpi_shm_t *)shm)->iface[i].linktype);
        if ((iface >= 0 && (uint32_t)iface != i) || lt < 0)
            continue;
        if (add_prog(q, lt, filter, err, errlen) != 0)
            goto fail;
    }
    return 0;
fail:
    tcpi_query_free(q);
    return -1;
}

int tcpi_query_init(tcpi_query_t *q, const tcpi_shm_t *shm, int iface,
                    const char *filter, char *err, size_t errlen)
{
    return tcpi_query_init_ex(q, shm, iface, filter, 0, err, errlen);
}

/* Link-layer header length as the decoder walked it (VLAN tags included). */
static uint32_t link_len(const tcpi_pkt_t *p)
{
    switch (p->linktype) {
    case TCPI_LINKTYPE_EN10MB:
        return 14u + 4u * p->nvlan;
    case TCPI_LINKTYPE_LINUX_SLL:
        return 16u + 4u * p->nvlan;
    case TCPI_LINKTYPE_LINUX_SLL2:
        return 20u + 4u * p->nvlan;
    case TCPI_LINKTYPE_NULL:
    case TCPI_LINKTYPE_LOOP:
        return 4;
    default:                        /* RAW, IPV4, IPV6 */
        return 0;
    }
}

uint32_t tcpi_query_headers_len(int32_t linktype, const uint8_t *data,
                                uint32_t caplen, uint32_t wirelen)
{
    tcpi_pkt_t p;
    uint32_t keep;

    switch (tcpi_decode(&p, linktype, data, caplen, wirelen)) {
    case TCPI_DR_ok:
        keep = p.payload_off;
        break;
    /* The frame ends inside a header: every captured byte is header. */
    case TCPI_DR_link_truncated:
    case TCPI_DR_ip_truncated:
    case TCPI_DR_tcp_truncated:
        keep = caplen;
        break;
    case TCPI_DR_not_ip:
        keep = link_len(&p);
        break;
    case TCPI_DR_ip_bad_version:
        keep = p.ip_off;
        break;
    case TCPI_DR_ip_hlen_too_small:
        keep = p.ip_off + 20;
        break;
    case TCPI_DR_ip6_ext_truncated:
        keep = p.ip_off + 40;       /* the chain was not walked to its end */
        break;
    case TCPI_DR_ip_len_too_small:
    case TCPI_DR_ip_fragment:
    case TCPI_DR_not_tcp:
        /* IPv4 header with options; IPv6 40 + the extensions walked */
        keep = p.ip_off + (p.ip_hlen ? p.ip_hlen : (p.family == 6 ? 40 : 20));
        break;
    case TCPI_DR_tcp_hlen_too_small:
    case TCPI_DR_tcp_hlen_too_long:
        keep = p.tcp_off + 20;
        break;
    default:                        /* link_unsupported */
        keep = 0;
        break;
    }
    return keep < caplen ? keep : caplen;
}

/* data with every byte past its headers zero, in q->hdr; NULL if it does
 * not fit (then the filter sees nothing: no match). */
static const uint8_t *headers_view(tcpi_query_hdrbuf_t *hb,
                                   const tcpi_ring_rec_t *rec,
                                   const uint8_t *data)
{
    uint32_t keep;

    if (hb == NULL || rec->caplen > hb->size)
        return NULL;
    keep = tcpi_query_headers_len(rec->linktype, data, rec->caplen,
                                  rec->wirelen);
    memcpy(hb->data, data, keep);
    if (hb->dirty > keep)
        memset(hb->data + keep, 0, hb->dirty - keep);
    hb->dirty = keep;
    return hb->data;
}

int tcpi_query_match(const tcpi_query_t *q, const tcpi_ring_rec_t *rec,
                     const uint8_t *data)
{
    struct pcap_pkthdr h;

    if (q->iface >= 0 && rec->iface != q->iface)
        return 0;
    if (q->from_ts_ns && rec->ts_ns < q->from_ts_ns)
        return 0;
    if (!q->have_filter)
        return 1;
    for (int i = 0; i < q->nprog; i++) {
        if (q->prog_linktype[i] != rec->linktype)
            continue;
        if (q->headers_only && (data = headers_view(q->hdr, rec, data)) == NULL)
            return 0;
        memset(&h, 0, sizeof(h));
        h.caplen = rec->caplen;
        h.len = rec->wirelen;
        return pcap_offline_filter(&q->prog[i], &h, data) != 0;
    }
    return 0;      /* a link type the filter was not compiled for */
}

/* Charge one more record to the budget, started at t0 in this call;
 * 0 when the budget is spent (nothing charged). */
static int charge(tcpi_query_t *q, uint64_t t0)
{
    if (q->budget_packets && q->examined >= q->budget_packets)
        return 0;
    if (q->budget_ns && q->examined % CLOCK_EVERY == 0 &&
        q->spent_ns + (now_ns() - t0) >= q->budget_ns)
        return 0;
    q->examined++;
    return 1;
}

static int counted(const tcpi_query_t *q, const tcpi_ring_rec_t *rec,
                   const uint8_t *data)
{
    return tcpi_query_match(q, rec, data) &&
           (q->count_if == NULL || q->count_if(q->count_ctx, rec, data));
}

void tcpi_query_start(tcpi_query_t *q, uint8_t *buf, size_t bufsize)
{
    uint64_t tail, head, n, found = 0, t0 = now_ns();
    tcpi_ring_rec_t rec;

    q->examined = q->spent_ns = 0;
    q->truncated = 0;
    if (q->ring == NULL) {
        q->next = q->end = q->paid = 0;
        return;
    }
    tcpi_ring_bounds(&tail, &head, q->ring);
    q->end = head;
    q->next = tail > q->since ? tail : q->since;
    if (q->from_ts_ns) {
        uint64_t t = tcpi_ring_seek_time(q->ring, q->from_ts_ns);
        if (t > q->next)
            q->next = t;
    }
    q->paid = q->next;
    if (q->limit == 0 || q->next >= head)
        goto out;
    if (q->oldest) {
        /* Forward from next to the limit-th counted match. */
        for (n = q->next; n < head; n++) {
            if (!charge(q, t0)) {
                q->truncated = 1;
                break;
            }
            if (tcpi_ring_read(&rec, buf, bufsize, q->ring, n) != 0)
                continue;                  /* overwritten meanwhile */
            if (counted(q, &rec, buf) && ++found == q->limit) {
                n++;
                break;
            }
        }
        q->end = q->paid = n;
    } else {
        /* Back from the newest until `limit` counted matches are found. */
        for (n = head; n > q->next; n--) {
            if (!charge(q, t0)) {
                q->truncated = 1;
                break;
            }
            if (tcpi_ring_read(&rec, buf, bufsize, q->ring, n - 1) != 0)
                break;                     /* older ones are gone as well */
            if (counted(q, &rec, buf) && ++found == q->limit) {
                n--;
                break;
            }
        }
        if (n > q->next)
            q->next = n;
        q->paid = q->end;
    }
out:
    q->spent_ns += now_ns() - t0;
}

int tcpi_query_next(tcpi_query_t *q, tcpi_ring_rec_t *rec, uint8_t *buf,
                    size_t bufsize)
{
    uint64_t t0 = now_ns();
    int rc = 0;

    while (q->next < q->end) {
        uint64_t n = q->next;
        if (n >= q->paid) {
            if (!charge(q, t0)) {
                q->truncated = 1;
                q->end = n;
                break;
            }
            q->paid = n + 1;
        }
        q->next++;
        if (tcpi_ring_read(rec, buf, bufsize, q->ring, n) != 0) {
            q->skipped_gone++;
            continue;
        }
        if (tcpi_query_match(q, rec, buf)) {
            rc = 1;
            break;
        }
    }
    q->spent_ns += now_ns() - t0;
    return rc;
}

void tcpi_query_free(tcpi_query_t *q)
{
    for (int i = 0; i < q->nprog; i++)
        pcap_freecode(&q->prog[i]);
    q->nprog = 0;
    free(q->hdr);
    q->hdr = NULL;
}
