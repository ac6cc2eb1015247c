#!/bin/sh
# Inputs past their limits (README, "Limits"): a job file nested 100,000
# levels deep, one of 10 MB and a binary one are each refused by
# hotspare check with exit 2, a message that says which limit, and fast
# (under 2 s of CPU; 0.3 s here, most of it the process starting): the
# limits are checked on the text before libyaml builds a tree, whose time
# grows with the square of the depth (100,000 levels took 23 s).
. "$(dirname "$0")/../lib/common.sh"
need python3

python3 - "$T" <<'PY'
import sys
t = sys.argv[1]
d = 100000
open(t + '/deep.yaml', 'w').write('version: 1\nstreams: ' + '[' * d + ']' * d + '\n')
open(t + '/block.yaml', 'w').write('version: 1\n' + ''.join(' ' * i + 'k:\n' for i in range(1000)))
open(t + '/huge.yaml', 'w').write('version: 1\n' + ('# ' + 'x' * 98 + '\n') * 100000)
open(t + '/binary.yaml', 'wb').write(b'version: 1\n\x7fELF\x02\x01\x01\x00' + bytes(range(256)) * 64)
open(t + '/latin1.yaml', 'wb').write(b'version: 1\nstreams: caf\xe9\n')
PY

# refused FILE PATTERN: exit 2, PATTERN in the output, under 2 s of CPU.
# CPU time (user + system, from the shell's times), not the wall clock:
# on a shared machine the wall clock measures the neighbours (the
# quadratic tree builder took 23 s of CPU on the deep file).
refused() {
    t0=$(date +%s%N)
    ( "$HS" check "$T/$1" > "$T/$1.out" 2>&1; echo $? > "$T/$1.rc"; times > "$T/$1.times" )
    t1=$(date +%s%N)
    rc=$(cat "$T/$1.rc")
    # the second line of times: the children's "0m0.190s 0m0.020s"
    cpu=$(sed -n 2p "$T/$1.times" | awk '{ s = 0
        for (i = 1; i <= NF; i++) { split($i, p, "m"); sub("s", "", p[2]); s += p[1] * 60 + p[2] }
        printf "%d", s * 1000 }')
    cat "$T/$1.out"
    say "$1: $(( (t1 - t0) / 1000000 )) ms of wall clock"
    assert_eq "$1: exit status" "$rc" 2
    grep -q "$2" "$T/$1.out" || fail "$1: no message matching '$2'"
    assert_le "$1: milliseconds of CPU" "$cpu" 2000
}

refused deep.yaml "^$T/deep.yaml:2:[0-9]*: nested deeper than 64 levels"
refused block.yaml "^$T/block.yaml:[0-9]*:[0-9]*: nested deeper than 64 levels"
refused huge.yaml "^$T/huge.yaml: the job file is larger than 4194304 bytes (4 MiB)"
refused binary.yaml "^$T/binary.yaml:2:1: the job file is not text: a control character (0x7f) at byte 11"
refused latin1.yaml "^$T/latin1.yaml:2:13: the job file is not text: a byte that is not UTF-8 (0xe9)"

# 64 levels are still read (and found wrong by the schema, not the limit)
python3 -c "import sys; d=63; open(sys.argv[1],'w').write('version: 1\nx: '+'['*d+']'*d+'\n')" "$T/ok.yaml"
"$HS" check "$T/ok.yaml" > "$T/ok.out" 2>&1
grep -q 'nested deeper' "$T/ok.out" && fail "64 levels refused as too deep"
grep -q "unknown key 'x'" "$T/ok.out" || fail "64 levels: the schema's message is missing"
pass
