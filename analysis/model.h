/* model.h — the in-memory model of one or many metashim traces, built by streaming
 * each trace once (analysis/model.c) and read by every command and exporter.
 * Memory is bounded by the number of descriptors, call sites and distinct
 * pointers, never by the number of events: series are decimated, events are not
 * kept (an exporter that wants every event re-reads run->path with ms_trace_read). */
#ifndef METASHIM_MODEL_H
#define METASHIM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "trace_format.h"

#define MS_NO_TIME    UINT64_MAX /* a time field that was never set */
#define MS_TOP_STACKS 5          /* call sites kept per problem and per tensor */
#define MS_SERIES_MAX 2048       /* points kept per series before decimation */

/* ------------------------------------------------------------------ small parts */

/* A half-open range [lo, hi); element ranges for tensors, byte ranges for files. */
struct ms_range {
	uint64_t lo; /* first unit in the range */
	uint64_t hi; /* one past the last unit */
};

/* A sorted set of disjoint, non-adjacent ranges (an interval union). */
struct ms_rangeset {
	struct ms_range *v; /* ranges in ascending order, malloc'd */
	size_t n;           /* ranges in use */
	size_t cap;         /* ranges allocated */
};

/* A time series of (t, value) points, decimated to at most MS_SERIES_MAX points;
 * decimation keeps each merged pair's larger value so peaks survive. */
struct ms_series {
	uint64_t *t;        /* ns since trace start, ascending */
	uint64_t *v;        /* value at t (bytes for memory series) */
	size_t n;           /* points in use */
	uint64_t stride_ns; /* minimum spacing after decimation (0 = every point) */
};

/* One call site's share of something: bytes and operations under one stack id. */
struct ms_site_share {
	uint32_t stack; /* stack trie id (0 = no backtrace) */
	uint64_t bytes; /* bytes attributed to this site */
	uint64_t count; /* operations (copies, attrs, occurrences) */
};

/* ----------------------------------------------------------------------- stacks */

/* A loaded ELF object, from a `module` record. */
struct ms_module {
	uint64_t id;   /* module id as written by the shim */
	uint64_t base; /* load address */
	uint64_t end;  /* one past the last mapped byte */
	char *path;    /* decoded file path */
	char *buildid; /* hex build id, or NULL when "-" */
};

/* A stack trie node, from a `stack` record; stack ids index run->stacks via a map. */
struct ms_stack_node {
	uint32_t id;     /* node id (an event's `stack`) */
	uint32_t parent; /* parent node id, 0 = root */
	uint64_t pc;     /* frame return address */
};

/* Everything that happened under one call stack (events' `stack` field). */
struct ms_callsite {
	uint32_t stack;        /* stack trie id (0 = no backtrace) */
	uint64_t copies;       /* copy events */
	uint64_t copy_bytes;   /* bytes of those copies */
	uint64_t attr_bytes;   /* of which attributed to tensors */
	uint64_t unattr_bytes; /* of which host-to-device bytes no tensor claimed */
	uint64_t allocs;       /* alloc events */
	uint64_t alloc_bytes;  /* bytes of those allocations */
	uint64_t memsets;      /* memset events */
	uint64_t dur_ns;       /* summed duration of the copies */
};

/* ---------------------------------------------------------------- descriptors */

/* A descriptor tensor (`tensor` record) and what the trace says was loaded into it. */
struct ms_tensor {
	uint64_t id;            /* tensor id in the trace */
	char *name;             /* decoded full name */
	size_t layer;           /* index into run->layers (SIZE_MAX when the layer is unknown) */
	char dtype[16];         /* dtype name ("BF16") */
	uint32_t esize;         /* bytes per element (0 when sub-byte/unknown) */
	char *shape;            /* "4096,4096" as written ("" for a scalar) */
	char *stride;           /* "4096,1" as written ("" for a scalar) */
	uint64_t elems;         /* expected elements */
	bool skip;              /* skip-listed: outside every total and problem */
	char *file;             /* checkpoint file path, NULL when the tensor has no source */
	uint64_t foff;          /* byte offset of its data in file */
	uint64_t flen;          /* byte length of its data in file */
	uint64_t dev;           /* device address, 0 until bound (tensor record or bind) */
	uint64_t copied;        /* elements summed over attr records (recomputed) */
	uint64_t covered;       /* unique elements, from the union of attr ranges */
	struct ms_rangeset cov; /* that union, in elements */
	uint64_t attrs;         /* attr records landing in this tensor */
	uint64_t first_t;       /* start of the first copy into it (MS_NO_TIME if none) */
	uint64_t last_t;        /* end (t+dur) of the last copy into it (MS_NO_TIME if none) */
	bool has_final;         /* a `final` record was seen */
	uint64_t final_copied;  /* copied according to the shim's final record */
	uint64_t final_covered; /* covered according to the shim's final record */
	uint64_t misaligned;    /* misaligned problem records naming this tensor */
	uint64_t straddle;      /* straddle problem records naming this tensor */
	struct ms_site_share sites[MS_TOP_STACKS]; /* call sites that loaded it (first seen, bytes) */
};

/* Load state of a tensor or layer, after all records. */
enum ms_status {
	MS_ST_COMPLETE, /* covered == expected, copied == covered */
	MS_ST_TWICE,    /* covered == expected, copied > covered (loaded more than once) */
	MS_ST_PARTIAL,  /* 0 < covered < expected */
	MS_ST_NEVER,    /* covered == 0 and expected > 0 */
	MS_ST_SKIPPED,  /* skip-listed (tensor) or only skip-listed tensors (layer) */
	MS_ST_COUNT
};

/* A descriptor layer (`layer` record) and its totals over non-skipped tensors. */
struct ms_layer {
	uint64_t id;                 /* layer id in the trace */
	char *name;                  /* decoded layer name */
	size_t ntensors;             /* tensors counted (skip-listed excluded) */
	size_t nskipped;             /* skip-listed tensors */
	uint64_t expected;           /* expected elements */
	uint64_t covered;            /* unique elements loaded */
	uint64_t copied;             /* elements summed over copies */
	uint64_t bytes;              /* expected bytes (elements * esize) */
	uint64_t copied_bytes;       /* bytes summed over the attr records */
	enum ms_status status;       /* worst status of its tensors (NEVER > PARTIAL > TWICE > COMPLETE) */
	uint64_t first_t;            /* start of its first copy (MS_NO_TIME if none) */
	uint64_t last_t;             /* end of its last copy (MS_NO_TIME if none) */
	uint64_t complete_t;         /* time of its first `complete` record (MS_NO_TIME if none) */
	uint64_t loads;              /* `complete` records seen (a reload completes again) */
	double gbps;                 /* copied_bytes / (last_t - first_t), GB/s (0 when unknown) */
	uint64_t materialized_t;     /* time of its first `materialize` record (MS_NO_TIME if none) */
	uint64_t materialized_bytes; /* bytes of the last materialize record */
	uint64_t materializations;   /* materialize records (ok or not) */
	uint64_t materialize_failed; /* materialize records with ok=0 */
	uint64_t releases;           /* release records */
	uint64_t materialize_ns;     /* summed `dur` of its ok materialize records */
	uint64_t materialize_max_ns; /* the longest of them */
};

/* ------------------------------------------------------------------- problems */

enum ms_problem_kind {
	MS_PB_NEVER_LOADED,   /* a tensor none of whose elements arrived */
	MS_PB_PARTIAL,        /* a tensor with some but not all elements */
	MS_PB_LOADED_TWICE,   /* a tensor with copied > covered */
	MS_PB_MISALIGNED,     /* copies whose size/offset is not a multiple of the element size */
	MS_PB_STRADDLE,       /* copies straddling a tensor end */
	MS_PB_UNATTRIBUTED,   /* host-to-device bytes no tensor claimed (one per run) */
	MS_PB_LAUNCH_HAZARD,  /* kernels launched while deferred memory existed (one per run) */
	MS_PB_MATERIALIZE,    /* a layer's materialization failed */
	MS_PB_FINAL_MISMATCH, /* recomputed counts differ from the shim's final record */
	MS_PB_COUNT
};

/* One problem: a kind and its subject, with how much and from where. Sorted by
 * kind, then layer order, then tensor order (stable for golden tests). */
struct ms_problem {
	enum ms_problem_kind kind; /* what is wrong */
	size_t tensor;             /* index into run->tensors, SIZE_MAX when not about one tensor */
	size_t layer;              /* index into run->layers, SIZE_MAX when not about one layer */
	uint64_t count;            /* occurrences (records, copies, launches) */
	uint64_t amount;           /* elements (tensor kinds) or bytes (unattributed, materialize) */
	char detail[160];          /* one human line: "covered 512 of 1024 elements", shim's detail */
	struct ms_site_share sites[MS_TOP_STACKS]; /* top call sites by bytes (count == 0 ends) */
};

/* --------------------------------------------------------------- traffic stats */

/* Calls and bytes of one entry point (API name as the program called it). */
struct ms_api_stat {
	char name[48];   /* "cudaMemcpyAsync" */
	char kind[8];    /* record type: "alloc", "free", "copy", "memset" */
	uint64_t calls;  /* records */
	uint64_t bytes;  /* bytes moved/allocated/freed/set */
	uint64_t errors; /* records with rc != 0 */
	uint64_t dur_ns; /* summed duration */
};

/* Copies of one direction (H2D ...). */
struct ms_dir_stat {
	uint64_t calls;  /* copy records */
	uint64_t bytes;  /* bytes copied */
	uint64_t dur_ns; /* summed copy durations */
};

/* A named instant (`mark` record). */
struct ms_mark {
	uint64_t t;   /* ns since trace start */
	uint64_t tid; /* thread */
	char *name;   /* decoded name */
};

/* A `warn` record (what the shim told the user). */
struct ms_warn {
	uint64_t t; /* ns since trace start */
	char *msg;  /* decoded message */
};

/* A `complete` record: one layer became complete (reloads add more). */
struct ms_completion {
	uint64_t t;     /* ns since trace start */
	size_t layer;   /* index into run->layers */
	uint64_t loads; /* the loads-th time this layer completed */
};

/* --------------------------------------------------------------------- one run */

/* One trace = one process (one rank). */
struct ms_run {
	char *path; /* trace file as given on the command line */
	/* header */
	unsigned fmt;     /* format version of the trace */
	char *shim;       /* shim version that wrote it */
	int64_t pid;      /* process id */
	int64_t ppid;     /* parent process id */
	int64_t rank;     /* rank, -1 when not distributed */
	int64_t world;    /* world size, -1 when not distributed */
	char *host;       /* host name */
	char *exe;        /* executable path */
	char *argv;       /* command line, spaces between arguments */
	char *cwd;        /* working directory */
	uint64_t wall_ns; /* CLOCK_REALTIME at start (ns since the epoch) */
	char *mode;       /* trace | meta | layerwise */
	char **options;   /* "KEY=VALUE" of each option record */
	size_t noptions;  /* entries in options */
	/* reading */
	uint64_t lines;         /* whole lines read (header included) */
	bool has_footer;        /* the trace ended cleanly */
	bool partial_line;      /* a final line without '\n' was dropped */
	uint64_t footer_events; /* events the shim counted (footer) */
	uint64_t dropped;       /* events the shim dropped (footer) */
	uint64_t end_t;         /* last time seen (footer t, or max t/t+dur of any record) */
	/* traffic */
	struct ms_api_stat *apis;              /* per entry point, sorted by kind then name at finish */
	size_t napis;                          /* entries in apis */
	struct ms_dir_stat dirs[MS_DIR_COUNT]; /* copies per direction */
	uint64_t copies;                       /* copy records */
	uint64_t copy_bytes;                   /* bytes of all copies */
	uint64_t copy_dur_ns;                  /* summed copy durations */
	uint64_t copy_first_t;                 /* start of the first copy (MS_NO_TIME if none) */
	uint64_t copy_last_t;                  /* end of the last copy (MS_NO_TIME if none) */
	uint64_t memsets;                      /* memset records */
	uint64_t memset_bytes;                 /* bytes set */
	uint64_t errors;                       /* records of any kind with rc != 0 */
	/* memory */
	uint64_t allocs;               /* successful alloc records */
	uint64_t frees;                /* successful free records */
	uint64_t alloc_bytes;          /* bytes allocated in all */
	uint64_t live_bytes;           /* bytes allocated and not freed at the end */
	uint64_t live_peak;            /* peak of live bytes */
	uint64_t live_peak_t;          /* when it was reached */
	uint64_t unmatched_frees;      /* frees of a pointer no alloc returned */
	uint64_t deferred_allocs;      /* allocations the shim deferred */
	struct ms_series live;         /* live allocated bytes over time */
	bool has_mem;                  /* `mem` records were seen */
	uint64_t reserved_peak;        /* peak reserved bytes (mem) */
	uint64_t materialized_peak;    /* peak materialized bytes (mem) */
	uint64_t materialized_peak_t;  /* when it was reached */
	uint64_t staged_peak;          /* peak host bytes staged for replay (mem) */
	uint64_t scratch;              /* scratch bytes (last mem record) */
	struct ms_series reserved;     /* reserved bytes over time */
	struct ms_series materialized; /* materialized bytes over time */
	struct ms_series staged;       /* staged bytes over time */
	struct ms_series copy_rate;    /* bytes copied per stride_ns bucket (H2D), for throughput plots */
	uint64_t launches;             /* launch records (kernels while deferred memory existed) */
	uint64_t first_launch_t;       /* time of the first one (MS_NO_TIME if none) */
	/* descriptors */
	struct ms_layer *layers;           /* in order of first appearance */
	size_t nlayers;                    /* entries in layers */
	struct ms_tensor *tensors;         /* in order of first appearance */
	size_t ntensors;                   /* entries in tensors */
	uint64_t attr_bytes;               /* bytes attributed to tensors */
	uint64_t unattr_bytes;             /* bytes of H2D copies no tensor claimed */
	uint64_t unattr_copies;            /* unattr records */
	uint64_t completes;                /* complete records */
	struct ms_completion *completions; /* every complete record, in trace order */
	size_t ncompletions;               /* entries in completions */
	size_t layers_complete;            /* layers whose status is COMPLETE or TWICE */
	size_t layers_counted;             /* layers with at least one counted tensor */
	/* problems */
	struct ms_problem *problems;       /* sorted, see struct ms_problem */
	size_t nproblems;                  /* entries in problems */
	size_t problem_kinds[MS_PB_COUNT]; /* problems per kind */
	/* call sites and stacks */
	struct ms_callsite *sites;    /* sorted by copy_bytes desc, then stack id */
	size_t nsites;                /* entries in sites */
	struct ms_stack_node *stacks; /* trie nodes in record order */
	size_t nstacks;               /* entries in stacks */
	struct ms_module *modules;    /* loaded objects in record order */
	size_t nmodules;              /* entries in modules */
	/* annotations */
	struct ms_mark *marks; /* mark records in order */
	size_t nmarks;         /* entries in marks */
	struct ms_warn *warns; /* warn records in order (first 1000) */
	size_t nwarns;         /* entries in warns */
	void *priv;            /* model.c's lookup tables (ids, pointers); NULL after finish */
};

/* The model of every trace given to one command, in command-line order. */
struct ms_model {
	struct ms_run *runs; /* one per trace */
	size_t nruns;        /* entries in runs */
};

/* ---------------------------------------------------------------------- API */

/* Options for building a model. */
struct ms_model_opts {
	bool quiet; /* no warnings on stderr (cut-short traces, ...) */
};

/* Read every path into m (one run each). On error returns a negative errno after
 * writing one line naming the file (and line) to stderr; m is then freed. */
int ms_model_load(struct ms_model *m, char *const *paths, size_t npaths, const struct ms_model_opts *opts);
/* Read one trace into a fresh run (used by ms_model_load and by tests). */
int ms_run_load(struct ms_run *run, const char *path, const struct ms_model_opts *opts);
void ms_run_free(struct ms_run *run);
void ms_model_free(struct ms_model *m);

/* Helpers for commands and exporters. */
const char *ms_status_name(enum ms_status s);        /* "complete", "twice", ... */
const char *ms_problem_name(enum ms_problem_kind k); /* "never loaded", ... */
const char *ms_problem_key(enum ms_problem_kind k);  /* "never_loaded", ... (JSON) */
/* Pointer frame list of a stack id, innermost first; returns frames written (<= cap). */
size_t ms_run_stack_frames(const struct ms_run *run, uint32_t stack, uint64_t *pcs, size_t cap);
/* The run's display name: "rank 3" when ranked, else "pid 1234". */
void ms_run_label(const struct ms_run *run, char *buf, size_t cap);
/* Tensor status from its counts. */
enum ms_status ms_tensor_status(const struct ms_tensor *t);
/* Total problems (sum of problem_kinds). */
size_t ms_run_problem_total(const struct ms_run *run);

/* Range sets (analysis/rangeset.c). */
int ms_rangeset_add(struct ms_rangeset *s, uint64_t lo, uint64_t hi);
uint64_t ms_rangeset_total(const struct ms_rangeset *s);
void ms_rangeset_free(struct ms_rangeset *s);

/* Series (analysis/series.c). */
int ms_series_push(struct ms_series *s, uint64_t t, uint64_t v);
void ms_series_free(struct ms_series *s);

/* ------------------------------------------------------- checkpoint view (merge) */

/* How often each byte of one checkpoint tensor was consumed across all runs, from
 * the attr element ranges mapped onto the file range (foff + off * esize).
 * Tensors are matched across runs by (file, foff) when they have a source, else by name. */
struct ms_ckpt_tensor {
	const char *name;      /* tensor name (points into the first run that has it) */
	const char *file;      /* checkpoint file, NULL when no run gives one */
	uint64_t foff;         /* byte offset in file */
	uint64_t bytes;        /* byte length (elems * esize) */
	uint64_t never;        /* bytes no run consumed */
	uint64_t once;         /* bytes exactly one run consumed, exactly once */
	uint64_t multi;        /* bytes consumed more than once (by one run or several) */
	uint32_t nranks;       /* runs that consumed any byte of it */
	uint64_t rank_mask;    /* bit i set: run i (i < 64) consumed some of it */
	enum ms_status status; /* COMPLETE (all once), TWICE (any multi), PARTIAL, NEVER */
};

/* The checkpoint view of a model: every descriptor tensor of every run, merged. */
struct ms_ckpt_view {
	struct ms_ckpt_tensor *v;   /* sorted by file, foff, name */
	size_t n;                   /* entries in v */
	uint64_t bytes;             /* total checkpoint bytes described */
	uint64_t never;             /* bytes never consumed */
	uint64_t once;              /* bytes consumed exactly once */
	uint64_t multi;             /* bytes consumed more than once */
	size_t status[MS_ST_COUNT]; /* tensors per status */
};
int ms_ckpt_view_build(const struct ms_model *m, struct ms_ckpt_view *out);
void ms_ckpt_view_free(struct ms_ckpt_view *v);

/* One line naming a call site: the innermost frame that is not plumbing (the shim,
 * libc, libffi, the CUDA runtime or driver, however linked; rules in callsite.c),
 * e.g. "load_tensor (loader.c:88) [loader]", "[python] via ctypes: cudaMemcpy", or
 * raw "0x4011a2 [loader+0x11a2]", or "(no backtrace)" for stack 0.
 * symbolize=false never touches ELF files. */
void ms_callsite_name(const struct ms_run *run, uint32_t stack, bool symbolize, char *buf, size_t cap);

/* Exporters living in their own files (analysis/export_*.c). Call-site names in
 * exports are symbolized unless ms_export_symbolize is false (export --no-symbolize). */
extern bool ms_export_symbolize;
int ms_export_json(const struct ms_model *m, FILE *out);
int ms_export_csv(const struct ms_model *m, FILE *out);
int ms_export_perfetto(const struct ms_model *m, FILE *out);
int ms_export_html(const struct ms_model *m, FILE *out);

#endif /* METASHIM_MODEL_H */
