/* checkpoint.c — opens a safetensors checkpoint for the example loaders (see
 * checkpoint.h). Validation is what a loader needs to stay in bounds; the strict
 * reader with precise diagnostics is the shim's (shim/safetensors.c). */
#include "checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CK_MAX_HEADER (100u << 20) /* safetensors' own limit on the header */

static int add_shard(struct ck *ck, const char *path)
{
	struct ck_shard *v = realloc(ck->shards, (size_t)(ck->nshards + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	ck->shards = v;
	v[ck->nshards].path = strdup(path);
	v[ck->nshards].map = NULL;
	v[ck->nshards].size = 0;
	if (!v[ck->nshards].path)
		return -ENOMEM;
	ck->nshards++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_shard(const void *a, const void *b)
{
	return strcmp(((const struct ck_shard *)a)->path, ((const struct ck_shard *)b)->path);
}

static int cmp_tensor(const void *a, const void *b)
{
	const struct ck_tensor *x = a, *y = b;

	if (x->shard != y->shard)
		return x->shard < y->shard ? -1 : 1;
	return x->host < y->host ? -1 : x->host > y->host;
}

/* The shard files an index names, relative to the index's directory. */
static int shards_from_index(struct ck *ck, const char *index, const char *prog)
{
	char dir[4096], path[8192], *slash;
	json_error_t jerr;
	json_t *root = json_load_file(index, 0, &jerr), *map, *file;
	const char *key;
	int err = 0, i;

	if (!root) {
		fprintf(stderr, "%s: %s:%d: %s\n", prog, index, jerr.line, jerr.text);
		return -EINVAL;
	}
	map = json_object_get(root, "weight_map");
	if (!json_is_object(map)) {
		fprintf(stderr, "%s: %s: no \"weight_map\" object\n", prog, index);
		err = -EINVAL;
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s", index);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(dir, sizeof(dir), ".");
	json_object_foreach(map, key, file)
	{
		if (!json_is_string(file)) {
			fprintf(stderr, "%s: %s: weight_map.%s is not a file name\n", prog, index, key);
			err = -EINVAL;
			goto out;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, json_string_value(file));
		for (i = 0; i < ck->nshards && strcmp(ck->shards[i].path, path); i++)
			;
		if (i == ck->nshards && (err = add_shard(ck, path)))
			goto out;
	}
out:
	json_decref(root);
	return err;
}

static int shards_from_dir(struct ck *ck, const char *dir, const char *prog)
{
	char path[8192], **names = NULL;
	struct dirent *e;
	DIR *d;
	int n = 0, err = 0, i;

	snprintf(path, sizeof(path), "%s/model.safetensors.index.json", dir);
	if (!access(path, R_OK))
		return shards_from_index(ck, path, prog);
	d = opendir(dir);
	if (!d) {
		fprintf(stderr, "%s: cannot open %s: %s\n", prog, dir, strerror(errno));
		return -errno;
	}
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char **v;

		if (len < 12 || strcmp(e->d_name + len - 12, ".safetensors"))
			continue;
		v = realloc(names, (size_t)(n + 1) * sizeof(*v));
		if (!v || !(v[n] = strdup(e->d_name))) {
			names = v ? v : names;
			err = -ENOMEM;
			break;
		}
		names = v;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, (size_t)n, sizeof(*names), cmp_str);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (!err)
			err = add_shard(ck, path);
		free(names[i]);
	}
	free(names);
	if (!err && !ck->nshards) {
		fprintf(stderr, "%s: %s holds no .safetensors file\n", prog, dir);
		err = -ENOENT;
	}
	return err;
}

static int add_tensor(struct ck *ck, int shard, const char *name, json_t *desc, const char *data,
                      uint64_t data_len, const char *prog)
{
	const char *path = ck->shards[shard].path;
	json_t *dtype = json_object_get(desc, "dtype");
	json_t *offs = json_object_get(desc, "data_offsets");
	struct ck_tensor *v, *t;
	json_int_t b, e;

	if (!json_is_string(dtype) || !json_is_array(offs) || json_array_size(offs) != 2 ||
	    !json_is_integer(json_array_get(offs, 0)) || !json_is_integer(json_array_get(offs, 1))) {
		fprintf(stderr, "%s: %s: tensor %s lacks dtype or data_offsets\n", prog, path, name);
		return -EINVAL;
	}
	b = json_integer_value(json_array_get(offs, 0));
	e = json_integer_value(json_array_get(offs, 1));
	if (b < 0 || e < b || (uint64_t)e > data_len) {
		fprintf(stderr, "%s: %s: tensor %s data_offsets [%lld, %lld] outside the %llu data bytes\n",
		        prog, path, name, (long long)b, (long long)e, (unsigned long long)data_len);
		return -EINVAL;
	}
	v = realloc(ck->tensors, (size_t)(ck->ntensors + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	ck->tensors = v;
	t = &v[ck->ntensors];
	t->name = strdup(name);
	if (!t->name)
		return -ENOMEM;
	snprintf(t->dtype, sizeof(t->dtype), "%s", json_string_value(dtype));
	t->shard = shard;
	t->host = data + b;
	t->bytes = (uint64_t)(e - b);
	ck->total_bytes += t->bytes;
	if (t->bytes > ck->max_bytes)
		ck->max_bytes = t->bytes;
	ck->ntensors++;
	return 0;
}

static int map_shard(struct ck *ck, int k, const char *prog)
{
	struct ck_shard *s = &ck->shards[k];
	json_error_t jerr;
	json_t *hdr = NULL, *desc;
	const char *name;
	struct stat st;
	uint64_t hlen;
	int fd, err = 0;

	fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "%s: cannot open %s: %s\n", prog, s->path, strerror(errno));
		err = -errno;
		goto out;
	}
	if (st.st_size < 8) {
		fprintf(stderr, "%s: %s: %lld bytes, too short for a safetensors header\n", prog, s->path,
		        (long long)st.st_size);
		err = -EINVAL;
		goto out;
	}
	s->size = (size_t)st.st_size;
	s->map = mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (s->map == MAP_FAILED) {
		s->map = NULL;
		fprintf(stderr, "%s: cannot map %s: %s\n", prog, s->path, strerror(errno));
		err = -errno;
		goto out;
	}
	memcpy(&hlen, s->map, 8);
	if (hlen > CK_MAX_HEADER || hlen > s->size - 8) {
		fprintf(stderr, "%s: %s: header length %llu does not fit the %zu-byte file\n", prog, s->path,
		        (unsigned long long)hlen, s->size);
		err = -EINVAL;
		goto out;
	}
	hdr = json_loadb((const char *)s->map + 8, (size_t)hlen, 0, &jerr);
	if (!json_is_object(hdr)) {
		fprintf(stderr, "%s: %s: header is not a JSON object (%s at byte %d)\n", prog, s->path,
		        jerr.text, jerr.position + 8);
		err = -EINVAL;
		goto out;
	}
	json_object_foreach(hdr, name, desc)
	{
		if (!strcmp(name, "__metadata__"))
			continue;
		err = add_tensor(ck, k, name, desc, (const char *)s->map + 8 + hlen, s->size - 8 - hlen,
		                 prog);
		if (err)
			break;
	}
out:
	json_decref(hdr);
	if (fd >= 0)
		close(fd);
	return err;
}

int ck_open(struct ck *ck, const char *path, const char *prog)
{
	struct stat st;
	size_t len = strlen(path);
	int err, k;

	memset(ck, 0, sizeof(*ck));
	if (stat(path, &st)) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		err = shards_from_dir(ck, path, prog);
	else if (len > 5 && !strcmp(path + len - 5, ".json"))
		err = shards_from_index(ck, path, prog);
	else
		err = add_shard(ck, path);
	if (!err && ck->nshards > 1)
		qsort(ck->shards, (size_t)ck->nshards, sizeof(*ck->shards), cmp_shard);
	for (k = 0; k < ck->nshards && !err; k++)
		err = map_shard(ck, k, prog);
	if (err) {
		if (err == -ENOMEM)
			fprintf(stderr, "%s: out of memory reading %s\n", prog, path);
		ck_close(ck);
		return -1;
	}
	if (ck->ntensors > 1)
		qsort(ck->tensors, (size_t)ck->ntensors, sizeof(*ck->tensors), cmp_tensor);
	for (k = 0; k < ck->ntensors; k++) {
		ck->tensors[k].arena_off = ck->arena_bytes;
		ck->arena_bytes +=
		        (ck->tensors[k].bytes + CK_ARENA_ALIGN - 1) & ~(uint64_t)(CK_ARENA_ALIGN - 1);
	}
	if (!ck->arena_bytes)
		ck->arena_bytes = 1;
	return 0;
}

void ck_close(struct ck *ck)
{
	int i;

	for (i = 0; i < ck->ntensors; i++)
		free(ck->tensors[i].name);
	for (i = 0; i < ck->nshards; i++) {
		if (ck->shards[i].map)
			munmap(ck->shards[i].map, ck->shards[i].size);
		free(ck->shards[i].path);
	}
	free(ck->tensors);
	free(ck->shards);
	memset(ck, 0, sizeof(*ck));
}

int ck_find(const struct ck *ck, const char *name)
{
	int i;

	for (i = 0; i < ck->ntensors; i++)
		if (!strcmp(ck->tensors[i].name, name))
			return i;
	return -1;
}
