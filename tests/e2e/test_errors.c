/* test_errors.c — errors the real CUDA returns reach the program unchanged under
 * the shim: bad copy addresses, freeing what was never allocated, running out of
 * device memory (the fake's FAKECUDA_MEM_LIMIT). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

TestSuite(errors, .init = setup, .fini = teardown);

static void run(bool shim, int limit_mib, struct e2e_run *r, const char *prog, const char *arg1,
                const char *arg2)
{
	struct e2e_env env;
	char *bin = e2e_bin(prog);

	e2e_env_init(&env, dir, shim);
	e2e_env_add(&env, "FAKECUDA_MEM_LIMIT=%d", limit_mib << 20);
	cr_assert_eq(e2e_runl(&env, dir, r, bin, arg1, arg2, NULL), 0, "cannot start %s", bin);
	e2e_env_free(&env);
	free(bin);
}

/* The line "what: CODE NAME" of cuda_errors' output, for the message. */
static int code_of(const char *out, const char *what)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "%s: ", what);
	p = strstr(out, key);
	return p ? atoi(p + strlen(key)) : -1;
}

Test(errors, errors_from_the_real_call_reach_the_program_unchanged)
{
	struct e2e_run plain, shim;

	run(false, 64, &plain, "tests/e2e/programs/cuda_errors", "256", NULL);
	run(true, 64, &shim, "tests/e2e/programs/cuda_errors", "256", NULL);
	cr_assert_eq(plain.status, 0, "%s%s", plain.out, plain.err);
	/* the planted failures do fail, or the comparison proves nothing */
	cr_expect_neq(code_of(plain.out, "memcpy_h2d_bad_dst"), 0, "%s", plain.out);
	cr_expect_neq(code_of(plain.out, "free_invalid"), 0, "%s", plain.out);
	cr_expect_eq(code_of(plain.out, "malloc_too_big"), 2, "cudaErrorMemoryAllocation:\n%s", plain.out);
	cr_expect_eq(code_of(plain.out, "memcpy_h2d_ok"), 0, "%s", plain.out);
	cr_expect_eq(shim.status, plain.status);
	cr_expect_str_eq(shim.out, plain.out, "the program saw other results under the shim");
	e2e_run_free(&plain);
	e2e_run_free(&shim);
}

/* A loader that runs out of device memory fails the same way with the shim. */
Test(errors, out_of_memory_in_a_loader_is_reported_as_without_the_shim)
{
	struct e2e_run plain, shim;
	char *ckpt = e2e_make_checkpoint(dir, NULL); /* a few MB, over a 2 MiB cap */

	cr_assert(ckpt);
	run(false, 2, &plain, "examples/load_runtime", "--arena", ckpt);
	run(true, 2, &shim, "examples/load_runtime", "--arena", ckpt);
	cr_expect_eq(plain.status, 1, "load_runtime exited %d:\n%s", plain.status, plain.err);
	cr_expect(strstr(plain.err, "cudaErrorMemoryAllocation"), "%s", plain.err);
	cr_expect_eq(shim.status, plain.status);
	cr_expect(strstr(shim.err, "cudaErrorMemoryAllocation"), "under the shim: %s", shim.err);
	e2e_run_free(&plain);
	e2e_run_free(&shim);
	free(ckpt);
}
