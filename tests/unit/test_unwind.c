/* test_unwind.c — backtraces: stacks deduplicate into trie ids, records define ids
 * before use, depth 0 turns capture off, the module map names this test binary
 * with its build id, and a fork child writes its nodes again. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

#define MAX_NODES   65536
#define MAX_MODULES 1024

/* Everything the shim wrote, in order, in place of the trace. */
struct node {
	uint32_t id, parent;
	uint64_t pc;
};
struct module {
	uint32_t id;
	uint64_t base, end;
	char path[512];
	char buildid[160];
};
static struct {
	pthread_mutex_t lock;
	struct node nodes[MAX_NODES];
	unsigned n_nodes;
	struct module modules[MAX_MODULES];
	unsigned n_modules;
	unsigned warnings;
	bool order_ok; /* every parent was written before its child */
} rec = { .lock = PTHREAD_MUTEX_INITIALIZER, .order_ok = true };

static const struct node *find_node(uint32_t id)
{
	for (unsigned i = 0; i < rec.n_nodes; i++)
		if (rec.nodes[i].id == id)
			return &rec.nodes[i];
	return NULL;
}

static void on_stack(void *ctx, uint32_t id, uint32_t parent, uint64_t pc)
{
	(void)ctx;
	pthread_mutex_lock(&rec.lock);
	if (parent && !find_node(parent))
		rec.order_ok = false;
	if (rec.n_nodes < MAX_NODES)
		rec.nodes[rec.n_nodes++] = (struct node){ id, parent, pc };
	pthread_mutex_unlock(&rec.lock);
}

static void on_module(void *ctx, uint32_t id, uint64_t base, uint64_t end, const char *path,
                      const char *buildid)
{
	struct module *m;

	(void)ctx;
	pthread_mutex_lock(&rec.lock);
	if (rec.n_modules < MAX_MODULES) {
		m = &rec.modules[rec.n_modules++];
		m->id = id;
		m->base = base;
		m->end = end;
		snprintf(m->path, sizeof(m->path), "%s", path);
		snprintf(m->buildid, sizeof(m->buildid), "%s", buildid);
	}
	pthread_mutex_unlock(&rec.lock);
}

static void on_warn(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
	rec.warnings++;
}

static const struct ms_unwind_sink test_sink = { on_stack, on_module, on_warn, NULL };

static void setup(void)
{
	ms_cfg.backtrace = 16;
	ms_unwind_set_sink(&test_sink);
	ms_unwind_reset();
}

/* Follow a leaf to the root; returns the frame count, pcs innermost first. */
static int chain(uint32_t leaf, uint64_t *pcs, int max)
{
	int n = 0;

	while (leaf && n < max) {
		const struct node *nd = find_node(leaf);

		if (!nd)
			return -1;
		pcs[n++] = nd->pc;
		leaf = nd->parent;
	}
	return n;
}

/* noipa: neither inlined nor folded into one another (they are identical). */
static __attribute__((noipa)) uint32_t site_a(void)
{
	uint32_t id = ms_stack_id();

	__asm__ volatile("" ::: "memory");
	return id;
}

static __attribute__((noipa)) uint32_t site_b(void)
{
	uint32_t id = ms_stack_id();

	__asm__ volatile("" ::: "memory");
	return id;
}

/* n calls from one call site (a volatile count: the loop is not unrolled into
 * several sites), so every call has the very same stack. */
static __attribute__((noipa)) void call_n(uint32_t (*fn)(void), uint32_t *ids, volatile int n)
{
	for (int i = 0; i < n; i++)
		ids[i] = fn();
}

TestSuite(unwind, .init = setup);

Test(unwind, identical_stacks_share_one_id_and_are_written_once)
{
	uint64_t pcs[64];
	uint32_t ids[3];
	int n;

	call_n(site_a, ids, 3);
	cr_assert_neq(ids[0], 0);
	cr_assert_eq(ids[1], ids[0]);
	cr_assert_eq(ids[2], ids[0]);
	n = chain(ids[0], pcs, 64);
	cr_assert_gt(n, 1, "a stack of several frames is several nodes");
	cr_assert_eq(rec.n_nodes, (unsigned)n, "a repeated stack writes no new node");
}

Test(unwind, a_reset_expires_the_per_thread_cache_and_writes_nodes_again)
{
	uint32_t ids[4];
	unsigned first;

	call_n(site_a, ids, 2);
	first = rec.n_nodes;
	ms_unwind_reset();
	rec.n_nodes = 0;
	call_n(site_a, ids + 2, 2);
	cr_assert_eq(ids[1], ids[0]);
	cr_assert_eq(rec.n_nodes, first, "every node written again, once");
	cr_assert_eq(ids[2], ids[0], "ids restart from 1, in the same order");
	cr_assert_eq(ids[3], ids[2]);
}

Test(unwind, distinct_stacks_get_distinct_ids_sharing_their_common_callers)
{
	uint32_t a = site_a(), b = site_b();
	uint64_t pa[64], pb[64];
	int na = chain(a, pa, 64), nb = chain(b, pb, 64);

	cr_assert_neq(a, 0);
	cr_assert_neq(b, 0);
	cr_assert_neq(a, b);
	cr_assert_gt(na, 2);
	cr_assert_eq(na, nb);
	cr_assert_neq(pa[0], pb[0], "the innermost frames differ");
	/* site_a and site_b are called from adjacent lines of this test: only the
	 * two innermost frames can differ, the callers above are shared nodes. */
	cr_assert_lt(rec.n_nodes, (unsigned)(na + nb));
	cr_assert_eq(pa[na - 1], pb[nb - 1]);
}

Test(unwind, the_innermost_frame_is_the_caller_of_ms_stack_id)
{
	uint32_t id = site_a();
	const struct node *leaf = find_node(id);
	uint64_t fn = (uint64_t)(uintptr_t)&site_a;

	cr_assert_not_null(leaf);
	cr_assert(leaf->pc > fn && leaf->pc < fn + 256, "leaf pc %#lx not inside site_a at %#lx",
	          (unsigned long)leaf->pc, (unsigned long)fn);
}

Test(unwind, depth_limits_the_frames_kept)
{
	uint64_t pcs[64];

	ms_cfg.backtrace = 2;
	cr_assert_eq(chain(site_a(), pcs, 64), 2);
}

Test(unwind, depth_zero_turns_backtraces_off)
{
	ms_cfg.backtrace = 0;
	cr_assert_eq(site_a(), 0);
	cr_assert_eq(rec.n_nodes, 0);
	cr_assert_eq(rec.n_modules, 0);
}

Test(unwind, nodes_are_written_before_the_ids_that_use_them)
{
	const struct node *leaf;

	site_a();
	site_b();
	cr_assert(rec.order_ok);
	leaf = find_node(site_a());
	cr_assert_not_null(leaf);
	/* Module records come before the first stack record that needs them. */
	cr_assert_gt(rec.n_modules, 0);
}

Test(unwind, interned_stacks_are_a_trie)
{
	const uint64_t s1[] = { 0x1001, 0x2002, 0x3003 };
	const uint64_t s2[] = { 0x1001, 0x2002, 0x3003 };
	const uint64_t s3[] = { 0x4004, 0x2002, 0x3003 };
	const uint64_t s4[] = { 0x2002, 0x3003 };
	uint32_t a = ms_stack_intern(s1, 3), b = ms_stack_intern(s2, 3);
	uint32_t c = ms_stack_intern(s3, 3), d = ms_stack_intern(s4, 2);
	uint64_t pcs[8];

	cr_assert_eq(a, b);
	cr_assert_neq(a, c);
	cr_assert_eq(rec.n_nodes, 4, "3 nodes for the first stack, 1 more for the third");
	cr_assert_eq(find_node(a)->parent, d, "a prefix of a stack is its parent node");
	cr_assert_eq(find_node(c)->parent, d);
	cr_assert_eq(chain(a, pcs, 8), 3);
	cr_assert_eq(pcs[0], 0x1001);
	cr_assert_eq(pcs[2], 0x3003);
	cr_assert_eq(ms_stack_intern(s1, 0), 0, "an empty stack has no id");
}

Test(unwind, the_trie_grows_and_keeps_every_id)
{
	enum { N = 30000 };
	static uint32_t ids[N];

	for (uint64_t i = 0; i < N; i++) {
		uint64_t pcs[2] = { 0x100000 + i, 0x42 };

		ids[i] = ms_stack_intern(pcs, 2);
	}
	for (uint64_t i = 0; i < N; i++) {
		uint64_t pcs[2] = { 0x100000 + i, 0x42 };

		cr_assert_eq(ms_stack_intern(pcs, 2), ids[i]);
	}
	cr_assert_eq(rec.n_nodes, N + 1);
	cr_assert_eq(rec.warnings, 0);
}

#define THREADS    8
#define PER_THREAD 2000

static void *intern_many(void *arg)
{
	uint32_t *out = arg;

	/* Every thread interns the same stacks, in a different order. */
	for (int k = 0; k < PER_THREAD; k++) {
		int i = (k * 7 + (int)(out[0] * 13)) % PER_THREAD;
		uint64_t pcs[3] = { 0x5000 + (uint64_t)i, 0x6000 + (uint64_t)(i % 10), 0x7000 };

		out[1 + i] = ms_stack_intern(pcs, 3);
	}
	return NULL;
}

Test(unwind, concurrent_threads_agree_on_ids_and_write_each_node_once)
{
	static uint32_t out[THREADS][1 + PER_THREAD];
	pthread_t th[THREADS];

	for (int t = 0; t < THREADS; t++) {
		out[t][0] = (uint32_t)t;
		pthread_create(&th[t], NULL, intern_many, out[t]);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	for (int t = 1; t < THREADS; t++)
		for (int i = 0; i < PER_THREAD; i++)
			cr_assert_eq(out[t][1 + i], out[0][1 + i]);
	/* 1 root, 10 middle nodes, PER_THREAD leaves. */
	cr_assert_eq(rec.n_nodes, 1 + 10 + PER_THREAD);
	cr_assert(rec.order_ok);
}

Test(unwind, a_fork_child_starts_over_and_writes_its_nodes_again)
{
	const uint64_t other[] = { 0xaaa, 0xbbb };
	const uint64_t pcs[] = { 0x111, 0x222, 0x333 };
	uint32_t parent_id, id;
	unsigned written;
	int status;
	pid_t pid;

	site_a(); /* the fork handlers are installed at the first capture */
	ms_stack_intern(other, 2);
	parent_id = ms_stack_intern(pcs, 3);
	written = rec.n_nodes;
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		unsigned mods = rec.n_modules;

		/* Same stack, but the child's trace is empty: written again, ids from 1. */
		id = ms_stack_intern(pcs, 3);
		_exit(id == 3 && rec.n_nodes == written + 3 && rec.nodes[written].id == 1 &&
		                      rec.nodes[written].pc == 0x333 && rec.n_modules > mods
		              ? 0
		              : 1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	cr_assert_eq(ms_stack_intern(pcs, 3), parent_id, "the parent keeps its ids");
	cr_assert_eq(rec.n_nodes, written);
}

static const struct module *module_of(uint64_t addr)
{
	for (unsigned i = 0; i < rec.n_modules; i++)
		if (addr >= rec.modules[i].base && addr < rec.modules[i].end)
			return &rec.modules[i];
	return NULL;
}

Test(unwind, module_records_include_this_binary_with_its_build_id)
{
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const struct module *m;
	size_t len;

	cr_assert_gt(n, 0);
	exe[n] = '\0';
	ms_modules_sync();
	m = module_of((uint64_t)(uintptr_t)&site_a);
	cr_assert_not_null(m);
	cr_assert_str_eq(m->path, exe);
	len = strlen(m->buildid);
	cr_assert(len >= 16 && len % 2 == 0, "build id '%s'", m->buildid);
	cr_assert_eq(strspn(m->buildid, "0123456789abcdef"), len);
	/* libc is there too, with its own id. */
	m = module_of((uint64_t)(uintptr_t)&getpid);
	cr_assert_not_null(m);
	cr_assert_not_null(strstr(m->path, "libc"));
}

Test(unwind, modules_are_written_once_until_something_is_loaded)
{
	static const char *const candidates[] = { "libanl.so.1", "libBrokenLocale.so.1", "libutil.so.1",
		                                  "libnss_files.so.2" };
	const char *lib = NULL;
	unsigned before;
	void *h = NULL;

	ms_modules_sync();
	before = rec.n_modules;
	cr_assert_gt(before, 2);
	ms_modules_sync();
	cr_assert_eq(rec.n_modules, before, "nothing new, nothing written");

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]) && !h; i++) {
		if (dlopen(candidates[i], RTLD_NOW | RTLD_NOLOAD))
			continue; /* already loaded: not a new module */
		h = dlopen(candidates[i], RTLD_NOW);
		lib = candidates[i];
	}
	if (!h)
		cr_skip_test("no unloaded system library to dlopen");
	ms_modules_sync();
	cr_assert_eq(rec.n_modules, before + 1, "%s written after dlopen", lib);
	cr_assert_not_null(strstr(rec.modules[before].path, lib));
	cr_assert_eq(rec.modules[before].id, rec.modules[before - 1].id + 1);
	dlclose(h);
}

/* Through the real trace writer: the records land as the format describes. */
Test(unwind_trace, stack_and_module_records_reach_the_trace_in_order)
{
	char dir[] = "/tmp/ms-unwind-test-XXXXXX", path[512], cmd[600], exe[512];
	static char text[1 << 20];
	static struct ms_config cfg;
	const char *mod, *stk;
	ssize_t n;
	size_t len;
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	ms_config_load(&cfg, NULL, NULL, 0);
	cfg.quiet = true;
	snprintf(cfg.out, sizeof(cfg.out), "%s/t.trace", dir);
	ms_trace_open(&cfg);
	ms_unwind_set_sink(NULL);
	ms_unwind_reset();
	ms_cfg.backtrace = 4;
	cr_assert_neq(site_a(), 0);
	ms_trace_flush();

	snprintf(path, sizeof(path), "%s/t.trace", dir);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	len = fread(text, 1, sizeof(text) - 1, f);
	text[len] = '\0';
	fclose(f);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	cr_assert_gt(n, 0);
	exe[n] = '\0';

	mod = strstr(text, "\nmodule id=1 base=0x");
	stk = strstr(text, "\nstack id=1 parent=0 pc=0x");
	cr_assert_not_null(mod, "%s", text);
	cr_assert_not_null(stk, "%s", text);
	cr_assert_lt(mod, stk, "modules come before the stacks that need them");
	cr_assert_not_null(strstr(text, "\nstack id=4 parent=3 pc=0x"), "%s", text);
	cr_assert_null(strstr(text, "\nstack id=5 "), "depth 4 is 4 nodes");
	cr_assert_not_null(strstr(text, exe));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(unwind, relative_library_paths_are_recorded_absolute)
{
	static const char *const candidates[] = { "libanl.so.1", "libBrokenLocale.so.1", "libutil.so.1" };
	char rel[128];
	void *h = NULL;
	unsigned before;

	ms_modules_sync();
	before = rec.n_modules;
	cr_assert_eq(chdir("/lib/x86_64-linux-gnu"), 0);
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]) && !h; i++) {
		if (dlopen(candidates[i], RTLD_NOW | RTLD_NOLOAD))
			continue;
		snprintf(rel, sizeof(rel), "./%s", candidates[i]);
		h = dlopen(rel, RTLD_NOW);
	}
	if (!h)
		cr_skip_test("no unloaded system library to dlopen by a relative path");
	ms_modules_sync();
	cr_assert_eq(rec.n_modules, before + 1);
	cr_assert_eq(rec.modules[before].path[0], '/', "%s", rec.modules[before].path);
	cr_assert_not_null(strstr(rec.modules[before].path, rel + 2), "%s", rec.modules[before].path);
}

static void *capture_in_thread(void *arg)
{
	call_n(site_a, arg, 50);
	return NULL;
}

Test(unwind, threads_running_the_same_code_share_stack_ids)
{
	static uint32_t ids[THREADS][50];
	pthread_t th[THREADS];

	for (int t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, capture_in_thread, ids[t]);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	cr_assert_neq(ids[0][0], 0);
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < 50; i++)
			cr_assert_eq(ids[t][i], ids[0][0]);
	cr_assert(rec.order_ok);
}

static volatile bool stop_unwinding;

static void *unwind_until_stopped(void *arg)
{
	uint32_t id;

	(void)arg;
	while (!stop_unwinding)
		call_n(site_b, &id, 1);
	return NULL;
}

Test(unwind, a_fork_while_other_threads_unwind_leaves_the_child_able_to_unwind)
{
	pthread_t th[4];

	for (int t = 0; t < 4; t++)
		pthread_create(&th[t], NULL, unwind_until_stopped, NULL);
	for (int i = 0; i < 20; i++) {
		int status;
		pid_t pid = fork();

		cr_assert_geq(pid, 0);
		if (pid == 0) {
			alarm(20); /* a child stuck on a lock dies instead of hanging the test */
			_exit(site_a() ? 0 : 1);
		}
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fork %d: child status %#x", i,
		          status);
	}
	stop_unwinding = true;
	for (int t = 0; t < 4; t++)
		pthread_join(th[t], NULL);
}
