#!/bin/bash
# make demo / make demo-stop: httpd (Debian's binary, the project's own
# config from conf/demo.conf.in) + the rig's Jetty + some traffic.
#
#   conf/demo.sh start   start (or find running) and print the URL
#   conf/demo.sh stop    stop httpd and Jetty, remove the scratch directory
#
# Environment: TCPI_DEMO_DIR (default ${TMPDIR:-/tmp}/tcpinspect-demo),
#              TCPI_DEMO_PORT (default 80 if free, else 8080 or the next free)
#              TCPI_DEMO_JETTY_PORT (default 7001, the production layout)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
DIR=${TCPI_DEMO_DIR:-${TMPDIR:-/tmp}/tcpinspect-demo}
HTTPD=${HTTPD:-/usr/sbin/apache2}
APXS=${APXS:-/usr/bin/apxs}
MODULE=$top/.libs/mod_tcpinspect.so
JETTY_PORT=${TCPI_DEMO_JETTY_PORT:-7001}
USER_NAME=${TCPI_USER:-www-data}
GROUP_NAME=${TCPI_GROUP:-$USER_NAME}
export TCPI_JETTY_RUN=$DIR/jetty TCPI_JETTY_PORT=$JETTY_PORT

say() { echo "demo: $*"; }
die() { echo "demo: $*" >&2; exit 1; }

httpd_pid() {
    local pid
    pid=$(cat "$DIR/run/httpd.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q "$DIR/httpd.conf" || return 1
    echo "$pid"
}

port_free() { ! ss -Htln "sport = :$1" | grep -q .; }

banner() {
    local port
    port=$(sed -n 's/^Listen \([0-9]*\)$/\1/p' "$DIR/httpd.conf")
    echo
    echo "  mod_tcpinspect demo: http://127.0.0.1:$port/tcp-inspect/"
    echo "  (JSON: /tcp-inspect/status.json, Prometheus: /tcp-inspect/metrics;"
    echo "   the backend: http://127.0.0.1:$port/app/echo; logs: $DIR/logs/)"
    echo "  stop with: make demo-stop"
}

# Bounded traffic: a few hundred requests, each with a time limit.
traffic() {
    local base=http://127.0.0.1:$1 c
    say "sending traffic to $base"
    if command -v ab >/dev/null; then
        ab -q -n 200 -c 4 -s 10 "$base/app/echo?from=ab" >/dev/null 2>&1 ||
            say "ab reported errors (see $DIR/logs/error_log)"
    fi
    for c in "/static/hello.txt" "/app/echo?x=1" "/app/big?kb=512" "/app/delay?ms=1500" \
             "/app/close" "/app/close?rst=1" "/app/status?code=503" "/nope"; do
        printf '  %-24s -> %s\n' "$c" \
            "$(curl -s -o /dev/null -m 15 -w '%{http_code}' "$base$c" || true)"
    done
    curl -s -o /dev/null -m 10 -X POST --data-binary 'hello=jetty' "$base/app/echo" || true
}

start() {
    local pid port modules i
    [ "$(id -u)" -eq 0 ] || die "run as root (the capture worker opens packet sockets as root)"
    [ -e "$MODULE" ] || die "$MODULE is not built: run 'make demo' (or 'make module')"
    if pid=$(httpd_pid); then
        say "already running (httpd pid $pid)"
        "$top/t/jetty/jetty.sh" start || true
        banner
        return 0
    fi
    rm -rf "$DIR/run"
    mkdir -p "$DIR/run" "$DIR/logs" "$DIR/htdocs" "$DIR/jetty"
    chmod 755 "$DIR" "$DIR/htdocs"

    if [ -n "${TCPI_DEMO_PORT:-}" ]; then
        port=$TCPI_DEMO_PORT
    elif port_free 80; then
        port=80
    else
        port=
        for ((i = 8080; i < 8100; i++)); do port_free $i && { port=$i; break; }; done
        [ -n "$port" ] || die "ports 80 and 8080-8099 are all taken"
    fi
    port_free "$port" || die "port $port is taken"

    if ! "$top/t/jetty/jetty.sh" start; then
        die "Jetty did not start (is 127.0.0.1:$JETTY_PORT taken? 'make demo-stop' or stop t/run.sh)"
    fi

    modules=$("$APXS" -q LIBEXECDIR 2>/dev/null || echo /usr/lib/apache2/modules)
    sed -e "s|@DEMO_DIR@|$DIR|g" -e "s|@PORT@|$port|g" -e "s|@MODULES@|$modules|g" \
        -e "s|@TCPI_MODULE@|$MODULE|g" -e "s|@TOP@|$top|g" -e "s|@JETTY_PORT@|$JETTY_PORT|g" \
        -e "s|@USER@|$USER_NAME|g" -e "s|@GROUP@|$GROUP_NAME|g" \
        "$top/conf/demo.conf.in" >"$DIR/httpd.conf"
    cat >"$DIR/htdocs/index.html" <<EOF
<!DOCTYPE html>
<html><head><title>mod_tcpinspect demo</title></head><body>
<h1>mod_tcpinspect demo</h1>
<ul>
<li><a href="/tcp-inspect/">/tcp-inspect/</a> the module's overview</li>
<li><a href="/app/echo">/app/echo</a>, <a href="/app/delay?ms=2000">/app/delay?ms=2000</a>,
<a href="/app/close">/app/close</a> (a 502), <a href="/app/big?kb=1024">/app/big?kb=1024</a>,
<a href="/static/hello.txt">/static/hello.txt</a>: Jetty on 127.0.0.1:$JETTY_PORT through mod_proxy</li>
</ul></body></html>
EOF

    if ! "$HTTPD" -t -f "$DIR/httpd.conf" >"$DIR/logs/configtest.log" 2>&1; then
        cat "$DIR/logs/configtest.log" >&2
        "$top/t/jetty/jetty.sh" stop
        die "the demo configuration does not pass -t"
    fi
    "$HTTPD" -f "$DIR/httpd.conf" -k start
    for ((i = 0; i < 150; i++)); do
        curl -fs -o /dev/null -m 2 "http://127.0.0.1:$port/tcp-inspect/status.json" && break
        sleep 0.1
    done
    if ! curl -fs -o /dev/null -m 2 "http://127.0.0.1:$port/tcp-inspect/status.json"; then
        tail -20 "$DIR/logs/error_log" >&2 || true
        stop
        die "httpd did not answer on port $port"
    fi
    say "httpd $(httpd_pid) on port $port, Jetty on 127.0.0.1:$JETTY_PORT"
    traffic "$port"
    banner
}

stop() {
    local pid i
    if pid=$(httpd_pid); then
        "$HTTPD" -f "$DIR/httpd.conf" -k stop 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
        say "httpd stopped"
    fi
    if [ -d "$DIR" ]; then
        "$top/t/jetty/jetty.sh" stop
        rm -rf "$DIR"
    fi
    say "stopped"
}

case "${1:-}" in
    start) start ;;
    stop)  stop ;;
    *)     echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
