/*
 * tcpi_trigger.h — triggered per-request captures (TCPInspectCapture):
 * the capture worker's join hands on every record it joined (the
 * worker's one reader of the request log checked it); the trigger keeps
 * those whose rule matched, and once a record's grace period has passed
 * writes its packets (tcpi_reqcap.h) as <dir>/<id>.pcapng:
 *
 *   <dir>/.<id>.pcapng.tmp   O_EXCL, mode 0600, owned by the worker's
 *        | rename(2)         user (httpd's User)
 *   <dir>/<id>.pcapng
 *
 * The directory is bounded by TCPInspectCaptureLimit (files and bytes;
 * the oldest files go first). A failing directory (not writable, full)
 * is logged once, shown on the status page, and retried with the next
 * capture. The work is paced by a time budget so that capturing every
 * request never takes more than a small share of a CPU from httpd: what
 * cannot be written before its packets leave the ring is counted as
 * skipped.
 */
#ifndef TCPI_TRIGGER_H
#define TCPI_TRIGGER_H

#include "tcpi_reqcap.h"
#include "tcpi/region.h"

#include <sys/stat.h>
#include <sys/types.h>

#define TCPI_TRIGGER_MAX_FILES_DEFAULT 1000u
#define TCPI_TRIGGER_MAX_BYTES_DEFAULT (1ull << 30)     /* 1G */
/* A record is written this long after the request ended: the grace for
 * trailing packets plus the time packets take to reach the ring. */
#define TCPI_TRIGGER_DELAY_US  (TCPI_REQCAP_GRACE_US + 300000ull)
/* Worker time spent on captures: at most this many ns per second, with
 * bursts up to TCPI_TRIGGER_BURST_NS (short enough for the kernel
 * buffers to hold the packets that arrive meanwhile). */
#define TCPI_TRIGGER_BUDGET_NS_PER_S 20000000ull
#define TCPI_TRIGGER_BURST_NS        50000000ull
#define TCPI_TRIGGER_PENDING 8192u      /* matched records waiting */
/* A restarted worker still captures the requests that ended this long
 * before it started (its predecessor may not have written them). */
#define TCPI_TRIGGER_CATCHUP_NS (2 * TCPI_TRIGGER_DELAY_US * 1000)

typedef struct tcpi_trigger tcpi_trigger_t;

/** Parent, before the fork: record the directory ("" or NULL: none) and
 *  the limits (0: the defaults) in the shared region. */
void tcpi_trigger_configure(tcpi_shm_t *shm, const char *dir,
                            uint64_t max_files, uint64_t max_bytes,
                            uint32_t snaplen);

/** `apachectl configtest`: whether dir is safe to hold captures for User
 *  uid (group gid). It must be an absolute path without "." or ".."
 *  components, none of them a symlink, and every component that exists
 *  (from "/" down) a directory owned by root or uid that nobody else can
 *  write to (group-writable is fine for groups 0 and gid); a parent
 *  writable by others is accepted when it is sticky, like /tmp, since
 *  others cannot rename or remove what is not theirs there. The
 *  directory itself need not exist yet (tcpi_trigger_prepare_dir makes
 *  it). 0, or -1 with the reason in err. */
int tcpi_trigger_check_dir(char *err, size_t errlen, const char *dir,
                           uid_t uid, gid_t gid);

/** Parent, as root: the checks of tcpi_trigger_check_dir, and the
 *  missing components made on the way: from "/" one component at a time,
 *  each opened relative to its parent's descriptor with O_NOFOLLOW (a
 *  symlink anywhere is refused, never followed), made with mkdirat (mode
 *  0755 on the way; the directory 0700, given to uid/gid through its
 *  descriptor). An existing directory is left as it is. 0, or -1 with the
 *  reason in err. */
int tcpi_trigger_prepare_dir(char *err, size_t errlen, const char *dir,
                             uid_t uid, gid_t gid);

/** A child serving /requests/<id>.pcapng: open the saved capture
 *  dir/name for reading without following a symlink (dir's components
 *  too), and check the open file: a regular file owned by owner (the
 *  worker's user). The descriptor (O_CLOEXEC) with *st filled, or -1 with
 *  errno set (EINVAL: a bad name or not a regular file, EPERM: another
 *  owner, ELOOP/ENOTDIR: a symlink on the way). */
int tcpi_trigger_open_saved(struct stat *st, const char *dir, const char *name,
                            uid_t owner);

/** Show a setup problem (e.g. the directory cannot be created) on the
 *  status page until a capture is written. */
void tcpi_trigger_set_error(tcpi_shm_t *shm, const char *msg);

/** Worker: the capture directory is at path from now on (the worker
 *  chroot()s into it: "/"), whatever its configured name; messages and
 *  the pages keep the configured name. */
void tcpi_trigger_confined(const char *path);

/** Worker: a record the join has joined (the join's on_joined): counted
 *  as matched and queued when its rule matched (rec->capture), to be
 *  written TCPI_TRIGGER_DELAY_US after it ended (so the response's tail
 *  packets are in the ring). Creates *t on the first call. */
void tcpi_trigger_take(tcpi_trigger_t **t, tcpi_shm_t *shm,
                       const tcpi_req_t *rec);

/** Worker: one call per loop, after tcpi_join_run: writes the queued
 *  records that are due. With the worker's join its flow table finds the
 *  packets, its records come through tcpi_trigger_take and its reader's
 *  count of records missed is shown. Without one (NULL: tests, tools) the
 *  trigger reads the log through a reader of its own (the same checks,
 *  starting TCPI_TRIGGER_CATCHUP_NS back) and scans the ring. Creates *t
 *  on the first call. */
void tcpi_trigger_run(tcpi_trigger_t **t, tcpi_shm_t *shm,
                      const tcpi_join_t *join, uint64_t now_wall_ns);
void tcpi_trigger_close(tcpi_trigger_t *t);

/** "<id>.pcapng" into buf; -1 when the id is empty, too long, or has a
 *  byte outside [A-Za-z0-9@_-] (such a request gets no file). */
int tcpi_trigger_filename(char *buf, size_t len, const char *id);

/** A consistent copy of the status block for the pages. */
typedef struct {
    char     dir[TCPI_PATH_MAX];
    uint64_t max_files, max_bytes;
    int      error;
    uint64_t files, bytes, matched, written, failed, skipped, removed;
    uint64_t records_missed;   /* the reader's: the join's when it runs */
    uint64_t scanned;          /* selected by a ring scan, not the join */
    uint64_t last_error_ns;
    char     last_error[256];
} tcpi_trigger_status_t;
void tcpi_trigger_status(tcpi_trigger_status_t *st, const tcpi_shm_t *shm);

#endif
