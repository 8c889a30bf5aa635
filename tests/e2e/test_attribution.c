/* test_attribution.c — the example loader under METASHIM_CHECKPOINT: copies land
 * on the checkpoint's named tensors, every layer reports complete exactly once,
 * and planted problems (a tensor loaded twice, one never loaded, copies that never
 * come from the file) show up in the final counts as DESIGN.md says they must. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"

#define TWICE   "model.layers.1.mlp.up_proj.weight"
#define SKIPPED "model.layers.2.self_attn.k_proj.weight"

static char *dir, *ckpt, *ck_env;
static struct e2e_ck ck;

static void setup(void)
{
	e2e_ck_fixture(&dir, &ckpt, &ck);
	cr_assert(e2e_ck_find(&ck, TWICE) && e2e_ck_find(&ck, SKIPPED));
	if (asprintf(&ck_env, "METASHIM_CHECKPOINT=%s", ckpt) < 0)
		abort();
}

static void teardown(void)
{
	free(ck_env);
	e2e_ck_fixture_free(dir, ckpt, &ck);
}

TestSuite(attribution, .init = setup, .fini = teardown);

static void load(const char *const *opts, struct e2e_trace *t, struct e2e_desc *d)
{
	const char *env[] = { ck_env, NULL };

	e2e_load("examples/load_runtime", dir, true, env, opts, ckpt, t);
	e2e_desc_build(t, d);
	cr_assert_eq(d->nt, ck.n, "the trace describes %d tensors, the checkpoint has %d", d->nt, ck.n);
}

/* Layers are tensor names up to their last dot. */
static int checkpoint_layers(void)
{
	int i, j, n = 0;

	for (i = 0; i < ck.n; i++) {
		size_t li = strrchr(ck.t[i].name, '.') - ck.t[i].name;

		for (j = 0; j < i; j++) {
			size_t lj = strrchr(ck.t[j].name, '.') - ck.t[j].name;

			if (li == lj && !strncmp(ck.t[i].name, ck.t[j].name, li))
				break;
		}
		n += j == i;
	}
	return n;
}

/* covered == expected (== the checkpoint's element count) for every tensor but
 * skip, copied == times * expected for twice. */
static void expect_tensors(const struct e2e_desc *d, const char *twice, const char *skip)
{
	int i;

	for (i = 0; i < ck.n; i++) {
		const struct e2e_ck_tensor *c = &ck.t[i];
		const struct e2e_tensor_state *s = e2e_desc_tensor(d, c->name);
		bool skipped = skip && !strcmp(skip, c->name);
		uint64_t times = skipped ? 0 : twice && !strcmp(twice, c->name) ? 2 : 1;

		cr_assert(s, "no tensor record for %s", c->name);
		cr_expect_eq(s->elems, c->elems, "%s: %llu elements described, %llu in the checkpoint",
		             c->name, (unsigned long long)s->elems, (unsigned long long)c->elems);
		cr_expect(s->has_final, "%s: no final record", c->name);
		cr_expect_eq(s->covered, skipped ? 0 : c->elems, "%s: covered %llu of %llu", c->name,
		             (unsigned long long)s->covered, (unsigned long long)c->elems);
		cr_expect_eq(s->copied, times * c->elems, "%s: copied %llu, expected %llu", c->name,
		             (unsigned long long)s->copied, (unsigned long long)(times * c->elems));
	}
}

static void expect_layers_complete(const struct e2e_desc *d, const char *except)
{
	int i;

	cr_expect_eq(d->nl, checkpoint_layers(), "%d layers described, the checkpoint has %d", d->nl,
	             checkpoint_layers());
	for (i = 0; i < d->nl; i++) {
		bool incomplete = except && strncmp(except, d->l[i].name, strlen(d->l[i].name)) == 0 &&
		                  except[strlen(d->l[i].name)] == '.' &&
		                  !strchr(except + strlen(d->l[i].name) + 1, '.');

		cr_expect_eq(d->l[i].completes, incomplete ? 0 : 1, "layer %s completed %d times",
		             d->l[i].name, d->l[i].completes);
	}
}

Test(attribution, a_sharded_checkpoint_load_completes_every_layer)
{
	struct e2e_trace t;
	struct e2e_desc d;

	load(NULL, &t, &d);
	expect_tensors(&d, NULL, NULL);
	expect_layers_complete(&d, NULL);
	cr_expect_eq(d.unattr_bytes, 0, "%llu bytes unattributed", (unsigned long long)d.unattr_bytes);
	cr_expect_geq(d.attrs, ck.n, "every copy lands on a tensor");
	e2e_desc_free(&d);
	e2e_trace_free(&t);
}

Test(attribution, an_arena_loaded_by_four_threads_completes_every_layer)
{
	const char *opts[] = { "--arena", "--async", "--threads", "4", NULL };
	struct e2e_trace t;
	struct e2e_desc d;

	load(opts, &t, &d);
	expect_tensors(&d, NULL, NULL);
	expect_layers_complete(&d, NULL);
	cr_expect_eq(d.unattr_bytes, 0);
	e2e_desc_free(&d);
	e2e_trace_free(&t);
}

Test(attribution, a_tensor_loaded_twice_shows_copied_twice_covered_once)
{
	const char *opts[] = { "--twice", TWICE, NULL };
	struct e2e_trace t;
	struct e2e_desc d;

	load(opts, &t, &d);
	expect_tensors(&d, TWICE, NULL);
	/* complete fires at the copy that completes a layer, not again on the repeat */
	expect_layers_complete(&d, NULL);
	e2e_desc_free(&d);
	e2e_trace_free(&t);
}

Test(attribution, a_tensor_never_loaded_leaves_its_layer_incomplete)
{
	const char *opts[] = { "--skip", SKIPPED, NULL };
	struct e2e_trace t;
	struct e2e_desc d;

	load(opts, &t, &d);
	expect_tensors(&d, NULL, SKIPPED);
	expect_layers_complete(&d, SKIPPED);
	e2e_desc_free(&d);
	e2e_trace_free(&t);
}

/* DESIGN.md: attribution by source needs a copy out of the checkpoint mapping (it
 * binds the destination range); a loader that stages every tensor through the heap
 * never makes one, so with no device ranges registered its bytes are unattributed
 * and no layer completes. */
Test(attribution, staged_copies_without_a_binding_are_unattributed)
{
	const char *opts[] = { "--staging", NULL };
	struct e2e_trace t;
	struct e2e_desc d;
	int i;

	load(opts, &t, &d);
	cr_expect_eq(d.unattr_bytes, ck.total_bytes, "unattributed %llu of %llu bytes",
	             (unsigned long long)d.unattr_bytes, (unsigned long long)ck.total_bytes);
	cr_expect_eq(d.attrs, 0);
	for (i = 0; i < d.nl; i++)
		cr_expect_eq(d.l[i].completes, 0, "layer %s completed from staged copies", d.l[i].name);
	e2e_desc_free(&d);
	e2e_trace_free(&t);
}

static int report_status(bool twice)
{
	const char *opts[] = { "--twice", TWICE, NULL };
	const char *env[] = { ck_env, NULL };
	char *tool = e2e_bin("metashim"), **names;
	struct e2e_env e;
	struct e2e_run r;
	int n, status;

	e2e_load("examples/load_runtime", dir, true, env, twice ? opts : NULL, ckpt, NULL);
	n = e2e_list_traces(dir, &names);
	cr_assert_eq(n, 1);
	e2e_env_init(&e, dir, false);
	cr_assert_eq(e2e_runl(&e, dir, &r, tool, "report", names[0], NULL), 0);
	status = r.status;
	if (twice)
		cr_expect(strstr(r.out, TWICE), "the report names the tensor loaded twice:\n%s", r.out);
	else
		cr_expect_eq(status, 0, "report of a clean load exited %d:\n%s%s", status, r.out, r.err);
	e2e_run_free(&r);
	e2e_env_free(&e);
	e2e_free_names(names, n);
	free(tool);
	return status;
}

Test(attribution, metashim_report_passes_a_clean_load)
{
	cr_expect_eq(report_status(false), 0);
}

Test(attribution, metashim_report_fails_a_double_load)
{
	cr_expect_eq(report_status(true), 1, "metashim report exits 1 when it finds a problem");
}
