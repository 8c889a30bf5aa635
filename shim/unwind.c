/* unwind.c — the caller's call stack as one id. Stacks are captured with libunwind
 * (unw_backtrace, no lock held) and deduplicated into a trie of (parent, pc) nodes;
 * each new node is written once as a `stack` record, and an event carries its leaf.
 * Raw return addresses only: symbolization happens later, in the analysis tool.
 *
 * libunwind is dlopen'ed RTLD_LOCAL rather than linked: Debian's libunwind.a is not
 * PIC (so it cannot be linked in hidden), and a libunwind.so.8 in the global scope
 * of every preloaded process would interpose _Unwind_RaiseException (C++ exceptions)
 * and backtrace() for the whole program. Its symbols are looked up with
 * ms_real_dlsym, past the shim's own dlsym. */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <errno.h>
#include <libunwind.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Frames captured beyond the depth asked for, to make room for the shim's own
 * frames (hook, record core) that are skipped when the shim is a shared object. */
#define SHIM_FRAMES_MAX 8
/* Stacks up to this deep are remembered per thread (the cache compares whole stacks). */
#define TCACHE_FRAMES 64
/* The first table lives in .bss so that the first stacks allocate nothing; tables
 * grow by doubling under the lock up to TABLE_MAX_SLOTS (64 MiB), then new stacks get
 * id 0 and one warning. */
#define TABLE_FIRST_SLOTS 8192u
#define TABLE_MAX_SLOTS   (1u << 22)
#define STR_(x)           #x
#define STR(x)            STR_(x)

/* One trie node. Readers go without the lock: id is stored last (release), so a
 * reader that sees a non-zero id also sees pc and parent; id 0 marks an empty slot. */
struct slot {
	_Atomic uint64_t pc;
	_Atomic uint32_t parent;
	_Atomic uint32_t id;
};

/* Open addressing, linear probing, at most half full. A table that is replaced
 * stays allocated (and reachable through `older`), so a reader still probing it
 * stays safe; it only misses nodes added since, and the locked path finds them. */
struct table {
	uint32_t mask;       /* slots - 1 */
	struct table *older; /* the table this one replaced */
	struct slot *slots;
};

/* The last stack this thread interned, compared whole before touching the trie. */
struct tcache {
	unsigned gen; /* trie generation the id belongs to (0: empty) */
	int n;        /* frames */
	uint32_t id;  /* leaf id */
	uint64_t pcs[TCACHE_FRAMES];
};

static struct slot first_slots[TABLE_FIRST_SLOTS];
static struct table first_table = { TABLE_FIRST_SLOTS - 1, NULL, first_slots };
static _Atomic(struct table *) cur_table = &first_table;

/* Guards inserts, growth and the counters below; taken after unwinding, never before. */
static pthread_mutex_t trie_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t nodes;       /* nodes in the current table */
static uint32_t next_id = 1; /* 0 is "no stack" */
static bool full_warned;
/* Bumped whenever ids are forgotten (fork child, reset): per-thread caches expire. */
static _Atomic unsigned generation = 1;

static __thread struct tcache tcache;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
/* unw_backtrace from the privately loaded libunwind; NULL: backtraces are off. */
static int (*unw_backtrace_fn)(void **buf, int size);
/* The shim's own code when it is a shared object apart from the main program;
 * empty (lo == hi) when it is linked into the program itself (unit tests). */
static uint64_t self_lo, self_hi;

/* ---------------------------------------------------------------- records */

static void trace_stack(void *ctx, uint32_t id, uint32_t parent, uint64_t pc)
{
	struct ms_line l;

	(void)ctx;
	ms_line_begin(&l, MS_REC_STACK);
	ms_line_u64(&l, "id", id);
	ms_line_u64(&l, "parent", parent);
	ms_line_hex(&l, "pc", pc);
	ms_line_emit(&l);
}

static void trace_module(void *ctx, uint32_t id, uint64_t base, uint64_t end, const char *path,
                         const char *buildid)
{
	struct ms_line l;

	(void)ctx;
	ms_line_begin(&l, MS_REC_MODULE);
	ms_line_u64(&l, "id", id);
	ms_line_hex(&l, "base", base);
	ms_line_hex(&l, "end", end);
	ms_line_str(&l, "path", path);
	ms_line_str(&l, "buildid", buildid);
	ms_line_emit(&l);
}

static void trace_warn(void *ctx, const char *msg)
{
	(void)ctx;
	ms_warn("%s", msg);
}

static const struct ms_unwind_sink trace_sink = { trace_stack, trace_module, trace_warn, NULL };
static const struct ms_unwind_sink *sink = &trace_sink;

void ms_unwind_set_sink(const struct ms_unwind_sink *s)
{
	sink = s ? s : &trace_sink;
}

const struct ms_unwind_sink *ms_unwind_sink(void)
{
	return sink;
}

/* ------------------------------------------------------------------ the trie */

static inline uint32_t slot_hash(uint32_t parent, uint64_t pc)
{
	uint64_t x = pc ^ ((uint64_t)parent << 32 | parent) * 0x9e3779b97f4a7c15ull;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (uint32_t)x;
}

/* The node (parent, pc) in t, 0 when absent. Lock-free. */
static uint32_t table_find(const struct table *t, uint32_t parent, uint64_t pc)
{
	for (uint32_t h = slot_hash(parent, pc);; h++) {
		const struct slot *s = &t->slots[h & t->mask];
		uint32_t id = atomic_load_explicit(&s->id, memory_order_acquire);

		if (!id)
			return 0;
		if (atomic_load_explicit(&s->pc, memory_order_relaxed) == pc &&
		    atomic_load_explicit(&s->parent, memory_order_relaxed) == parent)
			return id;
	}
}

/* Claim the empty slot for (parent, pc) in t and fill in its key; the caller
 * publishes the id. Under trie_lock, with room in t. */
static struct slot *table_claim(struct table *t, uint32_t parent, uint64_t pc)
{
	for (uint32_t h = slot_hash(parent, pc);; h++) {
		struct slot *s = &t->slots[h & t->mask];

		if (atomic_load_explicit(&s->id, memory_order_relaxed))
			continue;
		atomic_store_explicit(&s->pc, pc, memory_order_relaxed);
		atomic_store_explicit(&s->parent, parent, memory_order_relaxed);
		return s;
	}
}

/* Replace the current table by one twice its size. Under trie_lock; rare (each
 * growth doubles), so calloc is acceptable here. -ENOMEM or -ENOSPC at the cap. */
static int table_grow(void)
{
	struct table *old = atomic_load_explicit(&cur_table, memory_order_relaxed);
	uint64_t slots = (uint64_t)old->mask + 1;
	struct table *t;

	if (slots * 2 > TABLE_MAX_SLOTS)
		return -ENOSPC;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->slots = calloc(slots * 2, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return -ENOMEM;
	}
	t->mask = (uint32_t)(slots * 2 - 1);
	t->older = old;
	for (uint64_t i = 0; i < slots; i++) {
		struct slot *s = &old->slots[i];
		uint32_t id = atomic_load_explicit(&s->id, memory_order_relaxed);
		uint64_t pc = atomic_load_explicit(&s->pc, memory_order_relaxed);
		uint32_t parent = atomic_load_explicit(&s->parent, memory_order_relaxed);

		if (id)
			atomic_store_explicit(&table_claim(t, parent, pc)->id, id, memory_order_relaxed);
	}
	atomic_store_explicit(&cur_table, t, memory_order_release);
	return 0;
}

/* Add (parent, pc), write its record, then publish it: a reader that finds the id
 * was ordered after the record, so ids are defined in the trace before use.
 * Under trie_lock. 0 when the trie is full. */
static uint32_t trie_insert(uint32_t parent, uint64_t pc)
{
	struct table *t = atomic_load_explicit(&cur_table, memory_order_relaxed);
	struct slot *s;
	uint32_t id;

	if ((uint64_t)(nodes + 1) * 2 > (uint64_t)t->mask + 1) {
		int err = table_grow();

		if (err) {
			if (!full_warned) {
				full_warned = true;
				sink->warn(sink->ctx, "stack trie full (2097152 frames) or out of memory: "
				                      "new call stacks are recorded as stack=0 from now on; "
				                      "a lower METASHIM_BACKTRACE needs fewer frames");
			}
			return 0;
		}
		t = atomic_load_explicit(&cur_table, memory_order_relaxed);
	}
	id = next_id++;
	nodes++;
	s = table_claim(t, parent, pc);
	sink->stack(sink->ctx, id, parent, pc);
	atomic_store_explicit(&s->id, id, memory_order_release);
	return id;
}

uint32_t ms_stack_intern(const uint64_t *pcs, int n)
{
	struct table *t = atomic_load_explicit(&cur_table, memory_order_acquire);
	uint32_t parent = 0;
	int i = n - 1;

	if (n <= 0)
		return 0;
	/* Lock-free walk from the outermost frame while the nodes exist. */
	for (; i >= 0; i--) {
		uint32_t id = table_find(t, parent, pcs[i]);

		if (!id)
			break;
		parent = id;
	}
	if (i < 0)
		return parent;

	/* New frames: their modules must be in the trace before their pcs are. */
	ms_modules_sync();
	pthread_mutex_lock(&trie_lock);
	t = atomic_load_explicit(&cur_table, memory_order_relaxed);
	for (; i >= 0; i--) {
		uint32_t id = table_find(t, parent, pcs[i]);

		if (!id) {
			id = trie_insert(parent, pcs[i]);
			if (!id) {
				parent = 0;
				break;
			}
			t = atomic_load_explicit(&cur_table, memory_order_relaxed);
		}
		parent = id;
	}
	pthread_mutex_unlock(&trie_lock);
	return parent;
}

/* Forget every node: ids restart at 1 and are written again on next use. Only with
 * no other thread in the trie (fork child, tests). */
static void trie_reset(void)
{
	memset(first_slots, 0, sizeof(first_slots));
	atomic_store(&cur_table, &first_table);
	nodes = 0;
	next_id = 1;
	full_warned = false;
	atomic_fetch_add(&generation, 1);
}

void ms_unwind_reset(void)
{
	pthread_mutex_lock(&trie_lock);
	trie_reset();
	pthread_mutex_unlock(&trie_lock);
	ms_modules_reset();
}

/* ------------------------------------------------------------------ fork */

/* glibc's fork resets the loader's main lock in the child but not the one
 * dl_iterate_phdr takes: a fork while another thread unwinds (libunwind walks the
 * loaded objects) would leave the child's next unwind blocked forever. So fork
 * waits for the unwinds in flight, and unwinds starting meanwhile give up (that
 * event gets no backtrace). */
static _Atomic int unwinders; /* threads inside capture() */
static _Atomic bool forking;  /* a fork is between prepare and parent/child */

static void fork_prepare(void)
{
	atomic_store(&forking, true);
	while (atomic_load(&unwinders))
		sched_yield();
	pthread_mutex_lock(&trie_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&trie_lock);
	atomic_store(&forking, false);
}

/* The child writes its own trace, which holds none of the parent's stack records:
 * start the trie over so every node is written again there. */
static void fork_child(void)
{
	pthread_mutex_init(&trie_lock, NULL);
	trie_reset();
	atomic_store(&unwinders, 0);
	atomic_store(&forking, false);
}

/* -------------------------------------------------------------- capturing */

static void unwind_init(void)
{
	int (*set_caching)(unw_addr_space_t, unw_caching_policy_t);
	unw_addr_space_t *local_as;
	void *h;

	/* First: from here on a fork waits for this thread (it counts as unwinding),
	 * so the child never inherits libunwind or the loader half-way through. */
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		sink->warn(sink->ctx, "cannot load libunwind.so.8: events carry no backtraces "
		                      "(install libunwind8, or set METASHIM_BACKTRACE=0)");
		return;
	}
	/* Per-thread caches keep concurrent unwinds off libunwind's global lock. */
	set_caching = (int (*)(unw_addr_space_t, unw_caching_policy_t))ms_real_dlsym(
	        h, STR(unw_set_caching_policy));
	local_as = ms_real_dlsym(h, STR(unw_local_addr_space));
	if (set_caching && local_as)
		set_caching(*local_as, UNW_CACHE_PER_THREAD);
	ms_modules_self_range(&self_lo, &self_hi);
	unw_backtrace_fn = (int (*)(void **, int))ms_real_dlsym(h, "unw_backtrace");
}

/* Fill pcs (innermost first) with up to depth return addresses of the stack above
 * this function's caller's `skip` frames (skip counts frames in this file), leaving
 * out the shim's own hook and record frames. Returns the frame count. noinline and
 * no tail calls into it: the frame counts are fixed. */
static __attribute__((noinline)) int capture(uint64_t *pcs, int depth, int skip)
{
	void *raw[MS_UNWIND_MAX_DEPTH + SHIM_FRAMES_MAX + 4];
	int want, got, i, n = 0;

	/* seq_cst both here and in fork_prepare: one of the two sees the other. */
	atomic_fetch_add(&unwinders, 1);
	if (atomic_load(&forking)) {
		atomic_fetch_sub(&unwinders, 1);
		return 0;
	}
	pthread_once(&init_once, unwind_init);
	if (depth > MS_UNWIND_MAX_DEPTH)
		depth = MS_UNWIND_MAX_DEPTH;
	want = depth + 1 + skip + (self_lo < self_hi ? SHIM_FRAMES_MAX : 0);
	got = unw_backtrace_fn ? unw_backtrace_fn(raw, want) : 0;
	atomic_fetch_sub(&unwinders, 1);
	/* raw[0] is in this function, then the `skip` callers in this file. */
	i = 1 + skip;
	while (i < got && (uint64_t)raw[i] >= self_lo && (uint64_t)raw[i] < self_hi)
		i++;
	for (; i < got && n < depth; i++)
		pcs[n++] = (uint64_t)raw[i];
	__asm__ volatile("" ::: "memory");
	return n;
}

int __attribute__((noinline)) ms_unwind_capture(uint64_t *pcs, int depth)
{
	int n = capture(pcs, depth, 1);

	__asm__ volatile("" ::: "memory"); /* keep this frame: no tail call */
	return n;
}

/* Hot path (every allocation, copy and memset): no allocation, no lock while
 * unwinding; an identical stack on the same thread costs one compare. */
uint32_t __attribute__((noinline)) ms_stack_id(void)
{
	uint64_t pcs[MS_UNWIND_MAX_DEPTH];
	unsigned gen;
	uint32_t id;
	int n;

	if (ms_cfg.backtrace <= 0)
		return 0;
	n = capture(pcs, ms_cfg.backtrace, 1);
	__asm__ volatile("" ::: "memory");
	gen = atomic_load_explicit(&generation, memory_order_acquire);
	if (tcache.gen == gen && tcache.n == n && !memcmp(tcache.pcs, pcs, (size_t)n * sizeof(*pcs)))
		return tcache.id;
	id = ms_stack_intern(pcs, n);
	if (n <= TCACHE_FRAMES && id) {
		memcpy(tcache.pcs, pcs, (size_t)n * sizeof(*pcs));
		tcache.n = n;
		tcache.id = id;
		tcache.gen = gen;
	}
	return id;
}
