/* driver_vmm.c — the virtual memory management API as on a GPU: address reservations,
 * physical allocations (cuMemCreate: one memfd each), mappings of them at any granule
 * of a reservation (the same handle at many addresses aliases its pages), access set
 * per range (mprotect), unmapping back to PROT_NONE.
 *
 * A handle lives while the program holds a reference (cuMemCreate, each
 * cuMemRetainAllocationHandle) or any mapping uses it; its physical bytes count
 * against FAKECUDA_MEM_LIMIT from cuMemCreate until it dies.
 */
#include "fakecuda.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

struct fc_handle {
	int fd;                   /* the memfd holding the pages */
	size_t size;              /* bytes, a multiple of the granularity */
	unsigned user_refs;       /* cuMemCreate + cuMemRetainAllocationHandle - cuMemRelease */
	unsigned map_refs;        /* mapping records using it */
	CUmemAllocationProp prop; /* as created */
	struct fc_handle *next;   /* list of live handles */
};

static struct fc_handle *handles; /* guarded by fc_lock */

static struct fc_handle *find_handle(CUmemGenericAllocationHandle hv)
{
	for (struct fc_handle *h = handles; h; h = h->next)
		if ((CUmemGenericAllocationHandle)(uintptr_t)h == hv)
			return h;
	return NULL;
}

int fc_handle_fd(const struct fc_handle *h)
{
	return h->fd;
}

/* Caller holds fc_lock for writing. */
static void handle_maybe_free(struct fc_handle *h)
{
	if (h->user_refs || h->map_refs)
		return;
	for (struct fc_handle **pp = &handles; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	}
	close(h->fd);
	fc_phys_give(h->size);
	free(h);
}

void fc_handle_unref(struct fc_handle *h)
{
	h->map_refs--;
	handle_maybe_free(h);
}

static bool aligned(unsigned long long v)
{
	return v % FC_GRANULARITY == 0;
}

static CUresult check_prop(const CUmemAllocationProp *prop)
{
	if (!prop || prop->type != CU_MEM_ALLOCATION_TYPE_PINNED ||
	    prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	if (prop->location.id != 0)
		return CUDA_ERROR_INVALID_DEVICE;
	if (prop->requestedHandleTypes & ~(CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR))
		return CUDA_ERROR_NOT_SUPPORTED;
	return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop,
                                                 CUmemAllocationGranularity_flags option)
{
	CUresult r = fc_check_init();
	if (r)
		return r;
	if (!granularity ||
	    (option != CU_MEM_ALLOC_GRANULARITY_MINIMUM && option != CU_MEM_ALLOC_GRANULARITY_RECOMMENDED))
		return CUDA_ERROR_INVALID_VALUE;
	r = check_prop(prop);
	if (r)
		return r;
	*granularity = FC_GRANULARITY;
	return CUDA_SUCCESS;
}

/* ----------------------------------------------------------------- reservations */
FC_EXPORT CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment, CUdeviceptr addr,
                                       unsigned long long flags)
{
	CUresult r = fc_check_init();
	if (r)
		return r;
	if (!ptr || size == 0 || !aligned(size) || flags != 0 || (alignment & (alignment - 1)) != 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (alignment < FC_GRANULARITY)
		alignment = FC_GRANULARITY;
	pthread_rwlock_wrlock(&fc_lock);
	uintptr_t va = fc_space_carve(size, alignment, (uintptr_t)addr);
	struct fc_range rg = { .va = va, .size = size, .kind = FC_RESERVE, .id = fc_next_id() };
	if (!va || fc_vas_insert(&rg)) {
		r = CUDA_ERROR_OUT_OF_MEMORY;
	} else {
		*ptr = (CUdeviceptr)va;
	}
	pthread_rwlock_unlock(&fc_lock);
	return r;
}

/* Mappings still inside are dropped with it (their handles lose those references). */
FC_EXPORT CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
	CUresult r = fc_check_init();
	if (r)
		return r;
	pthread_rwlock_wrlock(&fc_lock);
	struct fc_range *rg = fc_vas_find((uintptr_t)ptr);
	if (!rg || rg->kind != FC_RESERVE || rg->va != (uintptr_t)ptr || rg->size != size) {
		r = CUDA_ERROR_INVALID_VALUE;
		goto out_unlock;
	}
	long i = fc_maps_index((uintptr_t)ptr);
	if (i < 0) {
		/* the first mapping may start after ptr */
		for (i = 0; (size_t)i < fc_maps_count() && fc_maps_at((size_t)i)->va < ptr; i++)
			;
	}
	while ((size_t)i < fc_maps_count() && fc_maps_at((size_t)i)->va < ptr + size) {
		fc_handle_unref(fc_maps_at((size_t)i)->h);
		fc_maps_remove_at((size_t)i);
	}
	fc_space_unback((uintptr_t)ptr, size);
	fc_vas_remove((uintptr_t)ptr);
out_unlock:
	pthread_rwlock_unlock(&fc_lock);
	return r;
}

/* ------------------------------------------------------------ physical handles */
FC_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                               const CUmemAllocationProp *prop, unsigned long long flags)
{
	CUresult r = fc_check_init();
	if (r)
		return r;
	if (!handle || size == 0 || !aligned(size) || flags != 0)
		return CUDA_ERROR_INVALID_VALUE;
	r = check_prop(prop);
	if (r)
		return r;
	struct fc_handle *h = calloc(1, sizeof(*h));
	if (!h)
		return CUDA_ERROR_OUT_OF_MEMORY;
	h->fd = memfd_create("fakecuda-vmm", MFD_CLOEXEC);
	if (h->fd < 0 || ftruncate(h->fd, (off_t)size)) {
		r = CUDA_ERROR_OUT_OF_MEMORY;
		goto out_free;
	}
	h->size = size;
	h->user_refs = 1;
	h->prop = *prop;
	pthread_rwlock_wrlock(&fc_lock);
	if (!fc_phys_take(size)) {
		pthread_rwlock_unlock(&fc_lock);
		r = CUDA_ERROR_OUT_OF_MEMORY;
		goto out_free;
	}
	h->next = handles;
	handles = h;
	fc_stats.creates++;
	pthread_rwlock_unlock(&fc_lock);
	*handle = (CUmemGenericAllocationHandle)(uintptr_t)h;
	return CUDA_SUCCESS;
out_free:
	if (h->fd >= 0)
		close(h->fd);
	free(h);
	return r;
}

FC_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
	CUresult r = fc_check_init();
	if (r)
		return r;
	pthread_rwlock_wrlock(&fc_lock);
	struct fc_handle *h = find_handle(handle);
	if (!h || h->user_refs == 0) {
		r = CUDA_ERROR_INVALID_VALUE;
	} else {
		h->user_refs--;
		handle_maybe_free(h);
	}
	pthread_rwlock_unlock(&fc_lock);
	return r;
}

FC_EXPORT CUresult cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp *prop,
                                                          CUmemGenericAllocationHandle handle)
{
	CUresult r = fc_check_init();
	if (r)
		return r;
	if (!prop)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_rwlock_rdlock(&fc_lock);
	struct fc_handle *h = find_handle(handle);
	if (h)
		*prop = h->prop;
	else
		r = CUDA_ERROR_INVALID_VALUE;
	pthread_rwlock_unlock(&fc_lock);
	return r;
}

FC_EXPORT CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr)
{
	CUresult r = fc_check_init();
	if (r)
		return r;
	if (!handle)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_rwlock_wrlock(&fc_lock);
	long i = fc_maps_index((uintptr_t)addr);
	if (i < 0) {
		r = CUDA_ERROR_INVALID_VALUE;
	} else {
		struct fc_handle *h = fc_maps_at((size_t)i)->h;
		h->user_refs++;
		*handle = (CUmemGenericAllocationHandle)(uintptr_t)h;
	}
	pthread_rwlock_unlock(&fc_lock);
	return r;
}

/* ---------------------------------------------------------------------- mappings */
FC_EXPORT CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                            unsigned long long flags)
{
	CUresult r = fc_check_init();
	if (r)
		return r;
	if (flags != 0 || size == 0 || !aligned(ptr) || !aligned(size) || !aligned(offset))
		return CUDA_ERROR_INVALID_VALUE;
	pthread_rwlock_wrlock(&fc_lock);
	r = CUDA_ERROR_INVALID_VALUE;
	struct fc_handle *h = find_handle(handle);
	if (!h || h->user_refs == 0 || offset > h->size || size > h->size - offset)
		goto out_unlock;
	const struct fc_range *rs = fc_vas_find((uintptr_t)ptr);
	if (!rs || rs->kind != FC_RESERVE || size > rs->va + rs->size - (uintptr_t)ptr)
		goto out_unlock;
	long i = fc_maps_index((uintptr_t)ptr);
	if (i >= 0)
		goto out_unlock; /* already mapped */
	for (size_t k = 0; k < fc_maps_count(); k++) {
		const struct fc_range *m = fc_maps_at(k);
		if (m->va < ptr + size && m->va + m->size > ptr)
			goto out_unlock;
	}
	if (mmap((void *)(uintptr_t)ptr, size, PROT_NONE, MAP_SHARED | MAP_FIXED, h->fd, (off_t)offset) ==
	    MAP_FAILED) {
		r = CUDA_ERROR_OUT_OF_MEMORY;
		goto out_unlock;
	}
	struct fc_range m = { .va = (uintptr_t)ptr,
		              .size = size,
		              .kind = FC_MAP,
		              .prot = PROT_NONE,
		              .h = h,
		              .off = offset,
		              .id = fc_next_id(),
		              .ctx = fc_current_ctx() };
	if (fc_maps_insert(&m)) {
		fc_space_unback((uintptr_t)ptr, size);
		r = CUDA_ERROR_OUT_OF_MEMORY;
		goto out_unlock;
	}
	h->map_refs++;
	fc_stats.maps++;
	r = CUDA_SUCCESS;
out_unlock:
	pthread_rwlock_unlock(&fc_lock);
	return r;
}

/* First and one-past-last mapping records covering [p, p+n) with no gap, or false. */
static bool covered(uintptr_t p, size_t n, size_t *first, size_t *last)
{
	long i = fc_maps_index(p);
	if (i < 0)
		return false;
	*first = (size_t)i;
	for (uintptr_t cur = p; (size_t)i < fc_maps_count(); i++) {
		const struct fc_range *m = fc_maps_at((size_t)i);
		if (m->va != cur && (size_t)i != *first)
			return false;
		cur = m->va + m->size;
		if (cur >= p + n) {
			*last = (size_t)i + 1;
			return true;
		}
	}
	return false;
}

/* Only whole mappings come off, as the real driver demands. */
FC_EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
	size_t first, last;
	CUresult r = fc_check_init();
	if (r)
		return r;
	if (size == 0 || !aligned(ptr) || !aligned(size))
		return CUDA_ERROR_INVALID_VALUE;
	pthread_rwlock_wrlock(&fc_lock);
	r = CUDA_ERROR_INVALID_VALUE;
	if (!covered((uintptr_t)ptr, size, &first, &last))
		goto out_unlock;
	const struct fc_range *a = fc_maps_at(first), *b = fc_maps_at(last - 1);
	if (a->va != ptr || b->va + b->size != ptr + size)
		goto out_unlock;
	if (first > 0 && fc_maps_at(first - 1)->id == a->id)
		goto out_unlock;
	if (last < fc_maps_count() && fc_maps_at(last)->id == b->id)
		goto out_unlock;
	for (size_t k = first; k < last; k++)
		fc_handle_unref(fc_maps_at(k)->h);
	for (size_t k = first; k < last; k++)
		fc_maps_remove_at(first);
	fc_space_unback((uintptr_t)ptr, size);
	r = CUDA_SUCCESS;
out_unlock:
	pthread_rwlock_unlock(&fc_lock);
	return r;
}

/* Split the record holding p so that a record starts at p (p inside a mapping). */
static int split_at(uintptr_t p)
{
	long i = fc_maps_index(p);
	if (i < 0 || fc_maps_at((size_t)i)->va == p)
		return 0;
	struct fc_range tail = *fc_maps_at((size_t)i);
	size_t head = p - tail.va;
	tail.va = p;
	tail.size -= head;
	tail.off += head;
	if (fc_maps_insert(&tail))
		return -ENOMEM;
	/* insert() may have moved the table: look the head up again */
	fc_maps_at((size_t)fc_maps_index(p - 1))->size = head;
	tail.h->map_refs++;
	return 0;
}

static int access_prot(CUmemAccess_flags f)
{
	switch (f) {
	case CU_MEM_ACCESS_FLAGS_PROT_NONE: return PROT_NONE;
	case CU_MEM_ACCESS_FLAGS_PROT_READ: return PROT_READ;
	case CU_MEM_ACCESS_FLAGS_PROT_READWRITE: return PROT_READ | PROT_WRITE;
	default: return -1;
	}
}

FC_EXPORT CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc, size_t count)
{
	size_t first, last;
	int prot = PROT_NONE;
	CUresult r = fc_check_init();
	if (r)
		return r;
	if (!desc || count == 0 || size == 0 || !aligned(ptr) || !aligned(size))
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t k = 0; k < count; k++) {
		if (desc[k].location.type != CU_MEM_LOCATION_TYPE_DEVICE)
			return CUDA_ERROR_INVALID_VALUE;
		if (desc[k].location.id != 0)
			return CUDA_ERROR_INVALID_DEVICE;
		prot = access_prot(desc[k].flags);
		if (prot < 0)
			return CUDA_ERROR_INVALID_VALUE;
	}
	pthread_rwlock_wrlock(&fc_lock);
	r = CUDA_ERROR_INVALID_VALUE;
	if (!covered((uintptr_t)ptr, size, &first, &last))
		goto out_unlock;
	if (split_at((uintptr_t)ptr) || split_at((uintptr_t)(ptr + size))) {
		r = CUDA_ERROR_OUT_OF_MEMORY;
		goto out_unlock;
	}
	if (mprotect((void *)(uintptr_t)ptr, size, prot)) {
		r = CUDA_ERROR_INVALID_VALUE;
		goto out_unlock;
	}
	for (long i = fc_maps_index((uintptr_t)ptr);
	     i >= 0 && (size_t)i < fc_maps_count() && fc_maps_at((size_t)i)->va < ptr + size; i++)
		fc_maps_at((size_t)i)->prot = prot;
	r = CUDA_SUCCESS;
out_unlock:
	pthread_rwlock_unlock(&fc_lock);
	return r;
}

FC_EXPORT CUresult cuMemGetAccess(unsigned long long *flags, const CUmemLocation *location, CUdeviceptr ptr)
{
	CUresult r = fc_check_init();
	if (r)
		return r;
	if (!flags || !location || location->type != CU_MEM_LOCATION_TYPE_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	if (location->id != 0)
		return CUDA_ERROR_INVALID_DEVICE;
	pthread_rwlock_rdlock(&fc_lock);
	long i = fc_maps_index((uintptr_t)ptr);
	if (i < 0) {
		r = CUDA_ERROR_INVALID_VALUE;
	} else {
		int prot = fc_maps_at((size_t)i)->prot;
		*flags = prot & PROT_WRITE  ? CU_MEM_ACCESS_FLAGS_PROT_READWRITE
		         : prot & PROT_READ ? CU_MEM_ACCESS_FLAGS_PROT_READ
		                            : CU_MEM_ACCESS_FLAGS_PROT_NONE;
	}
	pthread_rwlock_unlock(&fc_lock);
	return r;
}
