/* driver_procaddr.c — cuGetProcAddress (v1 and _v2 ABIs, and their _ptsz forms),
 * honouring the requested version and stream flags as the real driver does.
 *
 * The table holds, for each name, the versions at which an ABI of it appeared (taken
 * from the PFN_<name>_v<version> typedefs of cudaTypedefs.h) with the symbol serving
 * that ABI, and the per-thread-default-stream symbol where one exists. A request picks
 * the newest row not newer than the version asked for; a name whose oldest row we do
 * not provide (the 32-bit v1 ABIs) is VERSION_NOT_SUFFICIENT below it.
 * CU_GET_PROC_ADDRESS_DEFAULT behaves as LEGACY_STREAM (no per-thread build here).
 */
#include "fakecuda.h"

#include <string.h>

/* Declared by cuda.h only for per-thread builds (as inline helpers); exported here. */
CUresult cuGetProcAddress_ptsz(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags);
CUresult cuGetProcAddress_v2_ptsz(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                                  CUdriverProcAddressQueryResult *symbolStatus);

struct entry {
	const char *name; /* the name a caller asks for */
	void *fn;         /* legacy-stream symbol */
	void *pt_fn;      /* per-thread-default-stream symbol */
	int version;      /* first CUDA version with this ABI */
	int pt_version;   /* first version of the per-thread symbol (0: none) */
};

#define E(name, ver, fn)              { #name, (void *)fn, NULL, ver, 0 },
#define P(name, ver, fn, ptver, ptfn) { #name, (void *)fn, (void *)ptfn, ver, ptver },

/* One row per macro call; clang-format would run the rows together. */
/* clang-format off */
static const struct entry table[] = {
	E(cuInit, 2000, cuInit)
	E(cuDriverGetVersion, 2020, cuDriverGetVersion)
	E(cuGetErrorName, 6000, cuGetErrorName)
	E(cuGetErrorString, 6000, cuGetErrorString)
	E(cuGetProcAddress, 11030, cuGetProcAddress)
	E(cuGetProcAddress, 12000, cuGetProcAddress_v2)
	/* devices and contexts */
	E(cuDeviceGet, 2000, cuDeviceGet)
	E(cuDeviceGetCount, 2000, cuDeviceGetCount)
	E(cuDeviceGetName, 2000, cuDeviceGetName)
	E(cuDeviceGetAttribute, 2000, cuDeviceGetAttribute)
	E(cuDeviceComputeCapability, 2000, cuDeviceComputeCapability)
	E(cuDeviceTotalMem, 3020, cuDeviceTotalMem_v2)
	E(cuDeviceGetUuid, 9020, cuDeviceGetUuid)
	E(cuDeviceGetUuid, 11040, cuDeviceGetUuid_v2)
	E(cuDeviceGetDefaultMemPool, 11020, cuDeviceGetDefaultMemPool)
	E(cuDeviceGetMemPool, 11020, cuDeviceGetMemPool)
	E(cuDevicePrimaryCtxRetain, 7000, cuDevicePrimaryCtxRetain)
	E(cuDevicePrimaryCtxRelease, 7000, cuDevicePrimaryCtxRelease)
	E(cuDevicePrimaryCtxRelease, 11000, cuDevicePrimaryCtxRelease_v2)
	E(cuDevicePrimaryCtxGetState, 7000, cuDevicePrimaryCtxGetState)
	E(cuCtxCreate, 3020, cuCtxCreate_v2)
	E(cuCtxCreate, 11040, cuCtxCreate_v3)
	E(cuCtxCreate, 12050, cuCtxCreate_v4)
	E(cuCtxDestroy, 4000, cuCtxDestroy_v2)
	E(cuCtxSetCurrent, 4000, cuCtxSetCurrent)
	E(cuCtxGetCurrent, 4000, cuCtxGetCurrent)
	E(cuCtxPushCurrent, 4000, cuCtxPushCurrent_v2)
	E(cuCtxPopCurrent, 4000, cuCtxPopCurrent_v2)
	E(cuCtxGetDevice, 2000, cuCtxGetDevice)
	E(cuCtxGetDevice, 13000, cuCtxGetDevice_v2)
	E(cuCtxGetApiVersion, 3020, cuCtxGetApiVersion)
	E(cuCtxSynchronize, 2000, cuCtxSynchronize)
	E(cuCtxSynchronize, 13000, cuCtxSynchronize_v2)
	/* memory */
	E(cuMemAlloc, 2000, NULL)
	E(cuMemAlloc, 3020, cuMemAlloc_v2)
	E(cuMemFree, 2000, NULL)
	E(cuMemFree, 3020, cuMemFree_v2)
	E(cuMemGetInfo, 2000, NULL)
	E(cuMemGetInfo, 3020, cuMemGetInfo_v2)
	E(cuMemGetAddressRange, 2000, NULL)
	E(cuMemGetAddressRange, 3020, cuMemGetAddressRange_v2)
	E(cuMemAllocHost, 2000, NULL)
	E(cuMemAllocHost, 3020, cuMemAllocHost_v2)
	E(cuMemHostAlloc, 2020, cuMemHostAlloc)
	E(cuMemFreeHost, 2000, cuMemFreeHost)
	P(cuMemAllocAsync, 11020, cuMemAllocAsync, 11020, cuMemAllocAsync_ptsz)
	P(cuMemFreeAsync, 11020, cuMemFreeAsync, 11020, cuMemFreeAsync_ptsz)
	P(cuMemAllocFromPoolAsync, 11020, cuMemAllocFromPoolAsync, 11020, cuMemAllocFromPoolAsync_ptsz)
	E(cuPointerGetAttribute, 4000, cuPointerGetAttribute)
	E(cuPointerGetAttributes, 7000, cuPointerGetAttributes)
	/* VMM */
	E(cuMemGetAllocationGranularity, 10020, cuMemGetAllocationGranularity)
	E(cuMemAddressReserve, 10020, cuMemAddressReserve)
	E(cuMemAddressFree, 10020, cuMemAddressFree)
	E(cuMemCreate, 10020, cuMemCreate)
	E(cuMemRelease, 10020, cuMemRelease)
	E(cuMemMap, 10020, cuMemMap)
	E(cuMemUnmap, 10020, cuMemUnmap)
	E(cuMemSetAccess, 10020, cuMemSetAccess)
	E(cuMemGetAccess, 10020, cuMemGetAccess)
	E(cuMemGetAllocationPropertiesFromHandle, 10020, cuMemGetAllocationPropertiesFromHandle)
	E(cuMemRetainAllocationHandle, 11000, cuMemRetainAllocationHandle)
	/* copies */
	P(cuMemcpy, 4000, cuMemcpy, 7000, cuMemcpy_ptds)
	P(cuMemcpyAsync, 4000, cuMemcpyAsync, 7000, cuMemcpyAsync_ptsz)
	E(cuMemcpyHtoD, 2000, NULL)
	P(cuMemcpyHtoD, 3020, cuMemcpyHtoD_v2, 7000, cuMemcpyHtoD_v2_ptds)
	E(cuMemcpyDtoH, 2000, NULL)
	P(cuMemcpyDtoH, 3020, cuMemcpyDtoH_v2, 7000, cuMemcpyDtoH_v2_ptds)
	E(cuMemcpyDtoD, 2000, NULL)
	P(cuMemcpyDtoD, 3020, cuMemcpyDtoD_v2, 7000, cuMemcpyDtoD_v2_ptds)
	E(cuMemcpyHtoDAsync, 2000, NULL)
	P(cuMemcpyHtoDAsync, 3020, cuMemcpyHtoDAsync_v2, 7000, cuMemcpyHtoDAsync_v2_ptsz)
	E(cuMemcpyDtoHAsync, 2000, NULL)
	P(cuMemcpyDtoHAsync, 3020, cuMemcpyDtoHAsync_v2, 7000, cuMemcpyDtoHAsync_v2_ptsz)
	E(cuMemcpyDtoDAsync, 3000, NULL)
	P(cuMemcpyDtoDAsync, 3020, cuMemcpyDtoDAsync_v2, 7000, cuMemcpyDtoDAsync_v2_ptsz)
	E(cuMemcpy2D, 2000, NULL)
	P(cuMemcpy2D, 3020, cuMemcpy2D_v2, 7000, cuMemcpy2D_v2_ptds)
	E(cuMemcpy2DUnaligned, 2000, NULL)
	P(cuMemcpy2DUnaligned, 3020, cuMemcpy2DUnaligned_v2, 7000, cuMemcpy2DUnaligned_v2_ptds)
	E(cuMemcpy2DAsync, 2000, NULL)
	P(cuMemcpy2DAsync, 3020, cuMemcpy2DAsync_v2, 7000, cuMemcpy2DAsync_v2_ptsz)
	E(cuMemcpy3D, 2000, NULL)
	P(cuMemcpy3D, 3020, cuMemcpy3D_v2, 7000, cuMemcpy3D_v2_ptds)
	E(cuMemcpy3DAsync, 2000, NULL)
	P(cuMemcpy3DAsync, 3020, cuMemcpy3DAsync_v2, 7000, cuMemcpy3DAsync_v2_ptsz)
	P(cuMemcpyPeer, 4000, cuMemcpyPeer, 7000, cuMemcpyPeer_ptds)
	P(cuMemcpyPeerAsync, 4000, cuMemcpyPeerAsync, 7000, cuMemcpyPeerAsync_ptsz)
	P(cuMemcpy3DPeer, 4000, cuMemcpy3DPeer, 7000, cuMemcpy3DPeer_ptds)
	P(cuMemcpy3DPeerAsync, 4000, cuMemcpy3DPeerAsync, 7000, cuMemcpy3DPeerAsync_ptsz)
	P(cuMemcpyBatchAsync, 12080, cuMemcpyBatchAsync, 12080, cuMemcpyBatchAsync_ptsz)
	P(cuMemcpyBatchAsync, 13000, cuMemcpyBatchAsync_v2, 13000, cuMemcpyBatchAsync_v2_ptsz)
	P(cuMemcpy3DBatchAsync, 12080, cuMemcpy3DBatchAsync, 12080, cuMemcpy3DBatchAsync_ptsz)
	P(cuMemcpy3DBatchAsync, 13000, cuMemcpy3DBatchAsync_v2, 13000, cuMemcpy3DBatchAsync_v2_ptsz)
	/* CUDA arrays */
	E(cuArrayCreate, 2000, NULL)
	E(cuArrayCreate, 3020, cuArrayCreate_v2)
	E(cuArrayDestroy, 2000, cuArrayDestroy)
	E(cuMemcpyHtoA, 2000, NULL)
	P(cuMemcpyHtoA, 3020, cuMemcpyHtoA_v2, 7000, cuMemcpyHtoA_v2_ptds)
	E(cuMemcpyAtoH, 2000, NULL)
	P(cuMemcpyAtoH, 3020, cuMemcpyAtoH_v2, 7000, cuMemcpyAtoH_v2_ptds)
	E(cuMemcpyAtoD, 2000, NULL)
	P(cuMemcpyAtoD, 3020, cuMemcpyAtoD_v2, 7000, cuMemcpyAtoD_v2_ptds)
	E(cuMemcpyDtoA, 2000, NULL)
	P(cuMemcpyDtoA, 3020, cuMemcpyDtoA_v2, 7000, cuMemcpyDtoA_v2_ptds)
	E(cuMemcpyAtoA, 2000, NULL)
	P(cuMemcpyAtoA, 3020, cuMemcpyAtoA_v2, 7000, cuMemcpyAtoA_v2_ptds)
	E(cuMemcpyHtoAAsync, 2000, NULL)
	P(cuMemcpyHtoAAsync, 3020, cuMemcpyHtoAAsync_v2, 7000, cuMemcpyHtoAAsync_v2_ptsz)
	E(cuMemcpyAtoHAsync, 2000, NULL)
	P(cuMemcpyAtoHAsync, 3020, cuMemcpyAtoHAsync_v2, 7000, cuMemcpyAtoHAsync_v2_ptsz)
	/* memsets */
	E(cuMemsetD8, 2000, NULL)
	P(cuMemsetD8, 3020, cuMemsetD8_v2, 7000, cuMemsetD8_v2_ptds)
	E(cuMemsetD16, 2000, NULL)
	P(cuMemsetD16, 3020, cuMemsetD16_v2, 7000, cuMemsetD16_v2_ptds)
	E(cuMemsetD32, 2000, NULL)
	P(cuMemsetD32, 3020, cuMemsetD32_v2, 7000, cuMemsetD32_v2_ptds)
	E(cuMemsetD2D8, 2000, NULL)
	P(cuMemsetD2D8, 3020, cuMemsetD2D8_v2, 7000, cuMemsetD2D8_v2_ptds)
	E(cuMemsetD2D16, 2000, NULL)
	P(cuMemsetD2D16, 3020, cuMemsetD2D16_v2, 7000, cuMemsetD2D16_v2_ptds)
	E(cuMemsetD2D32, 2000, NULL)
	P(cuMemsetD2D32, 3020, cuMemsetD2D32_v2, 7000, cuMemsetD2D32_v2_ptds)
	P(cuMemsetD8Async, 3020, cuMemsetD8Async, 7000, cuMemsetD8Async_ptsz)
	P(cuMemsetD16Async, 3020, cuMemsetD16Async, 7000, cuMemsetD16Async_ptsz)
	P(cuMemsetD32Async, 3020, cuMemsetD32Async, 7000, cuMemsetD32Async_ptsz)
	P(cuMemsetD2D8Async, 3020, cuMemsetD2D8Async, 7000, cuMemsetD2D8Async_ptsz)
	P(cuMemsetD2D16Async, 3020, cuMemsetD2D16Async, 7000, cuMemsetD2D16Async_ptsz)
	P(cuMemsetD2D32Async, 3020, cuMemsetD2D32Async, 7000, cuMemsetD2D32Async_ptsz)
	/* streams, events, modules, launches */
	E(cuStreamCreate, 2000, cuStreamCreate)
	E(cuStreamCreateWithPriority, 5050, cuStreamCreateWithPriority)
	E(cuStreamDestroy, 4000, cuStreamDestroy_v2)
	P(cuStreamSynchronize, 2000, cuStreamSynchronize, 7000, cuStreamSynchronize_ptsz)
	P(cuStreamQuery, 2000, cuStreamQuery, 7000, cuStreamQuery_ptsz)
	P(cuStreamGetFlags, 5050, cuStreamGetFlags, 7000, cuStreamGetFlags_ptsz)
	P(cuStreamWaitEvent, 3020, cuStreamWaitEvent, 7000, cuStreamWaitEvent_ptsz)
	P(cuStreamAddCallback, 5000, cuStreamAddCallback, 7000, cuStreamAddCallback_ptsz)
	P(cuLaunchHostFunc, 10000, cuLaunchHostFunc, 10000, cuLaunchHostFunc_ptsz)
	E(cuEventCreate, 2000, cuEventCreate)
	E(cuEventDestroy, 4000, cuEventDestroy_v2)
	P(cuEventRecord, 2000, cuEventRecord, 7000, cuEventRecord_ptsz)
	P(cuEventRecordWithFlags, 11010, cuEventRecordWithFlags, 11010, cuEventRecordWithFlags_ptsz)
	E(cuEventSynchronize, 2000, cuEventSynchronize)
	E(cuEventQuery, 2000, cuEventQuery)
	E(cuEventElapsedTime, 2000, cuEventElapsedTime)
	E(cuEventElapsedTime, 12080, cuEventElapsedTime_v2)
	E(cuModuleLoad, 2000, cuModuleLoad)
	E(cuModuleLoadData, 2000, cuModuleLoadData)
	E(cuModuleLoadDataEx, 2010, cuModuleLoadDataEx)
	E(cuModuleUnload, 2000, cuModuleUnload)
	E(cuModuleGetFunction, 2000, cuModuleGetFunction)
	P(cuLaunchKernel, 4000, cuLaunchKernel, 7000, cuLaunchKernel_ptsz)
	P(cuLaunchKernelEx, 11060, cuLaunchKernelEx, 11060, cuLaunchKernelEx_ptsz)
};
/* clang-format on */

static CUresult lookup(const char *symbol, void **pfn, int version, cuuint64_t flags,
                       CUdriverProcAddressQueryResult *status)
{
	const struct entry *best = NULL;
	bool known = false;

	if (status)
		*status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
	if (!symbol || !pfn ||
	    (flags & ~(cuuint64_t)(CU_GET_PROC_ADDRESS_LEGACY_STREAM |
	                           CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM)))
		return CUDA_ERROR_INVALID_VALUE;
	*pfn = NULL;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(table[i].name, symbol) != 0)
			continue;
		known = true;
		if (table[i].version <= version && (!best || table[i].version > best->version))
			best = &table[i];
	}
	if (!known)
		return CUDA_ERROR_NOT_FOUND;
	if (!best || !best->fn) {
		if (status)
			*status = CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT;
		return CUDA_ERROR_NOT_FOUND;
	}
	bool per_thread = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) &&
	                  !(flags & CU_GET_PROC_ADDRESS_LEGACY_STREAM);
	*pfn = per_thread && best->pt_fn && version >= best->pt_version ? best->pt_fn : best->fn;
	if (status)
		*status = CU_GET_PROC_ADDRESS_SUCCESS;
	return CUDA_SUCCESS;
}

/* The _ptsz forms read "no stream flag" as per-thread, as cuda.h's inline helper does. */
static cuuint64_t ptsz_flags(cuuint64_t flags)
{
	if (!(flags & (CU_GET_PROC_ADDRESS_LEGACY_STREAM | CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM)))
		flags |= CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
	return flags;
}

FC_EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
	return lookup(symbol, pfn, cudaVersion, flags, NULL);
}

FC_EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                                       CUdriverProcAddressQueryResult *symbolStatus)
{
	return lookup(symbol, pfn, cudaVersion, flags, symbolStatus);
}

FC_EXPORT CUresult cuGetProcAddress_ptsz(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
	return lookup(symbol, pfn, cudaVersion, ptsz_flags(flags), NULL);
}

FC_EXPORT CUresult cuGetProcAddress_v2_ptsz(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                                            CUdriverProcAddressQueryResult *symbolStatus)
{
	return lookup(symbol, pfn, cudaVersion, ptsz_flags(flags), symbolStatus);
}
