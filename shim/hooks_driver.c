/* hooks_driver.c — the cu* interposers: allocations, frees, the copy family and
 * memsets of the driver API, each ABI form (_v2, _ptds, _ptsz) its own exported
 * wrapper with its own real slot. Programs reach them by linking, by dlsym, or
 * through cuGetProcAddress (hooks_dlsym.c); the runtime reaches them the last way,
 * and the recursion guard keeps a runtime call from being recorded twice. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>

#include "hooks_common.h"

#define NF            CUDA_ERROR_NOT_FOUND
#define MS_API_ERR(e) ((e) == MS_ERR_OOM ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_INVALID_VALUE)

/* ---------------------------------------------------------------- allocation */
/* A deferred allocation (a reservation) hands its address out here. */
#define ALLOC_RET(dptr)                                                                 \
	do {                                                                            \
		if (a.deferred && rc == CUDA_SUCCESS && (dptr))                         \
			*(dptr) = (CUdeviceptr)a.ptr;                                   \
		else if (!a.deferred)                                                   \
			a.ptr = rc == CUDA_SUCCESS && (dptr) ? (uint64_t) * (dptr) : 0; \
	} while (0)

MS_ALLOC_HOOK(alloc, CUresult, NF, cuMemAlloc_v2, (CUdeviceptr * dptr, size_t bytesize), (dptr, bytesize),
              a.bytes = bytesize, ALLOC_RET(dptr))

#define MEM_ALLOC_ASYNC(sym)                                                                             \
	MS_ALLOC_HOOK(alloc, CUresult, NF, sym, (CUdeviceptr * dptr, size_t bytesize, CUstream hStream), \
	              (dptr, bytesize, hStream), (a.bytes = bytesize, a.stream = MS_U64(hStream)),       \
	              ALLOC_RET(dptr))
MEM_ALLOC_ASYNC(cuMemAllocAsync)
MEM_ALLOC_ASYNC(cuMemAllocAsync_ptsz)

#define MEM_ALLOC_POOL(sym)                                                                              \
	MS_ALLOC_HOOK(alloc, CUresult, NF, sym,                                                          \
	              (CUdeviceptr * dptr, size_t bytesize, CUmemoryPool pool, CUstream hStream),        \
	              (dptr, bytesize, pool, hStream), (a.bytes = bytesize, a.stream = MS_U64(hStream)), \
	              ALLOC_RET(dptr))
MEM_ALLOC_POOL(cuMemAllocFromPoolAsync)
MEM_ALLOC_POOL(cuMemAllocFromPoolAsync_ptsz)

MS_ALLOC_HOOK(free, CUresult, NF, cuMemFree_v2, (CUdeviceptr dptr), (dptr), a.ptr = dptr, (void)0)

#define MEM_FREE_ASYNC(sym)                                                                           \
	MS_ALLOC_HOOK(free, CUresult, NF, sym, (CUdeviceptr dptr, CUstream hStream), (dptr, hStream), \
	              (a.ptr = dptr, a.stream = MS_U64(hStream)), (void)0)
MEM_FREE_ASYNC(cuMemFreeAsync)
MEM_FREE_ASYNC(cuMemFreeAsync_ptsz)

/* Virtual memory (expandable segments, JAX): physical memory is counted at
 * create/release (ptr is the handle), and map/unmap give it addresses. */
MS_ALLOC_HOOK(alloc, CUresult, NF, cuMemCreate,
              (CUmemGenericAllocationHandle * handle, size_t size, const CUmemAllocationProp *prop,
               unsigned long long flags),
              (handle, size, prop, flags), (a.bytes = size, a.handle = true),
              a.ptr = rc == CUDA_SUCCESS && handle ? (uint64_t)*handle : 0)
MS_ALLOC_HOOK(free, CUresult, NF, cuMemRelease, (CUmemGenericAllocationHandle handle), (handle),
              (a.ptr = handle, a.handle = true), (void)0)
MS_ALLOC_HOOK(alloc, CUresult, NF, cuMemMap,
              (CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
               unsigned long long flags),
              (ptr, size, offset, handle, flags), (a.ptr = ptr, a.bytes = size, a.map = true), (void)0)
MS_ALLOC_HOOK(free, CUresult, NF, cuMemUnmap, (CUdeviceptr ptr, size_t size), (ptr, size),
              (a.ptr = ptr, a.bytes = size, a.map = true), (void)0)

/* -------------------------------------------------------------- linear copies */
#define SYNC_COPY(sym, DT, ST, DIR)                                                                \
	MS_COPY_HOOK(CUresult, NF, sym, (DT dst, ST src, size_t ByteCount), (dst, src, ByteCount), \
	             ms_linear(&c, DIR, MS_U64(dst), MS_U64(src), ByteCount, 0))
#define ASYNC_COPY(sym, DT, ST, DIR)                                                          \
	MS_COPY_HOOK(CUresult, NF, sym, (DT dst, ST src, size_t ByteCount, CUstream hStream), \
	             (dst, src, ByteCount, hStream),                                          \
	             ms_linear(&c, DIR, MS_U64(dst), MS_U64(src), ByteCount, MS_U64(hStream)))

SYNC_COPY(cuMemcpyHtoD_v2, CUdeviceptr, const void *, MS_DIR_H2D)
SYNC_COPY(cuMemcpyHtoD_v2_ptds, CUdeviceptr, const void *, MS_DIR_H2D)
ASYNC_COPY(cuMemcpyHtoDAsync_v2, CUdeviceptr, const void *, MS_DIR_H2D)
ASYNC_COPY(cuMemcpyHtoDAsync_v2_ptsz, CUdeviceptr, const void *, MS_DIR_H2D)
SYNC_COPY(cuMemcpyDtoH_v2, void *, CUdeviceptr, MS_DIR_D2H)
SYNC_COPY(cuMemcpyDtoH_v2_ptds, void *, CUdeviceptr, MS_DIR_D2H)
ASYNC_COPY(cuMemcpyDtoHAsync_v2, void *, CUdeviceptr, MS_DIR_D2H)
ASYNC_COPY(cuMemcpyDtoHAsync_v2_ptsz, void *, CUdeviceptr, MS_DIR_D2H)
SYNC_COPY(cuMemcpyDtoD_v2, CUdeviceptr, CUdeviceptr, MS_DIR_D2D)
SYNC_COPY(cuMemcpyDtoD_v2_ptds, CUdeviceptr, CUdeviceptr, MS_DIR_D2D)
ASYNC_COPY(cuMemcpyDtoDAsync_v2, CUdeviceptr, CUdeviceptr, MS_DIR_D2D)
ASYNC_COPY(cuMemcpyDtoDAsync_v2_ptsz, CUdeviceptr, CUdeviceptr, MS_DIR_D2D)

/* Unified addressing: the pointers tell the direction. */
#define UNIFIED_SYNC(sym)                                                                     \
	MS_COPY_HOOK(CUresult, NF, sym, (CUdeviceptr dst, CUdeviceptr src, size_t ByteCount), \
	             (dst, src, ByteCount), ms_linear(&c, ms_dir_probe(dst, src), dst, src, ByteCount, 0))
#define UNIFIED_ASYNC(sym)                                                                   \
	MS_COPY_HOOK(CUresult, NF, sym,                                                      \
	             (CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream), \
	             (dst, src, ByteCount, hStream),                                         \
	             ms_linear(&c, ms_dir_probe(dst, src), dst, src, ByteCount, MS_U64(hStream)))
UNIFIED_SYNC(cuMemcpy)
UNIFIED_SYNC(cuMemcpy_ptds)
UNIFIED_ASYNC(cuMemcpyAsync)
UNIFIED_ASYNC(cuMemcpyAsync_ptsz)

#define PEER_SYNC(sym)                                                                    \
	MS_COPY_HOOK(CUresult, NF, sym,                                                   \
	             (CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice, \
	              CUcontext srcContext, size_t ByteCount),                            \
	             (dstDevice, dstContext, srcDevice, srcContext, ByteCount),           \
	             ms_linear(&c, MS_DIR_P2P, dstDevice, srcDevice, ByteCount, 0))
#define PEER_ASYNC(sym)                                                                   \
	MS_COPY_HOOK(CUresult, NF, sym,                                                   \
	             (CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice, \
	              CUcontext srcContext, size_t ByteCount, CUstream hStream),          \
	             (dstDevice, dstContext, srcDevice, srcContext, ByteCount, hStream),  \
	             ms_linear(&c, MS_DIR_P2P, dstDevice, srcDevice, ByteCount, MS_U64(hStream)))
PEER_SYNC(cuMemcpyPeer)
PEER_SYNC(cuMemcpyPeer_ptds)
PEER_ASYNC(cuMemcpyPeerAsync)
PEER_ASYNC(cuMemcpyPeerAsync_ptsz)

/* ---------------------------------------------------------------- 2D and 3D */
/* Address of one end of a strided copy and whether it is device memory; an array
 * (opaque, no linear address) is device memory, its handle the address. */
static uint64_t end_of(CUmemorytype type, const void *host, CUdeviceptr dev, CUarray arr, uint64_t off,
                       bool *is_dev, bool *is_arr)
{
	*is_arr = false;
	switch (type) {
	case CU_MEMORYTYPE_HOST: *is_dev = false; return MS_U64(host) + off;
	case CU_MEMORYTYPE_DEVICE: *is_dev = true; return dev + off;
	case CU_MEMORYTYPE_UNIFIED: *is_dev = ms_is_device_ptr(dev); return dev + off;
	case CU_MEMORYTYPE_ARRAY: *is_dev = *is_arr = true; return MS_U64(arr);
	default: *is_dev = true; return 0;
	}
}

static void describe_2d(struct ms_copy *c, const CUDA_MEMCPY2D *p, CUstream s)
{
	bool sdev = false, ddev = false, sarr = false, darr = false;

	if (!p)
		return;
	c->src = end_of(p->srcMemoryType, p->srcHost, p->srcDevice, p->srcArray,
	                p->srcY * p->srcPitch + p->srcXInBytes, &sdev, &sarr);
	c->dst = end_of(p->dstMemoryType, p->dstHost, p->dstDevice, p->dstArray,
	                p->dstY * p->dstPitch + p->dstXInBytes, &ddev, &darr);
	c->dir = ms_dir_of(sdev, ddev);
	c->array = (darr ? MS_ARRAY_DST : 0) | (sarr ? MS_ARRAY_SRC : 0);
	c->width = p->WidthInBytes;
	c->rows = p->Height ? p->Height : 1;
	c->dpitch = p->Height > 1 && !darr ? p->dstPitch : p->WidthInBytes;
	c->spitch = p->Height > 1 && !sarr ? p->srcPitch : p->WidthInBytes;
	c->stream = MS_U64(s);
}

/* 3D copies: Depth slices of Height rows, each end with its own pitch and rows
 * per slice (dstHeight/srcHeight), decoded exactly (ms_shape_3d). An array end
 * has no pitch; its rows are taken as packed. */
static void describe_3d(struct ms_copy *c, const CUDA_MEMCPY3D *p, CUstream s)
{
	bool sdev = false, ddev = false, sarr = false, darr = false;
	uint64_t soff, doff;

	if (!p)
		return;
	soff = (p->srcZ * p->srcHeight + p->srcY) * p->srcPitch + p->srcXInBytes;
	doff = (p->dstZ * p->dstHeight + p->dstY) * p->dstPitch + p->dstXInBytes;
	c->src = end_of(p->srcMemoryType, p->srcHost, p->srcDevice, p->srcArray, soff, &sdev, &sarr);
	c->dst = end_of(p->dstMemoryType, p->dstHost, p->dstDevice, p->dstArray, doff, &ddev, &darr);
	c->dir = ms_dir_of(sdev, ddev);
	c->array = (darr ? MS_ARRAY_DST : 0) | (sarr ? MS_ARRAY_SRC : 0);
	c->width = p->WidthInBytes;
	c->stream = MS_U64(s);
	ms_shape_3d(c, p->Height, p->Depth, darr ? 0 : p->dstPitch, darr ? 0 : p->dstHeight,
	            sarr ? 0 : p->srcPitch, sarr ? 0 : p->srcHeight);
}

static void describe_3d_peer(struct ms_copy *c, const CUDA_MEMCPY3D_PEER *p, CUstream s)
{
	CUDA_MEMCPY3D q;

	if (!p)
		return;
	q = (CUDA_MEMCPY3D){
		.srcXInBytes = p->srcXInBytes,
		.srcY = p->srcY,
		.srcZ = p->srcZ,
		.srcMemoryType = p->srcMemoryType,
		.srcHost = p->srcHost,
		.srcDevice = p->srcDevice,
		.srcArray = p->srcArray,
		.srcPitch = p->srcPitch,
		.srcHeight = p->srcHeight,
		.dstXInBytes = p->dstXInBytes,
		.dstY = p->dstY,
		.dstZ = p->dstZ,
		.dstMemoryType = p->dstMemoryType,
		.dstHost = p->dstHost,
		.dstDevice = p->dstDevice,
		.dstArray = p->dstArray,
		.dstPitch = p->dstPitch,
		.dstHeight = p->dstHeight,
		.WidthInBytes = p->WidthInBytes,
		.Height = p->Height,
		.Depth = p->Depth,
	};
	describe_3d(c, &q, s);
	if (c->dir == MS_DIR_D2D)
		c->dir = MS_DIR_P2P;
}

#define COPY_2D(sym) \
	MS_COPY_HOOK(CUresult, NF, sym, (const CUDA_MEMCPY2D *pCopy), (pCopy), describe_2d(&c, pCopy, 0))
#define COPY_2D_ASYNC(sym)                                                                                \
	MS_COPY_HOOK(CUresult, NF, sym, (const CUDA_MEMCPY2D *pCopy, CUstream hStream), (pCopy, hStream), \
	             describe_2d(&c, pCopy, hStream))
COPY_2D(cuMemcpy2D_v2)
COPY_2D(cuMemcpy2D_v2_ptds)
COPY_2D(cuMemcpy2DUnaligned_v2)
COPY_2D(cuMemcpy2DUnaligned_v2_ptds)
COPY_2D_ASYNC(cuMemcpy2DAsync_v2)
COPY_2D_ASYNC(cuMemcpy2DAsync_v2_ptsz)

#define COPY_3D(sym, T, DESCRIBE) \
	MS_COPY_HOOK(CUresult, NF, sym, (const T *pCopy), (pCopy), DESCRIBE(&c, pCopy, 0))
#define COPY_3D_ASYNC(sym, T, DESCRIBE)                                                       \
	MS_COPY_HOOK(CUresult, NF, sym, (const T *pCopy, CUstream hStream), (pCopy, hStream), \
	             DESCRIBE(&c, pCopy, hStream))
COPY_3D(cuMemcpy3D_v2, CUDA_MEMCPY3D, describe_3d)
COPY_3D(cuMemcpy3D_v2_ptds, CUDA_MEMCPY3D, describe_3d)
COPY_3D_ASYNC(cuMemcpy3DAsync_v2, CUDA_MEMCPY3D, describe_3d)
COPY_3D_ASYNC(cuMemcpy3DAsync_v2_ptsz, CUDA_MEMCPY3D, describe_3d)
COPY_3D(cuMemcpy3DPeer, CUDA_MEMCPY3D_PEER, describe_3d_peer)
COPY_3D(cuMemcpy3DPeer_ptds, CUDA_MEMCPY3D_PEER, describe_3d_peer)
COPY_3D_ASYNC(cuMemcpy3DPeerAsync, CUDA_MEMCPY3D_PEER, describe_3d_peer)
COPY_3D_ASYNC(cuMemcpy3DPeerAsync_ptsz, CUDA_MEMCPY3D_PEER, describe_3d_peer)

/* -------------------------------------------------------------- array copies */
/* A CUDA array is opaque: its handle stands in the record (array=1/2) and no
 * tensor is attributed through it. An array counts as device memory. */
#define TO_ARRAY(sym, ST, DIR)                                                                          \
	MS_COPY_HOOK(CUresult, NF, sym, (CUarray dstArray, size_t dstOffset, ST src, size_t ByteCount), \
	             (dstArray, dstOffset, src, ByteCount),                                             \
	             ms_array_copy(&c, DIR, MS_U64(dstArray), MS_U64(src), ByteCount, 0, MS_ARRAY_DST))
#define FROM_ARRAY(sym, DT, DIR)                                                                        \
	MS_COPY_HOOK(CUresult, NF, sym, (DT dst, CUarray srcArray, size_t srcOffset, size_t ByteCount), \
	             (dst, srcArray, srcOffset, ByteCount),                                             \
	             ms_array_copy(&c, DIR, MS_U64(dst), MS_U64(srcArray), ByteCount, 0, MS_ARRAY_SRC))
#define ARRAY_TO_ARRAY(sym)                                                                                 \
	MS_COPY_HOOK(                                                                                       \
	        CUresult, NF, sym,                                                                          \
	        (CUarray dstArray, size_t dstOffset, CUarray srcArray, size_t srcOffset, size_t ByteCount), \
	        (dstArray, dstOffset, srcArray, srcOffset, ByteCount),                                      \
	        ms_array_copy(&c, MS_DIR_D2D, MS_U64(dstArray), MS_U64(srcArray), ByteCount, 0,             \
	                      MS_ARRAY_DST | MS_ARRAY_SRC))
#define TO_ARRAY_ASYNC(sym)                                                                                \
	MS_COPY_HOOK(                                                                                      \
	        CUresult, NF, sym,                                                                         \
	        (CUarray dstArray, size_t dstOffset, const void *src, size_t ByteCount, CUstream hStream), \
	        (dstArray, dstOffset, src, ByteCount, hStream),                                            \
	        ms_array_copy(&c, MS_DIR_H2D, MS_U64(dstArray), MS_U64(src), ByteCount, MS_U64(hStream),   \
	                      MS_ARRAY_DST))
#define FROM_ARRAY_ASYNC(sym)                                                                             \
	MS_COPY_HOOK(CUresult, NF, sym,                                                                   \
	             (void *dst, CUarray srcArray, size_t srcOffset, size_t ByteCount, CUstream hStream), \
	             (dst, srcArray, srcOffset, ByteCount, hStream),                                      \
	             ms_array_copy(&c, MS_DIR_D2H, MS_U64(dst), MS_U64(srcArray), ByteCount,              \
	                           MS_U64(hStream), MS_ARRAY_SRC))
TO_ARRAY(cuMemcpyHtoA_v2, const void *, MS_DIR_H2D)
TO_ARRAY(cuMemcpyHtoA_v2_ptds, const void *, MS_DIR_H2D)
TO_ARRAY(cuMemcpyDtoA_v2, CUdeviceptr, MS_DIR_D2D)
TO_ARRAY(cuMemcpyDtoA_v2_ptds, CUdeviceptr, MS_DIR_D2D)
FROM_ARRAY(cuMemcpyAtoH_v2, void *, MS_DIR_D2H)
FROM_ARRAY(cuMemcpyAtoH_v2_ptds, void *, MS_DIR_D2H)
FROM_ARRAY(cuMemcpyAtoD_v2, CUdeviceptr, MS_DIR_D2D)
FROM_ARRAY(cuMemcpyAtoD_v2_ptds, CUdeviceptr, MS_DIR_D2D)
ARRAY_TO_ARRAY(cuMemcpyAtoA_v2)
ARRAY_TO_ARRAY(cuMemcpyAtoA_v2_ptds)
TO_ARRAY_ASYNC(cuMemcpyHtoAAsync_v2)
TO_ARRAY_ASYNC(cuMemcpyHtoAAsync_v2_ptsz)
FROM_ARRAY_ASYNC(cuMemcpyAtoHAsync_v2)
FROM_ARRAY_ASYNC(cuMemcpyAtoHAsync_v2_ptsz)

/* -------------------------------------------------------------- batch copies */
/* One user call, many copies: each element becomes its own copy record, all
 * stamped with the call's start time and result. */
static void record_batch(const char *api, CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count,
                         CUstream s, uint64_t t0, CUresult rc)
{
	for (size_t i = 0; dsts && srcs && sizes && i < count; i++) {
		struct ms_copy c = { .api = api };

		ms_linear(&c, ms_dir_probe(dsts[i], srcs[i]), dsts[i], srcs[i], sizes[i], MS_U64(s));
		ms_copy_begin(&c);
		c.t0 = t0;
		ms_copy_end(&c, (int)rc);
	}
}

#define BATCH_HOOK(sym, PARAMS, ARGS)                                          \
	MS_EXPORT CUresult sym PARAMS                                          \
	{                                                                      \
		__typeof__(&sym) real = MS_REAL(sym);                          \
		uint64_t t0;                                                   \
		CUresult rc;                                                   \
		if (MS_UNLIKELY(!real))                                        \
			return NF;                                             \
		if (!ms_enter())                                               \
			return real ARGS;                                      \
		t0 = ms_now_ns();                                              \
		rc = real ARGS;                                                \
		record_batch(#sym, dsts, srcs, sizes, count, hStream, t0, rc); \
		ms_leave();                                                    \
		return rc;                                                     \
	}
#define BATCH_V1(sym)                                                                                  \
	BATCH_HOOK(sym,                                                                                \
	           (CUdeviceptr * dsts, CUdeviceptr * srcs, size_t * sizes, size_t count,              \
	            CUmemcpyAttributes * attrs, size_t * attrsIdxs, size_t numAttrs, size_t * failIdx, \
	            CUstream hStream),                                                                 \
	           (dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, failIdx, hStream))
#define BATCH_V2(sym)                                                                                   \
	BATCH_HOOK(sym,                                                                                 \
	           (CUdeviceptr * dsts, CUdeviceptr * srcs, size_t * sizes, size_t count,               \
	            CUmemcpyAttributes * attrs, size_t * attrsIdxs, size_t numAttrs, CUstream hStream), \
	           (dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, hStream))
BATCH_V1(cuMemcpyBatchAsync)
BATCH_V1(cuMemcpyBatchAsync_ptsz)
BATCH_V2(cuMemcpyBatchAsync_v2)
BATCH_V2(cuMemcpyBatchAsync_v2_ptsz)

/* 3D batches: one copy record per operation, its dst decoded where it is linear
 * memory. Widths count elements; pointer-to-pointer copies have 1-byte elements,
 * an operation with an array end counts the array's elements as bytes (the shim
 * does not ask the array its element size). */
static struct ms_end3d end_3d_op(const CUmemcpy3DOperand *o)
{
	if (o->type == CU_MEMCPY_OPERAND_TYPE_ARRAY)
		return (struct ms_end3d){ .addr = MS_U64(o->op.array.array), .array = true };
	return (struct ms_end3d){ .addr = o->op.ptr.ptr,
		                  .pitch = o->op.ptr.rowLength,
		                  .height = o->op.ptr.layerHeight };
}

static void record_batch_3d(const char *api, const CUDA_MEMCPY3D_BATCH_OP *ops, size_t n, CUstream s,
                            uint64_t t0, CUresult rc)
{
	for (size_t i = 0; ops && i < n; i++) {
		struct ms_copy c = { .api = api };
		const CUDA_MEMCPY3D_BATCH_OP *op = &ops[i];

		ms_batch_op_3d(&c, end_3d_op(&op->dst), end_3d_op(&op->src), op->extent.width,
		               op->extent.height, op->extent.depth, MS_U64(s));
		ms_copy_begin(&c);
		c.t0 = t0;
		ms_copy_end(&c, (int)rc);
	}
}

#define BATCH_3D_HOOK(sym, PARAMS, ARGS)                                \
	MS_EXPORT CUresult sym PARAMS                                   \
	{                                                               \
		__typeof__(&sym) real = MS_REAL(sym);                   \
		uint64_t t0;                                            \
		CUresult rc;                                            \
		if (MS_UNLIKELY(!real))                                 \
			return NF;                                      \
		if (!ms_enter())                                        \
			return real ARGS;                               \
		t0 = ms_now_ns();                                       \
		rc = real ARGS;                                         \
		record_batch_3d(#sym, opList, numOps, hStream, t0, rc); \
		ms_leave();                                             \
		return rc;                                              \
	}
#define BATCH_3D_V1(sym)                                                                 \
	BATCH_3D_HOOK(sym,                                                               \
	              (size_t numOps, CUDA_MEMCPY3D_BATCH_OP * opList, size_t * failIdx, \
	               unsigned long long flags, CUstream hStream),                      \
	              (numOps, opList, failIdx, flags, hStream))
#define BATCH_3D_V2(sym)                                                                         \
	BATCH_3D_HOOK(sym,                                                                       \
	              (size_t numOps, CUDA_MEMCPY3D_BATCH_OP * opList, unsigned long long flags, \
	               CUstream hStream),                                                        \
	              (numOps, opList, flags, hStream))
BATCH_3D_V1(cuMemcpy3DBatchAsync)
BATCH_3D_V1(cuMemcpy3DBatchAsync_ptsz)
BATCH_3D_V2(cuMemcpy3DBatchAsync_v2)
BATCH_3D_V2(cuMemcpy3DBatchAsync_v2_ptsz)

/* ------------------------------------------------------------------ memsets */
#define MEMSET_1D(sym, VT, ESIZE)                                                      \
	MS_MEMSET_HOOK(CUresult, NF, sym, (CUdeviceptr dstDevice, VT value, size_t N), \
	               (dstDevice, value, N),                                          \
	               (m.dst = dstDevice, m.bytes = (uint64_t)N * ESIZE, m.value = value))
#define MEMSET_1D_ASYNC(sym, VT, ESIZE)                                                                  \
	MS_MEMSET_HOOK(CUresult, NF, sym, (CUdeviceptr dstDevice, VT value, size_t N, CUstream hStream), \
	               (dstDevice, value, N, hStream),                                                   \
	               (m.dst = dstDevice, m.bytes = (uint64_t)N * ESIZE, m.value = value,               \
	                m.stream = MS_U64(hStream)))
#define MEMSET_2D_FILL(ESIZE, S)                                                \
	(m.dst = dstDevice, m.value = value, m.width = (uint64_t)Width * ESIZE, \
	 m.rows = Height ? Height : 1, m.pitch = dstPitch, m.bytes = m.width * m.rows, m.stream = S)
#define MEMSET_2D(sym, VT, ESIZE)                                                                       \
	MS_MEMSET_HOOK(CUresult, NF, sym,                                                               \
	               (CUdeviceptr dstDevice, size_t dstPitch, VT value, size_t Width, size_t Height), \
	               (dstDevice, dstPitch, value, Width, Height), MEMSET_2D_FILL(ESIZE, 0))
#define MEMSET_2D_ASYNC(sym, VT, ESIZE)                                                                \
	MS_MEMSET_HOOK(CUresult, NF, sym,                                                              \
	               (CUdeviceptr dstDevice, size_t dstPitch, VT value, size_t Width, size_t Height, \
	                CUstream hStream),                                                             \
	               (dstDevice, dstPitch, value, Width, Height, hStream),                           \
	               MEMSET_2D_FILL(ESIZE, MS_U64(hStream)))

MEMSET_1D(cuMemsetD8_v2, unsigned char, 1)
MEMSET_1D(cuMemsetD8_v2_ptds, unsigned char, 1)
MEMSET_1D(cuMemsetD16_v2, unsigned short, 2)
MEMSET_1D(cuMemsetD16_v2_ptds, unsigned short, 2)
MEMSET_1D(cuMemsetD32_v2, unsigned int, 4)
MEMSET_1D(cuMemsetD32_v2_ptds, unsigned int, 4)
MEMSET_1D_ASYNC(cuMemsetD8Async, unsigned char, 1)
MEMSET_1D_ASYNC(cuMemsetD8Async_ptsz, unsigned char, 1)
MEMSET_1D_ASYNC(cuMemsetD16Async, unsigned short, 2)
MEMSET_1D_ASYNC(cuMemsetD16Async_ptsz, unsigned short, 2)
MEMSET_1D_ASYNC(cuMemsetD32Async, unsigned int, 4)
MEMSET_1D_ASYNC(cuMemsetD32Async_ptsz, unsigned int, 4)
MEMSET_2D(cuMemsetD2D8_v2, unsigned char, 1)
MEMSET_2D(cuMemsetD2D8_v2_ptds, unsigned char, 1)
MEMSET_2D(cuMemsetD2D16_v2, unsigned short, 2)
MEMSET_2D(cuMemsetD2D16_v2_ptds, unsigned short, 2)
MEMSET_2D(cuMemsetD2D32_v2, unsigned int, 4)
MEMSET_2D(cuMemsetD2D32_v2_ptds, unsigned int, 4)
MEMSET_2D_ASYNC(cuMemsetD2D8Async, unsigned char, 1)
MEMSET_2D_ASYNC(cuMemsetD2D8Async_ptsz, unsigned char, 1)
MEMSET_2D_ASYNC(cuMemsetD2D16Async, unsigned short, 2)
MEMSET_2D_ASYNC(cuMemsetD2D16Async_ptsz, unsigned short, 2)
MEMSET_2D_ASYNC(cuMemsetD2D32Async, unsigned int, 4)
MEMSET_2D_ASYNC(cuMemsetD2D32Async_ptsz, unsigned int, 4)

/* ------------------------------------------------------------ kernel launches */
#define LAUNCH(sym)                                                                                       \
	MS_LAUNCH_HOOK(CUresult, NF, sym,                                                                 \
	               (CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, \
	                unsigned int by, unsigned int bz, unsigned int shmem, CUstream hStream,           \
	                void **kernelParams, void **extra),                                               \
	               (f, gx, gy, gz, bx, by, bz, shmem, hStream, kernelParams, extra))
#define LAUNCH_EX(sym)                                                                                  \
	MS_LAUNCH_HOOK(CUresult, NF, sym,                                                               \
	               (const CUlaunchConfig *config, CUfunction f, void **kernelParams, void **extra), \
	               (config, f, kernelParams, extra))
LAUNCH(cuLaunchKernel)
LAUNCH(cuLaunchKernel_ptsz)
LAUNCH_EX(cuLaunchKernelEx)
LAUNCH_EX(cuLaunchKernelEx_ptsz)

/* Every DRV row of entry_points.h must have its wrapper above (a missing one is a
 * compile error here). */
#define DRV_ROW(sym, proc, version, pt) [MS_EP_##sym] = (void *)sym,
#define NO_ROW(sym, proc, version, pt)
void *const ms_wrappers_driver[MS_EP_COUNT] = { MS_ENTRY_POINTS(DRV_ROW, NO_ROW, NO_ROW, NO_ROW) };
