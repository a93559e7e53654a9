#!/usr/bin/env bash
# Flake loop: runs single tests again and again, each run a fresh process, in several
# loops at once, and keeps the log of every failure. Where `flake-hunt.sh` repeats
# whole suites (tens of seconds a run), this repeats one test that takes milliseconds,
# so a failure in a thousand runs shows within a minute.
#
#   scripts/flake-loop.sh [-n RUNS] [-j LOOPS] [-t SECS] TARGET [TEST ...]
#
#   TARGET    the integration test target (`runtime`, `storm`, ...), or `lib`
#   TEST      exact test names (as `cargo test -- --list` prints them, without
#             `: test`); none: every test of the target, one after the other
#   -n RUNS   runs of each test in each loop (default 1000)
#   -j LOOPS  loops running at once (default: the number of cores)
#   -t SECS   per-run limit; a run past it counts as a failure (default 120)
#
# Logs of failed runs are kept in target/flake-loop/<test>.<loop>.<run>.log, and
# progress.log there gets a line per test. Exits non-zero if any run failed.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=1000
loops=$(nproc 2>/dev/null || echo 2)
limit=120
while [ $# -gt 0 ]; do
  case "$1" in
    -n) runs=$2; shift 2 ;;
    -j) loops=$2; shift 2 ;;
    -t) limit=$2; shift 2 ;;
    -*) echo "usage: $0 [-n RUNS] [-j LOOPS] [-t SECS] TARGET [TEST ...]" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ $# -lt 1 ]; then
  echo "usage: $0 [-n RUNS] [-j LOOPS] [-t SECS] TARGET [TEST ...]" >&2
  exit 2
fi
target=$1
shift

if [ "$target" = lib ]; then
  select=(--lib)
else
  select=(--test "$target")
fi
echo "flake-loop: building $target"
binary=$(cargo test "${select[@]}" --no-run --message-format=json 2>/dev/null |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
if [ -z "$binary" ]; then
  cargo test "${select[@]}" --no-run
  echo "flake-loop: no test executable for $target" >&2
  exit 2
fi

mapfile -t all < <("$binary" --list 2>/dev/null | sed -n 's/: test$//p')
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  tests=("${all[@]}")
fi
# A name that matches nothing would pass every run: refuse it.
declare -A known
for test in "${all[@]}"; do known[$test]=1; done
for test in "${tests[@]}"; do
  if [ -z "${known[$test]+set}" ]; then
    echo "flake-loop: $target has no test named $test" >&2
    exit 2
  fi
done

logdir=target/flake-loop
mkdir -p "$logdir"
rm -f "$logdir"/*.log

# One loop: `runs` runs of test $1, as loop number $2; prints its failure count.
one_loop() {
  local test=$1 loop=$2 failed=0 run log
  log=$(mktemp)
  for run in $(seq 1 "$runs"); do
    if ! timeout "$limit" "$binary" --exact "$test" >"$log" 2>&1; then
      failed=$((failed + 1))
      cp "$log" "$logdir/${test//::/.}.$loop.$run.log"
    fi
  done
  rm -f "$log"
  echo "$failed"
}

total=0
for test in "${tests[@]}"; do
  start=$(date +%s)
  pids=()
  outs=()
  for loop in $(seq 1 "$loops"); do
    out=$(mktemp)
    one_loop "$test" "$loop" >"$out" &
    pids+=($!)
    outs+=("$out")
  done
  failed=0
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}"
    failed=$((failed + $(cat "${outs[$i]}")))
    rm -f "${outs[$i]}"
  done
  total=$((total + failed))
  line="$test: $((runs * loops)) runs, $failed failed ($(($(date +%s) - start)) s)"
  echo "$line" | tee -a "$logdir/progress.log"
done
if [ "$total" -gt 0 ]; then
  echo "flake-loop: $total failed runs; logs in $logdir" >&2
  exit 1
fi
echo "flake-loop: no failures"
