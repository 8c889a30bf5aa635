#!/usr/bin/env bash
# qualify.sh — the real-hardware qualification of metashim (see shared/GPU.md):
# builds against the installed CUDA, runs the example loaders and a PyTorch
# from_pretrained under the shim, checks every host-to-device byte was seen and
# every layer completed, and ends with a PASS/FAIL/SKIP table. Everything it
# writes (full log, traces, exported reports, summary) goes to
# ${QUALIFY_OUT:-./qualify-out}. Every step has a timeout; the whole run takes a
# few minutes.
#
#   tests/gpu/qualify.sh                 on a GPU machine
#   QUALIFY_FAKE=1 tests/gpu/qualify.sh  the same steps on the fake CUDA (no torch,
#                                        JAX, CuPy rows), to check the script itself
# Knobs: CUDA_HOME (/usr/local/cuda), PYTHON (python3), QUALIFY_STEP_TIMEOUT (s, 180),
# QUALIFY_BUILD (build dir; build/gpu, or build/qualify-fake with QUALIFY_FAKE=1).
set -u

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root" || exit 2
FAKE=${QUALIFY_FAKE:-0}
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
PY=${PYTHON:-python3}
T=${QUALIFY_STEP_TIMEOUT:-180}
QOUT=${QUALIFY_OUT:-./qualify-out}
mkdir -p "$QOUT" && QOUT=$(cd "$QOUT" && pwd)
work=$QOUT/work
rm -rf "$work" && mkdir -p "$work"
log=$QOUT/qualify.log
: >"$log"
exec > >(tee -a "$log") 2>&1
started=$(date +%s)

if [ "$FAKE" = 1 ]; then
	B=${QUALIFY_BUILD:-build/qualify-fake}
	libpath=$root/$B/fakecuda
else
	B=${QUALIFY_BUILD:-build/gpu}
	libpath=$CUDA_HOME/lib64
fi
ex=$root/$B/examples
tool=$root/$B/metashim
shim=$root/$B/libmetashim.so

# ------------------------------------------------------------------ bookkeeping
names=() states=() details=()
record() { # record NAME PASS|FAIL|SKIP DETAIL
	names+=("$1") states+=("$2") details+=("${3:-}")
	printf -- '--> %s  %s%s\n' "$2" "$1" "${3:+  ($3)}"
}
step() { printf '\n=== %s\n' "$*"; }
# Run a command with the step timeout; its output goes to the log.
t() { timeout -k 5 "$T" "$@"; }
# Under the shim: t_shim TRACE_PATTERN CMD... (extra METASHIM_* from the caller's env)
t_shim() {
	local pat=$1
	shift
	LD_LIBRARY_PATH=$libpath LD_PRELOAD=$shim METASHIM_OUT=$pat timeout -k 5 "$T" "$@"
}

# "COUNT BYTES" of successful host-to-device copy records in the traces given.
h2d() {
	awk '$1 == "copy" {
		d = ""; b = 0; rc = "0"
		for (i = 2; i <= NF; i++) {
			e = index($i, "="); k = substr($i, 1, e - 1); v = substr($i, e + 1)
			if (k == "dir") d = v; else if (k == "bytes") b = v; else if (k == "rc") rc = v
		}
		if (d == "H2D" && rc == "0") { n++; s += b }
	} END { printf "%d %.0f\n", n, s }' "$@"
}
# "LAYERS COMPLETE UNATTR_BYTES" from the descriptor records of the traces given.
layers() {
	awk '{
		for (i = 2; i <= NF; i++) { e = index($i, "="); f[substr($i, 1, e - 1)] = substr($i, e + 1) }
		if ($1 == "layer") nl++
		else if ($1 == "complete" && !(f["layer"] in done)) { done[f["layer"]] = 1; nc++ }
		else if ($1 == "unattr") u += f["bytes"]
		delete f
	} END { printf "%d %d %.0f\n", nl, nc, u }' "$@"
}
# "TENSORS BYTES" of a safetensors directory, read independently of metashim.
ckpt_bytes() {
	"$PY" - "$1" <<'EOF'
import glob, json, os, struct, sys
n = total = 0
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.safetensors"))):
    with open(f, "rb") as fh:
        hdr = json.loads(fh.read(struct.unpack("<Q", fh.read(8))[0]))
    for k, v in hdr.items():
        if k != "__metadata__":
            n += 1
            total += v["data_offsets"][1] - v["data_offsets"][0]
print(n, total)
EOF
}

# ---------------------------------------------------------------- the machine
step "machine"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  host: $(hostname)  commit: $(git rev-parse --short HEAD 2>/dev/null)"
gpu_name=""
if [ "$FAKE" = 1 ]; then
	record "GPU present" SKIP "QUALIFY_FAKE=1: fake CUDA"
elif t nvidia-smi -L; then
	gpu_name=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -n 1)
	record "GPU present" PASS "$gpu_name"
else
	record "GPU present" FAIL "nvidia-smi -L failed"
fi

# ---------------------------------------------------------------------- build
step "build ($B)"
if [ "$FAKE" = 1 ]; then
	t make -j8 --no-print-directory BUILD="$B" all
else
	t make -j8 --no-print-directory BUILD="$B" CUDA_HOME="$CUDA_HOME" CUDART_DIR="$CUDA_HOME/lib64" \
		CUDART_STATIC="$CUDA_HOME/lib64/libcudart_static.a" examples
fi
rc=$?
if [ $rc -eq 0 ] && [ -x "$ex/load_runtime" ] && [ -e "$shim" ] && [ -x "$tool" ]; then
	record "build against $([ "$FAKE" = 1 ] && echo "the fake CUDA" || echo "$CUDA_HOME")" PASS
else
	record "build" FAIL "make exited $rc"
	built=0
fi
built=${built:-1}

step "exports and dependencies of libmetashim.so"
if [ "$built" = 1 ]; then
	# hooks (cuda*, cu*, dlsym), the mmap family (host mappings, DESIGN.md), the API
	bad=$(nm -D --defined-only "$shim" | awk '{print $NF}' |
		grep -Ev '^(cuda[A-Z]|cu[A-Z]|dlsym$|mmap$|mmap64$|munmap$|mremap$|metashim_)' || true)
	cudadeps=$(ldd "$shim" | grep -Ei 'libcuda|libcudart|libnvidia' || true)
	if [ -z "$bad" ] && [ -z "$cudadeps" ]; then
		record "shim exports only hooks, needs no CUDA library" PASS \
			"$(nm -D --defined-only "$shim" | wc -l) symbols"
	else
		record "shim exports only hooks, needs no CUDA library" FAIL \
			"extra: $(echo $bad | head -c 120) deps: $(echo $cudadeps | head -c 80)"
	fi
fi

# ------------------------------------------------------------ example loaders
ck=$work/ckpt
if [ "$built" = 1 ]; then
	step "example checkpoint"
	t "$ex/gen_checkpoint" --out "$ck" --layers 8 --hidden 512 --inter 1536 --vocab 2048 --shards 3
	read -r ck_n ck_b < <(ckpt_bytes "$ck")
	echo "checkpoint: $ck_n tensors, $ck_b bytes"
fi

# loader_check NAME BINARY [OPTIONS...]: traced bytes == checkpoint bytes, one
# record per tensor, and device contents identical with and without the shim.
loader_check() {
	local name=$1 bin=$2
	shift 2
	local d=$work/$name
	mkdir -p "$d"
	step "$name: $bin $*"
	if ! LD_LIBRARY_PATH=$libpath t "$bin" "$@" --dump "$d/plain.bin" "$ck"; then
		record "$name: runs without the shim" FAIL
		return
	fi
	if ! t_shim "$d/%p.trace" "$bin" "$@" --dump "$d/shim.bin" "$ck"; then
		record "$name: runs under the shim" FAIL
		return
	fi
	local n b
	read -r n b < <(h2d "$d"/*.trace)
	if [ "$b" = "$ck_b" ] && [ "$n" = "$ck_n" ]; then
		record "$name: traced H2D bytes == checkpoint bytes" PASS "$n copies, $b bytes"
	else
		record "$name: traced H2D bytes == checkpoint bytes" FAIL \
			"$n copies/$ck_n tensors, $b/$ck_b bytes"
	fi
	if cmp -s "$d/plain.bin" "$d/shim.bin" && [ "$(stat -c %s "$d/plain.bin")" = "$ck_b" ]; then
		record "$name: device contents identical with and without the shim" PASS
	else
		record "$name: device contents identical with and without the shim" FAIL \
			"$(cmp "$d/plain.bin" "$d/shim.bin" 2>&1 | head -n 1)"
	fi
}

if [ "$built" = 1 ]; then
	loader_check load_runtime "$ex/load_runtime"
	loader_check load_runtime_async "$ex/load_runtime" --async --arena --threads 8
	loader_check load_driver "$ex/load_driver"
	loader_check load_runtime_static "$ex/load_runtime_static" --async

	step "load_runtime under METASHIM_CHECKPOINT: every layer complete, report clean"
	d=$work/attribution
	mkdir -p "$d"
	METASHIM_CHECKPOINT=$ck t_shim "$d/clean-%p.trace" "$ex/load_runtime" "$ck"
	read -r nl nc u < <(layers "$d"/clean-*.trace)
	t "$tool" report "$d"/clean-*.trace >"$QOUT/example-report.txt" 2>&1
	rc=$?
	if [ "$nl" -gt 0 ] && [ "$nl" = "$nc" ] && [ "$u" = 0 ] && [ $rc -eq 0 ]; then
		record "example loader: every layer complete, report clean" PASS "$nc/$nl layers"
	else
		record "example loader: every layer complete, report clean" FAIL \
			"$nc/$nl layers complete, $u bytes unattributed, report exit $rc"
	fi
	METASHIM_CHECKPOINT=$ck t_shim "$d/twice-%p.trace" "$ex/load_runtime" \
		--twice model.layers.1.mlp.up_proj.weight "$ck" >/dev/null
	t "$tool" report "$d"/twice-*.trace >"$QOUT/example-twice-report.txt" 2>&1
	rc=$?
	if [ $rc -eq 1 ] && grep -q model.layers.1.mlp.up_proj "$QOUT/example-twice-report.txt"; then
		record "example loader: a planted double load is reported" PASS
	else
		record "example loader: a planted double load is reported" FAIL "report exit $rc"
	fi
fi

# ------------------------------------------------------------------ PyTorch
have_py() { [ "$FAKE" != 1 ] && t "$PY" -c "import $1" >/dev/null 2>&1; }
hf=$work/llama

# Python helpers, written once into the work directory.
cat >"$work/make_llama.py" <<'EOF'
# A small Llama with random weights, saved locally in 3+ safetensors shards (no downloads).
import sys, torch
from transformers import LlamaConfig, LlamaForCausalLM
torch.manual_seed(0)
cfg = LlamaConfig(hidden_size=512, intermediate_size=1536, num_hidden_layers=8,
                  num_attention_heads=8, num_key_value_heads=4, vocab_size=8192,
                  max_position_embeddings=512, tie_word_embeddings=False)
model = LlamaForCausalLM(cfg).to(torch.bfloat16)
model.save_pretrained(sys.argv[1], max_shard_size="20MB", safe_serialization=True)
print("params", sum(p.numel() for p in model.parameters()))
EOF
cat >"$work/from_pretrained.py" <<'EOF'
# from_pretrained onto the GPU; prints the bytes of what it loaded and GPU memory used.
import json, sys, torch
from transformers import AutoModelForCausalLM
free0, total = torch.cuda.mem_get_info()
model = AutoModelForCausalLM.from_pretrained(sys.argv[1], device_map="cuda", dtype=torch.bfloat16)
torch.cuda.synchronize()
free1, _ = torch.cuda.mem_get_info()
pb = sum(p.numel() * p.element_size() for p in model.parameters())
bb = sum(b.numel() * b.element_size() for b in model.buffers())
print(json.dumps({"param_bytes": pb, "buffer_bytes": bb, "gpu_used": free0 - free1}))
EOF

cat >"$work/layerwise_load.py" <<EOF
# normal: from_pretrained on the CPU, then to the GPU. layerwise (under the shim,
# METASHIM_MODE=layerwise): the model is made on "meta", given uninitialized CUDA
# storage (deferred), bound with metashim_torch, its buffers copied from a CPU
# instance and its weights copied in from the shards; metashim_finalize ends the
# load. Then logits of a short forward pass are saved; memory is printed as JSON.
import ctypes, glob, json, os, sys, torch
sys.path.insert(0, "$root/examples/torch")
from transformers import AutoConfig, AutoModelForCausalLM
from safetensors import safe_open
mode, ckpt, out = sys.argv[1:4]
free0, _ = torch.cuda.mem_get_info()
incomplete = 0
if mode == "normal":
    model = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.bfloat16).to("cuda")
else:
    import metashim_torch as mt
    mt.attach()
    cfg = AutoConfig.from_pretrained(ckpt)
    cpu = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    model = model.to_empty(device="cuda")
    mt.register_module(model)
    cpu_bufs = dict(cpu.named_buffers())
    with torch.no_grad():
        for name, b in model.named_buffers():
            b.copy_(cpu_bufs[name])
        params = dict(model.named_parameters())
        for f in sorted(glob.glob(os.path.join(ckpt, "*.safetensors"))):
            with safe_open(f, "pt") as st:
                for k in st.keys():
                    params[k].copy_(st.get_tensor(k))
    torch.cuda.synchronize()
    fin = ctypes.CDLL(None).metashim_finalize
    fin.restype = ctypes.c_int
    incomplete = fin()
model.eval()
ids = torch.arange(1, 33, device="cuda").unsqueeze(0)
with torch.no_grad():
    logits = model(ids).logits.float().cpu()
torch.cuda.synchronize()
free1, _ = torch.cuda.mem_get_info()
torch.save(logits, out)
print(json.dumps({"gpu_used": free0 - free1, "max_allocated": torch.cuda.max_memory_allocated(),
                  "incomplete_layers": incomplete}))
sys.exit(0 if incomplete == 0 else 1)
EOF

if have_py torch && have_py transformers && [ "$built" = 1 ]; then
	step "a small Llama checkpoint, made locally"
	if t "$PY" "$work/make_llama.py" "$hf" && ls "$hf"/*.safetensors >/dev/null 2>&1; then
		read -r hf_n hf_b < <(ckpt_bytes "$hf")
		record "transformers: local Llama checkpoint" PASS \
			"$hf_n tensors, $hf_b bytes, $(ls "$hf"/*.safetensors | wc -l) shards"
	else
		record "transformers: local Llama checkpoint" FAIL
		hf_b=""
	fi
else
	record "PyTorch + transformers checks" SKIP \
		"$([ "$FAKE" = 1 ] && echo QUALIFY_FAKE=1 || echo "torch/transformers not importable")"
	hf_b=""
fi

if [ -n "$hf_b" ]; then
	d=$work/torch
	mkdir -p "$d"
	step "from_pretrained(device_map=cuda) under the shim"
	if t_shim "$d/plain-%p.trace" "$PY" "$work/from_pretrained.py" "$hf" | tee "$d/plain.json"; then
		read -r n b < <(h2d "$d"/plain-*.trace)
		if [ "$b" -ge "$hf_b" ]; then
			record "from_pretrained: every H2D byte seen" PASS \
				"$n copies, $b traced bytes >= $hf_b checkpoint bytes"
		else
			record "from_pretrained: every H2D byte seen" FAIL "$b traced < $hf_b checkpoint bytes"
		fi
	else
		record "from_pretrained under the shim" FAIL "exit status $?"
	fi

	step "from_pretrained under METASHIM_CHECKPOINT"
	if METASHIM_CHECKPOINT=$hf t_shim "$d/ckpt-%p.trace" "$PY" "$work/from_pretrained.py" "$hf"; then
		read -r nl nc u < <(layers "$d"/ckpt-*.trace)
		t "$tool" report "$d"/ckpt-*.trace >"$QOUT/from_pretrained-report.txt" 2>&1
		rc=$?
		if [ "$nl" -gt 0 ] && [ "$nl" = "$nc" ]; then
			record "from_pretrained: every layer complete" PASS "$nc/$nl layers"
		else
			record "from_pretrained: every layer complete" FAIL "$nc/$nl layers"
		fi
		if [ "$u" = 0 ]; then
			record "from_pretrained: nothing unattributed" PASS
		else
			record "from_pretrained: nothing unattributed" FAIL "$u bytes unattributed"
		fi
		[ $rc -eq 0 ] && record "from_pretrained: metashim report clean" PASS ||
			record "from_pretrained: metashim report clean" FAIL \
				"exit $rc, see from_pretrained-report.txt"
		for fmt in html perfetto; do
			dest=$QOUT/from_pretrained.$([ $fmt = html ] && echo html || echo perfetto.json)
			if ! t "$tool" export --help >/dev/null 2>&1; then
				record "export $fmt" SKIP "metashim export not available"
				continue
			fi
			if t "$tool" export --format $fmt -o "$dest" "$d"/ckpt-*.trace ||
				t "$tool" export --format $fmt "$d"/ckpt-*.trace >"$dest"; then
				[ -s "$dest" ] && record "export $fmt" PASS "$(basename "$dest"), $(stat -c %s "$dest") bytes" ||
					record "export $fmt" FAIL "empty output"
			else
				record "export $fmt" FAIL
			fi
		done
	else
		record "from_pretrained under METASHIM_CHECKPOINT" FAIL
	fi

	step "meta dry run: from_pretrained under METASHIM_MODE=meta"
	if METASHIM_MODE=meta METASHIM_CHECKPOINT=$hf t_shim "$d/meta-%p.trace" \
		"$PY" "$work/from_pretrained.py" "$hf" | tee "$d/meta.json"; then
		used=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["gpu_used"])' "$d/meta.json" 2>/dev/null)
		read -r nl nc u < <(layers "$d"/meta-*.trace)
		if [ "$nl" -gt 0 ] && [ "$nl" = "$nc" ]; then
			record "meta dry run: every layer counted complete" PASS \
				"GPU memory used ${used:-?} bytes for a $hf_b-byte model"
		else
			record "meta dry run: every layer counted complete" FAIL "$nc/$nl layers"
		fi
	else
		record "meta dry run" FAIL "exit status $?"
	fi

	if [ -n "${used:-}" ] && [ "$used" -lt $((hf_b / 4)) ] 2>/dev/null; then
		record "meta dry run: GPU memory far below the model" PASS "$used bytes used, model $hf_b bytes"
	elif [ -n "${used:-}" ]; then
		record "meta dry run: GPU memory far below the model" FAIL "$used bytes used, model $hf_b bytes"
	fi

	# Layerwise: the model built on "meta", given uninitialized CUDA storage, bound
	# through the PyTorch helper and loaded tensor by tensor from the shards; each
	# layer materializes when complete. Its logits must equal a normal load's bit
	# for bit. Memory: the driver's view after the forward pass for both, and the
	# materialized peak from the layerwise trace.
	step "layerwise load through examples/torch/metashim_torch.py vs a normal load"
	t "$PY" "$work/layerwise_load.py" normal "$hf" "$d/normal.pt" | tee "$d/normal.json"
	rc_n=${PIPESTATUS[0]}
	METASHIM_MODE=layerwise t_shim "$d/layerwise-%p.trace" "$PY" "$work/layerwise_load.py" layerwise "$hf" \
		"$d/layerwise.pt" | tee "$d/layerwise.json"
	rc_l=${PIPESTATUS[0]}
	if [ "$rc_n" = 0 ] && [ "$rc_l" = 0 ]; then
		mpeak=$(awk '$1 == "mem" { for (i = 2; i <= NF; i++) if ($i ~ /^materialized=/) {
			v = substr($i, 14) + 0; if (v > m) m = v } } END { printf "%.0f", m }' "$d"/layerwise-*.trace)
		mem="normal $(cat "$d/normal.json"); layerwise $(cat "$d/layerwise.json"), materialized peak $mpeak"
		if t "$PY" -c 'import sys, torch; a, b = torch.load(sys.argv[1]), torch.load(sys.argv[2]); sys.exit(0 if torch.equal(a, b) else 1)' \
			"$d/normal.pt" "$d/layerwise.pt"; then
			record "layerwise: logits bitwise identical to a normal load" PASS "$mem"
		else
			record "layerwise: logits bitwise identical to a normal load" FAIL "$mem"
		fi
		t "$tool" report "$d"/layerwise-*.trace >"$QOUT/layerwise-report.txt" 2>&1
	else
		record "layerwise load through the PyTorch helper" FAIL "exit normal $rc_n, layerwise $rc_l"
	fi

	# The PyTorch helper binds every parameter by its data pointer and checks each
	# layer complete; its demo exits 0 when all are, 1 when not, 2 when it cannot run.
	if [ -f examples/torch/demo.py ]; then
		step "examples/torch/demo.py under the shim"
		t_shim "$d/helper-%p.trace" "$PY" examples/torch/demo.py
		rc=$?
		case $rc in
		0) record "PyTorch helper: bound parameters all complete" PASS ;;
		2) record "PyTorch helper: bound parameters all complete" SKIP "demo.py cannot run here" ;;
		*) record "PyTorch helper: bound parameters all complete" FAIL "demo.py exit $rc" ;;
		esac
	else
		record "PyTorch helper" SKIP "examples/torch/demo.py not present"
	fi
fi

# ------------------------------------------------- JAX and CuPy (driver level)
cat >"$work/jax_put.py" <<'EOF'
import jax, numpy as np
x = jax.device_put(np.arange(4 << 20, dtype=np.float32))  # 16 MiB
x.block_until_ready()
print("bytes", x.nbytes)
EOF
cat >"$work/cupy_put.py" <<'EOF'
import cupy, numpy as np
x = cupy.asarray(np.arange(4 << 20, dtype=np.float32))  # 16 MiB, static runtime inside
cupy.cuda.Device().synchronize()
print("bytes", x.nbytes)
EOF
for lib in jax cupy; do
	name="$lib: a 16 MiB host-to-device put is traced"
	if ! have_py $lib || [ "$built" != 1 ]; then
		record "$name" SKIP "$([ "$FAKE" = 1 ] && echo QUALIFY_FAKE=1 || echo "$lib not importable")"
		continue
	fi
	step "$lib"
	mkdir -p "$work/$lib"
	if XLA_PYTHON_CLIENT_PREALLOCATE=false t_shim "$work/$lib/%p.trace" "$PY" "$work/${lib}_put.py"; then
		read -r n b < <(h2d "$work/$lib"/*.trace)
		[ "$b" -ge $((16 << 20)) ] && record "$name" PASS "$n copies, $b bytes" ||
			record "$name" FAIL "$n copies, $b bytes traced"
	else
		record "$name" FAIL "exit status $?"
	fi
done

# --------------------------------------------------------------------- table
elapsed=$(($(date +%s) - started))
fails=0
for st in "${states[@]}"; do [ "$st" = FAIL ] && fails=$((fails + 1)); done
{
	printf '\n%-72s %s\n' "check" "result"
	printf '%-72s %s\n' "-----" "------"
	for i in "${!names[@]}"; do
		printf '%-72s %-4s %s\n' "${names[$i]}" "${states[$i]}" "${details[$i]}"
	done
	printf '\n%d checks, %d failed; %d s; %s\n' "${#names[@]}" "$fails" "$elapsed" \
		"$([ "$FAKE" = 1 ] && echo "fake CUDA" || echo "${gpu_name:-no GPU}")"
} | tee "$QOUT/summary.txt"
echo "log: $log"
[ $fails -eq 0 ]
