/* runtime_init.c — how the fake runtime finds the driver, exactly as measured for the
 * real libcudart on an H200 (../shared/GPU.md): dlopen("libcuda.so.1", RTLD_NOW), plain
 * dlsym(handle, "cuGetProcAddress_v2"), then through it "" (version 0), "cuInit"
 * (2000), "cuGetProcAddress" (11030, then 12000), and every further entry point
 * through the pointer that last call returned. Also the per-thread context set-up and
 * the driver-to-runtime error mapping.
 */
#include "runtime.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

struct fcrt_driver fcrt_drv, fcrt_drv_pt;
__typeof__(cuGetProcAddress_v2) *fcrt_get_proc;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static cudaError_t load_error = cudaErrorInitializationError;
static CUcontext primary;
static __thread bool thread_ready; /* this thread has a current context */

static void fetch_all(void)
{
	CUdriverProcAddressQueryResult st;
#define FCRT_FETCH(field, name, decl)                                                                  \
	fcrt_get_proc(name, (void **)&fcrt_drv.field, FCRT_VERSION, CU_GET_PROC_ADDRESS_DEFAULT, &st); \
	fcrt_get_proc(name, (void **)&fcrt_drv_pt.field, FCRT_VERSION,                                 \
	              CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &st);
	FCRT_DRIVER_FUNCS(FCRT_FETCH)
#undef FCRT_FETCH
}

static bool all_present(void)
{
#define FCRT_CHECK(field, name, decl)                                         \
	if (!fcrt_drv.field || !fcrt_drv_pt.field) {                          \
		fprintf(stderr, "fakecuda runtime: driver lacks %s\n", name); \
		return false;                                                 \
	}
	FCRT_DRIVER_FUNCS(FCRT_CHECK)
#undef FCRT_CHECK
	return true;
}

static void load(void)
{
	CUdriverProcAddressQueryResult st;
	void *fn = NULL;

	load_error = cudaErrorInsufficientDriver;
	void *h = dlopen("libcuda.so.1", RTLD_NOW);
	if (!h)
		return;
	__typeof__(cuGetProcAddress_v2) *gpa = (__typeof__(gpa))dlsym(h, "cuGetProcAddress_v2");
	if (!gpa)
		return;
	gpa("", &fn, 0, CU_GET_PROC_ADDRESS_DEFAULT, &st);
	if (gpa("cuInit", &fn, 2000, CU_GET_PROC_ADDRESS_DEFAULT, &st) || !fn)
		return;
	__typeof__(cuInit) *init = (__typeof__(init))fn;
	gpa("cuGetProcAddress", &fn, 11030, CU_GET_PROC_ADDRESS_DEFAULT, &st);
	if (gpa("cuGetProcAddress", &fn, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &st) || !fn)
		return;
	fcrt_get_proc = (__typeof__(fcrt_get_proc))fn;
	fetch_all();
	if (!all_present())
		return;
	CUresult r = init(0);
	if (r == CUDA_SUCCESS)
		r = fcrt_drv.primaryCtxRetain(&primary, 0);
	load_error = fcrt_error(r);
}

cudaError_t fcrt_load(void)
{
	pthread_once(&load_once, load);
	return load_error;
}

cudaError_t fcrt_enter(void)
{
	CUcontext cur = NULL;
	cudaError_t e = fcrt_load();

	if (e || thread_ready)
		return e;
	if (fcrt_drv.ctxGetCurrent(&cur) == CUDA_SUCCESS && !cur &&
	    fcrt_drv.ctxSetCurrent(primary) != CUDA_SUCCESS)
		return cudaErrorDeviceUninitialized;
	thread_ready = true;
	return cudaSuccess;
}

CUcontext fcrt_primary(void)
{
	return primary;
}

void fcrt_set_thread_ready(void)
{
	thread_ready = true;
}

/* The runtime's codes share the driver's numbers for everything the fake driver
 * returns; the ones that differ in name are spelled out. */
cudaError_t fcrt_error(CUresult r)
{
	switch (r) {
	case CUDA_SUCCESS: return cudaSuccess;
	case CUDA_ERROR_INVALID_VALUE: return cudaErrorInvalidValue;
	case CUDA_ERROR_OUT_OF_MEMORY: return cudaErrorMemoryAllocation;
	case CUDA_ERROR_NOT_INITIALIZED: return cudaErrorInitializationError;
	case CUDA_ERROR_DEINITIALIZED: return cudaErrorCudartUnloading;
	case CUDA_ERROR_NO_DEVICE: return cudaErrorNoDevice;
	case CUDA_ERROR_INVALID_DEVICE: return cudaErrorInvalidDevice;
	case CUDA_ERROR_INVALID_CONTEXT: return cudaErrorDeviceUninitialized;
	case CUDA_ERROR_INVALID_HANDLE: return cudaErrorInvalidResourceHandle;
	case CUDA_ERROR_NOT_FOUND: return cudaErrorSymbolNotFound;
	case CUDA_ERROR_NOT_READY: return cudaErrorNotReady;
	case CUDA_ERROR_NOT_SUPPORTED: return cudaErrorNotSupported;
	case CUDA_ERROR_NOT_PERMITTED: return cudaErrorNotPermitted;
	case CUDA_ERROR_FILE_NOT_FOUND: return cudaErrorFileNotFound;
	case CUDA_ERROR_UNKNOWN: return cudaErrorUnknown;
	default: return (cudaError_t)r;
	}
}

cudaError_t fcrt_done(CUresult r)
{
	return fcrt_ret(fcrt_error(r));
}
