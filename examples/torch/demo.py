#!/usr/bin/env python3
"""GPU ONLY — demo of metashim_torch: a tiny model's weights are saved to a local
checkpoint, loaded back onto the GPU under the shim, and the per-layer counts are
printed. Nothing is downloaded. Run it under the shim:

    metashim run -- python3 examples/torch/demo.py
    # or: LD_PRELOAD=build/libmetashim.so python3 examples/torch/demo.py

Exit status: 0 when every layer is complete, 1 when some is not, 2 when it cannot
run here (no GPU, no torch, or no shim in the process).
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metashim_torch as mt  # noqa: E402


def main():
    try:
        import torch
        from torch import nn
    except ImportError:
        print("demo: needs PyTorch (and a GPU)", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("demo: needs a CUDA GPU", file=sys.stderr)
        return 2
    if mt.attach() is None:
        print("demo: libmetashim.so is not in this process; run it under `metashim run --`",
              file=sys.stderr)
        return 2

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(256, 64)
            self.blocks = nn.ModuleList(
                nn.Sequential(nn.LayerNorm(64), nn.Linear(64, 128), nn.GELU(), nn.Linear(128, 64))
                for _ in range(3))
            self.head = nn.Linear(64, 256, bias=False)
            self.head.weight = self.embed.weight  # tied: registered once

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        state = {k: v.contiguous() for k, v in Tiny().state_dict().items() if k != "head.weight"}
        try:
            from safetensors.torch import load_file, save_file
            path = os.path.join(tmp, "model.safetensors")
            save_file(state, path)
            loaded = load_file(path)  # CPU tensors (their storage may be the file mapping)
        except ImportError:
            path = os.path.join(tmp, "model.pt")
            torch.save(state, path)
            loaded = torch.load(path)

        model = Tiny().cuda()  # random init; these copies happen before registration
        torch.cuda.synchronize()
        result = mt.register_module(model)
        print(f"registered {result['registered']} tensors, tied {result['tied']}")
        done = []
        mt.on_layer_complete(done.append)
        mt.mark("load start")
        model.load_state_dict(loaded, strict=False)  # one host-to-device copy per tensor
        torch.cuda.synchronize()
        mt.mark("load end")

    incomplete = mt.print_report()
    print(f"{len(done)} completion callbacks")
    return 1 if incomplete else 0


if __name__ == "__main__":
    sys.exit(main())
