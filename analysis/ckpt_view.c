/* ckpt_view.c — the checkpoint view of several ranks: for every checkpoint tensor,
 * how many of its bytes no rank, exactly one rank once, or more than once consumed.
 * Ranks are matched on the tensor's file range (tensor-parallel shards read slices
 * of the same file range), falling back to the name when a tensor has no file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

struct ref {
	size_t run, tensor;
};

static const struct ms_model *sort_model;

static int cmp_key(const struct ms_tensor *a, const struct ms_tensor *b)
{
	if (!!a->file != !!b->file)
		return a->file ? -1 : 1;
	if (a->file) {
		int c = strcmp(a->file, b->file);
		if (c)
			return c;
		if (a->foff != b->foff)
			return a->foff < b->foff ? -1 : 1;
		return 0;
	}
	return strcmp(a->name, b->name);
}

static int cmp_ref(const void *x, const void *y)
{
	const struct ref *a = x, *b = y;
	const struct ms_tensor *ta = &sort_model->runs[a->run].tensors[a->tensor];
	const struct ms_tensor *tb = &sort_model->runs[b->run].tensors[b->tensor];
	int c = cmp_key(ta, tb);
	if (c)
		return c;
	if (a->run != b->run)
		return a->run < b->run ? -1 : 1;
	return (a->tensor > b->tensor) - (a->tensor < b->tensor);
}

struct edge {
	uint64_t at;
	int delta;
};

static int cmp_edge(const void *x, const void *y)
{
	const struct edge *a = x, *b = y;
	if (a->at != b->at)
		return a->at < b->at ? -1 : 1;
	return a->delta - b->delta; /* ends before starts at the same point */
}

/* Sweep the runs' covered ranges of one group: elements covered by exactly one run
 * (*one) and by two or more (*many). */
static int sweep(const struct ms_model *m, const struct ref *g, size_t n, uint64_t elems, uint64_t *one,
                 uint64_t *many)
{
	size_t ne = 0;
	for (size_t i = 0; i < n; i++)
		ne += 2 * m->runs[g[i].run].tensors[g[i].tensor].cov.n;
	struct edge *e = malloc((ne ? ne : 1) * sizeof(*e));
	if (!e)
		return -ENOMEM;
	ne = 0;
	for (size_t i = 0; i < n; i++) {
		const struct ms_rangeset *s = &m->runs[g[i].run].tensors[g[i].tensor].cov;
		for (size_t k = 0; k < s->n; k++) {
			uint64_t hi = s->v[k].hi < elems ? s->v[k].hi : elems;
			if (s->v[k].lo >= hi)
				continue;
			e[ne++] = (struct edge){ s->v[k].lo, +1 };
			e[ne++] = (struct edge){ hi, -1 };
		}
	}
	qsort(e, ne, sizeof(*e), cmp_edge);
	int depth = 0;
	*one = *many = 0;
	for (size_t i = 0; i < ne; i++) {
		if (i && e[i].at > e[i - 1].at) {
			uint64_t w = e[i].at - e[i - 1].at;
			if (depth == 1)
				*one += w;
			else if (depth > 1)
				*many += w;
		}
		depth += e[i].delta;
	}
	free(e);
	return 0;
}

static int group(const struct ms_model *m, const struct ref *g, size_t n, struct ms_ckpt_tensor *out)
{
	const struct ms_tensor *first = &m->runs[g[0].run].tensors[g[0].tensor];
	uint64_t elems = 0, esize = first->esize ? first->esize : 1, dup = 0;
	memset(out, 0, sizeof(*out));
	out->name = first->name;
	out->file = first->file;
	out->foff = first->foff;
	for (size_t i = 0; i < n; i++) {
		const struct ms_tensor *t = &m->runs[g[i].run].tensors[g[i].tensor];
		if (t->elems > elems)
			elems = t->elems;
		if (t->covered) {
			if (g[i].run < 64 && !(out->rank_mask & 1ull << g[i].run))
				out->nranks++;
			else if (g[i].run >= 64)
				out->nranks++;
			if (g[i].run < 64)
				out->rank_mask |= 1ull << g[i].run;
		}
		dup += t->copied > t->covered ? t->copied - t->covered : 0;
	}
	uint64_t one, many;
	int rc = sweep(m, g, n, elems, &one, &many);
	if (rc < 0)
		return rc;
	/* Repeats inside one run have no location in the model: take them from the
	 * bytes that run alone covered. */
	uint64_t d = dup < one ? dup : one;
	out->bytes = elems * esize;
	out->once = (one - d) * esize;
	out->multi = (many + d) * esize;
	out->never = (elems - one - many) * esize;
	out->status = one + many == 0 && elems ? MS_ST_NEVER
	              : out->never             ? MS_ST_PARTIAL
	              : out->multi             ? MS_ST_TWICE
	                                       : MS_ST_COMPLETE;
	return 0;
}

int ms_ckpt_view_build(const struct ms_model *m, struct ms_ckpt_view *out)
{
	memset(out, 0, sizeof(*out));
	size_t n = 0;
	for (size_t i = 0; i < m->nruns; i++)
		for (size_t k = 0; k < m->runs[i].ntensors; k++)
			n += !m->runs[i].tensors[k].skip;
	struct ref *refs = malloc((n ? n : 1) * sizeof(*refs));
	out->v = calloc(n ? n : 1, sizeof(*out->v));
	if (!refs || !out->v) {
		free(refs);
		ms_ckpt_view_free(out);
		return -ENOMEM;
	}
	n = 0;
	for (size_t i = 0; i < m->nruns; i++)
		for (size_t k = 0; k < m->runs[i].ntensors; k++)
			if (!m->runs[i].tensors[k].skip)
				refs[n++] = (struct ref){ i, k };
	sort_model = m;
	qsort(refs, n, sizeof(*refs), cmp_ref);
	for (size_t a = 0; a < n;) {
		size_t b = a + 1;
		const struct ms_tensor *ta = &m->runs[refs[a].run].tensors[refs[a].tensor];
		while (b < n && cmp_key(ta, &m->runs[refs[b].run].tensors[refs[b].tensor]) == 0)
			b++;
		struct ms_ckpt_tensor *ct = &out->v[out->n++];
		int rc = group(m, refs + a, b - a, ct);
		if (rc < 0) {
			free(refs);
			ms_ckpt_view_free(out);
			return rc;
		}
		out->bytes += ct->bytes;
		out->never += ct->never;
		out->once += ct->once;
		out->multi += ct->multi;
		out->status[ct->status]++;
		a = b;
	}
	free(refs);
	return 0;
}

void ms_ckpt_view_free(struct ms_ckpt_view *v)
{
	free(v->v);
	memset(v, 0, sizeof(*v));
}
