#!/usr/bin/env bash
# make_screenshot.sh [BUILD] — regenerates examples/report.png, the picture of the
# HTML report that the README shows: the example checkpoint loaded by load_runtime
# under the shim (fake CUDA, no GPU needed), with one tensor left out and one
# loaded twice (load_runtime's --skip/--twice) so that the problems show, exported
# with `metashim export --format html` and rendered by headless Chromium
# (tests/browser/render.sh; tests/browser/install-chromium.sh installs it).
# SKIP_BUILD=1 uses BUILD as it is; RENDER_WINDOW=W,H changes the picture size.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
B=${1:-build}
[ -n "${SKIP_BUILD:-}" ] || make -s BUILD="$B" all >/dev/null
bash tests/browser/install-chromium.sh
B=$(cd "$B" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/metashim-shot.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Run inside the work directory with short relative names: the report shows them.
ln -s "$B/examples/load_runtime" "$work/load_runtime"
(
	cd "$work"
	"$B/examples/gen_checkpoint" --out ckpt --layers 12 >/dev/null
	# Layers as transformer blocks (model.layers.N), two upload threads on streams.
	LD_LIBRARY_PATH="$B/fakecuda" "$B/metashim" run -q --out "load-%p.trace" \
		--checkpoint ckpt --layer-depth 3 -- \
		./load_runtime --async --threads 2 \
		--skip model.layers.7.mlp.down_proj.weight \
		--twice model.layers.3.self_attn.q_proj.weight ckpt >/dev/null
	"$B/metashim" export --format html -o report.html load-*.trace
)
RENDER_WINDOW=${RENDER_WINDOW:-1400,1600} bash tests/browser/render.sh "$work/report.html" examples/report.png
echo "examples/report.png: $(python3 tests/browser/png_stats.py examples/report.png)"
