/* tcpi_trigger.c — triggered per-request captures (tcpi_trigger.h). */
#include "tcpi_trigger.h"
#include "tcpi/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME_MAX_LEN (TCPI_REQ_ID_MAX + 16)
#define PATH_BUF (TCPI_PATH_MAX + 264)       /* dir / a readdir name */

/* Where the worker finds the directory: its configured path, or "/" once
 * the worker is confined to it (tcpi_trigger_confined). */
static const char *confined_dir;

void tcpi_trigger_confined(const char *path)
{
    confined_dir = path;
}

static const char *fsdir(const tcpi_shm_trigger_t *tr)
{
    return confined_dir != NULL ? confined_dir : tr->dir;
}

typedef struct {
    char     name[NAME_MAX_LEN];
    uint64_t size;
    uint64_t mtime_ns;
} file_t;

struct tcpi_trigger {
    tcpi_reqlog_reader_t *own;     /* without a join: a reader of its own */
    tcpi_req_t *pending;           /* FIFO of matched records, each due
                                      TCPI_TRIGGER_DELAY_US after its end */
    size_t     phead, pn;
    file_t    *files;              /* the directory, oldest first (deque) */
    size_t     fhead, fn, fcap;
    uint64_t   bytes;
    int        need_scan;
    int64_t    tokens_ns;          /* budget left; negative: in debt */
    uint64_t   last_mono_ns;
    int        logged_errno;       /* errno of the failure last logged */
    tcpi_out_t out;
};

/* ---- the status block (one writer: the worker) --------------------- */

void tcpi_trigger_configure(tcpi_shm_t *shm, const char *dir,
                            uint64_t max_files, uint64_t max_bytes,
                            uint32_t snaplen)
{
    tcpi_shm_trigger_t *tr = &shm->trigger;

    memset(tr, 0, sizeof(*tr));
    snprintf(tr->dir, sizeof(tr->dir), "%s", dir ? dir : "");
    tr->max_files = max_files ? max_files : TCPI_TRIGGER_MAX_FILES_DEFAULT;
    tr->max_bytes = max_bytes ? max_bytes : TCPI_TRIGGER_MAX_BYTES_DEFAULT;
    tr->snaplen = snaplen;
}

static void set_error(tcpi_shm_trigger_t *tr, const char *msg)
{
    uint64_t w = tcpi_seqlock_write_begin(&tr->error_seq);

    tcpi_shm_copy_str(tr->last_error, sizeof(tr->last_error), msg, strlen(msg));
    tcpi_seqlock_write_end(&tr->error_seq, w);
    atomic_store(&tr->last_error_ns, tcpi_now_wall_ns());
}

void tcpi_trigger_set_error(tcpi_shm_t *shm, const char *msg)
{
    set_error(&shm->trigger, msg);
    atomic_store(&shm->trigger.error, 1);
}

void tcpi_trigger_status(tcpi_trigger_status_t *st, const tcpi_shm_t *shm)
{
    tcpi_shm_trigger_t *tr = (tcpi_shm_trigger_t *)&shm->trigger;
    char msg[sizeof(tr->last_error)];

    memset(st, 0, sizeof(*st));
    tcpi_shm_copy_str(st->dir, sizeof(st->dir), tr->dir, sizeof(tr->dir));
    st->max_files = tr->max_files;
    st->max_bytes = tr->max_bytes;
    st->error = (int)atomic_load(&tr->error);
    st->files = atomic_load(&tr->files);
    st->bytes = atomic_load(&tr->bytes);
    st->matched = atomic_load(&tr->matched);
    st->written = atomic_load(&tr->written);
    st->failed = atomic_load(&tr->failed);
    st->skipped = atomic_load(&tr->skipped);
    st->removed = atomic_load(&tr->removed);
    st->records_missed = atomic_load(&tr->records_missed);
    st->scanned = atomic_load(&tr->scanned);
    st->last_error_ns = atomic_load(&tr->last_error_ns);
    /* A torn copy (the worker rewrote it four times over) shows nothing. */
    if (tcpi_seqlock_copy(msg, tr->last_error, sizeof(msg), &tr->error_seq,
                          4) == TCPI_SEQLOCK_OK)
        tcpi_shm_copy_str(st->last_error, sizeof(st->last_error), msg,
                          sizeof(msg));
}

/* A failure: counted, shown, and logged once per distinct cause. */
static void fail(tcpi_trigger_t *t, tcpi_shm_trigger_t *tr, int err,
                 const char *fmt, const char *path)
{
    char msg[PATH_BUF + 256];

    snprintf(msg, sizeof(msg), fmt, path, strerror(err));
    atomic_fetch_add(&tr->failed, 1);
    set_error(tr, msg);
    if (!atomic_load(&tr->error) || t->logged_errno != err)
        tcpi_log(TCPI_LOG_ERR, TCPI_TAG(0601), "triggered capture not saved: %s "
                 "(reported once; serving and capturing go on)", msg);
    t->logged_errno = err;
    atomic_store(&tr->error, 1);
}

static void succeeded(tcpi_trigger_t *t, tcpi_shm_trigger_t *tr)
{
    if (atomic_load(&tr->error))
        tcpi_log(TCPI_LOG_NOTICE, TCPI_TAG(0602), "triggered captures are "
                 "written to %s again", tr->dir);
    atomic_store(&tr->error, 0);
    t->logged_errno = 0;
}

/* ---- file names and the directory --------------------------------- */

int tcpi_trigger_filename(char *buf, size_t len, const char *id)
{
    if (!tcpi_req_id_valid(id, strlen(id)))
        return -1;
    return snprintf(buf, len, "%s.pcapng", id) < (int)len ? 0 : -1;
}

/* One existing component of the capture directory's path (OpenSSH's
 * StrictModes, with room for /tmp): a directory owned by root or User,
 * that nobody else can write to; a parent may be writable by others when
 * it is sticky, since then they cannot rename or remove what is not
 * theirs. */
static int check_component(char *err, size_t errlen, int fd, const char *path,
                           int last, uid_t uid, gid_t gid)
{
    struct stat sb;
    int others;

    if (fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "%s is not a directory", path);
        return -1;
    }
    if (sb.st_uid != 0 && sb.st_uid != uid) {
        snprintf(err, errlen, "%s is owned by uid %ld: only root or the User "
                 "(uid %ld) may own it and the directories above it", path,
                 (long)sb.st_uid, (long)uid);
        return -1;
    }
    others = (sb.st_mode & S_IWOTH) ||
             ((sb.st_mode & S_IWGRP) && sb.st_gid != 0 && sb.st_gid != gid);
    if (others && (last || !(sb.st_mode & S_ISVTX))) {
        snprintf(err, errlen, "%s is writable by others (mode %04o, group "
                 "%ld)%s", path, (unsigned)(sb.st_mode & 07777),
                 (long)sb.st_gid, last ? "" : " and not sticky");
        return -1;
    }
    return 0;
}

/* A component that cannot be opened as a directory without following a
 * link: say why. */
static void open_failed(char *err, size_t errlen, int parent, const char *name,
                        const char *path, int e)
{
    struct stat sb;

    if (fstatat(parent, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(sb.st_mode))
        snprintf(err, errlen, "%s is a symlink: name the directory itself "
                 "(no component of the path may be a symlink)", path);
    else if (e == ENOTDIR)
        snprintf(err, errlen, "%s is not a directory", path);
    else
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
}

/* A directory root has just made with mkdirat: open it, make sure it is
 * the one made (not one put in its place), and set its mode and owner. */
static int adopt_made(char *err, size_t errlen, int parent, const char *name,
                      const char *path, int last, uid_t uid, gid_t gid)
{
    struct stat sb;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                    O_CLOEXEC);

    if (fd < 0) {
        open_failed(err, errlen, parent, name, path, errno);
        return -1;
    }
    if (fstat(fd, &sb) != 0 || sb.st_uid != geteuid()) {
        snprintf(err, errlen, "%s was replaced while being created", path);
    } else if (fchmod(fd, last ? 0700 : 0755) != 0) {
        snprintf(err, errlen, "cannot set the mode of %s: %s", path,
                 strerror(errno));
    } else if (last && fchown(fd, uid, gid) != 0) {
        snprintf(err, errlen, "cannot give %s to uid %ld: %s", path,
                 (long)uid, strerror(errno));
    } else {
        return fd;
    }
    close(fd);
    return -1;
}

/* Walk dir from "/" one component at a time, never following a symlink
 * (O_NOFOLLOW on every component, each opened relative to its parent's
 * descriptor), checking every component that exists. A missing one is
 * made when make is set (0755 on the way, 0700 and given to uid:gid at
 * the end) and ends the walk otherwise. Returns the directory's
 * descriptor, WALK_MISSING, or -1 with the reason in err. */
#define WALK_MISSING (-2)
static int walk_dir(char *err, size_t errlen, const char *dir, uid_t uid,
                    gid_t gid, int make)
{
    char path[TCPI_PATH_MAX], name[TCPI_PATH_MAX];
    const char *p = dir;
    size_t plen = 0;
    int fd;

    if (dir == NULL || dir[0] != '/') {
        snprintf(err, errlen, "%s is not an absolute path", dir ? dir : "(none)");
        return -1;
    }
    if (strlen(dir) >= sizeof(path)) {
        snprintf(err, errlen, "the path is longer than %d bytes",
                 TCPI_PATH_MAX - 1);
        return -1;
    }
    if ((fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
        snprintf(err, errlen, "cannot open /: %s", strerror(errno));
        return -1;
    }
    path[0] = '\0';
    if (check_component(err, errlen, fd, "/", 0, uid, gid) != 0)
        goto fail;
    while (*p) {
        size_t n;
        int next, last;

        while (*p == '/')
            p++;
        n = strcspn(p, "/");
        if (n == 0)
            break;                           /* trailing slashes */
        memcpy(name, p, n);
        name[n] = '\0';
        p += n;
        last = p[strspn(p, "/")] == '\0';
        plen += (size_t)snprintf(path + plen, sizeof(path) - plen, "/%s", name);
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
            snprintf(err, errlen, "%s: name the directory without \".\" or "
                     "\"..\"", dir);
            goto fail;
        }
        next = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && !make) {
            close(fd);
            return WALK_MISSING;
        }
        if (next < 0 && errno == ENOENT) {
            if (mkdirat(fd, name, last ? 0700 : 0755) == 0) {
                if ((next = adopt_made(err, errlen, fd, name, path, last, uid,
                                       gid)) < 0)
                    goto fail;
            } else if (errno != EEXIST) {
                snprintf(err, errlen, "cannot create %s: %s", path,
                         strerror(errno));
                goto fail;
            } else {                         /* made meanwhile: check it */
                next = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW |
                              O_CLOEXEC);
            }
        }
        if (next < 0) {
            open_failed(err, errlen, fd, name, path, errno);
            goto fail;
        }
        close(fd);
        fd = next;
        if (check_component(err, errlen, fd, path, last, uid, gid) != 0)
            goto fail;
    }
    if (plen == 0) {
        snprintf(err, errlen, "%s: name a directory of its own", dir);
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

int tcpi_trigger_check_dir(char *err, size_t errlen, const char *dir,
                           uid_t uid, gid_t gid)
{
    int fd = walk_dir(err, errlen, dir, uid, gid, 0);

    if (fd == -1)
        return -1;
    if (fd >= 0)
        close(fd);
    return 0;
}

int tcpi_trigger_prepare_dir(char *err, size_t errlen, const char *dir,
                             uid_t uid, gid_t gid)
{
    int fd = walk_dir(err, errlen, dir, uid, gid, 1);

    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

int tcpi_trigger_open_saved(struct stat *st, const char *dir, const char *name,
                            uid_t owner)
{
    const char *p = dir;
    int dfd, fd, e;

    if (dir == NULL || dir[0] != '/' || name == NULL || name[0] == '\0' ||
        name[0] == '.' || strchr(name, '/') != NULL) {
        errno = EINVAL;
        return -1;
    }
    if ((dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
        return -1;
    while (*p) {
        char comp[TCPI_PATH_MAX];
        size_t n;
        int next;

        while (*p == '/')
            p++;
        if ((n = strcspn(p, "/")) == 0)
            break;
        if (n >= sizeof(comp)) {
            close(dfd);
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        p += n;
        next = openat(dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        e = errno;
        close(dfd);
        if (next < 0) {
            errno = e;
            return -1;
        }
        dfd = next;
    }
    /* O_NONBLOCK: a FIFO put there must not hang the child (it is then
     * refused); it changes nothing for a regular file. */
    fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
                O_CLOEXEC);
    e = errno;
    close(dfd);
    if (fd < 0) {
        errno = e;
        return -1;
    }
    if (fstat(fd, st) != 0) {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (!S_ISREG(st->st_mode) || st->st_uid != owner) {
        close(fd);
        errno = S_ISREG(st->st_mode) ? EPERM : EINVAL;
        return -1;
    }
    return fd;
}

static file_t *file_at(tcpi_trigger_t *t, size_t i)
{
    return &t->files[(t->fhead + i) % t->fcap];
}

static int file_push(tcpi_trigger_t *t, const char *name, uint64_t size,
                     uint64_t mtime_ns)
{
    file_t *f;

    if (t->fn == t->fcap) {
        size_t cap = t->fcap ? t->fcap * 2 : 256;
        file_t *nf = malloc(cap * sizeof(*nf));
        if (nf == NULL)
            return -1;
        for (size_t i = 0; i < t->fn; i++)
            nf[i] = *file_at(t, i);
        free(t->files);
        t->files = nf;
        t->fcap = cap;
        t->fhead = 0;
    }
    f = file_at(t, t->fn++);
    tcpi_shm_copy_str(f->name, sizeof(f->name), name, strlen(name));
    f->size = size;
    f->mtime_ns = mtime_ns;
    t->bytes += size;
    return 0;
}

static int by_mtime(const void *a, const void *b)
{
    const file_t *x = a, *y = b;
    return x->mtime_ns < y->mtime_ns ? -1 : x->mtime_ns > y->mtime_ns;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

/* Learn what the directory holds (files of earlier runs count against
 * the limit), oldest first; remove temporary files left by a crash. */
static int scan_dir(tcpi_trigger_t *t, tcpi_shm_trigger_t *tr)
{
    char path[PATH_BUF];
    DIR *d = opendir(fsdir(tr));
    struct dirent *e;
    file_t *list = NULL;
    size_t n = 0, cap = 0;

    if (d == NULL) {
        fail(t, tr, errno, "cannot read the directory %s: %s", tr->dir);
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        struct stat sb;
        snprintf(path, sizeof(path), "%s/%s", fsdir(tr), e->d_name);
        if (e->d_name[0] == '.' && has_suffix(e->d_name, ".pcapng.tmp")) {
            unlink(path);
            continue;
        }
        if (e->d_name[0] == '.' || !has_suffix(e->d_name, ".pcapng") ||
            strlen(e->d_name) >= NAME_MAX_LEN ||
            lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (n == cap) {
            file_t *nl = realloc(list, (cap = cap ? cap * 2 : 256) * sizeof(*nl));
            if (nl == NULL)
                break;
            list = nl;
        }
        memcpy(list[n].name, e->d_name, strlen(e->d_name) + 1);   /* length checked above */
        list[n].size = (uint64_t)sb.st_size;
        list[n].mtime_ns = (uint64_t)sb.st_mtim.tv_sec * 1000000000ull +
                           (uint64_t)sb.st_mtim.tv_nsec;
        n++;
    }
    closedir(d);
    if (n)
        qsort(list, n, sizeof(*list), by_mtime);
    t->fn = t->fhead = 0;
    t->bytes = 0;
    for (size_t i = 0; i < n; i++)
        file_push(t, list[i].name, list[i].size, list[i].mtime_ns);
    free(list);
    t->need_scan = 0;
    return 0;
}

/* The oldest files go until the directory is within the limit; keep is
 * how many of the newest must stay (the file just written). */
static void enforce_limit(tcpi_trigger_t *t, tcpi_shm_trigger_t *tr)
{
    char path[PATH_BUF];

    while (t->fn > 0 && (t->fn > tr->max_files || t->bytes > tr->max_bytes)) {
        file_t *f = file_at(t, 0);
        snprintf(path, sizeof(path), "%s/%s", fsdir(tr), f->name);
        if (unlink(path) == 0) {
            atomic_fetch_add(&tr->removed, 1);
        } else if (errno != ENOENT) {
            fail(t, tr, errno, "cannot remove the oldest capture %s: %s", path);
            break;
        }
        t->bytes -= f->size;
        t->fhead = (t->fhead + 1) % t->fcap;
        t->fn--;
    }
    atomic_store(&tr->files, t->fn);
    atomic_store(&tr->bytes, t->bytes);
}

/* ---- writing one capture ------------------------------------------ */

typedef struct {
    int fd;
    int err;
} fd_sink_t;

static int fd_sink(void *baton, const void *buf, size_t len)
{
    fd_sink_t *s = baton;
    const char *p = buf;

    while (len > 0) {
        ssize_t w = write(s->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            s->err = w < 0 ? errno : ENOSPC;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static void write_one(tcpi_trigger_t *t, tcpi_shm_t *shm,
                      const tcpi_join_t *join, const tcpi_req_t *req)
{
    tcpi_shm_trigger_t *tr = &shm->trigger;
    char name[NAME_MAX_LEN], tmp[PATH_BUF];
    char final[PATH_BUF];
    tcpi_reqcap_t sel;
    fd_sink_t sink;
    struct stat sb;
    long n;
    int werr;

    if (tcpi_trigger_filename(name, sizeof(name), req->id) != 0) {
        fail(t, tr, EINVAL, "request id '%s' is not usable as a file name: %s",
             req->id);
        return;
    }
    if (tcpi_reqcap_select_join(&sel, join, shm, req) != 0) {
        fail(t, tr, ENOMEM, "selecting the packets of %s: %s", req->id);
        return;
    }
    if (sel.scanned)
        atomic_fetch_add(&tr->scanned, 1);
    if (sel.n == 0) {
        atomic_fetch_add(&tr->skipped, 1);  /* nothing of it in the ring */
        tcpi_reqcap_free(&sel);
        return;
    }
    if (t->need_scan && scan_dir(t, tr) != 0) {
        tcpi_reqcap_free(&sel);
        return;
    }
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", fsdir(tr), name);
    snprintf(final, sizeof(final), "%s/%s", fsdir(tr), name);
    if (access(final, F_OK) == 0) {
        tcpi_reqcap_free(&sel);          /* saved by a worker before us */
        return;
    }
    sink.err = 0;
    sink.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                   0600);
    if (sink.fd < 0 && errno == EEXIST && unlink(tmp) == 0)
        sink.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
                       O_NOFOLLOW, 0600);
    if (sink.fd < 0) {
        fail(t, tr, errno, "cannot create %s: %s", tmp);
        t->need_scan = 1;
        tcpi_reqcap_free(&sel);
        return;
    }
    tcpi_out_init(&t->out, fd_sink, &sink);
    n = tcpi_reqcap_write(&t->out, &sel, shm, req, tr->snaplen);
    tcpi_reqcap_free(&sel);
    werr = n < 0 ? (sink.err ? sink.err : EIO) : 0;
    if (werr == 0 && fstat(sink.fd, &sb) != 0)
        werr = errno;
    if (close(sink.fd) != 0 && werr == 0)
        werr = errno;
    if (werr == 0 && (uint64_t)sb.st_size > tr->max_bytes)
        werr = EFBIG;
    if (werr != 0) {
        fail(t, tr, werr, "cannot write %s: %s", tmp);
        unlink(tmp);
        return;
    }
    if (rename(tmp, final) != 0) {
        fail(t, tr, errno, "cannot rename to %s: %s", final);
        unlink(tmp);
        return;
    }
    atomic_fetch_add(&tr->written, 1);
    succeeded(t, tr);
    file_push(t, name, (uint64_t)sb.st_size, tcpi_now_wall_ns());
    enforce_limit(t, tr);
}

/* ---- the worker's loop -------------------------------------------- */

static tcpi_trigger_t *trigger_new(tcpi_shm_t *shm)
{
    tcpi_trigger_t *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->pending = malloc(TCPI_TRIGGER_PENDING * sizeof(*t->pending));
    if (t->pending == NULL) {
        free(t);
        return NULL;
    }
    t->need_scan = 1;
    t->tokens_ns = (int64_t)TCPI_TRIGGER_BURST_NS;
    t->last_mono_ns = tcpi_now_mono_ns();
    if (shm->trigger.dir[0])
        scan_dir(t, &shm->trigger);
    enforce_limit(t, &shm->trigger);
    return t;
}

void tcpi_trigger_close(tcpi_trigger_t *t)
{
    if (t == NULL)
        return;
    tcpi_reqlog_reader_destroy(t->own);
    if (t->pending != NULL)
        explicit_bzero(t->pending, TCPI_TRIGGER_PENDING * sizeof(*t->pending));
    free(t->pending);
    free(t->files);
    free(t);
}

void tcpi_trigger_take(tcpi_trigger_t **tp, tcpi_shm_t *shm,
                       const tcpi_req_t *rec)
{
    tcpi_shm_trigger_t *tr = &shm->trigger;
    tcpi_trigger_t *t = *tp;

    if (!rec->capture)
        return;
    if (t == NULL && (t = *tp = trigger_new(shm)) == NULL)
        return;
    atomic_fetch_add(&tr->matched, 1);
    if (t->pn == TCPI_TRIGGER_PENDING)
        atomic_fetch_add(&tr->skipped, 1);       /* the queue is full */
    else if (tr->dir[0])
        t->pending[(t->phead + t->pn++) % TCPI_TRIGGER_PENDING] = *rec;
}

/* Without the worker's join: the records through a reader of the
 * trigger's own, handed over as soon as they are read (the queue waits
 * for each one's delay). */
static void read_own(tcpi_trigger_t **tp, tcpi_shm_t *shm, uint64_t now_ns)
{
    tcpi_trigger_t *t = *tp;
    const tcpi_req_t *r;
    uint64_t k;

    if (t->own == NULL) {
        /* Requests that ended just before this worker started (or was
         * restarted) are still due; older ones are not ours. */
        tcpi_reqlog_reader_conf_t rc = {
            .catchup_ns = TCPI_TRIGGER_CATCHUP_NS,
            .capacity = TCPI_TRIGGER_PENDING,
        };
        const tcpi_reqlog_t *log = tcpi_shm_reqlog(shm);
        if (log == NULL || (t->own = tcpi_reqlog_reader_create(log, &rc)) == NULL)
            return;
    }
    tcpi_reqlog_reader_fill(t->own, now_ns);
    while ((r = tcpi_reqlog_reader_next(&k, t->own, now_ns, UINT64_MAX)) != NULL) {
        tcpi_trigger_take(tp, shm, r);
        tcpi_reqlog_reader_pop(t->own);
    }
}

void tcpi_trigger_run(tcpi_trigger_t **tp, tcpi_shm_t *shm,
                      const tcpi_join_t *join, uint64_t now_wall_ns)
{
    tcpi_shm_trigger_t *tr = &shm->trigger;
    tcpi_trigger_t *t = *tp;
    uint64_t mono = tcpi_now_mono_ns(), now_us = now_wall_ns / 1000;
    const tcpi_reqlog_reader_t *rd;
    tcpi_reqlog_reader_stats_t rst;
    tcpi_ring_stats_t st;

    if (t == NULL && (t = *tp = trigger_new(shm)) == NULL)
        return;
    t->tokens_ns += (int64_t)((mono - t->last_mono_ns) *
                              TCPI_TRIGGER_BUDGET_NS_PER_S / 1000000000ull);
    if (t->tokens_ns > (int64_t)TCPI_TRIGGER_BURST_NS)
        t->tokens_ns = (int64_t)TCPI_TRIGGER_BURST_NS;
    t->last_mono_ns = mono;
    if (join == NULL)
        read_own(tp, shm, now_wall_ns);
    /* Records the log lost before they were read: the reader's count, the
     * join's when there is one (one count for both). */
    rd = join != NULL ? tcpi_join_reader(join) : t->own;
    if (rd != NULL) {
        tcpi_reqlog_reader_stats(&rst, rd, now_wall_ns);
        atomic_store(&tr->records_missed, rst.missed);
    }
    if (t->pn == 0)
        return;
    tcpi_ring_stats(&st, tcpi_shm_ring(shm));
    while (t->pn > 0) {
        tcpi_req_t *r = &t->pending[t->phead];
        uint64_t t0;

        if (r->end_us + TCPI_TRIGGER_DELAY_US > now_us)
            break;                     /* the oldest is not due yet */
        if (r->end_us * 1000 < st.oldest_ts_ns) {
            atomic_fetch_add(&tr->skipped, 1);   /* too late: gone */
        } else if (t->tokens_ns <= 0) {
            break;                     /* out of budget: next time */
        } else {
            /* The whole cost is charged, so one expensive capture is
             * paid back before the next one starts. */
            t0 = tcpi_now_mono_ns();
            write_one(t, shm, join, r);
            t->tokens_ns -= (int64_t)(tcpi_now_mono_ns() - t0);
        }
        tcpi_req_wipe_secrets(r);
        t->phead = (t->phead + 1) % TCPI_TRIGGER_PENDING;
        t->pn--;
    }
}
