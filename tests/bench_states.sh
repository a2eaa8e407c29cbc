#!/bin/bash
# Part 1 of make bench: the time to produce the scoped state counts, side by
# side in one run on loopback:
#   module   tcpi_sockdiag_count_ev (what the handler runs per page and
#            the worker once a second): full sockets from the state-change
#            event counter, loaded first as the httpd parent does (root),
#            plus a dump of TIME_WAIT/FIN_WAIT2/request sockets; timed
#            in-process. Also the full dump it falls back to without the
#            counter, and that dump's two per-family form for kernels
#            without the single-walk request
#   ss       ss -tanH state all '( sport = :PORT )' | awk  (counted)
#   netstat  netstat -ant | awk  (the operator's habit, filtered on PORT)
# with BENCH_EST ESTABLISHED and BENCH_TW TIME_WAIT sockets in scope (front
# port PORT, server sides), first alone, then with BENCH_OUT more sockets
# out of scope (connections to another port, both ends). One process holds
# at most BENCH_FDS descriptors here, so the holders are spread over
# processes on 127.0.0.x addresses. Every holder exits by itself after
# BENCH_HOLD_S seconds; the trap ends them sooner. Medians of BENCH_RUNS.
# Run it under `flock /work/heavy.lock` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/bench_states
PORT=${BENCH_STATES_PORT:-18300}
OUT_PORT=$((PORT + 1))
EST=${BENCH_EST:-20000}
TW=${BENCH_TW:-20000}
OUT=${BENCH_OUT:-15000}
RUNS=${BENCH_RUNS:-15}
NRUNS=${BENCH_NETSTAT_RUNS:-5}
FDS=${BENCH_FDS:-20000}
HOLD_S=${BENCH_HOLD_S:-240}
PROCS=4                                   # ESTABLISHED holders

[ -x "$B" ] || make -s "$B"
for tool in ss netstat awk; do
    command -v $tool >/dev/null || { echo "bench_states: missing $tool (make deps)"; exit 1; }
done
# The first pair of ports from PORT on with no socket at all.
for ((k = 0; k < 50; k++)); do
    if ! ss -Htan "( sport = :$PORT or dport = :$PORT or sport = :$OUT_PORT or dport = :$OUT_PORT )" | grep -q .; then
        break
    fi
    PORT=$((PORT + 2)) OUT_PORT=$((OUT_PORT + 2))
done
per_est=$(( (EST + PROCS - 1) / PROCS ))
per_out=$(( (OUT / 2 + 1) / 2 ))          # OUT sockets = OUT/2 connections, 2 holders
if [ $((2 * per_est + 16)) -gt "$FDS" ] || [ $((2 * per_out + 16)) -gt "$FDS" ]; then
    echo "bench_states: a holder would need more than $FDS descriptors"; exit 1
fi
ulimit -n "$FDS" 2>/dev/null || true

WORK=$(mktemp -d /tmp/tcpi-bench-states.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# hold NAME ADDR PORT N MODE: start a holder, wait (<= 120 s) for "ready".
hold() {
    local name=$1
    "$B" hold "$2" "$3" "$4" "$5" "$HOLD_S" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    pids+=($!)
    for _ in $(seq 1200); do
        grep -q '^ready' "$WORK/$name.out" 2>/dev/null && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench_states: holder $name failed: $(cat "$WORK/$name.err")"; exit 1
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# ms N CMD: median wall time in ms of N runs of CMD (a shell line).
ms() {
    local n=$1 cmd=$2 s e
    for _ in $(seq "$n"); do
        s=$EPOCHREALTIME
        bash -c "$cmd" >/dev/null
        e=$EPOCHREALTIME
        awk -v s="$s" -v e="$e" 'BEGIN {printf "%.2f\n", (e - s) * 1000}'
    done | median
}

SS_CMD="ss -tanH state all '( sport = :$PORT )' | awk '{++S[\$1]} END {for (a in S) print a, S[a]}'"
NS_CMD="netstat -ant | awk '\$4 ~ /:$PORT\$/ {++S[\$NF]} END {for (a in S) print a, S[a]}'"

measure() {   # measure LABEL
    local label=$1 mod full v2 ssm nsm
    mod=$("$B" count "$PORT" "$RUNS" events)
    full=$("$B" count "$PORT" "$RUNS")
    v2=$("$B" count "$PORT" "$RUNS" v2)
    ssm=$(ms "$RUNS" "$SS_CMD")
    nsm=$(ms "$NRUNS" "$NS_CMD")
    local total
    total=$(ss -Htan | wc -l)
    echo "[$label] sockets on the host: $total"
    echo "[$label] module:  $mod"
    echo "[$label] module without the event counter (full dump): $full"
    echo "[$label] module, full dump, one per family: $v2"
    echo "[$label] ss:      median_ms=$ssm ($(bash -c "$SS_CMD" | sort | tr '\n' ' '))"
    echo "[$label] netstat: median_ms=$nsm ($(bash -c "$NS_CMD" | sort | tr '\n' ' '))"
    awk -v m="$(sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p' <<<"$mod")" -v s="$ssm" -v n="$nsm" -v l="$label" \
        'BEGIN {printf "[%s] module vs ss: %.1fx faster; vs netstat: %.1fx faster\n", l, s/m, n/m}'
    awk -v m="$(sed -n 's/^median_ms=\([0-9.]*\).*/\1/p' <<<"$full")" -v s="$ssm" -v n="$nsm" -v l="$label" \
        'BEGIN {printf "[%s] full dump vs ss: %.1fx faster; vs netstat: %.1fx faster\n", l, s/m, n/m}'
    eval "mod_$2=\$(sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p' <<<\"\$mod\")"
    eval "full_$2=\$(sed -n 's/^median_ms=\([0-9.]*\).*/\1/p' <<<\"\$full\")"
}

t0=$(date +%s)
echo "== state counts: $EST ESTABLISHED + $TW TIME_WAIT in scope (sport $PORT), then +$OUT out of scope"
for i in $(seq $PROCS); do hold "est$i" "127.0.0.$((10 + i))" "$PORT" "$per_est" est; done
# TIME_WAIT lasts 60 s: made last, measured at once. Spread over 8
# addresses: a client port reused towards the same address would recycle
# the server's TIME_WAIT socket of the previous connection.
for i in $(seq 8); do hold "tw$i" "127.0.0.$((20 + i))" "$PORT" "$(( (TW + 7) / 8 ))" tw; done
echo "set up in $(( $(date +%s) - t0 )) s"
measure "in scope only" a
nin=${#pids[@]}
for i in 1 2; do hold "out$i" "127.0.0.$((30 + i))" "$OUT_PORT" "$per_out" est; done
measure "+$OUT out of scope" b
# The same without them again, so that drift between the two in-scope
# rounds (the machine, the TIME_WAIT sockets ageing) is seen: the cost is
# taken against the mean of the rounds before and after.
for p in "${pids[@]:$nin}"; do kill "$p" 2>/dev/null || true; done
for _ in $(seq 100); do
    [ "$(ss -Htan "( sport = :$OUT_PORT or dport = :$OUT_PORT )" | grep -c .)" -lt 10 ] && break
    sleep 0.1
done
measure "in scope only, again" c
awk -v a="$mod_a" -v c="$mod_c" -v b="$mod_b" 'BEGIN {m = (a + c) / 2;
    printf "out-of-scope cost: module %.2f ms (in scope only: %.2f and %.2f) -> %.2f ms (%+.1f%%)\n", m, a, c, b, (b-m)*100/m}'
awk -v a="$full_a" -v c="$full_c" -v b="$full_b" 'BEGIN {m = (a + c) / 2;
    printf "out-of-scope cost: full dump %.2f ms (in scope only: %.2f and %.2f) -> %.2f ms (%+.1f%%)\n", m, a, c, b, (b-m)*100/m}'
echo "took $(( $(date +%s) - t0 )) s"
