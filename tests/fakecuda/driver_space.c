/* driver_space.c — the fake device address space: one large PROT_NONE reservation
 * (MAP_NORESERVE, costs no memory) that every device pointer lies in, so "is this a
 * device pointer" is a range check. Two sorted tables describe what is carved out of
 * it: `vas` (cuMemAlloc allocations and cuMemAddressReserve reservations) and `maps`
 * (cuMemMap mappings inside reservations). Both are guarded by fc_lock.
 */
#include "fakecuda.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

pthread_rwlock_t fc_lock = PTHREAD_RWLOCK_INITIALIZER;

static uintptr_t space_base, space_end;
static uintptr_t cursor; /* where the next carve looks first */
static atomic_ullong next_id = 1;

struct table {
	struct fc_range *v; /* sorted by va, non-overlapping */
	size_t n, cap;
};
static struct table vas, maps;

/* Large first: a test may reserve a TiB of addresses as on a real H200. */
int fc_space_init(void)
{
	static const unsigned long long sizes[] = { 4ull << 40, 1ull << 40, 256ull << 30, 64ull << 30 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = (size_t)sizes[i] + FC_GRANULARITY;
		void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			continue;
		space_base = ((uintptr_t)p + FC_GRANULARITY - 1) & ~(uintptr_t)(FC_GRANULARITY - 1);
		space_end = space_base + (size_t)sizes[i];
		cursor = space_base;
		return 0;
	}
	return -ENOMEM;
}

bool fc_in_space(uintptr_t p)
{
	return p >= space_base && p < space_end;
}

uint64_t fc_next_id(void)
{
	return atomic_fetch_add(&next_id, 1);
}

/* Index of the first entry ending after p (n when none). */
static size_t lower(const struct table *t, uintptr_t p)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->v[mid].va + t->v[mid].size <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool overlaps(const struct table *t, uintptr_t va, size_t size)
{
	size_t i = lower(t, va);
	return i < t->n && t->v[i].va < va + size;
}

static int insert(struct table *t, const struct fc_range *r)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct fc_range *v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	size_t i = lower(t, r->va);
	memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof(*r));
	t->v[i] = *r;
	t->n++;
	return 0;
}

static void remove_at(struct table *t, size_t i)
{
	memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(t->v[0]));
	t->n--;
}

static uintptr_t align_up(uintptr_t p, size_t align)
{
	return (p + align - 1) & ~(uintptr_t)(align - 1);
}

static bool fits(uintptr_t start, size_t size)
{
	return start >= space_base && start <= space_end && size <= space_end - start &&
	       !overlaps(&vas, start, size);
}

uintptr_t fc_space_carve(size_t size, size_t align, uintptr_t hint)
{
	uintptr_t start, prev_end = space_base;

	if (align < FC_PAGE)
		align = FC_PAGE;
	if (hint && hint % align == 0 && fits(hint, size))
		return hint;
	start = align_up(cursor, align);
	if (fits(start, size))
		goto found;
	for (size_t i = 0; i <= vas.n; i++) {
		uintptr_t next = i < vas.n ? vas.v[i].va : space_end;
		start = align_up(prev_end, align);
		if (start <= next && size <= next - start)
			goto found;
		if (i < vas.n)
			prev_end = vas.v[i].va + vas.v[i].size;
	}
	return 0;
found:
	cursor = start + size;
	return start;
}

int fc_vas_insert(const struct fc_range *r)
{
	return insert(&vas, r);
}

struct fc_range *fc_vas_find(uintptr_t p)
{
	size_t i = lower(&vas, p);
	return i < vas.n && vas.v[i].va <= p ? &vas.v[i] : NULL;
}

void fc_vas_remove(uintptr_t va)
{
	size_t i = lower(&vas, va);
	if (i < vas.n && vas.v[i].va == va)
		remove_at(&vas, i);
}

int fc_maps_insert(const struct fc_range *r)
{
	return insert(&maps, r);
}

void fc_maps_remove_at(size_t i)
{
	remove_at(&maps, i);
}

size_t fc_maps_count(void)
{
	return maps.n;
}

struct fc_range *fc_maps_at(size_t i)
{
	return &maps.v[i];
}

long fc_maps_index(uintptr_t p)
{
	size_t i = lower(&maps, p);
	return i < maps.n && maps.v[i].va <= p ? (long)i : -1;
}

/* An allocation must hold the whole range; in reserved space the range may run
 * across consecutive mappings (expandable segments map piece by piece), each of
 * which must grant prot. */
bool fc_accessible(uintptr_t p, size_t n, int prot)
{
	uintptr_t end = p + n;

	if (!fc_in_space(p) || end < p)
		return false;
	const struct fc_range *r = fc_vas_find(p);
	if (!r)
		return false;
	if (r->kind == FC_ALLOC)
		return end <= r->va + r->req;
	long i = fc_maps_index(p);
	if (i < 0)
		return false;
	for (uintptr_t cur = p; (size_t)i < maps.n; i++) {
		const struct fc_range *m = &maps.v[i];
		if (m->va > cur || (m->prot & prot) != prot)
			return false;
		cur = m->va + m->size;
		if (cur >= end)
			return true;
	}
	return false;
}

int fc_space_unback(uintptr_t va, size_t size)
{
	void *p = mmap((void *)va, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
	               -1, 0);
	return p == MAP_FAILED ? -errno : 0;
}
