/* Unit tests for the whole-line writer (tcpi_linelog.h) through real
 * pipes and files: lines go through whole and in order while the reader
 * keeps up; a pipe that fills makes lines wait, then drop whole; a line
 * longer than PIPE_BUF taken in part by a nearly full pipe has its rest
 * written before anything else; a write error waits and counts; what is
 * not a line is refused; close() counts what still waits. A random run
 * with a reader at random pace checks the stream byte by byte: every
 * line it holds is a whole line that was put, in the order they were
 * put, and written + dropped equals the lines put. */
#include "tcpi_test.h"
#include "common/tcpi_linelog.h"
#include "common/tcpi_common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int logged[10000];

static void count_log(void *baton, int level, const char *tag, const char *msg)
{
    int n = atoi(tag + 4);
    if (n > 0 && n < 10000)
        logged[n]++;
}

static uint64_t ld(_Atomic uint64_t *c)
{
    return atomic_load(c);
}

/* Line i: "{"i":<i>,"pad":"xxx..."}\n", len bytes long (at least 24). */
static size_t make_line(char *buf, size_t len, unsigned i)
{
    int n = snprintf(buf, len, "{\"i\":%u,\"pad\":\"", i);
    size_t k = (size_t)n;

    while (k < len - 3)
        buf[k] = (char)('a' + (i + k) % 26), k++;
    buf[k++] = '"';
    buf[k++] = '}';
    buf[k++] = '\n';
    return k;
}

/* Drain a pipe's read end (non-blocking) into out (appending). */
static size_t drain(int rfd, char **out, size_t *len, size_t *cap)
{
    char tmp[65536];
    size_t got = 0;

    for (int i = 0; i < 100000; i++) {
        ssize_t r = read(rfd, tmp, sizeof(tmp));
        if (r <= 0)
            break;
        if (*len + (size_t)r > *cap) {
            *cap = (*len + (size_t)r) * 2;
            *out = realloc(*out, *cap);
            assert_non_null(*out);
        }
        memcpy(*out + *len, tmp, (size_t)r);
        *len += (size_t)r;
        got += (size_t)r;
    }
    return got;
}

/* Check a stream: whole lines only, each line i as make_line wrote it
 * with lens[i], in increasing i. Returns the number of lines. */
static size_t check_stream(const char *s, size_t n, const size_t *lens,
                           unsigned nput)
{
    char want[TCPI_LINELOG_LINE_MAX + 64];
    size_t off = 0, lines = 0;
    long last = -1;

    while (off < n) {
        const char *nl = memchr(s + off, '\n', n - off);
        unsigned i;
        assert_non_null(nl);                      /* no torn tail */
        size_t ll = (size_t)(nl - (s + off)) + 1;
        assert_int_equal(sscanf(s + off, "{\"i\":%u,", &i), 1);
        assert_true(i < nput);
        assert_true((long)i > last);              /* in order */
        assert_int_equal(ll, lens[i]);
        make_line(want, lens[i], i);
        assert_memory_equal(s + off, want, ll);   /* whole */
        last = i;
        off += ll;
        lines++;
    }
    return lines;
}

static void nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* A reader that keeps up: every line written at once, none waits. */
static void test_reader_keeps_up(void **state)
{
    int p[2];
    tcpi_linelog_stats_t st = { 0 };
    char line[512], *out = NULL;
    size_t lens[200], len = 0, cap = 0;

    assert_int_equal(pipe(p), 0);
    nonblock(p[0]);
    tcpi_linelog_t *l = tcpi_linelog_create(p[1], &st);
    assert_non_null(l);
    assert_true(fcntl(p[1], F_GETFL) & O_NONBLOCK);
    for (unsigned i = 0; i < 200; i++) {
        lens[i] = make_line(line, 100 + i, i);
        assert_int_equal(tcpi_linelog_put(l, line, lens[i]), TCPI_LINE_WRITTEN);
        drain(p[0], &out, &len, &cap);
    }
    assert_int_equal(check_stream(out, len, lens, 200), 200);
    assert_int_equal(ld(&st.written), 200);
    assert_int_equal(ld(&st.delayed), 0);
    assert_int_equal(ld(&st.dropped), 0);
    assert_int_equal(ld(&st.pending_bytes), 0);
    tcpi_linelog_close(l, 0);
    assert_int_equal(ld(&st.dropped), 0);
    close(p[0]);
    close(p[1]);
    free(out);
}

/* A reader that stalls: the pipe fills (EAGAIN), lines wait up to the
 * bound, then drop whole; once read, the waiting ones follow in order. */
static void test_stalled_pipe(void **state)
{
    int p[2];
    tcpi_linelog_stats_t st = { 0 };
    char line[2048], *out = NULL;
    enum { N = 400 };
    size_t lens[N], len = 0, cap = 0;
    unsigned waits = 0, dropped = 0, written = 0;

    assert_int_equal(pipe(p), 0);
    nonblock(p[0]);
    tcpi_linelog_t *l = tcpi_linelog_create(p[1], &st);
    /* 64 KiB of pipe and 64 KiB of buffer hold about 130 such lines. */
    for (unsigned i = 0; i < N; i++) {
        lens[i] = make_line(line, 1000, i);
        int rc = tcpi_linelog_put(l, line, lens[i]);
        written += rc == TCPI_LINE_WRITTEN;
        waits += rc == TCPI_LINE_WAITS;
        dropped += rc == TCPI_LINE_DROPPED;
    }
    assert_true(waits > 0);
    assert_true(dropped > 0);
    assert_int_equal(written + waits + dropped, N);
    assert_int_equal(ld(&st.dropped), dropped);
    assert_true(tcpi_linelog_pending(l) > 0);
    assert_true(tcpi_linelog_pending(l) <= TCPI_LINELOG_PENDING);
    assert_int_equal(ld(&st.pending_bytes), tcpi_linelog_pending(l));
    /* The reader wakes up: everything that waited follows. */
    for (int i = 0; i < 100 && !tcpi_linelog_flush(l); i++)
        drain(p[0], &out, &len, &cap);
    drain(p[0], &out, &len, &cap);
    assert_int_equal(tcpi_linelog_pending(l), 0);
    assert_int_equal(check_stream(out, len, lens, N), N - dropped);
    assert_int_equal(ld(&st.written), N - dropped);
    assert_int_equal(ld(&st.delayed), waits);
    tcpi_linelog_close(l, 0);
    assert_int_equal(ld(&st.dropped), dropped);
    close(p[0]);
    close(p[1]);
    free(out);
}

/* A line longer than PIPE_BUF into a pipe with some room: the kernel
 * takes a part; the rest goes out before the lines put after it. */
static void test_short_write(void **state)
{
    int p[2];
    tcpi_linelog_stats_t st = { 0 };
    char line[TCPI_LINELOG_LINE_MAX], *out = NULL;
    size_t lens[8], len = 0, cap = 0;

    assert_int_equal(pipe(p), 0);
    nonblock(p[0]);
    /* The smallest pipe: one page. */
    assert_true(fcntl(p[1], F_SETPIPE_SZ, 4096) >= 4096);
    tcpi_linelog_t *l = tcpi_linelog_create(p[1], &st);
    lens[0] = make_line(line, 1000, 0);
    assert_int_equal(tcpi_linelog_put(l, line, lens[0]), TCPI_LINE_WRITTEN);
    lens[1] = make_line(line, 9000, 1);            /* > PIPE_BUF */
    assert_int_equal(tcpi_linelog_put(l, line, lens[1]), TCPI_LINE_WAITS);
    /* Taken in part: what waits is less than the line. */
    assert_true(tcpi_linelog_pending(l) > 0);
    assert_true(tcpi_linelog_pending(l) < lens[1]);
    for (unsigned i = 2; i < 8; i++) {
        lens[i] = make_line(line, 300 + i, i);
        assert_int_equal(tcpi_linelog_put(l, line, lens[i]), TCPI_LINE_WAITS);
    }
    assert_int_equal(ld(&st.written), 1);
    for (int i = 0; i < 100 && !tcpi_linelog_flush(l); i++)
        drain(p[0], &out, &len, &cap);
    drain(p[0], &out, &len, &cap);
    assert_int_equal(check_stream(out, len, lens, 8), 8);
    assert_int_equal(ld(&st.written), 8);
    assert_int_equal(ld(&st.delayed), 7);
    assert_int_equal(ld(&st.dropped), 0);
    tcpi_linelog_close(l, 0);
    close(p[0]);
    close(p[1]);
    free(out);
}

/* Not a line: refused and counted, nothing written. */
static void test_not_a_line(void **state)
{
    int p[2];
    tcpi_linelog_stats_t st = { 0 };
    static char big[TCPI_LINELOG_LINE_MAX + 2];
    char buf[64];

    assert_int_equal(pipe(p), 0);
    nonblock(p[0]);
    tcpi_linelog_t *l = tcpi_linelog_create(p[1], &st);
    assert_int_equal(tcpi_linelog_put(l, "x", 0), TCPI_LINE_DROPPED);
    assert_int_equal(tcpi_linelog_put(l, "{}", 2), TCPI_LINE_DROPPED);
    assert_int_equal(tcpi_linelog_put(l, "{\n}\n", 4), TCPI_LINE_DROPPED);
    memset(big, 'x', sizeof(big));
    big[sizeof(big) - 1] = '\n';
    assert_int_equal(tcpi_linelog_put(l, big, sizeof(big)), TCPI_LINE_DROPPED);
    big[TCPI_LINELOG_LINE_MAX - 1] = '\n';     /* the longest there is */
    assert_int_equal(tcpi_linelog_put(l, big, TCPI_LINELOG_LINE_MAX),
                     TCPI_LINE_WRITTEN);
    assert_int_equal(ld(&st.dropped), 4);
    assert_int_equal(ld(&st.written), 1);
    tcpi_linelog_close(l, 0);
    close(p[1]);
    size_t total = 0;
    ssize_t r;
    while ((r = read(p[0], buf, sizeof(buf))) > 0)
        total += (size_t)r;
    assert_int_equal(total, TCPI_LINELOG_LINE_MAX);
    close(p[0]);
}

/* A regular file takes everything; a descriptor that cannot be written
 * counts errors, holds its lines, and logs the failure once. */
static void test_file_and_errors(void **state)
{
    char path[] = "/tmp/tcpi-linelog-XXXXXX", line[256];
    tcpi_linelog_stats_t st = { 0 }, est = { 0 };
    int fd = mkstemp(path), bad;
    struct stat sb;

    assert_true(fd >= 0);
    tcpi_linelog_t *l = tcpi_linelog_create(fd, &st);
    size_t total = 0;
    for (unsigned i = 0; i < 1000; i++) {
        size_t n = make_line(line, 50 + i % 200, i);
        total += n;
        assert_int_equal(tcpi_linelog_put(l, line, n), TCPI_LINE_WRITTEN);
    }
    tcpi_linelog_close(l, 0);
    assert_int_equal(fstat(fd, &sb), 0);
    assert_int_equal((size_t)sb.st_size, total);
    assert_int_equal(ld(&st.written), 1000);
    close(fd);
    unlink(path);

    memset(logged, 0, sizeof(logged));
    tcpi_log_set(count_log, NULL);
    bad = open("/dev/null", O_RDONLY);            /* write: EBADF */
    l = tcpi_linelog_create(bad, &est);
    size_t n = make_line(line, 200, 1);
    assert_int_equal(tcpi_linelog_put(l, line, n), TCPI_LINE_WAITS);
    assert_int_equal(ld(&est.write_errors), 1);
    /* Held for a second: no new attempt, the lines wait, then drop. */
    for (unsigned i = 0; i < 400; i++)
        tcpi_linelog_put(l, line, n);
    assert_int_equal(ld(&est.write_errors), 1);
    assert_true(ld(&est.dropped) > 0);
    assert_int_equal(logged[701], 1);
    assert_int_equal(logged[703], 1);              /* once a minute */
    uint64_t waiting = tcpi_linelog_pending(l) / n, dropped = ld(&est.dropped);
    tcpi_linelog_close(l, 0);
    assert_int_equal(ld(&est.dropped), dropped + waiting);
    assert_int_equal(ld(&est.pending_bytes), 0);
    assert_int_equal(ld(&est.written), 0);
    tcpi_log_set(NULL, NULL);
    close(bad);
}

/* close() waits for a slow reader within its bound. */
static void test_close_waits(void **state)
{
    int p[2];
    tcpi_linelog_stats_t st = { 0 };
    char line[1024];

    assert_int_equal(pipe(p), 0);
    tcpi_linelog_t *l = tcpi_linelog_create(p[1], &st);
    size_t n = make_line(line, 1000, 0);
    unsigned put = 0;
    while (tcpi_linelog_pending(l) == 0 && put < 1000)
        tcpi_linelog_put(l, line, n), put++;
    assert_true(tcpi_linelog_pending(l) > 0);
    pid_t pid = fork();
    if (pid == 0) {                               /* reads after 100 ms */
        char buf[65536];
        usleep(100000);
        close(p[1]);
        while (read(p[0], buf, sizeof(buf)) > 0)
            ;
        _exit(0);
    }
    close(p[0]);
    tcpi_linelog_close(l, 5000);
    assert_int_equal(ld(&st.dropped), 0);
    assert_int_equal(ld(&st.written), put);
    close(p[1]);
    waitpid(pid, NULL, 0);
}

/* Random line lengths (PIPE_BUF crossed both ways), a small pipe, a
 * reader at random pace: the stream stays whole lines in order, and
 * every line is written or dropped. */
static void test_random(void **state)
{
    enum { N = 20000 };
    int p[2];
    tcpi_linelog_stats_t st = { 0 };
    static size_t lens[N];
    char line[TCPI_LINELOG_LINE_MAX], *out = NULL;
    size_t len = 0, cap = 0;
    unsigned seed = 12345;

    assert_int_equal(pipe(p), 0);
    nonblock(p[0]);
    assert_true(fcntl(p[1], F_SETPIPE_SZ, 16384) >= 16384);
    tcpi_linelog_t *l = tcpi_linelog_create(p[1], &st);
    for (unsigned i = 0; i < N; i++) {
        unsigned r = rand_r(&seed);
        size_t want = r % 16 == 0 ? 4000 + r % 8000 : 24 + r % 1500;
        lens[i] = make_line(line, want, i);
        tcpi_linelog_put(l, line, lens[i]);
        if (rand_r(&seed) % 16 == 0)
            drain(p[0], &out, &len, &cap);
        if (rand_r(&seed) % 4 == 0)
            tcpi_linelog_flush(l);
    }
    for (int i = 0; i < 1000 && !tcpi_linelog_flush(l); i++)
        drain(p[0], &out, &len, &cap);
    drain(p[0], &out, &len, &cap);
    size_t lines = check_stream(out, len, lens, N);
    assert_int_equal(lines, ld(&st.written));
    assert_int_equal(ld(&st.written) + ld(&st.dropped), N);
    assert_true(ld(&st.dropped) > 0);
    assert_true(ld(&st.delayed) > 0);
    print_message("  random: %zu written (%llu waited first), %llu dropped\n",
                  lines, (unsigned long long)ld(&st.delayed),
                  (unsigned long long)ld(&st.dropped));
    tcpi_linelog_close(l, 0);
    close(p[0]);
    close(p[1]);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_keeps_up),
        cmocka_unit_test(test_stalled_pipe),
        cmocka_unit_test(test_short_write),
        cmocka_unit_test(test_not_a_line),
        cmocka_unit_test(test_file_and_errors),
        cmocka_unit_test(test_close_waits),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
