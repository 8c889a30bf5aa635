/* export_perfetto.c — `metashim export --format perfetto`: Chrome trace-event JSON
 * for ui.perfetto.dev and chrome://tracing. One process per trace (rank), a track
 * per thread for the API calls, a track per stream for the copies on it, lanes of
 * layer-load spans, memory counters, completion/mark/launch instants, and the
 * materialize/release slices of deferred modes.
 *
 * The model keeps no events, so each trace is streamed again: memory stays bounded
 * by threads, streams, call sites and live pointers, never by events. Events are
 * written one per line as they come (deterministic: trace order, fixed formats);
 * times are µs with the ns kept as three decimals. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "model.h"
#include "trace_reader.h"
#include "u64map.h"

#ifndef MS_VERSION
#define MS_VERSION "unknown"
#endif

/* Synthetic track ids, far above any Linux tid (pid_max <= 2^22). */
#define TID_STREAM_BASE 2000000000ull /* + stream index */
#define TID_LANE_BASE   2100000000ull /* + layer-load lane */
#define TID_VMM         2140000000ull /* materialize / release */
#define LANES_MAX       16            /* layer-load lanes before overlaps are allowed */
#define PEND_TENSORS    4             /* tensor names listed in a copy's args */

/* ------------------------------------------------------------ JSON writing */

struct jw {
	FILE *f;
	bool first_ev;  /* no event written yet (no comma before the next) */
	bool first_arg; /* no arg written yet in the open args object */
};

/* A JSON string; invalid UTF-8 (trace strings are raw bytes) becomes U+FFFD so that
 * strict parsers accept the file. Runs that need no escape go out in one fwrite:
 * this is the exporter's inner loop. */
static void put_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	fputc('"', f);
	for (;;) {
		const unsigned char *run = p;
		size_t n = 0;
		while (*p >= 0x20 && *p != '"' && *p != '\\' && (n = ms_utf8_len(p)) != 0)
			p += n;
		if (p > run)
			fwrite(run, 1, (size_t)(p - run), f);
		if (!*p)
			break;
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputs("\\ufffd", f);
		p++;
	}
	fputc('"', f);
}

/* ns as µs with three decimals: exact, and stable across platforms (no float). */
static void put_us(FILE *f, uint64_t ns)
{
	fprintf(f, "%" PRIu64 ".%03u", ns / 1000, (unsigned)(ns % 1000));
}

/* Opens {"ph":..,"name":..,"cat":..,"pid":..,"tid":..,"ts":..; the caller adds fields
 * and args, then ev_end. A NULL cat or tid leaves the field out. */
static void ev_begin(struct jw *w, const char *ph, const char *name, const char *cat, uint64_t pid,
                     const uint64_t *tid, uint64_t ts_ns)
{
	fputs(w->first_ev ? "\n" : ",\n", w->f);
	w->first_ev = false;
	fprintf(w->f, "{\"ph\":\"%s\",\"name\":", ph);
	put_str(w->f, name);
	if (cat) {
		fputs(",\"cat\":", w->f);
		put_str(w->f, cat);
	}
	fprintf(w->f, ",\"pid\":%" PRIu64, pid);
	if (tid)
		fprintf(w->f, ",\"tid\":%" PRIu64, *tid);
	fputs(",\"ts\":", w->f);
	put_us(w->f, ts_ns);
}

static void ev_dur(struct jw *w, uint64_t dur_ns)
{
	fputs(",\"dur\":", w->f);
	put_us(w->f, dur_ns);
}

static void args_begin(struct jw *w)
{
	fputs(",\"args\":{", w->f);
	w->first_arg = true;
}

static void arg_key(struct jw *w, const char *key)
{
	if (!w->first_arg)
		fputc(',', w->f);
	w->first_arg = false;
	put_str(w->f, key);
	fputc(':', w->f);
}

static void arg_s(struct jw *w, const char *key, const char *v)
{
	arg_key(w, key);
	put_str(w->f, v);
}

static void arg_u(struct jw *w, const char *key, uint64_t v)
{
	arg_key(w, key);
	fprintf(w->f, "%" PRIu64, v);
}

static void arg_x(struct jw *w, const char *key, uint64_t v)
{
	char hex[24];
	snprintf(hex, sizeof(hex), "0x%" PRIx64, v);
	arg_s(w, key, hex);
}

static void args_end(struct jw *w)
{
	fputc('}', w->f);
}

static void ev_end(struct jw *w)
{
	fputc('}', w->f);
}

/* A metadata record naming or ordering a process or thread. */
static void meta_name(struct jw *w, const char *what, uint64_t pid, const uint64_t *tid, const char *name)
{
	ev_begin(w, "M", what, NULL, pid, tid, 0);
	args_begin(w);
	arg_s(w, "name", name);
	args_end(w);
	ev_end(w);
}

static void meta_sort(struct jw *w, const char *what, uint64_t pid, const uint64_t *tid, uint64_t idx)
{
	ev_begin(w, "M", what, NULL, pid, tid, 0);
	args_begin(w);
	arg_u(w, "sort_index", idx);
	args_end(w);
	ev_end(w);
}

static void counter(struct jw *w, uint64_t pid, const char *name, uint64_t ts, uint64_t bytes)
{
	ev_begin(w, "C", name, "memory", pid, NULL, ts);
	args_begin(w);
	arg_u(w, "bytes", bytes);
	args_end(w);
	ev_end(w);
}

/* ------------------------------------------------------------ one trace */

/* An id -> index lookup over the model's layers or tensors (sorted pairs). */
struct idx {
	uint64_t id;
	size_t i;
};

static int idx_cmp(const void *a, const void *b)
{
	const struct idx *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static size_t idx_find(const struct idx *v, size_t n, uint64_t id)
{
	size_t a = 0, b = n;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (v[mid].id < id)
			a = mid + 1;
		else
			b = mid;
	}
	return a < n && v[a].id == id ? v[a].i : SIZE_MAX;
}

/* A copy waiting for the attr/unattr/problem records of the same seq that follow it. */
struct pending {
	bool on;
	uint64_t seq, t, dur, tid, dst, src, bytes, stream, rc, stack, rows, deferred;
	char api[48];
	char dir[8];
	size_t tensors[PEND_TENSORS]; /* first tensors attributed (indexes into run->tensors) */
	size_t ntensors;              /* attr records seen */
	uint64_t elems;               /* elements attributed in all */
	uint64_t unattr;              /* bytes no tensor claimed */
	char problem[32];             /* last problem kind named for this copy */
};

struct pf_run {
	struct jw *w;
	const struct ms_run *run;
	uint64_t pid; /* process id in the JSON */
	uint64_t off; /* ns added to every time (aligns ranks on wall clock) */
	struct idx *tensors, *layers;
	struct ms_u64map tids; /* tid -> 1 once named */
	size_t ntids;
	struct ms_u64map streams; /* stream handle -> index */
	size_t nstreams;
	struct ms_u64map live; /* ptr -> bytes of live allocations */
	uint64_t live_bytes;
	struct ms_u64map sites; /* stack id -> index into names */
	char **names;           /* call-site names, by first use */
	size_t nnames;
	struct pending pend;
	int err; /* -ENOMEM seen */
};

static uint64_t *tid_ref(uint64_t *slot, uint64_t v)
{
	*slot = v;
	return slot;
}

/* Name a thread track the first time it is used. */
static uint64_t thread_track(struct pf_run *p, uint64_t tid)
{
	uint64_t dummy, t;
	if (ms_u64map_get(&p->tids, tid, &dummy))
		return tid;
	if (ms_u64map_put(&p->tids, tid, 1) < 0) {
		p->err = -ENOMEM;
		return tid;
	}
	char name[64];
	if ((int64_t)tid == p->run->pid)
		snprintf(name, sizeof(name), "main thread %" PRIu64, tid);
	else
		snprintf(name, sizeof(name), "thread %" PRIu64, tid);
	meta_name(p->w, "thread_name", p->pid, tid_ref(&t, tid), name);
	meta_sort(p->w, "thread_sort_index", p->pid, &t, p->ntids++);
	return tid;
}

/* The track of a stream (its own named thread), created on first use. */
static uint64_t stream_track(struct pf_run *p, uint64_t stream)
{
	uint64_t i, t;
	if (ms_u64map_get(&p->streams, stream, &i))
		return TID_STREAM_BASE + i;
	i = p->nstreams++;
	if (ms_u64map_put(&p->streams, stream, i) < 0)
		p->err = -ENOMEM;
	char name[64];
	if (stream)
		snprintf(name, sizeof(name), "stream 0x%" PRIx64, stream);
	else
		snprintf(name, sizeof(name), "stream 0 (default)");
	meta_name(p->w, "thread_name", p->pid, tid_ref(&t, TID_STREAM_BASE + i), name);
	meta_sort(p->w, "thread_sort_index", p->pid, &t, 100000 + i);
	return t;
}

/* Call-site name of a stack, symbolized once per stack id. */
static const char *site_name(struct pf_run *p, uint64_t stack)
{
	uint64_t i;
	if (ms_u64map_get(&p->sites, stack, &i))
		return p->names[i];
	char buf[512];
	ms_callsite_name(p->run, (uint32_t)stack, ms_export_symbolize, buf, sizeof(buf));
	char **v = realloc(p->names, (p->nnames + 1) * sizeof(*v));
	char *s = strdup(buf);
	if (!v || !s || ms_u64map_put(&p->sites, stack, p->nnames) < 0) {
		if (v)
			p->names = v;
		free(s);
		p->err = -ENOMEM;
		return "?";
	}
	p->names = v;
	p->names[p->nnames++] = s;
	return s;
}

static const char *layer_name(const struct pf_run *p, size_t li)
{
	return li < p->run->nlayers ? p->run->layers[li].name : "?";
}

static void copy_args(struct pf_run *p, const struct pending *c)
{
	struct jw *w = p->w;
	args_begin(w);
	arg_s(w, "api", c->api);
	arg_s(w, "direction", c->dir);
	arg_u(w, "bytes", c->bytes);
	arg_x(w, "dst", c->dst);
	arg_x(w, "src", c->src);
	arg_x(w, "stream", c->stream);
	arg_u(w, "seq", c->seq);
	if (c->rows)
		arg_u(w, "rows", c->rows);
	if (c->rc)
		arg_u(w, "rc", c->rc);
	if (c->deferred)
		arg_u(w, "deferred", c->deferred);
	if (c->ntensors) {
		const struct ms_tensor *t = &p->run->tensors[c->tensors[0]];
		arg_s(w, "tensor", t->name);
		if (t->layer != SIZE_MAX)
			arg_s(w, "layer", layer_name(p, t->layer));
		arg_u(w, "elements", c->elems);
		if (c->ntensors > 1) {
			arg_u(w, "tensors", c->ntensors);
			for (size_t i = 1; i < c->ntensors && i < PEND_TENSORS; i++) {
				char key[16];
				snprintf(key, sizeof(key), "tensor_%zu", i + 1);
				arg_s(w, key, p->run->tensors[c->tensors[i]].name);
			}
		}
	}
	if (c->unattr)
		arg_u(w, "unattributed_bytes", c->unattr);
	if (c->problem[0])
		arg_s(w, "problem", c->problem);
	if (c->stack)
		arg_s(w, "site", site_name(p, c->stack));
	args_end(w);
}

/* Write the pending copy: a slice on its thread (the API call) and one on its
 * stream's track, named after what it loaded. */
static void flush_copy(struct pf_run *p)
{
	struct pending *c = &p->pend;
	if (!c->on)
		return;
	c->on = false;
	uint64_t tid = thread_track(p, c->tid);
	ev_begin(p->w, "X", c->api, "copy", p->pid, &tid, p->off + c->t);
	ev_dur(p->w, c->dur);
	copy_args(p, c);
	ev_end(p->w);

	char name[512];
	if (c->ntensors == 1)
		snprintf(name, sizeof(name), "%s", p->run->tensors[c->tensors[0]].name);
	else if (c->ntensors > 1)
		snprintf(name, sizeof(name), "%s +%zu", p->run->tensors[c->tensors[0]].name, c->ntensors - 1);
	else
		snprintf(name, sizeof(name), "%s copy", c->dir);
	uint64_t st = stream_track(p, c->stream);
	ev_begin(p->w, "X", name, "stream", p->pid, &st, p->off + c->t);
	ev_dur(p->w, c->dur);
	copy_args(p, c);
	ev_end(p->w);
}

static uint64_t get(const struct ms_record *r, const char *key)
{
	uint64_t v = 0;
	ms_rec_u64(r, key, &v);
	return v;
}

static void put_fixed(char *dst, size_t cap, const char *s)
{
	snprintf(dst, cap, "%s", s ? s : "?");
}

static void rec_copy(struct pf_run *p, struct ms_record *r)
{
	struct pending *c = &p->pend;
	memset(c, 0, sizeof(*c));
	c->on = true;
	c->seq = get(r, "seq");
	c->t = get(r, "t");
	c->dur = get(r, "dur");
	c->tid = get(r, "tid");
	c->dst = get(r, "dst");
	c->src = get(r, "src");
	c->bytes = get(r, "bytes");
	c->stream = get(r, "stream");
	c->rc = get(r, "rc");
	c->stack = get(r, "stack");
	c->rows = get(r, "rows");
	c->deferred = get(r, "deferred");
	put_fixed(c->api, sizeof(c->api), ms_rec_str(r, "api"));
	put_fixed(c->dir, sizeof(c->dir), ms_rec_str(r, "dir"));
}

/* attr, unattr and problem records refer to the copy just before them. */
static void rec_attr(struct pf_run *p, struct ms_record *r, const char *type)
{
	struct pending *c = &p->pend;
	if (!c->on || get(r, "seq") != c->seq)
		return;
	if (strcmp(type, MS_REC_UNATTR) == 0) {
		c->unattr += get(r, "bytes");
	} else if (strcmp(type, MS_REC_PROBLEM) == 0) {
		put_fixed(c->problem, sizeof(c->problem), ms_rec_str(r, "kind"));
	} else {
		size_t ti = idx_find(p->tensors, p->run->ntensors, get(r, "tensor"));
		if (ti == SIZE_MAX)
			return;
		if (c->ntensors < PEND_TENSORS)
			c->tensors[c->ntensors] = ti;
		c->ntensors++;
		c->elems += get(r, "elems");
	}
}

static void rec_alloc(struct pf_run *p, struct ms_record *r, bool is_free)
{
	uint64_t t = get(r, "t"), dur = get(r, "dur"), ptr = get(r, "ptr"), bytes = get(r, "bytes");
	uint64_t rc = get(r, "rc"), stack = get(r, "stack"), known = 0;
	const char *api = ms_rec_str(r, "api");
	if (is_free && ms_u64map_get(&p->live, ptr, &known) && !bytes)
		bytes = known;
	uint64_t tid = thread_track(p, get(r, "tid"));
	ev_begin(p->w, "X", api ? api : "?", is_free ? "free" : "alloc", p->pid, &tid, p->off + t);
	ev_dur(p->w, dur);
	args_begin(p->w);
	arg_s(p->w, "api", api ? api : "?");
	arg_x(p->w, "ptr", ptr);
	arg_u(p->w, "bytes", bytes);
	arg_x(p->w, "stream", get(r, "stream"));
	if (rc)
		arg_u(p->w, "rc", rc);
	if (get(r, "deferred"))
		arg_u(p->w, "deferred", 1);
	if (stack)
		arg_s(p->w, "site", site_name(p, stack));
	args_end(p->w);
	ev_end(p->w);
	if (rc || !ptr)
		return;
	if (!is_free) {
		uint64_t old;
		if (ms_u64map_get(&p->live, ptr, &old))
			p->live_bytes -= old;
		if (ms_u64map_put(&p->live, ptr, bytes) < 0)
			p->err = -ENOMEM;
		p->live_bytes += bytes;
	} else if (ms_u64map_get(&p->live, ptr, &known)) {
		p->live_bytes -= known;
		ms_u64map_del(&p->live, ptr);
	} else {
		return;
	}
	counter(p->w, p->pid, "allocated", p->off + t + dur, p->live_bytes);
}

static void rec_memset(struct pf_run *p, struct ms_record *r)
{
	uint64_t t = get(r, "t"), dur = get(r, "dur"), stack = get(r, "stack"), rc = get(r, "rc");
	uint64_t stream = get(r, "stream");
	const char *api = ms_rec_str(r, "api");
	uint64_t ids[2] = { thread_track(p, get(r, "tid")), stream_track(p, stream) };
	for (int i = 0; i < 2; i++) {
		ev_begin(p->w, "X", i ? "memset" : api ? api : "?", "memset", p->pid, &ids[i], p->off + t);
		ev_dur(p->w, dur);
		args_begin(p->w);
		arg_s(p->w, "api", api ? api : "?");
		arg_x(p->w, "dst", get(r, "dst"));
		arg_u(p->w, "bytes", get(r, "bytes"));
		arg_u(p->w, "value", get(r, "value"));
		arg_x(p->w, "stream", stream);
		if (rc)
			arg_u(p->w, "rc", rc);
		if (stack)
			arg_s(p->w, "site", site_name(p, stack));
		args_end(p->w);
		ev_end(p->w);
	}
}

static void rec_mem(struct pf_run *p, struct ms_record *r)
{
	uint64_t t = p->off + get(r, "t");
	counter(p->w, p->pid, "reserved", t, get(r, "reserved"));
	counter(p->w, p->pid, "materialized", t, get(r, "materialized"));
	counter(p->w, p->pid, "staged", t, get(r, "staged"));
}

static void rec_vmm(struct pf_run *p, struct ms_record *r, bool release)
{
	uint64_t t = p->off + get(r, "t"), tid = TID_VMM;
	size_t li = idx_find(p->layers, p->run->nlayers, get(r, "layer"));
	char name[512];
	snprintf(name, sizeof(name), "%s %s", release ? "release" : "materialize", layer_name(p, li));
	if (release) {
		ev_begin(p->w, "i", name, "release", p->pid, &tid, t);
		fputs(",\"s\":\"t\"", p->w->f);
	} else {
		ev_begin(p->w, "X", name, "materialize", p->pid, &tid, t);
		ev_dur(p->w, get(r, "dur"));
	}
	args_begin(p->w);
	arg_s(p->w, "layer", layer_name(p, li));
	arg_u(p->w, "bytes", get(r, "bytes"));
	if (release) {
		arg_u(p->w, "backup", get(r, "backup"));
	} else {
		arg_u(p->w, "copies_replayed", get(r, "copies"));
		arg_u(p->w, "ok", get(r, "ok"));
	}
	args_end(p->w);
	ev_end(p->w);
}

/* A thread-scoped instant (mark, launch). */
static void rec_instant(struct pf_run *p, struct ms_record *r, bool mark)
{
	uint64_t tid = thread_track(p, get(r, "tid"));
	const char *s = ms_rec_str(r, mark ? "name" : "api");
	char name[256];
	snprintf(name, sizeof(name), "%s%s", mark ? "" : "launch ", s ? s : "?");
	ev_begin(p->w, "i", name, mark ? "mark" : "launch", p->pid, &tid, p->off + get(r, "t"));
	fputs(",\"s\":\"t\"", p->w->f);
	if (!mark) {
		args_begin(p->w);
		arg_u(p->w, "deferred_bytes", get(r, "deferred"));
		args_end(p->w);
	}
	ev_end(p->w);
}

static void rec_warn(struct pf_run *p, struct ms_record *r)
{
	const char *msg = ms_rec_str(r, "msg");
	ev_begin(p->w, "i", "warning", "warn", p->pid, NULL, p->off + get(r, "t"));
	fputs(",\"s\":\"p\"", p->w->f);
	args_begin(p->w);
	arg_s(p->w, "msg", msg ? msg : "?");
	args_end(p->w);
	ev_end(p->w);
}

static int on_record(struct ms_record *r, void *user)
{
	struct pf_run *p = user;
	const char *ty = r->type;
	if (strcmp(ty, MS_REC_ATTR) == 0 || strcmp(ty, MS_REC_UNATTR) == 0 ||
	    strcmp(ty, MS_REC_PROBLEM) == 0) {
		rec_attr(p, r, ty);
		return 0;
	}
	if (strcmp(ty, MS_REC_BIND) == 0)
		return 0;
	flush_copy(p);
	if (strcmp(ty, MS_REC_COPY) == 0)
		rec_copy(p, r);
	else if (strcmp(ty, MS_REC_ALLOC) == 0 || strcmp(ty, MS_REC_FREE) == 0)
		rec_alloc(p, r, strcmp(ty, MS_REC_FREE) == 0);
	else if (strcmp(ty, MS_REC_MEMSET) == 0)
		rec_memset(p, r);
	else if (strcmp(ty, MS_REC_MEM) == 0)
		rec_mem(p, r);
	else if (strcmp(ty, MS_REC_MATERIALIZE) == 0 || strcmp(ty, MS_REC_RELEASE) == 0)
		rec_vmm(p, r, strcmp(ty, MS_REC_RELEASE) == 0);
	else if (strcmp(ty, MS_REC_MARK) == 0 || strcmp(ty, MS_REC_LAUNCH) == 0)
		rec_instant(p, r, strcmp(ty, MS_REC_MARK) == 0);
	else if (strcmp(ty, MS_REC_WARN) == 0)
		rec_warn(p, r);
	return p->err;
}

/* --------------------------------------------------------- from the model */

static int first_cmp(const void *a, const void *b)
{
	const struct idx *x = a, *y = b; /* id holds first_t here */
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Layer loads (first to last copy) as slices, packed greedily into lanes so that no
 * two slices of one track overlap (the format wants them nested or disjoint). */
static int layer_lanes(struct pf_run *p)
{
	const struct ms_run *r = p->run;
	struct idx *order = malloc((r->nlayers + 1) * sizeof(*order));
	uint64_t lane_end[LANES_MAX];
	size_t n = 0, lanes = 0;
	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < r->nlayers; i++)
		if (r->layers[i].first_t != MS_NO_TIME)
			order[n++] = (struct idx){ r->layers[i].first_t, i };
	qsort(order, n, sizeof(*order), first_cmp);
	for (size_t k = 0; k < n; k++) {
		const struct ms_layer *l = &r->layers[order[k].i];
		uint64_t end = l->last_t != MS_NO_TIME && l->last_t > l->first_t ? l->last_t : l->first_t;
		size_t lane = 0;
		while (lane < lanes && lane_end[lane] > l->first_t)
			lane++;
		if (lane == lanes && lanes < LANES_MAX) {
			uint64_t t;
			char name[32];
			snprintf(name, sizeof(name), lanes ? "layer loads %zu" : "layer loads", lanes + 1);
			meta_name(p->w, "thread_name", p->pid, tid_ref(&t, TID_LANE_BASE + lanes), name);
			meta_sort(p->w, "thread_sort_index", p->pid, &t, 50000 + lanes);
			lanes++;
		} else if (lane == lanes) {
			lane = LANES_MAX - 1; /* out of lanes: overlap rather than drop */
		}
		lane_end[lane] = end;
		uint64_t tid = TID_LANE_BASE + lane;
		ev_begin(p->w, "X", l->name, "layer", p->pid, &tid, p->off + l->first_t);
		ev_dur(p->w, end - l->first_t);
		args_begin(p->w);
		arg_s(p->w, "status", ms_status_name(l->status));
		arg_u(p->w, "tensors", l->ntensors);
		arg_u(p->w, "expected_elements", l->expected);
		arg_u(p->w, "covered_elements", l->covered);
		arg_u(p->w, "copied_elements", l->copied);
		arg_u(p->w, "bytes", l->bytes);
		arg_u(p->w, "copied_bytes", l->copied_bytes);
		arg_u(p->w, "loads", l->loads);
		if (l->gbps > 0) {
			char rate[32];
			snprintf(rate, sizeof(rate), "%.2f GB/s", l->gbps);
			arg_s(p->w, "throughput", rate);
		}
		args_end(p->w);
		ev_end(p->w);
	}
	free(order);
	return 0;
}

/* Layer-complete instants, process-wide (they are about the model, not a thread). */
static void completions(struct pf_run *p)
{
	const struct ms_run *r = p->run;
	for (size_t i = 0; i < r->ncompletions; i++) {
		const struct ms_completion *c = &r->completions[i];
		char name[512];
		snprintf(name, sizeof(name), "complete %s", layer_name(p, c->layer));
		ev_begin(p->w, "i", name, "complete", p->pid, NULL, p->off + c->t);
		fputs(",\"s\":\"p\"", p->w->f);
		args_begin(p->w);
		arg_s(p->w, "layer", layer_name(p, c->layer));
		arg_u(p->w, "loads", c->loads);
		args_end(p->w);
		ev_end(p->w);
	}
}

static void process_meta(struct pf_run *p, size_t order)
{
	const struct ms_run *r = p->run;
	char label[64], name[512];
	const char *exe = r->exe ? strrchr(r->exe, '/') : NULL;
	exe = exe ? exe + 1 : r->exe ? r->exe : "?";
	ms_run_label(r, label, sizeof(label));
	if (r->rank >= 0)
		snprintf(name, sizeof(name), "%s: %s (pid %" PRId64 ")", label, exe, r->pid);
	else
		snprintf(name, sizeof(name), "%s (pid %" PRId64 ")", exe, r->pid);
	meta_name(p->w, "process_name", p->pid, NULL, name);
	meta_sort(p->w, "process_sort_index", p->pid, NULL, order);
	ev_begin(p->w, "M", "process_labels", NULL, p->pid, NULL, 0);
	args_begin(p->w);
	char labels[256];
	snprintf(labels, sizeof(labels), "mode %s, host %s", r->mode ? r->mode : "?",
	         r->host ? r->host : "?");
	arg_s(p->w, "labels", labels);
	args_end(p->w);
	ev_end(p->w);
}

static void pf_run_free(struct pf_run *p)
{
	free(p->tensors);
	free(p->layers);
	ms_u64map_free(&p->tids);
	ms_u64map_free(&p->streams);
	ms_u64map_free(&p->live);
	ms_u64map_free(&p->sites);
	for (size_t i = 0; i < p->nnames; i++)
		free(p->names[i]);
	free(p->names);
}

static int export_run(struct jw *w, const struct ms_run *r, uint64_t pid, uint64_t off, size_t order)
{
	struct pf_run p = { .w = w, .run = r, .pid = pid, .off = off };
	int rc = -ENOMEM;
	p.tensors = malloc((r->ntensors + 1) * sizeof(*p.tensors));
	p.layers = malloc((r->nlayers + 1) * sizeof(*p.layers));
	if (!p.tensors || !p.layers)
		goto out_free;
	for (size_t i = 0; i < r->ntensors; i++)
		p.tensors[i] = (struct idx){ r->tensors[i].id, i };
	for (size_t i = 0; i < r->nlayers; i++)
		p.layers[i] = (struct idx){ r->layers[i].id, i };
	qsort(p.tensors, r->ntensors, sizeof(*p.tensors), idx_cmp);
	qsort(p.layers, r->nlayers, sizeof(*p.layers), idx_cmp);

	process_meta(&p, order);
	if ((rc = layer_lanes(&p)) < 0)
		goto out_free;
	completions(&p);

	char err[512] = "";
	struct ms_trace_info info;
	rc = ms_trace_read(r->path, on_record, &p, &info, err, sizeof(err));
	flush_copy(&p);
	if (rc == -ENOMEM || p.err) {
		rc = -ENOMEM;
		goto out_free;
	}
	if (rc < 0) /* the model read it once: keep what it gave rather than fail */
		fprintf(stderr,
		        "metashim: export perfetto: cannot re-read %s (%s); its timeline has "
		        "layer spans and completions only\n",
		        r->path, err);
	rc = 0;
out_free:
	pf_run_free(&p);
	return rc;
}

/* JSON process id of each run: its rank, else its pid; a collision (two traces of
 * one rank, pid reuse) gets a number of its own so that processes never merge. */
static uint64_t run_pid(const struct ms_model *m, size_t i)
{
	const struct ms_run *r = &m->runs[i];
	uint64_t want = r->rank >= 0 ? (uint64_t)r->rank : (uint64_t)r->pid;
	for (size_t k = 0; k < i; k++) {
		const struct ms_run *o = &m->runs[k];
		if ((o->rank >= 0 ? (uint64_t)o->rank : (uint64_t)o->pid) == want)
			return 1000000000ull + i;
	}
	return want;
}

int ms_export_perfetto(const struct ms_model *m, FILE *out)
{
	struct jw w = { .f = out, .first_ev = true };
	/* Traces start at their own monotonic zero; their wall clocks line ranks up. */
	uint64_t wall0 = UINT64_MAX;
	bool walls = m->nruns > 1;
	for (size_t i = 0; i < m->nruns; i++) {
		if (!m->runs[i].wall_ns)
			walls = false;
		else if (m->runs[i].wall_ns < wall0)
			wall0 = m->runs[i].wall_ns;
	}
	fputs("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"generator\":\"metashim export --format "
	      "perfetto\",\"version\":",
	      out);
	put_str(out, MS_VERSION);
	fputs("},\"traceEvents\":[", out);
	for (size_t i = 0; i < m->nruns; i++) {
		uint64_t off = walls ? m->runs[i].wall_ns - wall0 : 0;
		int rc = export_run(&w, &m->runs[i], run_pid(m, i), off, i);
		if (rc < 0)
			return rc;
	}
	fputs("\n]}\n", out);
	return ferror(out) ? -EIO : 0;
}
