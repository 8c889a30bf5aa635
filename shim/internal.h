/* internal.h — prototypes shared inside libmetashim.so, grouped under the file
 * that defines them (mimalloc style). Prefix ms_ for these, metashim_ for the
 * public API (metashim.h), static for everything else. Only the interposed CUDA
 * entry points, dlsym and metashim_* are exported (shim/metashim.map). */
#ifndef METASHIM_INTERNAL_H
#define METASHIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "metashim.h"
#include "trace_format.h"

#define MS_HIDDEN      __attribute__((visibility("hidden")))
#define MS_LIKELY(x)   __builtin_expect(!!(x), 1)
#define MS_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ------------------------------------------------------------------ "config.c" */
enum ms_mode { MS_MODE_TRACE, MS_MODE_META, MS_MODE_LAYERWISE };

/* Every METASHIM_* option, read once at start-up (ms_config_load) and read-only after. */
struct ms_config {
	enum ms_mode mode;       /* METASHIM_MODE: trace (default), meta, layerwise */
	bool disabled;           /* METASHIM_DISABLE=1: load but record nothing */
	char out[4096];          /* METASHIM_OUT: trace path pattern (%p pid, %r rank) */
	char checkpoint[4096];   /* METASHIM_CHECKPOINT: safetensors file or directory */
	char manifest[4096];     /* METASHIM_MANIFEST: JSON written by `metashim manifest` */
	int layer_depth;         /* METASHIM_LAYER_DEPTH: name components kept; 0 = up to last dot */
	char layer_pattern[256]; /* METASHIM_LAYER_PATTERN: regex whose first match is the layer */
	char skip[2048];         /* METASHIM_SKIP_TENSORS: comma-separated substrings */
	bool progress;           /* METASHIM_PROGRESS=1: live progress line on stderr */
	int backtrace;           /* METASHIM_BACKTRACE: frames per event, 0 = off (default 16) */
	uint64_t defer_min;      /* METASHIM_DEFER_MIN: allocations below stay real (bytes) */
	uint64_t staging_max;    /* METASHIM_STAGING_MAX: host bytes staged for replay */
	uint64_t scratch_bytes;  /* METASHIM_SCRATCH: size of the shared scratch allocation */
	uint64_t buffer_bytes;   /* METASHIM_BUFFER: trace buffer size */
	bool quiet;              /* METASHIM_QUIET=1: no metashim: lines on stderr */
};

/* The configuration in force; valid after the constructor ran. */
MS_HIDDEN extern struct ms_config ms_cfg;

/* Fill cfg from envp (NULL-terminated "KEY=VALUE" strings) with defaults for what is
 * absent. On a bad value: 0 is still returned for the other options, the bad one
 * keeps its default, and a message naming the variable, the value and what was
 * expected is written into err (errcap bytes); returns the number of bad options. */
MS_HIDDEN int ms_config_load(struct ms_config *cfg, char *const *envp, char *err, size_t errcap);
MS_HIDDEN const char *ms_mode_name(enum ms_mode mode);
/* Parse a size such as "64M", "2GiB", "4096"; 0 on success, -EINVAL otherwise. */
MS_HIDDEN int ms_parse_size(const char *s, uint64_t *out);

/* -------------------------------------------------------------------- "init.c" */
/* True once the constructor finished and recording is on (not disabled, trace open). */
MS_HIDDEN bool ms_ready(void);
/* Per-thread recursion guard: ms_enter returns true for the outermost intercepted
 * call on this thread (which records), false inside another hook (pass through).
 * Every true ms_enter is paired with one ms_leave. */
MS_HIDDEN bool ms_enter(void);
MS_HIDDEN void ms_leave(void);
/* One "metashim: ..." line on stderr (unless quiet) and a warn record in the trace. */
MS_HIDDEN void ms_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------------- "trace.c" */
/* One trace record being built on the caller's stack: no allocation, no lock. */
struct ms_line {
	size_t len;
	char buf[MS_TRACE_MAX_LINE];
};
/* (Re)configure the writer from cfg (out pattern, buffer size, quiet, mode) and
 * restart the clock and sequence; the file itself is created lazily by the first
 * ms_line_emit. Tests may call it again with another cfg->out to capture records. */
MS_HIDDEN int ms_trace_open(const struct ms_config *cfg);
MS_HIDDEN void ms_trace_close(void); /* writes footer, flushes, closes */
MS_HIDDEN void ms_trace_flush(void);
/* In a forked child: drop the parent's unwritten buffer and open the child's own file. */
MS_HIDDEN void ms_trace_after_fork_child(void);
MS_HIDDEN uint64_t ms_now_ns(void);   /* ns since trace start (monotonic) */
MS_HIDDEN uint64_t ms_next_seq(void); /* event sequence number, from 1 */
MS_HIDDEN void ms_line_begin(struct ms_line *l, const char *type);
/* Field writers take the key's length from the caller: the inline wrappers below
 * let the compiler fold strlen of the literal keys every caller passes. */
MS_HIDDEN void ms_line_u64k(struct ms_line *l, const char *key, size_t klen, uint64_t v);
MS_HIDDEN void ms_line_i64k(struct ms_line *l, const char *key, size_t klen, int64_t v);
MS_HIDDEN void ms_line_hexk(struct ms_line *l, const char *key, size_t klen, uint64_t v);
MS_HIDDEN void ms_line_strk(struct ms_line *l, const char *key, size_t klen, const char *s);
static inline void ms_line_u64(struct ms_line *l, const char *key, uint64_t v)
{
	ms_line_u64k(l, key, __builtin_strlen(key), v);
}
static inline void ms_line_i64(struct ms_line *l, const char *key, int64_t v)
{
	ms_line_i64k(l, key, __builtin_strlen(key), v);
}
static inline void ms_line_hex(struct ms_line *l, const char *key, uint64_t v)
{
	ms_line_hexk(l, key, __builtin_strlen(key), v);
}
static inline void ms_line_str(struct ms_line *l, const char *key, const char *s) /* encodes */
{
	ms_line_strk(l, key, __builtin_strlen(key), s);
}
/* Append the line and '\n' to the trace atomically (whole lines only). */
MS_HIDDEN void ms_line_emit(struct ms_line *l);
/* The records one event writes, appended with one lock: l holds the event's
 * record; until ms_line_batch_end, ms_line_emit on this thread adds lines to it
 * (a full batch is appended early). Not for ms_line_emit_pending. */
MS_HIDDEN void ms_line_batch_begin(struct ms_line *l);
MS_HIDDEN void ms_line_batch_end(void);
/* Like ms_line_emit, but the record alone does not create the trace file: it waits
 * in the buffer for the first ms_line_emit (and is dropped if none comes). For
 * warnings, so that a process that never touches CUDA writes no file. */
MS_HIDDEN void ms_line_emit_pending(struct ms_line *l);
/* True while this process's trace file is open (some record was emitted). */
MS_HIDDEN bool ms_trace_active(void);
/* The file being written ("" before the first record). */
MS_HIDDEN const char *ms_trace_path(void);
/* pthread_atfork handlers (installed by init.c): prepare flushes and holds the
 * trace lock, parent releases it; the child's handler is ms_trace_after_fork_child. */
MS_HIDDEN void ms_trace_fork_prepare(void);
MS_HIDDEN void ms_trace_fork_parent(void);
/* One "metashim: ..." line on stderr unless quiet; no trace record, no allocation
 * (safe where ms_warn is not: inside the trace writer, before the config exists). */
MS_HIDDEN void ms_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* -------------------------------------------------------------------- "real.c" */
/* The real driver, reached lazily (dlopen "libcuda.so.1", RTLD_NOLOAD first): the
 * entry points the shim itself calls. NULL members when absent. */
struct ms_driver {
	void *handle;
	int (*cuPointerGetAttribute)(void *data, int attr, uint64_t ptr);
	int (*cuMemGetAllocationGranularity)(size_t *gran, const void *prop, int option);
	int (*cuMemAddressReserve)(uint64_t *ptr, size_t size, size_t align, uint64_t addr,
	                           unsigned long long flags);
	int (*cuMemAddressFree)(uint64_t ptr, size_t size);
	int (*cuMemCreate)(uint64_t *handle, size_t size, const void *prop, unsigned long long flags);
	int (*cuMemRelease)(uint64_t handle);
	int (*cuMemMap)(uint64_t ptr, size_t size, size_t offset, uint64_t handle, unsigned long long flags);
	int (*cuMemUnmap)(uint64_t ptr, size_t size);
	int (*cuMemSetAccess)(uint64_t ptr, size_t size, const void *desc, size_t count);
	int (*cuMemcpyHtoD)(uint64_t dst, const void *src, size_t bytes);
	int (*cuMemcpyDtoH)(void *dst, uint64_t src, size_t bytes);
	int (*cuMemcpyDtoD)(uint64_t dst, uint64_t src, size_t bytes);
	int (*cuMemsetD8)(uint64_t dst, unsigned char v, size_t n);
	int (*cuCtxSynchronize)(void);
	int (*cuCtxGetDevice)(int *dev);
	/* vmm.c: a current context for its own calls before the program made one */
	int (*cuInit)(unsigned flags);
	int (*cuDeviceGet)(int *dev, int ordinal);
	int (*cuDevicePrimaryCtxRetain)(void **ctx, int dev);
	int (*cuCtxGetCurrent)(void **ctx);
	int (*cuCtxSetCurrent)(void *ctx);
};
/* NULL when no driver can be loaded. */
MS_HIDDEN const struct ms_driver *ms_driver(void);
/* dlsym without the shim's own override. */
MS_HIDDEN void *ms_real_dlsym(void *handle, const char *name);
/* True when addr is device memory (our allocation table, then cuPointerGetAttribute). */
MS_HIDDEN bool ms_is_device_ptr(uint64_t addr);
/* Resolve the real dlsym (and the shim's own address range) now; idempotent. */
MS_HIDDEN void ms_real_dlsym_init(void);
/* The real dlsym, for hooks_dlsym.c's tail jump (set by ms_real_dlsym_init). */
MS_HIDDEN extern void *ms_dlsym_next;
/* True when p lies inside libmetashim.so itself (one of its wrappers, say). */
MS_HIDDEN bool ms_in_shim(const void *p);
/* RTLD_NEXT by hand: the first definition of name in an object loaded after the
 * object whose base is `after` (0: any object), never the shim's; also searches
 * objects loaded RTLD_LOCAL. Cold path (allocates). */
MS_HIDDEN void *ms_lookup_after(uintptr_t after, const char *name);
/* (The entry-point table, the real slots and the wrapper routing are declared in
 * entry_points.h.) */

/* ------------------------------------------------------------------ "record.c" */
/* The hooks describe each call in one of these and hand it to the core before and
 * after calling the real function. Hot path: no allocation, no lock but the trace's. */
/* An error of the shim's own deferred work (vmm.c) that the call must return: each
 * hooks file turns it into its API's code (MS_API_ERR). */
enum ms_err {
	MS_ERR_NONE,
	MS_ERR_OOM,     /* no device memory: cudaErrorMemoryAllocation, CUDA_ERROR_OUT_OF_MEMORY */
	MS_ERR_INVALID, /* a bad argument: cudaErrorInvalidValue, CUDA_ERROR_INVALID_VALUE */
};
struct ms_copy {
	const char *api;         /* entry point name as the program called it */
	uint64_t dst, src;       /* addresses as passed */
	uint64_t width;          /* bytes per row; the whole copy when rows == 1 */
	uint64_t rows;           /* 1 for linear copies */
	uint64_t dpitch, spitch; /* row pitches of 2D copies (width when rows == 1) */
	uint64_t depth;          /* 3D copies: slices of `rows` rows each (0 or 1: one) */
	uint64_t dslice, sslice; /* 3D copies: bytes from one slice to the next */
	unsigned array;          /* MS_ARRAY_DST|MS_ARRAY_SRC: that end is a CUDA array handle */
	enum ms_dir dir;
	uint64_t stream;
	uint64_t seq, t0; /* set by ms_copy_begin */
	uint32_t stack;   /* stack trie id, 0 when none */
	bool deferred;    /* set by the core: the copy was taken, do not call real */
	int rc;           /* the result to return when deferred */
	enum ms_err err;  /* set by the core: return this error (deferred or not) */
};
struct ms_alloc {
	const char *api;
	uint64_t ptr;   /* result (alloc) or argument (free); the handle for handle */
	uint64_t bytes; /* 0 on a free when the call does not say */
	uint64_t stream;
	uint64_t seq, t0;
	uint32_t stack;
	bool handle;   /* cuMemCreate/cuMemRelease: ptr is a physical handle */
	bool map;      /* cuMemMap/cuMemUnmap: addresses of memory counted at create */
	bool deferred; /* the core satisfied the call (deferred modes) */
	int rc;
	enum ms_err err; /* the core failed the call with this (deferred) */
};
struct ms_memset {
	const char *api;
	uint64_t dst, bytes, value, stream;
	uint64_t width, rows, pitch; /* 2D memsets; rows == 1 otherwise */
	uint64_t depth, slice;       /* 3D memsets: slices of `rows` rows, `slice` bytes apart */
	uint64_t seq, t0;
	uint32_t stack;
	bool deferred;
	int rc;
	enum ms_err err; /* the core failed the call with this (deferred) */
};
/* struct ms_copy.array: a CUDA array is opaque (no linear address); its handle
 * stands in dst/src, and a copy into one is recorded but never attributed. */
#define MS_ARRAY_DST 1u
#define MS_ARRAY_SRC 2u
MS_HIDDEN void ms_copy_begin(struct ms_copy *c);
MS_HIDDEN void ms_copy_end(struct ms_copy *c, int rc);
MS_HIDDEN void ms_alloc_begin(struct ms_alloc *a);
MS_HIDDEN void ms_alloc_end(struct ms_alloc *a, int rc);
MS_HIDDEN void ms_free_begin(struct ms_alloc *a);
MS_HIDDEN void ms_free_end(struct ms_alloc *a, int rc);
MS_HIDDEN void ms_memset_begin(struct ms_memset *m);
MS_HIDDEN void ms_memset_end(struct ms_memset *m, int rc);
/* Direction of a copy from whether each end is device memory. */
MS_HIDDEN enum ms_dir ms_dir_of(bool src_dev, bool dst_dev);
/* fork child handler: thread ids are looked up afresh. */
MS_HIDDEN void ms_record_after_fork_child(void);

/* ----------------------------------------------------------------- "counter.c" */
/* Attribute a finished, successful copy to descriptors and count it: writes bind,
 * attr, unattr, problem and complete records. Hot path. */
MS_HIDDEN void ms_count_copy(const struct ms_copy *c);
/* Write `final` records for every tensor (at exit). */
MS_HIDDEN void ms_count_write_final(void);

/* ---------------------------------------------------------------- "registry.c" */
/* Load descriptors from ms_cfg (checkpoint, manifest); failures are reported with
 * ms_warn and leave the registry empty. Writes layer and tensor records. */
MS_HIDDEN void ms_registry_load(const struct ms_config *cfg);

/* ---------------------------------------------------------------- "hostmap.c" */
/* Where a host address lies in a file mapping. */
struct ms_fileref {
	uint64_t dev, ino; /* identity of the file */
	uint64_t offset;   /* file offset of the address */
	uint64_t avail;    /* bytes of the mapping from the address on */
};
/* 0 and *out filled when addr lies in a file mapping; -ENOENT otherwise. */
MS_HIDDEN int ms_hostmap_lookup(uint64_t addr, struct ms_fileref *out);
/* Called by the mmap/munmap/mremap interposers (hooks_libc.c) after a successful
 * call: never allocate, safe before constructors and under malloc's locks. */
MS_HIDDEN void ms_hostmap_note_map(uint64_t addr, uint64_t len, int fd, uint64_t off);
MS_HIDDEN void ms_hostmap_note_unmap(uint64_t addr, uint64_t len);
/* had/was: whether the old range was a file mapping, and where (looked up before). */
MS_HIDDEN void ms_hostmap_note_remap(uint64_t old, uint64_t oldlen, uint64_t addr, uint64_t len, bool had,
                                     const struct ms_fileref *was);
/* Layers, tensors, interval indexes, counting: see registry.h (registry.c,
 * counter.c, intervals.c, progress.c). */

/* --- "vmm.c" (deferred memory), called by api.c through weak references: api.c
 * answers -ENOTSUP for each one vmm.c does not define. Arguments are checked
 * (non-NULL layer) before the call; return values go back to the caller as is. */
MS_HIDDEN int ms_vmm_materialize_layer(const char *layer);
MS_HIDDEN int ms_vmm_materialize_all(void);
MS_HIDDEN int ms_vmm_release_layer(const char *layer, unsigned flags);
MS_HIDDEN int ms_vmm_restore_layer(const char *layer);
MS_HIDDEN int ms_vmm_finalize(void);
/* True while deferred memory (a reservation) exists: the copy, memset and launch
 * paths ask vmm.c only then. One relaxed atomic load; always false in trace mode. */
MS_HIDDEN bool ms_vmm_active(void);
/* Deferred modes: take an allocation (a reservation: a->deferred, a->ptr) or a
 * free of one; leave the rest to the real call. */
MS_HIDDEN void ms_vmm_alloc(struct ms_alloc *a);
MS_HIDDEN void ms_vmm_free(struct ms_alloc *a);
/* A copy or memset touching deferred, unmaterialized memory is taken
 * (c->deferred): performed where the memory is real, recorded (layerwise) or
 * dropped (meta) where it is not; reads of it see zeros plus what was recorded. */
MS_HIDDEN void ms_vmm_copy(struct ms_copy *c);
MS_HIDDEN void ms_vmm_memset(struct ms_memset *m);
/* counter.c, when layer l just became complete (before its complete record and
 * the callback): materialize it in layerwise mode. A negative errno means the
 * layer could not get memory; the counter then undoes the completion, and the
 * copy that completed it fails (ms_vmm_take_err on the same thread). */
struct ms_reg_layer;
MS_HIDDEN int ms_vmm_layer_complete(struct ms_reg_layer *l);
/* The error a completion left for the current thread's copy (MS_ERR_NONE). */
MS_HIDDEN enum ms_err ms_vmm_take_err(void);
/* A kernel launch: counted and written as a launch record while deferred memory
 * exists (the kernel may write into scratch). */
MS_HIDDEN void ms_vmm_note_launch(const char *api);
/* Granule math, shared with the tests: bytes rounded up to the granularity g (a
 * power of two); the granules [*g0, *g1) of a reservation at base that the byte
 * range [lo, hi) touches. */
MS_HIDDEN uint64_t ms_vmm_round_up(uint64_t bytes, uint64_t g);
MS_HIDDEN void ms_vmm_granules(uint64_t base, uint64_t g, uint64_t lo, uint64_t hi, uint64_t *g0,
                               uint64_t *g1);

/* --- "replay.c": the log of writes into deferred memory (layerwise), in program
 * order. Not thread-safe (vmm.c's lock); knows nothing about CUDA. */
enum ms_rlog_kind {
	MS_RLOG_STAGED, /* bytes copied into host memory the log owns */
	MS_RLOG_REF,    /* bytes that stay valid where they are (a file mapping) */
	MS_RLOG_FILL,   /* a memset: value repeated in esize-byte elements */
};
struct ms_rlog_entry {
	uint64_t dst, len; /* device bytes written */
	uint64_t seq;      /* the event that wrote them */
	const void *src;   /* STAGED (owned), REF; NULL for FILL */
	uint32_t value;    /* FILL */
	uint8_t esize;     /* FILL: 1, 2 or 4 */
	uint8_t kind;      /* enum ms_rlog_kind */
};
struct ms_rlog {
	struct ms_rlog_entry *v;
	size_t n, cap;
	uint64_t staged; /* host bytes held by STAGED entries */
	uint64_t staged_peak;
};
/* Device side of a replay: write len bytes at dst, or fill them from entry e's
 * pattern. 0 or a negative errno (the replay stops). */
struct ms_rlog_dev {
	int (*write)(void *ctx, uint64_t dst, const void *src, uint64_t len);
	int (*fill)(void *ctx, const struct ms_rlog_entry *e, uint64_t dst, uint64_t len);
	void *ctx;
};
struct ms_rlog_span {
	uint64_t lo, hi;
};
/* Append a copy of len bytes from src (stage: copy them now; else keep src). */
MS_HIDDEN int ms_rlog_add_copy(struct ms_rlog *l, uint64_t dst, const void *src, uint64_t len, bool stage,
                               uint64_t seq);
MS_HIDDEN int ms_rlog_add_fill(struct ms_rlog *l, uint64_t dst, uint64_t len, uint32_t value, unsigned esize,
                               uint64_t seq);
/* Replay, in log order, every entry's overlap with the spans; *replayed counts
 * the entries that touched any. Entries stay in the log (ms_rlog_drop). */
MS_HIDDEN int ms_rlog_replay(struct ms_rlog *l, const struct ms_rlog_span *spans, size_t nspans,
                             const struct ms_rlog_dev *dev, uint64_t *replayed);
/* Overlay what the log wrote into [lo, hi) onto out (hi - lo bytes). */
MS_HIDDEN void ms_rlog_read(const struct ms_rlog *l, uint64_t lo, uint64_t hi, void *out);
MS_HIDDEN bool ms_rlog_touches(const struct ms_rlog *l, uint64_t lo, uint64_t hi);
/* Remove (and free) the entries for which done(ctx, lo, hi) is true; returns how many. */
MS_HIDDEN size_t ms_rlog_drop(struct ms_rlog *l, bool (*done)(void *ctx, uint64_t lo, uint64_t hi),
                              void *ctx);
MS_HIDDEN void ms_rlog_free(struct ms_rlog *l);
/* Bytes [at, at+len) of fill e's pattern into out. */
MS_HIDDEN void ms_rlog_fill_pattern(const struct ms_rlog_entry *e, uint64_t at, void *out, uint64_t len);
/* When src lies in a mapping of a registered checkpoint file: a pointer to the
 * same bytes in the shim's own mapping of that file (valid for the process's
 * life); NULL otherwise (the caller stages). */
MS_HIDDEN const void *ms_rlog_file_ref(uint64_t src, uint64_t len);

/* ------------------------------------------------------------------ "unwind.c" */
/* Backtraces: the caller's stack deduplicated into a trie of (parent, pc) nodes. */
#define MS_UNWIND_MAX_DEPTH 256 /* the most frames METASHIM_BACKTRACE may ask for */
/* The current call stack as a trie id (0 when backtraces are off or the trie is
 * full). The innermost frame is the caller of the shim's hook (frames inside
 * libmetashim.so are skipped). New nodes are written as `stack` records before
 * this returns (module records first), so ids are defined before an event uses
 * them. Any thread, concurrently; also in a fork child (which writes its nodes
 * again, into its own trace). Hot path: no allocation, no lock while unwinding. */
MS_HIDDEN uint32_t ms_stack_id(void);
/* Up to depth return addresses, innermost first: pcs[0] lies in the function that
 * called ms_unwind_capture (no shim frames are skipped). Returns the count. */
MS_HIDDEN int ms_unwind_capture(uint64_t *pcs, int depth);
/* Intern a stack given innermost first; the leaf id, 0 when n == 0 or trie full. */
MS_HIDDEN uint32_t ms_stack_intern(const uint64_t *pcs, int n);
/* Forget every node and written module: ids restart at 1 (tests; with no other
 * thread capturing). */
MS_HIDDEN void ms_unwind_reset(void);
/* Where new trie nodes, module records and warnings go: the trace by default;
 * tests install their own (NULL restores the trace). Set before capturing. */
struct ms_unwind_sink {
	void (*stack)(void *ctx, uint32_t id, uint32_t parent, uint64_t pc);
	void (*module)(void *ctx, uint32_t id, uint64_t base, uint64_t end, const char *path,
	               const char *buildid);
	void (*warn)(void *ctx, const char *msg);
	void *ctx;
};
MS_HIDDEN void ms_unwind_set_sink(const struct ms_unwind_sink *sink);
MS_HIDDEN const struct ms_unwind_sink *ms_unwind_sink(void);

/* ----------------------------------------------------------------- "modules.c" */
/* Write a `module` record (id base end path buildid) for every loaded ELF object
 * not yet written. Cheap when nothing was loaded or unloaded since the last call
 * (glibc's dl_iterate_phdr adds/subs counters). base is the load bias plus the
 * lowest PT_LOAD p_vaddr, end the highest PT_LOAD end: the symbolizer subtracts the
 * file's lowest p_vaddr from base to get the bias back. */
MS_HIDDEN void ms_modules_sync(void);
/* [lo, hi) of the executable code of the object holding the shim, when that is a
 * shared object apart from the main program; lo == hi == 0 otherwise. */
MS_HIDDEN void ms_modules_self_range(uint64_t *lo, uint64_t *hi);
/* Forget what was written (fork child, tests): the next sync writes every module. */
MS_HIDDEN void ms_modules_reset(void);

/* ------------------------------------------- "dtype.c", "safetensors.c", "manifest.c" */
/* Descriptors as read from a checkpoint or a manifest, before the registry takes them.
 * These three files depend on nothing else in the shim (they are linked into the
 * analysis tool too), allocate freely (start-up only) and report errors as one line
 * in a caller's buffer: file, byte offset or JSON path, what was expected. */
#define MS_MAX_DIMS 8
/* Largest safetensors header accepted, as safetensors itself bounds it (MAX_HEADER_SIZE). */
#define MS_SAFETENSORS_MAX_HEADER 100000000ull
/* One tensor as a checkpoint or manifest describes it (not yet registered). */
struct ms_tensor_desc {
	char *name;     /* full tensor name, malloc'd */
	char *layer;    /* layer name when the source gives one (manifest), else NULL */
	char dtype[16]; /* safetensors dtype name ("BF16") */
	uint32_t ebits; /* bits per element (4 for F4, 8 for F8_E4M3, ...) */
	int ndim;
	int64_t shape[MS_MAX_DIMS];
	int64_t stride[MS_MAX_DIMS]; /* in elements; contiguous when the source has none */
	uint64_t elems;              /* product of shape (1 for a scalar) */
	char *file;                  /* checkpoint file path, NULL when none */
	uint64_t file_dev, file_ino; /* identity of that file (stat), 0 when none or not found */
	uint64_t foff, flen;         /* absolute byte range of the data in the file */
	uint64_t dev_ptr;            /* device address when known (manifest), else 0 */
};
/* Order: a checkpoint's files in name order (an index's shards sorted by name), each
 * file's tensors by data offset; a manifest's tensors as the manifest lists them. */
struct ms_desc_set {
	struct ms_tensor_desc *v;
	size_t n, cap;
	/* JSON object text or NULL. From a checkpoint: {"<file>": <its __metadata__>, ...}
	 * keyed by file name relative to the checkpoint (the index's own "metadata" under
	 * the index's name), only files that have one. From a manifest: its "metadata". */
	char *metadata_json;
	char *source; /* the path the set was loaded from, malloc'd, or NULL */
};
/* safetensors/torch dtype name -> bits per element, 0 when unknown. */
MS_HIDDEN uint32_t ms_dtype_bits(const char *name);
/* Canonical safetensors name for a safetensors or torch dtype name ("BF16",
 * "bfloat16", "torch.bfloat16", "bf16"), NULL when unknown. */
MS_HIDDEN const char *ms_dtype_canonical(const char *name);
/* True for the exact spelling a safetensors header uses ("BF16", not "bf16"). */
MS_HIDDEN bool ms_dtype_is_safetensors(const char *name);
/* "BOOL, F4, ..." — every canonical name, for messages. */
MS_HIDDEN const char *ms_dtype_names(void);
/* Read a .safetensors file, a sharded checkpoint's index JSON (path ending in .json),
 * or a directory holding an index (model.safetensors.index.json preferred, else the
 * only *.safetensors.index.json) or else *.safetensors files (all, by name). out must
 * be zeroed; on error it is left empty. On error returns a negative errno and writes
 * into err one line naming the file, the byte offset or JSON path, and what was
 * expected. */
MS_HIDDEN int ms_safetensors_load(const char *path, struct ms_desc_set *out, char *err, size_t errcap);
/* Read a manifest (shim/MANIFEST.md) into a zeroed out. Returns a negative errno on
 * error (out left empty, err says file, JSON path, expectation), else 0. When some
 * tensors name a file that cannot be stat()ed here, they are loaded all the same
 * (file, offset, length kept; file_dev/file_ino 0, so no attribution by file) and
 * err holds a warning line naming the first: show it when err[0] after a 0 return. */
MS_HIDDEN int ms_manifest_load(const char *path, struct ms_desc_set *out, char *err, size_t errcap);
/* Write set as a manifest to fd: layers in first-appearance order (a tensor's layer is
 * desc->layer, else its name up to the last dot), one tensor per line, relative paths
 * made absolute against the current directory. 0 or a negative errno. */
MS_HIDDEN int ms_manifest_write(int fd, const struct ms_desc_set *set);
MS_HIDDEN void ms_desc_set_free(struct ms_desc_set *set);
/* A zeroed new slot at the end of set; NULL (errno ENOMEM) when out of memory. */
MS_HIDDEN struct ms_tensor_desc *ms_desc_set_add(struct ms_desc_set *set);
/* Fill d->stride contiguously from d->shape; -EOVERFLOW when a stride exceeds int64. */
MS_HIDDEN int ms_desc_contiguous_stride(struct ms_tensor_desc *d);
/* s as a JSON string literal for messages, cut to fit buf (ends "..." when cut). */
MS_HIDDEN const char *ms_desc_quote(const char *s, char *buf, size_t cap);
/* What a JSON value is, for "expected X, got Y" (NULL: "nothing"): integers, reals and
 * strings show themselves (strings quoted into buf), the rest name their kind. */
struct json_t;
MS_HIDDEN const char *ms_desc_json_what(const struct json_t *v, char *buf, size_t cap);

#endif /* METASHIM_INTERNAL_H */
