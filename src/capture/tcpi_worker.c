/* tcpi_worker.c — libpcap handles and the capture loop (tcpi_worker.h). */
#include "tcpi_worker.h"
#include "tcpi/reqcap.h"

#include <errno.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct tcpi_worker tcpi_worker_s;

typedef struct {
    tcpi_worker_s *w;      /* back pointer for the pcap callback */
    pcap_t *p;
    int     fd;
    int     idx;           /* index in shm->iface */
    int32_t linktype;
} handle_t;

struct tcpi_worker {
    tcpi_worker_conf_t conf;
    tcpi_ring_t       *ring;
    handle_t           h[TCPI_MAX_IFACES];
    int                nh;
    tcpi_join_t       *join;       /* requests joined to their flows */
    tcpi_trigger_t    *trigger;    /* triggered captures, on first use */
    tcpi_linelog_t    *jlog;       /* the JSON request log, or NULL */
    pthread_t          sampler;    /* state counts, once a second */
    int                sampling;
    _Atomic int        sampler_stop;
    char               line[TCPI_LINELOG_LINE_MAX];
};

uint64_t tcpi_worker_backoff_ms(uint64_t prev_ms, uint64_t ran_ms,
                                int startup_failure)
{
    uint64_t d;

    if (startup_failure)
        d = prev_ms >= 10000 ? prev_ms * 2 : 10000;
    else if (ran_ms < TCPI_WORKER_STABLE_MS)
        d = prev_ms ? prev_ms * 2 : 1000;
    else
        d = 0;
    return d > TCPI_WORKER_BACKOFF_MAX ? TCPI_WORKER_BACKOFF_MAX : d;
}

int tcpi_filter_build(char *out, size_t outlen, const tcpi_ports_t *ports,
                      const char *user_filter)
{
    size_t n;
    int w;

    w = snprintf(out, outlen, "tcp and (");
    if (w < 0 || (size_t)w >= outlen)
        return -1;
    n = (size_t)w;
    for (int i = 0; i < ports->n; i++) {
        w = snprintf(out + n, outlen - n, "%sport %u", i ? " or " : "",
                     ports->port[i]);
        if (w < 0 || (size_t)w >= outlen - n)
            return -1;
        n += (size_t)w;
    }
    if (user_filter != NULL && *user_filter != '\0')
        w = snprintf(out + n, outlen - n, ") and (%s)", user_filter);
    else
        w = snprintf(out + n, outlen - n, ")");
    if (w < 0 || (size_t)w >= outlen - n)
        return -1;
    return 0;
}

/* On a loopback interface the kernel hands every packet to a packet socket
 * twice, as it leaves and as it arrives, and libpcap throws the outgoing
 * copy away in user space. PACKET_IGNORE_OUTGOING (Linux 4.20) stops the
 * kernel from making that copy at all. A BPF "inbound" test would do the
 * same but only in the kernel: libpcap runs the filter in user space over
 * the first ring block, where it cannot be evaluated, and lost those
 * packets. Without the option libpcap's user-space drop still applies. */
static void ignore_outgoing_on_loopback(pcap_t *p, const char *name)
{
    struct ifreq ifr;
    int one = 1, s;

    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_LOOPBACK) &&
        setsockopt(pcap_fileno(p), SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
                   sizeof(one)) != 0)
        tcpi_log(TCPI_LOG_INFO, TCPI_TAG(0205), "interface %s: the kernel still "
                 "copies outgoing packets (PACKET_IGNORE_OUTGOING: %s)",
                 name, strerror(errno));
    close(s);
}

static void iface_error(tcpi_shm_iface_t *ifc, const char *name,
                        const char *what, const char *msg)
{
    snprintf(ifc->error, sizeof(ifc->error), "%s: %s", what, msg);
    atomic_store(&ifc->status, TCPI_IF_ERROR);
    tcpi_log(TCPI_LOG_ERR, TCPI_TAG(0201), "capture on interface %s disabled: "
             "%s: %s", name, what, msg);
}

/* Open one handle of the plan; its status goes to the shared ifc. */
static int open_one(handle_t *h, const tcpi_worker_iface_t *pi,
                    tcpi_shm_iface_t *ifc, const tcpi_worker_conf_t *conf)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    struct bpf_program prog;
    int rc;

    h->p = pcap_create(pi->name, errbuf);
    if (h->p == NULL) {
        iface_error(ifc, pi->name, "pcap_create", errbuf);
        return -1;
    }
    pcap_set_snaplen(h->p, (int)conf->snaplen);
    pcap_set_promisc(h->p, 0);
    /* TPACKET_V3 retires a block after this many ms even when not full:
     * bounds how stale the ring can be without waking per packet. */
    pcap_set_timeout(h->p, 100);
    pcap_set_buffer_size(h->p, (int)conf->kernel_buffer);
    pcap_set_tstamp_precision(h->p, PCAP_TSTAMP_PRECISION_NANO);
    rc = pcap_activate(h->p);
    if (rc < 0) {
        iface_error(ifc, pi->name, "pcap_activate", rc == PCAP_ERROR_NO_SUCH_DEVICE
                    ? "no such interface" : pcap_geterr(h->p));
        goto fail;
    }
    if (rc > 0)
        tcpi_log(TCPI_LOG_WARN, TCPI_TAG(0202), "interface %s: %s", pi->name,
                 pcap_statustostr(rc));
    ignore_outgoing_on_loopback(h->p, pi->name);
    if (pcap_compile(h->p, &prog, pi->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        iface_error(ifc, pi->name, "pcap_compile", pcap_geterr(h->p));
        goto fail;
    }
    rc = pcap_setfilter(h->p, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
        iface_error(ifc, pi->name, "pcap_setfilter", pcap_geterr(h->p));
        goto fail;
    }
    /* The kernel filter is the capture's scope: nothing may widen it
     * later (the sandbox refuses SO_ATTACH_FILTER too). */
    {
        int one = 1;
        if (setsockopt(pcap_fileno(h->p), SOL_SOCKET, SO_LOCK_FILTER, &one,
                       sizeof(one)) != 0)
            tcpi_log(TCPI_LOG_INFO, TCPI_TAG(0207), "interface %s: cannot lock "
                     "the kernel filter: %s", pi->name, strerror(errno));
    }
    if (pcap_setnonblock(h->p, 1, errbuf) != 0) {
        iface_error(ifc, pi->name, "pcap_setnonblock", errbuf);
        goto fail;
    }
    h->fd = pcap_get_selectable_fd(h->p);
    if (h->fd < 0) {
        iface_error(ifc, pi->name, "pcap_get_selectable_fd", "no selectable fd");
        goto fail;
    }
    h->linktype = pcap_datalink(h->p);
    atomic_store(&ifc->linktype, h->linktype);
    atomic_store(&ifc->status, TCPI_IF_OK);
    ifc->error[0] = '\0';
    return 0;
fail:
    pcap_close(h->p);
    h->p = NULL;
    return -1;
}

/* The join's on_joined: every record the worker's one reader handed out
 * and the join joined goes on to the triggered captures, and as one line
 * to the JSON request log (a line that cannot be rendered is dropped and
 * counted there). */
static void hand_on(void *baton, const tcpi_req_t *rec,
                    const tcpi_reqsum_t *sum, uint64_t k, uint64_t now_ns)
{
    tcpi_worker_t *w = baton;

    tcpi_trigger_take(&w->trigger, w->conf.shm, rec);
    if (w->jlog != NULL)
        tcpi_linelog_put(w->jlog, w->line,
                         w->conf.log_line(w->line, sizeof(w->line), rec, sum));
}

tcpi_worker_t *tcpi_worker_open(const tcpi_worker_conf_t *conf, char *err,
                                size_t errlen)
{
    tcpi_worker_t *w;

    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->conf = *conf;
    if (conf->niface > TCPI_MAX_IFACES ||
        tcpi_shm_check(conf->shm, conf->ring_size, err, errlen) != 0 ||
        (w->ring = tcpi_shm_ring(conf->shm)) == NULL) {
        if (conf->niface > TCPI_MAX_IFACES)
            snprintf(err, errlen, "too many interfaces");
        free(w);
        return NULL;
    }
    /* The request log's one reader is the join's: it takes its start
     * position at the first run, in the loop (confined by then), going
     * back over the requests whose captures may still be due. */
    tcpi_join_conf_t jc = {
        .ring = w->ring, .log = tcpi_shm_reqlog(conf->shm),
        .sums = tcpi_shm_sumtab(conf->shm), .nflows = TCPI_JOIN_FLOWS,
        .nevents = TCPI_JOIN_EVENTS,
        .dcount = conf->shm->decode, .ndcount = TCPI_MAX_IFACES,
        .catchup_ns = TCPI_TRIGGER_CATCHUP_NS,
        .on_joined = hand_on, .baton = w,
        .hs_store = tcpi_shm_hsring(conf->shm), .hs_ports = conf->hs_ports,
    };
    w->join = tcpi_join_create(&jc);
    if (w->join == NULL) {
        snprintf(err, errlen, "out of memory for the flow table");
        free(w);
        return NULL;
    }
    if (conf->log_line != NULL && conf->log_fd >= 0 &&
        (w->jlog = tcpi_linelog_create(conf->log_fd,
                                       &conf->shm->json_log.st)) == NULL) {
        snprintf(err, errlen, "out of memory for the JSON request log");
        tcpi_join_destroy(w->join);
        free(w);
        return NULL;
    }
    for (uint32_t i = 0; i < conf->niface; i++) {
        handle_t *h = &w->h[w->nh];
        h->idx = (int)i;
        h->w = w;
        if (open_one(h, &conf->iface[i], &conf->shm->iface[i], conf) == 0)
            w->nh++;
    }
    return w;
}

int tcpi_worker_active(const tcpi_worker_t *w)
{
    return w->nh;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *hdr,
                      const u_char *bytes)
{
    handle_t *h = (handle_t *)user;
    tcpi_worker_t *w = h->w;
    tcpi_shm_iface_t *ifc = &w->conf.shm->iface[h->idx];
    /* Nanosecond precision was requested: tv_usec holds nanoseconds. */
    uint64_t ts = (uint64_t)hdr->ts.tv_sec * 1000000000ull +
                  (uint64_t)hdr->ts.tv_usec;

    tcpi_ring_write(w->ring, ts, (uint16_t)h->idx, h->linktype, hdr->caplen,
                    hdr->len, bytes);
    atomic_fetch_add_explicit(&ifc->packets, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&ifc->bytes, hdr->caplen, memory_order_relaxed);
}

static void publish_hskeep(tcpi_worker_t *w)
{
    tcpi_shm_hskeep_t *o = &w->conf.shm->hskeep;
    tcpi_hskeep_stats_t st;

    tcpi_join_hskeep_stats(&st, w->join);
    atomic_store_explicit(&o->kept, (uint32_t)st.active,
                          memory_order_relaxed);
    atomic_store_explicit(&o->connections, st.connections,
                          memory_order_relaxed);
    atomic_store_explicit(&o->complete, st.complete, memory_order_relaxed);
    atomic_store_explicit(&o->cut, st.cut, memory_order_relaxed);
    atomic_store_explicit(&o->packets, st.packets, memory_order_relaxed);
    atomic_store_explicit(&o->missed, st.missed, memory_order_relaxed);
}

static void publish_stats(tcpi_worker_t *w)
{
    for (int i = 0; i < w->nh; i++) {
        struct pcap_stat ps;
        tcpi_shm_iface_t *ifc = &w->conf.shm->iface[w->h[i].idx];
        if (pcap_stats(w->h[i].p, &ps) != 0)
            continue;
        atomic_store(&ifc->received, ps.ps_recv);
        atomic_store(&ifc->dropped, ps.ps_drop);
        atomic_store(&ifc->if_dropped, ps.ps_ifdrop);
    }
}

static void sample_states(tcpi_worker_t *w)
{
    uint32_t count[TCPI_NSCOPES][TCPI_NSTATES];

    if (w->conf.sample == NULL)
        return;
    memset(count, 0, sizeof(count));
    if (w->conf.sample(w->conf.sample_baton, count) != 0) {
        atomic_fetch_add(&w->conf.shm->sample_errors, 1);
        return;
    }
    tcpi_shm_hist_put(w->conf.shm, tcpi_now_wall_ns() / 1000000000ull, count);
}

/* The state-count sample runs on a thread of its own: a netlink dump of a
 * host with many sockets takes tens of ms (up to its receive timeout when
 * the kernel is slow), and the capture loop must not stall on it. It is
 * the history's only writer. */
static void *sampler_main(void *arg)
{
    tcpi_worker_t *w = arg;
    uint64_t next = tcpi_now_mono_ns();

    while (!atomic_load(&w->sampler_stop)) {
        uint64_t now = tcpi_now_mono_ns();
        if (now < next) {
            uint64_t ns = next - now;
            struct timespec ts = { (time_t)(ns / 1000000000ull),
                                   (long)(ns % 1000000000ull) };
            if (ns > 100000000ull)          /* look at the stop flag */
                ts = (struct timespec){ 0, 100000000L };
            nanosleep(&ts, NULL);
            continue;
        }
        sample_states(w);
        next += 1000000000ull;
        if (next < now)
            next = now + 1000000000ull;     /* fell behind: no burst */
    }
    return NULL;
}

static void sampler_start(tcpi_worker_t *w)
{
    sigset_t all, old;

    if (w->conf.sample == NULL)
        return;
    /* Signals (SIGTERM) stay with the capture loop's thread. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    atomic_store(&w->sampler_stop, 0);
    w->sampling = pthread_create(&w->sampler, NULL, sampler_main, w) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!w->sampling)
        tcpi_log(TCPI_LOG_ERR, TCPI_TAG(0206), "cannot start the state-count "
                 "sampler thread: no state history");
}

static void sampler_stop(tcpi_worker_t *w)
{
    if (!w->sampling)
        return;
    atomic_store(&w->sampler_stop, 1);
    pthread_join(w->sampler, NULL);
    w->sampling = 0;
}

int tcpi_worker_run(tcpi_worker_t *w, volatile sig_atomic_t *stop)
{
    struct pollfd pfd[TCPI_MAX_IFACES];
    uint64_t next_tick = 0;
    tcpi_shm_t *shm = w->conf.shm;

    for (int i = 0; i < w->nh; i++) {
        pfd[i].fd = w->h[i].fd;
        pfd[i].events = POLLIN;
    }
    atomic_store(&shm->worker_started_ns, tcpi_now_mono_ns());
    sampler_start(w);
    while (!*stop) {
        uint64_t now = tcpi_now_mono_ns();
        int rc;

        if (now >= next_tick) {
            if (getppid() != w->conf.parent)
                break;                      /* httpd is gone: so are we */
            publish_stats(w);
            publish_hskeep(w);
            tcpi_flowpub_publish(tcpi_shm_flowpub(shm),
                                 tcpi_join_flows(w->join), tcpi_now_wall_ns());
            atomic_store(&shm->heartbeat_ns, tcpi_now_mono_ns());
            next_tick = now + 1000000000ull;
        }
        rc = poll(pfd, (nfds_t)w->nh, 100);
        if (rc < 0 && errno != EINTR) {
            tcpi_log(TCPI_LOG_ERR, TCPI_TAG(0203), "poll failed: %s",
                     strerror(errno));
            sampler_stop(w);
            return -1;
        }
        if (tcpi_worker_run_once(w) < 0) {
            sampler_stop(w);
            return -1;
        }
        tcpi_join_run(w->join, tcpi_now_wall_ns());
        tcpi_trigger_run(&w->trigger, shm, w->join, tcpi_now_wall_ns());
        if (w->jlog != NULL && tcpi_linelog_pending(w->jlog) > 0)
            tcpi_linelog_flush(w->jlog);    /* lines a full pipe refused */
    }
    sampler_stop(w);
    return 0;
}

int tcpi_worker_run_once(tcpi_worker_t *w)
{
    int total = 0;

    /* With TPACKET_V3 a handle can hold retired blocks without the fd
     * being readable again, so every handle is drained each round, a
     * bounded batch at a time so one busy leg cannot starve the other. */
    for (int i = 0; i < w->nh; i++) {
        int n = pcap_dispatch(w->h[i].p, TCPI_DISPATCH_BATCH, on_packet,
                              (u_char *)&w->h[i]);
        if (n == PCAP_ERROR) {
            tcpi_log(TCPI_LOG_ERR, TCPI_TAG(0204), "capture on %s failed: %s",
                     w->conf.iface[w->h[i].idx].name,
                     pcap_geterr(w->h[i].p));
            return -1;
        }
        total += n > 0 ? n : 0;
    }
    return total;
}

void tcpi_worker_close(tcpi_worker_t *w)
{
    if (w == NULL)
        return;
    for (int i = 0; i < w->nh; i++)
        pcap_close(w->h[i].p);
    tcpi_join_destroy(w->join);
    tcpi_trigger_close(w->trigger);
    /* Lines still waiting get half a second (the parent's SIGKILL comes
     * after two); what is left then is counted as dropped. */
    tcpi_linelog_close(w->jlog, 500);
    free(w);
}
