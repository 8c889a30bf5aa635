/* model.c — folds the records of one trace into a struct ms_run: traffic per API
 * and direction, live memory, descriptor counts recomputed from attr records, call
 * sites, problems. One pass, streamed; state is bounded by descriptors, distinct
 * pointers and call sites, never by the number of events. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "trace_reader.h"
#include "u64map.h"

#define COPY_RING   65536u /* recent copies remembered for their attr records */
#define PENDING_MAX 4096u  /* attr/unattr/problem records waiting for their copy */
#define WARN_MAX    1000u
#define NO_IDX      SIZE_MAX

/* What attr/unattr/problem records need of the copy they belong to. */
struct copy_note {
	uint64_t seq;
	uint64_t t, dur;
	uint32_t stack;
};

/* A record that arrived before its copy: kind 0 attr, 1 unattr, 2 problem. */
struct pending {
	uint64_t seq;
	size_t tensor;
	uint64_t bytes;
	int kind;
	enum ms_problem_kind pkind;
};

/* Call sites of problems: (kind, tensor, stack) -> share. */
struct pb_site {
	enum ms_problem_kind kind;
	size_t tensor;
	uint32_t stack;
	uint64_t bytes, count;
};

struct priv {
	struct ms_u64map layer_ids;  /* layer id -> index */
	struct ms_u64map tensor_ids; /* tensor id -> index */
	struct ms_u64map live;       /* ptr -> bytes of live allocations */
	struct ms_u64map site_ids;   /* stack id -> index into run->sites */
	struct ms_u64map pb_ids;     /* packed (kind, tensor, stack) -> index into pb */
	struct copy_note *ring;      /* COPY_RING recent copies by seq */
	struct pending *pend;
	size_t npend;
	struct pb_site *pb;
	size_t npb, cappb;
	size_t cap_layers, cap_tensors, cap_sites, cap_stacks, cap_modules, cap_marks, cap_warns, cap_apis,
	        cap_completions, cap_options;
	const struct ms_model_opts *opts;
	uint64_t rate_bucket_t, rate_bucket_bytes;
};

/* ---------------------------------------------------------------- growth */

static int grow(void **v, size_t *cap, size_t n, size_t esz)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 16;
	void *nv = realloc(*v, nc * esz);
	if (!nv)
		return -ENOMEM;
	memset((char *)nv + *cap * esz, 0, (nc - *cap) * esz);
	*v = nv;
	*cap = nc;
	return 0;
}
#define GROW(arr, capf, n) grow((void **)&(arr), &(capf), (n), sizeof(*(arr)))

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

/* shape/stride/buildid write "" as "-". */
static const char *dash_empty(const char *s)
{
	return s && strcmp(s, "-") == 0 ? "" : s;
}

static void note_time(struct ms_run *run, uint64_t t)
{
	if (t != MS_NO_TIME && (run->end_t == MS_NO_TIME || t > run->end_t))
		run->end_t = t;
}

/* ------------------------------------------------------------- lookups */

static struct ms_api_stat *api_stat(struct ms_run *run, struct priv *p, const char *api, const char *kind)
{
	for (size_t i = 0; i < run->napis; i++)
		if (strcmp(run->apis[i].name, api) == 0 && strcmp(run->apis[i].kind, kind) == 0)
			return &run->apis[i];
	if (GROW(run->apis, p->cap_apis, run->napis) < 0)
		return NULL;
	struct ms_api_stat *a = &run->apis[run->napis++];
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", api);
	snprintf(a->kind, sizeof(a->kind), "%s", kind);
	return a;
}

static struct ms_callsite *callsite(struct ms_run *run, struct priv *p, uint32_t stack)
{
	uint64_t idx;
	if (ms_u64map_get(&p->site_ids, stack, &idx))
		return &run->sites[idx];
	if (GROW(run->sites, p->cap_sites, run->nsites) < 0 ||
	    ms_u64map_put(&p->site_ids, stack, run->nsites) < 0)
		return NULL;
	struct ms_callsite *s = &run->sites[run->nsites++];
	memset(s, 0, sizeof(*s));
	s->stack = stack;
	return s;
}

static size_t tensor_idx(struct priv *p, uint64_t id)
{
	uint64_t idx;
	return ms_u64map_get(&p->tensor_ids, id, &idx) ? (size_t)idx : NO_IDX;
}

static size_t layer_idx(struct ms_run *run, struct priv *p, struct ms_record *r)
{
	uint64_t id, idx;
	if (ms_rec_u64(r, "layer", &id) == 0 && ms_u64map_get(&p->layer_ids, id, &idx))
		return (size_t)idx;
	/* Tolerate a layer given by name. */
	const char *name = ms_rec_str(r, "layer");
	for (size_t i = 0; name && i < run->nlayers; i++)
		if (strcmp(run->layers[i].name, name) == 0)
			return i;
	return NO_IDX;
}

static const struct copy_note *copy_note(const struct priv *p, uint64_t seq)
{
	const struct copy_note *c = &p->ring[seq % COPY_RING];
	return c->seq == seq && seq ? c : NULL;
}

/* Keep the MS_TOP_STACKS sites seen first, each with its bytes and count. */
static void share_add(struct ms_site_share *v, uint32_t stack, uint64_t bytes)
{
	for (int i = 0; i < MS_TOP_STACKS; i++) {
		if (v[i].count && v[i].stack == stack) {
			v[i].bytes += bytes;
			v[i].count++;
			return;
		}
		if (!v[i].count) {
			v[i].stack = stack;
			v[i].bytes = bytes;
			v[i].count = 1;
			return;
		}
	}
}

static int pb_site_add(struct priv *p, enum ms_problem_kind kind, size_t tensor, uint32_t stack,
                       uint64_t bytes)
{
	uint64_t key = (uint64_t)kind << 60 ^ (uint64_t)(tensor & 0x0fffffffu) << 32 ^ stack;
	uint64_t idx;
	if (ms_u64map_get(&p->pb_ids, key, &idx)) {
		p->pb[idx].bytes += bytes;
		p->pb[idx].count++;
		return 0;
	}
	if (GROW(p->pb, p->cappb, p->npb) < 0 || ms_u64map_put(&p->pb_ids, key, p->npb) < 0)
		return -ENOMEM;
	p->pb[p->npb++] = (struct pb_site){ kind, tensor, stack, bytes, 1 };
	return 0;
}

/* ------------------------------------------------------ attr and friends */

/* Time and call-site parts of an attr, once its copy is known. */
static void attr_with_copy(struct ms_run *run, struct priv *p, size_t ti, uint64_t bytes,
                           const struct copy_note *c)
{
	struct ms_tensor *t = &run->tensors[ti];
	uint64_t end = c->t + c->dur;
	if (t->first_t == MS_NO_TIME || c->t < t->first_t)
		t->first_t = c->t;
	if (t->last_t == MS_NO_TIME || end > t->last_t)
		t->last_t = end;
	share_add(t->sites, c->stack, bytes);
	struct ms_callsite *s = callsite(run, p, c->stack);
	if (s)
		s->attr_bytes += bytes;
}

static void pend(struct priv *p, struct pending pe)
{
	if (p->npend == PENDING_MAX) {
		memmove(p->pend, p->pend + 1, (PENDING_MAX - 1) * sizeof(*p->pend));
		p->npend--;
	}
	p->pend[p->npend++] = pe;
}

static void resolve(struct ms_run *run, struct priv *p, const struct pending *pe, const struct copy_note *c)
{
	struct ms_callsite *s;
	switch (pe->kind) {
	case 0: attr_with_copy(run, p, pe->tensor, pe->bytes, c); break;
	case 1:
		pb_site_add(p, MS_PB_UNATTRIBUTED, NO_IDX, c->stack, pe->bytes);
		s = callsite(run, p, c->stack);
		if (s)
			s->unattr_bytes += pe->bytes;
		break;
	default: pb_site_add(p, pe->pkind, pe->tensor, c->stack, pe->bytes); break;
	}
}

static void after_copy(struct ms_run *run, struct priv *p, const struct copy_note *c)
{
	size_t w = 0;
	for (size_t i = 0; i < p->npend; i++) {
		if (p->pend[i].seq == c->seq)
			resolve(run, p, &p->pend[i], c);
		else
			p->pend[w++] = p->pend[i];
	}
	p->npend = w;
}

static void with_copy(struct ms_run *run, struct priv *p, struct pending pe)
{
	const struct copy_note *c = copy_note(p, pe.seq);
	if (c)
		resolve(run, p, &pe, c);
	else
		pend(p, pe);
}

/* ------------------------------------------------------------- records */

static int rec_header(struct ms_run *run, struct ms_record *r)
{
	uint64_t u;
	int64_t i;
	run->fmt = ms_rec_u64(r, "fmt", &u) == 0 ? (unsigned)u : run->fmt;
	if (ms_rec_i64(r, "pid", &i) == 0)
		run->pid = i;
	if (ms_rec_i64(r, "ppid", &i) == 0)
		run->ppid = i;
	if (ms_rec_i64(r, "rank", &i) == 0)
		run->rank = i;
	if (ms_rec_i64(r, "world", &i) == 0)
		run->world = i;
	if (ms_rec_u64(r, "wall_ns", &u) == 0)
		run->wall_ns = u;
	const char *keys[] = { "shim", "host", "exe", "argv", "cwd", "mode" };
	char **dst[] = { &run->shim, &run->host, &run->exe, &run->argv, &run->cwd, &run->mode };
	for (size_t k = 0; k < 6; k++) {
		const char *s = ms_rec_str(r, keys[k]);
		if (!s)
			continue;
		free(*dst[k]);
		*dst[k] = strdup(s);
	}
	return 0;
}

static int rec_layer(struct ms_run *run, struct priv *p, struct ms_record *r)
{
	uint64_t id;
	int rc = ms_rec_need_u64(r, "id", &id);
	if (rc < 0)
		return rc;
	const char *name = ms_rec_str(r, "name");
	if (!name)
		return ms_rec_fail(r, "layer record: expected name=<string>");
	if (GROW(run->layers, p->cap_layers, run->nlayers) < 0)
		return -ENOMEM;
	struct ms_layer *l = &run->layers[run->nlayers];
	memset(l, 0, sizeof(*l));
	l->id = id;
	l->name = strdup(name);
	l->first_t = l->last_t = l->complete_t = l->materialized_t = MS_NO_TIME;
	if (!l->name || ms_u64map_put(&p->layer_ids, id, run->nlayers) < 0)
		return -ENOMEM;
	run->nlayers++;
	return 0;
}

static int rec_tensor(struct ms_run *run, struct priv *p, struct ms_record *r)
{
	uint64_t id, elems, esize = 0, skip = 0, lid, idx;
	int rc;
	if ((rc = ms_rec_need_u64(r, "id", &id)) < 0 || (rc = ms_rec_need_u64(r, "elems", &elems)) < 0)
		return rc;
	const char *name = ms_rec_str(r, "name");
	if (!name)
		return ms_rec_fail(r, "tensor record: expected name=<string>");
	if (GROW(run->tensors, p->cap_tensors, run->ntensors) < 0)
		return -ENOMEM;
	struct ms_tensor *t = &run->tensors[run->ntensors];
	memset(t, 0, sizeof(*t));
	t->id = id;
	t->elems = elems;
	ms_rec_u64(r, "esize", &esize);
	ms_rec_u64(r, "skip", &skip);
	t->esize = (uint32_t)esize;
	t->skip = skip != 0;
	t->layer = ms_rec_u64(r, "layer", &lid) == 0 && ms_u64map_get(&p->layer_ids, lid, &idx) ? (size_t)idx
	                                                                                        : NO_IDX;
	const char *dt = ms_rec_str(r, "dtype");
	snprintf(t->dtype, sizeof(t->dtype), "%s", dt ? dt : "?");
	t->name = strdup(name);
	t->shape = dup_or_empty(dash_empty(ms_rec_str(r, "shape")));
	t->stride = dup_or_empty(dash_empty(ms_rec_str(r, "stride")));
	const char *file = ms_rec_str(r, "file");
	if (file && strcmp(file, "-") != 0) {
		t->file = strdup(file);
		ms_rec_u64(r, "foff", &t->foff);
		ms_rec_u64(r, "flen", &t->flen);
	}
	ms_rec_u64(r, "dev", &t->dev);
	t->first_t = t->last_t = MS_NO_TIME;
	if (!t->name || !t->shape || !t->stride || ms_u64map_put(&p->tensor_ids, id, run->ntensors) < 0)
		return -ENOMEM;
	run->ntensors++;
	return 0;
}

static int rec_copy(struct ms_run *run, struct priv *p, struct ms_record *r)
{
	uint64_t seq = 0, t = 0, dur = 0, bytes, stack = 0, rcode = 0;
	int rc;
	if ((rc = ms_rec_need_u64(r, "bytes", &bytes)) < 0 || (rc = ms_rec_need_u64(r, "t", &t)) < 0)
		return rc;
	ms_rec_u64(r, "seq", &seq);
	ms_rec_u64(r, "dur", &dur);
	ms_rec_u64(r, "stack", &stack);
	ms_rec_u64(r, "rc", &rcode);
	const char *api = ms_rec_get(r, "api");
	const char *dir = ms_rec_get(r, "dir");
	struct ms_api_stat *a = api_stat(run, p, api ? api : "?", "copy");
	if (!a)
		return -ENOMEM;
	a->calls++;
	a->dur_ns += dur;
	note_time(run, t + dur);
	if (rcode) {
		a->errors++;
		run->errors++;
		return 0;
	}
	a->bytes += bytes;
	int d = -1;
	for (int i = 0; dir && i < MS_DIR_COUNT; i++)
		if (strcmp(dir, ms_dir_names[i]) == 0)
			d = i;
	if (d >= 0) {
		run->dirs[d].calls++;
		run->dirs[d].bytes += bytes;
		run->dirs[d].dur_ns += dur;
	}
	run->copies++;
	run->copy_bytes += bytes;
	run->copy_dur_ns += dur;
	if (run->copy_first_t == MS_NO_TIME || t < run->copy_first_t)
		run->copy_first_t = t;
	if (run->copy_last_t == MS_NO_TIME || t + dur > run->copy_last_t)
		run->copy_last_t = t + dur;
	struct ms_callsite *s = callsite(run, p, (uint32_t)stack);
	if (!s)
		return -ENOMEM;
	s->copies++;
	s->copy_bytes += bytes;
	s->dur_ns += dur;
	if (d == MS_DIR_H2D) {
		/* Bytes per bucket of the rate series: buckets of 1 ms, decimated. */
		uint64_t bucket = t / 1000000 * 1000000;
		if (p->rate_bucket_bytes && bucket != p->rate_bucket_t) {
			ms_series_push(&run->copy_rate, p->rate_bucket_t, p->rate_bucket_bytes);
			p->rate_bucket_bytes = 0;
		}
		p->rate_bucket_t = bucket;
		p->rate_bucket_bytes += bytes;
	}
	if (seq) {
		struct copy_note *c = &p->ring[seq % COPY_RING];
		*c = (struct copy_note){ seq, t, dur, (uint32_t)stack };
		if (p->npend)
			after_copy(run, p, c);
	}
	return 0;
}

static int rec_alloc(struct ms_run *run, struct priv *p, struct ms_record *r, bool is_free)
{
	uint64_t t = 0, dur = 0, ptr = 0, bytes = 0, stack = 0, rcode = 0, deferred = 0;
	int rc;
	if ((rc = ms_rec_need_u64(r, "t", &t)) < 0 || (rc = ms_rec_need_u64(r, "ptr", &ptr)) < 0)
		return rc;
	ms_rec_u64(r, "dur", &dur);
	ms_rec_u64(r, "bytes", &bytes);
	ms_rec_u64(r, "stack", &stack);
	ms_rec_u64(r, "rc", &rcode);
	ms_rec_u64(r, "deferred", &deferred);
	const char *api = ms_rec_get(r, "api");
	note_time(run, t + dur);
	uint64_t known = 0;
	if (is_free && rcode == 0 && ptr && ms_u64map_get(&p->live, ptr, &known) && !bytes)
		bytes = known;
	struct ms_api_stat *a = api_stat(run, p, api ? api : "?", is_free ? "free" : "alloc");
	if (!a)
		return -ENOMEM;
	a->calls++;
	a->dur_ns += dur;
	if (rcode) {
		a->errors++;
		run->errors++;
		return 0;
	}
	a->bytes += bytes;
	if (!is_free) {
		run->allocs++;
		run->alloc_bytes += bytes;
		run->deferred_allocs += deferred != 0;
		uint64_t old;
		if (ms_u64map_get(&p->live, ptr, &old))
			run->live_bytes -= old; /* a pointer reused without a free we saw */
		if (ms_u64map_put(&p->live, ptr, bytes) < 0)
			return -ENOMEM;
		run->live_bytes += bytes;
		if (run->live_bytes > run->live_peak) {
			run->live_peak = run->live_bytes;
			run->live_peak_t = t + dur;
		}
		struct ms_callsite *s = callsite(run, p, (uint32_t)stack);
		if (!s)
			return -ENOMEM;
		s->allocs++;
		s->alloc_bytes += bytes;
	} else {
		if (!ptr)
			return 0;
		run->frees++;
		if (ms_u64map_get(&p->live, ptr, &known)) {
			run->live_bytes -= known;
			ms_u64map_del(&p->live, ptr);
		} else {
			run->unmatched_frees++;
		}
	}
	ms_series_push(&run->live, t + dur, run->live_bytes);
	return 0;
}

static int rec_memset(struct ms_run *run, struct priv *p, struct ms_record *r)
{
	uint64_t t = 0, dur = 0, bytes = 0, stack = 0, rcode = 0;
	ms_rec_u64(r, "t", &t);
	ms_rec_u64(r, "dur", &dur);
	ms_rec_u64(r, "bytes", &bytes);
	ms_rec_u64(r, "stack", &stack);
	ms_rec_u64(r, "rc", &rcode);
	const char *api = ms_rec_get(r, "api");
	note_time(run, t + dur);
	struct ms_api_stat *a = api_stat(run, p, api ? api : "?", "memset");
	if (!a)
		return -ENOMEM;
	a->calls++;
	a->dur_ns += dur;
	if (rcode) {
		a->errors++;
		run->errors++;
		return 0;
	}
	a->bytes += bytes;
	run->memsets++;
	run->memset_bytes += bytes;
	struct ms_callsite *s = callsite(run, p, (uint32_t)stack);
	if (s)
		s->memsets++;
	return 0;
}

static int rec_attr(struct ms_run *run, struct priv *p, struct ms_record *r)
{
	uint64_t seq = 0, tid, off, elems;
	int rc;
	if ((rc = ms_rec_need_u64(r, "tensor", &tid)) < 0 || (rc = ms_rec_need_u64(r, "off", &off)) < 0 ||
	    (rc = ms_rec_need_u64(r, "elems", &elems)) < 0)
		return rc;
	ms_rec_u64(r, "seq", &seq);
	size_t ti = tensor_idx(p, tid);
	if (ti == NO_IDX)
		return ms_rec_fail(r, "attr record: tensor %" PRIu64 " has no tensor record before it", tid);
	struct ms_tensor *t = &run->tensors[ti];
	if (ms_rangeset_add(&t->cov, off, off + elems) < 0)
		return -ENOMEM;
	t->copied += elems;
	t->attrs++;
	uint64_t bytes = elems * t->esize;
	run->attr_bytes += bytes;
	with_copy(run, p, (struct pending){ .seq = seq, .tensor = ti, .bytes = bytes, .kind = 0 });
	return 0;
}

static int rec_unattr(struct ms_run *run, struct priv *p, struct ms_record *r)
{
	uint64_t seq = 0, bytes;
	int rc = ms_rec_need_u64(r, "bytes", &bytes);
	if (rc < 0)
		return rc;
	ms_rec_u64(r, "seq", &seq);
	run->unattr_bytes += bytes;
	run->unattr_copies++;
	with_copy(run, p, (struct pending){ .seq = seq, .tensor = NO_IDX, .bytes = bytes, .kind = 1 });
	return 0;
}

static int rec_problem(struct ms_run *run, struct priv *p, struct ms_record *r)
{
	uint64_t seq = 0, tid;
	ms_rec_u64(r, "seq", &seq);
	const char *kind = ms_rec_get(r, "kind");
	enum ms_problem_kind k;
	if (kind && strcmp(kind, "misaligned") == 0)
		k = MS_PB_MISALIGNED;
	else if (kind && strcmp(kind, "straddle") == 0)
		k = MS_PB_STRADDLE;
	else
		return 0; /* a kind this version does not know: forward compatible */
	size_t ti = ms_rec_u64(r, "tensor", &tid) == 0 ? tensor_idx(p, tid) : NO_IDX;
	if (ti != NO_IDX) {
		if (k == MS_PB_MISALIGNED)
			run->tensors[ti].misaligned++;
		else
			run->tensors[ti].straddle++;
	}
	with_copy(run, p, (struct pending){ .seq = seq, .tensor = ti, .kind = 2, .pkind = k });
	return 0;
}

static int rec_complete(struct ms_run *run, struct priv *p, struct ms_record *r)
{
	uint64_t t = 0, loads = 0;
	ms_rec_u64(r, "t", &t);
	ms_rec_u64(r, "loads", &loads);
	size_t li = layer_idx(run, p, r);
	note_time(run, t);
	run->completes++;
	if (li == NO_IDX)
		return 0;
	struct ms_layer *l = &run->layers[li];
	if (l->complete_t == MS_NO_TIME)
		l->complete_t = t;
	l->loads++;
	if (GROW(run->completions, p->cap_completions, run->ncompletions) < 0)
		return -ENOMEM;
	run->completions[run->ncompletions++] = (struct ms_completion){ t, li, loads ? loads : l->loads };
	return 0;
}

static int rec_mem(struct ms_run *run, struct ms_record *r)
{
	uint64_t t = 0, res = 0, mat = 0, staged = 0, scratch = 0;
	ms_rec_u64(r, "t", &t);
	ms_rec_u64(r, "reserved", &res);
	ms_rec_u64(r, "materialized", &mat);
	ms_rec_u64(r, "staged", &staged);
	ms_rec_u64(r, "scratch", &scratch);
	note_time(run, t);
	run->has_mem = true;
	if (res > run->reserved_peak)
		run->reserved_peak = res;
	if (mat > run->materialized_peak) {
		run->materialized_peak = mat;
		run->materialized_peak_t = t;
	}
	if (staged > run->staged_peak)
		run->staged_peak = staged;
	run->scratch = scratch;
	ms_series_push(&run->reserved, t, res);
	ms_series_push(&run->materialized, t, mat);
	ms_series_push(&run->staged, t, staged);
	return 0;
}

static int rec_materialize(struct ms_run *run, struct priv *p, struct ms_record *r, bool release)
{
	uint64_t t = 0, bytes = 0, ok = 1, dur = 0;
	ms_rec_u64(r, "t", &t);
	ms_rec_u64(r, "dur", &dur);
	ms_rec_u64(r, "bytes", &bytes);
	ms_rec_u64(r, "ok", &ok);
	note_time(run, t + dur);
	size_t li = layer_idx(run, p, r);
	if (li == NO_IDX)
		return 0;
	struct ms_layer *l = &run->layers[li];
	if (release) {
		/* The layer is back on meta: its next load counts afresh (DESIGN.md). */
		l->releases++;
		for (size_t i = 0; i < run->ntensors; i++) {
			struct ms_tensor *tn = &run->tensors[i];
			if (tn->layer != li)
				continue;
			tn->copied = 0;
			ms_rangeset_free(&tn->cov);
		}
		return 0;
	}
	l->materializations++;
	l->materialized_bytes = bytes;
	if (ok) {
		l->materialize_ns += dur;
		if (dur > l->materialize_max_ns)
			l->materialize_max_ns = dur;
	}
	if (!ok)
		l->materialize_failed++;
	else if (l->materialized_t == MS_NO_TIME)
		l->materialized_t = t + dur;
	return 0;
}

static int rec_misc(struct ms_run *run, struct priv *p, struct ms_record *r)
{
	const char *ty = r->type;
	uint64_t u, t = 0;
	if (strcmp(ty, MS_REC_BIND) == 0) {
		uint64_t tid, dev;
		size_t ti;
		if (ms_rec_u64(r, "tensor", &tid) == 0 && ms_rec_u64(r, "dev", &dev) == 0 &&
		    (ti = tensor_idx(p, tid)) != NO_IDX)
			run->tensors[ti].dev = dev;
	} else if (strcmp(ty, MS_REC_FINAL) == 0) {
		uint64_t tid;
		size_t ti;
		if (ms_rec_u64(r, "tensor", &tid) == 0 && (ti = tensor_idx(p, tid)) != NO_IDX) {
			struct ms_tensor *tn = &run->tensors[ti];
			tn->has_final = true;
			ms_rec_u64(r, "copied", &tn->final_copied);
			ms_rec_u64(r, "covered", &tn->final_covered);
		}
	} else if (strcmp(ty, MS_REC_FOOTER) == 0) {
		if (ms_rec_u64(r, "t", &t) == 0)
			note_time(run, t);
		ms_rec_u64(r, "events", &run->footer_events);
		ms_rec_u64(r, "dropped", &run->dropped);
	} else if (strcmp(ty, MS_REC_LAUNCH) == 0) {
		ms_rec_u64(r, "t", &t);
		note_time(run, t);
		if (!run->launches++)
			run->first_launch_t = t;
	} else if (strcmp(ty, MS_REC_MARK) == 0 || strcmp(ty, MS_REC_WARN) == 0) {
		bool mark = ty[0] == 'm';
		ms_rec_u64(r, "t", &t);
		note_time(run, t);
		const char *s = ms_rec_str(r, mark ? "name" : "msg");
		if (mark) {
			if (GROW(run->marks, p->cap_marks, run->nmarks) < 0)
				return -ENOMEM;
			run->marks[run->nmarks].t = t;
			run->marks[run->nmarks].tid = ms_rec_u64(r, "tid", &u) == 0 ? u : 0;
			run->marks[run->nmarks++].name = dup_or_empty(s);
		} else if (run->nwarns < WARN_MAX) {
			if (GROW(run->warns, p->cap_warns, run->nwarns) < 0)
				return -ENOMEM;
			run->warns[run->nwarns].t = t;
			run->warns[run->nwarns++].msg = dup_or_empty(s);
		}
	} else if (strcmp(ty, MS_REC_OPTION) == 0) {
		const char *k = ms_rec_str(r, "key"), *v = ms_rec_str(r, "value");
		if (GROW(run->options, p->cap_options, run->noptions) < 0)
			return -ENOMEM;
		char *kv = malloc(strlen(k ? k : "") + strlen(v ? v : "") + 2);
		if (!kv)
			return -ENOMEM;
		sprintf(kv, "%s=%s", k ? k : "", v ? v : "");
		run->options[run->noptions++] = kv;
	} else if (strcmp(ty, MS_REC_MODULE) == 0) {
		if (GROW(run->modules, p->cap_modules, run->nmodules) < 0)
			return -ENOMEM;
		struct ms_module *m = &run->modules[run->nmodules++];
		memset(m, 0, sizeof(*m));
		ms_rec_u64(r, "id", &m->id);
		ms_rec_u64(r, "base", &m->base);
		ms_rec_u64(r, "end", &m->end);
		m->path = dup_or_empty(ms_rec_str(r, "path"));
		const char *b = dash_empty(ms_rec_str(r, "buildid"));
		m->buildid = b && *b ? strdup(b) : NULL;
	} else if (strcmp(ty, MS_REC_STACK) == 0) {
		uint64_t id, parent = 0, pc = 0;
		int rc = ms_rec_need_u64(r, "id", &id);
		if (rc < 0)
			return rc;
		ms_rec_u64(r, "parent", &parent);
		ms_rec_u64(r, "pc", &pc);
		if (GROW(run->stacks, p->cap_stacks, run->nstacks) < 0)
			return -ENOMEM;
		run->stacks[run->nstacks++] = (struct ms_stack_node){ (uint32_t)id, (uint32_t)parent, pc };
	}
	return 0;
}

static int on_record(struct ms_record *r, void *user)
{
	struct ms_run *run = user;
	struct priv *p = run->priv;
	const char *ty = r->type;
	switch (ty[0]) {
	case 'c':
		if (strcmp(ty, MS_REC_COPY) == 0)
			return rec_copy(run, p, r);
		if (strcmp(ty, MS_REC_COMPLETE) == 0)
			return rec_complete(run, p, r);
		break;
	case 'a':
		if (strcmp(ty, MS_REC_ATTR) == 0)
			return rec_attr(run, p, r);
		if (strcmp(ty, MS_REC_ALLOC) == 0)
			return rec_alloc(run, p, r, false);
		break;
	case 'f':
		if (strcmp(ty, MS_REC_FREE) == 0)
			return rec_alloc(run, p, r, true);
		break;
	case 'm':
		if (strcmp(ty, MS_REC_MEMSET) == 0)
			return rec_memset(run, p, r);
		if (strcmp(ty, MS_REC_MEM) == 0)
			return rec_mem(run, r);
		if (strcmp(ty, MS_REC_MATERIALIZE) == 0)
			return rec_materialize(run, p, r, false);
		break;
	case 'r':
		if (strcmp(ty, MS_REC_RELEASE) == 0)
			return rec_materialize(run, p, r, true);
		break;
	case 'u':
		if (strcmp(ty, MS_REC_UNATTR) == 0)
			return rec_unattr(run, p, r);
		break;
	case 'p':
		if (strcmp(ty, MS_REC_PROBLEM) == 0)
			return rec_problem(run, p, r);
		break;
	case 'l':
		if (strcmp(ty, MS_REC_LAYER) == 0)
			return rec_layer(run, p, r);
		break;
	case 't':
		if (strcmp(ty, MS_REC_TENSOR) == 0)
			return rec_tensor(run, p, r);
		break;
	case 'h':
		if (strcmp(ty, MS_REC_HEADER) == 0)
			return rec_header(run, r);
		break;
	default: break;
	}
	return rec_misc(run, p, r);
}

/* --------------------------------------------------------------- finishing */

enum ms_status ms_tensor_status(const struct ms_tensor *t)
{
	if (t->skip)
		return MS_ST_SKIPPED;
	if (t->covered == 0 && t->elems > 0)
		return MS_ST_NEVER;
	if (t->covered < t->elems)
		return MS_ST_PARTIAL;
	return t->copied > t->covered ? MS_ST_TWICE : MS_ST_COMPLETE;
}

/* Worse statuses rank higher. */
static int status_rank(enum ms_status s)
{
	static const int rank[MS_ST_COUNT] = { [MS_ST_SKIPPED] = 0,
		                               [MS_ST_COMPLETE] = 1,
		                               [MS_ST_TWICE] = 2,
		                               [MS_ST_PARTIAL] = 3,
		                               [MS_ST_NEVER] = 4 };
	return rank[s];
}

static void finish_layers(struct ms_run *run)
{
	for (size_t i = 0; i < run->nlayers; i++)
		run->layers[i].status = MS_ST_SKIPPED;
	for (size_t i = 0; i < run->ntensors; i++) {
		struct ms_tensor *t = &run->tensors[i];
		t->covered = ms_rangeset_total(&t->cov);
		if (t->layer == NO_IDX)
			continue;
		struct ms_layer *l = &run->layers[t->layer];
		if (t->skip) {
			l->nskipped++;
			continue;
		}
		l->ntensors++;
		l->expected += t->elems;
		l->covered += t->covered;
		l->copied += t->copied;
		l->bytes += t->elems * t->esize;
		l->copied_bytes += t->copied * t->esize;
		if (t->first_t != MS_NO_TIME && (l->first_t == MS_NO_TIME || t->first_t < l->first_t))
			l->first_t = t->first_t;
		if (t->last_t != MS_NO_TIME && (l->last_t == MS_NO_TIME || t->last_t > l->last_t))
			l->last_t = t->last_t;
		enum ms_status s = ms_tensor_status(t);
		if (l->ntensors == 1 || status_rank(s) > status_rank(l->status))
			l->status = s;
	}
	for (size_t i = 0; i < run->nlayers; i++) {
		struct ms_layer *l = &run->layers[i];
		/* A layer some of whose tensors arrived is partial, not never loaded; the
		 * tensor that never arrived is its own problem. */
		if (l->status == MS_ST_NEVER && l->covered > 0)
			l->status = MS_ST_PARTIAL;
		if (l->first_t != MS_NO_TIME && l->last_t > l->first_t)
			l->gbps = (double)l->copied_bytes / (double)(l->last_t - l->first_t);
		if (l->ntensors)
			run->layers_counted++;
		if (l->ntensors && (l->status == MS_ST_COMPLETE || l->status == MS_ST_TWICE))
			run->layers_complete++;
	}
}

static struct ms_problem *new_problem(struct ms_run *run, size_t *cap, enum ms_problem_kind k, size_t tensor,
                                      size_t layer)
{
	if (GROW(run->problems, *cap, run->nproblems) < 0)
		return NULL;
	struct ms_problem *pb = &run->problems[run->nproblems++];
	memset(pb, 0, sizeof(*pb));
	pb->kind = k;
	pb->tensor = tensor;
	pb->layer = layer;
	run->problem_kinds[k]++;
	return pb;
}

/* Top call sites of a problem from the (kind, tensor, stack) accumulator. */
static void problem_sites(struct priv *p, struct ms_problem *pb)
{
	for (size_t i = 0; i < p->npb; i++) {
		const struct pb_site *s = &p->pb[i];
		if (s->kind != pb->kind || s->tensor != pb->tensor)
			continue;
		pb->count += s->count;
		pb->amount += s->bytes;
		/* Insert by bytes (desc), then stack (asc), keeping the top MS_TOP_STACKS. */
		struct ms_site_share ns = { s->stack, s->bytes, s->count };
		for (int j = 0; j < MS_TOP_STACKS; j++) {
			struct ms_site_share *c = &pb->sites[j];
			if (!c->count || ns.bytes > c->bytes ||
			    (ns.bytes == c->bytes && ns.stack < c->stack)) {
				struct ms_site_share tmp = *c;
				*c = ns;
				ns = tmp;
				if (!ns.count)
					break;
			}
		}
	}
}

static int sort_shares(const void *a, const void *b)
{
	const struct ms_site_share *x = a, *y = b;
	if (!x->count || !y->count)
		return (int)!x->count - (int)!y->count;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return (x->stack > y->stack) - (x->stack < y->stack);
}

static int tensor_problems(struct ms_run *run, struct priv *p, size_t *cap)
{
	for (size_t i = 0; i < run->ntensors; i++) {
		struct ms_tensor *t = &run->tensors[i];
		if (t->skip)
			continue;
		enum ms_status s = ms_tensor_status(t);
		struct ms_problem *pb = NULL;
		if (s == MS_ST_NEVER || s == MS_ST_PARTIAL || s == MS_ST_TWICE) {
			enum ms_problem_kind k = s == MS_ST_NEVER     ? MS_PB_NEVER_LOADED
			                         : s == MS_ST_PARTIAL ? MS_PB_PARTIAL
			                                              : MS_PB_LOADED_TWICE;
			if (!(pb = new_problem(run, cap, k, i, t->layer)))
				return -ENOMEM;
			pb->count = t->attrs;
			if (s == MS_ST_NEVER) {
				pb->amount = t->elems;
				snprintf(pb->detail, sizeof(pb->detail), "0 of %" PRIu64 " elements loaded",
				         t->elems);
			} else if (s == MS_ST_PARTIAL) {
				pb->amount = t->elems - t->covered;
				snprintf(pb->detail, sizeof(pb->detail),
				         "covered %" PRIu64 " of %" PRIu64 " elements (%" PRIu64 " missing)",
				         t->covered, t->elems, t->elems - t->covered);
			} else {
				pb->amount = t->copied - t->covered;
				snprintf(pb->detail, sizeof(pb->detail),
				         "copied %" PRIu64 " elements for %" PRIu64 " unique (%.2fx)",
				         t->copied, t->covered,
				         t->covered ? (double)t->copied / (double)t->covered : 0.0);
			}
			memcpy(pb->sites, t->sites, sizeof(pb->sites));
			qsort(pb->sites, MS_TOP_STACKS, sizeof(pb->sites[0]), sort_shares);
		}
		for (int k = MS_PB_MISALIGNED; k <= MS_PB_STRADDLE; k++) {
			uint64_t n = k == MS_PB_MISALIGNED ? t->misaligned : t->straddle;
			if (!n)
				continue;
			if (!(pb = new_problem(run, cap, (enum ms_problem_kind)k, i, t->layer)))
				return -ENOMEM;
			problem_sites(p, pb);
			pb->count = n;
			snprintf(pb->detail, sizeof(pb->detail), "%" PRIu64 " cop%s %s", n,
			         n == 1 ? "y" : "ies",
			         k == MS_PB_MISALIGNED ? "not a multiple of the element size"
			                               : "straddling the tensor end");
		}
		if (t->has_final && (t->final_copied != t->copied || t->final_covered != t->covered)) {
			if (!(pb = new_problem(run, cap, MS_PB_FINAL_MISMATCH, i, t->layer)))
				return -ENOMEM;
			pb->count = 1;
			snprintf(pb->detail, sizeof(pb->detail),
			         "shim counted copied %" PRIu64 " covered %" PRIu64
			         ", trace records give %" PRIu64 " and %" PRIu64,
			         t->final_copied, t->final_covered, t->copied, t->covered);
		}
	}
	return 0;
}

static int cmp_problem(const void *a, const void *b)
{
	const struct ms_problem *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->layer != y->layer)
		return x->layer < y->layer ? -1 : 1;
	return (x->tensor > y->tensor) - (x->tensor < y->tensor);
}

static int run_problems(struct ms_run *run, struct priv *p)
{
	size_t cap = 0;
	struct ms_problem *pb;
	if (tensor_problems(run, p, &cap) < 0)
		return -ENOMEM;
	if (run->unattr_bytes) {
		if (!(pb = new_problem(run, &cap, MS_PB_UNATTRIBUTED, NO_IDX, NO_IDX)))
			return -ENOMEM;
		problem_sites(p, pb);
		pb->count = run->unattr_copies;
		pb->amount = run->unattr_bytes;
		snprintf(pb->detail, sizeof(pb->detail),
		         "%" PRIu64 " host-to-device bytes in %" PRIu64 " cop%s claimed by no tensor",
		         run->unattr_bytes, run->unattr_copies, run->unattr_copies == 1 ? "y" : "ies");
	}
	if (run->launches) {
		if (!(pb = new_problem(run, &cap, MS_PB_LAUNCH_HAZARD, NO_IDX, NO_IDX)))
			return -ENOMEM;
		pb->count = run->launches;
		snprintf(pb->detail, sizeof(pb->detail),
		         "%" PRIu64 " kernel launch%s while deferred memory existed (first at %.3f s)",
		         run->launches, run->launches == 1 ? "" : "es", (double)run->first_launch_t / 1e9);
	}
	for (size_t i = 0; i < run->nlayers; i++) {
		struct ms_layer *l = &run->layers[i];
		if (!l->materialize_failed)
			continue;
		if (!(pb = new_problem(run, &cap, MS_PB_MATERIALIZE, NO_IDX, i)))
			return -ENOMEM;
		pb->count = l->materialize_failed;
		pb->amount = l->materialized_bytes;
		snprintf(pb->detail, sizeof(pb->detail), "%" PRIu64 " of %" PRIu64 " materializations failed",
		         l->materialize_failed, l->materializations);
	}
	if (run->nproblems > 1)
		qsort(run->problems, run->nproblems, sizeof(*run->problems), cmp_problem);
	return 0;
}

static int cmp_site(const void *a, const void *b)
{
	const struct ms_callsite *x = a, *y = b;
	if (x->copy_bytes != y->copy_bytes)
		return x->copy_bytes > y->copy_bytes ? -1 : 1;
	if (x->alloc_bytes != y->alloc_bytes)
		return x->alloc_bytes > y->alloc_bytes ? -1 : 1;
	return (x->stack > y->stack) - (x->stack < y->stack);
}

static int cmp_api(const void *a, const void *b)
{
	const struct ms_api_stat *x = a, *y = b;
	int c = strcmp(x->kind, y->kind);
	return c ? c : strcmp(x->name, y->name);
}

static void priv_free(struct ms_run *run)
{
	struct priv *p = run->priv;
	if (!p)
		return;
	ms_u64map_free(&p->layer_ids);
	ms_u64map_free(&p->tensor_ids);
	ms_u64map_free(&p->live);
	ms_u64map_free(&p->site_ids);
	ms_u64map_free(&p->pb_ids);
	free(p->ring);
	free(p->pend);
	free(p->pb);
	free(p);
	run->priv = NULL;
}

static int finish_run(struct ms_run *run)
{
	struct priv *p = run->priv;
	if (p->rate_bucket_bytes)
		ms_series_push(&run->copy_rate, p->rate_bucket_t, p->rate_bucket_bytes);
	finish_layers(run);
	int rc = run_problems(run, p);
	if (rc < 0)
		return rc;
	if (run->nsites > 1)
		qsort(run->sites, run->nsites, sizeof(*run->sites), cmp_site);
	if (run->napis > 1)
		qsort(run->apis, run->napis, sizeof(*run->apis), cmp_api);
	if (run->end_t == MS_NO_TIME)
		run->end_t = 0;
	return 0;
}

/* ------------------------------------------------------------------ API */

int ms_run_load(struct ms_run *run, const char *path, const struct ms_model_opts *opts)
{
	static const struct ms_model_opts defaults;
	char err[512];
	struct ms_trace_info info;
	memset(run, 0, sizeof(*run));
	run->rank = run->world = run->pid = run->ppid = -1;
	run->copy_first_t = run->copy_last_t = run->first_launch_t = MS_NO_TIME;
	run->end_t = MS_NO_TIME;
	run->path = strdup(path);
	struct priv *p = calloc(1, sizeof(*p));
	if (p) {
		p->ring = calloc(COPY_RING, sizeof(*p->ring));
		p->pend = calloc(PENDING_MAX, sizeof(*p->pend));
		p->opts = opts ? opts : &defaults;
	}
	run->priv = p;
	if (!run->path || !p || !p->ring || !p->pend) {
		ms_run_free(run);
		fprintf(stderr, "metashim: %s: out of memory\n", path);
		return -ENOMEM;
	}
	int rc = ms_trace_read(path, on_record, run, &info, err, sizeof(err));
	if (rc == -ENOMEM && !err[0])
		snprintf(err, sizeof(err), "%s: out of memory", path);
	if (rc < 0) {
		fprintf(stderr, "metashim: %s\n", err);
		ms_run_free(run);
		return rc;
	}
	run->lines = info.lines;
	run->has_footer = info.footer;
	run->partial_line = info.partial_line;
	if (!run->fmt)
		run->fmt = info.version;
	if (!p->opts->quiet && (!info.footer || info.partial_line))
		fprintf(stderr,
		        "metashim: warning: %s has no footer (the program was cut short?); "
		        "read its %" PRIu64 " whole lines%s\n",
		        path, info.lines, info.partial_line ? ", ignored a partial last line" : "");
	rc = finish_run(run);
	priv_free(run);
	if (rc < 0) {
		fprintf(stderr, "metashim: %s: out of memory\n", path);
		ms_run_free(run);
	}
	return rc;
}

void ms_run_free(struct ms_run *run)
{
	priv_free(run);
	free(run->path);
	free(run->shim);
	free(run->host);
	free(run->exe);
	free(run->argv);
	free(run->cwd);
	free(run->mode);
	for (size_t i = 0; i < run->noptions; i++)
		free(run->options[i]);
	free(run->options);
	free(run->apis);
	ms_series_free(&run->live);
	ms_series_free(&run->reserved);
	ms_series_free(&run->materialized);
	ms_series_free(&run->staged);
	ms_series_free(&run->copy_rate);
	for (size_t i = 0; i < run->nlayers; i++)
		free(run->layers[i].name);
	free(run->layers);
	for (size_t i = 0; i < run->ntensors; i++) {
		struct ms_tensor *t = &run->tensors[i];
		free(t->name);
		free(t->shape);
		free(t->stride);
		free(t->file);
		ms_rangeset_free(&t->cov);
	}
	free(run->tensors);
	free(run->completions);
	free(run->problems);
	free(run->sites);
	free(run->stacks);
	for (size_t i = 0; i < run->nmodules; i++) {
		free(run->modules[i].path);
		free(run->modules[i].buildid);
	}
	free(run->modules);
	for (size_t i = 0; i < run->nmarks; i++)
		free(run->marks[i].name);
	free(run->marks);
	for (size_t i = 0; i < run->nwarns; i++)
		free(run->warns[i].msg);
	free(run->warns);
	memset(run, 0, sizeof(*run));
}

int ms_model_load(struct ms_model *m, char *const *paths, size_t npaths, const struct ms_model_opts *opts)
{
	memset(m, 0, sizeof(*m));
	m->runs = calloc(npaths ? npaths : 1, sizeof(*m->runs));
	if (!m->runs)
		return -ENOMEM;
	for (size_t i = 0; i < npaths; i++) {
		int rc = ms_run_load(&m->runs[i], paths[i], opts);
		if (rc < 0) {
			ms_model_free(m);
			return rc;
		}
		m->nruns++;
	}
	return 0;
}

void ms_model_free(struct ms_model *m)
{
	for (size_t i = 0; i < m->nruns; i++)
		ms_run_free(&m->runs[i]);
	free(m->runs);
	memset(m, 0, sizeof(*m));
}

const char *ms_status_name(enum ms_status s)
{
	static const char *const n[MS_ST_COUNT] = { "complete", "twice", "partial", "never", "skipped" };
	return s < MS_ST_COUNT ? n[s] : "?";
}

const char *ms_problem_name(enum ms_problem_kind k)
{
	static const char *const n[MS_PB_COUNT] = {
		"never loaded", "partial",       "loaded twice",       "misaligned",     "straddle",
		"unattributed", "launch hazard", "materialize failed", "count mismatch",
	};
	return k < MS_PB_COUNT ? n[k] : "?";
}

const char *ms_problem_key(enum ms_problem_kind k)
{
	static const char *const n[MS_PB_COUNT] = {
		"never_loaded", "partial",       "loaded_twice",       "misaligned",     "straddle",
		"unattributed", "launch_hazard", "materialize_failed", "final_mismatch",
	};
	return k < MS_PB_COUNT ? n[k] : "?";
}

size_t ms_run_problem_total(const struct ms_run *run)
{
	size_t n = 0;
	for (int k = 0; k < MS_PB_COUNT; k++)
		n += run->problem_kinds[k];
	return n;
}

void ms_run_label(const struct ms_run *run, char *buf, size_t cap)
{
	if (run->rank >= 0)
		snprintf(buf, cap, "rank %" PRId64, run->rank);
	else
		snprintf(buf, cap, "pid %" PRId64, run->pid);
}

size_t ms_run_stack_frames(const struct ms_run *run, uint32_t stack, uint64_t *pcs, size_t cap)
{
	/* Stack records arrive with ids in increasing order as the trie grows, so a
	 * binary search over run->stacks finds a node; fall back to a scan. */
	size_t n = 0;
	while (stack && n < cap) {
		const struct ms_stack_node *node = NULL;
		size_t a = 0, b = run->nstacks;
		while (a < b) {
			size_t mid = a + (b - a) / 2;
			if (run->stacks[mid].id < stack)
				a = mid + 1;
			else
				b = mid;
		}
		if (a < run->nstacks && run->stacks[a].id == stack)
			node = &run->stacks[a];
		for (size_t i = 0; !node && i < run->nstacks; i++)
			if (run->stacks[i].id == stack)
				node = &run->stacks[i];
		if (!node || node->parent == stack)
			break;
		pcs[n++] = node->pc;
		stack = node->parent;
	}
	return n;
}
