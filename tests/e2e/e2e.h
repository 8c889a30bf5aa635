/* e2e.h — the end-to-end test harness: spawn a program with an environment built
 * from scratch (the shim preloaded or not, the fake CUDA on the library path, the
 * trace into a per-test directory), read the traces it left with a small reader
 * of our own, and read the checkpoint the way the tests expect it to be loaded.
 * Deliberately independent of analysis/: these tests check the shim, and a bug
 * shared by the shim and the analysis tool must not cancel out. */
#ifndef METASHIM_E2E_H
#define METASHIM_E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct e2e_trace;

/* ------------------------------------------------------------------ harness.c */
#define E2E_MAX_ENV 64

/* A child's environment; never inherited from the test runner. */
struct e2e_env {
	char *v[E2E_MAX_ENV + 1];
	int n;
};

struct e2e_run {
	int status; /* exit code, or 128 + signal when killed */
	char *out;  /* everything written to stdout, NUL-terminated */
	char *err;  /* and to stderr */
};

/* Absolute build directory (METASHIM_TEST_BUILD, set by tests/run.sh; else ./build). */
const char *e2e_build(void);
/* Path under the build directory; malloc'd. */
char *e2e_bin(const char *rel);
/* A fresh directory for one test under $TMPDIR; e2e_cleanup removes it. */
char *e2e_tmpdir(void);
void e2e_cleanup(char *dir);

/* PATH, LD_LIBRARY_PATH (the fake CUDA), METASHIM_OUT=<dir>/trace-%p.trace and,
 * when shim is true, LD_PRELOAD=<build>/libmetashim.so; sanitizer options under a
 * sanitizer build. */
void e2e_env_init(struct e2e_env *e, const char *dir, bool shim);
void e2e_env_add(struct e2e_env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void e2e_env_free(struct e2e_env *e);

/* Run argv (NULL-terminated; argv[0] a path) in dir with env; waits (killing the
 * child after a generous deadline so that no test hangs). Returns 0, or -1 when the
 * program could not be started. */
int e2e_spawn(const struct e2e_env *env, const char *dir, char *const argv[], struct e2e_run *r);
/* The same with the arguments listed, NULL-terminated. */
int e2e_runl(const struct e2e_env *env, const char *dir, struct e2e_run *r, const char *prog, ...)
        __attribute__((sentinel));
void e2e_run_free(struct e2e_run *r);

/* Run <build>/rel OPTS... LAST in dir (under the shim when shim; extra_env adds
 * "K=V" strings), assert that it exits 0, and when t is given assert there is
 * exactly one trace in dir and load it. Criterion asserts: call from a test. */
void e2e_load(const char *rel, const char *dir, bool shim, const char *const *extra_env,
              const char *const *opts, const char *last, struct e2e_trace *t);

/* Generate the example checkpoint into <dir>/ckpt (no shim); returns its path. */
char *e2e_make_checkpoint(const char *dir, const char *const *args);

/* Names of the *.trace files directly under dir, sorted; returns the count. */
int e2e_list_traces(const char *dir, char ***names);
void e2e_free_names(char **names, int n);
/* Read a whole file; NULL when it cannot be read; *len gets its size. */
char *e2e_slurp(const char *path, size_t *len);

/* ---------------------------------------------------------------- trace_read.c */
struct e2e_kv {
	char *key, *val; /* val percent-decoded */
};
struct e2e_rec {
	char *type;
	struct e2e_kv *kv;
	int n;
};
struct e2e_trace {
	struct e2e_rec *rec;
	int n;
	bool magic_ok; /* first line is "metashim-trace <version>" */
	bool footer;   /* ends with a footer record */
};

int e2e_trace_load(const char *path, struct e2e_trace *t);
void e2e_trace_free(struct e2e_trace *t);
/* Field of a record, NULL when absent; as a number (0 when absent or not a number). */
const char *e2e_get(const struct e2e_rec *r, const char *key);
uint64_t e2e_u64(const struct e2e_rec *r, const char *key);
int e2e_count(const struct e2e_trace *t, const char *type);
/* Successful copy records (rc 0) of a direction: how many, and their bytes. */
int e2e_copies(const struct e2e_trace *t, const char *dir, uint64_t *bytes);
/* Such copies whose api is exactly api (NULL: any) or, with prefix, starts with it. */
int e2e_copies_api(const struct e2e_trace *t, const char *dir, const char *api, bool prefix);
/* The header's pid (-1 when missing). */
long e2e_trace_pid(const struct e2e_trace *t);
/* Load the one trace under dir; returns how many traces there are (the trace is
 * loaded only when that is 1). */
int e2e_only_trace(const char *dir, struct e2e_trace *t);

/* Descriptor view: the tensor records joined with their final records. Points into
 * the trace, which must outlive it. */
struct e2e_tensor_state {
	const char *name, *layer;
	uint64_t elems, copied, covered;
	bool skip, has_final;
};
struct e2e_layer_state {
	const char *name;
	int completes; /* complete records naming it */
};
struct e2e_desc {
	struct e2e_tensor_state *t;
	int nt;
	struct e2e_layer_state *l;
	int nl;
	uint64_t unattr_bytes;
	int attrs;
};
int e2e_desc_build(const struct e2e_trace *t, struct e2e_desc *d);
void e2e_desc_free(struct e2e_desc *d);
const struct e2e_tensor_state *e2e_desc_tensor(const struct e2e_desc *d, const char *name);

/* --------------------------------------------------------------- checkpoint.c */
/* The checkpoint as the tests expect it to be loaded, read independently of the
 * example loaders: shards in file-name order, tensors in data-offset order. */
struct e2e_ck_tensor {
	char *name;
	uint64_t bytes, elems;
	const unsigned char *data; /* into e2e_ck.buf */
};
struct e2e_ck {
	struct e2e_ck_tensor *t;
	int n;
	uint64_t total_bytes;
	unsigned char **bufs; /* the shard files, read whole */
	int nbufs;
};
int e2e_ck_load(const char *dir, struct e2e_ck *ck);
void e2e_ck_free(struct e2e_ck *ck);
const struct e2e_ck_tensor *e2e_ck_find(const struct e2e_ck *ck, const char *name);
/* 0 when the file holds exactly every tensor's bytes in checkpoint order (leaving
 * out the tensor named skip, if any); otherwise -1 and the first difference in why. */
int e2e_ck_compare_dump(const struct e2e_ck *ck, const char *path, const char *skip, char *why, size_t cap);
/* The usual fixture: a fresh test directory (*dir), the example checkpoint generated
 * into it (*ckpt) and read into ck; Criterion asserts, so call from a test's set-up.
 * e2e_ck_fixture_free undoes it all. */
void e2e_ck_fixture(char **dir, char **ckpt, struct e2e_ck *ck);
void e2e_ck_fixture_free(char *dir, char *ckpt, struct e2e_ck *ck);

#endif /* METASHIM_E2E_H */
