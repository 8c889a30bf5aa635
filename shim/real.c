/* real.c — everything about reaching the real CUDA: the real dlsym, the table of
 * entry points the shim wraps (entry_points.h) with one real-function slot per ABI
 * symbol, the routing that swaps wrappers in for what dlsym and cuGetProcAddress
 * return, and the driver entry points the shim itself calls (ms_driver). Nothing
 * here runs in the constructor: every lookup is lazy, so a process without CUDA
 * never loads or looks for it. */
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "entry_points.h"
#include "internal.h"

/* ------------------------------------------------------------ the entry table */
#define ROW_W(sym, proc, version, pt) [MS_EP_##sym] = { #sym, proc, version, pt, 1 },
#define ROW_K(sym, proc, version, pt) [MS_EP_##sym] = { #sym, proc, version, pt, 0 },
const struct ms_entry ms_entries[MS_EP_COUNT] = { MS_ENTRY_POINTS(ROW_W, ROW_W, ROW_W, ROW_K) };
#undef ROW_W
#undef ROW_K

/* Real functions, one per ABI symbol; written once (first writer wins), read
 * lock-free by every wrapper call. */
static void *slots[MS_EP_COUNT];

MS_NO_SANITIZE int ms_entry_find(const char *name)
{
	/* Fast reject for the many non-CUDA names dlsym sees; the full compare
	 * below is what decides (cudnn*, cublas* never match a row). */
	if (!name || name[0] != 'c' || name[1] != 'u')
		return -1;
	for (int i = 0; i < MS_EP_COUNT; i++)
		if (!strcmp(name, ms_entries[i].sym))
			return i;
	return -1;
}

static void *wrapper_of(int id)
{
	if (ms_wrappers_driver[id])
		return ms_wrappers_driver[id];
	if (ms_wrappers_runtime[id])
		return ms_wrappers_runtime[id];
	return ms_wrappers_gpa[id];
}

/* ------------------------------------------------------------ the real dlsym */
typedef void *(*dlsym_fn)(void *, const char *);
void *ms_dlsym_next; /* the real dlsym; hooks_dlsym.c jumps to it */
static pthread_once_t dlsym_once = PTHREAD_ONCE_INIT;
static uintptr_t shim_lo, shim_hi; /* the shim's own mapping */

static int find_self(struct dl_phdr_info *info, size_t size, void *data)
{
	uintptr_t base = (uintptr_t)data, hi = 0;

	(void)size;
	if (info->dlpi_addr != base)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_LOAD && info->dlpi_addr + ph->p_vaddr + ph->p_memsz > hi)
			hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	shim_hi = hi;
	return 1;
}

/* Only dlvsym here: this runs inside the first dlsym of the process, which may
 * come from a sanitizer runtime still initializing (it intercepts dladdr and
 * dl_iterate_phdr, so those wait for ms_in_shim). */
MS_NO_SANITIZE static void init_dlsym(void)
{
	/* RTLD_NEXT from here: the shim's own dlsym is never the answer. */
	ms_dlsym_next = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
	if (!ms_dlsym_next)
		ms_dlsym_next = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
}

static pthread_once_t range_once = PTHREAD_ONCE_INIT;

static void init_range(void)
{
	Dl_info self;

	if (dladdr((void *)init_range, &self) && self.dli_fbase) {
		shim_lo = (uintptr_t)self.dli_fbase;
		dl_iterate_phdr(find_self, self.dli_fbase);
	}
}

MS_NO_SANITIZE void ms_real_dlsym_init(void)
{
	pthread_once(&dlsym_once, init_dlsym);
}

void *ms_real_dlsym(void *handle, const char *name)
{
	ms_real_dlsym_init();
	if (!ms_dlsym_next)
		return NULL;
	return ((dlsym_fn)ms_dlsym_next)(handle, name);
}

bool ms_in_shim(const void *p)
{
	pthread_once(&range_once, init_range);
	return (uintptr_t)p >= shim_lo && (uintptr_t)p < shim_hi;
}

/* ----------------------------------------------------- lookups by link order */
#define MAX_OBJECTS 2048

struct objlist {
	size_t n;
	const char *name[MAX_OBJECTS];
	uintptr_t base[MAX_OBJECTS];
};

static int collect(struct dl_phdr_info *info, size_t size, void *data)
{
	struct objlist *l = data;

	(void)size;
	if (l->n < MAX_OBJECTS) {
		l->name[l->n] = info->dlpi_name;
		l->base[l->n] = info->dlpi_addr;
		l->n++;
	}
	return 0;
}

/* The first definition of name in an object loaded after the one at `after`
 * (every object when after is 0), in link-map order, never the shim's own. Each
 * object is asked through its own handle and a hit counts only when the object
 * itself defines the symbol: this is RTLD_NEXT's search done by hand, and it
 * also finds libraries loaded RTLD_LOCAL (a runtime that Python dlopened). */
void *ms_lookup_after(uintptr_t after, const char *name)
{
	/* Not on the stack (it is large) and not shared (a loader lock may be held
	 * by a thread that calls dlsym): a lookup is rare enough for malloc. */
	struct objlist *l = malloc(sizeof(*l));
	bool started = after == 0;
	void *hit = NULL;

	if (!l)
		return NULL;
	ms_in_shim(NULL); /* shim_lo below */
	l->n = 0;
	/* Collect first, dlopen after: dlopen inside the dl_iterate_phdr callback
	 * would take the loader's locks in the opposite order. */
	dl_iterate_phdr(collect, l);
	for (size_t i = 0; i < l->n && !hit; i++) {
		void *h, *p;
		Dl_info di;

		if (!started) {
			started = l->base[i] == after;
			continue;
		}
		if (l->base[i] == shim_lo || !l->name[i] || !l->name[i][0])
			continue;
		h = dlopen(l->name[i], RTLD_NOLOAD | RTLD_LAZY);
		if (!h)
			continue;
		p = ms_real_dlsym(h, name);
		if (p && !ms_in_shim(p) && dladdr(p, &di) && (uintptr_t)di.dli_fbase == l->base[i])
			hit = p;
		dlclose(h);
	}
	free(l);
	return hit;
}

/* ------------------------------------------------------------ the real slots */
static void *remember(int id, void *real)
{
	void *expected = NULL;

	if (!real || ms_in_shim(real))
		return __atomic_load_n(&slots[id], __ATOMIC_ACQUIRE);
	if (!__atomic_compare_exchange_n(&slots[id], &expected, real, false, __ATOMIC_ACQ_REL,
	                                 __ATOMIC_ACQUIRE))
		return expected;
	return real;
}

/* Cold half of ms_real: a program that calls the entry point by its linked name. */
static void *resolve(int id)
{
	const char *sym = ms_entries[id].sym;
	void *p = ms_real_dlsym(RTLD_NEXT, sym);

	if (!p || ms_in_shim(p))
		p = ms_lookup_after(0, sym);
	if (!p && ms_entries[id].proc) {
		const struct ms_driver *d = ms_driver();

		if (d && d->handle)
			p = ms_real_dlsym(d->handle, sym);
	}
	return remember(id, p);
}

void *ms_real(enum ms_ep_id id)
{
	void *p = __atomic_load_n(&slots[id], __ATOMIC_ACQUIRE);

	return MS_LIKELY(p != NULL) ? p : resolve((int)id);
}

void *ms_route_sym(const char *name, void *real)
{
	int id = ms_entry_find(name);

	if (id < 0 || !ms_entries[id].wrapped)
		return NULL;
	if (!remember(id, real) && !resolve(id))
		return NULL;
	return wrapper_of(id);
}

/* CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM; DEFAULT (0) means legacy to the
 * driver (the header's inline wrapper adds the flag for per-thread builds). */
#define PROC_PER_THREAD 2ull

void *ms_route_proc(const char *symbol, int version, unsigned long long flags, void *fn)
{
	int best = -1, want_pt = (flags & PROC_PER_THREAD) ? 1 : 0;

	if (!fn || !symbol || ms_in_shim(fn))
		return fn;
	/* The newest ABI of the name at or below version, in the asked stream
	 * flavour if the name has one there, else the legacy one. */
	for (int i = 0; i < MS_EP_COUNT; i++) {
		const struct ms_entry *e = &ms_entries[i];

		if (!e->proc || e->version > version || strcmp(e->proc, symbol))
			continue;
		if (best < 0) {
			best = i;
			continue;
		}
		const struct ms_entry *b = &ms_entries[best];
		bool e_fit = e->pt == want_pt, b_fit = b->pt == want_pt;

		if ((e_fit && !b_fit) || (e_fit == b_fit && e->version > b->version))
			best = i;
	}
	if (best < 0 || !ms_entries[best].wrapped)
		return fn;
	remember(best, fn);
	return wrapper_of(best);
}

/* ---------------------------------------------------------------- the driver */
static struct ms_driver driver;
static bool driver_ok;
static pthread_once_t driver_once = PTHREAD_ONCE_INIT;

typedef int (*gpa_v2_fn)(const char *, void **, int, unsigned long long, int *);

static void fetch(gpa_v2_fn gpa, const char *name, void *slot)
{
	void *p = NULL;
	int status = 0;

	if (gpa(name, &p, 12000, 0, &status) != 0)
		p = NULL;
	memcpy(slot, &p, sizeof(p));
}

static void init_driver(void)
{
	void *h = dlopen("libcuda.so.1", RTLD_NOLOAD | RTLD_NOW);
	gpa_v2_fn gpa;

	if (!h)
		h = dlopen("libcuda.so.1", RTLD_NOW);
	if (!h)
		return;
	/* Always the driver's own cuGetProcAddress, never the shim's: these
	 * calls must not be recorded or routed. */
	gpa = (gpa_v2_fn)ms_real_dlsym(h, "cuGetProcAddress_v2");
	if (!gpa || ms_in_shim((void *)gpa))
		return;
	driver.handle = h;
	fetch(gpa, "cuPointerGetAttribute", &driver.cuPointerGetAttribute);
	fetch(gpa, "cuMemGetAllocationGranularity", &driver.cuMemGetAllocationGranularity);
	fetch(gpa, "cuMemAddressReserve", &driver.cuMemAddressReserve);
	fetch(gpa, "cuMemAddressFree", &driver.cuMemAddressFree);
	fetch(gpa, "cuMemCreate", &driver.cuMemCreate);
	fetch(gpa, "cuMemRelease", &driver.cuMemRelease);
	fetch(gpa, "cuMemMap", &driver.cuMemMap);
	fetch(gpa, "cuMemUnmap", &driver.cuMemUnmap);
	fetch(gpa, "cuMemSetAccess", &driver.cuMemSetAccess);
	fetch(gpa, "cuMemcpyHtoD", &driver.cuMemcpyHtoD);
	fetch(gpa, "cuMemcpyDtoH", &driver.cuMemcpyDtoH);
	fetch(gpa, "cuMemcpyDtoD", &driver.cuMemcpyDtoD);
	fetch(gpa, "cuMemsetD8", &driver.cuMemsetD8);
	fetch(gpa, "cuCtxSynchronize", &driver.cuCtxSynchronize);
	fetch(gpa, "cuCtxGetDevice", &driver.cuCtxGetDevice);
	fetch(gpa, "cuInit", &driver.cuInit);
	fetch(gpa, "cuDeviceGet", &driver.cuDeviceGet);
	fetch(gpa, "cuDevicePrimaryCtxRetain", &driver.cuDevicePrimaryCtxRetain);
	fetch(gpa, "cuCtxGetCurrent", &driver.cuCtxGetCurrent);
	fetch(gpa, "cuCtxSetCurrent", &driver.cuCtxSetCurrent);
	driver_ok = true;
}

const struct ms_driver *ms_driver(void)
{
	pthread_once(&driver_once, init_driver);
	return driver_ok ? &driver : NULL;
}

/* CU_POINTER_ATTRIBUTE_MEMORY_TYPE and the CUmemorytype values. */
#define ATTR_MEMORY_TYPE 2
#define MEMTYPE_DEVICE   2
#define MEMTYPE_UNIFIED  4

bool ms_is_device_ptr(uint64_t addr)
{
	const struct ms_driver *d = ms_driver();
	unsigned int type = 0;

	if (!addr || !d || !d->cuPointerGetAttribute)
		return false;
	if (d->cuPointerGetAttribute(&type, ATTR_MEMORY_TYPE, addr) != 0)
		return false;
	return type == MEMTYPE_DEVICE || type == MEMTYPE_UNIFIED;
}
