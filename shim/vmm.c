/* vmm.c — deferred device memory (modes meta and layerwise): allocations become
 * address reservations backed by one shared scratch allocation mapped many times;
 * a layer's granules get real memory at the same addresses when it is complete
 * (layerwise) or asked for (API), its recorded writes replay (replay.c), and a
 * release puts it back on scratch. Every driver call goes through ms_driver().
 *
 * Granule map: each granule of a reservation is either real or scratch, and is
 * the head of a mapping or inside one; mappings are homogeneous (all real or all
 * scratch) and tile the reservation. Real memory is created in as few pieces as
 * a layer needs: one per run of its granules, with a granule it shares with
 * another layer in a piece of its own, so either layer can be released alone.
 * One mutex guards all of it; the copy path takes it only while deferred memory
 * exists (ms_vmm_active), never in trace mode. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry.h"

#define G_REAL 1u /* the granule has its own physical memory */
#define G_HEAD 2u /* a mapping starts at this granule */

/* One reservation: what cudaMalloc / cuMemAlloc returned in a deferred mode. */
struct vres {
	uint64_t base, size; /* address and reserved bytes (granule multiple) */
	uint64_t bytes;      /* bytes the program asked for */
	uint64_t ngran;
	uint8_t *g; /* per granule: G_REAL | G_HEAD */
};

/* A layer's backup (METASHIM_RELEASE_BACKUP): host copies of released spans. */
struct vbackup {
	uint64_t va, len;
	void *buf;
};
struct vlayer {
	struct vbackup *bk;
	size_t nbk;
	bool early; /* materialized before it was complete (staging bound) */
};

/* A run of granules [g0, g1) of one reservation. */
struct run {
	struct vres *r;
	uint64_t g0, g1;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool active;        /* a reservation exists (read without the lock) */
static bool settled;              /* layerwise finalize ran: new allocations are real */
static bool ready, broken;        /* set up; set-up failed (defer nothing) */
static uint64_t gran;             /* VMM granularity, bytes */
static CUmemAllocationProp prop;  /* pinned device memory on `prop.location.id` */
static CUmemAccessDesc rw_access; /* read-write from that device */
static uint64_t scratch;          /* the scratch allocation's handle */
static uint64_t scratch_size;
static struct vres **res; /* sorted by base */
static size_t nres, capres;
static struct ms_rlog rlog; /* recorded writes (layerwise) */
static uint64_t reserved, materialized, backup_bytes;
static uint64_t mem_last_t; /* when the last staging-driven mem record went out */
static atomic_uint_fast64_t launches;
static __thread enum ms_err pending_err;

/* ------------------------------------------------------------ granule math */
uint64_t ms_vmm_round_up(uint64_t bytes, uint64_t g)
{
	return (bytes + g - 1) & ~(g - 1);
}

void ms_vmm_granules(uint64_t base, uint64_t g, uint64_t lo, uint64_t hi, uint64_t *g0, uint64_t *g1)
{
	*g0 = (lo - base) / g;
	*g1 = hi > lo ? (hi - base + g - 1) / g : *g0;
}

static uint64_t va(const struct vres *r, uint64_t g)
{
	return r->base + g * gran;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

bool ms_vmm_active(void)
{
	return atomic_load_explicit(&active, memory_order_relaxed);
}

/* --------------------------------------------------------------- records */
static void emit_mem(void)
{
	struct ms_line l;

	ms_line_begin(&l, MS_REC_MEM);
	ms_line_u64(&l, "t", ms_now_ns());
	ms_line_u64(&l, "reserved", reserved);
	ms_line_u64(&l, "materialized", materialized);
	ms_line_u64(&l, "staged", rlog.staged);
	ms_line_u64(&l, "scratch", scratch_size);
	ms_line_u64(&l, "backup", backup_bytes);
	ms_line_emit(&l);
}

static void emit_materialize(const struct ms_reg_layer *l, uint64_t t0, uint64_t bytes, uint64_t copies,
                             bool ok, const char *why)
{
	struct ms_line line;

	ms_line_begin(&line, MS_REC_MATERIALIZE);
	ms_line_u64(&line, "t", t0);
	ms_line_u64(&line, "dur", ms_now_ns() - t0);
	ms_line_u64(&line, "layer", l->id);
	ms_line_u64(&line, "bytes", bytes);
	ms_line_u64(&line, "copies", copies);
	ms_line_u64(&line, "ok", ok);
	if (why)
		ms_line_str(&line, "why", why);
	ms_line_emit(&line);
}

/* --------------------------------------------------------------- set-up */
/* A current context for the shim's own driver calls: a runtime program's first
 * cudaMalloc is what would have created it, and it never reaches the runtime. */
static void *vmm_ctx; /* the context the shim's calls run in */

static int ensure_context(const struct ms_driver *d, int *dev)
{
	CUcontext ctx = NULL;
	CUdevice cu = 0;

	if (!d->cuCtxGetCurrent || !d->cuCtxSetCurrent)
		return -ENOSYS;
	if (d->cuCtxGetCurrent((void **)&ctx) == 0 && ctx) {
		vmm_ctx = ctx;
		return d->cuCtxGetDevice(dev) ? -EIO : 0;
	}
	if (!d->cuInit || !d->cuDeviceGet || !d->cuDevicePrimaryCtxRetain)
		return -ENOSYS;
	if (d->cuInit(0) || d->cuDeviceGet(&cu, 0) || d->cuDevicePrimaryCtxRetain((void **)&ctx, cu) ||
	    d->cuCtxSetCurrent(ctx))
		return -EIO;
	vmm_ctx = ctx;
	*dev = cu;
	return 0;
}

/* Lock held, before the shim's own driver calls on this thread: a thread that
 * has not yet made a runtime call has no current context (the runtime binds the
 * primary one lazily, as this does). */
static void on_thread(void)
{
	const struct ms_driver *d = ms_driver();
	void *ctx = NULL;

	if (vmm_ctx && d->cuCtxGetCurrent((void **)&ctx) == 0 && !ctx)
		d->cuCtxSetCurrent(vmm_ctx);
}

/* Lock held. Once: granularity, the scratch allocation. On failure deferred modes
 * turn off (allocations stay real) with one message. */
static int setup(void)
{
	const struct ms_driver *d = ms_driver();
	size_t g = 0;
	int dev = 0;

	if (ready || broken)
		return ready ? 0 : -ENOSYS;
	broken = true;
	if (!d || !d->cuMemAddressReserve || !d->cuMemCreate || !d->cuMemMap || !d->cuMemSetAccess ||
	    !d->cuMemGetAllocationGranularity || !d->cuMemcpyHtoD || !d->cuMemcpyDtoH) {
		ms_warn("deferred memory off: the driver lacks virtual memory management; allocations stay "
		        "real");
		return -ENOSYS;
	}
	if (ensure_context(d, &dev)) {
		ms_warn("deferred memory off: no CUDA context could be made current; allocations stay real");
		return -EIO;
	}
	memset(&prop, 0, sizeof(prop));
	prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
	prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	prop.location.id = dev;
	if (d->cuMemGetAllocationGranularity(&g, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM) || !g ||
	    (g & (g - 1))) {
		ms_warn("deferred memory off: cuMemGetAllocationGranularity failed; allocations stay real");
		return -EIO;
	}
	gran = g;
	rw_access.location = prop.location;
	rw_access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	scratch_size = ms_vmm_round_up(ms_cfg.scratch_bytes ? ms_cfg.scratch_bytes : gran, gran);
	if (d->cuMemCreate(&scratch, scratch_size, &prop, 0)) {
		ms_warn("deferred memory off: cannot create the %llu-byte scratch allocation "
		        "(METASHIM_SCRATCH); "
		        "allocations stay real",
		        (unsigned long long)scratch_size);
		return -ENOMEM;
	}
	broken = false;
	ready = true;
	return 0;
}

/* --------------------------------------------------------- reservations */
/* Index of the first reservation whose base is > addr. */
static size_t upper(uint64_t addr)
{
	size_t lo = 0, hi = nres;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (res[mid]->base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct vres *find_res(uint64_t addr)
{
	size_t i = upper(addr);

	if (!i || addr >= res[i - 1]->base + res[i - 1]->size)
		return NULL;
	return res[i - 1];
}

static int insert_res(struct vres *r)
{
	size_t i;

	if (nres == capres) {
		size_t cap = capres ? capres * 2 : 64;
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
		struct vres **v = realloc(res, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		res = v;
		capres = cap;
	}
	i = upper(r->base);
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	memmove(&res[i + 1], &res[i], (nres - i) * sizeof(*res));
	res[i] = r;
	nres++;
	return 0;
}

static void remove_res(struct vres *r)
{
	for (size_t i = 0; i < nres; i++) {
		if (res[i] != r)
			continue;
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
		memmove(&res[i], &res[i + 1], (nres - i - 1) * sizeof(*res));
		nres--;
		return;
	}
}

/* ------------------------------------------------------------- mappings */
static int set_access(const struct vres *r, uint64_t g0, uint64_t g1)
{
	return ms_driver()->cuMemSetAccess(va(r, g0), (g1 - g0) * gran, &rw_access, 1) ? -EIO : 0;
}

/* Scratch over [g0, g1) in pieces as large as the scratch; access not set. */
static int map_scratch(struct vres *r, uint64_t g0, uint64_t g1)
{
	const struct ms_driver *d = ms_driver();
	uint64_t step = scratch_size / gran;

	for (uint64_t g = g0; g < g1;) {
		uint64_t n = min_u64(step, g1 - g);

		if (d->cuMemMap(va(r, g), n * gran, 0, scratch, 0))
			return -EIO;
		r->g[g] = G_HEAD;
		for (uint64_t k = g + 1; k < g + n; k++)
			r->g[k] = 0;
		g += n;
	}
	return 0;
}

/* The mapping holding granule g: [*h, *e). */
static void mapping_of(const struct vres *r, uint64_t g, uint64_t *h, uint64_t *e)
{
	uint64_t a = g, b = g + 1;

	while (a > 0 && !(r->g[a] & G_HEAD))
		a--;
	while (b < r->ngran && !(r->g[b] & G_HEAD))
		b++;
	*h = a;
	*e = b;
}

/* Real memory for scratch granules [a, b): created first (nothing changes when
 * that fails: -ENOMEM), then the scratch mappings around them come off and go
 * back on either side. A shared first or last granule gets a piece of its own. */
static int make_real(struct vres *r, uint64_t a, uint64_t b, bool cut_first, bool cut_last)
{
	const struct ms_driver *d = ms_driver();
	uint64_t cuts[4], h[3], A, B, e;
	size_t ncut = 0, np, k;
	int err = 0;

	cuts[ncut++] = a;
	if (cut_first && b - a > 1)
		cuts[ncut++] = a + 1;
	if (cut_last && b - 1 > cuts[ncut - 1])
		cuts[ncut++] = b - 1;
	cuts[ncut++] = b;
	np = ncut - 1;
	for (k = 0; k < np; k++) {
		if (d->cuMemCreate(&h[k], (cuts[k + 1] - cuts[k]) * gran, &prop, 0)) {
			while (k--)
				d->cuMemRelease(h[k]);
			return -ENOMEM;
		}
	}
	mapping_of(r, a, &A, &e);
	mapping_of(r, b - 1, &e, &B);
	if (d->cuMemUnmap(va(r, A), (B - A) * gran))
		err = -EIO;
	for (k = 0; k < np; k++) {
		if (!err && d->cuMemMap(va(r, cuts[k]), (cuts[k + 1] - cuts[k]) * gran, 0, h[k], 0))
			err = -EIO;
		d->cuMemRelease(h[k]); /* the mapping keeps the memory alive */
		r->g[cuts[k]] = G_HEAD | G_REAL;
		for (uint64_t g = cuts[k] + 1; g < cuts[k + 1]; g++)
			r->g[g] = G_REAL;
	}
	if (!err && (map_scratch(r, A, a) || map_scratch(r, b, B) || set_access(r, A, B)))
		err = -EIO;
	if (err)
		ms_warn("materializing %#llx..%#llx failed in the driver; device contents there are "
		        "undefined",
		        (unsigned long long)va(r, a), (unsigned long long)va(r, b));
	materialized += (b - a) * gran;
	return err;
}

/* Real mappings covering exactly [a, b) go back to scratch. */
static int make_scratch(struct vres *r, uint64_t a, uint64_t b)
{
	const struct ms_driver *d = ms_driver();
	int err = 0;

	if (d->cuMemUnmap(va(r, a), (b - a) * gran) || map_scratch(r, a, b) || set_access(r, a, b))
		err = -EIO;
	materialized -= (b - a) * gran;
	return err;
}

/* --------------------------------------------------------- byte ranges */
enum piece_kind { P_OTHER, P_REAL, P_DEFER };

/* The run of [a, hi) starting at a that is all one kind; returns its end. */
static uint64_t piece(uint64_t a, uint64_t hi, enum piece_kind *kind)
{
	struct vres *r = find_res(a);
	uint64_t g, end;
	uint8_t real;

	if (!r) {
		size_t i = upper(a);

		*kind = P_OTHER;
		return i < nres ? min_u64(hi, res[i]->base) : hi;
	}
	g = (a - r->base) / gran;
	real = r->g[g] & G_REAL;
	while (g < r->ngran && (r->g[g] & G_REAL) == real && va(r, g) < hi)
		g++;
	end = min_u64(hi, va(r, g));
	*kind = real ? P_REAL : P_DEFER;
	return end;
}

static bool touches_deferred(uint64_t lo, uint64_t hi)
{
	enum piece_kind k;

	for (uint64_t a = lo; a < hi;) {
		a = piece(a, hi, &k);
		if (k == P_DEFER)
			return true;
	}
	return false;
}

/* Rlog callback for ms_rlog_drop: every byte of [lo, hi) has real memory (or is
 * no longer ours). */
static bool all_real(void *ctx, uint64_t lo, uint64_t hi)
{
	(void)ctx;
	return !touches_deferred(lo, hi);
}

static bool inside(void *ctx, uint64_t lo, uint64_t hi)
{
	const struct vres *r = ctx;

	return lo >= r->base && hi <= r->base + r->size;
}

/* ----------------------------------------------------------- device I/O */
static int dev_write(void *ctx, uint64_t dst, const void *src, uint64_t len)
{
	(void)ctx;
	return ms_driver()->cuMemcpyHtoD(dst, src, len) ? -EIO : 0;
}

#define FILL_CHUNK (1u << 20)

static int dev_fill(void *ctx, const struct ms_rlog_entry *e, uint64_t dst, uint64_t len)
{
	const struct ms_driver *d = ms_driver();
	unsigned char *buf;
	int err = 0;

	(void)ctx;
	if (e->esize == 1 && d->cuMemsetD8)
		return d->cuMemsetD8(dst, (unsigned char)e->value, len) ? -EIO : 0;
	buf = malloc(min_u64(len, FILL_CHUNK));
	if (!buf)
		return -ENOMEM;
	for (uint64_t off = 0; off < len && !err; off += FILL_CHUNK) {
		uint64_t n = min_u64(FILL_CHUNK, len - off);

		ms_rlog_fill_pattern(e, dst + off, buf, n);
		err = dev_write(NULL, dst + off, buf, n);
	}
	free(buf);
	return err;
}

static const struct ms_rlog_dev devio = { dev_write, dev_fill, NULL };

/* What the program would read from device bytes [src, src+n): real memory as it
 * is; deferred memory as zeros with the recorded writes on top. */
static int vmm_read(void *host, uint64_t src, uint64_t n)
{
	const struct ms_driver *d = ms_driver();
	unsigned char *o = host;
	bool synced = false;
	enum piece_kind k;

	for (uint64_t a = src, e; a < src + n; a = e) {
		e = piece(a, src + n, &k);
		if (k == P_DEFER) {
			memset(o + (a - src), 0, e - a);
			ms_rlog_read(&rlog, a, e, o + (a - src));
			continue;
		}
		if (!synced && d->cuCtxSynchronize)
			d->cuCtxSynchronize(); /* the program's streams may still write there */
		synced = true;
		if (d->cuMemcpyDtoH(o + (a - src), a, e - a))
			return -EIO;
	}
	return 0;
}

/* -------------------------------------------------------- layer granules */
static int cmp_run(const void *pa, const void *pb)
{
	const struct run *a = pa, *b = pb;

	if (a->r->base != b->r->base)
		return a->r->base < b->r->base ? -1 : 1;
	return a->g0 < b->g0 ? -1 : a->g0 > b->g0;
}

/* The granules l's bound tensors touch, sorted and merged; *out malloc'd. */
static int layer_runs(struct ms_reg_layer *l, struct run **out, size_t *n)
{
	struct run *v;
	size_t k = 0, m = 0;

	pthread_mutex_lock(&l->lock);
	v = malloc((l->ntensors + 1) * sizeof(*v));
	for (uint32_t i = 0; v && i < l->ntensors; i++) {
		struct ms_reg_tensor *t = l->tensors[i];
		struct vres *r;

		if (t->dead || !t->dev || !t->nbytes || !(r = find_res(t->dev)))
			continue;
		v[k].r = r;
		ms_vmm_granules(r->base, gran, t->dev, min_u64(t->dev + t->nbytes, r->base + r->size),
		                &v[k].g0, &v[k].g1);
		k++;
	}
	pthread_mutex_unlock(&l->lock);
	if (!v)
		return -ENOMEM;
	qsort(v, k, sizeof(*v), cmp_run);
	for (size_t i = 0; i < k; i++) {
		if (m && v[m - 1].r == v[i].r && v[i].g0 <= v[m - 1].g1) {
			if (v[i].g1 > v[m - 1].g1)
				v[m - 1].g1 = v[i].g1;
			continue;
		}
		v[m++] = v[i];
	}
	*out = v;
	*n = m;
	return 0;
}

/* Whether granule g holds bytes of a tensor of a layer other than l; *busy: one
 * of those layers has real memory or has been partly loaded. */
static bool shared(const struct vres *r, uint64_t g, const struct ms_reg_layer *l, bool *busy)
{
	uint64_t lo = va(r, g), hi = lo + gran, a = lo;
	bool any = false;

	*busy = false;
	while (a < hi) {
		struct ms_hit h;

		if (!ms_registry_find_dev(a, &h)) {
			a = ms_registry_next_dev(a);
			continue;
		}
		if (h.t->layer != l) {
			struct metashim_counts k;

			any = true;
			ms_count_layer_counts(h.t->layer, &k);
			if (k.materialized || k.covered)
				*busy = true;
		}
		a = h.hi;
	}
	return any;
}

static struct vlayer *vlayer_of(struct ms_reg_layer *l)
{
	if (!l->vmm)
		l->vmm = calloc(1, sizeof(struct vlayer));
	return l->vmm;
}

static void set_materialized(struct ms_reg_layer *l, bool on)
{
	pthread_mutex_lock(&l->lock);
	l->materialized = on;
	pthread_mutex_unlock(&l->lock);
}

/* Lock held. Real memory for every scratch granule of l (and of the backup spans
 * when restoring), the backup copied in, then every recorded write touching the
 * new memory replayed in order. On -ENOMEM nothing changed. */
static int materialize_locked(struct ms_reg_layer *l, const struct vlayer *restore, const char *why)
{
	uint64_t t0 = ms_now_ns(), bytes = 0, copies = 0;
	struct ms_rlog_span *spans = NULL;
	struct {
		struct vres *r;
		uint64_t a, b;
	} *made = NULL;
	size_t nruns = 0, nspans = 0, nmade = 0, cap;
	struct run *runs = NULL;
	int err;

	err = layer_runs(l, &runs, &nruns);
	if (err)
		goto out;
	cap = nruns + (restore ? restore->nbk : 0);
	/* Backup spans join the runs (a tensor may have been unregistered since). */
	if (restore && restore->nbk) {
		struct run *v = realloc(runs, (cap + 1) * sizeof(*v));

		if (!v) {
			err = -ENOMEM;
			goto out;
		}
		runs = v;
		for (size_t i = 0; i < restore->nbk; i++) {
			struct vres *r = find_res(restore->bk[i].va);

			if (!r)
				continue;
			runs[nruns].r = r;
			ms_vmm_granules(r->base, gran, restore->bk[i].va,
			                restore->bk[i].va + restore->bk[i].len, &runs[nruns].g0,
			                &runs[nruns].g1);
			nruns++;
		}
	}
	/* Each run splits into at most (g1-g0+1)/2 scratch sub-runs; bound loosely. */
	cap = 0;
	for (size_t i = 0; i < nruns; i++)
		cap += runs[i].g1 - runs[i].g0;
	spans = malloc((cap + 1) * sizeof(*spans));
	made = malloc((cap + 1) * sizeof(*made));
	if (!spans || !made) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nruns; i++) {
		struct vres *r = runs[i].r;

		for (uint64_t a = runs[i].g0; a < runs[i].g1;) {
			uint64_t b = a;
			bool busy;

			if (r->g[a] & G_REAL) {
				a++;
				continue;
			}
			while (b < runs[i].g1 && !(r->g[b] & G_REAL))
				b++;
			err = make_real(r, a, b, shared(r, a, l, &busy), shared(r, b - 1, l, &busy));
			if (err == -ENOMEM)
				goto undo;
			made[nmade].r = r;
			made[nmade].a = a;
			made[nmade++].b = b;
			spans[nspans].lo = va(r, a);
			spans[nspans++].hi = va(r, b);
			bytes += (b - a) * gran;
			a = b;
		}
	}
	for (size_t i = 0; restore && i < restore->nbk && !err; i++)
		err = dev_write(NULL, restore->bk[i].va, restore->bk[i].buf, restore->bk[i].len);
	if (!err)
		err = ms_rlog_replay(&rlog, spans, nspans, &devio, &copies);
	if (err)
		ms_warn("replaying recorded copies into layer %s failed (%d); its device contents may be "
		        "incomplete",
		        l->name, err);
	emit_mem(); /* staged bytes at their peak, before the replayed ones go */
	ms_rlog_drop(&rlog, all_real, NULL);
	set_materialized(l, true);
	emit_materialize(l, t0, bytes, copies, true, why);
	emit_mem();
	err = 0;
	goto out;
undo:
	while (nmade--)
		make_scratch(made[nmade].r, made[nmade].a, made[nmade].b);
	emit_materialize(l, t0, bytes, 0, false, why);
	ms_warn("out of device memory materializing layer %s: it stays deferred, its recorded copies are "
	        "kept",
	        l->name);
out:
	free(runs);
	free(spans);
	free(made);
	return err;
}

/* ----------------------------------------------------------- allocations */
void ms_vmm_alloc(struct ms_alloc *a)
{
	const struct ms_driver *d;
	struct vres *r = NULL;
	uint64_t base = 0, size;

	if (a->handle || a->map || !a->bytes || a->bytes < ms_cfg.defer_min)
		return;
	pthread_mutex_lock(&lock);
	if (settled || setup())
		goto out_unlock;
	d = ms_driver();
	on_thread();
	a->deferred = true;
	a->err = MS_ERR_OOM;
	size = ms_vmm_round_up(a->bytes, gran);
	if (d->cuMemAddressReserve(&base, size, 0, 0, 0))
		goto out_unlock;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out_free;
	*r = (struct vres){ .base = base, .size = size, .bytes = a->bytes, .ngran = size / gran };
	r->g = calloc(r->ngran, 1);
	if (!r->g || map_scratch(r, 0, r->ngran) || set_access(r, 0, r->ngran) || insert_res(r))
		goto out_free;
	reserved += size;
	atomic_store(&active, true);
	a->ptr = base;
	a->err = MS_ERR_NONE;
	a->rc = 0;
	emit_mem();
	goto out_unlock;
out_free:
	d->cuMemUnmap(base, size); /* whatever got mapped; fails harmlessly when nothing */
	d->cuMemAddressFree(base, size);
	if (r)
		free(r->g);
	free(r);
out_unlock:
	pthread_mutex_unlock(&lock);
}

void ms_vmm_free(struct ms_alloc *a)
{
	const struct ms_driver *d = ms_driver();
	struct vres *r;

	if (a->handle || a->map || !ms_vmm_active())
		return;
	pthread_mutex_lock(&lock);
	on_thread();
	r = find_res(a->ptr);
	if (!r)
		goto out_unlock;
	a->deferred = true;
	a->rc = 0;
	if (r->base != a->ptr) {
		a->err = MS_ERR_INVALID; /* as the real free of an interior pointer */
		goto out_unlock;
	}
	if (d->cuCtxSynchronize)
		d->cuCtxSynchronize(); /* kernels may still use it (stream-ordered frees too) */
	d->cuMemUnmap(r->base, r->size);
	d->cuMemAddressFree(r->base, r->size);
	for (uint64_t g = 0; g < r->ngran; g++)
		if (r->g[g] & G_REAL)
			materialized -= gran;
	ms_rlog_drop(&rlog, inside, r);
	remove_res(r);
	reserved -= r->size;
	a->bytes = r->bytes;
	free(r->g);
	free(r);
	if (!nres)
		atomic_store(&active, false);
	emit_mem();
out_unlock:
	pthread_mutex_unlock(&lock);
}

/* ----------------------------------------------------------------- copies */
/* Lock held. Past METASHIM_STAGING_MAX: give [a, hi) real memory now — the whole
 * layer it belongs to when known, else its granules — so the copy runs directly. */
static int materialize_early(uint64_t a, uint64_t hi)
{
	struct ms_hit h;
	enum piece_kind k;
	int err = 0;

	static unsigned unnamed;

	if (ms_registry_find_dev(a, &h)) {
		struct vlayer *vl = vlayer_of(h.t->layer);

		if (vl && !vl->early)
			ms_warn("staging reached METASHIM_STAGING_MAX (%llu bytes): materializing layer %s "
			        "before it "
			        "is complete",
			        (unsigned long long)ms_cfg.staging_max, h.t->layer->name);
		if (vl)
			vl->early = true;
		err = materialize_locked(h.t->layer, NULL, "staging");
		if (err)
			return err;
	} else if (++unnamed <= 3) { /* a tensor's first copy: not bound to it yet */
		ms_warn("staging reached METASHIM_STAGING_MAX (%llu bytes): materializing %#llx..%#llx "
		        "before its "
		        "layer is complete%s",
		        (unsigned long long)ms_cfg.staging_max, (unsigned long long)a, (unsigned long long)hi,
		        unnamed == 3 ? " (further ones not reported)" : "");
	}
	for (uint64_t p = a, e; p < hi && !err; p = e) {
		struct vres *r;
		uint64_t g0, g1;

		e = piece(p, hi, &k);
		if (k != P_DEFER)
			continue;
		r = find_res(p);
		ms_vmm_granules(r->base, gran, p, e, &g0, &g1);
		err = make_real(r, g0, g1, true, true);
		if (!err) {
			struct ms_rlog_span s = { va(r, g0), va(r, g1) };

			err = ms_rlog_replay(&rlog, &s, 1, &devio, NULL);
			ms_rlog_drop(&rlog, all_real, NULL);
		}
	}
	return err;
}

/* Lock held. Record n bytes from host p for deferred device bytes at a; src is
 * the program's host address (0 when p is the shim's own buffer). */
static int record(uint64_t a, const unsigned char *p, uint64_t n, uint64_t src, uint64_t seq)
{
	const void *ref = src ? ms_rlog_file_ref(src, n) : NULL;
	uint64_t now;
	int err;

	if (ref)
		return ms_rlog_add_copy(&rlog, a, ref, n, false, seq);
	if (rlog.staged + n > ms_cfg.staging_max) {
		err = materialize_early(a, a + n);
		return err ? err : dev_write(NULL, a, p, n);
	}
	err = ms_rlog_add_copy(&rlog, a, p, n, true, seq);
	now = ms_now_ns();
	if (!err && now - mem_last_t > 50000000ull) { /* staging over time, 20 a second at most */
		mem_last_t = now;
		emit_mem();
	}
	return err;
}

/* Lock held. One linear piece of a taken copy. */
static int copy_linear(const struct ms_copy *c, uint64_t dst, uint64_t src, uint64_t n)
{
	bool host = c->dir == MS_DIR_H2D;
	const unsigned char *hs = (const unsigned char *)(uintptr_t)src;
	unsigned char *tmp = NULL;
	enum piece_kind k;
	int err = 0;

	if (c->dir == MS_DIR_D2H)
		return vmm_read((void *)(uintptr_t)dst, src, n);
	if (!host) { /* device source: what it holds now, through host memory */
		tmp = malloc(n ? n : 1);
		if (!tmp)
			return -ENOMEM;
		err = vmm_read(tmp, src, n);
		hs = tmp;
	}
	for (uint64_t a = dst, e; a < dst + n && !err; a = e) {
		e = piece(a, dst + n, &k);
		if (k != P_DEFER)
			err = dev_write(NULL, a, hs + (a - dst), e - a);
		else if (ms_cfg.mode == MS_MODE_LAYERWISE)
			err = record(a, hs + (a - dst), e - a, host ? src + (a - dst) : 0, c->seq);
	}
	free(tmp);
	return err;
}

static enum ms_err err_of(int err)
{
	return err == -ENOMEM ? MS_ERR_OOM : MS_ERR_INVALID;
}

void ms_vmm_copy(struct ms_copy *c)
{
	uint64_t rows = c->rows ? c->rows : 1, w = c->width;
	uint64_t dext = rows > 1 ? (rows - 1) * c->dpitch + w : w;
	uint64_t sext = rows > 1 ? (rows - 1) * c->spitch + w : w;
	bool ddev = c->dir == MS_DIR_H2D || c->dir == MS_DIR_D2D || c->dir == MS_DIR_P2P;
	bool sdev = c->dir == MS_DIR_D2H || c->dir == MS_DIR_D2D || c->dir == MS_DIR_P2P;
	int err = 0;

	if (!w || !c->dst || !c->src || c->dir == MS_DIR_H2H)
		return;
	pthread_mutex_lock(&lock);
	if (!(ddev && touches_deferred(c->dst, c->dst + dext)) &&
	    !(sdev && touches_deferred(c->src, c->src + sext)))
		goto out_unlock;
	c->deferred = true;
	c->rc = 0;
	on_thread();
	for (uint64_t r = 0; r < rows && !err; r++)
		err = copy_linear(c, c->dst + r * (rows > 1 ? c->dpitch : 0),
		                  c->src + r * (rows > 1 ? c->spitch : 0), w);
	if (err)
		c->err = err_of(err);
out_unlock:
	pthread_mutex_unlock(&lock);
}

/* cuMemsetD16/D32 (and their 2D forms) write 2- and 4-byte elements; the call
 * description does not carry the width, its name does. */
static unsigned esize_of(const char *api)
{
	if (strstr(api, "D16"))
		return 2;
	if (strstr(api, "D32"))
		return 4;
	return 1;
}

void ms_vmm_memset(struct ms_memset *m)
{
	uint64_t rows = m->rows ? m->rows : 1, w = rows > 1 ? m->width : m->bytes;
	uint64_t ext = rows > 1 ? (rows - 1) * m->pitch + w : w;
	unsigned es = esize_of(m->api);
	enum piece_kind k;
	int err = 0;

	if (!w || !m->dst)
		return;
	pthread_mutex_lock(&lock);
	if (!touches_deferred(m->dst, m->dst + ext))
		goto out_unlock;
	m->deferred = true;
	m->rc = 0;
	on_thread();
	for (uint64_t r = 0; r < rows && !err; r++) {
		uint64_t lo = m->dst + r * (rows > 1 ? m->pitch : 0);
		struct ms_rlog_entry e = { .dst = lo,
			                   .len = w,
			                   .value = (uint32_t)m->value,
			                   .esize = (uint8_t)es,
			                   .kind = MS_RLOG_FILL };

		for (uint64_t a = lo, end; a < lo + w && !err; a = end) {
			end = piece(a, lo + w, &k);
			if (k != P_DEFER)
				err = dev_fill(NULL, &e, a, end - a);
			else if (ms_cfg.mode == MS_MODE_LAYERWISE) /* a piece starts element-aligned */
				err = ms_rlog_add_fill(&rlog, a, end - a, e.value, es, m->seq) ? -ENOMEM : 0;
		}
	}
	if (err)
		m->err = err_of(err);
out_unlock:
	pthread_mutex_unlock(&lock);
}

/* ----------------------------------------------------- layer life cycle */
int ms_vmm_layer_complete(struct ms_reg_layer *l)
{
	int err;

	if (ms_cfg.mode != MS_MODE_LAYERWISE || !ms_vmm_active())
		return 0;
	pthread_mutex_lock(&lock);
	on_thread();
	err = materialize_locked(l, NULL, NULL);
	pthread_mutex_unlock(&lock);
	if (err)
		pending_err = err_of(err);
	return err;
}

enum ms_err ms_vmm_take_err(void)
{
	enum ms_err e = pending_err;

	pending_err = MS_ERR_NONE;
	return e;
}

void ms_vmm_note_launch(const char *api)
{
	struct ms_line l;
	uint64_t n = atomic_fetch_add(&launches, 1) + 1;

	ms_line_begin(&l, MS_REC_LAUNCH);
	ms_line_u64(&l, "t", ms_now_ns());
	ms_line_u64(&l, "tid", (uint64_t)gettid());
	ms_line_str(&l, "api", api);
	ms_line_u64(&l, "deferred", reserved - materialized);
	ms_line_emit(&l);
	if (n == 1)
		ms_warn("a kernel was launched (%s) while deferred memory exists: a kernel that writes into "
		        "memory "
		        "not yet materialized writes into scratch",
		        api);
}

static bool deferred_mode(void)
{
	return ms_cfg.mode == MS_MODE_META || ms_cfg.mode == MS_MODE_LAYERWISE;
}

int ms_vmm_materialize_layer(const char *name)
{
	struct ms_reg_layer *l;
	int err;

	if (!deferred_mode())
		return -ENOTSUP;
	l = ms_registry_layer(name);
	if (!l)
		return -ENOENT;
	if (!ms_vmm_active())
		return 0;
	pthread_mutex_lock(&lock);
	on_thread();
	err = materialize_locked(l, NULL, "api");
	pthread_mutex_unlock(&lock);
	return err;
}

int ms_vmm_materialize_all(void)
{
	size_t n = ms_registry_layer_count();
	int err = 0;

	if (!deferred_mode())
		return -ENOTSUP;
	for (size_t i = 0; i < n && !err; i++)
		err = ms_vmm_materialize_layer(ms_registry_layer_at(i)->name);
	return err;
}

/* Lock held. Host copies of the spans about to be released, replacing older ones. */
static int backup_spans(struct vlayer *vl, const struct ms_rlog_span *s, size_t n)
{
	struct vbackup *bk = calloc(n + 1, sizeof(*bk));
	int err = 0;

	if (!bk)
		return -ENOMEM;
	for (size_t i = 0; i < n && !err; i++) {
		bk[i].va = s[i].lo;
		bk[i].len = s[i].hi - s[i].lo;
		bk[i].buf = malloc(bk[i].len);
		if (!bk[i].buf)
			err = -ENOMEM;
		else if (vmm_read(bk[i].buf, bk[i].va, bk[i].len))
			err = -EIO;
	}
	if (err) {
		for (size_t i = 0; i < n; i++)
			free(bk[i].buf);
		free(bk);
		return err;
	}
	for (size_t i = 0; i < vl->nbk; i++) {
		backup_bytes -= vl->bk[i].len;
		free(vl->bk[i].buf);
	}
	free(vl->bk);
	vl->bk = bk;
	vl->nbk = n;
	for (size_t i = 0; i < n; i++)
		backup_bytes += bk[i].len;
	return 0;
}

/* Recorded writes that land inside one tensor of l: l's own data, obsolete once
 * it is released (the next load writes it again). */
static bool in_layer(void *ctx, uint64_t lo, uint64_t hi)
{
	struct ms_hit h;

	return ms_registry_find_dev(lo, &h) && h.t->layer == ctx && hi <= h.hi;
}

/* Lock held. Real mappings of l that no other busy layer needs: into spans. */
static size_t releasable(struct ms_reg_layer *l, const struct run *runs, size_t nruns,
                         struct ms_rlog_span *spans, struct run *out)
{
	size_t n = 0;

	for (size_t i = 0; i < nruns; i++) {
		struct vres *r = runs[i].r;
		uint64_t h, e;

		for (uint64_t g = runs[i].g0; g < runs[i].g1; g = e) {
			bool ok = true, busy;

			mapping_of(r, g, &h, &e);
			if (!(r->g[g] & G_REAL) || h < runs[i].g0 || e > runs[i].g1)
				continue;
			for (uint64_t k = h; k < e && ok; k++)
				ok = !shared(r, k, l, &busy) || !busy;
			if (!ok)
				continue;
			if (n && out[n - 1].r == r && out[n - 1].g1 == h) {
				out[n - 1].g1 = e;
				spans[n - 1].hi = va(r, e);
				continue;
			}
			out[n] = (struct run){ r, h, e };
			spans[n++] = (struct ms_rlog_span){ va(r, h), va(r, e) };
		}
	}
	return n;
}

int ms_vmm_release_layer(const char *name, unsigned flags)
{
	const struct ms_driver *d = ms_driver();
	struct ms_rlog_span *spans = NULL;
	struct run *runs = NULL, *out = NULL;
	size_t nruns = 0, n = 0, cap = 0;
	struct ms_reg_layer *l;
	struct vlayer *vl;
	uint64_t bytes = 0;
	struct ms_line line;
	int err = 0;

	if (!deferred_mode())
		return -ENOTSUP;
	l = ms_registry_layer(name);
	if (!l)
		return -ENOENT;
	pthread_mutex_lock(&lock);
	if (ready)
		on_thread();
	if (d && d->cuCtxSynchronize && ms_vmm_active())
		d->cuCtxSynchronize(); /* nothing may still read or write the layer */
	vl = vlayer_of(l);
	if (!vl || layer_runs(l, &runs, &nruns)) {
		err = -ENOMEM;
		goto out_unlock;
	}
	for (size_t i = 0; i < nruns; i++)
		cap += runs[i].g1 - runs[i].g0;
	spans = malloc((cap + 1) * sizeof(*spans));
	out = malloc((cap + 1) * sizeof(*out));
	if (!spans || !out) {
		err = -ENOMEM;
		goto out_unlock;
	}
	n = releasable(l, runs, nruns, spans, out);
	if ((flags & METASHIM_RELEASE_BACKUP) && (err = backup_spans(vl, spans, n)))
		goto out_unlock;
	for (size_t i = 0; i < n; i++) {
		make_scratch(out[i].r, out[i].g0, out[i].g1);
		bytes += spans[i].hi - spans[i].lo;
	}
	ms_rlog_drop(&rlog, in_layer, l);
	vl->early = false;
	ms_count_reset_layer(l);
	set_materialized(l, false);
	ms_line_begin(&line, MS_REC_RELEASE);
	ms_line_u64(&line, "t", ms_now_ns());
	ms_line_u64(&line, "layer", l->id);
	ms_line_u64(&line, "bytes", bytes);
	ms_line_u64(&line, "backup", (flags & METASHIM_RELEASE_BACKUP) ? 1 : 0);
	ms_line_emit(&line);
	emit_mem();
out_unlock:
	pthread_mutex_unlock(&lock);
	free(runs);
	free(spans);
	free(out);
	return err;
}

int ms_vmm_restore_layer(const char *name)
{
	struct ms_reg_layer *l;
	struct vlayer *vl;
	int err;

	if (!deferred_mode())
		return -ENOTSUP;
	l = ms_registry_layer(name);
	if (!l)
		return -ENOENT;
	pthread_mutex_lock(&lock);
	if (ready)
		on_thread();
	vl = l->vmm;
	if (!vl || !vl->nbk) {
		err = -ENOENT; /* released without METASHIM_RELEASE_BACKUP, or never */
		goto out_unlock;
	}
	err = materialize_locked(l, vl, "restore");
	if (!err) {
		for (size_t i = 0; i < vl->nbk; i++) {
			backup_bytes -= vl->bk[i].len;
			free(vl->bk[i].buf);
		}
		free(vl->bk);
		vl->bk = NULL;
		vl->nbk = 0;
		emit_mem();
	}
out_unlock:
	pthread_mutex_unlock(&lock);
	return err;
}

/* Lock held. Every scratch granule left gets real memory with its recorded
 * writes replayed: after a layerwise finalize the program computes with its
 * memory (activations, caches reused from the load) as in a normal run. */
static int materialize_rest_locked(void)
{
	int err = 0;

	for (size_t i = 0; i < nres && !err; i++) {
		struct vres *r = res[i];

		for (uint64_t a = 0, b; a < r->ngran && !err; a = b) {
			b = a + 1;
			if (r->g[a] & G_REAL)
				continue;
			while (b < r->ngran && !(r->g[b] & G_REAL))
				b++;
			err = make_real(r, a, b, false, false);
			if (!err) {
				struct ms_rlog_span s = { va(r, a), va(r, b) };

				err = ms_rlog_replay(&rlog, &s, 1, &devio, NULL);
			}
		}
	}
	ms_rlog_drop(&rlog, all_real, NULL);
	emit_mem();
	if (err)
		ms_warn("finalize: giving the rest of deferred memory real backing failed (%d): out of "
		        "device memory",
		        err);
	return err;
}

int ms_vmm_finalize(void)
{
	size_t n = ms_registry_layer_count(), incomplete = 0;
	int err = 0;

	for (size_t i = 0; i < n; i++) {
		struct ms_reg_layer *l = ms_registry_layer_at(i);
		struct metashim_counts k;

		ms_count_layer_counts(l, &k);
		if (!k.tensors)
			continue;
		if (!k.complete) {
			incomplete++;
			if (deferred_mode())
				ms_warn("finalize: layer %s is incomplete (%llu of %llu elements loaded)%s",
				        l->name, (unsigned long long)k.covered,
				        (unsigned long long)k.expected,
				        k.materialized ? "" : "; it stays deferred");
			continue;
		}
		if (ms_cfg.mode == MS_MODE_LAYERWISE && !k.materialized && ms_vmm_active()) {
			pthread_mutex_lock(&lock);
			on_thread();
			if (!err)
				err = materialize_locked(l, NULL, "finalize");
			pthread_mutex_unlock(&lock);
		}
	}
	if (!err && ms_cfg.mode == MS_MODE_LAYERWISE && ms_vmm_active()) {
		pthread_mutex_lock(&lock);
		on_thread();
		err = materialize_rest_locked();
		settled = true;
		pthread_mutex_unlock(&lock);
	}
	if (err)
		return err;
	return incomplete > INT32_MAX ? INT32_MAX : (int)incomplete;
}
