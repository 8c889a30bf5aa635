/* modules.c — the module map of the process: one `module` record (id, address
 * range, path, GNU build id) per loaded ELF object, written before any stack
 * record whose pc lies in it, and again for objects that dlopen brings in later.
 * The analysis tool symbolizes stack pcs against these. */
#include <elf.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* Objects remembered as written; beyond this, further objects are written once
 * each sync (duplicates in the trace, never a missing module). */
#define MODULES_MAX 4096
/* Longest build id kept (SHA-1 ids are 20 bytes; some linkers allow longer). */
#define BUILDID_MAX 64

struct written_mod {
	uint64_t base, end; /* address range as recorded */
	uint64_t name_hash; /* of the path, so a different object at the same range counts as new */
};

/* Everything below is guarded by mod_lock. */
static pthread_mutex_t mod_lock = PTHREAD_MUTEX_INITIALIZER;
static struct written_mod written[MODULES_MAX];
static unsigned n_written;
static uint32_t next_id = 1;
static bool synced; /* counters below are valid */
static unsigned long long seen_adds, seen_subs;
static char exe_path[4096]; /* /proc/self/exe, read at the first sync */

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* dl_iterate_phdr's load/unload counters (glibc), stop after the first object. */
struct counters {
	bool valid;
	unsigned long long adds, subs;
};

static bool has_counters(size_t size)
{
	return size >=
	       offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(((struct dl_phdr_info *)0)->dlpi_subs);
}

static int peek_counters(struct dl_phdr_info *info, size_t size, void *data)
{
	struct counters *c = data;

	if (has_counters(size)) {
		c->valid = true;
		c->adds = info->dlpi_adds;
		c->subs = info->dlpi_subs;
	}
	return 1;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

/* [lo, hi) spanned by the object's PT_LOAD segments, in process addresses. */
static bool load_range(const struct dl_phdr_info *info, uint64_t *lo, uint64_t *hi)
{
	bool any = false;

	*lo = UINT64_MAX;
	*hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD)
			continue;
		any = true;
		if (info->dlpi_addr + ph->p_vaddr < *lo)
			*lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > *hi)
			*hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	return any;
}

/* The NT_GNU_BUILD_ID note as lower-case hex into out (at least 2*BUILDID_MAX+1
 * bytes), read from the loaded image itself: no file access. "-" when absent. */
static void build_id(const struct dl_phdr_info *info, char *out)
{
	static const char hex[] = "0123456789abcdef";

	out[0] = '-';
	out[1] = '\0';
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const unsigned char *p, *e;
		size_t align;

		if (ph->p_type != PT_NOTE)
			continue;
		align = ph->p_align == 8 ? 8 : 4;
		p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
		e = p + ph->p_filesz;
		while (p + sizeof(ElfW(Nhdr)) <= e) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const unsigned char *name = p + sizeof(*nh);
			const unsigned char *desc = name + ((nh->n_namesz + align - 1) & ~(align - 1));

			if (desc + nh->n_descsz > e)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4) &&
			    nh->n_descsz > 0) {
				size_t n = nh->n_descsz < BUILDID_MAX ? nh->n_descsz : BUILDID_MAX;

				for (size_t k = 0; k < n; k++) {
					out[2 * k] = hex[desc[k] >> 4];
					out[2 * k + 1] = hex[desc[k] & 15];
				}
				out[2 * n] = '\0';
				return;
			}
			p = desc + ((nh->n_descsz + align - 1) & ~(align - 1));
		}
	}
}

static bool was_written(uint64_t base, uint64_t end, uint64_t name_hash)
{
	for (unsigned i = 0; i < n_written; i++)
		if (written[i].base == base && written[i].end == end && written[i].name_hash == name_hash)
			return true;
	return false;
}

struct scan {
	unsigned index; /* objects seen so far */
	unsigned long long adds, subs;
	bool valid;
};

/* One object: written unless already. Runs under the loader's lock and mod_lock;
 * the sink only formats and appends a line. */
static int write_module(struct dl_phdr_info *info, size_t size, void *data)
{
	struct scan *sc = data;
	const struct ms_unwind_sink *sink = ms_unwind_sink();
	char bid[2 * BUILDID_MAX + 1], abs[PATH_MAX];
	const char *path = info->dlpi_name;
	uint64_t lo, hi, h;

	if (sc->index++ == 0 && has_counters(size)) {
		sc->valid = true;
		sc->adds = info->dlpi_adds;
		sc->subs = info->dlpi_subs;
	}
	/* The main program has no name here; objects without a file (none on glibc
	 * today but the vdso, which is named) are left out. */
	if (!path || !*path) {
		if (sc->index != 1)
			return 0;
		path = exe_path;
	}
	/* A library found through a relative LD_LIBRARY_PATH entry has a relative name;
	 * the analysis runs elsewhere, so record where it is. */
	if (path[0] != '/' && strchr(path, '/') && realpath(path, abs))
		path = abs;
	if (!load_range(info, &lo, &hi))
		return 0;
	h = hash_str(path);
	if (was_written(lo, hi, h))
		return 0;
	build_id(info, bid);
	sink->module(sink->ctx, next_id++, lo, hi, path, bid);
	if (n_written < MODULES_MAX)
		written[n_written++] = (struct written_mod){ lo, hi, h };
	return 0;
}

static void fork_prepare(void)
{
	pthread_mutex_lock(&mod_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&mod_lock);
}

/* The child's trace is a new file: every module is written again there. */
static void fork_child(void)
{
	pthread_mutex_init(&mod_lock, NULL);
	n_written = 0;
	next_id = 1;
	synced = false;
}

static void install_fork_handlers(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void ms_modules_sync(void)
{
	struct counters c = { 0 };
	struct scan sc = { 0 };

	pthread_once(&fork_once, install_fork_handlers);
	/* Every dl_iterate_phdr under mod_lock: fork_prepare takes it, so no fork
	 * happens while this thread holds the loader's lock (see unwind.c). */
	pthread_mutex_lock(&mod_lock);
	dl_iterate_phdr(peek_counters, &c);
	if (synced && c.valid && c.adds == seen_adds && c.subs == seen_subs)
		goto out_unlock;
	if (!exe_path[0]) {
		ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);

		if (n <= 0)
			snprintf(exe_path, sizeof(exe_path), "[exe]");
		else
			exe_path[n] = '\0';
	}
	dl_iterate_phdr(write_module, &sc);
	synced = sc.valid;
	seen_adds = sc.adds;
	seen_subs = sc.subs;
out_unlock:
	pthread_mutex_unlock(&mod_lock);
}

void ms_modules_reset(void)
{
	pthread_mutex_lock(&mod_lock);
	n_written = 0;
	next_id = 1;
	synced = false;
	pthread_mutex_unlock(&mod_lock);
}

struct self_find {
	uint64_t addr;
	unsigned index;
	uint64_t lo, hi;
	bool main_program;
};

static int find_self(struct dl_phdr_info *info, size_t size, void *data)
{
	struct self_find *sf = data;

	(void)size;
	sf->index++;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (sf->addr >= lo && sf->addr < lo + ph->p_memsz) {
			sf->lo = lo;
			sf->hi = lo + ph->p_memsz;
			sf->main_program = sf->index == 1;
			return 1;
		}
	}
	return 0;
}

void ms_modules_self_range(uint64_t *lo, uint64_t *hi)
{
	struct self_find sf = { .addr = (uint64_t)(uintptr_t)&ms_modules_self_range };

	*lo = *hi = 0;
	dl_iterate_phdr(find_self, &sf);
	if (sf.hi && !sf.main_program) {
		*lo = sf.lo;
		*hi = sf.hi;
	}
}
