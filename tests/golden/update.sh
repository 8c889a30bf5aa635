#!/usr/bin/env bash
# Rewrites tests/golden/*.out from the current build (after a deliberate output
# change; review `git diff tests/golden` before committing). Usage: update.sh [BUILD]
set -eu
cd "$(dirname "$0")/../.."
bin=${1:-build}/metashim
grep -v '^#' tests/golden/cases.txt | while read -r name rc args; do
	[ -n "$name" ] || continue
	set +e
	# shellcheck disable=SC2086
	"$bin" $args > "tests/golden/$name.out" 2>/dev/null
	got=$?
	set -e
	[ "$got" = "$rc" ] || echo "note: $name exited $got, cases.txt says $rc"
done
echo "updated $(ls tests/golden/*.out | wc -l) golden files"
