#!/usr/bin/env bash
# make bench: what the shim costs, in one run.
#  1. bench_copy (tests/bench/bench_copy.c) with 10, 10 000 and 1 000 000 registered
#     tensors: the same loop of small cudaMemcpy calls on the fake CUDA without the
#     shim, with it (default options: backtraces of 16 frames) and with
#     METASHIM_BACKTRACE=0; copies into random tensors (worst case) and tensor after
#     tensor (a loader). Prints median and p90 ns per copy, the ns the shim adds and
#     the ratio, and how long registering the tensors took.
#  2. tests/bench/report_bench.sh: `metashim report` throughput on a generated trace.
#  3. any tests/bench/bench_vmm*.sh (deferred memory), given the build directory.
# Usage: tests/bench/run.sh [BUILD]. Environment: BENCH_COPIES (copies per run,
# default 200000), BENCH_SIZES (default "10 10000 1000000"), BENCH_ORDERS (default
# "random seq"), BENCH_REPORT_EVENTS (default 10000000; 0 skips the report bench).
set -eu
build=${1:-build}
copies=${BENCH_COPIES:-200000}
sizes=${BENCH_SIZES:-10 10000 1000000}
orders=${BENCH_ORDERS:-random seq}
report_events=${BENCH_REPORT_EVENTS:-10000000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

# The programs are built by bench.mk; build them here too when the top Makefile
# does not include it (the guard in bench.mk makes a double inclusion harmless).
make --no-print-directory -s -C "$root" -f Makefile -f tests/bench/bench.mk BUILD="$build" bench-progs >/dev/null
case "$build" in /*) ;; *) build=$root/$build ;; esac
bin=$build/tests/bench/bench_copy
shim=$build/libmetashim.so
fake=$build/fakecuda
[ -x "$bin" ] && [ -f "$shim" ] && [ -d "$fake" ] || { echo "bench: build first (make BUILD=$build)"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/metashim-bench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# field NAME from a bench_copy line
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# run VARIANT N ORDER: one bench_copy line (its trace goes to $tmp and is removed)
run() {
	local variant=$1 n=$2 order=$3
	case $variant in
	none) env LD_LIBRARY_PATH="$fake" "$bin" "$n" "$copies" 64 "$order" ;;
	shim) env LD_LIBRARY_PATH="$fake" LD_PRELOAD="$shim" METASHIM_QUIET=1 \
		METASHIM_OUT="$tmp/t-%p.trace" "$bin" "$n" "$copies" 64 "$order" ;;
	shim-bt0) env LD_LIBRARY_PATH="$fake" LD_PRELOAD="$shim" METASHIM_QUIET=1 METASHIM_BACKTRACE=0 \
		METASHIM_OUT="$tmp/t-%p.trace" "$bin" "$n" "$copies" 64 "$order" ;;
	esac
	rm -f "$tmp"/t-*.trace*
}

echo "bench: $copies cudaMemcpy calls of 64 bytes per run (fake CUDA, $(nproc) CPUs); ns per copy"
printf '%-8s %-7s %-19s %8s %8s %8s %8s %8s %10s\n' tensors order variant median p90 mean added ratio register_s
for order in $orders; do
	for n in $sizes; do
		base=$(run none "$n" "$order")
		bmed=$(field median_ns "$base")
		for variant in none shim shim-bt0; do
			if [ "$variant" = none ]; then line=$base; else line=$(run "$variant" "$n" "$order"); fi
			med=$(field median_ns "$line") p90=$(field p90_ns "$line") mean=$(field mean_ns "$line")
			reg=$(field register_s "$line")
			label=$variant
			[ "$variant" = shim ] && label="shim (backtrace 16)"
			[ "$variant" = shim-bt0 ] && label="shim (backtrace 0)"
			[ "$variant" = none ] && label="no shim"
			awk -v n="$n" -v o="$order" -v l="$label" -v m="$med" -v p="$p90" -v a="$mean" -v b="$bmed" \
			    -v r="$reg" -v v="$variant" 'BEGIN {
				added = v == "none" ? "-" : sprintf("%d", m - b)
				ratio = v == "none" ? "-" : sprintf("%.2fx", b > 0 ? m / b : 0)
				printf "%-8s %-7s %-19s %8d %8d %8d %8s %8s %10s\n", n, o, l, m, p, a, added, ratio, \
					v == "none" ? "-" : r
			}'
		done
	done
done

if [ "$report_events" != 0 ]; then
	bash "$here/report_bench.sh" "$build" "$report_events"
fi
for extra in "$here"/bench_vmm*.sh; do
	[ -f "$extra" ] && bash "$extra" "$build"
done
exit 0
