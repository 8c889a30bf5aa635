/* test_static_loader.c — load_runtime linked with the static runtime, as CuPy and
 * NCCL are built: no libcudart is loaded and no cuda* symbol can be interposed, so
 * its copies are visible only as the driver entry points the runtime fetches
 * through cuGetProcAddress. Each must be traced once, with the right bytes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "e2e.h"

static char *dir, *ckpt;
static struct e2e_ck ck;

static void setup(void)
{
	e2e_ck_fixture(&dir, &ckpt, &ck);
}

static void teardown(void)
{
	e2e_ck_fixture_free(dir, ckpt, &ck);
}

TestSuite(static_loader, .init = setup, .fini = teardown);

static void expect_driver_level_copies(const struct e2e_trace *t)
{
	uint64_t bytes;
	int n = e2e_copies(t, "H2D", &bytes), runtime = e2e_copies_api(t, "H2D", "cuda", true);

	cr_expect(t->footer, "the trace has no footer");
	cr_expect_eq(bytes, ck.total_bytes, "traced H2D bytes %llu, checkpoint bytes %llu",
	             (unsigned long long)bytes, (unsigned long long)ck.total_bytes);
	cr_expect_eq(n, ck.n, "%d H2D copies traced for %d tensors", n, ck.n);
	cr_expect_eq(runtime, 0, "%d copies recorded as runtime calls, which the static runtime hides",
	             runtime);
}

Test(static_loader, copies_are_traced_through_the_driver_entry_points)
{
	struct e2e_trace t;

	e2e_load("examples/load_runtime_static", dir, true, NULL, NULL, ckpt, &t);
	expect_driver_level_copies(&t);
	e2e_trace_free(&t);
}

Test(static_loader, async_copies_are_traced_through_the_driver_entry_points)
{
	const char *opts[] = { "--async", "--threads", "4", NULL };
	struct e2e_trace t;

	e2e_load("examples/load_runtime_static", dir, true, NULL, opts, ckpt, &t);
	expect_driver_level_copies(&t);
	e2e_trace_free(&t);
}

Test(static_loader, device_contents_are_identical_with_and_without_the_shim)
{
	char *with, *without, why[512];
	const char *opts[] = { "--dump", NULL, NULL };
	struct e2e_trace t;

	if (asprintf(&with, "%s/with.bin", dir) < 0 || asprintf(&without, "%s/without.bin", dir) < 0)
		abort();
	opts[1] = without;
	e2e_load("examples/load_runtime_static", dir, false, NULL, opts, ckpt, NULL);
	opts[1] = with;
	e2e_load("examples/load_runtime_static", dir, true, NULL, opts, ckpt, &t);
	cr_expect_eq(e2e_ck_compare_dump(&ck, without, NULL, why, sizeof(why)), 0, "%s", why);
	cr_expect_eq(e2e_ck_compare_dump(&ck, with, NULL, why, sizeof(why)), 0, "under the shim: %s", why);
	e2e_trace_free(&t);
	free(with);
	free(without);
}
