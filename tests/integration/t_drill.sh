#!/bin/sh
# hotspare drill and hotspare ctl drill. A job whose expectations hold
# (exit 0) and one whose frames_lost and switch_within do not (exit 1,
# failures with their messages); job errors (exit 2, nothing run); the
# JUnit report valid against tests/data/junit/junit.xsd and complete (a
# testcase per check, figures in each system-out), the JSON report's
# fields; --fast and paced runs of the same lavfi jobs give the same
# verdicts; ctl drill on a running supervisor switches to the backup and
# back with no frame lost.
. "$(dirname "$0")/../lib/common.sh"
need xmllint python3
XSD=$TOP/tests/data/junit/junit.xsd
SRC=$(lavfi_src 160 90 30)
BACKUP_SRC="smptebars=size=160x90:rate=30[out0];sine=frequency=440:sample_rate=48000[out1]"

# a stream with a backup for every component; $1: its name, $2: its
# expect: and faults: (indented for the stream)
drill_job() {
    cat <<EOF
version: 1
supervisor: { control: $T/$1.sock }
streams:
  - name: $1
    input:
      url: "$SRC"
      format: lavfi
      loss_timeout: 1s
      backup: { url: "$BACKUP_SRC", format: lavfi }
    renditions:
      - { name: main, bitrate: 100k, gop: 10, options: { preset: ultrafast },
          backup: { encoder: libx264, options: { preset: ultrafast } } }
    outputs:
      - { name: main, format: mpegts, url: $T/out/$1-a.ts, backup: { url: $T/out/$1-b.ts } }
    standby: always
    switch_back: never
    duration: 4s
$2
EOF
}

drill_job good "    expect: { frames_lost: 0, switch_within: 200ms, detect_within: 1s }
    faults:
      - { at: 1s, component: out:main, fault: error }
      - { at: 2s, component: enc:main, fault: error }
      - { at: 2500ms, component: input, action: switch }
      - { at: 3s, component: input, action: switch_back }" > "$T/good.yaml"
# a drop loses frames; no encoder passes a packet on within a microsecond
drill_job bad "    expect: { frames_lost: 0, switch_within: 1us }
    faults:
      - { at: 1s, component: out:main, fault: drop, duration: 500ms }
      - { at: 2s, component: enc:main, fault: error }" > "$T/bad.yaml"

cd "$T" || fail "no $T"

# ---- expectations that hold, and their reports --------------------------------
"$HS" drill --fast --junit good.xml --json good.json good.yaml > good.log 2>&1
assert_eq "drill exit, expectations hold" $? 0
xmllint --noout --schema "$XSD" good.xml 2> xsd.log || fail "good.xml: $(cat xsd.log)"
python3 - good.json good.xml <<'EOF' || fail "good reports (above)"
import json, sys, xml.etree.ElementTree as ET
d = json.load(open(sys.argv[1]))
for k in ("version", "fast", "exit", "tests", "failures", "skipped", "jobs"):
    assert k in d, k
assert d["exit"] == 0 and d["fast"] is True and d["failures"] == 0, d
j = d["jobs"][0]
for k in ("job", "name", "exit", "signal", "timed_out", "timeout_s", "wall_s", "tests",
          "failures", "skipped", "results"):
    assert k in j, k
assert j["name"] == "good" and j["exit"] == 0 and j["timed_out"] is False, j
names = [r["name"] for r in j["results"]]
want = ["frames_lost out:main", "detect_within out:main@1.000s", "switch_within out:main@1.000s",
        "detect_within enc:main@2.000s", "switch_within enc:main@2.000s",
        "switch_within input switch@2.500s", "switch_within input switch_back@3.000s", "exit"]
assert names == want, names
for r in j["results"]:
    for k in ("classname", "stream", "name", "verdict", "ok", "value", "limit", "unit",
              "message", "figures"):
        assert k in r, (k, r)
    assert r["verdict"] == "pass" and r["ok"] and r["message"] is None and r["figures"], r
    assert r["classname"] == ("good" if r["name"] == "exit" else "good.good"), r
    if r["unit"] == "ms":
        assert 0 <= r["value"] <= r["limit"], r
# JUnit: the same checks, each with its figures
cases = ET.parse(sys.argv[2]).getroot().findall("testsuite/testcase")
assert [c.get("name") for c in cases] == want, [c.get("name") for c in cases]
assert all(c.find("system-out") is not None and c.find("system-out").text for c in cases)
assert not any(c.find("failure") is not None for c in cases)
print("good: %d checks, all passed" % len(cases))
EOF

# ---- expectations that do not hold -------------------------------------------------
"$HS" drill --fast --junit bad.xml --json bad.json bad.yaml > bad.log 2>&1
assert_eq "drill exit, expectations fail" $? 1
xmllint --noout --schema "$XSD" bad.xml 2> xsd.log || fail "bad.xml: $(cat xsd.log)"
python3 - bad.json bad.xml <<'EOF' || fail "bad reports (above)"
import json, sys, xml.etree.ElementTree as ET
d = json.load(open(sys.argv[1]))
assert d["exit"] == 1 and d["failures"] == 2, (d["exit"], d["failures"])
res = {r["name"]: r for r in d["jobs"][0]["results"]}
fl, sw = res["frames_lost out:main"], res["switch_within enc:main@2.000s"]
assert fl["verdict"] == "fail" and fl["value"] > 0 and "lost" in fl["message"], fl
assert sw["verdict"] == "fail" and sw["value"] > sw["limit"] and "more than" in sw["message"], sw
assert res["exit"]["verdict"] == "pass", res["exit"]
root = ET.parse(sys.argv[2]).getroot()
assert root.get("failures") == "2", root.attrib
fails = {c.get("name"): c.find("failure") for c in root.iter("testcase")
         if c.find("failure") is not None}
assert sorted(fails) == ["frames_lost out:main", "switch_within enc:main@2.000s"], sorted(fails)
for n, f in fails.items():
    assert f.get("message"), n
print("bad: failures %s" % "; ".join(f.get("message") for f in fails.values()))
EOF
grep -q "the run's files are kept in" bad.log || fail "bad.log does not say where the run's files are"

# ---- job errors: exit 2, nothing run ------------------------------------------------
sed 's/expect: { frames_lost: 0, switch_within: 1us }/expect: { exit: 3 }/' bad.yaml > error.yaml
sed '/duration: 4s/d' good.yaml > endless.yaml
"$HS" drill --fast --json error.json good.yaml error.yaml endless.yaml > error.log 2>&1
assert_eq "drill exit, job errors" $? 2
grep -q "error.yaml:.*'exit' is the run's" error.log || fail "no diagnostic for error.yaml: $(cat error.log)"
grep -q "endless.yaml:4:5: stream 'good' does not end by itself" error.log ||
    fail "no diagnostic for endless.yaml: $(cat error.log)"
grep -q "running" error.log && fail "a job ran despite the job errors"
[ -e error.json ] && fail "a report was written despite the job errors"
"$HS" drill > usage.log 2>&1
assert_eq "drill exit, no job" $? 2

# ---- --fast and paced: the same verdicts ------------------------------------------
"$HS" drill --json paced.json good.yaml bad.yaml > paced.log 2>&1
assert_eq "paced drill exit" $? 1
"$HS" drill --fast --json fast.json good.yaml bad.yaml > fast.log 2>&1
assert_eq "fast drill exit" $? 1
python3 - fast.json paced.json <<'EOF' || fail "--fast and paced verdicts differ (above)"
import json, sys
def verdicts(p):
    return [(j["name"], r["name"], r["verdict"]) for j in json.load(open(p))["jobs"]
            for r in j["results"]]
f, p = verdicts(sys.argv[1]), verdicts(sys.argv[2])
assert f == p, "\n".join("%s  |  %s" % x for x in zip(f, p))
print("fast and paced: the same %d verdicts" % len(f))
EOF

# ---- ctl drill on a running supervisor -------------------------------------------------
sed -e 's/duration: 4s/duration: 60s/' -e '/expect:/,$d' good.yaml > live.yaml
sed -i 's/name: good/name: live/; s/good.sock/live.sock/' live.yaml
bg "$HS" run live.yaml > live.log 2>&1
wait_for 10 "$HS" ctl --socket "$T/live.sock" status || fail "no supervisor: $(cat live.log)"
sleep 1
for c in live/input live/enc:main live/out:main; do
    "$HS" ctl --socket "$T/live.sock" drill "$c" > ctl.log 2>&1
    rc=$?
    cat ctl.log
    assert_eq "ctl drill $c exit" $rc 0
    assert_eq "ctl drill $c first packets" "$(grep -c 'first packet .* ms after it' ctl.log)" 2
    grep -q "live/out:main: 0 frames lost during the drill" ctl.log || fail "frames lost: $(cat ctl.log)"
done
"$HS" ctl --socket "$T/live.sock" drill --json live/out:main > ctl.json 2>&1
assert_eq "ctl drill --json exit" $? 0
python3 - ctl.json <<'EOF' || fail "ctl drill --json (above)"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is True and d["frames_lost_total"] == 0, d
assert [s["to"] for s in d["switches"]] == ["backup", "primary"], d
assert all(s["outcome"] == "switch" and s["first_packet_ms"] >= 0 for s in d["switches"]), d
EOF
"$HS" ctl --socket "$T/live.sock" drill live/nothing > /dev/null 2>&1
assert_eq "ctl drill, unknown component" $? 2
"$HS" ctl --socket "$T/live.sock" stop > /dev/null
pass
