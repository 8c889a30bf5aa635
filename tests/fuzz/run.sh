#!/usr/bin/env bash
# Fuzz smoke run: builds every tests/fuzz/fuzz_NAME.c as a libFuzzer binary into
# BUILD/fuzz/ and runs it for a short fixed time on a copy of its seed corpus
# tests/fuzz/corpus/NAME/ (the repository is never written). One line per harness;
# exit status 1 when a harness fails to build or finds a crash, leak or hang.
#
# A harness names what it links on its first line:   // sources: shim/a.c shim/b.c
# Usage: tests/fuzz/run.sh BUILD [SECONDS]   (SECONDS default 10; FUZZ_SECONDS too)
# Sanitizer builds (BUILD contains "san") are skipped unless FUZZ_ALWAYS=1: their
# unit tests already run the same parsers under ASan/UBSan.
set -u
build=${1:?usage: tests/fuzz/run.sh BUILD [SECONDS]}
secs=${2:-${FUZZ_SECONDS:-10}}
cd "$(dirname "$0")/../.."

case "$build" in
*san*) if [ "${FUZZ_ALWAYS:-0}" != 1 ]; then
	echo "fuzz: skipped in sanitizer build $build (its unit tests cover the parsers)"
	exit 0
fi ;;
esac
harnesses=(tests/fuzz/fuzz_*.c)
[ -e "${harnesses[0]}" ] || { echo "fuzz: no harnesses"; exit 0; }
CLANG=${CLANG:-clang}
FLAGS=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-I/usr/local/cuda/include -Ishim -D_GNU_SOURCE)
out=$build/fuzz
mkdir -p "$out"
# Without clang's libFuzzer runtime there is nothing to run: say so, do not fail.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' >"$probe/p.c"
if ! "$CLANG" -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
	echo "fuzz: skipped ($CLANG cannot build libFuzzer programs)"
	exit 0
fi

failed=0
for src in "${harnesses[@]}"; do
	name=$(basename "$src" .c)
	corpus=tests/fuzz/corpus/${name#fuzz_}
	sources=$(sed -n '1s|^// sources:||p' "$src")
	log=$out/$name.log
	# shellcheck disable=SC2086 # sources is a word list
	if ! "$CLANG" "${FLAGS[@]}" -o "$out/$name" "$src" $sources -ljansson >"$log" 2>&1; then
		echo "$name: FAILED to build (see $log)"
		tail -n 20 "$log"
		failed=1
		continue
	fi
	work=$(mktemp -d)
	[ -d "$corpus" ] && cp -R "$corpus/." "$work/"
	seeds=$(find "$work" -type f | wc -l)
	rm -f "$out/$name"-crash-* "$out/$name"-leak-* "$out/$name"-timeout-* "$out/$name"-oom-*
	"$out/$name" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$out/$name-" "$work" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
	grown=$(find "$work" -type f | wc -l)
	rm -rf "$work"
	if [ $rc -ne 0 ]; then
		artifact=$(ls "$out/$name"-* 2>/dev/null | grep -v '\.log$' | head -n 1)
		echo "$name: FAILED (exit $rc) after ${runs:-?} runs; input saved as ${artifact:-?}; log $log"
		grep -m 1 -E 'ERROR|runtime error|deadly signal' "$log"
		failed=1
	else
		echo "$name: ok, ${runs:-?} runs in ${secs}s, ${cov:-cov: ?}, corpus $seeds -> $grown"
	fi
done
exit $failed
