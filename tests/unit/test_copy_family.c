/* test_copy_family.c — "no copy path silently missed" as a checked property: every
 * copy and memset entry point the installed CUDA headers declare (cuMemcpy*, cuMemset*,
 * cudaMemcpy*, cudaMemset*, with the _v2/_ptds/_ptsz symbols cuda.h and
 * cuda_runtime_api.h #define the plain names to) is a row of shim/entry_points.h or
 * sits in the one exclusion list below, with the reason. A CUDA release that adds a
 * copy call fails this test until someone decides what to do with it.
 */
#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/entry_points.h"

#define CUDA_INCLUDE "/usr/local/cuda/include"

/* Wrapped rows (DRV, RT) and rows the shim knows without wrapping (KNOWN: the
 * 32-bit v1 ABIs of CUDA 2.x, which take 32-bit device pointers and sizes; a
 * 64-bit process on CUDA 13 reaches only their _v2 forms). */
#define ROW(sym, proc, version, pt) #sym,
#define SKIP(sym, proc, version, pt)
static const char *const wrapped[] = { MS_ENTRY_POINTS(ROW, ROW, SKIP, SKIP) };
static const char *const known[] = { MS_ENTRY_POINTS(SKIP, SKIP, SKIP, ROW) };

/* The ONE exclusion list: copy/memset family members the shim deliberately does not
 * hook, each with why. Empty today: every member the CUDA 13 headers declare is
 * hooked (the CUDA array copies are recorded with array=1, see TRACE_FORMAT.md). */
static const struct {
	const char *name;
	const char *why;
} excluded[] = {
	{ NULL, NULL },
};

static bool in(const char *const *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] && !strcmp(list[i], name))
			return true;
	return false;
}

static bool is_excluded(const char *name)
{
	for (size_t i = 0; i < sizeof(excluded) / sizeof(excluded[0]); i++)
		if (excluded[i].name && !strcmp(excluded[i].name, name))
			return true;
	return false;
}

/* Names collected from the headers, deduplicated. */
struct names {
	char *v[1024];
	size_t n;
};

static void add(struct names *s, const char *name, size_t len, const char *suffix)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%.*s%s", (int)len, name, suffix);
	if (in((const char *const *)s->v, s->n, buf))
		return;
	cr_assert_lt(s->n, sizeof(s->v) / sizeof(s->v[0]), "too many copy-family names");
	s->v[s->n++] = strdup(buf);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long len;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = calloc(1, (size_t)len + 1);
		if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

#define FAMILY "(cu|cuda)Mem(cpy|set)[A-Za-z0-9_]*"

/* Declarations (`CUDAAPI cuMemcpyHtoD_v2(`, `CUDARTAPI cudaMemcpy(`) and the
 * per-thread / versioned #defines (`#define cuMemcpyHtoD __CUDA_API_PTDS(cuMemcpyHtoD_v2)`:
 * the symbol is cuMemcpyHtoD_v2, and cuMemcpyHtoD_v2_ptds in a per-thread build). */
static void scan(const char *text, struct names *s)
{
	regex_t decl, def;
	regmatch_t m[4];

	cr_assert_eq(regcomp(&decl, "(CUDAAPI|CUDARTAPI)[ \t]+(" FAMILY ")[ \t]*\\(", REG_EXTENDED), 0);
	cr_assert_eq(regcomp(&def,
	                     "#[ \t]*define[ \t]+" FAMILY "[ \t]+__CUDA(RT)?_API_PT(DS|SZ)\\(("
	                     "(cu|cuda)Mem(cpy|set)[A-Za-z0-9_]*)\\)",
	                     REG_EXTENDED),
	             0);
	for (const char *p = text; regexec(&decl, p, 4, m, 0) == 0; p += m[0].rm_eo)
		add(s, p + m[2].rm_so, (size_t)(m[2].rm_eo - m[2].rm_so), "");
	for (const char *p = text; regexec(&def, p, 0, NULL, 0) == 0;) {
		regmatch_t d[8];

		regexec(&def, p, 8, d, 0);
		const char *target = p + d[5].rm_so;
		size_t len = (size_t)(d[5].rm_eo - d[5].rm_so);
		bool ds = p[d[4].rm_so] == 'D';

		add(s, target, len, "");
		add(s, target, len, ds ? "_ptds" : "_ptsz");
		p += d[0].rm_eo;
	}
	regfree(&decl);
	regfree(&def);
}

static struct names *header_names(void)
{
	static struct names s;
	const char *files[] = { CUDA_INCLUDE "/cuda.h", CUDA_INCLUDE "/cuda_runtime_api.h" };

	if (s.n)
		return &s;
	for (size_t i = 0; i < 2; i++) {
		char *text = slurp(files[i]);

		if (!text)
			cr_skip_test("%s is not installed: the copy family cannot be checked here", files[i]);
		scan(text, &s);
		free(text);
	}
	return &s;
}

Test(copy_family, every_declared_copy_or_memset_is_hooked_or_excluded_with_a_reason)
{
	struct names *s = header_names();
	size_t missed = 0;

	cr_assert_gt(s->n, 100, "only %zu copy-family names found: the header scan is broken", s->n);
	for (size_t i = 0; i < s->n; i++) {
		const char *name = s->v[i];

		if (in(wrapped, sizeof(wrapped) / sizeof(wrapped[0]), name) ||
		    in(known, sizeof(known) / sizeof(known[0]), name) || is_excluded(name))
			continue;
		cr_log_error("not hooked and not excluded: %s", name);
		missed++;
	}
	cr_assert_eq(missed, 0, "%zu copy-family entry points are silently missed (see the log)", missed);
}

Test(copy_family, the_scan_sees_the_forms_the_defines_name)
{
	struct names *s = header_names();
	const char *const sample[] = { "cuMemcpyHtoD_v2_ptds", "cuMemcpy3DBatchAsync_v2_ptsz",
		                       "cudaMemset3D_ptds", "cudaMemcpy2DFromArrayAsync_ptsz",
		                       "cuMemcpyAtoA_v2" };

	for (size_t i = 0; i < sizeof(sample) / sizeof(sample[0]); i++)
		cr_expect(in((const char *const *)s->v, s->n, sample[i]), "%s not found by the scan",
		          sample[i]);
}

Test(copy_family, exclusions_are_declared_and_not_also_hooked)
{
	struct names *s = header_names();

	for (size_t i = 0; i < sizeof(excluded) / sizeof(excluded[0]); i++) {
		if (!excluded[i].name)
			continue;
		cr_expect(excluded[i].why && *excluded[i].why, "%s is excluded without a reason",
		          excluded[i].name);
		cr_expect(in((const char *const *)s->v, s->n, excluded[i].name),
		          "%s is excluded but no header declares it (stale entry)", excluded[i].name);
		cr_expect(!in(wrapped, sizeof(wrapped) / sizeof(wrapped[0]), excluded[i].name),
		          "%s is both hooked and excluded", excluded[i].name);
	}
}
