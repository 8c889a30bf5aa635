/* counting_helpers.h — shared by the registry/counter/api/hostmap unit tests: a
 * trace in a temporary directory, synthetic tensors and copies, record lookups.
 * Each Criterion test runs in its own process, so the registry starts empty. */
#ifndef COUNTING_HELPERS_H
#define COUNTING_HELPERS_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry.h"

static char ch_dir[64];

/* Defaults (skip list included), quiet, trace into a temp dir, registry live. */
static inline void ch_setup(void)
{
	snprintf(ch_dir, sizeof(ch_dir), "/tmp/ms-count-test-XXXXXX");
	cr_assert_not_null(mkdtemp(ch_dir));
	ms_config_load(&ms_cfg, NULL, NULL, 0);
	ms_cfg.quiet = true;
	snprintf(ms_cfg.out, sizeof(ms_cfg.out), "%s/t-%%p.trace", ch_dir);
	ms_trace_open(&ms_cfg);
	ms_registry_load(&ms_cfg);
}

static inline const char *ch_trace(void);

/* CH_DUMP=1 prints each test's trace (debugging). */
static inline void ch_teardown(void)
{
	char cmd[128];

	if (getenv("CH_DUMP"))
		fprintf(stderr, "%s", ch_trace());

	snprintf(cmd, sizeof(cmd), "rm -rf %s", ch_dir);
	cr_assert_eq(system(cmd), 0);
}

/* The whole trace written so far (static buffer). */
static inline const char *ch_trace(void)
{
	static char text[1 << 20];
	char path[160];
	size_t n = 0;
	FILE *f;

	ms_trace_flush();
	snprintf(path, sizeof(path), "%s/t-%d.trace", ch_dir, (int)getpid());
	f = fopen(path, "r");
	text[0] = '\0';
	if (f) {
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
	}
	text[n] = '\0';
	return text;
}

/* Lines starting with prefix (a record type plus space, or more). */
static inline int ch_count(const char *prefix)
{
	const char *p = ch_trace();
	size_t pl = strlen(prefix);
	int n = 0;

	while (p && *p) {
		if (!strncmp(p, prefix, pl))
			n++;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return n;
}

/* Lines starting with prefix and containing every word of needle (space-separated). */
static inline int ch_count_with(const char *prefix, const char *needle)
{
	const char *p = ch_trace();
	size_t pl = strlen(prefix);
	int n = 0;

	while (p && *p) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char line[1024], words[256], *save, *w;
		bool all = true;

		snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : sizeof(line) - 1), p);
		snprintf(words, sizeof(words), "%s", needle);
		for (w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
			char pad[300];
			snprintf(pad, sizeof(pad), " %s", w);
			size_t wl = strlen(pad);
			const char *hit = strstr(line, pad);
			if (!hit || (hit[wl] != ' ' && hit[wl] != '\0'))
				all = false;
		}
		if (!strncmp(line, prefix, pl) && all)
			n++;
		p = end ? end + 1 : NULL;
	}
	return n;
}

/* Register a 1-D (or 2-D when cols) tensor through the public API. */
static inline struct ms_reg_tensor *ch_tensor(const char *name, uint64_t dev, const char *dtype, int64_t rows,
                                              int64_t cols)
{
	int64_t shape[2] = { rows, cols };
	int rc = metashim_register_tensor(NULL, name, dev, dtype, cols ? 2 : 1, shape, NULL);

	cr_assert_eq(rc, 0, "register %s: %d", name, rc);
	return ms_registry_tensor(name);
}

/* A successful host-to-device copy of bytes from src to dst, as record.c hands it over. */
static inline void ch_copy(uint64_t dst, uint64_t src, uint64_t bytes)
{
	static uint64_t seq;
	struct ms_copy c = { .api = "cudaMemcpy",
		             .dst = dst,
		             .src = src,
		             .width = bytes,
		             .rows = 1,
		             .dpitch = bytes,
		             .spitch = bytes,
		             .dir = MS_DIR_H2D };

	c.seq = ++seq;
	ms_count_copy(&c);
}

static inline struct metashim_counts ch_tcounts(const char *name)
{
	struct metashim_counts k;

	cr_assert_eq(metashim_tensor_counts(name, &k), 0, "counts of %s", name);
	return k;
}

static inline struct metashim_counts ch_lcounts(const char *name)
{
	struct metashim_counts k;

	cr_assert_eq(metashim_layer_counts(name, &k), 0, "counts of layer %s", name);
	return k;
}

#endif /* COUNTING_HELPERS_H */
