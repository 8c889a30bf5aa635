#!/usr/bin/env bash
# Runs every Criterion test binary given, then the fuzz smoke runs (tests/fuzz/run.sh
# when present), and prints one closing line: "tests: N passed, N failed".
set -u
build=$1; shift
export METASHIM_TEST_BUILD
METASHIM_TEST_BUILD=$(cd "$build" && pwd)
case "$build" in *san*) export ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 ;; esac
passed=0 failed=0 failing=()
for bin in "$@"; do
	log=$(mktemp)
	"$bin" --jobs 2 --short-filename >"$log" 2>&1
	rc=$?
	synth=$(grep -a 'Synthesis:' "$log" | tail -n 1)
	p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$synth")
	f=$(sed -n 's/.*Failing: \([0-9]*\).*Crashing: \([0-9]*\).*/\1 \2/p' <<<"$synth")
	p=${p:-0}; set -- $f; f=$(( ${1:-0} + ${2:-0} ))
	if [ $rc -ne 0 ] || [ -z "$synth" ]; then
		[ $f -eq 0 ] && f=1
		cat "$log"
		failing+=("$(basename "$bin")")
	else
		echo "$(basename "$bin"): $synth" | sed 's/\x1b\[[0-9;]*m//g'
	fi
	passed=$((passed + p)) failed=$((failed + f))
	rm -f "$log"
done
if [ -x tests/fuzz/run.sh ]; then
	if bash tests/fuzz/run.sh "$build"; then passed=$((passed + 1)); else failed=$((failed + 1)); failing+=(fuzz); fi
fi
[ ${#failing[@]} -gt 0 ] && echo "failing: ${failing[*]}"
echo "tests: $passed passed, $failed failed"
[ $failed -eq 0 ]
