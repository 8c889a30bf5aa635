/* test_copy_family.c — the copy paths beyond linear copies reach the trace: one
 * call each of a partial 3D copy (runtime; driver peer), a 3D batch (runtime;
 * driver), a 3D memset and every CUDA array copy kind of both APIs
 * (tests/e2e/programs/copy_family) is recorded exactly once with its API name,
 * direction, bytes and array flag, and the 3D copies into registered tensors count
 * exactly the elements of the box they wrote. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"

#define PROG "tests/e2e/programs/copy_family"

static char *dir;
static struct e2e_trace trace;
static struct e2e_desc desc;

static void run(bool shim, struct e2e_run *r)
{
	struct e2e_env env;
	char *bin = e2e_bin(PROG);

	e2e_env_init(&env, dir, shim);
	cr_assert_eq(e2e_runl(&env, dir, r, bin, NULL), 0, "cannot start %s", bin);
	e2e_env_free(&env);
	free(bin);
}

static void setup(void)
{
	struct e2e_run r;

	dir = e2e_tmpdir();
	run(true, &r);
	cr_assert_eq(r.status, 0, "copy_family under the shim:\n%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "copy_family: ok"), "%s%s", r.out, r.err);
	e2e_run_free(&r);
	cr_assert_eq(e2e_only_trace(dir, &trace), 1, "expected one trace");
	cr_assert_eq(e2e_desc_build(&trace, &desc), 0);
}

static void teardown(void)
{
	e2e_desc_free(&desc);
	e2e_trace_free(&trace);
	e2e_cleanup(dir);
}

TestSuite(copy_family, .init = setup, .fini = teardown);

/* The one record of type whose api is api; fails unless there is exactly one. */
static const struct e2e_rec *only(const char *type, const char *api)
{
	const struct e2e_rec *hit = NULL;
	int n = 0;

	for (int i = 0; i < trace.n; i++) {
		const char *a = e2e_get(&trace.rec[i], "api");

		if (!strcmp(trace.rec[i].type, type) && a && !strcmp(a, api)) {
			hit = &trace.rec[i];
			n++;
		}
	}
	cr_assert_eq(n, 1, "%s records of %s: %d, expected exactly one", type, api, n);
	return hit;
}

static void expect_copy(const char *api, const char *dir_name, uint64_t bytes, uint64_t array)
{
	const struct e2e_rec *r = only("copy", api);

	cr_expect_str_eq(e2e_get(r, "dir"), dir_name, "%s direction", api);
	cr_expect_eq(e2e_u64(r, "bytes"), bytes, "%s bytes %llu, expected %llu", api,
	             (unsigned long long)e2e_u64(r, "bytes"), (unsigned long long)bytes);
	cr_expect_eq(e2e_u64(r, "array"), array, "%s array=%llu, expected %llu", api,
	             (unsigned long long)e2e_u64(r, "array"), (unsigned long long)array);
	cr_expect_eq(e2e_u64(r, "rc"), 0, "%s failed", api);
}

/* The box each 3D copy writes: 8 floats wide at float 4, rows 2..4, slices 1..2. */
#define BOX_ELEMS 48

Test(copy_family, each_new_copy_kind_is_recorded_once_with_api_direction_and_bytes)
{
	expect_copy("cudaMemcpy3D", "H2D", BOX_ELEMS * 4, 0);
	expect_copy("cuMemcpy3DPeer", "P2P", BOX_ELEMS * 4, 0);
	expect_copy("cudaMemcpy3DBatchAsync", "H2D", BOX_ELEMS * 4, 0);
	expect_copy("cuMemcpy3DBatchAsync_v2", "H2D", BOX_ELEMS * 4, 0);
	/* runtime arrays (1 = dst is an array, 2 = src, 3 = both) */
	expect_copy("cudaMemcpyToArray", "H2D", 256, 1);
	expect_copy("cudaMemcpyToArrayAsync", "H2D", 256, 1);
	expect_copy("cudaMemcpy2DToArray", "H2D", 256, 1);
	expect_copy("cudaMemcpyFromArray", "D2H", 512, 2);
	expect_copy("cudaMemcpy2DFromArray", "D2D", 256, 2);
	expect_copy("cudaMemcpyArrayToArray", "D2D", 256, 3);
	expect_copy("cudaMemcpy2DArrayToArray", "D2D", 192, 3);
	/* driver arrays */
	expect_copy("cuMemcpyHtoA_v2", "H2D", 256, 1);
	expect_copy("cuMemcpyHtoAAsync_v2", "H2D", 64, 1);
	expect_copy("cuMemcpyAtoH_v2", "D2H", 128, 2);
	expect_copy("cuMemcpyAtoHAsync_v2", "D2H", 64, 2);
	expect_copy("cuMemcpyAtoD_v2", "D2D", 256, 2);
	expect_copy("cuMemcpyDtoA_v2", "D2D", 192, 1);
	expect_copy("cuMemcpyAtoA_v2", "D2D", 32, 3);
}

Test(copy_family, a_3d_memset_is_one_record_with_its_slices)
{
	const struct e2e_rec *m = only("memset", "cudaMemset3D");

	cr_expect_eq(e2e_u64(m, "bytes"), BOX_ELEMS * 4);
	cr_expect_eq(e2e_u64(m, "rows"), 3);
	cr_expect_eq(e2e_u64(m, "depth"), 2);
	cr_expect_eq(e2e_u64(m, "slice"), 512, "slices are pitch * ysize apart");
}

/* Partial extents: 3 rows of 2 slices, not 6 consecutive rows. */
Test(copy_family, partial_3d_copies_count_exactly_the_elements_of_their_box)
{
	const char *const names[] = { "fam.rt3d", "fam.peer3d", "fam.rtbatch3d", "fam.drvbatch3d" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct e2e_tensor_state *s = e2e_desc_tensor(&desc, names[i]);

		cr_assert(s, "%s not registered", names[i]);
		cr_expect_eq(s->covered, BOX_ELEMS, "%s covered %llu", names[i],
		             (unsigned long long)s->covered);
		cr_expect_eq(s->copied, BOX_ELEMS, "%s copied %llu", names[i], (unsigned long long)s->copied);
	}
}

Test(copy_family, a_3d_copy_lands_on_the_rows_of_the_slices_it_names)
{
	const struct e2e_rec *c = only("copy", "cudaMemcpy3D");
	/* 16 floats a row, 8 rows a slice: row y of slice z starts at z*128 + y*16 */
	const uint64_t want[] = { 164, 180, 196, 292, 308, 324 };
	uint64_t seq = e2e_u64(c, "seq");
	size_t n = 0;

	for (int i = 0; i < trace.n; i++) {
		const struct e2e_rec *r = &trace.rec[i];

		if (strcmp(r->type, "attr") || e2e_u64(r, "seq") != seq)
			continue;
		cr_assert_lt(n, 6, "more than 6 attributed runs");
		cr_expect_eq(e2e_u64(r, "off"), want[n], "run %zu at element %llu, expected %llu", n,
		             (unsigned long long)e2e_u64(r, "off"), (unsigned long long)want[n]);
		cr_expect_eq(e2e_u64(r, "elems"), 8);
		n++;
	}
	cr_expect_eq(n, 6);
}

/* Copies into arrays are not attributed (no device address), nor left
 * "unattributed"; copies out of an array into a tensor are counted. */
Test(copy_family, array_copies_are_seen_but_only_device_destinations_are_counted)
{
	const struct e2e_tensor_state *from = e2e_desc_tensor(&desc, "fam.from_array");
	const struct e2e_tensor_state *atod = e2e_desc_tensor(&desc, "fam.atod");

	cr_assert(from && atod);
	cr_expect_eq(from->covered, 64, "cudaMemcpy2DFromArray wrote 4 rows of 16 floats");
	cr_expect_eq(atod->covered, 64, "cuMemcpyAtoD_v2 wrote 256 bytes");
	cr_expect_eq(desc.unattr_bytes, 0, "unattributed bytes: %llu", (unsigned long long)desc.unattr_bytes);
}

Test(copy_family, the_program_sees_the_same_results_without_the_shim)
{
	struct e2e_run r;

	run(false, &r);
	cr_expect_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_expect(strstr(r.out, "copy_family: ok"), "%s%s", r.out, r.err);
	e2e_run_free(&r);
}
