/* tcpi_flow.c — flow table and per-packet TCP analysis (tcpi_flow.h). */
#include "tcpi_flow.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(TCPI_AN_COUNT <= TCPI_FS_NAN, "flowstate counts every bit");

#define OOO_DEFAULT_NS   3000000ull     /* Wireshark: 3 ms without an RTT */
#define FAST_RETRANS_NS 20000000ull     /* dup ACKs at most 20 ms before */
#define EVICTED_LEN     4096u           /* evicted flows' times, by hash */

struct tcpi_flowtab {
    uint32_t mask;
    uint64_t ev_mask;
    uint64_t ev_next;              /* number of the next event */
    tcpi_flow_ev_t *ev;            /* the pool: event n in ev[n & ev_mask] */
    tcpi_flowtab_stats_t st;
    uint64_t evicted_ns[EVICTED_LEN];   /* newest last_ns evicted, by hash */
    tcpi_flow_t flow[];
};

static const struct { const char *name, *text; } an_names[] = {
#define TCPI_AN_NAME(name, bit, text) { #name, text },
    TCPI_FLOW_ANOMALIES(TCPI_AN_NAME)
#undef TCPI_AN_NAME
};

const char *tcpi_flow_an_name(int bit)
{
    return bit >= 0 && bit < TCPI_AN_COUNT ? an_names[bit].name : "unknown";
}

const char *tcpi_flow_an_text(int bit)
{
    return bit >= 0 && bit < TCPI_AN_COUNT ? an_names[bit].text : "unknown";
}

tcpi_flowtab_t *tcpi_flowtab_create(uint32_t nflows, uint64_t nevents)
{
    uint32_t n = 16;
    uint64_t e = 16;
    tcpi_flowtab_t *t;

    while (n < nflows && n < (1u << 24))
        n <<= 1;
    while (e < nevents && e < (1ull << 28))
        e <<= 1;
    t = calloc(1, sizeof(*t) + (size_t)n * sizeof(tcpi_flow_t));
    if (t == NULL)
        return NULL;
    t->ev = calloc(e, sizeof(tcpi_flow_ev_t));
    if (t->ev == NULL) {
        free(t);
        return NULL;
    }
    t->mask = n - 1;
    t->ev_mask = e - 1;
    t->st.capacity = n;
    t->st.pool = e;
    return t;
}

void tcpi_flowtab_destroy(tcpi_flowtab_t *t)
{
    if (t == NULL)
        return;
    free(t->ev);
    free(t);
}

void tcpi_flowtab_stats(tcpi_flowtab_stats_t *st, const tcpi_flowtab_t *t)
{
    *st = t->st;
}

static int ep_cmp(const uint8_t *a, uint16_t pa, const uint8_t *b, uint16_t pb,
                  size_t alen)
{
    int c = memcmp(a, b, alen);
    return c ? c : (int)pa - (int)pb;
}

void tcpi_flow_key(tcpi_flow_key_t *key, int *dir, uint8_t family,
                   const uint8_t *src, uint16_t sport, const uint8_t *dst,
                   uint16_t dport)
{
    size_t alen = family == 6 ? 16 : 4;

    memset(key, 0, sizeof(*key));
    key->family = family;
    if (ep_cmp(src, sport, dst, dport, alen) <= 0) {
        memcpy(key->a, src, alen), key->pa = sport;
        memcpy(key->b, dst, alen), key->pb = dport;
        *dir = 0;
    } else {
        memcpy(key->a, dst, alen), key->pa = dport;
        memcpy(key->b, src, alen), key->pb = sport;
        *dir = 1;
    }
}

/* FNV-1a over the key's bytes (it is memset, so padding is zero). */
static uint32_t key_hash(const tcpi_flow_key_t *k)
{
    const uint8_t *p = (const uint8_t *)k;
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < sizeof(*k); i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static tcpi_flow_t *lookup(const tcpi_flowtab_t *t, const tcpi_flow_key_t *k,
                           tcpi_flow_t **victim)
{
    uint32_t h = key_hash(k);
    tcpi_flow_t *old = NULL;

    for (uint32_t i = 0; i < TCPI_FLOW_PROBE; i++) {
        tcpi_flow_t *f = (tcpi_flow_t *)&t->flow[(h + i) & t->mask];
        if (!f->used) {
            if (victim && (old == NULL || old->used))
                old = f;
            continue;
        }
        if (memcmp(&f->key, k, sizeof(*k)) == 0)
            return f;
        if (victim && (old == NULL || (old->used && f->last_ns < old->last_ns)))
            old = f;
    }
    if (victim)
        *victim = old;
    return NULL;
}

static void flow_reset(tcpi_flow_t *f, uint64_t ts)
{
    memset(f->d, 0, sizeof(f->d));
    f->syn_ns = 0;
    f->first_rtt_ns = 0;
    f->first_ns = ts;
    tcpi_flowstate_reset(&f->fs);
}

/* Wireshark's tcp_analyze_sequence_number, reduced to the flags it sets
 * for tcp.analysis.{retransmission,fast_retransmission,
 * spurious_retransmission,out_of_order,duplicate_ack,zero_window,
 * keep_alive}. */
static uint16_t analyse(tcpi_flow_t *f, int dir, const tcpi_pkt_t *p,
                        uint64_t ts)
{
    tcpi_flow_dir_t *fw = &f->d[dir], *rv = &f->d[!dir];
    uint32_t seglen = p->payload_len;
    uint8_t fl = p->flags;
    uint16_t an = 0;
    uint32_t nextseq;

    if (p->win == 0 && !(fl & (TCPI_TH_RST | TCPI_TH_FIN | TCPI_TH_SYN)))
        an |= TCPI_AN_zero_window;
    if (fw->have_seq && seglen <= 1 &&
        !(fl & (TCPI_TH_FIN | TCPI_TH_SYN | TCPI_TH_RST)) &&
        fw->nextseq - 1 == p->seq)
        an |= TCPI_AN_keep_alive;
    if (seglen == 0 && p->win != 0 && fw->have_seq && fw->have_ack &&
        p->win == fw->win && p->seq == fw->nextseq && p->ack == fw->lastack &&
        (fl & TCPI_TH_ACK) && !(fl & (TCPI_TH_SYN | TCPI_TH_FIN | TCPI_TH_RST))) {
        an |= TCPI_AN_dup_ack;
        fw->dupacks++;
    }
    if ((seglen > 0 || (fl & (TCPI_TH_SYN | TCPI_TH_FIN))) && fw->have_seq &&
        tcpi_seq_lt(p->seq, fw->nextseq) && !(an & TCPI_AN_keep_alive)) {
        uint64_t ooo = f->first_rtt_ns ? f->first_rtt_ns : OOO_DEFAULT_NS;
        if (rv->dupacks >= 2 && rv->lastack == p->seq &&
            ts - rv->lastack_ns < FAST_RETRANS_NS)
            an |= TCPI_AN_fast_retransmission | TCPI_AN_retransmission;
        else if (ts - fw->nextseq_ns < ooo && fw->nextseq != p->seq + seglen)
            an |= TCPI_AN_out_of_order;
        else if (seglen > 0 && rv->have_ack &&
                 tcpi_seq_leq(p->seq + seglen, rv->lastack))
            an |= TCPI_AN_spurious | TCPI_AN_retransmission;
        else
            an |= TCPI_AN_retransmission;
    }

    /* Update the state as Wireshark does after the checks. */
    nextseq = p->seq + seglen + ((fl & (TCPI_TH_SYN | TCPI_TH_FIN)) ? 1 : 0);
    if (!fw->have_seq || tcpi_seq_lt(fw->nextseq, nextseq)) {
        fw->nextseq = nextseq;
        fw->nextseq_ns = ts;
        fw->have_seq = 1;
    }
    if (!fw->have_base || (fl & TCPI_TH_SYN)) {
        fw->base_seq = p->seq;
        fw->have_base = 1;
    }
    if (fl & TCPI_TH_ACK) {
        if (!fw->have_ack || p->ack != fw->lastack) {
            fw->lastack = p->ack;
            fw->lastack_ns = ts;
            fw->dupacks = 0;
        }
        fw->have_ack = 1;
    }
    fw->win = p->win;
    return an;
}

void tcpi_flow_payload(tcpi_flow_t *f, const tcpi_pkt_t *p,
                       const uint8_t *payload, size_t n)
{
    tcpi_flow_key_t k;
    unsigned v;
    int dir;

    /* cheap for every other segment: a handshake record holding a
     * ServerHello, once per connection */
    if (f == NULL || f->fs.tls || n < 6 || payload[0] != 22 || payload[5] != 2)
        return;
    /* from the responder only (a client cannot name its own version) */
    tcpi_flow_key(&k, &dir, p->family, p->src, p->sport, p->dst, p->dport);
    if (f->fs.initiator < 0 || dir == f->fs.initiator)
        return;
    v = tcpi_tlsrec_server_version(payload, n);
    if (v >= 0x0300 && v <= 0x0304)
        f->fs.tls = (uint8_t)(v - 0x0300 + 1);
}

tcpi_flow_t *tcpi_flowtab_add(tcpi_flowtab_t *t, const tcpi_pkt_t *p,
                              const tcpi_ring_rec_t *rec)
{
    uint64_t ts = rec->ts_ns;
    tcpi_flow_key_t k;
    tcpi_flow_t *f, *victim = NULL;
    tcpi_flow_ev_t *ev;
    int dir;

    tcpi_flow_key(&k, &dir, p->family, p->src, p->sport, p->dst, p->dport);
    f = lookup(t, &k, &victim);
    if (f == NULL) {
        f = victim;
        if (f->used) {
            uint64_t *e = &t->evicted_ns[key_hash(&f->key) % EVICTED_LEN];
            t->st.evictions++;
            if (f->last_ns > *e)
                *e = f->last_ns;
        }
        memset(f, 0, sizeof(*f));
        f->key = k;
        f->used = 1;
        f->first_ns = ts;
        t->st.flows++;
    }
    t->st.packets++;
    /* A SYN with a new ISN on a known tuple: the port was reused, a new
     * connection starts (the timeline stays for earlier requests). */
    if ((p->flags & (TCPI_TH_SYN | TCPI_TH_ACK)) == TCPI_TH_SYN &&
        f->d[dir].syn_seen && f->d[dir].base_seq != p->seq) {
        flow_reset(f, ts);
        t->st.reincarnations++;
    }
    /* Wireshark's first RTT: from the most recent SYN to the first
     * segment with ACK and without SYN after it, once per connection. */
    if ((p->flags & (TCPI_TH_SYN | TCPI_TH_ACK)) == TCPI_TH_SYN)
        f->syn_ns = ts;
    else if ((p->flags & (TCPI_TH_SYN | TCPI_TH_ACK)) == TCPI_TH_ACK &&
             f->syn_ns && !f->first_rtt_ns)
        f->first_rtt_ns = ts > f->syn_ns ? ts - f->syn_ns : 1;
    if (p->flags & TCPI_TH_SYN)
        f->d[dir].syn_seen = 1;
    if (f->last && t->ev_next - (f->last - 1) <= t->ev_mask)
        t->ev[(f->last - 1) & t->ev_mask].next = t->ev_next + 1;
    ev = &t->ev[t->ev_next & t->ev_mask];
    memset(ev, 0, sizeof(*ev));
    ev->prev = f->last;
    f->last = ++t->ev_next;
    ev->an = analyse(f, dir, p, ts);
    tcpi_flowstate_packet(&f->fs, dir, p->flags, p->seq, p->ack,
                          p->payload_len, ev->an, ts);
    ev->ts_ns = ts;
    ev->seq = p->seq;
    ev->ack = p->ack;
    ev->len = p->payload_len;
    ev->win = p->win;
    ev->flags = p->flags;
    ev->dir = (uint8_t)dir;
    ev->ring_n = rec->n;
    ev->iface = rec->iface;
    ev->linktype = rec->linktype;
    f->nev++;
    f->last_ns = ts;
    return f;
}

tcpi_flow_t *tcpi_flowtab_find(const tcpi_flowtab_t *t,
                                     const tcpi_endpoint_t *x,
                                     const tcpi_endpoint_t *y,
                                     int *dir_from_x)
{
    tcpi_flow_key_t k;

    if (x->family == 0 || x->family != y->family)
        return NULL;
    tcpi_flow_key(&k, dir_from_x, x->family, x->addr, x->port, y->addr,
                  y->port);
    return lookup(t, &k, NULL);
}

/* Event number n is still in the pool. */
static const tcpi_flow_ev_t *pool_ev(const tcpi_flowtab_t *t, uint64_t n)
{
    if (n >= t->ev_next || t->ev_next - n > t->ev_mask + 1)
        return NULL;
    return &t->ev[n & t->ev_mask];
}

const tcpi_flow_ev_t *tcpi_flow_last(const tcpi_flowtab_t *t,
                                     const tcpi_flow_t *f)
{
    return f->last ? pool_ev(t, f->last - 1) : NULL;
}

/* The event a link names, NULL when the link is 0 or it was overwritten
 * (*lost set then). */
static const tcpi_flow_ev_t *link_ev(const tcpi_flowtab_t *t, uint64_t link,
                                     int *lost)
{
    const tcpi_flow_ev_t *e;

    if (link == 0)
        return NULL;
    if ((e = pool_ev(t, link - 1)) == NULL && lost)
        *lost = 1;
    return e;
}

const tcpi_flow_ev_t *tcpi_flow_prev(const tcpi_flowtab_t *t,
                                     const tcpi_flow_ev_t *e, int *lost)
{
    return link_ev(t, e->prev, lost);
}

uint64_t tcpi_flowtab_evicted_ns(const tcpi_flowtab_t *t,
                                 const tcpi_endpoint_t *x,
                                 const tcpi_endpoint_t *y)
{
    tcpi_flow_key_t k;
    int dir;

    if (x->family == 0 || x->family != y->family)
        return 0;
    tcpi_flow_key(&k, &dir, x->family, x->addr, x->port, y->addr, y->port);
    return t->evicted_ns[key_hash(&k) % EVICTED_LEN];
}

uint64_t tcpi_flow_events(const tcpi_flow_ev_t **out, uint64_t max,
                          int *complete, const tcpi_flowtab_t *t,
                          tcpi_flow_t *f, const tcpi_flow_span_t *span)
{
    uint64_t cur = link_ev(t, f->hint, NULL) ? f->hint : f->last;
    uint64_t back[TCPI_FLOW_BEFORE_MAX], n = 0, nb = 0, b;
    uint32_t before = span->before < TCPI_FLOW_BEFORE_MAX ? span->before
                                                          : TCPI_FLOW_BEFORE_MAX;
    const tcpi_flow_ev_t *e = link_ev(t, cur, NULL), *x;
    int lost = 0;

    /* cur: the first event at or after the anchor (0: none), found from
     * the hint forwards or backwards */
    if (e != NULL && e->ts_ns >= span->anchor_ns) {
        while ((x = link_ev(t, e->prev, &lost)) != NULL &&
               x->ts_ns >= span->anchor_ns)
            cur = e->prev, e = x;
    } else {
        while (e != NULL && e->ts_ns < span->anchor_ns) {
            cur = e->next;
            e = link_ev(t, cur, &lost);
        }
        if (e == NULL)
            cur = 0;
    }
    if (f->last && cur == 0 && link_ev(t, f->last, NULL) == NULL)
        lost = 1;                                 /* all overwritten */
    if (cur)
        f->hint = cur;
    /* up to `before` older ones, none older than since */
    b = cur ? link_ev(t, cur, NULL)->prev : f->last;
    while (nb < before && (x = link_ev(t, b, &lost)) != NULL &&
           x->ts_ns >= span->since_ns && x->ts_ns < span->anchor_ns) {
        back[nb++] = b;
        b = x->prev;
    }
    while (nb > 0 && n < max)
        out[n++] = link_ev(t, back[--nb], NULL);
    /* then forwards to until, or to the next exchange */
    int sent = span->stop_armed, answered = 0;
    for (e = link_ev(t, cur, &lost); e != NULL && e->ts_ns <= span->until_ns;
         e = link_ev(t, e->next, &lost)) {
        if (span->stop && e->len > 0) {
            if (e->dir != span->stop_dir)
                answered = sent;
            else if (answered && e->ts_ns >= span->stop_ns)
                break;
            else {
                sent = 1;
                /* (not armed: the backend's, stop_ns create_req's time)
                 * an exchange begun before stop_ns ends at its own
                 * answer, not at the one before */
                if (!span->stop_armed && e->ts_ns < span->stop_ns)
                    answered = 0;
            }
        }
        if (n == max) {
            lost = 1;
            break;
        }
        out[n++] = e;
    }
    *complete = !lost;
    return n;
}

const tcpi_flow_t *tcpi_flowtab_slot(const tcpi_flowtab_t *t, uint32_t i)
{
    return i <= t->mask ? &t->flow[i] : NULL;
}
