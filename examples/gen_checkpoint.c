/* gen_checkpoint.c — writes a small Llama-shaped safetensors checkpoint, sharded the
 * way Hugging Face shards them (model-0000K-of-0000N.safetensors plus
 * model.safetensors.index.json), with BF16, F32 and I8 tensors. Every byte is a
 * function of the tensor name, so two runs write identical files and a test can
 * regenerate the expected contents. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct gen_opts {
	const char *out;
	int layers, hidden, inter, vocab, shards;
};

struct gen_tensor {
	char name[128];
	const char *dtype;
	int esize;
	int ndim;
	long shape[2];
	uint64_t bytes;
	int shard;
	uint64_t off; /* data offset inside its shard */
};

struct gen_model {
	struct gen_tensor *t;
	int n, cap;
	uint64_t total;
};

/* ------------------------------------------------------------ deterministic bytes */

/* FNV-1a of the name seeds the generator: a tensor's bytes depend on its name only,
 * never on where it lands or which shard holds it. */
static uint64_t name_seed(const char *name)
{
	uint64_t h = 1469598103934665603ull;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return h;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static float unit(uint64_t *s)
{
	return (float)((double)(splitmix64(s) >> 11) / (double)(1ull << 52) - 1.0);
}

static uint16_t bf16(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	u += 0x7fff + ((u >> 16) & 1); /* round to nearest even */
	return (uint16_t)(u >> 16);
}

static void fill(const struct gen_tensor *t, unsigned char *buf)
{
	uint64_t s = name_seed(t->name);
	uint64_t n = t->bytes / (uint64_t)t->esize, i;
	int is_norm = strstr(t->name, "norm") != NULL;

	for (i = 0; i < n; i++) {
		if (t->esize == 1) {
			buf[i] = (unsigned char)splitmix64(&s);
		} else if (t->esize == 2) {
			uint16_t v = bf16(0.02f * unit(&s));

			memcpy(buf + 2 * i, &v, 2);
		} else {
			/* layer norms start near one, as trained ones do */
			float v = is_norm ? 1.0f + 0.01f * unit(&s) : 0.02f * unit(&s);

			memcpy(buf + 4 * i, &v, 4);
		}
	}
}

/* --------------------------------------------------------------------- the model */

static int add(struct gen_model *m, const char *dtype, long d0, long d1, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

static int add(struct gen_model *m, const char *dtype, long d0, long d1, const char *fmt, ...)
{
	struct gen_tensor *t;
	va_list ap;

	if (m->n == m->cap) {
		int cap = m->cap ? 2 * m->cap : 64;
		struct gen_tensor *v = realloc(m->t, (size_t)cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		m->t = v;
		m->cap = cap;
	}
	t = &m->t[m->n++];
	memset(t, 0, sizeof(*t));
	va_start(ap, fmt);
	vsnprintf(t->name, sizeof(t->name), fmt, ap);
	va_end(ap);
	t->dtype = dtype;
	t->esize = !strcmp(dtype, "BF16") ? 2 : !strcmp(dtype, "F32") ? 4 : 1;
	t->ndim = d1 ? 2 : 1;
	t->shape[0] = d0;
	t->shape[1] = d1;
	t->bytes = (uint64_t)d0 * (uint64_t)(d1 ? d1 : 1) * (uint64_t)t->esize;
	m->total += t->bytes;
	return 0;
}

/* The tensors of a Llama decoder in the order transformers saves them; grouped
 * query attention keeps k/v at half width, and each MLP carries an int8
 * `qweight` as quantized checkpoints do. */
static int build_model(struct gen_model *m, const struct gen_opts *o)
{
	static const char *const attn[] = { "q_proj", "k_proj", "v_proj", "o_proj" };
	long kv = o->hidden / 2 ? o->hidden / 2 : 1;
	int err = add(m, "BF16", o->vocab, o->hidden, "model.embed_tokens.weight");
	int i, j;

	for (i = 0; i < o->layers && !err; i++) {
		err |= add(m, "F32", o->hidden, 0, "model.layers.%d.input_layernorm.weight", i);
		for (j = 0; j < 4; j++)
			err |= add(m, "BF16", j == 1 || j == 2 ? kv : o->hidden, o->hidden,
			           "model.layers.%d.self_attn.%s.weight", i, attn[j]);
		err |= add(m, "F32", o->hidden, 0, "model.layers.%d.post_attention_layernorm.weight", i);
		err |= add(m, "BF16", o->inter, o->hidden, "model.layers.%d.mlp.gate_proj.weight", i);
		err |= add(m, "BF16", o->inter, o->hidden, "model.layers.%d.mlp.up_proj.weight", i);
		err |= add(m, "BF16", o->hidden, o->inter, "model.layers.%d.mlp.down_proj.weight", i);
		err |= add(m, "I8", o->hidden, o->inter, "model.layers.%d.mlp.down_proj.qweight", i);
	}
	if (!err)
		err = add(m, "F32", o->hidden, 0, "model.norm.weight");
	if (!err)
		err = add(m, "BF16", o->vocab, o->hidden, "lm_head.weight");
	return err ? -ENOMEM : 0;
}

/* Contiguous runs of tensors, cut where the running size passes k/shards of the
 * total, as save_pretrained's max_shard_size does; no shard is left empty. */
static int assign_shards(struct gen_model *m, int shards)
{
	uint64_t run = 0, here = 0;
	int s = 0, i;

	if (shards > m->n)
		shards = m->n;
	for (i = 0; i < m->n; i++) {
		int must = m->n - i <= shards - 1 - s; /* one tensor left per shard to open */

		if (s + 1 < shards && here > 0 &&
		    (run * (uint64_t)shards >= m->total * (uint64_t)(s + 1) || must)) {
			s++;
			here = 0;
		}
		m->t[i].shard = s;
		run += m->t[i].bytes;
		here += m->t[i].bytes;
	}
	return s + 1;
}

/* ----------------------------------------------------------------------- writing */

static void shard_name(char *buf, size_t cap, int k, int n)
{
	if (n == 1)
		snprintf(buf, cap, "model.safetensors");
	else
		snprintf(buf, cap, "model-%05d-of-%05d.safetensors", k + 1, n);
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int write_shard(struct gen_model *m, const char *dir, int k, int n)
{
	char path[4096], file[64];
	json_t *hdr = json_object(), *meta = json_object();
	uint64_t off = 0, hlen;
	unsigned char *buf = NULL;
	char *text = NULL;
	size_t tlen;
	int fd = -1, err = -ENOMEM, i;

	if (!hdr || !meta)
		goto out;
	json_object_set_new(meta, "format", json_string("pt"));
	json_object_set_new(hdr, "__metadata__", meta);
	meta = NULL;
	for (i = 0; i < m->n; i++) {
		struct gen_tensor *t = &m->t[i];
		json_t *shape = json_array();

		if (t->shard != k)
			continue;
		t->off = off;
		json_array_append_new(shape, json_integer(t->shape[0]));
		if (t->ndim == 2)
			json_array_append_new(shape, json_integer(t->shape[1]));
		json_object_set_new(hdr, t->name,
		                    json_pack("{s:s, s:o, s:[I,I]}", "dtype", t->dtype, "shape", shape,
		                              "data_offsets", (json_int_t)off, (json_int_t)(off + t->bytes)));
		off += t->bytes;
	}
	text = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text)
		goto out;
	tlen = strlen(text);
	hlen = (tlen + 7) & ~7ull; /* data starts 8-byte aligned, padded with spaces */
	text = realloc(text, hlen + 1);
	if (!text)
		goto out;
	memset(text + tlen, ' ', hlen - tlen);

	shard_name(file, sizeof(file), k, n);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "gen_checkpoint: cannot create %s: %s\n", path, strerror(errno));
		goto out;
	}
	err = write_all(fd, &hlen, 8); /* little-endian u64 on every host we build for */
	if (!err)
		err = write_all(fd, text, hlen);
	for (i = 0; i < m->n && !err; i++) {
		struct gen_tensor *t = &m->t[i];
		unsigned char *nb;

		if (t->shard != k)
			continue;
		nb = realloc(buf, t->bytes);
		if (!nb) {
			err = -ENOMEM;
			break;
		}
		buf = nb;
		fill(t, buf);
		err = write_all(fd, buf, t->bytes);
	}
	if (err)
		fprintf(stderr, "gen_checkpoint: writing %s: %s\n", path, strerror(-err));
out:
	if (fd >= 0 && close(fd) && !err)
		err = -errno;
	free(buf);
	free(text);
	json_decref(meta);
	json_decref(hdr);
	return err;
}

static int write_index(const struct gen_model *m, const char *dir, int n)
{
	char path[4096], file[64];
	json_t *map = json_object(), *root;
	int i, err = 0;

	for (i = 0; i < m->n; i++) {
		shard_name(file, sizeof(file), m->t[i].shard, n);
		json_object_set_new(map, m->t[i].name, json_string(file));
	}
	root = json_pack("{s:{s:I}, s:o}", "metadata", "total_size", (json_int_t)m->total, "weight_map", map);
	snprintf(path, sizeof(path), "%s/model.safetensors.index.json", dir);
	if (!root || json_dump_file(root, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) {
		fprintf(stderr, "gen_checkpoint: cannot write %s\n", path);
		err = -EIO;
	}
	json_decref(root);
	return err;
}

/* ------------------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fprintf(f, "usage: gen_checkpoint [--out DIR] [--layers N] [--hidden N] [--inter N]\n"
	           "                      [--vocab N] [--shards N]\n"
	           "Writes a deterministic Llama-shaped safetensors checkpoint (BF16, F32, I8)\n"
	           "into DIR (default ./checkpoint): model-0000K-of-0000N.safetensors and\n"
	           "model.safetensors.index.json, or model.safetensors when --shards 1.\n"
	           "Defaults: --layers 4 --hidden 256 --inter 512 --vocab 512 --shards 3.\n");
}

static int parse_opts(int argc, char **argv, struct gen_opts *o)
{
	static const struct option lo[] = {
		{ "out", required_argument, 0, 'o' },    { "layers", required_argument, 0, 'l' },
		{ "hidden", required_argument, 0, 'h' }, { "inter", required_argument, 0, 'i' },
		{ "vocab", required_argument, 0, 'v' },  { "shards", required_argument, 0, 's' },
		{ "help", no_argument, 0, 'H' },         { 0, 0, 0, 0 },
	};
	int c;

	*o = (struct gen_opts){ "checkpoint", 4, 256, 512, 512, 3 };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		int *dst = c == 'l'   ? &o->layers
		           : c == 'h' ? &o->hidden
		           : c == 'i' ? &o->inter
		           : c == 'v' ? &o->vocab
		           : c == 's' ? &o->shards
		                      : NULL;
		char *end;
		long v;

		if (c == 'o') {
			o->out = optarg;
			continue;
		}
		if (c == 'H') {
			usage(stdout);
			exit(0);
		}
		if (!dst) {
			usage(stderr);
			return -EINVAL;
		}
		v = strtol(optarg, &end, 10);
		if (*end || v < (c == 'l' ? 0 : 1) || v > 1 << 20) {
			fprintf(stderr, "gen_checkpoint: bad value '%s' for --%s\n", optarg,
			        lo[c == 'l'   ? 1
			           : c == 'h' ? 2
			           : c == 'i' ? 3
			           : c == 'v' ? 4
			                      : 5]
			                .name);
			return -EINVAL;
		}
		*dst = (int)v;
	}
	if (optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct gen_model m = { 0 };
	struct gen_opts o;
	int n, k, err;

	if (parse_opts(argc, argv, &o))
		return 2;
	if (mkdir(o.out, 0755) && errno != EEXIST) {
		fprintf(stderr, "gen_checkpoint: cannot create %s: %s\n", o.out, strerror(errno));
		return 1;
	}
	err = build_model(&m, &o);
	if (err)
		goto out;
	n = assign_shards(&m, o.shards);
	for (k = 0; k < n && !err; k++)
		err = write_shard(&m, o.out, k, n);
	if (!err && n > 1)
		err = write_index(&m, o.out, n);
	if (!err)
		printf("gen_checkpoint: %d tensors, %llu bytes in %d shard%s under %s\n", m.n,
		       (unsigned long long)m.total, n, n == 1 ? "" : "s", o.out);
out:
	free(m.t);
	return err ? 1 : 0;
}
