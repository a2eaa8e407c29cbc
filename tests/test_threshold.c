/* Unit tests for threshold levels and the Nagios line. */
#include "tcpi_test.h"
#include "states/tcpi_threshold.h"

static uint32_t count[TCPI_NSCOPES][TCPI_NSTATES];

static void test_levels_and_line(void **state)
{
    tcpi_threshold_t th[] = {
        { TCPI_ST_ESTABLISHED, -1, 600, 800 },
        { TCPI_ST_TIME_WAIT, TCPI_SCOPE_FRONT, 400, 400 },
    };
    tcpi_threshold_result_t res[8];
    char line[512];

    memset(count, 0, sizeof(count));
    count[TCPI_SCOPE_FRONT][TCPI_ST_ESTABLISHED] = 599;
    count[TCPI_SCOPE_BACKEND][TCPI_ST_ESTABLISHED] = 600;
    count[TCPI_SCOPE_FRONT][TCPI_ST_TIME_WAIT] = 512;
    int n = tcpi_threshold_eval(res, 8, th, 2, count);
    assert_int_equal(n, 3);
    assert_int_equal(res[0].scope, TCPI_SCOPE_FRONT);
    assert_int_equal(res[0].level, TCPI_LEVEL_OK);
    assert_int_equal(res[1].scope, TCPI_SCOPE_BACKEND);
    assert_int_equal(res[1].level, TCPI_LEVEL_WARNING);
    assert_int_equal(res[2].level, TCPI_LEVEL_CRITICAL);
    assert_int_equal(tcpi_threshold_worst(res, n), TCPI_LEVEL_CRITICAL);
    tcpi_threshold_nagios(line, sizeof(line), res, n, 1, NULL);
    assert_string_equal(line, "TCPINSPECT CRITICAL - front TIME_WAIT=512 (>=400), "
                        "backend ESTABLISHED=600 (>=600) | front_ESTABLISHED=599;600;800 "
                        "backend_ESTABLISHED=600;600;800 front_TIME_WAIT=512;400;400\n");

    count[TCPI_SCOPE_FRONT][TCPI_ST_TIME_WAIT] = 3;
    count[TCPI_SCOPE_BACKEND][TCPI_ST_ESTABLISHED] = 800;
    n = tcpi_threshold_eval(res, 8, th, 2, count);
    assert_int_equal(res[1].level, TCPI_LEVEL_CRITICAL);
    count[TCPI_SCOPE_BACKEND][TCPI_ST_ESTABLISHED] = 0;
    n = tcpi_threshold_eval(res, 8, th, 2, count);
    tcpi_threshold_nagios(line, sizeof(line), res, n, 1, NULL);
    assert_non_null(strstr(line, "TCPINSPECT OK - front ESTABLISHED=599, backend "
                           "ESTABLISHED=0, front TIME_WAIT=3 |"));
}

static void test_bounds(void **state)
{
    tcpi_threshold_t th[] = { { TCPI_ST_LISTEN, -1, 0, 0 },
                              { 99, -1, 1, 2 }, { TCPI_ST_LISTEN, 7, 1, 2 } };
    tcpi_threshold_result_t res[1];
    char line[16];

    memset(count, 0, sizeof(count));
    /* Room for one result only; invalid entries are skipped. */
    assert_int_equal(tcpi_threshold_eval(res, 1, th, 3, count), 1);
    assert_int_equal(res[0].level, TCPI_LEVEL_CRITICAL);     /* 0 >= 0 */
    size_t need = tcpi_threshold_nagios(line, sizeof(line), res, 1, 1, NULL);
    assert_true(need > sizeof(line));
    assert_int_equal(strlen(line), sizeof(line) - 1);
    char l2[128];
    tcpi_threshold_nagios(l2, sizeof(l2), NULL, 0, 0, "netlink: Permission denied");
    assert_string_equal(l2, "TCPINSPECT UNKNOWN - cannot count sockets: netlink: "
                        "Permission denied\n");
    tcpi_threshold_nagios(l2, sizeof(l2), NULL, 0, 1, NULL);
    assert_string_equal(l2, "TCPINSPECT OK - no thresholds configured\n");
    assert_string_equal(tcpi_level_name(7), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels_and_line),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
