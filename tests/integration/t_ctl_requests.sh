#!/bin/sh
# Requests through the control socket, carried out by the data plane: an
# output's backup provisioned by `ctl provision` is opened (its RTMP stream
# appears at a real nginx, an event carries the request's seq) and `ctl
# release` closes it; `ctl switch` of an encoder to its standby happens at
# a GOP boundary with no frame lost (ffprobe on the output: every frame,
# monotonic, no gap above one frame period, every GOP whole).
#
# Needs the data plane's side of the seam (stages serve their mailbox and
# publish their status): skipped while no stage publishes a heartbeat.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe jq
. "$TOP/tests/lib/nginx.sh"
HTTPGET=$TOP/tests/tools/httpget
SOCK=$T/hs.sock

nginx_start primary 19395 18125
nginx_start backup 19396 18126

job "$T/job.yaml" <<EOF
version: 1
supervisor: { control: $SOCK }
streams:
  - name: live
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: true }
    renditions:
      - name: main
        width: 320
        height: 180
        bitrate: 300k
        gop: 1s
        options: { preset: veryfast }
        backup: { encoder: libx264, options: { preset: veryfast } }
    outputs:
      - name: ingest
        format: flv
        url: rtmp://127.0.0.1:19395/live/key1
        rw_timeout: 2s
        backup: { url: rtmp://127.0.0.1:19396/live/key1 }
      - { name: rec, format: flv, url: $T/rec.flv }
    standby: on_risk
    switch_back: never
    duration: 12s
EOF

# the stream's name on an nginx's RTMP statistics page
published() { "$HTTPGET" -t 2 "http://127.0.0.1:$1/stat" | grep -q '<name>key1</name>'; }
# the instance state of COMPONENT's INSTANCE in ctl status
state() {
    "$HS" ctl --socket "$SOCK" status --json |
        jq -r --arg c "$1" --arg i "$2" '.components[] | select(.id == $c) | .instances[] | select(.name == $i) | .state'
}
in_use() {
    "$HS" ctl --socket "$SOCK" status --json | jq -r --arg c "$1" '.components[] | select(.id == $c) | .in_use'
}

bg "$HS" run --events "$T/events.jsonl" "$T/job.yaml"
HSPID=$BG_PID
wait_for 10 test -S "$SOCK" || fail "no control socket"
wait_for 10 test -s "$T/primary/rec/key1.flv" || fail "the primary got nothing"

"$HS" ctl --socket "$SOCK" status --json > "$T/status.json" || fail "ctl status exited $?"
if [ "$(jq '[.components[] | select(.heartbeat_age_ms != null)] | length' "$T/status.json")" = 0 ]; then
    skip "no stage publishes a heartbeat: the data plane's side of the seam (mailbox, status) is not there yet"
fi
published 18126 && fail "the backup is connected before it was provisioned"

# settles NAME WANT CMD...: CMD prints WANT within 2 s (a stage publishes
# its new state just after the event that answers the request)
settles() {
    _name=$1 _want=$2
    shift 2
    for _i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        _got=$("$@")
        [ "$_got" = "$_want" ] && break
        sleep 0.1
    done
    assert_eq "$_name" "$_got" "$_want"
}

# ask OP COMPONENT INSTANCE KIND: ctl OP must succeed, and the event of
# KIND must carry the request's number
ask() {
    "$HS" ctl --socket "$SOCK" "$1" "$2" "$3" > "$T/$1.txt" || fail "ctl $1 $2 $3 exited $?"
    cat "$T/$1.txt"
    _seq=$(grep -o 'request [0-9]*' "$T/$1.txt" | awk '{ print $2 }')
    [ -n "$_seq" ] || fail "ctl $1: no request number"
    # the answer may overtake the event's line in the file (sinks come first)
    wait_for 2 sh -c "grep '\"kind\":\"$4\"' '$T/events.jsonl' | grep -q '\"seq\":$_seq[,}]'" ||
        fail "no $4 event with seq $_seq"
}

# provision: the backup's connection up, its stream published at nginx
ask provision live/out:ingest backup provisioned
wait_for 5 published 18126 || fail "the backup's RTMP stream did not appear"
settles "backup state after provision" ready state live/out:ingest backup
assert_eq "output in use after provision" "$(in_use live/out:ingest)" primary

# release: closed again
ask release live/out:ingest backup released
wait_for 5 sh -c "! $HTTPGET -t 2 http://127.0.0.1:18126/stat | grep -q '<name>key1</name>'" ||
    fail "the backup's RTMP stream is still there after the release"
settles "backup state after release" idle state live/out:ingest backup

# a planned encoder switch: at a GOP boundary, nothing lost
ask switch live/enc:main backup switch
settles "encoder in use after the switch" backup in_use live/enc:main

wait "$HSPID"; rc=$?
assert_eq "exit status" $rc 0
f=$T/rec.flv
assert_eq "frames" "$(probe_frames "$f" v:0)" 360
assert_eq "decode errors" "$(probe_decoder_errors "$f")" 0
assert_eq "non-increasing dts" "$(probe_nonmonotonic "$f" v:0)" 0
assert_le "largest pts step (s)" "$(probe_max_gap "$f" v:0)" 0.0345
assert_eq "GOP lengths (frames)" "$(probe_gops "$f" v:0)" 30
probe_frame_numbers "$f" v:0 30 > "$T/frames"
first=$(head -n 1 "$T/frames")
assert_eq "frames missing" "$(frames_missing "$T/frames" "$first" $((first + 359)))" 0
pass
