"""metashim_torch — bind a PyTorch model's tensors to metashim from Python (ctypes).

Under the shim (``metashim run -- python3 prog.py`` or ``LD_PRELOAD=libmetashim.so``)::

    import metashim_torch as mt
    mt.attach()                 # find libmetashim.so in this process
    mt.register_module(model)   # every parameter and buffer, layer = owning module
    ...load the weights...
    mt.print_report()           # per-layer expected / covered / copied

Every parameter and buffer that lives on a CUDA device is registered with its
exact device range (data_ptr, dtype, shape, stride), so each host-to-device copy
into it is counted, and a layer is reported complete when every element of
every tensor of its module has arrived. Tensors sharing storage (tied weights)
are registered once, under the first name met. Without the shim every function
is a harmless no-op that returns None or empty results.
"""

import ctypes
import os

__all__ = ["attach", "register_module", "register_tensor", "unregister", "counts",
           "layer_counts", "print_report", "on_layer_complete", "mark", "Counts"]


class Counts(ctypes.Structure):
    """struct metashim_counts (shim/metashim.h)."""
    _fields_ = [("expected", ctypes.c_uint64),
                ("copied", ctypes.c_uint64),
                ("covered", ctypes.c_uint64),
                ("tensors", ctypes.c_uint32),
                ("complete", ctypes.c_uint32),
                ("materialized", ctypes.c_uint32),
                ("loads", ctypes.c_uint32)]

    def as_dict(self):
        return {name: getattr(self, name) for name, _ in self._fields_}


_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_void_p)
_lib = None
_callbacks = []  # keep ctypes callbacks alive as long as the library may call them


def _declare(lib):
    i64p = ctypes.POINTER(ctypes.c_int64)
    sigs = {
        "metashim_version": (ctypes.c_char_p, []),
        "metashim_active": (ctypes.c_int, []),
        "metashim_register_tensor": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint64,
                                                    ctypes.c_char_p, ctypes.c_int, i64p, i64p]),
        "metashim_unregister_tensor": (ctypes.c_int, [ctypes.c_char_p]),
        "metashim_tensor_counts": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(Counts)]),
        "metashim_layer_counts": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(Counts)]),
        "metashim_layer_count": (ctypes.c_int, []),
        "metashim_layer_name": (ctypes.c_char_p, [ctypes.c_int]),
        "metashim_set_layer_complete_callback": (ctypes.c_int, [_CALLBACK, ctypes.c_void_p]),
        "metashim_mark": (ctypes.c_int, [ctypes.c_char_p]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib


def _loaded_paths():
    """Paths of libmetashim*.so objects mapped into this process."""
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split(None, 5)[-1].strip() if line.count(" ") >= 5 else ""
                if os.path.basename(path).startswith("libmetashim") and path not in paths:
                    paths.append(path)
    except OSError:
        pass
    return paths


def attach(path=None):
    """Find the shim in this process and return the ctypes library, or None.

    Looks in the process's global scope first (LD_PRELOAD puts the shim there),
    then for a libmetashim*.so already mapped (opened with RTLD_NOLOAD, so the shim
    is never loaded late, after CUDA calls it should have seen). `path` forces a
    specific file (loaded if need be: only useful for tests without CUDA)."""
    global _lib
    if _lib is not None:
        return _lib
    candidates = [(path, 0)] if path else [(None, 0)] + [(p, os.RTLD_NOLOAD) for p in _loaded_paths()]
    for cand, mode in candidates:
        try:
            lib = ctypes.CDLL(cand, mode=mode | ctypes.RTLD_GLOBAL)
        except OSError:
            continue
        if hasattr(lib, "metashim_register_tensor"):
            _lib = _declare(lib)
            return _lib
    return None


def _dtype_name(dtype):
    return str(dtype).replace("torch.", "")  # "bfloat16"; the shim maps torch names


def register_tensor(name, tensor, layer=None):
    """Register one CUDA tensor; returns 0 or a negative errno (None without the shim)."""
    if attach() is None:
        return None
    ndim = tensor.dim()
    shape = (ctypes.c_int64 * max(ndim, 1))(*tensor.shape)
    stride = (ctypes.c_int64 * max(ndim, 1))(*tensor.stride())
    return _lib.metashim_register_tensor(layer.encode() if layer else None, name.encode(),
                                         tensor.data_ptr(), _dtype_name(tensor.dtype).encode(),
                                         ndim, shape, stride)


def register_module(model, prefix=""):
    """Register every parameter and buffer of model that lives on a CUDA device,
    grouped by owning module (layer = the module's qualified name). Returns
    {"registered": n, "tied": {name: first_name}, "skipped": [names not on CUDA],
    "failed": {name: errno}}."""
    result = {"registered": 0, "tied": {}, "skipped": [], "failed": {}}
    if attach() is None:
        return result
    seen = {}
    for mod_name, module in model.named_modules(prefix=prefix):
        tensors = list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False))
        for local, t in tensors:
            if t is None:
                continue
            name = f"{mod_name}.{local}" if mod_name else local
            if not t.is_cuda or t.numel() == 0:
                result["skipped"].append(name)
                continue
            key = (t.data_ptr(), t.dtype, tuple(t.shape), tuple(t.stride()))
            if key in seen:
                result["tied"][name] = seen[key]
                continue
            seen[key] = name
            rc = register_tensor(name, t, layer=mod_name or local)
            if rc == 0:
                result["registered"] += 1
            else:
                result["failed"][name] = -rc
    return result


def unregister(name):
    return None if attach() is None else _lib.metashim_unregister_tensor(name.encode())


def layer_counts(layer):
    """Counts of one layer as a dict, or None when unknown (or no shim)."""
    if attach() is None:
        return None
    c = Counts()
    return c.as_dict() if _lib.metashim_layer_counts(layer.encode(), ctypes.byref(c)) == 0 else None


def counts():
    """{layer: counts dict} for every layer the shim knows, in registration order."""
    if attach() is None:
        return {}
    out = {}
    for i in range(_lib.metashim_layer_count()):
        name = _lib.metashim_layer_name(i)
        if name is not None:
            out[name.decode()] = layer_counts(name.decode())
    return out


def print_report(file=None):
    """A per-layer table; returns the number of incomplete layers."""
    import sys
    file = file or sys.stdout
    rows = counts()
    if not rows:
        print("metashim: no layers (is the shim preloaded?)", file=file)
        return 0
    width = max(len(n) for n in rows)
    print(f"{'layer':<{width}}  {'tensors':>7} {'expected':>12} {'covered':>12} {'copied':>12} status",
          file=file)
    incomplete = 0
    for name, c in rows.items():
        if c is None or not c["tensors"]:
            continue
        if c["complete"]:
            status = "complete" + (" (loaded twice)" if c["copied"] > c["covered"] else "")
        else:
            status = "never loaded" if c["covered"] == 0 else "partial"
            incomplete += 1
        print(f"{name:<{width}}  {c['tensors']:>7} {c['expected']:>12} {c['covered']:>12} {c['copied']:>12} "
              f"{status}", file=file)
    print(f"{len(rows) - incomplete} of {len(rows)} layers complete", file=file)
    return incomplete


def on_layer_complete(fn):
    """Call fn(layer_name) each time a layer becomes complete (on the copying
    thread; fn must not call CUDA)."""
    if attach() is None:
        return None
    cb = _CALLBACK(lambda layer, user: fn(layer.decode()))
    _callbacks.append(cb)
    return _lib.metashim_set_layer_complete_callback(cb, None)


def mark(name):
    """Put a named instant into the trace."""
    return None if attach() is None else _lib.metashim_mark(name.encode())
