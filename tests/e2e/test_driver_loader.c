/* test_driver_loader.c — examples/load_driver, which links no CUDA library and
 * fetches every driver entry point through cuGetProcAddress_v2 from a dlopen'ed
 * libcuda.so.1: the shim sees its copies only through its own cuGetProcAddress. */
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

TestSuite(driver_loader, .init = setup, .fini = teardown);

static void expect_driver_copies(const struct e2e_trace *t)
{
	uint64_t bytes;
	int n = e2e_copies(t, "H2D", &bytes);

	cr_expect(t->footer, "the trace has no footer");
	cr_expect_eq(bytes, ck.total_bytes, "traced H2D bytes %llu, checkpoint bytes %llu",
	             (unsigned long long)bytes, (unsigned long long)ck.total_bytes);
	cr_expect_eq(n, ck.n, "%d H2D copies traced for %d tensors", n, ck.n);
	/* cuGetProcAddress("cuMemcpyHtoD", 12000) is the _v2 entry point */
	cr_expect_eq(e2e_copies_api(t, "H2D", "cuMemcpyHtoD", true), ck.n,
	             "every H2D record names the driver's cuMemcpyHtoD");
	cr_expect_eq(e2e_count(t, "alloc"), ck.n, "one cuMemAlloc per tensor");
}

Test(driver_loader, copies_fetched_through_cuGetProcAddress_are_traced)
{
	struct e2e_trace t;

	e2e_load("examples/load_driver", dir, true, NULL, NULL, ckpt, &t);
	expect_driver_copies(&t);
	e2e_trace_free(&t);
}

Test(driver_loader, eight_threads_lose_no_event)
{
	const char *opts[] = { "--threads", "8", NULL };
	struct e2e_trace t;

	e2e_load("examples/load_driver", dir, true, NULL, opts, ckpt, &t);
	expect_driver_copies(&t);
	e2e_trace_free(&t);
}

Test(driver_loader, device_contents_are_identical_with_and_without_the_shim)
{
	char *with, *without, why[512];
	const char *opts[] = { "--arena", "--dump", NULL, NULL };
	struct e2e_trace t;
	uint64_t d2h;

	if (asprintf(&with, "%s/with.bin", dir) < 0 || asprintf(&without, "%s/without.bin", dir) < 0)
		abort();
	opts[2] = without;
	e2e_load("examples/load_driver", dir, false, NULL, opts, ckpt, NULL);
	opts[2] = with;
	e2e_load("examples/load_driver", dir, true, NULL, opts, ckpt, &t);
	cr_expect_eq(e2e_ck_compare_dump(&ck, without, NULL, why, sizeof(why)), 0, "%s", why);
	cr_expect_eq(e2e_ck_compare_dump(&ck, with, NULL, why, sizeof(why)), 0, "under the shim: %s", why);
	e2e_copies(&t, "D2H", &d2h);
	cr_expect_eq(d2h, ck.total_bytes, "cuMemcpyDtoH read-backs are traced too");
	e2e_trace_free(&t);
	free(with);
	free(without);
}
