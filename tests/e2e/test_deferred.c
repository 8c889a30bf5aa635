/* test_deferred.c — the deferred modes end to end on the fake CUDA with its memory
 * capped: a meta dry run of a checkpoint larger than the device, layerwise loads
 * whose device contents equal a trace-mode load byte for byte, reloads through
 * release/restore, out-of-memory at materialization, and kernel-launch hazards.
 * The figures (peaks, bounds) are printed so a failing run says how far off it was. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "e2e.h"

#define MIB  (1024ull * 1024)
#define GRAN (2 * MIB) /* the fake's VMM granularity */

static char *dir;

static void setup(void)
{
	dir = e2e_tmpdir();
}

static void teardown(void)
{
	e2e_cleanup(dir);
}

TestSuite(deferred, .init = setup, .fini = teardown, .timeout = 120);

/* Run <build>/rel with args in <dir>/<sub> (its own trace directory), the shim
 * preloaded, env added; asserts the exit status and loads the trace. */
static void run_in(const char *sub, const char *rel, const char *const *env, const char *const *args,
                   struct e2e_trace *t, int want_status)
{
	char *d, *argv[32], *bin = e2e_bin(rel);
	struct e2e_env e;
	struct e2e_run r;
	int n = 0;

	cr_assert(asprintf(&d, "%s/%s", dir, sub) > 0);
	mkdir(d, 0700);
	argv[n++] = bin;
	while (args && *args && n < 30)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	e2e_env_init(&e, d, true);
	while (env && *env)
		e2e_env_add(&e, "%s", *env++);
	cr_assert_eq(e2e_spawn(&e, d, argv, &r), 0, "cannot start %s", bin);
	cr_assert_eq(r.status, want_status, "%s exited %d:\n%s%s", rel, r.status, r.out, r.err);
	if (t)
		cr_assert_eq(e2e_only_trace(d, t), 1, "expected one trace in %s", d);
	e2e_run_free(&r);
	e2e_env_free(&e);
	free(bin);
	free(d);
}

static uint64_t max_field(const struct e2e_trace *t, const char *type, const char *key)
{
	uint64_t m = 0;

	for (int i = 0; i < t->n; i++)
		if (!strcmp(t->rec[i].type, type) && e2e_u64(&t->rec[i], key) > m)
			m = e2e_u64(&t->rec[i], key);
	return m;
}

static int count_where(const struct e2e_trace *t, const char *type, const char *key, const char *val)
{
	int n = 0;

	for (int i = 0; i < t->n; i++) {
		const char *v = e2e_get(&t->rec[i], key);

		n += !strcmp(t->rec[i].type, type) && v && !strcmp(v, val);
	}
	return n;
}

/* "used=N peak=N ..." as FAKECUDA_STATS writes it. */
static uint64_t stats_peak(const char *path)
{
	size_t len;
	char *s = e2e_slurp(path, &len), *p;
	uint64_t v = 0;

	cr_assert(s, "no FAKECUDA_STATS file %s", path);
	p = strstr(s, "peak=");
	if (p)
		v = strtoull(p + 5, NULL, 10);
	free(s);
	return v;
}

static bool same_files(const char *a, const char *b)
{
	size_t la, lb;
	char *x = e2e_slurp(a, &la), *y = e2e_slurp(b, &lb);
	bool same = x && y && la == lb && !memcmp(x, y, la);

	free(x);
	free(y);
	return same;
}

static const char *const big_ckpt[] = { "--layers", "4",       "--hidden", "512", "--inter",
	                                "1536",     "--vocab", "2048",     NULL };

Test(deferred, meta_run_over_four_times_the_memory_cap_completes_every_layer_on_scratch_alone)
{
	char *ck = e2e_make_checkpoint(dir, big_ckpt), lim[64], ckenv[4096], stats[4096];
	struct e2e_ck c;
	struct e2e_trace t;
	struct e2e_desc d;
	int complete = 0;

	cr_assert(ck);
	cr_assert_eq(e2e_ck_load(ck, &c), 0);
	snprintf(lim, sizeof(lim), "FAKECUDA_MEM_LIMIT=%llu", (unsigned long long)(c.total_bytes / 4));
	snprintf(ckenv, sizeof(ckenv), "METASHIM_CHECKPOINT=%s", ck);
	snprintf(stats, sizeof(stats), "%s/meta.stats", dir);
	{
		char st[4200];
		const char *env[] = { "METASHIM_MODE=meta", ckenv, lim, st, NULL };
		const char *args[] = { ck, NULL };

		snprintf(st, sizeof(st), "FAKECUDA_STATS=%s", stats);
		run_in("meta", "examples/load_runtime", env, args, &t, 0);
	}
	cr_assert_eq(e2e_desc_build(&t, &d), 0);
	for (int i = 0; i < d.nl; i++)
		complete += d.l[i].completes == 1;
	printf("meta: checkpoint %llu bytes, device cap %llu, physical peak %llu (scratch %llu), %d/%d "
	       "layers "
	       "complete\n",
	       (unsigned long long)c.total_bytes, (unsigned long long)(c.total_bytes / 4),
	       (unsigned long long)stats_peak(stats), (unsigned long long)max_field(&t, "mem", "scratch"),
	       complete, d.nl);
	cr_expect_eq(complete, d.nl, "%d of %d layers complete", complete, d.nl);
	cr_expect_gt(d.nl, 10);
	cr_expect_eq(stats_peak(stats), max_field(&t, "mem", "scratch"), "physical peak is not the scratch");
	cr_expect_eq(max_field(&t, "mem", "materialized"), 0);
	cr_expect_eq(e2e_count(&t, "materialize"), 0);
	e2e_desc_free(&d);
	e2e_trace_free(&t);
	e2e_ck_free(&c);
	free(ck);
}

/* Load in trace mode and layerwise with the same options; the dumps must match. */
static void layerwise_equals_trace(const char *const *opts, const char *const *extra_env,
                                   struct e2e_trace *lw)
{
	char *ck = e2e_make_checkpoint(dir, big_ckpt), ckenv[4096], d1[4096], d2[4096];
	const char *args[16];
	int n = 0;

	cr_assert(ck);
	snprintf(ckenv, sizeof(ckenv), "METASHIM_CHECKPOINT=%s", ck);
	snprintf(d1, sizeof(d1), "%s/trace.dump", dir);
	snprintf(d2, sizeof(d2), "%s/layerwise.dump", dir);
	while (opts && *opts)
		args[n++] = *opts++;
	args[n++] = "--dump";
	args[n + 1] = ck;
	args[n + 2] = NULL;
	{
		const char *env[] = { "METASHIM_MODE=trace", "METASHIM_LAYER_DEPTH=3", ckenv, NULL };

		args[n] = d1;
		run_in("trace", "examples/load_runtime", env, args, NULL, 0);
	}
	{
		const char *env[8] = { "METASHIM_MODE=layerwise", "METASHIM_LAYER_DEPTH=3", ckenv,
			               "FAKECUDA_MEM_LIMIT=256M" };
		int k = 4;

		while (extra_env && *extra_env && k < 7)
			env[k++] = *extra_env++;
		env[k] = NULL;
		args[n] = d2;
		run_in("layerwise", "examples/load_runtime", env, args, lw, 0);
	}
	cr_expect(same_files(d1, d2), "layerwise device contents differ from trace mode's");
	free(ck);
}

Test(deferred, layerwise_leaves_device_contents_equal_to_trace_mode_with_each_layer_within_two_granules)
{
	const char *opts[] = { "--arena", NULL };
	struct e2e_trace t;
	struct e2e_desc d;
	uint64_t largest = 0, worst = 0;
	int layers = 0;

	layerwise_equals_trace(opts, NULL, &t);
	cr_assert_eq(e2e_desc_build(&t, &d), 0);
	/* Every materialization is its layer's bytes plus at most one granule on
	 * either side (shared boundaries), and happens once per layer. */
	for (int i = 0; i < t.n; i++) {
		const struct e2e_rec *r = &t.rec[i];
		uint64_t id, bytes, lb = 0;

		if (strcmp(r->type, "materialize"))
			continue;
		id = e2e_u64(r, "layer");
		bytes = e2e_u64(r, "bytes");
		for (int k = 0; k < t.n; k++)
			if (!strcmp(t.rec[k].type, "tensor") && e2e_u64(&t.rec[k], "layer") == id)
				lb += e2e_u64(&t.rec[k], "flen");
		cr_expect_leq(bytes, lb + 2 * GRAN, "layer %llu materialized %llu bytes for %llu",
		              (unsigned long long)id, (unsigned long long)bytes, (unsigned long long)lb);
		if (bytes > worst)
			worst = bytes;
		if (lb > largest)
			largest = lb;
		layers++;
	}
	printf("layerwise: %d materializations, largest layer %llu bytes, largest materialization %llu "
	       "(bound %llu), materialized peak %llu, staged peak %llu\n",
	       layers, (unsigned long long)largest, (unsigned long long)worst,
	       (unsigned long long)(largest + 2 * GRAN),
	       (unsigned long long)max_field(&t, "mem", "materialized"),
	       (unsigned long long)max_field(&t, "mem", "staged"));
	cr_expect_eq(layers, d.nl, "%d materializations for %d layers", layers, d.nl);
	cr_expect_eq(count_where(&t, "materialize", "ok", "0"), 0);
	for (int i = 0; i < d.nl; i++)
		cr_expect_eq(d.l[i].completes, 1, "layer %s completed %d times", d.l[i].name,
		             d.l[i].completes);
	e2e_desc_free(&d);
	e2e_trace_free(&t);
}

Test(deferred, layerwise_stages_async_heap_copies_from_threads_and_still_matches_trace_mode)
{
	const char *opts[] = { "--async", "--staging", "--threads", "3", NULL };
	struct e2e_trace t;

	layerwise_equals_trace(opts, NULL, &t);
	printf("layerwise staged: staged peak %llu bytes\n",
	       (unsigned long long)max_field(&t, "mem", "staged"));
	cr_expect_gt(max_field(&t, "mem", "staged"), 0, "heap sources must be staged");
	e2e_trace_free(&t);
}

Test(deferred, staging_past_its_bound_materializes_early_with_a_warning)
{
	const char *opts[] = { "--arena", "--staging", NULL };
	const char *env[] = { "METASHIM_STAGING_MAX=1M", NULL };
	struct e2e_trace t;
	int early = 0;

	layerwise_equals_trace(opts, env, &t);
	for (int i = 0; i < t.n; i++) {
		const char *m = e2e_get(&t.rec[i], "msg");

		early += !strcmp(t.rec[i].type, "warn") && m && strstr(m, "METASHIM_STAGING_MAX");
	}
	printf("staging bound 1 MiB: %d early materializations, staged peak %llu\n", early,
	       (unsigned long long)max_field(&t, "mem", "staged"));
	cr_expect_gt(early, 0);
	cr_expect_leq(max_field(&t, "mem", "staged"), MIB);
	e2e_trace_free(&t);
}

static void reload(const char *scenario, const char *const *extra, struct e2e_trace *t)
{
	const char *env[6] = { "METASHIM_MODE=layerwise" };
	const char *args[] = { scenario, NULL };
	int k = 1;

	while (extra && *extra && k < 5)
		env[k++] = *extra++;
	env[k] = NULL;
	run_in(scenario, "tests/e2e/programs/vmm_reload", env, args, t, 0);
}

Test(deferred, tensors_loaded_out_of_order_across_layers_land_where_they_belong)
{
	struct e2e_trace t;

	reload("interleave", NULL, &t);
	cr_expect_eq(e2e_count(&t, "complete"), 4);
	e2e_trace_free(&t);
}

Test(deferred, release_then_reload_with_new_bytes_gives_the_new_bytes)
{
	struct e2e_trace t;

	reload("reload", NULL, &t);
	cr_expect_eq(e2e_count(&t, "release"), 1);
	cr_expect_eq(e2e_count(&t, "complete"), 5, "four loads and one reload");
	e2e_trace_free(&t);
}

Test(deferred, release_with_backup_then_restore_gives_the_old_bytes)
{
	struct e2e_trace t;

	reload("backup", NULL, &t);
	cr_expect_eq(count_where(&t, "release", "backup", "1"), 1);
	cr_expect_eq(count_where(&t, "materialize", "why", "restore"), 1);
	e2e_trace_free(&t);
}

Test(deferred, one_layer_at_a_time_keeps_materialized_memory_under_the_largest_layer_plus_two_granules)
{
	const uint64_t layer = 1200000ull * 4 + 100000ull * 2; /* vmm_reload's layer size */
	struct e2e_trace t;
	uint64_t peak;

	reload("bounded", NULL, &t);
	peak = max_field(&t, "mem", "materialized");
	printf("bounded reload: materialized peak %llu bytes, largest layer %llu, bound %llu\n",
	       (unsigned long long)peak, (unsigned long long)layer, (unsigned long long)(layer + 2 * GRAN));
	cr_expect_gt(peak, 0);
	cr_expect_leq(peak, layer + 2 * GRAN);
	e2e_trace_free(&t);
}

Test(deferred, out_of_memory_at_materialization_fails_the_copy_and_loses_nothing)
{
	const char *env[] = { "FAKECUDA_MEM_LIMIT=10M", NULL };
	struct e2e_trace t;

	reload("oom", env, &t);
	cr_expect_eq(count_where(&t, "materialize", "ok", "0"), 1,
	             "the failed materialization is in the trace");
	cr_expect_eq(e2e_count(&t, "complete"), 2, "layer0, then layer1 after the retry");
	e2e_trace_free(&t);
}

Test(deferred, a_kernel_launch_while_memory_is_deferred_is_counted_once)
{
	struct e2e_trace t;

	reload("launch", NULL, &t);
	cr_expect_eq(e2e_count(&t, "launch"), 1);
	cr_expect_eq(count_where(&t, "launch", "api", "cudaLaunchKernel"), 1);
	e2e_trace_free(&t);
}

Test(deferred, finalize_reports_the_incomplete_layer_and_backs_everything_loaded)
{
	struct e2e_trace t;

	reload("finalize", NULL, &t);
	cr_expect_eq(count_where(&t, "alloc", "deferred", "1"), 1,
	             "only the arena is deferred, not the later alloc");
	cr_expect_eq(e2e_count(&t, "alloc"), 2);
	cr_expect_eq(e2e_count(&t, "complete"), 3);
	cr_expect_eq(max_field(&t, "mem", "materialized"), max_field(&t, "mem", "reserved"));
	e2e_trace_free(&t);
}

Test(deferred, trace_mode_records_neither_launches_nor_memory_accounting)
{
	struct e2e_trace t;
	const char *env[] = { "METASHIM_MODE=trace", NULL };
	const char *args[] = { "launch", NULL };

	run_in("trace-launch", "tests/e2e/programs/vmm_reload", env, args, &t, 0);
	cr_expect_eq(e2e_count(&t, "launch"), 0);
	cr_expect_eq(e2e_count(&t, "mem"), 0);
	e2e_trace_free(&t);
}
