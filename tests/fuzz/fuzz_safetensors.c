// sources: shim/safetensors.c shim/manifest.c shim/dtype.c
/* fuzz_safetensors.c — libFuzzer harness for the safetensors reader. An input that
 * starts with '{' is a sharded checkpoint's index (two fixed shards, a.safetensors and
 * b.safetensors, lie beside it); anything else is one .safetensors file. Whatever
 * loads must describe ranges inside its file, and must write as a manifest. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static char dir[64];
static char index_path[128], file_path[128];

static void put(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n))
		abort();
	close(fd);
}

static void put_shard(const char *name, const char *header, size_t data_len)
{
	char path[160], buf[512] = { 0 };
	size_t n = strlen(header);

	for (int i = 0; i < 8; i++)
		buf[i] = (char)((uint64_t)n >> (8 * i));
	memcpy(buf + 8, header, n);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	put(path, buf, 8 + n + data_len);
}

static void cleanup(void)
{
	static const char *const names[] = { "a.safetensors", "b.safetensors", "model.safetensors.index.json",
		                             "x.safetensors" };
	char path[160];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	snprintf(dir, sizeof(dir), "%s/ms-fuzz-st-XXXXXX", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	put_shard("a.safetensors",
	          "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	          "\"y\":{\"dtype\":\"F4\",\"shape\":[2,2],\"data_offsets\":[8,10]}}",
	          10);
	put_shard("b.safetensors",
	          "{\"__metadata__\":{\"k\":\"v\"},\"z\":{\"dtype\":\"BF16\",\"shape\":[],"
	          "\"data_offsets\":[0,2]}}",
	          2);
	snprintf(index_path, sizeof(index_path), "%s/model.safetensors.index.json", dir);
	snprintf(file_path, sizeof(file_path), "%s/x.safetensors", dir);
	return 0;
}

/* Every descriptor must lie inside its file and agree with its shape and dtype. */
static void check(const struct ms_desc_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct ms_tensor_desc *d = &set->v[i];
		struct stat st;

		if (!d->name || !d->file || stat(d->file, &st) || d->foff + d->flen > (uint64_t)st.st_size ||
		    d->foff < 8 || !d->ebits || d->elems * d->ebits / 8 != d->flen || d->ndim > MS_MAX_DIMS)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_desc_set set = { 0 };
	const char *path = size && data[0] == '{' ? index_path : file_path;
	char err[512] = "";
	int rc, null;

	unlink(file_path); /* an index must not see the previous input's file */
	put(path, data, size);
	rc = ms_safetensors_load(path, &set, err, sizeof(err));
	if (rc < 0 && (!err[0] || set.n || set.v))
		abort(); /* every rejection says why, and leaves nothing behind */
	if (rc == 0) {
		check(&set);
		null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (ms_manifest_write(null, &set))
			abort();
		close(null);
	}
	ms_desc_set_free(&set);
	return 0;
}
