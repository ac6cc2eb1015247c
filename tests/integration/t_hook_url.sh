#!/bin/sh
# A provision hook names the backup (url= on its stdout) and the output
# takes it: an HLS output to an HTTP origin (private nginx, WebDAV) with no
# backup in the job; the orchestrator (provision_above: 0) runs the job's
# provision hook for out:origin.backup, which records its argv and prints
# url= of a second origin with a user and password in it. The allocator
# asks the output to add it, the output opens it ahead (provisioned, with
# the request's seq; ctl status lists it, ready and dynamic), and when the
# primary origin is killed it takes over: its playlist is closed and
# decodable, and every frame is on one origin or the other. The password
# never shows in the events, ctl status or the log.
. "$(dirname "$0")/../lib/common.sh"
need ffprobe jq
. "$TOP/tests/lib/nginx.sh"

nginx_start origina 19750 18750
nginx_start originb 19751 18751
SOCK=$T/hs.sock

# the hook: its first run "starts a backup" (origin b) and says where; a
# later one has no capacity left and fails, as a real one may
cat > "$T/hook.sh" <<EOF
#!/bin/sh
n=\$(cat "$T/hook.count" 2>/dev/null || echo 0); n=\$((n + 1)); echo \$n > "$T/hook.count"
printf '%s\n' "\$@" > "$T/hook.args.\$n"
echo "starting a backup origin for \$1/\$2, instance \$3"
[ "\$n" = 1 ] || { echo "no capacity left for \$1" >&2; exit 3; }
echo "url=http://hsuser:S3CRETPW@127.0.0.1:18751/upload/news/index.m3u8"
echo "done"
EOF
chmod 755 "$T/hook.sh"

job "$T/job.yaml" <<EOF
version: 1
supervisor:
  control: $SOCK
  hooks:
    provision: ["$T/hook.sh", "{stream}", "{component}", "{instance}", "{risk}"]
    timeout: 5s
streams:
  - name: news
    input: { url: "$(lavfi_src 320 180 30)", format: lavfi, realtime: true }
    renditions:
      - { name: main, width: 320, height: 180, bitrate: 300k, gop: 1s, options: { preset: veryfast } }
    outputs:
      - name: origin
        format: hls
        url: http://127.0.0.1:18750/upload/news/index.m3u8
        options: { hls_time: 1, hls_list_size: 0 }
        rw_timeout: 2s
    standby: on_risk
    switch_back: never
    orchestrator: { provision_above: 0, confirm: 2 }
    duration: 20s
EOF

A=$T/origina/www/upload/news
B=$T/originb/www/upload/news
bg "$HS" run --events "$T/events.jsonl" "$T/job.yaml" > "$T/run.log" 2>&1
HSPID=$BG_PID
wait_for 15 grep -q '"kind":"provisioned"' "$T/events.jsonl" ||
    fail "no backup provisioned from the hook's URL in 15 s: $(grep -v '"kind":"start"' "$T/events.jsonl")"
"$HS" ctl --socket "$SOCK" status --json > "$T/status.json" || fail "ctl status exited $?"
wait_for 15 grep -q '^index' "$A/index.m3u8" || fail "the primary origin got no segments"
nginx_kill origina
say "killed the primary origin"
wait_for 10 grep -q '"kind":"switch"' "$T/events.jsonl" || fail "no switch in 10 s after the kill"
"$HS" ctl --socket "$SOCK" status --json > "$T/status2.json" || fail "ctl status exited $?"
wait "$HSPID"; rc=$?
cat "$T/events.jsonl"
assert_eq "exit status" $rc 0

# the hook ran for the output's first backup, with its placeholders
assert_eq "hook argv" "$(head -n 3 "$T/hook.args.1" | paste -sd' ' -)" "news out:origin 1"
sed -n 4p "$T/hook.args.1" | grep -Eq '^0\.[0-9]{3}$' || fail "no {risk} in the hook's argv: $(cat "$T/hook.args.1")"

# in order: the decision, the hook's run, the request, provisioned (same
# seq), the switch to it
line() { grep -n "$1" "$T/events.jsonl" | head -n 1 | cut -d: -f1; }
decided=$(line 'orchestrator: add out:origin.backup (rule risk_high')
ran=$(line 'provision hook done in .*backup at http://\*\*\*@127.0.0.1:18751/upload/news/index.m3u8')
asked=$(grep -n 'asked of the output as out:origin.backup (request' "$T/events.jsonl" | head -n 1)
[ -n "$decided" ] || fail "no decision to ask the hook"
[ -n "$ran" ] || fail "no event for the hook's run with its URL masked"
[ -n "$asked" ] || fail "the hook's URL was not asked of the output"
seq=$(echo "$asked" | sed 's/.*"seq":\([0-9]*\).*/\1/')
provisioned=$(grep -n '"kind":"provisioned"' "$T/events.jsonl" | grep "\"seq\":$seq[,}]" | head -n 1 | cut -d: -f1)
[ -n "$provisioned" ] || fail "no provisioned event for request $seq"
grep '"kind":"provisioned"' "$T/events.jsonl" | grep "\"seq\":$seq[,}]" | grep -q '"component":"out:origin.backup"' ||
    fail "provisioned is not out:origin.backup's"
switched=$(line '"kind":"switch".*out:origin.backup takes over')
[ -n "$switched" ] || fail "no switch to the added backup"
asked=${asked%%:*}
[ "$decided" -lt "$ran" ] && [ "$ran" -lt "$asked" ] && [ "$asked" -lt "$provisioned" ] &&
    [ "$provisioned" -lt "$switched" ] ||
    fail "out of order: decision $decided, hook $ran, request $asked, provisioned $provisioned, switch $switched"
say "decision, hook, request $seq, provisioned, switch: lines $decided $ran $asked $provisioned $switched"

# ctl status: the added backup, ready before the kill and in use after
q='.components[] | select(.id == "news/out:origin")'
assert_eq "instances in ctl status" "$(jq "$q | .instances | length" "$T/status.json")" 2
assert_eq "added backup: state" "$(jq -r "$q | .instances[1].state" "$T/status.json")" ready
assert_eq "added backup: dynamic" "$(jq -r "$q | .instances[1].dynamic" "$T/status.json")" true
assert_eq "primary: dynamic" "$(jq -r "$q | .instances[0].dynamic" "$T/status.json")" false
assert_eq "in use after the kill" "$(jq -r "$q | .in_use" "$T/status2.json")" backup

# a second run after the failover (re-provision) had no capacity: a
# warning with its status and stderr, and nothing added
if [ -f "$T/hook.args.2" ]; then
    grep '"kind":"warning"' "$T/events.jsonl" | grep -q 'provision hook failed with exit status 3.*no capacity left' ||
        fail "the failed second run has no warning"
    assert_eq "hook argv, second run" "$(head -n 3 "$T/hook.args.2" | paste -sd' ' -)" "news out:origin 2"
fi
assert_eq "backups added" "$(grep -c 'asked of the output as' "$T/events.jsonl")" 1

# the credentials: masked everywhere
for f in "$T/events.jsonl" "$T/status.json" "$T/status2.json" "$T/run.log"; do
    grep -q 'S3CRETPW' "$f" && fail "the password reached $(basename "$f")"
    grep -q 'hsuser' "$f" && fail "the user name reached $(basename "$f")"
done

# the backup origin's stream: closed, decodable, continuous, and with the
# primary's segments every frame is somewhere
pl=$B/index.m3u8
[ -f "$pl" ] || fail "no playlist on the backup origin: $(ls -R "$T/originb/www")"
grep -q '#EXT-X-ENDLIST' "$pl" || fail "the backup's playlist is not closed"
assert_eq "backup: decode errors" "$(probe_errors "$pl")" 0
assert_eq "backup: non-increasing dts" "$(probe_nonmonotonic "$pl" v:0)" 0
assert_le "backup: largest pts step (s)" "$(probe_max_gap "$pl" v:0)" 0.0334
set -- $(origins_frames "$A" "$pl" "$T/frames")
first=$1 last=$2
assert_eq "frames on neither origin" "$(frames_missing "$T/frames" "$first" "$last")" 0
assert_eq "frames in all" $((last - first + 1)) 600

# let go: a release of the added backup (here from ctl) closes it and frees
# its slot: ctl status lists the primary alone, and the next backup the
# hook gives takes the same instance again, not a new one (a freed slot is
# not kept closed with a URL whose remote was let go)
cat > "$T/hook2.sh" <<EOF
#!/bin/sh
echo "url=http://hsuser:S3CRETPW@127.0.0.1:18751/upload/rel/index.m3u8"
EOF
chmod 755 "$T/hook2.sh"
sed -e "s|\"$T/hook.sh\"|\"$T/hook2.sh\"|" -e 's|duration: 20s|duration: 14s|' \
    -e "s|$SOCK|$T/rel.sock|" -e 's|18750/upload/news|18751/upload/prim2|' "$T/job.yaml" > "$T/rel.yaml"
bg "$HS" run --events "$T/rel.jsonl" "$T/rel.yaml" > "$T/rel.log" 2>&1
HSPID=$BG_PID
wait_for 15 grep -q '"kind":"provisioned"' "$T/rel.jsonl" || fail "second run: nothing provisioned"
"$HS" ctl --socket "$T/rel.sock" release news/out:origin.backup > "$T/ctl-release.out" 2>&1 ||
    fail "ctl release exited $?: $(cat "$T/ctl-release.out")"
wait_for 5 grep -q '"kind":"released"' "$T/rel.jsonl" || fail "no released event"
sleep 0.5
"$HS" ctl --socket "$T/rel.sock" status --json > "$T/status3.json" || fail "ctl status exited $?"
wait "$HSPID"; rc=$?
grep -v '"kind":"risk"' "$T/rel.jsonl" | grep -v '"kind":"start"'
assert_eq "second run: exit status" $rc 0
grep '"kind":"released"' "$T/rel.jsonl" | grep -q 'released out:origin.backup (ctl): a destination added at run time, its slot is freed' ||
    fail "the added backup was not released and freed"
n=$(jq '.components[] | select(.id == "news/out:origin") | .instances | length' "$T/status3.json")
st=$(jq -r '.components[] | select(.id == "news/out:origin") | .instances[1].state' "$T/status3.json")
# the orchestrator may have asked the hook again already: then instance 1
# is back (opening or ready), never a second one
[ "$n" = 1 ] || { [ "$n" = 2 ] && [ "$st" != vacant ]; } || fail "after the release: $n instances, backup $st"
say "after the release: $n instance(s)"
assert_ge "backups added, released, added again" "$(grep -c 'asked of the output as out:origin.backup (request' "$T/rel.jsonl")" 2
grep -q 'out:origin.backup2' "$T/rel.jsonl" && fail "a freed slot was not used again"
for f in "$T/rel.jsonl" "$T/rel.log" "$T/status3.json" "$T/ctl-release.out"; do
    grep -q 'S3CRETPW' "$f" && fail "the password reached $(basename "$f")"
done
pass
