/* Unit tests for the request log: put/get, wrap, endpoint formatting, and
 * producers in several processes sharing one mapping with a concurrent
 * reader that must never see a torn record. */
#include "tcpi_test.h"
#include "store/tcpi_reqlog.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void fill(tcpi_req_t *r, uint64_t tag)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "id-%llu", (unsigned long long)tag);
    snprintf(r->uri, sizeof(r->uri), "/u/%llu", (unsigned long long)tag);
    strcpy(r->method, "GET");
    r->start_us = tag;
    r->end_us = tag * 3;
    r->bytes_sent = tag * 7;
}

static int consistent(const tcpi_req_t *r)
{
    unsigned long long tag;
    char id[TCPI_REQ_ID_MAX], uri[TCPI_REQ_URI_MAX];
    if (sscanf(r->id, "id-%llu", &tag) != 1)
        return 0;
    snprintf(id, sizeof(id), "id-%llu", tag);
    snprintf(uri, sizeof(uri), "/u/%llu", tag);
    return strcmp(id, r->id) == 0 && strcmp(uri, r->uri) == 0 &&
           r->start_us == tag && r->end_us == tag * 3 && r->bytes_sent == tag * 7;
}

static void test_put_get_wrap(void **state)
{
    tcpi_reqlog_t *log = tcpi_reqlog_init(malloc(tcpi_reqlog_size()));
    tcpi_req_t r, out;

    assert_int_equal(tcpi_reqlog_head(log), 0);
    assert_int_equal(tcpi_reqlog_get(&out, log, 0), -1);
    for (uint64_t k = 0; k < TCPI_REQLOG_LEN + 10; k++) {
        fill(&r, k);
        assert_int_equal(tcpi_reqlog_put(log, &r), 0);
    }
    assert_int_equal(tcpi_reqlog_head(log), TCPI_REQLOG_LEN + 10);
    assert_int_equal(tcpi_reqlog_get(&out, log, 9), -1);        /* overwritten */
    assert_int_equal(tcpi_reqlog_get(&out, log, 10), 0);
    assert_string_equal(out.id, "id-10");
    assert_int_equal(tcpi_reqlog_get(&out, log, TCPI_REQLOG_LEN + 9), 0);
    assert_true(consistent(&out));
    assert_int_equal(tcpi_reqlog_dropped(log), 0);
    free(log);
}

/* Every child can write the log: a slot that is complete but holds what
 * no log_transaction writes is refused with its own code. */
static void test_corrupt(void **state)
{
    tcpi_reqlog_t *log = tcpi_reqlog_init(malloc(tcpi_reqlog_size()));
    tcpi_req_t r, out;
    for (int c = 0; c < 9; c++) {
        fill(&r, 5);
        switch (c) {
        case 0: memset(r.id, 'a', sizeof(r.id)); break;         /* no NUL */
        case 1: strcpy(r.id, "../x"); break;                    /* not an id */
        case 2: r.id[0] = '\0'; break;
        case 3: memset(r.method, 'G', sizeof(r.method)); break;
        case 4: memset(r.uri, '/', sizeof(r.uri)); break;
        case 5: r.backend_remote.family = 200; break;
        case 6: r.capture = 7; break;
        case 7: r.backend_src = 9; break;
        case 8: r.start_us = r.end_us + 1; break;
        }
        assert_int_equal(tcpi_reqlog_put(log, &r), 0);
        assert_int_equal(tcpi_reqlog_get(&out, log, (uint64_t)c),
                         TCPI_REQLOG_CORRUPT);
        assert_int_equal(out.id[0], '\0');                    /* nothing kept */
    }
    fill(&r, 6);
    assert_int_equal(tcpi_reqlog_put(log, &r), 0);
    assert_int_equal(tcpi_reqlog_get(&out, log, 9), 0);
    assert_true(consistent(&out));
    free(log);
}

static void test_endpoint(void **state)
{
    tcpi_endpoint_t e = { .family = 4, .addr = { 198, 18, 0, 2 }, .port = 40000 };
    char b[64];
    tcpi_endpoint_format(b, sizeof(b), &e);
    assert_string_equal(b, "198.18.0.2:40000");
    tcpi_endpoint_t e6 = { .family = 6, .port = 80 };
    e6.addr[15] = 1;
    tcpi_endpoint_format(b, sizeof(b), &e6);
    assert_string_equal(b, "[::1]:80");
    tcpi_endpoint_t none = { 0 };
    assert_int_equal(tcpi_endpoint_format(b, sizeof(b), &none), 0);
    assert_string_equal(b, "");
    e.family = 9;
    assert_int_equal(tcpi_endpoint_format(b, sizeof(b), &e), 0);
}

static void test_processes(void **state)
{
    tcpi_reqlog_t *log = mmap(NULL, tcpi_reqlog_size(), PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    const int nproc = 3, per = 200000;
    pid_t kids[3];
    tcpi_req_t out;
    uint64_t ok = 0, torn = 0;

    tcpi_reqlog_init(log);
    for (int p = 0; p < nproc; p++) {
        if ((kids[p] = fork()) == 0) {
            tcpi_req_t r;
            for (int i = 0; i < per; i++) {
                fill(&r, (uint64_t)p * per + (uint64_t)i);
                tcpi_reqlog_put(log, &r);
            }
            _exit(0);
        }
    }
    /* Read concurrently until the producers are done. */
    int done = 0;
    while (!done) {
        uint64_t head = tcpi_reqlog_head(log);
        for (uint64_t k = head > 64 ? head - 64 : 0; k < head; k++) {
            if (tcpi_reqlog_get(&out, log, k) != 0)
                continue;
            if (consistent(&out)) ok++; else torn++;
        }
        done = 1;
        for (int p = 0; p < nproc; p++)
            if (kids[p] && waitpid(kids[p], NULL, WNOHANG) == kids[p])
                kids[p] = 0;
        for (int p = 0; p < nproc; p++)
            if (kids[p])
                done = 0;
    }
    print_message("reads ok=%llu torn=%llu dropped=%llu\n", (unsigned long long)ok,
                  (unsigned long long)torn,
                  (unsigned long long)tcpi_reqlog_dropped(log));
    assert_int_equal(torn, 0);
    assert_true(ok > 0);
    assert_int_equal(tcpi_reqlog_head(log), (uint64_t)nproc * per);
    munmap(log, tcpi_reqlog_size());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_wrap),
        cmocka_unit_test(test_endpoint),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
