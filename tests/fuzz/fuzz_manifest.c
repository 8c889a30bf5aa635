// sources: shim/manifest.c shim/safetensors.c shim/dtype.c
/* fuzz_manifest.c — libFuzzer harness for the manifest reader and writer. Each input
 * is loaded as a manifest; whatever loads is written back and loaded again, and the
 * two descriptor sets must be equal (the writer emits what the reader accepts). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The input goes to in_dir (relative "file" entries resolve against it); the
 * rewritten manifest to out_dir, so that loading it changes nothing the first
 * load saw. */
static char in_dir[64], out_dir[64], in_path[128], out_path[128];

static void cleanup(void)
{
	unlink(in_path);
	unlink(out_path);
	rmdir(in_dir);
	rmdir(out_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm";

	(void)argc, (void)argv;
	snprintf(in_dir, sizeof(in_dir), "%s/ms-fuzz-mf-XXXXXX", base);
	snprintf(out_dir, sizeof(out_dir), "%s/ms-fuzz-mf-XXXXXX", base);
	if (!mkdtemp(in_dir) || !mkdtemp(out_dir))
		abort();
	snprintf(in_path, sizeof(in_path), "%s/in.json", in_dir);
	snprintf(out_path, sizeof(out_path), "%s/out.json", out_dir);
	atexit(cleanup);
	return 0;
}

static bool str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void expect_same(const struct ms_desc_set *a, const struct ms_desc_set *b)
{
	if (a->n != b->n || !str_same(a->metadata_json, b->metadata_json))
		abort();
	/* A relative source is made absolute on writing. */
	if (a->source && a->source[0] == '/' && !str_same(a->source, b->source))
		abort();
	for (size_t i = 0; i < a->n; i++) {
		const struct ms_tensor_desc *x = &a->v[i], *y = &b->v[i];

		if (!str_same(x->name, y->name) || !str_same(x->layer, y->layer) ||
		    strcmp(x->dtype, y->dtype) || x->ebits != y->ebits || x->ndim != y->ndim ||
		    x->elems != y->elems || !str_same(x->file, y->file) || x->file_dev != y->file_dev ||
		    x->file_ino != y->file_ino || x->foff != y->foff || x->flen != y->flen ||
		    x->dev_ptr != y->dev_ptr ||
		    memcmp(x->shape, y->shape, sizeof(x->shape[0]) * (size_t)x->ndim) ||
		    memcmp(x->stride, y->stride, sizeof(x->stride[0]) * (size_t)x->ndim))
			abort();
	}
}

static void put(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n))
		abort();
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_desc_set first = { 0 }, again = { 0 };
	char err[1024] = "";
	int rc, rc2, fd;

	put(in_path, data, size);
	rc = ms_manifest_load(in_path, &first, err, sizeof(err));
	if (rc < 0 && (!err[0] || first.n || first.v))
		abort(); /* every rejection says why, and leaves nothing behind */
	if (rc > 0)
		abort(); /* 0 or a negative errno */
	if (rc == 0) {
		char warn[sizeof(err)];

		memcpy(warn, err, sizeof(err));
		fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || ms_manifest_write(fd, &first))
			abort();
		close(fd);
		rc2 = ms_manifest_load(out_path, &again, err, sizeof(err));
		/* The same warning about missing files, if any (it names them by JSON path). */
		if (rc2 != rc || !err[0] != !warn[0])
			abort();
		expect_same(&first, &again);
		ms_desc_set_free(&again);
	}
	ms_desc_set_free(&first);
	return 0;
}
