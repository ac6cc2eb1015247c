#!/bin/sh
# hotspare run under a service manager (systemd Type=notify), with a test
# listening on the datagram socket in place of systemd: READY=1 once the
# stream is on air, STATUS= lines, WATCHDOG=1 every half of WATCHDOG_USEC
# while healthy; then a stage is wedged (its encoder stops inside a call
# for 8 s, a `stall` fault: the stage thread itself is blocked, its
# heartbeat stops, while the rest of the process runs on), and the
# WATCHDOG pings stop until it moves again; STOPPING=1 on SIGTERM.
# --pid-file: the pid written, a second run on the file refused (exit 2),
# the file removed at exit, a stale one replaced. Also an abstract socket,
# a watchdog meant for another pid, and a `hang` (given up by the stage's
# own deadline: not a wedge, and the pings go on).
. "$(dirname "$0")/../lib/common.sh"
need python3

# rw_timeout 1 s and a 2 s latency budget (encoder calls: 1 s): every
# blocking call of a stage has a deadline of at most 1 s, so a heartbeat
# older than 2 s (twice that, the shortest bound) is a wedged stage.
job "$T/job.yaml" <<EOF
version: 1
rw_timeout: 1s
supervisor: { control: $T/ctl.sock }
streams:
  - name: n
    input: { url: "$(lavfi_src 160 90 10)", format: lavfi, realtime: true }
    renditions:
      - { name: main, width: 160, height: 90, bitrate: 100k, gop: 1s, options: { preset: ultrafast } }
    outputs:
      - { name: ts, format: mpegts, url: $T/out/a.ts }
    latency_budget: 2s
    duration: 40s
    faults:
      - { at: 5s, component: enc:main, fault: stall, duration: 8s }
EOF
mkdir -p "$T/out"

# The listener: every datagram, one line per KEY=VALUE, stamped with the
# seconds since the listener started (a monotonic clock).
cat > "$T/listen.py" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1].replace("@", "\0", 1) if sys.argv[1][0] == "@" else sys.argv[1])
t0 = time.monotonic()
with open(sys.argv[2], "w") as f:
    while True:
        msg = s.recv(4096).decode()
        t = time.monotonic() - t0
        for line in msg.split("\n"):
            f.write("%.3f %s\n" % (t, line))
        f.flush()
EOF
bg python3 "$T/listen.py" "$T/notify.sock" "$T/notify.log"
wait_for 5 test -S "$T/notify.sock" || fail "the listener did not start"

NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=1000000 \
    bg "$HS" run --pid-file "$T/hs.pid" --events "$T/events.jsonl" "$T/job.yaml" > "$T/run.log" 2>&1
HSPID=$BG_PID

# --pid-file: our pid; a second run on it is refused before it starts
wait_for 5 test -s "$T/hs.pid" || fail "no pid file"
assert_eq "pid file" "$(cat "$T/hs.pid")" "$HSPID"
"$HS" run --pid-file "$T/hs.pid" "$T/job.yaml" > "$T/second.log" 2>&1; rc=$?
assert_eq "second run on the pid file: exit status" $rc 2
grep -q "names a running hotspare (pid $HSPID)" "$T/second.log" || fail "second run: $(cat "$T/second.log")"
assert_eq "pid file after the refused run" "$(cat "$T/hs.pid")" "$HSPID"

wait_for 15 grep -q ' READY=1' "$T/notify.log" || fail "no READY=1: $(cat "$T/notify.log") $(tail -5 "$T/run.log")"
ready=$(awk '$2 == "READY=1" { print $1; exit }' "$T/notify.log")
say "READY=1 at $ready s"
# the same datagram's STATUS=: the stream is on air
status=$(awk -v t="$ready" '$1 == t && $2 ~ /^STATUS=/' "$T/notify.log" | cut -d' ' -f2-)
assert_eq "STATUS with READY" "$status" "STATUS=1 stream: 1 on air, 0 on backup, 0 failed"

# the stall starts at media time 5 s; wait until it has ended and the
# pings have come back
wait_for 30 grep -q 'every stage moves again' "$T/run.log" || \
    fail "the watchdog was never withheld and resumed: $(cat "$T/notify.log") $(tail -20 "$T/run.log")"
sleep 2
kill -TERM "$HSPID"
wait "$HSPID"; rc=$?
assert_eq "exit status after SIGTERM" $rc 255
sleep 0.3
grep -q ' STOPPING=1' "$T/notify.log" || fail "no STOPPING=1: $(tail -5 "$T/notify.log")"
[ -e "$T/hs.pid" ] && fail "the pid file is still there after the run"
say "pid file removed at exit"

# WATCHDOG=1: the gaps between pings. Healthy: about 0.5 s (half of
# WATCHDOG_USEC); the one gap of the wedge: the 8 s stall less the 2 s
# bound, give or take a tick.
awk '$2 == "WATCHDOG=1" { if (n++) print $1 - prev, prev; prev = $1 }' "$T/notify.log" > "$T/gaps"
pings=$(wc -l < "$T/gaps")
assert_ge "WATCHDOG pings" "$pings" 12
big=$(sort -n "$T/gaps" | tail -n 1)
wedge_gap=$(echo "$big" | cut -d' ' -f1)
wedge_from=$(echo "$big" | cut -d' ' -f2)
say "the longest gap between pings: $wedge_gap s, from $wedge_from s"
assert_ge "wedge: gap without WATCHDOG (s)" "$wedge_gap" 5
assert_le "wedge: gap without WATCHDOG (s)" "$wedge_gap" 8.5
second=$(sort -n "$T/gaps" | tail -n 2 | head -n 1 | cut -d' ' -f1)
assert_le "healthy: the longest other gap (s)" "$second" 0.8
stall=$(grep 'stalls for 8' "$T/run.log" | head -n 1)
[ -n "$stall" ] || fail "the stall fault did not fire"
grep -q '^[0-9.]* STATUS=.*watchdog withheld: n/enc:main stuck' "$T/notify.log" || \
    fail "no STATUS naming the stuck stage: $(grep STATUS "$T/notify.log")"
grep 'STATUS=' "$T/notify.log" | sed 's/^/    /'
awk -v w="$wedge_from" '$2 == "WATCHDOG=1" && $1 > w { print "first ping after the wedge: " $1; exit }' "$T/notify.log"

# A short run: a stale pid file (a pid no hotspare has) is replaced; an
# abstract socket (@name) is reached; a watchdog meant for another pid
# (WATCHDOG_PID) gets no ping; the streams' own end is a STOPPING=1 too.
sh -c 'echo $$' > "$T/stale.pid"
sed -i 's/duration: 40s/duration: 2s/; /faults:/,$d' "$T/job.yaml"
abstract=@hs-notify-$$-$(basename "$T")
bg python3 "$T/listen.py" "$abstract" "$T/notify2.log"
wait_for 5 test -e "$T/notify2.log" || fail "the second listener did not start"
NOTIFY_SOCKET=$abstract WATCHDOG_USEC=1000000 WATCHDOG_PID=1 \
    "$HS" run --pid-file "$T/stale.pid" "$T/job.yaml" > "$T/stale.log" 2>&1; rc=$?
assert_eq "run over a stale pid file: exit status" $rc 0
grep -q "replacing the stale pid file" "$T/stale.log" || fail "stale pid file: $(cat "$T/stale.log")"
[ -e "$T/stale.pid" ] && fail "the replaced pid file is still there after the run"
sleep 0.3
grep -q ' READY=1' "$T/notify2.log" || fail "abstract socket: no READY=1: $(cat "$T/notify2.log")"
grep -q ' STOPPING=1' "$T/notify2.log" || fail "abstract socket: no STOPPING=1 at the streams' end"
assert_eq "pings for WATCHDOG_PID=1" "$(grep -c ' WATCHDOG=1' "$T/notify2.log")" 0
grep 'STATUS=' "$T/notify2.log" | tail -n 1 | sed 's/^/    last: /'

# A hang is not a wedge: the encoder stage gives the hung call up after
# its deadline (1 s, half the budget) and its standby takes over, well
# inside the 2 s bound: the pings go on, and STATUS says "on backup".
cat > "$T/hang.yaml" <<EOF
version: 1
rw_timeout: 1s
supervisor: { control: $T/ctl3.sock }
streams:
  - name: n
    input: { url: "$(lavfi_src 160 90 10)", format: lavfi, realtime: true }
    renditions:
      - name: main
        width: 160
        height: 90
        bitrate: 100k
        gop: 1s
        options: { preset: ultrafast }
        backup: { encoder: libx264, options: { preset: ultrafast } }
    outputs:
      - { name: ts, format: mpegts, url: $T/out/h.ts }
    latency_budget: 2s
    duration: 6s
    faults:
      - { at: 2s, component: enc:main, fault: hang }
EOF
bg python3 "$T/listen.py" "$T/notify3.sock" "$T/notify3.log"
wait_for 5 test -S "$T/notify3.sock" || fail "the third listener did not start"
NOTIFY_SOCKET=$T/notify3.sock WATCHDOG_USEC=1000000 "$HS" run "$T/hang.yaml" > "$T/hang.log" 2>&1; rc=$?
assert_eq "hang run: exit status" $rc 0
grep -q 'hung: the encode call did not return' "$T/hang.log" || fail "the hang was not given up: $(tail -5 "$T/hang.log")"
sleep 0.3
grep -q ' STATUS=1 stream: 0 on air, 1 on backup, 0 failed' "$T/notify3.log" || \
    fail "no STATUS on backup: $(grep STATUS "$T/notify3.log")"
hgap=$(awk '$2 == "WATCHDOG=1" { if (n++) print $1 - prev; prev = $1 }' "$T/notify3.log" | sort -n | tail -n 1)
assert_le "hang given up: the longest gap between pings (s)" "$hgap" 0.8
grep -q 'watchdog withheld' "$T/notify3.log" && fail "the watchdog was withheld for a hang the stage gave up"
pass
