/* registry.c — layer and tensor descriptors, and the two interval indexes the copy
 * path searches: by device address and by (file dev, ino, offset).
 *
 * Readers (every intercepted copy) never allocate and never lock in the steady
 * state: each index is an immutable snapshot of sorted runs published through an
 * atomic pointer; a writer (serialized by reg_lock) builds a new snapshot,
 * publishes it, waits for a grace period (a two-counter epoch scheme, below) and
 * then frees what no reader can still hold.
 *
 * The device index is the hot one. Its runs are struct-of-arrays (a search reads
 * only the 8-byte starts), their sizes fall geometrically (each more than twice
 * the next), and new ranges (registration, bind) first collect in a writer-side
 * sorted pending array: the first lookup after a burst of registrations merges the
 * whole burst at once (1M registrations: one sort, one run), so registration is
 * amortized O(log n) and a lookup that follows a registration still sees it. Each
 * thread also keeps the few ranges around its last hit (loaders copy tensor after
 * tensor), valid while the index generation is unchanged. Device ranges never
 * overlap across the whole index, so at most one run holds a given address.
 *
 * The file index (bulk-loaded from checkpoints and manifests) keeps a leveled
 * array of (dev, ino, lo) entries, like an LSM tree (run i holds at most 8^(i+1)). */
#include <errno.h>
#include <regex.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "registry.h"

/* -------------------------------------------------------------------- state */
struct ms_ent {
	uint64_t k1, k2; /* file dev, ino (0, 0 in the device index) */
	uint64_t lo, hi; /* [lo, hi): device addresses or file offsets */
	struct ms_reg_tensor *t;
};
struct ms_run {
	size_t n;
	struct ms_ent e[];
};
#define MS_LEVELS 12
struct ms_index {
	struct ms_run *lv[MS_LEVELS]; /* NULL when empty; level i holds <= 8^(i+1) */
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct ms_index *) file_idx;
static atomic_size_t live_tensors;

/* Everything below is guarded by reg_lock. */
static struct ms_reg_tensor **tensors;
static size_t ntensors, tensors_cap;
static struct ms_reg_layer **layers;
static size_t nlayers, layers_cap;

/* Name -> object, open addressing; entries are never removed (objects live on).
 * Each slot keeps the name's hash, so a probe compares strings only on a full
 * hash match (one cache line per probe, not one per name). */
struct name_slot {
	uint64_t hash;
	const char *key; /* NULL: empty */
	void *val;
};
struct name_tab {
	struct name_slot *slot;
	size_t n, cap;
};
static struct name_tab tensor_names, layer_names;

/* How names map to layers and which are skipped (from ms_cfg at load time). */
static struct {
	bool set;
	int depth;
	bool has_re;
	regex_t re;
	char skip[sizeof(ms_cfg.skip)]; /* the list, each comma replaced by a NUL */
	size_t skip_len;
} naming;
static bool trace_live; /* records are written (set by ms_registry_load) */

/* ------------------------------------------------------- grace periods (epoch) */
/* Readers announce themselves in the counter of the current epoch's parity; a
 * writer flips the epoch after publishing and waits until the old parity drains.
 * A reader that raced with the flip sees the epoch changed and re-enters, so once
 * the old counter reads zero no reader holds the previous snapshot. */
static atomic_uint_fast64_t epoch;
static atomic_uint_fast64_t readers[2];

static unsigned read_enter(void)
{
	for (;;) {
		uint64_t e = atomic_load(&epoch);
		atomic_fetch_add(&readers[e & 1], 1);
		if (atomic_load(&epoch) == e)
			return (unsigned)(e & 1);
		atomic_fetch_sub(&readers[e & 1], 1);
	}
}

static void read_leave(unsigned parity)
{
	atomic_fetch_sub(&readers[parity], 1);
}

/* Writer, reg_lock held, after publishing: no reader holds anything older. */
static void synchronize(void)
{
	uint64_t e = atomic_fetch_add(&epoch, 1);

	while (atomic_load(&readers[e & 1]) != 0)
		sched_yield();
}

/* ------------------------------------------------------------------ indexes */
static int ent_cmp_key(const struct ms_ent *e, uint64_t k1, uint64_t k2, uint64_t lo)
{
	if (e->k1 != k1)
		return e->k1 < k1 ? -1 : 1;
	if (e->k2 != k2)
		return e->k2 < k2 ? -1 : 1;
	if (e->lo != lo)
		return e->lo < lo ? -1 : 1;
	return 0;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct ms_ent *y = b;
	return ent_cmp_key(a, y->k1, y->k2, y->lo);
}

/* Index of the first entry whose key is > (k1, k2, lo). */
static size_t run_upper(const struct ms_run *r, uint64_t k1, uint64_t k2, uint64_t lo)
{
	size_t a = 0, b = r->n;

	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (ent_cmp_key(&r->e[m], k1, k2, lo) <= 0)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

/* Hot path: the entry of (k1, k2) containing x. */
static bool index_find(_Atomic(struct ms_index *) *pidx, uint64_t k1, uint64_t k2, uint64_t x,
                       struct ms_hit *hit)
{
	unsigned p = read_enter();
	struct ms_index *idx = atomic_load(pidx);
	bool found = false;

	for (int i = 0; idx && i < MS_LEVELS && !found; i++) {
		const struct ms_run *r = idx->lv[i];
		size_t u;
		if (!r)
			continue;
		u = run_upper(r, k1, k2, x);
		if (u && r->e[u - 1].k1 == k1 && r->e[u - 1].k2 == k2 && x < r->e[u - 1].hi) {
			hit->t = r->e[u - 1].t;
			hit->lo = r->e[u - 1].lo;
			hit->hi = r->e[u - 1].hi;
			found = true;
		}
	}
	read_leave(p);
	return found;
}

/* Hot path: the lowest start of (k1, k2) above x. */
static uint64_t index_next(_Atomic(struct ms_index *) *pidx, uint64_t k1, uint64_t k2, uint64_t x)
{
	unsigned p = read_enter();
	struct ms_index *idx = atomic_load(pidx);
	uint64_t best = UINT64_MAX;

	for (int i = 0; idx && i < MS_LEVELS; i++) {
		const struct ms_run *r = idx->lv[i];
		size_t u;
		if (!r)
			continue;
		u = run_upper(r, k1, k2, x);
		if (u < r->n && r->e[u].k1 == k1 && r->e[u].k2 == k2 && r->e[u].lo < best)
			best = r->e[u].lo;
	}
	read_leave(p);
	return best;
}

static struct ms_run *run_new(size_t n)
{
	struct ms_run *r = malloc(sizeof(*r) + n * sizeof(struct ms_ent));

	if (r)
		r->n = n;
	return r;
}

static struct ms_run *run_merge(const struct ms_run *a, const struct ms_run *b)
{
	size_t na = a ? a->n : 0, nb = b ? b->n : 0, i = 0, j = 0, k = 0;
	struct ms_run *r = run_new(na + nb);

	if (!r)
		return NULL;
	while (i < na && j < nb)
		r->e[k++] = ent_cmp(&a->e[i], &b->e[j]) <= 0 ? a->e[i++] : b->e[j++];
	while (i < na)
		r->e[k++] = a->e[i++];
	while (j < nb)
		r->e[k++] = b->e[j++];
	return r;
}

static size_t level_cap(int i)
{
	return (size_t)8 << (3 * i);
}

/* Publish next in place of *pidx, wait out readers, free what only the old
 * snapshot referenced. reg_lock held. */
static void index_publish(_Atomic(struct ms_index *) *pidx, struct ms_index *next)
{
	struct ms_index *old = atomic_exchange(pidx, next);

	synchronize();
	if (!old)
		return;
	for (int i = 0; i < MS_LEVELS; i++) {
		bool kept = false;
		for (int j = 0; next && j < MS_LEVELS; j++)
			kept |= old->lv[i] == next->lv[j];
		if (!kept)
			free(old->lv[i]);
	}
	free(old);
}

/* Add one entry: leveled merge, copying only the runs that overflow. reg_lock held. */
static int index_insert(_Atomic(struct ms_index *) *pidx, const struct ms_ent *e)
{
	struct ms_index *old = atomic_load(pidx), *next = calloc(1, sizeof(*next));
	struct ms_run *carry = run_new(1);
	int i;

	if (!next || !carry)
		goto out_nomem;
	carry->e[0] = *e;
	if (old)
		*next = *old;
	for (i = 0; i < MS_LEVELS; i++) {
		struct ms_run *m = run_merge(next->lv[i], carry);
		if (!m)
			goto out_nomem;
		free(carry); /* carries are private to this insert */
		carry = NULL;
		if (m->n <= level_cap(i) || i == MS_LEVELS - 1) {
			next->lv[i] = m;
			break;
		}
		next->lv[i] = NULL;
		carry = m;
	}
	index_publish(pidx, next);
	return 0;
out_nomem:
	free(carry);
	free(next);
	return -ENOMEM;
}

/* Rebuild an index from scratch as one run (bulk loads, unregistration). */
static int index_build(_Atomic(struct ms_index *) *pidx, struct ms_run *all)
{
	struct ms_index *next = calloc(1, sizeof(*next));
	int i = 0;

	if (!next) {
		free(all);
		return -ENOMEM;
	}
	qsort(all->e, all->n, sizeof(all->e[0]), ent_cmp);
	while (i < MS_LEVELS - 1 && all->n > level_cap(i))
		i++;
	if (all->n)
		next->lv[i] = all;
	else
		free(all);
	index_publish(pidx, next);
	return 0;
}

/* ------------------------------------------------------------- huge pages */
/* An anonymous mapping of bytes (a multiple of 2 MiB), 2 MiB aligned, with
 * transparent huge pages asked for: what the copy path reads at random among a
 * million tensors (index runs, tensor slabs) then needs one TLB entry per 2 MiB. */
static void *huge_map(size_t bytes)
{
	size_t align = 2u << 20;
	char *p, *a;

	/* Over-map by the alignment and trim both ends. */
	p = mmap(NULL, bytes + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	a = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	if (p + align > a)
		munmap(a + bytes, (size_t)(p + align - a));
	madvise(a, bytes, MADV_HUGEPAGE);
	return a;
}

/* ------------------------------------------------------------- device index */
/* 32 bytes, two to a cache line. The layer (t->layer, immutable) is repeated
 * here so that a hit can fetch the tensor's hot line and the layer's counters at
 * the same time instead of one after the other. */
struct dev_ent {
	uint64_t lo, hi;
	struct ms_reg_tensor *t;
	struct ms_reg_layer *l;
};
/* One sorted run of device ranges in one allocation: the starts alone (what a
 * search reads: 8 per cache line) and the whole entries (what a hit reads: its
 * end, tensor and neighbours on one line). Large runs are mapped on their own,
 * 2 MiB aligned with transparent huge pages asked for (a search at a million
 * ranges then costs no page walk); `mapped` is their length, 0 for malloc. */
struct dev_run {
	size_t n;
	uint64_t *lo;      /* starts, sorted */
	struct dev_ent *e; /* [lo, hi) -> t, same order, disjoint */
	size_t mapped;
};
#define DEV_RUNS 64
/* Runs largest first; each holds more than twice the entries of the next, so a
 * lookup searches O(log n) runs at worst and one after a bulk registration. */
struct dev_index {
	int nruns;
	struct dev_run *run[DEV_RUNS];
};
static _Atomic(struct dev_index *) dev_snap;
/* Bumped after every publish (after the pointer store): a thread's cached ranges
 * are good while the generation they were read under is current. */
static atomic_uint_fast64_t dev_gen = 1;
/* Set (release) when pending holds ranges a lookup must merge first. */
static atomic_bool dev_dirty;
/* Writer side, guarded by reg_lock: ranges registered or bound since the last
 * merge, sorted by lo, disjoint from each other and from the snapshot. */
static struct dev_ent *pending;
static size_t npending, pending_cap;
/* Beyond this a registration that does not append in address order merges the
 * pending ranges first (an insertion moves at most this many entries). */
#define PENDING_SORTED_MAX 1024

/* Per thread: up to DEV_WIN consecutive ranges of one run around the last hit,
 * read under generation `gen` (0: empty). initial-exec: no __tls_get_addr. */
#define DEV_WIN 4
static __thread struct {
	uint64_t gen;
	uint64_t lo[DEV_WIN], hi[DEV_WIN];
	struct ms_reg_tensor *t[DEV_WIN];
} tl_win __attribute__((tls_model("initial-exec")));

#define DEV_RUN_HEAD 64 /* header, rounded so that the entries are line-aligned */
#define HUGE_BYTES   (2u << 20)

static struct dev_run *dev_run_new(size_t n)
{
	size_t bytes = DEV_RUN_HEAD + n * (sizeof(uint64_t) + sizeof(struct dev_ent)), mapped = 0;
	struct dev_run *r;

	if (bytes >= 2 * HUGE_BYTES) {
		mapped = (bytes + HUGE_BYTES - 1) & ~(size_t)(HUGE_BYTES - 1);
		r = huge_map(mapped);
	} else {
		r = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
	}
	if (!r)
		return NULL;
	r->n = n;
	r->mapped = mapped;
	r->e = (struct dev_ent *)(void *)((char *)r + DEV_RUN_HEAD);
	r->lo = (uint64_t *)(r->e + n);
	return r;
}

static void dev_run_free(struct dev_run *r)
{
	if (r && r->mapped)
		munmap(r, r->mapped);
	else
		free(r);
}

/* Index of the last start <= x, or SIZE_MAX when every start is above x.
 * Branch-free halving; the compiler turns the step into a conditional move. */
static size_t run_floor(const uint64_t *lo, size_t n, uint64_t x)
{
	const uint64_t *base = lo;

	if (!n || lo[0] > x)
		return SIZE_MAX;
	while (n > 1) {
		size_t half = n / 2;
		__builtin_prefetch(&base[half / 2]);
		__builtin_prefetch(&base[half + half / 2]);
		base = base[half] <= x ? base + half : base;
		n -= half;
	}
	return (size_t)(base - lo);
}

/* Search a snapshot (the caller keeps it alive: epoch, or reg_lock). On a hit,
 * fill the thread's window when win is set. */
static bool dev_search(const struct dev_index *idx, uint64_t x, struct ms_hit *hit, uint64_t gen, bool win)
{
	for (int i = 0; idx && i < idx->nruns; i++) {
		const struct dev_run *r = idx->run[i];
		size_t k = run_floor(r->lo, r->n, x);

		if (k == SIZE_MAX || x >= r->e[k].hi)
			continue;
		/* The counting that follows writes both: start both misses now. */
		__builtin_prefetch(r->e[k].t, 1);
		__builtin_prefetch(&r->e[k].l->ndone, 1);
		hit->t = r->e[k].t;
		hit->lo = r->e[k].lo;
		hit->hi = r->e[k].hi;
		if (win) {
			size_t w = r->n - k < DEV_WIN ? r->n - k : DEV_WIN;
			for (size_t j = 0; j < DEV_WIN; j++) {
				tl_win.lo[j] = j < w ? r->e[k + j].lo : 0;
				tl_win.hi[j] = j < w ? r->e[k + j].hi : 0;
				tl_win.t[j] = j < w ? r->e[k + j].t : NULL;
			}
			tl_win.gen = gen;
		}
		return true;
	}
	return false;
}

static uint64_t dev_search_next(const struct dev_index *idx, uint64_t x)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; idx && i < idx->nruns; i++) {
		const struct dev_run *r = idx->run[i];
		size_t k = run_floor(r->lo, r->n, x);
		size_t u = k == SIZE_MAX ? 0 : k + 1;

		if (u < r->n && r->lo[u] < best)
			best = r->lo[u];
	}
	return best;
}

static int dev_ent_cmp(const void *a, const void *b)
{
	const struct dev_ent *x = a, *y = b;

	return (x->lo > y->lo) - (x->lo < y->lo);
}

static struct dev_run *dev_merge(const struct dev_run *a, const struct dev_run *b)
{
	size_t i = 0, j = 0, k = 0;
	struct dev_run *r = dev_run_new(a->n + b->n);

	if (!r)
		return NULL;
	while (i < a->n || j < b->n) {
		bool from_a = j == b->n || (i < a->n && a->lo[i] <= b->lo[j]);
		const struct dev_run *s = from_a ? a : b;
		size_t x = from_a ? i++ : j++;

		r->e[k] = s->e[x];
		r->lo[k++] = s->lo[x];
	}
	return r;
}

/* Publish next in place of the snapshot, wait out readers, free the runs only
 * the old one held. reg_lock held. */
static void dev_publish(struct dev_index *next)
{
	struct dev_index *old = atomic_exchange(&dev_snap, next);

	atomic_fetch_add(&dev_gen, 1);
	synchronize();
	if (!old)
		return;
	for (int i = 0; i < old->nruns; i++) {
		bool kept = false;
		for (int j = 0; next && j < next->nruns; j++)
			kept |= old->run[i] == next->run[j];
		if (!kept)
			dev_run_free(old->run[i]);
	}
	free(old);
}

/* Merge the pending ranges into the snapshot: one new run, merged with the
 * smaller runs it outgrows (amortized O(log n) moves per range). reg_lock held. */
static int dev_flush_locked(void)
{
	struct dev_index *old = atomic_load(&dev_snap), *next;
	struct dev_run *r, *m;

	if (!npending) {
		atomic_store_explicit(&dev_dirty, false, memory_order_relaxed);
		return 0;
	}
	next = calloc(1, sizeof(*next));
	r = dev_run_new(npending);
	if (!next || !r)
		goto out_nomem;
	for (size_t i = 0; i < npending; i++) {
		r->e[i] = pending[i];
		r->lo[i] = pending[i].lo;
	}
	if (old)
		*next = *old;
	while (next->nruns && (next->nruns == DEV_RUNS || next->run[next->nruns - 1]->n <= 2 * r->n)) {
		m = dev_merge(next->run[next->nruns - 1], r);
		if (!m)
			goto out_nomem;
		dev_run_free(r); /* r is private to this merge; the run it absorbed is freed by publish */
		r = m;
		next->nruns--;
	}
	next->run[next->nruns++] = r;
	dev_publish(next);
	npending = 0;
	atomic_store_explicit(&dev_dirty, false, memory_order_release);
	return 0;
out_nomem:
	dev_run_free(r);
	free(next);
	return -ENOMEM;
}

/* A reader found ranges waiting: merge them before searching, so that a lookup
 * made after a registration (on any thread that saw it) finds it. */
static void dev_flush_for_reader(void)
{
	pthread_mutex_lock(&reg_lock);
	if (dev_flush_locked())
		ms_say("out of memory indexing device ranges; copies into %zu new tensors are not attributed",
		       npending);
	pthread_mutex_unlock(&reg_lock);
}

/* Pending position of the first range with lo > x. reg_lock held. */
static size_t pending_upper(uint64_t x)
{
	size_t a = 0, b = npending;

	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (pending[m].lo <= x)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

/* True when [lo, hi) overlaps an indexed or pending range. reg_lock held (the
 * writer keeps the snapshot alive; no epoch needed). One search per run. */
static bool dev_overlaps_locked(uint64_t lo, uint64_t hi)
{
	const struct dev_index *idx = atomic_load(&dev_snap);
	size_t u;

	for (int i = 0; idx && i < idx->nruns; i++) {
		const struct dev_run *r = idx->run[i];
		size_t k = run_floor(r->lo, r->n, lo);

		if (k != SIZE_MAX && lo < r->e[k].hi)
			return true;
		k = k == SIZE_MAX ? 0 : k + 1;
		if (k < r->n && r->lo[k] < hi)
			return true;
	}
	if (!npending || lo >= pending[npending - 1].hi)
		return false; /* appending in address order: the common case */
	u = pending_upper(lo);
	if (u && lo < pending[u - 1].hi)
		return true;
	return u < npending && pending[u].lo < hi;
}

/* Queue [lo, hi) -> t (checked by dev_overlaps_locked). Appending in address
 * order is O(1); an insertion elsewhere moves at most PENDING_SORTED_MAX ranges
 * (beyond that the pending ones are merged first). reg_lock held. */
static int dev_add_locked(uint64_t lo, uint64_t hi, struct ms_reg_tensor *t)
{
	size_t u = npending && lo < pending[npending - 1].lo ? pending_upper(lo) : npending;

	if (u < npending && npending >= PENDING_SORTED_MAX) {
		int rc = dev_flush_locked();
		if (rc)
			return rc;
		u = 0;
	}
	if (npending == pending_cap) {
		size_t cap = pending_cap ? pending_cap * 2 : 256;
		struct dev_ent *p = realloc(pending, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		pending = p;
		pending_cap = cap;
	}
	memmove(&pending[u + 1], &pending[u], (npending - u) * sizeof(*pending));
	pending[u] = (struct dev_ent){ lo, hi, t, t->layer };
	npending++;
	atomic_store_explicit(&dev_dirty, true, memory_order_release);
	return 0;
}

/* Replace the whole device index by the sorted ranges in d (n entries), as one
 * run; pending ranges are dropped (d holds every live one). reg_lock held. */
static int dev_build_locked(struct dev_ent *d, size_t n)
{
	struct dev_index *next = calloc(1, sizeof(*next));
	struct dev_run *r = n ? dev_run_new(n) : NULL;

	if (!next || (n && !r)) {
		free(next);
		dev_run_free(r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		r->e[i] = d[i];
		r->lo[i] = d[i].lo;
	}
	if (r)
		next->run[next->nruns++] = r;
	npending = 0;
	dev_publish(next);
	atomic_store_explicit(&dev_dirty, false, memory_order_release);
	return 0;
}

/* Hot path. The thread's window first (no shared write, no search), then the
 * snapshot under the epoch. */
static bool dev_find(uint64_t x, struct ms_hit *hit)
{
	uint64_t gen = atomic_load_explicit(&dev_gen, memory_order_acquire);
	unsigned p;
	bool found;

	if (MS_LIKELY(tl_win.gen == gen)) {
		for (int j = 0; j < DEV_WIN; j++) {
			if (x - tl_win.lo[j] < tl_win.hi[j] - tl_win.lo[j]) {
				hit->t = tl_win.t[j];
				hit->lo = tl_win.lo[j];
				hit->hi = tl_win.hi[j];
				return true;
			}
		}
	}
	if (MS_UNLIKELY(atomic_load_explicit(&dev_dirty, memory_order_acquire))) {
		dev_flush_for_reader();
		gen = atomic_load_explicit(&dev_gen, memory_order_acquire);
	}
	p = read_enter();
	found = dev_search(atomic_load_explicit(&dev_snap, memory_order_acquire), x, hit, gen, true);
	read_leave(p);
	return found;
}

static uint64_t dev_next(uint64_t x)
{
	unsigned p;
	uint64_t best;

	if (MS_UNLIKELY(atomic_load_explicit(&dev_dirty, memory_order_acquire)))
		dev_flush_for_reader();
	p = read_enter();
	best = dev_search_next(atomic_load_explicit(&dev_snap, memory_order_acquire), x);
	read_leave(p);
	return best;
}

/* Device ranges must not overlap (a lookup returns one tensor): after sorting,
 * a range overlapping its predecessor's loses its device range (it can still be
 * bound by a later copy elsewhere). Returns the entries kept. */
static size_t drop_overlaps(struct dev_ent *d, size_t n)
{
	size_t k = 0, dropped = 0;

	qsort(d, n, sizeof(d[0]), dev_ent_cmp);
	for (size_t i = 0; i < n; i++) {
		if (k && d[i].lo < d[k - 1].hi) {
			d[i].t->dev = 0;
			dropped++;
			continue;
		}
		d[k++] = d[i];
	}
	if (dropped)
		ms_warn("%zu tensor descriptor(s) overlap another's device range; their device "
		        "addresses were ignored",
		        dropped);
	return k;
}

static int rebuild_indexes(void)
{
	struct dev_ent *d = malloc((ntensors ? ntensors : 1) * sizeof(*d));
	struct ms_run *f = run_new(ntensors);
	size_t nd = 0, nf = 0;
	int rc;

	if (!d || !f) {
		free(d);
		free(f);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ntensors; i++) {
		struct ms_reg_tensor *t = tensors[i];
		if (t->dead)
			continue;
		if (t->dev && t->nbytes)
			d[nd++] = (struct dev_ent){ t->dev, t->dev + t->nbytes, t, t->layer };
		if (t->file_ino && t->flen)
			f->e[nf++] =
			        (struct ms_ent){ t->file_dev, t->file_ino, t->foff, t->foff + t->flen, t };
	}
	f->n = nf;
	nd = drop_overlaps(d, nd);
	rc = dev_build_locked(d, nd);
	free(d);
	if (!rc)
		rc = index_build(&file_idx, f);
	else
		free(f);
	return rc;
}

bool ms_registry_empty(void)
{
	return atomic_load_explicit(&live_tensors, memory_order_relaxed) == 0;
}

bool ms_registry_find_dev(uint64_t addr, struct ms_hit *hit)
{
	return dev_find(addr, hit);
}

uint64_t ms_registry_next_dev(uint64_t addr)
{
	return dev_next(addr);
}

bool ms_registry_find_file(uint64_t dev, uint64_t ino, uint64_t off, struct ms_hit *hit)
{
	return index_find(&file_idx, dev, ino, off, hit);
}

uint64_t ms_registry_next_file(uint64_t dev, uint64_t ino, uint64_t off)
{
	return index_next(&file_idx, dev, ino, off);
}

/* ------------------------------------------------------------------ records */
/* "4,8" (decimal, comma-separated), "-" for a scalar. buf holds MS_MAX_DIMS * 21
 * bytes at least (registration path: no stdio). */
static void shape_str(char *buf, size_t cap, int ndim, const int64_t *v)
{
	size_t len = 0;

	if (ndim == 0) {
		snprintf(buf, cap, "-");
		return;
	}
	for (int i = 0; i < ndim && len + 22 <= cap; i++) {
		uint64_t x = (uint64_t)v[i];
		char tmp[21];
		size_t n = 0;

		if (i)
			buf[len++] = ',';
		if (v[i] < 0) {
			buf[len++] = '-';
			x = -x;
		}
		do {
			tmp[n++] = (char)('0' + x % 10);
			x /= 10;
		} while (x);
		while (n)
			buf[len++] = tmp[--n];
	}
	buf[len] = '\0';
}

static void trace_layer(struct ms_reg_layer *l)
{
	struct ms_line line;

	if (!trace_live || l->traced)
		return;
	l->traced = true;
	ms_line_begin(&line, MS_REC_LAYER);
	ms_line_u64(&line, "id", l->id);
	ms_line_str(&line, "name", l->name);
	ms_line_emit(&line);
}

static void trace_tensor(struct ms_reg_tensor *t)
{
	struct ms_line line;
	char buf[MS_MAX_DIMS * 22 + 2];

	if (!trace_live || t->traced)
		return;
	trace_layer(t->layer);
	t->traced = true;
	ms_line_begin(&line, MS_REC_TENSOR);
	ms_line_u64(&line, "id", t->id);
	ms_line_u64(&line, "layer", t->layer->id);
	ms_line_str(&line, "name", t->name);
	ms_line_str(&line, "dtype", t->dtype);
	ms_line_u64(&line, "esize", t->ebits % 8 ? 0 : t->ebits / 8);
	ms_line_u64(&line, "ebits", t->ebits);
	shape_str(buf, sizeof(buf), t->ndim, t->shape);
	ms_line_str(&line, "shape", buf);
	shape_str(buf, sizeof(buf), t->ndim, t->stride);
	ms_line_str(&line, "stride", buf);
	ms_line_u64(&line, "elems", t->expected);
	ms_line_u64(&line, "skip", t->skip);
	if (t->file) {
		ms_line_str(&line, "file", t->file);
		ms_line_u64(&line, "foff", t->foff);
		ms_line_u64(&line, "flen", t->flen);
	}
	if (t->dev)
		ms_line_hex(&line, "dev", t->dev);
	ms_line_emit(&line);
}

/* ------------------------------------------------------------------- naming */
static void naming_configure(const struct ms_config *cfg)
{
	if (naming.has_re)
		regfree(&naming.re);
	naming.has_re = false;
	naming.depth = cfg->layer_depth;
	if (cfg->layer_pattern[0]) {
		if (regcomp(&naming.re, cfg->layer_pattern, REG_EXTENDED) == 0)
			naming.has_re = true;
		else
			ms_warn("METASHIM_LAYER_PATTERN '%s' is not a valid POSIX extended regex; "
			        "layers are named by the last dot instead",
			        cfg->layer_pattern);
	}
	snprintf(naming.skip, sizeof(naming.skip), "%s", cfg->skip);
	naming.skip_len = strlen(naming.skip);
	for (size_t i = 0; i < naming.skip_len; i++)
		if (naming.skip[i] == ',')
			naming.skip[i] = '\0';
	naming.set = true;
}

static void naming_ensure(void)
{
	if (!naming.set)
		naming_configure(&ms_cfg);
}

static void copy_prefix(char *buf, size_t cap, const char *s, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
}

/* reg_lock held. */
static void layer_of_locked(const char *name, char *buf, size_t cap)
{
	const char *dot;

	naming_ensure();
	if (naming.has_re) {
		regmatch_t m;
		if (regexec(&naming.re, name, 1, &m, 0) == 0 && m.rm_eo > m.rm_so) {
			copy_prefix(buf, cap, name + m.rm_so, (size_t)(m.rm_eo - m.rm_so));
			return;
		}
	}
	if (naming.depth > 0) {
		const char *p = name;
		int k = 0;
		while ((p = strchr(p, '.')) && ++k < naming.depth)
			p++;
		if (p) { /* at least depth+1 components: keep the first depth */
			copy_prefix(buf, cap, name, (size_t)(p - name));
			return;
		}
	}
	dot = strrchr(name, '.');
	copy_prefix(buf, cap, name, dot ? (size_t)(dot - name) : strlen(name));
}

void ms_registry_layer_of(const char *name, char *buf, size_t cap)
{
	pthread_mutex_lock(&reg_lock);
	layer_of_locked(name, buf, cap);
	pthread_mutex_unlock(&reg_lock);
}

/* reg_lock held. Each word of the list is a NUL-terminated piece of naming.skip
 * (split once at configuration, searched with strstr). */
static bool skipped_locked(const char *name)
{
	for (size_t i = 0; i < naming.skip_len; i += strlen(naming.skip + i) + 1)
		if (naming.skip[i] && strstr(name, naming.skip + i))
			return true;
	return false;
}

bool ms_registry_is_skipped(const char *name)
{
	bool r;

	pthread_mutex_lock(&reg_lock);
	naming_ensure();
	r = skipped_locked(name);
	pthread_mutex_unlock(&reg_lock);
	return r;
}

/* -------------------------------------------------------------- name tables */
static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static void *tab_get(const struct name_tab *t, const char *key)
{
	uint64_t h = name_hash(key);

	if (!t->cap)
		return NULL;
	for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		const struct name_slot *e = &t->slot[i];
		if (!e->key)
			return NULL;
		if (e->hash == h && !strcmp(e->key, key))
			return e->val;
	}
}

/* Insert or replace, the hash known. */
static void tab_put_hashed(struct name_tab *t, uint64_t h, const char *key, void *val)
{
	size_t i;

	for (i = h & (t->cap - 1); t->slot[i].key; i = (i + 1) & (t->cap - 1)) {
		if (t->slot[i].hash == h && !strcmp(t->slot[i].key, key)) {
			t->slot[i].key = key;
			t->slot[i].val = val;
			return;
		}
	}
	t->slot[i] = (struct name_slot){ h, key, val };
	t->n++;
}

static int tab_grow(struct name_tab *t)
{
	struct name_tab n = { 0 };

	n.cap = t->cap ? t->cap * 2 : 64;
	n.slot = calloc(n.cap, sizeof(*n.slot));
	if (!n.slot)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slot[i].key)
			tab_put_hashed(&n, t->slot[i].hash, t->slot[i].key, t->slot[i].val);
	free(t->slot);
	*t = n;
	return 0;
}

/* Insert or replace; key must outlive the table (it is the object's own name). */
static int tab_put(struct name_tab *t, const char *key, void *val)
{
	if ((t->n + 1) * 2 > t->cap) {
		int rc = tab_grow(t);
		if (rc)
			return rc;
	}
	tab_put_hashed(t, name_hash(key), key, val);
	return 0;
}

static int push_ptr(void ***arr, size_t *n, size_t *cap, void *p)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		void **a = realloc(*arr, c * sizeof(*a));
		if (!a)
			return -ENOMEM;
		*arr = a;
		*cap = c;
	}
	(*arr)[(*n)++] = p;
	return 0;
}

/* ----------------------------------------------------------- registration */
/* reg_lock held. */
static struct ms_reg_layer *layer_get(const char *name)
{
	static struct ms_reg_layer *last; /* registrations come layer after layer */
	struct ms_reg_layer *l;

	if (last && !strcmp(last->name, name))
		return last;
	l = tab_get(&layer_names, name);
	if (l)
		return last = l;
	l = calloc(1, sizeof(*l));
	if (!l || !(l->name = strdup(name)))
		goto out_free;
	pthread_mutex_init(&l->lock, NULL);
	l->id = (uint32_t)nlayers + 1;
	if (push_ptr((void ***)&layers, &nlayers, &layers_cap, l))
		goto out_free;
	if (tab_put(&layer_names, l->name, l)) {
		nlayers--;
		goto out_free;
	}
	return last = l;
out_free:
	if (l)
		free(l->name);
	free(l);
	return NULL;
}

/* Elements from the first to the last one of a view with non-negative strides. */
static int span_of(const struct ms_tensor_desc *d, uint64_t *elems, uint64_t *span)
{
	uint64_t n = 1, last = 0;
	bool contiguous = true;
	int64_t want = 1;

	for (int i = d->ndim - 1; i >= 0; i--) {
		uint64_t ext = (uint64_t)d->shape[i], st = (uint64_t)d->stride[i], step;
		if (d->shape[i] < 0 || d->stride[i] < 0)
			return -EINVAL;
		if (ext && __builtin_mul_overflow(n, ext, &n))
			return -EOVERFLOW;
		if (!ext)
			n = 0;
		if (ext > 1 &&
		    (__builtin_mul_overflow(ext - 1, st, &step) || __builtin_add_overflow(last, step, &last)))
			return -EOVERFLOW;
		if (ext > 1 && d->stride[i] != want)
			contiguous = false;
		want *= d->shape[i] ? d->shape[i] : 1;
	}
	*elems = n;
	*span = n == 0 ? 0 : contiguous ? n : last + 1;
	return 0;
}

static int tensor_fill(struct ms_reg_tensor *t, const struct ms_tensor_desc *d)
{
	const char *canon = ms_dtype_canonical(d->dtype);
	uint64_t bits;
	int rc;

	if (d->ndim < 0 || d->ndim > MS_MAX_DIMS)
		return -EINVAL;
	t->ebits = d->ebits ? d->ebits : canon ? ms_dtype_bits(canon) : 0;
	if (!t->ebits)
		return -EINVAL;
	copy_prefix(t->dtype, sizeof(t->dtype), canon ? canon : d->dtype, strlen(canon ? canon : d->dtype));
	t->ndim = d->ndim;
	memcpy(t->shape, d->shape, sizeof(t->shape));
	memcpy(t->stride, d->stride, sizeof(t->stride));
	rc = span_of(d, &t->elems, &t->expected);
	if (rc)
		return rc;
	if (__builtin_mul_overflow(t->expected, (uint64_t)t->ebits, &bits))
		return -EOVERFLOW;
	t->nbytes = bits / 8 + (bits % 8 != 0);
	if (d->file_ino && d->flen) {
		t->file_dev = d->file_dev;
		t->file_ino = d->file_ino;
		t->foff = d->foff;
		t->flen = d->flen;
		if (d->file && !(t->file = strdup(d->file)))
			return -ENOMEM;
	}
	if (d->dev_ptr && t->nbytes) {
		if (d->dev_ptr + t->nbytes < d->dev_ptr)
			return -EINVAL;
		t->dev = d->dev_ptr;
	}
	return 0;
}

/* reg_lock and l->lock held. */
static int layer_push(struct ms_reg_layer *l, struct ms_reg_tensor *t)
{
	if (l->ntensors == l->cap) {
		uint32_t c = l->cap ? l->cap * 2 : 8;
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
		struct ms_reg_tensor **a = realloc(l->tensors, c * sizeof(*a));
		if (!a)
			return -ENOMEM;
		l->tensors = a;
		l->cap = c;
	}
	l->tensors[l->ntensors++] = t;
	ms_count_tensor_added(l, t);
	return 0;
}

/* Tensors are carved from slabs (an array of 64-byte aligned structs, never freed
 * while the process runs, like the tensors): past the first few thousand, from
 * 2 MiB slabs with transparent huge pages asked for, so that at a million tensors a
 * copy into a random one needs one TLB entry per slab instead of a page walk per
 * tensor. reg_lock held. */
#define SLAB_SMALL (64u << 10)
#define SLAB_HUGE  (2u << 20)
static char *slab_cur;
static size_t slab_left;
static struct ms_reg_tensor *spare_tensor; /* handed back by a failed registration */

static void *slab_map(size_t bytes)
{
	return bytes < SLAB_HUGE ? aligned_alloc(64, bytes) : huge_map(bytes);
}

static struct ms_reg_tensor *tensor_new(void)
{
	struct ms_reg_tensor *t = spare_tensor;

	if (t) {
		spare_tensor = NULL;
	} else {
		if (slab_left < sizeof(*t)) {
			size_t bytes = ntensors < 4096 ? SLAB_SMALL : SLAB_HUGE;
			if (!(slab_cur = slab_map(bytes))) {
				slab_left = 0;
				return NULL;
			}
			slab_left = bytes;
		}
		t = (struct ms_reg_tensor *)(void *)slab_cur;
		slab_cur += sizeof(*t);
		slab_left -= sizeof(*t);
	}
	memset(t, 0, sizeof(*t));
	return t;
}

/* reg_lock held; does not touch the indexes. */
static int add_locked(const struct ms_tensor_desc *d, struct ms_reg_tensor **out)
{
	struct ms_reg_tensor *t, *prev;
	struct ms_reg_layer *l;
	char lname[1024];
	int rc;

	if (!d->name || !d->name[0])
		return -EINVAL;
	prev = tab_get(&tensor_names, d->name);
	if (prev && !prev->dead)
		return -EEXIST;
	t = tensor_new();
	if (!t)
		return -ENOMEM;
	rc = tensor_fill(t, d);
	if (rc)
		goto out_free;
	if (t->dev && dev_overlaps_locked(t->dev, t->dev + t->nbytes)) {
		rc = -EEXIST;
		goto out_free;
	}
	rc = -ENOMEM;
	if (!(t->name = strdup(d->name)))
		goto out_free;
	if (d->layer && d->layer[0]) {
		copy_prefix(lname, sizeof(lname), d->layer, strlen(d->layer));
	} else {
		layer_of_locked(d->name, lname, sizeof(lname));
	}
	l = layer_get(lname);
	if (!l)
		goto out_free;
	t->skip = skipped_locked(d->name);
	t->layer = l;
	t->id = (uint32_t)ntensors + 1;
	if (push_ptr((void ***)&tensors, &ntensors, &tensors_cap, t))
		goto out_free;
	if (tab_put(&tensor_names, t->name, t)) {
		ntensors--;
		goto out_free;
	}
	pthread_mutex_lock(&l->lock);
	rc = layer_push(l, t);
	pthread_mutex_unlock(&l->lock);
	if (rc) { /* the tensor stays known by name but dead: nothing refers to it */
		t->dead = true;
		return rc;
	}
	atomic_fetch_add(&live_tensors, 1);
	if (out)
		*out = t;
	return 0;
out_free:
	free(t->name);
	free(t->file);
	spare_tensor = t;
	return rc;
}

int ms_registry_add(const struct ms_tensor_desc *d, struct ms_reg_tensor **out)
{
	struct ms_reg_tensor *t = NULL;
	int rc;

	pthread_mutex_lock(&reg_lock);
	rc = add_locked(d, &t);
	if (!rc && t->dev)
		rc = dev_add_locked(t->dev, t->dev + t->nbytes, t);
	if (!rc && t->file_ino && t->flen)
		rc = index_insert(&file_idx, &(struct ms_ent){ t->file_dev, t->file_ino, t->foff,
		                                               t->foff + t->flen, t });
	if (!rc)
		trace_tensor(t);
	pthread_mutex_unlock(&reg_lock);
	if (!rc && out)
		*out = t;
	return rc;
}

int ms_registry_bind(struct ms_reg_tensor *t, uint64_t base, uint64_t seq)
{
	struct ms_line line;
	int rc = 0;

	if (base + t->nbytes < base || !t->nbytes)
		return -EINVAL;
	pthread_mutex_lock(&reg_lock);
	if (t->dev || t->dead || dev_overlaps_locked(base, base + t->nbytes)) {
		rc = -EEXIST;
		goto out_unlock;
	}
	rc = dev_add_locked(base, base + t->nbytes, t);
	if (rc)
		goto out_unlock;
	t->dev = base;
	if (trace_live) {
		ms_line_begin(&line, MS_REC_BIND);
		ms_line_u64(&line, "t", ms_now_ns());
		ms_line_u64(&line, "tensor", t->id);
		ms_line_hex(&line, "dev", base);
		ms_line_u64(&line, "seq", seq);
		ms_line_emit(&line);
	}
out_unlock:
	pthread_mutex_unlock(&reg_lock);
	return rc;
}

int ms_registry_unregister(const char *name)
{
	struct ms_reg_tensor *t;
	int rc = 0;

	pthread_mutex_lock(&reg_lock);
	t = tab_get(&tensor_names, name);
	if (!t || t->dead) {
		rc = -ENOENT;
		goto out_unlock;
	}
	pthread_mutex_lock(&t->layer->lock);
	ms_count_tensor_removed(t->layer, t); /* marks it dead */
	pthread_mutex_unlock(&t->layer->lock);
	atomic_fetch_sub(&live_tensors, 1);
	/* Rare: rebuild both indexes without it (readers keep the old snapshot until
	 * the grace period ends; the tensor itself is never freed). */
	rc = rebuild_indexes();
out_unlock:
	pthread_mutex_unlock(&reg_lock);
	return rc;
}

/* ------------------------------------------------------------ enumeration */
struct ms_reg_tensor *ms_registry_tensor(const char *name)
{
	struct ms_reg_tensor *t;

	pthread_mutex_lock(&reg_lock);
	t = tab_get(&tensor_names, name);
	pthread_mutex_unlock(&reg_lock);
	return t && !t->dead ? t : NULL;
}

struct ms_reg_layer *ms_registry_layer(const char *name)
{
	struct ms_reg_layer *l;

	pthread_mutex_lock(&reg_lock);
	l = tab_get(&layer_names, name);
	pthread_mutex_unlock(&reg_lock);
	return l;
}

size_t ms_registry_layer_count(void)
{
	size_t n;

	pthread_mutex_lock(&reg_lock);
	n = nlayers;
	pthread_mutex_unlock(&reg_lock);
	return n;
}

struct ms_reg_layer *ms_registry_layer_at(size_t i)
{
	struct ms_reg_layer *l;

	pthread_mutex_lock(&reg_lock);
	l = i < nlayers ? layers[i] : NULL;
	pthread_mutex_unlock(&reg_lock);
	return l;
}

size_t ms_registry_tensor_count(void)
{
	size_t n;

	pthread_mutex_lock(&reg_lock);
	n = ntensors;
	pthread_mutex_unlock(&reg_lock);
	return n;
}

struct ms_reg_tensor *ms_registry_tensor_at(size_t i)
{
	struct ms_reg_tensor *t;

	pthread_mutex_lock(&reg_lock);
	t = i < ntensors ? tensors[i] : NULL;
	pthread_mutex_unlock(&reg_lock);
	return t;
}

size_t ms_registry_layers_countable(void)
{
	size_t n = 0;

	pthread_mutex_lock(&reg_lock);
	for (size_t i = 0; i < nlayers; i++)
		n += __atomic_load_n(&layers[i]->nreq, __ATOMIC_RELAXED) > 0;
	pthread_mutex_unlock(&reg_lock);
	return n;
}

/* ------------------------------------------------------------------ loading */
/* Register a whole descriptor set, then build the indexes once (O(n log n)).
 * reg_lock held. Returns how many were registered. */
static size_t add_set_locked(const struct ms_desc_set *set, const char *what)
{
	size_t added = 0, dup = 0, bad = 0;

	for (size_t i = 0; i < set->n; i++) {
		int rc = add_locked(&set->v[i], NULL);
		if (!rc)
			added++;
		else if (rc == -EEXIST)
			dup++;
		else
			bad++;
	}
	if (dup || bad)
		ms_warn("%s: %zu tensor(s) already registered or overlapping another's device range, "
		        "%zu invalid (unknown dtype or shape); they were left out",
		        what, dup, bad);
	return added;
}

static void load_source(const char *path, const char *what,
                        int (*load)(const char *, struct ms_desc_set *, char *, size_t))
{
	struct ms_desc_set set = { 0 };
	char err[1024] = "";
	int rc;

	rc = load(path, &set, err, sizeof(err));
	if (rc) {
		ms_warn("cannot use %s %s: %s; carrying on without its descriptors", what, path,
		        err[0] ? err : strerror(-rc));
		ms_desc_set_free(&set);
		return;
	}
	if (err[0]) /* loaded, with something to say (a manifest naming files absent here) */
		ms_warn("%s %s: %s", what, path, err);
	pthread_mutex_lock(&reg_lock);
	add_set_locked(&set, path);
	pthread_mutex_unlock(&reg_lock);
	ms_desc_set_free(&set);
}

void ms_registry_load(const struct ms_config *cfg)
{
	pthread_mutex_lock(&reg_lock);
	naming_configure(cfg);
	pthread_mutex_unlock(&reg_lock);
	if (cfg->checkpoint[0])
		load_source(cfg->checkpoint, "checkpoint", ms_safetensors_load);
	if (cfg->manifest[0])
		load_source(cfg->manifest, "manifest", ms_manifest_load);
	pthread_mutex_lock(&reg_lock);
	if (rebuild_indexes())
		ms_warn("out of memory indexing %zu tensor descriptors; copies will not be attributed",
		        ntensors);
	/* From now on records go to the trace; catch up with API registrations made
	 * before the trace was open. */
	trace_live = true;
	for (size_t i = 0; i < ntensors; i++)
		if (!tensors[i]->dead)
			trace_tensor(tensors[i]);
	pthread_mutex_unlock(&reg_lock);
}
