/* tcpi_export.c — the ring as pcap or pcapng (tcpi_export.h). */
#include "tcpi_export.h"
#include "tcpi/pcapfile.h"
#include "tcpi_report.h"
#include "tcpi_reqview.h"
#include "tcpi/decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERSION_APPL "mod_tcpinspect"

const char *tcpi_export_leg_name(uint32_t legs)
{
    static const char *const names[4] = { "", "frontend", "backend",
                                          "frontend+backend" };
    return names[legs & 3u];
}

/* An inactive handle (-1) has no packets; Ethernet keeps every IDB of
 * the file on one link type, which libpcap requires to read it. */
static int32_t iface_linktype(const tcpi_shm_t *shm, uint32_t i)
{
    int32_t lt = atomic_load(&((tcpi_shm_t *)shm)->iface[i].linktype);
    return lt < 0 ? 1 : lt;
}

static uint32_t niface(const tcpi_shm_t *shm)
{
    return shm->niface < TCPI_MAX_IFACES ? shm->niface : TCPI_MAX_IFACES;
}

int tcpi_export_linktype(int32_t *linktype, const tcpi_shm_t *shm, int iface,
                         char *err, size_t errlen)
{
    uint32_t n = niface(shm);
    int differ = 0;

    *linktype = 1;
    if (iface >= 0) {
        if ((uint32_t)iface < n)
            *linktype = iface_linktype(shm, (uint32_t)iface);
        return 0;
    }
    if (n > 0)
        *linktype = iface_linktype(shm, 0);
    for (uint32_t i = 1; i < n; i++)
        differ |= iface_linktype(shm, i) != *linktype;
    if (!differ)
        return 0;
    size_t at = (size_t)snprintf(err, errlen, "a pcap file holds one link "
                                 "type; the interfaces differ:");
    for (uint32_t i = 0; i < n && at < errlen; i++)
        at += (size_t)snprintf(err + at, errlen - at, "%s %.*s (%s)",
                               i ? "," : "", (int)sizeof(shm->iface[i].name),
                               shm->iface[i].name,
                               tcpi_linktype_name(iface_linktype(shm, i)));
    if (at < errlen)
        snprintf(err + at, errlen - at, "; choose one with iface=<name> or "
                 "download .pcapng");
    return -1;
}

uint64_t tcpi_export_pcap(tcpi_out_t *o, tcpi_query_t *q, int32_t linktype,
                          uint32_t snaplen, uint8_t *buf, size_t bufsize)
{
    tcpi_ring_rec_t rec;
    uint64_t count = 0;

    tcpi_pcap_write_header(o, linktype, snaplen);
    tcpi_query_start(q, buf, bufsize);
    while (!o->failed && tcpi_query_next(q, &rec, buf, bufsize)) {
        if (rec.linktype != linktype)
            continue;
        tcpi_pcap_write_packet(o, rec.ts_ns, rec.caplen, rec.wirelen, buf);
        count++;
    }
    return count;
}

/* The default selection: every packet, named by ring number and leg. */
static int pick_ring(void *baton, const tcpi_ring_rec_t *rec,
                     const uint8_t *data, char *comment, size_t commentlen)
{
    const tcpi_shm_t *shm = baton;
    /* The record's interface index is the worker's word: bounded here. */
    snprintf(comment, commentlen, "ring #%llu %s", (unsigned long long)rec->n,
             tcpi_export_leg_name(rec->iface < TCPI_MAX_IFACES
                                  ? shm->iface[rec->iface].legs : 0));
    return 1;
}

/* ---- the secrets of the TLS connections in the file --------------------
 *
 * The request log holds the secrets of the front connections of hosts
 * with TCPInspectTLSKeys On, in their requests' records. Such a
 * connection's secrets go into the ring's file, one Decryption Secrets
 * Block each, before the packets, only once nothing can be added to it:
 * it has closed (a FIN or RST in the window), its client sent nothing
 * after its newest record was logged (every request on it is in the log)
 * and no record of it says it served a host with TCPInspectTLSKeys Off.
 * A first pass over the whole window (no filter: what a filter leaves
 * out still counts; half the download's time budget, none when it cannot
 * read it all) finds that by 4-tuple. At most EXPORT_SECRETS_MAX
 * connections, the newest; the copies are wiped. */
#define EXPORT_SECRETS_MAX 256
#define EXPORT_LATE_NS     1000000000ull   /* a client's close_notify */

typedef struct {
    uint64_t        k;                /* the newest record holding them */
    uint64_t        end_ns;           /* ... its log time */
    tcpi_endpoint_t client, server;
    uint8_t         random[TCPI_TLS_RANDOM_LEN];
    uint8_t         refused;          /* a record says keys Off */
    uint8_t         closed;           /* a FIN or RST in the window */
    uint8_t         late;             /* client bytes after end_ns */
    uint8_t         backend;          /* mod_proxy's TLS connection: its
                                         secrets are the record's
                                         backend_keys */
} held_t;

/* A record's secrets of a TLS backend connection: held only for one
 * opened for it and closed by it (tcpi_req_bkeys_t). */
static int backend_held(const tcpi_req_t *rec)
{
    return rec->has_backend && rec->backend_tls && !rec->backend_reused &&
           rec->backend_keys.nkeys > 0 &&
           rec->backend_keys.nkeys <= TCPI_TLS_KEYS_MAX;
}

static void held_add(held_t *h, uint64_t k, const tcpi_req_t *rec,
                     const tcpi_endpoint_t *c, const tcpi_endpoint_t *s,
                     const uint8_t *random, uint8_t *ports, int backend)
{
    memset(h, 0, sizeof(*h));
    h->k = k;
    h->end_ns = rec->end_us * 1000;
    h->client = *c;
    h->server = *s;
    h->backend = (uint8_t)backend;
    memcpy(h->random, random, TCPI_TLS_RANDOM_LEN);
    ports[c->port >> 3] |= (uint8_t)(1u << (c->port & 7));
}

static int ep_is(const tcpi_endpoint_t *e, const tcpi_pkt_t *p, int src)
{
    return e->family == p->family && e->port == (src ? p->sport : p->dport) &&
           memcmp(e->addr, src ? p->src : p->dst, p->family == 4 ? 4 : 16) == 0;
}

static uint32_t held_find_random(const held_t *h, uint32_t n,
                                 const uint8_t *random)
{
    uint32_t i = 0;

    while (i < n && memcmp(h[i].random, random, TCPI_TLS_RANDOM_LEN) != 0)
        i++;
    return i;
}

/* The connections with secrets held (newest first), then the refusals
 * of any record of theirs. */
static uint32_t held_collect(held_t *h, tcpi_req_t *rec,
                             const tcpi_reqlog_t *log, uint8_t *ports)
{
    tcpi_req_filter_t any = { 0 };
    tcpi_req_iter_t it;
    uint32_t n = 0, i;
    uint64_t k;

    tcpi_req_iter_init(&it, log, &any, (int)TCPI_REQLOG_LEN);
    while (n < EXPORT_SECRETS_MAX && tcpi_req_iter_next(rec, &k, &it)) {
        const tcpi_req_tls_t *t = &rec->tls;

        if (t->on && t->has_random && t->nkeys > 0 &&
            held_find_random(h, n, t->client_random) == n)
            held_add(&h[n++], k, rec, &rec->front_client, &rec->front_server,
                     t->client_random, ports, 0);
        if (n < EXPORT_SECRETS_MAX && backend_held(rec) &&
            held_find_random(h, n, rec->backend_keys.client_random) == n)
            held_add(&h[n++], k, rec, &rec->backend_local,
                     &rec->backend_remote, rec->backend_keys.client_random,
                     ports, 1);
    }
    if (n > 0) {
        tcpi_req_iter_init(&it, log, &any, (int)TCPI_REQLOG_LEN);
        while (tcpi_req_iter_next(rec, &k, &it))
            if (rec->tls.on && rec->tls.has_random && rec->tls.keys_refused &&
                (i = held_find_random(h, n, rec->tls.client_random)) < n)
                h[i].refused = 1;
    }
    tcpi_req_wipe_secrets(rec);
    return n;
}

/* The first pass, over the download's whole window: whether each held
 * connection has closed and whether its client sent bytes late; 0 when
 * it could not read the whole window in its time. */
static int held_find(held_t *h, uint32_t n, const uint8_t *ports,
                     const tcpi_query_t *q, uint8_t *buf, size_t bufsize)
{
    tcpi_query_t all;
    tcpi_ring_rec_t r;
    tcpi_pkt_t p;
    char err[64];
    int whole;

    if (tcpi_query_init(&all, q->shm, -1, NULL, err, sizeof(err)) != 0)
        return 0;
    all.from_ts_ns = q->from_ts_ns;
    all.since = q->since;
    all.budget_ns = q->budget_ns / 2;
    tcpi_query_start(&all, buf, bufsize);
    while (tcpi_query_next(&all, &r, buf, bufsize)) {
        if (tcpi_decode(&p, r.linktype, buf, r.caplen, r.wirelen) != TCPI_DR_ok)
            continue;
        if (!(ports[p.sport >> 3] & (1u << (p.sport & 7))) &&
            !(ports[p.dport >> 3] & (1u << (p.dport & 7))))
            continue;
        for (uint32_t i = 0; i < n; i++) {
            int from_client = ep_is(&h[i].client, &p, 1) &&
                              ep_is(&h[i].server, &p, 0);
            if (!from_client && !(ep_is(&h[i].server, &p, 1) &&
                                  ep_is(&h[i].client, &p, 0)))
                continue;
            if (p.flags & (TCPI_TH_FIN | TCPI_TH_RST))
                h[i].closed = 1;
            if (from_client && p.payload_len > 0 &&
                r.ts_ns > h[i].end_ns + EXPORT_LATE_NS)
                h[i].late = 1;
        }
    }
    whole = !all.truncated;
    tcpi_query_free(&all);
    return whole;
}

static void window_secrets(tcpi_out_t *o, tcpi_query_t *q, uint8_t *buf,
                           size_t bufsize)
{
    const tcpi_reqlog_t *log = tcpi_shm_reqlog(q->shm);
    char text[TCPI_TLS_KEYS_MAX * 200];
    held_t *h;
    tcpi_req_t *rec;
    uint8_t *ports;
    uint32_t n;

    if (log == NULL)
        return;
    h = calloc(EXPORT_SECRETS_MAX, sizeof(*h));
    rec = malloc(sizeof(*rec));
    ports = calloc(65536 / 8, 1);
    if (h == NULL || rec == NULL || ports == NULL)
        goto out;
    n = held_collect(h, rec, log, ports);
    if (n > 0 && !held_find(h, n, ports, q, buf, bufsize))
        n = 0;                        /* what it did not read may be late */
    for (uint32_t i = 0; i < n; i++) {
        const tcpi_req_tls_t *t = &rec->tls;
        const tcpi_req_bkeys_t *b = &rec->backend_keys;
        size_t len;

        if (!h[i].closed || h[i].refused || h[i].late ||
            tcpi_reqlog_get(rec, log, h[i].k) != 0)
            continue;
        if (h[i].backend) {
            if (!backend_held(rec) ||
                memcmp(b->client_random, h[i].random, TCPI_TLS_RANDOM_LEN))
                continue;
            len = tcpi_tls_keylog_format(text, sizeof(text), b->client_random,
                                         b->keys, b->nkeys);
        } else {
            if (!t->on || !t->has_random || t->nkeys == 0 || t->keys_refused ||
                t->nkeys > TCPI_TLS_KEYS_MAX ||
                memcmp(t->client_random, h[i].random, TCPI_TLS_RANDOM_LEN))
                continue;
            len = tcpi_tls_keylog_format(text, sizeof(text), t->client_random,
                                         t->keys, t->nkeys);
        }
        if (len > 0 && len <= sizeof(text))
            tcpi_pcapng_write_dsb(o, TCPI_PCAPNG_SECRETS_TLS, text,
                                  (uint32_t)len);
    }
out:
    explicit_bzero(text, sizeof(text));
    if (rec != NULL)
        explicit_bzero(rec, sizeof(*rec));
    free(rec);
    free(h);
    free(ports);
}

static uint64_t export_pcapng(tcpi_out_t *o, tcpi_query_t *q, uint32_t snaplen,
                              uint64_t now_ns, uint8_t *buf, size_t bufsize,
                              tcpi_export_pick_fn *pick, void *baton,
                              int secrets);

uint64_t tcpi_export_pcapng(tcpi_out_t *o, tcpi_query_t *q, uint32_t snaplen,
                            uint64_t now_ns, uint8_t *buf, size_t bufsize,
                            int secrets)
{
    return export_pcapng(o, q, snaplen, now_ns, buf, bufsize, pick_ring,
                         (void *)q->shm, secrets);
}

uint64_t tcpi_export_pcapng_pick(tcpi_out_t *o, tcpi_query_t *q,
                                 uint32_t snaplen, uint64_t now_ns,
                                 uint8_t *buf, size_t bufsize,
                                 tcpi_export_pick_fn *pick, void *baton)
{
    return export_pcapng(o, q, snaplen, now_ns, buf, bufsize, pick, baton, 0);
}

static uint64_t export_pcapng(tcpi_out_t *o, tcpi_query_t *q, uint32_t snaplen,
                              uint64_t now_ns, uint8_t *buf, size_t bufsize,
                              tcpi_export_pick_fn *pick, void *baton,
                              int secrets)
{
    const tcpi_shm_t *shm = q->shm;
    uint32_t n = niface(shm);
    char name[TCPI_IFNAMSIZ], filter[TCPI_FILTER_MAX], comment[256];
    tcpi_ring_rec_t rec;
    uint64_t count = 0;

    tcpi_pcapng_write_shb(o, VERSION_APPL);
    for (uint32_t i = 0; i < n; i++) {
        const tcpi_shm_iface_t *f = &shm->iface[i];
        tcpi_shm_copy_str(name, sizeof(name), f->name, sizeof(f->name));
        tcpi_shm_copy_str(filter, sizeof(filter), f->filter, sizeof(f->filter));
        tcpi_pcapng_if_t ifc = {
            .name = name, .description = tcpi_export_leg_name(f->legs),
            .filter = filter, .linktype = iface_linktype(shm, i),
            .snaplen = snaplen,
        };
        tcpi_pcapng_write_idb(o, &ifc);
    }
    if (secrets)
        window_secrets(o, q, buf, bufsize);
    tcpi_query_start(q, buf, bufsize);
    while (!o->failed && tcpi_query_next(q, &rec, buf, bufsize)) {
        if (rec.iface >= n || rec.linktype != iface_linktype(shm, rec.iface))
            continue;
        comment[0] = '\0';
        if (!pick(baton, &rec, buf, comment, sizeof(comment)))
            continue;
        comment[sizeof(comment) - 1] = '\0';
        tcpi_pcapng_write_epb(o, rec.iface, rec.ts_ns, rec.caplen, rec.wirelen,
                              buf, comment[0] ? comment : NULL);
        count++;
    }
    for (uint32_t i = 0; i < n; i++) {
        tcpi_shm_iface_t *f = (tcpi_shm_iface_t *)&shm->iface[i];
        tcpi_pcapng_write_isb(o, i, now_ns, atomic_load(&f->received),
                              atomic_load(&f->if_dropped),
                              atomic_load(&f->dropped),
                              atomic_load(&f->packets));
    }
    return count;
}
