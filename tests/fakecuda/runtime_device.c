/* runtime_device.c — the rest of the runtime subset: versions, the device, streams,
 * events, kernel launches (handed to cuLaunchKernel, which does nothing) and
 * cudaGetDriverEntryPoint(ByVersion), which forwards to the driver's cuGetProcAddress.
 */
#include "runtime.h"

/* ---------------------------------------------------------------------- versions */
FCRT_API cudaError_t cudaRuntimeGetVersion(int *runtimeVersion)
{
	if (!runtimeVersion)
		return fcrt_ret(cudaErrorInvalidValue);
	*runtimeVersion = FCRT_VERSION;
	return cudaSuccess;
}

/* 0 when there is no driver, as the real runtime reports. */
FCRT_API cudaError_t cudaDriverGetVersion(int *driverVersion)
{
	if (!driverVersion)
		return fcrt_ret(cudaErrorInvalidValue);
	if (fcrt_load()) {
		*driverVersion = 0;
		return cudaSuccess;
	}
	return fcrt_done(fcrt_drv.driverGetVersion(driverVersion));
}

/* ------------------------------------------------------------------------ device */
FCRT_API cudaError_t cudaGetDeviceCount(int *count)
{
	cudaError_t e = fcrt_load();
	if (e)
		return fcrt_ret(e);
	if (!count)
		return fcrt_ret(cudaErrorInvalidValue);
	return fcrt_done(fcrt_drv.deviceGetCount(count));
}

FCRT_API cudaError_t cudaSetDevice(int device)
{
	int count = 0;
	cudaError_t e = fcrt_load();
	if (e)
		return fcrt_ret(e);
	CUresult r = fcrt_drv.deviceGetCount(&count);
	if (r)
		return fcrt_done(r);
	if (device < 0 || device >= count)
		return fcrt_ret(cudaErrorInvalidDevice);
	r = fcrt_drv.ctxSetCurrent(fcrt_primary());
	if (r == CUDA_SUCCESS)
		fcrt_set_thread_ready();
	return fcrt_done(r);
}

FCRT_API cudaError_t cudaGetDevice(int *device)
{
	FCRT_ENTER();
	if (!device)
		return fcrt_ret(cudaErrorInvalidValue);
	*device = 0;
	return cudaSuccess;
}

FCRT_API cudaError_t cudaDeviceSynchronize(void)
{
	FCRT_ENTER();
	/* At version 13000 "cuCtxSynchronize" is the _v2 ABI; NULL means the current context. */
	return fcrt_done(fcrt_drv.ctxSynchronize(NULL));
}

/* ----------------------------------------------------------------------- streams */
FCRT_API cudaError_t cudaStreamCreate(cudaStream_t *pStream)
{
	FCRT_ENTER();
	return fcrt_done(fcrt_drv.streamCreate((CUstream *)pStream, CU_STREAM_DEFAULT));
}

FCRT_API cudaError_t cudaStreamCreateWithFlags(cudaStream_t *pStream, unsigned int flags)
{
	FCRT_ENTER();
	return fcrt_done(fcrt_drv.streamCreate((CUstream *)pStream, flags));
}

FCRT_API cudaError_t cudaStreamCreateWithPriority(cudaStream_t *pStream, unsigned int flags, int priority)
{
	FCRT_ENTER();
	return fcrt_done(fcrt_drv.streamCreateWithPriority((CUstream *)pStream, flags, priority));
}

FCRT_API cudaError_t cudaStreamDestroy(cudaStream_t stream)
{
	FCRT_ENTER();
	return fcrt_done(fcrt_drv.streamDestroy((CUstream)stream));
}

FCRT_API cudaError_t cudaStreamSynchronize(cudaStream_t stream)
{
	FCRT_ENTER();
	return fcrt_done(fcrt_drv.streamSynchronize((CUstream)stream));
}

FCRT_API cudaError_t cudaStreamSynchronize_ptsz(cudaStream_t stream)
{
	FCRT_ENTER();
	return fcrt_done(fcrt_drv_pt.streamSynchronize((CUstream)stream));
}

FCRT_API cudaError_t cudaStreamQuery(cudaStream_t stream)
{
	FCRT_ENTER();
	return fcrt_done(fcrt_drv.streamQuery((CUstream)stream));
}

FCRT_API cudaError_t cudaStreamQuery_ptsz(cudaStream_t stream)
{
	FCRT_ENTER();
	return fcrt_done(fcrt_drv_pt.streamQuery((CUstream)stream));
}

/* ------------------------------------------------------------------------ events */
FCRT_API cudaError_t cudaEventCreate(cudaEvent_t *event)
{
	FCRT_ENTER();
	return fcrt_done(fcrt_drv.eventCreate((CUevent *)event, CU_EVENT_DEFAULT));
}

FCRT_API cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int flags)
{
	FCRT_ENTER();
	return fcrt_done(fcrt_drv.eventCreate((CUevent *)event, flags));
}

FCRT_API cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream)
{
	FCRT_ENTER();
	return fcrt_done(fcrt_drv.eventRecord((CUevent)event, (CUstream)stream));
}

FCRT_API cudaError_t cudaEventRecord_ptsz(cudaEvent_t event, cudaStream_t stream)
{
	FCRT_ENTER();
	return fcrt_done(fcrt_drv_pt.eventRecord((CUevent)event, (CUstream)stream));
}

FCRT_API cudaError_t cudaEventSynchronize(cudaEvent_t event)
{
	FCRT_ENTER();
	return fcrt_done(fcrt_drv.eventSynchronize((CUevent)event));
}

FCRT_API cudaError_t cudaEventQuery(cudaEvent_t event)
{
	FCRT_ENTER();
	return fcrt_done(fcrt_drv.eventQuery((CUevent)event));
}

FCRT_API cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end)
{
	FCRT_ENTER();
	return fcrt_done(fcrt_drv.eventElapsedTime(ms, (CUevent)start, (CUevent)end));
}

FCRT_API cudaError_t cudaEventDestroy(cudaEvent_t event)
{
	FCRT_ENTER();
	return fcrt_done(fcrt_drv.eventDestroy((CUevent)event));
}

/* ---------------------------------------------------------------------- launches */
/* The host stub stands in for the CUfunction the real runtime would look up. */
static cudaError_t launch(const struct fcrt_driver *d, const void *func, dim3 grid, dim3 block, void **args,
                          size_t sharedMem, cudaStream_t s)
{
	FCRT_ENTER();
	if (!func)
		return fcrt_ret(cudaErrorInvalidDeviceFunction);
	CUresult r = d->launchKernel((CUfunction)(uintptr_t)func, grid.x, grid.y, grid.z, block.x, block.y,
	                             block.z, (unsigned)sharedMem, (CUstream)s, args, NULL);
	if (r == CUDA_ERROR_INVALID_VALUE) /* bad dimensions, as the runtime names it */
		return fcrt_ret(cudaErrorInvalidConfiguration);
	return fcrt_done(r);
}

FCRT_API cudaError_t cudaLaunchKernel(const void *func, dim3 gridDim, dim3 blockDim, void **args,
                                      size_t sharedMem, cudaStream_t stream)
{
	return launch(&fcrt_drv, func, gridDim, blockDim, args, sharedMem, stream);
}

FCRT_API cudaError_t cudaLaunchKernel_ptsz(const void *func, dim3 gridDim, dim3 blockDim, void **args,
                                           size_t sharedMem, cudaStream_t stream)
{
	return launch(&fcrt_drv_pt, func, gridDim, blockDim, args, sharedMem, stream);
}

static cudaError_t launch_ex(const struct fcrt_driver *d, const cudaLaunchConfig_t *config, const void *func,
                             void **args)
{
	FCRT_ENTER();
	if (!config)
		return fcrt_ret(cudaErrorInvalidValue);
	if (!func)
		return fcrt_ret(cudaErrorInvalidDeviceFunction);
	CUlaunchConfig c = {
		.gridDimX = config->gridDim.x,
		.gridDimY = config->gridDim.y,
		.gridDimZ = config->gridDim.z,
		.blockDimX = config->blockDim.x,
		.blockDimY = config->blockDim.y,
		.blockDimZ = config->blockDim.z,
		.sharedMemBytes = (unsigned)config->dynamicSmemBytes,
		.hStream = (CUstream)config->stream,
	};
	return fcrt_done(d->launchKernelEx(&c, (CUfunction)(uintptr_t)func, args, NULL));
}

FCRT_API cudaError_t cudaLaunchKernelExC(const cudaLaunchConfig_t *config, const void *func, void **args)
{
	return launch_ex(&fcrt_drv, config, func, args);
}

FCRT_API cudaError_t cudaLaunchKernelExC_ptsz(const cudaLaunchConfig_t *config, const void *func, void **args)
{
	return launch_ex(&fcrt_drv_pt, config, func, args);
}

/* ---------------------------------------------------------------- entry points */
/* As documented: cudaSuccess with a NULL pointer when the driver has no such symbol
 * for that version; driverStatus says why. */
static cudaError_t entry_point(const char *symbol, void **funcPtr, unsigned version, unsigned long long flags,
                               enum cudaDriverEntryPointQueryResult *status)
{
	CUdriverProcAddressQueryResult st = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
	cudaError_t e = fcrt_load();
	if (e)
		return fcrt_ret(e);
	if (!symbol || !funcPtr ||
	    (flags & ~(unsigned long long)(cudaEnableLegacyStream | cudaEnablePerThreadDefaultStream)))
		return fcrt_ret(cudaErrorInvalidValue);
	CUresult r = fcrt_get_proc(symbol, funcPtr, (int)version, flags, &st);
	if (status)
		*status = (enum cudaDriverEntryPointQueryResult)st;
	if (r == CUDA_ERROR_NOT_FOUND) {
		*funcPtr = NULL;
		return cudaSuccess;
	}
	return fcrt_done(r);
}

static unsigned long long per_thread(unsigned long long flags)
{
	if (!(flags & (cudaEnableLegacyStream | cudaEnablePerThreadDefaultStream)))
		flags |= cudaEnablePerThreadDefaultStream;
	return flags;
}

FCRT_API cudaError_t cudaGetDriverEntryPoint(const char *symbol, void **funcPtr, unsigned long long flags,
                                             enum cudaDriverEntryPointQueryResult *driverStatus)
{
	return entry_point(symbol, funcPtr, FCRT_VERSION, flags, driverStatus);
}

FCRT_API cudaError_t cudaGetDriverEntryPoint_ptsz(const char *symbol, void **funcPtr,
                                                  unsigned long long flags,
                                                  enum cudaDriverEntryPointQueryResult *driverStatus)
{
	return entry_point(symbol, funcPtr, FCRT_VERSION, per_thread(flags), driverStatus);
}

FCRT_API cudaError_t cudaGetDriverEntryPointByVersion(const char *symbol, void **funcPtr,
                                                      unsigned int cudaVersion, unsigned long long flags,
                                                      enum cudaDriverEntryPointQueryResult *driverStatus)
{
	return entry_point(symbol, funcPtr, cudaVersion, flags, driverStatus);
}

FCRT_API cudaError_t cudaGetDriverEntryPointByVersion_ptsz(const char *symbol, void **funcPtr,
                                                           unsigned int cudaVersion, unsigned long long flags,
                                                           enum cudaDriverEntryPointQueryResult *driverStatus)
{
	return entry_point(symbol, funcPtr, cudaVersion, per_thread(flags), driverStatus);
}
