#!/usr/bin/env bash
# Installs Debian's chromium for the headless render test of the HTML report
# (tests/e2e/test_html_render.c) when /usr/bin/chromium is absent; safe to run again.
# Exits 0 when chromium is there afterwards, 1 when it could not be installed.
set -u
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] && exit 0
SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || { echo "install-chromium: not root and no sudo" >&2; exit 1; }
	SUDO="sudo -n"
fi
# One installer at a time (parallel test binaries may call this together).
exec 9>"${TMPDIR:-/tmp}/metashim-install-chromium.lock"
flock -w 900 9 || { echo "install-chromium: lock busy" >&2; exit 1; }
[ -x "$CHROMIUM" ] && exit 0
echo "install-chromium: installing chromium (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2 || true
if ! $SUDO timeout 900 apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2; then
	echo "install-chromium: apt-get install chromium failed" >&2
	exit 1
fi
[ -x "$CHROMIUM" ]
