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

/* tcpi_query_start's verdicts: bit n - base is set when record n passed
 * interface, time and filter; known for [lo, hi), what the search
 * examined of [base, base + count). */
struct tcpi_query_verdicts {
    uint64_t base, count, lo, hi;
    uint8_t  bits[];
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
    q->pkt_why = -1;
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
    int why = tcpi_decode(&p, linktype, data, caplen, wirelen);

    return tcpi_query_headers_len_of(&p, why, caplen);
}

uint32_t tcpi_query_headers_len_of(const tcpi_pkt_t *p, int why,
                                   uint32_t caplen)
{
    uint32_t keep;

    switch (why) {
    case TCPI_DR_ok:
        keep = p->payload_off;
        break;
    /* The frame ends inside a header: every captured byte is header. */
    case TCPI_DR_link_truncated:
    case TCPI_DR_ip_truncated:
    case TCPI_DR_tcp_truncated:
        keep = caplen;
        break;
    case TCPI_DR_not_ip:
        keep = link_len(p);
        break;
    case TCPI_DR_ip_bad_version:
        keep = p->ip_off;
        break;
    case TCPI_DR_ip_hlen_too_small:
        keep = p->ip_off + 20;
        break;
    case TCPI_DR_ip6_ext_truncated:
        keep = p->ip_off + 40;      /* the chain was not walked to its end */
        break;
    case TCPI_DR_ip_len_too_small:
    case TCPI_DR_ip_fragment:
    case TCPI_DR_not_tcp:
        /* IPv4 header with options; IPv6 40 + the extensions walked */
        keep = p->ip_off + (p->ip_hlen ? p->ip_hlen
                                       : (p->family == 6 ? 40 : 20));
        break;
    case TCPI_DR_tcp_hlen_too_small:
    case TCPI_DR_tcp_hlen_too_long:
        keep = p->tcp_off + 20;
        break;
    default:                        /* link_unsupported */
        keep = 0;
        break;
    }
    return keep < caplen ? keep : caplen;
}

/* data with every byte from keep on zero, in hb; NULL if it does not fit
 * (then the filter sees nothing: no match). */
static const uint8_t *headers_view(tcpi_query_hdrbuf_t *hb,
                                   const tcpi_ring_rec_t *rec,
                                   const uint8_t *data, uint32_t keep)
{
    if (hb == NULL || rec->caplen > hb->size)
        return NULL;
    memcpy(hb->data, data, keep);
    if (hb->dirty > keep)
        memset(hb->data + keep, 0, hb->dirty - keep);
    hb->dirty = keep;
    return hb->data;
}

int tcpi_query_decode(tcpi_query_t *q, const tcpi_pkt_t **pkt,
                      const tcpi_ring_rec_t *rec, const uint8_t *data)
{
    if (q->pkt_why < 0) {
        q->pkt_why = tcpi_decode(&q->pkt, rec->linktype, data, rec->caplen,
                                 rec->wirelen);
        q->decoded++;
    }
    *pkt = &q->pkt;
    return q->pkt_why;
}

/* The program for the record's link type: NULL when the record is not
 * selected (interface, time, a link type the filter was not compiled
 * for); *all set when there is no filter. */
static const struct bpf_program *program(const tcpi_query_t *q,
                                         const tcpi_ring_rec_t *rec, int *all)
{
    *all = 0;
    if (q->iface >= 0 && rec->iface != q->iface)
        return NULL;
    if (q->from_ts_ns && rec->ts_ns < q->from_ts_ns)
        return NULL;
    if (!q->have_filter) {
        *all = 1;
        return NULL;
    }
    for (int i = 0; i < q->nprog; i++)
        if (q->prog_linktype[i] == rec->linktype)
            return &q->prog[i];
    return NULL;
}

static int run_filter(const struct bpf_program *prog,
                      const tcpi_ring_rec_t *rec, const uint8_t *data)
{
    struct pcap_pkthdr h;

    if (data == NULL)
        return 0;
    memset(&h, 0, sizeof(h));
    h.caplen = rec->caplen;
    h.len = rec->wirelen;
    return pcap_offline_filter(prog, &h, data) != 0;
}

int tcpi_query_match(const tcpi_query_t *q, const tcpi_ring_rec_t *rec,
                     const uint8_t *data)
{
    int all;
    const struct bpf_program *prog = program(q, rec, &all);

    if (prog == NULL)
        return all;
    if (q->headers_only)
        data = headers_view(q->hdr, rec, data,
                            tcpi_query_headers_len(rec->linktype, data,
                                                   rec->caplen, rec->wirelen));
    return run_filter(prog, rec, data);
}

/* tcpi_query_match for the record just read, its decode kept for the
 * caller (tcpi_query_decode). */
static int match(tcpi_query_t *q, const tcpi_ring_rec_t *rec,
                 const uint8_t *data)
{
    int all;
    const struct bpf_program *prog = program(q, rec, &all);

    if (prog == NULL)
        return all;
    if (q->headers_only) {
        const tcpi_pkt_t *pkt;
        int why = tcpi_query_decode(q, &pkt, rec, data);
        data = headers_view(q->hdr, rec, data,
                            tcpi_query_headers_len_of(pkt, why, rec->caplen));
    }
    return run_filter(prog, rec, data);
}

/* Copy record n into rec/buf: 0, or -1 when it is gone. */
static int read_rec(tcpi_query_t *q, tcpi_ring_rec_t *rec, uint8_t *buf,
                    size_t bufsize, uint64_t n)
{
    q->pkt_why = -1;
    if (tcpi_ring_read(rec, buf, bufsize, q->ring, n) != 0)
        return -1;
    q->read++;
    return 0;
}

/* 1 passed, 0 rejected (or gone), -1 not known. */
static int verdict(const tcpi_query_verdicts_t *v, uint64_t n)
{
    if (v == NULL || n < v->lo || n >= v->hi)
        return -1;
    n -= v->base;
    return v->bits[n / 8] >> (n % 8) & 1;
}

static void set_verdict(tcpi_query_verdicts_t *v, uint64_t n)
{
    if (v != NULL && n >= v->base && n - v->base < v->count) {
        n -= v->base;
        v->bits[n / 8] |= (uint8_t)(1u << (n % 8));
    }
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

/* Record n just read: does it pass, and does it count toward limit? */
static int counted(tcpi_query_t *q, const tcpi_ring_rec_t *rec,
                   const uint8_t *data, uint64_t n)
{
    if (!match(q, rec, data))
        return 0;
    set_verdict(q->verdicts, n);
    return q->count_if == NULL || q->count_if(q->count_ctx, rec, data);
}

/* Every record counts: the window is a range of packet numbers, found
 * without reading one (a record overwritten meanwhile is skipped when the
 * window is read). Charged as if examined. */
static void start_unread(tcpi_query_t *q, uint64_t head)
{
    uint64_t n = head - q->next < q->limit ? head - q->next : q->limit;

    if (q->budget_packets && n > q->budget_packets) {
        n = q->budget_packets;
        q->truncated = 1;
    }
    q->examined = n;
    if (q->oldest)
        q->end = q->next + n;
    else
        q->next = head - n;
    q->paid = q->end;
}

void tcpi_query_start(tcpi_query_t *q, uint8_t *buf, size_t bufsize)
{
    uint64_t tail, head, n, found = 0, t0 = now_ns();
    tcpi_query_verdicts_t *v;
    tcpi_ring_rec_t rec;

    q->examined = q->spent_ns = 0;
    q->truncated = 0;
    free(q->verdicts);
    q->verdicts = NULL;
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
    if (!q->have_filter && q->iface < 0 && !q->from_ts_ns) {
        if (q->count_if == NULL) {
            start_unread(q, head);
            goto out;
        }
    } else {
        /* Keep the verdicts of the records nearest the window's start:
         * the first ones forward, the newest ones backward. Without
         * memory the filter runs again as the window is read. */
        uint64_t count = head - q->next < TCPI_QUERY_VERDICTS_MAX
                         ? head - q->next : TCPI_QUERY_VERDICTS_MAX;
        if ((v = calloc(1, sizeof(*v) + (count + 7) / 8)) != NULL) {
            v->count = count;
            v->base = q->oldest ? q->next : head - count;
            q->verdicts = v;
        }
    }
    if (q->oldest) {
        /* Forward from next to the limit-th counted match. */
        for (n = q->next; n < head; n++) {
            if (!charge(q, t0)) {
                q->truncated = 1;
                break;
            }
            if (read_rec(q, &rec, buf, bufsize, n) != 0)
                continue;                  /* overwritten meanwhile */
            if (counted(q, &rec, buf, n) && ++found == q->limit) {
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
            if (read_rec(q, &rec, buf, bufsize, n - 1) != 0)
                break;                     /* older ones are gone as well */
            if (counted(q, &rec, buf, n - 1) && ++found == q->limit) {
                n--;
                break;
            }
        }
        if (n > q->next)
            q->next = n;
        q->paid = q->end;
    }
    if ((v = q->verdicts) != NULL) {
        /* Known: what was examined of what the bits cover. */
        v->lo = q->next > v->base ? q->next : v->base;
        v->hi = q->end < v->base + v->count ? q->end : v->base + v->count;
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
        int known = verdict(q->verdicts, n);
        if (known == 0)
            continue;                      /* rejected, or gone, already */
        if (read_rec(q, rec, buf, bufsize, n) != 0) {
            q->skipped_gone++;
            continue;
        }
        if (known == 1 || match(q, rec, buf)) {
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
    free(q->verdicts);
    q->verdicts = NULL;
}
