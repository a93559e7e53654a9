#!/usr/bin/env bash
# ThreadSanitizer over the integration suite (and the library's unit tests).
#
#   scripts/tsan.sh [cargo test args, e.g. --test group_cancel]
#
# Needs a nightly toolchain with rust-src (`rustup +nightly component add rust-src`):
# the standard library is rebuilt instrumented (-Zbuild-std), else every std atomic is
# invisible to TSan and it reports races that are not there. Builds into
# target/tsan; the first build takes several minutes.
#
# Suppressions (scripts/tsan.supp), each argued there: none of them is in pride's
# own code. Known, not suppressed: reports at `pool::unique_mut` (a Relaxed
# `strong_count` read then an Acquire fence; TSan does not model fences, so it cannot
# see the ordering). They belong to src/pool.rs and go with it if the pools go; else
# an Acquire load there under a TSan build would silence them honestly.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "tsan: skipped: no nightly toolchain (rustup toolchain install nightly)" >&2
  exit 0
fi
if ! rustup +nightly component list --installed 2>/dev/null | grep -q '^rust-src'; then
  echo "tsan: skipped: nightly has no rust-src (rustup +nightly component add rust-src)" >&2
  exit 0
fi

target=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Zsanitizer=thread"
export RUSTDOCFLAGS="-Zsanitizer=thread"
export TSAN_OPTIONS="suppressions=$PWD/scripts/tsan.supp halt_on_error=0 report_signal_unsafe=0 ${TSAN_OPTIONS:-}"
# TSan's shadow memory does not fit a large stack per thread; keep test threads few.
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-2}
if [ $# -eq 0 ]; then set -- --lib --tests; fi
cargo +nightly test -Zbuild-std --target "$target" --target-dir target/tsan "$@" 2>&1 |
  tee target/tsan.log
status=${PIPESTATUS[0]}
reports=$(grep -c '^WARNING: ThreadSanitizer' target/tsan.log || true)
echo "tsan: $reports report(s); full log in target/tsan.log"
[ "$status" -eq 0 ] && [ "$reports" -eq 0 ]
