#!/usr/bin/env bash
# demo.sh BUILD — what `make demo` runs: generate a small sharded checkpoint, load it
# with an unmodified CUDA program under `metashim run`, and print the report. On a
# machine with a GPU the example is built against the real CUDA runtime; otherwise
# it runs on the fake CUDA of tests/fakecuda. A second run plants two problems (a
# tensor loaded twice, one never loaded) to show what the report says then.
set -euo pipefail

build=${1:-build}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cuda_home=${CUDA_HOME:-/usr/local/cuda}
metashim=$build/metashim
out=$build/demo
ckpt=$out/checkpoint

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# A GPU is there when nvidia-smi lists one and the driver library is installed.
gpu=""
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 &&
	{ ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 '; } &&
	[ -e "$cuda_home/lib64/libcudart.so" ]; then
	gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
	gpu=${gpu:-$(nvidia-smi -L | head -n 1)}
fi

if [ -n "$gpu" ]; then
	echo "running on the GPU: $gpu"
	make --no-print-directory BUILD=build/gpu CUDA_HOME="$cuda_home" \
		CUDART_DIR="$cuda_home/lib64" CUDART_STATIC="$cuda_home/lib64/libcudart_static.a" \
		examples >/dev/null
	examples=build/gpu/examples
	libpath=$cuda_home/lib64
else
	echo "no GPU found: running on the fake CUDA (tests/fakecuda)"
	examples=$build/examples
	libpath=$build/fakecuda
fi
for f in "$metashim" "$examples/gen_checkpoint" "$examples/load_runtime"; do
	[ -x "$f" ] || { echo "demo: $f is missing; run 'make' first" >&2; exit 1; }
done

# Traces are never overwritten, so each demo starts from an empty directory.
rm -rf "$out"
mkdir -p "$out"

say "1. a Llama-shaped checkpoint: 4 layers, 3 shards (examples/gen_checkpoint)"
"$examples/gen_checkpoint" --out "$ckpt"
ls -l "$ckpt" | sed 1d

say "2. load it with an unmodified CUDA program, under the shim"
echo "\$ METASHIM_CHECKPOINT=$ckpt metashim run --out $out/load-%p.trace -- load_runtime $ckpt"
LD_LIBRARY_PATH=$libpath METASHIM_CHECKPOINT=$ckpt \
	"$metashim" run --out "$out/load-%p.trace" -- "$examples/load_runtime" "$ckpt"

say "3. what it allocated and copied, and whether every layer loaded"
echo "\$ metashim report $out/load-*.trace"
"$metashim" report "$out"/load-*.trace

say "4. the same load with two planted problems: one tensor loaded twice, one never"
twice=model.layers.1.mlp.up_proj.weight
skip=model.layers.2.self_attn.k_proj.weight
echo "\$ ... load_runtime --twice $twice --skip $skip $ckpt"
LD_LIBRARY_PATH=$libpath METASHIM_CHECKPOINT=$ckpt \
	"$metashim" run --out "$out/planted-%p.trace" -- \
	"$examples/load_runtime" --twice "$twice" --skip "$skip" "$ckpt"
echo "\$ metashim report $out/planted-*.trace    (exits 1 when it finds problems)"
rc=0
"$metashim" report "$out"/planted-*.trace || rc=$?
echo "(metashim report exited $rc)"

say "traces are in $out; 'metashim report --help' lists what else it can show"
