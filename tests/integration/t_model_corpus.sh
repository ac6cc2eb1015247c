#!/bin/sh
# The failure model on committed data (nothing recorded, a few seconds):
#   - the shipped model's evaluation is reproduced: `hotspare eval` of
#     models/default.hsm on the held-out corpus job that `make model`
#     evaluated it on (models/corpus/e1.hds.xz, with the schedules of its
#     faults) prints the figures of models/default.eval.txt, the file the
#     model card's table is made from (integers exactly, the rest to 0.5 %:
#     another build's floating point may round a last digit otherwise);
#   - training on that committed job (its first 60 % trains, the rest
#     validates; 2 stream-hours, 10 epochs, a few seconds) reaches the bound
#     stated here: the training loss of the 10th epoch at most LOSS_BOUND
#     times the first's (measured: 0.660; an epoch's loss is noisy: 0.792
#     at the 6th, 0.569 at the 7th), and the same data and seed give the
#     same model file. A bound on fitting, not on generalising (measured on
#     the rest of the job: validation PR-AUC 0.54 for 0.03 positive ticks).
. "$(dirname "$0")/../lib/common.sh"
need xz
M=$TOP/models/corpus
LOSS_BOUND=0.75

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

# ---- training reaches its bound
export SOURCE_DATE_EPOCH=1790000000
train() {
    "$HS" train --hds "$T/e1.hds" --faults "$M/e1.faults.tsv" --faults "$M/cpu.faults.tsv" \
        --out "$1" --seed 1 --horizon 120s --validation 0.4 --epochs 10 --patience 10
}
train "$T/m1.hsm" > "$T/train.out" 2>&1 || fail "train: $(cat "$T/train.out")"
# "training: epoch N/10 loss L validation V", one line an epoch
tr '\r' '\n' < "$T/train.out" | awk -v b="$LOSS_BOUND" '
    /^training: epoch [0-9]+\/10 loss .* validation/ { split($3, e, "/"); loss[e[1]] = $5 }
    END { if (!(1 in loss) || !(10 in loss)) { print "no epoch 1 and 10 losses"; exit 1 }
          r = loss[10] / loss[1]; printf "loss %s -> %s (ratio %.3f, bound %s)\n", loss[1], loss[10], r, b
          exit !(r <= b) }' > "$T/loss.txt" || fail "training: $(cat "$T/loss.txt"): $(cat "$T/train.out")"
train "$T/m2.hsm" > /dev/null 2>&1 || fail "second training"
cmp -s "$T/m1.hsm" "$T/m2.hsm" || fail "the same data and seed gave another model"
say "trained on the committed job: $(cat "$T/loss.txt"), reproducible"

pass
