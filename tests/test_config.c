/* Unit tests for the directive value parsers: valid, boundary, invalid. */
#include "tcpi_test.h"
#include "common/tcpi_config.h"

#include <apr_general.h>
#include <apr_strings.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/stat.h>
#include <unistd.h>

static apr_pool_t *pool;

static int setup(void **state) { (void)state; return apr_pool_create(&pool, NULL); }
static int teardown(void **state) { (void)state; apr_pool_destroy(pool); return 0; }

static void test_flag(void **state)
{
    int v = -1;
    assert_null(tcpi_conf_parse_flag(&v, "On", pool));
    assert_int_equal(v, 1);
    assert_null(tcpi_conf_parse_flag(&v, "off", pool));
    assert_int_equal(v, 0);
    assert_non_null(tcpi_conf_parse_flag(&v, "Maybe", pool));
    assert_non_null(tcpi_conf_parse_flag(&v, "", pool));
}

static void test_port(void **state)
{
    uint16_t port = 0;
    assert_null(tcpi_conf_parse_port(&port, "1", pool));
    assert_int_equal(port, 1);
    assert_null(tcpi_conf_parse_port(&port, "65535", pool));
    assert_int_equal(port, 65535);
    assert_null(tcpi_conf_parse_port(&port, "7001", pool));
    assert_int_equal(port, 7001);
    const char *bad[] = { "0", "65536", "-1", "+80", " 80", "80 ", "0x50",
                          "abc", "", "99999999999999999999999", "8O" };
    for (size_t i = 0; i < TCPI_ARRAY_LEN(bad); i++) {
        port = 42;
        const char *err = tcpi_conf_parse_port(&port, bad[i], pool);
        assert_non_null(err);
        assert_int_equal(port, 42);
    }
    assert_non_null(strstr(tcpi_conf_parse_port(&port, "0", pool), "1-65535"));
}

static void test_size(void **state)
{
    uint64_t v;
    assert_null(tcpi_conf_parse_size(&v, "64M", TCPI_RING_MIN, TCPI_RING_MAX, pool));
    assert_int_equal(v, 64ull << 20);
    assert_null(tcpi_conf_parse_size(&v, "1m", TCPI_RING_MIN, TCPI_RING_MAX, pool));
    assert_int_equal(v, TCPI_RING_MIN);
    assert_null(tcpi_conf_parse_size(&v, "16G", TCPI_RING_MIN, TCPI_RING_MAX, pool));
    assert_int_equal(v, TCPI_RING_MAX);
    assert_null(tcpi_conf_parse_size(&v, "1048576", TCPI_RING_MIN, TCPI_RING_MAX, pool));
    assert_null(tcpi_conf_parse_size(&v, "512k", TCPI_KBUF_MIN, TCPI_KBUF_MAX, pool));
    assert_int_equal(v, 512u << 10);
    const char *bad[] = { "1048575", "17G", "1K", "12Q", "M", "", "-5M",
                          "5 M", "5MB", "99999999999999999999G",
                          "18446744073709551615G" };
    for (size_t i = 0; i < TCPI_ARRAY_LEN(bad); i++)
        assert_non_null(tcpi_conf_parse_size(&v, bad[i], TCPI_RING_MIN,
                                             TCPI_RING_MAX, pool));
    const char *err = tcpi_conf_parse_size(&v, "99G", TCPI_RING_MIN, TCPI_RING_MAX, pool);
    assert_non_null(strstr(err, "1M-16G"));
}

static void test_leg(void **state)
{
    tcpi_leg_t leg;
    char *a1[] = { "eth0", "80", "443" };
    assert_null(tcpi_conf_parse_leg(&leg, 3, a1, pool));
    assert_string_equal(leg.iface, "eth0");
    assert_int_equal(leg.ports.n, 2);
    assert_int_equal(leg.ports.port[1], 443);
    char *a2[] = { "7001" };
    assert_null(tcpi_conf_parse_leg(&leg, 1, a2, pool));
    assert_string_equal(leg.iface, "");
    assert_int_equal(leg.ports.port[0], 7001);
    char *a3[] = { "lo", "7001", "7001" };
    assert_null(tcpi_conf_parse_leg(&leg, 3, a3, pool));
    assert_int_equal(leg.ports.n, 1);
    char *b1[] = { "eth0" };
    assert_non_null(tcpi_conf_parse_leg(&leg, 1, b1, pool));
    char *b2[] = { "eth0", "0" };
    assert_non_null(tcpi_conf_parse_leg(&leg, 2, b2, pool));
    char *b3[] = { "eth0", "80", "65536" };
    assert_non_null(tcpi_conf_parse_leg(&leg, 3, b3, pool));
    char *b4[] = { "a-name-that-is-too-long", "80" };
    assert_non_null(tcpi_conf_parse_leg(&leg, 2, b4, pool));
    char *b5[] = { "eth/0", "80" };
    assert_non_null(tcpi_conf_parse_leg(&leg, 2, b5, pool));
    char *b6[] = { "80abc" };
    assert_non_null(tcpi_conf_parse_leg(&leg, 1, b6, pool));
    assert_non_null(tcpi_conf_parse_leg(&leg, 0, NULL, pool));
    char *many[TCPI_MAX_PORTS + 1];
    for (int i = 0; i <= TCPI_MAX_PORTS; i++)
        many[i] = apr_itoa(pool, 1000 + i);
    assert_null(tcpi_conf_parse_leg(&leg, TCPI_MAX_PORTS, many, pool));
    assert_non_null(tcpi_conf_parse_leg(&leg, TCPI_MAX_PORTS + 1, many, pool));
}

static void test_threshold(void **state)
{
    tcpi_threshold_t t;
    char *a1[] = { "ESTABLISHED", "600", "800" };
    assert_null(tcpi_conf_parse_threshold(&t, 3, a1, pool));
    assert_int_equal(t.state, TCPI_ST_ESTABLISHED);
    assert_int_equal(t.warning, 600);
    assert_int_equal(t.critical, 800);
    assert_int_equal(t.scope, -1);
    char *a2[] = { "time_wait", "400", "400", "front" };
    assert_null(tcpi_conf_parse_threshold(&t, 4, a2, pool));
    assert_int_equal(t.state, TCPI_ST_TIME_WAIT);
    assert_int_equal(t.scope, TCPI_SCOPE_FRONT);
    char *a3[] = { "CLOSE_WAIT", "0", "4294967295", "backend_local" };
    assert_null(tcpi_conf_parse_threshold(&t, 4, a3, pool));
    assert_int_equal(t.critical, 4294967295u);
    char *b1[] = { "BOGUS", "1", "2" };
    assert_non_null(strstr(tcpi_conf_parse_threshold(&t, 3, b1, pool), "BOGUS"));
    char *b2[] = { "ESTABLISHED", "800", "600" };
    assert_non_null(tcpi_conf_parse_threshold(&t, 3, b2, pool));
    char *b3[] = { "ESTABLISHED", "1", "2", "sideways" };
    assert_non_null(tcpi_conf_parse_threshold(&t, 4, b3, pool));
    char *b4[] = { "ESTABLISHED", "x", "2" };
    assert_non_null(tcpi_conf_parse_threshold(&t, 3, b4, pool));
    char *b5[] = { "ESTABLISHED", "1", "4294967296" };
    assert_non_null(tcpi_conf_parse_threshold(&t, 3, b5, pool));
    assert_non_null(tcpi_conf_parse_threshold(&t, 2, b5, pool));
}

static void test_header(void **state)
{
    assert_null(tcpi_conf_check_header("Authorization", pool));
    assert_null(tcpi_conf_check_header("X-Api-Key", pool));
    assert_non_null(tcpi_conf_check_header("Bad Header:", pool));
    assert_non_null(tcpi_conf_check_header("a:b", pool));
    assert_non_null(tcpi_conf_check_header("", pool));
}

static void test_bpf(void **state)
{
    assert_null(tcpi_conf_check_bpf("host 10.16.2.85", DLT_EN10MB, pool));
    assert_null(tcpi_conf_check_bpf("tcp port 80 and not src net 198.18.0.0/15",
                                    DLT_LINUX_SLL, pool));
    const char *err = tcpi_conf_check_bpf("tcp port", DLT_EN10MB, pool);
    assert_non_null(err);
    assert_non_null(strstr(err, "syntax error"));
    assert_non_null(tcpi_conf_check_bpf("host 999.1.1.1", DLT_EN10MB, pool));
}

/* TCPInspectRequestLog: CustomLog's pipe syntax, and the file checked
 * without being created. */
static void test_log_target(void **state)
{
    const char *cmd, *err;
    char dir[] = "/tmp/tcpi-logcheck-XXXXXX", path[128];
    struct stat st;

    assert_null(tcpi_conf_parse_log_target(&cmd, "/var/log/r.json", pool));
    assert_null(cmd);
    assert_null(tcpi_conf_parse_log_target(&cmd, "logs/r.json", pool));
    assert_null(cmd);
    assert_null(tcpi_conf_parse_log_target(&cmd, "|cat", pool));
    assert_string_equal(cmd, "cat");
    assert_null(tcpi_conf_parse_log_target(&cmd, "||  /bin/cat -u", pool));
    assert_string_equal(cmd, "/bin/cat -u");
    assert_null(tcpi_conf_parse_log_target(&cmd, "|$cat >>/dev/null", pool));
    assert_string_equal(cmd, "cat >>/dev/null");
    assert_non_null(tcpi_conf_parse_log_target(&cmd, "", pool));
    assert_non_null(tcpi_conf_parse_log_target(&cmd, "|", pool));
    assert_non_null(tcpi_conf_parse_log_target(&cmd, "| ", pool));
    assert_non_null(tcpi_conf_parse_log_target(&cmd, "|$", pool));
    err = tcpi_conf_parse_log_target(&cmd, "|/nonexistent/rotatelogs x 60",
                                     pool);
    assert_non_null(err);
    assert_non_null(strstr(err, "/nonexistent/rotatelogs"));
    assert_non_null(tcpi_conf_parse_log_target(&cmd, "|/etc/passwd", pool));
    assert_non_null(tcpi_conf_parse_log_target(&cmd, "|/tmp", pool));

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/requests.json", dir);
    assert_null(tcpi_conf_check_log_file(path, pool));
    assert_int_not_equal(stat(path, &st), 0);          /* not created */
    assert_non_null(strstr(tcpi_conf_check_log_file(dir, pool),
                           "is a directory"));
    snprintf(path, sizeof(path), "%s/", dir);
    assert_non_null(tcpi_conf_check_log_file(path, pool));
    snprintf(path, sizeof(path), "%s/no/requests.json", dir);
    assert_non_null(tcpi_conf_check_log_file(path, pool));
    assert_non_null(tcpi_conf_check_log_file("/etc/passwd/x", pool));
    assert_non_null(tcpi_conf_check_log_file("relative.json", pool));
    assert_null(tcpi_conf_check_log_file("/dev/null", pool));
    snprintf(path, sizeof(path), "%s/existing.json", dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{}\n", 3), 3);
    close(fd);
    assert_null(tcpi_conf_check_log_file(path, pool));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 3);                   /* unchanged */
    unlink(path);
    rmdir(dir);
}

static void test_names(void **state)
{
    for (int i = 0; i < TCPI_NSTATES; i++)
        assert_int_equal(tcpi_state_from_name(tcpi_state_name(i)), i);
    assert_string_equal(tcpi_state_name(99), "UNKNOWN");
    assert_int_equal(tcpi_state_from_kernel(1), TCPI_ST_ESTABLISHED);
    assert_int_equal(tcpi_state_from_kernel(12), TCPI_ST_SYN_RECV);
    assert_int_equal(tcpi_state_from_kernel(0), -1);
    assert_int_equal(tcpi_state_from_kernel(13), -1);
    assert_int_equal(tcpi_scope_from_name("backend_local"), TCPI_SCOPE_BACKEND_LOCAL);
    assert_int_equal(tcpi_scope_from_name("nope"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flag),
        cmocka_unit_test(test_port),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_leg),
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_bpf),
        cmocka_unit_test(test_log_target),
        cmocka_unit_test(test_names),
    };
    apr_initialize();
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    apr_terminate();
    return rc;
}
