#!/bin/sh
# Device placement of a standby encoder: the backup may run on GPU 0 or 1
# (device: [0, 1]); NVML (the scripted stub library) says GPU 0's encoder
# is busy and GPU 1's mostly free. When the orchestrator opens the standby
# ahead, the allocator places it on GPU 1; under a budget of one session
# per GPU, with GPU 1 holding one already, on GPU 0; with both full, on
# none (an event says why). NVENC cannot open here: the stage's refusal
# names the device it was asked to use, and the primary goes on.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe

export HOTSPARE_NVML_LIB="$TOP/tests/stubs/libnvidia-ml.so"
export HOTSPARE_NVML_STUB_SCRIPT="$T/nvml.script"
[ -e "$HOTSPARE_NVML_LIB" ] || fail "the NVML stub is not built: $HOTSPARE_NVML_LIB"

nvml() {  # SESSIONS_ON_GPU0
    {
        echo "devices 2"
        echo "enc_util 0 90 167000"
        echo "enc_capacity_h264 0 8"
        echo "enc_util 1 12 167000"
        echo "enc_capacity_h264 1 85"
        echo "enc_stats 1 1 60 1000"
        echo "session 1 7 4242 h264 1920 1080 60 1000"
        if [ "$1" -gt 0 ]; then
            echo "enc_stats 0 1 60 1000"
            echo "session 0 8 4243 h264 1920 1080 60 1000"
        else
            echo "enc_sessions 0"
        fi
    } > "$HOTSPARE_NVML_STUB_SCRIPT"
}

run_job() {  # NAME MAX_SESSIONS
    budget=
    [ "$2" -gt 0 ] && budget="orchestrator: { max_sessions_per_device: $2 }"
    job "$T/$1.yaml" <<EOF
version: 1
supervisor: { $budget }
streams:
  - name: news
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: true }
    renditions:
      - { name: main, width: 320, height: 180, gop: 1s, options: { preset: ultrafast },
          backup: { encoder: h264_nvenc, device: [0, 1] } }
    outputs: [ { name: rec, format: mpegts, url: $T/$1.ts } ]
    standby: on_risk
    orchestrator: { provision_above: 0, confirm: 2 }
    duration: 6s
EOF
    "$HS" run --events "$T/$1.jsonl" "$T/$1.yaml" > "$T/$1.log" 2>&1 || fail "$1: run exited $?: $(tail -n 3 "$T/$1.log")"
    grep -q '"component":"gpu"' "$T/$1.jsonl" && fail "$1: a GPU event: $(grep gpu "$T/$1.jsonl")"
    assert_ge "$1: primary frames" "$(probe_frames "$T/$1.ts" v:0)" 180
}

# 1. the most headroom: GPU 1
nvml 0
run_job free 0
decision=$(grep 'orchestrator: provision enc:main.backup' "$T/free.jsonl" | head -n 1)
echo "$decision" | grep -q 'enc:main.backup on device 1 (rule risk_high' ||
    fail "not placed on GPU 1: $(grep -v '"start"' "$T/free.jsonl")"
seq=$(echo "$decision" | sed 's/.*"seq":\([0-9]*\).*/\1/')
answer=$(grep "\"seq\":$seq[,}]" "$T/free.jsonl" | grep -v 'orchestrator:' | head -n 1)
echo "$answer" | grep -q '"kind":"refused"' && echo "$answer" | grep -q 'cannot open it on device 1' ||
    fail "the stage did not try device 1: $answer"

# 2. GPU 1 holds its budget's one session: GPU 0
run_job budget 1
grep 'orchestrator: provision enc:main.backup' "$T/budget.jsonl" | head -n 1 | grep -q 'on device 0 (' ||
    fail "not placed on GPU 0 under the budget: $(grep -v '"start"' "$T/budget.jsonl")"

# 3. both at their budget: none, and the event says why
nvml 1
run_job full 1
grep -q 'orchestrator: provision enc:main.backup' "$T/full.jsonl" &&
    fail "placed although every GPU is at its budget: $(grep orchestrator "$T/full.jsonl")"
grep -q 'no device for enc:main.backup at risk 0\.[0-9]*: 0 1 of 1 sessions, 1 1 of 1 sessions' "$T/full.jsonl" ||
    fail "no event saying why: $(grep -v '"start"' "$T/full.jsonl")"
pass
