/* checkpoint.c — what the end-to-end tests expect a loader to move: the tensors of
 * a safetensors checkpoint directory, their bytes and element counts, read here
 * independently of the example loaders (which are what is being tested). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"

static int esize_of(const char *dtype)
{
	static const struct {
		const char *name;
		int size;
	} sizes[] = {
		{ "BOOL", 1 }, { "U8", 1 },  { "I8", 1 },  { "F8_E4M3", 1 }, { "F8_E5M2", 1 },
		{ "I16", 2 },  { "U16", 2 }, { "F16", 2 }, { "BF16", 2 },    { "I32", 4 },
		{ "U32", 4 },  { "F32", 4 }, { "F64", 8 }, { "I64", 8 },     { "U64", 8 },
	};
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (!strcmp(sizes[i].name, dtype))
			return sizes[i].size;
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_data(const void *a, const void *b)
{
	const struct e2e_ck_tensor *x = a, *y = b;

	return x->data < y->data ? -1 : x->data > y->data;
}

static int load_shard(struct e2e_ck *ck, const char *path)
{
	size_t len, first = (size_t)ck->n;
	unsigned char *buf = (unsigned char *)e2e_slurp(path, &len);
	json_t *hdr, *desc;
	const char *name;
	uint64_t hlen;
	void *v;

	if (!buf || len < 8)
		return -1;
	memcpy(&hlen, buf, 8);
	if (hlen > len - 8)
		return -1;
	hdr = json_loadb((const char *)buf + 8, (size_t)hlen, 0, NULL);
	if (!json_is_object(hdr))
		return -1;
	v = realloc(ck->bufs, (size_t)(ck->nbufs + 1) * sizeof(*ck->bufs));
	if (!v)
		abort();
	ck->bufs = v;
	ck->bufs[ck->nbufs++] = buf;
	json_object_foreach(hdr, name, desc)
	{
		json_t *offs = json_object_get(desc, "data_offsets"), *dim;
		struct e2e_ck_tensor *t;
		uint64_t elems = 1;
		size_t i;

		if (!strcmp(name, "__metadata__"))
			continue;
		v = realloc(ck->t, (size_t)(ck->n + 1) * sizeof(*ck->t));
		if (!v)
			abort();
		ck->t = v;
		t = &ck->t[ck->n++];
		json_array_foreach(json_object_get(desc, "shape"), i, dim) elems *=
		        (uint64_t)json_integer_value(dim);
		t->name = strdup(name);
		t->elems = elems;
		t->bytes = (uint64_t)(json_integer_value(json_array_get(offs, 1)) -
		                      json_integer_value(json_array_get(offs, 0)));
		t->data = buf + 8 + hlen + json_integer_value(json_array_get(offs, 0));
		if (t->bytes != elems * (uint64_t)esize_of(json_string_value(json_object_get(desc, "dtype"))))
			fprintf(stderr, "e2e: %s: %s: bytes do not match shape and dtype\n", path, name);
		ck->total_bytes += t->bytes;
	}
	json_decref(hdr);
	/* within a shard, the order of the data */
	qsort(ck->t + first, (size_t)ck->n - first, sizeof(*ck->t), cmp_data);
	return 0;
}

int e2e_ck_load(const char *dir, struct e2e_ck *ck)
{
	char **names = NULL, path[8192];
	struct dirent *e;
	int n = 0, i, err = 0;
	DIR *d = opendir(dir);

	memset(ck, 0, sizeof(*ck));
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (len < 12 || strcmp(e->d_name + len - 12, ".safetensors"))
			continue;
		names = realloc(names, (size_t)(n + 1) * sizeof(*names));
		if (!names)
			abort();
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(*names), cmp_name);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (!err && load_shard(ck, path))
			err = -1;
		free(names[i]);
	}
	free(names);
	return err || !n ? -1 : 0;
}

void e2e_ck_free(struct e2e_ck *ck)
{
	int i;

	for (i = 0; i < ck->n; i++)
		free(ck->t[i].name);
	for (i = 0; i < ck->nbufs; i++)
		free(ck->bufs[i]);
	free(ck->t);
	free(ck->bufs);
	memset(ck, 0, sizeof(*ck));
}

const struct e2e_ck_tensor *e2e_ck_find(const struct e2e_ck *ck, const char *name)
{
	int i;

	for (i = 0; i < ck->n; i++)
		if (!strcmp(ck->t[i].name, name))
			return &ck->t[i];
	return NULL;
}

int e2e_ck_compare_dump(const struct e2e_ck *ck, const char *path, const char *skip, char *why, size_t cap)
{
	size_t len, off = 0;
	unsigned char *buf = (unsigned char *)e2e_slurp(path, &len);
	int i;

	if (!buf) {
		snprintf(why, cap, "cannot read %s", path);
		return -1;
	}
	for (i = 0; i < ck->n; i++) {
		const struct e2e_ck_tensor *t = &ck->t[i];

		if (skip && !strcmp(skip, t->name))
			continue;
		if (off + t->bytes > len || memcmp(buf + off, t->data, t->bytes)) {
			snprintf(why, cap,
			         "%s: tensor %s (bytes %zu..%zu of %zu) differs from the checkpoint", path,
			         t->name, off, off + (size_t)t->bytes, len);
			free(buf);
			return -1;
		}
		off += t->bytes;
	}
	free(buf);
	if (off != len) {
		snprintf(why, cap, "%s: %zu bytes, the checkpoint has %zu", path, len, off);
		return -1;
	}
	return 0;
}

void e2e_ck_fixture(char **dir, char **ckpt, struct e2e_ck *ck)
{
	*dir = e2e_tmpdir();
	*ckpt = e2e_make_checkpoint(*dir, NULL);
	cr_assert(*ckpt, "gen_checkpoint failed");
	cr_assert_eq(e2e_ck_load(*ckpt, ck), 0, "cannot read the checkpoint %s", *ckpt);
}

void e2e_ck_fixture_free(char *dir, char *ckpt, struct e2e_ck *ck)
{
	e2e_ck_free(ck);
	free(ckpt);
	e2e_cleanup(dir);
}
