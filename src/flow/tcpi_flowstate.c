/* tcpi_flowstate.c — per-side TCP state from packets (tcpi_flowstate.h). */
#include "tcpi_flowstate.h"
#include "tcpi/decode.h"

#include <string.h>

static const char *const ev_names[] = {
#define TCPI_FSE_NAME(name, text) #name,
    TCPI_FS_EVENTS(TCPI_FSE_NAME)
#undef TCPI_FSE_NAME
};

const char *tcpi_fs_event_name(int ev)
{
    return ev >= 0 && ev < TCPI_FSE_COUNT ? ev_names[ev] : "unknown";
}

/* Stored states are tcpi_state_e + 1; 0 in the table means "stays". */
enum {
    NO = 0, ES = TCPI_ST_ESTABLISHED + 1, SS = TCPI_ST_SYN_SENT + 1,
    SR = TCPI_ST_SYN_RECV + 1, F1 = TCPI_ST_FIN_WAIT1 + 1,
    F2 = TCPI_ST_FIN_WAIT2 + 1, TW = TCPI_ST_TIME_WAIT + 1,
    CL = TCPI_ST_CLOSE + 1, CW = TCPI_ST_CLOSE_WAIT + 1,
    LA = TCPI_ST_LAST_ACK + 1, LI = TCPI_ST_LISTEN + 1,
    CG = TCPI_ST_CLOSING + 1, NST = TCPI_NSTATES + 1
};

/* RFC 9293 §3.3.2 as seen from a tap. Rows: the side's state (+1, row 0
 * not known yet); columns: events in TCPI_FS_EVENTS order. */
static const uint8_t next_tab[NST][TCPI_FSE_COUNT] = {
    /*       ssyn sack sfin srst sack rsyn rsa  rack rfa  rfin rrst */
    [NO] = { SS,  SR,  0,   CL,  0,   SR,  ES,  0,   0,   0,   CL },
    [LI] = { SS,  SR,  0,   CL,  0,   SR,  ES,  0,   0,   0,   CL },
    [SS] = { 0,   SR,  0,   CL,  0,   SR,  ES,  0,   0,   0,   CL },
    [SR] = { 0,   0,   F1,  CL,  0,   0,   ES,  ES,  0,   0,   CL },
    [ES] = { 0,   0,   F1,  CL,  0,   0,   0,   0,   0,   CW,  CL },
    [F1] = { 0,   0,   0,   CL,  0,   0,   0,   0,   F2,  CG,  CL },
    [F2] = { 0,   0,   0,   CL,  0,   0,   0,   0,   0,   TW,  CL },
    [CG] = { 0,   0,   0,   CL,  0,   0,   0,   0,   TW,  0,   CL },
    [TW] = { 0,   0,   0,   CL,  0,   0,   0,   0,   0,   0,   CL },
    [CW] = { 0,   0,   LA,  CL,  0,   0,   0,   0,   0,   0,   CL },
    [LA] = { 0,   0,   0,   CL,  0,   0,   0,   0,   CL,  0,   CL },
    [CL] = { 0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0  },
};

int tcpi_flowstate_next(int state, int ev)
{
    int row = state + 1, to;

    if (row < 0 || row >= NST || ev < 0 || ev >= TCPI_FSE_COUNT)
        return state;
    to = next_tab[row][ev];
    return to ? to - 1 : state;
}

void tcpi_flowstate_reset(tcpi_flowstate_t *fs)
{
    memset(fs, 0, sizeof(*fs));
    fs->initiator = -1;
}

static void record(tcpi_fs_side_t *s, uint8_t st, uint64_t ts)
{
    if (s->nhist == TCPI_FS_HIST) {
        /* keep the first transition (how it began) and the newest ones */
        memmove(&s->hst[1], &s->hst[2], TCPI_FS_HIST - 2);
        memmove(&s->hts[1], &s->hts[2], (TCPI_FS_HIST - 2) * sizeof(s->hts[0]));
        s->nhist--;
        s->hist_dropped++;
    }
    s->hst[s->nhist] = st;
    s->hts[s->nhist++] = ts;
}

static void apply(tcpi_fs_side_t *s, const uint8_t *ev, int nev, uint64_t ts)
{
    int st = s->st - 1;

    for (int i = 0; i < nev; i++)
        st = tcpi_flowstate_next(st, ev[i]);
    if (st + 1 != s->st) {
        s->st = (uint8_t)(st + 1);
        record(s, s->st, ts);
    }
}

void tcpi_flowstate_packet(tcpi_flowstate_t *fs, int dir, uint8_t fl,
                           uint32_t seq, uint32_t ack, uint32_t len,
                           uint16_t an, uint64_t ts)
{
    tcpi_fs_side_t *snd = &fs->side[dir & 1], *rcv = &fs->side[!(dir & 1)];
    uint8_t se[4], re[5];
    int ns = 0, nr = 0, syn = fl & TCPI_TH_SYN, ackf = fl & TCPI_TH_ACK;

    if (!fs->seen) {
        fs->seen = 1;
        fs->initiator = -1;
        fs->midstream = !syn;
    }
    if (syn && !ackf && fs->initiator < 0)
        fs->initiator = (int8_t)(dir & 1);
    /* A connection already open when capture began: both sides are
     * established as of its first packet (unless it is a RST). */
    if (!syn && !(fl & TCPI_TH_RST)) {
        if (snd->st == NO)
            apply(snd, (const uint8_t[]){ TCPI_FSE_rcv_synack }, 1, ts);
        if (rcv->st == NO)
            apply(rcv, (const uint8_t[]){ TCPI_FSE_rcv_synack }, 1, ts);
    }
    if (syn)
        se[ns++] = ackf ? TCPI_FSE_snd_synack : TCPI_FSE_snd_syn;
    if (fl & TCPI_TH_FIN) {
        /* Its ACK does not cover the peer's FIN already on the wire: it
         * was sent before this side got that FIN (RFC 9293 Figure 13), so
         * on the host it went FIN_WAIT1, then CLOSING: never CLOSE_WAIT. */
        if (snd->st == CW && rcv->fin_sent && ackf &&
            tcpi_seq_lt(ack, rcv->fin_end)) {
            if (snd->nhist > 0 && snd->hst[snd->nhist - 1] == CW)
                snd->nhist--;
            snd->st = ES;
            apply(snd, (const uint8_t[]){ TCPI_FSE_snd_fin }, 1, ts);
            se[ns++] = TCPI_FSE_rcv_fin;
        } else {
            se[ns++] = TCPI_FSE_snd_fin;
        }
        snd->fin_end = seq + len + (syn ? 1 : 0) + 1;
        snd->fin_sent = 1;
    }
    if (fl & TCPI_TH_RST)
        se[ns++] = TCPI_FSE_snd_rst;
    if (syn)
        re[nr++] = ackf ? TCPI_FSE_rcv_synack : TCPI_FSE_rcv_syn;
    else if (ackf) {
        re[nr++] = TCPI_FSE_rcv_ack;
        if (rcv->fin_sent && tcpi_seq_leq(rcv->fin_end, ack))
            re[nr++] = TCPI_FSE_rcv_finack;
    }
    if (fl & TCPI_TH_FIN)
        re[nr++] = TCPI_FSE_rcv_fin;
    if (fl & TCPI_TH_RST)
        re[nr++] = TCPI_FSE_rcv_rst;
    apply(snd, se, ns, ts);
    apply(rcv, re, nr, ts);
    snd->packets++;
    snd->bytes += len;
    for (an &= (1u << TCPI_FS_NAN) - 1; an; an &= (uint16_t)(an - 1))
        fs->an[__builtin_ctz(an)]++;
}

int tcpi_flowstate_state(const tcpi_flowstate_t *fs, int dir)
{
    return fs->side[dir & 1].st - 1;
}

int tcpi_flowstate_hist(uint64_t *ts_ns, const tcpi_flowstate_t *fs, int dir,
                        int i)
{
    const tcpi_fs_side_t *s = &fs->side[dir & 1];

    if (i < 0 || i >= s->nhist || i >= TCPI_FS_HIST)
        return -1;
    *ts_ns = s->hts[i];
    return s->hst[i] - 1;
}
