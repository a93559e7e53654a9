#!/usr/bin/env bash
# Flake hunter: runs the test suite (library and integration tests; doc tests are
# compiled per run and add nothing here) again and again, alternately with the default
# test threads and with --test-threads=1, next to synthetic CPU load, and reports every
# failure. A test that fails once in 150 loaded runs is a bug.
#
#   scripts/flake-hunt.sh [-n RUNS] [-l HOGS] [-t SECS] [-- extra cargo test args]
#
#   -n RUNS   suite runs (default 20); odd runs use --test-threads=1
#   -l HOGS   busy-looping processes started for the whole hunt (default: the number
#             of cores)
#   -t SECS   per-run limit; a run past it counts as a failure (a hang), default 600
#
# Logs of failed runs are kept in target/flake-hunt/; progress.log gets one line per
# run. Touch target/flake-hunt/pause to hold the hunt (and its hogs) between two runs,
# for instance while a bench needs a quiet machine; remove the file to go on. Exits
# non-zero if any run failed.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=20
hogs=$(nproc 2>/dev/null || echo 2)
limit=600
while [ $# -gt 0 ]; do
  case "$1" in
    -n) runs=$2; shift 2 ;;
    -l) hogs=$2; shift 2 ;;
    -t) limit=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [-n RUNS] [-l HOGS] [-t SECS] [-- cargo test args]" >&2; exit 2 ;;
  esac
done

logdir=target/flake-hunt
mkdir -p "$logdir"
rm -f "$logdir"/run-*.log "$logdir"/progress.log "$logdir"/pause

echo "flake-hunt: building the tests"
cargo test --lib --tests --no-run "$@" >/dev/null 2>&1 || cargo test --lib --tests --no-run "$@"

hog_pids=()
stop_hogs() {
  for pid in "${hog_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap stop_hogs EXIT
for _ in $(seq 1 "$hogs"); do
  (while :; do :; done) &
  hog_pids+=($!)
done

failed=0
start=$(date +%s)
for i in $(seq 1 "$runs"); do
  if [ -e "$logdir/pause" ]; then
    for pid in "${hog_pids[@]}"; do kill -STOP "$pid" 2>/dev/null || true; done
    while [ -e "$logdir/pause" ]; do sleep 2; done
    for pid in "${hog_pids[@]}"; do kill -CONT "$pid" 2>/dev/null || true; done
  fi
  threads=()
  if [ $((i % 2)) -eq 0 ]; then threads=(--test-threads=1); fi
  log="$logdir/run-$i.log"
  if timeout "$limit" cargo test --lib --tests "$@" -- "${threads[@]}" >"$log" 2>&1; then
    rm -f "$log"
  else
    failed=$((failed + 1))
    names=$(grep -E '^test .* \.\.\. FAILED$|^    [a-z_:0-9]+$' "$log" | sed 's/^test //; s/ \.\.\. FAILED$//; s/^ *//' | sort -u | tr '\n' ' ')
    echo "flake-hunt: run $i${threads:+ (${threads[*]})} FAILED: ${names:-see $log} (log: $log)"
  fi
  echo "run $i/$runs done at $(( $(date +%s) - start )) s, $failed failed" >>"$logdir/progress.log"
done
echo "flake-hunt: $runs runs with $hogs CPU hogs in $(( $(date +%s) - start )) s: $failed failed"
[ "$failed" -eq 0 ]
