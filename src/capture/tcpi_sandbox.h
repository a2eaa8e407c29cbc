/*
 * tcpi_sandbox.h — the capture worker's sandbox, entered once, right after
 * it has opened its packet sockets as root and become httpd's User:
 *
 *   prctl(NO_NEW_PRIVS)      execve can never gain privileges again
 *   prctl(DUMPABLE, 0)       no ptrace, /proc/<pid>/mem or core by User
 *   capabilities             ambient, bounding (where CAP_SETPCAP allows),
 *                            effective, permitted, inheritable: all cleared
 *   refuse                   uid or gid 0 anywhere, a capability left, or
 *                            a second thread (capabilities are per thread)
 *   seccomp filter 1         descriptors: write/send on an inherited
 *                            AF_PACKET/AF_INET/AF_INET6 socket kills (the
 *                            packet sockets capture; they never inject)
 *   seccomp filter 2         the allow-list (tcpi_sandbox.c): anything else
 *                            kills the whole process (SIGSYS)
 *
 * The kernel runs both filters on every call and takes the harshest
 * verdict (filter 1 is left out when no such socket is open). httpd
 * keeps serving when the worker dies, and restarts it.
 *
 * Contract for the caller: enter before any thread is created; the
 * inherited sockets found at entry keep their descriptor numbers for the
 * life of the process (close them only on the way out: a new descriptor
 * reusing such a number can no longer be written to); anything that needs
 * a call outside the allow-list (opening files as root, memfd sealing,
 * binding, exec) happens before.
 */
#ifndef TCPI_SANDBOX_H
#define TCPI_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>

typedef struct {
    /* Diagnostics only: a call outside the allow-list is logged by the
     * kernel (audit / dmesg "type=1326") and then runs, instead of killing
     * the process. Everything else (capabilities, uid checks, the
     * descriptor filter) is unchanged. */
    int log_only;
} tcpi_sandbox_conf_t;

/** Enter the sandbox (conf may be NULL: the defaults). 0, or -1 with the
 *  reason in err; after -1 the process may be half way (no privileges
 *  but no filter) and should exit. */
int tcpi_sandbox_enter(const tcpi_sandbox_conf_t *conf, char *err,
                       size_t errlen);

/** Before opening the packet sockets: close every descriptor from 3 up
 *  that the worker inherited from httpd and does not need (the MPM's pipe
 *  of death, other modules' files and sockets), keeping those in keep
 *  (the error logs) and connected AF_UNIX datagram sockets (glibc's
 *  syslog connection, which cannot be reopened inside the sandbox).
 *  Returns how many were closed, or -1 when /proc/self/fd is unreadable. */
int tcpi_sandbox_close_inherited(const int *keep, size_t nkeep);

/** As root, before dropping privileges: make dir the process's root
 *  (chroot), so that the files it can reach afterwards are the ones in
 *  dir (the capture directory) and nothing else: not /proc (other
 *  processes of the same user), not a web root. dir NULL or unusable: an
 *  empty directory that no longer has a name. Returns 1 when dir is the
 *  root, 0 when the empty one is, -1 with the reason in err. */
int tcpi_sandbox_confine(const char *dir, char *err, size_t errlen);

/** As root: become uid/gid with no supplementary group (numeric: no
 *  NSS lookup, which a confined process could not make) and not
 *  dumpable. The kernel makes a process that changed its uid dumpable
 *  only when fs.suid_dumpable is not 0; the flag is cleared at once after
 *  the change. 0, or -1 with the reason in err (uid 0 is refused). */
int tcpi_sandbox_drop(uid_t uid, gid_t gid, char *err, size_t errlen);

typedef struct {
    int      no_new_privs;     /* NoNewPrivs: 0 or 1 */
    int      seccomp;          /* Seccomp: 0 off, 1 strict, 2 filter */
    int      seccomp_filters;  /* Seccomp_filters (Linux 5.9), -1 if absent */
    int      threads;          /* Threads */
    uint64_t cap_eff;          /* CapEff */
    uint64_t cap_prm;          /* CapPrm */
    int      dumpable;         /* prctl(PR_GET_DUMPABLE) */
} tcpi_sandbox_status_t;

/** The calling process's state from /proc/self/status and prctl; works
 *  inside the sandbox. 0, or -1 when a field could not be read. */
int tcpi_sandbox_status(tcpi_sandbox_status_t *st);

#endif
