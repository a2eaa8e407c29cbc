/* Unit tests for the packet-derived TCP states: hand-built packet
 * sequences for a normal open and close from either side, simultaneous
 * close, RST from either side, half-open connections, a connection seen
 * from the middle, the table's bounds and the history's bound. */
#include "tcpi_test.h"
#include "flow/tcpi_flowstate.h"
#include "decode/tcpi_decode.h"

#define S  TCPI_TH_SYN
#define A  TCPI_TH_ACK
#define F  TCPI_TH_FIN
#define R  TCPI_TH_RST
#define P  TCPI_TH_PSH
#define C 0          /* the client's side (dir 0) */
#define V 1          /* the server's side */

static uint64_t now;

static void pk(tcpi_flowstate_t *fs, int dir, uint8_t fl, uint32_t seq,
               uint32_t ack, uint32_t len)
{
    now += 1000000;                       /* 1 ms apart */
    tcpi_flowstate_packet(fs, dir, fl, seq, ack, len, 0, now);
}

/* The side's history as "A,B,C". */
static const char *hist(const tcpi_flowstate_t *fs, int dir)
{
    static char buf[256];
    uint64_t ts, prev = 0;
    int st;

    buf[0] = '\0';
    for (int i = 0; (st = tcpi_flowstate_hist(&ts, fs, dir, i)) >= 0; i++) {
        assert_true(ts >= prev);
        prev = ts;
        if (i)
            strcat(buf, ",");
        strcat(buf, tcpi_state_name(st));
    }
    return buf;
}

/* Client 1000, server 5000: the three-way handshake and a request of 10
 * bytes answered with 20. */
static void open_and_talk(tcpi_flowstate_t *fs)
{
    tcpi_flowstate_reset(fs);
    pk(fs, C, S, 1000, 0, 0);
    pk(fs, V, S | A, 5000, 1001, 0);
    pk(fs, C, A, 1001, 5001, 0);
    pk(fs, C, P | A, 1001, 5001, 10);
    pk(fs, V, A, 5001, 1011, 0);
    pk(fs, V, P | A, 5001, 1011, 20);
    pk(fs, C, A, 1011, 5021, 0);
}

static void test_open_client_closes(void **state)
{
    tcpi_flowstate_t fs;
    (void)state;

    open_and_talk(&fs);
    assert_int_equal(fs.initiator, C);
    assert_int_equal(fs.midstream, 0);
    assert_int_equal(tcpi_flowstate_state(&fs, C), TCPI_ST_ESTABLISHED);
    assert_int_equal(tcpi_flowstate_state(&fs, V), TCPI_ST_ESTABLISHED);
    pk(&fs, C, F | A, 1011, 5021, 0);             /* client closes */
    assert_string_equal(hist(&fs, V), "SYN_RECV,ESTABLISHED,CLOSE_WAIT");
    pk(&fs, V, A, 5021, 1012, 0);                 /* acks the FIN */
    assert_int_equal(tcpi_flowstate_state(&fs, C), TCPI_ST_FIN_WAIT2);
    pk(&fs, V, F | A, 5021, 1012, 0);
    pk(&fs, C, A, 1012, 5022, 0);
    assert_string_equal(hist(&fs, C),
                        "SYN_SENT,ESTABLISHED,FIN_WAIT1,FIN_WAIT2,TIME_WAIT");
    assert_string_equal(hist(&fs, V),
                        "SYN_RECV,ESTABLISHED,CLOSE_WAIT,LAST_ACK,CLOSE");
    assert_int_equal(fs.side[C].packets, 6);
    assert_int_equal(fs.side[C].bytes, 10);
    assert_int_equal(fs.side[V].packets, 5);
    assert_int_equal(fs.side[V].bytes, 20);
}

/* The server closes first (like /app/close), its FIN piggybacked on the
 * client's FIN's ACK: FIN_WAIT1 straight to TIME_WAIT, as on the host. */
static void test_server_closes_first(void **state)
{
    tcpi_flowstate_t fs;
    (void)state;

    open_and_talk(&fs);
    pk(&fs, V, F | A, 5021, 1011, 0);
    pk(&fs, C, F | A, 1011, 5022, 0);             /* acks it and closes */
    pk(&fs, V, A, 5022, 1012, 0);
    assert_string_equal(hist(&fs, V),
                        "SYN_RECV,ESTABLISHED,FIN_WAIT1,TIME_WAIT");
    assert_string_equal(hist(&fs, C),
                        "SYN_SENT,ESTABLISHED,CLOSE_WAIT,LAST_ACK,CLOSE");
    /* FIN_WAIT1 receiving a FIN that acks its own: TIME_WAIT at once */
    open_and_talk(&fs);
    pk(&fs, C, F | A, 1011, 5021, 0);
    pk(&fs, V, F | A, 5021, 1012, 0);
    pk(&fs, C, A, 1012, 5022, 0);
    assert_string_equal(hist(&fs, C),
                        "SYN_SENT,ESTABLISHED,FIN_WAIT1,TIME_WAIT");
    assert_string_equal(hist(&fs, V),
                        "SYN_RECV,ESTABLISHED,CLOSE_WAIT,LAST_ACK,CLOSE");
}

/* Both FINs cross (RFC 9293 Figure 13): each side goes through CLOSING. */
static void test_simultaneous_close(void **state)
{
    tcpi_flowstate_t fs;
    (void)state;

    open_and_talk(&fs);
    pk(&fs, C, F | A, 1011, 5021, 0);
    pk(&fs, V, F | A, 5021, 1011, 0);             /* does not ack C's FIN */
    assert_int_equal(tcpi_flowstate_state(&fs, C), TCPI_ST_CLOSING);
    assert_int_equal(tcpi_flowstate_state(&fs, V), TCPI_ST_CLOSING);
    pk(&fs, C, A, 1012, 5022, 0);
    pk(&fs, V, A, 5022, 1012, 0);
    assert_string_equal(hist(&fs, C),
                        "SYN_SENT,ESTABLISHED,FIN_WAIT1,CLOSING,TIME_WAIT");
    assert_string_equal(hist(&fs, V),
                        "SYN_RECV,ESTABLISHED,FIN_WAIT1,CLOSING,TIME_WAIT");
}

static void test_rst(void **state)
{
    tcpi_flowstate_t fs;
    (void)state;

    open_and_talk(&fs);                           /* the server resets */
    pk(&fs, V, R | A, 5021, 1011, 0);
    assert_string_equal(hist(&fs, C), "SYN_SENT,ESTABLISHED,CLOSE");
    assert_string_equal(hist(&fs, V), "SYN_RECV,ESTABLISHED,CLOSE");
    open_and_talk(&fs);                           /* the client resets */
    pk(&fs, C, R, 1011, 0, 0);
    assert_int_equal(tcpi_flowstate_state(&fs, C), TCPI_ST_CLOSE);
    assert_int_equal(tcpi_flowstate_state(&fs, V), TCPI_ST_CLOSE);
    /* a closed port: SYN answered with RST */
    tcpi_flowstate_reset(&fs);
    pk(&fs, C, S, 1000, 0, 0);
    pk(&fs, V, R | A, 0, 1001, 0);
    assert_string_equal(hist(&fs, C), "SYN_SENT,CLOSE");
    /* RST in TIME_WAIT ends it (tcp_rfc1337=0, Linux's default) */
    open_and_talk(&fs);
    pk(&fs, C, F | A, 1011, 5021, 0);
    pk(&fs, V, F | A, 5021, 1012, 0);
    pk(&fs, C, A, 1012, 5022, 0);
    pk(&fs, V, R, 5022, 0, 0);
    assert_int_equal(tcpi_flowstate_state(&fs, C), TCPI_ST_CLOSE);
    /* nothing moves a closed side */
    pk(&fs, V, F | A, 5022, 1012, 0);
    assert_int_equal(tcpi_flowstate_state(&fs, C), TCPI_ST_CLOSE);
}

static void test_half_open(void **state)
{
    tcpi_flowstate_t fs;
    (void)state;

    /* an unanswered SYN (sent again) */
    tcpi_flowstate_reset(&fs);
    pk(&fs, C, S, 1000, 0, 0);
    pk(&fs, C, S, 1000, 0, 0);
    assert_string_equal(hist(&fs, C), "SYN_SENT");
    assert_string_equal(hist(&fs, V), "SYN_RECV");
    /* SYN/ACK never acknowledged */
    pk(&fs, V, S | A, 5000, 1001, 0);
    assert_string_equal(hist(&fs, C), "SYN_SENT,ESTABLISHED");
    assert_int_equal(tcpi_flowstate_state(&fs, V), TCPI_ST_SYN_RECV);
    /* one side closed, the other keeps sending */
    open_and_talk(&fs);
    pk(&fs, C, F | A, 1011, 5021, 0);
    pk(&fs, V, A, 5021, 1012, 0);
    pk(&fs, V, P | A, 5021, 1012, 100);
    pk(&fs, C, A, 1012, 5121, 0);
    assert_int_equal(tcpi_flowstate_state(&fs, C), TCPI_ST_FIN_WAIT2);
    assert_int_equal(tcpi_flowstate_state(&fs, V), TCPI_ST_CLOSE_WAIT);
}

static void test_midstream(void **state)
{
    tcpi_flowstate_t fs;
    (void)state;

    tcpi_flowstate_reset(&fs);
    pk(&fs, V, P | A, 5001, 1011, 20);            /* capture began late */
    assert_int_equal(fs.midstream, 1);
    assert_int_equal(fs.initiator, -1);
    assert_string_equal(hist(&fs, C), "ESTABLISHED");
    assert_string_equal(hist(&fs, V), "ESTABLISHED");
    pk(&fs, C, F | A, 1011, 5021, 0);
    pk(&fs, V, F | A, 5021, 1012, 0);
    pk(&fs, C, A, 1012, 5022, 0);
    assert_string_equal(hist(&fs, C), "ESTABLISHED,FIN_WAIT1,TIME_WAIT");
    assert_string_equal(hist(&fs, V), "ESTABLISHED,CLOSE_WAIT,LAST_ACK,CLOSE");
    /* the SYN was missed, the SYN/ACK seen */
    tcpi_flowstate_reset(&fs);
    pk(&fs, V, S | A, 5000, 1001, 0);
    pk(&fs, C, A, 1001, 5001, 0);
    assert_string_equal(hist(&fs, C), "ESTABLISHED");
    assert_string_equal(hist(&fs, V), "SYN_RECV,ESTABLISHED");
}

/* A FIN number past 2^32: the ACK of it wraps. */
static void test_wrap(void **state)
{
    tcpi_flowstate_t fs;
    (void)state;

    tcpi_flowstate_reset(&fs);
    pk(&fs, C, S, 0xfffffff0u, 0, 0);
    pk(&fs, V, S | A, 7, 0xfffffff1u, 0);
    pk(&fs, C, A, 0xfffffff1u, 8, 0);
    pk(&fs, C, F | P | A, 0xfffffff1u, 8, 20);    /* FIN ends at 6 */
    pk(&fs, V, A, 8, 5, 0);                       /* not yet */
    assert_int_equal(tcpi_flowstate_state(&fs, C), TCPI_ST_FIN_WAIT1);
    pk(&fs, V, A, 8, 6, 0);
    assert_int_equal(tcpi_flowstate_state(&fs, C), TCPI_ST_FIN_WAIT2);
}

static void test_table_and_bounds(void **state)
{
    tcpi_flowstate_t fs;
    uint64_t ts;
    (void)state;

    assert_int_equal(tcpi_flowstate_next(-1, TCPI_FSE_snd_syn),
                     TCPI_ST_SYN_SENT);
    assert_int_equal(tcpi_flowstate_next(TCPI_ST_ESTABLISHED, TCPI_FSE_rcv_fin),
                     TCPI_ST_CLOSE_WAIT);
    assert_int_equal(tcpi_flowstate_next(TCPI_ST_LAST_ACK, TCPI_FSE_rcv_finack),
                     TCPI_ST_CLOSE);
    /* out of range: unchanged, never read outside the table */
    assert_int_equal(tcpi_flowstate_next(99, TCPI_FSE_snd_syn), 99);
    assert_int_equal(tcpi_flowstate_next(-7, 0), -7);
    assert_int_equal(tcpi_flowstate_next(TCPI_ST_ESTABLISHED, TCPI_FSE_COUNT),
                     TCPI_ST_ESTABLISHED);
    assert_string_equal(tcpi_fs_event_name(TCPI_FSE_rcv_finack), "rcv_finack");
    assert_string_equal(tcpi_fs_event_name(-1), "unknown");
    assert_string_equal(tcpi_fs_event_name(TCPI_FSE_COUNT), "unknown");
    /* every state a table entry names is a netstat state */
    for (int st = -1; st < TCPI_NSTATES; st++)
        for (int ev = 0; ev < TCPI_FSE_COUNT; ev++) {
            int to = tcpi_flowstate_next(st, ev);
            assert_true(to == st || (to >= 0 && to < TCPI_NSTATES));
        }
    /* the history keeps the first and the newest transitions: close
     * the same connection four times over (3 transitions each) */
    open_and_talk(&fs);
    for (int i = 0; i < 4; i++) {
        pk(&fs, V, F | A, 5021, 1011, 0);         /* C: -> CLOSE_WAIT */
        pk(&fs, C, F | A, 1011, 5022, 0);         /* C: -> LAST_ACK */
        pk(&fs, V, A, 5022, 1012, 0);             /* C: -> CLOSE */
        fs.side[C].st = fs.side[V].st = TCPI_ST_ESTABLISHED + 1;
        fs.side[C].fin_sent = fs.side[V].fin_sent = 0;
    }
    assert_int_equal(fs.side[C].nhist, TCPI_FS_HIST);
    assert_int_equal(fs.side[C].hist_dropped, 2 + 12 - TCPI_FS_HIST);
    assert_int_equal(tcpi_flowstate_hist(&ts, &fs, C, 0), TCPI_ST_SYN_SENT);
    assert_int_equal(tcpi_flowstate_hist(&ts, &fs, C, TCPI_FS_HIST - 1),
                     TCPI_ST_CLOSE);
    assert_int_equal(tcpi_flowstate_hist(&ts, &fs, C, TCPI_FS_HIST), -1);
    assert_int_equal(tcpi_flowstate_hist(&ts, &fs, C, -1), -1);
}

static void test_anomaly_counts(void **state)
{
    tcpi_flowstate_t fs;
    (void)state;

    tcpi_flowstate_reset(&fs);
    tcpi_flowstate_packet(&fs, C, A, 1, 1, 10, 0x1 | 0x10, 1);
    tcpi_flowstate_packet(&fs, V, A, 1, 11, 0, 0x10, 2);
    assert_int_equal(fs.an[0], 1);
    assert_int_equal(fs.an[4], 2);
    assert_int_equal(fs.an[1], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_client_closes),
        cmocka_unit_test(test_server_closes_first),
        cmocka_unit_test(test_simultaneous_close),
        cmocka_unit_test(test_rst),
        cmocka_unit_test(test_half_open),
        cmocka_unit_test(test_midstream),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_table_and_bounds),
        cmocka_unit_test(test_anomaly_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
