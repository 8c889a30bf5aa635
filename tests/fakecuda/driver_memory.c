/* driver_memory.c — cuMemAlloc and friends (plain, async, from a pool), pinned host
 * memory, cuMemGetInfo / cuMemGetAddressRange and the physical-memory accounting
 * that FAKECUDA_MEM_LIMIT caps.
 *
 * An allocation is a memfd mapped MAP_SHARED|MAP_FIXED into the device space; the fd
 * is closed at once (the mapping keeps the pages). Freeing maps PROT_NONE back over it.
 */
#include "fakecuda.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

struct fc_stats fc_stats;

/* Pinned host allocations: plain anonymous mappings, listed for cuMemFreeHost and
 * cuPointerGetAttribute. Guarded by fc_lock. */
struct host_alloc {
	uintptr_t base;
	size_t size;
};
static struct host_alloc *hosts;
static size_t nhosts, caphosts;

/* The default pool is a token: pools are accepted, not modelled. */
static int default_pool_token;

bool fc_phys_take(size_t bytes)
{
	if (bytes > fc_mem_limit() - fc_stats.used)
		return false;
	fc_stats.used += bytes;
	if (fc_stats.used > fc_stats.peak)
		fc_stats.peak = fc_stats.used;
	return true;
}

void fc_phys_give(size_t bytes)
{
	fc_stats.used -= bytes;
}

int fc_memfd_map(uintptr_t va, size_t size, int prot, const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) ||
	    mmap((void *)va, size, prot, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

/* Every allocating entry point ends here. Stream and pool were checked by the caller. */
static CUresult mem_alloc(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool)
{
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	if (!dptr || bytesize == 0)
		return CUDA_ERROR_INVALID_VALUE;
	size_t size = round_up(bytesize, FC_PAGE);
	size_t align = bytesize >= FC_GRANULARITY ? FC_GRANULARITY : FC_PAGE;
	if (size < bytesize)
		return CUDA_ERROR_OUT_OF_MEMORY;

	pthread_rwlock_wrlock(&fc_lock);
	r = CUDA_ERROR_OUT_OF_MEMORY;
	if (!fc_phys_take(bytesize))
		goto out_unlock;
	uintptr_t va = fc_space_carve(size, align, 0);
	if (!va)
		goto out_give;
	int fd = fc_memfd_map(va, size, PROT_READ | PROT_WRITE, "fakecuda-alloc");
	if (fd < 0)
		goto out_give;
	close(fd);
	struct fc_range rg = { .va = va,
		               .size = size,
		               .req = bytesize,
		               .kind = FC_ALLOC,
		               .prot = PROT_READ | PROT_WRITE,
		               .id = fc_next_id(),
		               .ctx = fc_current_ctx(),
		               .pool = pool };
	if (fc_vas_insert(&rg))
		goto out_unback;
	fc_stats.allocs++;
	*dptr = (CUdeviceptr)va;
	r = CUDA_SUCCESS;
	goto out_unlock;
out_unback:
	fc_space_unback(va, size);
out_give:
	fc_phys_give(bytesize);
out_unlock:
	pthread_rwlock_unlock(&fc_lock);
	return r;
}

static CUresult mem_free(CUdeviceptr dptr)
{
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	pthread_rwlock_wrlock(&fc_lock);
	struct fc_range *rg = fc_vas_find((uintptr_t)dptr);
	if (!rg || rg->kind != FC_ALLOC || rg->va != (uintptr_t)dptr) {
		r = CUDA_ERROR_INVALID_VALUE;
	} else {
		fc_space_unback(rg->va, rg->size);
		fc_phys_give(rg->req);
		fc_vas_remove(rg->va);
	}
	pthread_rwlock_unlock(&fc_lock);
	return r;
}

FC_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
	return mem_alloc(dptr, bytesize, NULL);
}

FC_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr)
{
	return mem_free(dptr);
}

static CUresult alloc_async(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool, CUstream s)
{
	if (!fc_stream_valid(s))
		return fc_initialized() ? CUDA_ERROR_INVALID_HANDLE : CUDA_ERROR_NOT_INITIALIZED;
	return mem_alloc(dptr, bytesize, pool);
}

static CUresult free_async(CUdeviceptr dptr, CUstream s)
{
	if (!fc_stream_valid(s))
		return fc_initialized() ? CUDA_ERROR_INVALID_HANDLE : CUDA_ERROR_NOT_INITIALIZED;
	return mem_free(dptr);
}

FC_EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
	return alloc_async(dptr, bytesize, (CUmemoryPool)&default_pool_token, hStream);
}

FC_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
	return alloc_async(dptr, bytesize, (CUmemoryPool)&default_pool_token, hStream);
}

FC_EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
	return free_async(dptr, hStream);
}

FC_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream)
{
	return free_async(dptr, hStream);
}

FC_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                           CUstream hStream)
{
	if (!pool)
		return CUDA_ERROR_INVALID_VALUE;
	return alloc_async(dptr, bytesize, pool, hStream);
}

FC_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                                CUstream hStream)
{
	if (!pool)
		return CUDA_ERROR_INVALID_VALUE;
	return alloc_async(dptr, bytesize, pool, hStream);
}

static CUresult get_pool(CUmemoryPool *pool, CUdevice dev)
{
	CUresult r = fc_check_device(!pool, dev);
	if (r)
		return r;
	*pool = (CUmemoryPool)&default_pool_token;
	return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool_out, CUdevice dev)
{
	return get_pool(pool_out, dev);
}

FC_EXPORT CUresult cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice dev)
{
	return get_pool(pool, dev);
}

FC_EXPORT CUresult cuMemGetInfo_v2(size_t *free, size_t *total)
{
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	if (!free || !total)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_rwlock_rdlock(&fc_lock);
	*total = (size_t)fc_mem_limit();
	*free = (size_t)(fc_mem_limit() - fc_stats.used);
	pthread_rwlock_unlock(&fc_lock);
	return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------- host memory */
static CUresult host_alloc(void **pp, size_t bytesize)
{
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	if (!pp || bytesize == 0)
		return CUDA_ERROR_INVALID_VALUE;
	size_t size = round_up(bytesize, FC_PAGE);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return CUDA_ERROR_OUT_OF_MEMORY;
	pthread_rwlock_wrlock(&fc_lock);
	if (nhosts == caphosts) {
		size_t cap = caphosts ? caphosts * 2 : 32;
		struct host_alloc *v = realloc(hosts, cap * sizeof(*v));
		if (!v) {
			pthread_rwlock_unlock(&fc_lock);
			munmap(p, size);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		hosts = v;
		caphosts = cap;
	}
	hosts[nhosts++] = (struct host_alloc){ (uintptr_t)p, bytesize };
	pthread_rwlock_unlock(&fc_lock);
	*pp = p;
	return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuMemAllocHost_v2(void **pp, size_t bytesize)
{
	return host_alloc(pp, bytesize);
}

FC_EXPORT CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags)
{
	if (Flags &
	    ~(unsigned)(CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED))
		return fc_initialized() ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_INITIALIZED;
	return host_alloc(pp, bytesize);
}

FC_EXPORT CUresult cuMemFreeHost(void *p)
{
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	r = CUDA_ERROR_INVALID_VALUE;
	pthread_rwlock_wrlock(&fc_lock);
	for (size_t i = 0; i < nhosts; i++) {
		if (hosts[i].base != (uintptr_t)p)
			continue;
		munmap(p, round_up(hosts[i].size, FC_PAGE));
		hosts[i] = hosts[--nhosts];
		r = CUDA_SUCCESS;
		break;
	}
	pthread_rwlock_unlock(&fc_lock);
	return r;
}

/* Caller holds fc_lock. */
bool fc_host_lookup(uintptr_t p, uintptr_t *base, size_t *size)
{
	for (size_t i = 0; i < nhosts; i++) {
		if (p >= hosts[i].base && p < hosts[i].base + hosts[i].size) {
			*base = hosts[i].base;
			*size = hosts[i].size;
			return true;
		}
	}
	return false;
}

/* ---------------------------------------------------------------- address ranges */
FC_EXPORT CUresult cuMemGetAddressRange_v2(CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr)
{
	uintptr_t base = 0;
	size_t size = 0;
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	pthread_rwlock_rdlock(&fc_lock);
	r = CUDA_ERROR_NOT_FOUND;
	const struct fc_range *rg = fc_vas_find((uintptr_t)dptr);
	if (rg && rg->kind == FC_ALLOC && (uintptr_t)dptr < rg->va + rg->req) {
		base = rg->va;
		size = rg->req;
		r = CUDA_SUCCESS;
	} else if (rg) {
		long i = fc_maps_index((uintptr_t)dptr), j = i;
		if (i >= 0) {
			uint64_t id = fc_maps_at((size_t)i)->id;
			while (i > 0 && fc_maps_at((size_t)i - 1)->id == id)
				i--;
			while ((size_t)j + 1 < fc_maps_count() && fc_maps_at((size_t)j + 1)->id == id)
				j++;
			base = fc_maps_at((size_t)i)->va;
			size = fc_maps_at((size_t)j)->va + fc_maps_at((size_t)j)->size - base;
			r = CUDA_SUCCESS;
		}
	}
	pthread_rwlock_unlock(&fc_lock);
	if (r == CUDA_SUCCESS) {
		if (pbase)
			*pbase = (CUdeviceptr)base;
		if (psize)
			*psize = size;
	}
	return r;
}
