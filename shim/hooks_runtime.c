/* hooks_runtime.c — the cuda* interposers: what a program linked to libcudart
 * calls (or dlsyms through a runtime handle). Each decodes its arguments into the
 * core's description of the call; the driver calls the runtime makes underneath
 * pass through unrecorded (recursion guard), so one user call is one record. */
#define __CUDA_API_VERSION_INTERNAL 1
/* cudaGetDriverEntryPoint is deprecated in CUDA 13, but programs still call it. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <pthread.h>

#include "hooks_common.h"

#define NF            cudaErrorSymbolNotFound
#define MS_API_ERR(e) ((e) == MS_ERR_OOM ? cudaErrorMemoryAllocation : cudaErrorInvalidValue)

static enum ms_dir dir_of_kind(enum cudaMemcpyKind kind, uint64_t dst, uint64_t src)
{
	switch (kind) {
	case cudaMemcpyHostToHost: return MS_DIR_H2H;
	case cudaMemcpyHostToDevice: return MS_DIR_H2D;
	case cudaMemcpyDeviceToHost: return MS_DIR_D2H;
	case cudaMemcpyDeviceToDevice: return MS_DIR_D2D;
	default: return ms_dir_probe(dst, src);
	}
}

/* ---------------------------------------------------------------- allocation */
/* A deferred allocation (a reservation) hands its address out here. */
#define ALLOC_RET(p)                                                         \
	do {                                                                 \
		if (a.deferred && rc == cudaSuccess && (p))                  \
			*(p) = (void *)(uintptr_t)a.ptr;                     \
		else if (!a.deferred)                                        \
			a.ptr = rc == cudaSuccess && (p) ? MS_U64(*(p)) : 0; \
	} while (0)

MS_ALLOC_HOOK(alloc, cudaError_t, NF, cudaMalloc, (void **devPtr, size_t size), (devPtr, size),
              a.bytes = size, ALLOC_RET(devPtr))
MS_ALLOC_HOOK(free, cudaError_t, NF, cudaFree, (void *devPtr), (devPtr), a.ptr = MS_U64(devPtr), (void)0)

#define MALLOC_ASYNC(sym)                                                                              \
	MS_ALLOC_HOOK(alloc, cudaError_t, NF, sym, (void **devPtr, size_t size, cudaStream_t hStream), \
	              (devPtr, size, hStream), (a.bytes = size, a.stream = MS_U64(hStream)),           \
	              ALLOC_RET(devPtr))
MALLOC_ASYNC(cudaMallocAsync)
MALLOC_ASYNC(cudaMallocAsync_ptsz)

#define MALLOC_POOL(sym)                                                                         \
	MS_ALLOC_HOOK(alloc, cudaError_t, NF, sym,                                               \
	              (void **ptr, size_t size, cudaMemPool_t memPool, cudaStream_t stream),     \
	              (ptr, size, memPool, stream), (a.bytes = size, a.stream = MS_U64(stream)), \
	              ALLOC_RET(ptr))
MALLOC_POOL(cudaMallocFromPoolAsync)
MALLOC_POOL(cudaMallocFromPoolAsync_ptsz)

#define FREE_ASYNC(sym)                                                                                    \
	MS_ALLOC_HOOK(free, cudaError_t, NF, sym, (void *devPtr, cudaStream_t hStream), (devPtr, hStream), \
	              (a.ptr = MS_U64(devPtr), a.stream = MS_U64(hStream)), (void)0)
FREE_ASYNC(cudaFreeAsync)
FREE_ASYNC(cudaFreeAsync_ptsz)

/* -------------------------------------------------------------- linear copies */
#define MEMCPY(sym)                                                                                       \
	MS_COPY_HOOK(cudaError_t, NF, sym,                                                                \
	             (void *dst, const void *src, size_t count, enum cudaMemcpyKind kind),                \
	             (dst, src, count, kind),                                                             \
	             ms_linear(&c, dir_of_kind(kind, MS_U64(dst), MS_U64(src)), MS_U64(dst), MS_U64(src), \
	                       count, 0))
#define MEMCPY_ASYNC(sym)                                                                                   \
	MS_COPY_HOOK(                                                                                       \
	        cudaError_t, NF, sym,                                                                       \
	        (void *dst, const void *src, size_t count, enum cudaMemcpyKind kind, cudaStream_t stream),  \
	        (dst, src, count, kind, stream),                                                            \
	        ms_linear(&c, dir_of_kind(kind, MS_U64(dst), MS_U64(src)), MS_U64(dst), MS_U64(src), count, \
	                  MS_U64(stream)))
MEMCPY(cudaMemcpy)
MEMCPY(cudaMemcpy_ptds)
MEMCPY_ASYNC(cudaMemcpyAsync)
MEMCPY_ASYNC(cudaMemcpyAsync_ptsz)

MS_COPY_HOOK(cudaError_t, NF, cudaMemcpyPeer,
             (void *dst, int dstDevice, const void *src, int srcDevice, size_t count),
             (dst, dstDevice, src, srcDevice, count),
             ms_linear(&c, MS_DIR_P2P, MS_U64(dst), MS_U64(src), count, 0))
MS_COPY_HOOK(cudaError_t, NF, cudaMemcpyPeerAsync,
             (void *dst, int dstDevice, const void *src, int srcDevice, size_t count, cudaStream_t stream),
             (dst, dstDevice, src, srcDevice, count, stream),
             ms_linear(&c, MS_DIR_P2P, MS_U64(dst), MS_U64(src), count, MS_U64(stream)))

/* ---------------------------------------------------------------------- 2D */
static void describe_2d(struct ms_copy *c, void *dst, size_t dpitch, const void *src, size_t spitch,
                        size_t width, size_t height, enum cudaMemcpyKind kind, cudaStream_t s)
{
	ms_linear(c, dir_of_kind(kind, MS_U64(dst), MS_U64(src)), MS_U64(dst), MS_U64(src), width, MS_U64(s));
	if (height > 1) {
		c->rows = height;
		c->dpitch = dpitch;
		c->spitch = spitch;
	}
}

#define MEMCPY2D(sym)                                                                                        \
	MS_COPY_HOOK(cudaError_t, NF, sym,                                                                   \
	             (void *dst, size_t dpitch, const void *src, size_t spitch, size_t width, size_t height, \
	              enum cudaMemcpyKind kind),                                                             \
	             (dst, dpitch, src, spitch, width, height, kind),                                        \
	             describe_2d(&c, dst, dpitch, src, spitch, width, height, kind, 0))
#define MEMCPY2D_ASYNC(sym)                                                                                  \
	MS_COPY_HOOK(cudaError_t, NF, sym,                                                                   \
	             (void *dst, size_t dpitch, const void *src, size_t spitch, size_t width, size_t height, \
	              enum cudaMemcpyKind kind, cudaStream_t stream),                                        \
	             (dst, dpitch, src, spitch, width, height, kind, stream),                                \
	             describe_2d(&c, dst, dpitch, src, spitch, width, height, kind, stream))
MEMCPY2D(cudaMemcpy2D)
MEMCPY2D(cudaMemcpy2D_ptds)
MEMCPY2D_ASYNC(cudaMemcpy2DAsync)
MEMCPY2D_ASYNC(cudaMemcpy2DAsync_ptsz)

/* ---------------------------------------------------------------------- 3D */
/* One end of a 3D copy: a pitched pointer at pos, or an array (opaque: its handle
 * is the address, MS_ARRAY_DST/SRC say so). */
static uint64_t end_3d(cudaArray_t array, struct cudaPitchedPtr p, struct cudaPos pos)
{
	if (array)
		return MS_U64(array);
	if (!p.ptr)
		return 0;
	return MS_U64(p.ptr) + ((uint64_t)pos.z * p.ysize + pos.y) * p.pitch + pos.x;
}

/* Direction when a CUDA array may be at either end (an array is device memory). */
static enum ms_dir dir_of_arrays(enum cudaMemcpyKind kind, uint64_t dst, uint64_t src, bool dst_arr,
                                 bool src_arr)
{
	if (kind == cudaMemcpyDefault && (dst_arr || src_arr))
		return ms_dir_of(src_arr || ms_is_device_ptr(src), dst_arr || ms_is_device_ptr(dst));
	return dir_of_kind(kind, dst, src);
}

/* depth slices of height rows: each pitched end's rows per slice is its ysize,
 * so partial extents decode exactly (ms_shape_3d). */
static void describe_3d_parts(struct ms_copy *c, uint64_t dst, uint64_t src, bool dst_arr, bool src_arr,
                              struct cudaPitchedPtr dp, struct cudaPitchedPtr sp, struct cudaExtent ext,
                              enum cudaMemcpyKind kind, cudaStream_t s)
{
	ms_linear(c, dir_of_arrays(kind, dst, src, dst_arr, src_arr), dst, src, ext.width, MS_U64(s));
	c->array = (dst_arr ? MS_ARRAY_DST : 0) | (src_arr ? MS_ARRAY_SRC : 0);
	ms_shape_3d(c, ext.height, ext.depth, dst_arr ? 0 : dp.pitch, dst_arr ? 0 : dp.ysize,
	            src_arr ? 0 : sp.pitch, src_arr ? 0 : sp.ysize);
}

static void describe_3d(struct ms_copy *c, const struct cudaMemcpy3DParms *p, cudaStream_t s)
{
	if (!p)
		return;
	describe_3d_parts(c, end_3d(p->dstArray, p->dstPtr, p->dstPos),
	                  end_3d(p->srcArray, p->srcPtr, p->srcPos), p->dstArray != NULL, p->srcArray != NULL,
	                  p->dstPtr, p->srcPtr, p->extent, p->kind, s);
}

static void describe_3d_peer(struct ms_copy *c, const struct cudaMemcpy3DPeerParms *p, cudaStream_t s)
{
	if (!p)
		return;
	describe_3d_parts(c, end_3d(p->dstArray, p->dstPtr, p->dstPos),
	                  end_3d(p->srcArray, p->srcPtr, p->srcPos), p->dstArray != NULL, p->srcArray != NULL,
	                  p->dstPtr, p->srcPtr, p->extent, cudaMemcpyDeviceToDevice, s);
	c->dir = MS_DIR_P2P;
}

#define MEMCPY3D(sym, T, D) MS_COPY_HOOK(cudaError_t, NF, sym, (const T *p), (p), D(&c, p, 0))
#define MEMCPY3D_ASYNC(sym, T, D) \
	MS_COPY_HOOK(cudaError_t, NF, sym, (const T *p, cudaStream_t stream), (p, stream), D(&c, p, stream))
MEMCPY3D(cudaMemcpy3D, struct cudaMemcpy3DParms, describe_3d)
MEMCPY3D(cudaMemcpy3D_ptds, struct cudaMemcpy3DParms, describe_3d)
MEMCPY3D_ASYNC(cudaMemcpy3DAsync, struct cudaMemcpy3DParms, describe_3d)
MEMCPY3D_ASYNC(cudaMemcpy3DAsync_ptsz, struct cudaMemcpy3DParms, describe_3d)
MEMCPY3D(cudaMemcpy3DPeer, struct cudaMemcpy3DPeerParms, describe_3d_peer)
MEMCPY3D(cudaMemcpy3DPeer_ptds, struct cudaMemcpy3DPeerParms, describe_3d_peer)
MEMCPY3D_ASYNC(cudaMemcpy3DPeerAsync, struct cudaMemcpy3DPeerParms, describe_3d_peer)
MEMCPY3D_ASYNC(cudaMemcpy3DPeerAsync_ptsz, struct cudaMemcpy3DPeerParms, describe_3d_peer)

/* -------------------------------------------------------------- batch copies */
static void record_batch(const char *api, void *const *dsts, const void *const *srcs, const size_t *sizes,
                         size_t count, cudaStream_t s, uint64_t t0, cudaError_t rc)
{
	for (size_t i = 0; dsts && srcs && sizes && i < count; i++) {
		struct ms_copy c = { .api = api };

		ms_linear(&c, ms_dir_probe(MS_U64(dsts[i]), MS_U64(srcs[i])), MS_U64(dsts[i]),
		          MS_U64(srcs[i]), sizes[i], MS_U64(s));
		ms_copy_begin(&c);
		c.t0 = t0;
		ms_copy_end(&c, (int)rc);
	}
}

#define MEMCPY_BATCH(sym)                                                                              \
	MS_EXPORT cudaError_t sym(void *const *dsts, const void *const *srcs, const size_t *sizes,     \
	                          size_t count, struct cudaMemcpyAttributes *attrs, size_t *attrsIdxs, \
	                          size_t numAttrs, cudaStream_t stream)                                \
	{                                                                                              \
		__typeof__(&sym) real = MS_REAL(sym);                                                  \
		uint64_t t0;                                                                           \
		cudaError_t rc;                                                                        \
		if (MS_UNLIKELY(!real))                                                                \
			return NF;                                                                     \
		if (!ms_enter())                                                                       \
			return real(dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, stream);     \
		t0 = ms_now_ns();                                                                      \
		rc = real(dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, stream);               \
		record_batch(#sym, dsts, srcs, sizes, count, stream, t0, rc);                          \
		ms_leave();                                                                            \
		return rc;                                                                             \
	}
MEMCPY_BATCH(cudaMemcpyBatchAsync)
MEMCPY_BATCH(cudaMemcpyBatchAsync_ptsz)

/* -------------------------------------------------------------- array copies */
/* A CUDA array is opaque: its handle stands in the record (array=1/2), no tensor
 * is attributed through it, and an array end of a 2D copy has no pitch (its rows
 * are taken as packed). Offsets into arrays are not recorded. */
static void to_array(struct ms_copy *c, cudaArray_const_t dst, const void *src, size_t spitch, size_t width,
                     size_t height, enum cudaMemcpyKind kind, cudaStream_t s)
{
	ms_array_copy(c, dir_of_arrays(kind, MS_U64(dst), MS_U64(src), true, false), MS_U64(dst), MS_U64(src),
	              width, MS_U64(s), MS_ARRAY_DST);
	if (height > 1) {
		c->rows = height;
		c->spitch = spitch;
	}
}

static void from_array(struct ms_copy *c, void *dst, size_t dpitch, cudaArray_const_t src, size_t width,
                       size_t height, enum cudaMemcpyKind kind, cudaStream_t s)
{
	ms_array_copy(c, dir_of_arrays(kind, MS_U64(dst), MS_U64(src), false, true), MS_U64(dst), MS_U64(src),
	              width, MS_U64(s), MS_ARRAY_SRC);
	if (height > 1) {
		c->rows = height;
		c->dpitch = dpitch;
	}
}

static void array_to_array(struct ms_copy *c, cudaArray_const_t dst, cudaArray_const_t src, size_t width,
                           size_t height)
{
	ms_array_copy(c, MS_DIR_D2D, MS_U64(dst), MS_U64(src), width, 0, MS_ARRAY_DST | MS_ARRAY_SRC);
	c->rows = height ? height : 1;
}

#define TO_ARRAY(sym)                                                                                 \
	MS_COPY_HOOK(cudaError_t, NF, sym,                                                            \
	             (cudaArray_t dst, size_t wOffset, size_t hOffset, const void *src, size_t count, \
	              enum cudaMemcpyKind kind),                                                      \
	             (dst, wOffset, hOffset, src, count, kind),                                       \
	             to_array(&c, dst, src, count, count, 1, kind, 0))
#define TO_ARRAY_ASYNC(sym)                                                                           \
	MS_COPY_HOOK(cudaError_t, NF, sym,                                                            \
	             (cudaArray_t dst, size_t wOffset, size_t hOffset, const void *src, size_t count, \
	              enum cudaMemcpyKind kind, cudaStream_t stream),                                 \
	             (dst, wOffset, hOffset, src, count, kind, stream),                               \
	             to_array(&c, dst, src, count, count, 1, kind, stream))
#define FROM_ARRAY(sym)                                                                               \
	MS_COPY_HOOK(cudaError_t, NF, sym,                                                            \
	             (void *dst, cudaArray_const_t src, size_t wOffset, size_t hOffset, size_t count, \
	              enum cudaMemcpyKind kind),                                                      \
	             (dst, src, wOffset, hOffset, count, kind),                                       \
	             from_array(&c, dst, count, src, count, 1, kind, 0))
#define FROM_ARRAY_ASYNC(sym)                                                                         \
	MS_COPY_HOOK(cudaError_t, NF, sym,                                                            \
	             (void *dst, cudaArray_const_t src, size_t wOffset, size_t hOffset, size_t count, \
	              enum cudaMemcpyKind kind, cudaStream_t stream),                                 \
	             (dst, src, wOffset, hOffset, count, kind, stream),                               \
	             from_array(&c, dst, count, src, count, 1, kind, stream))
#define TO_ARRAY_2D(sym)                                                                               \
	MS_COPY_HOOK(cudaError_t, NF, sym,                                                             \
	             (cudaArray_t dst, size_t wOffset, size_t hOffset, const void *src, size_t spitch, \
	              size_t width, size_t height, enum cudaMemcpyKind kind),                          \
	             (dst, wOffset, hOffset, src, spitch, width, height, kind),                        \
	             to_array(&c, dst, src, spitch, width, height, kind, 0))
#define TO_ARRAY_2D_ASYNC(sym)                                                                         \
	MS_COPY_HOOK(cudaError_t, NF, sym,                                                             \
	             (cudaArray_t dst, size_t wOffset, size_t hOffset, const void *src, size_t spitch, \
	              size_t width, size_t height, enum cudaMemcpyKind kind, cudaStream_t stream),     \
	             (dst, wOffset, hOffset, src, spitch, width, height, kind, stream),                \
	             to_array(&c, dst, src, spitch, width, height, kind, stream))
#define FROM_ARRAY_2D(sym)                                                                             \
	MS_COPY_HOOK(cudaError_t, NF, sym,                                                             \
	             (void *dst, size_t dpitch, cudaArray_const_t src, size_t wOffset, size_t hOffset, \
	              size_t width, size_t height, enum cudaMemcpyKind kind),                          \
	             (dst, dpitch, src, wOffset, hOffset, width, height, kind),                        \
	             from_array(&c, dst, dpitch, src, width, height, kind, 0))
#define FROM_ARRAY_2D_ASYNC(sym)                                                                       \
	MS_COPY_HOOK(cudaError_t, NF, sym,                                                             \
	             (void *dst, size_t dpitch, cudaArray_const_t src, size_t wOffset, size_t hOffset, \
	              size_t width, size_t height, enum cudaMemcpyKind kind, cudaStream_t stream),     \
	             (dst, dpitch, src, wOffset, hOffset, width, height, kind, stream),                \
	             from_array(&c, dst, dpitch, src, width, height, kind, stream))
#define ARRAY_TO_ARRAY(sym)                                                                          \
	MS_COPY_HOOK(cudaError_t, NF, sym,                                                           \
	             (cudaArray_t dst, size_t wOffsetDst, size_t hOffsetDst, cudaArray_const_t src,  \
	              size_t wOffsetSrc, size_t hOffsetSrc, size_t count, enum cudaMemcpyKind kind), \
	             (dst, wOffsetDst, hOffsetDst, src, wOffsetSrc, hOffsetSrc, count, kind),        \
	             array_to_array(&c, dst, src, count, 1))
#define ARRAY_TO_ARRAY_2D(sym)                                                                        \
	MS_COPY_HOOK(cudaError_t, NF, sym,                                                            \
	             (cudaArray_t dst, size_t wOffsetDst, size_t hOffsetDst, cudaArray_const_t src,   \
	              size_t wOffsetSrc, size_t hOffsetSrc, size_t width, size_t height,              \
	              enum cudaMemcpyKind kind),                                                      \
	             (dst, wOffsetDst, hOffsetDst, src, wOffsetSrc, hOffsetSrc, width, height, kind), \
	             array_to_array(&c, dst, src, width, height))
TO_ARRAY(cudaMemcpyToArray)
TO_ARRAY(cudaMemcpyToArray_ptds)
TO_ARRAY_ASYNC(cudaMemcpyToArrayAsync)
TO_ARRAY_ASYNC(cudaMemcpyToArrayAsync_ptsz)
FROM_ARRAY(cudaMemcpyFromArray)
FROM_ARRAY(cudaMemcpyFromArray_ptds)
FROM_ARRAY_ASYNC(cudaMemcpyFromArrayAsync)
FROM_ARRAY_ASYNC(cudaMemcpyFromArrayAsync_ptsz)
TO_ARRAY_2D(cudaMemcpy2DToArray)
TO_ARRAY_2D(cudaMemcpy2DToArray_ptds)
TO_ARRAY_2D_ASYNC(cudaMemcpy2DToArrayAsync)
TO_ARRAY_2D_ASYNC(cudaMemcpy2DToArrayAsync_ptsz)
FROM_ARRAY_2D(cudaMemcpy2DFromArray)
FROM_ARRAY_2D(cudaMemcpy2DFromArray_ptds)
FROM_ARRAY_2D_ASYNC(cudaMemcpy2DFromArrayAsync)
FROM_ARRAY_2D_ASYNC(cudaMemcpy2DFromArrayAsync_ptsz)
ARRAY_TO_ARRAY(cudaMemcpyArrayToArray)
ARRAY_TO_ARRAY(cudaMemcpyArrayToArray_ptds)
ARRAY_TO_ARRAY_2D(cudaMemcpy2DArrayToArray)
ARRAY_TO_ARRAY_2D(cudaMemcpy2DArrayToArray_ptds)

/* ------------------------------------------------------------ 3D batch copies */
/* One copy record per operation, as cuMemcpy3DBatchAsync's (hooks_driver.c):
 * pointer-to-pointer widths are bytes; an array end's elements count as bytes. */
static struct ms_end3d end_3d_op(const struct cudaMemcpy3DOperand *o)
{
	if (o->type == cudaMemcpyOperandTypeArray)
		return (struct ms_end3d){ .addr = MS_U64(o->op.array.array), .array = true };
	return (struct ms_end3d){ .addr = MS_U64(o->op.ptr.ptr),
		                  .pitch = o->op.ptr.rowLength,
		                  .height = o->op.ptr.layerHeight };
}

#define MEMCPY_3D_BATCH(sym)                                                                           \
	MS_EXPORT cudaError_t sym(size_t numOps, struct cudaMemcpy3DBatchOp *opList,                   \
	                          unsigned long long flags, cudaStream_t stream)                       \
	{                                                                                              \
		__typeof__(&sym) real = MS_REAL(sym);                                                  \
		uint64_t t0;                                                                           \
		cudaError_t rc;                                                                        \
		if (MS_UNLIKELY(!real))                                                                \
			return NF;                                                                     \
		if (!ms_enter())                                                                       \
			return real(numOps, opList, flags, stream);                                    \
		t0 = ms_now_ns();                                                                      \
		rc = real(numOps, opList, flags, stream);                                              \
		for (size_t i = 0; opList && i < numOps; i++) {                                        \
			struct ms_copy c = { .api = #sym };                                            \
			const struct cudaMemcpy3DBatchOp *op = &opList[i];                             \
			ms_batch_op_3d(&c, end_3d_op(&op->dst), end_3d_op(&op->src), op->extent.width, \
			               op->extent.height, op->extent.depth, MS_U64(stream));           \
			ms_copy_begin(&c);                                                             \
			c.t0 = t0;                                                                     \
			ms_copy_end(&c, (int)rc);                                                      \
		}                                                                                      \
		ms_leave();                                                                            \
		return rc;                                                                             \
	}
MEMCPY_3D_BATCH(cudaMemcpy3DBatchAsync)
MEMCPY_3D_BATCH(cudaMemcpy3DBatchAsync_ptsz)

/* ------------------------------------------------------------------ symbols */
/* The device address of a __device__ variable, through the real runtime; asked
 * only after the copy succeeded (so the symbol is valid and no error is left
 * behind for cudaGetLastError). 0 when the runtime cannot say. */
typedef cudaError_t (*get_symbol_address_fn)(void **, const void *);
static get_symbol_address_fn get_symbol_address;
static pthread_once_t gsa_once = PTHREAD_ONCE_INIT;

static void init_gsa(void)
{
	void *p = ms_real_dlsym(RTLD_NEXT, "cudaGetSymbolAddress");

	if (!p || ms_in_shim(p))
		p = ms_lookup_after(0, "cudaGetSymbolAddress");
	get_symbol_address = (get_symbol_address_fn)p;
}

static uint64_t symbol_address(const void *symbol, size_t offset)
{
	void *addr = NULL;

	pthread_once(&gsa_once, init_gsa);
	if (!get_symbol_address || get_symbol_address(&addr, symbol) != cudaSuccess || !addr)
		return 0;
	return MS_U64(addr) + offset;
}

#define TO_SYMBOL(sym)                                                                             \
	MS_COPY_HOOK2(cudaError_t, NF, sym,                                                        \
	              (const void *symbol, const void *src, size_t count, size_t offset,           \
	               enum cudaMemcpyKind kind),                                                  \
	              (symbol, src, count, offset, kind),                                          \
	              ms_linear(&c, kind == cudaMemcpyDeviceToDevice ? MS_DIR_D2D : MS_DIR_H2D, 0, \
	                        MS_U64(src), count, 0),                                            \
	              if (rc == cudaSuccess) c.dst = symbol_address(symbol, offset))
#define TO_SYMBOL_ASYNC(sym)                                                                       \
	MS_COPY_HOOK2(cudaError_t, NF, sym,                                                        \
	              (const void *symbol, const void *src, size_t count, size_t offset,           \
	               enum cudaMemcpyKind kind, cudaStream_t stream),                             \
	              (symbol, src, count, offset, kind, stream),                                  \
	              ms_linear(&c, kind == cudaMemcpyDeviceToDevice ? MS_DIR_D2D : MS_DIR_H2D, 0, \
	                        MS_U64(src), count, MS_U64(stream)),                               \
	              if (rc == cudaSuccess) c.dst = symbol_address(symbol, offset))
#define FROM_SYMBOL(sym)                                                                                  \
	MS_COPY_HOOK2(                                                                                    \
	        cudaError_t, NF, sym,                                                                     \
	        (void *dst, const void *symbol, size_t count, size_t offset, enum cudaMemcpyKind kind),   \
	        (dst, symbol, count, offset, kind),                                                       \
	        ms_linear(&c, kind == cudaMemcpyDeviceToDevice ? MS_DIR_D2D : MS_DIR_D2H, MS_U64(dst), 0, \
	                  count, 0),                                                                      \
	        if (rc == cudaSuccess) c.src = symbol_address(symbol, offset))
#define FROM_SYMBOL_ASYNC(sym)                                                                               \
	MS_COPY_HOOK2(cudaError_t, NF, sym,                                                                  \
	              (void *dst, const void *symbol, size_t count, size_t offset, enum cudaMemcpyKind kind, \
	               cudaStream_t stream),                                                                 \
	              (dst, symbol, count, offset, kind, stream),                                            \
	              ms_linear(&c, kind == cudaMemcpyDeviceToDevice ? MS_DIR_D2D : MS_DIR_D2H, MS_U64(dst), \
	                        0, count, MS_U64(stream)),                                                   \
	              if (rc == cudaSuccess) c.src = symbol_address(symbol, offset))
TO_SYMBOL(cudaMemcpyToSymbol)
TO_SYMBOL(cudaMemcpyToSymbol_ptds)
TO_SYMBOL_ASYNC(cudaMemcpyToSymbolAsync)
TO_SYMBOL_ASYNC(cudaMemcpyToSymbolAsync_ptsz)
FROM_SYMBOL(cudaMemcpyFromSymbol)
FROM_SYMBOL(cudaMemcpyFromSymbol_ptds)
FROM_SYMBOL_ASYNC(cudaMemcpyFromSymbolAsync)
FROM_SYMBOL_ASYNC(cudaMemcpyFromSymbolAsync_ptsz)

/* ------------------------------------------------------------------ memsets */
#define MEMSET(sym)                                                                   \
	MS_MEMSET_HOOK(cudaError_t, NF, sym, (void *devPtr, int value, size_t count), \
	               (devPtr, value, count),                                        \
	               (m.dst = MS_U64(devPtr), m.bytes = count, m.value = (uint8_t)value))
#define MEMSET_ASYNC(sym)                                                                                  \
	MS_MEMSET_HOOK(cudaError_t, NF, sym, (void *devPtr, int value, size_t count, cudaStream_t stream), \
	               (devPtr, value, count, stream),                                                     \
	               (m.dst = MS_U64(devPtr), m.bytes = count, m.value = (uint8_t)value,                 \
	                m.stream = MS_U64(stream)))
#define MEMSET2D_FILL(S)                                                                                  \
	(m.dst = MS_U64(devPtr), m.value = (uint8_t)value, m.width = width, m.rows = height ? height : 1, \
	 m.pitch = pitch, m.bytes = (uint64_t)width * m.rows, m.stream = S)
#define MEMSET2D(sym)                                                                        \
	MS_MEMSET_HOOK(cudaError_t, NF, sym,                                                 \
	               (void *devPtr, size_t pitch, int value, size_t width, size_t height), \
	               (devPtr, pitch, value, width, height), MEMSET2D_FILL(0))
#define MEMSET2D_ASYNC(sym)                                                                                \
	MS_MEMSET_HOOK(                                                                                    \
	        cudaError_t, NF, sym,                                                                      \
	        (void *devPtr, size_t pitch, int value, size_t width, size_t height, cudaStream_t stream), \
	        (devPtr, pitch, value, width, height, stream), MEMSET2D_FILL(MS_U64(stream)))
MEMSET(cudaMemset)
MEMSET(cudaMemset_ptds)
MEMSET_ASYNC(cudaMemsetAsync)
MEMSET_ASYNC(cudaMemsetAsync_ptsz)
MEMSET2D(cudaMemset2D)
MEMSET2D(cudaMemset2D_ptds)
MEMSET2D_ASYNC(cudaMemset2DAsync)
MEMSET2D_ASYNC(cudaMemset2DAsync_ptsz)

/* 3D memsets: extent.depth slices of extent.height rows of extent.width bytes,
 * rows pitch apart, slices pitch*ysize apart (exact for partial extents). */
static void describe_memset_3d(struct ms_memset *m, struct cudaPitchedPtr p, int value, struct cudaExtent e,
                               cudaStream_t s)
{
	uint64_t h = e.height ? e.height : 1, d = e.depth ? e.depth : 1;

	m->dst = MS_U64(p.ptr);
	m->value = (uint8_t)value;
	m->width = e.width;
	m->pitch = p.pitch;
	m->slice = (uint64_t)p.pitch * (p.ysize ? p.ysize : h);
	m->stream = MS_U64(s);
	if (d > 1 && m->slice == (uint64_t)p.pitch * h) {
		h *= d; /* whole pitched slices: one run of rows */
		d = 1;
	}
	m->rows = h;
	m->depth = d;
	m->bytes = (uint64_t)e.width * e.height * e.depth;
}

#define MEMSET3D(sym)                                                                                   \
	MS_MEMSET_HOOK(cudaError_t, NF, sym, (struct cudaPitchedPtr p, int value, struct cudaExtent e), \
	               (p, value, e), describe_memset_3d(&m, p, value, e, 0))
#define MEMSET3D_ASYNC(sym)                                                                            \
	MS_MEMSET_HOOK(cudaError_t, NF, sym,                                                           \
	               (struct cudaPitchedPtr p, int value, struct cudaExtent e, cudaStream_t stream), \
	               (p, value, e, stream), describe_memset_3d(&m, p, value, e, stream))
MEMSET3D(cudaMemset3D)
MEMSET3D(cudaMemset3D_ptds)
MEMSET3D_ASYNC(cudaMemset3DAsync)
MEMSET3D_ASYNC(cudaMemset3DAsync_ptsz)

/* ------------------------------------------------------------ kernel launches */
#define LAUNCH(sym)                                                                                   \
	MS_LAUNCH_HOOK(cudaError_t, NF, sym,                                                          \
	               (const void *func, dim3 gridDim, dim3 blockDim, void **args, size_t sharedMem, \
	                cudaStream_t stream),                                                         \
	               (func, gridDim, blockDim, args, sharedMem, stream))
#define LAUNCH_EX(sym)                                                                    \
	MS_LAUNCH_HOOK(cudaError_t, NF, sym,                                              \
	               (const cudaLaunchConfig_t *config, const void *func, void **args), \
	               (config, func, args))
LAUNCH(cudaLaunchKernel)
LAUNCH(cudaLaunchKernel_ptsz)
LAUNCH_EX(cudaLaunchKernelExC)
LAUNCH_EX(cudaLaunchKernelExC_ptsz)

/* ------------------------------------------------------ driver entry points */
/* The runtime's way into cuGetProcAddress: what it returns is wrapped exactly as
 * cuGetProcAddress's answer is. Usually the runtime already went through the
 * shim's cuGetProcAddress and the pointer is a wrapper (left as it is). */
typedef cudaError_t (*runtime_version_fn)(int *);
static int runtime_version;
static pthread_once_t rtv_once = PTHREAD_ONCE_INIT;

static void init_rtv(void)
{
	void *p = ms_real_dlsym(RTLD_NEXT, "cudaRuntimeGetVersion");

	if (!p || ms_in_shim(p))
		p = ms_lookup_after(0, "cudaRuntimeGetVersion");
	if (p && ((runtime_version_fn)p)(&runtime_version) != cudaSuccess)
		runtime_version = 0;
}

/* cudaEnableDefault means per-thread in the _ptsz entry point (a per-thread
 * build), legacy otherwise; the other flag bits equal the driver's. */
static void *route_entry(const char *symbol, void *fn, int version, unsigned long long flags, bool ptsz)
{
	if (!(flags & (cudaEnableLegacyStream | cudaEnablePerThreadDefaultStream)))
		flags |= ptsz ? cudaEnablePerThreadDefaultStream : cudaEnableLegacyStream;
	return version > 0 ? ms_route_proc(symbol, version, flags, fn) : fn;
}

#define GET_ENTRY(sym, PTSZ)                                                                    \
	MS_EXPORT cudaError_t sym(const char *symbol, void **funcPtr, unsigned long long flags, \
	                          enum cudaDriverEntryPointQueryResult *driverStatus)           \
	{                                                                                       \
		__typeof__(&sym) real = MS_REAL(sym);                                           \
		cudaError_t rc;                                                                 \
		if (MS_UNLIKELY(!real))                                                         \
			return NF;                                                              \
		rc = real(symbol, funcPtr, flags, driverStatus);                                \
		if (rc == cudaSuccess && funcPtr && *funcPtr && !ms_in_shim(*funcPtr)) {        \
			pthread_once(&rtv_once, init_rtv);                                      \
			*funcPtr = route_entry(symbol, *funcPtr, runtime_version, flags, PTSZ); \
		}                                                                               \
		return rc;                                                                      \
	}
#define GET_ENTRY_BY_VERSION(sym, PTSZ)                                                          \
	MS_EXPORT cudaError_t sym(const char *symbol, void **funcPtr, unsigned int cudaVersion,  \
	                          unsigned long long flags,                                      \
	                          enum cudaDriverEntryPointQueryResult *driverStatus)            \
	{                                                                                        \
		__typeof__(&sym) real = MS_REAL(sym);                                            \
		cudaError_t rc;                                                                  \
		if (MS_UNLIKELY(!real))                                                          \
			return NF;                                                               \
		rc = real(symbol, funcPtr, cudaVersion, flags, driverStatus);                    \
		if (rc == cudaSuccess && funcPtr && *funcPtr)                                    \
			*funcPtr = route_entry(symbol, *funcPtr, (int)cudaVersion, flags, PTSZ); \
		return rc;                                                                       \
	}
GET_ENTRY(cudaGetDriverEntryPoint, false)
GET_ENTRY(cudaGetDriverEntryPoint_ptsz, true)
GET_ENTRY_BY_VERSION(cudaGetDriverEntryPointByVersion, false)
GET_ENTRY_BY_VERSION(cudaGetDriverEntryPointByVersion_ptsz, true)

#define RT_ROW(sym, proc, version, pt) [MS_EP_##sym] = (void *)sym,
#define NO_ROW(sym, proc, version, pt)
void *const ms_wrappers_runtime[MS_EP_COUNT] = { MS_ENTRY_POINTS(NO_ROW, RT_ROW, NO_ROW, NO_ROW) };
