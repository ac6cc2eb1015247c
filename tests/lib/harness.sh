# tests/lib/harness.sh: faults outside hotspare, as they happen in real
# life, for the integration tests and the policy benchmarks. Most come on
# gradually, so that the failure predictor has something to see coming.
# Everything stays on this machine: what listens binds 127.0.0.1, the disk
# is a small filesystem of the test's own, and every fault ends by itself.
# POSIX sh; source it after tests/lib/common.sh, or alone (then from the
# repository root, or with TOP set to it).
#
#   HARNESS_DIR=DIR          private directory for logs and state (default
#                            $T, else a new one removed at exit); the fault
#                            proxies' FP_DIR defaults to it
#
# A competing CPU load that grows (tests/tools/cpuload --help):
#   cpu_load ARGS...         start cpuload ARGS in the background, e.g.
#                            cpu_load --threads 2 --from 0 --to 90 --ramp 60s --hold 30s;
#                            sets CPULOAD_PID and CPULOAD_OUT (its summary line
#                            once it ends: cpu seconds asked and got)
#   cpu_ticks PID            the CPU time of PID so far, in clock ticks
#                            (utime + stime of /proc/PID/stat, all threads)
#   cpu_share PID SECS       the cores PID used over the next SECS (0.5 = half
#                            a core), measured from /proc/PID/stat
#
# An origin (any TCP peer) that slows down, then stalls: tests/tools/faultproxy
# with ramps, through faultproxy.sh (sourced here):
#   fp_start NAME 127.0.0.1:PORT HOST:PORT --schedule "0s:delay 0ms..800ms over 60s,60s:stall"
#   fp_cmd NAME 'bandwidth 2M..50k over 60s up exp'
#
# An RTMP ingest or HTTP origin that hangs: alive, the kernel still accepts
# connections for it, nothing reads or answers:
#   hang_peer PIDFILE|PID [SECS] SIGSTOP the process and its descendants
#                            (an nginx master first, so that it cannot
#                            replace the workers, then the workers); they are
#                            resumed after SECS (default 120) even if the
#                            test is killed before its trap runs
#   resume_peer [PIDFILE|PID]   SIGCONT them (without argument: every hung peer)
#
# A publisher whose packets thin out:
#   thin_publisher NAME PORT rtmp://127.0.0.1:RTMP_PORT/APP/KEY 'RAMP' [SECS]
#                            an ffmpeg publisher (-re, 320x180 30 fps x264
#                            300k + AAC; THIN_SRC overrides the lavfi graph)
#                            pushing through a fault proxy NAME listening on
#                            127.0.0.1:PORT; once it is connected the proxy
#                            runs RAMP, a faultproxy command such as
#                            'bandwidth 60k..5k over 20s up'. SECS (default 30)
#                            of media; sets THIN_PID (ffmpeg, ended by
#                            timeout SECS + 15 s at the latest) and THIN_LOG
#
# A disk that fills:
#   small_fs DIR SIZE        mount a filesystem of SIZE (20m, 512k, 1g) on DIR:
#                            a tmpfs, or a loop-mounted ext4 image where tmpfs
#                            cannot be mounted; sets SMALL_FS_KIND (tmpfs,
#                            ext4). Returns 1 with SMALL_FS_WHY when neither
#                            can: the test skips with it
#   disk_fill DIR FRACTION RATE [ARGS...]
#                            start tests/tools/diskfill in the background:
#                            fill DIR's filesystem at RATE bytes/s (4M, 500k)
#                            up to FRACTION (0.9) as df counts it, then stop;
#                            sets DISKFILL_PID and DISKFILL_OUT
#   fs_used DIR              used / (used + available) of DIR's filesystem,
#                            as df counts it (0.9000)
#
#   harness_cleanup          resume hung peers, stop what the helpers
#                            started, unmount their filesystems. Sourcing
#                            this file runs it at exit before common.sh's
#                            cleanup; a test that sets its own EXIT trap
#                            afterwards calls it from there.
#
# The helpers keep their state in files under HARNESS_DIR, so that they may
# be called from subshells; they return non-zero with a message on stderr
# when they cannot do what they were asked.

HARNESS_TOP=${TOP:-$(pwd)}
HARNESS_TOOLS=${HARNESS_TOOLS:-$HARNESS_TOP/tests/tools}
if [ -z "${HARNESS_DIR:-}" ]; then
    # T may also come from make's command line (make check T=harness)
    if [ -n "${T:-}" ] && [ -d "$T" ]; then
        HARNESS_DIR=$T
    else
        HARNESS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/hs-harness-XXXXXX") || exit 1
        chmod 755 "$HARNESS_DIR"
        harness_own_dir=1
    fi
fi
FP_DIR=${FP_DIR:-$HARNESS_DIR}
FP_BIN=${FP_BIN:-$HARNESS_TOOLS/faultproxy}
# sourcing it twice would forget the proxies already started
command -v fp_start > /dev/null 2>&1 || . "$HARNESS_TOP/tests/lib/faultproxy.sh"

_hs_pids=$HARNESS_DIR/.harness-pids       # one pid a line: ours to stop
_hs_hung=$HARNESS_DIR/.harness-hung       # KEY WATCHDOG PID... a line
_hs_mounts=$HARNESS_DIR/.harness-mounts   # DIR [IMAGE] a line
_hs_seq=0

_hs_own() { echo "$1" >> "$_hs_pids"; }

# ---- CPU -----------------------------------------------------------------------

cpu_load() {
    _hs_seq=$((_hs_seq + 1))
    CPULOAD_OUT=$HARNESS_DIR/cpuload.$_hs_seq.out
    "$HARNESS_TOOLS/cpuload" "$@" > "$CPULOAD_OUT" 2>&1 &
    CPULOAD_PID=$!
    _hs_own $CPULOAD_PID
}

# "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, so
# drop everything up to the last ") "; utime and stime are then fields 12, 13
cpu_ticks() {
    sed 's/.*) //' "/proc/$1/stat" 2> /dev/null | awk '{ print $12 + $13 }'
}

cpu_share() {
    _hs_hz=$(getconf CLK_TCK)
    _hs_t0=$(date +%s%N) _hs_c0=$(cpu_ticks "$1")
    sleep "$2"
    _hs_t1=$(date +%s%N) _hs_c1=$(cpu_ticks "$1")
    [ -n "$_hs_c0" ] && [ -n "$_hs_c1" ] || return 1
    awk -v c="$((_hs_c1 - _hs_c0))" -v hz="$_hs_hz" -v ns="$((_hs_t1 - _hs_t0))" \
        'BEGIN { printf "%.3f\n", c / hz / (ns / 1e9) }'
}

# ---- hung peers ----------------------------------------------------------------

_hs_pid_of() {   # PIDFILE or PID -> PID
    case $1 in
        *[!0-9]*|'') cat "$1" 2> /dev/null ;;
        *) echo "$1" ;;
    esac
}

# the descendants of $1, parents before children
_hs_descendants() {
    sed -n 's/^\([0-9]*\) (.*) [A-Za-z] \([0-9]*\) .*/\1 \2/p' /proc/[0-9]*/stat 2> /dev/null |
        awk -v root="$1" '{ kids[$2] = kids[$2] " " $1 }
            END { q[1] = root; n = 1
                  for (i = 1; i <= n; i++) {
                      m = split(kids[q[i]], k, " ")
                      for (j = 1; j <= m; j++) { q[++n] = k[j]; print k[j] } } }'
}

_hs_state() { sed 's/.*) //' "/proc/$1/stat" 2> /dev/null | cut -d' ' -f1; }

_hs_stopped() {
    for _hs_p in "$@"; do
        [ "$(_hs_state "$_hs_p")" = T ] || return 1
    done
}

hang_peer() {
    _hs_key=$1
    _hs_root=$(_hs_pid_of "$1")
    if [ -z "$_hs_root" ] || ! kill -0 "$_hs_root" 2> /dev/null; then
        echo "hang_peer $1: no such process" >&2
        return 1
    fi
    # the master first: stopped, it cannot start a worker in place of one
    # that stops, so the list of descendants taken after it stays true
    kill -STOP "$_hs_root"
    _hs_all="$_hs_root $(_hs_descendants "$_hs_root" | tr '\n' ' ')"
    for _hs_p in $_hs_all; do
        kill -STOP "$_hs_p" 2> /dev/null
    done
    # a watchdog of its own: the peer comes back even if this shell is
    # killed before its trap runs (sleeps of 1 s: once killed, it is gone
    # within a second)
    (
        _hs_n=${2:-120}
        while [ "$_hs_n" -gt 0 ]; do sleep 1; _hs_n=$((_hs_n - 1)); done
        kill -CONT $_hs_all 2> /dev/null
    ) > /dev/null 2>&1 &
    echo "$_hs_key $! $_hs_all" >> "$_hs_hung"
    fp_wait 5 _hs_stopped $_hs_all || {
        echo "hang_peer $1: not all of $_hs_all stopped" >&2
        return 1
    }
}

resume_peer() {
    [ -s "$_hs_hung" ] || return 0
    : > "$_hs_hung.new"
    while read -r _hs_k _hs_w _hs_ps; do
        if [ $# -gt 0 ] && [ "$_hs_k" != "$1" ]; then
            echo "$_hs_k $_hs_w $_hs_ps" >> "$_hs_hung.new"
            continue
        fi
        kill "$_hs_w" 2> /dev/null
        # children first: the master, continued last, finds its workers
        # running as it left them
        for _hs_p in $(echo $_hs_ps | awk '{ for (i = NF; i > 0; i--) print $i }'); do
            kill -CONT "$_hs_p" 2> /dev/null
        done
    done < "$_hs_hung"
    mv "$_hs_hung.new" "$_hs_hung"
}

# ---- a thinning publisher ------------------------------------------------------

thin_publisher() {
    _hs_name=$1 _hs_port=$2 _hs_url=$3 _hs_ramp=$4 _hs_secs=${5:-30}
    _hs_up=$(echo "$_hs_url" | sed -n 's|^rtmp://\([^/]*\)/.*|\1|p')
    _hs_path=${_hs_url#rtmp://$_hs_up}
    case $_hs_up in
        127.*:*) ;;
        127.*) _hs_up=$_hs_up:1935 ;;
        *) echo "thin_publisher: $_hs_url: want rtmp://127.x.x.x[:PORT]/APP/KEY" >&2
           return 1 ;;
    esac
    # a small buffer: a real uplink pushes back on the encoder within a
    # fraction of a second, where 1 MiB would hide the ramp for 20 s
    fp_start "$_hs_name" "127.0.0.1:$_hs_port" "$_hs_up" --buffer 64Ki || return 1
    _hs_own "$(cat "$FP_DIR/$_hs_name.pid")"
    THIN_LOG=$HARNESS_DIR/$_hs_name.ffmpeg.log
    timeout -k 2 $((_hs_secs + 15)) ffmpeg -hide_banner -nostdin -loglevel warning \
        -re -f lavfi -i "${THIN_SRC:-testsrc2=size=320x180:rate=30[out0];sine=frequency=1000:sample_rate=48000[out1]}" \
        -t "$_hs_secs" -c:v libx264 -preset veryfast -tune zerolatency -g 30 \
        -b:v 300k -maxrate 300k -bufsize 300k -c:a aac -b:a 64k \
        -f flv -flvflags no_duration_filesize "rtmp://127.0.0.1:$_hs_port$_hs_path" \
        > "$THIN_LOG" 2>&1 &
    THIN_PID=$!
    _hs_own $THIN_PID
    # the ramp starts on a stream that is up: what thins is the media, not
    # the RTMP handshake
    fp_wait 10 grep -q "connected to" "$FP_DIR/$_hs_name.log" || {
        echo "thin_publisher: ffmpeg did not connect: $(tail -n 3 "$THIN_LOG")" >&2
        return 1
    }
    fp_cmd "$_hs_name" "$_hs_ramp"
}

# ---- a disk that fills ---------------------------------------------------------

_hs_bytes() {   # 20m -> 20971520, as tmpfs reads sizes
    echo "$1" | awk '{ n = $0 + 0; u = tolower(substr($0, length($0)))
        if (u == "k") n *= 1024; else if (u == "m") n *= 1048576;
        else if (u == "g") n *= 1073741824
        printf "%d\n", n }'
}

small_fs() {
    SMALL_FS_KIND= SMALL_FS_WHY=
    mkdir -p "$1" || { SMALL_FS_WHY="cannot create $1"; return 1; }
    if mount -t tmpfs -o "size=$2,mode=0777" tmpfs "$1" 2> "$HARNESS_DIR/mount.err"; then
        SMALL_FS_KIND=tmpfs
        echo "$1" >> "$_hs_mounts"
        return 0
    fi
    _hs_why="tmpfs: $(cat "$HARNESS_DIR/mount.err")"
    _hs_img=$HARNESS_DIR/fs.$$.$_hs_seq.img
    _hs_seq=$((_hs_seq + 1))
    # -m 0: no blocks reserved for root, so df's fraction is the disk's
    if command -v mkfs.ext4 > /dev/null 2>&1 &&
        truncate -s "$(_hs_bytes "$2")" "$_hs_img" &&
        mkfs.ext4 -q -F -m 0 "$_hs_img" > "$HARNESS_DIR/mount.err" 2>&1 &&
        mount -o loop "$_hs_img" "$1" >> "$HARNESS_DIR/mount.err" 2>&1; then
        chmod 777 "$1"
        SMALL_FS_KIND=ext4
        echo "$1 $_hs_img" >> "$_hs_mounts"
        return 0
    fi
    rm -f "$_hs_img"
    SMALL_FS_WHY="no small filesystem can be mounted here ($_hs_why; ext4 on a loop device: $(tail -n 1 "$HARNESS_DIR/mount.err" 2> /dev/null))"
    return 1
}

disk_fill() {
    _hs_dir=$1 _hs_to=$2 _hs_rate=$3
    shift 3
    _hs_seq=$((_hs_seq + 1))
    DISKFILL_OUT=$HARNESS_DIR/diskfill.$_hs_seq.out
    "$HARNESS_TOOLS/diskfill" --dir "$_hs_dir" --to "$_hs_to" --rate "$_hs_rate" "$@" \
        > "$DISKFILL_OUT" 2>&1 &
    DISKFILL_PID=$!
    _hs_own $DISKFILL_PID
}

fs_used() {
    df -Pk "$1" | awk 'NR == 2 { printf "%.4f\n", $3 / ($3 + $4) }'
}

# ---- cleanup -------------------------------------------------------------------

harness_cleanup() {
    # stopped processes would keep a SIGTERM pending forever
    resume_peer
    if [ -s "$_hs_pids" ]; then
        for _hs_p in $(cat "$_hs_pids"); do kill "$_hs_p" 2> /dev/null; done
        for _hs_p in $(cat "$_hs_pids"); do
            fp_wait 2 fp_exited "$_hs_p" || kill -9 "$_hs_p" 2> /dev/null
        done
        : > "$_hs_pids"
    fi
    fp_stop_all > /dev/null 2>&1
    if [ -s "$_hs_mounts" ]; then
        while read -r _hs_d _hs_img; do
            # lazily when busy: detached now, freed when the last file closes
            umount "$_hs_d" 2> /dev/null || umount -l "$_hs_d" 2> /dev/null
            [ -z "$_hs_img" ] || rm -f "$_hs_img"
        done < "$_hs_mounts"
        : > "$_hs_mounts"
    fi
    [ "${harness_own_dir:-0}" = 1 ] && rm -rf "$HARNESS_DIR"
    return 0
}

if command -v cleanup > /dev/null 2>&1; then
    trap 'harness_cleanup; cleanup' EXIT
else
    trap harness_cleanup EXIT
    trap 'exit 1' INT TERM HUP
fi
