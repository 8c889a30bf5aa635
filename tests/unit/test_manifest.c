/* test_manifest.c — the manifest: writing a descriptor set, loading it back equal,
 * loading hand-written ones, and each malformed manifest rejected with a message that
 * names the file, the JSON path and what was expected. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "st_files.h"

static char err[1024];

static void setup(void)
{
	st_dir_make("/tmp/ms-mf-XXXXXX");
	err[0] = 0;
}

static void teardown(void)
{
	st_dir_remove();
}

TestSuite(manifest, .init = setup, .fini = teardown);

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = calloc(1, 1 << 20);

	cr_assert_not_null(f);
	fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	return buf;
}

static int write_manifest(const struct ms_desc_set *set, const char *name)
{
	int fd = open(in_dir(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int rc;

	cr_assert_geq(fd, 0);
	rc = ms_manifest_write(fd, set);
	close(fd);
	return rc;
}

static void expect_same_desc(const struct ms_tensor_desc *a, const struct ms_tensor_desc *b,
                             const char *layer)
{
	cr_expect_str_eq(b->name, a->name);
	cr_expect_str_eq(b->layer, layer);
	cr_expect_str_eq(b->dtype, a->dtype);
	cr_expect_eq(b->ebits, a->ebits);
	cr_expect_eq(b->ndim, a->ndim);
	cr_expect_arr_eq(b->shape, a->shape, sizeof(a->shape[0]) * (size_t)a->ndim);
	cr_expect_arr_eq(b->stride, a->stride, sizeof(a->stride[0]) * (size_t)a->ndim);
	cr_expect_eq(b->elems, a->elems);
	if (a->file)
		cr_expect_str_eq(b->file, a->file);
	else
		cr_expect_null(b->file);
	cr_expect_eq(b->file_dev, a->file_dev);
	cr_expect_eq(b->file_ino, a->file_ino);
	cr_expect_eq(b->foff, a->foff);
	cr_expect_eq(b->flen, a->flen);
	cr_expect_eq(b->dev_ptr, a->dev_ptr);
}

/* Load path, expect failure, and the message to hold each of the given pieces. */
static void expect_error(const char *path, const char *const *pieces)
{
	struct ms_desc_set set = { 0 };
	int rc = ms_manifest_load(path, &set, err, sizeof(err));

	cr_assert_lt(rc, 0, "loading %s should fail", path);
	cr_expect_eq(set.n, 0);
	cr_expect_null(set.v);
	cr_expect_eq(strchr(err, '\n'), NULL, "one line: %s", err);
	cr_expect_eq(strncmp(err, path, strlen(path)), 0, "message \"%s\" should start with the file", err);
	for (size_t i = 0; pieces[i]; i++)
		cr_expect_neq(strstr(err, pieces[i]), NULL, "message \"%s\" should contain \"%s\"", err,
		              pieces[i]);
}

#define EXPECT_ERROR(path, ...) expect_error(path, (const char *const[]){ __VA_ARGS__, NULL })

/* A manifest of one tensor whose entry is `tensor` (JSON object text). */
static const char *manifest_with(const char *name, const char *tensor)
{
	static char text[2048];

	snprintf(text, sizeof(text),
	         "{\"metashim_manifest\": 1, \"layers\": [{\"name\": \"l\", \"tensors\": [%s]}]}", tensor);
	write_text(name, text);
	return in_dir(name);
}

/* ------------------------------------------------------------------- round trip */

Test(manifest, a_checkpoint_written_and_loaded_back_is_the_same)
{
	struct ms_desc_set ck = { 0 }, mf = { 0 };

	write_st("model-00001-of-00002.safetensors",
	         "{\"__metadata__\":{\"format\":\"pt\"},"
	         "\"model.layers.0.mlp.w\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
	         "\"model.layers.0.mlp.b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[12,24]},"
	         "\"model.embed\":{\"dtype\":\"F4\",\"shape\":[4],\"data_offsets\":[24,26]}}",
	         26);
	write_st("model-00002-of-00002.safetensors",
	         "{\"model.layers.1.mlp.w\":{\"dtype\":\"F8_E4M3\",\"shape\":[],\"data_offsets\":[0,1]},"
	         "\"lm_head\":{\"dtype\":\"I64\",\"shape\":[1,1,1],\"data_offsets\":[8,16]}}",
	         16);
	write_text("model.safetensors.index.json",
	           "{\"metadata\":{\"total_size\":42},\"weight_map\":{"
	           "\"model.layers.0.mlp.w\":\"model-00001-of-00002.safetensors\","
	           "\"model.layers.0.mlp.b\":\"model-00001-of-00002.safetensors\","
	           "\"model.embed\":\"model-00001-of-00002.safetensors\","
	           "\"model.layers.1.mlp.w\":\"model-00002-of-00002.safetensors\","
	           "\"lm_head\":\"model-00002-of-00002.safetensors\"}}");
	cr_assert_eq(ms_safetensors_load(dir, &ck, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ck.n, 5);
	cr_assert_eq(write_manifest(&ck, "layers.json"), 0);
	cr_assert_eq(ms_manifest_load(in_dir("layers.json"), &mf, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(mf.n, ck.n);
	expect_same_desc(&ck.v[0], &mf.v[0], "model.layers.0.mlp");
	expect_same_desc(&ck.v[1], &mf.v[1], "model.layers.0.mlp");
	expect_same_desc(&ck.v[2], &mf.v[2], "model");
	expect_same_desc(&ck.v[3], &mf.v[3], "model.layers.1.mlp");
	expect_same_desc(&ck.v[4], &mf.v[4], "lm_head");
	cr_expect_str_eq(mf.metadata_json, ck.metadata_json);
	cr_expect_str_eq(mf.source, dir);
	ms_desc_set_free(&ck);
	ms_desc_set_free(&mf);
}

static struct ms_tensor_desc *add(struct ms_desc_set *set, const char *name, const char *dtype, int ndim,
                                  const int64_t *shape)
{
	struct ms_tensor_desc *d = ms_desc_set_add(set);

	cr_assert_not_null(d);
	d->name = strdup(name);
	strcpy(d->dtype, dtype);
	d->ebits = ms_dtype_bits(dtype);
	d->ndim = ndim;
	d->elems = 1;
	for (int i = 0; i < ndim; i++) {
		d->shape[i] = shape[i];
		d->elems *= (uint64_t)shape[i];
	}
	cr_assert_eq(ms_desc_contiguous_stride(d), 0);
	return d;
}

Test(manifest, writer_groups_layers_in_first_appearance_order_one_tensor_per_line)
{
	struct ms_desc_set set = { 0 }, back = { 0 };
	const int64_t s2[] = { 2, 4 };
	struct ms_tensor_desc *t;
	char *text;
	const char *l1, *l0, *top, *own;

	add(&set, "m.l1.w", "F32", 2, s2);
	t = add(&set, "m.l0.w", "BF16", 2, s2);
	t->stride[0] = 1; /* transposed: written since it is not contiguous */
	t->stride[1] = 2;
	t->dev_ptr = 0x7f0012340000ull;
	add(&set, "m.l1.b", "F32", 1, s2);
	add(&set, "top", "U8", 0, s2);
	t = add(&set, "x.y.z", "U8", 0, s2);
	t->layer = strdup("custom");
	cr_assert_eq(write_manifest(&set, "m.json"), 0);
	text = read_text(in_dir("m.json"));
	cr_assert_neq(strstr(text, "\"metashim_manifest\": 1"), NULL, "%s", text);
	l1 = strstr(text, "{\"name\": \"m.l1\", \"tensors\": [");
	l0 = strstr(text, "{\"name\": \"m.l0\", \"tensors\": [");
	top = strstr(text, "{\"name\": \"top\", \"tensors\": [");
	own = strstr(text, "{\"name\": \"custom\", \"tensors\": [");
	cr_assert(l1 && l0 && top && own && l1 < l0 && l0 < top && top < own, "%s", text);
	cr_expect_neq(strstr(text, "\n      {\"name\": \"m.l0.w\", \"dtype\": \"BF16\", \"shape\": [2, 4], "
	                           "\"stride\": [1, 2], \"device\": \"0x7f0012340000\"}"),
	              NULL, "%s", text);
	cr_expect_neq(strstr(text, "\n      {\"name\": \"m.l1.b\", \"dtype\": \"F32\", \"shape\": [2]}"),
	              NULL, "%s", text);
	cr_expect_eq(strstr(text, "\"stride\": [4, 1]"), NULL, "contiguous strides are left out: %s", text);
	cr_expect_eq(strstr(text, "\"source\""), NULL);
	free(text);

	cr_assert_eq(ms_manifest_load(in_dir("m.json"), &back, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(back.n, 5);
	/* Layer by layer: m.l1 (w, b), m.l0, top, custom. */
	expect_same_desc(&set.v[0], &back.v[0], "m.l1");
	expect_same_desc(&set.v[2], &back.v[1], "m.l1");
	expect_same_desc(&set.v[1], &back.v[2], "m.l0");
	expect_same_desc(&set.v[3], &back.v[3], "top");
	expect_same_desc(&set.v[4], &back.v[4], "custom");
	ms_desc_set_free(&set);
	ms_desc_set_free(&back);
}

Test(manifest, an_empty_set_round_trips)
{
	struct ms_desc_set set = { 0 }, back = { 0 };

	cr_assert_eq(write_manifest(&set, "e.json"), 0);
	cr_assert_eq(ms_manifest_load(in_dir("e.json"), &back, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(back.n, 0);
	ms_desc_set_free(&back);
}

Test(manifest, writer_reports_a_failing_descriptor)
{
	struct ms_desc_set set = { 0 };
	const int64_t s1[] = { 1 };

	add(&set, "bad\xff", "U8", 1, s1); /* not UTF-8: no JSON string can hold it */
	cr_expect_lt(write_manifest(&set, "bad.json"), 0);
	cr_expect_lt(ms_manifest_write(-1, &set), 0);
	ms_desc_set_free(&set);
}

/* ------------------------------------------------------------ hand-written input */

Test(manifest, hand_written_manifest_resolves_files_beside_it_and_torch_dtypes)
{
	struct ms_desc_set set = { 0 };
	struct stat st;

	write_st("w.safetensors", "{}", 64);
	write_text("hand.json", "{\n"
	                        "  \"_comment\": \"made by hand\",\n"
	                        "  \"metashim_manifest\": 1,\n"
	                        "  \"metadata\": {\"who\": \"me\"},\n"
	                        "  \"layers\": [\n"
	                        "    {\"name\": \"blk\", \"_note\": 1, \"tensors\": [\n"
	                        "      {\"name\": \"blk.w\", \"dtype\": \"bfloat16\", \"shape\": [4, 2],\n"
	                        "       \"file\": \"w.safetensors\", \"offset\": 16, \"length\": 16},\n"
	                        "      {\"name\": \"blk.d\", \"dtype\": \"torch.float32\", \"shape\": [3],\n"
	                        "       \"stride\": [2], \"device\": \"0xABC000\"}\n"
	                        "    ]}\n"
	                        "  ]\n"
	                        "}\n");
	cr_assert_eq(ms_manifest_load(in_dir("hand.json"), &set, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(err, "", "no warning when every file is there");
	cr_assert_eq(stat(in_dir("w.safetensors"), &st), 0);
	cr_assert_eq(set.n, 2);
	cr_expect_str_eq(set.v[0].layer, "blk");
	cr_expect_str_eq(set.v[0].dtype, "BF16");
	cr_expect_eq(set.v[0].ebits, 16);
	cr_expect_str_eq(set.v[0].file, in_dir("w.safetensors"));
	cr_expect_eq(set.v[0].file_ino, (uint64_t)st.st_ino);
	cr_expect_eq(set.v[0].foff, 16);
	cr_expect_eq(set.v[0].stride[0], 2);
	cr_expect_str_eq(set.v[1].dtype, "F32");
	cr_expect_eq(set.v[1].stride[0], 2);
	cr_expect_eq(set.v[1].dev_ptr, 0xabc000);
	cr_expect_null(set.v[1].file);
	cr_expect_str_eq(set.metadata_json, "{\"who\":\"me\"}");
	cr_expect_str_eq(set.source, in_dir("hand.json"));
	ms_desc_set_free(&set);
}

Test(manifest, a_missing_file_keeps_the_tensor_without_file_identity_and_warns)
{
	struct ms_desc_set set = { 0 };
	const char *p = manifest_with(
	        "gone.json", "{\"name\": \"a\", \"dtype\": \"U8\", \"shape\": [4], "
	                     "\"file\": \"/nonexistent/x.safetensors\", \"offset\": 8, \"length\": 4}");

	cr_assert_eq(ms_manifest_load(p, &set, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(set.n, 1);
	cr_expect_str_eq(set.v[0].file, "/nonexistent/x.safetensors");
	cr_expect_eq(set.v[0].file_dev, 0);
	cr_expect_eq(set.v[0].file_ino, 0);
	cr_expect_eq(set.v[0].foff, 8);
	cr_expect_neq(strstr(err, "gone.json: 1 of 1 tensors name a file that cannot be found here"), NULL,
	              "%s", err);
	cr_expect_neq(strstr(err, "layers[0].tensors[0].file \"/nonexistent/x.safetensors\": No such file"),
	              NULL, "%s", err);
	ms_desc_set_free(&set);
}

/* -------------------------------------------------------------- malformed input */

Test(manifest, invalid_json_is_rejected_with_its_line_and_column)
{
	write_text("bad.json", "{\"metashim_manifest\": 1,\n \"layers\": [}\n");
	EXPECT_ERROR(in_dir("bad.json"), "(line 2, column 13): invalid JSON");
}

Test(manifest, version_and_top_level_are_checked)
{
	write_text("v.json", "{\"metashim_manifest\": 2, \"layers\": []}");
	EXPECT_ERROR(in_dir("v.json"), "metashim_manifest: expected version 1, got 2");
	write_text("v0.json", "{\"layers\": []}");
	EXPECT_ERROR(in_dir("v0.json"), "metashim_manifest: missing");
	write_text("nl.json", "{\"metashim_manifest\": 1}");
	EXPECT_ERROR(in_dir("nl.json"), "layers: expected an array of layer objects, got nothing");
	write_text("arr.json", "[]");
	EXPECT_ERROR(in_dir("arr.json"), "expected a JSON object");
	write_text("top.json", "{\"metashim_manifest\": 1, \"layer\": [], \"layers\": []}");
	EXPECT_ERROR(in_dir("top.json"), "(top level): unknown key \"layer\"");
	write_text("md.json", "{\"metashim_manifest\": 1, \"metadata\": 3, \"layers\": []}");
	EXPECT_ERROR(in_dir("md.json"), "metadata: expected an object, got 3");
}

Test(manifest, unknown_keys_are_rejected_unless_they_start_with_an_underscore)
{
	const char *p = manifest_with("k.json", "{\"name\": \"a\", \"dtype\": \"U8\", \"shpae\": [1]}");

	EXPECT_ERROR(p, "layers[0].tensors[0]: unknown key \"shpae\"", "expected name, dtype, shape");
}

Test(manifest, layers_are_checked)
{
	write_text("l.json", "{\"metashim_manifest\": 1, \"layers\": [{\"name\": \"a\", \"tensors\": []}, "
	                     "{\"name\": \"a\", \"tensors\": []}]}");
	EXPECT_ERROR(in_dir("l.json"), "layers[1].name: layer \"a\" is already listed at layers[0]");
	write_text("l2.json", "{\"metashim_manifest\": 1, \"layers\": [{\"name\": \"\", \"tensors\": []}]}");
	EXPECT_ERROR(in_dir("l2.json"), "layers[0].name: expected a non-empty string");
	write_text("l3.json", "{\"metashim_manifest\": 1, \"layers\": [{\"name\": \"a\"}]}");
	EXPECT_ERROR(in_dir("l3.json"), "layers[0].tensors: expected an array");
}

Test(manifest, tensor_fields_are_checked)
{
	EXPECT_ERROR(manifest_with("t1.json", "{\"name\": \"a\", \"dtype\": \"F128\", \"shape\": [1]}"),
	             "layers[0].tensors[0].dtype: expected a dtype name", "got \"F128\"");
	EXPECT_ERROR(manifest_with("t2.json", "{\"name\": \"a\", \"dtype\": \"U8\", \"shape\": [1, -2]}"),
	             "layers[0].tensors[0].shape[1]: expected a non-negative integer, got -2");
	EXPECT_ERROR(manifest_with("t3.json", "{\"dtype\": \"U8\", \"shape\": [1]}"),
	             "layers[0].tensors[0].name: expected a non-empty string, got nothing");
	EXPECT_ERROR(
	        manifest_with("t4.json",
	                      "{\"name\": \"a\", \"dtype\": \"U8\", \"shape\": [2], \"stride\": [1, 1]}"),
	        "layers[0].tensors[0].stride: expected an array of 1 non-negative integers");
	EXPECT_ERROR(manifest_with("t5.json",
	                           "{\"name\": \"a\", \"dtype\": \"U8\", \"shape\": [2], \"offset\": 0}"),
	             "layers[0].tensors[0].offset: given without \"file\"");
	EXPECT_ERROR(
	        manifest_with("t6.json",
	                      "{\"name\": \"a\", \"dtype\": \"U8\", \"shape\": [2], \"device\": \"123\"}"),
	        "layers[0].tensors[0].device: expected a non-zero device address", "got \"123\"");
	EXPECT_ERROR(
	        manifest_with("t7.json",
	                      "{\"name\": \"a\", \"dtype\": \"U8\", \"shape\": [2], \"device\": \"0xzz\"}"),
	        "layers[0].tensors[0].device");
	EXPECT_ERROR(manifest_with("t8.json", "{\"name\": \"a\", \"dtype\": \"F4\", \"shape\": [3]}"),
	             "layers[0].tensors[0]: 3 elements of F4 are 12 bits, not whole bytes");
	EXPECT_ERROR(manifest_with("t9.json", "{\"name\": \"a\", \"dtype\": \"U8\", "
	                                      "\"shape\": [4294967296, 4294967296]}"),
	             "layers[0].tensors[0].shape: element count overflows");
	EXPECT_ERROR(manifest_with("t10.json", "7"), "layers[0].tensors[0]: expected a tensor object, got 7");
}

Test(manifest, file_ranges_are_checked)
{
	write_st("f.safetensors", "{}", 8);
	EXPECT_ERROR(manifest_with("r1.json", "{\"name\": \"a\", \"dtype\": \"F32\", \"shape\": [2], "
	                                      "\"file\": \"f.safetensors\", \"offset\": 8, \"length\": 4}"),
	             "layers[0].tensors[0].length: 4 bytes, but 2 elements of F32 take 8");
	EXPECT_ERROR(manifest_with("r2.json", "{\"name\": \"a\", \"dtype\": \"F32\", \"shape\": [2], "
	                                      "\"file\": \"f.safetensors\", \"length\": 8}"),
	             "layers[0].tensors[0].offset: expected the data's byte offset");
	EXPECT_ERROR(manifest_with("r3.json", "{\"name\": \"a\", \"dtype\": \"F32\", \"shape\": [4], "
	                                      "\"file\": \"f.safetensors\", \"offset\": 8, \"length\": 16}"),
	             "layers[0].tensors[0]: bytes [8, 24) lie beyond the end of", "(18 bytes)");
	EXPECT_ERROR(manifest_with("r4.json", "{\"name\": \"a\", \"dtype\": \"U8\", \"shape\": [1], "
	                                      "\"file\": \"f.safetensors\", \"offset\": 9223372036854775807, "
	                                      "\"length\": 1}"),
	             "bytes [9223372036854775807, 9223372036854775808) lie beyond the end");
}

Test(manifest, duplicate_tensors_and_overlapping_ranges_are_rejected)
{
	write_st("f.safetensors", "{}", 64);
	write_text(
	        "d.json",
	        "{\"metashim_manifest\": 1, \"layers\": ["
	        "{\"name\": \"a\", \"tensors\": [{\"name\": \"t\", \"dtype\": \"U8\", \"shape\": [1]}]},"
	        "{\"name\": \"b\", \"tensors\": [{\"name\": \"t\", \"dtype\": \"U8\", \"shape\": [1]}]}]}");
	EXPECT_ERROR(in_dir("d.json"),
	             "layers[1].tensors[0].name: tensor \"t\" is already listed at layers[0].tensors[0]");
	write_text("o.json",
	           "{\"metashim_manifest\": 1, \"layers\": [{\"name\": \"a\", \"tensors\": ["
	           "{\"name\": \"x\", \"dtype\": \"U8\", \"shape\": [8], \"file\": \"f.safetensors\", "
	           "\"offset\": 10, \"length\": 8},"
	           "{\"name\": \"y\", \"dtype\": \"U8\", \"shape\": [8], \"file\": \"f.safetensors\", "
	           "\"offset\": 14, \"length\": 8}]}]}");
	EXPECT_ERROR(in_dir("o.json"), "layers[0].tensors[1]: bytes [14, 22) of",
	             "overlap those of layers[0].tensors[0] [10, 18)");
	/* The same file by another path is the same file. */
	write_text("o2.json",
	           "{\"metashim_manifest\": 1, \"layers\": [{\"name\": \"a\", \"tensors\": ["
	           "{\"name\": \"x\", \"dtype\": \"U8\", \"shape\": [8], \"file\": \"f.safetensors\", "
	           "\"offset\": 10, \"length\": 8},"
	           "{\"name\": \"y\", \"dtype\": \"U8\", \"shape\": [8], \"file\": \"./f.safetensors\", "
	           "\"offset\": 14, \"length\": 8}]}]}");
	EXPECT_ERROR(in_dir("o2.json"), "overlap those of");
}

Test(manifest, duplicate_json_keys_are_rejected)
{
	write_text("dk.json", "{\"metashim_manifest\": 1, \"metashim_manifest\": 1, \"layers\": []}");
	EXPECT_ERROR(in_dir("dk.json"), "invalid JSON", "duplicate");
}

Test(manifest, a_missing_manifest_is_rejected)
{
	EXPECT_ERROR(in_dir("none.json"), "cannot open: No such file");
}

/* A set with a capacity but no array is not the zeroed set asked for: adding to it
 * would write through a null pointer. */
Test(manifest, a_set_with_capacity_but_no_array_is_refused)
{
	struct ms_desc_set set = { .cap = 4 };
	const char *p = manifest_with("cap.json", "{\"name\": \"a\", \"dtype\": \"U8\", \"shape\": [1]}");

	cr_expect_eq(ms_manifest_load(p, &set, err, sizeof(err)), -EINVAL);
	cr_expect_neq(strstr(err, "non-empty descriptor set"), NULL, "%s", err);
	cr_expect_null(set.v);
}

Test(manifest, a_fifo_is_rejected_without_blocking)
{
	cr_assert_eq(mkfifo(in_dir("pipe.json"), 0600), 0);
	EXPECT_ERROR(in_dir("pipe.json"), "expected a regular file");
}
