/* replay.c — the log of writes into deferred, not yet materialized device memory
 * (layerwise mode): copies whose bytes are staged in host memory or referenced in
 * the shim's own read-only mapping of a checkpoint file, and memsets. Entries keep
 * program order; materialization replays each entry's overlap with the granules
 * that just got real memory, and a read of deferred memory overlays them on zeros.
 *
 * Knows nothing about CUDA: the device side is a pair of callbacks, so the unit
 * tests run it on host memory. Not thread-safe: vmm.c holds its lock around every
 * call. Allocates (staging); never on the trace-mode path. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry.h"

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static int grow(struct ms_rlog *l)
{
	size_t cap = l->cap ? l->cap * 2 : 64;
	struct ms_rlog_entry *v;

	if (l->n < l->cap)
		return 0;
	v = realloc(l->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	l->cap = cap;
	return 0;
}

int ms_rlog_add_copy(struct ms_rlog *l, uint64_t dst, const void *src, uint64_t len, bool stage, uint64_t seq)
{
	struct ms_rlog_entry *e;
	void *buf = NULL;

	if (!len)
		return 0;
	if (grow(l))
		return -ENOMEM;
	if (stage) {
		buf = malloc(len);
		if (!buf)
			return -ENOMEM;
		memcpy(buf, src, len);
		l->staged += len;
		if (l->staged > l->staged_peak)
			l->staged_peak = l->staged;
	}
	e = &l->v[l->n++];
	*e = (struct ms_rlog_entry){ .dst = dst,
		                     .len = len,
		                     .seq = seq,
		                     .kind = stage ? MS_RLOG_STAGED : MS_RLOG_REF,
		                     .src = stage ? buf : src };
	return 0;
}

int ms_rlog_add_fill(struct ms_rlog *l, uint64_t dst, uint64_t len, uint32_t value, unsigned esize,
                     uint64_t seq)
{
	if (!len)
		return 0;
	if (esize != 1 && esize != 2 && esize != 4)
		return -EINVAL;
	if (grow(l))
		return -ENOMEM;
	l->v[l->n++] = (struct ms_rlog_entry){ .dst = dst,
		                               .len = len,
		                               .seq = seq,
		                               .kind = MS_RLOG_FILL,
		                               .esize = (uint8_t)esize,
		                               .value = value };
	return 0;
}

/* Byte k of a fill's pattern, k counted from the fill's first byte (little-endian
 * elements, as the device stores them). */
static unsigned char fill_byte(const struct ms_rlog_entry *e, uint64_t k)
{
	return (unsigned char)(e->value >> (8 * (k % e->esize)));
}

void ms_rlog_fill_pattern(const struct ms_rlog_entry *e, uint64_t at, void *out, uint64_t len)
{
	unsigned char *p = out;

	for (uint64_t i = 0; i < len; i++)
		p[i] = fill_byte(e, at - e->dst + i);
}

/* The part of e inside [lo, hi): false when none. */
static bool overlap(const struct ms_rlog_entry *e, uint64_t lo, uint64_t hi, uint64_t *a, uint64_t *b)
{
	*a = max_u64(e->dst, lo);
	*b = min_u64(e->dst + e->len, hi);
	return *a < *b;
}

int ms_rlog_replay(struct ms_rlog *l, const struct ms_rlog_span *spans, size_t nspans,
                   const struct ms_rlog_dev *dev, uint64_t *replayed)
{
	uint64_t count = 0;
	int err = 0;

	for (size_t i = 0; i < l->n && !err; i++) {
		const struct ms_rlog_entry *e = &l->v[i];
		bool hit = false;

		for (size_t s = 0; s < nspans && !err; s++) {
			uint64_t a, b;

			if (!overlap(e, spans[s].lo, spans[s].hi, &a, &b))
				continue;
			hit = true;
			if (e->kind == MS_RLOG_FILL)
				err = dev->fill(dev->ctx, e, a, b - a);
			else
				err = dev->write(dev->ctx, a, (const unsigned char *)e->src + (a - e->dst),
				                 b - a);
		}
		count += hit;
	}
	if (replayed)
		*replayed = count;
	return err;
}

void ms_rlog_read(const struct ms_rlog *l, uint64_t lo, uint64_t hi, void *out)
{
	unsigned char *o = out;

	for (size_t i = 0; i < l->n; i++) {
		const struct ms_rlog_entry *e = &l->v[i];
		uint64_t a, b;

		if (!overlap(e, lo, hi, &a, &b))
			continue;
		if (e->kind == MS_RLOG_FILL)
			ms_rlog_fill_pattern(e, a, o + (a - lo), b - a);
		else
			memcpy(o + (a - lo), (const unsigned char *)e->src + (a - e->dst), b - a);
	}
}

bool ms_rlog_touches(const struct ms_rlog *l, uint64_t lo, uint64_t hi)
{
	uint64_t a, b;

	for (size_t i = 0; i < l->n; i++)
		if (overlap(&l->v[i], lo, hi, &a, &b))
			return true;
	return false;
}

size_t ms_rlog_drop(struct ms_rlog *l, bool (*done)(void *ctx, uint64_t lo, uint64_t hi), void *ctx)
{
	size_t k = 0, dropped = 0;

	for (size_t i = 0; i < l->n; i++) {
		struct ms_rlog_entry *e = &l->v[i];

		if (done(ctx, e->dst, e->dst + e->len)) {
			if (e->kind == MS_RLOG_STAGED) {
				l->staged -= e->len;
				free((void *)e->src);
			}
			dropped++;
			continue;
		}
		l->v[k++] = *e;
	}
	l->n = k;
	return dropped;
}

void ms_rlog_free(struct ms_rlog *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].kind == MS_RLOG_STAGED)
			free((void *)l->v[i].src);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* ------------------------------------------------------- checkpoint file refs */
/* A recorded copy out of a checkpoint file's mapping keeps a pointer into the
 * shim's own read-only mapping of the same file, opened by the path the registry
 * holds (checked by device and inode): the program may munmap its mapping before
 * the layer completes, ours stays. Files are mapped whole, once, never unmapped. */
#define FILES_MAX 256

struct fmap {
	uint64_t dev, ino;
	const unsigned char *base;
	uint64_t size;
};
static struct fmap files[FILES_MAX];
static size_t nfiles;

static const struct fmap *map_file(const char *path, uint64_t dev, uint64_t ino)
{
	struct stat st;
	void *p;
	int fd;

	for (size_t i = 0; i < nfiles; i++)
		if (files[i].dev == dev && files[i].ino == ino)
			return files[i].base ? &files[i] : NULL;
	if (nfiles == FILES_MAX)
		return NULL;
	files[nfiles] = (struct fmap){ .dev = dev, .ino = ino };
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || (uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino || !st.st_size) {
		close(fd);
		nfiles++; /* remembered as unusable */
		return NULL;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		nfiles++;
		return NULL;
	}
	files[nfiles].base = p;
	files[nfiles].size = (uint64_t)st.st_size;
	return &files[nfiles++];
}

const void *ms_rlog_file_ref(uint64_t src, uint64_t len)
{
	struct ms_fileref fr;
	struct ms_hit h;
	const struct fmap *f;

	if (ms_hostmap_lookup(src, &fr) || fr.avail < len)
		return NULL;
	if (!ms_registry_find_file(fr.dev, fr.ino, fr.offset, &h) || !h.t->file)
		return NULL;
	f = map_file(h.t->file, fr.dev, fr.ino);
	if (!f || fr.offset > f->size || len > f->size - fr.offset)
		return NULL;
	return f->base + fr.offset;
}
