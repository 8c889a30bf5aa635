/* Unit tests of the descriptor registry (shim/registry.c): layer naming, skip
 * lists, the device and file indexes, records, loading from a checkpoint. */
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "counting_helpers.h"

#define DEV 0x7f0000000000ull

TestSuite(registry, .init = ch_setup, .fini = ch_teardown);

static const char *layer_of(const char *name)
{
	static char buf[256];

	ms_registry_layer_of(name, buf, sizeof(buf));
	return buf;
}

Test(registry, a_layer_is_the_name_up_to_the_last_dot)
{
	cr_expect_str_eq(layer_of("model.layers.3.mlp.down_proj.weight"), "model.layers.3.mlp.down_proj");
	cr_expect_str_eq(layer_of("lm_head"), "lm_head");
}

Test(registry, layer_depth_keeps_the_first_components)
{
	ms_cfg.layer_depth = 3;
	ms_registry_load(&ms_cfg);
	cr_expect_str_eq(layer_of("model.layers.3.mlp.down_proj.weight"), "model.layers.3");
	cr_expect_str_eq(layer_of("model.norm.weight"), "model.norm"); /* too short: last dot */
}

Test(registry, a_layer_pattern_takes_its_first_match)
{
	snprintf(ms_cfg.layer_pattern, sizeof(ms_cfg.layer_pattern), "model\\.layers\\.[0-9]+");
	ms_registry_load(&ms_cfg);
	cr_expect_str_eq(layer_of("model.layers.12.self_attn.q_proj.weight"), "model.layers.12");
	cr_expect_str_eq(layer_of("model.embed_tokens.weight"), "model.embed_tokens");
}

Test(registry, the_default_skip_list_and_a_configured_one_apply)
{
	cr_expect(ms_registry_is_skipped("model.layers.0.mlp.experts._expert_map"));
	cr_expect_not(ms_registry_is_skipped("model.layers.0.mlp.experts.w1"));
	snprintf(ms_cfg.skip, sizeof(ms_cfg.skip), "rotary,inv_freq");
	ms_registry_load(&ms_cfg);
	cr_expect(ms_registry_is_skipped("model.rotary_emb.inv_freq"));
	cr_expect_not(ms_registry_is_skipped("model.layers.0.mlp.experts._expert_map"));
}

Test(registry, registrations_write_layer_and_tensor_records)
{
	ch_tensor("model.layers.0.attn.q.weight", DEV, "bfloat16", 4, 8);
	cr_expect_eq(ch_count_with("layer ", "id=1 name=model.layers.0.attn.q"), 1);
	cr_expect_eq(ch_count_with("tensor ",
	                           "id=1 layer=1 name=model.layers.0.attn.q.weight dtype=BF16 "
	                           "esize=2 shape=4,8 stride=8,1 elems=32 skip=0 dev=0x7f0000000000"),
	             1);
}

Test(registry, overlapping_device_ranges_and_duplicate_names_are_refused)
{
	int64_t shape[1] = { 4 };

	ch_tensor("a.x", DEV, "F32", 4, 0);
	cr_expect_eq(metashim_register_tensor(NULL, "a.y", DEV + 8, "F32", 1, shape, NULL), -EEXIST);
	cr_expect_eq(metashim_register_tensor(NULL, "a.x", DEV + 64, "F32", 1, shape, NULL), -EEXIST);
	cr_expect_eq(metashim_register_tensor(NULL, "a.z", DEV - 16, "F32", 1, shape, NULL), 0);
	cr_expect_eq(metashim_register_tensor(NULL, "a.w", DEV + 16, "F32", 1, shape, NULL), 0);
}

Test(registry, an_unregistered_tensor_leaves_the_indexes_and_its_name_is_free_again)
{
	struct ms_hit h;
	int64_t shape[1] = { 4 };

	ch_tensor("a.x", DEV, "F32", 4, 0);
	cr_expect(ms_registry_find_dev(DEV + 4, &h));
	cr_expect_eq(metashim_unregister_tensor("a.x"), 0);
	cr_expect_not(ms_registry_find_dev(DEV + 4, &h));
	cr_expect_eq(metashim_unregister_tensor("a.x"), -ENOENT);
	cr_expect(ms_registry_empty());
	cr_expect_eq(metashim_register_tensor(NULL, "a.x", DEV, "F32", 1, shape, NULL), 0);
	cr_expect(ms_registry_find_dev(DEV + 4, &h));
}

Test(registry, device_lookups_find_every_one_of_many_tensors)
{
	enum { N = 5000 };
	static uint32_t order[N];
	struct ms_hit h;

	for (uint32_t i = 0; i < N; i++)
		order[i] = i;
	srand(3);
	for (uint32_t i = N - 1; i > 0; i--) { /* registration in random address order */
		uint32_t j = (uint32_t)rand() % (i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (uint32_t i = 0; i < N; i++) {
		char name[64];
		int64_t shape[1] = { 16 };
		snprintf(name, sizeof(name), "m.l%u.w", order[i]);
		cr_assert_eq(
		        metashim_register_tensor(NULL, name, DEV + order[i] * 128ull, "F32", 1, shape, NULL),
		        0);
	}
	for (uint32_t i = 0; i < N; i++) {
		cr_assert(ms_registry_find_dev(DEV + i * 128ull + 63, &h));
		cr_assert_eq(h.lo, DEV + i * 128ull);
		cr_assert_eq(h.hi, DEV + i * 128ull + 64);
		cr_assert_not(ms_registry_find_dev(DEV + i * 128ull + 64, &h)); /* the gap */
		cr_assert_eq(ms_registry_next_dev(DEV + i * 128ull + 64),
		             i + 1 < N ? DEV + (i + 1) * 128ull : UINT64_MAX);
	}
	cr_expect_eq(metashim_layer_count(), N);
}

/* Readers look up tensors registered before they started while a writer keeps
 * registering (each registration publishes a new snapshot and frees old runs
 * after the grace period): no reader ever misses or blocks. */
static volatile bool stop;

static void *reader(void *arg)
{
	uint64_t n = 0;

	while (!stop) {
		struct ms_hit h;
		for (uint64_t i = 0; i < 100; i++) {
			cr_assert(ms_registry_find_dev(DEV + i * 64 + 5, &h));
			cr_assert_eq(h.lo, DEV + i * 64);
		}
		n++;
	}
	return (void *)(uintptr_t)n;
}

Test(registry, lookups_from_several_threads_while_another_registers_do_not_block)
{
	pthread_t th[4];
	int64_t shape[1] = { 8 };

	for (int i = 0; i < 100; i++) {
		char name[32];
		snprintf(name, sizeof(name), "r.a%d.w", i);
		cr_assert_eq(
		        metashim_register_tensor(NULL, name, DEV + (uint64_t)i * 64, "F32", 1, shape, NULL),
		        0);
	}
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, reader, NULL);
	for (int i = 0; i < 3000; i++) {
		char name[32];
		snprintf(name, sizeof(name), "r.b%d.w", i);
		cr_assert_eq(metashim_register_tensor(NULL, name, DEV + 0x100000 + (uint64_t)i * 64, "F32", 1,
		                                      shape, NULL),
		             0);
	}
	stop = true;
	for (int i = 0; i < 4; i++) {
		void *n;
		pthread_join(th[i], &n);
		cr_expect_gt((uintptr_t)n, 0);
	}
}

Test(registry, a_missing_checkpoint_is_a_warning_and_the_program_carries_on)
{
	snprintf(ms_cfg.checkpoint, sizeof(ms_cfg.checkpoint), "%s/nowhere.safetensors", ch_dir);
	ms_registry_load(&ms_cfg);
	cr_expect(ms_registry_empty());
	ch_tensor("a.x", DEV, "F32", 4, 0); /* the API still works */
	cr_expect_not_null(strstr(ch_trace(), "msg=cannot%20use%20checkpoint"));
	cr_expect_eq(ch_count("warn "), 1);
}

/* A small safetensors file: two layers, F32 and BF16 tensors. */
static void write_checkpoint(const char *path)
{
	const char *hdr =
	        "{\"model.layers.0.mlp.w\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]},"
	        "\"model.layers.0.mlp.b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[32,48]},"
	        "\"model.norm.weight\":{\"dtype\":\"BF16\",\"shape\":[8],\"data_offsets\":[48,64]}}";
	uint64_t len = strlen(hdr);
	char zeros[64] = { 0 };
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	fwrite(&len, 8, 1, f); /* little-endian host */
	fwrite(hdr, 1, len, f);
	fwrite(zeros, 1, sizeof(zeros), f);
	fclose(f);
}

Test(registry, a_checkpoint_loads_and_copies_from_its_mapping_complete_every_layer)
{
	char path[128];
	struct stat st;
	uint64_t data;
	char *map;
	int fd;

	snprintf(path, sizeof(path), "%s/model.safetensors", ch_dir);
	write_checkpoint(path);
	snprintf(ms_cfg.checkpoint, sizeof(ms_cfg.checkpoint), "%s", path);
	ms_registry_load(&ms_cfg);
	cr_assert_eq(ms_registry_tensor_count(), 3);
	cr_expect_eq(metashim_layer_count(), 2);
	cr_expect_eq(ch_count("tensor "), 3);
	cr_expect_eq(ch_count_with("tensor ", "name=model.norm.weight dtype=BF16 esize=2 elems=8"), 1);

	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	cr_assert_neq(map, MAP_FAILED);
	data = 8 + (uint64_t)(st.st_size - 8 - 64);
	/* A loader copying tensor by tensor out of the mapping into its own buffers. */
	ch_copy(DEV + 0x000, (uint64_t)(uintptr_t)map + data + 0, 32);
	ch_copy(DEV + 0x100, (uint64_t)(uintptr_t)map + data + 32, 16);
	ch_copy(DEV + 0x200, (uint64_t)(uintptr_t)map + data + 48, 16);
	cr_expect_eq(ch_count("bind "), 3);
	cr_expect_eq(ch_count("complete "), 2);
	cr_expect_eq(ch_count("unattr "), 0);
	cr_expect_eq(metashim_finalize(), 0);
	cr_expect_eq(ch_lcounts("model.layers.0.mlp").covered, 12);
	munmap(map, (size_t)st.st_size);
	close(fd);
}
