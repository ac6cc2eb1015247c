#!/bin/sh
# hotspare-drill.sh: the nightly drills of a channel line-up, for cron.
#
#   15 3 * * * /usr/local/bin/hotspare-drill.sh
#
# Runs every drill job in $DRILL_DIR (default /etc/hotspare/drills) with
# hotspare drill --fast, keeps the JUnit and JSON reports and the summary
# under $REPORT_DIR (default /var/lib/hotspare/drills) named by the date,
# and removes reports older than $KEEP_DAYS (default 30). It prints
# nothing when every expectation held; otherwise the summary goes to
# stdout and the exit status is hotspare drill's (1 an expectation did
# not hold, 2 a job error), so that cron mails it (MAILTO).
set -u

DRILL_DIR=${DRILL_DIR:-/etc/hotspare/drills}
REPORT_DIR=${REPORT_DIR:-/var/lib/hotspare/drills}
KEEP_DAYS=${KEEP_DAYS:-30}
HOTSPARE=${HOTSPARE:-hotspare}

day=$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$REPORT_DIR" || exit 2
# the drills write their outputs relative to the working directory
cd "$REPORT_DIR" || exit 2

set -- "$DRILL_DIR"/*.yaml
if [ ! -e "$1" ]; then
    echo "hotspare-drill: no drill jobs in $DRILL_DIR" >&2
    exit 2
fi

"$HOTSPARE" -v error drill --fast --junit "$REPORT_DIR/$day.xml" --json "$REPORT_DIR/$day.json" \
    "$@" > "$REPORT_DIR/$day.txt" 2>&1
rc=$?

find "$REPORT_DIR" -maxdepth 1 -type f \( -name '*.xml' -o -name '*.json' -o -name '*.txt' \) \
    -mtime +"$KEEP_DAYS" -delete 2>/dev/null
if [ $rc -ne 0 ]; then
    echo "hotspare drills of $day: exit $rc (reports: $REPORT_DIR/$day.{txt,xml,json})"
    echo
    cat "$REPORT_DIR/$day.txt"
fi
exit $rc
