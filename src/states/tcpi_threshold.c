/* tcpi_threshold.c — threshold levels and the Nagios line. */
#include "tcpi_threshold.h"

#include <stdio.h>

const char *tcpi_level_name(int level)
{
    static const char *const n[] = { "ok", "warning", "critical", "unknown" };
    return level >= 0 && level <= 3 ? n[level] : "unknown";
}

const char *tcpi_level_word(int level)
{
    static const char *const n[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };
    return level >= 0 && level <= 3 ? n[level] : "UNKNOWN";
}

static int level_of(uint32_t v, uint32_t warning, uint32_t critical)
{
    if (v >= critical)
        return TCPI_LEVEL_CRITICAL;
    if (v >= warning)
        return TCPI_LEVEL_WARNING;
    return TCPI_LEVEL_OK;
}

int tcpi_threshold_eval(tcpi_threshold_result_t *out, int max,
                        const tcpi_threshold_t *th, int nth,
                        const uint32_t count[TCPI_NSCOPES][TCPI_NSTATES])
{
    int n = 0;

    for (int i = 0; i < nth; i++) {
        int scopes[2], ns = 0;
        if (th[i].state < 0 || th[i].state >= TCPI_NSTATES)
            continue;
        if (th[i].scope < 0) {
            scopes[ns++] = TCPI_SCOPE_FRONT;
            scopes[ns++] = TCPI_SCOPE_BACKEND;
        } else if (th[i].scope < TCPI_NSCOPES) {
            scopes[ns++] = th[i].scope;
        }
        for (int k = 0; k < ns && n < max; k++) {
            tcpi_threshold_result_t *r = &out[n++];
            r->scope = scopes[k];
            r->state = th[i].state;
            r->warning = th[i].warning;
            r->critical = th[i].critical;
            r->value = count[r->scope][r->state];
            r->level = level_of(r->value, r->warning, r->critical);
        }
    }
    return n;
}

int tcpi_threshold_worst(const tcpi_threshold_result_t *res, int n)
{
    int worst = TCPI_LEVEL_OK;

    for (int i = 0; i < n; i++)
        if (res[i].level > worst)
            worst = res[i].level;
    return worst;
}

#define APPEND(...) do {                                              \
        int w_ = snprintf(buf + (used < len ? used : len),            \
                          used < len ? len - used : 0, __VA_ARGS__);  \
        if (w_ > 0) used += (size_t)w_;                               \
    } while (0)

size_t tcpi_threshold_nagios(char *buf, size_t len,
                             const tcpi_threshold_result_t *res, int n,
                             int counts_ok, const char *why)
{
    size_t used = 0;
    int worst, listed = 0;

    if (len > 0)
        buf[0] = '\0';
    if (!counts_ok) {
        APPEND("TCPINSPECT UNKNOWN - cannot count sockets: %s\n",
               why ? why : "unknown error");
        return used;
    }
    worst = tcpi_threshold_worst(res, n);
    APPEND("TCPINSPECT %s - ", tcpi_level_word(worst));
    if (n == 0)
        APPEND("no thresholds configured");
    /* Name what is out of bounds, worst first; when all is well, every
     * checked value. */
    for (int lvl = TCPI_LEVEL_CRITICAL; lvl >= TCPI_LEVEL_OK; lvl--) {
        if (lvl == TCPI_LEVEL_OK && worst != TCPI_LEVEL_OK)
            break;
        for (int i = 0; i < n; i++) {
            const tcpi_threshold_result_t *r = &res[i];
            if (r->level != lvl)
                continue;
            APPEND("%s%s %s=%u", listed++ ? ", " : "",
                   tcpi_scope_name(r->scope), tcpi_state_name(r->state),
                   r->value);
            if (lvl != TCPI_LEVEL_OK)
                APPEND(" (>=%u)", lvl == TCPI_LEVEL_CRITICAL ? r->critical
                                                             : r->warning);
        }
    }
    /* Performance data: label=value;warn;crit, labels unique (a repeated
     * scope and state gets _2, _3). */
    for (int i = 0; i < n; i++) {
        int rep = 1;
        for (int k = 0; k < i; k++)
            rep += res[k].scope == res[i].scope && res[k].state == res[i].state;
        APPEND("%s%s_%s", i ? " " : " | ", tcpi_scope_name(res[i].scope),
               tcpi_state_name(res[i].state));
        if (rep > 1)
            APPEND("_%d", rep);
        APPEND("=%u;%u;%u", res[i].value, res[i].warning, res[i].critical);
    }
    APPEND("\n");
    return used;
}
