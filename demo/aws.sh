#!/usr/bin/env bash
# A complete AWS game day on this machine, with no AWS account: start moto (an AWS
# emulator) on a free loopback port, seed a "staging twin" of the shop into it
# (demo/seed.py), start the twin's controller beside it (demo/twin.py: it serves the shop
# on 127.0.0.1:18081 and plays the load balancer, Auto Scaling and CloudWatch that moto
# does not model), then plan and run demo/az-failure.yaml against them and print the
# report. Exits with firedrill's exit code (README, "Exit codes"): 0 (passed) — the probe
# sees the zone go, Auto Scaling replaces its instances in 3 s, the shop is whole within
# the 15 s objective and nobody is paged.
#
#   demo/aws.sh [--missed] [SCENARIO]   # default: demo/az-failure.yaml
#
# --missed: Auto Scaling takes 20 s to replace the lost instances, longer than the
# objective: the run ends objective missed (exit 1), and the error-rate alarm pages.
#
# Needs python3 (with the venv module), curl and a Rust toolchain. The first run creates
# .venv/ with moto[server] in it (a minute or two); later runs reuse it.
# FIREDRILL_BIN=/path/to/firedrill uses an already-built binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."

missed=
if [ "${1:-}" = --missed ]; then
  missed=1
  shift
fi
scenario=${1:-demo/az-failure.yaml}
# Seconds an instance is out of service before Auto Scaling (the twin) has replaced it.
if [ -n "$missed" ]; then grace=20; else grace=${FIREDRILL_TWIN_GRACE:-3}; fi
twin_port=18081 # demo/az-failure.yaml probes this port
state=${FIREDRILL_STATE_DIR:-.firedrill}

# 1. moto, in a virtualenv kept in .venv/ (gitignored; or $FIREDRILL_MOTO_VENV), with the
# versions pinned in requirements-test.txt (the tests use the same venv).
scripts/setup-venv
venv=${FIREDRILL_MOTO_VENV:-.venv}

# 2. firedrill (FIREDRILL_BIN: an already-built binary, nothing is built).
if [ -n "${FIREDRILL_BIN:-}" ]; then
  firedrill=$FIREDRILL_BIN
else
  cargo build --quiet --bin firedrill
  firedrill=${CARGO_TARGET_DIR:-target}/debug/firedrill
fi

# 3. moto on a free loopback port. It runs in its own process group: a Ctrl-C, `timeout`
# or CI cancel aimed at this script's group must not stop it before firedrill has
# reverted through it (moto quits on SIGINT/SIGTERM even when they are ignored). It is
# killed when this script exits and, on Linux, when this script is killed outright.
port=$("$venv"/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint="http://127.0.0.1:$port"
moto_log=$(mktemp "${TMPDIR:-/tmp}/firedrill-moto.XXXXXX")
twin_out=$(mktemp "${TMPDIR:-/tmp}/firedrill-twin.XXXXXX")
twin_log=$(mktemp "${TMPDIR:-/tmp}/firedrill-twin-log.XXXXXX")
run_out=$(mktemp "${TMPDIR:-/tmp}/firedrill-run.XXXXXX")
launcher='import ctypes, os, signal, sys
os.setpgid(0, 0)
try:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with demo/aws.sh
except Exception:
    pass
os.execv(sys.argv[1], sys.argv[1:])'
"$venv"/bin/python -c "$launcher" "$venv"/bin/moto_server -H 127.0.0.1 -p "$port" >"$moto_log" 2>&1 &
moto=$!
twin=
cleanup() {
  if [ -n "$twin" ]; then
    kill -KILL "$twin" 2>/dev/null || true
    wait "$twin" 2>/dev/null || true
  fi
  kill -KILL "$moto" 2>/dev/null || true
  wait "$moto" 2>/dev/null || true
  rm -f "$moto_log" "$run_out" "$twin_out" "$twin_log"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ready=
for _ in $(seq 300); do # up to 30 s
  if ! kill -0 "$moto" 2>/dev/null; then
    break
  fi
  if curl -fsS --max-time 1 "$endpoint/moto-api/" >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "moto did not start on $endpoint; its log:" >&2
  cat "$moto_log" >&2
  exit 6
fi
echo "moto is listening on $endpoint" >&2

# 4. The staging twin (seed.py refuses anything but loopback).
echo "Seeding the staging twin (demo/seed.py)..." >&2
"$venv"/bin/python demo/seed.py --endpoint "$endpoint" >/dev/null

# 5. The twin's controller (demo/twin.py, 127.0.0.1 only), launched like moto: it serves
# the shop on $twin_port and makes moto behave like the AWS around the shop.
"$venv"/bin/python -c "$launcher" "$venv"/bin/python demo/twin.py --endpoint "$endpoint" \
  --port "$twin_port" --grace "$grace" >"$twin_out" 2>"$twin_log" &
twin=$!
for _ in $(seq 300); do # up to 30 s
  if [ -s "$twin_out" ] || ! kill -0 "$twin" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
if [ ! -s "$twin_out" ]; then
  echo "the staging twin (demo/twin.py) did not start on 127.0.0.1:$twin_port; its log:" >&2
  cat "$twin_log" >&2
  exit 6
fi
echo "The staging twin serves the shop on http://127.0.0.1:$twin_port/ (Auto Scaling replaces" \
  "lost instances after ${grace}s)" >&2

# 6. The game day. moto accepts any credentials; these keep the AWS SDK off real ones.
unset AWS_PROFILE AWS_SESSION_TOKEN
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1
export FIREDRILL_AWS_POLL=${FIREDRILL_AWS_POLL:-100ms}

echo
"$firedrill" --endpoint-url "$endpoint" plan "$scenario"
echo

# firedrill runs in the background so that a signal to this script reaches it as SIGTERM
# (it aborts and reverts every fault, then writes its report) and moto stays up for that.
"$firedrill" --endpoint-url "$endpoint" --state-dir "$state" run --yes "$scenario" >"$run_out" &
fd=$!
signalled=
trap 'signalled=1; kill -TERM "$fd" 2>/dev/null || true' INT TERM HUP
while :; do
  signalled=
  code=0
  wait "$fd" || code=$?
  [ -n "$signalled" ] || break # else a signal cut `wait` short: wait for the revert
done
trap 'exit 130' INT
trap 'exit 143' TERM
trap - HUP
run_dir=$(cat "$run_out")
echo
if [ -n "$run_dir" ] && [ -f "$run_dir/report.md" ]; then
  cat "$run_dir/report.md"
  echo
  echo "Run directory: $run_dir (report.json, report.md, junit.xml, report.html, journal.jsonl)"
else
  echo "firedrill exited with $code before writing a report" >&2
fi
echo
echo "What the staging twin did (demo/twin.py):"
cat "$twin_log"
echo
case $code in
0) if [ "$scenario" = demo/az-failure.yaml ]; then
  echo "passed (exit 0): the zone's loss was seen, the shop was whole again within the" >&2
  echo "objective, and nobody was paged." >&2
fi ;;
1) if [ -n "$missed" ] && [ "$scenario" = demo/az-failure.yaml ]; then
  echo "objective missed (exit 1), as --missed intends: Auto Scaling took ${grace}s to replace the" >&2
  echo "lost instances, longer than the objective, and the error-rate alarm paged." >&2
else
  echo "objective missed (exit 1)." >&2
fi ;;
8)
  echo "no_impact (exit 8): every fault was injected and reverted, but no probe failed, so" >&2
  echo "recovery was not tested: this scenario's probes cannot see its faults against moto." >&2
  ;;
esac
exit "$code"
