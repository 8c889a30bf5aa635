/* runtime.h — internals shared by the files of the fake CUDA runtime (runtime_*.c).
 *
 * The runtime reaches the driver the way the real libcudart does: dlopen("libcuda.so.1"),
 * dlsym(handle, "cuGetProcAddress_v2"), then every entry point — cuGetProcAddress
 * itself included — through the pointer it got. It never names a cu* symbol directly.
 */
#ifndef FAKECUDA_RUNTIME_H
#define FAKECUDA_RUNTIME_H

/* Declare the legacy and the _ptds/_ptsz forms of everything, here and in cuda.h. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <cuda_runtime_api.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FCRT_VERSION 13000 /* CUDART_VERSION of the headers it mimics */

/* The exported API: default visibility in libcudart.so.13 (the version script picks
 * cuda*), hidden in libcudart_static.a (built with -fvisibility=hidden). */
#ifdef FC_STATIC_RUNTIME
#define FCRT_API
#else
#define FCRT_API __attribute__((visibility("default")))
#endif

/* Every driver entry point the runtime uses: field, name asked of cuGetProcAddress,
 * and the cuda.h declaration whose type the pointer has. */
#define FCRT_DRIVER_FUNCS(X)                                                                  \
	X(init, "cuInit", cuInit)                                                             \
	X(driverGetVersion, "cuDriverGetVersion", cuDriverGetVersion)                         \
	X(deviceGetCount, "cuDeviceGetCount", cuDeviceGetCount)                               \
	X(deviceGet, "cuDeviceGet", cuDeviceGet)                                              \
	X(primaryCtxRetain, "cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain)             \
	X(deviceGetDefaultMemPool, "cuDeviceGetDefaultMemPool", cuDeviceGetDefaultMemPool)    \
	X(ctxGetCurrent, "cuCtxGetCurrent", cuCtxGetCurrent)                                  \
	X(ctxSetCurrent, "cuCtxSetCurrent", cuCtxSetCurrent)                                  \
	X(ctxSynchronize, "cuCtxSynchronize", cuCtxSynchronize_v2)                            \
	X(memAlloc, "cuMemAlloc", cuMemAlloc_v2)                                              \
	X(memFree, "cuMemFree", cuMemFree_v2)                                                 \
	X(memAllocAsync, "cuMemAllocAsync", cuMemAllocAsync)                                  \
	X(memFreeAsync, "cuMemFreeAsync", cuMemFreeAsync)                                     \
	X(memAllocFromPoolAsync, "cuMemAllocFromPoolAsync", cuMemAllocFromPoolAsync)          \
	X(memAllocHost, "cuMemAllocHost", cuMemAllocHost_v2)                                  \
	X(memHostAlloc, "cuMemHostAlloc", cuMemHostAlloc)                                     \
	X(memFreeHost, "cuMemFreeHost", cuMemFreeHost)                                        \
	X(memGetInfo, "cuMemGetInfo", cuMemGetInfo_v2)                                        \
	X(pointerGetAttributes, "cuPointerGetAttributes", cuPointerGetAttributes)             \
	X(memcpy, "cuMemcpy", cuMemcpy)                                                       \
	X(memcpyAsync, "cuMemcpyAsync", cuMemcpyAsync)                                        \
	X(memcpyHtoD, "cuMemcpyHtoD", cuMemcpyHtoD_v2)                                        \
	X(memcpyDtoH, "cuMemcpyDtoH", cuMemcpyDtoH_v2)                                        \
	X(memcpyDtoD, "cuMemcpyDtoD", cuMemcpyDtoD_v2)                                        \
	X(memcpyHtoDAsync, "cuMemcpyHtoDAsync", cuMemcpyHtoDAsync_v2)                         \
	X(memcpyDtoHAsync, "cuMemcpyDtoHAsync", cuMemcpyDtoHAsync_v2)                         \
	X(memcpyDtoDAsync, "cuMemcpyDtoDAsync", cuMemcpyDtoDAsync_v2)                         \
	X(memcpy2D, "cuMemcpy2D", cuMemcpy2D_v2)                                              \
	X(memcpy2DAsync, "cuMemcpy2DAsync", cuMemcpy2DAsync_v2)                               \
	X(memcpy3D, "cuMemcpy3D", cuMemcpy3D_v2)                                              \
	X(memcpy3DAsync, "cuMemcpy3DAsync", cuMemcpy3DAsync_v2)                               \
	X(memcpyPeer, "cuMemcpyPeer", cuMemcpyPeer)                                           \
	X(memcpyPeerAsync, "cuMemcpyPeerAsync", cuMemcpyPeerAsync)                            \
	X(memcpyBatchAsync, "cuMemcpyBatchAsync", cuMemcpyBatchAsync_v2)                      \
	X(memcpy3DBatchAsync, "cuMemcpy3DBatchAsync", cuMemcpy3DBatchAsync_v2)                \
	X(arrayCreate, "cuArrayCreate", cuArrayCreate_v2)                                     \
	X(arrayDestroy, "cuArrayDestroy", cuArrayDestroy)                                     \
	X(memsetD8, "cuMemsetD8", cuMemsetD8_v2)                                              \
	X(memsetD8Async, "cuMemsetD8Async", cuMemsetD8Async)                                  \
	X(memsetD2D8, "cuMemsetD2D8", cuMemsetD2D8_v2)                                        \
	X(memsetD2D8Async, "cuMemsetD2D8Async", cuMemsetD2D8Async)                            \
	X(streamCreate, "cuStreamCreate", cuStreamCreate)                                     \
	X(streamCreateWithPriority, "cuStreamCreateWithPriority", cuStreamCreateWithPriority) \
	X(streamDestroy, "cuStreamDestroy", cuStreamDestroy_v2)                               \
	X(streamSynchronize, "cuStreamSynchronize", cuStreamSynchronize)                      \
	X(streamQuery, "cuStreamQuery", cuStreamQuery)                                        \
	X(eventCreate, "cuEventCreate", cuEventCreate)                                        \
	X(eventRecord, "cuEventRecord", cuEventRecord)                                        \
	X(eventSynchronize, "cuEventSynchronize", cuEventSynchronize)                         \
	X(eventQuery, "cuEventQuery", cuEventQuery)                                           \
	X(eventElapsedTime, "cuEventElapsedTime", cuEventElapsedTime_v2)                      \
	X(eventDestroy, "cuEventDestroy", cuEventDestroy_v2)                                  \
	X(launchKernel, "cuLaunchKernel", cuLaunchKernel)                                     \
	X(launchKernelEx, "cuLaunchKernelEx", cuLaunchKernelEx)

struct fcrt_driver {
#define FCRT_FIELD(field, name, decl) __typeof__(decl) *field;
	FCRT_DRIVER_FUNCS(FCRT_FIELD)
#undef FCRT_FIELD
};

/* ---------------------------------------------------------------- "runtime_init.c" */
/* Entry points fetched with CU_GET_PROC_ADDRESS_DEFAULT (legacy default stream) and
 * with PER_THREAD_DEFAULT_STREAM (for the _ptds/_ptsz runtime forms). */
extern struct fcrt_driver fcrt_drv, fcrt_drv_pt;
/* The driver's cuGetProcAddress_v2, as fetched through itself. */
extern __typeof__(cuGetProcAddress_v2) *fcrt_get_proc;
/* Load the driver once, make the primary context current on this thread. */
cudaError_t fcrt_enter(void);
/* Load the driver once; no context needed (version and entry-point queries). */
cudaError_t fcrt_load(void);
CUcontext fcrt_primary(void);
void fcrt_set_thread_ready(void);
/* Driver result -> runtime error as the real runtime maps it. */
cudaError_t fcrt_error(CUresult r);
/* Record e as this thread's last error when it is one; return it. */
cudaError_t fcrt_ret(cudaError_t e);
/* fcrt_ret(fcrt_error(r)). */
cudaError_t fcrt_done(CUresult r);

/* Start of every API call that needs the driver and a context. */
#define FCRT_ENTER()                           \
	do {                                   \
		cudaError_t e_ = fcrt_enter(); \
		if (e_)                        \
			return fcrt_ret(e_);   \
	} while (0)

/* -------------------------------------------------------------- "runtime_errors.c" */
cudaError_t fcrt_take_last_error(bool reset);

#endif /* FAKECUDA_RUNTIME_H */
