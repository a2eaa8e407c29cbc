/* tcpi_reqcap.c — one request's packets from the ring (tcpi_reqcap.h). */
#include "tcpi_reqcap.h"
#include "tcpi/pcapfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Two handles' batches interleave in the ring by up to a block timeout:
 * keep scanning this far past the window before stopping. */
#define SCAN_SLOP_NS 1000000000ull

const char *tcpi_reqcap_leg_name(int leg)
{
    return leg == TCPI_LEG_FRONT ? "front"
         : leg == TCPI_LEG_BACKEND ? "backend" : "?";
}

static int ep_is(const tcpi_endpoint_t *ep, int family, const uint8_t *addr,
                 uint16_t port)
{
    return ep->family == family && ep->port == port &&
           memcmp(ep->addr, addr, family == 4 ? 4 : 16) == 0;
}

static int flow_dir(const tcpi_endpoint_t *c, const tcpi_endpoint_t *s,
                    const tcpi_pkt_t *p)
{
    if (c->family == 0 || c->family != p->family)
        return -1;
    if (ep_is(c, p->family, p->src, p->sport) &&
        ep_is(s, p->family, p->dst, p->dport))
        return 1;
    if (ep_is(s, p->family, p->src, p->sport) &&
        ep_is(c, p->family, p->dst, p->dport))
        return 0;
    return -1;
}

int tcpi_reqcap_classify(int *to_server, const tcpi_req_t *req,
                         const tcpi_pkt_t *pkt)
{
    int d = flow_dir(&req->front_client, &req->front_server, pkt);

    if (d >= 0) {
        *to_server = d;
        return TCPI_LEG_FRONT;
    }
    if (req->has_backend &&
        (d = flow_dir(&req->backend_local, &req->backend_remote, pkt)) >= 0) {
        *to_server = d;
        return TCPI_LEG_BACKEND;
    }
    return 0;
}

static int is_syn(const tcpi_reqcap_pkt_t *p)
{
    return p->to_server && (p->flags & (TCPI_TH_SYN | TCPI_TH_ACK)) == TCPI_TH_SYN;
}

/* One interim head at p[0..n): "HTTP/1.x 1yz" (not 101, which switches
 * the connection to another protocol) up to its empty line. Its length,
 * or 0. */
static size_t interim_head(const uint8_t *p, size_t n)
{
    if (n < 16 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' ||
        p[8] != ' ' || p[9] != '1' || p[10] < '0' || p[10] > '9' ||
        p[11] < '0' || p[11] > '9' || (p[10] == '0' && p[11] == '1') ||
        (p[12] != ' ' && p[12] != '\r'))
        return 0;
    for (size_t i = 12; i + 4 <= n; i++)
        if (memcmp(p + i, "\r\n\r\n", 4) == 0)
            return i + 4;
    return 0;
}

int tcpi_reqcap_interim(const uint8_t *payload, size_t len)
{
    size_t k;

    if (len == 0)
        return 0;
    while (len > 0) {
        if ((k = interim_head(payload, len)) == 0)
            return 0;
        payload += k;
        len -= k;
    }
    return 1;
}

int tcpi_reqcap_whole_front(const tcpi_req_t *req)
{
    return req->tls.on && req->tls.nkeys > 0;
}

int tcpi_reqcap_whole_backend(const tcpi_req_t *req)
{
    return req->has_backend && req->backend_tls && !req->backend_reused &&
           req->backend_keys.nkeys > 0;
}

/* Whether the front leg starts after the previous response on its
 * connection: not on a connection opened for the request (whatever the
 * server sent before it, a TLS handshake or an HTTP/2 preface, belongs to
 * it), nor when the whole connection is kept. */
static int front_cut_at_previous(const tcpi_req_t *req)
{
    return req->conn_requests > 0 && !tcpi_reqcap_whole_front(req);
}

/* The front leg: the same client before and after, so the bounds only
 * keep the file to this request. */
static void trim_front(size_t *lo, size_t *hi, const tcpi_reqcap_pkt_t *c,
                       size_t n, const tcpi_req_t *req)
{
    uint64_t start = req->start_us * 1000, end = req->end_us * 1000;
    uint64_t grace_end = end + TCPI_REQCAP_GRACE_US * 1000;
    uint64_t from = start > TCPI_REQCAP_SLACK_US * 1000 &&
                    !tcpi_reqcap_whole_front(req)
                    ? start - TCPI_REQCAP_SLACK_US * 1000 : 0;
    int cut_prev = front_cut_at_previous(req);
    size_t i, first = n, syn = SIZE_MAX;

    for (i = 0; i < n; i++)
        if (c[i].ts_ns >= from) {
            first = i;
            break;
        }
    /* Before start, whichever comes later: the handshake (from its first
     * SYN: one sent again has the same ISN), or the end of the previous
     * response on the connection. */
    for (i = 0; i < n && c[i].ts_ns <= start; i++) {
        if (is_syn(&c[i])) {
            if (syn == SIZE_MAX || first != syn || c[syn].seq != c[i].seq)
                first = syn = i;
        } else if (cut_prev && !c[i].to_server && c[i].payload_len > 0 &&
                   i + 1 > first) {
            first = i + 1;
        }
    }
    *lo = first;
    for (i = first; i < n; i++) {
        if (c[i].ts_ns > grace_end)
            break;
        if (c[i].ts_ns > end && c[i].to_server &&
            (c[i].payload_len > 0 || is_syn(&c[i])))
            break;           /* the next request (or connection) */
    }
    *hi = i < first ? first : i;
}

/* The backend leg: a pooled connection carries other clients' requests
 * before and after this one, and mod_proxy hands it on as soon as it has
 * read the response, often long before this request is logged. So the
 * leg is one exchange, as the join delimits it (tcpi_join.c
 * backend_window): from httpd's first request byte (or SYN) at or after
 * start -- on a pooled connection, of the last exchange begun by
 * create_req's time --, up to httpd's next request byte once the final
 * response began.
 * Interim 1xx heads (100-continue: httpd sends the body after one) are
 * not the final response. */
static void trim_backend(size_t *lo, size_t *hi, const tcpi_reqcap_pkt_t *c,
                         size_t n, const tcpi_req_t *req,
                         tcpi_reqcap_interim_fn interim, void *baton)
{
    uint64_t start = req->start_us * 1000, end = req->end_us * 1000;
    uint64_t grace_end = end + TCPI_REQCAP_GRACE_US * 1000;
    uint64_t at = tcpi_req_backend_at_ns(req);
    size_t i, first = n;
    int answered = 0, whole = tcpi_reqcap_whole_backend(req);

    for (i = 0; i < n; i++)
        if (c[i].ts_ns >= start && c[i].to_server &&
            (c[i].payload_len > 0 || is_syn(&c[i]))) {
            first = i;
            break;
        }
    /* On a pooled connection, the last exchange begun by create_req's
     * time (as the join takes it): not a concurrent request's before. */
    for (i = first + 1; at != 0 && i < n && c[i].ts_ns <= at; i++) {
        const tcpi_reqcap_pkt_t *p = &c[i];
        if (!p->to_server && p->payload_len > 0 &&
            !(interim != NULL && interim(baton, p)))
            answered = 1;
        else if (p->to_server && ((p->payload_len > 0 && answered) ||
                                  (is_syn(p) && p->seq != c[first].seq))) {
            first = i;
            answered = 0;
        }
    }
    answered = 0;
    *lo = first;
    for (i = first; i < n; i++) {
        const tcpi_reqcap_pkt_t *p = &c[i];
        if (p->ts_ns > grace_end)
            break;
        if (i > first && is_syn(p) &&
            !(is_syn(&c[first]) && p->seq == c[first].seq))
            break;           /* another connection on the tuple */
        if (!whole && p->to_server && p->payload_len > 0 &&
            (answered || p->ts_ns > end))
            break;           /* the next request on the connection */
        if (!p->to_server && p->payload_len > 0 && !answered &&
            !(interim != NULL && interim(baton, p)))
            answered = 1;
    }
    *hi = i;
}

void tcpi_reqcap_trim(size_t *lo, size_t *hi, const tcpi_reqcap_pkt_t *c,
                      size_t n, const tcpi_req_t *req, int leg,
                      tcpi_reqcap_interim_fn interim, void *baton)
{
    if (leg == TCPI_LEG_BACKEND)
        trim_backend(lo, hi, c, n, req, interim, baton);
    else
        trim_front(lo, hi, c, n, req);
}

/* tcpi_reqcap_interim_fn over the ring: a packet that is gone, cut by the
 * snaplen or not decodable counts as a final response (the cut that
 * keeps less). */
static int ring_interim(void *baton, const tcpi_reqcap_pkt_t *p)
{
    uint8_t buf[TCPI_DECODE_COPY + 1024];
    tcpi_ring_rec_t rec;
    tcpi_pkt_t pkt;

    if (tcpi_ring_read(&rec, buf, sizeof(buf), baton, p->n) != 0 ||
        tcpi_decode(&pkt, rec.linktype, buf, rec.caplen, rec.wirelen)
        != TCPI_DR_ok || pkt.payload_caplen != pkt.payload_len)
        return 0;
    return tcpi_reqcap_interim(buf + pkt.payload_off, pkt.payload_caplen);
}

void tcpi_reqcap_free(tcpi_reqcap_t *sel)
{
    free(sel->pkt);
    sel->pkt = NULL;
    sel->n = sel->cap = 0;
}

static int push(tcpi_reqcap_t *v, const tcpi_reqcap_pkt_t *p)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        tcpi_reqcap_pkt_t *np;
        if (cap > TCPI_REQCAP_MAX_PKTS)
            cap = TCPI_REQCAP_MAX_PKTS;
        if (v->n >= cap) {
            v->truncated = 1;
            return 0;
        }
        np = realloc(v->pkt, cap * sizeof(*np));
        if (np == NULL)
            return -1;
        v->pkt = np;
        v->cap = cap;
    }
    v->pkt[v->n++] = *p;
    return 0;
}

static void sel_init(tcpi_reqcap_t *sel, tcpi_reqcap_t leg[2])
{
    memset(sel, 0, sizeof(*sel));
    memset(leg, 0, 2 * sizeof(*leg));
    for (int i = 0; i < TCPI_MAX_IFACES; i++)
        sel->if_linktype[i] = -1;
}

/* The request's time window: [*lower, *upper] in ns. */
static void req_window(uint64_t *lower, uint64_t *upper, const tcpi_req_t *req)
{
    uint64_t back = tcpi_reqcap_whole_front(req) ? TCPI_REQCAP_WHOLE_US
                    : req->conn_requests == 0 ? TCPI_REQCAP_LOOKBACK_US
                    : TCPI_REQCAP_SLACK_US;

    *lower = req->start_us > back ? (req->start_us - back) * 1000 : 0;
    *upper = (req->end_us + TCPI_REQCAP_GRACE_US) * 1000;
}

/* 1 when payload[0..n) begins with a ClientHello whose client random is
 * random. */
static int hello_of(const uint8_t *payload, size_t n, const uint8_t *random)
{
    /* record header 5, handshake header 4, legacy_version 2, random 32 */
    return n >= 43 && payload[0] == 22 && payload[1] == 3 && payload[5] == 1 &&
           memcmp(payload + 11, random, TCPI_TLS_RANDOM_LEN) == 0;
}

/* Packets kept before the connection's first payload (SYN, SYN/ACK, ACK
 * and their retransmissions) are at most this many: past it, the list
 * starts over at the ClientHello. */
#define KEPT_BEFORE (2 * TCPI_HSKEEP_BEFORE)

/* A whole front connection whose SYN the ring no longer holds: what the
 * handshake store kept of that connection before the ring's first packet
 * of it (tcpi_reqcap.h), into kept. The connection is the one whose
 * ClientHello carries the request's client random: from its SYN when
 * that SYN's ISN is the hello's (the ISN + 1), else from the hello,
 * then its packets up to a SYN of another connection on the tuple (the
 * client's always inside its sequence space). Nothing without that
 * hello. The store is read from the window's start, within the scan's
 * budget. */
static int kept_front(tcpi_reqcap_t *kept, const tcpi_shm_t *shm,
                      const tcpi_req_t *req, const tcpi_reqcap_t *front)
{
    const tcpi_ring_t *hs = tcpi_shm_hsring((tcpi_shm_t *)shm);
    uint64_t lower, upper, tail, head, n, looked = 0;
    uint64_t t0 = tcpi_now_mono_ns();
    uint32_t isn = 0;
    int have_isn = 0, found = 0;
    uint8_t buf[TCPI_DECODE_COPY];

    if (hs == NULL || !tcpi_reqcap_whole_front(req) || !req->tls.has_random)
        return 0;
    if (front->n > 0 && is_syn(&front->pkt[0]))
        return 0;                          /* the ring has it all */
    req_window(&lower, &upper, req);
    if (front->n > 0)
        upper = front->pkt[0].ts_ns;
    tcpi_ring_bounds(&tail, &head, hs);
    for (n = tcpi_ring_seek_time(hs, lower); n < head; n++) {
        tcpi_ring_rec_t rec;
        tcpi_pkt_t pkt;
        tcpi_reqcap_pkt_t c;
        int to_server;

        if (looked >= TCPI_REQCAP_SCAN_PKTS ||
            ((looked & 4095) == 4095 &&
             tcpi_now_mono_ns() - t0 > TCPI_REQCAP_SCAN_NS))
            break;
        looked++;
        if (tcpi_ring_read(&rec, buf, sizeof(buf), hs, n) != 0)
            continue;
        if (rec.ts_ns > upper + SCAN_SLOP_NS)
            break;
        if (rec.ts_ns < lower || rec.ts_ns >= upper ||
            tcpi_decode(&pkt, rec.linktype, buf, rec.caplen, rec.wirelen)
            != TCPI_DR_ok ||
            tcpi_reqcap_classify(&to_server, req, &pkt) != TCPI_LEG_FRONT)
            continue;
        c.n = n;
        c.ts_ns = rec.ts_ns;
        c.payload_len = pkt.payload_len;
        c.iface = rec.iface;
        c.leg = TCPI_LEG_FRONT;
        c.to_server = (uint8_t)to_server;
        c.flags = pkt.flags;
        c.seq = pkt.seq;
        c.kept = 1;
        if (is_syn(&c)) {
            if (found && c.seq != isn)
                break;                     /* a later connection */
            if (!found && (!have_isn || c.seq != isn)) {
                kept->n = 0;               /* a connection starts */
                isn = c.seq;
                have_isn = 1;
            }
        } else if (!found && to_server && pkt.payload_len > 0) {
            /* the connection's first bytes: the request's hello? */
            if (hello_of(buf + pkt.payload_off, pkt.payload_caplen,
                         req->tls.client_random)) {
                found = 1;
                if (!have_isn || c.seq != isn + 1) {
                    kept->n = 0;           /* its SYN was not kept */
                    isn = c.seq - 1;
                    have_isn = 1;
                }
            } else {
                kept->n = 0;               /* another connection's */
                have_isn = 0;
                continue;
            }
        } else if (!found && kept->n >= KEPT_BEFORE) {
            kept->n = 0;
            have_isn = 0;
            continue;
        }
        if (found && to_server && (uint32_t)(c.seq - isn) >= 0x80000000u)
            continue;                      /* not in its sequence space */
        if (!found && !have_isn)
            continue;                      /* nothing to hang it on */
        if (push(kept, &c) != 0)
            return -1;
    }
    if (!found)
        kept->n = 0;
    return 0;
}

/* Trim both legs' candidates and merge them into sel in time order (ring
 * order breaks ties), the front leg after what the handshake store kept
 * of its connection's start. Frees the candidates. */
static int sel_finish(tcpi_reqcap_t *sel, tcpi_reqcap_t leg[2],
                      const tcpi_req_t *req, const tcpi_shm_t *shm)
{
    const tcpi_ring_t *ring = tcpi_shm_ring((tcpi_shm_t *)shm);
    tcpi_reqcap_t fr = { 0 }, ring_front = { 0 };
    size_t lo[2], hi[2], a, b;
    int rc = -1;

    for (int i = 0; i < 2; i++)
        tcpi_reqcap_trim(&lo[i], &hi[i], leg[i].pkt, leg[i].n, req,
                         i == 0 ? TCPI_LEG_FRONT : TCPI_LEG_BACKEND,
                         ring_interim, (void *)ring);
    ring_front.n = hi[0] - lo[0];
    ring_front.pkt = ring_front.n ? leg[0].pkt + lo[0] : NULL;
    /* the front leg: the kept packets, then the ring's */
    if (kept_front(&fr, shm, req, &ring_front) != 0)
        goto out;
    sel->kept = fr.n;
    for (size_t i = lo[0]; i < hi[0]; i++)
        if (push(&fr, &leg[0].pkt[i]) != 0)
            goto out;
    a = 0;
    b = lo[1];
    while (a < fr.n || b < hi[1]) {
        const tcpi_reqcap_pkt_t *p;
        if (b >= hi[1] ||
            (a < fr.n && (fr.pkt[a].ts_ns < leg[1].pkt[b].ts_ns ||
                          (fr.pkt[a].ts_ns == leg[1].pkt[b].ts_ns &&
                           !fr.pkt[a].kept &&
                           fr.pkt[a].n < leg[1].pkt[b].n))))
            p = &fr.pkt[a++];
        else
            p = &leg[1].pkt[b++];
        if (push(sel, p) != 0)
            goto out;
        sel->nleg[p->leg]++;
    }
    sel->truncated |= fr.truncated | leg[0].truncated | leg[1].truncated;
    rc = 0;
out:
    tcpi_reqcap_free(&fr);
    tcpi_reqcap_free(&leg[0]);
    tcpi_reqcap_free(&leg[1]);
    if (rc != 0)
        tcpi_reqcap_free(sel);
    return rc;
}

int tcpi_reqcap_select(tcpi_reqcap_t *sel, const tcpi_shm_t *shm,
                       const tcpi_req_t *req)
{
    const tcpi_ring_t *ring = tcpi_shm_ring((tcpi_shm_t *)shm);
    tcpi_reqcap_t leg[2];
    uint64_t lower, upper, tail, head, n, start = req->start_us * 1000;
    uint64_t t0 = tcpi_now_mono_ns();
    uint8_t buf[TCPI_DECODE_COPY];

    sel_init(sel, leg);
    if (ring == NULL)
        return 0;
    req_window(&lower, &upper, req);
    tcpi_ring_bounds(&tail, &head, ring);
    for (n = tcpi_ring_seek_time(ring, lower); n < head; n++) {
        tcpi_ring_rec_t rec;
        tcpi_pkt_t pkt;
        tcpi_reqcap_pkt_t c;
        int to_server, l;

        if (sel->looked_at >= TCPI_REQCAP_SCAN_PKTS ||
            ((sel->looked_at & 4095) == 4095 &&
             tcpi_now_mono_ns() - t0 > TCPI_REQCAP_SCAN_NS)) {
            sel->scan_cut = 1;
            break;
        }

        if (tcpi_ring_read(&rec, buf, sizeof(buf), ring, n) != 0)
            continue;                      /* overwritten under us */
        sel->looked_at++;
        if (rec.ts_ns > upper + SCAN_SLOP_NS)
            break;
        if (rec.ts_ns < lower || rec.ts_ns > upper)
            continue;
        if (tcpi_decode(&pkt, rec.linktype, buf, rec.caplen, rec.wirelen)
            != TCPI_DR_ok || tcpi_decode_lo_outgoing(&pkt))
            continue;                      /* as the worker's flow table */
        if ((l = tcpi_reqcap_classify(&to_server, req, &pkt)) == 0 ||
            (l == TCPI_LEG_BACKEND && rec.ts_ns < start))
            continue;                      /* (trim_backend's first) */
        c.n = n;
        c.ts_ns = rec.ts_ns;
        c.payload_len = pkt.payload_len;
        c.iface = rec.iface;
        c.leg = (uint8_t)l;
        c.to_server = (uint8_t)to_server;
        c.flags = pkt.flags;
        c.seq = pkt.seq;
        c.kept = 0;
        if (rec.iface < TCPI_MAX_IFACES)
            sel->if_linktype[rec.iface] = rec.linktype;
        if (push(&leg[l == TCPI_LEG_FRONT ? 0 : 1], &c) != 0) {
            sel_finish(sel, leg, req, shm);
            tcpi_reqcap_free(sel);
            return -1;
        }
    }
    return sel_finish(sel, leg, req, shm);
}

/* ---- from the worker's flow table -------------------------------- */

/* One leg's packets in [lower, upper] from its flow, oldest first.
 * Walking back from the newest event, the walk ends where
 * tcpi_reqcap_trim would cut anyway: on the front at the handshake's
 * first SYN (kept; past a SYN the walk goes on to the SYNs sent before it
 * with the same ISN, and keeps what it found up to the oldest of them) or
 * at the previous response before start; on the backend (lower = start)
 * at start; so a long-lived connection costs no more than its last
 * request. Running off the flow's chain first is fine only when
 * nothing before it can be missing: *incomplete is set when the pool
 * recycled an event the walk needed, or a flow of this tuple may have
 * been evicted with packets in the window. */
static int walk_flow(tcpi_reqcap_t *v, tcpi_reqcap_t *sel, int *incomplete,
                     const tcpi_flowtab_t *ft, uint64_t tail,
                     const tcpi_endpoint_t *c, const tcpi_endpoint_t *s,
                     int leg, int cut_prev, uint64_t start,
                     uint64_t lower, uint64_t upper)
{
    const tcpi_flow_ev_t *e = NULL;
    const tcpi_flow_t *f;
    int dir_c, lost = 0, syn = 0;
    uint32_t isn = 0;
    size_t cut = 0;

    if (c->family == 0)
        return 0;
    if ((f = tcpi_flowtab_find(ft, c, s, &dir_c)) != NULL &&
        (e = tcpi_flow_last(ft, f)) == NULL && f->last)
        lost = 1;                          /* all of it recycled */
    for (; e != NULL; e = tcpi_flow_prev(ft, e, &lost)) {
        tcpi_reqcap_pkt_t p;

        if (e->ring_n < tail || e->ts_ns + SCAN_SLOP_NS < lower)
            goto done;                     /* older ones are out of reach */
        if (e->ts_ns < lower || e->ts_ns > upper)
            continue;
        p.n = e->ring_n;
        p.ts_ns = e->ts_ns;
        p.payload_len = e->len;
        p.iface = e->iface;
        p.leg = (uint8_t)leg;
        p.to_server = (uint8_t)(e->dir == dir_c);
        p.flags = e->flags;
        p.seq = e->seq;
        p.kept = 0;
        if (leg == TCPI_LEG_FRONT && p.ts_ns <= start) {
            if (cut_prev && !p.to_server && p.payload_len > 0)
                goto done;                 /* the previous response */
            if (syn && is_syn(&p) && p.seq != isn)
                goto done;                 /* an earlier connection */
        }
        if (push(v, &p) != 0)
            return -1;
        if (e->iface < TCPI_MAX_IFACES)
            sel->if_linktype[e->iface] = e->linktype;
        if (leg == TCPI_LEG_FRONT && p.ts_ns <= start && is_syn(&p)) {
            syn = 1;                       /* the handshake, so far */
            isn = p.seq;
            cut = v->n;
        }
    }
    if (lost || tcpi_flowtab_evicted_ns(ft, c, s) >= lower)
        *incomplete = 1;
done:
    if (syn)
        v->n = cut;                        /* from its first SYN */
    /* Collected newest first. */
    for (size_t i = 0, j = v->n; i + 1 < j; i++, j--) {
        tcpi_reqcap_pkt_t t = v->pkt[i];
        v->pkt[i] = v->pkt[j - 1];
        v->pkt[j - 1] = t;
    }
    return 0;
}

int tcpi_reqcap_select_flows(tcpi_reqcap_t *sel, const tcpi_flowtab_t *ft,
                             const tcpi_shm_t *shm, const tcpi_req_t *req)
{
    const tcpi_ring_t *ring = tcpi_shm_ring((tcpi_shm_t *)shm);
    tcpi_reqcap_t leg[2];
    uint64_t lower, upper, tail, head, start = req->start_us * 1000;
    int incomplete = 0;

    sel_init(sel, leg);
    if (ring == NULL)
        return 0;
    req_window(&lower, &upper, req);
    tcpi_ring_bounds(&tail, &head, ring);
    /* The backend leg holds nothing before start (trim_backend). */
    if (walk_flow(&leg[0], sel, &incomplete, ft, tail, &req->front_client,
                  &req->front_server, TCPI_LEG_FRONT,
                  front_cut_at_previous(req), start, lower, upper) != 0 ||
        (req->has_backend &&
         walk_flow(&leg[1], sel, &incomplete, ft, tail, &req->backend_local,
                   &req->backend_remote, TCPI_LEG_BACKEND, 0, start,
                   start > lower ? start : lower, upper) != 0)) {
        sel_finish(sel, leg, req, shm);
        tcpi_reqcap_free(sel);
        return -1;
    }
    if (incomplete) {
        tcpi_reqcap_free(&leg[0]);
        tcpi_reqcap_free(&leg[1]);
        return TCPI_REQCAP_INCOMPLETE;
    }
    return sel_finish(sel, leg, req, shm);
}

int tcpi_reqcap_select_join(tcpi_reqcap_t *sel, const tcpi_join_t *j,
                            const tcpi_shm_t *shm, const tcpi_req_t *req)
{
    uint64_t lower, upper;
    int rc = TCPI_REQCAP_INCOMPLETE;

    req_window(&lower, &upper, req);
    if (j != NULL && tcpi_join_covers(j, upper + SCAN_SLOP_NS))
        rc = tcpi_reqcap_select_flows(sel, tcpi_join_flows(j), shm, req);
    if (rc != TCPI_REQCAP_INCOMPLETE)
        return rc;
    rc = tcpi_reqcap_select(sel, shm, req);
    sel->scanned = 1;
    return rc;
}

/* Interface block ids: one per (leg, interface) pair, front first. */
typedef struct {
    int      n;
    uint8_t  leg[2 * TCPI_MAX_IFACES];
    uint16_t iface[2 * TCPI_MAX_IFACES];
} ifmap_t;

static int ifmap_find(const ifmap_t *m, int leg, int iface)
{
    for (int i = 0; i < m->n; i++)
        if (m->leg[i] == leg && m->iface[i] == iface)
            return i;
    return -1;
}

static void ifmap_add(ifmap_t *m, int leg, int iface)
{
    if (ifmap_find(m, leg, iface) >= 0 || m->n >= 2 * TCPI_MAX_IFACES)
        return;
    m->leg[m->n] = (uint8_t)leg;
    m->iface[m->n++] = (uint16_t)iface;
}

static int32_t iface_linktype(const tcpi_reqcap_t *sel, const tcpi_shm_t *shm,
                              int iface)
{
    if (sel->if_linktype[iface] >= 0)
        return sel->if_linktype[iface];
    return atomic_load(&((tcpi_shm_t *)shm)->iface[iface].linktype);
}

static void build_ifmap(ifmap_t *m, const tcpi_reqcap_t *sel,
                        const tcpi_shm_t *shm, const tcpi_req_t *req)
{
    static const int legs[2] = { TCPI_LEG_FRONT, TCPI_LEG_BACKEND };

    m->n = 0;
    for (int k = 0; k < 2; k++) {
        int found = 0;
        for (size_t i = 0; i < sel->n; i++)
            if (sel->pkt[i].leg == legs[k] && sel->pkt[i].iface < shm->niface &&
                sel->pkt[i].iface < TCPI_MAX_IFACES) {
                ifmap_add(m, legs[k], sel->pkt[i].iface);
                found = 1;
            }
        if (found || (legs[k] == TCPI_LEG_BACKEND && !req->has_backend))
            continue;
        /* No packets on this leg: still name the interface it is
         * captured on, so the file says where nothing was seen. */
        for (uint32_t i = 0; i < shm->niface && i < TCPI_MAX_IFACES; i++)
            if ((shm->iface[i].legs & (uint32_t)legs[k]) &&
                iface_linktype(sel, shm, (int)i) >= 0) {
                ifmap_add(m, legs[k], (int)i);
                break;
            }
    }
}

/* The TLS secrets of the front connection and of a whole backend one
 * (TCPInspectTLSKeys) as one Decryption Secrets Block, before the packets
 * they decrypt; the copy is wiped. */
static void write_secrets(tcpi_out_t *o, const tcpi_req_t *req)
{
    const tcpi_req_tls_t *tls = &req->tls;
    const tcpi_req_bkeys_t *bk = &req->backend_keys;
    char text[2 * TCPI_TLS_KEYS_MAX * 200];
    size_t n = 0, k;

    if (tls->on && tls->has_random && tls->nkeys > 0 &&
        tls->nkeys <= TCPI_TLS_KEYS_MAX)
        n = tcpi_tls_keylog_format(text, sizeof(text), tls->client_random,
                                   tls->keys, tls->nkeys);
    if (n <= sizeof(text) / 2 && tcpi_reqcap_whole_backend(req) &&
        bk->nkeys <= TCPI_TLS_KEYS_MAX &&
        (k = tcpi_tls_keylog_format(text + n, sizeof(text) - n,
                                    bk->client_random, bk->keys,
                                    bk->nkeys)) <= sizeof(text) - n)
        n += k;
    if (n > 0 && n <= sizeof(text))
        tcpi_pcapng_write_dsb(o, TCPI_PCAPNG_SECRETS_TLS, text, (uint32_t)n);
    explicit_bzero(text, sizeof(text));
}

long tcpi_reqcap_write(tcpi_out_t *o, const tcpi_reqcap_t *sel,
                       const tcpi_shm_t *shm, const tcpi_req_t *req,
                       uint32_t snaplen)
{
    const tcpi_ring_t *ring = tcpi_shm_ring((tcpi_shm_t *)shm);
    const tcpi_ring_t *hs = tcpi_shm_hsring((tcpi_shm_t *)shm);
    tcpi_ring_stats_t st, hst;
    char comment[2][TCPI_REQ_ID_MAX + 64];
    uint8_t *buf;
    ifmap_t m;
    long written = 0;

    if (ring == NULL)
        return -1;
    build_ifmap(&m, sel, shm, req);
    tcpi_pcapng_write_shb(o, "mod_tcpinspect");
    for (int i = 0; i < m.n; i++) {
        tcpi_pcapng_if_t ifc;
        char name[TCPI_IFNAMSIZ];
        tcpi_shm_copy_str(name, sizeof(name), shm->iface[m.iface[i]].name,
                          sizeof(shm->iface[m.iface[i]].name));
        memset(&ifc, 0, sizeof(ifc));
        ifc.name = name;
        ifc.description = tcpi_reqcap_leg_name(m.leg[i]);
        ifc.linktype = iface_linktype(sel, shm, m.iface[i]);
        ifc.snaplen = snaplen ? snaplen : 262144;
        tcpi_pcapng_write_idb(o, &ifc);
    }
    write_secrets(o, req);
    for (int k = 0; k < 2; k++)
        snprintf(comment[k], sizeof(comment[k]), "tcpinspect-id=%s leg=%s",
                 req->id, tcpi_reqcap_leg_name(k ? TCPI_LEG_BACKEND
                                                   : TCPI_LEG_FRONT));
    tcpi_ring_stats(&st, ring);
    if (hs != NULL) {
        tcpi_ring_stats(&hst, hs);
        if (hst.max_caplen > st.max_caplen)
            st.max_caplen = hst.max_caplen;
    }
    buf = malloc(st.max_caplen ? st.max_caplen : 1);
    if (buf == NULL)
        return -1;
    for (size_t i = 0; i < sel->n && !o->failed; i++) {
        const tcpi_reqcap_pkt_t *p = &sel->pkt[i];
        tcpi_ring_rec_t rec;
        int ifid = ifmap_find(&m, p->leg, p->iface);

        if (ifid < 0 || (p->kept && hs == NULL) ||
            tcpi_ring_read(&rec, buf, st.max_caplen, p->kept ? hs : ring,
                           p->n) != 0)
            continue;                      /* gone since the selection */
        tcpi_pcapng_write_epb(o, (uint32_t)ifid, rec.ts_ns, rec.caplen,
                              rec.wirelen, buf,
                              comment[p->leg == TCPI_LEG_BACKEND]);
        written++;
    }
    free(buf);
    tcpi_out_flush(o);
    return o->failed ? -1 : written;
}
