/* Unit tests of METASHIM_* parsing (shim/config.c): defaults, every option, and
 * bad values that keep their default while the other options still load. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "internal.h"

static struct ms_config cfg;
static char err[2048];

static int load(char *const *envp)
{
	return ms_config_load(&cfg, envp, err, sizeof(err));
}

Test(config, defaults_apply_when_nothing_is_set)
{
	char *env[] = { "PATH=/bin", "HOME=/root", NULL };

	cr_assert_eq(load(env), 0);
	cr_assert_eq(cfg.mode, MS_MODE_TRACE);
	cr_assert_not(cfg.disabled);
	cr_assert_str_eq(cfg.out, "metashim-%p.trace");
	cr_assert_str_eq(cfg.checkpoint, "");
	cr_assert_str_eq(cfg.manifest, "");
	cr_assert_eq(cfg.layer_depth, 0);
	cr_assert_str_eq(cfg.skip, "_expert_map,expert_mask,expert_global_to_physical,"
	                           "expert_physical_to_global,expert_local_to_global");
	cr_assert_eq(cfg.backtrace, 16);
	cr_assert_eq(cfg.defer_min, 0);
	cr_assert_eq(cfg.staging_max, 1ull << 30);
	cr_assert_eq(cfg.scratch_bytes, 2ull << 20);
	cr_assert_eq(cfg.buffer_bytes, 1ull << 20);
	cr_assert_not(cfg.quiet);
	cr_assert_not(cfg.progress);
	cr_assert_str_eq(err, "");
}

Test(config, null_envp_gives_defaults)
{
	cr_assert_eq(ms_config_load(&cfg, NULL, NULL, 0), 0);
	cr_assert_eq(cfg.backtrace, 16);
}

Test(config, every_option_is_read)
{
	char *env[] = { "METASHIM_MODE=layerwise",
		        "METASHIM_DISABLE=1",
		        "METASHIM_OUT=/tmp/x-%r.trace",
		        "METASHIM_CHECKPOINT=/models/llama",
		        "METASHIM_MANIFEST=/tmp/l.json",
		        "METASHIM_LAYER_DEPTH=4",
		        "METASHIM_LAYER_PATTERN=^model\\.layers\\.[0-9]+",
		        "METASHIM_SKIP_TENSORS=rotary,inv_freq",
		        "METASHIM_PROGRESS=yes",
		        "METASHIM_BACKTRACE=0",
		        "METASHIM_DEFER_MIN=64K",
		        "METASHIM_STAGING_MAX=4GiB",
		        "METASHIM_SCRATCH=8M",
		        "METASHIM_BUFFER=256k",
		        "METASHIM_QUIET=true",
		        NULL };

	cr_assert_eq(load(env), 0, "%s", err);
	cr_assert_eq(cfg.mode, MS_MODE_LAYERWISE);
	cr_assert(cfg.disabled);
	cr_assert_str_eq(cfg.out, "/tmp/x-%r.trace");
	cr_assert_str_eq(cfg.checkpoint, "/models/llama");
	cr_assert_str_eq(cfg.manifest, "/tmp/l.json");
	cr_assert_eq(cfg.layer_depth, 4);
	cr_assert_str_eq(cfg.layer_pattern, "^model\\.layers\\.[0-9]+");
	cr_assert_str_eq(cfg.skip, "rotary,inv_freq");
	cr_assert(cfg.progress);
	cr_assert_eq(cfg.backtrace, 0);
	cr_assert_eq(cfg.defer_min, 64 << 10);
	cr_assert_eq(cfg.staging_max, 4ull << 30);
	cr_assert_eq(cfg.scratch_bytes, 8 << 20);
	cr_assert_eq(cfg.buffer_bytes, 256 << 10);
	cr_assert(cfg.quiet);
}

Test(config, meta_mode_and_names)
{
	char *env[] = { "METASHIM_MODE=meta", NULL };

	cr_assert_eq(load(env), 0);
	cr_assert_eq(cfg.mode, MS_MODE_META);
	cr_assert_str_eq(ms_mode_name(MS_MODE_TRACE), "trace");
	cr_assert_str_eq(ms_mode_name(MS_MODE_LAYERWISE), "layerwise");
}

Test(config, bad_value_keeps_default_and_names_variable_value_and_expectation)
{
	char *env[] = { "METASHIM_MODE=fast", "METASHIM_BACKTRACE=8", NULL };

	cr_assert_eq(load(env), 1);
	cr_assert_eq(cfg.mode, MS_MODE_TRACE);
	cr_assert_eq(cfg.backtrace, 8, "the other options still load");
	cr_assert(strstr(err, "METASHIM_MODE"), "%s", err);
	cr_assert(strstr(err, "fast"), "%s", err);
	cr_assert(strstr(err, "trace, meta or layerwise"), "%s", err);
	cr_assert_null(strchr(err, '\n'), "one line per bad option");
}

Test(config, each_bad_option_gets_its_own_line)
{
	char *env[] = { "METASHIM_BUFFER=12",    "METASHIM_SCRATCH=lots",
		        "METASHIM_BACKTRACE=-1", "METASHIM_QUIET=maybe",
		        "METASHIM_OUT=",         "METASHIM_LAYER_DEPTH=x",
		        "METASHIM_PROGRESS=1",   NULL };

	cr_assert_eq(load(env), 6, "%s", err);
	cr_assert_eq(cfg.buffer_bytes, 1 << 20);
	cr_assert_eq(cfg.scratch_bytes, 2 << 20);
	cr_assert_eq(cfg.backtrace, 16);
	cr_assert_not(cfg.quiet);
	cr_assert_str_eq(cfg.out, "metashim-%p.trace");
	cr_assert(cfg.progress);
	int lines = 1;
	for (const char *p = err; *p; p++)
		lines += *p == '\n';
	cr_assert_eq(lines, 6, "%s", err);
	cr_assert(strstr(err, "METASHIM_BUFFER=\"12\""), "%s", err);
	cr_assert(strstr(err, "METASHIM_SCRATCH=\"lots\""), "%s", err);
}

Test(config, overlong_path_is_rejected_not_truncated)
{
	static char var[5000] = "METASHIM_OUT=";
	memset(var + 13, 'a', 4500);
	char *env[] = { var, NULL };

	cr_assert_eq(load(env), 1);
	cr_assert_str_eq(cfg.out, "metashim-%p.trace");
}

Test(config, unknown_metashim_names_and_other_variables_are_ignored)
{
	char *env[] = { "METASHIM_TEST_BUILD=/x", "METASHIMMODE=meta", "MODE=meta", "METASHIM_MODE", NULL };

	cr_assert_eq(load(env), 0);
	cr_assert_eq(cfg.mode, MS_MODE_TRACE);
}

Test(config, small_error_buffer_is_never_overrun)
{
	char small[16];
	char *env[] = { "METASHIM_MODE=fast", NULL };

	memset(small, 'x', sizeof(small));
	cr_assert_eq(ms_config_load(&cfg, env, small, sizeof(small)), 1);
	cr_assert_lt(strnlen(small, sizeof(small)), sizeof(small));
}

Test(config, sizes_take_binary_suffixes)
{
	uint64_t v;

	cr_assert_eq(ms_parse_size("4096", &v), 0);
	cr_assert_eq(v, 4096);
	cr_assert_eq(ms_parse_size("64M", &v), 0);
	cr_assert_eq(v, 64ull << 20);
	cr_assert_eq(ms_parse_size("2GiB", &v), 0);
	cr_assert_eq(v, 2ull << 30);
	cr_assert_eq(ms_parse_size("3kb", &v), 0);
	cr_assert_eq(v, 3072);
	cr_assert_eq(ms_parse_size("1T", &v), 0);
	cr_assert_eq(v, 1ull << 40);
	cr_assert_eq(ms_parse_size("7B", &v), 0);
	cr_assert_eq(v, 7);
}

Test(config, malformed_sizes_are_rejected)
{
	uint64_t v = 42;

	cr_assert_eq(ms_parse_size("", &v), -EINVAL);
	cr_assert_eq(ms_parse_size("-1", &v), -EINVAL);
	cr_assert_eq(ms_parse_size("1.5G", &v), -EINVAL);
	cr_assert_eq(ms_parse_size("12Q", &v), -EINVAL);
	cr_assert_eq(ms_parse_size(" 12", &v), -EINVAL);
	cr_assert_eq(ms_parse_size("99999999999999999999", &v), -EINVAL);
	cr_assert_eq(ms_parse_size("17179869184G", &v), -EINVAL, "overflow");
	cr_assert_eq(v, 42);
}
