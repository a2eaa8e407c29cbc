/* bench_states — the C half of tests/bench_states.sh.
 *
 *   bench_states hold ADDR PORT N est|tw SECONDS
 *       listen on ADDR:PORT and make N loopback connections to it:
 *       est keeps both ends open (2N descriptors; they end with resets),
 *       tw closes the server
 *       end first and then the client, leaving N server-side TIME_WAIT
 *       sockets and no descriptor. Prints "ready N", then holds until
 *       SIGTERM or SECONDS have passed.
 *   bench_states count PORT RUNS [v2|events]
 *       time tcpi_sockdiag_count (what the module runs per page and the
 *       worker once a second) with PORT as the front port, RUNS times;
 *       prints the median and the counts it saw. v2: force the two
 *       per-family dumps instead of the single-walk request. events: the
 *       event counter loaded first (root), then tcpi_sockdiag_count_ev,
 *       what the module runs when the counter is loaded.
 */
#include "states/tcpi_evstates.h"
#include "states/tcpi_sockdiag.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int hold(const char *addr, int port, int n, int tw, int seconds)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    int one = 1, l = socket(AF_INET, SOCK_STREAM, 0), made = 0;

    if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
        fprintf(stderr, "bad address %s\n", addr);
        return 2;
    }
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 4096) != 0) {
        fprintf(stderr, "listen %s:%d: %s\n", addr, port, strerror(errno));
        return 2;
    }
    alarm((unsigned)seconds);          /* never outlive the benchmark */
    for (int i = 0; i < n; i++) {
        int c = socket(AF_INET, SOCK_STREAM, 0), s;
        if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) != 0 ||
            (s = accept(l, NULL, NULL)) < 0) {
            fprintf(stderr, "connection %d: %s\n", i, strerror(errno));
            break;
        }
        if (tw) {
            close(s);                   /* the server closes first */
            close(c);
        } else {
            /* Reset at exit, not FINs: a holder that goes leaves no
             * TIME_WAIT socket to weigh on the rounds after it. */
            struct linger abortive = { 1, 0 };
            setsockopt(c, SOL_SOCKET, SO_LINGER, &abortive, sizeof(abortive));
            setsockopt(s, SOL_SOCKET, SO_LINGER, &abortive, sizeof(abortive));
        }
        made++;
    }
    if (tw)
        close(l);
    printf("ready %d\n", made);
    fflush(stdout);
    for (;;)
        pause();                        /* SIGTERM or SIGALRM ends us */
}

enum { HOW_EVENTS = 100 };

static int count(int port, int runs, int how)
{
    tcpi_ports_t f = { .n = 0 }, b = { .n = 0 };
    uint32_t c[TCPI_NSCOPES][TCPI_NSTATES];
    tcpi_sockdiag_stats_t st;
    double *t = calloc((size_t)runs, sizeof(double)), load_ms = 0;
    tcpi_evstates_t *ev = NULL;
    char err[256];

    tcpi_ports_add(&f, (uint16_t)port);
    if (how == HOW_EVENTS) {
        /* The load and seeding walk happen once per httpd generation, not
         * per page: timed apart. */
        double t0 = now_ms();
        ev = tcpi_evstates_open(&f, &b, err, sizeof(err));
        if (ev == NULL) {
            fprintf(stderr, "count: the event counter: %s\n", err);
            return 1;
        }
        load_ms = now_ms() - t0;
    }
    for (int i = 0; i < runs; i++) {
        double t0 = now_ms();
        int rc = ev ? tcpi_sockdiag_count_ev(c, &st, err, sizeof(err), &f, &b,
                                             tcpi_evstates_counts(ev))
                    : tcpi_sockdiag_count_how(c, &st, err, sizeof(err), &f, &b, how);
        if (rc != 0 || (ev && !st.events)) {
            fprintf(stderr, "count: %s\n", rc ? err : "the event counts were not used");
            return 1;
        }
        t[i] = now_ms() - t0;
    }
    if (ev) {
        printf("load_ms=%.1f ", load_ms);
        tcpi_evstates_close(ev);
    }
    qsort(t, (size_t)runs, sizeof(double), cmp_double);
    printf("median_ms=%.2f min_ms=%.2f runs=%d", t[runs / 2], t[0], runs);
    for (int s = 0; s < TCPI_NSTATES; s++)
        if (c[TCPI_SCOPE_FRONT][s])
            printf(" %s=%u", tcpi_state_name(s), c[TCPI_SCOPE_FRONT][s]);
    printf(" messages=%u reads=%u walks=%u\n", st.sockets, st.reads, st.walks);
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 7 && strcmp(argv[1], "hold") == 0)
        return hold(argv[2], atoi(argv[3]), atoi(argv[4]),
                    strcmp(argv[5], "tw") == 0, atoi(argv[6]));
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "count") == 0)
        return count(atoi(argv[2]), atoi(argv[3]) > 0 ? atoi(argv[3]) : 1,
                     argc == 5 && strcmp(argv[4], "v2") == 0 ? TCPI_SOCKDIAG_V2
                     : argc == 5 && strcmp(argv[4], "events") == 0 ? HOW_EVENTS
                                                                   : TCPI_SOCKDIAG_AUTO);
    fprintf(stderr, "usage: %s hold ADDR PORT N est|tw SECONDS | count PORT RUNS [v2|events]\n",
            argv[0]);
    return 2;
}
