#!/bin/sh
# Planned switches and switches back, 20 of each kind in one run, on every
# kind of component: the input between two sources, the rendition between
# its encoder and its standby, the output between two destinations. Under
# valgrind (memcheck): no memory lost, no invalid access. The output stays
# decodable and monotonic across every switch.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe valgrind

SRC="size=160x90:rate=30"
job "$T/job.yaml" <<EOF
version: 1
streams:
  - name: drill
    input:
      url: "testsrc2=$SRC[out0];sine=frequency=1000:sample_rate=48000[out1]"
      format: lavfi
      realtime: true
      # valgrind makes everything many times slower: a late packet is not
      # a lost source here
      loss_timeout: 3s
      backup: { url: "smptebars=$SRC[out0];sine=frequency=440:sample_rate=48000[out1]", format: lavfi }
    renditions:
      - name: main
        width: 160
        height: 90
        bitrate: 100k
        gop: 10
        options: { preset: ultrafast }
        backup: { encoder: libx264, options: { preset: ultrafast } }
    outputs:
      - name: main
        format: mpegts
        url: $T/out/a.ts
        backup: { url: $T/out/b.ts }
      - { name: whole, format: mpegts, url: $T/out/whole.ts }
    standby: always
    switch_back: never
    latency_budget: none
    duration: 10s
    faults:
      - { at: 1s, every: 400ms, count: 20, component: input, action: switch }
      - { at: 1s, every: 400ms, count: 20, component: enc:main, action: switch }
      - { at: 1s, every: 400ms, count: 20, component: out:main, action: switch }
EOF

# valgrind 3.19 cannot decode every instruction of every CPU: on some AMD
# EPYC machines libhwy (pulled in by libavcodec's JPEG XL decoder) dies of
# SIGILL in its constructor, before main. There the drills still run, under
# no memory checker, and the test says so.
VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    --suppressions=$TOP/tests/valgrind.supp --show-leak-kinds=definite --log-file=$T/valgrind.log"
if ! valgrind -q --log-file="$T/vg-probe.log" "$HS" --version > /dev/null 2>&1; then
    say "valgrind cannot run hotspare on this CPU ($(grep -m1 -o 'Illegal opcode.*' "$T/vg-probe.log" || echo 'see its log')): drills without memcheck"
    VG=
fi
$VG "$HS" run --events "$T/events.jsonl" "$T/job.yaml" > "$T/run.log" 2>&1
rc=$?
[ -f "$T/valgrind.log" ] && cat "$T/valgrind.log"
[ $rc = 99 ] && fail "valgrind found errors or leaks (above)"
assert_eq "exit status" $rc 0

for c in input enc:main out:main; do
    n=$(grep "\"component\":\"$c\"" "$T/events.jsonl" | grep -c '"kind":"switch"')
    assert_ge "planned switches of $c" "$n" 15
done
grep -q '"kind":"failure"' "$T/events.jsonl" && fail "a drill caused a failure: $(grep failure "$T/events.jsonl")"

out=$T/out/whole.ts
assert_eq "decode errors" "$(probe_errors "$out")" 0
assert_eq "non-increasing dts" "$(probe_nonmonotonic "$out" v:0)" 0
assert_le "largest pts step (s)" "$(probe_max_gap "$out" v:0)" 0.0334
assert_ge "frames" "$(probe_frames "$out" v:0)" 295
pass
