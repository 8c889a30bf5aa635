/* test_fakecuda.c — the fake CUDA driver and runtime (tests/fakecuda) behave as the
 * real ones do where the shim's tests rely on them: memory, VMM aliasing, the memory
 * cap, cuGetProcAddress versions and flags, errors, the runtime's route to the driver,
 * the static runtime, threads. The libraries are dlopened from the build directory
 * ($METASHIM_TEST_BUILD, else found from this binary's path); every test runs in its own
 * process, so each starts with a fresh driver.
 */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <cuda_runtime_api.h>

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Exported by the fake (and the real) driver; cuda.h declares it only inline. */
CUresult cuGetProcAddress_v2_ptsz(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                                  CUdriverProcAddressQueryResult *symbolStatus);

#define MiB  (1ull << 20)
#define GRAN (2 * MiB)

static char build_dir[PATH_MAX];
static void *drv, *rt;

static const char *build(void)
{
	if (build_dir[0])
		return build_dir;
	const char *env = getenv("METASHIM_TEST_BUILD");
	if (env && *env) {
		snprintf(build_dir, sizeof(build_dir), "%s", env);
	} else {
		/* <build>/tests/unit/test_fakecuda */
		ssize_t n = readlink("/proc/self/exe", build_dir, sizeof(build_dir) - 1);
		cr_assert(n > 0);
		build_dir[n] = '\0';
		for (int i = 0; i < 3; i++)
			*strrchr(build_dir, '/') = '\0';
	}
	return build_dir;
}

static char *path_of(const char *name)
{
	static char p[PATH_MAX + 64];
	snprintf(p, sizeof(p), "%s/fakecuda/%s", build(), name);
	return p;
}

/* libc's dlsym, fetched by version: naming dlsym here would link in the shim's dlsym
 * override from libmetashim_core.a (which every unit test links), and this test is
 * about the fakes alone. */
static void *libc_dlsym(void *h, const char *name)
{
	static void *(*real)(void *, const char *);
	if (!real)
		real = (void *(*)(void *, const char *))dlvsym(RTLD_DEFAULT, "dlsym", "GLIBC_2.34");
	if (!real)
		real = (void *(*)(void *, const char *))dlvsym(RTLD_DEFAULT, "dlsym", "GLIBC_2.2.5");
	cr_assert_not_null(real, "no dlsym in libc");
	return real(h, name);
}

static void *need(void *h, const char *name)
{
	void *p = libc_dlsym(h, name);
	cr_assert_not_null(p, "%s missing: %s", name, dlerror());
	return p;
}

/* F(cuMemAlloc_v2)(...) calls the fake driver's symbol of that name. */
#define F(name) ((__typeof__(name) *)need(drv, #name))
#define R(name) ((__typeof__(name) *)need(rt, #name))

static void open_driver(void)
{
	drv = dlopen(path_of("libcuda.so.1"), RTLD_NOW);
	cr_assert_not_null(drv, "dlopen libcuda.so.1: %s", dlerror());
}

static void start_driver(void)
{
	CUcontext ctx;
	open_driver();
	cr_assert_eq(F(cuInit)(0), CUDA_SUCCESS);
	cr_assert_eq(F(cuDevicePrimaryCtxRetain)(&ctx, 0), CUDA_SUCCESS);
	cr_assert_eq(F(cuCtxSetCurrent)(ctx), CUDA_SUCCESS);
}

static void start_runtime(void)
{
	open_driver();
	rt = dlopen(path_of("libcudart.so.13"), RTLD_NOW);
	cr_assert_not_null(rt, "dlopen libcudart.so.13: %s", dlerror());
}

static CUmemAllocationProp device_prop(void)
{
	CUmemAllocationProp prop = { 0 };
	prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
	prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	prop.location.id = 0;
	return prop;
}

static void set_rw(CUdeviceptr p, size_t n)
{
	CUmemAccessDesc d = { .location = { CU_MEM_LOCATION_TYPE_DEVICE, 0 },
		              .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE };
	cr_assert_eq(F(cuMemSetAccess)(p, n, &d, 1), CUDA_SUCCESS);
}

/* Output of a shell command, first line. */
static void run_cmd(const char *cmd, char *out, size_t cap)
{
	FILE *f = popen(cmd, "r");
	cr_assert_not_null(f);
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	pclose(f);
}

/* ----------------------------------------------------------------------- driver */
Test(fakecuda_driver, calls_before_cuInit_are_not_initialized)
{
	CUdeviceptr p;
	int n;
	void *fn;
	open_driver();
	cr_expect_eq(F(cuMemAlloc_v2)(&p, 64), CUDA_ERROR_NOT_INITIALIZED);
	cr_expect_eq(F(cuDeviceGetCount)(&n), CUDA_ERROR_NOT_INITIALIZED);
	cr_expect_eq(F(cuGetProcAddress_v2)("cuInit", &fn, 2000, 0, NULL), CUDA_SUCCESS);
	cr_expect_eq(F(cuDriverGetVersion)(&n), CUDA_SUCCESS);
	cr_expect_eq(n, 13000);
}

Test(fakecuda_driver, allocations_need_a_current_context)
{
	CUdeviceptr p;
	open_driver();
	cr_assert_eq(F(cuInit)(0), CUDA_SUCCESS);
	cr_expect_eq(F(cuMemAlloc_v2)(&p, 64), CUDA_ERROR_INVALID_CONTEXT);
}

Test(fakecuda_driver, bytes_round_trip_through_device_memory)
{
	unsigned char in[10000], out[10000];
	CUdeviceptr a, b;
	start_driver();
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 31 + 7);
	cr_assert_eq(F(cuMemAlloc_v2)(&a, sizeof(in)), CUDA_SUCCESS);
	cr_assert_eq(F(cuMemAlloc_v2)(&b, sizeof(in)), CUDA_SUCCESS);
	cr_expect_eq(a % 512, 0);
	cr_assert_eq(F(cuMemcpyHtoD_v2)(a, in, sizeof(in)), CUDA_SUCCESS);
	cr_assert_eq(F(cuMemcpyDtoDAsync_v2)(b, a, sizeof(in), NULL), CUDA_SUCCESS);
	memset(out, 0, sizeof(out));
	cr_assert_eq(F(cuMemcpyDtoH_v2)(out, b, sizeof(out)), CUDA_SUCCESS);
	cr_expect_eq(memcmp(in, out, sizeof(in)), 0);
	/* unified addressing: cuMemcpy finds the direction from the addresses */
	memset(out, 0, sizeof(out));
	cr_assert_eq(F(cuMemcpy)((CUdeviceptr)(uintptr_t)out, a, sizeof(out)), CUDA_SUCCESS);
	cr_expect_eq(memcmp(in, out, sizeof(in)), 0);
	cr_expect_eq(F(cuMemFree_v2)(a), CUDA_SUCCESS);
	cr_expect_eq(F(cuMemFree_v2)(b), CUDA_SUCCESS);
}

Test(fakecuda_driver, memsets_and_2d_copies_write_what_they_say)
{
	uint32_t words[64];
	unsigned char host[4 * 16], back[4 * 16];
	CUdeviceptr d;
	start_driver();
	cr_assert_eq(F(cuMemAlloc_v2)(&d, 4096), CUDA_SUCCESS);
	cr_assert_eq(F(cuMemsetD32_v2)(d, 0xdeadbeef, 64), CUDA_SUCCESS);
	cr_assert_eq(F(cuMemcpyDtoH_v2)(words, d, sizeof(words)), CUDA_SUCCESS);
	for (int i = 0; i < 64; i++)
		cr_expect_eq(words[i], 0xdeadbeef);
	cr_expect_eq(F(cuMemsetD32_v2)(d + 2, 1, 4), CUDA_ERROR_INVALID_VALUE, "misaligned D32");
	/* 4 rows of 16 bytes into a pitch of 64 */
	for (size_t i = 0; i < sizeof(host); i++)
		host[i] = (unsigned char)i;
	CUDA_MEMCPY2D c = { .srcMemoryType = CU_MEMORYTYPE_HOST,
		            .srcHost = host,
		            .srcPitch = 16,
		            .dstMemoryType = CU_MEMORYTYPE_DEVICE,
		            .dstDevice = d,
		            .dstPitch = 64,
		            .WidthInBytes = 16,
		            .Height = 4 };
	cr_assert_eq(F(cuMemsetD8_v2)(d, 0, 4096), CUDA_SUCCESS);
	cr_assert_eq(F(cuMemcpy2D_v2)(&c), CUDA_SUCCESS);
	for (int row = 0; row < 4; row++) {
		cr_assert_eq(F(cuMemcpyDtoH_v2)(back + row * 16, d + (CUdeviceptr)row * 64, 16),
		             CUDA_SUCCESS);
	}
	cr_expect_eq(memcmp(host, back, sizeof(host)), 0);
}

Test(fakecuda_driver, allocations_past_the_cap_are_out_of_memory)
{
	CUdeviceptr a, b;
	size_t free_b, total;
	unsigned long long used, peak;
	setenv("FAKECUDA_MEM_LIMIT", "8M", 1);
	start_driver();
	int (*stats)(unsigned long long *, unsigned long long *) = need(drv, "fakecuda_mem_stats");
	cr_assert_eq(F(cuMemAlloc_v2)(&a, 5 * MiB), CUDA_SUCCESS);
	cr_expect_eq(F(cuMemAlloc_v2)(&b, 4 * MiB), CUDA_ERROR_OUT_OF_MEMORY);
	cr_assert_eq(F(cuMemGetInfo_v2)(&free_b, &total), CUDA_SUCCESS);
	cr_expect_eq(total, 8 * MiB);
	cr_expect_eq(free_b, 3 * MiB);
	cr_assert_eq(F(cuMemFree_v2)(a), CUDA_SUCCESS);
	cr_assert_eq(F(cuMemAlloc_v2)(&b, 4 * MiB), CUDA_SUCCESS);
	stats(&used, &peak);
	cr_expect_eq(used, 4 * MiB);
	cr_expect_eq(peak, 5 * MiB);
}

Test(fakecuda_driver, cuMemCreate_counts_against_the_cap_until_its_last_mapping_goes)
{
	CUmemGenericAllocationHandle h, h2;
	CUdeviceptr va;
	CUmemAllocationProp prop = device_prop();
	unsigned long long used, peak;
	setenv("FAKECUDA_MEM_LIMIT", "4M", 1);
	start_driver();
	int (*stats)(unsigned long long *, unsigned long long *) = need(drv, "fakecuda_mem_stats");
	cr_assert_eq(F(cuMemCreate)(&h, GRAN, &prop, 0), CUDA_SUCCESS);
	cr_assert_eq(F(cuMemAddressReserve)(&va, 4 * GRAN, 0, 0, 0), CUDA_SUCCESS);
	/* mapping the same handle twice costs no physical memory */
	cr_assert_eq(F(cuMemMap)(va, GRAN, 0, h, 0), CUDA_SUCCESS);
	cr_assert_eq(F(cuMemMap)(va + GRAN, GRAN, 0, h, 0), CUDA_SUCCESS);
	stats(&used, &peak);
	cr_expect_eq(used, GRAN);
	cr_assert_eq(F(cuMemCreate)(&h2, GRAN, &prop, 0), CUDA_SUCCESS);
	cr_expect_eq(F(cuMemCreate)(&h2, GRAN, &prop, 0), CUDA_ERROR_OUT_OF_MEMORY);
	cr_assert_eq(F(cuMemRelease)(h2), CUDA_SUCCESS);
	cr_assert_eq(F(cuMemRelease)(h), CUDA_SUCCESS);
	stats(&used, &peak);
	cr_expect_eq(used, GRAN, "a released handle lives while mapped");
	cr_assert_eq(F(cuMemUnmap)(va, GRAN), CUDA_SUCCESS);
	cr_assert_eq(F(cuMemUnmap)(va + GRAN, GRAN), CUDA_SUCCESS);
	stats(&used, &peak);
	cr_expect_eq(used, 0);
	cr_expect_eq(peak, 2 * GRAN);
	cr_expect_eq(F(cuMemRelease)(h), CUDA_ERROR_INVALID_VALUE, "double release");
	cr_expect_eq(F(cuMemAddressFree)(va, 4 * GRAN), CUDA_SUCCESS);
}

Test(fakecuda_vmm, one_handle_mapped_twice_aliases_its_bytes)
{
	CUmemGenericAllocationHandle h;
	CUdeviceptr va;
	CUmemAllocationProp prop = device_prop();
	char msg[] = "written through the first mapping", back[sizeof(msg)];
	start_driver();
	cr_assert_eq(F(cuMemCreate)(&h, GRAN, &prop, 0), CUDA_SUCCESS);
	cr_assert_eq(F(cuMemAddressReserve)(&va, 3 * GRAN, 0, 0, 0), CUDA_SUCCESS);
	cr_assert_eq(F(cuMemMap)(va, GRAN, 0, h, 0), CUDA_SUCCESS);
	cr_assert_eq(F(cuMemMap)(va + 2 * GRAN, GRAN, 0, h, 0), CUDA_SUCCESS);
	/* mapped but no access yet */
	cr_expect_eq(F(cuMemcpyHtoD_v2)(va + 100, msg, sizeof(msg)), CUDA_ERROR_INVALID_VALUE);
	set_rw(va, GRAN);
	set_rw(va + 2 * GRAN, GRAN);
	cr_assert_eq(F(cuMemcpyHtoD_v2)(va + 100, msg, sizeof(msg)), CUDA_SUCCESS);
	cr_assert_eq(F(cuMemcpyDtoH_v2)(back, va + 2 * GRAN + 100, sizeof(back)), CUDA_SUCCESS);
	cr_expect_str_eq(back, msg);
	/* the hole between the two mappings is reserved, not accessible */
	cr_expect_eq(F(cuMemcpyHtoD_v2)(va + GRAN, msg, sizeof(msg)), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(F(cuMemsetD8_v2)(va + GRAN - 4, 0, 8), CUDA_ERROR_INVALID_VALUE, "runs into the hole");
	cr_assert_eq(F(cuMemUnmap)(va, GRAN), CUDA_SUCCESS);
	cr_expect_eq(F(cuMemcpyHtoD_v2)(va + 100, msg, sizeof(msg)), CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(F(cuMemcpyDtoH_v2)(back, va + 2 * GRAN + 100, sizeof(back)), CUDA_SUCCESS);
	cr_expect_str_eq(back, msg, "the other mapping keeps the bytes");
}

Test(fakecuda_vmm, mapping_offsets_and_adjacent_mappings_behave_as_one_range)
{
	CUmemGenericAllocationHandle h;
	CUdeviceptr va, base;
	size_t size, gmin, grec;
	CUmemAllocationProp prop = device_prop();
	unsigned char pattern[64], back[64];
	start_driver();
	cr_assert_eq(F(cuMemGetAllocationGranularity)(&gmin, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM), 0);
	cr_assert_eq(F(cuMemGetAllocationGranularity)(&grec, &prop, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED), 0);
	cr_expect_eq(gmin, GRAN);
	cr_expect_eq(grec, GRAN);
	cr_assert_eq(F(cuMemCreate)(&h, 2 * GRAN, &prop, 0), CUDA_SUCCESS);
	cr_assert_eq(F(cuMemAddressReserve)(&va, 4 * GRAN, 0, 0, 0), CUDA_SUCCESS);
	/* [va, va+2G) maps the whole handle; [va+2G, va+3G) maps its second granule */
	cr_assert_eq(F(cuMemMap)(va, 2 * GRAN, 0, h, 0), CUDA_SUCCESS);
	cr_assert_eq(F(cuMemMap)(va + 2 * GRAN, GRAN, GRAN, h, 0), CUDA_SUCCESS);
	set_rw(va, 3 * GRAN);
	memset(pattern, 0x5a, sizeof(pattern));
	cr_assert_eq(F(cuMemcpyHtoD_v2)(va + GRAN + 8, pattern, sizeof(pattern)), CUDA_SUCCESS);
	cr_assert_eq(F(cuMemcpyDtoH_v2)(back, va + 2 * GRAN + 8, sizeof(back)), CUDA_SUCCESS);
	cr_expect_eq(memcmp(pattern, back, sizeof(back)), 0, "offset into the handle honoured");
	/* a copy across the seam of two mappings is one valid range */
	cr_expect_eq(F(cuMemsetD8_v2)(va + 2 * GRAN - 16, 1, 32), CUDA_SUCCESS);
	cr_assert_eq(F(cuMemGetAddressRange_v2)(&base, &size, va + 2 * GRAN + 5), CUDA_SUCCESS);
	cr_expect_eq(base, va + 2 * GRAN);
	cr_expect_eq(size, GRAN);
	CUmemGenericAllocationHandle got;
	cr_assert_eq(F(cuMemRetainAllocationHandle)(&got, (void *)(uintptr_t)(va + 5)), CUDA_SUCCESS);
	cr_expect_eq(got, h);
	cr_expect_eq(F(cuMemRelease)(got), CUDA_SUCCESS);
}

Test(fakecuda_vmm, misuse_returns_the_documented_errors)
{
	CUmemGenericAllocationHandle h;
	CUdeviceptr va, va2;
	CUmemAllocationProp prop = device_prop();
	start_driver();
	cr_expect_eq(F(cuMemCreate)(&h, GRAN + 4096, &prop, 0), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(F(cuMemAddressReserve)(&va, GRAN + 1, 0, 0, 0), CUDA_ERROR_INVALID_VALUE);
	prop.location.id = 3;
	cr_expect_eq(F(cuMemCreate)(&h, GRAN, &prop, 0), CUDA_ERROR_INVALID_DEVICE);
	prop = device_prop();
	cr_assert_eq(F(cuMemCreate)(&h, GRAN, &prop, 0), CUDA_SUCCESS);
	cr_assert_eq(F(cuMemAddressReserve)(&va, 2 * GRAN, 0, 0, 0), CUDA_SUCCESS);
	cr_expect_eq(F(cuMemMap)(va + 4096, GRAN, 0, h, 0), CUDA_ERROR_INVALID_VALUE, "unaligned address");
	cr_expect_eq(F(cuMemMap)(va, GRAN, GRAN, h, 0), CUDA_ERROR_INVALID_VALUE, "offset past the handle");
	cr_expect_eq(F(cuMemMap)(va, 2 * GRAN, 0, h, 0), CUDA_ERROR_INVALID_VALUE, "larger than the handle");
	cr_assert_eq(F(cuMemMap)(va, GRAN, 0, h, 0), CUDA_SUCCESS);
	cr_expect_eq(F(cuMemMap)(va, GRAN, 0, h, 0), CUDA_ERROR_INVALID_VALUE, "already mapped");
	cr_expect_eq(F(cuMemUnmap)(va, 2 * GRAN), CUDA_ERROR_INVALID_VALUE, "not all mapped");
	cr_expect_eq(F(cuMemAddressFree)(va, GRAN), CUDA_ERROR_INVALID_VALUE, "size must match");
	/* a free address given as hint is honoured */
	cr_assert_eq(F(cuMemAddressReserve)(&va2, GRAN, 0, va + 64 * GRAN, 0), CUDA_SUCCESS);
	cr_expect_eq(va2, va + 64 * GRAN);
	cr_expect_eq(F(cuMemUnmap)(va, GRAN), CUDA_SUCCESS);
	cr_expect_eq(F(cuMemRelease)(h), CUDA_SUCCESS);
}

/* ------------------------------------------------------------- cuGetProcAddress */
Test(fakecuda_procaddr, versions_pick_the_abi_of_their_time)
{
	void *fn;
	CUdriverProcAddressQueryResult st;
	open_driver();
	__typeof__(cuGetProcAddress_v2) *gpa = F(cuGetProcAddress_v2);
	cr_assert_eq(gpa("cuMemAlloc", &fn, 3020, 0, &st), CUDA_SUCCESS);
	cr_expect_eq(fn, need(drv, "cuMemAlloc_v2"));
	cr_expect_eq(st, CU_GET_PROC_ADDRESS_SUCCESS);
	cr_expect_eq(gpa("cuMemAlloc", &fn, 2000, 0, &st), CUDA_ERROR_NOT_FOUND);
	cr_expect_eq(st, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
	cr_expect_null(fn);
	cr_expect_eq(gpa("cuMemAllocAsync", &fn, 11010, 0, &st), CUDA_ERROR_NOT_FOUND);
	cr_expect_eq(st, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
	cr_assert_eq(gpa("cuMemcpyBatchAsync", &fn, 12080, 0, &st), CUDA_SUCCESS);
	cr_expect_eq(fn, need(drv, "cuMemcpyBatchAsync"));
	cr_assert_eq(gpa("cuMemcpyBatchAsync", &fn, 13000, 0, &st), CUDA_SUCCESS);
	cr_expect_eq(fn, need(drv, "cuMemcpyBatchAsync_v2"));
	cr_assert_eq(gpa("cuCtxCreate", &fn, 12080, 0, &st), CUDA_SUCCESS);
	cr_expect_eq(fn, need(drv, "cuCtxCreate_v4"));
}

Test(fakecuda_procaddr, per_thread_flag_selects_ptds_and_ptsz_forms)
{
	void *fn;
	CUdriverProcAddressQueryResult st;
	open_driver();
	__typeof__(cuGetProcAddress_v2) *gpa = F(cuGetProcAddress_v2);
	const unsigned long long pt = CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
	cr_assert_eq(gpa("cuMemcpyHtoD", &fn, 13000, pt, &st), CUDA_SUCCESS);
	cr_expect_eq(fn, need(drv, "cuMemcpyHtoD_v2_ptds"));
	cr_assert_eq(gpa("cuMemcpyAsync", &fn, 13000, pt, &st), CUDA_SUCCESS);
	cr_expect_eq(fn, need(drv, "cuMemcpyAsync_ptsz"));
	cr_assert_eq(gpa("cuMemcpyHtoD", &fn, 13000, CU_GET_PROC_ADDRESS_DEFAULT, &st), CUDA_SUCCESS);
	cr_expect_eq(fn, need(drv, "cuMemcpyHtoD_v2"), "DEFAULT is LEGACY in this build");
	cr_assert_eq(gpa("cuMemcpyHtoD", &fn, 13000, CU_GET_PROC_ADDRESS_LEGACY_STREAM, &st), 0);
	cr_expect_eq(fn, need(drv, "cuMemcpyHtoD_v2"));
	cr_assert_eq(gpa("cuMemAlloc", &fn, 13000, pt, &st), CUDA_SUCCESS);
	cr_expect_eq(fn, need(drv, "cuMemAlloc_v2"), "no per-thread form: the legacy one");
	/* the _ptsz entry reads "no stream flag" as per-thread */
	cr_assert_eq(F(cuGetProcAddress_v2_ptsz)("cuMemcpyDtoH", &fn, 13000, 0, &st), CUDA_SUCCESS);
	cr_expect_eq(fn, need(drv, "cuMemcpyDtoH_v2_ptds"));
	cr_expect_eq(gpa("cuMemcpyHtoD", &fn, 13000, 0x10, &st), CUDA_ERROR_INVALID_VALUE);
}

Test(fakecuda_procaddr, cuGetProcAddress_hands_out_itself_and_refuses_unknown_names)
{
	void *fn;
	CUdriverProcAddressQueryResult st;
	open_driver();
	__typeof__(cuGetProcAddress_v2) *gpa = F(cuGetProcAddress_v2);
	cr_assert_eq(gpa("cuGetProcAddress", &fn, 11030, 0, &st), CUDA_SUCCESS);
	cr_expect_eq(fn, need(drv, "cuGetProcAddress"));
	cr_assert_eq(gpa("cuGetProcAddress", &fn, 12000, 0, &st), CUDA_SUCCESS);
	cr_expect_eq(fn, need(drv, "cuGetProcAddress_v2"));
	cr_expect_eq(gpa("cuGetProcAddress", &fn, 11020, 0, &st), CUDA_ERROR_NOT_FOUND);
	cr_expect_eq(st, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
	cr_expect_eq(gpa("cuNoSuchThing", &fn, 13000, 0, &st), CUDA_ERROR_NOT_FOUND);
	cr_expect_eq(st, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
	cr_expect_eq(gpa("", &fn, 0, 0, &st), CUDA_ERROR_NOT_FOUND);
	cr_expect_eq(gpa("cudaMalloc", &fn, 13000, 0, &st), CUDA_ERROR_NOT_FOUND);
	/* v1 ABI: same table, no status */
	cr_assert_eq(F(cuGetProcAddress)("cuMemFree", &fn, 12000, 0), CUDA_SUCCESS);
	cr_expect_eq(fn, need(drv, "cuMemFree_v2"));
	cr_expect_eq(F(cuGetProcAddress)("cuMemFree", &fn, 2000, 0), CUDA_ERROR_NOT_FOUND);
}

/* ------------------------------------------------------------------------ errors */
Test(fakecuda_errors, bad_frees_and_bad_copies_are_invalid_value)
{
	CUdeviceptr a;
	char buf[64] = { 0 };
	start_driver();
	cr_assert_eq(F(cuMemAlloc_v2)(&a, 100), CUDA_SUCCESS);
	cr_expect_eq(F(cuMemFree_v2)(a + 16), CUDA_ERROR_INVALID_VALUE, "interior pointer");
	cr_expect_eq(F(cuMemFree_v2)((CUdeviceptr)(uintptr_t)buf), CUDA_ERROR_INVALID_VALUE, "host pointer");
	cr_expect_eq(F(cuMemcpyHtoD_v2)(a + 90, buf, 64), CUDA_ERROR_INVALID_VALUE, "past the end");
	cr_expect_eq(F(cuMemcpyHtoD_v2)((CUdeviceptr)(uintptr_t)buf, buf, 8), CUDA_ERROR_INVALID_VALUE,
	             "destination is host memory");
	cr_expect_eq(F(cuMemcpyHtoD_v2)(a, NULL, 8), CUDA_ERROR_INVALID_VALUE, "NULL source");
	cr_expect_eq(F(cuMemcpyDtoH_v2)(buf, 0, 8), CUDA_ERROR_INVALID_VALUE, "NULL device pointer");
	cr_assert_eq(F(cuMemFree_v2)(a), CUDA_SUCCESS);
	cr_expect_eq(F(cuMemFree_v2)(a), CUDA_ERROR_INVALID_VALUE, "double free");
	cr_expect_eq(F(cuMemcpyDtoH_v2)(buf, a, 8), CUDA_ERROR_INVALID_VALUE, "freed memory");
	cr_expect_eq(F(cuMemcpyHtoDAsync_v2)(a, buf, 8, (CUstream)(uintptr_t)0x1234),
	             CUDA_ERROR_INVALID_HANDLE);
}

Test(fakecuda_errors, error_names_and_strings_match_the_real_driver)
{
	const char *s;
	open_driver();
	cr_assert_eq(F(cuGetErrorName)(CUDA_ERROR_OUT_OF_MEMORY, &s), CUDA_SUCCESS);
	cr_expect_str_eq(s, "CUDA_ERROR_OUT_OF_MEMORY");
	cr_assert_eq(F(cuGetErrorString)(CUDA_ERROR_INVALID_VALUE, &s), CUDA_SUCCESS);
	cr_expect_str_eq(s, "invalid argument");
	cr_expect_eq(F(cuGetErrorName)((CUresult)12345, &s), CUDA_ERROR_INVALID_VALUE);
	cr_expect_null(s);
}

Test(fakecuda_driver, pointer_attributes_describe_device_and_pinned_memory)
{
	CUdeviceptr a, start;
	size_t size;
	unsigned type;
	CUcontext ctx, cur;
	void *pinned;
	char stack;
	start_driver();
	F(cuCtxGetCurrent)(&cur);
	cr_assert_eq(F(cuMemAlloc_v2)(&a, 1000), CUDA_SUCCESS);
	cr_assert_eq(F(cuPointerGetAttribute)(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, a + 10), 0);
	cr_expect_eq(type, CU_MEMORYTYPE_DEVICE);
	cr_assert_eq(F(cuPointerGetAttribute)(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, a + 10), 0);
	cr_expect_eq(start, a);
	cr_assert_eq(F(cuPointerGetAttribute)(&size, CU_POINTER_ATTRIBUTE_RANGE_SIZE, a + 10), 0);
	cr_expect_eq(size, 1000);
	cr_assert_eq(F(cuPointerGetAttribute)(&ctx, CU_POINTER_ATTRIBUTE_CONTEXT, a), 0);
	cr_expect_eq(ctx, cur);
	cr_expect_eq(F(cuPointerGetAttribute)(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
	                                      (CUdeviceptr)(uintptr_t)&stack),
	             CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(F(cuMemAllocHost_v2)(&pinned, 100), CUDA_SUCCESS);
	cr_assert_eq(F(cuPointerGetAttribute)(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
	                                      (CUdeviceptr)(uintptr_t)pinned),
	             0);
	cr_expect_eq(type, CU_MEMORYTYPE_HOST);
	/* the batch query answers zeros for memory it does not know */
	CUpointer_attribute which[] = { CU_POINTER_ATTRIBUTE_MEMORY_TYPE };
	void *data[] = { &type };
	type = 77;
	cr_assert_eq(F(cuPointerGetAttributes)(1, which, data, (CUdeviceptr)(uintptr_t)&stack), 0);
	cr_expect_eq(type, 0);
	cr_expect_eq(F(cuMemFreeHost)(pinned), CUDA_SUCCESS);
}

Test(fakecuda_driver, a_child_forked_after_init_cannot_use_cuda)
{
	CUdeviceptr p;
	start_driver();
	pid_t pid = fork();
	if (pid == 0)
		_exit(F(cuMemAlloc_v2)(&p, 64) == CUDA_ERROR_NOT_INITIALIZED &&
		                      F(cuInit)(0) == CUDA_ERROR_NOT_INITIALIZED
		              ? 0
		              : 1);
	int status;
	waitpid(pid, &status, 0);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_expect_eq(F(cuMemAlloc_v2)(&p, 64), CUDA_SUCCESS, "the parent carries on");
}

/* ----------------------------------------------------------------------- runtime */
Test(fakecuda_runtime, names_no_driver_symbol_and_reaches_the_driver_through_cuGetProcAddress)
{
	char cmd[3 * PATH_MAX], out[4096];
	void *fn = NULL;
	enum cudaDriverEntryPointQueryResult st;
	snprintf(cmd, sizeof(cmd), "nm -D --undefined-only '%s' | awk '{print $2}' | grep -E '^cu' | head",
	         path_of("libcudart.so.13"));
	run_cmd(cmd, out, sizeof(out));
	cr_expect_str_empty(out, "the runtime names driver symbols: %s", out);
	snprintf(cmd, sizeof(cmd),
	         "nm -D --undefined-only '%s' | awk '{print $2}' | grep -E '^dl(open|sym)' | sort | tr '\\n' "
	         "' '",
	         path_of("libcudart.so.13"));
	run_cmd(cmd, out, sizeof(out));
	cr_expect(strstr(out, "dlopen") && strstr(out, "dlsym"), "runtime must use dlopen+dlsym: %s", out);
	start_runtime();
	int n;
	cr_assert_eq(R(cudaGetDeviceCount)(&n), cudaSuccess);
	cr_expect_eq(n, 1);
	/* what the runtime holds is the driver's own cuGetProcAddress_v2 */
	cr_assert_eq(R(cudaGetDriverEntryPointByVersion)("cuGetProcAddress", &fn, 12000, 0, &st),
	             cudaSuccess);
	cr_expect_eq(fn, need(drv, "cuGetProcAddress_v2"));
	cr_assert_eq(
	        R(cudaGetDriverEntryPoint)("cuMemcpyHtoDAsync", &fn, cudaEnablePerThreadDefaultStream, &st),
	        cudaSuccess);
	cr_expect_eq(fn, need(drv, "cuMemcpyHtoDAsync_v2_ptsz"));
	cr_assert_eq(R(cudaGetDriverEntryPoint)("cuNoSuchThing", &fn, 0, &st), cudaSuccess);
	cr_expect_null(fn);
	cr_expect_eq(st, cudaDriverEntryPointSymbolNotFound);
}

Test(fakecuda_runtime, copies_round_trip_in_every_direction)
{
	unsigned char in[5000], out[5000];
	void *a, *b;
	cudaStream_t s;
	start_runtime();
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i ^ 0xa5);
	cr_assert_eq(R(cudaMalloc)(&a, sizeof(in)), cudaSuccess);
	cr_assert_eq(R(cudaMalloc)(&b, sizeof(in)), cudaSuccess);
	cr_assert_eq(R(cudaStreamCreate)(&s), cudaSuccess);
	cr_assert_eq(R(cudaMemcpyAsync)(a, in, sizeof(in), cudaMemcpyHostToDevice, s), cudaSuccess);
	cr_assert_eq(R(cudaMemcpy_ptds)(b, a, sizeof(in), cudaMemcpyDefault), cudaSuccess);
	cr_assert_eq(R(cudaStreamSynchronize)(s), cudaSuccess);
	cr_assert_eq(R(cudaMemcpy)(out, b, sizeof(out), cudaMemcpyDefault), cudaSuccess);
	cr_expect_eq(memcmp(in, out, sizeof(in)), 0);
	/* batch: two halves back to the host */
	memset(out, 0, sizeof(out));
	void *dsts[2] = { out, out + 2500 };
	const void *srcs[2] = { a, (char *)a + 2500 };
	size_t sizes[2] = { 2500, 2500 }, idx = 0;
	struct cudaMemcpyAttributes attr = { .srcAccessOrder = cudaMemcpySrcAccessOrderStream };
	cr_assert_eq(R(cudaMemcpyBatchAsync)(dsts, srcs, sizes, 2, &attr, &idx, 1, s), cudaSuccess);
	cr_expect_eq(memcmp(in, out, sizeof(in)), 0);
	cr_expect_eq(R(cudaMemcpyBatchAsync)(dsts, srcs, sizes, 2, &attr, &idx, 1, NULL),
	             cudaErrorInvalidValue, "not on the legacy NULL stream");
	/* memset and 2D */
	cr_assert_eq(R(cudaMemset)(a, 0x11, sizeof(in)), cudaSuccess);
	cr_assert_eq(R(cudaMemcpy2D)(out, 100, a, 100, 50, 10, cudaMemcpyDeviceToHost), cudaSuccess);
	cr_expect_eq(out[0], 0x11);
	cr_expect_eq(out[949], 0x11);
	cr_expect_eq(R(cudaMemcpy2D)(out, 10, a, 100, 50, 10, cudaMemcpyDeviceToHost),
	             cudaErrorInvalidPitchValue);
	cr_expect_eq(R(cudaMemcpy)(out, a, 8, (enum cudaMemcpyKind)9), cudaErrorInvalidMemcpyDirection);
	cr_expect_eq(R(cudaStreamDestroy)(s), cudaSuccess);
	cr_expect_eq(R(cudaFree)(a), cudaSuccess);
	cr_expect_eq(R(cudaFree)(b), cudaSuccess);
}

Test(fakecuda_runtime, errors_map_from_the_driver_and_stick_until_read)
{
	void *a;
	char host[16];
	setenv("FAKECUDA_MEM_LIMIT", "1M", 1);
	start_runtime();
	cr_expect_eq(R(cudaMalloc)(&a, 2 * MiB), cudaErrorMemoryAllocation);
	cr_expect_eq(R(cudaPeekAtLastError)(), cudaErrorMemoryAllocation);
	cr_expect_eq(R(cudaGetLastError)(), cudaErrorMemoryAllocation);
	cr_expect_eq(R(cudaGetLastError)(), cudaSuccess);
	cr_expect_eq(R(cudaFree)(host), cudaErrorInvalidValue);
	cr_expect_eq(R(cudaMemcpy)(host, (void *)8, 8, cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
	cr_expect_str_eq(R(cudaGetErrorName)(cudaErrorMemoryAllocation), "cudaErrorMemoryAllocation");
	cr_expect_str_eq(R(cudaGetErrorString)(cudaErrorMemoryAllocation), "out of memory");
	cr_expect_str_eq(R(cudaGetErrorString)((cudaError_t)4242), "unrecognized error code");
	struct cudaPointerAttributes pa;
	cr_assert_eq(R(cudaPointerGetAttributes)(&pa, host), cudaSuccess);
	cr_expect_eq(pa.type, cudaMemoryTypeUnregistered);
	cr_assert_eq(R(cudaMalloc)(&a, 100), cudaSuccess);
	cr_assert_eq(R(cudaPointerGetAttributes)(&pa, (char *)a + 3), cudaSuccess);
	cr_expect_eq(pa.type, cudaMemoryTypeDevice);
	int v;
	cr_assert_eq(R(cudaRuntimeGetVersion)(&v), cudaSuccess);
	cr_expect_eq(v, 13000);
}

#define THREADS 8
#define ROUNDS  200

static void *copier(void *arg)
{
	unsigned char in[4096], out[4096];
	void *d;
	long id = (long)arg;
	if (R(cudaMalloc)(&d, sizeof(in)))
		return (void *)1;
	for (int r = 0; r < ROUNDS; r++) {
		memset(in, (int)(id * 16 + r), sizeof(in));
		if (R(cudaMemcpyAsync)(d, in, sizeof(in), cudaMemcpyHostToDevice, cudaStreamPerThread) ||
		    R(cudaMemcpy)(out, d, sizeof(out), cudaMemcpyDeviceToHost) || memcmp(in, out, sizeof(in)))
			return (void *)1;
	}
	return R(cudaFree)(d) ? (void *)1 : NULL;
}

Test(fakecuda_runtime, eight_threads_copy_concurrently)
{
	pthread_t t[THREADS];
	start_runtime();
	for (long i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, copier, (void *)i), 0);
	for (int i = 0; i < THREADS; i++) {
		void *ret;
		pthread_join(t[i], &ret);
		cr_expect_null(ret, "thread %d failed", i);
	}
}

Test(fakecuda_runtime, static_archive_carries_the_runtime_with_no_dynamic_cuda_symbols)
{
	char cmd[4 * PATH_MAX], out[4096], stats[PATH_MAX];
	snprintf(stats, sizeof(stats), "/tmp/fakecuda-stats-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd), "FAKECUDA_STATS=%s LD_LIBRARY_PATH='%s/fakecuda' '%s' 2>&1", stats,
	         build(), path_of("static_check"));
	run_cmd(cmd, out, sizeof(out));
	cr_expect_str_eq(out, "static_check: ok 4096\n");
	snprintf(cmd, sizeof(cmd), "nm -D '%s' | awk '{print $NF}' | grep -E '^cuda' | head",
	         path_of("static_check"));
	run_cmd(cmd, out, sizeof(out));
	cr_expect_str_empty(out, "dynamic cuda symbols: %s", out);
	snprintf(cmd, sizeof(cmd), "readelf -d '%s' | grep -c cudart", path_of("static_check"));
	run_cmd(cmd, out, sizeof(out));
	cr_expect_str_eq(out, "0\n", "no libcudart is needed");
	/* FAKECUDA_STATS: what the program used, written at exit */
	FILE *f = fopen(stats, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(out, sizeof(out), f));
	fclose(f);
	unlink(stats);
	unsigned long long used, peak, limit, allocs, creates, maps;
	cr_assert_eq(sscanf(out, "used=%llu peak=%llu limit=%llu allocs=%llu creates=%llu maps=%llu", &used,
	                    &peak, &limit, &allocs, &creates, &maps),
	             6, "%s", out);
	cr_expect_eq(used, 0);
	cr_expect_eq(peak, 4096);
	cr_expect_eq(allocs, 1);
	cr_expect_eq(creates + maps, 0);
}
