/* test_dlsym.c — a program that reaches the runtime only by dlopen + dlsym (as
 * Python bindings do) still has its copies traced: the shim's dlsym hands out the
 * wrapper for a runtime name looked up through a libcudart handle. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "e2e.h"

static char *dir;

static void setup(void)
{
	dir = e2e_tmpdir();
}

static void teardown(void)
{
	e2e_cleanup(dir);
}

TestSuite(dlsym, .init = setup, .fini = teardown);

Test(dlsym, a_cudaMemcpy_looked_up_through_a_handle_is_the_wrapper)
{
	struct e2e_trace t;
	uint64_t h2d, d2h;
	int n_h2d, n_d2h;

	e2e_load("tests/e2e/programs/dlsym_memcpy", dir, true, NULL, NULL, NULL, &t);
	n_h2d = e2e_copies(&t, "H2D", &h2d);
	n_d2h = e2e_copies(&t, "D2H", &d2h);
	cr_expect_eq(n_h2d, 1, "%d H2D copies traced, the program made 1", n_h2d);
	cr_expect_eq(h2d, 4096);
	cr_expect_eq(n_d2h, 1, "%d D2H copies traced, the program made 1", n_d2h);
	cr_expect_eq(d2h, 4096);
	cr_expect_eq(e2e_copies_api(&t, "H2D", "cudaMemcpy", false), 1,
	             "recorded as the runtime call the program looked up");
	cr_expect_eq(e2e_count(&t, "alloc"), 1);
	cr_expect_eq(e2e_count(&t, "free"), 1);
	e2e_trace_free(&t);
}
