/* runtime_memory.c — cudaMalloc and friends (plain, async, from a pool), pinned host
 * memory, cudaMemGetInfo and cudaPointerGetAttributes, each one call into the driver
 * through the entry points fetched by runtime_init.c.
 */
#include "runtime.h"

FCRT_API cudaError_t cudaMalloc(void **devPtr, size_t size)
{
	CUdeviceptr p = 0;
	FCRT_ENTER();
	if (!devPtr)
		return fcrt_ret(cudaErrorInvalidValue);
	if (size == 0) {
		*devPtr = NULL;
		return cudaSuccess;
	}
	CUresult r = fcrt_drv.memAlloc(&p, size);
	if (r == CUDA_SUCCESS)
		*devPtr = (void *)(uintptr_t)p;
	return fcrt_done(r);
}

FCRT_API cudaError_t cudaFree(void *devPtr)
{
	FCRT_ENTER();
	if (!devPtr)
		return cudaSuccess;
	return fcrt_done(fcrt_drv.memFree((CUdeviceptr)(uintptr_t)devPtr));
}

static cudaError_t malloc_async(const struct fcrt_driver *d, void **devPtr, size_t size, cudaMemPool_t pool,
                                cudaStream_t stream)
{
	CUdeviceptr p = 0;
	CUresult r;
	FCRT_ENTER();
	if (!devPtr)
		return fcrt_ret(cudaErrorInvalidValue);
	if (pool)
		r = d->memAllocFromPoolAsync(&p, size, (CUmemoryPool)pool, (CUstream)stream);
	else
		r = d->memAllocAsync(&p, size, (CUstream)stream);
	if (r == CUDA_SUCCESS)
		*devPtr = (void *)(uintptr_t)p;
	return fcrt_done(r);
}

FCRT_API cudaError_t cudaMallocAsync(void **devPtr, size_t size, cudaStream_t hStream)
{
	return malloc_async(&fcrt_drv, devPtr, size, NULL, hStream);
}

FCRT_API cudaError_t cudaMallocAsync_ptsz(void **devPtr, size_t size, cudaStream_t hStream)
{
	return malloc_async(&fcrt_drv_pt, devPtr, size, NULL, hStream);
}

FCRT_API cudaError_t cudaMallocFromPoolAsync(void **ptr, size_t size, cudaMemPool_t memPool,
                                             cudaStream_t stream)
{
	if (!memPool)
		return fcrt_ret(cudaErrorInvalidValue);
	return malloc_async(&fcrt_drv, ptr, size, memPool, stream);
}

FCRT_API cudaError_t cudaMallocFromPoolAsync_ptsz(void **ptr, size_t size, cudaMemPool_t memPool,
                                                  cudaStream_t stream)
{
	if (!memPool)
		return fcrt_ret(cudaErrorInvalidValue);
	return malloc_async(&fcrt_drv_pt, ptr, size, memPool, stream);
}

static cudaError_t free_async(const struct fcrt_driver *d, void *devPtr, cudaStream_t stream)
{
	FCRT_ENTER();
	return fcrt_done(d->memFreeAsync((CUdeviceptr)(uintptr_t)devPtr, (CUstream)stream));
}

FCRT_API cudaError_t cudaFreeAsync(void *devPtr, cudaStream_t hStream)
{
	return free_async(&fcrt_drv, devPtr, hStream);
}

FCRT_API cudaError_t cudaFreeAsync_ptsz(void *devPtr, cudaStream_t hStream)
{
	return free_async(&fcrt_drv_pt, devPtr, hStream);
}

FCRT_API cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t *memPool, int device)
{
	FCRT_ENTER();
	if (!memPool)
		return fcrt_ret(cudaErrorInvalidValue);
	return fcrt_done(fcrt_drv.deviceGetDefaultMemPool((CUmemoryPool *)memPool, device));
}

/* ------------------------------------------------------------------ host memory */
FCRT_API cudaError_t cudaMallocHost(void **ptr, size_t size)
{
	FCRT_ENTER();
	if (!ptr)
		return fcrt_ret(cudaErrorInvalidValue);
	if (size == 0) {
		*ptr = NULL;
		return cudaSuccess;
	}
	return fcrt_done(fcrt_drv.memAllocHost(ptr, size));
}

FCRT_API cudaError_t cudaHostAlloc(void **pHost, size_t size, unsigned int flags)
{
	FCRT_ENTER();
	if (!pHost)
		return fcrt_ret(cudaErrorInvalidValue);
	if (size == 0) {
		*pHost = NULL;
		return cudaSuccess;
	}
	return fcrt_done(fcrt_drv.memHostAlloc(pHost, size, flags));
}

FCRT_API cudaError_t cudaFreeHost(void *ptr)
{
	FCRT_ENTER();
	if (!ptr)
		return cudaSuccess;
	return fcrt_done(fcrt_drv.memFreeHost(ptr));
}

FCRT_API cudaError_t cudaMemGetInfo(size_t *free, size_t *total)
{
	FCRT_ENTER();
	return fcrt_done(fcrt_drv.memGetInfo(free, total));
}

/* Memory the driver does not know is "unregistered" host memory, not an error. */
FCRT_API cudaError_t cudaPointerGetAttributes(struct cudaPointerAttributes *attributes, const void *ptr)
{
	unsigned type = 0;
	int ordinal = -2;
	CUdeviceptr dptr = 0;
	void *hptr = NULL;
	CUpointer_attribute which[] = { CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL,
		                        CU_POINTER_ATTRIBUTE_DEVICE_POINTER,
		                        CU_POINTER_ATTRIBUTE_HOST_POINTER };
	void *data[] = { &type, &ordinal, &dptr, &hptr };

	FCRT_ENTER();
	if (!attributes)
		return fcrt_ret(cudaErrorInvalidValue);
	CUresult r = fcrt_drv.pointerGetAttributes(4, which, data, (CUdeviceptr)(uintptr_t)ptr);
	if (r)
		return fcrt_done(r);
	switch (type) {
	case CU_MEMORYTYPE_DEVICE:
		attributes->type = cudaMemoryTypeDevice;
		attributes->device = ordinal;
		attributes->devicePointer = (void *)(uintptr_t)dptr;
		attributes->hostPointer = NULL;
		break;
	case CU_MEMORYTYPE_HOST:
		attributes->type = cudaMemoryTypeHost;
		attributes->device = ordinal;
		attributes->devicePointer = (void *)(uintptr_t)dptr;
		attributes->hostPointer = hptr;
		break;
	default:
		attributes->type = cudaMemoryTypeUnregistered;
		attributes->device = -2;
		attributes->devicePointer = NULL;
		attributes->hostPointer = (void *)ptr;
		break;
	}
	return cudaSuccess;
}

/* ------------------------------------------------------------------ CUDA arrays */
/* A channel description as the driver's array format: every channel has x bits. */
static bool array_format(const struct cudaChannelFormatDesc *d, CUarray_format *f, unsigned *channels)
{
	*channels = (d->x > 0) + (d->y > 0) + (d->z > 0) + (d->w > 0);
	switch (d->f) {
	case cudaChannelFormatKindUnsigned:
		*f = d->x == 8    ? CU_AD_FORMAT_UNSIGNED_INT8
		     : d->x == 16 ? CU_AD_FORMAT_UNSIGNED_INT16
		                  : CU_AD_FORMAT_UNSIGNED_INT32;
		break;
	case cudaChannelFormatKindSigned:
		*f = d->x == 8    ? CU_AD_FORMAT_SIGNED_INT8
		     : d->x == 16 ? CU_AD_FORMAT_SIGNED_INT16
		                  : CU_AD_FORMAT_SIGNED_INT32;
		break;
	case cudaChannelFormatKindFloat: *f = d->x == 16 ? CU_AD_FORMAT_HALF : CU_AD_FORMAT_FLOAT; break;
	default: return false;
	}
	return d->x == 8 || d->x == 16 || d->x == 32;
}

FCRT_API cudaError_t cudaMallocArray(cudaArray_t *array, const struct cudaChannelFormatDesc *desc,
                                     size_t width, size_t height, unsigned int flags)
{
	CUDA_ARRAY_DESCRIPTOR d = { .Width = width, .Height = height };

	FCRT_ENTER();
	if (!array || !desc || flags || !array_format(desc, &d.Format, &d.NumChannels))
		return fcrt_ret(cudaErrorInvalidValue);
	return fcrt_done(fcrt_drv.arrayCreate((CUarray *)array, &d));
}

FCRT_API cudaError_t cudaFreeArray(cudaArray_t array)
{
	FCRT_ENTER();
	if (!array)
		return cudaSuccess;
	return fcrt_done(fcrt_drv.arrayDestroy((CUarray)array));
}
