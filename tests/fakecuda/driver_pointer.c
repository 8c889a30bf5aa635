/* driver_pointer.c — cuPointerGetAttribute(s): what the driver knows about an address
 * (device allocation, VMM mapping, pinned host memory, or nothing). Unknown pointers
 * are CUDA_ERROR_INVALID_VALUE for the single query and all-zero for the batch one,
 * as the real driver documents.
 */
#include "fakecuda.h"

#include <string.h>
#include <sys/mman.h>

/* What one address is, gathered under fc_lock. */
struct ptr_info {
	CUmemorytype type; /* 0 when unknown */
	uintptr_t base;    /* range start */
	size_t size;       /* range size */
	uint64_t id;       /* buffer id */
	CUcontext ctx;     /* context at allocation */
	int prot;          /* access */
	CUmemoryPool pool; /* pool it came from */
	bool vmm;          /* a cuMemMap mapping */
};

static void lookup(uintptr_t p, struct ptr_info *pi)
{
	uintptr_t hb;
	size_t hs;

	memset(pi, 0, sizeof(*pi));
	const struct fc_range *r = fc_vas_find(p);
	if (r && r->kind == FC_ALLOC && p < r->va + r->req) {
		*pi = (struct ptr_info){
			CU_MEMORYTYPE_DEVICE, r->va, r->req, r->id, r->ctx, r->prot, r->pool, false
		};
	} else if (r) {
		long i = fc_maps_index(p);
		if (i < 0)
			return;
		const struct fc_range *m = fc_maps_at((size_t)i);
		long a = i, b = i;
		while (a > 0 && fc_maps_at((size_t)a - 1)->id == m->id)
			a--;
		while ((size_t)b + 1 < fc_maps_count() && fc_maps_at((size_t)b + 1)->id == m->id)
			b++;
		uintptr_t base = fc_maps_at((size_t)a)->va;
		size_t size = fc_maps_at((size_t)b)->va + fc_maps_at((size_t)b)->size - base;
		*pi = (struct ptr_info){ CU_MEMORYTYPE_DEVICE,
			                 base,
			                 size,
			                 m->id,
			                 m->ctx ? m->ctx : fc_primary_ctx(),
			                 m->prot,
			                 NULL,
			                 true };
	} else if (fc_host_lookup(p, &hb, &hs)) {
		*pi = (struct ptr_info){ CU_MEMORYTYPE_HOST,     hb,   hs,   0, fc_primary_ctx(),
			                 PROT_READ | PROT_WRITE, NULL, false };
		pi->id = (uint64_t)hb;
	}
}

static unsigned access_flags(int prot)
{
	return prot & PROT_WRITE  ? CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE
	       : prot & PROT_READ ? CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READ
	                          : CU_POINTER_ATTRIBUTE_ACCESS_FLAG_NONE;
}

/* Fill one attribute for a known pointer. */
static CUresult fill(const struct ptr_info *pi, uintptr_t p, CUpointer_attribute a, void *data)
{
	switch (a) {
	case CU_POINTER_ATTRIBUTE_CONTEXT: *(CUcontext *)data = pi->ctx; break;
	case CU_POINTER_ATTRIBUTE_MEMORY_TYPE: *(unsigned *)data = pi->type; break;
	case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: *(CUdeviceptr *)data = p; break;
	case CU_POINTER_ATTRIBUTE_HOST_POINTER:
		if (pi->type != CU_MEMORYTYPE_HOST)
			return CUDA_ERROR_INVALID_VALUE;
		*(void **)data = (void *)p;
		break;
	case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS: *(int *)data = 1; break;
	case CU_POINTER_ATTRIBUTE_BUFFER_ID:
	case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID: *(unsigned long long *)data = pi->id; break;
	case CU_POINTER_ATTRIBUTE_IS_MANAGED:
	case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:
	case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE:
	case CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE: *(int *)data = 0; break;
	case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: *(int *)data = 0; break;
	case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
	case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR: *(CUdeviceptr *)data = pi->base; break;
	case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
	case CU_POINTER_ATTRIBUTE_MAPPING_SIZE: *(size_t *)data = pi->size; break;
	case CU_POINTER_ATTRIBUTE_MAPPED: *(int *)data = 1; break;
	case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES:
		*(unsigned long long *)data = pi->vmm ? CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR : 0;
		break;
	case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS: *(unsigned *)data = access_flags(pi->prot); break;
	case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE: *(CUmemoryPool *)data = pi->pool; break;
	default: return CUDA_ERROR_INVALID_VALUE;
	}
	return CUDA_SUCCESS;
}

/* Zero of the right width, for pointers the driver does not know. */
static void fill_unknown(CUpointer_attribute a, void *data)
{
	switch (a) {
	case CU_POINTER_ATTRIBUTE_CONTEXT:
	case CU_POINTER_ATTRIBUTE_HOST_POINTER:
	case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE: *(void **)data = NULL; break;
	case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
	case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
	case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR: *(CUdeviceptr *)data = 0; break;
	case CU_POINTER_ATTRIBUTE_BUFFER_ID:
	case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID:
	case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES: *(unsigned long long *)data = 0; break;
	case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
	case CU_POINTER_ATTRIBUTE_MAPPING_SIZE: *(size_t *)data = 0; break;
	case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: *(int *)data = -2; break;
	default: *(unsigned *)data = 0; break;
	}
}

FC_EXPORT CUresult cuPointerGetAttribute(void *data, CUpointer_attribute attribute, CUdeviceptr ptr)
{
	struct ptr_info pi;
	CUresult r = fc_check_init();
	if (r)
		return r;
	if (!data || !ptr)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_rwlock_rdlock(&fc_lock);
	lookup((uintptr_t)ptr, &pi);
	pthread_rwlock_unlock(&fc_lock);
	if (!pi.type)
		return CUDA_ERROR_INVALID_VALUE;
	return fill(&pi, (uintptr_t)ptr, attribute, data);
}

FC_EXPORT CUresult cuPointerGetAttributes(unsigned int numAttributes, CUpointer_attribute *attributes,
                                          void **data, CUdeviceptr ptr)
{
	struct ptr_info pi;
	CUresult r = fc_check_init();
	if (r)
		return r;
	if (!numAttributes || !attributes || !data)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_rwlock_rdlock(&fc_lock);
	lookup((uintptr_t)ptr, &pi);
	pthread_rwlock_unlock(&fc_lock);
	for (unsigned i = 0; i < numAttributes; i++) {
		if (!data[i])
			return CUDA_ERROR_INVALID_VALUE;
		if (!pi.type) {
			fill_unknown(attributes[i], data[i]);
			continue;
		}
		r = fill(&pi, (uintptr_t)ptr, attributes[i], data[i]);
		if (r == CUDA_ERROR_INVALID_VALUE && attributes[i] == CU_POINTER_ATTRIBUTE_HOST_POINTER) {
			*(void **)data[i] = NULL; /* a device pointer has no host address */
			r = CUDA_SUCCESS;
		}
		if (r)
			return r;
	}
	return CUDA_SUCCESS;
}
