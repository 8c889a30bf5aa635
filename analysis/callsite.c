/* callsite.c — names a call site for people: the innermost frame that is not
 * plumbing (the shim, libc, ld.so, libffi, the CUDA runtime and driver, also when
 * the runtime is linked into the program), said to be reached from Python when the
 * interpreter lies further out. Symbolized through analysis/symbolize.c when that
 * module is linked in (weak references: without it, raw addresses). */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "callsite.h"
#include "model.h"
#include "symbolize.h"

/* Weak: the tool links (and prints raw addresses) without symbolize.c. */
#pragma weak ms_symbolizer_new
#pragma weak ms_symbolizer_add_module
#pragma weak ms_symbolize_kind
#pragma weak ms_symbolizer_free

static ms_callsite_namer_fn test_namer;
static void *test_namer_ctx;

void ms_callsite_set_namer(ms_callsite_namer_fn fn, void *ctx)
{
	test_namer = fn;
	test_namer_ctx = ctx;
}

static const struct ms_module *module_of(const struct ms_run *run, uint64_t pc)
{
	for (size_t i = run->nmodules; i-- > 0;)
		if (pc >= run->modules[i].base && pc < run->modules[i].end)
			return &run->modules[i];
	return NULL;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* Objects no user reads for the reason behind a copy: the shim, the C library and
 * loader, foreign-function glue (ctypes), PyTorch's CUDA wrapper layer. */
static const char *const plumbing_modules[] = {
	"libmetashim", "libc.so", "libc-",      "libpthread", "libdl.",  "librt.",
	"ld-linux",    "ld-",     "linux-vdso", "libffi",     "_ctypes", "libc10_cuda",
};

static bool is_shim(const struct ms_module *m)
{
	return m && starts(base_name(m->path), "libmetashim");
}

static enum ms_frame_role module_role(const struct ms_module *m)
{
	const char *name = m ? base_name(m->path) : "";

	if (starts(name, "libcuda")) /* libcuda.so, libcudart.so */
		return MS_FR_CUDA;
	if ((starts(name, "libpython") && strstr(name, ".so")) ||
	    (starts(name, "python") && !strstr(name, ".so")))
		return MS_FR_PYTHON;
	for (size_t i = 0; i < sizeof(plumbing_modules) / sizeof(plumbing_modules[0]); i++)
		if (starts(name, plumbing_modules[i]))
			return MS_FR_PLUMBING;
	return MS_FR_USER;
}

/* A CUDA runtime or driver function, wherever it is linked: cudaMemcpy, cuMemcpyHtoD_v2,
 * cudart::..., __cudart123, __cudaRegisterFatBinary. */
static bool cuda_function(const char *fn)
{
	if (starts(fn, "cudart::") || starts(fn, "__cuda"))
		return true;
	if (starts(fn, "cuda"))
		return isupper((unsigned char)fn[4]) || fn[4] == '_';
	return fn[0] == 'c' && fn[1] == 'u' && isupper((unsigned char)fn[2]);
}

/* One symbolizer per run, made on first use and kept for the process (the runs of
 * one command live as long as it does); keyed by the run's address. */
static struct ms_symbolizer *symbolizer_for(const struct ms_run *run)
{
	static const struct ms_run *cached_run;
	static struct ms_symbolizer *cached;
	if (!ms_symbolizer_new || !ms_symbolize_kind || !ms_symbolizer_add_module)
		return NULL;
	if (cached_run == run)
		return cached;
	if (cached && ms_symbolizer_free)
		ms_symbolizer_free(cached);
	cached = ms_symbolizer_new();
	cached_run = run;
	for (size_t i = 0; cached && i < run->nmodules; i++) {
		const struct ms_module *m = &run->modules[i];
		ms_symbolizer_add_module(cached, (uint32_t)m->id, m->base, m->end, m->path, m->buildid);
	}
	return cached;
}

/* Name pc into buf; *kind says what buf holds (MS_SYM_UNKNOWN / MS_SYM_OFFSET for
 * the raw forms written without a symbolizer). */
static void name_pc(const struct ms_run *run, uint64_t pc, bool symbolize, char *buf, size_t cap,
                    enum ms_sym_kind *kind)
{
	struct ms_symbolizer *s;
	const struct ms_module *m;

	if (symbolize && test_namer && test_namer(test_namer_ctx, pc, buf, cap, kind) == 0 && buf[0])
		return;
	s = symbolize && !test_namer ? symbolizer_for(run) : NULL;
	if (s && ms_symbolize_kind(s, pc, buf, cap, kind) == 0 && buf[0])
		return;
	m = module_of(run, pc);
	*kind = m ? MS_SYM_OFFSET : MS_SYM_UNKNOWN;
	if (m)
		snprintf(buf, cap, "0x%" PRIx64 " [%s+0x%" PRIx64 "]", pc, base_name(m->path), pc - m->base);
	else
		snprintf(buf, cap, "0x%" PRIx64, pc);
}

/* True when s[0..n) is " (file:123)": a symbolized name's source, not a C++
 * argument list. */
static bool is_source(const char *s, size_t n)
{
	size_t d = n - 1;

	if (n < 6 || strncmp(s, " (", 2) || s[n - 1] != ')')
		return false;
	while (d > 2 && isdigit((unsigned char)s[d - 1]))
		d--;
	return d < n - 1 && s[d - 1] == ':' && !memchr(s + 2, ')', d - 3);
}

/* The function part of a symbolized name: "fn (file.c:12) [module]" -> "fn (file.c:12)"
 * into out; and the bare function ("fn") into fn when fn is not NULL. */
static void split_name(const char *text, char *out, size_t cap, char *fn, size_t fcap)
{
	size_t n = strlen(text);
	const char *br = n && text[n - 1] == ']' ? strrchr(text, '[') : NULL;
	size_t keep = br && br > text && br[-1] == ' ' ? (size_t)(br - 1 - text) : n, end = keep;

	snprintf(out, cap, "%.*s", (int)keep, text);
	if (!fn)
		return;
	for (size_t i = keep; i-- > 0;)
		if (text[i] == ' ' && is_source(text + i, keep - i)) {
			end = i;
			break;
		}
	snprintf(fn, fcap, "%.*s", (int)end, text);
}

size_t ms_callsite_frames(const struct ms_run *run, uint32_t stack, bool symbolize,
                          struct ms_site_frames *out)
{
	uint64_t pcs[MS_SITE_MAX_FRAMES];
	size_t n = ms_run_stack_frames(run, stack, pcs, MS_SITE_MAX_FRAMES);
	size_t api = SIZE_MAX;
	char text[512], part[512], fn[512];

	memset(out, 0, sizeof(*out));
	out->n = n;
	for (size_t i = 0; i < n; i++) {
		enum ms_sym_kind kind;

		out->role[i] = module_role(module_of(run, pcs[i]));
		if (!symbolize || out->role[i] != MS_FR_USER)
			continue;
		name_pc(run, pcs[i], true, text, sizeof(text), &kind);
		if (kind == MS_SYM_PYTHON) {
			out->role[i] = MS_FR_PYTHON;
			continue;
		}
		if (kind != MS_SYM_FUNCTION)
			continue;
		split_name(text, part, sizeof(part), fn, sizeof(fn));
		if (cuda_function(fn)) {
			out->role[i] = MS_FR_CUDA;
			if (api == SIZE_MAX)
				api = i;
		}
	}
	/* A runtime linked into the program: what its entry point called in the same
	 * object (copy_1d under cudaMemcpy, cudart::... helpers) is the runtime too;
	 * unless the copy went through another object first (a shared libcudart), where
	 * the same-object frames are the user's code that merely looks like the runtime. */
	for (size_t i = 0; api != SIZE_MAX && i < api; i++)
		if (module_of(run, pcs[i]) != module_of(run, pcs[api]) && out->role[i] != MS_FR_PLUMBING)
			api = SIZE_MAX;
	for (size_t i = 0; api != SIZE_MAX && i < api; i++)
		if (out->role[i] == MS_FR_USER)
			out->role[i] = MS_FR_CUDA;

	out->pick = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		if (out->role[i] == MS_FR_PYTHON) {
			out->python = true;
			break;
		}
		if (out->role[i] == MS_FR_USER && out->pick == SIZE_MAX)
			out->pick = i;
	}
	if (out->pick == SIZE_MAX && out->python) {
		/* Python called the runtime itself (ctypes): show the outermost CUDA
		 * entry point it reached. */
		for (size_t i = 0; i < n && out->role[i] != MS_FR_PYTHON; i++)
			if (out->role[i] == MS_FR_CUDA)
				out->pick = i;
	}
	if (out->pick == SIZE_MAX) {
		/* All plumbing: the innermost frame that is not the shim. */
		out->pick = 0;
		while (out->pick + 1 < n && is_shim(module_of(run, pcs[out->pick])))
			out->pick++;
	}
	return n;
}

void ms_callsite_frame_name(const struct ms_run *run, uint32_t stack, size_t i, bool symbolize, char *buf,
                            size_t cap)
{
	uint64_t pcs[MS_SITE_MAX_FRAMES];
	size_t n = ms_run_stack_frames(run, stack, pcs, MS_SITE_MAX_FRAMES);
	enum ms_sym_kind kind;

	if (i >= n) {
		snprintf(buf, cap, "?");
		return;
	}
	name_pc(run, pcs[i], symbolize, buf, cap, &kind);
}

const char *ms_frame_role_name(enum ms_frame_role r)
{
	switch (r) {
	case MS_FR_PLUMBING: return "plumbing";
	case MS_FR_CUDA: return "runtime";
	case MS_FR_PYTHON: return "python";
	default: return "";
	}
}

/* "[python] via libtorch_cuda.so: at::native::copy_ (Copy.cpp:123)": the user's code
 * is the Python calling into that object; "[python] via ctypes: cudaMemcpy" when
 * the Python code called the runtime itself. */
static void python_label(const struct ms_run *run, const struct ms_site_frames *f, const uint64_t *pcs,
                         const char *text, enum ms_sym_kind kind, char *buf, size_t cap)
{
	const struct ms_module *m = module_of(run, pcs[f->pick]);
	const char *via = m ? base_name(m->path) : "?";
	char part[512];

	for (size_t i = f->pick; f->role[f->pick] == MS_FR_CUDA && i < f->n; i++) {
		const struct ms_module *o = module_of(run, pcs[i]);
		if (f->role[i] == MS_FR_PYTHON)
			break;
		if (o && (starts(base_name(o->path), "libffi") || starts(base_name(o->path), "_ctypes")))
			via = "ctypes";
	}
	if (kind != MS_SYM_FUNCTION) {
		snprintf(buf, cap, "[python] via %s", text);
		return;
	}
	split_name(text, part, sizeof(part), NULL, 0);
	snprintf(buf, cap, "[python] via %s: %s", via, part);
}

void ms_callsite_name(const struct ms_run *run, uint32_t stack, bool symbolize, char *buf, size_t cap)
{
	uint64_t pcs[MS_SITE_MAX_FRAMES];
	struct ms_site_frames f;
	enum ms_sym_kind kind;
	char text[512];

	if (!ms_callsite_frames(run, stack, symbolize, &f)) {
		snprintf(buf, cap, stack ? "stack #%" PRIu32 " (frames not in trace)" : "(no backtrace)",
		         stack);
		return;
	}
	ms_run_stack_frames(run, stack, pcs, MS_SITE_MAX_FRAMES);
	name_pc(run, pcs[f.pick], symbolize, text, sizeof(text), &kind);
	if (f.python)
		python_label(run, &f, pcs, text, kind, buf, cap);
	else
		snprintf(buf, cap, "%s", text);
}
