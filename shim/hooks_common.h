/* hooks_common.h — the shape every wrapper shares, as macros, so that a hook
 * reads as what it decodes: resolve the real function, pass straight through when
 * nested inside another hook (or the shim is off), otherwise describe the call,
 * record around the real call and return its result unchanged. Included only by
 * hooks_driver.c and hooks_runtime.c. */
#ifndef METASHIM_HOOKS_COMMON_H
#define METASHIM_HOOKS_COMMON_H

#include "entry_points.h"
#include "internal.h"

#define MS_U64(x) ((uint64_t)(uintptr_t)(x))
/* What a call the core took (x.deferred) returns: its error in the hook's own API
 * (each hooks file defines MS_API_ERR for enum ms_err), else x.rc. */
#define MS_TAKEN_RC(RET, x) ((x).err ? (RET)MS_API_ERR((x).err) : (RET)(x).rc)
#define MS_EXPORT           __attribute__((visibility("default")))

/* RET sym PARAMS; FILL describes the call in `c` (a struct ms_copy); AFTER, a
 * second step after the real call, sees rc. */
#define MS_COPY_HOOK2(RET, MISSING, sym, PARAMS, ARGS, FILL, AFTER) \
	MS_EXPORT RET sym PARAMS                                    \
	{                                                           \
		__typeof__(&sym) real = MS_REAL(sym);               \
		struct ms_copy c = { .api = #sym, .rows = 1 };      \
		RET rc;                                             \
		if (MS_UNLIKELY(!real))                             \
			return MISSING;                             \
		if (!ms_enter())                                    \
			return real ARGS;                           \
		FILL;                                               \
		ms_copy_begin(&c);                                  \
		rc = c.deferred ? MS_TAKEN_RC(RET, c) : real ARGS;  \
		AFTER;                                              \
		ms_copy_end(&c, (int)rc);                           \
		if (MS_UNLIKELY(c.err))                             \
			rc = (RET)MS_API_ERR(c.err);                \
		ms_leave();                                         \
		return rc;                                          \
	}

/* The same without a step after the call. */
#define MS_COPY_HOOK(RET, MISSING, sym, PARAMS, ARGS, FILL) \
	MS_COPY_HOOK2(RET, MISSING, sym, PARAMS, ARGS, FILL, (void)0)

/* Allocations and frees: FILL before the call, AFTER (seeing rc) before the
 * record, e.g. to read the returned pointer. KIND is alloc or free. */
#define MS_ALLOC_HOOK(KIND, RET, MISSING, sym, PARAMS, ARGS, FILL, AFTER) \
	MS_EXPORT RET sym PARAMS                                          \
	{                                                                 \
		__typeof__(&sym) real = MS_REAL(sym);                     \
		struct ms_alloc a = { .api = #sym };                      \
		RET rc;                                                   \
		if (MS_UNLIKELY(!real))                                   \
			return MISSING;                                   \
		if (!ms_enter())                                          \
			return real ARGS;                                 \
		FILL;                                                     \
		ms_##KIND##_begin(&a);                                    \
		rc = a.deferred ? MS_TAKEN_RC(RET, a) : real ARGS;        \
		AFTER;                                                    \
		ms_##KIND##_end(&a, (int)rc);                             \
		ms_leave();                                               \
		return rc;                                                \
	}

#define MS_MEMSET_HOOK(RET, MISSING, sym, PARAMS, ARGS, FILL)      \
	MS_EXPORT RET sym PARAMS                                   \
	{                                                          \
		__typeof__(&sym) real = MS_REAL(sym);              \
		struct ms_memset m = { .api = #sym, .rows = 1 };   \
		RET rc;                                            \
		if (MS_UNLIKELY(!real))                            \
			return MISSING;                            \
		if (!ms_enter())                                   \
			return real ARGS;                          \
		FILL;                                              \
		ms_memset_begin(&m);                               \
		rc = m.deferred ? MS_TAKEN_RC(RET, m) : real ARGS; \
		ms_memset_end(&m, (int)rc);                        \
		ms_leave();                                        \
		return rc;                                         \
	}

/* Kernel launches pass straight through; while deferred memory exists they are
 * counted (vmm.c), since a kernel writing there writes into scratch. Trace mode
 * pays one relaxed load. */
#define MS_LAUNCH_HOOK(RET, MISSING, sym, PARAMS, ARGS)                      \
	MS_EXPORT RET sym PARAMS                                             \
	{                                                                    \
		__typeof__(&sym) real = MS_REAL(sym);                        \
		RET rc;                                                      \
		if (MS_UNLIKELY(!real))                                      \
			return MISSING;                                      \
		if (MS_LIKELY(!ms_vmm_active()) || !ms_enter())              \
			return real ARGS;                                    \
		ms_vmm_note_launch(#sym);                                    \
		rc = real ARGS; /* a runtime launch's driver launch nests */ \
		ms_leave();                                                  \
		return rc;                                                   \
	}

/* A linear copy of n bytes. */
static inline void ms_linear(struct ms_copy *c, enum ms_dir dir, uint64_t dst, uint64_t src, uint64_t n,
                             uint64_t stream)
{
	c->dir = dir;
	c->dst = dst;
	c->src = src;
	c->width = n;
	c->rows = 1;
	c->dpitch = c->spitch = n;
	c->stream = stream;
}

/* The shape of a 3D copy of depth slices of height rows (c->width bytes each),
 * each end with its row pitch and its rows per slice (the allocation's height,
 * which may exceed the copy's). Slices whose rows follow on from the last slice's
 * on both ends (a whole pitched volume) are one run of rows; otherwise the copy
 * keeps its slices, and each is counted exactly (partial extents included). */
static inline void ms_shape_3d(struct ms_copy *c, uint64_t height, uint64_t depth, uint64_t dpitch,
                               uint64_t dheight, uint64_t spitch, uint64_t sheight)
{
	height = height ? height : 1;
	depth = depth ? depth : 1;
	dpitch = dpitch ? dpitch : c->width;
	spitch = spitch ? spitch : c->width;
	c->dslice = dpitch * (dheight ? dheight : height);
	c->sslice = spitch * (sheight ? sheight : height);
	if (depth > 1 && c->dslice == dpitch * height && c->sslice == spitch * height) {
		height *= depth;
		depth = 1;
	}
	c->rows = height;
	c->depth = depth;
	c->dpitch = height > 1 ? dpitch : c->width;
	c->spitch = height > 1 ? spitch : c->width;
	if (depth == 1)
		c->dslice = c->sslice = 0;
}

/* One end of a 3D batch operation (cuMemcpy3DBatchAsync, cudaMemcpy3DBatchAsync):
 * a pointer with its row length and layer height (0: packed to the extent), or an
 * array handle. */
struct ms_end3d {
	uint64_t addr;   /* pointer, or array handle */
	uint64_t pitch;  /* bytes per row (pointer-to-pointer copies count bytes) */
	uint64_t height; /* rows per layer */
	bool array;
};

static inline void ms_batch_op_3d(struct ms_copy *c, struct ms_end3d d, struct ms_end3d s, uint64_t width,
                                  uint64_t height, uint64_t depth, uint64_t stream)
{
	bool ddev = d.array || ms_is_device_ptr(d.addr), sdev = s.array || ms_is_device_ptr(s.addr);

	ms_linear(c, ms_dir_of(sdev, ddev), d.addr, s.addr, width, stream);
	c->array = (d.array ? MS_ARRAY_DST : 0) | (s.array ? MS_ARRAY_SRC : 0);
	ms_shape_3d(c, height, depth, d.array ? width : d.pitch, d.array ? height : d.height,
	            s.array ? width : s.pitch, s.array ? height : s.height);
}

/* A copy with a CUDA array at one or both ends (handles in dst/src). */
static inline void ms_array_copy(struct ms_copy *c, enum ms_dir dir, uint64_t dst, uint64_t src, uint64_t n,
                                 uint64_t stream, unsigned array)
{
	ms_linear(c, dir, dst, src, n, stream);
	c->array = array;
}

/* Direction of a copy between addresses whose kind only the pointers tell. */
static inline enum ms_dir ms_dir_probe(uint64_t dst, uint64_t src)
{
	return ms_dir_of(ms_is_device_ptr(src), ms_is_device_ptr(dst));
}

#endif /* METASHIM_HOOKS_COMMON_H */
