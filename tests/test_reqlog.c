/* Unit tests for the request log: put/get, wrap, endpoint formatting,
 * producers in several processes sharing one mapping with a concurrent
 * reader that must never see a torn record, and the worker's reader:
 * grace, checks, resync, missed, stuck and catch-up. */
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
    assert_int_equal(tcpi_reqlog_get(&out, log, 9), TCPI_REQLOG_GONE);
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
    for (int c = 0; c < 27; c++) {
        fill(&r, 5);
        if (c >= 9) {                   /* a TLS front with its secrets */
            r.capture = 1;
            r.tls.on = 1;
            r.tls.has_random = 1;
            r.tls.nkeys = 1;
            r.tls.keys[0].label = TCPI_TLS_KEY_CLIENT_RANDOM;
            r.tls.keys[0].len = 48;
        }
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
        case 9: r.tls.on = 0; break;                  /* secrets, no TLS */
        case 10: memset(r.tls.sni, 'x', sizeof(r.tls.sni)); break;
        case 11: memset(r.tls.cipher, 'x', sizeof(r.tls.cipher)); break;
        case 12: r.tls.keys[0].label = TCPI_TLS_KEY_NLABELS; break;
        case 13: r.tls.keys[0].len = TCPI_TLS_SECRET_MAX + 1; break;
        case 14: r.tls.nkeys = TCPI_TLS_KEYS_MAX + 1; break;
        case 15: r.tls.has_random = 0; break;         /* secrets of whom? */
        case 16: r.tls.keys_dropped = 2; break;
        case 22: r.tls.keys_refused = 1; break;       /* secrets refused */
        case 23: r.tls.keys_dropped = 1; break;       /* but room left */
        case 24: r.tls.wire = 1; r.tls.hs_in = r.tls.in_start = 1;
                 r.tls.in_end = 1; r.http2 = 1; break;  /* h2 has no offsets */
        case 25: r.has_backend = 1; r.backend_tls = 1;
                 r.backend_src = TCPI_BACKEND_SRC_NOTE; break;
        case 17: r.tls.keys_dropped = 1; r.tls.nkeys = 0; break;
        case 18: r.tls.wire = 1; r.tls.hs_in = 1; r.tls.in_start = 9;
                 r.tls.in_end = 8; break;
        case 19: r.tls.wire = 1; r.tls.hs_in = r.tls.in_start = 1;
                 r.tls.in_end = 1; r.tls.out_start = 9; break;  /* > out_end */
        case 20: r.tls.wire = 1; r.tls.hs_in = 5; break;      /* > in_start */
        case 26: r.tls.wire = 1; break;               /* no handshake end */
        case 21: r.tls.on = r.tls.nkeys = r.tls.has_random = 0;
                 r.tls.hs_in = 3; break;                      /* no TLS */
        }
        assert_int_equal(tcpi_reqlog_put(log, &r), 0);
        assert_int_equal(tcpi_reqlog_get(&out, log, (uint64_t)c),
                         TCPI_REQLOG_CORRUPT);
        assert_int_equal(out.id[0], '\0');                    /* nothing kept */
    }
    fill(&r, 6);
    assert_int_equal(tcpi_reqlog_put(log, &r), 0);
    assert_int_equal(tcpi_reqlog_get(&out, log, 27), 0);
    assert_true(consistent(&out));
    r.capture = 1;                                   /* a good TLS record */
    r.tls.on = r.tls.has_random = 1;
    r.tls.nkeys = TCPI_TLS_KEYS_MAX;                 /* ... full: more dropped */
    for (int i = 0; i < TCPI_TLS_KEYS_MAX; i++) {
        r.tls.keys[i].label = TCPI_TLS_KEY_CLIENT_RANDOM;
        r.tls.keys[i].len = 48;
    }
    r.tls.keys_dropped = 1;
    r.tls.wire = 1;                                  /* ... and its offsets */
    r.tls.hs_in = r.tls.in_start = 517;
    r.tls.in_end = 600;
    r.tls.out_start = 3000;
    r.tls.out_end = 4000;
    assert_int_equal(tcpi_reqlog_put(log, &r), 0);
    assert_int_equal(tcpi_reqlog_get(&out, log, 28), 0);
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

/* ---- the reader ------------------------------------------------------ */

#define MS 1000000ull
#define T0 1700000000000000000ull       /* wall ns */

/* A record that ended at T0 + end_ms (wall clock). */
static void put_at(tcpi_reqlog_t *log, uint64_t tag, uint64_t end_ms)
{
    tcpi_req_t r;
    fill(&r, tag);
    r.end_us = (T0 + end_ms * MS) / 1000;
    r.start_us = r.end_us - 1000;
    r.bytes_sent = tag * 7;
    assert_int_equal(tcpi_reqlog_put(log, &r), 0);
}

static uint64_t tag_of(const tcpi_req_t *r)
{
    unsigned long long tag = 0;
    assert_int_equal(sscanf(r->id, "id-%llu", &tag), 1);
    return tag;
}

/* The slot sequence of record k (white box: the layout of tcpi_reqlog.c,
 * a 24-byte header then LEN equal slots, each starting with its seq). */
static _Atomic uint64_t *slot_seq(tcpi_reqlog_t *log, uint64_t k)
{
    size_t slot = (tcpi_reqlog_size() - 24) / TCPI_REQLOG_LEN;
    return (_Atomic uint64_t *)((char *)log + 24 + (k % TCPI_REQLOG_LEN) * slot);
}

static tcpi_reqlog_reader_t *reader(tcpi_reqlog_t *log, uint64_t grace_ms,
                                    uint64_t catchup_ms, uint32_t capacity)
{
    tcpi_reqlog_reader_conf_t c = { .grace_ns = grace_ms * MS,
                                    .catchup_ns = catchup_ms * MS,
                                    .capacity = capacity };
    tcpi_reqlog_reader_t *rd = tcpi_reqlog_reader_create(log, &c);
    assert_non_null(rd);
    return rd;
}

/* Handed out in order, once the grace has passed and the consumer has
 * seen the packets up to it. */
static void test_reader_grace(void **state)
{
    tcpi_reqlog_t *log = tcpi_reqlog_init(malloc(tcpi_reqlog_size()));
    tcpi_reqlog_reader_t *rd = reader(log, 400, 0, 0);
    tcpi_reqlog_reader_stats_t st;
    const tcpi_req_t *r;
    uint64_t k;

    put_at(log, 1, 0);                  /* before the first fill: not ours */
    tcpi_reqlog_reader_fill(rd, T0);
    assert_null(tcpi_reqlog_reader_next(&k, rd, T0 + 10000 * MS, UINT64_MAX));
    put_at(log, 2, 100);
    put_at(log, 3, 200);
    tcpi_reqlog_reader_fill(rd, T0 + 300 * MS);
    tcpi_reqlog_reader_stats(&st, rd, T0 + 300 * MS);
    assert_int_equal(st.pending, 2);
    assert_int_equal(st.lag_ms, 200);
    assert_null(tcpi_reqlog_reader_next(&k, rd, T0 + 499 * MS, UINT64_MAX));
    /* Due, but the consumer's packets stop short of the grace. */
    assert_null(tcpi_reqlog_reader_next(&k, rd, T0 + 500 * MS, T0 + 499 * MS));
    r = tcpi_reqlog_reader_next(&k, rd, T0 + 500 * MS, T0 + 500 * MS);
    assert_non_null(r);
    assert_int_equal(k, 1);
    assert_int_equal(tag_of(r), 2);
    tcpi_reqlog_reader_pop(rd);
    assert_null(tcpi_reqlog_reader_next(&k, rd, T0 + 599 * MS, UINT64_MAX));
    r = tcpi_reqlog_reader_next(&k, rd, T0 + 600 * MS, UINT64_MAX);
    assert_non_null(r);
    assert_int_equal(tag_of(r), 3);
    tcpi_reqlog_reader_pop(rd);
    tcpi_reqlog_reader_pop(rd);         /* nothing left: harmless */
    tcpi_reqlog_reader_stats(&st, rd, T0 + 600 * MS);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.lag_ms, 0);
    assert_int_equal(st.missed + st.skipped + st.corrupt, 0);
    tcpi_reqlog_reader_destroy(rd);
    free(log);
}

/* What the reader passes over, each counted once: a record no child's
 * log_transaction writes, one from the future, records overwritten
 * before they were read, a counter that went back, a slot left being
 * written by a producer that died. */
static void test_reader_untrusted(void **state)
{
    tcpi_reqlog_t *log = tcpi_reqlog_init(malloc(tcpi_reqlog_size()));
    tcpi_reqlog_reader_t *rd = reader(log, 0, 0, 0);
    tcpi_reqlog_reader_stats_t st;
    const tcpi_req_t *r;
    tcpi_req_t bad;
    uint64_t k, now = T0 + 1000 * MS;

    tcpi_reqlog_reader_fill(rd, T0);
    fill(&bad, 9);
    bad.front_client.family = 5;
    tcpi_reqlog_put(log, &bad);                    /* 0: corrupt */
    put_at(log, 10, 3600 * 1000);                  /* 1: an hour ahead */
    put_at(log, 11, 500);                          /* 2 */
    tcpi_reqlog_reader_fill(rd, now);
    r = tcpi_reqlog_reader_next(&k, rd, now, UINT64_MAX);
    assert_non_null(r);
    assert_int_equal(k, 2);
    assert_true(tcpi_req_check(r));
    tcpi_reqlog_reader_pop(rd);
    tcpi_reqlog_reader_stats(&st, rd, now);
    assert_int_equal(st.corrupt, 2);
    tcpi_reqlog_reader_fill(rd, now);              /* nothing new */
    tcpi_reqlog_reader_stats(&st, rd, now);
    assert_int_equal(st.corrupt, 2);

    /* Lapped: LEN + 5 records since the last fill, 5 of them missed. */
    for (uint64_t i = 0; i < TCPI_REQLOG_LEN + 5; i++)
        put_at(log, 100 + i, 500);
    tcpi_reqlog_reader_fill(rd, now);
    tcpi_reqlog_reader_stats(&st, rd, now);
    assert_int_equal(st.missed, 5);
    assert_int_equal(st.pending, TCPI_REQLOG_LEN);
    r = tcpi_reqlog_reader_next(&k, rd, now, UINT64_MAX);
    assert_int_equal(tag_of(r), 105);
    for (uint64_t i = 0; i < TCPI_REQLOG_LEN; i++)
        tcpi_reqlog_reader_pop(rd);

    /* A producer died copying record h: waited for a second, then passed
     * (with the incomplete one behind it), and the next one is read. */
    uint64_t h = tcpi_reqlog_head(log);
    put_at(log, 200, 500);
    put_at(log, 201, 500);
    put_at(log, 202, 500);
    atomic_store(slot_seq(log, h), 2 * h + 1);
    atomic_store(slot_seq(log, h + 1), 2 * (h + 1) + 1);
    tcpi_reqlog_reader_fill(rd, now);
    assert_null(tcpi_reqlog_reader_next(&k, rd, now, UINT64_MAX));
    tcpi_reqlog_reader_fill(rd, now + TCPI_REQLOG_STUCK_NS - 1);
    assert_null(tcpi_reqlog_reader_next(&k, rd, now, UINT64_MAX));
    tcpi_reqlog_reader_fill(rd, now + TCPI_REQLOG_STUCK_NS);
    r = tcpi_reqlog_reader_next(&k, rd, now + TCPI_REQLOG_STUCK_NS, UINT64_MAX);
    assert_non_null(r);
    assert_int_equal(tag_of(r), 202);
    tcpi_reqlog_reader_pop(rd);
    tcpi_reqlog_reader_stats(&st, rd, now);
    assert_int_equal(st.skipped, 2);

    /* Later, a record a live producer is still copying (claimed after
     * that wait) gets a wait of its own, not the expired one's. */
    uint64_t later = now + 5 * TCPI_REQLOG_STUCK_NS;
    h = tcpi_reqlog_head(log);
    put_at(log, 300, 500);
    put_at(log, 301, 500);
    atomic_store(slot_seq(log, h), 2 * h + 1);
    tcpi_reqlog_reader_fill(rd, later);
    assert_null(tcpi_reqlog_reader_next(&k, rd, later, UINT64_MAX));
    tcpi_reqlog_reader_stats(&st, rd, later);
    assert_int_equal(st.skipped, 2);
    atomic_store(slot_seq(log, h), 2 * h + 2);     /* the copy completes */
    tcpi_reqlog_reader_fill(rd, later + 1);
    r = tcpi_reqlog_reader_next(&k, rd, later + 1, UINT64_MAX);
    assert_non_null(r);
    assert_int_equal(tag_of(r), 300);
    tcpi_reqlog_reader_pop(rd);
    r = tcpi_reqlog_reader_next(&k, rd, later + 1, UINT64_MAX);
    assert_int_equal(tag_of(r), 301);
    tcpi_reqlog_reader_pop(rd);

    /* A slot a later record took before the reader came: missed at once,
     * never waited for, and the records behind it are read. */
    h = tcpi_reqlog_head(log);
    put_at(log, 400, 500);
    put_at(log, 401, 500);
    atomic_store(slot_seq(log, h), 2 * (h + TCPI_REQLOG_LEN) + 2);
    tcpi_reqlog_reader_fill(rd, later + 2);
    r = tcpi_reqlog_reader_next(&k, rd, later + 2, UINT64_MAX);
    assert_non_null(r);
    assert_int_equal(tag_of(r), 401);
    tcpi_reqlog_reader_pop(rd);
    tcpi_reqlog_reader_stats(&st, rd, later + 2);
    assert_int_equal(st.missed, 6);
    assert_int_equal(st.skipped, 2);

    tcpi_reqlog_reader_destroy(rd);
    free(log);
}

/* The head counter rewound by a child: counted once, and the log's last
 * LEN slots are read again (what is still a record there is taken again:
 * the reader cannot tell it from one logged since). */
static void test_reader_rewound(void **state)
{
    tcpi_reqlog_t *log = tcpi_reqlog_init(malloc(tcpi_reqlog_size()));
    tcpi_reqlog_reader_t *rd = reader(log, 0, 0, 0);
    tcpi_reqlog_reader_stats_t st;
    const tcpi_req_t *r;
    uint64_t k, now = T0 + 1000 * MS, got[8], n = 0;

    tcpi_reqlog_reader_fill(rd, now);
    for (uint64_t i = 0; i < 5; i++)
        put_at(log, i, 500);
    tcpi_reqlog_reader_fill(rd, now);
    while (tcpi_reqlog_reader_next(&k, rd, now, UINT64_MAX) != NULL)
        tcpi_reqlog_reader_pop(rd);
    atomic_store((_Atomic uint64_t *)((char *)log + 8), 2);
    put_at(log, 7, 500);                           /* record 2 again */
    tcpi_reqlog_reader_fill(rd, now);
    while ((r = tcpi_reqlog_reader_next(&k, rd, now, UINT64_MAX)) != NULL &&
           n < 8) {
        got[n++] = tag_of(r);
        tcpi_reqlog_reader_pop(rd);
    }
    assert_int_equal(n, 3);
    assert_int_equal(got[0], 0);
    assert_int_equal(got[1], 1);
    assert_int_equal(got[2], 7);
    tcpi_reqlog_reader_stats(&st, rd, now);
    assert_int_equal(st.corrupt, 1);
    tcpi_reqlog_reader_destroy(rd);
    free(log);
}

/* A bounded FIFO: what does not fit stays in the log until there is
 * room, nothing is lost. */
static void test_reader_capacity(void **state)
{
    tcpi_reqlog_t *log = tcpi_reqlog_init(malloc(tcpi_reqlog_size()));
    tcpi_reqlog_reader_t *rd = reader(log, 0, 0, 4);
    tcpi_reqlog_reader_stats_t st;
    const tcpi_req_t *r;
    uint64_t k, now = T0 + 1000 * MS, want = 0;

    tcpi_reqlog_reader_fill(rd, now);
    for (uint64_t i = 0; i < 10; i++)
        put_at(log, i, 0);
    for (int round = 0; round < 4; round++) {
        tcpi_reqlog_reader_fill(rd, now);
        tcpi_reqlog_reader_stats(&st, rd, now);
        assert_true(st.pending <= 4);
        while ((r = tcpi_reqlog_reader_next(&k, rd, now, UINT64_MAX)) != NULL) {
            assert_int_equal(k, want);
            assert_int_equal(tag_of(r), want);
            want++;
            tcpi_reqlog_reader_pop(rd);
        }
    }
    assert_int_equal(want, 10);
    tcpi_reqlog_reader_destroy(rd);
    free(log);
}

/* The first fill starts at the head, or, with a catch-up, back at the
 * first record that ended within it (records that are not records on
 * the way do not stop the walk). */
static void test_reader_catchup(void **state)
{
    tcpi_reqlog_t *log = tcpi_reqlog_init(malloc(tcpi_reqlog_size()));
    tcpi_reqlog_reader_t *now_only = reader(log, 0, 0, 0);
    tcpi_reqlog_reader_t *back = reader(log, 0, 1600, 0);
    const tcpi_req_t *r;
    tcpi_req_t bad;
    uint64_t k, now = T0 + 10000 * MS;

    put_at(log, 0, 1000);               /* 9 s before: not due any more */
    put_at(log, 1, 9000);               /* 1 s before: due */
    fill(&bad, 2);
    bad.capture = 9;
    tcpi_reqlog_put(log, &bad);         /* not a record: walked over */
    put_at(log, 3, 9500);
    tcpi_reqlog_reader_fill(now_only, now);
    assert_null(tcpi_reqlog_reader_next(&k, now_only, now, UINT64_MAX));
    tcpi_reqlog_reader_fill(back, now);
    r = tcpi_reqlog_reader_next(&k, back, now, UINT64_MAX);
    assert_non_null(r);
    assert_int_equal(k, 1);
    tcpi_reqlog_reader_pop(back);
    r = tcpi_reqlog_reader_next(&k, back, now, UINT64_MAX);
    assert_non_null(r);
    assert_int_equal(k, 3);
    tcpi_reqlog_reader_destroy(now_only);
    tcpi_reqlog_reader_destroy(back);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_wrap),
        cmocka_unit_test(test_endpoint),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_processes),
        cmocka_unit_test(test_reader_grace),
        cmocka_unit_test(test_reader_untrusted),
        cmocka_unit_test(test_reader_rewound),
        cmocka_unit_test(test_reader_capacity),
        cmocka_unit_test(test_reader_catchup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
