#!/bin/bash
# The rig's client network: a namespace joined to the host by a veth pair,
# so that a client in the namespace reaches httpd over a real Ethernet-type
# interface (captured as EN10MB), not over lo.
#
#   t/netns.sh up ID     namespace tcpi-ID, host side tcpihID 198.18.0.1/30,
#                        namespace side tcpinID 198.18.0.2/30 (and lo up)
#   t/netns.sh down ID   delete them (no error when already gone)
#   t/netns.sh reap      delete the tcpi-PID namespaces and tcpihPID veths
#                        whose PID no longer runs (left by a killed rig)
#
# ID is the pid of the process that owns the rig (t/run.sh's $$).
# Addresses: TCPI_HOST_IP / TCPI_NS_IP (defaults 198.18.0.1 / 198.18.0.2),
# always inside 198.18.0.0/15.
set -euo pipefail

HOST_IP=${TCPI_HOST_IP:-198.18.0.1}
NS_IP=${TCPI_NS_IP:-198.18.0.2}
PREFIX=30

names() {
    [[ ${1:-} =~ ^[0-9]+$ ]] || { echo "netns: ID must be a number" >&2; exit 2; }
    NS=tcpi-$1 VH=tcpih$1 VN=tcpin$1
}

down() {
    names "$1"
    ip netns pids "$NS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip link del "$VH" 2>/dev/null || true      # deletes the peer too
    ip netns del "$NS" 2>/dev/null || true
}

up() {
    names "$1"
    if ip -o -4 addr show | grep -qw "$HOST_IP"; then
        echo "netns: $HOST_IP is already assigned (a stale rig? try: $0 reap)" >&2
        ip -o -4 addr show | grep -w "$HOST_IP" >&2
        exit 1
    fi
    trap "down $1" ERR
    ip netns add "$NS"
    ip link add "$VH" type veth peer name "$VN"
    ip link set "$VN" netns "$NS"
    ip addr add "$HOST_IP/$PREFIX" dev "$VH"
    ip link set "$VH" up
    ip -n "$NS" link set lo up
    ip -n "$NS" addr add "$NS_IP/$PREFIX" dev "$VN"
    ip -n "$NS" link set "$VN" up
    # Wait (<= 5 s) until both ends report carrier (ping may not be installed).
    local i
    for ((i = 0; i < 50; i++)); do
        [ "$(cat /sys/class/net/$VH/operstate 2>/dev/null)" = up ] &&
            ip -n "$NS" -o link show "$VN" | grep -q 'state UP' && break
        sleep 0.1
    done
    trap - ERR
}

reap() {
    local ns id dev
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
        [[ $ns =~ ^tcpi-([0-9]+)$ ]] || continue
        id=${BASH_REMATCH[1]}
        kill -0 "$id" 2>/dev/null || { echo "netns: removing stale $ns" >&2; down "$id"; }
    done
    for dev in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
        [[ $dev =~ ^tcpih([0-9]+)$ ]] || continue
        id=${BASH_REMATCH[1]}
        kill -0 "$id" 2>/dev/null || { echo "netns: removing stale $dev" >&2; down "$id"; }
    done
}

case "${1:-}" in
    up)   up "${2:-}" ;;
    down) down "${2:-}" ;;
    reap) reap ;;
    *)    echo "usage: $0 up ID | down ID | reap" >&2; exit 2 ;;
esac
