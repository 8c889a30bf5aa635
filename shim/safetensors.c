/* safetensors.c — reads safetensors checkpoints (one file, a sharded checkpoint's
 * index, or a directory) into tensor descriptors, without reading tensor data. Every
 * header field is validated; a rejection names the file, the byte offset or JSON
 * path, and what was expected. Also the descriptor-set helpers manifest.c shares.
 *
 * Format (huggingface/safetensors): 8-byte little-endian header length N, N bytes of
 * UTF-8 JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 * "__metadata__": {string: string}}, then the data section; offsets are relative to
 * it. Unlike safetensors itself we accept gaps between tensors and trailing bytes
 * after the last one (padding), but never overlaps. Unknown keys inside a tensor's
 * entry are ignored, as safetensors does. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "internal.h"

/* Sharded checkpoints name their index this way; the preferred one in a directory. */
#define INDEX_NAME   "model.safetensors.index.json"
#define INDEX_SUFFIX ".safetensors.index.json"
/* An index lists every tensor once; 1 GiB is far beyond any real one. */
#define INDEX_MAX_BYTES (1ull << 30)

/* ------------------------------------------------------------ descriptor sets */

struct ms_tensor_desc *ms_desc_set_add(struct ms_desc_set *set)
{
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		struct ms_tensor_desc *v = realloc(set->v, cap * sizeof(*v));

		if (!v) {
			errno = ENOMEM;
			return NULL;
		}
		set->v = v;
		set->cap = cap;
	}
	memset(&set->v[set->n], 0, sizeof(set->v[0]));
	return &set->v[set->n++];
}

void ms_desc_set_free(struct ms_desc_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++) {
		free(set->v[i].name);
		free(set->v[i].layer);
		free(set->v[i].file);
	}
	free(set->v);
	free(set->metadata_json);
	free(set->source);
	memset(set, 0, sizeof(*set));
}

int ms_desc_contiguous_stride(struct ms_tensor_desc *d)
{
	int64_t s = 1;

	for (int i = d->ndim - 1; i >= 0; i--) {
		d->stride[i] = s;
		/* A zero dimension makes elems 0 but strides above it still multiply. */
		if (i > 0 && __builtin_mul_overflow(s, d->shape[i], &s))
			return -EOVERFLOW;
	}
	return 0;
}

const char *ms_desc_quote(const char *s, char *buf, size_t cap)
{
	size_t o = 0;

	if (cap < 8) {
		if (cap)
			buf[0] = 0;
		return buf;
	}
	buf[o++] = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char tmp[8];
		int n;

		if (c == '"' || c == '\\')
			n = snprintf(tmp, sizeof(tmp), "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			n = snprintf(tmp, sizeof(tmp), "\\u%04x", c);
		else
			n = snprintf(tmp, sizeof(tmp), "%c", c);
		/* Keep room for `..."` and the terminator. */
		if (o + (size_t)n + 5 > cap) {
			/* Never end inside a UTF-8 sequence. */
			while (o > 1 && ((unsigned char)buf[o - 1] & 0xc0) == 0x80)
				o--;
			if (o > 1 && ((unsigned char)buf[o - 1] & 0xc0) == 0xc0)
				o--;
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, tmp, (size_t)n);
		o += (size_t)n;
	}
	buf[o++] = '"';
	buf[o] = 0;
	return buf;
}

const char *ms_desc_json_what(const json_t *v, char *buf, size_t cap)
{
	if (!v)
		return "nothing";
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return ms_desc_quote(json_string_value(v), buf, cap);
	case JSON_INTEGER: snprintf(buf, cap, "%lld", (long long)json_integer_value(v)); return buf;
	case JSON_REAL: snprintf(buf, cap, "%g", json_real_value(v)); return buf;
	case JSON_TRUE: return "true";
	case JSON_FALSE: return "false";
	case JSON_NULL: return "null";
	}
	return "?";
}

/* --------------------------------------------------------------------- errors */

struct st_ctx {
	char *err;
	size_t cap;
	json_t *meta; /* {"<file>": __metadata__} gathered for out->metadata_json */
	json_t *seen; /* tensor name -> file path, across every file read */
};

__attribute__((format(printf, 3, 4))) static int st_fail(struct st_ctx *c, int rc, const char *fmt, ...)
{
	va_list ap;

	if (c->err && c->cap) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->cap, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* ---------------------------------------------------------------- file reading */

static int st_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO; /* the file shrank under us */
		done += (size_t)r;
	}
	return 0;
}

/* "dir" + "/" + "name", without doubling a slash; dir "" gives name. */
static char *st_join(const char *dir, const char *name)
{
	size_t dl = strlen(dir);
	char *p;

	if (!dl)
		return strdup(name);
	if (asprintf(&p, "%s%s%s", dir, dir[dl - 1] == '/' ? "" : "/", name) < 0)
		return NULL;
	return p;
}

static const char *st_basename(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static bool st_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* ------------------------------------------------------------- one tensor entry */

/* A non-negative JSON integer, or false. */
static bool st_uint(const json_t *v, uint64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

static int st_parse_dtype(struct st_ctx *c, const char *file, const char *qn, json_t *info,
                          struct ms_tensor_desc *d)
{
	json_t *v = json_object_get(info, "dtype");
	char what[160];

	if (!json_is_string(v))
		return st_fail(c, -EINVAL, "%s: tensors[%s].dtype: expected a dtype name string, got %s",
		               file, qn, ms_desc_json_what(v, what, sizeof(what)));
	if (!ms_dtype_is_safetensors(json_string_value(v)))
		return st_fail(c, -EINVAL, "%s: tensors[%s].dtype: unknown dtype %s (expected one of %s)",
		               file, qn, ms_desc_json_what(v, what, sizeof(what)), ms_dtype_names());
	snprintf(d->dtype, sizeof(d->dtype), "%s", json_string_value(v));
	d->ebits = ms_dtype_bits(d->dtype);
	return 0;
}

static int st_parse_shape(struct st_ctx *c, const char *file, const char *qn, json_t *info,
                          struct ms_tensor_desc *d)
{
	json_t *v = json_object_get(info, "shape");
	char what[160];
	uint64_t elems = 1;

	if (!json_is_array(v) || json_array_size(v) > MS_MAX_DIMS)
		return st_fail(c, -EINVAL,
		               "%s: tensors[%s].shape: expected an array of at most %d non-negative "
		               "integers, got %s%s",
		               file, qn, MS_MAX_DIMS, ms_desc_json_what(v, what, sizeof(what)),
		               json_is_array(v) ? " that long" : "");
	d->ndim = (int)json_array_size(v);
	for (int i = 0; i < d->ndim; i++) {
		json_t *e = json_array_get(v, (size_t)i);
		uint64_t dim;

		if (!st_uint(e, &dim))
			return st_fail(c, -EINVAL,
			               "%s: tensors[%s].shape[%d]: expected a non-negative integer, got %s",
			               file, qn, i, ms_desc_json_what(e, what, sizeof(what)));
		d->shape[i] = (int64_t)dim;
		if (__builtin_mul_overflow(elems, dim, &elems))
			return st_fail(c, -EOVERFLOW,
			               "%s: tensors[%s].shape: element count overflows 64 bits at [%d]", file,
			               qn, i);
	}
	d->elems = elems;
	if (ms_desc_contiguous_stride(d))
		return st_fail(c, -EOVERFLOW, "%s: tensors[%s].shape: a contiguous stride overflows 64 bits",
		               file, qn);
	return 0;
}

/* Fill d from one header entry. data_start/data_len: the data section in the file. */
static int st_parse_tensor(struct st_ctx *c, const char *file, const char *name, json_t *info,
                           uint64_t data_start, uint64_t data_len, struct ms_tensor_desc *d)
{
	char qn[160], what[160];
	json_t *off;
	uint64_t bits, begin, end;
	int rc;

	ms_desc_quote(name, qn, sizeof(qn));
	if (!json_is_object(info))
		return st_fail(c, -EINVAL,
		               "%s: tensors[%s]: expected an object with dtype, shape, data_offsets, got %s",
		               file, qn, ms_desc_json_what(info, what, sizeof(what)));
	if ((rc = st_parse_dtype(c, file, qn, info, d)) || (rc = st_parse_shape(c, file, qn, info, d)))
		return rc;
	if (__builtin_mul_overflow(d->elems, (uint64_t)d->ebits, &bits))
		return st_fail(c, -EOVERFLOW,
		               "%s: tensors[%s].shape: %llu elements of %s overflow 64 bits of size", file,
		               qn, (unsigned long long)d->elems, d->dtype);
	if (bits % 8)
		return st_fail(c, -EINVAL,
		               "%s: tensors[%s]: %llu elements of %s are %llu bits, not whole bytes", file,
		               qn, (unsigned long long)d->elems, d->dtype, (unsigned long long)bits);

	off = json_object_get(info, "data_offsets");
	if (!json_is_array(off) || json_array_size(off) != 2 || !st_uint(json_array_get(off, 0), &begin) ||
	    !st_uint(json_array_get(off, 1), &end))
		return st_fail(c, -EINVAL,
		               "%s: tensors[%s].data_offsets: expected [begin, end], two non-negative "
		               "integers, got %s",
		               file, qn,
		               json_is_array(off) ? "another array"
		                                  : ms_desc_json_what(off, what, sizeof(what)));
	if (begin > end)
		return st_fail(c, -EINVAL, "%s: tensors[%s].data_offsets: begin %llu is after end %llu", file,
		               qn, (unsigned long long)begin, (unsigned long long)end);
	if (end - begin != bits / 8)
		return st_fail(c, -EINVAL,
		               "%s: tensors[%s].data_offsets: [%llu, %llu) is %llu bytes, but %llu elements "
		               "of %s take %llu",
		               file, qn, (unsigned long long)begin, (unsigned long long)end,
		               (unsigned long long)(end - begin), (unsigned long long)d->elems, d->dtype,
		               (unsigned long long)(bits / 8));
	if (end > data_len)
		return st_fail(
		        c, -EINVAL,
		        "%s: tensors[%s].data_offsets[1]: end %llu lies beyond the data section (%llu bytes, "
		        "file bytes %llu to %llu)",
		        file, qn, (unsigned long long)end, (unsigned long long)data_len,
		        (unsigned long long)data_start, (unsigned long long)data_start + data_len);
	d->foff = data_start + begin;
	d->flen = end - begin;
	return 0;
}

/* ------------------------------------------------------------------ one file */

static int st_cmp_foff(const void *a, const void *b)
{
	const struct ms_tensor_desc *x = a, *y = b;

	if (x->foff != y->foff)
		return x->foff < y->foff ? -1 : 1;
	if (x->flen != y->flen)
		return x->flen < y->flen ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Sort a file's tensors by offset and reject any two whose bytes overlap. */
static int st_check_overlap(struct st_ctx *c, const char *file, struct ms_tensor_desc *v, size_t n,
                            uint64_t data_start)
{
	const struct ms_tensor_desc *far = NULL; /* the range reaching furthest so far */

	if (n > 1)
		qsort(v, n, sizeof(*v), st_cmp_foff);
	for (size_t i = 0; i < n; i++) {
		char qa[160], qb[160];

		if (!v[i].flen)
			continue; /* an empty tensor overlaps nothing */
		if (far && v[i].foff < far->foff + far->flen)
			return st_fail(c, -EINVAL,
			               "%s: tensors[%s].data_offsets: [%llu, %llu) overlaps tensors[%s] "
			               "[%llu, %llu)",
			               file, ms_desc_quote(v[i].name, qa, sizeof(qa)),
			               (unsigned long long)(v[i].foff - data_start),
			               (unsigned long long)(v[i].foff - data_start + v[i].flen),
			               ms_desc_quote(far->name, qb, sizeof(qb)),
			               (unsigned long long)(far->foff - data_start),
			               (unsigned long long)(far->foff - data_start + far->flen));
		if (!far || v[i].foff + v[i].flen > far->foff + far->flen)
			far = &v[i];
	}
	return 0;
}

/* Keep a file's metadata under its name, made valid UTF-8 ('?' for other bytes) since
 * a Linux file name need not be, and JSON text must. */
static int st_meta_set(struct st_ctx *c, const char *file, const char *rel, json_t *meta)
{
	json_t *probe = json_string(rel);
	char *key = strdup(rel);
	int rc = 0;

	if (!key)
		return st_fail(c, -ENOMEM, "%s: out of memory", file);
	if (!probe)
		for (char *p = key; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
	if (json_object_set(c->meta, key, meta))
		rc = st_fail(c, -ENOMEM, "%s: out of memory", file);
	json_decref(probe);
	free(key);
	return rc;
}

static int st_keep_metadata(struct st_ctx *c, const char *file, const char *rel, json_t *meta)
{
	const char *k;
	json_t *v;
	char what[160], qk[160];

	if (!json_is_object(meta))
		return st_fail(c, -EINVAL, "%s: __metadata__: expected an object of string values, got %s",
		               file, ms_desc_json_what(meta, what, sizeof(what)));
	json_object_foreach(meta, k, v)
	{
		if (!json_is_string(v))
			return st_fail(c, -EINVAL, "%s: __metadata__[%s]: expected a string, got %s", file,
			               ms_desc_quote(k, qk, sizeof(qk)),
			               ms_desc_json_what(v, what, sizeof(what)));
	}
	return st_meta_set(c, file, rel, meta);
}

/* The header's JSON text: bounds first, then read with pread (checkpoints are huge;
 * never map or read the data). */
static int st_read_header(struct st_ctx *c, const char *file, int fd, uint64_t fsize, char **text,
                          uint64_t *len)
{
	unsigned char le[8];
	uint64_t n = 0;
	int rc;

	if (fsize < 8)
		return st_fail(
		        c, -EINVAL,
		        "%s: byte 0: file is %llu bytes, shorter than the 8-byte header length that starts "
		        "a safetensors file",
		        file, (unsigned long long)fsize);
	if ((rc = st_pread_all(fd, le, 8, 0)))
		return st_fail(c, rc, "%s: byte 0: cannot read: %s", file, strerror(-rc));
	for (int i = 7; i >= 0; i--)
		n = n << 8 | le[i];
	if (n > MS_SAFETENSORS_MAX_HEADER)
		return st_fail(c, -EINVAL, "%s: byte 0: header length %llu exceeds the %llu-byte limit", file,
		               (unsigned long long)n, MS_SAFETENSORS_MAX_HEADER);
	if (n > fsize - 8)
		return st_fail(c, -EINVAL,
		               "%s: byte 0: header length %llu runs past the end of the file (%llu bytes, so "
		               "at most "
		               "%llu)",
		               file, (unsigned long long)n, (unsigned long long)fsize,
		               (unsigned long long)(fsize - 8));
	*text = malloc(n ? n : 1);
	if (!*text)
		return st_fail(c, -ENOMEM, "%s: out of memory for a %llu-byte header", file,
		               (unsigned long long)n);
	if ((rc = st_pread_all(fd, *text, n, 8))) {
		free(*text);
		*text = NULL;
		return st_fail(c, rc, "%s: byte 8: cannot read the header: %s", file, strerror(-rc));
	}
	*len = n;
	return 0;
}

static int st_parse_header(struct st_ctx *c, const char *file, const char *rel, json_t *root, uint64_t hlen,
                           uint64_t fsize, struct ms_desc_set *set, const struct stat *st)
{
	uint64_t data_start = 8 + hlen, data_len = fsize - data_start;
	size_t first = set->n;
	const char *name;
	json_t *info;
	char what[160], qn[160];
	int rc;

	if (!json_is_object(root))
		return st_fail(c, -EINVAL, "%s: byte 8: header: expected a JSON object, got %s", file,
		               ms_desc_json_what(root, what, sizeof(what)));
	json_object_foreach(root, name, info)
	{
		struct ms_tensor_desc *d;
		json_t *prev;

		if (!strcmp(name, "__metadata__")) {
			if ((rc = st_keep_metadata(c, file, rel, info)))
				return rc;
			continue;
		}
		prev = json_object_get(c->seen, name);
		if (prev)
			return st_fail(c, -EINVAL, "%s: tensors[%s]: already defined in %s", file,
			               ms_desc_quote(name, qn, sizeof(qn)), json_string_value(prev));
		d = ms_desc_set_add(set);
		if (!d || !(d->name = strdup(name)) || !(d->file = strdup(file)) ||
		    json_object_set_new(c->seen, name, json_string_nocheck(file)))
			return st_fail(c, -ENOMEM, "%s: out of memory", file);
		d->file_dev = (uint64_t)st->st_dev;
		d->file_ino = (uint64_t)st->st_ino;
		if ((rc = st_parse_tensor(c, file, name, info, data_start, data_len, d)))
			return rc;
	}
	if (set->n == first)
		return 0; /* no tensors (and maybe no array yet) */
	return st_check_overlap(c, file, set->v + first, set->n - first, data_start);
}

/* Append the tensors of one .safetensors file. file: the path to open, used in
 * messages and descriptors; rel: its name relative to the checkpoint (metadata key). */
static int st_load_file(struct st_ctx *c, const char *file, const char *rel, struct ms_desc_set *set)
{
	struct stat st;
	json_error_t jerr;
	json_t *root;
	char *text = NULL;
	uint64_t hlen = 0;
	int fd, rc;

	/* O_NONBLOCK: a FIFO named as a checkpoint must not hang the program's start. */
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return st_fail(c, -errno, "%s: cannot open: %s", file, strerror(errno));
	if (fstat(fd, &st)) {
		rc = st_fail(c, -errno, "%s: cannot stat: %s", file, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = st_fail(c, -EINVAL, "%s: not a regular file", file);
		goto out_close;
	}
	if ((rc = st_read_header(c, file, fd, (uint64_t)st.st_size, &text, &hlen)))
		goto out_close;
	/* jansson checks UTF-8 too; its position counts bytes into the header. */
	root = json_loadb(text, hlen, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		rc = st_fail(c, -EINVAL, "%s: byte %llu (header line %d, column %d): invalid header JSON: %s",
		             file, 8 + (unsigned long long)(jerr.position > 0 ? jerr.position : 0), jerr.line,
		             jerr.column, jerr.text);
		goto out_free;
	}
	rc = st_parse_header(c, file, rel, root, hlen, (uint64_t)st.st_size, set, &st);
	json_decref(root);
out_free:
	free(text);
out_close:
	close(fd);
	return rc;
}

/* --------------------------------------------------------------- sharded index */

static int st_read_small(struct st_ctx *c, const char *file, char **text, size_t *len)
{
	struct stat st;
	int fd, rc = 0;

	fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return st_fail(c, -errno, "%s: cannot open: %s", file, strerror(errno));
	if (fstat(fd, &st)) {
		rc = st_fail(c, -errno, "%s: cannot stat: %s", file, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > INDEX_MAX_BYTES) {
		rc = st_fail(c, -EINVAL, "%s: expected a regular file of at most %llu bytes", file,
		             INDEX_MAX_BYTES);
		goto out_close;
	}
	*len = (size_t)st.st_size;
	*text = malloc(*len ? *len : 1);
	if (!*text) {
		rc = st_fail(c, -ENOMEM, "%s: out of memory", file);
		goto out_close;
	}
	if ((rc = st_pread_all(fd, *text, *len, 0))) {
		free(*text);
		*text = NULL;
		rc = st_fail(c, rc, "%s: cannot read: %s", file, strerror(-rc));
	}
out_close:
	close(fd);
	return rc;
}

/* A shard name must stay inside the index's directory. */
static bool st_shard_name_ok(const char *s)
{
	const char *p = s;

	if (!*s || *s == '/')
		return false;
	while (p) {
		if (!strncmp(p, "..", 2) && (p[2] == '/' || !p[2]))
			return false;
		p = strchr(p, '/');
		if (p)
			p++;
	}
	return true;
}

static int st_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* After loading shard `shard` (path `file`) into set->v[first..): every tensor in it
 * is mapped to it, and every tensor mapped to it (`mapped` of them) is in it. */
static int st_check_shard(struct st_ctx *c, const char *index, json_t *wmap, const char *shard,
                          const char *file, const struct ms_desc_set *set, size_t first, size_t mapped)
{
	const char *name;
	json_t *v;
	char qn[160], qs[160];

	for (size_t i = first; i < set->n; i++) {
		v = json_object_get(wmap, set->v[i].name);
		if (!v)
			return st_fail(c, -EINVAL,
			               "%s: weight_map[%s]: missing, but shard %s holds that tensor", index,
			               ms_desc_quote(set->v[i].name, qn, sizeof(qn)), file);
		if (strcmp(json_string_value(v), shard))
			return st_fail(c, -EINVAL,
			               "%s: weight_map[%s]: names shard %s, but the tensor is in %s", index,
			               ms_desc_quote(set->v[i].name, qn, sizeof(qn)),
			               ms_desc_quote(json_string_value(v), qs, sizeof(qs)), file);
	}
	if (set->n - first == mapped)
		return 0;
	/* Some tensor mapped here is not in the shard: find one to name (rare, so a scan). */
	json_object_foreach(wmap, name, v)
	{
		json_t *where;

		if (strcmp(json_string_value(v), shard))
			continue;
		where = json_object_get(c->seen, name);
		if (!where || strcmp(json_string_value(where), file))
			return st_fail(c, -EINVAL,
			               "%s: weight_map[%s]: names shard %s, which has no such tensor", index,
			               ms_desc_quote(name, qn, sizeof(qn)), file);
	}
	return 0;
}

/* Validate weight_map, list its distinct shards sorted (*shards points into wmap)
 * and count the tensors mapped to each (counts: shard -> integer). */
static int st_index_shards(struct st_ctx *c, const char *index, json_t *wmap, json_t *counts,
                           const char ***shards, size_t *nshards)
{
	const char *name;
	json_t *v;
	char qn[160], what[160];
	size_t n = 0;

	*shards = malloc((json_object_size(wmap) + 1) * sizeof(**shards));
	if (!*shards)
		return st_fail(c, -ENOMEM, "%s: out of memory", index);
	json_object_foreach(wmap, name, v)
	{
		json_t *count;

		if (!json_is_string(v) || !st_shard_name_ok(json_string_value(v)))
			return st_fail(
			        c, -EINVAL,
			        "%s: weight_map[%s]: expected a shard file name relative to the index's "
			        "directory, got %s",
			        index, ms_desc_quote(name, qn, sizeof(qn)),
			        ms_desc_json_what(v, what, sizeof(what)));
		count = json_object_get(counts, json_string_value(v));
		if (count) {
			json_integer_set(count, json_integer_value(count) + 1);
			continue;
		}
		if (json_object_set_new(counts, json_string_value(v), json_integer(1)))
			return st_fail(c, -ENOMEM, "%s: out of memory", index);
		(*shards)[n++] = json_string_value(v);
	}
	if (n > 1)
		qsort(*shards, n, sizeof(**shards), st_cmp_str);
	*nshards = n;
	return 0;
}

static int st_load_index_json(struct st_ctx *c, const char *index, json_t *root, struct ms_desc_set *set)
{
	json_t *wmap = json_object_get(root, "weight_map"), *meta = json_object_get(root, "metadata");
	json_t *counts = NULL;
	const char **shards = NULL;
	size_t nshards = 0, dirlen;
	const char *slash = strrchr(index, '/');
	char what[160], *dir;
	int rc = 0;

	if (!json_is_object(root))
		return st_fail(c, -EINVAL, "%s: expected a JSON object with weight_map, got %s", index,
		               ms_desc_json_what(root, what, sizeof(what)));
	if (!json_is_object(wmap))
		return st_fail(c, -EINVAL, "%s: weight_map: expected an object {tensor: shard file}, got %s",
		               index, ms_desc_json_what(wmap, what, sizeof(what)));
	if (meta && !json_is_object(meta))
		return st_fail(c, -EINVAL, "%s: metadata: expected an object, got %s", index,
		               ms_desc_json_what(meta, what, sizeof(what)));
	if (meta && (rc = st_meta_set(c, index, st_basename(index), meta)))
		return rc;
	if (!(counts = json_object()))
		return st_fail(c, -ENOMEM, "%s: out of memory", index);
	if ((rc = st_index_shards(c, index, wmap, counts, &shards, &nshards)))
		goto out;
	dirlen = slash ? (size_t)(slash - index) + 1 : 0;
	dir = strndup(index, dirlen);
	if (!dir) {
		rc = st_fail(c, -ENOMEM, "%s: out of memory", index);
		goto out;
	}
	for (size_t i = 0; i < nshards && !rc; i++) {
		char *file = st_join(dir, shards[i]);
		size_t first = set->n;
		struct stat st;
		char qs[160];

		if (!file) {
			rc = st_fail(c, -ENOMEM, "%s: out of memory", index);
			break;
		}
		if (stat(file, &st))
			rc = st_fail(c, -errno, "%s: weight_map names shard %s, but %s cannot be read: %s",
			             index, ms_desc_quote(shards[i], qs, sizeof(qs)), file, strerror(errno));
		else if (!(rc = st_load_file(c, file, shards[i], set)))
			rc = st_check_shard(c, index, wmap, shards[i], file, set, first,
			                    (size_t)json_integer_value(json_object_get(counts, shards[i])));
		free(file);
	}
	free(dir);
out:
	free(shards);
	json_decref(counts);
	return rc;
}

static int st_load_index(struct st_ctx *c, const char *index, struct ms_desc_set *set)
{
	json_error_t jerr;
	json_t *root;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if ((rc = st_read_small(c, index, &text, &len)))
		return rc;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!root)
		return st_fail(c, -EINVAL, "%s: byte %d (line %d, column %d): invalid JSON: %s", index,
		               jerr.position, jerr.line, jerr.column, jerr.text);
	rc = st_load_index_json(c, index, root, set);
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------------ directory */

struct st_names {
	char **v;
	size_t n;
};

/* Leaves l empty, so a list st_list gave up on reads as no names. */
static void st_names_free(struct st_names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Names in dir ending in suffix (not hidden ones), sorted. */
static int st_list(struct st_ctx *c, const char *dir, const char *suffix, struct st_names *out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t cap = 0;

	memset(out, 0, sizeof(*out));
	if (!d)
		return st_fail(c, -errno, "%s: cannot open directory: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !st_ends_with(e->d_name, suffix))
			continue;
		if (out->n == cap) {
			char **v = realloc(out->v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

			if (!v)
				goto out_nomem;
			out->v = v;
		}
		if (!(out->v[out->n] = strdup(e->d_name)))
			goto out_nomem;
		out->n++;
	}
	closedir(d);
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), st_cmp_str);
	return 0;
out_nomem:
	closedir(d);
	st_names_free(out);
	return st_fail(c, -ENOMEM, "%s: out of memory", dir);
}

static int st_load_dir(struct st_ctx *c, const char *dir, struct ms_desc_set *set)
{
	struct st_names idx, files;
	const char *pick = NULL;
	char *path;
	int rc;

	if ((rc = st_list(c, dir, INDEX_SUFFIX, &idx)))
		return rc;
	for (size_t i = 0; i < idx.n; i++)
		if (!strcmp(idx.v[i], INDEX_NAME))
			pick = idx.v[i];
	if (!pick && idx.n == 1)
		pick = idx.v[0];
	if (!pick && idx.n > 1) {
		rc = st_fail(c, -EINVAL,
		             "%s: several index files (%s, %s%s) and no " INDEX_NAME ": name one of them",
		             dir, idx.v[0], idx.v[1], idx.n > 2 ? ", ..." : "");
		goto out_idx;
	}
	if (pick) {
		if (!(path = st_join(dir, pick)))
			rc = st_fail(c, -ENOMEM, "%s: out of memory", dir);
		else
			rc = st_load_index(c, path, set);
		free(path);
		goto out_idx;
	}
	if ((rc = st_list(c, dir, ".safetensors", &files)))
		goto out_idx;
	if (!files.n)
		rc = st_fail(c, -ENOENT, "%s: no " INDEX_NAME " and no *.safetensors file in this directory",
		             dir);
	for (size_t i = 0; i < files.n && !rc; i++) {
		if (!(path = st_join(dir, files.v[i])))
			rc = st_fail(c, -ENOMEM, "%s: out of memory", dir);
		else
			rc = st_load_file(c, path, files.v[i], set);
		free(path);
	}
	st_names_free(&files);
out_idx:
	st_names_free(&idx);
	return rc;
}

/* ---------------------------------------------------------------- entry point */

int ms_safetensors_load(const char *path, struct ms_desc_set *out, char *err, size_t errcap)
{
	struct st_ctx c = { .err = err, .cap = errcap };
	struct stat st;
	int rc;

	if (err && errcap)
		err[0] = 0;
	if (!path || !out || out->n || out->v || out->cap)
		return st_fail(&c, -EINVAL, "%s: safetensors: no path or a non-empty descriptor set given",
		               path ? path : "(null)");
	c.meta = json_object();
	c.seen = json_object();
	if (!c.meta || !c.seen) {
		rc = st_fail(&c, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	if (stat(path, &st)) {
		rc = st_fail(&c, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode))
		rc = st_load_dir(&c, path, out);
	else if (st_ends_with(path, ".json"))
		rc = st_load_index(&c, path, out);
	else
		rc = st_load_file(&c, path, st_basename(path), out);
	if (rc)
		goto out;
	if (json_object_size(c.meta) &&
	    !(out->metadata_json = json_dumps(c.meta, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		rc = st_fail(&c, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	if (!(out->source = strdup(path)))
		rc = st_fail(&c, -ENOMEM, "%s: out of memory", path);
out:
	if (rc)
		ms_desc_set_free(out);
	json_decref(c.meta);
	json_decref(c.seen);
	return rc;
}
