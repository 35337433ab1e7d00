#!/usr/bin/env bash
# A complete local game day: build firedrill, start the demo web service on
# 127.0.0.1:18080, run scenarios/local-web-outage.yaml against it, print the report.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --bin firedrill
state=${FIREDRILL_STATE_DIR:-.firedrill}

python3 demo/webapp.py --port 18080 --heal-after 2 &
web=$!
trap 'kill "$web" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -fsS http://127.0.0.1:18080/health >/dev/null 2>&1 && break
  sleep 0.1
done

code=0
run_dir=$("${CARGO_TARGET_DIR:-target}/debug/firedrill" --state-dir "$state" run --yes scenarios/local-web-outage.yaml) || code=$?
echo
cat "$run_dir/report.md"
echo
echo "Run directory: $run_dir (report.json, report.md, junit.xml, report.html, journal.jsonl)"

# Monthly game days on a calendar (docs/schedule.md): the next ones, in the calendar's
# time zone and in UTC, and which a freeze skips.
echo
echo "Next game days of scenarios/calendar.yaml:"
"${CARGO_TARGET_DIR:-target}/debug/firedrill" --state-dir "$state" schedule next scenarios/calendar.yaml --count 4
exit "$code"
