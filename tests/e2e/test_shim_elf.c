/* test_shim_elf.c — what libmetashim.so shows the process it is preloaded into: it
 * exports only the interposed entry points and the public API, and it needs no
 * library but the C runtime (no CUDA library, no jansson, no libunwind: those are
 * reached lazily and privately). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"

static FILE *run_on_shim(const char *tool)
{
	char *lib = e2e_bin("libmetashim.so");
	char cmd[4096];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s '%s' 2>&1", tool, lib);
	p = popen(cmd, "r");
	cr_assert_not_null(p, "cannot run %s", cmd);
	free(lib);
	return p;
}

static bool exported_name_ok(const char *name)
{
	static const char *const exact[] = { "dlsym", "mmap", "mmap64", "munmap", "mremap" };

	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (!strcmp(name, exact[i]))
			return true;
	return !strncmp(name, "metashim_", 9) || !strncmp(name, "cuda", 4) ||
	       (name[0] == 'c' && name[1] == 'u' && name[2] >= 'A' && name[2] <= 'Z');
}

Test(shim_elf, exports_only_hooks_and_the_public_api)
{
	FILE *p = run_on_shim("nm -D --defined-only");
	char line[512], type, name[400];
	int n = 0, api = 0;

	while (fgets(line, sizeof(line), p)) {
		if (sscanf(line, "%*s %c %399s", &type, name) != 2)
			continue;
		cr_expect(exported_name_ok(name), "unexpected export: %s", name);
		n++;
		api += !strncmp(name, "metashim_", 9);
	}
	cr_expect_eq(pclose(p), 0, "nm failed");
	cr_expect_gt(n, 100, "only %d exports: the hooks are missing", n);
	cr_expect_gt(api, 10, "only %d metashim_* functions exported", api);
}

Test(shim_elf, needs_nothing_but_the_c_runtime)
{
	FILE *p = run_on_shim("readelf -d");
	char line[512];
	int needed = 0;

	while (fgets(line, sizeof(line), p)) {
		char *lib = strstr(line, "Shared library: [");

		if (!lib)
			continue;
		lib += strlen("Shared library: [");
		needed++;
		cr_expect(!strncmp(lib, "libc.so", 7) || !strncmp(lib, "ld-linux", 8) ||
		                  !strncmp(lib, "libdl.so", 8) || !strncmp(lib, "libpthread.so", 13) ||
		                  !strncmp(lib, "libasan.so", 10) || !strncmp(lib, "libubsan.so", 11) ||
		                  !strncmp(lib, "libm.so", 7),
		          "unexpected DT_NEEDED: %s", lib);
	}
	cr_expect_eq(pclose(p), 0, "readelf failed");
	cr_expect_gt(needed, 0);
}
