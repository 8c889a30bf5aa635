/* test_symbolize.c — pcs captured by the shim's own code path, with the module
 * records it writes, come back as function (file:line) [module]; missing or
 * changed modules give module+offset; CPython's eval loop is labelled. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "symbolize.h"

static struct ms_symbolizer *sym;

/* Module records written by the shim go straight into the symbolizer. */
static void on_module(void *ctx, uint32_t id, uint64_t base, uint64_t end, const char *path,
                      const char *buildid)
{
	(void)ctx;
	ms_symbolizer_add_module(sym, id, base, end, path, buildid);
}

static void on_stack(void *ctx, uint32_t id, uint32_t parent, uint64_t pc)
{
	(void)ctx;
	(void)id;
	(void)parent;
	(void)pc;
}

static void on_warn(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

static const struct ms_unwind_sink sink = { on_stack, on_module, on_warn, NULL };

static void setup(void)
{
	sym = ms_symbolizer_new();
	cr_assert_not_null(sym);
	ms_unwind_set_sink(&sink);
}

static void teardown(void)
{
	ms_symbolizer_free(sym);
}

/* Write the process's module map into the symbolizer, as a trace would hold it. */
static void load_modules(void)
{
	ms_modules_reset();
	ms_modules_sync();
}

static __attribute__((noipa)) int known_function(uint64_t *pcs, int *line)
{
	int n = ms_unwind_capture(pcs, 4), l = __LINE__;

	*line = l;
	return n;
}

static inline __attribute__((always_inline)) int inlined_helper(uint64_t *pcs, int *line)
{
	int n = ms_unwind_capture(pcs, 4), l = __LINE__;

	*line = l;
	return n;
}

static __attribute__((noipa)) int outer_function(uint64_t *pcs, int *line)
{
	int n = inlined_helper(pcs, line);

	__asm__ volatile("" ::: "memory");
	return n;
}

static const char *exe_name(void)
{
	static char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *s;

	cr_assert_gt(n, 0);
	exe[n] = '\0';
	s = strrchr(exe, '/');
	return s ? s + 1 : exe;
}

TestSuite(symbolize, .init = setup, .fini = teardown);

Test(symbolize, a_captured_pc_names_its_function_file_and_line)
{
	char buf[512], want[512];
	enum ms_sym_kind kind;
	uint64_t pcs[4];
	int line = 0;

	cr_assert_gt(known_function(pcs, &line), 0);
	load_modules();
	cr_assert_eq(ms_symbolize_kind(sym, pcs[0], buf, sizeof(buf), &kind), 0);
	snprintf(want, sizeof(want), "known_function (test_symbolize.c:%d) [%s]", line, exe_name());
	cr_assert_str_eq(buf, want);
	cr_assert_eq(kind, MS_SYM_FUNCTION);
}

Test(symbolize, an_inlined_call_is_named_after_the_inlined_function)
{
	char buf[512], want[512];
	uint64_t pcs[4];
	int line = 0;

	cr_assert_gt(outer_function(pcs, &line), 0);
	load_modules();
	cr_assert_eq(ms_symbolize(sym, pcs[0], buf, sizeof(buf)), 0);
	snprintf(want, sizeof(want), "inlined_helper (test_symbolize.c:%d) [%s]", line, exe_name());
	cr_assert_str_eq(buf, want);
}

Test(symbolize, library_frames_name_their_library)
{
	char buf[512];
	uintptr_t fn = (uintptr_t)dlsym(RTLD_DEFAULT, "getpid");

	load_modules();
	cr_assert_neq(fn, 0);
	cr_assert_eq(ms_symbolize_addr(sym, fn, buf, sizeof(buf), NULL), 0);
	cr_assert(!strncmp(buf, "getpid", 6) || strstr(buf, "getpid"), "%s", buf);
	cr_assert_not_null(strstr(buf, "[libc.so"), "%s", buf);
}

Test(symbolize, answers_repeat_and_are_cut_to_fit)
{
	char a[512], b[512], small[8];
	uint64_t pcs[4];
	int line;

	known_function(pcs, &line);
	load_modules();
	cr_assert_eq(ms_symbolize(sym, pcs[0], a, sizeof(a)), 0);
	cr_assert_eq(ms_symbolize(sym, pcs[0], b, sizeof(b)), 0);
	cr_assert_str_eq(a, b);
	cr_assert_eq(ms_symbolize(sym, pcs[0], small, sizeof(small)), 0);
	cr_assert_eq(strlen(small), sizeof(small) - 1);
	cr_assert_eq(strncmp(small, a, sizeof(small) - 1), 0);
	cr_assert_eq(ms_symbolize(sym, pcs[0], small, 0), -EINVAL);
}

Test(symbolize, a_missing_module_gives_module_plus_offset)
{
	char buf[128];
	enum ms_sym_kind kind;

	ms_symbolizer_add_module(sym, 1, 0x10000, 0x20000, "/nonexistent/dir/libgone.so.1", "abcd");
	cr_assert_eq(ms_symbolize_kind(sym, 0x10123, buf, sizeof(buf), &kind), 0);
	cr_assert_str_eq(buf, "libgone.so.1+0x123");
	cr_assert_eq(kind, MS_SYM_OFFSET);
}

Test(symbolize, a_pc_in_no_module_is_a_raw_address)
{
	char buf[128];
	enum ms_sym_kind kind;

	ms_symbolizer_add_module(sym, 1, 0x10000, 0x20000, "/nonexistent/libgone.so", NULL);
	cr_assert_eq(ms_symbolize_kind(sym, 0x5005, buf, sizeof(buf), &kind), -ENOENT);
	cr_assert_str_eq(buf, "0x5005");
	cr_assert_eq(kind, MS_SYM_UNKNOWN);
}

Test(symbolize, a_file_with_another_build_id_is_not_trusted)
{
	char exe[512], buf[512];
	uint64_t pcs[4];
	enum ms_sym_kind kind;
	int line;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	Dl_info info;

	cr_assert_gt(n, 0);
	exe[n] = '\0';
	known_function(pcs, &line);
	/* The test binary, recorded with a build id it does not have: rebuilt since. */
	cr_assert(dladdr((void *)(uintptr_t)pcs[0], &info));
	ms_symbolizer_add_module(sym, 1, (uint64_t)(uintptr_t)info.dli_fbase, pcs[0] + 0x100000, exe,
	                         "00112233445566778899aabbccddeeff00112233");
	cr_assert_eq(ms_symbolize_kind(sym, pcs[0], buf, sizeof(buf), &kind), 0);
	cr_assert_eq(kind, MS_SYM_OFFSET, "%s", buf);
	cr_assert_eq(strncmp(buf, exe_name(), strlen(exe_name())), 0, "%s", buf);
}

Test(symbolize, a_later_module_wins_where_ranges_overlap)
{
	char buf[128];

	ms_symbolizer_add_module(sym, 1, 0x1000, 0x3000, "/nope/a.so", NULL);
	ms_symbolizer_add_module(sym, 2, 0x2000, 0x4000, "/nope/b.so", NULL);
	ms_symbolize(sym, 0x1500, buf, sizeof(buf));
	cr_assert_str_eq(buf, "a.so+0x500");
	ms_symbolize(sym, 0x2500, buf, sizeof(buf));
	cr_assert_str_eq(buf, "b.so+0x500");
}

Test(symbolize, python_interpreter_frames_are_recognised_by_module_and_function)
{
	cr_assert(ms_sym_is_python_frame("/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0",
	                                 "_PyEval_EvalFrameDefault"));
	cr_assert(ms_sym_is_python_frame("/usr/bin/python3.11", "_PyEval_EvalFrameDefault"));
	cr_assert(ms_sym_is_python_frame("/opt/conda/bin/python", "_PyFunction_Vectorcall"));
	cr_assert(ms_sym_is_python_frame("/usr/bin/python3.12", "_PyEval_EvalFrameDefault.lto_priv.0"));
	cr_assert_not(ms_sym_is_python_frame("/usr/lib/libfoo.so", "_PyEval_EvalFrameDefault"));
	cr_assert_not(ms_sym_is_python_frame("/usr/bin/python3.11", "main"));
	cr_assert_not(ms_sym_is_python_frame("/x/_C.cpython-311-x86_64-linux-gnu.so", "_PyEval_X"));
	cr_assert_not(ms_sym_is_python_frame("/x/python_ext.cpython-311.so", "_PyEval_X"));
}

Test(symbolize, the_python_eval_loop_is_labelled_in_a_real_libpython)
{
	static const char *const libs[] = { "libpython3.13.so.1.0", "libpython3.12.so.1.0",
		                            "libpython3.11.so.1.0", "libpython3.10.so.1.0",
		                            "libpython3.9.so.1.0" };
	void *h = NULL, *eval, *other;
	enum ms_sym_kind kind;
	char buf[512];

	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]) && !h; i++)
		h = dlopen(libs[i], RTLD_LAZY | RTLD_LOCAL);
	if (!h)
		cr_skip_test("no libpython on this machine");
	eval = dlsym(h, "_PyEval_EvalFrameDefault");
	other = dlsym(h, "PyLong_FromLong");
	cr_assert_not_null(eval);
	cr_assert_not_null(other);
	load_modules();
	cr_assert_eq(ms_symbolize_kind(sym, (uint64_t)(uintptr_t)eval + 16, buf, sizeof(buf), &kind), 0);
	cr_assert_str_eq(buf, MS_SYM_PYTHON_LABEL);
	cr_assert_eq(kind, MS_SYM_PYTHON);
	cr_assert_eq(ms_symbolize_addr(sym, (uint64_t)(uintptr_t)other, buf, sizeof(buf), &kind), 0);
	cr_assert_eq(kind, MS_SYM_FUNCTION, "%s", buf);
	cr_assert_eq(strncmp(buf, "PyLong_FromLong", 15), 0, "%s", buf);
	cr_assert_not_null(strstr(buf, "[libpython3."), "%s", buf);
}
