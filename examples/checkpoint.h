/* checkpoint.h — a minimal safetensors checkpoint reader shared by the example
 * loaders: every shard is mmapped read-only and each tensor is a pointer into the
 * mapping, the way the safetensors library hands tensors to a framework. */
#ifndef EXAMPLES_CHECKPOINT_H
#define EXAMPLES_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

struct ck_shard {
	char *path;
	void *map; /* the whole file, PROT_READ, MAP_PRIVATE */
	size_t size;
};

struct ck_tensor {
	char *name;
	char dtype[16];
	int shard;        /* index into ck->shards */
	const void *host; /* first byte of the tensor's data inside the mapping */
	uint64_t bytes;
	uint64_t arena_off; /* offset in one arena holding every tensor (see CK_ARENA_ALIGN) */
};

/* Arena offsets are aligned as cudaMalloc aligns separate allocations, so tensors in
 * an arena look to the shim like tensors allocated one by one. */
#define CK_ARENA_ALIGN 256

/* Tensors are in checkpoint order: shards sorted by file name, then by data offset. */
struct ck {
	struct ck_shard *shards;
	int nshards;
	struct ck_tensor *tensors;
	int ntensors;
	uint64_t total_bytes;
	uint64_t max_bytes;   /* largest tensor */
	uint64_t arena_bytes; /* size of an arena holding every tensor (at least 1) */
};

/* Open a .safetensors file, a model.safetensors.index.json, or a directory holding
 * either (or plain *.safetensors files). Returns 0, or -1 after printing why to
 * stderr prefixed with prog. */
int ck_open(struct ck *ck, const char *path, const char *prog);
void ck_close(struct ck *ck);
/* Index of the tensor called name, -1 when absent. */
int ck_find(const struct ck *ck, const char *name);

#endif /* EXAMPLES_CHECKPOINT_H */
