/* fakecuda.h — internals shared by the files of the fake CUDA driver (driver_*.c).
 *
 * Host memory stands in for device memory: one large PROT_NONE reservation is the
 * device address space; allocations and VMM mappings are memfd pages mapped into it.
 * Everything here is private to libcuda.so.1; only cu* and fakecuda_* are exported.
 */
#ifndef FAKECUDA_H
#define FAKECUDA_H

/* Declare every versioned symbol (cuMemAlloc and cuMemAlloc_v2, the _ptds/_ptsz forms). */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FC_DRIVER_VERSION 13000
#define FC_GRANULARITY    (2ull << 20) /* VMM granularity, minimum and recommended (H200) */
#define FC_PAGE           4096ull
#define FC_ALLOC_ALIGN    512ull /* cuMemAlloc alignment a program may rely on */

#define FC_EXPORT __attribute__((visibility("default")))

/* ------------------------------------------------------------------ "driver_init.c" */
/* Calls made before cuInit, or in a child forked after the parent initialized. */
CUresult fc_check_init(void);
bool fc_initialized(void);
/* A call about device dev, in the real driver's order of checks: fc_check_init(),
 * then CUDA_ERROR_INVALID_VALUE when the caller's own argument check failed
 * (invalid_args), then CUDA_ERROR_INVALID_DEVICE for any device but 0. */
static inline CUresult fc_check_device(bool invalid_args, CUdevice dev)
{
	if (!fc_initialized())
		return CUDA_ERROR_NOT_INITIALIZED;
	if (invalid_args)
		return CUDA_ERROR_INVALID_VALUE;
	return dev == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

/* fc_check_init() plus a current context on this thread (CUDA_ERROR_INVALID_CONTEXT). */
CUresult fc_check_ctx(void);
unsigned long long fc_mem_limit(void);
CUcontext fc_primary_ctx(void);
bool fc_ctx_valid(CUcontext ctx);
CUcontext fc_current_ctx(void);

/* ----------------------------------------------------------------- "driver_space.c" */
/* One address range the fake hands out: a cuMemAlloc allocation, a VMM reservation,
 * or a VMM mapping inside a reservation. Kept in sorted arrays under fc_lock. */
enum fc_kind { FC_ALLOC, FC_RESERVE, FC_MAP };

struct fc_handle; /* a cuMemCreate allocation, see driver_vmm.c */

struct fc_range {
	uintptr_t va;        /* first byte */
	size_t size;         /* bytes of address space (mappings: mapped bytes) */
	size_t req;          /* FC_ALLOC: bytes asked for (the visible extent) */
	enum fc_kind kind;   /* what this range is */
	int prot;            /* FC_ALLOC: RW; FC_MAP: as set by cuMemSetAccess */
	struct fc_handle *h; /* FC_MAP: the physical allocation behind it */
	size_t off;          /* FC_MAP: offset into h */
	uint64_t id;         /* unique per allocation / per cuMemMap call (buffer id) */
	CUcontext ctx;       /* context current at allocation */
	CUmemoryPool pool;   /* FC_ALLOC from a pool: the pool handle, else NULL */
};

/* Writers (allocate, free, map, unmap, set access) take it for writing; copies and
 * queries take it for reading and hold it across the memmove, so no range can be
 * unmapped under a copy. */
extern pthread_rwlock_t fc_lock;

int fc_space_init(void);
bool fc_in_space(uintptr_t p);
/* Address space for a new range, aligned; hint honoured when free. 0 when full. */
uintptr_t fc_space_carve(size_t size, size_t align, uintptr_t hint);
/* Table operations, all under fc_lock held for writing. */
int fc_vas_insert(const struct fc_range *r);
void fc_vas_remove(uintptr_t va);
struct fc_range *fc_vas_find(uintptr_t p); /* alloc or reservation holding p */
int fc_maps_insert(const struct fc_range *r);
void fc_maps_remove_at(size_t i);
size_t fc_maps_count(void);
struct fc_range *fc_maps_at(size_t i);
/* Index of the mapping holding p, or -1. */
long fc_maps_index(uintptr_t p);
uint64_t fc_next_id(void);
/* Is [p, p+n) device memory this process may touch with prot (PROT_READ/WRITE)?
 * Caller holds fc_lock (either way). */
bool fc_accessible(uintptr_t p, size_t n, int prot);
/* Return an unmapped piece of the device space to the reserved PROT_NONE state. */
int fc_space_unback(uintptr_t va, size_t size);

/* --------------------------------------------------------------- "driver_memory.c" */
/* Physical accounting (callers hold fc_lock for writing). */
bool fc_phys_take(size_t bytes);
void fc_phys_give(size_t bytes);
/* A memfd of the given size mapped at va (MAP_SHARED|MAP_FIXED), prot. Returns the fd
 * (caller closes it or keeps it) or -errno. */
int fc_memfd_map(uintptr_t va, size_t size, int prot, const char *name);
/* Pinned host allocations (cuMemAllocHost); size of the one holding p, or 0. */
bool fc_host_lookup(uintptr_t p, uintptr_t *base, size_t *size);

/* Counters reported by FAKECUDA_STATS and fakecuda_mem_stats (under fc_lock). */
struct fc_stats {
	unsigned long long used;    /* bytes of live allocations + live cuMemCreate handles */
	unsigned long long peak;    /* highest used */
	unsigned long long allocs;  /* successful cuMemAlloc-family calls */
	unsigned long long creates; /* successful cuMemCreate calls */
	unsigned long long maps;    /* successful cuMemMap calls */
};
extern struct fc_stats fc_stats;

/* ------------------------------------------------------------------ "driver_vmm.c" */
void fc_handle_unref(struct fc_handle *h);
int fc_handle_fd(const struct fc_handle *h);

/* --------------------------------------------------------------- "driver_stream.c" */
/* NULL, CU_STREAM_LEGACY, CU_STREAM_PER_THREAD or a live stream. */
bool fc_stream_valid(CUstream s);

/* ---------------------------------------------------------------- "driver_array.c" */
/* A live array's bytes: base (host memory), bytes per row, rows, bytes per element. */
bool fc_array_bytes(CUarray a, uintptr_t *base, size_t *pitch, size_t *height, size_t *elem);

/* --------------------------------------------------------------- "driver_errors.c" */
const char *fc_error_name(CUresult r);
const char *fc_error_string(CUresult r);

#endif /* FAKECUDA_H */
