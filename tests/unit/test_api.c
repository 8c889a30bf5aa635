/* Unit tests of the public C API (shim/api.c): argument checks, dtype names,
 * strided tensors, counts, layer enumeration, marks, deferred-memory stubs. */
#include "counting_helpers.h"

#define DEV 0x7f0000000000ull

TestSuite(api, .init = ch_setup, .fini = ch_teardown);

Test(api, the_version_is_the_header_version)
{
	cr_expect_str_eq(metashim_version(), METASHIM_VERSION);
}

Test(api, bad_arguments_are_refused)
{
	int64_t shape[2] = { 2, 3 }, neg[1] = { -1 };
	struct metashim_counts k;

	cr_expect_eq(metashim_register_tensor(NULL, NULL, DEV, "F32", 1, shape, NULL), -EINVAL);
	cr_expect_eq(metashim_register_tensor(NULL, "", DEV, "F32", 1, shape, NULL), -EINVAL);
	cr_expect_eq(metashim_register_tensor(NULL, "a.x", DEV, "complex_nonsense", 1, shape, NULL), -EINVAL);
	cr_expect_eq(metashim_register_tensor(NULL, "a.x", DEV, "F32", 9, shape, NULL), -EINVAL);
	cr_expect_eq(metashim_register_tensor(NULL, "a.x", DEV, "F32", 1, NULL, NULL), -EINVAL);
	cr_expect_eq(metashim_register_tensor(NULL, "a.x", DEV, "F32", 1, neg, NULL), -EINVAL);
	cr_expect_eq(metashim_tensor_counts("a.x", &k), -ENOENT);
	cr_expect_eq(metashim_layer_counts("a", &k), -ENOENT);
	cr_expect_eq(metashim_tensor_counts(NULL, &k), -EINVAL);
	cr_expect_eq(metashim_mark(NULL), -EINVAL);
}

Test(api, torch_dtype_names_are_accepted)
{
	int64_t shape[1] = { 4 };

	cr_assert_eq(metashim_register_tensor("emb", "emb.weight", DEV, "torch.bfloat16", 1, shape, NULL), 0);
	cr_expect_str_eq(ms_registry_tensor("emb.weight")->dtype, "BF16");
	cr_expect_eq(ms_registry_tensor("emb.weight")->nbytes, 8);
}

Test(api, an_explicit_layer_overrides_the_name_rule)
{
	int64_t shape[1] = { 4 };

	cr_assert_eq(metashim_register_tensor("decoder.block0", "w", DEV, "F32", 1, shape, NULL), 0);
	cr_expect_eq(metashim_layer_count(), 1);
	cr_expect_str_eq(metashim_layer_name(0), "decoder.block0");
	cr_expect_null(metashim_layer_name(1));
	cr_expect_null(metashim_layer_name(-1));
	cr_expect_eq(ch_lcounts("decoder.block0").expected, 4);
}

Test(api, a_strided_view_counts_the_span_from_its_first_to_its_last_element)
{
	/* Every other column of a 4x8 F32 matrix: shape 4x4, strides 8,2. */
	int64_t shape[2] = { 4, 4 }, stride[2] = { 8, 2 };
	struct metashim_counts k;

	cr_assert_eq(metashim_register_tensor(NULL, "v.cols", DEV, "F32", 2, shape, stride), 0);
	k = ch_tcounts("v.cols");
	cr_expect_eq(k.expected, 3 * 8 + 3 * 2 + 1); /* 31 elements of span */
	ch_copy(DEV, 0x1000, 31 * 4);
	cr_expect_eq(ch_tcounts("v.cols").complete, 1);
}

Test(api, a_contiguous_explicit_stride_is_plain)
{
	int64_t shape[2] = { 4, 4 }, stride[2] = { 4, 1 };

	cr_assert_eq(metashim_register_tensor(NULL, "v.full", DEV, "F16", 2, shape, stride), 0);
	cr_expect_eq(ch_tcounts("v.full").expected, 16);
}

Test(api, a_tensor_without_device_memory_is_described_but_never_attributed)
{
	int64_t shape[1] = { 4 };

	cr_assert_eq(metashim_register_tensor(NULL, "m.x", 0, "F32", 1, shape, NULL), 0);
	ch_copy(DEV, 0x1000, 16);
	cr_expect_eq(ch_tcounts("m.x").covered, 0);
	cr_expect_eq(metashim_finalize(), 1);
}

Test(api, a_mark_goes_into_the_trace)
{
	cr_assert_eq(metashim_mark("reload step 3"), 0);
	cr_expect_eq(ch_count_with("mark ", "name=reload%20step%203"), 1);
}

Test(api, deferred_memory_calls_are_not_supported_without_vmm)
{
	cr_expect_eq(metashim_materialize_layer("x"), -ENOTSUP);
	cr_expect_eq(metashim_materialize_all(), -ENOTSUP);
	cr_expect_eq(metashim_release_layer("x", METASHIM_RELEASE_BACKUP), -ENOTSUP);
	cr_expect_eq(metashim_restore_layer("x"), -ENOTSUP);
	cr_expect_eq(metashim_release_layer(NULL, 0), -EINVAL);
}

Test(api, finalize_counts_the_incomplete_layers)
{
	ch_tensor("l0.w", DEV, "F32", 4, 0);
	ch_tensor("l1.w", DEV + 0x100, "F32", 4, 0);
	ch_tensor("l2.w", DEV + 0x200, "F32", 4, 0);
	cr_expect_eq(metashim_finalize(), 3);
	ch_copy(DEV, 0x1000, 16);
	ch_copy(DEV + 0x100, 0x1000, 8);
	cr_expect_eq(metashim_finalize(), 2);
}

Test(api, registrations_before_the_trace_is_live_are_written_when_it_is)
{
	/* ch_setup made the registry live; a fresh load (the first CUDA event) writes
	 * any tensor that has no record yet, and none twice. */
	ch_tensor("p.w", DEV, "F32", 4, 0);
	ms_registry_load(&ms_cfg);
	cr_expect_eq(ch_count_with("tensor ", "name=p.w"), 1);
}
