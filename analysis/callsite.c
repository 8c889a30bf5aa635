/* callsite.c — names a call site for people: the innermost frame that is not the
 * shim itself, symbolized through analysis/symbolize.c when that module is linked
 * in (weak references: the tool builds and prints raw addresses without it). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "model.h"

#include "symbolize.h"

/* Weak: the tool links (and prints raw addresses) without symbolize.c. */
#pragma weak ms_symbolizer_new
#pragma weak ms_symbolizer_add_module
#pragma weak ms_symbolize
#pragma weak ms_symbolizer_free

#define MAX_FRAMES 64

static const struct ms_module *module_of(const struct ms_run *run, uint64_t pc)
{
	for (size_t i = 0; i < run->nmodules; i++)
		if (pc >= run->modules[i].base && pc < run->modules[i].end)
			return &run->modules[i];
	return NULL;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static bool is_shim(const struct ms_module *m)
{
	return m && strstr(base_name(m->path), "libmetashim") != NULL;
}

/* One symbolizer per run, made on first use and kept for the process (the runs of
 * one command live as long as it does); keyed by the run's address. */
static struct ms_symbolizer *symbolizer_for(const struct ms_run *run)
{
	static const struct ms_run *cached_run;
	static struct ms_symbolizer *cached;
	if (!ms_symbolizer_new || !ms_symbolize || !ms_symbolizer_add_module)
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

void ms_callsite_name(const struct ms_run *run, uint32_t stack, bool symbolize, char *buf, size_t cap)
{
	uint64_t pcs[MAX_FRAMES];
	size_t n = ms_run_stack_frames(run, stack, pcs, MAX_FRAMES);
	if (!n) {
		snprintf(buf, cap, stack ? "stack #%" PRIu32 " (frames not in trace)" : "(no backtrace)",
		         stack);
		return;
	}
	size_t pick = 0;
	while (pick + 1 < n && is_shim(module_of(run, pcs[pick])))
		pick++;
	uint64_t pc = pcs[pick];
	struct ms_symbolizer *s = symbolize ? symbolizer_for(run) : NULL;
	if (s && ms_symbolize(s, pc, buf, cap) == 0 && buf[0])
		return;
	const struct ms_module *m = module_of(run, pc);
	if (m)
		snprintf(buf, cap, "0x%" PRIx64 " [%s+0x%" PRIx64 "]", pc, base_name(m->path), pc - m->base);
	else
		snprintf(buf, cap, "0x%" PRIx64, pc);
}
