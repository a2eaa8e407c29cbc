#!/bin/bash
# Every log message tag is used at one call site, spelt one way
# (TCPI_TAG(n) in the core, TCPILOG(n) in the glue), and listed in
# tests/log-message-tags; every listed tag is used.
set -euo pipefail
cd "$(dirname "$0")/.."
srcs=$(find src include mod_tcpinspect.c -name '*.[ch]' | sort)
bad=0
# Another spelling: a "TCPInnnn" literal outside the two macros.
if grep -nE '"TCPI[0-9]{4}' $srcs; then
    echo "logtags: spell a tag TCPI_TAG(nnnn) or TCPILOG(nnnn), not as a string"
    bad=1
fi
used=$(grep -ohE 'TCPI_TAG\([0-9]{4}\)|TCPILOG\([0-9]{4}\)' $srcs | grep -oE '[0-9]{4}' | sort)
dups=$(printf '%s\n' "$used" | uniq -d)
if [ -n "$dups" ]; then
    echo "logtags: used at more than one call site: $dups"
    bad=1
fi
listed=$(grep -oE '^[0-9]{4}' tests/log-message-tags | sort)
if [ -n "$(printf '%s\n' "$listed" | uniq -d)" ]; then
    echo "logtags: listed twice: $(printf '%s\n' "$listed" | uniq -d)"
    bad=1
fi
missing=$(comm -23 <(printf '%s\n' "$used" | uniq) <(printf '%s\n' "$listed"))
unused=$(comm -13 <(printf '%s\n' "$used" | uniq) <(printf '%s\n' "$listed"))
[ -z "$missing" ] || { echo "logtags: not in tests/log-message-tags: $missing"; bad=1; }
[ -z "$unused" ] || { echo "logtags: listed but not used: $unused"; bad=1; }
n=$(printf '%s\n' "$used" | grep -c . || true)
if [ $bad -eq 0 ]; then
    echo "logtags: $n tags, each used once and listed"
fi
exit $bad
