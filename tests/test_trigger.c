/* Unit tests for triggered captures: the worker's per-loop call writes
 * <dir>/<id>.pcapng (0600, via a temporary name) for the matched records,
 * keeps the directory within its limit, and reports a failing directory
 * once while going on; the records come from the join, which takes them
 * from the worker's one reader of the request log (or, without a join,
 * from a reader of the trigger's own). */
#include "tcpi_test.h"
#include "tcpi_reqcap_frames.h"
#include "pcapfile/tcpi_pcapfile.h"
#include "reqcap/tcpi_trigger.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static int logged_errors;
static char last_log[512];

static void count_log(void *baton, int level, const char *tag, const char *msg)
{
    if (level == TCPI_LOG_ERR)
        logged_errors++;
    snprintf(last_log, sizeof(last_log), "%s %s", tag, msg);
}

static void test_filename(void **state)
{
    char b[64];
    assert_int_equal(tcpi_trigger_filename(b, sizeof(b), "ZXyz@AAAB-x_9"), 0);
    assert_string_equal(b, "ZXyz@AAAB-x_9.pcapng");
    assert_int_equal(tcpi_trigger_filename(b, sizeof(b), ""), -1);
    assert_int_equal(tcpi_trigger_filename(b, sizeof(b), "../etc"), -1);
    assert_int_equal(tcpi_trigger_filename(b, sizeof(b), "a/b"), -1);
    assert_int_equal(tcpi_trigger_filename(b, sizeof(b), "a.b"), -1);
    assert_int_equal(tcpi_trigger_filename(b, sizeof(b), "a b"), -1);
    char long_id[TCPI_REQ_ID_MAX + 1];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    assert_int_equal(tcpi_trigger_filename(b, sizeof(b), long_id), -1);
    assert_int_equal(tcpi_trigger_filename(b, 8, "abcdefgh"), -1);
}

/* The User the tests prepare for: another uid when we can chown (root),
 * else ourselves. */
static uid_t user_uid(void)
{
    return geteuid() == 0 ? 4242 : geteuid();
}

static gid_t user_gid(void)
{
    return geteuid() == 0 ? 4243 : getegid();
}

static void rm_rf(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_prepare_dir(void **state)
{
    char base[] = "/tmp/tcpi-trig-XXXXXX", dir[128], file[128], err[512];
    struct stat sb;

    assert_non_null(mkdtemp(base));
    snprintf(dir, sizeof(dir), "%s/caps", base);
    assert_int_equal(tcpi_trigger_prepare_dir(err, sizeof(err), dir,
                                              user_uid(), user_gid()), 0);
    assert_int_equal(lstat(dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 07777, 0700);
    assert_int_equal(sb.st_uid, user_uid());
    assert_int_equal(sb.st_gid, user_gid());
    /* An existing directory is fine and left alone. */
    chmod(dir, 0750);
    assert_int_equal(tcpi_trigger_prepare_dir(err, sizeof(err), dir,
                                              user_uid(), user_gid()), 0);
    stat(dir, &sb);
    assert_int_equal(sb.st_mode & 07777, 0750);
    /* ... unless it is not safe (the checks of configtest, again). */
    chmod(dir, 0777);
    assert_int_equal(tcpi_trigger_prepare_dir(err, sizeof(err), dir,
                                              user_uid(), user_gid()), -1);
    assert_non_null(strstr(err, "writable by others"));
    chmod(dir, 0750);
    /* Missing parents are made on the way: root's, 0755 whatever the
     * umask, so that User can reach the directory. */
    mode_t um = umask(077);
    snprintf(dir, sizeof(dir), "%s/a/b/caps", base);
    assert_int_equal(tcpi_trigger_prepare_dir(err, sizeof(err), dir,
                                              user_uid(), user_gid()), 0);
    umask(um);
    snprintf(file, sizeof(file), "%s/a/b", base);
    assert_int_equal(lstat(file, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0755);
    assert_int_equal(sb.st_uid, geteuid());
    assert_int_equal(lstat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0700);
    assert_int_equal(sb.st_uid, user_uid());
    /* A file in the way: a clear error. */
    snprintf(file, sizeof(file), "%s/file", base);
    close(open(file, O_CREAT | O_WRONLY, 0600));
    assert_int_equal(tcpi_trigger_prepare_dir(err, sizeof(err), file,
                                              user_uid(), user_gid()), -1);
    assert_non_null(strstr(err, "not a directory"));
    snprintf(dir, sizeof(dir), "%s/file/caps", base);
    assert_int_equal(tcpi_trigger_prepare_dir(err, sizeof(err), dir,
                                              user_uid(), user_gid()), -1);
    assert_non_null(strstr(err, "not a directory"));
    /* Where nothing can be made (sysfs refuses mkdir, even to root). */
    if (access("/sys/kernel", F_OK) == 0) {
        assert_int_equal(tcpi_trigger_prepare_dir(err, sizeof(err),
                                                  "/sys/tcpi-no/caps",
                                                  user_uid(), user_gid()), -1);
        assert_non_null(strstr(err, "cannot create /sys/tcpi-no"));
    }
    /* A symlink where the directory should be is refused, never followed
     * (root would otherwise hand its target to User). */
    char link[128];
    snprintf(dir, sizeof(dir), "%s/caps", base);
    snprintf(link, sizeof(link), "%s/link", base);
    assert_int_equal(symlink(dir, link), 0);
    assert_int_equal(tcpi_trigger_prepare_dir(err, sizeof(err), link,
                                              user_uid(), user_gid()), -1);
    assert_non_null(strstr(err, "symlink"));
    rm_rf(base);
}

/* A symlink above the directory: refused, and nothing is made where it
 * points (root's mkdir and chown would land in the attacker's choice of
 * place). */
static void test_prepare_symlinked_parent(void **state)
{
    char base[] = "/tmp/tcpi-trig-XXXXXX", real[64], link[64], dir[192];
    char err[512];
    struct stat sb;

    assert_non_null(mkdtemp(base));
    snprintf(real, sizeof(real), "%s/elsewhere", base);
    snprintf(link, sizeof(link), "%s/var", base);
    assert_int_equal(mkdir(real, 0755), 0);
    assert_int_equal(symlink(real, link), 0);
    for (int depth = 0; depth < 2; depth++) {
        snprintf(dir, sizeof(dir), depth ? "%s/var/sub/caps" : "%s/var/caps", base);
        assert_int_equal(tcpi_trigger_prepare_dir(err, sizeof(err), dir,
                                                  user_uid(), user_gid()), -1);
        assert_non_null(strstr(err, "symlink"));
        assert_non_null(strstr(err, link));
        assert_int_equal(tcpi_trigger_check_dir(err, sizeof(err), dir,
                                                user_uid(), user_gid()), -1);
        assert_non_null(strstr(err, "symlink"));
    }
    snprintf(dir, sizeof(dir), "%s/caps", real);
    assert_int_equal(lstat(dir, &sb), -1);
    snprintf(dir, sizeof(dir), "%s/sub", real);
    assert_int_equal(lstat(dir, &sb), -1);
    /* The path through the real directory is fine. */
    snprintf(dir, sizeof(dir), "%s/caps", real);
    assert_int_equal(tcpi_trigger_prepare_dir(err, sizeof(err), dir,
                                              user_uid(), user_gid()), 0);
    rm_rf(base);
}

/* configtest's check: owner, mode, path form; nothing is made. */
static void test_check_dir(void **state)
{
    char base[] = "/tmp/tcpi-trig-XXXXXX", dir[128], err[512];
    struct stat sb;
    uid_t u = user_uid();
    gid_t g = user_gid();

    assert_non_null(mkdtemp(base));
    snprintf(dir, sizeof(dir), "%s/caps", base);
    /* Missing: fine (the parent makes it), and still missing. */
    assert_int_equal(tcpi_trigger_check_dir(err, sizeof(err), dir, u, g), 0);
    assert_int_equal(lstat(dir, &sb), -1);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(chown(dir, u, g), 0);
    assert_int_equal(tcpi_trigger_check_dir(err, sizeof(err), dir, u, g), 0);
    /* Root's own is fine too. */
    if (geteuid() == 0) {
        assert_int_equal(chown(dir, 0, 0), 0);
        assert_int_equal(tcpi_trigger_check_dir(err, sizeof(err), dir, u, g), 0);
        /* Anybody else's is not. */
        assert_int_equal(chown(dir, 4244, g), 0);
        assert_int_equal(tcpi_trigger_check_dir(err, sizeof(err), dir, u, g), -1);
        assert_non_null(strstr(err, "owned by uid 4244"));
        assert_int_equal(chown(dir, u, g), 0);
    } else {
        /* Ours, but the User is someone else. */
        assert_int_equal(tcpi_trigger_check_dir(err, sizeof(err), dir, u + 1, g), -1);
        assert_non_null(strstr(err, "owned by uid"));
    }
    /* Writable by others: refused, sticky or not. */
    assert_int_equal(chmod(dir, 0777), 0);
    assert_int_equal(tcpi_trigger_check_dir(err, sizeof(err), dir, u, g), -1);
    assert_non_null(strstr(err, "writable by others (mode 0777"));
    assert_int_equal(chmod(dir, 01777), 0);
    assert_int_equal(tcpi_trigger_check_dir(err, sizeof(err), dir, u, g), -1);
    assert_int_equal(chmod(dir, 0702), 0);
    assert_int_equal(tcpi_trigger_check_dir(err, sizeof(err), dir, u, g), -1);
    /* Group-writable: only for the User's group (or root's). */
    assert_int_equal(chmod(dir, 0770), 0);
    assert_int_equal(tcpi_trigger_check_dir(err, sizeof(err), dir, u, g), 0);
    assert_int_equal(tcpi_trigger_check_dir(err, sizeof(err), dir, u, g + 1), -1);
    assert_non_null(strstr(err, "writable by others"));
    assert_int_equal(chmod(dir, 0700), 0);
    /* A parent writable by others: only when sticky, like /tmp. */
    assert_int_equal(chmod(base, 0777), 0);
    assert_int_equal(tcpi_trigger_check_dir(err, sizeof(err), dir, u, g), -1);
    assert_non_null(strstr(err, "not sticky"));
    assert_non_null(strstr(err, base));
    assert_int_equal(chmod(base, 01777), 0);
    assert_int_equal(tcpi_trigger_check_dir(err, sizeof(err), dir, u, g), 0);
    assert_int_equal(chmod(base, 0700), 0);
    /* A parent owned by somebody else. */
    if (geteuid() == 0) {
        assert_int_equal(chown(base, 4244, 0), 0);
        assert_int_equal(tcpi_trigger_check_dir(err, sizeof(err), dir, u, g), -1);
        assert_non_null(strstr(err, "owned by uid 4244"));
        assert_int_equal(chown(base, 0, 0), 0);
    }
    /* The path itself. */
    assert_int_equal(tcpi_trigger_check_dir(err, sizeof(err), "tmp/caps", u, g), -1);
    assert_non_null(strstr(err, "absolute"));
    snprintf(dir, sizeof(dir), "%s/../%s/caps", base, strrchr(base, '/') + 1);
    assert_int_equal(tcpi_trigger_check_dir(err, sizeof(err), dir, u, g), -1);
    assert_non_null(strstr(err, "\"..\""));
    assert_int_equal(tcpi_trigger_check_dir(err, sizeof(err), "/", u, g), -1);
    snprintf(dir, sizeof(dir), "%s//caps/", base);
    assert_int_equal(tcpi_trigger_check_dir(err, sizeof(err), dir, u, g), 0);
    rm_rf(base);
}

/* The download: a regular file of the worker's user, opened without
 * following a symlink in the file's name or in the directory's. */
static void test_open_saved(void **state)
{
    char base[] = "/tmp/tcpi-trig-XXXXXX", dir[128], path[192], other[192];
    char buf[16];
    struct stat st;
    int fd;

    assert_non_null(mkdtemp(base));
    snprintf(dir, sizeof(dir), "%s/caps", base);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/good.pcapng", dir);
    fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_int_equal(write(fd, "pcapng", 6), 6);
    close(fd);
    fd = tcpi_trigger_open_saved(&st, dir, "good.pcapng", geteuid());
    assert_true(fd >= 0);
    assert_int_equal(st.st_size, 6);
    assert_int_equal(read(fd, buf, sizeof(buf)), 6);
    assert_memory_equal(buf, "pcapng", 6);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
    /* Names that are not a file of the directory. */
    assert_int_equal(tcpi_trigger_open_saved(&st, dir, "../caps/good.pcapng",
                                             geteuid()), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(tcpi_trigger_open_saved(&st, dir, ".good.pcapng.tmp",
                                             geteuid()), -1);
    assert_int_equal(tcpi_trigger_open_saved(&st, dir, "", geteuid()), -1);
    assert_int_equal(tcpi_trigger_open_saved(&st, "caps", "good.pcapng",
                                             geteuid()), -1);
    /* Another owner. */
    assert_int_equal(tcpi_trigger_open_saved(&st, dir, "good.pcapng",
                                             geteuid() + 1), -1);
    assert_int_equal(errno, EPERM);
    /* The capture replaced by a symlink to a file the child may read. */
    snprintf(other, sizeof(other), "%s/secret", base);
    fd = open(other, O_CREAT | O_WRONLY, 0600);
    assert_int_equal(write(fd, "secret", 6), 6);
    close(fd);
    snprintf(path, sizeof(path), "%s/swapped.pcapng", dir);
    assert_int_equal(symlink(other, path), 0);
    assert_int_equal(tcpi_trigger_open_saved(&st, dir, "swapped.pcapng",
                                             geteuid()), -1);
    assert_int_equal(errno, ELOOP);
    /* A FIFO is refused without waiting for a writer; a directory too. */
    snprintf(path, sizeof(path), "%s/fifo.pcapng", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(tcpi_trigger_open_saved(&st, dir, "fifo.pcapng",
                                             geteuid()), -1);
    assert_int_equal(errno, EINVAL);
    snprintf(path, sizeof(path), "%s/dir.pcapng", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(tcpi_trigger_open_saved(&st, dir, "dir.pcapng",
                                             geteuid()), -1);
    /* The directory reached through a symlink. */
    snprintf(path, sizeof(path), "%s/link", base);
    assert_int_equal(symlink(dir, path), 0);
    assert_int_equal(tcpi_trigger_open_saved(&st, path, "good.pcapng",
                                             geteuid()), -1);
    assert_int_equal(errno, ENOTDIR);
    rm_rf(base);
}

/* n requests with capture set, ended 2 s ago, their packets in the ring. */
static void log_requests(tcpi_shm_t *shm, int first, int n, int capture)
{
    uint64_t now_us = tcpi_now_wall_ns() / 1000;
    tcpi_endpoint_t s = ep("198.18.0.1", 80), bk = ep("127.0.0.1", 7001);

    for (int i = first; i < first + n; i++) {
        char id[32], uri[64];
        snprintf(id, sizeof(id), "req-%d", i);
        snprintf(uri, sizeof(uri), "/u/%d", i);
        tcpi_req_t r = proxied_request(tcpi_shm_ring(shm), id,
                                       now_us - 3000000 + (uint64_t)i * 20000,
                                       ep("198.18.0.2", (uint16_t)(30000 + i)), s,
                                       ep("127.0.0.1", (uint16_t)(40000 + i)),
                                       bk, uri);
        r.capture = (uint8_t)capture;
        assert_int_equal(tcpi_reqlog_put(tcpi_shm_reqlog(shm), &r), 0);
    }
}

static int count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        size_t k = strlen(e->d_name), m = strlen(suffix);
        n += k > m && strcmp(e->d_name + k - m, suffix) == 0;
    }
    closedir(d);
    return n;
}

static void test_write_and_limit(void **state)
{
    char dir[] = "/tmp/tcpi-trig-XXXXXX", path[128];
    tcpi_shm_t *shm = test_shm(4 << 20);
    tcpi_trigger_t *t = NULL;
    tcpi_trigger_status_t st;
    struct stat sb;

    assert_non_null(mkdtemp(dir));
    /* Left over from an earlier run: one capture (counts against the
     * limit) and a temporary file of a crashed write (removed). */
    snprintf(path, sizeof(path), "%s/old.pcapng", dir);
    close(open(path, O_CREAT | O_WRONLY, 0600));
    utimensat(AT_FDCWD, path, (struct timespec[]){ { 1, 0 }, { 1, 0 } }, 0);
    snprintf(path, sizeof(path), "%s/.crashed.pcapng.tmp", dir);
    close(open(path, O_CREAT | O_WRONLY, 0600));
    tcpi_trigger_configure(shm, dir, 3, 1 << 20, 65535);

    tcpi_trigger_run(&t, shm, NULL, tcpi_now_wall_ns());     /* opens, scans */
    assert_non_null(t);
    tcpi_trigger_status(&st, shm);
    assert_int_equal(st.files, 1);
    assert_int_equal(count_files(dir, ".tmp"), 0);

    log_requests(shm, 0, 2, 0);                         /* not matched */
    log_requests(shm, 2, 4, 1);
    tcpi_trigger_run(&t, shm, NULL, tcpi_now_wall_ns());
    tcpi_trigger_status(&st, shm);
    assert_int_equal(st.matched, 4);
    assert_int_equal(st.written, 4);
    /* No join table here: every selection was a scan of the ring. */
    assert_int_equal(st.scanned, 4);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.error, 0);
    /* Limit 3: the old file and the first new one went, oldest first. */
    assert_int_equal(st.files, 3);
    assert_int_equal(st.removed, 2);
    assert_int_equal(count_files(dir, ".pcapng"), 3);
    snprintf(path, sizeof(path), "%s/old.pcapng", dir);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof(path), "%s/req-2.pcapng", dir);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof(path), "%s/req-0.pcapng", dir);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof(path), "%s/req-5.pcapng", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_uid, geteuid());
    assert_int_equal(st.bytes, (uint64_t)sb.st_size * 3);

    /* The file is the request's two legs, every packet commented. */
    uint8_t *buf = malloc((size_t)sb.st_size);
    int fd = open(path, O_RDONLY);
    assert_int_equal(read(fd, buf, (size_t)sb.st_size), sb.st_size);
    close(fd);
    tcpi_capfile_t rd;
    tcpi_capfile_pkt_t p;
    int n = 0;
    assert_int_equal(tcpi_capfile_open(&rd, buf, (size_t)sb.st_size), 0);
    while (tcpi_capfile_next(&rd, &p) == 1) {
        assert_true(p.comment_len > 0);
        assert_memory_equal(p.comment, "tcpinspect-id=req-5 leg=", 24);
        n++;
    }
    assert_int_equal(rd.nif, 2);
    assert_int_equal(n, 15);
    free(buf);

    /* Not due yet: a request that just ended waits for its grace. */
    uint64_t now_us = tcpi_now_wall_ns() / 1000;
    tcpi_req_t r = proxied_request(tcpi_shm_ring(shm), "fresh", now_us - 6000,
                                   ep("198.18.0.2", 29999), ep("198.18.0.1", 80),
                                   ep("127.0.0.1", 39999), ep("127.0.0.1", 7001),
                                   "/fresh");
    r.capture = 1;
    tcpi_reqlog_put(tcpi_shm_reqlog(shm), &r);
    tcpi_trigger_run(&t, shm, NULL, tcpi_now_wall_ns());
    tcpi_trigger_status(&st, shm);
    assert_int_equal(st.written, 4);
    tcpi_trigger_run(&t, shm, NULL, tcpi_now_wall_ns() + TCPI_TRIGGER_DELAY_US * 1000);
    tcpi_trigger_status(&st, shm);
    assert_int_equal(st.written, 5);

    tcpi_trigger_close(t);
    snprintf(path, sizeof(path), "rm -rf %s", dir);
    assert_int_equal(system(path), 0);
    free(shm);
}

/* A directory that cannot be written: counted, shown, logged once, and
 * capture goes on; once it works again the error clears. */
static void test_unwritable(void **state)
{
    char base[] = "/tmp/tcpi-trig-XXXXXX", dir[64], cmd[128];
    tcpi_shm_t *shm = test_shm(4 << 20);
    tcpi_trigger_t *t = NULL;
    tcpi_trigger_status_t st;

    assert_non_null(mkdtemp(base));
    snprintf(dir, sizeof(dir), "%s/missing", base);
    tcpi_log_set(count_log, NULL);
    logged_errors = 0;
    tcpi_trigger_configure(shm, dir, 0, 0, 0);
    tcpi_trigger_status(&st, shm);
    assert_int_equal(st.max_files, TCPI_TRIGGER_MAX_FILES_DEFAULT);
    assert_int_equal(st.max_bytes, TCPI_TRIGGER_MAX_BYTES_DEFAULT);
    /* The worker starts first: what was logged before is not its. */
    log_requests(shm, 0, 1, 1);
    tcpi_trigger_run(&t, shm, NULL, tcpi_now_wall_ns());
    log_requests(shm, 1, 3, 1);
    tcpi_trigger_run(&t, shm, NULL, tcpi_now_wall_ns());
    tcpi_trigger_status(&st, shm);
    assert_int_equal(st.matched, 3);
    assert_int_equal(st.written, 0);
    assert_true(st.failed >= 3);
    assert_int_equal(st.error, 1);
    assert_non_null(strstr(st.last_error, dir));
    assert_non_null(strstr(st.last_error, "No such file or directory"));
    assert_int_equal(logged_errors, 1);
    assert_non_null(strstr(last_log, "TCPI0601"));

    assert_int_equal(mkdir(dir, 0700), 0);
    log_requests(shm, 4, 2, 1);
    tcpi_trigger_run(&t, shm, NULL, tcpi_now_wall_ns());
    tcpi_trigger_status(&st, shm);
    assert_int_equal(st.written, 2);
    assert_int_equal(st.error, 0);
    assert_int_equal(st.files, 2);
    assert_non_null(strstr(last_log, "TCPI0602"));
    assert_int_equal(logged_errors, 1);

    tcpi_trigger_close(t);
    tcpi_log_set(NULL, NULL);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
    assert_int_equal(system(cmd), 0);
    free(shm);
}

/* Without a directory nothing is queued or written; matches are counted. */
static void test_no_dir(void **state)
{
    tcpi_shm_t *shm = test_shm(4 << 20);
    tcpi_trigger_t *t = NULL;
    tcpi_trigger_status_t st;

    tcpi_trigger_configure(shm, NULL, 0, 0, 0);
    tcpi_trigger_run(&t, shm, NULL, tcpi_now_wall_ns());
    log_requests(shm, 0, 2, 1);
    tcpi_trigger_run(&t, shm, NULL, tcpi_now_wall_ns());
    tcpi_trigger_status(&st, shm);
    assert_string_equal(st.dir, "");
    assert_int_equal(st.matched, 2);
    assert_int_equal(st.written + st.failed + st.skipped, 0);
    tcpi_trigger_close(t);
    free(shm);
}

/* Packets already gone from the ring: skipped, not failed. */
static void test_gone_is_skipped(void **state)
{
    char dir[] = "/tmp/tcpi-trig-XXXXXX", cmd[64];
    tcpi_shm_t *shm = test_shm(1 << 20);
    tcpi_trigger_t *t = NULL;
    tcpi_trigger_status_t st;
    tcpi_endpoint_t x = ep("10.0.0.1", 1), y = ep("10.0.0.2", 2);
    char big[1201];

    assert_non_null(mkdtemp(dir));
    tcpi_trigger_configure(shm, dir, 10, 1 << 20, 0);
    tcpi_trigger_run(&t, shm, NULL, tcpi_now_wall_ns());
    log_requests(shm, 0, 2, 1);
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 2000; i++)
        emit(tcpi_shm_ring(shm), 0, tcpi_now_wall_ns() / 1000, &x, &y, PA_, big);
    tcpi_trigger_run(&t, shm, NULL, tcpi_now_wall_ns());
    tcpi_trigger_status(&st, shm);
    assert_int_equal(st.skipped, 2);
    assert_int_equal(st.written + st.failed, 0);
    tcpi_trigger_close(t);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    free(shm);
}

/* A restarted worker picks up the requests that ended just before it
 * started, and does not write again what its predecessor saved. */
static void test_restart(void **state)
{
    char dir[] = "/tmp/tcpi-trig-XXXXXX", cmd[64];
    tcpi_shm_t *shm = test_shm(4 << 20);
    tcpi_trigger_t *t = NULL;
    tcpi_trigger_status_t st;
    uint64_t now_us = tcpi_now_wall_ns() / 1000;
    tcpi_endpoint_t s = ep("198.18.0.1", 80), bk = ep("127.0.0.1", 7001);

    assert_non_null(mkdtemp(dir));
    tcpi_trigger_configure(shm, dir, 10, 1 << 20, 0);
    tcpi_trigger_run(&t, shm, NULL, tcpi_now_wall_ns());
    for (int i = 0; i < 2; i++) {
        char id[16];
        snprintf(id, sizeof(id), "r%d", i);
        tcpi_req_t r = proxied_request(tcpi_shm_ring(shm), id,
                                       now_us - 10000 + (uint64_t)i * 1000,
                                       ep("198.18.0.2", (uint16_t)(20000 + i)), s,
                                       ep("127.0.0.1", (uint16_t)(21000 + i)),
                                       bk, "/r");
        r.capture = 1;
        tcpi_reqlog_put(tcpi_shm_reqlog(shm), &r);
    }
    /* The first worker writes r0 only, then dies. */
    tcpi_trigger_run(&t, shm, NULL, (now_us - 4150 + TCPI_TRIGGER_DELAY_US) * 1000);
    tcpi_trigger_status(&st, shm);
    assert_int_equal(st.written, 1);
    tcpi_trigger_close(t);
    t = NULL;
    /* Its successor starts right away: r1 is still due, r0 is on disk. */
    tcpi_trigger_run(&t, shm, NULL, (now_us + TCPI_TRIGGER_DELAY_US) * 1000);
    tcpi_trigger_status(&st, shm);
    assert_int_equal(st.written, 2);
    assert_int_equal(st.files, 2);
    assert_int_equal(st.failed, 0);
    tcpi_trigger_close(t);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    free(shm);
}

/* The worker's wiring: the join hands every record it joined to the
 * trigger (tcpi_worker.c does the same). */
typedef struct {
    tcpi_trigger_t *t;
    tcpi_shm_t     *shm;
    int             handed;
} hand_t;

static void hand_on(void *baton, const tcpi_req_t *rec,
                    const tcpi_reqsum_t *sum, uint64_t k, uint64_t now_ns)
{
    hand_t *h = baton;

    assert_true(tcpi_req_check(rec));
    h->handed++;
    tcpi_trigger_take(&h->t, h->shm, rec);
}

/* One reader feeds both: a record logged once is joined (its summary in
 * the shared table) and, its rule matched, captured from the join's flow
 * table; records that are not records are counted once, by the reader,
 * and never reach the trigger; records the log overwrote before they
 * were read are counted once and shown by both. */
static void test_one_reader(void **state)
{
    char dir[] = "/tmp/tcpi-trig-XXXXXX", cmd[64];
    tcpi_shm_t *shm = test_shm(4 << 20);
    tcpi_reqlog_t *log = tcpi_shm_reqlog(shm);
    tcpi_sumtab_t *sums = tcpi_shm_sumtab(shm);
    hand_t h = { .shm = shm };
    tcpi_join_conf_t c = {
        .ring = tcpi_shm_ring(shm), .log = log, .sums = sums,
        .nflows = 256, .nevents = 4096,
        .catchup_ns = TCPI_TRIGGER_CATCHUP_NS, .on_joined = hand_on, .baton = &h,
    };
    tcpi_join_t *j = tcpi_join_create(&c);
    tcpi_trigger_status_t st;
    tcpi_join_stats_t js;
    tcpi_reqsum_t sum;
    tcpi_req_t bad;
    uint64_t now = tcpi_now_wall_ns();

    assert_non_null(j);
    assert_non_null(mkdtemp(dir));
    tcpi_trigger_configure(shm, dir, 10, 1 << 20, 0);
    tcpi_join_run(j, now);                   /* the reader's start */
    tcpi_trigger_run(&h.t, shm, j, now);
    log_requests(shm, 0, 2, 1);              /* records 0, 1: matched */
    log_requests(shm, 2, 1, 0);              /* record 2 */
    for (int i = 0; i < 3; i++) {            /* records 3..5: forged */
        bad = proxied_request(tcpi_shm_ring(shm), "forged", now / 1000 - 3000000,
                              ep("198.18.0.3", 1), ep("198.18.0.1", 80),
                              ep("127.0.0.1", 2), ep("127.0.0.1", 7001), "/");
        bad.capture = 1;
        bad.backend_src = 7;
        assert_int_equal(tcpi_reqlog_put(log, &bad), 0);
    }
    assert_int_equal(tcpi_join_run(j, now), 3);
    tcpi_trigger_run(&h.t, shm, j, now);
    assert_int_equal(h.handed, 3);
    assert_int_equal(tcpi_sumtab_get_for(&sum, sums, 0, "req-0"), 0);
    assert_true(sum.leg[0].found && sum.leg[1].found);
    assert_int_equal(tcpi_sumtab_get_for(&sum, sums, 1, "req-1"), 0);
    assert_int_equal(tcpi_sumtab_get_for(&sum, sums, 2, "req-2"), 0);
    tcpi_sumtab_stats(&js, sums);
    assert_int_equal(js.joined, 3);
    assert_int_equal(js.records_corrupt, 3);
    tcpi_trigger_status(&st, shm);
    assert_int_equal(st.matched, 2);
    assert_int_equal(st.written, 2);
    assert_int_equal(st.scanned, 0);         /* the join's flows had them */
    assert_int_equal(st.failed, 0);
    assert_int_equal(count_files(dir, ".pcapng"), 2);
    /* Nothing is read twice. */
    assert_int_equal(tcpi_join_run(j, now), 0);
    tcpi_trigger_run(&h.t, shm, j, now);
    tcpi_trigger_status(&st, shm);
    assert_int_equal(st.matched, 2);
    tcpi_sumtab_stats(&js, sums);
    assert_int_equal(js.records_corrupt, 3);

    /* The log laps the reader by 7 records. */
    tcpi_req_t r = bad;
    r.backend_src = 0;
    r.capture = 0;
    for (uint64_t i = 0; i < TCPI_REQLOG_LEN + 7; i++) {
        snprintf(r.id, sizeof(r.id), "lap-%llu", (unsigned long long)i);
        assert_int_equal(tcpi_reqlog_put(log, &r), 0);
    }
    tcpi_join_run(j, now);
    tcpi_trigger_run(&h.t, shm, j, now);
    tcpi_sumtab_stats(&js, sums);
    tcpi_trigger_status(&st, shm);
    assert_int_equal(js.records_missed, 7);
    assert_int_equal(st.records_missed, 7);
    assert_int_equal(js.records_corrupt, 3);
    assert_int_equal(st.matched, 2);
    tcpi_trigger_close(h.t);
    tcpi_join_destroy(j);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    free(shm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filename),
        cmocka_unit_test(test_prepare_dir),
        cmocka_unit_test(test_prepare_symlinked_parent),
        cmocka_unit_test(test_check_dir),
        cmocka_unit_test(test_open_saved),
        cmocka_unit_test(test_write_and_limit),
        cmocka_unit_test(test_unwritable),
        cmocka_unit_test(test_no_dir),
        cmocka_unit_test(test_gone_is_skipped),
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_one_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
