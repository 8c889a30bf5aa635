/* counter.c — attributes every copy into device memory to descriptor tensors and
 * counts what arrived: per tensor `copied` (sum over copies) and `covered` (unique
 * bytes, an interval union), per layer completion the moment its last element
 * lands. Internally counts are kept in bits (copied) and bytes (covered), so
 * copies that split elements (sub-byte dtypes, odd offsets) still add up; they are
 * reported in elements.
 *
 * Hot path: ms_count_copy runs after every successful copy. It allocates nothing
 * in the common case and takes only the lock of the tensor it counts into (the
 * layer's lock only at the copy that may complete the layer); the interval set
 * of a tensor is used, and allocates, only when writes into it fragment. */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "registry.h"

static pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;
static metashim_layer_complete_fn cb_fn;
static void *cb_user;
static atomic_size_t layers_complete;
static atomic_bool warned_oom;

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void emit_problem(uint64_t seq, const char *kind, const struct ms_reg_tensor *t, uint64_t off,
                         uint64_t bytes)
{
	struct ms_line line;
	char detail[96];

	snprintf(detail, sizeof(detail), "off=%llu,bytes=%llu,ebits=%u", (unsigned long long)off,
	         (unsigned long long)bytes, t->ebits);
	ms_line_begin(&line, MS_REC_PROBLEM);
	ms_line_u64(&line, "seq", seq);
	ms_line_str(&line, "kind", kind);
	ms_line_u64(&line, "tensor", t->id);
	ms_line_str(&line, "detail", detail);
	ms_line_emit(&line);
}

static void emit_unattr(uint64_t seq, uint64_t bytes)
{
	struct ms_line line;

	ms_line_begin(&line, MS_REC_UNATTR);
	ms_line_u64(&line, "seq", seq);
	ms_line_u64(&line, "bytes", bytes);
	ms_line_emit(&line);
}

static void layer_completed(uint64_t seq, struct ms_reg_layer *l, uint32_t loads)
{
	struct ms_line line;
	metashim_layer_complete_fn fn;
	void *user;

	atomic_fetch_add(&layers_complete, 1);
	ms_line_begin(&line, MS_REC_COMPLETE);
	ms_line_u64(&line, "t", ms_now_ns());
	ms_line_u64(&line, "seq", seq);
	ms_line_u64(&line, "layer", l->id);
	ms_line_u64(&line, "loads", loads);
	ms_line_str(&line, "name", l->name);
	ms_line_emit(&line);
	pthread_mutex_lock(&cb_lock);
	fn = cb_fn;
	user = cb_user;
	pthread_mutex_unlock(&cb_lock);
	if (fn) /* no lock held: the callback may query counts */
		fn(l->name, user);
}

/* The tensor's own lock: a spinlock in its hot line, held for a few dozen
 * instructions (longer only while a fragmented write grows its interval set).
 * Uncontended it is one atomic exchange on a line the copy path touches anyway;
 * a waiter yields soon, since the holder may be preempted (few cores, many
 * loader threads). */
static void tensor_lock(struct ms_reg_tensor *t)
{
	for (unsigned spins = 0; __atomic_exchange_n(&t->lock, 1, __ATOMIC_ACQUIRE);) {
		while (__atomic_load_n(&t->lock, __ATOMIC_RELAXED)) {
			if (++spins > 64)
				sched_yield();
#if defined(__x86_64__) || defined(__i386__)
			else
				__builtin_ia32_pause();
#endif
		}
	}
}

static void tensor_unlock(struct ms_reg_tensor *t)
{
	__atomic_store_n(&t->lock, 0, __ATOMIC_RELEASE);
}

/* t's done flag changed (tensor lock held): keep the layer's ndone in step.
 * Returns the new ndone. */
static uint32_t ndone_add(struct ms_reg_layer *l, int delta)
{
	return __atomic_add_fetch(&l->ndone, (uint32_t)delta, __ATOMIC_ACQ_REL);
}

/* Cover [off, off + n) when it does not start inside the covered prefix: the
 * written bytes move into the interval set (and back out once they form a prefix
 * again). Tensor lock held. Returns the bytes not covered before. */
static uint64_t cover_fragmented(struct ms_reg_tensor *t, uint64_t off, uint64_t n)
{
	uint64_t added = 0, pre;

	if (!t->frag) {
		/* Fits the two inline intervals: switching never allocates. */
		ms_ivset_clear(&t->cov);
		if (t->covered_bytes)
			ms_ivset_add(&t->cov, 0, t->covered_bytes, &pre);
		t->frag = true;
	}
	if (MS_UNLIKELY(ms_ivset_add(&t->cov, off, off + n, &added)) && !atomic_exchange(&warned_oom, true))
		ms_warn("out of memory tracking fragmented writes into %s; covered counts may be low",
		        t->name);
	if (t->cov.n == 1 && t->cov.inl[0].lo == 0 && !t->cov.heap)
		t->frag = false; /* a prefix again: [0, covered_bytes) */
	return added;
}

/* Hot path. Only the tensor's lock is taken: the common cases (a whole tensor in
 * one copy, pieces that extend the covered prefix) touch the tensor's hot line
 * and nothing else. The layer lock is taken only by the copy whose tensor
 * completion brings ndone up to nreq; it decides, once, that the layer completed
 * (`complete` goes false -> true under it, so the record and the callback fire
 * exactly once per load even when several tensors finish at the same time). */
void ms_count_piece(const struct ms_copy *c, struct ms_reg_tensor *t, uint64_t off, uint64_t n)
{
	struct ms_reg_layer *l = t->layer;
	uint64_t seq = c ? c->seq : 0, copied, end;
	uint32_t loads = 0, id, ebits;
	bool fire = false, last = false, misaligned;
	struct ms_line line;

	if (off >= t->nbytes || !n)
		return;
	n = min_u64(n, t->nbytes - off);
	end = off + n;
	id = t->id;
	ebits = t->ebits;
	misaligned = (off * 8) % ebits || (n * 8) % ebits;
	tensor_lock(t);
	if (MS_UNLIKELY(t->dead)) {
		tensor_unlock(t);
		return;
	}
	t->copied_bits += n * 8;
	if (MS_LIKELY(!t->frag && off <= t->covered_bytes)) {
		if (end > t->covered_bytes)
			t->covered_bytes = end;
	} else {
		t->covered_bytes += cover_fragmented(t, off, n);
	}
	copied = t->copied_bits / ebits;
	if (!t->done && t->covered_bytes >= t->nbytes) {
		t->done = true;
		if (!t->skip)
			last = ndone_add(l, 1) == __atomic_load_n(&l->nreq, __ATOMIC_ACQUIRE);
	}
	tensor_unlock(t);
	if (MS_UNLIKELY(last)) {
		pthread_mutex_lock(&l->lock);
		if (__atomic_load_n(&l->ndone, __ATOMIC_ACQUIRE) == l->nreq && l->nreq && !l->complete) {
			l->complete = true;
			loads = ++l->loads;
			fire = true;
		}
		pthread_mutex_unlock(&l->lock);
	}

	ms_line_begin(&line, MS_REC_ATTR);
	ms_line_u64(&line, "seq", seq);
	ms_line_u64(&line, "tensor", id);
	ms_line_u64(&line, "off", off * 8 / ebits);
	ms_line_u64(&line, "elems", n * 8 / ebits);
	ms_line_u64(&line, "copied", copied);
	ms_line_emit(&line);
	if (MS_UNLIKELY(misaligned))
		emit_problem(seq, "misaligned", t, off, n);
	/* Deferred modes: real memory first, so the callback sees a usable layer;
	 * when there is none the completion is undone (the copy fails, a retry
	 * completes it again). */
	if (fire && MS_UNLIKELY(ms_vmm_layer_complete(l))) {
		pthread_mutex_lock(&l->lock);
		l->complete = false;
		l->loads--;
		tensor_lock(t);
		if (t->done) {
			t->done = false;
			ndone_add(l, -1);
		}
		tensor_unlock(t);
		pthread_mutex_unlock(&l->lock);
		fire = false;
	}
	if (fire)
		layer_completed(seq, l, loads);
}

/* Attribute by source: src lies in a mapping of a checkpoint file. The first such
 * copy binds the destination span to the tensor. Returns the bytes counted (0:
 * not a checkpoint byte; then *limit says how far the unclaimed run may go before
 * a checkpoint tensor could start). */
static uint64_t by_source(const struct ms_copy *c, uint64_t dst, uint64_t src, uint64_t rest,
                          struct ms_reg_tensor **ended, uint64_t *limit)
{
	struct ms_fileref fr;
	struct ms_hit h;
	struct ms_reg_tensor *t;
	uint64_t toff, n;

	if (ms_hostmap_lookup(src, &fr))
		return 0;
	if (!ms_registry_find_file(fr.dev, fr.ino, fr.offset, &h)) {
		uint64_t next = ms_registry_next_file(fr.dev, fr.ino, fr.offset);
		*limit = min_u64(fr.avail, next == UINT64_MAX ? UINT64_MAX : next - fr.offset);
		return 0;
	}
	t = h.t;
	toff = fr.offset - h.lo;
	n = min_u64(min_u64(rest, h.hi - fr.offset), fr.avail);
	if (toff >= t->nbytes)
		return 0;
	/* Bind when the span fits where this copy puts it; when the tensor is bound
	 * elsewhere already (or the span would overlap another), count it by source. */
	if (!t->dev && toff <= dst)
		ms_registry_bind(t, dst - toff, c->seq);
	ms_count_piece(c, t, toff, n);
	*ended = toff + n >= t->nbytes ? t : NULL;
	return n;
}

/* One contiguous destination run [dst, dst+len) read from src. */
static void count_run(const struct ms_copy *c, uint64_t dst, uint64_t src, uint64_t len, bool host)
{
	struct ms_reg_tensor *ended = NULL; /* tensor whose end the previous piece reached */
	uint64_t pos = 0;

	while (pos < len) {
		uint64_t a = dst + pos, rest = len - pos, limit = UINT64_MAX, n, next;
		struct ms_hit h;

		if (ms_registry_find_dev(a, &h)) {
			n = min_u64(rest, h.hi - a);
			ms_count_piece(c, h.t, a - h.lo, n);
			ended = n == h.hi - a ? h.t : NULL;
			pos += n;
			continue;
		}
		if (host && (n = by_source(c, a, src + pos, rest, &ended, &limit))) {
			pos += n;
			continue;
		}
		next = ms_registry_next_dev(a);
		n = min_u64(min_u64(rest, next - a), limit);
		if (ended)
			emit_problem(c->seq, "straddle", ended, ended->nbytes, n);
		if (host)
			emit_unattr(c->seq, n);
		ended = NULL;
		pos += n;
	}
}

void ms_count_copy(const struct ms_copy *c)
{
	uint64_t w = c->width, rows = c->rows ? c->rows : 1;
	bool host = c->dir == MS_DIR_H2D;

	if (!ms_registry_empty() && w) {
		/* 2D copies whose rows are packed on both sides are one run. */
		if (rows > 1 && c->dpitch == w && (!host || c->spitch == w)) {
			w *= rows;
			rows = 1;
		}
		for (uint64_t r = 0; r < rows; r++)
			count_run(c, c->dst + r * (rows > 1 ? c->dpitch : 0),
			          c->src + r * (rows > 1 ? c->spitch : 0), w, host);
	}
	ms_progress_copy(host ? c->width * (c->rows ? c->rows : 1) : 0);
}

void ms_count_write_final(void)
{
	size_t n = ms_registry_tensor_count();

	for (size_t i = 0; i < n; i++) {
		struct ms_reg_tensor *t = ms_registry_tensor_at(i);
		struct metashim_counts k;
		struct ms_line line;

		if (!t || t->dead)
			continue;
		ms_count_tensor_counts(t, &k);
		ms_line_begin(&line, MS_REC_FINAL);
		ms_line_u64(&line, "tensor", t->id);
		ms_line_u64(&line, "copied", k.copied);
		ms_line_u64(&line, "covered", k.covered);
		ms_line_u64(&line, "expected", k.expected);
		ms_line_emit(&line);
	}
	ms_progress_final();
}

/* ------------------------------------------------------------ layer state */
/* Called by registry.c with l->lock held; t is not yet reachable by a lookup. */
void ms_count_tensor_added(struct ms_reg_layer *l, struct ms_reg_tensor *t)
{
	if (t->skip || t->dead)
		return;
	if (!t->nbytes)
		t->done = true;
	l->nreq++;
	if (t->done)
		ndone_add(l, 1);
	else if (l->complete) { /* a new, empty tensor: the layer must load again */
		l->complete = false;
		atomic_fetch_sub(&layers_complete, 1);
	}
}

/* Called by registry.c with l->lock held; marks t dead. */
void ms_count_tensor_removed(struct ms_reg_layer *l, struct ms_reg_tensor *t)
{
	tensor_lock(t);
	t->dead = true;
	if (!t->skip) {
		l->nreq--;
		if (t->done)
			ndone_add(l, -1);
	}
	tensor_unlock(t);
}

void ms_count_reset_layer(struct ms_reg_layer *l)
{
	pthread_mutex_lock(&l->lock);
	for (uint32_t i = 0; i < l->ntensors; i++) {
		struct ms_reg_tensor *t = l->tensors[i];
		bool counted = !t->skip && !t->dead;

		/* Per tensor, under its lock: ndone follows each done flag, whatever
		 * copies into the other tensors do meanwhile. */
		tensor_lock(t);
		if (t->done && counted)
			ndone_add(l, -1);
		t->copied_bits = 0;
		t->covered_bytes = 0;
		ms_ivset_clear(&t->cov);
		t->frag = false;
		t->done = t->nbytes == 0;
		if (t->done && counted)
			ndone_add(l, 1);
		tensor_unlock(t);
	}
	if (l->complete) {
		l->complete = false;
		atomic_fetch_sub(&layers_complete, 1);
	}
	pthread_mutex_unlock(&l->lock);
}

/* Tensor lock held. */
static void tensor_counts_locked(const struct ms_reg_tensor *t, struct metashim_counts *out)
{
	uint64_t covered = t->covered_bytes * 8 / t->ebits;

	out->expected = t->expected;
	out->copied = t->copied_bits / t->ebits;
	out->covered = covered < t->expected ? covered : t->expected;
	out->tensors = 1;
	out->complete = t->done;
}

void ms_count_tensor_counts(struct ms_reg_tensor *t, struct metashim_counts *out)
{
	struct ms_reg_layer *l = t->layer;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&l->lock);
	tensor_lock(t);
	tensor_counts_locked(t, out);
	tensor_unlock(t);
	out->materialized = l->materialized;
	out->loads = l->loads;
	pthread_mutex_unlock(&l->lock);
}

void ms_count_layer_counts(struct ms_reg_layer *l, struct metashim_counts *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&l->lock);
	for (uint32_t i = 0; i < l->ntensors; i++) {
		struct ms_reg_tensor *t = l->tensors[i];
		struct metashim_counts k;

		if (t->skip || t->dead)
			continue;
		tensor_lock(t);
		tensor_counts_locked(t, &k);
		tensor_unlock(t);
		out->expected += k.expected;
		out->copied += k.copied;
		out->covered += k.covered;
		out->tensors++;
	}
	out->complete = l->nreq > 0 && __atomic_load_n(&l->ndone, __ATOMIC_ACQUIRE) == l->nreq;
	out->materialized = l->materialized;
	out->loads = l->loads;
	pthread_mutex_unlock(&l->lock);
}

size_t ms_count_layers_complete(void)
{
	return atomic_load_explicit(&layers_complete, memory_order_relaxed);
}

void ms_count_set_callback(metashim_layer_complete_fn fn, void *user)
{
	pthread_mutex_lock(&cb_lock);
	cb_fn = fn;
	cb_user = user;
	pthread_mutex_unlock(&cb_lock);
}
