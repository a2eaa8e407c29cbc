#!/bin/bash
# Install every Debian package that the build, the tests and the demo need,
# and only the missing ones: a no-op (one dpkg-query) when all are present.
# `a|b` means either package will do (the first is installed if neither is).
set -euo pipefail

PKGS=(
    # build
    make gcc apache2-dev libpcap-dev libbpf-dev libseccomp-dev
    # OpenSSL's libssl: mod_ssl's SSL handles (TLS facts, the key log)
    libssl-dev
    # the kernel's list of BPF programs, for the post-stop check
    bpftool
    # the server, the backend and the Apache::Test rig
    apache2 apache2-utils libapache2-mod-perl2 libjson-pp-perl libwww-perl
    jetty9 libjetty9-java "libservlet3.1-java|libservlet-api-java"
    "default-jdk-headless|openjdk-17-jdk-headless"
    # unit tests, sanitizers, fuzzers
    libcmocka-dev clang libclang-rt-14-dev llvm
    # oracles and tools the tests and the demo drive
    tcpdump tshark iproute2 nftables net-tools procps psmisc curl wrk
    python3-scapy chromium
    # independent parser of the /metrics exposition format (t/31_thresholds.t)
    python3-prometheus-client
    # an HTTP/2 client that multiplexes streams over h2c (t/50_h2.t), and
    # h2load, the h2 load of tests/bench.sh part 5
    nghttp2-client
    # certificates made at test time for the mod_ssl front (t/55_tls.t)
    openssl
    # promtool checks and tests contrib/prometheus/ (make promtool); the
    # server scrapes scratch httpds and evaluates the rules (t/56_prometheus.t)
    prometheus
    # the Debian package (make deb, t/58_deb.t): dpkg-buildpackage, dh and
    # dh_apache2 (in apache2-dev, above); apache2-ssl-dev makes dh_apache2
    # add the mod_ssl OpenSSL API to Depends (the module shares mod_ssl's
    # SSL handles); lintian checks the result
    dpkg-dev debhelper apache2-ssl-dev lintian
)

installed() {
    # dpkg-query prints one status line per known package; a package is
    # present when its status is "install ok installed".
    dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null |
        awk '$NF == "installed" && $(NF-1) == "ok" { print $1 }'
}

all=()
for p in "${PKGS[@]}"; do all+=(${p//|/ }); done
mapfile -t have < <(installed "${all[@]}")
declare -A ok=()
for p in "${have[@]}"; do ok[$p]=1; done

missing=()
for p in "${PKGS[@]}"; do
    found=
    for alt in ${p//|/ }; do [ -n "${ok[$alt]:-}" ] && found=1; done
    [ -n "$found" ] || missing+=("${p%%|*}")
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages: ${missing[*]}" >&2
    echo "deps: run 'make deps' as root (or: apt-get install ${missing[*]})" >&2
    exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer it up front.
echo "wireshark-common wireshark-common/install-setuid boolean false" |
    debconf-set-selections
apt_opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold
          --no-install-recommends)
apt-get update -q </dev/null
apt-get install "${apt_opts[@]}" "${missing[@]}" </dev/null
# Installing apache2, jetty9 or prometheus starts their system services; this
# project runs its own instances on its own config, so leave the system ones
# down.
for svc in apache2 jetty9 prometheus; do
    if printf '%s\n' "${missing[@]}" | grep -qx "$svc" && command -v systemctl >/dev/null; then
        systemctl stop "$svc" >/dev/null 2>&1 || true
        systemctl disable "$svc" >/dev/null 2>&1 || true
    fi
done
echo "deps: done"
