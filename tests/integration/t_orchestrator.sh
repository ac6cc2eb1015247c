#!/bin/sh
# The orchestrator in a real run (standby: on_risk). With a provision
# threshold every risk passes (provision_above: 0), an output's backup is
# opened ahead after `confirm` ticks: the decision is an event naming the
# rule, the risk and the request, the request is answered by `provisioned`
# with the same seq, ctl status shows the backup ready and the decision,
# and the backup destination is open. With the model's own
# thresholds, a healthy job opens no backup in a minute (the rate of
# provisions that no failure follows, per stream-hour, is bench_policy's
# "false/sh", under faults).
. "$(dirname "$0")/../lib/common.sh"
need ffprobe jq
SOCK=$T/hs.sock

job "$T/risk.yaml" <<EOF
version: 1
supervisor:
  control: $SOCK
  hooks:
    provision: [sh, -c, 'printf "%s\\n" "\$@" > $T/hook.args; echo url=rtmp://remote.example/live/SECRETKEY', sh,
                "{stream}", "{component}", "{instance}", "{risk}"]
    timeout: 5s
streams:
  - name: news
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: true }
    renditions: [ { name: main, width: 320, height: 180, gop: 1s, options: { preset: ultrafast } } ]
    outputs:
      - { name: rec, format: mpegts, url: $T/out/a.ts, backup: { url: $T/out/b.ts } }
    standby: on_risk
    orchestrator: { provision_above: 0, confirm: 2 }
    duration: 10s
EOF
mkdir -p "$T/out"
bg "$HS" run --events "$T/risk.jsonl" "$T/risk.yaml"
HSPID=$BG_PID
wait_for 10 grep -q '"kind":"provisioned"' "$T/risk.jsonl" || fail "no backup provisioned in 10 s: $(grep -v start "$T/risk.jsonl")"
"$HS" ctl --socket "$SOCK" status --json > "$T/status.json" || fail "ctl status exited $?"
wait "$HSPID"; rc=$?
assert_eq "run exit status" $rc 0

decision=$(grep '"component":"out:rec.backup"' "$T/risk.jsonl" | grep '"kind":"info"' | grep 'orchestrator: provision' | head -n 1)
[ -n "$decision" ] || fail "no decision event: $(cat "$T/risk.jsonl")"
echo "$decision" | grep -q 'rule risk_high, risk 0\.[0-9]*, request [0-9]*' || fail "the decision does not say why: $decision"
# the crossing came first, as an event of its own kind
risk=$(grep '"component":"out:rec"' "$T/risk.jsonl" | grep '"kind":"risk"' | head -n 1)
echo "$risk" | grep -q 'failure risk 0\.[0-9]* is above 0\.00' || fail "no risk event before the decision: $risk"
[ "$(echo "$risk" | sed 's/.*"mono_us":\([0-9]*\).*/\1/')" -le "$(echo "$decision" | sed 's/.*"mono_us":\([0-9]*\).*/\1/')" ] ||
    fail "the risk event came after the decision"
seq=$(echo "$decision" | sed 's/.*"seq":\([0-9]*\).*/\1/')
grep '"kind":"provisioned"' "$T/risk.jsonl" | grep -q "\"seq\":$seq[,}]" ||
    fail "no provisioned event for request $seq: $(grep provisioned "$T/risk.jsonl")"
say "provisioned on request $seq: $(grep '"kind":"provisioned"' "$T/risk.jsonl" | head -n 1 | sed 's/.*"cause":"\([^"]*\)".*/\1/')"
assert_eq "backup state in ctl status" \
    "$(jq -r '.components[] | select(.id == "news/out:rec") | .instances[1].state' "$T/status.json")" ready
jq -r '.components[] | select(.id == "news/out:rec") | .decision' "$T/status.json" | grep -q '^provision out:rec.backup: rule risk_high' ||
    fail "ctl status shows no decision: $(jq -c '.components[] | select(.id == "news/out:rec")' "$T/status.json")"
assert_eq "provisions" "$(grep -c 'orchestrator: provision' "$T/risk.jsonl")" 1
grep -q '"kind":"switch"' "$T/risk.jsonl" && fail "a backup opened ahead was switched to"
# opened ahead: the file exists (its header sits in the 256 KiB write buffer)
test -e "$T/out/b.ts" || fail "the backup destination was not opened"
assert_ge "primary frames" "$(probe_frames "$T/out/a.ts" v:0)" 300

# the provision hook ran for the backup with its placeholders expanded, and
# its URL line is in its event, with the stream key masked
assert_eq "hook argv" "$(head -n 3 "$T/hook.args" | paste -sd' ' -)" "news out:rec 1"
grep -Eq '^0\.[0-9]{3}$' "$T/hook.args" || fail "no {risk} in the hook's argv: $(cat "$T/hook.args")"
hook=$(grep 'provision hook' "$T/risk.jsonl" | head -n 1)
[ -n "$hook" ] || fail "no event for the hook: $(grep -v start "$T/risk.jsonl")"
echo "$hook" | grep -q 'rtmp://remote.example/live/\*\*\*' || fail "the hook's URL is not in its event, masked: $hook"
grep -q SECRETKEY "$T/risk.jsonl" && fail "the stream key reached the events"
# the orchestrator opened the job's own backup: the hook's URL is not
# taken over it, and an event says so
grep "provision hook's URL" "$T/risk.jsonl" | grep -q "not used: instance 1 of news/out:rec is one of the job's own destinations" ||
    fail "no event saying the hook's URL is not used: $(grep hook "$T/risk.jsonl")"

# a provision hook that hangs is killed at its deadline, the run goes on
sed -e "s|printf .*SECRETKEY'|sleep 59.917'|" -e 's|timeout: 5s|timeout: 1s|' -e 's|duration: 10s|duration: 6s|' \
    -e "s|$SOCK|$T/hang.sock|" "$T/risk.yaml" > "$T/hang.yaml"
"$HS" run --events "$T/hang.jsonl" "$T/hang.yaml" > "$T/hang.log" 2>&1 || fail "run with a hanging hook exited $?"
grep 'provision hook' "$T/hang.jsonl" | grep -q '"kind":"warning"' || fail "no warning for the hanging hook: $(grep hook "$T/hang.jsonl")"
grep 'provision hook' "$T/hang.jsonl" | grep -q 'deadline' || fail "the hook was not killed at its deadline: $(grep hook "$T/hang.jsonl")"
pgrep -f 'sleep 59.917' > /dev/null && fail "the hung hook is still running"

# a proactive switch (switch_above): provisioned, then switched away at
# high risk; the switch carried out is an "averted" event, kept in the data
# store for the model's labels (not to learn that high risk is harmless)
sed -e 's|orchestrator: { provision_above: 0, confirm: 2 }|orchestrator: { provision_above: 0, switch_above: 0, confirm: 2 }|' \
    -e "s|$SOCK|$T/away.sock|" -e 's|duration: 10s|duration: 8s|' \
    -e "s|^supervisor:|supervisor:\\n  hds: { path: $T/away.hds }|" -e "s|out/a.ts|out/away-a.ts|" \
    -e "s|out/b.ts|out/away-b.ts|" "$T/risk.yaml" > "$T/away.yaml"
grep -q switch_above "$T/away.yaml" && grep -q away.hds "$T/away.yaml" || fail "the switch_above job was not made"
"$HS" run --events "$T/away.jsonl" "$T/away.yaml" > "$T/away.log" 2>&1 || fail "run with switch_above exited $?: $(tail -n 3 "$T/away.log")"
away=$(grep 'orchestrator: switch out:rec.backup' "$T/away.jsonl" | head -n 1)
[ -n "$away" ] || fail "no switch away: $(grep -v '"start"' "$T/away.jsonl")"
echo "$away" | grep -q 'rule switch_away' || fail "the switch does not name its rule: $away"
averted=$(grep '"kind":"averted"' "$T/away.jsonl" | head -n 1)
echo "$averted" | grep -q 'switched away from out:rec at risk 0\.[0-9]*' || fail "no averted event: $(grep -v '"start"' "$T/away.jsonl")"
assert_eq "averted seq = switch request" "$(echo "$averted" | sed 's/.*"seq":\([0-9]*\).*/\1/')" \
    "$(echo "$away" | sed 's/.*"seq":\([0-9]*\).*/\1/')"
# no ping-pong: the primary that was at risk is not switched back to
assert_eq "switches away" "$(grep -c 'orchestrator: switch' "$T/away.jsonl")" 1
"$HS" hds export "$T/away.hds" --out "$T/away.csv" --events "$T/away-events.csv" > /dev/null ||
    fail "hds export exited $?"
grep -q 'averted' "$T/away-events.csv" || fail "the data store has no averted event: $(cat "$T/away-events.csv")"
assert_eq "frames missing in the switch" \
    "$(($(probe_frames "$T/out/away-a.ts" v:0) + $(probe_frames "$T/out/away-b.ts" v:0) >= 240 ? 0 : 1))" 0

# a healthy job with the model's thresholds: nothing opened ahead
job "$T/healthy.yaml" <<EOF
version: 1
supervisor: { control: $T/h.sock }
streams:
  - name: calm
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: true }
    renditions:
      - { name: main, width: 320, height: 180, gop: 1s, options: { preset: ultrafast },
          backup: { encoder: libx264, options: { preset: ultrafast } } }
    outputs:
      - { name: rec, format: mpegts, url: $T/out/h.ts, backup: { url: $T/out/hb.ts } }
    standby: on_risk
    duration: 60s
EOF
"$HS" run --events "$T/healthy.jsonl" "$T/healthy.yaml" > "$T/healthy.log" 2>&1 || fail "healthy run exited $?"
grep -q 'failure prediction with' "$T/healthy.log" || skip "no model: nothing to judge the risk with"
assert_eq "decisions in a healthy job" "$(grep -c 'orchestrator:' "$T/healthy.jsonl")" 0
assert_eq "backups provisioned" "$(grep -c '"kind":"provisioned"' "$T/healthy.jsonl")" 0
assert_eq "risk crossings" "$(grep -c '"kind":"risk"' "$T/healthy.jsonl")" 0
[ -e "$T/out/hb.ts" ] && fail "the backup destination was opened"
assert_ge "frames" "$(probe_frames "$T/out/h.ts" v:0)" 1790
pass
