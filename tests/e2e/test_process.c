/* test_process.c — the shim in processes: a forked child writes its own trace with
 * only its own events, and a program with no CUDA at all behaves exactly as without
 * the shim and leaves no trace. */
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

TestSuite(process, .init = setup, .fini = teardown);

Test(process, a_forked_child_writes_its_own_trace)
{
	struct e2e_env env;
	struct e2e_run r;
	char *bin = e2e_bin("tests/e2e/programs/fork_copy"), **names;
	long parent = -1, child = -1, quiet = -1;
	int n, i, seen = 0;

	e2e_env_init(&env, dir, true);
	cr_assert_eq(e2e_runl(&env, dir, &r, bin, NULL), 0);
	cr_assert_eq(r.status, 0, "fork_copy exited %d:\n%s%s", r.status, r.out, r.err);
	cr_assert_eq(sscanf(r.out, "fork_copy: parent %ld child %ld quiet %ld", &parent, &child, &quiet), 3,
	             "%s", r.out);
	n = e2e_list_traces(dir, &names);
	/* the quiet child made no CUDA call: a trace of its own is optional, but empty */
	cr_assert(n == 2 || n == 3, "%d traces for a parent and its two children", n);
	for (i = 0; i < n; i++) {
		struct e2e_trace t;
		uint64_t bytes;
		long pid;
		int copies;

		cr_assert_eq(e2e_trace_load(names[i], &t), 0);
		pid = e2e_trace_pid(&t);
		copies = e2e_copies(&t, "H2D", &bytes);
		cr_expect(t.footer, "%s has no footer", names[i]);
		if (pid == child) {
			/* the parent's unwritten events must not be replayed in the child */
			cr_expect_eq(copies, 1, "child trace: %d copies, it made 1", copies);
			cr_expect_eq(bytes, 2000);
			seen |= 2;
		} else if (pid == parent) {
			cr_expect_eq(copies, 2, "parent trace: %d copies, it made 2", copies);
			cr_expect_eq(bytes, 1000 + 3000);
			seen |= 1;
		} else {
			cr_expect_eq(pid, quiet, "%s: a trace of pid %ld", names[i], pid);
			cr_expect_eq(copies, 0, "the quiet child's trace holds %d copies of its parent",
			             copies);
		}
		e2e_trace_free(&t);
	}
	cr_expect_eq(seen, 3, "traces of pids parent %ld and child %ld expected", parent, child);
	e2e_free_names(names, n);
	e2e_run_free(&r);
	e2e_env_free(&env);
	free(bin);
}

static void expect_unaffected(const char *prog, const char *arg)
{
	struct e2e_env plain, shim;
	struct e2e_run a, b;
	char **names;
	int n;

	e2e_env_init(&plain, dir, false);
	e2e_env_init(&shim, dir, true);
	cr_assert_eq(e2e_runl(&plain, dir, &a, prog, arg, "yz", NULL), 0, "cannot start %s", prog);
	cr_assert_eq(e2e_runl(&shim, dir, &b, prog, arg, "yz", NULL), 0, "cannot start %s", prog);
	cr_expect_eq(a.status, b.status, "%s exits %d, %d under the shim", prog, a.status, b.status);
	cr_expect_str_eq(b.out, a.out, "stdout changed under the shim");
	cr_expect_str_eq(b.err, a.err, "stderr changed under the shim");
	n = e2e_list_traces(dir, &names);
	cr_expect_eq(n, 0, "a program without CUDA left %d trace(s), e.g. %s", n, n ? names[0] : "");
	e2e_free_names(names, n);
	e2e_run_free(&a);
	e2e_run_free(&b);
	e2e_env_free(&plain);
	e2e_env_free(&shim);
}

Test(process, a_program_without_cuda_is_unaffected)
{
	char *bin = e2e_bin("tests/e2e/programs/no_cuda");

	expect_unaffected(bin, "x");
	free(bin);
}

/* Libraries probe dlsym(RTLD_DEFAULT, "cudaMemcpy") to learn whether CUDA is loaded;
 * the shim's exported hooks must not make the answer "yes" in a process without
 * CUDA. */
Test(process, probing_for_cuda_with_dlsym_finds_nothing_without_cuda)
{
	char *bin = e2e_bin("tests/e2e/programs/no_cuda");

	expect_unaffected(bin, "--probe");
	free(bin);
}

Test(process, bin_true_is_unaffected)
{
	expect_unaffected("/bin/true", "x");
}
