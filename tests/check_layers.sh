#!/bin/bash
# The tree's structure, checked: src/ is one folder per pipeline stage plus
# the httpd glue (src/httpd/); each stage exposes one header,
# include/tcpi/<stage>.h, and includes only its own headers and the headers
# of the stages below it (the order of STAGES in the Makefile, bottom
# first); no httpd header outside mod_tcpinspect.c and src/httpd/; the glue
# includes stages only through their headers; no source file over 1,000
# lines; README.md's module map names every folder of src/.
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a stages <<<"$(sed -n 's/^STAGES *:= *//p' Makefile)"
declare -A rank
for i in "${!stages[@]}"; do rank[${stages[$i]}]=$i; done
bad=0
complain() { echo "layers: $*"; bad=1; }
httpd_re='^(httpd|http_[a-z_]+|ap_[a-z_]+|util_[a-z_]+|mod_[a-z_]+|mpm_common|unixd)\.h$'

for d in src/*/; do
    d=${d%/}; s=${d#src/}
    [ "$s" = httpd ] && continue
    [ -n "${rank[$s]+x}" ] || complain "$d is not a stage (STAGES in the Makefile)"
done
for s in "${stages[@]}"; do
    [ -d "src/$s" ] || complain "stage $s has no folder src/$s"
    [ -f "include/tcpi/$s.h" ] || complain "stage $s has no header include/tcpi/$s.h"
    grep -q "src/$s/" README.md || complain "README.md's module map does not name src/$s/"
    while IFS= read -r inc; do
        [[ $inc == "$s/"* ]] && [ -f "src/$inc" ] ||
            complain "include/tcpi/$s.h includes $inc, not a header of src/$s/"
    done < <(grep -oE '^#include "[^"]+"' "include/tcpi/$s.h" | cut -d'"' -f2)
done
grep -q 'src/httpd/' README.md || complain "README.md's module map does not name src/httpd/"
for h in include/tcpi/*.h; do
    s=$(basename "$h" .h)
    [ -n "${rank[$s]+x}" ] || complain "$h is not the header of a stage"
done
[ -z "$(find include -maxdepth 1 -type f)" ] || complain "include/ holds only include/tcpi/<stage>.h"

# A stage file: its own folder's headers, the headers of stages below,
# the generated BPF object (states), system headers.
for s in "${stages[@]}"; do
    for f in src/"$s"/*.[ch]; do
        while IFS= read -r inc; do
            if [ -f "src/$s/$inc" ]; then continue; fi
            if [[ $inc =~ ^tcpi/([a-z]+)\.h$ ]]; then
                t=${BASH_REMATCH[1]}
                if [ -z "${rank[$t]+x}" ]; then complain "$f includes $inc: no such stage"
                elif [ "${rank[$t]}" -ge "${rank[$s]}" ]; then
                    complain "$f ($s) includes $inc: $t is not below $s"
                fi
                continue
            fi
            [ "$s/$inc" = states/tcpi_evstates_obj.h ] && continue
            complain "$f includes \"$inc\": only its folder's headers or tcpi/<lower stage>.h"
        done < <(grep -oE '^\s*#\s*include\s+"[^"]+"' "$f" | cut -d'"' -f2)
        while IFS= read -r inc; do
            [[ $inc =~ $httpd_re ]] && complain "$f includes the httpd header <$inc>"
        done < <(grep -oE '^\s*#\s*include\s+<[^>]+>' "$f" | cut -d'<' -f2 | tr -d '>')
    done
done

# The glue: httpd's headers, its private header, the stages' headers.
for f in mod_tcpinspect.c src/httpd/*.[ch]; do
    while IFS= read -r inc; do
        [[ $inc =~ ^tcpi/[a-z]+\.h$ ]] && [ -f "include/$inc" ] && continue
        [[ $inc == */* ]] && { complain "$f includes \"$inc\": a stage's own header"; continue; }
        [[ $inc =~ ^tcpi_ ]] && complain "$f includes \"$inc\": a stage's own header"
    done < <(grep -oE '^\s*#\s*include\s+"[^"]+"' "$f" | cut -d'"' -f2 |
             grep -vx 'httpd/mod_tcpinspect.h')
done

while read -r n f; do
    [ "$f" = total ] && continue
    [ "$n" -le 1000 ] || complain "$f has $n lines (at most 1,000)"
done < <(find src include mod_tcpinspect.c -name '*.[ch]' -print0 | xargs -0 wc -l)

[ $bad -eq 0 ] && echo "layers: ${#stages[@]} stages, each over the ones below it, one header each"
exit $bad
