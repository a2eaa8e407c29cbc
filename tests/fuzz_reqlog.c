/* libFuzzer target: the request log is the one part of the shared region
 * every httpd child can write, so its readers take any bytes there. The
 * input is tiled over the whole log (header, head counter, slots) of a
 * real region; the worker's one reader (the join's, handing each record
 * on to the trigger, as in the worker), a trigger reading through a
 * reader of its own, and the pages' collector then read it. Must never
 * crash, read out of bounds or loop, and every record handed out must
 * pass tcpi_req_check. */
#include "render/tcpi_reqview.h"
#include "region/tcpi_shm.h"
#include "reqcap/tcpi_trigger.h"

#include <stdlib.h>
#include <string.h>

#define RING (1u << 20)

typedef struct {
    tcpi_trigger_t *t;
    tcpi_shm_t     *shm;
} hand_t;

static void hand_on(void *baton, const tcpi_req_t *rec,
                    const tcpi_reqsum_t *sum, uint64_t k, uint64_t now_ns)
{
    hand_t *h = baton;

    if (!tcpi_req_check(rec))
        abort();
    tcpi_trigger_take(&h->t, h->shm, rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static void *mem;
    static tcpi_shm_t *shm;
    tcpi_join_conf_t c = { .nflows = 16, .nevents = 64,
                           .catchup_ns = TCPI_TRIGGER_CATCHUP_NS };
    tcpi_trigger_t *own = NULL;
    hand_t h = { NULL, NULL };
    uint64_t now = 1700000000000000000ull;
    tcpi_req_t recs[8];
    uint64_t ks[8];
    tcpi_req_filter_t f;

    if (mem == NULL) {
        mem = calloc(1, tcpi_shm_size(RING));
        shm = tcpi_shm_init(mem, RING, 1);
    }
    if (size == 0)
        return 0;
    /* Tile the input over the log part. */
    uint8_t *log = (uint8_t *)tcpi_shm_reqlog(shm);
    size_t len = tcpi_reqlog_size();
    for (size_t off = 0; off < len; off += size)
        memcpy(log + off, data, len - off < size ? len - off : size);
    c.ring = tcpi_shm_ring(shm);
    c.log = tcpi_shm_reqlog(shm);
    c.sums = tcpi_shm_sumtab(shm);
    c.on_joined = hand_on;
    c.baton = &h;
    h.shm = shm;
    tcpi_join_t *j = tcpi_join_create(&c);
    for (int round = 0; round < 3; round++) {
        tcpi_join_run(j, now);
        tcpi_trigger_run(&h.t, shm, j, now);
        tcpi_trigger_run(&own, shm, NULL, now);
        now += 2000000000ull;
    }
    memset(&f, 0, sizeof(f));
    int n = tcpi_req_collect(recs, ks, 8, c.log, &f);
    for (int i = 0; i < n; i++)
        if (!tcpi_req_check(&recs[i]))
            abort();
    tcpi_trigger_close(h.t);
    tcpi_trigger_close(own);
    tcpi_join_destroy(j);
    return 0;
}
