/*
 * src/httpd/jsonlog.c — TCPInspectRequestLog: the parent (root, at
 * post_config) opens the file or starts the piped logger as mod_log_config
 * does for CustomLog, and the capture worker inherits the descriptor and
 * writes one JSON line per joined request (tcpi_linelog.h, never waiting).
 * httpd's piped-log machinery restarts a logger that dies, on the same
 * pipe, so the worker's descriptor stays good. MPM children let go of it.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

#include "apr_portable.h"
#include "apr_strings.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <unistd.h>

#include "mod_tcpinspect.h"
#include "tcpi/common.h"
#include "tcpi/region.h"
#include "tcpi/render.h"

APLOG_USE_MODULE(tcpinspect);

/* /dev/null, opened by the parent with the log: what every other process
 * forked from the parent gets in place of the log's descriptors. */
static int null_fd = -1;
static int atfork_on;
int tcpi_httpd_jsonlog_forking_worker;

/* Put /dev/null (or nothing) under fd's number. */
static void hide(int fd)
{
    if (fd < 0)
        return;
    if (null_fd < 0 || dup3(null_fd, fd, O_CLOEXEC) < 0)
        close(fd);
}

/* Every process the parent forks but the capture worker (mod_cgid's
 * daemon, another module's helper, the MPM's children) loses the write
 * end: only the worker writes lines. The read end of a piped logger's
 * pipe stays in those forks: httpd starts the logger again through a
 * fork with it (MPM children still lose it, in child_init). glibc drops
 * the handler with this module's DSO when httpd unloads it. */
static void atfork_child(void)
{
    if (tcpi_httpd_jsonlog_forking_worker || getppid() != tcpi_httpd_state.parent)
        return;
    hide(tcpi_httpd_state.json_log_fd);
}

/* pconf cleanup in the parent: close this generation's log file (a piped
 * logger's pipe is httpd's, closed by its own cleanup). */
static apr_status_t file_cleanup(void *data)
{
    if (getpid() != tcpi_httpd_state.parent)
        return APR_SUCCESS;
    if (tcpi_httpd_state.json_log_fd >= 0 && tcpi_httpd_state.json_log_rfd < 0)
        close(tcpi_httpd_state.json_log_fd);
    tcpi_httpd_state.json_log_fd = tcpi_httpd_state.json_log_rfd = -1;
    return APR_SUCCESS;
}

int tcpi_httpd_jsonlog_open(apr_pool_t *pconf, server_rec *s, int worker)
{
    tcpi_srv_conf_t *c = tcpi_httpd_srv_conf(s);
    apr_os_file_t fd, rfd;

    tcpi_httpd_state.json_log_fd = tcpi_httpd_state.json_log_rfd = -1;
    if (c->request_log == NULL)
        return OK;
    if (!worker) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, TCPILOG(0704)
                     "TCPInspectRequestLog %s: no capture worker runs "
                     "(TCPInspectEngine is not On, or no leg has a port): "
                     "nothing is written", c->request_log);
        return OK;
    }
    if (c->request_log_pipe) {
        /* "|cmd", "||cmd", "|$cmd": ap_open_piped_log reads what follows
         * the first bar, as mod_log_config's CustomLog. */
        piped_log *pl = ap_open_piped_log(pconf, c->request_log + 1);
        if (pl == NULL ||
            apr_os_file_get(&fd, ap_piped_log_write_fd(pl)) != APR_SUCCESS ||
            apr_os_file_get(&rfd, ap_piped_log_read_fd(pl)) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, TCPILOG(0705)
                         "TCPInspectRequestLog: cannot start the piped "
                         "logger %s", c->request_log + 1);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        tcpi_httpd_state.json_log_rfd = rfd;
    } else {
        /* CustomLog's flags and mode (0644 under httpd's umask); no
         * O_TRUNC. O_NONBLOCK: a FIFO without a reader fails here rather
         * than hang the start. O_NOFOLLOW: root does not follow a link
         * someone put in its place. */
        fd = open(c->request_log, O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY |
                  O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW, 0644);
        if (fd < 0) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s, TCPILOG(0706)
                         "TCPInspectRequestLog: cannot open %s",
                         c->request_log);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        apr_pool_cleanup_register(pconf, NULL, file_cleanup,
                                  apr_pool_cleanup_null);
    }
    tcpi_httpd_state.json_log_fd = fd;
    if (null_fd < 0)
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (!atfork_on && pthread_atfork(NULL, NULL, atfork_child) == 0)
        atfork_on = 1;
    tcpi_httpd_state.shm_rw->json_log.kind = c->request_log_pipe
        ? TCPI_JSONLOG_PIPE : TCPI_JSONLOG_FILE;
    tcpi_httpd_state.wconf.log_fd = fd;
    tcpi_httpd_state.wconf.log_line = tcpi_reqview_line;
    return OK;
}

void tcpi_httpd_jsonlog_child_init(void)
{
    /* /dev/null under the same numbers (closed when there is none):
     * nothing of httpd's that closes them later closes someone else's
     * descriptor. A child can then neither forge lines nor read or drain
     * the logger's pipe. */
    hide(tcpi_httpd_state.json_log_fd);
    hide(tcpi_httpd_state.json_log_rfd);
}
