#!/bin/sh
# card.sh: the evaluation table of the model card (models/README.md), made
# from what `hotspare eval` printed for the shipped model
# (models/default.eval.txt), so that the card can only show the figures of
# the model it ships.
#
#   models/corpus/card.sh [EVAL.txt]             prints the table
#   models/corpus/card.sh --update [EVAL.txt]    rewrites it in models/README.md,
#                                                between its two markers
#   models/corpus/card.sh --check [EVAL.txt]     exit 1 when the card differs
#
# run.sh calls --update after each evaluation; `make check` runs --check.
set -e
DIR=$(cd "$(dirname "$0")/.." && pwd)
mode=print
case "$1" in
    --update) mode=update; shift ;;
    --check) mode=check; shift ;;
esac
EVAL=${1:-$DIR/default.eval.txt}
CARD=$DIR/README.md
BEGIN='<!-- eval table: made by models/corpus/card.sh from default.eval.txt; do not edit -->'
END='<!-- end of eval table -->'
[ -r "$EVAL" ] || { echo "card.sh: cannot read $EVAL" >&2; exit 2; }

table() {
    awk '
        # "name   model static ewma": the last three fields are the columns
        NF >= 4 { n = NF; key = $1; for (i = 2; i <= n - 3; i++) key = key " " $i
                  v[key, 1] = $(n - 2); v[key, 2] = $(n - 1); v[key, 3] = $n }
        # "-": undefined (nothing caught, nothing to divide by)
        function f3(x) { return x == "-" ? "-" : sprintf("%.3f", x) }
        function f2(x) { return x == "-" ? "-" : sprintf("%.2f", x) }
        function f1(x) { return x == "-" ? "-" : sprintf("%.1f", x) }
        function fs(x) { return x == "-" ? "-" : sprintf("%.1f s", x) }
        function fh(x) { return x == "-" ? "-" : x >= 1000 ? sprintf("%.0f", x) : sprintf("%.1f", x) }
        END {
            if (!(("ROC-AUC", 1) in v) || !(("lead median (s)", 1) in v)) {
                print "card.sh: not the output of hotspare eval" > "/dev/stderr"; exit 2
            }
            print "| | model | static threshold | EWMA z-score |"
            print "| --- | --- | --- | --- |"
            printf "| ROC-AUC (per tick) | %s | %s | %s |\n", f3(v["ROC-AUC", 1]), f3(v["ROC-AUC", 2]), f3(v["ROC-AUC", 3])
            printf "| PR-AUC (per tick) | %s | %s | %s |\n", f3(v["PR-AUC", 1]), f3(v["PR-AUC", 2]), f3(v["PR-AUC", 3])
            printf "| failures caught | %s | %s | %s |\n", v["caught", 1], v["caught", 2], v["caught", 3]
            if (("led caught", 1) in v) {
                printf "| degradation-led failures caught | %s | %s | %s |\n", v["led caught", 1], v["led caught", 2], v["led caught", 3]
                printf "| degradation-led lead time, median | %s | %s | %s |\n", fs(v["led lead median (s)", 1]),
                       fs(v["led lead median (s)", 2]), fs(v["led lead median (s)", 3])
                printf "| abrupt failures caught | %s | %s | %s |\n", v["abrupt caught", 1], v["abrupt caught", 2], v["abrupt caught", 3]
                printf "| other failures caught (no scenario explains them) | %s | %s | %s |\n", v["other caught", 1], v["other caught", 2], v["other caught", 3]
            }
            if (("unjudged alarms", 1) in v)
                printf "| alarms (false, unjudged) in %s stream-hours | %s (%s, %s) | %s (%s, %s) | %s (%s, %s) |\n",
                       v["stream-hours", 1], v["alarms", 1], v["false alarms", 1], v["unjudged alarms", 1],
                       v["alarms", 2], v["false alarms", 2], v["unjudged alarms", 2],
                       v["alarms", 3], v["false alarms", 3], v["unjudged alarms", 3]
            else
                printf "| alarms (false) in %s stream-hours | %s (%s) | %s (%s) | %s (%s) |\n", v["stream-hours", 1],
                       v["alarms", 1], v["false alarms", 1], v["alarms", 2], v["false alarms", 2], v["alarms", 3], v["false alarms", 3]
            printf "| false alarms per stream-hour | %s | %s | %s |\n", fh(v["false alarms/hour", 1]), fh(v["false alarms/hour", 2]), fh(v["false alarms/hour", 3])
            if (("false alarms/day", 1) in v)
                printf "| false alarms per stream-day | %s | %s | %s |\n", fh(v["false alarms/day", 1]), fh(v["false alarms/day", 2]), fh(v["false alarms/day", 3])
            printf "| precision per tick at the threshold | %s | %s | %s |\n", f2(v["precision", 1]), f2(v["precision", 2]), f2(v["precision", 3])
            lead = v["lead median (s)", 1] == "-" ? "-" : sprintf("%s (%s-%s)", fs(v["lead median (s)", 1]),
                   f1(v["lead p10 (s)", 1]), f1(v["lead p90 (s)", 1]))
            printf "| lead time, median (p10-p90) | %s | %s | %s |\n", lead, fs(v["lead median (s)", 2]),
                   fs(v["lead median (s)", 3])
            printf "| threshold (release) | %.4f (%.4f) | z = 3 | z = 3 |\n", v["threshold", 1], v["release", 1]
        }' "$EVAL"
}

# the card with the table between the markers replaced by $1
card_with() {
    awk -v b="$BEGIN" -v e="$END" -v t="$1" '
        $0 == b { print; print t; skip = 1; found++; next }
        $0 == e { skip = 0 }
        !skip { print }
        END { if (found != 1) { print "card.sh: the card has no table markers" > "/dev/stderr"; exit 2 } }' "$CARD"
}

t=$(table)
case $mode in
    print) printf '%s\n' "$t" ;;
    update) card_with "$t" > "$CARD.tmp" && mv "$CARD.tmp" "$CARD" ;;
    check)
        card_with "$t" | cmp -s - "$CARD" && exit 0
        echo "card.sh: models/README.md does not show $EVAL's figures; run models/corpus/card.sh --update" >&2
        card_with "$t" | diff "$CARD" - >&2 || true
        exit 1 ;;
esac
