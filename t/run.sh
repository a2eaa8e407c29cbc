#!/bin/bash
# The real-httpd integration rig (make itest):
#   Jetty 9 on 127.0.0.1:7001, a client namespace joined by a veth pair, and
#   for each MPM in ${TCPI_MPMS:-event worker prefork}: one Apache::Test
#   httpd, the t/*.t suites against it, then t/poststop.pl after it stopped.
#
#   t/run.sh                     everything
#   t/run.sh t/20_worker.t ...   only these suites
#   TCPI_MPMS=prefork t/run.sh   only these MPMs
#   TCPI_VERBOSE=1 t/run.sh      every TAP line
#
# Exports to the suites: APACHE_TEST_PORT, TCPI_MPM, TCPI_FIRST_MPM,
# TCPI_NS, TCPI_VETH_HOST, TCPI_VETH_NS, TCPI_HOST_IP, TCPI_NS_IP,
# TCPI_JETTY_PORT (also written to t/logs/rig.env). A suite that tests
# something the MPM of the test httpd does not change (t/58_deb.t: the
# Debian package on the system apache2) runs under TCPI_FIRST_MPM only.
# Logs of the last run: build/itest/<mpm>/.
# Ends with "itest: N passed, M failed" (one result per suite and MPM, and
# one per post-stop check); exits non-zero on any failure.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

say() { echo "itest: $*"; }

if [ "$(id -u)" -ne 0 ]; then
    say "must run as root (network namespace, packet capture); try: sudo make itest"
    echo "itest: 0 passed, 1 failed"
    exit 1
fi
for tool in ip curl java javac perl ss ipcs; do
    command -v "$tool" >/dev/null || { say "missing $tool: run 'make deps'"; echo "itest: 0 passed, 1 failed"; exit 1; }
done

# One rig per checkout at a time (t/conf, t/logs are shared); wait <= 10 min.
mkdir -p build
exec 9>build/itest.lock
if ! flock -n 9; then
    say "another t/run.sh runs in this checkout; waiting for it (<= 600 s)"
    flock -w 600 9 || { say "gave up waiting"; echo "itest: 0 passed, 1 failed"; exit 1; }
fi

id=$$
export TCPI_NS=tcpi-$id TCPI_VETH_HOST=tcpih$id TCPI_VETH_NS=tcpin$id
# The first free /30 of 198.18.0.0/24 (other checkouts may run a rig too).
if [ -z "${TCPI_HOST_IP:-}" ]; then
    for ((k = 0; k < 64; k++)); do
        ip -o -4 addr show | grep -qw "198.18.0.$((4 * k + 1))" && continue
        TCPI_HOST_IP=198.18.0.$((4 * k + 1)) TCPI_NS_IP=198.18.0.$((4 * k + 2))
        break
    done
fi
export TCPI_HOST_IP=${TCPI_HOST_IP:-198.18.0.1} TCPI_NS_IP=${TCPI_NS_IP:-198.18.0.2}
MPMS=${TCPI_MPMS:-event worker prefork}
read -r TCPI_FIRST_MPM _ <<<"$MPMS"
export TCPI_FIRST_MPM
# Apache::TestRun would re-exec itself under "sh -c 'ulimit -c unlimited; ...'"
export APACHE_TEST_ULIMIT_SET=1
ART=$top/build/itest
START=$(date +%s)

passed=0
failed=0
failures=()
result() {   # result NAME RC
    if [ "$2" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$1"); fi
}

httpd_running() {
    local pid
    pid=$(cat t/logs/httpd.pid 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

stop_httpd() {
    if [ -x t/TEST ] && httpd_running; then
        t/TEST -stop-httpd >/dev/null 2>&1
    fi
    # t/TEST gives up after a while; never leave a test httpd behind.
    if httpd_running; then
        kill -TERM "$(cat t/logs/httpd.pid)" 2>/dev/null
        sleep 3
        httpd_running && kill -KILL "$(cat t/logs/httpd.pid)" 2>/dev/null
    fi
}

# Long steps run in the background and are waited for, so that a signal
# to this script is handled at once rather than after the step.
child=
run() {   # run LOG CMD...: CMD's output to the terminal and appended to LOG
    local log=$1 rc
    shift
    # its own process group, so that cleanup can end it with its children
    setsid "$@" 9>&- > >(tee -a "$log") 2>&1 &
    child=$!
    wait "$child"
    rc=$?
    child=
    return $rc
}

cleaned=
cleanup() {
    [ -n "$cleaned" ] && return
    cleaned=1
    set +e
    [ -n "$child" ] && kill -TERM -- "-$child" 2>/dev/null
    stop_httpd
    t/jetty/jetty.sh stop >/dev/null 2>&1
    t/netns.sh down "$id"
    rm -f "$ART/ipc.baseline"
    [ -x t/TEST ] && t/TEST -clean >/dev/null 2>&1
    rm -rf t/logs t/state
}
trap cleanup EXIT
trap 'echo; say "interrupted"; cleanup; echo "itest: $passed passed, $((failed + 1)) failed"; exit 130' INT TERM HUP

# Leftovers of a rig that was killed hard.
stop_httpd
t/jetty/jetty.sh stop >/dev/null 2>&1
t/netns.sh reap

# The driver, generated like Apache::TestMM does (without t/SMOKE).
{ echo '#!/usr/bin/perl'; cat t/TEST.PL; } >t/TEST
chmod 755 t/TEST

# Apache::Test's port: the first free one of 8529, 8549, ...
port=
for ((p = 8529; p < 8929; p += 20)); do
    if ! ss -Htln "sport = :$p" | grep -q .; then port=$p; break; fi
done
[ -n "$port" ] || { say "no free port in 8529..8929"; echo "itest: 0 passed, 1 failed"; exit 1; }
export APACHE_TEST_PORT=$port

# Jetty on 7001 unless that is taken (e.g. by a running `make demo`).
if [ -z "${TCPI_JETTY_PORT:-}" ]; then
    for ((p = 7001; p < 7101; p += 10)); do
        if ! ss -Htln "sport = :$p" | grep -q .; then TCPI_JETTY_PORT=$p; break; fi
    done
fi
export TCPI_JETTY_PORT=${TCPI_JETTY_PORT:-7001}

# httpd's children run as www-data: they must reach t/ (htdocs, logs are
# opened by the root parent). Warn instead of chmod-ing the checkout.
if command -v runuser >/dev/null && ! runuser -u "${TCPI_USER:-www-data}" -- test -x "$top/t"; then
    say "warning: ${TCPI_USER:-www-data} cannot reach $top/t; static files under t/htdocs will be 403"
fi

mkdir -p "$ART"
if ! t/netns.sh up "$id"; then
    say "cannot create the client namespace"; echo "itest: 0 passed, 1 failed"; exit 1
fi
if ! t/jetty/jetty.sh start 9>&-; then
    say "Jetty did not start"; echo "itest: 0 passed, 1 failed"; exit 1
fi

if [ $# -gt 0 ]; then
    suites=("$@")
else
    suites=(t/[0-9]*.t)
fi
[ -e .libs/mod_tcpinspect.so ] ||
    say "warning: .libs/mod_tcpinspect.so is not built (make module): module checks are skipped"

for mpm in $MPMS; do
    export TCPI_MPM=$mpm
    t0=$(date +%s)
    rm -rf "${ART:?}/$mpm"
    mkdir -p "$ART/$mpm"
    say "=== MPM $mpm: httpd on 0.0.0.0:$port, client namespace $TCPI_NS ($TCPI_NS_IP -> $TCPI_HOST_IP via $TCPI_VETH_HOST)"
    t/TEST -clean >/dev/null 2>&1
    ipcs -m | awk '$1 ~ /^0x/ {print $2}' | sort >"$ART/ipc.baseline"
    bpftool -j prog show 2>/dev/null >"$ART/bpf.baseline" || true
    if ! run "$ART/$mpm/start.log" t/TEST -start-httpd >/dev/null; then
        say "httpd ($mpm) did not start:"
        tail -20 "$ART/$mpm/start.log"
        tail -20 t/logs/error_log 2>/dev/null
        result "start[$mpm]" 1
        cp t/logs/error_log "$ART/$mpm/" 2>/dev/null
        stop_httpd
        continue
    fi
    cat >t/logs/rig.env <<EOF
APACHE_TEST_PORT=$port
TCPI_MPM=$mpm
TCPI_FIRST_MPM=$TCPI_FIRST_MPM
TCPI_NS=$TCPI_NS
TCPI_VETH_HOST=$TCPI_VETH_HOST
TCPI_VETH_NS=$TCPI_VETH_NS
TCPI_HOST_IP=$TCPI_HOST_IP
TCPI_NS_IP=$TCPI_NS_IP
TCPI_JETTY_PORT=$TCPI_JETTY_PORT
EOF
    for t in "${suites[@]}"; do
        if ! httpd_running; then
            say "httpd ($mpm) is gone before $t"
            result "$t[$mpm]" 1
            continue
        fi
        run "$ART/$mpm/tests.log" t/TEST -run-tests ${TCPI_VERBOSE:+-verbose} "$t"
        result "$t[$mpm]" $?
    done
    httpd_pid=$(cat t/logs/httpd.pid 2>/dev/null)
    t/TEST -stop-httpd >>"$ART/$mpm/start.log" 2>&1
    stop_httpd
    run "$ART/$mpm/tests.log" env TCPI_HTTPD_PID="$httpd_pid" \
        TCPI_IPC_BASELINE="$ART/ipc.baseline" TCPI_BPF_BASELINE="$ART/bpf.baseline" \
        perl -It/lib t/poststop.pl
    result "t/poststop.pl[$mpm]" $?
    cp t/logs/error_log t/logs/*access_log "$ART/$mpm/" 2>/dev/null
    say "MPM $mpm done in $(($(date +%s) - t0)) s"
done
cp t/jetty/build/run/jetty.log "$ART/" 2>/dev/null

say "took $(($(date +%s) - START)) s; logs in ${ART#$top/}/"
if [ ${#failures[@]} -gt 0 ]; then
    say "failed: ${failures[*]}"
fi
cleanup
echo "itest: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
