/* hooks_libc.c — mmap, mmap64, munmap and mremap interposers that tell hostmap.c
 * which host ranges are mappings of which files (safetensors loaders copy straight
 * out of such mappings).
 *
 * They run from the first mapping of the process, before any constructor, inside
 * malloc and inside the dynamic loader's own calls, so: no malloc, no locks but
 * hostmap's, and no dlsym from inside a hook. Until a high-priority constructor has
 * resolved the next definitions (dlvsym(RTLD_NEXT), which keeps sanitizers and
 * other preloads in the chain), the hooks issue the system calls themselves. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef int (*munmap_fn)(void *, size_t);
typedef void *(*mremap_fn)(void *, size_t, size_t, int, ...);

static mmap_fn next_mmap;
static munmap_fn next_munmap;
static mremap_fn next_mremap;

/* glibc's symbol versions of these on x86-64 and aarch64. */
static void *next_sym(const char *name)
{
	static const char *const versions[] = { "GLIBC_2.2.5", "GLIBC_2.17" };
	void *p = NULL;

	for (size_t i = 0; !p && i < sizeof(versions) / sizeof(versions[0]); i++)
		p = dlvsym(RTLD_NEXT, name, versions[i]);
	return p;
}

__attribute__((constructor(101))) static void resolve_next(void)
{
	next_munmap = (munmap_fn)next_sym("munmap");
	next_mremap = (mremap_fn)next_sym("mremap");
	next_mmap = (mmap_fn)next_sym("mmap");
}

static void *sys_result(long r)
{
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return MAP_FAILED;
	}
	return (void *)r;
}

static void *do_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p;

	if (next_mmap)
		p = next_mmap(addr, len, prot, flags, fd, off);
	else
		p = sys_result(syscall(SYS_mmap, addr, len, prot, flags, fd, off));
	if (p == MAP_FAILED)
		return p;
	if (!(flags & MAP_ANONYMOUS) && fd >= 0)
		ms_hostmap_note_map((uint64_t)p, len, fd, (uint64_t)off);
	else if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE))
		ms_hostmap_note_unmap((uint64_t)p, len); /* replaced whatever was there */
	return p;
}

/* The interposers themselves: exported (metashim.map lists them). */
#pragma GCC visibility push(default)

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return do_mmap(addr, len, prot, flags, fd, off);
}

/* off_t is 64-bit on every target this builds for, so mmap64 is mmap. */
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return do_mmap(addr, len, prot, flags, fd, off);
}

int munmap(void *addr, size_t len)
{
	int rc;

	if (next_munmap) {
		rc = next_munmap(addr, len);
	} else {
		long r = syscall(SYS_munmap, addr, len);
		rc = r < 0 ? -1 : 0;
	}
	if (rc == 0)
		ms_hostmap_note_unmap((uint64_t)addr, len);
	return rc;
}

void *mremap(void *old, size_t oldlen, size_t len, int flags, ...)
{
	struct ms_fileref was;
	void *want = NULL, *p;
	bool had;

	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		want = va_arg(ap, void *);
		va_end(ap);
	}
	had = ms_hostmap_lookup((uint64_t)old, &was) == 0;
	if (next_mremap)
		p = next_mremap(old, oldlen, len, flags, want);
	else
		p = sys_result(syscall(SYS_mremap, old, oldlen, len, flags, want));
	if (p != MAP_FAILED)
		ms_hostmap_note_remap((uint64_t)old, oldlen, (uint64_t)p, len, had, &was);
	return p;
}

#pragma GCC visibility pop
