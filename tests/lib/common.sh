# tests/lib/common.sh: sourced by every integration test (POSIX sh).
#
# A test runs from anywhere; it gets
#   TOP       the source tree,      HS   the hotspare binary,
#   T         a private temp dir (0755: nginx workers run as nobody),
# and these helpers:
#   fail MSG / skip MSG / pass          end the test (exit 1 / 77 / 0)
#   bg CMD...                           start a background process, killed at exit
#   wait_for SECS CMD...                retry CMD until it succeeds or time runs out
#   need PROG...                        skip unless every program exists
#   assert_eq NAME GOT WANT, assert_le, assert_ge
#   job FILE <<EOF ... EOF             write a job file
#   probe_* (see probe.sh)

set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
HS=${HOTSPARE:-$TOP/hotspare}
TESTNAME=$(basename "$0" .sh)
T=$(mktemp -d "/tmp/hs-$TESTNAME-XXXXXX")
chmod 755 "$T"
BG_PIDS=

cleanup() {
    for p in $BG_PIDS; do
        kill "$p" 2>/dev/null
    done
    sleep 0.2
    for p in $BG_PIDS; do
        kill -9 "$p" 2>/dev/null
    done
    if [ "${KEEP:-0}" = 1 ]; then
        echo "kept $T"
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

say()  { echo "[$TESTNAME] $*"; }
fail() { echo "[$TESTNAME] FAIL: $*"; exit 1; }
skip() { echo "[$TESTNAME] SKIP: $*"; exit 77; }
pass() { echo "[$TESTNAME] ok"; exit 0; }

need() {
    for p in "$@"; do
        command -v "$p" >/dev/null 2>&1 || skip "$p not installed (./configure --install-deps)"
    done
}

[ -x "$HS" ] || fail "no hotspare binary at $HS (run make)"

# bg CMD...: runs CMD in the background, remembers its pid in BG_PID.
bg() {
    "$@" &
    BG_PID=$!
    BG_PIDS="$BG_PIDS $BG_PID"
}

# wait_for SECS CMD...: polls CMD every 0.1 s.
wait_for() {
    _secs=$1; shift
    _n=$(($_secs * 10))
    while [ $_n -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
        _n=$((_n - 1))
    done
    return 1
}

assert_eq() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; say "$1 = $2"; }
assert_le() { awk -v a="$2" -v b="$3" 'BEGIN{exit !(a+0 <= b+0)}' || fail "$1: $2 > $3"; say "$1 = $2 (<= $3)"; }
assert_ge() { awk -v a="$2" -v b="$3" 'BEGIN{exit !(a+0 >= b+0)}' || fail "$1: $2 < $3"; say "$1 = $2 (>= $3)"; }

job() { cat > "$1"; }

# A lavfi source of video and a tone, small, for jobs: lavfi_src W H FPS
lavfi_src() {
    echo "testsrc2=size=$1x$2:rate=$3[out0];sine=frequency=1000:sample_rate=48000[out1]"
}

. "$TOP/tests/lib/probe.sh"
