#!/bin/sh
#
# t_faultproxy: tests/tools/faultproxy does what it promises, measured from
# outside with tests/tools/tcppeer (echo, sink and source servers, and
# clients that time what they see):
#   - bad arguments exit 2, a taken port exits 1;
#   - pass-through is byte-identical both ways (4 MB, cmp);
#   - delay adds the delay to the round trip, per direction and both;
#   - stall stops the flow for its duration, then it resumes;
#   - a stalled connection buffers up to --buffer and no more (back-pressure);
#   - bandwidth holds the rate within 20 %, downstream and upstream;
#   - a delay ramp moves the round trips along it (the median of each
#     stretch within 10 % + 8 ms), a bandwidth ramp the rate of a download
#     (within 20 %); both then hold their end value; clear ends a ramp;
#   - reset makes the client see a reset, and RSTs new connections for its
#     duration; drop closes new connections;
#   - the schedule fires at its stated times, and its effects show then;
#   - SIGTERM exits 0 with counters, and removes the FIFO it created.
# Ports 19400-19499. Exit 0 pass, 77 skip, other fail.

cd "$(dirname "$0")/../.." || exit 1
set -u
. tests/lib/faultproxy.sh

PEER=tests/tools/tcppeer
for p in "$FP_BIN" "$PEER"; do
    [ -x "$p" ] || { echo "skip: $p not built (make testprogs)"; exit 77; }
done

FP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/t_faultproxy.XXXXXX") || exit 1
T=$FP_DIR
ECHO=127.0.0.1:19401 SOURCE=127.0.0.1:19402 SINK=127.0.0.1:19403
A=127.0.0.1:19410 B=127.0.0.1:19411 C=127.0.0.1:19412 D=127.0.0.1:19413
peer_pids=

cleanup() {
    fp_stop_all > /dev/null 2>&1
    for p in $peer_pids; do kill "$p" 2> /dev/null; done
    rm -rf "$FP_DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- checks and sections -------------------------------------------------------

failures=0
# check DESCRIPTION COMMAND...: the command's status decides; the result is
# printed when its section ends
check() {
    _d=$1
    shift
    if "$@"; then
        sec_out="${sec_out}ok   $_d
"
    else
        sec_out="${sec_out}FAIL $_d
"
        sec_failed=1
    fi
}

# section TRIES FUNC: runs FUNC's checks. A timing section gets TRIES > 1:
# a busy machine can delay a measurement, but a wrong proxy fails every try
# (Redis retries its timing tests the same way).
section() {
    _tries=$1
    shift
    while :; do
        sec_out= sec_failed=0
        "$@"
        _tries=$((_tries - 1))
        [ $sec_failed = 1 ] && [ $_tries -gt 0 ] || break
        printf '%s' "$sec_out" | sed -n 's/^FAIL /     (retrying: /p' | sed 's/$/)/'
    done
    printf '%s' "$sec_out"
    [ $sec_failed = 0 ] || failures=$((failures + 1))
}

# within VALUE LOW HIGH (numbers, decimals allowed)
within() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v != "" && v >= lo && v <= hi) }'; }
# median and max of RTT_MS in "ping SEQ T_MS RTT_MS" lines
rtt_median() { awk '$1 == "ping" { print $4 }' "$1" | sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }
rtt_max() { awk '$1 == "ping" && $4 > m { m = $4 } END { print m + 0 }' "$1"; }
lines() { [ "$(grep -c "$2" "$1" 2> /dev/null)" -ge "$3" ]; }
# the time in seconds of the first line of proxy $1's log that contains $2
log_time() { grep -F -- "$2" "$T/$1.log" | head -n 1 | sed -n 's/^faultproxy: +\([0-9.]*\)s .*/\1/p'; }
rate_of() { sed -n 's/.*rate=\([0-9]*\).*/\1/p'; }

peer_serve() {   # peer_serve ADDR MODE NAME
    "$PEER" serve "$1" "$2" > "$T/$3.out" 2> "$T/$3.err" &
    peer_pids="$peer_pids $!"
    fp_wait 5 lines "$T/$3.err" listening 1 || { cat "$T/$3.err"; exit 1; }
}

# ---- arguments -------------------------------------------------------------------

bad_args() {   # bad_args EXPECTED-MESSAGE ARGS...: exit status 2 and the message
    _m=$1
    shift
    timeout 5 "$FP_BIN" "$@" > /dev/null 2> "$T/args.err"
    _rc=$?
    check "bad arguments ($*): exit $_rc, $(tail -n 1 "$T/args.err")" \
        eval '[ $_rc = 2 ] && grep -q -- "$_m" "$T/args.err"'
}
args_section() {
    bad_args "required"
    bad_args "required" --listen 127.0.0.1:19414
    bad_args "want HOST:PORT" --listen 19414 --connect $ECHO
    bad_args "needs a unit" --listen 127.0.0.1:19414 --connect $ECHO --schedule "5:delay=1s"
    bad_args "unknown command" --listen 127.0.0.1:19414 --connect $ECHO --schedule "1s:explode"
    bad_args "needs a duration" --listen 127.0.0.1:19414 --connect $ECHO --schedule "1s:delay"
    bad_args "unknown unit" --listen 127.0.0.1:19414 --connect $ECHO --schedule "1s:bw=5x"
    bad_args "over how long" --listen 127.0.0.1:19414 --connect $ECHO --schedule "1s:delay 0ms..1s"
    bad_args "above 0" --listen 127.0.0.1:19414 --connect $ECHO --schedule "1s:bw 0..50k over 2s"
    bad_args "only delay and bandwidth" --listen 127.0.0.1:19414 --connect $ECHO --schedule "1s:ramp stall 1s"
    bad_args "bad option" --listen 127.0.0.1:19414 --connect $ECHO --bogus
    : > "$T/notfifo"
    bad_args "not a FIFO" --listen 127.0.0.1:19414 --connect $ECHO --control "$T/notfifo"
}
section 1 args_section

# ---- peers; the schedule proxy starts first and runs beside the rest -------------

peer_serve $ECHO echo echo
peer_serve $SOURCE source source
peer_serve $SINK sink sink

sched_ping=
sched_start() {
    fp_start D $D $ECHO --schedule "2s:clear,1s:delay=100ms, 2500ms:reset" || exit 1
    "$PEER" ping $D 0 20 > "$T/D.ping" 2> "$T/D.pingerr" &
    sched_ping=$!
}
sched_start

fp_start A $A $ECHO || exit 1

# ---- pass-through ----------------------------------------------------------------

passthrough_section() {
    head -c 4000000 /dev/urandom > "$T/in"
    timeout 20 "$PEER" copy $A < "$T/in" > "$T/out"
    check "pass-through: 4 MB echoed byte-identical (cksum $(cksum < "$T/out" | cut -d' ' -f1))" \
        cmp -s "$T/in" "$T/out"
    check "pass-through: the log counts 4000000 bytes each way" \
        grep -q "close (eof) up 4000000 down 4000000" "$T/A.log"
}
section 1 passthrough_section

# ---- delay -----------------------------------------------------------------------

rtt_check() {   # rtt_check COMMAND LOW HIGH: round trip through A after COMMAND
    fp_cmd A "$1"
    timeout 20 "$PEER" ping $A 4 10 > "$T/rtt.ping" 2>&1
    _v=$(rtt_median "$T/rtt.ping")
    check "$1: round trip ${_v} ms (want $2-$3)" within "$_v" "$2" "$3"
}
delay_section() {
    rtt_check "clear" 0 25
    rtt_check "delay 100ms up" 100 130
    rtt_check "delay=100ms" 200 230
    rtt_check "delay 50ms down" 150 180       # up still has its 100ms
    rtt_check "delay 0 up" 50 80
    rtt_check "clear" 0 25
}
section 3 delay_section

# ---- stall -----------------------------------------------------------------------

# the stalled ping comes back late; then the flow must carry on
after_stall() { awk '$1 == "ping" && $4 >= 500 { s = 1; next } s && $1 == "ping" { n++ } END { exit !(n >= 5) }' "$T/stall.ping"; }
stall_section() {
    "$PEER" ping $A 0 20 > "$T/stall.ping" 2>&1 &
    _p=$!
    fp_wait 5 lines "$T/stall.ping" '^ping' 5
    fp_cmd A "stall 1s"
    fp_wait 5 after_stall
    kill $_p 2> /dev/null
    wait $_p 2> /dev/null
    _v=$(rtt_max "$T/stall.ping")
    check "stall 1s: the flow stopped for ${_v} ms (want 900-1200)" within "$_v" 900 1200
    _v=$(awk '$1 == "ping" && $4 >= 500 { s = 1; next } s && $1 == "ping" && $4 > m { m = $4 } END { print m + 0 }' "$T/stall.ping")
    check "stall 1s: then it resumed (worst round trip after it ${_v} ms)" within "$_v" 0 25
    check "stall 1s: the log says it ended" grep -q "stall ended (both)" "$T/A.log"
}
section 3 stall_section

# ---- ramps -----------------------------------------------------------------------

# ms of the proxy's clock on the last line of stdin from its log
log_ms() { sed -n 's/^faultproxy: +\([0-9]*\)\.\([0-9]*\)s .*/\1\2/p' | tail -n 1 | sed 's/^0*//'; }
# ms from the start of ramp CMD on proxy $1 to its connection from the
# client started after it (whose clock starts at the connection, within 1 ms)
ramp_offset() {
    _r=$(grep -F "(control: \"$2\")" "$T/$1.log" | log_ms)
    echo $(($(grep ' open from ' "$T/$1.log" | log_ms) - ${_r:-0}))
}

# A byte sent t ms into "delay 0ms..300ms over 3s up" leaves when the delay,
# still growing 0.1 ms a ms, equals its wait: r = d(t + r); the echo comes
# back at once. Over each stretch of the ramp, the median round trip's
# distance from that must be small: a ramp done in a few big steps, or not
# at all, would not be (a median, because a busy machine delays a ping now
# and then).
ramp_residuals() {   # ramp_residuals OFF FROM TO FILE: round trip - ramp, sorted
    awk -v off="$1" -v lo="$2" -v hi="$3" 'function d(x) { return x < 0 ? 0 : x >= 3000 ? 300 : x * 0.1 }
        $1 == "ping" && $3 + off >= lo && $3 + off <= hi {
            t = $3 + off; r = 0; for (i = 0; i < 50; i++) r = d(t + r)
            printf "%.1f\n", $4 - r }' "$4" | sort -n
}
delay_ramp_section() {
    fp_cmd A "delay 0ms..300ms over 3s up"
    timeout 20 "$PEER" ping $A 0 20 > "$T/ramp.ping" 2>&1 &
    _p=$!
    fp_wait 5 lines "$T/ramp.ping" '^ping' 2
    _off=$(ramp_offset A "delay 0ms..300ms over 3s up")
    fp_wait 6 awk -v off="$_off" '$1 == "ping" && $3 + off > 4400 { f = 1 } END { exit !f }' "$T/ramp.ping"
    kill $_p 2> /dev/null
    wait $_p 2> /dev/null
    # the stretches, and the ramp's value (ms) in the middle of each
    for _w in "200 1000 60" "1000 1800 155" "1800 2900 260" "3200 4400 300"; do
        set -- $_w
        ramp_residuals "$_off" $1 $2 "$T/ramp.ping" > "$T/ramp.res"
        _n=$(wc -l < "$T/ramp.res")
        _v=$(sed -n "$(((_n + 1) / 2))p" "$T/ramp.res")
        _tol=$(($3 / 10 + 8))
        check "delay ramp 0ms..300ms over 3s up, $1-$2 ms: $_n round trips, the median ${_v} ms off the ramp (want 3+, within $_tol)" \
            eval '[ $_n -ge 3 ] && within "$_v" -$_tol $_tol'
    done
    check "delay ramp: the log says it ended at 300ms" grep -q "ramp ended: delay 300ms up" "$T/A.log"
    fp_cmd A "delay 0ms..1s over 10s up"
    sleep 1
    fp_cmd A "clear"
    timeout 20 "$PEER" ping $A 5 10 > "$T/ramp.clear" 2>&1
    _v=$(rtt_median "$T/ramp.clear")
    check "clear ends a ramp: round trip ${_v} ms (want 0-25)" within "$_v" 0 25
}
section 3 delay_ramp_section

# ---- back-pressure and bandwidth -------------------------------------------------

fp_start B $B $SOURCE --buffer 32Ki || exit 1
fp_start C $C $SINK || exit 1

buffered_full() {
    fp_cmd B stats > /dev/null 2>&1 &&
        tail -n 1 "$T/B.log" | grep -q "buffered_down=32768"
}
backpressure_section() {
    fp_cmd B "stall down"
    timeout 20 "$PEER" recv $B 1000000 > "$T/bp.recv" 2>&1 &
    _p=$!
    fp_wait 5 buffered_full
    _v=$(grep stats: "$T/B.log" | tail -n 1 | sed 's/.*buffered_down=\([0-9]*\).*/\1/')
    check "stall down: the proxy buffered ${_v} bytes, all its --buffer 32Ki, and no more" \
        [ "$_v" = 32768 ]
    fp_cmd B "resume down"
    fp_wait 10 fp_exited $_p
    wait $_p
    check "resume down: the stalled download then completes ($(cat "$T/bp.recv"))" \
        grep -q "recv bytes=1000000 " "$T/bp.recv"
}
section 1 backpressure_section

bw_down_section() {
    fp_cmd B "bandwidth 200k down"
    timeout 20 "$PEER" recv $B 300000 > "$T/bw.recv" 2>&1
    _v=$(rate_of < "$T/bw.recv")
    check "bandwidth 200k down: measured ${_v} B/s (want 160000-240000)" \
        within "$_v" 160000 240000
}
section 3 bw_down_section

bw_up_section() {
    fp_cmd C "bw=100k up"
    _n=$(grep -c "bytes=150000 " "$T/sink.out")
    timeout 20 "$PEER" send $C 150000 > "$T/bw.send" 2>&1
    fp_wait 10 lines "$T/sink.out" "bytes=150000 " $((_n + 1))
    _v=$(grep "bytes=150000 " "$T/sink.out" | tail -n 1 | rate_of)
    check "bandwidth 100k up: measured ${_v} B/s at the server (want 80000-120000)" \
        within "$_v" 80000 120000
}
section 3 bw_up_section

# the download's rate from its progress lines between FROM and TO ms into
# the ramp (OFF: ramp_offset)
window_rate() {
    awk -v off="$1" -v lo="$2" -v hi="$3" '$1 == "progress" && $2 + off >= lo && $2 + off <= hi {
            if (!n++) { t0 = $2; b0 = $3 } t1 = $2; b1 = $3 }
        END { if (n > 1 && t1 > t0) printf "%.0f", (b1 - b0) / ((t1 - t0) / 1000) }' "$4"
}
bw_ramp_section() {
    fp_cmd B "bandwidth 400k..100k over 3s down"
    timeout 20 "$PEER" recv $B 1000000 100 > "$T/bwramp.recv" 2>&1
    _off=$(ramp_offset B "bandwidth 400k..100k over 3s down")
    # the cap at the middle of each window: 350k, 150k, then 100k held
    for _w in "200 800 350000" "2200 2800 150000" "3500 4500 100000"; do
        set -- $_w
        _v=$(window_rate "$_off" "$1" "$2" "$T/bwramp.recv")
        check "bandwidth ramp 400k..100k over 3s: ${_v} B/s from $1 to $2 ms (want $3 +-20 %)" \
            within "$_v" $(($3 * 8 / 10)) $(($3 * 12 / 10))
    done
    check "bandwidth ramp: the log says it ended at 100000 B/s" \
        grep -q "ramp ended: bandwidth 100000 B/s down" "$T/B.log"
}
section 3 bw_ramp_section

# ---- reset, refuse and drop ------------------------------------------------------

reset_section() {
    "$PEER" ping $A 0 20 > "$T/reset.ping" 2> "$T/reset.err" &
    _p=$!
    fp_wait 5 lines "$T/reset.ping" '^ping' 3
    fp_cmd A "reset 1s"
    fp_wait 5 fp_exited $_p
    wait $_p
    _rc=$?
    check "reset: the connected client saw a reset (exit $_rc: $(cat "$T/reset.err"))" \
        [ $_rc = 3 ]
    timeout 5 "$PEER" ping $A 1 10 > /dev/null 2> "$T/refused.err"
    _rc=$?
    check "reset 1s: a new connection is reset (exit $_rc: $(cat "$T/refused.err"))" \
        [ $_rc = 3 ]
    fp_wait 3 grep -q "refusing ended" "$T/A.log"
    _v=$(awk -v a="$(log_time A '(control: "reset 1s")')" \
             -v b="$(log_time A "refusing ended")" 'BEGIN { printf "%.3f", b - a }')
    check "reset 1s: refused new connections for ${_v} s" within "$_v" 0.95 1.1
    timeout 5 "$PEER" ping $A 2 10 > /dev/null 2>&1
    check "reset 1s: then connections work again" [ $? = 0 ]

    fp_cmd A "drop"
    timeout 5 "$PEER" ping $A 1 10 > /dev/null 2> "$T/drop.err"
    _rc=$?
    check "drop: a new connection is closed at once (exit $_rc: $(cat "$T/drop.err"))" \
        [ $_rc = 4 ]
    fp_cmd A "clear"
    timeout 5 "$PEER" ping $A 2 10 > /dev/null 2>&1
    check "clear after drop: connections work again" [ $? = 0 ]
}
section 1 reset_section

# ---- the schedule (its first run started with D, above) --------------------------

sched_section() {
    [ -n "$sched_ping" ] || { fp_stop D; sched_start; }
    fp_wait 5 fp_exited $sched_ping
    wait $sched_ping
    _rc=$?
    sched_ping=
    for _at in 1s 2s 2500ms; do
        _want=$(echo $_at | sed 's/ms$//; s/s$/000/')
        _got=$(log_time D "(schedule $_at)")
        _ms=$(awk -v t="$_got" 'BEGIN { printf "%.0f", t * 1000 }')
        check "schedule: '$_at' fired at ${_ms} ms" \
            within "${_got:+$_ms}" "$_want" $((_want + 60))
    done
    # the ping client started within ~100 ms after the proxy: its clock is
    # a little behind, so look well inside each window
    _v=$(awk '$1 == "ping" && $3 < 900 && $4 > m { m = $4 } END { print m + 0 }' "$T/D.ping")
    check "schedule: before 1s, round trip at most ${_v} ms" within "$_v" 0 25
    set -- $(awk '$1 == "ping" && $3 > 1100 && $3 < 1700 { n++; if (!lo || $4 < lo) lo = $4; if ($4 > hi) hi = $4 } END { print n + 0, lo + 0, hi + 0 }' "$T/D.ping")
    check "schedule: from 1s to 2s, $1 round trips of $2-$3 ms (want 200-230)" \
        eval "[ $1 -ge 2 ] && within $2 200 230 && within $3 200 230"
    _v=$(awk '$1 == "ping" && $3 > 2150 && $3 < 2400 && $4 > m { m = $4 } END { print m + 0 }' "$T/D.ping")
    check "schedule: after the 2s clear, round trip at most ${_v} ms" within "$_v" 0 25
    _v=$(sed -n 's/.*reset after \([0-9]*\) ms/\1/p' "$T/D.pingerr")
    check "schedule: the 2500ms reset reached the client (exit $_rc, at ${_v} ms)" \
        eval '[ $_rc = 3 ] && within "$_v" 2350 2600'
}
section 3 sched_section

# ---- exit ------------------------------------------------------------------------

exit_section() {
    timeout 5 "$FP_BIN" --listen $A --connect $ECHO > /dev/null 2> "$T/taken.err"
    _rc=$?
    check "a taken port: exit $_rc, $(cat "$T/taken.err")" \
        eval '[ $_rc = 1 ] && grep -q "in use" "$T/taken.err"'
    fp_stop A
    _rc=$?
    check "SIGTERM: exit status $_rc" [ $_rc = 0 ]
    _c=$(grep "counters:" "$T/A.err")
    check "counters: one reset, one refused, one dropped, no failed connect ($_c)" \
        eval 'echo "$_c" | grep -q "refused=1 dropped=1 failed=0 aborted=[0-9]* resets=1 "'
    check "counters: bytes each way" \
        eval 'echo "$_c" | grep -Eq "up_bytes=400[0-9]{4} down_bytes=400[0-9]{4}"'
    check "the FIFO it created is gone" [ ! -e "$T/A.fifo" ]
    for _n in B C D; do
        fp_stop $_n
        _rc=$?
        check "SIGTERM $_n: exit status $_rc" [ $_rc = 0 ]
    done
}
section 1 exit_section

echo
if [ $failures -gt 0 ]; then
    echo "t_faultproxy: $failures section(s) failed"
    exit 1
fi
echo "t_faultproxy: all passed"
exit 0
