/* registry.h — descriptor layers and tensors as the shim holds them, shared by
 * registry.c (owner), counter.c (counting state), api.c, progress.c and vmm.c
 * (deferred memory: per-layer state hangs off struct ms_reg_layer).
 *
 * Lifetime: layers and tensors are never freed while the process runs (an
 * unregistered tensor is only marked dead), so a pointer obtained from a lookup
 * stays valid without holding any lock. */
#ifndef METASHIM_REGISTRY_H
#define METASHIM_REGISTRY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

/* ----------------------------------------------------------------- "intervals.c" */
/* A set of disjoint, non-adjacent half-open intervals [lo, hi), sorted. The first
 * MS_IVSET_INLINE intervals live inside the struct, so a tensor written whole or
 * in increasing contiguous pieces never allocates; fragmented writes spill to a
 * heap array that doubles (so allocations are O(log fragments)). Not thread-safe:
 * the owner (a layer lock) serializes. */
#define MS_IVSET_INLINE 2
struct ms_iv {
	uint64_t lo, hi;
};
struct ms_ivset {
	uint32_t n;                        /* intervals in use */
	uint32_t cap;                      /* capacity of heap (0: inline storage) */
	struct ms_iv *heap;                /* spilled storage, NULL while inline */
	struct ms_iv inl[MS_IVSET_INLINE]; /* inline storage */
};
/* Add [lo, hi); *added receives the bytes not covered before. 0, or -ENOMEM when
 * the set had to grow and could not (then nothing changed and *added is 0). */
MS_HIDDEN int ms_ivset_add(struct ms_ivset *s, uint64_t lo, uint64_t hi, uint64_t *added);
/* Sum of interval lengths (O(n); counters keep a running total instead). */
MS_HIDDEN uint64_t ms_ivset_total(const struct ms_ivset *s);
MS_HIDDEN bool ms_ivset_contains(const struct ms_ivset *s, uint64_t lo, uint64_t hi);
MS_HIDDEN void ms_ivset_clear(struct ms_ivset *s); /* empty, keeps heap storage */
MS_HIDDEN void ms_ivset_free(struct ms_ivset *s);

/* ------------------------------------------------------------------ "registry.c" */
struct ms_reg_layer;

/* One tensor descriptor. Identity and shape are immutable after registration;
 * `dev` is written once (registration or bind) under the registry lock.
 *
 * Layout: what counting a copy reads and writes sits on the first cache line (the
 * struct is 64-byte aligned), so a copy into a cold tensor costs one miss here;
 * names, shapes and file identity follow on later lines. The counting fields
 * belong to counter.c and are guarded by the tensor's own `lock` (a spinlock in
 * the hot line; see counter.c); layer->lock, when both are held, is taken first. */
struct ms_reg_tensor {
	/* hot line: counter.c's copy path */
	_Alignas(64) uint64_t nbytes; /* bytes of the device span (and of the file range) */
	uint64_t copied_bits;         /* bits summed over every copy piece */
	uint64_t covered_bytes;       /* bytes of the span written at least once */
	struct ms_reg_layer *layer;   /* owning layer */
	uint64_t dev;                 /* device address of the span, 0 when unknown */
	uint32_t id;                  /* id in the trace (tensor records), from 1 */
	uint32_t ebits;               /* bits per element */
	uint32_t lock;                /* counting state: 0 free, 1 held (counter.c) */
	bool skip;                    /* skip-listed: registered, outside layer totals */
	bool dead;                    /* unregistered: ignored by lookups and totals */
	bool done;                    /* covered_bytes == nbytes */
	bool frag; /* cov holds the written bytes; when false they are [0, covered_bytes) */
	/* cold: registration, records, queries */
	_Alignas(64) struct ms_ivset cov; /* which bytes were written, while frag */
	char *name;                       /* full tensor name */
	char dtype[16];                   /* canonical safetensors dtype name */
	int ndim;                         /* dimensions (0 for a scalar) */
	bool traced;                      /* its tensor record has been written */
	int64_t shape[MS_MAX_DIMS];       /* extent per dimension */
	int64_t stride[MS_MAX_DIMS];      /* in elements */
	uint64_t elems;                   /* product of shape */
	uint64_t expected;                /* elements counted: elems, or the span of a strided view */
	char *file;                       /* checkpoint file, NULL when no source */
	uint64_t file_dev, file_ino;      /* identity of that file */
	uint64_t foff, flen;              /* byte range of the data in the file */
};

/* One layer: its tensors and its load state. `lock` guards the layer's state and
 * the tensors array; `ndone` alone is also changed atomically by the copy path
 * (under the counted tensor's lock only, see counter.c), so read it atomically. vmm.c keeps its own
 * per-layer state behind `vmm` (registry never touches it). */
struct ms_reg_layer {
	uint32_t id;                    /* id in the trace (layer records), from 1 */
	char *name;                     /* layer name */
	bool traced;                    /* its layer record has been written */
	pthread_mutex_t lock;           /* counting state, tensors[] */
	struct ms_reg_tensor **tensors; /* registration order, dead ones included */
	uint32_t ntensors, cap;         /* entries and capacity of tensors */
	uint32_t nreq;                  /* live, non-skipped tensors: what completion needs */
	uint32_t ndone;                 /* of those, complete */
	bool complete;                  /* ndone == nreq > 0, reached through a copy */
	uint32_t loads;                 /* times it became complete */
	bool materialized;              /* has real device memory (vmm.c sets it) */
	void *vmm;                      /* vmm.c's per-layer state */
};

/* A lookup result: the tensor and the range that matched (device addresses for
 * the device index, file offsets for the file index). */
struct ms_hit {
	struct ms_reg_tensor *t;
	uint64_t lo, hi;
};

/* Copy-path lookups: O(log n), allocation-free, never block (see registry.c). */
MS_HIDDEN bool ms_registry_empty(void);
MS_HIDDEN bool ms_registry_find_dev(uint64_t addr, struct ms_hit *hit);
/* Lowest device start above addr, UINT64_MAX when none. */
MS_HIDDEN uint64_t ms_registry_next_dev(uint64_t addr);
MS_HIDDEN bool ms_registry_find_file(uint64_t dev, uint64_t ino, uint64_t off, struct ms_hit *hit);
/* Lowest tensor start above off in that file, UINT64_MAX when none. */
MS_HIDDEN uint64_t ms_registry_next_file(uint64_t dev, uint64_t ino, uint64_t off);

/* Give t the device span [base, base + t->nbytes), learnt from copy seq; writes a
 * bind record. -EEXIST when t is bound already or the span overlaps another
 * tensor's, -EINVAL when it wraps. Takes the registry lock. */
MS_HIDDEN int ms_registry_bind(struct ms_reg_tensor *t, uint64_t base, uint64_t seq);

/* Register one descriptor (layer from d->layer, else derived from the name by the
 * configured rule). -EEXIST for a live tensor of the same name or an overlapping
 * device range; -EINVAL for bad shapes/dtypes; -ENOMEM. *out may be NULL. */
MS_HIDDEN int ms_registry_add(const struct ms_tensor_desc *d, struct ms_reg_tensor **out);
MS_HIDDEN int ms_registry_unregister(const char *name);
/* The layer a tensor name belongs to under the configured rule, into buf. */
MS_HIDDEN void ms_registry_layer_of(const char *name, char *buf, size_t cap);
MS_HIDDEN bool ms_registry_is_skipped(const char *name);

/* Lookups by name and enumeration (take the registry lock; not for the copy path). */
MS_HIDDEN struct ms_reg_tensor *ms_registry_tensor(const char *name);
MS_HIDDEN struct ms_reg_layer *ms_registry_layer(const char *name);
MS_HIDDEN size_t ms_registry_layer_count(void);
MS_HIDDEN struct ms_reg_layer *ms_registry_layer_at(size_t i);
MS_HIDDEN size_t ms_registry_tensor_count(void); /* dead ones included */
MS_HIDDEN struct ms_reg_tensor *ms_registry_tensor_at(size_t i);
/* Layers that can complete (nreq > 0). */
MS_HIDDEN size_t ms_registry_layers_countable(void);

/* ------------------------------------------------------------------- "counter.c" */
/* Count n bytes landing at byte offset off of t's span (copy c, may be NULL for
 * replays); the attribution core shared with vmm.c's replay. */
MS_HIDDEN void ms_count_piece(const struct ms_copy *c, struct ms_reg_tensor *t, uint64_t off, uint64_t n);
/* Forget what was loaded into a layer (vmm release): covered/copied back to 0,
 * not complete; `loads` is kept so the next completion counts as a reload. */
MS_HIDDEN void ms_count_reset_layer(struct ms_reg_layer *l);
/* A tensor joined or left a layer: keep nreq/ndone/complete consistent. Called
 * by registry.c with l->lock held. */
MS_HIDDEN void ms_count_tensor_added(struct ms_reg_layer *l, struct ms_reg_tensor *t);
MS_HIDDEN void ms_count_tensor_removed(struct ms_reg_layer *l, struct ms_reg_tensor *t);
MS_HIDDEN void ms_count_tensor_counts(struct ms_reg_tensor *t, struct metashim_counts *out);
MS_HIDDEN void ms_count_layer_counts(struct ms_reg_layer *l, struct metashim_counts *out);
MS_HIDDEN size_t ms_count_layers_complete(void);
MS_HIDDEN void ms_count_set_callback(metashim_layer_complete_fn fn, void *user);

/* ------------------------------------------------------------------ "progress.c" */
/* Called by the copy path: bytes landed in device memory; may print (at most
 * ~4 times a second, decided by one coarse clock read). */
MS_HIDDEN void ms_progress_copy(uint64_t bytes);
/* The closing progress line (from ms_count_write_final, at exit). */
MS_HIDDEN void ms_progress_final(void);

#endif /* METASHIM_REGISTRY_H */
