#!/usr/bin/env bash
# bench_vmm.sh BUILD — deferred-memory figures on the fake CUDA: materialization
# throughput in layerwise mode (GB/s of granules materialized plus copies replayed,
# from the trace's materialize records) and the cost of a copy in meta mode next to
# trace mode and no shim. Figures only: nothing here passes or fails on a number.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
case "$build" in /*) ;; *) build=$root/$build ;; esac
bin=$build/tests/bench/bench_vmm
[ -x "$bin" ] || make --no-print-directory -s -C "$root" -f Makefile -f tests/bench/bench.mk BUILD="$build" \
	"$bin" >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { # mode trace-file args...
	local mode=$1 out=$2; shift 2
	if [ "$mode" = none ]; then
		LD_LIBRARY_PATH=$build/fakecuda "$bin" "$@"
	else
		LD_LIBRARY_PATH=$build/fakecuda LD_PRELOAD=$build/libmetashim.so METASHIM_MODE=$mode \
			METASHIM_OUT=$out METASHIM_BACKTRACE=0 "$bin" "$@"
	fi
}
echo "== deferred memory (fake CUDA)"
run layerwise "$tmp/lw.trace" load 8 32 | sed 's/^/  layerwise /'
awk '$1 == "materialize" { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	if (f["ok"] == 1) { b += f["bytes"]; d += f["dur"]; c += f["copies"]; n++ } }
	END { if (d > 0) printf "  materialize: %d layers, %.1f MiB, %d copies replayed, %.2f GB/s (%.2f ms per layer)\n",
		n, b / 1048576, c, b / d, d / n / 1e6 }' "$tmp/lw.trace"
for mode in none trace meta; do
	printf '  %-9s ' "$mode"
	run "$mode" "$tmp/c-$mode.trace" copies 20000 4096
done
