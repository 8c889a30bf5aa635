/* test_callsite.c — `metashim report` names the loader's own function as the call
 * site of its copies, whether the CUDA runtime is a shared library (the shim's hook
 * is the innermost frame) or linked into the program (the runtime's copy function
 * is), and --stack-depth shows the runtime frames it looked past. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"

static char *dir, *ckpt;

static void setup(void)
{
	dir = e2e_tmpdir();
	ckpt = e2e_make_checkpoint(dir, NULL);
	cr_assert(ckpt, "gen_checkpoint failed");
}

static void teardown(void)
{
	free(ckpt);
	e2e_cleanup(dir);
}

TestSuite(callsite, .init = setup, .fini = teardown);

/* Load with program rel under the shim, then `metashim report ARGS... TRACE`; the
 * report's stdout (malloc'd). */
static char *report_of(const char *rel, const char *arg)
{
	char *tool = e2e_bin("metashim"), **names, *out;
	struct e2e_env e;
	struct e2e_run r;
	int n;

	e2e_load(rel, dir, true, NULL, NULL, ckpt, NULL);
	n = e2e_list_traces(dir, &names);
	cr_assert_eq(n, 1, "%d traces", n);
	e2e_env_init(&e, dir, false);
	if (arg)
		cr_assert_eq(e2e_runl(&e, dir, &r, tool, "report", arg, names[0], NULL), 0);
	else
		cr_assert_eq(e2e_runl(&e, dir, &r, tool, "report", names[0], NULL), 0);
	cr_expect_eq(r.status, 0, "report exited %d:\n%s%s", r.status, r.out, r.err);
	out = strdup(r.out);
	e2e_run_free(&r);
	e2e_env_free(&e);
	e2e_free_names(names, n);
	free(tool);
	return out;
}

/* The first row of "top call sites by bytes copied". */
static const char *top_site(const char *out)
{
	const char *s = strstr(out, "top call sites by bytes copied\n");

	cr_assert(s, "no top call sites:\n%s", out);
	s = strchr(s, '\n') + 1; /* column heads */
	s = strchr(s, '\n') + 1;
	return s;
}

Test(callsite, static_runtime_copies_are_named_after_the_loader_not_the_runtime)
{
	char *out = report_of("examples/load_runtime_static", NULL);
	const char *row = top_site(out), *hit = strstr(row, "upload_one (load_runtime.c:");

	cr_expect(hit && hit < strchr(row, '\n'), "top call site is not upload_one:\n%s", out);
	cr_expect(!strstr(out, "copy_1d"), "the runtime's copy function is named:\n%s", out);
	free(out);
}

Test(callsite, shared_runtime_copies_are_named_after_the_loader)
{
	char *out = report_of("examples/load_runtime", NULL);
	const char *row = top_site(out), *hit = strstr(row, "upload_one (load_runtime.c:");

	cr_expect(hit && hit < strchr(row, '\n'), "top call site is not upload_one:\n%s", out);
	free(out);
}

Test(callsite, stack_depth_shows_the_runtime_frames_under_the_site)
{
	char *out = report_of("examples/load_runtime_static", "--stack-depth=1");
	const char *row = top_site(out);
	const char *inner = strstr(row, "runtime  copy_1d (runtime_copy.c:");
	const char *site = strstr(row, "> #");

	cr_expect(inner, "the runtime's copy function is not listed under the site:\n%s", out);
	cr_expect(site && strstr(site, "upload_one"), "the site is not marked:\n%s", out);
	cr_expect(inner < site, "runtime frames come before (inside) the site:\n%s", out);
	free(out);
}
