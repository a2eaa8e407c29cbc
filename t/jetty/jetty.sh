#!/bin/bash
# The rig's Jetty 9.4 backend on 127.0.0.1:7001 (Debian's jetty9 package).
#
#   t/jetty/jetty.sh build    compile the servlet into t/jetty/build/classes
#   t/jetty/jetty.sh start    build, start, wait until it answers (<= 30 s)
#   t/jetty/jetty.sh stop     kill the JVM started by `start`
#   t/jetty/jetty.sh status   exit 0 when it runs
#
# Environment: TCPI_JETTY_RUN   directory for jetty.pid and jetty.log
#                               (default t/jetty/build/run)
#              TCPI_JETTY_PORT  port (default 7001)
set -euo pipefail

BASE=$(cd "$(dirname "$0")" && pwd)
HOME_DIR=${JETTY_HOME:-/usr/share/jetty9}
SERVLET_JAR=${SERVLET_JAR:-/usr/share/java/servlet-api-3.1.jar}
BUILD=$BASE/build
RUN=${TCPI_JETTY_RUN:-$BUILD/run}
PORT=${TCPI_JETTY_PORT:-7001}
PIDFILE=$RUN/jetty.pid
LOG=$RUN/jetty.log
START_TIMEOUT=30

say() { echo "jetty: $*" >&2; }

build() {
    local class=$BUILD/classes/TcpiRigServlet.class src
    mkdir -p "$BUILD/classes"
    for src in "$BASE"/src/*.java; do
        if [ ! -e "$class" ] || [ "$src" -nt "$class" ]; then
            [ -r "$SERVLET_JAR" ] || { say "no servlet API jar at $SERVLET_JAR"; exit 1; }
            javac -nowarn -encoding UTF-8 --release 11 -cp "$SERVLET_JAR" \
                -d "$BUILD/classes" "$BASE"/src/*.java
            break
        fi
    done
    # Jetty and httpd's children may run unprivileged: keep the base readable.
    chmod -R a+rX "$BUILD"
}

# The pid in the pid file, if it is still our JVM.
running_pid() {
    local pid
    [ -r "$PIDFILE" ] || return 1
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q "jetty.base=$BASE" || return 1
    echo "$pid"
}

answers() {
    curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$PORT/hello.txt" 2>/dev/null &&
        curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$PORT/app/echo" 2>/dev/null
}

start() {
    local pid i
    if pid=$(running_pid) && answers; then
        say "already running (pid $pid) on 127.0.0.1:$PORT"
        return 0
    fi
    if ss -Htln "sport = :$PORT" | grep -q .; then
        say "port $PORT is taken by another process:"; ss -tlnp "sport = :$PORT" >&2
        exit 1
    fi
    build
    mkdir -p "$RUN"
    # A small, quickly starting JVM: 2 cores and a test backend.
    setsid java -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Djava.io.tmpdir="$RUN" \
        -jar "$HOME_DIR/start.jar" jetty.home="$HOME_DIR" jetty.base="$BASE" \
        jetty.http.port="$PORT" </dev/null >"$LOG" 2>&1 &
    pid=$!
    echo "$pid" >"$PIDFILE"
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            say "JVM exited while starting; the end of $LOG:"; tail -20 "$LOG" >&2
            rm -f "$PIDFILE"; exit 1
        fi
        if answers; then
            say "up on 127.0.0.1:$PORT (pid $pid, $((i / 10)).$((i % 10)) s)"
            return 0
        fi
        sleep 0.1
    done
    say "no answer on 127.0.0.1:$PORT after ${START_TIMEOUT} s; the end of $LOG:"
    tail -20 "$LOG" >&2
    stop
    exit 1
}

stop() {
    local pid i
    if pid=$(running_pid); then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if running_pid >/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
        say "stopped (pid $pid)"
    fi
    rm -f "$PIDFILE"
}

case "${1:-}" in
    build)  build ;;
    start)  start ;;
    stop)   stop ;;
    status) running_pid >/dev/null ;;
    *)      echo "usage: $0 build|start|stop|status" >&2; exit 2 ;;
esac
