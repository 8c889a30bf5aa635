/* Unit tests of attribution and counting (shim/counter.c): synthetic copies into
 * registered tensors, no CUDA. Device addresses are made-up numbers; sources are
 * heap buffers or mappings of a temporary checkpoint-like file. */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "counting_helpers.h"

#define DEV 0x7f0000000000ull

static char heap[1 << 16];
#define SRC ((uint64_t)(uintptr_t)heap)

static int completions;
static char last_completed[256];

static void on_complete(const char *layer, void *user)
{
	completions++;
	snprintf(last_completed, sizeof(last_completed), "%s", layer);
	(void)user;
}

TestSuite(counter, .init = ch_setup, .fini = ch_teardown);

Test(counter, partial_writes_count_their_elements)
{
	ch_tensor("model.layers.0.w", DEV, "F32", 10, 0);
	ch_copy(DEV + 0 * 4, SRC, 3 * 4);
	ch_copy(DEV + 5 * 4, SRC, 3 * 4);
	struct metashim_counts k = ch_tcounts("model.layers.0.w");
	cr_expect_eq(k.expected, 10);
	cr_expect_eq(k.covered, 6);
	cr_expect_eq(k.copied, 6);
	cr_expect_eq(k.complete, 0);
	cr_expect_eq(ch_count_with("attr ", "off=5 elems=3 copied=6"), 1);
}

Test(counter, writing_the_same_elements_twice_shows_a_double_load)
{
	ch_tensor("model.layers.0.w", DEV, "BF16", 5, 0);
	ch_copy(DEV, SRC, 5 * 2);
	ch_copy(DEV, SRC, 5 * 2);
	struct metashim_counts k = ch_tcounts("model.layers.0.w");
	cr_expect_eq(k.copied, 10);
	cr_expect_eq(k.covered, 5);
	cr_expect_eq(k.complete, 1);
	ms_count_write_final();
	cr_expect_eq(ch_count_with("final ", "copied=10 covered=5 expected=5"), 1);
}

Test(counter, the_copy_bringing_the_last_element_of_a_layer_fires_completion_once)
{
	metashim_set_layer_complete_callback(on_complete, NULL);
	ch_tensor("model.layers.1.q.weight", DEV, "F16", 8, 0);
	ch_tensor("model.layers.1.q.bias", DEV + 0x1000, "F16", 4, 0);
	ch_copy(DEV, SRC, 8 * 2);
	ch_copy(DEV + 0x1000, SRC, 2 * 2);
	cr_expect_eq(completions, 0);
	cr_expect_eq(ch_count("complete "), 0);
	ch_copy(DEV + 0x1000 + 4, SRC, 2 * 2); /* the last two elements */
	cr_expect_eq(completions, 1);
	cr_expect_str_eq(last_completed, "model.layers.1.q");
	cr_expect_eq(ch_count_with("complete ", "seq=3 loads=1 name=model.layers.1.q"), 1);
	ch_copy(DEV, SRC, 8 * 2); /* a repeat does not complete it again */
	cr_expect_eq(completions, 1);
	cr_expect_eq(ch_count("complete "), 1);
	struct metashim_counts l = ch_lcounts("model.layers.1.q");
	cr_expect_eq(l.tensors, 2);
	cr_expect_eq(l.expected, 12);
	cr_expect_eq(l.covered, 12);
	cr_expect_eq(l.copied, 20);
	cr_expect_eq(l.complete, 1);
	cr_expect_eq(l.loads, 1);
}

Test(counter, a_released_layer_that_loads_again_completes_again)
{
	metashim_set_layer_complete_callback(on_complete, NULL);
	ch_tensor("m.l.w", DEV, "F32", 4, 0);
	ch_copy(DEV, SRC, 16);
	ms_count_reset_layer(ms_registry_layer("m.l"));
	struct metashim_counts l = ch_lcounts("m.l");
	cr_expect_eq(l.covered, 0);
	cr_expect_eq(l.complete, 0);
	ch_copy(DEV, SRC, 16);
	cr_expect_eq(completions, 2);
	cr_expect_eq(ch_lcounts("m.l").loads, 2);
	cr_expect_eq(ch_count_with("complete ", "loads=2"), 1);
}

Test(counter, skip_listed_tensors_are_outside_totals)
{
	ch_tensor("model.layers.2.mlp.weight", DEV, "F32", 4, 0);
	ch_tensor("model.layers.2.mlp.expert_mask", DEV + 0x1000, "F32", 4, 0);
	cr_expect(ms_registry_tensor("model.layers.2.mlp.expert_mask")->skip);
	cr_expect_eq(ch_count_with("tensor ", "name=model.layers.2.mlp.expert_mask skip=1"), 1);
	struct metashim_counts l = ch_lcounts("model.layers.2.mlp");
	cr_expect_eq(l.tensors, 1);
	cr_expect_eq(l.expected, 4);
	ch_copy(DEV, SRC, 16); /* the mask is never loaded, the layer is complete anyway */
	l = ch_lcounts("model.layers.2.mlp");
	cr_expect_eq(l.complete, 1);
	cr_expect_eq(ch_count("complete "), 1);
	cr_expect_eq(metashim_finalize(), 0);
}

Test(counter, row_slices_of_a_sharded_tensor_complete_it)
{
	ch_tensor("model.embed.weight", DEV, "BF16", 8, 16); /* 8 rows of 32 bytes */
	ch_copy(DEV + 4 * 32, SRC, 4 * 32);                  /* rank 1's half first */
	cr_expect_eq(ch_tcounts("model.embed.weight").covered, 64);
	ch_copy(DEV, SRC, 4 * 32);
	struct metashim_counts k = ch_tcounts("model.embed.weight");
	cr_expect_eq(k.covered, 128);
	cr_expect_eq(k.copied, 128);
	cr_expect_eq(k.complete, 1);
}

Test(counter, a_copy_straddling_two_tensors_is_split)
{
	ch_tensor("m.a.x", DEV, "F32", 4, 0);
	ch_tensor("m.a.y", DEV + 16, "F32", 8, 0);
	ch_copy(DEV + 8, SRC, 8 + 32); /* last 2 of x, all 8 of y */
	cr_expect_eq(ch_count("attr seq=1 "), 2);
	cr_expect_eq(ch_tcounts("m.a.x").covered, 2);
	cr_expect_eq(ch_tcounts("m.a.y").covered, 8);
	cr_expect_eq(ch_count("problem "), 0);
	cr_expect_eq(ch_count("unattr "), 0);
}

Test(counter, a_copy_running_past_a_tensor_end_into_nothing_is_a_straddle)
{
	struct ms_reg_tensor *t = ch_tensor("m.b.x", DEV, "F32", 4, 0);
	char want[64];

	ch_copy(DEV, SRC, 16 + 24);
	snprintf(want, sizeof(want), "kind=straddle tensor=%u", t->id);
	cr_expect_eq(ch_count_with("problem ", want), 1);
	cr_expect_eq(ch_count_with("unattr ", "bytes=24"), 1);
	cr_expect_eq(ch_tcounts("m.b.x").complete, 1);
}

Test(counter, a_copy_whose_size_is_not_a_multiple_of_the_element_size_is_misaligned)
{
	ch_tensor("m.c.x", DEV, "F32", 4, 0);
	ch_copy(DEV + 2, SRC, 6);
	cr_expect_eq(ch_count_with("problem ", "kind=misaligned"), 1);
	ch_copy(DEV, SRC, 16);
	cr_expect_eq(ch_count_with("problem ", "kind=misaligned"), 1);
	cr_expect_eq(ch_tcounts("m.c.x").complete, 1);
}

Test(counter, sub_byte_elements_are_counted_in_bits)
{
	ch_tensor("m.q.packed", DEV, "F4", 6, 0); /* 3 bytes */
	ch_copy(DEV, SRC, 1);
	ch_copy(DEV + 1, SRC, 2);
	struct metashim_counts k = ch_tcounts("m.q.packed");
	cr_expect_eq(k.covered, 6);
	cr_expect_eq(k.copied, 6);
	cr_expect_eq(k.complete, 1);
	cr_expect_eq(ch_count("problem "), 0);
}

Test(counter, host_to_device_bytes_no_tensor_claims_are_unattributed)
{
	ch_tensor("m.d.x", DEV, "F32", 4, 0);
	ch_copy(DEV + 0x100000, SRC, 100);
	cr_expect_eq(ch_count_with("unattr ", "seq=1 bytes=100"), 1);
	cr_expect_eq(ch_count("attr "), 0);
}

Test(counter, device_to_device_copies_attribute_but_are_never_unattributed)
{
	struct ms_copy c = {
		.dst = DEV, .src = DEV + 0x100000, .width = 32, .rows = 1, .dir = MS_DIR_D2D, .seq = 9
	};

	ch_tensor("m.e.x", DEV, "F32", 4, 0);
	ms_count_copy(&c);
	cr_expect_eq(ch_tcounts("m.e.x").complete, 1);
	cr_expect_eq(ch_count("unattr "), 0);
	cr_expect_eq(ch_count_with("problem ", "kind=straddle"), 1);
}

Test(counter, pitched_2d_copies_count_each_row)
{
	struct ms_copy c = { .dst = DEV,
		             .src = SRC,
		             .width = 16,
		             .rows = 4,
		             .dpitch = 64,
		             .spitch = 16,
		             .dir = MS_DIR_H2D,
		             .seq = 1 };

	/* Column block 0..3 of a 4x16 F32 matrix, registered row by row. */
	ch_tensor("m.f.r0", DEV + 0 * 64, "F32", 4, 0);
	ch_tensor("m.f.r1", DEV + 1 * 64, "F32", 4, 0);
	ch_tensor("m.f.r2", DEV + 2 * 64, "F32", 4, 0);
	ch_tensor("m.f.r3", DEV + 3 * 64, "F32", 4, 0);
	ms_count_copy(&c);
	cr_expect_eq(ch_lcounts("m.f").complete, 1);
	cr_expect_eq(ch_count("attr seq=1 "), 4);
	cr_expect_eq(ch_count("unattr "), 0);
}

Test(counter, packed_2d_copies_are_one_run)
{
	struct ms_copy c = { .dst = DEV,
		             .src = SRC,
		             .width = 16,
		             .rows = 4,
		             .dpitch = 16,
		             .spitch = 16,
		             .dir = MS_DIR_H2D,
		             .seq = 1 };

	ch_tensor("m.g.x", DEV, "F32", 16, 0);
	ms_count_copy(&c);
	cr_expect_eq(ch_count("attr seq=1 "), 1);
	cr_expect_eq(ch_tcounts("m.g.x").complete, 1);
}

/* A checkpoint-like file: 64 bytes of header, then tensor a (8 x F32) and b (4 x F32). */
static int make_file(char *path, size_t cap, struct stat *st)
{
	char data[4096] = { 0 };
	int fd;

	snprintf(path, cap, "%s/ckpt.bin", ch_dir);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	cr_assert_eq(fstat(fd, st), 0);
	return fd;
}

static void add_file_tensor(const char *name, const char *path, const struct stat *st, uint64_t foff,
                            int64_t elems)
{
	struct ms_tensor_desc d = { 0 };

	d.name = (char *)name;
	snprintf(d.dtype, sizeof(d.dtype), "F32");
	d.ebits = 32;
	d.ndim = 1;
	d.shape[0] = elems;
	d.stride[0] = 1;
	d.elems = (uint64_t)elems;
	d.file = (char *)path;
	d.file_dev = st->st_dev;
	d.file_ino = st->st_ino;
	d.foff = foff;
	d.flen = (uint64_t)elems * 4;
	cr_assert_eq(ms_registry_add(&d, NULL), 0);
}

Test(counter, a_copy_from_a_checkpoint_mapping_binds_and_staging_copies_then_attribute)
{
	char path[128];
	struct stat st;
	int fd = make_file(path, sizeof(path), &st);
	char *map;

	add_file_tensor("m.h.a", path, &st, 64, 8);
	add_file_tensor("m.h.b", path, &st, 96, 4);
	map = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	cr_assert_neq(map, MAP_FAILED);

	ch_copy(DEV + 0x40, (uint64_t)(uintptr_t)(map + 64), 32); /* a, straight from the file */
	cr_expect_eq(ch_count("bind "), 1);
	cr_expect_eq(ms_registry_tensor("m.h.a")->dev, DEV + 0x40);
	cr_expect_eq(ch_tcounts("m.h.a").complete, 1);

	ch_copy(DEV + 0x40, SRC, 32); /* the same range again, from a heap staging buffer */
	struct metashim_counts k = ch_tcounts("m.h.a");
	cr_expect_eq(k.copied, 16);
	cr_expect_eq(k.covered, 8);
	cr_expect_eq(ch_count("unattr "), 0);

	/* b is bound by a copy starting in its middle (a row slice of the file). */
	ch_copy(DEV + 0x208, (uint64_t)(uintptr_t)(map + 96 + 8), 8);
	cr_expect_eq(ms_registry_tensor("m.h.b")->dev, DEV + 0x200);
	ch_copy(DEV + 0x200, SRC, 8);
	cr_expect_eq(ch_tcounts("m.h.b").complete, 1);
	cr_expect_eq(ch_lcounts("m.h").complete, 1);
	munmap(map, 4096);
	close(fd);
}

Test(counter, one_copy_of_several_file_tensors_binds_each)
{
	char path[128];
	struct stat st;
	int fd = make_file(path, sizeof(path), &st);
	char *map;

	add_file_tensor("m.i.a", path, &st, 64, 8);
	add_file_tensor("m.i.b", path, &st, 96, 4);
	map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(map, MAP_FAILED);
	ch_copy(DEV, (uint64_t)(uintptr_t)(map + 64), 48); /* an arena upload of both */
	cr_expect_eq(ch_count("bind "), 2);
	cr_expect_eq(ms_registry_tensor("m.i.b")->dev, DEV + 32);
	cr_expect_eq(ch_lcounts("m.i").complete, 1);
	cr_expect_eq(ch_count("unattr "), 0);
	munmap(map, 4096);
	close(fd);
}
