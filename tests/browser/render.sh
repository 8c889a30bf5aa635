#!/usr/bin/env bash
# render.sh HTML PNG [DOM] — renders a page in headless Chromium (Debian's chromium,
# see install-chromium.sh): a 1400x1000 screenshot into PNG and, when DOM is given,
# the document as rendered (--dump-dom) into DOM. No network, no GPU, a fresh
# profile per run; each Chromium run is killed after RENDER_TIMEOUT seconds (90);
# RENDER_WINDOW=W,H changes the window (and screenshot) size.
# Used by tests/e2e/test_html_render.c and examples/make_screenshot.sh.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: render.sh HTML PNG [DOM]" >&2; exit 2; }
html=$(realpath "$1")
png=$(realpath -m "$2")
dom=${3:+$(realpath -m "$3")}
chromium=${CHROMIUM:-/usr/bin/chromium}
limit=${RENDER_TIMEOUT:-90}
[ -x "$chromium" ] || { echo "render.sh: $chromium not found (tests/browser/install-chromium.sh)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/metashim-render.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Flags: root in CI needs --no-sandbox; small /dev/shm in containers needs
# --disable-dev-shm-usage; the rest keeps Chromium off the network and quiet.
chrome() { # chrome PROFILE-NAME ARGS...
	local profile="$work/$1"; shift
	mkdir -p "$profile"
	HOME="$work" timeout -k 10 "$limit" "$chromium" --headless --no-sandbox --disable-gpu \
		--disable-quic --no-first-run --no-default-browser-check --disable-background-networking \
		--disable-component-update --disable-sync --disable-extensions --disable-dev-shm-usage \
		--hide-scrollbars --mute-audio --user-data-dir="$profile" --window-size="${RENDER_WINDOW:-1400,1000}" "$@"
}

rm -f "$png"
if ! chrome shot --screenshot="$png" "file://$html" >"$work/shot.log" 2>&1 || [ ! -s "$png" ]; then
	echo "render.sh: chromium made no screenshot of $html; its output:" >&2
	tail -n 30 "$work/shot.log" >&2
	exit 1
fi
if [ -n "$dom" ]; then
	if ! chrome dom --dump-dom "file://$html" >"$dom" 2>"$work/dom.log" || [ ! -s "$dom" ]; then
		echo "render.sh: chromium --dump-dom failed on $html; its output:" >&2
		tail -n 30 "$work/dom.log" >&2
		exit 1
	fi
fi
