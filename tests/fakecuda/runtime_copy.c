/* runtime_copy.c — cudaMemcpy (1D, 2D, 3D on linear memory, peer, batch, 3D batch,
 * to and from CUDA arrays) and cudaMemset (1D, 2D, 3D), in their legacy and _ptds/_ptsz forms. Each becomes
 * the driver copy the direction names (cudaMemcpyHostToDevice -> cuMemcpyHtoD_v2, cudaMemcpyDefault ->
 * cuMemcpy, ...); the _ptds/_ptsz forms use the per-thread driver entry points.
 */
#include "runtime.h"

#include <stdlib.h>

static cudaError_t copy_1d(const struct fcrt_driver *d, void *dst, const void *src, size_t n,
                           enum cudaMemcpyKind kind, bool async, cudaStream_t s)
{
	CUdeviceptr dd = (CUdeviceptr)(uintptr_t)dst, sd = (CUdeviceptr)(uintptr_t)src;
	CUstream cs = (CUstream)s;
	CUresult r;

	FCRT_ENTER();
	switch (kind) {
	case cudaMemcpyHostToDevice:
		r = async ? d->memcpyHtoDAsync(dd, src, n, cs) : d->memcpyHtoD(dd, src, n);
		break;
	case cudaMemcpyDeviceToHost:
		r = async ? d->memcpyDtoHAsync(dst, sd, n, cs) : d->memcpyDtoH(dst, sd, n);
		break;
	case cudaMemcpyDeviceToDevice:
		r = async ? d->memcpyDtoDAsync(dd, sd, n, cs) : d->memcpyDtoD(dd, sd, n);
		break;
	case cudaMemcpyHostToHost:
	case cudaMemcpyDefault: r = async ? d->memcpyAsync(dd, sd, n, cs) : d->memcpy(dd, sd, n); break;
	default: return fcrt_ret(cudaErrorInvalidMemcpyDirection);
	}
	return fcrt_done(r);
}

/* Forwarders stay one line each, read as a table (clang-format would spread them). */
/* clang-format off */
FCRT_API cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind)
{ return copy_1d(&fcrt_drv, dst, src, count, kind, false, NULL); }
FCRT_API cudaError_t cudaMemcpy_ptds(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind)
{ return copy_1d(&fcrt_drv_pt, dst, src, count, kind, false, NULL); }
FCRT_API cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind,
				     cudaStream_t stream)
{ return copy_1d(&fcrt_drv, dst, src, count, kind, true, stream); }
FCRT_API cudaError_t cudaMemcpyAsync_ptsz(void *dst, const void *src, size_t count,
					  enum cudaMemcpyKind kind, cudaStream_t stream)
{ return copy_1d(&fcrt_drv_pt, dst, src, count, kind, true, stream); }
/* clang-format on */

/* ------------------------------------------------------------------- 2D and 3D */
/* Memory types of the two sides for a direction; false for a bad direction. */
static bool kind_types(enum cudaMemcpyKind kind, CUmemorytype *src, CUmemorytype *dst)
{
	switch (kind) {
	case cudaMemcpyHostToHost: *src = *dst = CU_MEMORYTYPE_HOST; return true;
	case cudaMemcpyHostToDevice:
		*src = CU_MEMORYTYPE_HOST;
		*dst = CU_MEMORYTYPE_DEVICE;
		return true;
	case cudaMemcpyDeviceToHost:
		*src = CU_MEMORYTYPE_DEVICE;
		*dst = CU_MEMORYTYPE_HOST;
		return true;
	case cudaMemcpyDeviceToDevice: *src = *dst = CU_MEMORYTYPE_DEVICE; return true;
	case cudaMemcpyDefault: *src = *dst = CU_MEMORYTYPE_UNIFIED; return true;
	default: return false;
	}
}

static cudaError_t copy_2d(const struct fcrt_driver *d, void *dst, size_t dpitch, const void *src,
                           size_t spitch, size_t width, size_t height, enum cudaMemcpyKind kind, bool async,
                           cudaStream_t s)
{
	CUDA_MEMCPY2D c = { 0 };

	FCRT_ENTER();
	if (!kind_types(kind, &c.srcMemoryType, &c.dstMemoryType))
		return fcrt_ret(cudaErrorInvalidMemcpyDirection);
	if (height > 1 && (dpitch < width || spitch < width))
		return fcrt_ret(cudaErrorInvalidPitchValue);
	if (c.srcMemoryType == CU_MEMORYTYPE_HOST)
		c.srcHost = src;
	else
		c.srcDevice = (CUdeviceptr)(uintptr_t)src;
	if (c.dstMemoryType == CU_MEMORYTYPE_HOST)
		c.dstHost = dst;
	else
		c.dstDevice = (CUdeviceptr)(uintptr_t)dst;
	c.srcPitch = spitch;
	c.dstPitch = dpitch;
	c.WidthInBytes = width;
	c.Height = height;
	return fcrt_done(async ? d->memcpy2DAsync(&c, (CUstream)s) : d->memcpy2D(&c));
}

/* clang-format off */
FCRT_API cudaError_t cudaMemcpy2D(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width,
				  size_t height, enum cudaMemcpyKind kind)
{ return copy_2d(&fcrt_drv, dst, dpitch, src, spitch, width, height, kind, false, NULL); }
FCRT_API cudaError_t cudaMemcpy2D_ptds(void *dst, size_t dpitch, const void *src, size_t spitch,
				       size_t width, size_t height, enum cudaMemcpyKind kind)
{ return copy_2d(&fcrt_drv_pt, dst, dpitch, src, spitch, width, height, kind, false, NULL); }
FCRT_API cudaError_t cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch,
				       size_t width, size_t height, enum cudaMemcpyKind kind,
				       cudaStream_t stream)
{ return copy_2d(&fcrt_drv, dst, dpitch, src, spitch, width, height, kind, true, stream); }
FCRT_API cudaError_t cudaMemcpy2DAsync_ptsz(void *dst, size_t dpitch, const void *src, size_t spitch,
					    size_t width, size_t height, enum cudaMemcpyKind kind,
					    cudaStream_t stream)
{ return copy_2d(&fcrt_drv_pt, dst, dpitch, src, spitch, width, height, kind, true, stream); }
/* clang-format on */

/* Linear memory only: a CUDA array on either side is cudaErrorNotSupported here. */
static cudaError_t copy_3d(const struct fcrt_driver *d, const struct cudaMemcpy3DParms *p, bool async,
                           cudaStream_t s)
{
	CUDA_MEMCPY3D c = { 0 };

	FCRT_ENTER();
	if (!p)
		return fcrt_ret(cudaErrorInvalidValue);
	if (p->srcArray || p->dstArray)
		return fcrt_ret(cudaErrorNotSupported);
	if (!kind_types(p->kind, &c.srcMemoryType, &c.dstMemoryType))
		return fcrt_ret(cudaErrorInvalidMemcpyDirection);
	if (c.srcMemoryType == CU_MEMORYTYPE_HOST)
		c.srcHost = p->srcPtr.ptr;
	else
		c.srcDevice = (CUdeviceptr)(uintptr_t)p->srcPtr.ptr;
	if (c.dstMemoryType == CU_MEMORYTYPE_HOST)
		c.dstHost = p->dstPtr.ptr;
	else
		c.dstDevice = (CUdeviceptr)(uintptr_t)p->dstPtr.ptr;
	c.srcXInBytes = p->srcPos.x;
	c.srcY = p->srcPos.y;
	c.srcZ = p->srcPos.z;
	c.srcPitch = p->srcPtr.pitch;
	c.srcHeight = p->srcPtr.ysize;
	c.dstXInBytes = p->dstPos.x;
	c.dstY = p->dstPos.y;
	c.dstZ = p->dstPos.z;
	c.dstPitch = p->dstPtr.pitch;
	c.dstHeight = p->dstPtr.ysize;
	c.WidthInBytes = p->extent.width;
	c.Height = p->extent.height;
	c.Depth = p->extent.depth;
	return fcrt_done(async ? d->memcpy3DAsync(&c, (CUstream)s) : d->memcpy3D(&c));
}

/* clang-format off */
FCRT_API cudaError_t cudaMemcpy3D(const struct cudaMemcpy3DParms *p)
{ return copy_3d(&fcrt_drv, p, false, NULL); }
FCRT_API cudaError_t cudaMemcpy3D_ptds(const struct cudaMemcpy3DParms *p)
{ return copy_3d(&fcrt_drv_pt, p, false, NULL); }
FCRT_API cudaError_t cudaMemcpy3DAsync(const struct cudaMemcpy3DParms *p, cudaStream_t stream)
{ return copy_3d(&fcrt_drv, p, true, stream); }
FCRT_API cudaError_t cudaMemcpy3DAsync_ptsz(const struct cudaMemcpy3DParms *p, cudaStream_t stream)
{ return copy_3d(&fcrt_drv_pt, p, true, stream); }
/* clang-format on */

/* ------------------------------------------------------------------ CUDA arrays */
/* Every array copy as the driver's 2D copy with CU_MEMORYTYPE_ARRAY at the array
 * ends (offsets: x in bytes, y in rows); 1D forms are one row of count bytes. */
struct arr_end {
	const void *ptr;         /* memory end */
	cudaArray_const_t array; /* array end (ptr unused) */
	size_t x, y, pitch;
};

static void set_end(CUmemorytype t, const struct arr_end *e, CUmemorytype *type, const void **host,
                    CUdeviceptr *dev, CUarray *arr, size_t *x, size_t *y, size_t *pitch)
{
	*type = e->array ? CU_MEMORYTYPE_ARRAY : t;
	*x = e->x;
	*y = e->y;
	*pitch = e->pitch;
	if (e->array)
		*arr = (CUarray)e->array;
	else if (t == CU_MEMORYTYPE_HOST)
		*host = e->ptr;
	else
		*dev = (CUdeviceptr)(uintptr_t)e->ptr;
}

static cudaError_t copy_array(const struct fcrt_driver *d, struct arr_end dst, struct arr_end src,
                              size_t width, size_t height, enum cudaMemcpyKind kind, bool async,
                              cudaStream_t s)
{
	CUDA_MEMCPY2D c = { 0 };
	CUmemorytype st, dt;

	FCRT_ENTER();
	if (!kind_types(kind, &st, &dt))
		return fcrt_ret(cudaErrorInvalidMemcpyDirection);
	const void *dhost = NULL;

	set_end(dt, &dst, &c.dstMemoryType, &dhost, &c.dstDevice, &c.dstArray, &c.dstXInBytes, &c.dstY,
	        &c.dstPitch);
	c.dstHost = (void *)(uintptr_t)dhost;
	set_end(st, &src, &c.srcMemoryType, &c.srcHost, &c.srcDevice, &c.srcArray, &c.srcXInBytes, &c.srcY,
	        &c.srcPitch);
	c.WidthInBytes = width;
	c.Height = height;
	return fcrt_done(async ? d->memcpy2DAsync(&c, (CUstream)s) : d->memcpy2D(&c));
}

#define ARR(a_, x_, y_) ((struct arr_end){ .array = (a_), .x = (x_), .y = (y_) })
#define MEM(p_, pitch_) ((struct arr_end){ .ptr = (p_), .pitch = (pitch_) })
/* clang-format off */
FCRT_API cudaError_t cudaMemcpyToArray(cudaArray_t dst, size_t w, size_t h, const void *src, size_t count,
				       enum cudaMemcpyKind kind)
{ return copy_array(&fcrt_drv, ARR(dst, w, h), MEM(src, count), count, 1, kind, false, NULL); }
FCRT_API cudaError_t cudaMemcpyToArray_ptds(cudaArray_t dst, size_t w, size_t h, const void *src,
					    size_t count, enum cudaMemcpyKind kind)
{ return copy_array(&fcrt_drv_pt, ARR(dst, w, h), MEM(src, count), count, 1, kind, false, NULL); }
FCRT_API cudaError_t cudaMemcpyToArrayAsync(cudaArray_t dst, size_t w, size_t h, const void *src,
					    size_t count, enum cudaMemcpyKind kind, cudaStream_t s)
{ return copy_array(&fcrt_drv, ARR(dst, w, h), MEM(src, count), count, 1, kind, true, s); }
FCRT_API cudaError_t cudaMemcpyToArrayAsync_ptsz(cudaArray_t dst, size_t w, size_t h, const void *src,
						 size_t count, enum cudaMemcpyKind kind, cudaStream_t s)
{ return copy_array(&fcrt_drv_pt, ARR(dst, w, h), MEM(src, count), count, 1, kind, true, s); }
FCRT_API cudaError_t cudaMemcpyFromArray(void *dst, cudaArray_const_t src, size_t w, size_t h, size_t count,
					 enum cudaMemcpyKind kind)
{ return copy_array(&fcrt_drv, MEM(dst, count), ARR(src, w, h), count, 1, kind, false, NULL); }
FCRT_API cudaError_t cudaMemcpyFromArray_ptds(void *dst, cudaArray_const_t src, size_t w, size_t h,
					      size_t count, enum cudaMemcpyKind kind)
{ return copy_array(&fcrt_drv_pt, MEM(dst, count), ARR(src, w, h), count, 1, kind, false, NULL); }
FCRT_API cudaError_t cudaMemcpyFromArrayAsync(void *dst, cudaArray_const_t src, size_t w, size_t h,
					      size_t count, enum cudaMemcpyKind kind, cudaStream_t s)
{ return copy_array(&fcrt_drv, MEM(dst, count), ARR(src, w, h), count, 1, kind, true, s); }
FCRT_API cudaError_t cudaMemcpyFromArrayAsync_ptsz(void *dst, cudaArray_const_t src, size_t w, size_t h,
						   size_t count, enum cudaMemcpyKind kind, cudaStream_t s)
{ return copy_array(&fcrt_drv_pt, MEM(dst, count), ARR(src, w, h), count, 1, kind, true, s); }
FCRT_API cudaError_t cudaMemcpy2DToArray(cudaArray_t dst, size_t w, size_t h, const void *src, size_t spitch,
					 size_t width, size_t height, enum cudaMemcpyKind kind)
{ return copy_array(&fcrt_drv, ARR(dst, w, h), MEM(src, spitch), width, height, kind, false, NULL); }
FCRT_API cudaError_t cudaMemcpy2DToArray_ptds(cudaArray_t dst, size_t w, size_t h, const void *src,
					      size_t spitch, size_t width, size_t height,
					      enum cudaMemcpyKind kind)
{ return copy_array(&fcrt_drv_pt, ARR(dst, w, h), MEM(src, spitch), width, height, kind, false, NULL); }
FCRT_API cudaError_t cudaMemcpy2DToArrayAsync(cudaArray_t dst, size_t w, size_t h, const void *src,
					      size_t spitch, size_t width, size_t height,
					      enum cudaMemcpyKind kind, cudaStream_t s)
{ return copy_array(&fcrt_drv, ARR(dst, w, h), MEM(src, spitch), width, height, kind, true, s); }
FCRT_API cudaError_t cudaMemcpy2DToArrayAsync_ptsz(cudaArray_t dst, size_t w, size_t h, const void *src,
						   size_t spitch, size_t width, size_t height,
						   enum cudaMemcpyKind kind, cudaStream_t s)
{ return copy_array(&fcrt_drv_pt, ARR(dst, w, h), MEM(src, spitch), width, height, kind, true, s); }
FCRT_API cudaError_t cudaMemcpy2DFromArray(void *dst, size_t dpitch, cudaArray_const_t src, size_t w,
					   size_t h, size_t width, size_t height, enum cudaMemcpyKind kind)
{ return copy_array(&fcrt_drv, MEM(dst, dpitch), ARR(src, w, h), width, height, kind, false, NULL); }
FCRT_API cudaError_t cudaMemcpy2DFromArray_ptds(void *dst, size_t dpitch, cudaArray_const_t src, size_t w,
						size_t h, size_t width, size_t height,
						enum cudaMemcpyKind kind)
{ return copy_array(&fcrt_drv_pt, MEM(dst, dpitch), ARR(src, w, h), width, height, kind, false, NULL); }
FCRT_API cudaError_t cudaMemcpy2DFromArrayAsync(void *dst, size_t dpitch, cudaArray_const_t src, size_t w,
						size_t h, size_t width, size_t height,
						enum cudaMemcpyKind kind, cudaStream_t s)
{ return copy_array(&fcrt_drv, MEM(dst, dpitch), ARR(src, w, h), width, height, kind, true, s); }
FCRT_API cudaError_t cudaMemcpy2DFromArrayAsync_ptsz(void *dst, size_t dpitch, cudaArray_const_t src,
						     size_t w, size_t h, size_t width, size_t height,
						     enum cudaMemcpyKind kind, cudaStream_t s)
{ return copy_array(&fcrt_drv_pt, MEM(dst, dpitch), ARR(src, w, h), width, height, kind, true, s); }
FCRT_API cudaError_t cudaMemcpyArrayToArray(cudaArray_t dst, size_t wd, size_t hd, cudaArray_const_t src,
					    size_t ws, size_t hs, size_t count, enum cudaMemcpyKind kind)
{ return copy_array(&fcrt_drv, ARR(dst, wd, hd), ARR(src, ws, hs), count, 1, kind, false, NULL); }
FCRT_API cudaError_t cudaMemcpyArrayToArray_ptds(cudaArray_t dst, size_t wd, size_t hd,
						 cudaArray_const_t src, size_t ws, size_t hs, size_t count,
						 enum cudaMemcpyKind kind)
{ return copy_array(&fcrt_drv_pt, ARR(dst, wd, hd), ARR(src, ws, hs), count, 1, kind, false, NULL); }
FCRT_API cudaError_t cudaMemcpy2DArrayToArray(cudaArray_t dst, size_t wd, size_t hd, cudaArray_const_t src,
					      size_t ws, size_t hs, size_t width, size_t height,
					      enum cudaMemcpyKind kind)
{ return copy_array(&fcrt_drv, ARR(dst, wd, hd), ARR(src, ws, hs), width, height, kind, false, NULL); }
FCRT_API cudaError_t cudaMemcpy2DArrayToArray_ptds(cudaArray_t dst, size_t wd, size_t hd,
						   cudaArray_const_t src, size_t ws, size_t hs, size_t width,
						   size_t height, enum cudaMemcpyKind kind)
{ return copy_array(&fcrt_drv_pt, ARR(dst, wd, hd), ARR(src, ws, hs), width, height, kind, false, NULL); }
/* clang-format on */

/* ------------------------------------------------------------------ peer, batch */
static cudaError_t copy_peer(void *dst, int dstDevice, const void *src, int srcDevice, size_t n, bool async,
                             cudaStream_t s)
{
	FCRT_ENTER();
	if (dstDevice != 0 || srcDevice != 0)
		return fcrt_ret(cudaErrorInvalidDevice);
	CUdeviceptr dd = (CUdeviceptr)(uintptr_t)dst, sd = (CUdeviceptr)(uintptr_t)src;
	CUcontext c = fcrt_primary();
	return fcrt_done(async ? fcrt_drv.memcpyPeerAsync(dd, c, sd, c, n, (CUstream)s)
	                       : fcrt_drv.memcpyPeer(dd, c, sd, c, n));
}

/* clang-format off */
FCRT_API cudaError_t cudaMemcpyPeer(void *dst, int dstDevice, const void *src, int srcDevice, size_t count)
{ return copy_peer(dst, dstDevice, src, srcDevice, count, false, NULL); }
FCRT_API cudaError_t cudaMemcpyPeerAsync(void *dst, int dstDevice, const void *src, int srcDevice,
					 size_t count, cudaStream_t stream)
{ return copy_peer(dst, dstDevice, src, srcDevice, count, true, stream); }
/* clang-format on */

/* cudaMemcpyAttributes and CUmemcpyAttributes share their layout. */
static cudaError_t copy_batch(const struct fcrt_driver *d, void *const *dsts, const void *const *srcs,
                              const size_t *sizes, size_t count, struct cudaMemcpyAttributes *attrs,
                              size_t *attrsIdxs, size_t numAttrs, cudaStream_t s)
{
	_Static_assert(sizeof(struct cudaMemcpyAttributes) == sizeof(CUmemcpyAttributes),
	               "memcpy attribute layouts differ");
	FCRT_ENTER();
	return fcrt_done(d->memcpyBatchAsync((CUdeviceptr *)dsts, (CUdeviceptr *)srcs, (size_t *)sizes, count,
	                                     (CUmemcpyAttributes *)attrs, attrsIdxs, numAttrs, (CUstream)s));
}

/* clang-format off */
FCRT_API cudaError_t cudaMemcpyBatchAsync(void *const *dsts, const void *const *srcs, const size_t *sizes,
					  size_t count, struct cudaMemcpyAttributes *attrs, size_t *attrsIdxs,
					  size_t numAttrs, cudaStream_t stream)
{ return copy_batch(&fcrt_drv, dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, stream); }
FCRT_API cudaError_t cudaMemcpyBatchAsync_ptsz(void *const *dsts, const void *const *srcs,
					       const size_t *sizes, size_t count,
					       struct cudaMemcpyAttributes *attrs, size_t *attrsIdxs,
					       size_t numAttrs, cudaStream_t stream)
{ return copy_batch(&fcrt_drv_pt, dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, stream); }
/* clang-format on */

/* 3D batches: the runtime's operation structs, field by field, as the driver's. */
static CUmemcpy3DOperand operand_of(const struct cudaMemcpy3DOperand *o)
{
	CUmemcpy3DOperand r = { .type = (CUmemcpy3DOperandType)o->type };

	if (o->type == cudaMemcpyOperandTypeArray) {
		r.op.array.array = (CUarray)o->op.array.array;
		r.op.array.offset =
		        (CUoffset3D){ o->op.array.offset.x, o->op.array.offset.y, o->op.array.offset.z };
	} else {
		r.op.ptr.ptr = (CUdeviceptr)(uintptr_t)o->op.ptr.ptr;
		r.op.ptr.rowLength = o->op.ptr.rowLength;
		r.op.ptr.layerHeight = o->op.ptr.layerHeight;
		r.op.ptr.locHint = (CUmemLocation){ .type = (CUmemLocationType)o->op.ptr.locHint.type,
			                            .id = o->op.ptr.locHint.id };
	}
	return r;
}

static cudaError_t copy_batch_3d(const struct fcrt_driver *d, size_t n, const struct cudaMemcpy3DBatchOp *ops,
                                 unsigned long long flags, cudaStream_t s)
{
	CUDA_MEMCPY3D_BATCH_OP *dops;
	CUresult r;

	FCRT_ENTER();
	if (!ops || !n)
		return fcrt_ret(cudaErrorInvalidValue);
	dops = calloc(n, sizeof(*dops));
	if (!dops)
		return fcrt_ret(cudaErrorMemoryAllocation);
	for (size_t k = 0; k < n; k++) {
		dops[k].src = operand_of(&ops[k].src);
		dops[k].dst = operand_of(&ops[k].dst);
		dops[k].extent =
		        (CUextent3D){ ops[k].extent.width, ops[k].extent.height, ops[k].extent.depth };
		dops[k].srcAccessOrder = (CUmemcpySrcAccessOrder)ops[k].srcAccessOrder;
		dops[k].flags = ops[k].flags;
	}
	r = d->memcpy3DBatchAsync(n, dops, flags, (CUstream)s);
	free(dops);
	return fcrt_done(r);
}

/* clang-format off */
FCRT_API cudaError_t cudaMemcpy3DBatchAsync(size_t numOps, struct cudaMemcpy3DBatchOp *opList,
					    unsigned long long flags, cudaStream_t stream)
{ return copy_batch_3d(&fcrt_drv, numOps, opList, flags, stream); }
FCRT_API cudaError_t cudaMemcpy3DBatchAsync_ptsz(size_t numOps, struct cudaMemcpy3DBatchOp *opList,
						 unsigned long long flags, cudaStream_t stream)
{ return copy_batch_3d(&fcrt_drv_pt, numOps, opList, flags, stream); }
/* clang-format on */

/* ---------------------------------------------------------------------- memsets */
static cudaError_t set_2d(const struct fcrt_driver *d, void *p, size_t pitch, int value, size_t width,
                          size_t height, bool two_d, bool async, cudaStream_t s)
{
	CUdeviceptr dp = (CUdeviceptr)(uintptr_t)p;
	unsigned char v = (unsigned char)value;
	CUresult r;

	FCRT_ENTER();
	if (!two_d)
		r = async ? d->memsetD8Async(dp, v, width, (CUstream)s) : d->memsetD8(dp, v, width);
	else
		r = async ? d->memsetD2D8Async(dp, pitch, v, width, height, (CUstream)s)
		          : d->memsetD2D8(dp, pitch, v, width, height);
	return fcrt_done(r);
}

/* clang-format off */
FCRT_API cudaError_t cudaMemset(void *devPtr, int value, size_t count)
{ return set_2d(&fcrt_drv, devPtr, 0, value, count, 1, false, false, NULL); }
FCRT_API cudaError_t cudaMemset_ptds(void *devPtr, int value, size_t count)
{ return set_2d(&fcrt_drv_pt, devPtr, 0, value, count, 1, false, false, NULL); }
FCRT_API cudaError_t cudaMemsetAsync(void *devPtr, int value, size_t count, cudaStream_t stream)
{ return set_2d(&fcrt_drv, devPtr, 0, value, count, 1, false, true, stream); }
FCRT_API cudaError_t cudaMemsetAsync_ptsz(void *devPtr, int value, size_t count, cudaStream_t stream)
{ return set_2d(&fcrt_drv_pt, devPtr, 0, value, count, 1, false, true, stream); }
FCRT_API cudaError_t cudaMemset2D(void *devPtr, size_t pitch, int value, size_t width, size_t height)
{ return set_2d(&fcrt_drv, devPtr, pitch, value, width, height, true, false, NULL); }
FCRT_API cudaError_t cudaMemset2D_ptds(void *devPtr, size_t pitch, int value, size_t width, size_t height)
{ return set_2d(&fcrt_drv_pt, devPtr, pitch, value, width, height, true, false, NULL); }
FCRT_API cudaError_t cudaMemset2DAsync(void *devPtr, size_t pitch, int value, size_t width, size_t height,
				       cudaStream_t stream)
{ return set_2d(&fcrt_drv, devPtr, pitch, value, width, height, true, true, stream); }
FCRT_API cudaError_t cudaMemset2DAsync_ptsz(void *devPtr, size_t pitch, int value, size_t width,
					    size_t height, cudaStream_t stream)
{ return set_2d(&fcrt_drv_pt, devPtr, pitch, value, width, height, true, true, stream); }
/* clang-format on */

/* 3D: one 2D memset per slice, slices pitch*ysize bytes apart. */
static cudaError_t set_3d(const struct fcrt_driver *d, struct cudaPitchedPtr p, int value,
                          struct cudaExtent e, bool async, cudaStream_t s)
{
	size_t rows = p.ysize ? p.ysize : e.height;
	cudaError_t err = cudaSuccess;

	for (size_t z = 0; z < e.depth && !err; z++)
		err = set_2d(d, (char *)p.ptr + z * p.pitch * rows, p.pitch, value, e.width, e.height, true,
		             async, s);
	return err;
}

/* clang-format off */
FCRT_API cudaError_t cudaMemset3D(struct cudaPitchedPtr p, int value, struct cudaExtent e)
{ return set_3d(&fcrt_drv, p, value, e, false, NULL); }
FCRT_API cudaError_t cudaMemset3D_ptds(struct cudaPitchedPtr p, int value, struct cudaExtent e)
{ return set_3d(&fcrt_drv_pt, p, value, e, false, NULL); }
FCRT_API cudaError_t cudaMemset3DAsync(struct cudaPitchedPtr p, int value, struct cudaExtent e,
				       cudaStream_t stream)
{ return set_3d(&fcrt_drv, p, value, e, true, stream); }
FCRT_API cudaError_t cudaMemset3DAsync_ptsz(struct cudaPitchedPtr p, int value, struct cudaExtent e,
					    cudaStream_t stream)
{ return set_3d(&fcrt_drv_pt, p, value, e, true, stream); }
/* clang-format on */
