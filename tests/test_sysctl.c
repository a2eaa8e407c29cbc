/* Unit tests for the sysctl advisor: reading a fake /proc/sys tree under
 * a temporary directory (tabs, absent, unreadable and non-numeric
 * values) and the advice computed from counts. */
#include "tcpi_test.h"
#include "states/tcpi_sysctl.h"

#include <sys/stat.h>
#include <unistd.h>

static char root[64];

static void put(const char *path, const char *value)
{
    char file[256], dir[256];
    snprintf(file, sizeof(file), "%s/%s", root, path);
    snprintf(dir, sizeof(dir), "%s", file);
    *strrchr(dir, '/') = '\0';
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs(value, f);
    fclose(f);
}

/* The stock values of a Debian 12 host, tcp_tw_recycle gone. */
static int setup(void **state)
{
    snprintf(root, sizeof(root), "/tmp/tcpi-sysctl-XXXXXX");
    assert_non_null(mkdtemp(root));
    put("net/ipv4/tcp_syn_retries", "6\n");
    put("net/ipv4/tcp_synack_retries", "5\n");
    put("net/ipv4/tcp_max_syn_backlog", "512\n");
    put("net/ipv4/tcp_syncookies", "1\n");
    put("net/core/somaxconn", "4096\n");
    put("net/ipv4/tcp_keepalive_time", "7200\n");
    put("net/ipv4/tcp_keepalive_probes", "9\n");
    put("net/ipv4/tcp_keepalive_intvl", "75\n");
    put("net/ipv4/tcp_fin_timeout", "60\n");
    put("net/ipv4/tcp_tw_reuse", "2\n");
    put("net/ipv4/tcp_max_tw_buckets", "1000\n");
    put("net/ipv4/ip_local_port_range", "32768\t60999\n");
    put("net/ipv4/tcp_rmem", "4096\t131072\t6291456\n");
    put("net/ipv4/tcp_wmem", "4096 16384   4194304\n");
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd);
}

static const tcpi_advice_t *find(const tcpi_advice_t *a, int n, const char *topic)
{
    for (int i = 0; i < n; i++)
        if (strcmp(a[i].topic, topic) == 0)
            return &a[i];
    return NULL;
}

static void test_read(void **state)
{
    tcpi_sysctl_t s;

    tcpi_sysctl_read(&s, root);
    assert_string_equal(tcpi_sysctl_name(TCPI_SYS_SOMAXCONN), "somaxconn");
    assert_string_equal(tcpi_sysctl_path(TCPI_SYS_FIN_TIMEOUT),
                        "net/ipv4/tcp_fin_timeout");
    for (int k = 0; k < TCPI_NSYSCTL; k++)
        assert_true(strlen(tcpi_sysctl_help(k)) > 20);
    assert_int_equal(s.k[TCPI_SYS_FIN_TIMEOUT].present, 1);
    assert_int_equal(s.k[TCPI_SYS_FIN_TIMEOUT].nv, 1);
    assert_int_equal(s.k[TCPI_SYS_FIN_TIMEOUT].v[0], 60);
    assert_string_equal(s.k[TCPI_SYS_LOCAL_PORT_RANGE].text, "32768 60999");
    assert_int_equal(s.k[TCPI_SYS_LOCAL_PORT_RANGE].nv, 2);
    assert_int_equal(s.k[TCPI_SYS_LOCAL_PORT_RANGE].v[1], 60999);
    assert_string_equal(s.k[TCPI_SYS_WMEM].text, "4096 16384 4194304");
    assert_int_equal(s.k[TCPI_SYS_RMEM].v[2], 6291456);
    assert_int_equal(s.k[TCPI_SYS_TW_RECYCLE].present, 0);

    /* Non-numeric text is kept (printable only), with no numbers. */
    put("net/ipv4/tcp_syncookies", "on\x01\n");
    /* A directory where a file should be: present but unreadable. */
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/net/ipv4/tcp_tw_recycle", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    tcpi_sysctl_read(&s, root);
    assert_string_equal(s.k[TCPI_SYS_SYNCOOKIES].text, "on?");
    assert_int_equal(s.k[TCPI_SYS_SYNCOOKIES].nv, 0);
    assert_int_equal(s.k[TCPI_SYS_TW_RECYCLE].present, -1);

    /* A root that does not exist: everything absent, nothing fails. */
    tcpi_sysctl_read(&s, "/nonexistent/tcpi");
    for (int k = 0; k < TCPI_NSYSCTL; k++)
        assert_int_equal(s.k[k].present, 0);
}

static void test_advice(void **state)
{
    tcpi_sysctl_t s;
    tcpi_advice_t a[TCPI_MAX_ADVICE];
    uint32_t c[TCPI_NSCOPES][TCPI_NSTATES];
    const tcpi_advice_t *e;
    int n;

    tcpi_sysctl_read(&s, root);
    memset(c, 0, sizeof(c));
    /* A quiet host: everything ok, the myths corrected. */
    n = tcpi_sysctl_advise(a, TCPI_MAX_ADVICE, &s, c, 1);
    assert_non_null(e = find(a, n, "time_wait"));
    assert_int_equal(e->level, TCPI_ADVICE_OK);
    assert_non_null(e = find(a, n, "ephemeral_ports"));
    assert_int_equal(e->level, TCPI_ADVICE_OK);
    assert_non_null(e = find(a, n, "close_wait"));
    assert_int_equal(e->level, TCPI_ADVICE_OK);
    assert_non_null(e = find(a, n, "tw_recycle"));
    assert_non_null(strstr(e->text, "removed in Linux 4.12"));
    assert_non_null(e = find(a, n, "time_wait_length"));
    assert_non_null(strstr(e->text, "fixed 60 s"));
    assert_non_null(strstr(e->text, "tcp_fin_timeout (60 s)"));

    /* A busy one. */
    c[TCPI_SCOPE_FRONT][TCPI_ST_TIME_WAIT] = 300;
    c[TCPI_SCOPE_BACKEND][TCPI_ST_TIME_WAIT] = 600;       /* 90% of 1000 */
    c[TCPI_SCOPE_BACKEND][TCPI_ST_ESTABLISHED] = 15000;   /* 15600 of 28232 */
    c[TCPI_SCOPE_FRONT][TCPI_ST_SYN_RECV] = 300;          /* of min(512, 4096) */
    c[TCPI_SCOPE_FRONT][TCPI_ST_CLOSE_WAIT] = 12;
    c[TCPI_SCOPE_BACKEND_LOCAL][TCPI_ST_CLOSE_WAIT] = 3;
    c[TCPI_SCOPE_BACKEND][TCPI_ST_FIN_WAIT2] = 5;
    n = tcpi_sysctl_advise(a, TCPI_MAX_ADVICE, &s, c, 1);
    assert_non_null(e = find(a, n, "time_wait"));
    assert_int_equal(e->level, TCPI_ADVICE_CRITICAL);
    assert_non_null(strstr(e->text, "900 sockets in scope, 90% of tcp_max_tw_buckets (1000)"));
    assert_non_null(e = find(a, n, "ephemeral_ports"));
    assert_int_equal(e->level, TCPI_ADVICE_WARNING);
    assert_non_null(strstr(e->text, "15605 sockets towards the backend ports (600 in TIME_WAIT) "
                           "against 28232 ports"));
    assert_non_null(strstr(e->text, "55% used"));
    assert_non_null(e = find(a, n, "syn_recv"));
    assert_int_equal(e->level, TCPI_ADVICE_WARNING);
    assert_non_null(strstr(e->text, "pile-up"));
    assert_non_null(e = find(a, n, "close_wait.front"));
    assert_int_equal(e->level, TCPI_ADVICE_WARNING);
    assert_non_null(strstr(e->text, "not closing"));
    assert_non_null(e = find(a, n, "close_wait.backend_local"));
    assert_int_equal(e->level, TCPI_ADVICE_INFO);
    assert_null(find(a, n, "close_wait.backend"));
    assert_null(find(a, n, "close_wait"));
    assert_non_null(e = find(a, n, "fin_wait2"));
    assert_non_null(strstr(e->text, "backend 5"));

    /* Syncookies off and a full queue: critical. tcp_tw_reuse=1 takes
     * TIME_WAIT out of the port count. */
    put("net/ipv4/tcp_syncookies", "0\n");
    put("net/ipv4/tcp_tw_reuse", "1\n");
    tcpi_sysctl_read(&s, root);
    c[TCPI_SCOPE_FRONT][TCPI_ST_SYN_RECV] = 600;
    n = tcpi_sysctl_advise(a, TCPI_MAX_ADVICE, &s, c, 1);
    assert_non_null(e = find(a, n, "syn_recv"));
    assert_int_equal(e->level, TCPI_ADVICE_CRITICAL);
    assert_non_null(strstr(e->text, "set it to 1"));
    assert_non_null(e = find(a, n, "ephemeral_ports"));
    assert_non_null(strstr(e->text, "53% used, TIME_WAIT not counted"));

    /* An old kernel that still has tcp_tw_recycle switched on. */
    put("net/ipv4/tcp_tw_recycle", "1\n");
    tcpi_sysctl_read(&s, root);
    n = tcpi_sysctl_advise(a, TCPI_MAX_ADVICE, &s, c, 1);
    assert_non_null(e = find(a, n, "tw_recycle"));
    assert_int_equal(e->level, TCPI_ADVICE_CRITICAL);

    /* No counts: only what needs none. */
    n = tcpi_sysctl_advise(a, TCPI_MAX_ADVICE, &s, c, 0);
    assert_non_null(find(a, n, "counts"));
    assert_null(find(a, n, "time_wait"));
    assert_non_null(find(a, n, "time_wait_length"));
    /* The output bound holds. */
    assert_int_equal(tcpi_sysctl_advise(a, 2, &s, c, 1), 2);
    /* Missing knobs: no advice that needs them, no crash. */
    tcpi_sysctl_read(&s, "/nonexistent/tcpi");
    n = tcpi_sysctl_advise(a, TCPI_MAX_ADVICE, &s, c, 1);
    assert_null(find(a, n, "time_wait"));
    assert_null(find(a, n, "ephemeral_ports"));
    assert_non_null(find(a, n, "tw_recycle"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_advice, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
