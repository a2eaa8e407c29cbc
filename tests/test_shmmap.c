/* Unit tests for the shared region's two views: what a forked process
 * (an MPM child) can and cannot write, whatever it tries. */
#include "tcpi_test.h"
#include "region/tcpi_shm.h"
#include "store/tcpi_shmmap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define RING (1u << 20)

static tcpi_shmmap_t m;
static tcpi_shm_layout_t lay;

static int setup(void **state)
{
    char err[256];

    tcpi_shm_layout(&lay, RING);
    if (tcpi_shmmap_create(&m, lay.size, lay.reqlog_off, err, sizeof(err))) {
        print_message("tcpi_shmmap_create: %s\n", err);
        return -1;
    }
    return tcpi_shm_init(m.rw, RING, 1) ? 0 : -1;
}

static int teardown(void **state)
{
    tcpi_shmmap_destroy(&m);
    return 0;
}

/* Run fn in a forked child; its exit status (or 128 + signal). */
static int in_child(int (*fn)(void))
{
    int st;
    pid_t pid = fork();

    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);           /* not cmocka's handler */
        _exit(fn());
    }
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Write through /proc/self/mem, as a debugger (or root) would. */
static int mem_write(void *addr, const void *buf, size_t len)
{
    int fd = open("/proc/self/mem", O_RDWR);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = pwrite(fd, buf, len, (off_t)(uintptr_t)addr);
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}

static void test_views_share(void **state)
{
    tcpi_shm_t *ro = m.ro, *rw = m.rw;

    assert_int_equal(lay.reqlog_off, m.log_off);
    atomic_store(&rw->restarts, 7);
    assert_int_equal(atomic_load(&ro->restarts), 7);
    assert_int_equal(ro->reqlog_off, lay.reqlog_off);
    char err[128];
    assert_int_equal(tcpi_shm_check(ro, RING, err, sizeof(err)), 0);
    /* The request log is writable through the read-only view. */
    tcpi_req_t r = { .id = "abc", .status = 200 }, out;
    assert_int_equal(tcpi_reqlog_put(tcpi_shm_reqlog(ro), &r), 0);
    assert_int_equal(tcpi_reqlog_get(&out, tcpi_shm_reqlog(rw), 0), 0);
    assert_string_equal(out.id, "abc");
}

static void test_ro_cannot_be_made_writable(void **state)
{
    char one = 1;

    /* Neither mprotect nor a /proc/self/mem write gets past the read-only
     * descriptor, even here in the creator. */
    assert_int_equal(mprotect(m.ro, 4096, PROT_READ | PROT_WRITE), -1);
    assert_int_equal(errno, EACCES);
    assert_int_equal(mem_write(m.ro, &one, 1), -1);
    assert_int_equal(mem_write((char *)m.ro + lay.ring_off + 100, &one, 1), -1);
    /* A fresh shared mapping of the same pages cannot be had either: no
     * descriptor of the memfds is left open. */
    char path[64], link[256];
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, link, sizeof(link) - 1);
        if (n < 0)
            continue;
        link[n] = '\0';
        assert_null(strstr(link, "tcpinspect"));
    }
}

static int child_writes_ro(void)
{
    ((volatile char *)m.ro)[64] = 1;        /* SIGSEGV expected */
    return 0;
}

static int child_has_no_rw(void)
{
    unsigned char v;
    /* mincore fails with ENOMEM on an address that is not mapped. */
    if (mincore(m.rw, 4096, &v) == 0 || errno != ENOMEM)
        return 1;
    if (mprotect(m.ro, 4096, PROT_READ | PROT_WRITE) == 0)
        return 2;
    char one = 1;
    if (mem_write(m.ro, &one, 1) == 0)
        return 3;
    /* The log part stays writable for the child. */
    tcpi_req_t r = { .id = "child" };
    if (tcpi_reqlog_put(tcpi_shm_reqlog(m.ro), &r) != 0)
        return 4;
    return 0;
}

static int child_has_rw(void)
{
    atomic_store(&((tcpi_shm_t *)m.rw)->restarts, 42);
    return 0;
}

static void test_fork(void **state)
{
    assert_int_equal(in_child(child_writes_ro), 128 + SIGSEGV);
    assert_int_equal(in_child(child_has_no_rw), 0);
    tcpi_req_t out;
    uint64_t head = tcpi_reqlog_head(tcpi_shm_reqlog(m.rw));
    assert_int_equal(tcpi_reqlog_get(&out, tcpi_shm_reqlog(m.rw), head - 1), 0);
    assert_string_equal(out.id, "child");
    /* Only a fork between begin and end keeps the writers' view. */
    tcpi_shmmap_fork_begin(&m);
    assert_int_equal(in_child(child_has_rw), 0);
    tcpi_shmmap_fork_end(&m);
    assert_int_equal(atomic_load(&((tcpi_shm_t *)m.ro)->restarts), 42);
    assert_int_equal(in_child(child_has_no_rw), 0);
}

static void test_bad_geometry(void **state)
{
    tcpi_shmmap_t x;
    char err[128];

    assert_int_equal(tcpi_shmmap_create(&x, 8192, 0, err, sizeof(err)), -1);
    assert_int_equal(tcpi_shmmap_create(&x, 8192, 8192, err, sizeof(err)), -1);
    assert_int_equal(tcpi_shmmap_create(&x, 8192, 100, err, sizeof(err)), -1);
    assert_null(x.ro);
    assert_null(x.rw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_views_share),
        cmocka_unit_test(test_ro_cannot_be_made_writable),
        cmocka_unit_test(test_fork),
        cmocka_unit_test(test_bad_geometry),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
