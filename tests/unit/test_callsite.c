/* test_callsite.c — the call site of a stack is the first frame, innermost out, that
 * is not plumbing: past the shim, libc, libffi/ctypes, the CUDA runtime and driver
 * (shared, or linked into the program), and PyTorch's CUDA layer; said to come
 * from Python when the interpreter lies further out. Frames are named through the
 * test seam (hand-written names), so no ELF file is needed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "callsite.h"
#include "model.h"

/* Module bases: each module is 0x100000 long; frame k of a module is base + k * 0x10. */
#define APP   0x400000ull
#define SHIM  0x7f0000000000ull
#define LIBC  0x7f0000100000ull
#define RT    0x7f0000200000ull
#define FFI   0x7f0000300000ull
#define CTY   0x7f0000400000ull
#define PY    0x7f0000500000ull
#define C10   0x7f0000600000ull
#define TORCH 0x7f0000700000ull
#define TPY   0x7f0000800000ull

static const char modules[] =
        "module id=1 base=0x400000 end=0x500000 path=/opt/app buildid=-\n"
        "module id=2 base=0x7f0000000000 end=0x7f0000100000 path=/usr/lib/libmetashim.so buildid=-\n"
        "module id=3 base=0x7f0000100000 end=0x7f0000200000 path=/lib/x86_64-linux-gnu/libc.so.6 buildid=-\n"
        "module id=4 base=0x7f0000200000 end=0x7f0000300000 path=/usr/local/cuda/lib64/libcudart.so.13 "
        "buildid=-\n"
        "module id=5 base=0x7f0000300000 end=0x7f0000400000 path=/usr/lib/libffi.so.8 buildid=-\n"
        "module id=6 base=0x7f0000400000 end=0x7f0000500000 "
        "path=/usr/lib/python3.11/lib-dynload/_ctypes.cpython-311-x86_64-linux-gnu.so buildid=-\n"
        "module id=7 base=0x7f0000500000 end=0x7f0000600000 path=/usr/lib/libpython3.11.so.1.0 buildid=-\n"
        "module id=8 base=0x7f0000600000 end=0x7f0000700000 path=/venv/torch/lib/libc10_cuda.so buildid=-\n"
        "module id=9 base=0x7f0000700000 end=0x7f0000800000 path=/venv/torch/lib/libtorch_cuda.so buildid=-\n"
        "module id=10 base=0x7f0000800000 end=0x7f0000900000 path=/venv/torch/lib/libtorch_python.so "
        "buildid=-\n";

/* What the fake symbolizer says of each pc. */
struct named {
	uint64_t pc;
	const char *text;
	enum ms_sym_kind kind;
};

static const struct named names[] = {
	{ APP + 0x10, "copy_1d (runtime_copy.c:18) [app]", MS_SYM_FUNCTION },
	{ APP + 0x20, "cudaMemcpy (runtime_copy.c:36) [app]", MS_SYM_FUNCTION },
	{ APP + 0x30, "upload_one (load_runtime.c:72) [app]", MS_SYM_FUNCTION },
	{ APP + 0x40, "main (load_runtime.c:300) [app]", MS_SYM_FUNCTION },
	{ APP + 0x50, "cudart::driverHelper::memcpyDispatch(void*, void const*, unsigned long) [app]",
	  MS_SYM_FUNCTION },
	{ APP + 0x60, "__cudart1234 [app]", MS_SYM_FUNCTION },
	{ APP + 0x70, "cudaUploader::run(int (*)(int)) (upload.cpp:9) [app]", MS_SYM_FUNCTION },
	{ SHIM + 0x10, "ms_hook_memcpy (hooks_runtime.c:40) [libmetashim.so]", MS_SYM_FUNCTION },
	{ LIBC + 0x10, "start_thread (pthread_create.c:442) [libc.so.6]", MS_SYM_FUNCTION },
	{ RT + 0x10, "cudaMemcpy [libcudart.so.13]", MS_SYM_FUNCTION },
	{ RT + 0x20, "cudaMemcpyAsync [libcudart.so.13]", MS_SYM_FUNCTION },
	{ FFI + 0x10, "libffi.so.8+0x6f7a", MS_SYM_OFFSET },
	{ CTY + 0x10, "_ctypes_callproc [_ctypes.cpython-311-x86_64-linux-gnu.so]", MS_SYM_FUNCTION },
	{ PY + 0x10, MS_SYM_PYTHON_LABEL, MS_SYM_PYTHON },
	{ C10 + 0x10,
	  "c10::cuda::memcpy_and_sync(void*, void*, long, cudaMemcpyKind, CUstream_st*) "
	  "(CUDAFunctions.h:90) [libc10_cuda.so]",
	  MS_SYM_FUNCTION },
	{ TORCH + 0x10,
	  "at::native::copy_kernel_cuda(at::TensorIterator&, bool) (Copy.cu:200) "
	  "[libtorch_cuda.so]",
	  MS_SYM_FUNCTION },
	{ TPY + 0x10, "THPVariable_copy_ (python_variable_methods.cpp:500) [libtorch_python.so]",
	  MS_SYM_FUNCTION },
};

static int fake_namer(void *ctx, uint64_t pc, char *buf, size_t cap, enum ms_sym_kind *kind)
{
	(void)ctx;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].pc == pc) {
			snprintf(buf, cap, "%s", names[i].text);
			*kind = names[i].kind;
			return 0;
		}
	return -ENOENT;
}

static struct ms_run run;

/* A run whose stack 1 is the chain of pcs given innermost first (0-terminated). */
static void load_chain(const uint64_t *pcs)
{
	char path[] = "/tmp/test_callsite_XXXXXX";
	int fd = mkstemp(path);
	FILE *f;
	size_t n = 0;

	cr_assert(fd >= 0);
	f = fdopen(fd, "w");
	cr_assert(f);
	while (pcs[n])
		n++;
	fprintf(f, "metashim-trace 1\nheader fmt=1 pid=1 mode=trace\n%s", modules);
	/* the trie holds the outermost frame at the root: stack n is the innermost */
	for (size_t i = 0; i < n; i++)
		fprintf(f, "stack id=%zu parent=%zu pc=0x%llx\n", i + 1, i,
		        (unsigned long long)pcs[n - 1 - i]);
	fprintf(f,
	        "copy seq=1 t=1 dur=1 tid=1 api=cudaMemcpy dir=H2D dst=0x1000 src=0x2000 bytes=16 "
	        "stream=0x0 rc=0 stack=%zu\n",
	        n);
	fclose(f);
	cr_assert_eq(ms_run_load(&run, path, &(struct ms_model_opts){ .quiet = true }), 0);
	unlink(path);
}

static void setup(void)
{
	ms_callsite_set_namer(fake_namer, NULL);
}

static void teardown(void)
{
	ms_callsite_set_namer(NULL, NULL);
	ms_run_free(&run);
}

TestSuite(callsite, .init = setup, .fini = teardown);

/* The name of the innermost stack of the chain. */
static const char *site(const uint64_t *pcs, bool symbolize)
{
	static char buf[512];

	load_chain(pcs);
	ms_callsite_name(&run, run.sites[0].stack, symbolize, buf, sizeof(buf));
	return buf;
}

Test(callsite, a_statically_linked_runtime_is_looked_past_to_the_loader)
{
	const uint64_t pcs[] = { APP + 0x10, APP + 0x20, APP + 0x30, APP + 0x40, LIBC + 0x10, 0 };

	cr_expect_str_eq(site(pcs, true), "upload_one (load_runtime.c:72) [app]");
}

Test(callsite, runtime_internals_named_cudart_are_plumbing_wherever_linked)
{
	const uint64_t pcs[] = { APP + 0x60, APP + 0x50, APP + 0x30, APP + 0x40, 0 };

	cr_expect_str_eq(site(pcs, true), "upload_one (load_runtime.c:72) [app]");
}

Test(callsite, the_shim_and_a_shared_runtime_are_looked_past)
{
	const uint64_t pcs[] = { SHIM + 0x10, RT + 0x10, APP + 0x30, APP + 0x40, 0 };

	cr_expect_str_eq(site(pcs, true), "upload_one (load_runtime.c:72) [app]");
}

Test(callsite, user_frames_under_a_runtime_named_caller_stay_the_users_with_a_shared_runtime)
{
	/* upload_one calls cudaMemcpy in the shared runtime; its caller happens to be
	 * named like the runtime: the copy did not go through a runtime linked into app */
	const uint64_t pcs[] = { RT + 0x10, APP + 0x30, APP + 0x20, 0 };

	cr_expect_str_eq(site(pcs, true), "upload_one (load_runtime.c:72) [app]");
}

Test(callsite, a_cxx_argument_list_is_not_mistaken_for_a_source_line)
{
	/* "cudaUploader::run(int (*)(int))" starts like a runtime name: it is one by the rule */
	const uint64_t pcs[] = { RT + 0x10, APP + 0x70, APP + 0x40, 0 };

	cr_expect_str_eq(site(pcs, true), "main (load_runtime.c:300) [app]");
}

Test(callsite, python_calling_the_runtime_through_ctypes_says_so)
{
	const uint64_t pcs[] = { SHIM + 0x10, RT + 0x10, FFI + 0x10, CTY + 0x10, PY + 0x10, PY + 0x10, 0 };

	cr_expect_str_eq(site(pcs, true), "[python] via ctypes: cudaMemcpy");
}

Test(callsite, python_through_pytorch_names_the_torch_function_and_says_python)
{
	const uint64_t pcs[] = { RT + 0x20, C10 + 0x10, TORCH + 0x10, TPY + 0x10, PY + 0x10, 0 };

	cr_expect_str_eq(site(pcs, true), "[python] via libtorch_cuda.so: "
	                                  "at::native::copy_kernel_cuda(at::TensorIterator&, bool) "
	                                  "(Copy.cu:200)");
}

Test(callsite, all_plumbing_falls_back_to_the_innermost_frame_past_the_shim)
{
	const uint64_t pcs[] = { SHIM + 0x10, RT + 0x10, LIBC + 0x10, 0 };

	cr_expect_str_eq(site(pcs, true), "cudaMemcpy [libcudart.so.13]");
}

Test(callsite, raw_addresses_skip_plumbing_modules)
{
	const uint64_t pcs[] = { SHIM + 0x10, FFI + 0x10, RT + 0x10, APP + 0x30, 0 };

	cr_expect_str_eq(site(pcs, false), "0x400030 [app+0x30]");
}

Test(callsite, raw_addresses_say_python_when_the_interpreter_called)
{
	const uint64_t pcs[] = { RT + 0x20, C10 + 0x10, TORCH + 0x10, PY + 0x10, 0 };

	cr_expect_str_eq(site(pcs, false), "[python] via 0x7f0000700010 [libtorch_cuda.so+0x10]");
}

Test(callsite, frames_carry_their_roles_and_the_pick)
{
	const uint64_t pcs[] = { APP + 0x10, APP + 0x20, APP + 0x30, LIBC + 0x10, 0 };
	struct ms_site_frames f;
	char name[256];

	load_chain(pcs);
	cr_assert_eq(ms_callsite_frames(&run, run.sites[0].stack, true, &f), 4);
	cr_expect_eq(f.pick, 2);
	cr_expect_eq(f.role[0], MS_FR_CUDA, "what cudaMemcpy called in the same object is runtime");
	cr_expect_eq(f.role[1], MS_FR_CUDA);
	cr_expect_eq(f.role[2], MS_FR_USER);
	cr_expect_eq(f.role[3], MS_FR_PLUMBING);
	cr_expect(!f.python);
	ms_callsite_frame_name(&run, run.sites[0].stack, 0, true, name, sizeof(name));
	cr_expect_str_eq(name, "copy_1d (runtime_copy.c:18) [app]");
	ms_callsite_frame_name(&run, run.sites[0].stack, 3, false, name, sizeof(name));
	cr_expect_str_eq(name, "0x7f0000100010 [libc.so.6+0x10]");
}

Test(callsite, no_backtrace_stays_no_backtrace)
{
	char name[64];

	ms_callsite_name(&run, 0, true, name, sizeof(name));
	cr_expect_str_eq(name, "(no backtrace)");
}
