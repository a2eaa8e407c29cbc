/* libFuzzer target: per-request selection over hostile frames. The input
 * is a request record's endpoints and times followed by frames; they go
 * into a real ring, are selected by scanning and through the worker's
 * flow table (which must agree, or report that it cannot tell and fall
 * back to the scan), written as pcapng and read back: every selected
 * packet still in the ring comes back with its comment. The backend leg
 * never holds another request's bytes: nothing before the request's
 * start, and no byte from httpd once the backend's final response began
 * or the request was logged. A request whose TLS secrets were kept (a
 * header bit) selects its whole front connection, and the worker's
 * handshake keeper, over the same frames, has kept what it found of TLS
 * handshakes to the front server's port: what the selection takes from
 * that store is front leg only and older than the ring's first. Another
 * bit keeps a TLS backend connection's secrets: its backend leg is then
 * the whole connection, still nothing before start. */
#include "join/tcpi_join.h"
#include "pcapfile/tcpi_pcapfile.h"
#include "reqcap/tcpi_reqcap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING (1u << 20)
#define T0   1700000000000000ull

static const int32_t linktypes[4] = {
    TCPI_LINKTYPE_EN10MB, TCPI_LINKTYPE_RAW, TCPI_LINKTYPE_LINUX_SLL,
    TCPI_LINKTYPE_LINUX_SLL2,
};

static size_t take(void *dst, size_t n, const uint8_t **p, size_t *left)
{
    size_t k = n < *left ? n : *left;
    memset(dst, 0, n);
    memcpy(dst, *p, k);
    *p += k;
    *left -= k;
    return k;
}

static void endpoint(tcpi_endpoint_t *e, uint8_t family, const uint8_t **p,
                     size_t *left)
{
    memset(e, 0, sizeof(*e));
    e->family = family;
    take(e->addr, family == 4 ? 4 : 16, p, left);
    take(&e->port, 2, p, left);
}

static int same_ep(const tcpi_endpoint_t *x, const tcpi_endpoint_t *y)
{
    return x->family == y->family && x->port == y->port &&
           memcmp(x->addr, y->addr, sizeof(x->addr)) == 0;
}

/* The backend's packet p holds only interim heads: read here from the
 * ring, independently of the selection's own reading. */
static int interim(const tcpi_ring_t *ring, const tcpi_reqcap_pkt_t *p)
{
    uint8_t buf[4096];
    tcpi_ring_rec_t rec;
    tcpi_pkt_t pkt;

    if (tcpi_ring_read(&rec, buf, sizeof(buf), ring, p->n) != 0 ||
        tcpi_decode(&pkt, rec.linktype, buf, rec.caplen, rec.wirelen) != TCPI_DR_ok)
        return 1;                /* cannot tell: no stricter than the trim */
    return pkt.payload_caplen == pkt.payload_len &&
           tcpi_reqcap_interim(buf + pkt.payload_off, pkt.payload_caplen);
}

static void check_backend_leg(const tcpi_reqcap_t *sel, const tcpi_ring_t *ring,
                              const tcpi_req_t *req)
{
    int answered = 0;

    for (size_t i = 0; i < sel->n; i++) {
        const tcpi_reqcap_pkt_t *p = &sel->pkt[i];
        if (p->leg != TCPI_LEG_BACKEND)
            continue;
        if (p->ts_ns < req->start_us * 1000)
            abort();             /* the previous exchange */
        if (p->to_server && p->payload_len > 0 &&
            (answered || p->ts_ns > req->end_us * 1000) &&
            !tcpi_reqcap_whole_backend(req))
            abort();             /* the next request */
        if (!p->to_server && p->payload_len > 0 && !interim(ring, p))
            answered = 1;
    }
}

/* The store's packets come first, on the front, before the ring's. */
static void check_kept(const tcpi_reqcap_t *sel)
{
    uint64_t last = 0, n = 0;

    for (size_t i = 0; i < sel->n; i++) {
        const tcpi_reqcap_pkt_t *p = &sel->pkt[i];
        if (!p->kept)
            continue;
        if (p->leg != TCPI_LEG_FRONT || i != n || p->ts_ns < last)
            abort();
        last = p->ts_ns;
        n++;
    }
    if (n != sel->kept)
        abort();
    for (size_t i = n; i < sel->n; i++)
        if (sel->pkt[i].leg == TCPI_LEG_FRONT && sel->pkt[i].ts_ns <= last &&
            n > 0)
            abort();
}

static int degenerate(const tcpi_req_t *r)
{
    const tcpi_endpoint_t *c = &r->front_client, *s = &r->front_server;
    const tcpi_endpoint_t *l = &r->backend_local, *b = &r->backend_remote;

    return same_ep(c, s) || (r->has_backend && (same_ep(l, b) ||
           (same_ep(c, l) && same_ep(s, b)) || (same_ep(c, b) && same_ep(s, l))));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static void *mem;
    tcpi_shm_t *shm;
    tcpi_ring_t *ring;
    tcpi_req_t req;
    tcpi_reqcap_t a, b, c;
    tcpi_join_t *j;
    int rc;
    tcpi_membuf_t mb = { 0 };
    tcpi_out_t o;
    uint8_t hdr[4], fam;
    uint16_t dstart, dend;
    uint64_t ts = T0;

    if (mem == NULL) {
        if ((mem = calloc(1, tcpi_shm_size(RING))) == NULL)
            abort();
        shm = tcpi_shm_init(mem, RING, 1);
        tcpi_shm_add_iface(shm, "eth0", TCPI_LEG_FRONT, "");
        tcpi_shm_add_iface(shm, "lo", TCPI_LEG_BACKEND, "");
    }
    shm = mem;
    /* Fresh rings per input; the rest of the region stays. */
    ring = tcpi_ring_init((char *)mem + shm->ring_off, RING);
    if (tcpi_ring_init((char *)mem + shm->hs_off, shm->hs_size) == NULL)
        abort();

    memset(&req, 0, sizeof(req));
    strcpy(req.id, "fuzz");
    take(hdr, sizeof(hdr), &data, &size);
    fam = (hdr[0] & 1) ? 6 : 4;
    req.has_backend = (hdr[0] >> 1) & 1;
    req.backend_reused = (hdr[0] >> 2) & 1;
    req.conn_requests = hdr[1] & 3;
    req.tls.on = req.tls.nkeys = req.tls.has_random = (hdr[0] >> 3) & 1;
    if (req.tls.on)              /* the client random of its hello */
        take(req.tls.client_random, TCPI_TLS_RANDOM_LEN, &data, &size);
    /* a whole TLS backend connection (its secrets kept) */
    req.backend_tls = req.backend_keys.nkeys = (hdr[0] >> 4) & 1;
    endpoint(&req.front_client, fam, &data, &size);
    endpoint(&req.front_server, fam, &data, &size);
    endpoint(&req.backend_local, fam, &data, &size);
    endpoint(&req.backend_remote, fam, &data, &size);
    take(&dstart, 2, &data, &size);
    take(&dend, 2, &data, &size);
    req.start_us = T0 + dstart;
    req.end_us = req.start_us + dend;

    /* A small table and pool, so that eviction and recycling happen. It
     * reads the ring as the frames come, as the worker does, so its
     * handshake keeper sees what the ring later overwrites. */
    tcpi_join_conf_t jc = {
        .ring = ring, .log = tcpi_shm_reqlog(shm), .sums = tcpi_shm_sumtab(shm),
        .nflows = 16, .nevents = 256, .hs_store = tcpi_shm_hsring(shm),
    };
    tcpi_ports_add(&jc.hs_ports, req.front_server.port);
    if ((j = tcpi_join_create(&jc)) == NULL)
        abort();

    /* Frames: [len 2][linktype 1][iface 1][ts step 2][bytes]. */
    for (unsigned k = 1; size >= 6; k++) {
        uint16_t len, step;
        uint8_t lt, ifc;
        take(&len, 2, &data, &size);
        take(&lt, 1, &data, &size);
        take(&ifc, 1, &data, &size);
        take(&step, 2, &data, &size);
        len = len % 2048;
        if (len > size)
            len = (uint16_t)size;
        ts += step;
        tcpi_ring_write(ring, ts * 1000, ifc & 1, linktypes[lt & 3], len,
                        len + (lt >> 2), data);
        data += len;
        size -= len;
        if (k % 256 == 0)
            tcpi_join_run(j, 0);
    }

    while (!tcpi_join_covers(j, UINT64_MAX - 1))
        tcpi_join_run(j, 0);
    rc = tcpi_reqcap_select_flows(&c, tcpi_join_flows(j), shm, &req);
    if (tcpi_reqcap_select(&a, shm, &req) != 0 ||
        tcpi_reqcap_select_join(&b, j, shm, &req) != 0 ||
        (rc != 0 && rc != TCPI_REQCAP_INCOMPLETE) ||
        b.scanned != (rc == TCPI_REQCAP_INCOMPLETE))
        abort();
    /* With timestamps that only go forward (as here) both must agree,
     * unless the record is one httpd never makes: a leg from an endpoint
     * to itself, or both legs on one 4-tuple. */
    if (!degenerate(&req)) {
        if (a.n != b.n)
            abort();
        for (size_t i = 0; i < a.n; i++)
            if (a.pkt[i].n != b.pkt[i].n || a.pkt[i].leg != b.pkt[i].leg ||
                a.pkt[i].to_server != b.pkt[i].to_server)
                abort();
    }

    check_backend_leg(&a, ring, &req);
    check_backend_leg(&b, ring, &req);
    check_kept(&a); fprintf(stderr, "DBG a.n=%zu a.kept=%llu b.kept=%llu\n", a.n, (unsigned long long)a.kept, (unsigned long long)b.kept);
    check_kept(&b);

    tcpi_out_init(&o, tcpi_membuf_sink, &mb);
    long n = tcpi_reqcap_write(&o, &a, shm, &req, 0);
    if (n != (long)a.n)
        abort();
    if (mb.len) {
        tcpi_capfile_t r;
        tcpi_capfile_pkt_t pk;
        long back = 0;
        if (tcpi_capfile_open(&r, (uint8_t *)mb.data, mb.len) != 0)
            abort();
        while (tcpi_capfile_next(&r, &pk) == 1) {
            if (pk.comment_len < 14 || memcmp(pk.comment, "tcpinspect-id=", 14))
                abort();
            back++;
        }
        if (back != n)
            abort();
    }
    free(mb.data);
    tcpi_reqcap_free(&a);
    tcpi_reqcap_free(&b);
    tcpi_reqcap_free(&c);
    tcpi_join_destroy(j);
    return 0;
}
