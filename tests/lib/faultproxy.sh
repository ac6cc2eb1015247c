# tests/lib/faultproxy.sh: start, drive and stop tests/tools/faultproxy from
# an integration test. POSIX sh; source it from the repository root.
#
#   FP_DIR=DIR                  a private directory (the test's temporary one)
#                               for each proxy's FIFO, log, stderr and pid
#   fp_start NAME LISTEN CONNECT [OPTION...]
#                               start a proxy in the background with the FIFO
#                               $FP_DIR/NAME.fifo and the log $FP_DIR/NAME.log
#                               and return once it listens (5 s at most)
#   fp_cmd NAME 'COMMAND'       send a command, return once it is applied
#   fp_stop NAME                SIGTERM, wait, return the proxy's exit status
#   fp_stop_all                 fp_stop every proxy still running (for traps)
#   fp_wait SECONDS CMD...      run CMD every 50 ms until it succeeds; fail
#                               after SECONDS
#   fp_exited PID               true when the child PID has exited
#
# fp_cmd knows a command is applied because the proxy logs each control line
# it applied with the line quoted: 'fault: ... (control: "COMMAND")'.

FP_BIN=${FP_BIN:-tests/tools/faultproxy}
fp_names=

# A subshell, so that CMD may itself call fp_wait (through fp_cmd).
fp_wait() (
    n=$(($1 * 20))
    shift
    while [ "$n" -gt 0 ]; do
        "$@" && exit 0
        sleep 0.05
        n=$((n - 1))
    done
    "$@"
)

# kill -0 still succeeds on a child the shell has not reaped: read its state.
fp_exited() {
    _fp_st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 0
    [ -z "$_fp_st" ] || [ "$_fp_st" = Z ]
}

_fp_listening() {
    grep -q '^faultproxy: listening on ' "$FP_DIR/$1.err" 2>/dev/null
}

# listening, or no longer worth waiting for (bad option, port taken)
_fp_started() {
    _fp_listening "$1" || fp_exited "$(cat "$FP_DIR/$1.pid")"
}

fp_start() {
    _fp_name=$1 _fp_listen=$2 _fp_connect=$3
    shift 3
    rm -f "$FP_DIR/$_fp_name.log" "$FP_DIR/$_fp_name.err" "$FP_DIR/$_fp_name.rc"
    "$FP_BIN" --listen "$_fp_listen" --connect "$_fp_connect" \
        --control "$FP_DIR/$_fp_name.fifo" --log "$FP_DIR/$_fp_name.log" \
        "$@" 2> "$FP_DIR/$_fp_name.err" &
    echo $! > "$FP_DIR/$_fp_name.pid"
    case " $fp_names " in
        *" $_fp_name "*) ;;
        *) fp_names="$fp_names $_fp_name" ;;
    esac
    fp_wait 5 _fp_started "$_fp_name"
    if ! _fp_listening "$_fp_name"; then
        echo "fp_start $_fp_name: did not start; its stderr:" >&2
        cat "$FP_DIR/$_fp_name.err" >&2
        return 1
    fi
}

_fp_count_above() {   # _fp_count_above FILE STRING N
    [ "$(grep -cF -- "$2" "$1")" -gt "$3" ]
}

fp_cmd() {
    _fp_log=$FP_DIR/$1.log
    _fp_tag="(control: \"$2\")"
    _fp_before=$(grep -cF -- "$_fp_tag" "$_fp_log")
    # a FIFO with no reader blocks the writer: never wait on a dead proxy
    if ! timeout 5 sh -c 'printf "%s\n" "$1" > "$2"' sh "$2" "$FP_DIR/$1.fifo"; then
        echo "fp_cmd $1: could not write '$2' to the FIFO" >&2
        return 1
    fi
    if ! fp_wait 5 _fp_count_above "$_fp_log" "$_fp_tag" "$_fp_before"; then
        echo "fp_cmd $1: '$2' not applied; last lines of the log:" >&2
        tail -n 5 "$_fp_log" >&2
        return 1
    fi
}

fp_stop() {
    _fp_pid=$(cat "$FP_DIR/$1.pid")
    kill -TERM "$_fp_pid" 2>/dev/null
    fp_wait 5 fp_exited "$_fp_pid" || kill -KILL "$_fp_pid" 2>/dev/null
    wait "$_fp_pid"
    _fp_rc=$?
    echo "$_fp_rc" > "$FP_DIR/$1.rc"
    return "$_fp_rc"
}

fp_stop_all() {
    for _fp_s in $fp_names; do
        [ -e "$FP_DIR/$_fp_s.rc" ] || fp_stop "$_fp_s"
    done
    return 0
}
