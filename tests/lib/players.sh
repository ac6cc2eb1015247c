# tests/lib/players.sh: real players in headless Chromium for shell tests
# (tests/browser/play.mjs). Source after common.sh (POSIX sh).
#
#   players_need              skips (77) where Chromium or the players are missing
#   play NAME PLAYER SRC SECONDS [OPTION...]
#                             play.mjs in the background: $T/NAME.json (the
#                             result), $T/NAME.mark (written once playing)
#   await_start NAME [EPOCH_S]
#                             until NAME plays (by EPOCH_S, default 120 s
#                             from now); fails when it does not
#   stop NAME...              ends those runs early (they write their JSON)
#   finish NAME               waits for NAME's play.mjs; skips when Chromium
#                             cannot run here, fails when play.mjs failed
#   jn NAME JQ                a field of NAME's result
#   mark NAME KEY             a field of NAME's mark file
#   now_ms                    the wall clock, epoch milliseconds
#   wait_until EPOCH_S CMD... polls CMD until it succeeds or the wall clock
#                             passes EPOCH_S (wait_for counts polls, which a
#                             loaded machine stretches)

players_need() {
    need node jq
    [ -x /usr/bin/chromium ] || skip "no /usr/bin/chromium (./configure --install-deps)"
    [ -d "$TOP/tests/browser/node_modules/playwright-core" ] ||
        skip "tests/browser/node_modules missing (make check runs npm ci --prefix tests/browser)"
}

play() {
    _pl_n=$1 _pl_p=$2 _pl_s=$3 _pl_sec=$4
    shift 4
    bg node "$TOP/tests/browser/play.mjs" --player "$_pl_p" --src "$_pl_s" --seconds "$_pl_sec" \
        --out "$T/$_pl_n.json" --mark "$T/$_pl_n.mark" "$@" 2> "$T/$_pl_n.err"
    eval "PID_$_pl_n=\$BG_PID"
}

stop() {
    for _pl_n in "$@"; do
        eval "kill -TERM \$PID_$_pl_n" 2>/dev/null
    done
}

finish() {
    eval "_pl_pid=\$PID_$1"
    wait "$_pl_pid"
    _pl_rc=$?
    [ $_pl_rc = 3 ] && skip "Chromium cannot run here: $(tail -n 1 "$T/$1.err")"
    [ $_pl_rc = 0 ] || fail "play.mjs $1 failed (status $_pl_rc): $(tail -n 3 "$T/$1.err")"
    [ -s "$T/$1.json" ] || fail "play.mjs $1 wrote no result"
}

wait_until() {
    _pl_until=$1
    shift
    while ! "$@"; do
        [ "$(date +%s)" -lt "$_pl_until" ] || return 1
        sleep 0.2
    done
}

_pl_up_or_gone() { [ -s "$T/$1.mark" ] || ! kill -0 "$2" 2>/dev/null; }

await_start() {
    eval "_pl_pid=\$PID_$1"
    wait_until "${2:-$(($(date +%s) + 120))}" _pl_up_or_gone "$1" "$_pl_pid"
    [ -s "$T/$1.mark" ] && return 0
    kill -0 "$_pl_pid" 2>/dev/null && stop "$1"
    finish "$1"
    # a run stopped before playing ends with status 4: finish fails first
    fail "$1 did not start playing"
}

jn() { jq -r "$2" "$T/$1.json"; }
mark() { sed -n "s/^$2=//p" "$T/$1.mark"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
