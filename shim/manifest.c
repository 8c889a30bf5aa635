/* manifest.c — the editable JSON form of a descriptor set (schema: shim/MANIFEST.md):
 * `metashim manifest CKPT > layers.json` writes it, METASHIM_MANIFEST=layers.json
 * loads it. Loading validates like the safetensors reader: each rejection names the
 * file, the JSON path and what was expected. */
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

#define MANIFEST_VERSION 1
/* Bound on a manifest's size: some 200 bytes a tensor, so room for 20M tensors. */
#define MANIFEST_MAX_BYTES (4ull << 30)

/* ------------------------------------------------------------------- loading */

struct mf_ctx {
	const char *file; /* the manifest, for messages */
	char *err;
	size_t cap;
	char *dir;              /* manifest's directory with a trailing '/', "" when none */
	json_t *names;          /* tensor name -> "layers[i].tensors[j]" of its first entry */
	json_t *layers;         /* layer name -> "layers[i]" */
	struct mf_where *where; /* per descriptor: where in the manifest it came from */
	size_t where_cap;
};

/* Where a descriptor stands in the manifest, for messages after parsing. */
struct mf_where {
	size_t layer, tensor;
};

__attribute__((format(printf, 3, 4))) static int mf_fail(struct mf_ctx *c, int rc, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (!c->err || !c->cap)
		return rc;
	n = (size_t)snprintf(c->err, c->cap, "%s: ", c->file);
	if (n < c->cap) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->cap - n, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Reject keys outside `allowed` (NULL-terminated); keys starting with '_' are comments. */
static int mf_check_keys(struct mf_ctx *c, json_t *obj, const char *path, const char *const *allowed,
                         const char *list)
{
	const char *k;
	json_t *v;
	char qk[160];

	json_object_foreach(obj, k, v)
	{
		bool ok = k[0] == '_';

		for (size_t i = 0; !ok && allowed[i]; i++)
			ok = !strcmp(k, allowed[i]);
		if (!ok)
			return mf_fail(
			        c, -EINVAL,
			        "%s: unknown key %s (expected %s; keys starting with \"_\" are comments)",
			        path, ms_desc_quote(k, qk, sizeof(qk)), list);
	}
	return 0;
}

static bool mf_uint(const json_t *v, uint64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

/* shape, then stride (optional: contiguous when absent), then elems. */
static int mf_parse_dims(struct mf_ctx *c, json_t *t, const char *path, struct ms_tensor_desc *d)
{
	json_t *shape = json_object_get(t, "shape"), *stride = json_object_get(t, "stride");
	char what[160];
	uint64_t elems = 1, u;

	if (!json_is_array(shape) || json_array_size(shape) > MS_MAX_DIMS)
		return mf_fail(c, -EINVAL,
		               "%s.shape: expected an array of at most %d non-negative integers, got %s%s",
		               path, MS_MAX_DIMS, ms_desc_json_what(shape, what, sizeof(what)),
		               json_is_array(shape) ? " that long" : "");
	d->ndim = (int)json_array_size(shape);
	for (int i = 0; i < d->ndim; i++) {
		json_t *e = json_array_get(shape, (size_t)i);

		if (!mf_uint(e, &u))
			return mf_fail(c, -EINVAL, "%s.shape[%d]: expected a non-negative integer, got %s",
			               path, i, ms_desc_json_what(e, what, sizeof(what)));
		d->shape[i] = (int64_t)u;
		if (__builtin_mul_overflow(elems, u, &elems))
			return mf_fail(c, -EOVERFLOW, "%s.shape: element count overflows 64 bits at [%d]",
			               path, i);
	}
	d->elems = elems;
	if (!stride) {
		if (ms_desc_contiguous_stride(d))
			return mf_fail(c, -EOVERFLOW, "%s.shape: a contiguous stride overflows 64 bits",
			               path);
		return 0;
	}
	if (!json_is_array(stride) || json_array_size(stride) != (size_t)d->ndim)
		return mf_fail(c, -EINVAL,
		               "%s.stride: expected an array of %d non-negative integers (one per "
		               "dimension of shape), got %s%s",
		               path, d->ndim, ms_desc_json_what(stride, what, sizeof(what)),
		               json_is_array(stride) ? " of another length" : "");
	for (int i = 0; i < d->ndim; i++) {
		json_t *e = json_array_get(stride, (size_t)i);

		if (!mf_uint(e, &u))
			return mf_fail(c, -EINVAL, "%s.stride[%d]: expected a non-negative integer, got %s",
			               path, i, ms_desc_json_what(e, what, sizeof(what)));
		d->stride[i] = (int64_t)u;
	}
	return 0;
}

/* file, offset, length: all three or none; length must be what shape and dtype take. */
static int mf_parse_source(struct mf_ctx *c, json_t *t, const char *path, struct ms_tensor_desc *d)
{
	json_t *file = json_object_get(t, "file"), *off = json_object_get(t, "offset"),
	       *len = json_object_get(t, "length");
	char what[160];
	uint64_t bits = (uint64_t)d->ebits * d->elems, end;

	if (!file) {
		if (off || len)
			return mf_fail(c, -EINVAL,
			               "%s.%s: given without \"file\" (offset and length locate the "
			               "tensor in a file)",
			               path, off ? "offset" : "length");
		return 0;
	}
	if (!json_is_string(file) || !json_string_length(file))
		return mf_fail(c, -EINVAL, "%s.file: expected a non-empty path string, got %s", path,
		               ms_desc_json_what(file, what, sizeof(what)));
	if (!mf_uint(off, &d->foff))
		return mf_fail(c, -EINVAL,
		               "%s.offset: expected the data's byte offset in the file, a non-negative "
		               "integer, got %s",
		               path, ms_desc_json_what(off, what, sizeof(what)));
	if (!mf_uint(len, &d->flen))
		return mf_fail(c, -EINVAL,
		               "%s.length: expected the data's length in bytes, a non-negative integer, "
		               "got %s",
		               path, ms_desc_json_what(len, what, sizeof(what)));
	if (__builtin_add_overflow(d->foff, d->flen, &end))
		return mf_fail(c, -EOVERFLOW, "%s: offset + length overflows 64 bits", path);
	if (d->flen != bits / 8)
		return mf_fail(c, -EINVAL, "%s.length: %llu bytes, but %llu elements of %s take %llu", path,
		               (unsigned long long)d->flen, (unsigned long long)d->elems, d->dtype,
		               (unsigned long long)(bits / 8));
	/* Relative paths are relative to the manifest, so a manifest kept beside its
	 * checkpoint can move with it. */
	if (json_string_value(file)[0] == '/')
		d->file = strdup(json_string_value(file));
	else if (asprintf(&d->file, "%s%s", c->dir, json_string_value(file)) < 0)
		d->file = NULL;
	if (!d->file)
		return mf_fail(c, -ENOMEM, "out of memory");
	return 0;
}

static int mf_parse_device(struct mf_ctx *c, json_t *t, const char *path, struct ms_tensor_desc *d)
{
	json_t *dev = json_object_get(t, "device");
	const char *s;
	char what[160], *end;

	if (!dev)
		return 0;
	s = json_string_value(dev);
	if (!s || strncmp(s, "0x", 2) || !s[2] || strlen(s) > 18 || s[2] == '-' || s[2] == '+' || s[2] == ' ')
		goto bad;
	errno = 0;
	d->dev_ptr = strtoull(s + 2, &end, 16);
	if (errno || *end || !d->dev_ptr)
		goto bad;
	return 0;
bad:
	return mf_fail(c, -EINVAL,
	               "%s.device: expected a non-zero device address as a \"0x...\" hex string, got %s",
	               path, ms_desc_json_what(dev, what, sizeof(what)));
}

static const char *const tensor_keys[] = { "name",   "dtype",  "shape",  "stride", "file",
	                                   "offset", "length", "device", NULL };

static int mf_parse_tensor(struct mf_ctx *c, json_t *t, const char *path, const char *layer,
                           struct ms_tensor_desc *d)
{
	json_t *name = json_object_get(t, "name"), *dtype = json_object_get(t, "dtype");
	const char *canon;
	char what[160];
	uint64_t bits;
	int rc;

	if (!json_is_object(t))
		return mf_fail(c, -EINVAL, "%s: expected a tensor object, got %s", path,
		               ms_desc_json_what(t, what, sizeof(what)));
	if ((rc = mf_check_keys(c, t, path, tensor_keys,
	                        "name, dtype, shape, stride, file, offset, length, device")))
		return rc;
	if (!json_is_string(name) || !json_string_length(name))
		return mf_fail(c, -EINVAL, "%s.name: expected a non-empty string, got %s", path,
		               ms_desc_json_what(name, what, sizeof(what)));
	if (json_object_get(c->names, json_string_value(name)))
		return mf_fail(c, -EINVAL, "%s.name: tensor %s is already listed at %s", path,
		               ms_desc_quote(json_string_value(name), what, sizeof(what)),
		               json_string_value(json_object_get(c->names, json_string_value(name))));
	if (!(d->name = strdup(json_string_value(name))) || !(d->layer = strdup(layer)) ||
	    json_object_set_new(c->names, d->name, json_string(path)))
		return mf_fail(c, -ENOMEM, "out of memory");
	canon = ms_dtype_canonical(json_string_value(dtype));
	if (!canon)
		return mf_fail(c, -EINVAL,
		               "%s.dtype: expected a dtype name (one of %s, or a torch name such as "
		               "\"bfloat16\"), got %s",
		               path, ms_dtype_names(), ms_desc_json_what(dtype, what, sizeof(what)));
	snprintf(d->dtype, sizeof(d->dtype), "%s", canon);
	d->ebits = ms_dtype_bits(canon);
	if ((rc = mf_parse_dims(c, t, path, d)))
		return rc;
	if (__builtin_mul_overflow(d->elems, (uint64_t)d->ebits, &bits))
		return mf_fail(c, -EOVERFLOW, "%s.shape: %llu elements of %s overflow 64 bits of size", path,
		               (unsigned long long)d->elems, d->dtype);
	if (bits % 8)
		return mf_fail(c, -EINVAL, "%s: %llu elements of %s are %llu bits, not whole bytes", path,
		               (unsigned long long)d->elems, d->dtype, (unsigned long long)bits);
	if ((rc = mf_parse_source(c, t, path, d)))
		return rc;
	return mf_parse_device(c, t, path, d);
}

static const char *const layer_keys[] = { "name", "tensors", NULL };

static int mf_parse_layer(struct mf_ctx *c, json_t *l, size_t li, struct ms_desc_set *set)
{
	json_t *name = json_object_get(l, "name"), *tensors = json_object_get(l, "tensors"), *t;
	char path[96], what[160];
	size_t ti;
	int rc;

	snprintf(path, sizeof(path), "layers[%zu]", li);
	if (!json_is_object(l))
		return mf_fail(c, -EINVAL, "%s: expected a layer object {\"name\", \"tensors\"}, got %s",
		               path, ms_desc_json_what(l, what, sizeof(what)));
	if ((rc = mf_check_keys(c, l, path, layer_keys, "name, tensors")))
		return rc;
	if (!json_is_string(name) || !json_string_length(name))
		return mf_fail(c, -EINVAL, "%s.name: expected a non-empty string, got %s", path,
		               ms_desc_json_what(name, what, sizeof(what)));
	if (json_object_get(c->layers, json_string_value(name)))
		return mf_fail(c, -EINVAL, "%s.name: layer %s is already listed at %s", path,
		               ms_desc_quote(json_string_value(name), what, sizeof(what)),
		               json_string_value(json_object_get(c->layers, json_string_value(name))));
	if (json_object_set_new(c->layers, json_string_value(name), json_string(path)))
		return mf_fail(c, -ENOMEM, "out of memory");
	if (!json_is_array(tensors))
		return mf_fail(c, -EINVAL, "%s.tensors: expected an array of tensor objects, got %s", path,
		               ms_desc_json_what(tensors, what, sizeof(what)));
	json_array_foreach(tensors, ti, t)
	{
		char tpath[128];
		struct ms_tensor_desc *d = ms_desc_set_add(set);

		if (!d)
			return mf_fail(c, -ENOMEM, "out of memory");
		if (set->n > c->where_cap) {
			size_t cap = set->cap;
			struct mf_where *w = realloc(c->where, cap * sizeof(*w));

			if (!w)
				return mf_fail(c, -ENOMEM, "out of memory");
			c->where = w;
			c->where_cap = cap;
		}
		c->where[set->n - 1] = (struct mf_where){ li, ti };
		snprintf(tpath, sizeof(tpath), "%s.tensors[%zu]", path, ti);
		if ((rc = mf_parse_tensor(c, t, tpath, json_string_value(name), d)))
			return rc;
	}
	return 0;
}

/* Same file: same identity when both were found (whatever the paths say), else same path. */
static int mf_cmp_same_file(const struct ms_tensor_desc *x, const struct ms_tensor_desc *y)
{
	bool xi = x->file_ino || x->file_dev, yi = y->file_ino || y->file_dev;

	if (xi != yi)
		return xi ? -1 : 1;
	if (!xi)
		return strcmp(x->file, y->file);
	if (x->file_dev != y->file_dev)
		return x->file_dev < y->file_dev ? -1 : 1;
	return x->file_ino < y->file_ino ? -1 : x->file_ino > y->file_ino;
}

static int mf_cmp_file(const void *a, const void *b, void *arg)
{
	const struct ms_tensor_desc *v = arg;
	const struct ms_tensor_desc *x = &v[*(const size_t *)a], *y = &v[*(const size_t *)b];
	int r = mf_cmp_same_file(x, y);

	if (r)
		return r;
	if (x->foff != y->foff)
		return x->foff < y->foff ? -1 : 1;
	return x->flen < y->flen ? -1 : x->flen > y->flen;
}

/* Tensors sharing a file must not share bytes (the same check the checkpoint reader
 * makes). After mf_stat_files, so that two spellings of one file path are one file. */
static int mf_check_overlap(struct mf_ctx *c, const struct ms_desc_set *set)
{
	size_t *ix = malloc((set->n + 1) * sizeof(*ix)), m = 0, far = 0;
	bool have = false;
	int rc = 0;

	if (!ix)
		return mf_fail(c, -ENOMEM, "out of memory");
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].file && set->v[i].flen)
			ix[m++] = i;
	if (m > 1)
		qsort_r(ix, m, sizeof(*ix), mf_cmp_file, set->v);
	for (size_t k = 0; k < m && !rc; k++) {
		const struct ms_tensor_desc *d = &set->v[ix[k]], *f = &set->v[far];
		char qa[160];

		if (have && !mf_cmp_same_file(d, f) && d->foff < f->foff + f->flen) {
			const struct mf_where *w = &c->where[ix[k]], *wf = &c->where[far];

			rc = mf_fail(c, -EINVAL,
			             "layers[%zu].tensors[%zu]: bytes [%llu, %llu) of %s overlap those of "
			             "layers[%zu].tensors[%zu] [%llu, %llu)",
			             w->layer, w->tensor, (unsigned long long)d->foff,
			             (unsigned long long)d->foff + d->flen,
			             ms_desc_quote(d->file, qa, sizeof(qa)), wf->layer, wf->tensor,
			             (unsigned long long)f->foff, (unsigned long long)f->foff + f->flen);
			break;
		}
		if (!have || mf_cmp_same_file(d, f) || d->foff + d->flen > f->foff + f->flen)
			far = ix[k];
		have = true;
	}
	free(ix);
	return rc;
}

/* stat() every named file (once per run of equal names): identity, and the range must
 * lie inside it. A missing file is not an error (the manifest may have moved to
 * another machine); the count of such tensors is returned. */
static int mf_stat_files(struct mf_ctx *c, struct ms_desc_set *set, char *note, size_t notecap)
{
	const char *last = NULL;
	struct stat st;
	int last_rc = 0, missing = 0;

	for (size_t i = 0; i < set->n; i++) {
		struct ms_tensor_desc *d = &set->v[i];
		const struct mf_where *w = &c->where[i];
		char qf[160];

		if (!d->file)
			continue;
		if (!last || strcmp(last, d->file)) {
			last = d->file;
			last_rc = stat(d->file, &st) ? errno : 0;
		}
		if (last_rc) {
			if (!missing++)
				snprintf(note, notecap, "layers[%zu].tensors[%zu].file %s: %s", w->layer,
				         w->tensor, ms_desc_quote(d->file, qf, sizeof(qf)),
				         strerror(last_rc));
			continue;
		}
		if (S_ISREG(st.st_mode) && d->foff + d->flen > (uint64_t)st.st_size)
			return mf_fail(
			        c, -EINVAL,
			        "layers[%zu].tensors[%zu]: bytes [%llu, %llu) lie beyond the end of %s "
			        "(%llu bytes)",
			        w->layer, w->tensor, (unsigned long long)d->foff,
			        (unsigned long long)d->foff + d->flen, ms_desc_quote(d->file, qf, sizeof(qf)),
			        (unsigned long long)st.st_size);
		d->file_dev = (uint64_t)st.st_dev;
		d->file_ino = (uint64_t)st.st_ino;
	}
	return missing;
}

static const char *const root_keys[] = { "metashim_manifest", "source", "metadata", "layers", NULL };

static int mf_parse_root(struct mf_ctx *c, json_t *root, struct ms_desc_set *set)
{
	json_t *ver = json_object_get(root, "metashim_manifest"), *src = json_object_get(root, "source"),
	       *meta = json_object_get(root, "metadata"), *layers = json_object_get(root, "layers"), *l;
	char what[160];
	size_t li;
	int rc;

	if (!json_is_object(root))
		return mf_fail(
		        c, -EINVAL,
		        "expected a JSON object {\"metashim_manifest\": %d, \"layers\": [...]}, got %s",
		        MANIFEST_VERSION, ms_desc_json_what(root, what, sizeof(what)));
	if (!ver)
		return mf_fail(c, -EINVAL, "metashim_manifest: missing (expected %d; is this a manifest?)",
		               MANIFEST_VERSION);
	if (!json_is_integer(ver) || json_integer_value(ver) != MANIFEST_VERSION)
		return mf_fail(c, -EINVAL, "metashim_manifest: expected version %d, got %s", MANIFEST_VERSION,
		               ms_desc_json_what(ver, what, sizeof(what)));
	if ((rc = mf_check_keys(c, root, "(top level)", root_keys,
	                        "metashim_manifest, source, metadata, layers")))
		return rc;
	if (src && !json_is_string(src))
		return mf_fail(c, -EINVAL, "source: expected a string, got %s",
		               ms_desc_json_what(src, what, sizeof(what)));
	if (meta && !json_is_object(meta))
		return mf_fail(c, -EINVAL, "metadata: expected an object, got %s",
		               ms_desc_json_what(meta, what, sizeof(what)));
	if (!json_is_array(layers))
		return mf_fail(c, -EINVAL, "layers: expected an array of layer objects, got %s",
		               ms_desc_json_what(layers, what, sizeof(what)));
	json_array_foreach(layers, li, l)
	{
		if ((rc = mf_parse_layer(c, l, li, set)))
			return rc;
	}
	if (meta && json_object_size(meta) &&
	    !(set->metadata_json = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER)))
		return mf_fail(c, -ENOMEM, "out of memory");
	if (!(set->source = strdup(src ? json_string_value(src) : c->file)))
		return mf_fail(c, -ENOMEM, "out of memory");
	return 0;
}

/* The whole manifest in memory (a 1M-tensor manifest is some 200 MB). */
static int mf_read(struct mf_ctx *c, const char *path, char **text, size_t *len)
{
	struct stat st;
	size_t done = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return mf_fail(c, -errno, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st)) {
		rc = mf_fail(c, -errno, "cannot stat: %s", strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > MANIFEST_MAX_BYTES) {
		rc = mf_fail(c, -EINVAL, "expected a regular file of at most %llu bytes", MANIFEST_MAX_BYTES);
		goto out_close;
	}
	*text = malloc((size_t)st.st_size + 1);
	if (!*text) {
		rc = mf_fail(c, -ENOMEM, "out of memory");
		goto out_close;
	}
	while (done < (size_t)st.st_size) {
		ssize_t r = read(fd, *text + done, (size_t)st.st_size - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = mf_fail(c, r < 0 ? -errno : -EIO, "cannot read: %s",
			             r < 0 ? strerror(errno) : "file shrank");
			free(*text);
			*text = NULL;
			goto out_close;
		}
		done += (size_t)r;
	}
	*len = done;
out_close:
	close(fd);
	return rc;
}

int ms_manifest_load(const char *path, struct ms_desc_set *out, char *err, size_t errcap)
{
	struct mf_ctx c = { .file = path ? path : "(null)", .err = err, .cap = errcap };
	const char *slash = path ? strrchr(path, '/') : NULL;
	json_error_t jerr;
	json_t *root = NULL;
	char note[512] = "", *text = NULL;
	size_t len = 0;
	int rc;

	if (err && errcap)
		err[0] = 0;
	if (!path || !out || out->n || out->v || out->cap)
		return mf_fail(&c, -EINVAL, "no path or a non-empty descriptor set given");
	c.dir = strndup(path, slash ? (size_t)(slash - path) + 1 : 0);
	c.names = json_object();
	c.layers = json_object();
	if (!c.dir || !c.names || !c.layers) {
		rc = mf_fail(&c, -ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = mf_read(&c, path, &text, &len)))
		goto out;
	/* jansson's own file readers take a byte per read(2); parse from memory instead. */
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!root) {
		rc = mf_fail(&c, -EINVAL, "byte %d (line %d, column %d): invalid JSON: %s", jerr.position,
		             jerr.line, jerr.column, jerr.text);
		goto out;
	}
	if ((rc = mf_parse_root(&c, root, out)))
		goto out;
	rc = mf_stat_files(&c, out, note, sizeof(note));
	if (rc >= 0) {
		int missing = rc;

		if ((rc = mf_check_overlap(&c, out)))
			goto out;
		rc = missing;
	}
	if (rc > 0) {
		/* Loaded all the same: the message is a warning for the caller to show. */
		mf_fail(&c, 0,
		        "%d of %zu tensors name a file that cannot be found here, first %s; they are kept "
		        "without file identity (no attribution by file offset)",
		        rc, out->n, note);
		rc = 0;
	}
out:
	if (rc < 0)
		ms_desc_set_free(out);
	json_decref(root);
	json_decref(c.names);
	json_decref(c.layers);
	free(c.where);
	free(c.dir);
	return rc;
}

/* ------------------------------------------------------------------- writing */

/* Output through a small buffer; the first write error sticks. */
struct mf_out {
	int fd;
	int rc;
	size_t len;
	char buf[1 << 16];
};

static void mf_flush(struct mf_out *o)
{
	size_t done = 0;

	while (!o->rc && done < o->len) {
		ssize_t w = write(o->fd, o->buf + done, o->len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			o->rc = w < 0 ? -errno : -EIO;
		else
			done += (size_t)w;
	}
	o->len = 0;
}

static void mf_put(struct mf_out *o, const char *s, size_t n)
{
	while (n && !o->rc) {
		size_t k = sizeof(o->buf) - o->len;

		if (k > n)
			k = n;
		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
		if (o->len == sizeof(o->buf))
			mf_flush(o);
	}
}

static void mf_puts(struct mf_out *o, const char *s)
{
	mf_put(o, s, strlen(s));
}

/* Dump v (stolen) on one line: "{"a": 1, "b": [1, 2]}". */
static void mf_put_json(struct mf_out *o, json_t *v)
{
	char *s = v ? json_dumps(v, JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;

	if (!s && !o->rc)
		o->rc = -EINVAL; /* a string that is not UTF-8, or out of memory */
	if (s)
		mf_puts(o, s);
	free(s);
	json_decref(v);
}

/* A relative path made absolute against the current directory (no symlinks resolved). */
static char *mf_absolute(const char *p)
{
	char *cwd, *r = NULL;

	if (p[0] == '/')
		return strdup(p);
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	cwd = getcwd(NULL, 0);
	if (cwd && asprintf(&r, "%s%s%s", cwd, cwd[strlen(cwd) - 1] == '/' ? "" : "/", p) < 0)
		r = NULL;
	free(cwd);
	return r;
}

static json_t *mf_dims(const int64_t *v, int n)
{
	json_t *a = json_array();

	for (int i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_integer(v[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static bool mf_contiguous(const struct ms_tensor_desc *d)
{
	struct ms_tensor_desc tmp = *d;

	if (ms_desc_contiguous_stride(&tmp))
		return false;
	return !memcmp(tmp.stride, d->stride, (size_t)d->ndim * sizeof(d->stride[0]));
}

static json_t *mf_tensor_json(const struct ms_tensor_desc *d)
{
	json_t *t = json_object();
	char *file = NULL, dev[32];
	int bad = 0;

	if (!t)
		return NULL;
	bad |= json_object_set_new(t, "name", json_string(d->name));
	bad |= json_object_set_new(t, "dtype", json_string(d->dtype));
	bad |= json_object_set_new(t, "shape", mf_dims(d->shape, d->ndim));
	if (!mf_contiguous(d))
		bad |= json_object_set_new(t, "stride", mf_dims(d->stride, d->ndim));
	if (d->file) {
		file = mf_absolute(d->file);
		bad |= json_object_set_new(t, "file", file ? json_string(file) : NULL);
		bad |= json_object_set_new(t, "offset", json_integer((json_int_t)d->foff));
		bad |= json_object_set_new(t, "length", json_integer((json_int_t)d->flen));
	}
	if (d->dev_ptr) {
		snprintf(dev, sizeof(dev), "0x%llx", (unsigned long long)d->dev_ptr);
		bad |= json_object_set_new(t, "device", json_string(dev));
	}
	free(file);
	if (bad) {
		json_decref(t);
		return NULL;
	}
	return t;
}

/* A descriptor's layer name, malloc'd: its own, else its name up to the last dot. */
static char *mf_layer_of(const struct ms_tensor_desc *d)
{
	const char *dot;

	if (d->layer)
		return strdup(d->layer);
	dot = strrchr(d->name, '.');
	return dot && dot != d->name ? strndup(d->name, (size_t)(dot - d->name)) : strdup(d->name);
}

/* Group descriptors by layer, layers in first-appearance order: order[] lists
 * descriptor indices layer by layer; starts[k] is where layer k begins (k <= nl). */
static int mf_group(const struct ms_desc_set *set, size_t *order, size_t *starts, size_t *nlayers)
{
	json_t *ids = json_object();
	size_t *lid = malloc((set->n + 1) * sizeof(*lid)), *next = NULL, nl = 0;
	int rc = 0;

	if (!ids || !lid) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < set->n; i++) {
		char *name = mf_layer_of(&set->v[i]);
		json_t *id = name ? json_object_get(ids, name) : NULL;

		if (!name || (!id && json_object_set_new(ids, name, json_integer((json_int_t)nl)))) {
			free(name);
			rc = -ENOMEM;
			goto out;
		}
		lid[i] = id ? (size_t)json_integer_value(id) : nl++;
		free(name);
	}
	/* Counting sort: stable, so tensors keep their set order inside a layer. */
	memset(starts, 0, (nl + 1) * sizeof(*starts));
	for (size_t i = 0; i < set->n; i++)
		starts[lid[i] + 1]++;
	for (size_t k = 0; k < nl; k++)
		starts[k + 1] += starts[k];
	next = malloc((nl + 1) * sizeof(*next));
	if (!next) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(next, starts, (nl + 1) * sizeof(*next));
	for (size_t i = 0; i < set->n; i++)
		order[next[lid[i]]++] = i;
	*nlayers = nl;
out:
	json_decref(ids);
	free(lid);
	free(next);
	return rc;
}

static void mf_write_header(struct mf_out *o, const struct ms_desc_set *set)
{
	char line[64];

	snprintf(line, sizeof(line), "{\n  \"metashim_manifest\": %d,\n", MANIFEST_VERSION);
	mf_puts(o, line);
	if (set->source) {
		char *abs = mf_absolute(set->source);

		mf_puts(o, "  \"source\": ");
		mf_put_json(o, abs ? json_string(abs) : NULL);
		mf_puts(o, ",\n");
		free(abs);
	}
	if (set->metadata_json) {
		mf_puts(o, "  \"metadata\": ");
		mf_put_json(o, json_loads(set->metadata_json, 0, NULL));
		mf_puts(o, ",\n");
	}
}

int ms_manifest_write(int fd, const struct ms_desc_set *set)
{
	struct mf_out *o = malloc(sizeof(*o));
	size_t *order = malloc((set->n + 1) * sizeof(*order));
	size_t *starts = malloc((set->n + 2) * sizeof(*starts)), nl = 0;
	int rc;

	if (!o || !order || !starts) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = mf_group(set, order, starts, &nl)))
		goto out;
	o->fd = fd;
	o->rc = 0;
	o->len = 0;
	mf_write_header(o, set);
	mf_puts(o, "  \"layers\": [");
	for (size_t k = 0; k < nl; k++) {
		char *lname = mf_layer_of(&set->v[order[starts[k]]]);

		mf_puts(o, k ? ",\n    {\"name\": " : "\n    {\"name\": ");
		mf_put_json(o, lname ? json_string(lname) : NULL);
		free(lname);
		mf_puts(o, ", \"tensors\": [");
		for (size_t j = starts[k]; j < starts[k + 1]; j++) {
			mf_puts(o, j > starts[k] ? ",\n      " : "\n      ");
			mf_put_json(o, mf_tensor_json(&set->v[order[j]]));
		}
		mf_puts(o, "\n    ]}");
	}
	mf_puts(o, nl ? "\n  ]\n}\n" : "]\n}\n");
	mf_flush(o);
	rc = o->rc;
out:
	free(o);
	free(order);
	free(starts);
	return rc;
}
