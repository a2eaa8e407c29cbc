#!/bin/sh
# Expected printer output for every fixture, from the real tcpdump
# (Debian 12: tcpdump 4.99.3, libpcap 1.10.3). Run from the top directory
# after make_fixtures.py; tests/test_print.c checks both that the core
# prints exactly this and that the installed tcpdump still does.
set -e
for f in tests/pcap/*.pcap; do
    b=${f%.pcap}
    tcpdump -n -tt -r "$f" >"$b.txt" 2>/dev/null
    tcpdump -n -tt -X -r "$f" >"$b.X.txt" 2>/dev/null
done
