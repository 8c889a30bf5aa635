/* runtime_copy.c — cudaMemcpy (1D, 2D, 3D on linear memory, peer, batch) and
 * cudaMemset, in their legacy and _ptds/_ptsz forms. Each becomes the driver copy the
 * direction names (cudaMemcpyHostToDevice -> cuMemcpyHtoD_v2, cudaMemcpyDefault ->
 * cuMemcpy, ...); the _ptds/_ptsz forms use the per-thread driver entry points.
 */
#include "runtime.h"

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
