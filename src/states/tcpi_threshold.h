/*
 * tcpi_threshold.h — TCPInspectThreshold evaluation and the Nagios-style
 * summary line. A threshold without a scope applies to front and backend
 * separately (one result each).
 */
#ifndef TCPI_THRESHOLD_H
#define TCPI_THRESHOLD_H

#include "tcpi/common.h"

typedef enum { TCPI_LEVEL_OK = 0, TCPI_LEVEL_WARNING = 1,
               TCPI_LEVEL_CRITICAL = 2, TCPI_LEVEL_UNKNOWN = 3 } tcpi_level_e;

/** "ok", "warning", "critical", "unknown". */
const char *tcpi_level_name(int level);
/** Nagios words: "OK", "WARNING", "CRITICAL", "UNKNOWN". */
const char *tcpi_level_word(int level);

typedef struct {
    int      scope;
    int      state;
    uint32_t warning;
    uint32_t critical;
    uint32_t value;
    int      level;
} tcpi_threshold_result_t;

#define TCPI_MAX_RESULTS (2 * TCPI_MAX_THRESHOLDS)

/** Evaluate thresholds against counts; returns the number of results
 *  written (at most max). */
int tcpi_threshold_eval(tcpi_threshold_result_t *out, int max,
                        const tcpi_threshold_t *th, int nth,
                        const uint32_t count[TCPI_NSCOPES][TCPI_NSTATES]);

/** The worst level among results (OK when there are none). */
int tcpi_threshold_worst(const tcpi_threshold_result_t *res, int n);

/** One line: "TCPINSPECT CRITICAL - front TIME_WAIT=512 (>=400) | perf...".
 *  counts_ok = 0 gives an UNKNOWN line naming why. Returns the length
 *  (snprintf semantics). */
size_t tcpi_threshold_nagios(char *buf, size_t len,
                             const tcpi_threshold_result_t *res, int n,
                             int counts_ok, const char *why);

#endif
