/* driver_device.c — the one fake device (ordinal 0) and its contexts: the primary
 * context (retained/released, never torn down) and contexts made by cuCtxCreate.
 * The current context is per thread, a small stack as cuCtxPush/PopCurrent want.
 */
#include "fakecuda.h"

#include <stdlib.h>
#include <string.h>

#define CTX_MAGIC 0xfc0c7e47u
#define CTX_STACK 16

struct fc_ctx {
	unsigned magic;      /* CTX_MAGIC while alive */
	bool primary;        /* the device's primary context */
	unsigned flags;      /* cuCtxCreate / cuDevicePrimaryCtxSetFlags flags */
	struct fc_ctx *next; /* list of created contexts */
};

static struct fc_ctx primary = { .magic = CTX_MAGIC, .primary = true };
static int primary_refs;
static struct fc_ctx *created;
static pthread_mutex_t ctx_mutex = PTHREAD_MUTEX_INITIALIZER;

static __thread CUcontext ctx_stack[CTX_STACK];
static __thread int ctx_depth;

CUcontext fc_primary_ctx(void)
{
	return (CUcontext)&primary;
}

CUcontext fc_current_ctx(void)
{
	return ctx_depth ? ctx_stack[ctx_depth - 1] : NULL;
}

bool fc_ctx_valid(CUcontext ctx)
{
	bool ok = false;

	if (!ctx)
		return false;
	if (ctx == fc_primary_ctx())
		return true;
	pthread_mutex_lock(&ctx_mutex);
	for (struct fc_ctx *c = created; c; c = c->next)
		if ((CUcontext)c == ctx)
			ok = true;
	pthread_mutex_unlock(&ctx_mutex);
	return ok;
}

/* ------------------------------------------------------------------------ devices */
FC_EXPORT CUresult cuDeviceGetCount(int *count)
{
	CUresult r = fc_check_init();
	if (r)
		return r;
	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	*count = 1;
	return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDeviceGet(CUdevice *device, int ordinal)
{
	CUresult r = fc_check_init();
	if (r)
		return r;
	if (!device)
		return CUDA_ERROR_INVALID_VALUE;
	if (ordinal != 0)
		return CUDA_ERROR_INVALID_DEVICE;
	*device = 0;
	return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
	static const char fake_name[] = "fakecuda device (host memory)";
	CUresult r = fc_check_device(!name || len <= 0, dev);
	if (r)
		return r;
	strncpy(name, fake_name, (size_t)len - 1);
	name[len - 1] = '\0';
	return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
	CUresult r = fc_check_device(!bytes, dev);
	if (r)
		return r;
	*bytes = (size_t)fc_mem_limit();
	return CUDA_SUCCESS;
}

/* An H200-like device where a program might ask; every other known attribute is 0. */
FC_EXPORT CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
	CUresult r = fc_check_device(!pi || attrib <= 0 || attrib >= CU_DEVICE_ATTRIBUTE_MAX, dev);
	if (r)
		return r;
	switch (attrib) {
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *pi = 9; break;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *pi = 0; break;
	case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *pi = 132; break;
	case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = 1024; break;
	case CU_DEVICE_ATTRIBUTE_WARP_SIZE: *pi = 32; break;
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X:
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: *pi = 1024; break;
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: *pi = 64; break;
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: *pi = 2147483647; break;
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y:
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: *pi = 65535; break;
	case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: *pi = 49152; break;
	case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: *pi = 65536; break;
	case CU_DEVICE_ATTRIBUTE_MAX_PITCH: *pi = 2147483647; break;
	case CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT: *pi = 512; break;
	case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: *pi = 6144; break;
	case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING:
	case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY:
	case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS:
	case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED:
	case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED:
	case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED: *pi = 1; break;
	default: *pi = 0; break;
	}
	return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDeviceComputeCapability(int *major, int *minor, CUdevice dev)
{
	CUresult r = fc_check_device(!major || !minor, dev);
	if (r)
		return r;
	*major = 9;
	*minor = 0;
	return CUDA_SUCCESS;
}

static CUresult get_uuid(CUuuid *uuid, CUdevice dev)
{
	CUresult r = fc_check_device(!uuid, dev);
	if (r)
		return r;
	memcpy(uuid->bytes, "fakecuda-device0", sizeof(uuid->bytes));
	return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
	return get_uuid(uuid, dev);
}

FC_EXPORT CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
	return get_uuid(uuid, dev);
}

/* --------------------------------------------------------------- primary context */
FC_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
	CUresult r = fc_check_device(!pctx, dev);
	if (r)
		return r;
	pthread_mutex_lock(&ctx_mutex);
	primary_refs++;
	pthread_mutex_unlock(&ctx_mutex);
	*pctx = fc_primary_ctx();
	return CUDA_SUCCESS;
}

static CUresult primary_release(CUdevice dev)
{
	CUresult r = fc_check_device(false, dev);
	if (r)
		return r;
	pthread_mutex_lock(&ctx_mutex);
	r = primary_refs > 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
	if (primary_refs > 0)
		primary_refs--;
	pthread_mutex_unlock(&ctx_mutex);
	return r;
}

FC_EXPORT CUresult cuDevicePrimaryCtxRelease(CUdevice dev)
{
	return primary_release(dev);
}

FC_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
	return primary_release(dev);
}

FC_EXPORT CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active)
{
	CUresult r = fc_check_device(!flags || !active, dev);
	if (r)
		return r;
	pthread_mutex_lock(&ctx_mutex);
	*flags = primary.flags;
	*active = primary_refs > 0;
	pthread_mutex_unlock(&ctx_mutex);
	return CUDA_SUCCESS;
}

/* --------------------------------------------------------------- created contexts */
static CUresult ctx_create(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	CUresult r = fc_check_device(!pctx, dev);
	if (r)
		return r;
	if (ctx_depth >= CTX_STACK)
		return CUDA_ERROR_OUT_OF_MEMORY;
	struct fc_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return CUDA_ERROR_OUT_OF_MEMORY;
	c->magic = CTX_MAGIC;
	c->flags = flags;
	pthread_mutex_lock(&ctx_mutex);
	c->next = created;
	created = c;
	pthread_mutex_unlock(&ctx_mutex);
	ctx_stack[ctx_depth++] = (CUcontext)c;
	*pctx = (CUcontext)c;
	return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	return ctx_create(pctx, flags, dev);
}

FC_EXPORT CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *paramsArray, int numParams,
                                  unsigned int flags, CUdevice dev)
{
	return ctx_create(pctx, flags, dev);
}

FC_EXPORT CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *ctxCreateParams, unsigned int flags,
                                  CUdevice dev)
{
	return ctx_create(pctx, flags, dev);
}

FC_EXPORT CUresult cuCtxDestroy_v2(CUcontext ctx)
{
	struct fc_ctx **pp, *found = NULL;
	CUresult r = fc_check_init();
	if (r)
		return r;
	pthread_mutex_lock(&ctx_mutex);
	for (pp = &created; *pp; pp = &(*pp)->next) {
		if ((CUcontext)*pp == ctx) {
			found = *pp;
			*pp = found->next;
			break;
		}
	}
	pthread_mutex_unlock(&ctx_mutex);
	if (!found)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (ctx_depth && ctx_stack[ctx_depth - 1] == ctx)
		ctx_depth--;
	found->magic = 0;
	free(found);
	return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxSetCurrent(CUcontext ctx)
{
	CUresult r = fc_check_init();
	if (r)
		return r;
	if (!ctx) {
		if (ctx_depth)
			ctx_depth--;
		return CUDA_SUCCESS;
	}
	if (!fc_ctx_valid(ctx))
		return CUDA_ERROR_INVALID_CONTEXT;
	if (ctx_depth == 0)
		ctx_depth = 1;
	ctx_stack[ctx_depth - 1] = ctx;
	return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxGetCurrent(CUcontext *pctx)
{
	CUresult r = fc_check_init();
	if (r)
		return r;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	*pctx = fc_current_ctx();
	return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxPushCurrent_v2(CUcontext ctx)
{
	CUresult r = fc_check_init();
	if (r)
		return r;
	if (!fc_ctx_valid(ctx))
		return CUDA_ERROR_INVALID_CONTEXT;
	if (ctx_depth >= CTX_STACK)
		return CUDA_ERROR_OUT_OF_MEMORY;
	ctx_stack[ctx_depth++] = ctx;
	return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxPopCurrent_v2(CUcontext *pctx)
{
	CUresult r = fc_check_init();
	if (r)
		return r;
	if (!ctx_depth)
		return CUDA_ERROR_INVALID_CONTEXT;
	ctx_depth--;
	if (pctx)
		*pctx = ctx_stack[ctx_depth];
	return CUDA_SUCCESS;
}

static CUresult get_device_current(CUdevice *device)
{
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	if (!device)
		return CUDA_ERROR_INVALID_VALUE;
	*device = 0;
	return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxGetDevice(CUdevice *device)
{
	return get_device_current(device);
}

FC_EXPORT CUresult cuCtxGetDevice_v2(CUdevice *device, CUcontext ctx)
{
	if (!ctx)
		return get_device_current(device);
	CUresult r = fc_check_init();
	if (r)
		return r;
	if (!device)
		return CUDA_ERROR_INVALID_VALUE;
	if (!fc_ctx_valid(ctx))
		return CUDA_ERROR_INVALID_CONTEXT;
	*device = 0;
	return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned int *version)
{
	CUresult r = fc_check_init();
	if (r)
		return r;
	if (!version)
		return CUDA_ERROR_INVALID_VALUE;
	if (ctx && !fc_ctx_valid(ctx))
		return CUDA_ERROR_INVALID_CONTEXT;
	*version = 12010; /* what real drivers report for a current API context */
	return CUDA_SUCCESS;
}

/* Work executes immediately, so there is never anything to wait for. */
FC_EXPORT CUresult cuCtxSynchronize(void)
{
	return fc_check_ctx();
}

FC_EXPORT CUresult cuCtxSynchronize_v2(CUcontext ctx)
{
	if (!ctx)
		return fc_check_ctx();
	CUresult r = fc_check_init();
	if (r)
		return r;
	return fc_ctx_valid(ctx) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}
