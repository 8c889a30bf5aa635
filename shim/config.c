/* config.c — every METASHIM_* environment variable, read once into one static
 * struct (ms_cfg). Parsing takes an envp so tests need no setenv; a bad value
 * keeps its default and is reported with the variable, the value and what was
 * expected, while every other option still loads. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

struct ms_config ms_cfg;

#define DEFAULT_SKIP                                         \
	"_expert_map,expert_mask,expert_global_to_physical," \
	"expert_physical_to_global,expert_local_to_global"
#define MIB (1024ull * 1024)
/* The trace buffer must hold a few whole lines; above 1 GiB is surely a typo. */
#define BUFFER_MIN (8ull * MS_TRACE_MAX_LINE)
#define BUFFER_MAX (1024 * MIB)

const char *ms_mode_name(enum ms_mode mode)
{
	switch (mode) {
	case MS_MODE_TRACE: return "trace";
	case MS_MODE_META: return "meta";
	case MS_MODE_LAYERWISE: return "layerwise";
	}
	return "?";
}

int ms_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {
		{ "", 0 },     { "b", 0 },   { "k", 10 },   { "kb", 10 },  { "kib", 10 },
		{ "m", 20 },   { "mb", 20 }, { "mib", 20 }, { "g", 30 },   { "gb", 30 },
		{ "gib", 30 }, { "t", 40 },  { "tb", 40 },  { "tib", 40 },
	};
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].suffix))
			continue;
		if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
			return -EINVAL;
		*out = (uint64_t)v << units[i].shift;
		return 0;
	}
	return -EINVAL;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off", "" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!strcasecmp(s, yes[i]))
			return *out = true, 0;
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (!strcasecmp(s, no[i]))
			return *out = false, 0;
	return -EINVAL;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

static int parse_str(const char *s, char *dst, size_t cap, bool allow_empty)
{
	size_t n = strlen(s);

	if ((!n && !allow_empty) || n >= cap)
		return -EINVAL;
	memcpy(dst, s, n + 1);
	return 0;
}

/* Appends one line to the caller's message buffer. */
static void complain(char *err, size_t errcap, const char *var, const char *val, const char *want)
{
	size_t used = err && errcap ? strnlen(err, errcap) : 0;

	if (!err || used + 1 >= errcap)
		return;
	snprintf(err + used, errcap - used, "%s%s=\"%s\" is not valid: expected %s; using the default",
	         used ? "\n" : "", var, val, want);
}

static void set_defaults(struct ms_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = MS_MODE_TRACE;
	strcpy(cfg->out, "metashim-%p.trace");
	strcpy(cfg->skip, DEFAULT_SKIP);
	cfg->backtrace = 16;
	cfg->defer_min = 0;
	cfg->staging_max = 1024 * MIB;
	cfg->scratch_bytes = 2 * MIB;
	cfg->buffer_bytes = 1 * MIB;
}

static int parse_mode(const char *s, enum ms_mode *out)
{
	for (int m = MS_MODE_TRACE; m <= MS_MODE_LAYERWISE; m++)
		if (!strcmp(s, ms_mode_name((enum ms_mode)m)))
			return *out = (enum ms_mode)m, 0;
	return -EINVAL;
}

static int parse_size_in(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t v;

	if (ms_parse_size(s, &v) || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

/* One variable: returns 0, -EINVAL with *want set, or 1 when the name is not ours. */
static int apply(struct ms_config *cfg, const char *name, const char *val, const char **want)
{
	if (!strcmp(name, "MODE"))
		return *want = "trace, meta or layerwise", parse_mode(val, &cfg->mode);
	if (!strcmp(name, "DISABLE"))
		return *want = "0 or 1", parse_bool(val, &cfg->disabled);
	if (!strcmp(name, "OUT"))
		return *want = "a non-empty path pattern shorter than 4096 bytes",
		       parse_str(val, cfg->out, sizeof(cfg->out), false);
	if (!strcmp(name, "CHECKPOINT"))
		return *want = "a path shorter than 4096 bytes",
		       parse_str(val, cfg->checkpoint, sizeof(cfg->checkpoint), true);
	if (!strcmp(name, "MANIFEST"))
		return *want = "a path shorter than 4096 bytes",
		       parse_str(val, cfg->manifest, sizeof(cfg->manifest), true);
	if (!strcmp(name, "LAYER_DEPTH"))
		return *want = "a whole number from 0 to 64", parse_int(val, 0, 64, &cfg->layer_depth);
	if (!strcmp(name, "LAYER_PATTERN"))
		return *want = "a regular expression shorter than 256 bytes",
		       parse_str(val, cfg->layer_pattern, sizeof(cfg->layer_pattern), true);
	if (!strcmp(name, "SKIP_TENSORS"))
		return *want = "comma-separated name parts, shorter than 2048 bytes",
		       parse_str(val, cfg->skip, sizeof(cfg->skip), true);
	if (!strcmp(name, "PROGRESS"))
		return *want = "0 or 1", parse_bool(val, &cfg->progress);
	if (!strcmp(name, "QUIET"))
		return *want = "0 or 1", parse_bool(val, &cfg->quiet);
	if (!strcmp(name, "BACKTRACE"))
		return *want = "a frame count from 0 (off) to 256", parse_int(val, 0, 256, &cfg->backtrace);
	if (!strcmp(name, "DEFER_MIN"))
		return *want = "a size such as 0, 64K or 1M",
		       parse_size_in(val, 0, UINT64_MAX, &cfg->defer_min);
	if (!strcmp(name, "STAGING_MAX"))
		return *want = "a size such as 512M or 4G",
		       parse_size_in(val, 0, UINT64_MAX, &cfg->staging_max);
	if (!strcmp(name, "SCRATCH"))
		return *want = "a size of at least 1 byte, such as 2M",
		       parse_size_in(val, 1, UINT64_MAX, &cfg->scratch_bytes);
	if (!strcmp(name, "BUFFER"))
		return *want = "a size from 64K to 1G, such as 1M",
		       parse_size_in(val, BUFFER_MIN, BUFFER_MAX, &cfg->buffer_bytes);
	return 1;
}

int ms_config_load(struct ms_config *cfg, char *const *envp, char *err, size_t errcap)
{
	static const char prefix[] = "METASHIM_";
	int bad = 0;

	set_defaults(cfg);
	if (err && errcap)
		err[0] = '\0';
	for (; envp && *envp; envp++) {
		const char *kv = *envp, *eq = strchr(kv, '='), *want = "";
		char name[64];
		size_t n;

		if (!eq || strncmp(kv, prefix, sizeof(prefix) - 1))
			continue;
		n = (size_t)(eq - kv) - (sizeof(prefix) - 1);
		if (n >= sizeof(name))
			continue;
		memcpy(name, kv + sizeof(prefix) - 1, n);
		name[n] = '\0';
		/* A failed parse may leave a partial value behind: restore the default
		 * field by re-reading into a scratch copy first. */
		struct ms_config tmp = *cfg;
		int rc = apply(&tmp, name, eq + 1, &want);

		if (rc == 0) {
			*cfg = tmp;
		} else if (rc < 0) {
			char var[80];

			snprintf(var, sizeof(var), "%s%s", prefix, name);
			complain(err, errcap, var, eq + 1, want);
			bad++;
		}
	}
	return bad;
}
