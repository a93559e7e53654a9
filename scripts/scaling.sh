#!/usr/bin/env bash
# Scaling run: every bench at several worker counts, pride next to its peers, and a
# speedup table (throughput against the first worker count) for the rows that should
# grow with the cores: spawn_many, cpu_fanout, par::map, TCP echo and HTTP.
#
#   scripts/scaling.sh [-w "1 2 4 8 16"] [-o DIR] [-b DIR]
#   scripts/scaling.sh --build-only [-b DIR]
#
#   -w LIST   worker counts (default: 1 2 4 ... up to the number of cores)
#   -o DIR    where scaling.md (the tables), raw.log (every bench's output) and
#             progress.log (what the benches print while they run) go (default
#             target/scaling)
#   -b DIR    the bench executables: built and copied there when it does not hold
#             them (default target/scaling/bin). The copies are stripped and named
#             after their bench, so the folder can be taken to a machine without a
#             Rust toolchain or network and run there with `-b`.
#   --build-only   build and copy the executables, run nothing
#
# What runs at each worker count (all of it, both runtimes, interleaved as the benches
# always do): `compare` and `group` and `par` (every row), `sync` (11 samples),
# `timer` (churn and sleeps; the lateness and idle-CPU rows do not depend on the worker
# count), `net` (the echo rows, 5 samples) and `http` (the throughput rows, 3 samples;
# the load generator gets half as many threads as the servers have workers, at least
# 2, unless PRIDE_BENCH_LOAD_THREADS says otherwise). About a minute per worker count
# on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

cores=$(nproc 2>/dev/null || echo 2)
workers=""
out=target/scaling
bin=target/scaling/bin
build_only=false
while [ $# -gt 0 ]; do
  case "$1" in
    -w) workers=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    -b) bin=$2; shift 2 ;;
    --build-only) build_only=true; shift ;;
    *) echo "usage: $0 [-w \"1 2 4 8 16\"] [-o DIR] [-b DIR] | --build-only [-b DIR]" >&2; exit 2 ;;
  esac
done
if [ -z "$workers" ]; then
  w=1
  while [ "$w" -le "$cores" ]; do workers="$workers $w"; w=$((w * 2)); done
fi
for w in $workers; do
  case "$w" in
    '' | *[!0-9]* | 0) echo "scaling: -w takes positive worker counts, got '$w'" >&2; exit 2 ;;
  esac
done

benches="compare group par sync timer net http"

have_all() {
  local b
  for b in $benches; do [ -x "$bin/$b" ] || return 1; done
}

if $build_only || ! have_all; then
  echo "scaling: building the benches into $bin"
  mkdir -p "$bin"
  # Cargo names each executable after its bench and a hash; the JSON messages say which
  # file is which bench.
  cargo bench -p pride-benches --no-run --message-format=json 2>/dev/null |
    grep '"executable":"/' |
    sed -n 's/.*"target":{[^}]*"name":"\([a-z_]*\)".*"executable":"\([^"]*\)".*/\1 \2/p' |
    while read -r name path; do
      case " $benches " in
        *" $name "*) strip -o "$bin/$name" "$path" 2>/dev/null || cp "$path" "$bin/$name" ;;
      esac
    done
  have_all || { echo "scaling: a bench executable is missing from $bin" >&2; exit 1; }
  du -sh "$bin"
fi
$build_only && exit 0

mkdir -p "$out"
raw="$out/raw.log"
progress="$out/progress.log"
: >"$raw"
: >"$progress"
started=$(date +%s)
for w in $workers; do
  load=$((w / 2 < 2 ? 2 : w / 2))
  export PRIDE_BENCH_WORKERS=$w
  for b in $benches; do
    echo "scaling: $w workers, $b" >&2
    echo "### workers=$w bench=$b" >>"$raw"
    case "$b" in
      sync) env PRIDE_BENCH_SAMPLES=11 "$bin/$b" --bench ;;
      timer) "$bin/$b" --bench churn sleeps ;;
      net) env PRIDE_BENCH_SAMPLES=5 "$bin/$b" --bench echo ;;
      http) env PRIDE_BENCH_SAMPLES=3 PRIDE_BENCH_LOAD_THREADS="${PRIDE_BENCH_LOAD_THREADS:-$load}" \
              "$bin/$b" --bench hello ;;
      *) "$bin/$b" --bench ;;
    esac </dev/null >>"$raw" 2>>"$progress" ||
      { echo "scaling: $b failed at $w workers; its last words:" >&2; tail -n 5 "$progress" >&2; exit 1; }
  done
done
echo "scaling: benches took $(($(date +%s) - started)) s" >&2

# The summary: pull the medians of the scaling rows out of the raw tables.
awk -v cores="$cores" -v machine="$(uname -srm)" '
function trim(s) { gsub(/^ +| +$/, "", s); return s }
# "4.40 ms ±6%" or "284.86ms" (a Duration printed by Debug) -> milliseconds.
function ms(cell,   n, unit) {
  cell = trim(cell)
  if (!match(cell, /^[0-9.]+/)) return ""
  n = substr(cell, 1, RLENGTH) + 0
  unit = trim(substr(cell, RLENGTH + 1)); sub(/ .*/, "", unit)
  if (unit == "s") return n * 1000
  if (unit == "ms") return n
  if (unit == "µs" || unit == "us") return n / 1000
  if (unit == "ns") return n / 1e6
  return ""
}
function put(row, who, value, is_rate) {
  if (value == "") return
  val[row, w, who] = value
  rate[row] = is_rate
  if (!((row, who) in seen_who)) { seen_who[row, who] = 1; whos[row] = whos[row] " " who }
}
/^### workers=/ {
  split($2, kv, "="); w = kv[2]; split($3, kb, "="); bench = kb[2]
  if (!(w in seen_w)) { seen_w[w] = 1; ws[++nw] = w }
  next
}
bench == "compare" && /^\| *(spawn_many|cpu_fanout) / {
  split($0, f, "|"); row = trim(f[2])
  put(row, "pride", ms(f[3])); put(row, "tokio", ms(f[4]))
  if (row == "cpu_fanout") put(row, "rayon", ms(f[6]))
}
bench == "par" && $1 == "map_2m" {
  put("par::map (map_2m)", "pride", ms($3 " " $4)); put("par::map (map_2m)", "rayon", ms($8 " " $9))
}
bench == "net" && $1 == "echo_64x1000" { put("echo_64x1000", "pride", ms($3)); put("echo_64x1000", "tokio", ms($5)) }
bench == "http" && $1 == "hello_32x2000" && $2 == "accept" {
  put("hello_32x2000 (req/s)", "pride", $5, 1); put("hello_32x2000 (req/s)", "tokio", $7, 1)
}
END {
  printf "## Speedup\n\n%s, %d cores. Each cell: the median (ms, or requests/s for HTTP) and, in brackets, the speedup over %s worker(s): time at %s / time here, or rate here / rate at %s.\n", machine, cores, ws[1], ws[1], ws[1]
  nrows = split("spawn_many cpu_fanout par::map_(map_2m) echo_64x1000 hello_32x2000_(req/s)", rows, " ")
  for (r = 1; r <= nrows; r++) {
    row = rows[r]; gsub(/_\(/, " (", row)
    if (!(row in whos)) continue
    nwho = split(trim(whos[row]), who, " ")
    printf "\n| %s: workers |", row
    for (i = 1; i <= nwho; i++) printf " %s |", who[i]
    printf "\n| ---: |"
    for (i = 1; i <= nwho; i++) printf " ---: |"
    printf "\n"
    for (k = 1; k <= nw; k++) {
      printf "| %s |", ws[k]
      for (i = 1; i <= nwho; i++) {
        v = val[row, ws[k], who[i]]; base = val[row, ws[1], who[i]]
        if (v == "" || base == "" || v == 0) { printf " - |"; continue }
        up = rate[row] ? v / base : base / v
        printf " %s (%.2f×) |", (rate[row] ? sprintf("%.0f", v) : sprintf("%.3g", v)), up
      }
      printf "\n"
    }
  }
}' "$raw" >"$out/scaling.md"

{
  printf '\n## Every row\n'
  awk '/^### workers=/ { split($2, kv, "="); split($3, kb, "="); printf "\n### %s, %s workers\n\n", kb[2], kv[2]; next } { print }' "$raw"
} >>"$out/scaling.md"
echo "scaling: wrote $out/scaling.md and $raw" >&2
