/* hostmap.c — which file (device + inode) and offset a host address lies in, so a
 * copy straight out of an mmapped checkpoint can be attributed by file offset.
 * Fed by the mmap/munmap/mremap interposers (hooks_libc.c) from the very first
 * mapping of the process; a miss falls back to /proc/self/maps (mappings made
 * before the shim loaded, or by raw syscalls), rate-limited and with anonymous
 * ranges cached as negatives so heap copies do not re-read /proc every time.
 *
 * Self-contained on purpose: it runs inside mmap hooks, before constructors and
 * under malloc's locks, so it never calls malloc, stdio or other shim modules.
 * Readers (the copy path) use a seqlock: no lock, O(log n), retry on a concurrent
 * update. The table lives in raw anonymous mappings; when it grows, the old one
 * is kept mapped (a reader may still be searching it; total <= 2x the last size). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

struct hm_ent {
	uint64_t lo, hi;   /* [lo, hi) host addresses */
	uint64_t dev, ino; /* file identity */
	uint64_t off;      /* file offset at lo */
};
struct hm_tab {
	size_t cap;
	struct hm_ent e[];
};

static _Atomic(struct hm_tab *) hm_tab;
static atomic_size_t hm_n;
static atomic_uint hm_seq; /* odd while a writer changes the table */
static atomic_flag hm_wlock = ATOMIC_FLAG_INIT;

/* Anonymous ranges learnt from /proc: a miss inside one needs no new read until a
 * hooked (un)mapping overlaps it. Guarded by hm_wlock. */
#define HM_NEG 16
static struct {
	uint64_t lo, hi;
} hm_neg[HM_NEG];
static unsigned hm_neg_next;
static uint64_t hm_last_scan_ns;
#define HM_SCAN_MIN_NS 10000000ull /* at most ~100 /proc reads a second */

static void wlock(void)
{
	while (atomic_flag_test_and_set_explicit(&hm_wlock, memory_order_acquire))
		sched_yield();
}

static void wunlock(void)
{
	atomic_flag_clear_explicit(&hm_wlock, memory_order_release);
}

static void *raw_map(size_t bytes)
{
	long p = syscall(SYS_mmap, NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == -1 ? NULL : (void *)p;
}

/* ------------------------------------------------------------------ writers */
/* Writer side of the seqlock; wlock held. */
static void write_begin(void)
{
	atomic_fetch_add_explicit(&hm_seq, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static void write_end(void)
{
	atomic_fetch_add_explicit(&hm_seq, 1, memory_order_release);
}

/* Room for `more` entries; wlock held, inside write_begin/end. */
static int ensure_room(size_t more)
{
	struct hm_tab *t = atomic_load(&hm_tab), *nt;
	size_t n = atomic_load(&hm_n), cap;

	if (t && n + more <= t->cap)
		return 0;
	cap = t ? t->cap * 2 : 1024;
	nt = raw_map(sizeof(*nt) + cap * sizeof(nt->e[0]));
	if (!nt)
		return -ENOMEM;
	nt->cap = cap;
	if (t)
		memcpy(nt->e, t->e, n * sizeof(t->e[0]));
	atomic_store(&hm_tab, nt);
	return 0;
}

/* First entry with hi > addr. */
static size_t first_after(const struct hm_tab *t, size_t n, uint64_t addr)
{
	size_t a = 0, b = n;

	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (__atomic_load_n(&t->e[m].hi, __ATOMIC_RELAXED) <= addr)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

/* Remove [lo, hi) from the table, trimming or splitting entries; wlock held,
 * inside write_begin/end, room for one more entry ensured. */
static void punch(uint64_t lo, uint64_t hi)
{
	struct hm_tab *t = atomic_load(&hm_tab);
	size_t n = atomic_load(&hm_n), i, j;

	if (!t)
		return;
	i = first_after(t, n, lo);
	if (i < n && t->e[i].lo < lo && t->e[i].hi > hi) { /* split one entry */
		memmove(&t->e[i + 1], &t->e[i], (n - i) * sizeof(t->e[0]));
		t->e[i].hi = lo;
		t->e[i + 1].off += hi - t->e[i + 1].lo;
		t->e[i + 1].lo = hi;
		atomic_store(&hm_n, n + 1);
		return;
	}
	if (i < n && t->e[i].lo < lo) { /* trim the tail of the first */
		t->e[i].hi = lo;
		i++;
	}
	for (j = i; j < n && t->e[j].hi <= hi; j++)
		;                       /* entries wholly inside go */
	if (j < n && t->e[j].lo < hi) { /* trim the head of the last */
		t->e[j].off += hi - t->e[j].lo;
		t->e[j].lo = hi;
	}
	if (j > i) {
		memmove(&t->e[i], &t->e[j], (n - j) * sizeof(t->e[0]));
		atomic_store(&hm_n, n - (j - i));
	}
}

static void insert(const struct hm_ent *e)
{
	struct hm_tab *t = atomic_load(&hm_tab);
	size_t n = atomic_load(&hm_n), i = first_after(t, n, e->lo);

	memmove(&t->e[i + 1], &t->e[i], (n - i) * sizeof(t->e[0]));
	t->e[i] = *e;
	atomic_store(&hm_n, n + 1);
}

static void neg_forget(uint64_t lo, uint64_t hi)
{
	for (int i = 0; i < HM_NEG; i++)
		if (hm_neg[i].lo < hi && lo < hm_neg[i].hi)
			hm_neg[i].lo = hm_neg[i].hi = 0;
}

/* Replace whatever was at [e->lo, e->hi) by e (e->ino == 0: by nothing). */
static void replace_range(const struct hm_ent *e)
{
	wlock();
	neg_forget(e->lo, e->hi);
	write_begin();
	if (ensure_room(2) == 0) {
		punch(e->lo, e->hi);
		if (e->ino)
			insert(e);
	}
	write_end();
	wunlock();
}

void ms_hostmap_note_map(uint64_t addr, uint64_t len, int fd, uint64_t off)
{
	struct hm_ent e = { .lo = addr, .hi = addr + len, .off = off };
	struct stat st;

	if (!len)
		return;
	/* Only regular files: device files (the GPU driver's own mappings) never
	 * hold checkpoint bytes. */
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		e.dev = st.st_dev;
		e.ino = st.st_ino;
	}
	replace_range(&e);
}

void ms_hostmap_note_unmap(uint64_t addr, uint64_t len)
{
	struct hm_ent e = { .lo = addr, .hi = addr + len };

	if (len)
		replace_range(&e);
}

void ms_hostmap_note_remap(uint64_t old, uint64_t oldlen, uint64_t addr, uint64_t len, bool had,
                           const struct ms_fileref *was)
{
	struct hm_ent e = { .lo = addr, .hi = addr + len };

	ms_hostmap_note_unmap(old, oldlen);
	if (had) {
		e.dev = was->dev;
		e.ino = was->ino;
		e.off = was->offset;
	}
	replace_range(&e);
}

/* ------------------------------------------------------------------ readers */
static bool table_lookup(uint64_t addr, struct ms_fileref *out)
{
	struct hm_ent e;
	bool found;
	unsigned s;

	do {
		struct hm_tab *t;
		size_t n, i;

		s = atomic_load_explicit(&hm_seq, memory_order_acquire);
		if (s & 1) {
			sched_yield();
			continue;
		}
		t = atomic_load_explicit(&hm_tab, memory_order_acquire);
		n = atomic_load_explicit(&hm_n, memory_order_relaxed);
		found = false;
		if (t) {
			if (n > t->cap)
				n = t->cap;
			i = first_after(t, n, addr);
			if (i < n) {
				e.lo = __atomic_load_n(&t->e[i].lo, __ATOMIC_RELAXED);
				e.hi = __atomic_load_n(&t->e[i].hi, __ATOMIC_RELAXED);
				e.dev = __atomic_load_n(&t->e[i].dev, __ATOMIC_RELAXED);
				e.ino = __atomic_load_n(&t->e[i].ino, __ATOMIC_RELAXED);
				e.off = __atomic_load_n(&t->e[i].off, __ATOMIC_RELAXED);
				found = e.lo <= addr && addr < e.hi;
			}
		}
		atomic_thread_fence(memory_order_acquire);
	} while ((s & 1) || atomic_load_explicit(&hm_seq, memory_order_relaxed) != s);
	if (!found)
		return false;
	out->dev = e.dev;
	out->ino = e.ino;
	out->offset = e.off + (addr - e.lo);
	out->avail = e.hi - addr;
	return true;
}

static const char *parse_hex(const char *p, uint64_t *v)
{
	uint64_t x = 0;

	for (;; p++) {
		unsigned d;
		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (*p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			break;
		x = x * 16 + d;
	}
	*v = x;
	return p;
}

/* One /proc/self/maps line: "lo-hi perms off maj:min inode path". */
static bool parse_line(const char *p, struct hm_ent *e)
{
	uint64_t maj, min;

	p = parse_hex(p, &e->lo);
	if (*p++ != '-')
		return false;
	p = parse_hex(p, &e->hi);
	while (*p == ' ')
		p++;
	while (*p && *p != ' ')
		p++; /* perms */
	while (*p == ' ')
		p++;
	p = parse_hex(p, &e->off);
	while (*p == ' ')
		p++;
	p = parse_hex(p, &maj);
	if (*p++ != ':')
		return false;
	p = parse_hex(p, &min);
	while (*p == ' ')
		p++;
	e->ino = 0;
	for (; *p >= '0' && *p <= '9'; p++)
		e->ino = e->ino * 10 + (uint64_t)(*p - '0');
	while (*p == ' ')
		p++;
	if (*p != '/') /* anonymous, [heap], [stack], ... */
		e->ino = 0;
	e->dev = makedev(maj, min);
	return true;
}

/* The /proc/self/maps line containing addr, read with raw syscalls into a stack
 * buffer. 0 and *e filled (e->ino == 0: not a file), -ENOENT when no line holds it. */
static int scan_maps(uint64_t addr, struct hm_ent *e)
{
	char buf[4096], line[1024];
	size_t ll = 0;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), rc = -ENOENT;
	ssize_t got;

	if (fd < 0)
		return -errno;
	while (rc && (got = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < got && rc; i++) {
			if (buf[i] != '\n') {
				if (ll < sizeof(line) - 1)
					line[ll++] = buf[i];
				continue;
			}
			line[ll] = '\0';
			ll = 0;
			if (parse_line(line, e) && e->lo <= addr && addr < e->hi)
				rc = 0;
		}
	}
	close(fd);
	return rc;
}

static uint64_t coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The miss path: negatives first, then (rate-limited) /proc. */
static bool fallback_lookup(uint64_t addr, struct ms_fileref *out)
{
	struct hm_ent e;
	uint64_t now = coarse_ns();
	bool scan = true;

	wlock();
	for (int i = 0; i < HM_NEG; i++)
		if (hm_neg[i].lo <= addr && addr < hm_neg[i].hi)
			scan = false;
	if (scan && hm_last_scan_ns && now - hm_last_scan_ns < HM_SCAN_MIN_NS)
		scan = false;
	if (scan)
		hm_last_scan_ns = now ? now : 1;
	wunlock();
	if (!scan || scan_maps(addr, &e))
		return false;
	if (!e.ino) {
		wlock();
		hm_neg[hm_neg_next].lo = e.lo;
		hm_neg[hm_neg_next].hi = e.hi;
		hm_neg_next = (hm_neg_next + 1) % HM_NEG;
		wunlock();
		return false;
	}
	replace_range(&e); /* learnt: the next lookup hits the table */
	return table_lookup(addr, out);
}

int ms_hostmap_lookup(uint64_t addr, struct ms_fileref *out)
{
	if (table_lookup(addr, out) || fallback_lookup(addr, out))
		return out->ino ? 0 : -ENOENT;
	return -ENOENT;
}
