/* test_safetensors.c — the checkpoint reader: single files, sharded checkpoints,
 * directories, every dtype, and each malformed header rejected with a message that
 * names the file and the place. Tests write their own small files into a temp dir. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "st_files.h"

static char err[512];

static void setup(void)
{
	st_dir_make("/tmp/ms-st-XXXXXX");
	err[0] = 0;
}

static void teardown(void)
{
	st_dir_remove();
}

TestSuite(safetensors, .init = setup, .fini = teardown);

/* Load path, expect failure, and the message to hold each of the given pieces. */
static void expect_error(const char *path, const char *const *pieces)
{
	struct ms_desc_set set = { 0 };
	int rc = ms_safetensors_load(path, &set, err, sizeof(err));

	cr_assert_lt(rc, 0, "loading %s should fail", path);
	cr_expect_eq(set.n, 0);
	cr_expect_null(set.v);
	cr_expect_null(set.metadata_json);
	cr_expect_eq(strchr(err, '\n'), NULL, "one line: %s", err);
	for (size_t i = 0; pieces[i]; i++)
		cr_expect_neq(strstr(err, pieces[i]), NULL, "message \"%s\" should contain \"%s\"", err,
		              pieces[i]);
}

#define EXPECT_ERROR(path, ...) expect_error(path, (const char *const[]){ __VA_ARGS__, NULL })

static const char *one_tensor(const char *dtype, const char *shape, const char *offsets)
{
	static char h[512];

	snprintf(h, sizeof(h), "{\"a\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":%s}}", dtype, shape,
	         offsets);
	return h;
}

/* ---------------------------------------------------------------- valid input */

Test(safetensors, single_file_gives_absolute_offsets_sorted_by_offset)
{
	const char *h = "{\"__metadata__\":{\"format\":\"pt\"},"
	                "\"b.w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[8,32]},"
	                "\"a.w\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,8]}}";
	uint64_t base = 8 + strlen(h);
	struct ms_desc_set set = { 0 };
	struct stat st;
	const char *p = in_dir("model.safetensors");

	write_st("model.safetensors", h, 32);
	cr_assert_eq(ms_safetensors_load(p, &set, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(set.n, 2);
	cr_expect_str_eq(set.v[0].name, "a.w");
	cr_expect_str_eq(set.v[0].dtype, "BF16");
	cr_expect_eq(set.v[0].ebits, 16);
	cr_expect_eq(set.v[0].foff, base);
	cr_expect_eq(set.v[0].flen, 8);
	cr_expect_eq(set.v[0].elems, 4);
	cr_expect_str_eq(set.v[1].name, "b.w");
	cr_expect_eq(set.v[1].foff, base + 8);
	cr_expect_eq(set.v[1].flen, 24);
	cr_expect_eq(set.v[1].ndim, 2);
	cr_expect_eq(set.v[1].shape[0], 2);
	cr_expect_eq(set.v[1].shape[1], 3);
	cr_expect_eq(set.v[1].stride[0], 3);
	cr_expect_eq(set.v[1].stride[1], 1);
	cr_expect_eq(set.v[1].elems, 6);
	for (size_t i = 0; i < set.n; i++) {
		cr_expect_str_eq(set.v[i].file, p);
		cr_expect_eq(set.v[i].file_dev, (uint64_t)st.st_dev);
		cr_expect_eq(set.v[i].file_ino, (uint64_t)st.st_ino);
		cr_expect_null(set.v[i].layer);
		cr_expect_eq(set.v[i].dev_ptr, 0);
	}
	cr_expect_str_eq(set.metadata_json, "{\"model.safetensors\":{\"format\":\"pt\"}}");
	cr_expect_str_eq(set.source, p);
	ms_desc_set_free(&set);
	cr_expect_eq(set.n, 0);
}

static const char shard1[] = "{\"m.l0.w\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
                             "\"m.l0.b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[8,12]}}";
/* Padded with spaces, as safetensors pads headers to 8 bytes. */
static const char shard2[] = "{\"__metadata__\":{\"format\":\"pt\"},"
                             "\"m.l1.w\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[0,3]}}   ";

static void write_sharded(void)
{
	write_st("model-00001-of-00002.safetensors", shard1, 12);
	write_st("model-00002-of-00002.safetensors", shard2, 3);
	write_text("model.safetensors.index.json", "{\"metadata\":{\"total_size\":15},\"weight_map\":{"
	                                           "\"m.l1.w\":\"model-00002-of-00002.safetensors\","
	                                           "\"m.l0.w\":\"model-00001-of-00002.safetensors\","
	                                           "\"m.l0.b\":\"model-00001-of-00002.safetensors\"}}");
}

static void expect_sharded(const struct ms_desc_set *set)
{
	uint64_t b1 = 8 + strlen(shard1), b2 = 8 + strlen(shard2);

	cr_assert_eq(set->n, 3);
	/* Shards by name, tensors by offset. */
	cr_expect_str_eq(set->v[0].name, "m.l0.w");
	cr_expect_eq(set->v[0].foff, b1);
	cr_expect_str_eq(set->v[0].file, in_dir("model-00001-of-00002.safetensors"));
	cr_expect_str_eq(set->v[1].name, "m.l0.b");
	cr_expect_eq(set->v[1].foff, b1 + 8);
	cr_expect_eq(set->v[1].flen, 4);
	cr_expect_str_eq(set->v[2].name, "m.l1.w");
	cr_expect_eq(set->v[2].foff, b2);
	cr_expect_eq(set->v[2].flen, 3);
	cr_expect_str_eq(set->v[2].file, in_dir("model-00002-of-00002.safetensors"));
	cr_expect_neq(set->v[0].file_ino, set->v[2].file_ino);
	cr_expect_str_eq(set->metadata_json, "{\"model.safetensors.index.json\":{\"total_size\":15},"
	                                     "\"model-00002-of-00002.safetensors\":{\"format\":\"pt\"}}");
}

Test(safetensors, sharded_checkpoint_through_its_index_reads_every_shard)
{
	struct ms_desc_set set = { 0 };

	write_sharded();
	cr_assert_eq(ms_safetensors_load(in_dir("model.safetensors.index.json"), &set, err, sizeof(err)), 0,
	             "%s", err);
	expect_sharded(&set);
	ms_desc_set_free(&set);
}

Test(safetensors, directory_prefers_its_index_over_loose_files)
{
	struct ms_desc_set set = { 0 };

	write_sharded();
	write_text("stray.safetensors", "not a checkpoint");
	cr_assert_eq(ms_safetensors_load(dir, &set, err, sizeof(err)), 0, "%s", err);
	expect_sharded(&set);
	cr_expect_str_eq(set.source, dir);
	ms_desc_set_free(&set);
}

Test(safetensors, directory_without_index_reads_every_file_by_name)
{
	struct ms_desc_set set = { 0 };
	char slashed[80];

	write_st("b.safetensors", one_tensor("U8", "[1]", "[0,1]"), 1);
	write_st("a.safetensors", "{\"z\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}", 1);
	write_text(".hidden.safetensors", "ignored");
	snprintf(slashed, sizeof(slashed), "%s/", dir);
	cr_assert_eq(ms_safetensors_load(slashed, &set, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(set.n, 2);
	cr_expect_str_eq(set.v[0].name, "z");
	cr_expect_eq(set.v[0].ndim, 0);
	cr_expect_eq(set.v[0].elems, 1);
	cr_expect_str_eq(set.v[0].file, in_dir("a.safetensors"));
	cr_expect_str_eq(set.v[1].name, "a");
	cr_expect_str_eq(set.v[1].file, in_dir("b.safetensors"));
	cr_expect_null(set.metadata_json);
	ms_desc_set_free(&set);
}

Test(safetensors, every_dtype_loads_with_its_element_size)
{
	static const struct {
		const char *name;
		unsigned bits;
	} dt[] = { { "BOOL", 8 },    { "U8", 8 },    { "I8", 8 },      { "I16", 16 },    { "U16", 16 },
		   { "F16", 16 },    { "BF16", 16 }, { "I32", 32 },    { "U32", 32 },    { "F32", 32 },
		   { "F64", 64 },    { "I64", 64 },  { "U64", 64 },    { "F8_E4M3", 8 }, { "F8_E5M2", 8 },
		   { "F8_E8M0", 8 }, { "F4", 4 },    { "F6_E2M3", 6 }, { "F6_E3M2", 6 }, { "C64", 64 } };
	const size_t ndt = sizeof(dt) / sizeof(dt[0]);
	char h[4096];
	size_t o = 0, off = 0;
	struct ms_desc_set set = { 0 };

	o += (size_t)snprintf(h + o, sizeof(h) - o, "{");
	for (size_t i = 0; i < ndt; i++) {
		size_t bytes = 8 * dt[i].bits / 8; /* shape [8] fills whole bytes for every dtype */

		o += (size_t)snprintf(h + o, sizeof(h) - o,
		                      "%s\"t%02zu\":{\"dtype\":\"%s\",\"shape\":[8],"
		                      "\"data_offsets\":[%zu,%zu]}",
		                      i ? "," : "", i, dt[i].name, off, off + bytes);
		off += bytes;
	}
	snprintf(h + o, sizeof(h) - o, "}");
	write_st("all.safetensors", h, off);
	cr_assert_eq(ms_safetensors_load(in_dir("all.safetensors"), &set, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(set.n, ndt);
	for (size_t i = 0; i < ndt; i++) {
		cr_expect_str_eq(set.v[i].dtype, dt[i].name);
		cr_expect_eq(set.v[i].ebits, dt[i].bits, "%s", dt[i].name);
		cr_expect_eq(set.v[i].flen, dt[i].bits, "%s: 8 elements", dt[i].name);
		cr_expect_eq(set.v[i].elems, 8);
	}
	ms_desc_set_free(&set);
}

Test(safetensors, trailing_padding_gaps_and_empty_tensors_are_allowed)
{
	struct ms_desc_set set = { 0 };

	write_st("p.safetensors",
	         "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
	         "\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[1,1]},"
	         "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]}}",
	         64);
	cr_assert_eq(ms_safetensors_load(in_dir("p.safetensors"), &set, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(set.n, 3);
	cr_expect_str_eq(set.v[1].name, "e");
	cr_expect_eq(set.v[1].elems, 0);
	cr_expect_eq(set.v[1].stride[0], 5);
	ms_desc_set_free(&set);
}

/* -------------------------------------------------------------- malformed input */

Test(safetensors, file_shorter_than_the_length_prefix_is_rejected)
{
	write_bytes("short.safetensors", "\x10\x00\x00", 3);
	EXPECT_ERROR(in_dir("short.safetensors"), "short.safetensors: byte 0:", "3 bytes", "8-byte");
}

Test(safetensors, header_cut_short_is_rejected)
{
	write_st_len("cut.safetensors", "{\"a\":{\"dtype\":", 100, 0);
	EXPECT_ERROR(in_dir("cut.safetensors"),
	             "cut.safetensors: byte 0: header length 100 runs past the end", "at most 14");
}

Test(safetensors, lying_length_beyond_the_bound_is_rejected)
{
	write_st_len("huge.safetensors", "{}", 1ll << 40, 0);
	EXPECT_ERROR(in_dir("huge.safetensors"), "huge.safetensors: byte 0: header length 1099511627776",
	             "100000000-byte limit");
}

Test(safetensors, bad_json_is_rejected_with_its_position)
{
	write_st("bad.safetensors", "{\"a\": {\"dtype\": \"F32\",, }}", 0);
	EXPECT_ERROR(in_dir("bad.safetensors"), "bad.safetensors: byte 31 (header line 1, column 23)",
	             "invalid header JSON");
}

Test(safetensors, header_not_utf8_is_rejected)
{
	write_st("utf.safetensors", "{\"a\xff\":{}}", 0);
	EXPECT_ERROR(in_dir("utf.safetensors"), "utf.safetensors: byte", "invalid header JSON", "0xff");
}

Test(safetensors, header_that_is_not_an_object_is_rejected)
{
	write_st("arr.safetensors", "[1, 2]", 0);
	EXPECT_ERROR(in_dir("arr.safetensors"),
	             "arr.safetensors: byte 8: header: expected a JSON object, got an array");
}

Test(safetensors, duplicate_tensor_keys_are_rejected)
{
	write_st("dup.safetensors",
	         "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
	         "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
	         2);
	EXPECT_ERROR(in_dir("dup.safetensors"), "dup.safetensors", "duplicate");
}

Test(safetensors, overlapping_ranges_are_rejected)
{
	write_st("ov.safetensors",
	         "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},"
	         "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
	         12);
	EXPECT_ERROR(in_dir("ov.safetensors"),
	             "ov.safetensors: tensors[\"b\"].data_offsets: [4, 12) overlaps tensors[\"a\"] [0, 8)");
}

Test(safetensors, a_range_inside_another_is_an_overlap)
{
	write_st("in.safetensors",
	         "{\"big\":{\"dtype\":\"U8\",\"shape\":[16],\"data_offsets\":[0,16]},"
	         "\"mid\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]},"
	         "\"end\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[10,12]}}",
	         16);
	EXPECT_ERROR(in_dir("in.safetensors"), "tensors[\"mid\"].data_offsets", "overlaps tensors[\"big\"]");
}

Test(safetensors, unknown_dtype_is_rejected)
{
	write_st("dt.safetensors", one_tensor("F128", "[1]", "[0,16]"), 16);
	EXPECT_ERROR(in_dir("dt.safetensors"), "dt.safetensors: tensors[\"a\"].dtype: unknown dtype \"F128\"",
	             "expected one of BOOL");
}

Test(safetensors, torch_dtype_names_are_not_header_dtypes)
{
	write_st("tdt.safetensors", one_tensor("bfloat16", "[1]", "[0,2]"), 2);
	EXPECT_ERROR(in_dir("tdt.safetensors"), "tensors[\"a\"].dtype: unknown dtype \"bfloat16\"");
}

Test(safetensors, shape_whose_element_count_overflows_is_rejected)
{
	write_st("of.safetensors", one_tensor("U8", "[4294967296, 4294967296]", "[0,1]"), 1);
	EXPECT_ERROR(in_dir("of.safetensors"),
	             "of.safetensors: tensors[\"a\"].shape: element count overflows");
}

Test(safetensors, shape_whose_bit_count_overflows_is_rejected)
{
	write_st("bof.safetensors", one_tensor("F64", "[4611686018427387904]", "[0,1]"), 1);
	EXPECT_ERROR(in_dir("bof.safetensors"), "tensors[\"a\"].shape", "overflow");
}

Test(safetensors, stride_overflow_behind_a_zero_dimension_is_rejected)
{
	write_st("zof.safetensors", one_tensor("U8", "[0, 4294967296, 4294967296]", "[0,0]"), 0);
	EXPECT_ERROR(in_dir("zof.safetensors"), "tensors[\"a\"].shape: a contiguous stride overflows");
}

Test(safetensors, negative_or_fractional_dimensions_are_rejected)
{
	write_st("neg.safetensors", one_tensor("U8", "[2, -3]", "[0,6]"), 6);
	EXPECT_ERROR(in_dir("neg.safetensors"),
	             "neg.safetensors: tensors[\"a\"].shape[1]: expected a non-negative integer, got -3");
	write_st("frac.safetensors", one_tensor("U8", "[2.5]", "[0,2]"), 2);
	EXPECT_ERROR(in_dir("frac.safetensors"),
	             "tensors[\"a\"].shape[0]: expected a non-negative integer, got 2.5");
}

Test(safetensors, more_than_eight_dimensions_are_rejected)
{
	write_st("dims.safetensors", one_tensor("U8", "[1,1,1,1,1,1,1,1,1]", "[0,1]"), 1);
	EXPECT_ERROR(in_dir("dims.safetensors"), "tensors[\"a\"].shape: expected an array of at most 8");
}

Test(safetensors, size_that_does_not_match_shape_and_dtype_is_rejected)
{
	write_st("sz.safetensors", one_tensor("F32", "[2]", "[0,4]"), 4);
	EXPECT_ERROR(in_dir("sz.safetensors"), "sz.safetensors: tensors[\"a\"].data_offsets: [0, 4) is 4 "
	                                       "bytes, but 2 elements of F32 take 8");
}

Test(safetensors, sub_byte_dtypes_must_fill_whole_bytes)
{
	struct ms_desc_set set = { 0 };

	write_st("f4.safetensors", one_tensor("F4", "[3]", "[0,2]"), 2);
	EXPECT_ERROR(in_dir("f4.safetensors"),
	             "tensors[\"a\"]: 3 elements of F4 are 12 bits, not whole bytes");
	write_st("f6.safetensors", one_tensor("F6_E2M3", "[4]", "[0,3]"), 3);
	cr_expect_eq(ms_safetensors_load(in_dir("f6.safetensors"), &set, err, sizeof(err)), 0, "%s", err);
	ms_desc_set_free(&set);
}

Test(safetensors, begin_after_end_is_rejected)
{
	write_st("be.safetensors", one_tensor("U8", "[0]", "[4,2]"), 4);
	EXPECT_ERROR(in_dir("be.safetensors"), "tensors[\"a\"].data_offsets: begin 4 is after end 2");
}

Test(safetensors, range_outside_the_data_section_is_rejected)
{
	write_st("out.safetensors", one_tensor("U8", "[8]", "[0,8]"), 4);
	EXPECT_ERROR(in_dir("out.safetensors"), "out.safetensors: tensors[\"a\"].data_offsets[1]: end 8 lies "
	                                        "beyond the data section (4 bytes");
}

Test(safetensors, malformed_data_offsets_are_rejected)
{
	write_st("do.safetensors", one_tensor("U8", "[1]", "[0]"), 1);
	EXPECT_ERROR(in_dir("do.safetensors"), "tensors[\"a\"].data_offsets: expected [begin, end]");
	write_st("do2.safetensors", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1);
	EXPECT_ERROR(in_dir("do2.safetensors"), "tensors[\"a\"].data_offsets: expected [begin, end]",
	             "got nothing");
}

Test(safetensors, metadata_must_map_strings_to_strings)
{
	write_st("md.safetensors", "{\"__metadata__\":{\"format\":\"pt\",\"n\":1}}", 0);
	EXPECT_ERROR(in_dir("md.safetensors"),
	             "md.safetensors: __metadata__[\"n\"]: expected a string, got 1");
	write_st("md2.safetensors", "{\"__metadata__\":[]}", 0);
	EXPECT_ERROR(in_dir("md2.safetensors"), "__metadata__: expected an object of string values");
}

Test(safetensors, names_in_messages_are_quoted_and_escaped)
{
	write_st("q.safetensors", "{\"a\\\"b\\n\":{\"dtype\":\"X\",\"shape\":[1],\"data_offsets\":[0,1]}}",
	         1);
	EXPECT_ERROR(in_dir("q.safetensors"), "tensors[\"a\\\"b\\u000a\"].dtype");
}

Test(safetensors, index_naming_a_missing_shard_is_rejected)
{
	write_st("model-00001-of-00002.safetensors", one_tensor("U8", "[1]", "[0,1]"), 1);
	write_text("model.safetensors.index.json",
	           "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
	           "\"b\":\"model-00002-of-00002.safetensors\"}}");
	EXPECT_ERROR(in_dir("model.safetensors.index.json"),
	             "model.safetensors.index.json: weight_map names shard "
	             "\"model-00002-of-00002.safetensors\"",
	             "No such file");
}

Test(safetensors, index_and_shard_must_agree_on_every_tensor)
{
	write_st("s1.safetensors",
	         "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
	         "\"extra\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
	         2);
	write_text("i1.safetensors.index.json", "{\"weight_map\":{\"a\":\"s1.safetensors\"}}");
	EXPECT_ERROR(in_dir("i1.safetensors.index.json"),
	             "i1.safetensors.index.json: weight_map[\"extra\"]: missing", "s1.safetensors");

	write_text("i2.safetensors.index.json", "{\"weight_map\":{\"a\":\"s1.safetensors\",\"extra\":\"s1."
	                                        "safetensors\",\"ghost\":\"s1.safetensors\"}}");
	EXPECT_ERROR(in_dir("i2.safetensors.index.json"), "weight_map[\"ghost\"]: names shard",
	             "which has no such tensor");
}

Test(safetensors, index_shard_names_stay_in_the_index_directory)
{
	write_text("x.safetensors.index.json", "{\"weight_map\":{\"a\":\"../etc/x.safetensors\"}}");
	EXPECT_ERROR(in_dir("x.safetensors.index.json"),
	             "weight_map[\"a\"]: expected a shard file name relative");
	write_text("y.safetensors.index.json", "{\"weight_map\":{\"a\":7}}");
	EXPECT_ERROR(in_dir("y.safetensors.index.json"), "weight_map[\"a\"]", "got 7");
	write_text("z.safetensors.index.json", "{\"weight_map\":[]}");
	EXPECT_ERROR(in_dir("z.safetensors.index.json"), "weight_map: expected an object");
}

Test(safetensors, the_same_tensor_in_two_files_is_rejected)
{
	write_st("a.safetensors", one_tensor("U8", "[1]", "[0,1]"), 1);
	write_st("b.safetensors", one_tensor("U8", "[1]", "[0,1]"), 1);
	EXPECT_ERROR(dir, "b.safetensors: tensors[\"a\"]: already defined in", "a.safetensors");
}

Test(safetensors, directory_with_nothing_to_read_is_rejected)
{
	EXPECT_ERROR(dir, "no model.safetensors.index.json and no *.safetensors");
}

Test(safetensors, directory_with_several_indexes_and_no_preferred_one_is_rejected)
{
	write_text("a.safetensors.index.json", "{}");
	write_text("b.safetensors.index.json", "{}");
	EXPECT_ERROR(dir, "several index files");
}

Test(safetensors, missing_path_is_rejected)
{
	EXPECT_ERROR(in_dir("nope.safetensors"), "nope.safetensors: No such file");
}

/* A set with a capacity but no array is not the zeroed set asked for: adding to it
 * would write through a null pointer. */
Test(safetensors, a_set_with_capacity_but_no_array_is_refused)
{
	struct ms_desc_set set = { .cap = 4 };

	write_st("m.safetensors", one_tensor("U8", "[1]", "[0,1]"), 1);
	cr_expect_eq(ms_safetensors_load(in_dir("m.safetensors"), &set, err, sizeof(err)), -EINVAL);
	cr_expect_neq(strstr(err, "non-empty descriptor set"), NULL, "%s", err);
	cr_expect_null(set.v);
}

Test(safetensors, a_fifo_is_rejected_without_blocking)
{
	cr_assert_eq(mkfifo(in_dir("pipe.safetensors"), 0600), 0);
	EXPECT_ERROR(in_dir("pipe.safetensors"), "pipe.safetensors: not a regular file");
	cr_assert_eq(mkfifo(in_dir("pipe.json"), 0600), 0);
	EXPECT_ERROR(in_dir("pipe.json"), "pipe.json: expected a regular file");
}

Test(safetensors, file_names_that_are_not_utf8_still_load)
{
	struct ms_desc_set set = { 0 };

	write_st("b\xe9.safetensors",
	         "{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"U8\",\"shape\":[1],"
	         "\"data_offsets\":[0,1]}}",
	         1);
	cr_assert_eq(ms_safetensors_load(dir, &set, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(set.n, 1);
	cr_expect_str_eq(set.v[0].file, in_dir("b\xe9.safetensors"));
	cr_expect_str_eq(set.metadata_json, "{\"b?.safetensors\":{\"k\":\"v\"}}");
	ms_desc_set_free(&set);
}
