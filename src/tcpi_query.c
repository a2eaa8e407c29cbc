/* tcpi_query.c — packet selection over the ring (tcpi_query.h). */
#include "tcpi_query.h"

#include <stdio.h>
#include <string.h>

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
    q->prog_linktype[q->nprog++] = linktype;
    return 0;
}

int tcpi_query_init(tcpi_query_t *q, const tcpi_shm_t *shm, int iface,
                    const char *filter, char *err, size_t errlen)
{
    memset(q, 0, sizeof(*q));
    q->shm = shm;
    q->ring = tcpi_shm_ring((tcpi_shm_t *)shm);
    q->iface = iface;
    if (filter == NULL || *filter == '\0')
        return 0;
    q->have_filter = 1;
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
        memset(&h, 0, sizeof(h));
        h.caplen = rec->caplen;
        h.len = rec->wirelen;
        return pcap_offline_filter(&q->prog[i], &h, data) != 0;
    }
    return 0;      /* a link type the filter was not compiled for */
}

void tcpi_query_start(tcpi_query_t *q, uint8_t *buf, size_t bufsize)
{
    uint64_t tail, head, n, found = 0;
    tcpi_ring_rec_t rec;

    if (q->ring == NULL) {
        q->next = q->end = 0;
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
    if (q->limit == 0 || q->next >= head)
        return;
    /* Walk back from the newest packet until `limit` matches are found. */
    for (n = head; n > q->next; n--) {
        if (tcpi_ring_read(&rec, buf, bufsize, q->ring, n - 1) != 0)
            break;                     /* older ones are gone as well */
        if (tcpi_query_match(q, &rec, buf) && ++found == q->limit) {
            n--;
            break;
        }
    }
    if (n > q->next)
        q->next = n;
}

int tcpi_query_next(tcpi_query_t *q, tcpi_ring_rec_t *rec, uint8_t *buf,
                    size_t bufsize)
{
    while (q->next < q->end) {
        uint64_t n = q->next++;
        if (tcpi_ring_read(rec, buf, bufsize, q->ring, n) != 0) {
            q->skipped_gone++;
            continue;
        }
        if (tcpi_query_match(q, rec, buf))
            return 1;
    }
    return 0;
}

void tcpi_query_free(tcpi_query_t *q)
{
    for (int i = 0; i < q->nprog; i++)
        pcap_freecode(&q->prog[i]);
    q->nprog = 0;
}
