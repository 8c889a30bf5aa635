/* record.c — the core every hook calls before and after the real function: it
 * stamps the event (sequence, time, stack), writes its trace record when the call
 * returns, and hands successful copies into device memory to the counter. The one
 * place where deferred modes will take over a call (the `deferred` flag).
 * Hot path: no allocation, no stdio, no lock but the trace buffer's. */
#include <pthread.h>
#include <unistd.h>

#include "internal.h"

static pthread_once_t registry_once = PTHREAD_ONCE_INIT;

static void load_registry(void)
{
	ms_registry_load(&ms_cfg);
}

/* Thread ids are cached per thread; a fork bumps the generation so the child's
 * thread asks again. */
static unsigned fork_gen;
static __thread unsigned tid_gen __attribute__((tls_model("initial-exec")));
static __thread pid_t tid_cache __attribute__((tls_model("initial-exec")));

static uint64_t tid(void)
{
	unsigned gen = __atomic_load_n(&fork_gen, __ATOMIC_RELAXED) + 1;

	if (MS_UNLIKELY(tid_gen != gen)) {
		tid_cache = gettid();
		tid_gen = gen;
	}
	return (uint64_t)tid_cache;
}

void ms_record_after_fork_child(void)
{
	__atomic_add_fetch(&fork_gen, 1, __ATOMIC_RELAXED);
}

/* Descriptor records (layer, tensor) precede the first event that could use them. */
static void stamp(uint64_t *seq, uint64_t *t0, uint32_t *stack)
{
	pthread_once(&registry_once, load_registry);
	*stack = ms_stack_id();
	*seq = ms_next_seq();
	*t0 = ms_now_ns();
}

static void common(struct ms_line *l, const char *type, uint64_t seq, uint64_t t0, const char *api)
{
	ms_line_begin(l, type);
	ms_line_u64(l, "seq", seq);
	ms_line_u64(l, "t", t0);
	ms_line_u64(l, "dur", ms_now_ns() - t0);
	ms_line_u64(l, "tid", tid());
	ms_line_str(l, "api", api);
}

/* Slice z of a 3D copy, as the 2D copy the counter and vmm.c understand. */
static struct ms_copy slice_of(const struct ms_copy *c, uint64_t z)
{
	struct ms_copy s = *c;

	s.depth = 1;
	s.dst += z * c->dslice;
	s.src += z * c->sslice;
	return s;
}

/* Deferred modes, 3D: vmm.c takes 2D copies, so each slice goes on its own. The
 * call is taken when every slice was; when only some were, the real call runs too
 * (it rewrites the slices vmm.c already handled, which lie in scratch). */
static void vmm_copy_slices(struct ms_copy *c)
{
	bool all = true;

	for (uint64_t z = 0; z < c->depth; z++) {
		struct ms_copy s = slice_of(c, z);

		ms_vmm_copy(&s);
		all = all && s.deferred;
		if (s.err != MS_ERR_NONE && c->err == MS_ERR_NONE)
			c->err = s.err;
	}
	c->deferred = all;
}

void ms_copy_begin(struct ms_copy *c)
{
	c->deferred = false;
	c->rc = 0;
	c->err = MS_ERR_NONE;
	if (!c->rows)
		c->rows = 1;
	if (!c->depth)
		c->depth = 1;
	stamp(&c->seq, &c->t0, &c->stack);
	/* an array has no address vmm.c could defer or replay */
	if (MS_UNLIKELY(ms_vmm_active()) && !c->array) {
		if (c->depth > 1)
			vmm_copy_slices(c);
		else
			ms_vmm_copy(c);
	}
}

/* Count a finished copy into device memory, slice by slice for 3D copies. A copy
 * into a CUDA array lands at no device address a tensor could have. */
static void count(struct ms_copy *c)
{
	if (c->array & MS_ARRAY_DST)
		return;
	if (c->depth <= 1) {
		ms_count_copy(c);
		return;
	}
	for (uint64_t z = 0; z < c->depth; z++) {
		struct ms_copy s = slice_of(c, z);

		ms_count_copy(&s);
	}
}

void ms_copy_end(struct ms_copy *c, int rc)
{
	struct ms_line l;

	c->rc = rc;
	common(&l, MS_REC_COPY, c->seq, c->t0, c->api);
	ms_line_str(&l, "dir", c->dir < MS_DIR_COUNT ? ms_dir_names[c->dir] : "?");
	ms_line_hex(&l, "dst", c->dst);
	ms_line_hex(&l, "src", c->src);
	ms_line_u64(&l, "bytes", c->width * c->rows * (c->depth ? c->depth : 1));
	ms_line_hex(&l, "stream", c->stream);
	ms_line_i64(&l, "rc", rc);
	ms_line_u64(&l, "stack", c->stack);
	if (c->rows > 1 || c->depth > 1) {
		ms_line_u64(&l, "rows", c->rows);
		ms_line_u64(&l, "dpitch", c->dpitch);
		ms_line_u64(&l, "spitch", c->spitch);
	}
	if (c->depth > 1) {
		ms_line_u64(&l, "depth", c->depth);
		ms_line_u64(&l, "dslice", c->dslice);
		ms_line_u64(&l, "sslice", c->sslice);
	}
	if (c->array)
		ms_line_u64(&l, "array", c->array);
	if (c->deferred)
		ms_line_u64(&l, "deferred", 1);
	/* The copy record and what counting it writes (attr, bind, complete, ...)
	 * reach the trace together, under one lock. */
	ms_line_batch_begin(&l);
	if (rc == 0 && (c->dir == MS_DIR_H2D || c->dir == MS_DIR_D2D || c->dir == MS_DIR_P2P)) {
		count(c);
		/* a layer this copy completed could not be materialized */
		if (MS_UNLIKELY(ms_vmm_active()) && c->err == MS_ERR_NONE)
			c->err = ms_vmm_take_err();
	}
	ms_line_batch_end();
}

static void alloc_record(struct ms_alloc *a, const char *type, int rc)
{
	struct ms_line l;

	a->rc = rc;
	common(&l, type, a->seq, a->t0, a->api);
	ms_line_hex(&l, "ptr", a->ptr);
	ms_line_u64(&l, "bytes", a->bytes);
	ms_line_hex(&l, "stream", a->stream);
	ms_line_i64(&l, "rc", rc);
	ms_line_u64(&l, "stack", a->stack);
	if (a->handle)
		ms_line_u64(&l, "handle", 1);
	if (a->map)
		ms_line_u64(&l, "map", 1);
	if (a->deferred)
		ms_line_u64(&l, "deferred", 1);
	ms_line_emit(&l);
}

static void alloc_stamp(struct ms_alloc *a)
{
	a->deferred = false;
	a->rc = 0;
	a->err = MS_ERR_NONE;
	stamp(&a->seq, &a->t0, &a->stack);
}

void ms_alloc_begin(struct ms_alloc *a)
{
	alloc_stamp(a);
	if (MS_UNLIKELY(ms_cfg.mode != MS_MODE_TRACE))
		ms_vmm_alloc(a);
}

void ms_alloc_end(struct ms_alloc *a, int rc)
{
	alloc_record(a, MS_REC_ALLOC, rc);
}

void ms_free_begin(struct ms_alloc *a)
{
	alloc_stamp(a);
	if (MS_UNLIKELY(ms_cfg.mode != MS_MODE_TRACE))
		ms_vmm_free(a);
}

void ms_free_end(struct ms_alloc *a, int rc)
{
	alloc_record(a, MS_REC_FREE, rc);
}

/* Deferred modes, 3D memsets: slice by slice, as for copies. */
static void vmm_memset_slices(struct ms_memset *m)
{
	bool all = true;

	for (uint64_t z = 0; z < m->depth; z++) {
		struct ms_memset s = *m;

		s.depth = 1;
		s.dst += z * m->slice;
		s.bytes = m->width * m->rows;
		ms_vmm_memset(&s);
		all = all && s.deferred;
		if (s.err != MS_ERR_NONE && m->err == MS_ERR_NONE)
			m->err = s.err;
	}
	m->deferred = all;
}

void ms_memset_begin(struct ms_memset *m)
{
	m->deferred = false;
	m->rc = 0;
	m->err = MS_ERR_NONE;
	if (!m->rows)
		m->rows = 1;
	if (!m->depth)
		m->depth = 1;
	stamp(&m->seq, &m->t0, &m->stack);
	if (MS_UNLIKELY(ms_vmm_active())) {
		if (m->depth > 1)
			vmm_memset_slices(m);
		else
			ms_vmm_memset(m);
	}
}

void ms_memset_end(struct ms_memset *m, int rc)
{
	struct ms_line l;

	m->rc = rc;
	common(&l, MS_REC_MEMSET, m->seq, m->t0, m->api);
	ms_line_hex(&l, "dst", m->dst);
	ms_line_u64(&l, "bytes", m->bytes);
	ms_line_u64(&l, "value", m->value);
	ms_line_hex(&l, "stream", m->stream);
	ms_line_i64(&l, "rc", rc);
	ms_line_u64(&l, "stack", m->stack);
	if (m->rows > 1 || m->depth > 1) {
		ms_line_u64(&l, "rows", m->rows);
		ms_line_u64(&l, "width", m->width);
		ms_line_u64(&l, "pitch", m->pitch);
	}
	if (m->depth > 1) {
		ms_line_u64(&l, "depth", m->depth);
		ms_line_u64(&l, "slice", m->slice);
	}
	if (m->deferred)
		ms_line_u64(&l, "deferred", 1);
	ms_line_emit(&l);
}

enum ms_dir ms_dir_of(bool src_dev, bool dst_dev)
{
	if (src_dev)
		return dst_dev ? MS_DIR_D2D : MS_DIR_D2H;
	return dst_dev ? MS_DIR_H2D : MS_DIR_H2H;
}
