#!/bin/sh
# The fault harness (tests/lib/harness.sh and its tools), each fault checked
# against a measurement taken from outside the tool that makes it:
#   - cpuload: its CPU share from /proc/PID/stat near the start and the end
#     of its ramp, against the duty cycle asked; it ends by itself, and at
#     once on SIGTERM, saying what it did;
#   - the fault proxy's delay ramp: the latency of real HTTP requests to
#     nginx through it, early in the ramp, late in it, and after it;
#   - hang_peer: a SIGSTOPped nginx (master and worker) accepts TCP but
#     answers neither an HTTP request nor an RTMP handshake until
#     resume_peer, and then answers the same connections;
#   - thin_publisher: what nginx records from the ffmpeg publisher thins out
#     with the proxy's bandwidth ramp;
#   - diskfill: the small filesystem ends at the fraction asked (df), at the
#     rate asked;
#   - cleanup: a script that uses every helper and exits leaves no mount,
#     process or stopped peer behind; one killed with SIGKILL leaves its
#     hung peer to the watchdog, which resumes it.
# Ports 19730-19734, 18730.
. "$(dirname "$0")/../lib/common.sh"
need ffmpeg
. "$TOP/tests/lib/nginx.sh"
. "$TOP/tests/lib/harness.sh"
PEER=$TOP/tests/tools/tcppeer
HTTP=127.0.0.1:18730 RTMP=127.0.0.1:19730

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# within NAME VALUE LOW HIGH
within() {
    awk -v v="$2" -v lo="$3" -v hi="$4" 'BEGIN { exit !(v != "" && v >= lo && v <= hi) }' ||
        fail "$1: $2, want $3 to $4"
    say "$1 = $2 (want $3 to $4)"
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$2"; }   # field KEY FILE

# ---- cpuload ---------------------------------------------------------------------

# 2 threads from 5 % to 35 % of a core each over 6 s: 0.10 to 0.70 cores.
# At nice -10, so that the builds sharing this machine do not take the share
# the tool asks for: what is measured here is the tool, not the machine.
hz=$(getconf CLK_TCK)
t_start=$(now_ms)
cpu_load --threads 2 --from 5 --to 35 --ramp 6s --hold 1s --nice -10
expect_cores() {   # the cores asked at ms after the start
    awk -v t="$1" 'BEGIN { d = t >= 6000 ? 0.35 : 0.05 + 0.30 * t / 6000; printf "%.3f", 2 * d }'
}
# measure_share FROM_MS TO_MS: the cores cpuload used between the two times
measure_share() {
    while [ $(($(now_ms) - t_start)) -lt "$1" ]; do sleep 0.05; done
    _ta=$(now_ms) _ca=$(cpu_ticks $CPULOAD_PID)
    while [ $(($(now_ms) - t_start)) -lt "$2" ]; do sleep 0.05; done
    _tb=$(now_ms) _cb=$(cpu_ticks $CPULOAD_PID)
    got=$(awk -v c=$((_cb - _ca)) -v hz="$hz" -v ms=$((_tb - _ta)) 'BEGIN { printf "%.3f", c / hz / (ms / 1000) }')
    want=$(expect_cores $(((_ta + _tb) / 2 - t_start)))
}
measure_share 300 1500
within "cpuload: cores used early in the ramp (asked $want)" "$got" \
    "$(awk -v w="$want" 'BEGIN { print w - 0.05 }')" "$(awk -v w="$want" 'BEGIN { print w + 0.05 }')"
early=$got
measure_share 4500 5800
within "cpuload: cores used late in the ramp (asked $want)" "$got" \
    "$(awk -v w="$want" 'BEGIN { print w - 0.08 }')" "$(awk -v w="$want" 'BEGIN { print w + 0.05 }')"
awk -v a="$early" -v b="$got" 'BEGIN { exit !(b > 2 * a) }' || fail "cpuload: the load did not grow ($early, then $got)"
wait_for 3 fp_exited $CPULOAD_PID || fail "cpuload did not stop by itself after ramp + hold"
wait $CPULOAD_PID
assert_eq "cpuload: exit status" $? 0
cat "$CPULOAD_OUT"
assert_eq "cpuload: ended" "$(field ended "$CPULOAD_OUT")" done
within "cpuload: wall seconds" "$(field wall_s "$CPULOAD_OUT")" 7.0 7.2
within "cpuload: CPU seconds in the ramp, over what it asked" \
    "$(awk -v a="$(field ramp_cpu_s "$CPULOAD_OUT")" -v b="$(field ramp_asked_s "$CPULOAD_OUT")" 'BEGIN { printf "%.3f", a / b }')" 0.9 1.02

cpu_load --from 50 --to 50 --hold 60s
sleep 0.5
kill -TERM $CPULOAD_PID
t0=$(now_ms)
wait_for 2 fp_exited $CPULOAD_PID || fail "cpuload did not stop on SIGTERM"
wait $CPULOAD_PID
rc=$?
assert_le "cpuload: stopped after SIGTERM within (ms)" $(($(now_ms) - t0)) 300
assert_eq "cpuload: exit status after SIGTERM" $rc 0
assert_eq "cpuload: ended" "$(field ended "$CPULOAD_OUT")" signal

# ---- the fault proxy's delay ramp, on HTTP requests to nginx --------------------

nginx_start ng 19730 18730
http_ask() {   # http_ask WAIT_MS: one GET through the proxy; sets lat_ms
    printf 'GET /nothing HTTP/1.0\r\n\r\n' | "$PEER" ask 127.0.0.1:19731 "$1" > "$T/ask.out"
    lat_ms=$(awk '/^ask connected_ms=/ { sub(/.*=/, "", $2); c = $2 }
                  /^answer / { sub(/first_ms=/, "", $2); print $2 - c }' "$T/ask.out")
}
# A request that reaches the proxy t ms into the ramp leaves when the delay,
# still growing 100 ms a second, equals its wait: r1 = d(t + r1); its
# answer likewise: r2 = d(t + r1 + r2). Solved by iteration (d's slope is
# 0.1). t comes from the proxy's own log (the connection against the ramp's
# start), so that the shell's delays do not count.
expect_lat() {
    awk -v t="$1" 'function d(x) { return x >= 4000 ? 400 : x * 0.1 }
                   function wait(at,   r, i) { r = 0; for (i = 0; i < 50; i++) r = d(at + r); return r }
                   BEGIN { r1 = wait(t); printf "%.0f", r1 + wait(t + r1) }'
}
log_ms() { sed -n 's/^faultproxy: +\([0-9]*\)\.\([0-9]*\)s .*/\1\2/p' | tail -n 1 | sed 's/^0*//'; }
fp_start dly 127.0.0.1:19731 $HTTP || fail "the fault proxy did not start"
http_ask 5000
assert_le "proxy: HTTP latency with no fault (ms)" "${lat_ms:-9999}" 30
fp_cmd dly "delay 0ms..400ms over 4s"
t_ramp=$(now_ms)
ramp_ms=$(grep -F '(control: "delay 0ms..400ms over 4s")' "$T/dly.log" | log_ms)
for at in 300 2000 3000 5000; do
    while [ $(($(now_ms) - t_ramp)) -lt $at ]; do sleep 0.02; done
    http_ask 5000
    t_conn=$(($(grep ' open from ' "$T/dly.log" | log_ms) - ramp_ms))
    want=$(expect_lat $t_conn)
    within "proxy: HTTP latency $t_conn ms into the ramp (ms)" "${lat_ms:-}" \
        $((want * 9 / 10 - 15)) $((want * 11 / 10 + 15))
done
grep -q "ramp ended: delay 400ms both" "$T/dly.log" || fail "the proxy did not log the ramp's end"
fp_stop dly

# ---- a hung nginx ----------------------------------------------------------------

rtmp_c0c1() { printf '\003'; head -c 1536 /dev/zero; }
hang_peer "$T/ng/nginx.pid" || fail "hang_peer"
master=$(cat "$T/ng/nginx.pid")
worker=$(pgrep -P "$master" | head -n 1)
[ -n "$worker" ] || fail "no nginx worker"
assert_eq "hung: the master's state" "$(sed 's/.*) //' /proc/$master/stat | cut -d' ' -f1)" T
assert_eq "hung: the worker's state" "$(sed 's/.*) //' /proc/$worker/stat | cut -d' ' -f1)" T
t_hang=$(now_ms)
printf 'GET /nothing HTTP/1.0\r\n\r\n' | "$PEER" ask $HTTP 10000 > "$T/hung.http" &
ask_http=$!
rtmp_c0c1 | "$PEER" ask $RTMP 10000 > "$T/hung.rtmp" &
ask_rtmp=$!
sleep 2
grep -q "^ask connected_ms=.* sent=25" "$T/hung.http" || fail "hung: HTTP connection not accepted: $(cat "$T/hung.http")"
grep -q "^ask connected_ms=.* sent=1537" "$T/hung.rtmp" || fail "hung: RTMP connection not accepted: $(cat "$T/hung.rtmp")"
say "hung: both connections accepted"
grep -q '^answer' "$T/hung.http" "$T/hung.rtmp" && fail "a hung nginx answered: $(cat "$T/hung.http" "$T/hung.rtmp")"
say "hung: no answer in 2 s"
t_resume=$(now_ms)
resume_peer "$T/ng/nginx.pid"
wait $ask_http || fail "resumed: no HTTP answer: $(cat "$T/hung.http")"
wait $ask_rtmp || fail "resumed: no RTMP answer: $(cat "$T/hung.rtmp")"
cat "$T/hung.http" "$T/hung.rtmp"
assert_eq "resumed: HTTP answer starts" "$(sed -n 's/.*head=\(........\).*/\1/p' "$T/hung.http")" 48545450
assert_eq "resumed: RTMP S0 (version 3)" "$(sed -n 's/.*head=\(..\).*/\1/p' "$T/hung.rtmp")" 03
assert_ge "resumed: RTMP S0+S1+S2 bytes" "$(field bytes "$T/hung.rtmp")" 3073
# the answers came after the resume, not before: first_ms counts from each
# client's start, soon after t_hang (200 ms allowed for it to start)
for f in http rtmp; do
    assert_ge "resumed: $f answered after (ms)" "$(field first_ms "$T/hung.$f" | cut -d. -f1)" \
        $((t_resume - t_hang - 200))
done

# ---- a publisher that thins out ---------------------------------------------------

thin_publisher thin 19733 rtmp://$RTMP/live/thin 'bandwidth 60k..6k over 6s up' 10 ||
    fail "thin_publisher"
t_thin=$(now_ms)
rec=$T/ng/rec/thin.flv
size_at() {   # size_at MS: the recording's size at MS after the ramp began
    while [ $(($(now_ms) - t_thin)) -lt "$1" ]; do sleep 0.02; done
    stat -c %s "$rec" 2> /dev/null || echo 0
}
s1=$(size_at 500) s2=$(size_at 1500) s3=$(size_at 5000) s4=$(size_at 6000)
early=$((s2 - s1)) late=$((s4 - s3))
say "thin: recording $s1, $s2, $s3, $s4 bytes at 0.5, 1.5, 5, 6 s"
# the stream is about 47 kB/s; the cap moves 9 kB/s a second: 51k-42k over
# the first window, 15k-6k over the last one (mean 10.5k)
within "thin: bytes/s reaching nginx early in the ramp" $early 30000 60000
within "thin: bytes/s reaching nginx late in the ramp" $late 5000 14000
wait_for 30 fp_exited $THIN_PID || fail "the publisher did not end"
fp_stop thin

# ---- cleanup ---------------------------------------------------------------------

check_cleanup() {   # the cleanup: after a script that used the helpers exited
    cat > "$T/child.sh" <<'EOF'
cd "$TOP" || exit 1
. tests/lib/harness.sh
{
    echo "dir $HARNESS_DIR"
    if [ "$HOW" = exit ]; then
        small_fs "$HARNESS_DIR/fs" 4m || exit 77
        echo "mount $HARNESS_DIR/fs"
        disk_fill "$HARNESS_DIR/fs" 0.9 10k
        echo "pid $DISKFILL_PID"
        cpu_load --from 1 --to 1 --hold 60s
        echo "pid $CPULOAD_PID"
        fp_start px 127.0.0.1:19734 127.0.0.1:18730 || exit 1
        echo "pid $(cat "$FP_DIR/px.pid")"
    fi
    hang_peer "$VICTIM" 2 || exit 1
} > "$STATE"
[ "$HOW" = kill ] && kill -9 $$     # no trap runs
exit 0
EOF
    # T and FP_DIR empty: make exports T (make check T=harness), and the
    # child must make and remove a directory of its own
    _st=$T/child.state _victim=$T/ng/nginx.pid _child=$T/child.sh
    T= FP_DIR= TOP=$TOP STATE=$_st VICTIM=$_victim HOW=$1 sh "$_child"
    say "child ($1) exit status $?"
}
ng_answers() {
    printf 'GET /nothing HTTP/1.0\r\n\r\n' | "$PEER" ask $HTTP 500 > "$T/ng.ask"
}

check_cleanup exit
while read -r what arg; do
    case $what in
        dir)   [ ! -e "$arg" ] || fail "cleanup: $arg is still there" ;;
        mount) grep -q " $arg " /proc/mounts && fail "cleanup: $arg is still mounted" ;;
        pid)   fp_exited "$arg" || fail "cleanup: process $arg still runs: $(cat /proc/$arg/cmdline | tr '\0' ' ')" ;;
    esac
done < "$T/child.state"
ng_answers || fail "cleanup: nginx was left hung"
say "cleanup: after exit, no mount, process or hung peer left ($(wc -l < "$T/child.state") things checked)"
check_cleanup kill
assert_eq "killed: the peer is still hung" "$(sed 's/.*) //' /proc/$master/stat | cut -d' ' -f1)" T
wait_for 4 ng_answers || fail "killed: the watchdog did not resume the peer"
say "killed: the watchdog resumed the peer"
rm -rf "$(sed -n 's/^dir //p' "$T/child.state")"     # its trap did not run
nginx_stop ng

# ---- a disk that fills -----------------------------------------------------------

small_fs "$T/disk" 20m || skip "$SMALL_FS_WHY"
say "small filesystem: $SMALL_FS_KIND, $(df -Pk "$T/disk" | awk 'NR == 2 { print $2 }') KiB"
assert_le "disk: used before" "$(fs_used "$T/disk")" 0.01
t0=$(now_ms)
disk_fill "$T/disk" 0.5 4M
wait $DISKFILL_PID
rc=$?
secs=$(awk -v ms=$(($(now_ms) - t0)) 'BEGIN { printf "%.2f", ms / 1000 }')
cat "$DISKFILL_OUT"
assert_eq "diskfill: exit status" $rc 0
within "disk: used after filling to 0.5" "$(fs_used "$T/disk")" 0.4990 0.5020
# 20 MiB half full at 4 MB/s (tmpfs: 10.49 MB to write; ext4 a little less)
within "diskfill: seconds it took" "$secs" 2.0 3.2
within "diskfill: rate (B/s)" "$(field rate "$DISKFILL_OUT")" 3600000 4200000

# the second fill, watched on the way: 2 MB/s on 20 MiB is 0.095 a second
disk_fill "$T/disk" 0.8 2M
t0=$(now_ms)
sleep 1
u1=$(fs_used "$T/disk")
t1=$(now_ms)
within "disk: used after about 1 s at 2 MB/s" "$u1" \
    "$(awk -v ms=$((t1 - t0)) 'BEGIN { print 0.5 + 0.0954 * ms / 1000 - 0.03 }')" \
    "$(awk -v ms=$((t1 - t0)) 'BEGIN { print 0.5 + 0.0954 * ms / 1000 + 0.03 }')"
wait $DISKFILL_PID
assert_eq "diskfill: exit status" $? 0
within "disk: used after filling to 0.8" "$(fs_used "$T/disk")" 0.7990 0.8020
"$TOP/tests/tools/diskfill" --dir / --to 0.5 --rate 1k > /dev/null 2> "$T/big.err"
assert_eq "diskfill: refuses a filesystem over 4 GiB (exit status)" $? 2
pass
