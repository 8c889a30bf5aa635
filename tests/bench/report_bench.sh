#!/usr/bin/env bash
# Times `metashim report` on a generated trace of N events (default 10 million
# copies, each with its attr record: 2 lines per event) and prints events/s.
# Usage: tests/bench/report_bench.sh [BUILD] [EVENTS]. The trace is written to
# $TMPDIR and removed afterwards. Aim (issue 5): the whole report under 10 s.
set -eu
build=${1:-build}
events=${2:-10000000}
bin=$build/metashim
[ -x "$bin" ] || { echo "report_bench: no $bin (make first)"; exit 1; }
trace=$(mktemp "${TMPDIR:-/tmp}/metashim-bench-XXXXXX.trace")
trap 'rm -f "$trace"' EXIT
"$bin" gen --copies "$events" --layers 80 --tensors 12 -o "$trace"
size=$(stat -c %s "$trace")
start=$(date +%s.%N)
"$bin" report --no-symbolize "$trace" >/dev/null
end=$(date +%s.%N)
awk -v n="$events" -v s="$start" -v e="$end" -v b="$size" 'BEGIN {
	t = e - s
	printf "report: %d events (%d lines, %.0f MB) in %.2f s: %.2f M events/s, %.2f M lines/s, %.0f MB/s\n",
		n, 2 * n, b / 1e6, t, n / t / 1e6, 2 * n / t / 1e6, b / t / 1e6
}'
