/* Unit tests for the worker's filter text and, where the process may open
 * packet sockets (root), a real capture on lo into the ring. */
#include "tcpi_test.h"
#include "capture/tcpi_worker.h"
#include "render/tcpi_query.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_filter_build(void **state)
{
    tcpi_ports_t p = { .n = 0 };
    char buf[TCPI_FILTER_MAX];

    tcpi_ports_add(&p, 80);
    tcpi_ports_add(&p, 8080);
    assert_int_equal(tcpi_filter_build(buf, sizeof(buf), &p, NULL), 0);
    assert_string_equal(buf, "tcp and (port 80 or port 8080)");
    assert_int_equal(tcpi_filter_build(buf, sizeof(buf), &p, "host 10.16.2.85"), 0);
    assert_string_equal(buf, "tcp and (port 80 or port 8080) and (host 10.16.2.85)");
    assert_int_equal(tcpi_filter_build(buf, 20, &p, NULL), -1);
    char big[2000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(tcpi_filter_build(buf, sizeof(buf), &p, big), -1);
}

static void plan_iface(tcpi_worker_iface_t *pi, const char *name,
                       uint32_t legs, const char *filter)
{
    snprintf(pi->name, sizeof(pi->name), "%s", name);
    snprintf(pi->filter, sizeof(pi->filter), "%s", filter);
    pi->legs = legs;
}

static void test_backoff(void **state)
{
    /* A worker that ran 10 s or more comes back at once. */
    assert_int_equal(tcpi_worker_backoff_ms(0, 10000, 0), 0);
    assert_int_equal(tcpi_worker_backoff_ms(8000, 60000, 0), 0);
    /* Short runs: 1 s, then doubling, up to 300 s. */
    assert_int_equal(tcpi_worker_backoff_ms(0, 9999, 0), 1000);
    assert_int_equal(tcpi_worker_backoff_ms(1000, 500, 0), 2000);
    assert_int_equal(tcpi_worker_backoff_ms(256000, 0, 0), 300000);
    /* A startup failure: at least 10 s, doubling. */
    assert_int_equal(tcpi_worker_backoff_ms(0, 0, 1), 10000);
    assert_int_equal(tcpi_worker_backoff_ms(2000, 0, 1), 10000);
    assert_int_equal(tcpi_worker_backoff_ms(10000, 0, 1), 20000);
    assert_int_equal(tcpi_worker_backoff_ms(200000, 0, 1), 300000);
}

/* The worker refuses a region whose geometry is not its plan's. */
static void test_open_checks_region(void **state)
{
    size_t size = tcpi_shm_size(1 << 20);
    void *mem = calloc(1, size);
    tcpi_shm_t *shm = tcpi_shm_init(mem, 1 << 20, 1);
    tcpi_worker_conf_t wc = { .shm = shm, .ring_size = 1 << 20,
                              .snaplen = 65535, .kernel_buffer = 1 << 20 };
    char err[256];
    tcpi_worker_t *w;

    w = tcpi_worker_open(&wc, err, sizeof(err));
    assert_non_null(w);                 /* as formatted: accepted */
    tcpi_worker_close(w);
    wc.ring_size = 2 << 20;             /* a plan for another ring */
    assert_null(tcpi_worker_open(&wc, err, sizeof(err)));
    assert_non_null(strstr(err, "layout"));
    wc.ring_size = 1 << 20;
    shm->ring_off += 64;                /* an offset moved */
    assert_null(tcpi_worker_open(&wc, err, sizeof(err)));
    shm->ring_off -= 64;
    ((uint64_t *)((char *)shm + shm->ring_off))[2] = 0;  /* ring desc_off */
    assert_null(tcpi_worker_open(&wc, err, sizeof(err)));
    assert_non_null(strstr(err, "ring"));
    wc.niface = TCPI_MAX_IFACES + 1;
    assert_null(tcpi_worker_open(&wc, err, sizeof(err)));
    free(mem);
}

static volatile sig_atomic_t stop_flag;

static void on_alarm(int sig)
{
    stop_flag = 1;
}

static void test_capture_lo(void **state)
{
    size_t size = tcpi_shm_size(1 << 20);
    void *mem = calloc(1, size);
    tcpi_shm_t *shm = tcpi_shm_init(mem, 1 << 20, 1);
    tcpi_ports_t p = { .n = 0 };
    char filter[TCPI_FILTER_MAX], err[256];
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t sl = sizeof(sa);

    if (geteuid() != 0) {
        print_message("skipped: packet sockets need root\n");
        free(mem);
        skip();
    }
    /* A listener on an ephemeral loopback port and one connection to it. */
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(ls, 4), 0);
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    tcpi_ports_add(&p, ntohs(sa.sin_port));
    assert_int_equal(tcpi_filter_build(filter, sizeof(filter), &p, NULL), 0);
    tcpi_shm_add_iface(shm, "lo", TCPI_LEG_BACKEND, filter);
    tcpi_shm_add_iface(shm, "tcpi-nonexist0", TCPI_LEG_FRONT, filter);
    tcpi_worker_conf_t wc = { .shm = shm, .ring_size = 1 << 20,
                              .niface = 2, .snaplen = 262144,
                              .kernel_buffer = 1 << 20, .parent = getppid() };
    plan_iface(&wc.iface[0], "lo", TCPI_LEG_BACKEND, filter);
    plan_iface(&wc.iface[1], "tcpi-nonexist0", TCPI_LEG_FRONT, filter);
    /* The plan, not the shared table, says what to open: a name written
     * into shared memory after the parent's plan is never opened. */
    snprintf(shm->iface[1].name, sizeof(shm->iface[1].name), "lo");
    tcpi_worker_t *w = tcpi_worker_open(&wc, err, sizeof(err));
    assert_non_null(w);
    /* The missing interface is reported, the other one works. */
    assert_int_equal(tcpi_worker_active(w), 1);
    assert_int_equal(atomic_load(&shm->iface[0].status), TCPI_IF_OK);
    assert_int_equal(atomic_load(&shm->iface[1].status), TCPI_IF_ERROR);
    assert_non_null(strstr(shm->iface[1].error, "no such interface"));

    /* The very first connection after the handles open is captured (no
     * packet lost to the first ring block), each packet once. */
    int c = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct sockaddr_in ca;
    socklen_t cl = sizeof(ca);
    getsockname(c, (struct sockaddr *)&ca, &cl);
    char synf[128];
    snprintf(synf, sizeof(synf), "port %u and tcp[tcpflags] & tcp-syn != 0",
             ntohs(ca.sin_port));
    int a = accept(ls, NULL, NULL);
    assert_int_equal(write(c, "hello", 5), 5);
    close(c);
    close(a);
    close(ls);
    /* Run the real loop for about a second: SIGALRM sets the stop flag. */
    struct sigaction act = { .sa_handler = on_alarm };
    sigaction(SIGALRM, &act, NULL);
    alarm(1);
    assert_int_equal(tcpi_worker_run(w, &stop_flag), 0);
    /* SYN, SYN-ACK, ACK, data, ACK, FIN... each seen once: the kernel
     * makes no outgoing copy on lo (PACKET_IGNORE_OUTGOING). */
    tcpi_query_t q;
    assert_int_equal(tcpi_query_init(&q, shm, -1, synf, err, sizeof(err)), 0);
    uint8_t buf[2048];
    tcpi_ring_rec_t rec;
    int syns = 0;
    tcpi_query_start(&q, buf, sizeof(buf));
    while (tcpi_query_next(&q, &rec, buf, sizeof(buf))) {
        syns++;
        assert_int_equal(rec.linktype, DLT_EN10MB);
        assert_true(rec.ts_ns > 1600000000ull * 1000000000ull);
    }
    tcpi_query_free(&q);
    assert_int_equal(syns, 2);       /* SYN and SYN-ACK, once each */
    assert_true(atomic_load(&shm->iface[0].packets) >= 6);
    assert_true(atomic_load(&shm->heartbeat_ns) > 0);
    tcpi_worker_close(w);
    free(mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_build),
        cmocka_unit_test(test_open_checks_region),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_capture_lo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
