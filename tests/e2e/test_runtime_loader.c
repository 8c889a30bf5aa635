/* test_runtime_loader.c — examples/load_runtime (libcudart.so, dynamically linked)
 * under the shim on the fake CUDA: every byte of the checkpoint is traced, each
 * user call once, from any number of threads, and the device ends up holding
 * exactly what it holds without the shim. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "e2e.h"

static char *dir, *ckpt;
static struct e2e_ck ck;

static void setup(void)
{
	e2e_ck_fixture(&dir, &ckpt, &ck);
	cr_assert_gt(ck.n, 10);
}

static void teardown(void)
{
	e2e_ck_fixture_free(dir, ckpt, &ck);
}

TestSuite(runtime_loader, .init = setup, .fini = teardown);

static void load(bool shim, struct e2e_trace *t, const char *const *opts)
{
	e2e_load("examples/load_runtime", dir, shim, NULL, opts, ckpt, t);
}

static void expect_every_byte_once(const struct e2e_trace *t)
{
	uint64_t bytes;
	int n = e2e_copies(t, "H2D", &bytes);

	cr_expect(t->magic_ok, "the trace does not start with the magic line");
	cr_expect(t->footer, "the trace has no footer");
	cr_expect_eq(bytes, ck.total_bytes, "traced H2D bytes %llu, checkpoint bytes %llu",
	             (unsigned long long)bytes, (unsigned long long)ck.total_bytes);
	cr_expect_eq(n, ck.n, "%d H2D copies traced for %d tensors", n, ck.n);
}

Test(runtime_loader, traced_h2d_bytes_equal_the_checkpoint_bytes)
{
	struct e2e_trace t;

	load(true, &t, NULL);
	expect_every_byte_once(&t);
	cr_expect_eq(e2e_count(&t, "alloc"), ck.n, "one cudaMalloc per tensor");
	e2e_trace_free(&t);
}

Test(runtime_loader, async_copies_on_a_stream_are_traced_in_full)
{
	const char *opts[] = { "--async", NULL };
	struct e2e_trace t;

	load(true, &t, opts);
	expect_every_byte_once(&t);
	cr_expect_eq(e2e_copies_api(&t, "H2D", "cudaMemcpyAsync", false), ck.n);
	e2e_trace_free(&t);
}

Test(runtime_loader, arena_copies_are_traced_in_full)
{
	const char *opts[] = { "--arena", NULL };
	struct e2e_trace t;

	load(true, &t, opts);
	expect_every_byte_once(&t);
	cr_expect_eq(e2e_count(&t, "alloc"), 1, "the arena is one allocation");
	e2e_trace_free(&t);
}

/* The fake runtime reaches the fake driver through the shim's cuGetProcAddress,
 * as the real one does: the driver-level copy inside cudaMemcpy must not be
 * recorded a second time. */
Test(runtime_loader, one_user_call_is_recorded_once)
{
	struct e2e_trace t;
	int all;

	load(true, &t, NULL);
	all = e2e_copies_api(&t, "H2D", NULL, false);
	cr_expect_eq(all, ck.n, "%d H2D copy records for %d cudaMemcpy calls", all, ck.n);
	cr_expect_eq(e2e_copies_api(&t, "H2D", "cudaMemcpy", false), ck.n,
	             "every H2D record is the user's cudaMemcpy, none a driver call inside it");
	e2e_trace_free(&t);
}

Test(runtime_loader, eight_threads_copying_at_once_lose_no_event)
{
	const char *opts[] = { "--threads", "8", NULL };
	struct e2e_trace t;

	load(true, &t, opts);
	expect_every_byte_once(&t);
	e2e_trace_free(&t);
}

Test(runtime_loader, eight_threads_on_eight_streams_lose_no_event)
{
	const char *opts[] = { "--threads", "8", "--async", "--arena", NULL };
	struct e2e_trace t;

	load(true, &t, opts);
	expect_every_byte_once(&t);
	e2e_trace_free(&t);
}

static void expect_dump_identical(const char *const *extra)
{
	char *with, *without, why[512];
	const char *opts[12];
	int n = 0;
	uint64_t d2h;
	struct e2e_trace t;

	if (asprintf(&with, "%s/with.bin", dir) < 0 || asprintf(&without, "%s/without.bin", dir) < 0)
		abort();
	while (extra && *extra)
		opts[n++] = *extra++;
	opts[n] = "--dump";
	opts[n + 2] = NULL;
	opts[n + 1] = without;
	load(false, NULL, opts);
	opts[n + 1] = with;
	load(true, &t, opts);
	cr_expect_eq(e2e_ck_compare_dump(&ck, without, NULL, why, sizeof(why)), 0, "%s", why);
	cr_expect_eq(e2e_ck_compare_dump(&ck, with, NULL, why, sizeof(why)), 0, "under the shim: %s", why);
	e2e_copies(&t, "D2H", &d2h);
	cr_expect_eq(d2h, ck.total_bytes, "the read-back is traced too");
	e2e_trace_free(&t);
	free(with);
	free(without);
}

Test(runtime_loader, device_contents_are_identical_with_and_without_the_shim)
{
	expect_dump_identical(NULL);
}

Test(runtime_loader, device_contents_are_identical_with_and_without_the_shim_async_arena_threads)
{
	const char *opts[] = { "--async", "--arena", "--threads", "4", NULL };

	expect_dump_identical(opts);
}
