#!/bin/sh
# check-layers.sh: a folder of src/ includes only folders at or below it.
# The order is ARCHITECTURE.md's, from the ground up:
#   core < job < plane < ecg < hma < hds < pfm < dra < fo < cli
# An include of our own headers names its folder ("plane/tq.h"); one that
# does not (a bare "tq.h") is refused too, so the direction shows in the
# line itself. Exit 1 with every offending line listed.
cd "$(dirname "$0")/.." || exit 2
order="core job plane ecg hma hds pfm dra fo cli"
rank() {
    i=0
    for l in $order; do
        [ "$l" = "$1" ] && { echo $i; return; }
        i=$((i + 1))
    done
    echo -1
}
bad=0
for f in src/*/*.c src/*/*.h; do
    [ -e "$f" ] || continue
    dir=${f#src/}; dir=${dir%%/*}
    me=$(rank "$dir")
    if [ "$me" -lt 0 ]; then
        echo "$f: folder src/$dir/ is not a layer (add it to tests/check-layers.sh and ARCHITECTURE.md)"
        bad=1
        continue
    fi
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" | while IFS= read -r line; do
        inc=$(printf '%s\n' "$line" | sed 's/.*include[[:space:]]*"\([^"]*\)".*/\1/')
        n=${line%%:*}
        case "$inc" in
        config.h) continue ;;
        */*) ;;
        *) echo "$f:$n: #include \"$inc\" must name its folder"; echo x >&3; continue ;;
        esac
        to=${inc%%/*}
        r=$(rank "$to")
        if [ "$r" -lt 0 ]; then
            echo "$f:$n: #include \"$inc\": src/$to/ is not a layer"; echo x >&3
        elif [ "$r" -gt "$me" ]; then
            echo "$f:$n: $dir/ may not include $to/ (a higher layer): #include \"$inc\""; echo x >&3
        fi
    done 3>>"${TMPDIR:-/tmp}/check-layers.$$"
done
if [ -s "${TMPDIR:-/tmp}/check-layers.$$" ]; then bad=1; fi
rm -f "${TMPDIR:-/tmp}/check-layers.$$"
if [ $bad = 0 ]; then
    echo "check-layers: every include goes down ($order)"
fi
exit $bad
