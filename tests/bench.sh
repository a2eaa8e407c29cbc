#!/bin/bash
# make bench — every figure is a ratio against a peer run side by side in
# the same run on the same machine, never an absolute pass/fail.
#
#   1. state counts: the module vs `ss` (filtered) vs `netstat | awk`
#      (tests/bench_states.sh)
#   2. decode + format of a >= 1M-packet capture of proxy traffic:
#      the core vs `tcpdump -n -tt -r` (plain and -X)
#   3. httpd throughput through mod_proxy to Jetty with wrk, engine On vs
#      Off alternating, plus rounds with `tcpdump -w` on both ports
#
#   4. requests joined to their flows: TCPInspectCapture On for every
#      request vs engine Off, side by side; records dropped, missed and
#      summaries complete at that load; capture files written/skipped
#   5. the HTTPS front (Debian's mod_ssl + mod_http2, a self-signed P-256
#      certificate made at run time) through mod_proxy to Jetty: engine
#      Off vs engine On (TCPInspectTLSKeys Off) vs engine On with
#      TCPInspectTLSKeys On vs engine On with mod_ssl's own key log
#      (SSLKEYLOGFILE, the peer), the order turning each round, under four
#      loads: wrk -t2 -c50 over HTTP/1.1 kept alive, h2load -c10 -m10 over
#      h2, and a TLS handshake per request (where the key log callback
#      runs): wrk -c50 with `Connection: close` (resumed sessions) and
#      ab -c50 (full handshakes); req/s and httpd's CPU per request; from
#      requests.json, whether each request's record kept its secrets
#   6. the same four configurations, counted in instructions (callgrind,
#      httpd -X, one client): per request with a full TLS handshake, on a
#      kept-alive HTTP/1.1 connection and on an h2 connection
#
# BENCH_ONLY=states|decode|wrk|requests|tls|instr runs one part;
# BENCH_ROUNDS (default 5) and BENCH_SECONDS (default 10, per load) bound
# parts 3-5, BENCH_INSTR_REQUESTS (default 200) part 6.
# All traffic is on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
ONLY=${BENCH_ONLY:-all}
ROUNDS=${BENCH_ROUNDS:-5}
SECS=${BENCH_SECONDS:-10}
PORT=${BENCH_PORT:-18181}
# Jetty's port: another checkout's test rig may hold 7001.
JPORT=${BENCH_JETTY_PORT:-7001}
WORK=$(mktemp -d /tmp/tcpi-bench.XXXXXX)
chmod 755 "$WORK"
HTTPD_PID=
# The front's URL base and Listen protocol: part 5 makes them HTTPS.
BASE=http://127.0.0.1:$PORT
LISTEN_PROTO=

cleanup() {
    [ -n "$HTTPD_PID" ] && /usr/sbin/apache2 -f "$WORK/httpd.conf" -k stop 2>/dev/null || true
    sleep 1
    TCPI_JETTY_RUN=$WORK/jetty TCPI_JETTY_PORT=$JPORT t/jetty/jetty.sh stop >/dev/null 2>&1 || true
    pkill -f "tcpdump -i lo -w $WORK" 2>/dev/null || true
    pkill -KILL -f "callgrind.*$WORK/httpd.conf" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

start_backend() {
    TCPI_JETTY_RUN=$WORK/jetty TCPI_JETTY_PORT=$JPORT t/jetty/jetty.sh start >/dev/null
}

# $1 = On|Off, $2 = extra configuration lines (optional)
httpd_conf() {
    cat > "$WORK/httpd.conf" <<EOF
ServerRoot $WORK
ServerName localhost
PidFile $WORK/httpd.pid
ErrorLog $WORK/error_log
LogLevel warn
Listen 127.0.0.1:$PORT${LISTEN_PROTO:+ $LISTEN_PROTO}
User www-data
Group www-data
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule authz_host_module /usr/lib/apache2/modules/mod_authz_host.so
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so
LoadModule tcpinspect_module $TOP/.libs/mod_tcpinspect.so
DocumentRoot $WORK
StartServers 2
ServerLimit 4
ThreadsPerChild 64
MaxRequestWorkers 256
MaxKeepAliveRequests 0
ProxyPass /tcp-inspect !
ProxyPass / http://127.0.0.1:$JPORT/
TCPInspectEngine $1
TCPInspectFrontend lo $PORT
TCPInspectBackend lo $JPORT
${2:-}
<Location /tcp-inspect>
    SetHandler tcp-inspect
    Require local
</Location>
EOF
}

# $1 tries 0.1 s apart
wait_httpd() {
    for _ in $(seq "$1"); do
        curl -skf -o /dev/null "$BASE/hello.txt" && return 0
        sleep 0.1
    done
    echo "bench: httpd did not answer" >&2
    exit 1
}

# the arguments of httpd_conf; HTTPD_ENV: NAME=value words for httpd's
# environment only
HTTPD_ENV=()
start_httpd() {
    httpd_conf "$@"
    env "${HTTPD_ENV[@]}" /usr/sbin/apache2 -f "$WORK/httpd.conf" -k start
    HTTPD_PID=1
    wait_httpd 50
}

stop_httpd() {
    /usr/sbin/apache2 -f "$WORK/httpd.conf" -k stop
    for _ in $(seq 50); do [ -e "$WORK/httpd.pid" ] || break; sleep 0.1; done
    sleep 0.5
    HTTPD_PID=
}

# wrk -t2 -cN -d SECS; prints requests/s
wrk_rps() {
    timeout $((SECS + 20)) wrk -t2 -c"$1" -d"${SECS}s" "http://127.0.0.1:$PORT/hello.txt" |
        awk '/^Requests\/sec:/ {print $2}'
}

kernel_drops() {
    curl -sk "$BASE/tcp-inspect/status.json" |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(i["dropped"] for i in d["capture"]["interfaces"]))'
}

bench_states() {
    echo "== 1. state counts (tests/bench_states.sh)"
    if [ -x tests/bench_states.sh ]; then tests/bench_states.sh; else echo "(not built)"; fi
}

bench_decode() {
    echo "== 2. decode + format of a captured proxy workload"
    local cap=$WORK/proxy.pcap
    start_backend
    start_httpd Off
    # Capture both legs (lo) while wrk drives the proxy, until >= 1M packets.
    tcpdump -i lo -w "$cap" -c 1000000 -s 0 "tcp port $PORT or tcp port $JPORT" 2>/dev/null &
    local td=$!
    for _ in $(seq 12); do
        kill -0 $td 2>/dev/null || break
        timeout 15 wrk -t2 -c50 -d5s "http://127.0.0.1:$PORT/hello.txt" >/dev/null || true
    done
    kill $td 2>/dev/null || true
    wait $td 2>/dev/null || true
    stop_httpd
    local n
    n=$(tcpdump -r "$cap" -n 2>/dev/null | wc -l)
    echo "capture: $n packets"
    [ -n "${BENCH_KEEP_PCAP:-}" ] && cp "$cap" "$BENCH_KEEP_PCAP"
    local t_plain=() t_hex=()
    for _ in 1 2 3; do
        # time's own report goes to a file: tcpdump's stderr is discarded
        /usr/bin/time -f %e -o "$WORK/t" tcpdump -n -tt -r "$cap" >/dev/null 2>&1
        t_plain+=("$(cat "$WORK/t")")
        /usr/bin/time -f %e -o "$WORK/t" tcpdump -n -tt -X -r "$cap" >/dev/null 2>&1
        t_hex+=("$(cat "$WORK/t")")
    done
    local tp th
    tp=$(printf '%s\n' "${t_plain[@]}" | median)
    th=$(printf '%s\n' "${t_hex[@]}" | median)
    echo "tcpdump -n -tt -r:    $(awk -v n="$n" -v t="$tp" 'BEGIN {printf "%.0f packets/s", n/t}') (median of 3, ${tp}s)"
    echo "tcpdump -n -tt -X -r: $(awk -v n="$n" -v t="$th" 'BEGIN {printf "%.0f packets/s", n/t}') (median of 3, ${th}s)"
    if [ -x build/bench_decode ]; then
        local out
        out=$(build/bench_decode "$cap")
        echo "core: $out"
        local pps hpps
        pps=$(sed -n 's/.*plain_pps=\([0-9.]*\).*/\1/p' <<<"$out")
        hpps=$(sed -n 's/.*hex_pps=\([0-9.]*\).*/\1/p' <<<"$out")
        awk -v a="$pps" -v b="$n" -v t="$tp" 'BEGIN {printf "ratio plain: core / tcpdump = %.1fx\n", a/(b/t)}'
        awk -v a="$hpps" -v b="$n" -v t="$th" 'BEGIN {printf "ratio -X:    core / tcpdump = %.1fx\n", a/(b/t)}'
        # The same with the file read by libpcap inside the core's timing.
        local rpps rhpps
        rpps=$(sed -n 's/.*plainread_pps=\([0-9.]*\).*/\1/p' <<<"$out")
        rhpps=$(sed -n 's/.*hexread_pps=\([0-9.]*\).*/\1/p' <<<"$out")
        if [ -n "$rpps" ]; then
            awk -v a="$rpps" -v b="$n" -v t="$tp" 'BEGIN {printf "ratio plain, file read included: %.1fx\n", a/(b/t)}'
            awk -v a="$rhpps" -v b="$n" -v t="$th" 'BEGIN {printf "ratio -X, file read included:    %.1fx\n", a/(b/t)}'
        fi
        # And with the file mapped and walked by the core's own reader.
        local mpps mhpps
        mpps=$(sed -n 's/.*plainmap_pps=\([0-9.]*\).*/\1/p' <<<"$out")
        mhpps=$(sed -n 's/.*hexmap_pps=\([0-9.]*\).*/\1/p' <<<"$out")
        if [ -n "$mpps" ]; then
            awk -v a="$mpps" -v b="$n" -v t="$tp" 'BEGIN {printf "ratio plain, file mapped (tcpi_capfile): %.1fx\n", a/(b/t)}'
            awk -v a="$mhpps" -v b="$n" -v t="$th" 'BEGIN {printf "ratio -X, file mapped (tcpi_capfile):    %.1fx\n", a/(b/t)}'
        fi
    fi
}

bench_wrk() {
    echo "== 3. throughput through the proxy: engine On vs Off (wrk -t2, ${SECS}s, $ROUNDS rounds)"
    start_backend
    local c mode r
    declare -A res
    for r in $(seq "$ROUNDS"); do
        for mode in Off On tcpdump; do
            if [ "$mode" = tcpdump ]; then
                start_httpd Off
                tcpdump -i lo -w "$WORK/td.pcap" -s 0 "tcp port $PORT or tcp port $JPORT" 2>/dev/null &
                local td=$!
                sleep 1
            else
                start_httpd "$mode"
                sleep 1
            fi
            for c in 50 200; do
                res[$mode.$c]+="$(wrk_rps $c) "
            done
            if [ "$mode" = On ]; then res[drops]+="$(kernel_drops) "; fi
            if [ "$mode" = tcpdump ]; then kill $td; wait $td 2>/dev/null || true; rm -f "$WORK/td.pcap"; fi
            stop_httpd
        done
    done
    for c in 50 200; do
        local off on td
        off=$(tr ' ' '\n' <<<"${res[Off.$c]}" | grep . | median)
        on=$(tr ' ' '\n' <<<"${res[On.$c]}" | grep . | median)
        td=$(tr ' ' '\n' <<<"${res[tcpdump.$c]}" | grep . | median)
        echo "c$c: Off ${off} req/s, On ${on} req/s, tcpdump -w ${td} req/s (medians)"
        awk -v a="$on" -v b="$off" -v t="$td" 'BEGIN {printf "c%s: On/Off = %.3f, tcpdump -w/Off = %.3f\n", "'$c'", a/b, t/b}'
    done
    echo "kernel drops per On round: ${res[drops]}"
}

# The join's counters after a run: log dropped, records missed, skipped,
# joined, of them with the frontend flow found, with a backend tuple, with
# its flow found, pending, packets lost before the join, flows evicted.
join_counters() {
    curl -s "http://127.0.0.1:$PORT/tcp-inspect/requests.json?limit=1" |
        python3 -c 'import json,sys; d=json.load(sys.stdin); j=d["join"]
print(d["dropped"], j["records_missed"], j["records_skipped"], j["joined"], j["front_found"], j["backend_expected"], j["backend_found"], j["pending"], j["packets_lost"], j["flow_evictions"])'
}

# status.json's capture.triggered (the per-request capture files), one line.
capture_counts() {
    curl -s "http://127.0.0.1:$PORT/tcp-inspect/status.json" |
        python3 -c 'import json,sys; t=json.load(sys.stdin)["capture"]["triggered"]
print("matched=%d written=%d skipped=%d failed=%d files=%d" % (t["matched"], t["written"], t["skipped"], t["failed"], t["files"]))'
}

bench_requests() {
    echo "== 4. requests joined: TCPInspectCapture On for every request vs engine Off (wrk -t2 -c50, ${SECS}s, $ROUNDS rounds)"
    start_backend
    local r mode out
    declare -A res
    mkdir -p "$WORK/captures"
    chown www-data: "$WORK/captures"
    for r in $(seq "$ROUNDS"); do
        for mode in Off On; do
            if [ "$mode" = On ]; then
                start_httpd On "TCPInspectCapture On
TCPInspectCaptureDir $WORK/captures"
            else
                start_httpd Off
            fi
            sleep 1
            out=$(timeout $((SECS + 20)) wrk -t2 -c50 -d"${SECS}s" "http://127.0.0.1:$PORT/hello.txt")
            res[$mode]+="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out") "
            if [ "$mode" = On ]; then
                local n ttfb c
                n=$(awk '/requests in/ {print $1}' <<<"$out")
                sleep 1.5                     # the join's grace period
                c=$(join_counters)
                ttfb=$(curl -s "http://127.0.0.1:$PORT/tcp-inspect/metrics" |
                       awk -F'[ }]' '/^tcpinspect_request_phase_seconds_count\{phase="backend_ttfb"/ {print $NF}')
                echo "round $r: wrk $n requests (kept alive); dropped missed skipped joined front_found backend_expected backend_found pending lost evicted = $c; backend_ttfb observed $ttfb; kernel capture drops $(kernel_drops)"
                echo "round $r: triggered capture files: $(capture_counts)"
                # connection churn: a new client connection per request
                timeout $((SECS + 30)) ab -q -n 20000 -c 50 "http://127.0.0.1:$PORT/hello.txt" |
                    awk '/^(Complete|Failed) requests|^Requests per second/'
                sleep 1.5
                echo "round $r: after ab (new connections): $(join_counters)"
            fi
            stop_httpd
        done
    done
    local off on
    off=$(tr ' ' '\n' <<<"${res[Off]}" | grep . | median)
    on=$(tr ' ' '\n' <<<"${res[On]}" | grep . | median)
    echo "Off: ${res[Off]}req/s; On (capture every request): ${res[On]}req/s"
    awk -v a="$on" -v b="$off" 'BEGIN {printf "medians: Off %.0f, On %.0f req/s; On/Off = %.3f\n", b, a, a/b}'
}

# ---- 5. the HTTPS front ------------------------------------------------

# Part 5's loads, each SECS long against $BASE/hello.txt; each prints
# "req/s errors requests" (errors: wrk's socket errors and non-2xx
# responses; ab's failed requests and non-2xx; h2load's failed and errored
# requests and non-2xx statuses).
load_wrk() {
    local out
    out=$(timeout $((SECS + 20)) wrk -t2 -c50 -d"${SECS}s" "$@" "$BASE/hello.txt")
    awk '/^Requests\/sec:/ {r = $2}
         / requests in / {n = $1}
         /Socket errors:/ {gsub(",", ""); e += $4 + $6 + $8 + $10}
         /Non-2xx/ {e += $NF}
         END {print r + 0, e + 0, n + 0}' <<<"$out"
}

# A new connection per request with a full handshake each time: ab keeps
# no session (wrk's Connection: close reconnects resume theirs).
load_ab() {
    local out
    out=$(timeout $((SECS + 20)) ab -q -r -t "$SECS" -c50 "$BASE/hello.txt" 2>&1)
    awk '/^Requests per second:/ {r = $4}
         /^Complete requests:/ {n = $3}
         /^Failed requests:/ {e += $3}
         /^Non-2xx responses:/ {e += $3}
         END {print r + 0, e + 0, n + 0}' <<<"$out"
}

load_h2() {
    local out
    out=$(timeout $((SECS + 20)) h2load -D "$SECS" -c10 -m10 "$BASE/hello.txt" 2>&1)
    if ! grep -q '^Application protocol: h2$' <<<"$out"; then
        echo "bench: h2load did not get h2 over TLS:" >&2
        echo "$out" >&2
        return 1
    fi
    awk '/^finished in/ {r = $4}
         /^requests:/ {e += $10 + $12; n = $8}
         /^status codes:/ {gsub(",", ""); e += $9 + $11}
         END {print r + 0, e + 0, n + 0}' <<<"$out"
}

# CPU time (clock ticks) of this run's httpd so far: every process alive
# (the parent, its children, the capture worker) plus the children the
# parent has reaped. Throughput on this shared box moves with the other
# jobs on it; the CPU httpd spends per request less so (contention for the
# cores still adds to it).
httpd_ticks() {
    local p c t=0
    p=$(cat "$WORK/httpd.pid")
    for c in $p $(pgrep -P "$p"); do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || echo 0)))
    done
    echo $((t + $(awk '{print $16 + $17}' "/proc/$p/stat")))
}

# The newest $1 records of /hello.txt (requests.json): how many carry
# their connection's secrets (front.tls.keys_kept: the record holds them,
# which it does for every request on a connection whose host keeps keys),
# were resumed, and the protocols and ALPN seen.
tls_sample() {
    curl -sk "$BASE/tcp-inspect/requests.json?limit=$1&uri=/hello.txt" |
        python3 -c 'import collections, json, sys
rs = json.load(sys.stdin)["requests"]
t = [r["front"]["tls"] for r in rs if r["front"]["tls"]]
seen = collections.Counter("%s/%s" % (x["protocol"], x["alpn"] or "-") for x in t)
print("keys kept %d/%d, resumed %d, %s" % (sum(x["keys_kept"] for x in t), len(rs),
      sum(x["resumed"] for x in t), " ".join("%s:%d" % kv for kv in sorted(seen.items()))))'
}

# status.json after a run: requests the capture rule matched, request
# records the log dropped, packets the kernel dropped.
tls_counts() {
    curl -sk "$BASE/tcp-inspect/status.json" |
        python3 -c 'import json, sys
d = json.load(sys.stdin)
print("matched %d, request records dropped %d, kernel drops %d" % (d["capture"]["triggered"]["matched"],
      d["capture"]["request_log"]["dropped"], sum(i["dropped"] for i in d["capture"]["interfaces"])))'
}

# Part 5's and 6's HTTPS front: a self-signed P-256 certificate made now,
# BASE and the Listen line over TLS; TLS_CONF holds the lines for mod_ssl
# and mod_http2, TLS_RULE a capture rule matching every request.
tls_setup() {
    local mods=/usr/lib/apache2/modules m
    for m in ssl socache_shmcb http2; do
        [ -e "$mods/mod_$m.so" ] || { echo "bench: no $mods/mod_$m.so (apache2-bin)" >&2; exit 1; }
    done
    if [ ! -d "$WORK/tls" ]; then
        mkdir "$WORK/tls"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
            -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
            -addext basicConstraints=critical,CA:FALSE \
            -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" 2>/dev/null
    fi
    BASE=https://127.0.0.1:$PORT
    LISTEN_PROTO=https
    TLS_CONF="LoadModule socache_shmcb_module $mods/mod_socache_shmcb.so
LoadModule ssl_module $mods/mod_ssl.so
LoadModule http2_module $mods/mod_http2.so
SSLSessionCache shmcb:$WORK/ssl_scache(512000)
SSLEngine on
SSLCertificateFile $WORK/tls/cert.pem
SSLCertificateKeyFile $WORK/tls/key.pem
Protocols h2 http/1.1"
    # TCPInspectTLSKeys On collects every handshake's secrets into the
    # connection (the key log callback, src/httpd/tls.c) and every
    # request record of the connection carries them. The capture rule
    # (the cheapest that matches every request: `On`, no ap_expr to
    # evaluate, without TCPInspectCaptureDir, so a match is only marked,
    # counted in capture.triggered.matched, `captured` in requests.json;
    # no file is queued or written: tcpi_trigger_take) is in every
    # engine-On configuration, so On+keys/On is the keys' own cost.
    TLS_RULE="<Location />
    TCPInspectCapture On
</Location>"
}

tls_teardown() {
    BASE=http://127.0.0.1:$PORT
    LISTEN_PROTO=
}

# The configurations of parts 5 and 6 as httpd_conf's arguments.
tls_mode_conf() {
    case $1 in
        Off) HTTPD_ARGS=(Off "$TLS_CONF") ;;
        On) HTTPD_ARGS=(On "$TLS_CONF
$TLS_RULE
TCPInspectTLSKeys Off") ;;
        On+keys) HTTPD_ARGS=(On "$TLS_CONF
$TLS_RULE
TCPInspectTLSKeys On") ;;
        On+keylogfile) HTTPD_ARGS=(On "$TLS_CONF
$TLS_RULE
TCPInspectTLSKeys Off") ;;
    esac
}

# Part 5's medians of load $2 for each configuration, from the array named
# $1 (res: req/s, cpu: httpd's CPU per request) in unit $3, then their
# ratios; $4 names what they are.
tls_medians() {
    local -n vals=$1
    local m line="$2:$4"
    declare -A med
    for m in Off On On+keys On+keylogfile; do
        med[$m]=$(tr ' ' '\n' <<<"${vals[$m.$2]}" | grep . | median)
        line+=" $m ${med[$m]} $3,"
    done
    echo "${line%,} (medians)"
    awk -v off="${med[Off]}" -v on="${med[On]}" -v k="${med[On+keys]}" \
        -v f="${med[On+keylogfile]}" -v l="$2:$4" \
        'BEGIN {printf "%s On/Off = %.3f, On+keys/Off = %.3f, On+keys/On = %.3f," \
                " On+keylogfile/On = %.3f, On+keys/On+keylogfile = %.3f\n",
                l, on/off, k/off, k/on, f/on, k/f}'
}

bench_tls() {
    echo "== 5. HTTPS front: engine Off vs On vs On + TCPInspectTLSKeys On vs On + SSLKEYLOGFILE (${SECS}s per load, $ROUNDS rounds)"
    command -v h2load >/dev/null || { echo "bench: no h2load (nghttp2-client: make deps)" >&2; exit 1; }
    tls_setup
    start_backend
    # The peer for the secrets: mod_ssl's own key log (SSLKEYLOGFILE in
    # httpd's environment at start, the operator's way to get them today),
    # beside the engine On without TCPInspectTLSKeys. OpenSSL formats the
    # same lines for either callback; mod_ssl then writes them to a file.
    local modes=(Off On On+keys On+keylogfile) r i mode load out line rps errs n seen t0 us
    local HZ
    HZ=$(getconf CLK_TCK)
    declare -A res cpu
    for r in $(seq "$ROUNDS"); do
        # The order turns each round, so no configuration always runs first.
        for i in 0 1 2 3; do
            mode=${modes[$(( (i + r - 1) % 4 ))]}
            tls_mode_conf "$mode"
            HTTPD_ENV=()
            [ "$mode" != On+keylogfile ] || HTTPD_ENV=("SSLKEYLOGFILE=$WORK/keylog")
            start_httpd "${HTTPD_ARGS[@]}"
            HTTPD_ENV=()
            sleep 1
            line="round $r $mode:"
            seen=""
            for load in h1 h2 resumed full; do
                t0=$(httpd_ticks)
                case $load in
                    h1) out=$(load_wrk) ;;
                    h2) out=$(load_h2) ;;
                    resumed) out=$(load_wrk -H 'Connection: close') ;;
                    full) out=$(load_ab) ;;
                esac
                read -r rps errs n <<<"$out"
                us=$(awk -v t="$(($(httpd_ticks) - t0))" -v hz="$HZ" -v n="$n" \
                     'BEGIN {printf "%.0f", n ? t * 1e6 / hz / n : 0}')
                res[$mode.$load]+="$rps "
                cpu[$mode.$load]+="$us "
                line+=" $load $rps req/s ${us} us/req"
                [ "$errs" = 0 ] || line+=" ($errs errors)"
                [ "$mode" = Off ] || seen+="
    $load, newest 200: $(tls_sample 200)"
            done
            echo "$line"
            if [ "$mode" != Off ]; then
                echo "    $(tls_counts)$seen"
            fi
            if [ "$mode" = On+keylogfile ]; then
                echo "    mod_ssl's key log: $(cat "$WORK/keylog" 2>/dev/null | wc -l) lines"
                rm -f "$WORK/keylog"
            fi
            stop_httpd
        done
    done
    for load in h1 h2 resumed full; do
        tls_medians res "$load" req/s ""
        tls_medians cpu "$load" us " httpd CPU per request"
    done
    echo "(h1: wrk -t2 -c50, HTTP/1.1 kept alive; h2: h2load -c10 -m10, one" \
         "connection per client; resumed: wrk -t2 -c50 with Connection: close, a" \
         "new connection and a resumed TLS 1.3 handshake per request; full:" \
         "ab -c50, a new connection and a full handshake per request)"
    local bad warn
    bad=$(grep -cE ':(error|crit|alert|emerg)\] ' "$WORK/error_log" || true)
    warn=$(grep -cE ':warn\] ' "$WORK/error_log" || true)
    echo "error_log: $bad lines at error or worse, $warn warnings; by message:"
    grep -E ':(warn|error|crit|alert|emerg)\] ' "$WORK/error_log" |
        sed -E 's/^\[[^]]*\] //; s/\[pid [^]]*\] //' | cut -c1-150 | sort | uniq -c || true
    tls_teardown
}

# ---- 6. instructions per request over TLS -----------------------------

# Throughput on this 2-core host moves by more than the few percent part 5
# looks for; instructions do not. httpd runs as one process (-X) under
# callgrind, twice for each configuration and load: once for WARM
# requests, once for WARM + N, then stops; the difference of the two
# totals over N is the instructions per request of the process serving
# them, its start and stop taken out (the capture worker, a process of
# its own, is not counted). Loads, one client:
#   full  ab -c1: a new connection with a full TLS 1.3 handshake per
#         request (where the key log callback runs)
#   h1    ab -k -c1: every request on one kept-alive connection (its one
#         handshake in both runs, so it cancels out)
#   h2    h2load -c1 -m1: the same over h2
callgrind_total() {   # $1 mode, $2 load, $3 requests
    local out=$WORK/cg.$1.$2.$3 pid ir envs=() ok
    # SSLKEYLOGFILE only for the peer: mod_ssl reads it at startup
    [ "$1" != On+keylogfile ] || envs=("SSLKEYLOGFILE=$WORK/keylog")
    env "${envs[@]}" valgrind --tool=callgrind --callgrind-out-file="$out.%p" \
        /usr/sbin/apache2 -X -f "$WORK/httpd.conf" >/dev/null 2>"$out.log" &
    pid=$!
    # (a subshell of its caller's: however it ends, this httpd, its
    # capture worker and their valgrind go with it)
    trap "kill -KILL $pid 2>/dev/null; pkill -KILL -f 'callgrind.*$WORK/httpd.conf'" EXIT
    wait_httpd 1200
    # callgrind made its file as root; it writes it at the exit of a
    # process that is User www-data by then
    chown www-data "$out.$pid"
    case $2 in
        full) timeout 600 ab -q -c1 -n"$3" "$BASE/hello.txt" > "$out.load" 2>&1 || true
              grep -q "^Complete requests: *$3$" "$out.load" &&
                  grep -q "^Failed requests: *0$" "$out.load" && ok=1 ;;
        h1) timeout 600 ab -q -k -c1 -n"$3" "$BASE/hello.txt" > "$out.load" 2>&1 || true
            grep -q "^Keep-Alive requests: *$3$" "$out.load" &&
                grep -q "^Failed requests: *0$" "$out.load" && ok=1 ;;
        h2) timeout 600 h2load -c1 -m1 -n"$3" "$BASE/hello.txt" > "$out.load" 2>&1 || true
            grep -q "^Application protocol: h2$" "$out.load" &&
                grep -q "^requests: $3 total, $3 started, $3 done, $3 succeeded" "$out.load" && ok=1 ;;
    esac
    [ -n "${ok:-}" ] || { echo "bench: $2 did not complete $3 requests ($1):" >&2; cat "$out.load" >&2; exit 1; }
    kill -TERM "$pid"
    for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true      # (then no total: said below)
    wait "$pid" 2>/dev/null || true
    pkill -KILL -f "callgrind.*$WORK/httpd.conf" 2>/dev/null || true
    sleep 1
    ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$out.$pid" 2>/dev/null)
    [ -n "$ir" ] || { echo "bench: no callgrind total ($1, $2, $3 requests)" >&2; exit 1; }
    echo "$ir"
}

bench_instr() {
    local N=${BENCH_INSTR_REQUESTS:-200} WARM=20 mode load a b lines
    declare -A per
    echo "== 6. instructions per request over TLS (callgrind, httpd -X, one client, $((WARM + N)) - $WARM requests)"
    command -v valgrind >/dev/null || { echo "bench: no valgrind (make deps)" >&2; exit 1; }
    tls_setup
    start_backend
    for load in full h1 h2; do
        for mode in Off On On+keys On+keylogfile; do
            tls_mode_conf "$mode"
            httpd_conf "${HTTPD_ARGS[@]}"
            rm -f "$WORK/keylog"
            a=$(callgrind_total "$mode" "$load" "$WARM")
            b=$(callgrind_total "$mode" "$load" $((WARM + N)))
            per[$mode]=$(( (b - a) / N ))
            lines=
            if [ "$mode" = On+keylogfile ]; then
                lines=$(cat "$WORK/keylog" 2>/dev/null | wc -l)
                [ "$lines" -gt 0 ] || { echo "bench: mod_ssl wrote no key log" >&2; exit 1; }
                lines=", mod_ssl's key log $lines lines"
            fi
            echo "$load $mode: ${per[$mode]} instructions per request (totals $a, $b)$lines"
        done
        awk -v off="${per[Off]}" -v on="${per[On]}" -v k="${per[On+keys]}" -v f="${per[On+keylogfile]}" -v l="$load" \
            'BEGIN {printf "%s: On/Off = %.3f, On+keys/On = %.3f (%+d), On+keylogfile/On = %.3f (%+d), On+keys/On+keylogfile = %.3f\n",
                    l, on/off, k/on, k-on, f/on, f-on, k/f}'
    done
    tls_teardown
}

case $ONLY in
    states) bench_states ;;
    decode) bench_decode ;;
    wrk) bench_wrk ;;
    requests) bench_requests ;;
    tls) bench_tls ;;
    instr) bench_instr ;;
    all) bench_states; bench_decode; bench_wrk; bench_requests; bench_tls; bench_instr ;;
    *) echo "BENCH_ONLY: states, decode, wrk, requests, tls or instr" >&2; exit 2 ;;
esac
