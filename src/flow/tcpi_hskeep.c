/* tcpi_hskeep.c — the handshake keeper (tcpi_hskeep.h). */
#include "tcpi_hskeep.h"
#include "tcpi/decode.h"

#include <stdlib.h>
#include <string.h>

#define CT_CCS      20
#define CT_HANDSHAKE 22
#define CT_APPDATA  23

/* sync bits of tcpi_flow_hs_t: 1 << d known, 4 << d lost */
#define SYNCED(d) (1u << (d))
#define LOST(d)   (4u << (d))

struct tcpi_hskeep {
    tcpi_ring_t       *store;
    const tcpi_ring_t *ring;
    tcpi_ports_t       kept;
    tcpi_hskeep_stats_t st;
    uint8_t            buf[TCPI_RING_MAX_RECORD];
};

tcpi_hskeep_t *tcpi_hskeep_create(tcpi_ring_t *store, const tcpi_ring_t *ring,
                                  const tcpi_ports_t *kept)
{
    tcpi_hskeep_t *k = calloc(1, sizeof(*k));

    if (k == NULL)
        return NULL;
    k->store = store;
    k->ring = ring;
    if (kept != NULL && store != NULL && ring != NULL)
        k->kept = *kept;
    return k;
}

void tcpi_hskeep_destroy(tcpi_hskeep_t *k)
{
    free(k);
}

void tcpi_hskeep_stats(tcpi_hskeep_stats_t *st, const tcpi_hskeep_t *k)
{
    if (k == NULL) {
        memset(st, 0, sizeof(*st));
    } else {
        *st = k->st;
        st->active = k->kept.n > 0;
    }
}

/* Packet number n of the packet ring into the store, whole (it stays
 * in k->buf): its captured length, or 0 when the ring no longer has it. */
static uint32_t copy(tcpi_hskeep_t *k, tcpi_flow_hs_t *h, uint64_t n)
{
    tcpi_ring_rec_t r;

    if (n == UINT64_MAX ||
        tcpi_ring_read(&r, k->buf, sizeof(k->buf), k->ring, n) != 0) {
        k->st.missed++;
        return 0;
    }
    tcpi_ring_write(k->store, r.ts_ns, r.iface, r.linktype, r.caplen,
                    r.wirelen, k->buf);
    k->st.packets++;
    h->pkts++;
    h->bytes += r.caplen;
    return r.caplen;
}

static int is_syn(uint8_t flags)
{
    return (flags & (TCPI_TH_SYN | TCPI_TH_ACK)) == TCPI_TH_SYN;
}

/* The flow's packets before the ClientHello (the newest event, which is
 * the ClientHello itself, is not one), back to the client's SYN. */
static void keep_before(tcpi_hskeep_t *k, const tcpi_flowtab_t *ft,
                        const tcpi_flow_t *f, tcpi_flow_hs_t *h,
                        uint64_t this_n)
{
    uint64_t n[TCPI_HSKEEP_BEFORE];
    unsigned m = 0;
    int lost = 0;
    const tcpi_flow_ev_t *e = tcpi_flow_last(ft, f);

    if (e != NULL && e->ring_n == this_n)
        e = tcpi_flow_prev(ft, e, &lost);
    for (; e != NULL && m < TCPI_HSKEEP_BEFORE && e->ts_ns >= h->syn_ns;
         e = tcpi_flow_prev(ft, e, &lost)) {
        n[m++] = e->ring_n;
        if (is_syn(e->flags) && e->dir == h->cdir && e->ts_ns == h->syn_ns)
            break;
    }
    while (m > 0)
        copy(k, h, n[--m]);
}

/* Direction d's records in this segment (seq, payload[0..n) captured of
 * len): the record headers that begin in it. */
static void follow(tcpi_flow_hs_t *h, int d, uint32_t seq,
                   const uint8_t *payload, size_t n, uint32_t len)
{
    uint32_t off;

    if (h->sync & LOST(d))
        return;
    if (!(h->sync & SYNCED(d))) {
        h->rec_next[d] = seq;
        h->sync |= SYNCED(d);
    }
    if (tcpi_seq_leq(seq + len, h->rec_next[d]))
        return;                            /* inside a record, or again */
    if (tcpi_seq_lt(h->rec_next[d], seq)) {
        h->sync |= LOST(d);                /* a gap: bytes not seen */
        return;
    }
    if (n > len)
        n = len;                           /* (frame padding) */
    off = h->rec_next[d] - seq;
    while (off < len) {
        unsigned type;
        if ((size_t)off + 5 > n || payload[off + 1] != 3) {
            h->sync |= LOST(d);            /* split, cut, or not TLS */
            return;
        }
        type = payload[off];
        if (type == CT_CCS)
            h->ccs |= (uint8_t)(1u << d);
        else if (type == CT_APPDATA && d == h->cdir && h->app_c < 255)
            h->app_c++;
        off += 5u + ((unsigned)payload[off + 3] << 8 | payload[off + 4]);
    }
    h->rec_next[d] = seq + off;
}

/* Whether the handshake has finished (tcpi_hskeep.h). */
static int finished(const tcpi_flow_hs_t *h)
{
    if (h->tls == 5)                       /* TLS 1.3 */
        return h->app_c >= 1;
    if (h->tls >= 1 && h->tls <= 4)
        return h->ccs == 3;
    return 0;
}

/* t is more than d after t0 (never when t is not after it: packets of
 * two interfaces need not come in time order). */
static int later(uint64_t t, uint64_t t0, uint64_t d)
{
    return t > t0 && t - t0 > d;
}

void tcpi_hskeep_packet(tcpi_hskeep_t *k, const tcpi_flowtab_t *ft,
                        tcpi_flow_t *f, const tcpi_pkt_t *p,
                        const tcpi_ring_rec_t *rec, const uint8_t *payload,
                        size_t n)
{
    tcpi_flow_hs_t *h;
    tcpi_flow_key_t key;
    uint32_t caplen;
    int dir;

    if (k == NULL || k->kept.n == 0 || f == NULL)
        return;
    h = &f->hs;
    /* most packets: a flow not being kept, and no SYN */
    if (!is_syn(p->flags) && h->state != TCPI_HS_WAIT &&
        h->state != TCPI_HS_KEEP)
        return;
    tcpi_flow_key(&key, &dir, p->family, p->src, p->sport, p->dst, p->dport);
    if (is_syn(p->flags)) {
        /* The same SYN again (sent again, or seen on a second interface)
         * changes nothing; another ISN is another connection. */
        if (h->state != TCPI_HS_NONE && h->cdir == dir && h->isn == p->seq)
            return;
        memset(h, 0, sizeof(*h));
        if (tcpi_ports_has(&k->kept, p->dport)) {
            h->state = TCPI_HS_WAIT;
            h->cdir = (uint8_t)dir;
            h->isn = p->seq;
            h->syn_ns = h->last_ns = rec->ts_ns;
        }
        return;
    }
    if (h->state == TCPI_HS_WAIT) {
        if (later(rec->ts_ns, h->syn_ns, TCPI_HSKEEP_NS) ||
            (p->flags & (TCPI_TH_FIN | TCPI_TH_RST))) {
            h->state = TCPI_HS_DONE;
            return;
        }
        if (p->payload_len == 0)
            return;
        if (dir != h->cdir || n < 3 || payload[0] != CT_HANDSHAKE ||
            payload[1] != 3) {
            h->state = TCPI_HS_DONE;       /* not a TLS client */
            return;
        }
        h->state = TCPI_HS_KEEP;
        k->st.connections++;
        keep_before(k, ft, f, h, rec->n);
    } else if (h->state != TCPI_HS_KEEP) {
        return;
    } else if (h->done && later(rec->ts_ns, h->last_ns, TCPI_HSKEEP_IDLE_NS)) {
        h->state = TCPI_HS_DONE;           /* idle since: what comes next */
        k->st.complete++;                  /* is the ring's */
        return;
    }
    if (rec->ts_ns > h->last_ns)
        h->last_ns = rec->ts_ns;
    /* The records are read from the whole copy: the bytes handed in are
     * only the decoder's first ones. */
    caplen = copy(k, h, rec->n);
    if (p->payload_len > 0) {
        const uint8_t *pl = k->buf + p->payload_off;
        size_t pn = caplen > p->payload_off ? caplen - p->payload_off : 0;

        /* the version, from the server's whole hello (one bigger than the
         * decoder's copy, as a post-quantum key share makes it) */
        if (dir != h->cdir && h->tls == 0) {
            unsigned v = f->fs.tls ? 0x0300u + f->fs.tls - 1u
                                   : tcpi_tlsrec_server_version(pl, pn);
            if (v >= 0x0300 && v <= 0x0304)
                h->tls = (uint8_t)(v - 0x0300 + 1);
        }
        follow(h, dir, p->seq, pl, pn, p->payload_len);
        h->done = h->done || finished(h);
    }
    if (p->flags & (TCPI_TH_FIN | TCPI_TH_RST)) {
        h->state = TCPI_HS_DONE;
    } else if (h->pkts >= TCPI_HSKEEP_PKTS || h->bytes >= TCPI_HSKEEP_BYTES ||
               later(rec->ts_ns, h->syn_ns, TCPI_HSKEEP_NS - 1)) {
        h->state = TCPI_HS_DONE;
        k->st.cut++;
    }
}
