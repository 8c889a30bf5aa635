/* metashim.h — the public C API of libmetashim.so.
 *
 * A program (or Python through ctypes) that runs under the shim may describe its
 * tensors, query what has been loaded into them, and steer when layers get real
 * device memory. Every function is safe to call when the shim is not preloaded
 * through a weak reference, and from any thread. Actions return 0 or a negative
 * errno; lookups that find nothing return -ENOENT. */
#ifndef METASHIM_H
#define METASHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define METASHIM_VERSION "0.1.0"
#define METASHIM_API     __attribute__((visibility("default")))

/* Counts of one tensor or one layer, in elements. */
struct metashim_counts {
	uint64_t expected;     /* elements the descriptor(s) hold, skip-listed tensors excluded */
	uint64_t copied;       /* elements summed over every copy (a copy counter) */
	uint64_t covered;      /* unique elements written (interval union) */
	uint32_t tensors;      /* tensors counted (1 for a tensor) */
	uint32_t complete;     /* 1 when covered == expected for every tensor */
	uint32_t materialized; /* 1 when the layer has real device memory (deferred modes) */
	uint32_t loads;        /* times the layer became complete (reloads count again) */
};

/* Called once each time a layer becomes complete, on the thread whose copy
 * completed it; must not call back into CUDA. */
typedef void (*metashim_layer_complete_fn)(const char *layer, void *user);

/* Flags of metashim_release_layer. */
#define METASHIM_RELEASE_BACKUP 1u /* copy the layer's bytes to host memory first */

METASHIM_API const char *metashim_version(void);
/* 1 when the shim is loaded and recording, 0 when disabled. */
METASHIM_API int metashim_active(void);

/* Describe a tensor living at dev_ptr. dtype is a safetensors name ("BF16", "F32",
 * ...) or a torch name ("bfloat16", "float32"). stride may be NULL (contiguous).
 * layer may be NULL: the name up to its last dot. */
METASHIM_API int metashim_register_tensor(const char *layer, const char *name, uint64_t dev_ptr,
                                          const char *dtype, int ndim, const int64_t *shape,
                                          const int64_t *stride);
METASHIM_API int metashim_unregister_tensor(const char *name);

METASHIM_API int metashim_tensor_counts(const char *name, struct metashim_counts *out);
METASHIM_API int metashim_layer_counts(const char *layer, struct metashim_counts *out);
/* Number of layers known, and the name of the i-th (NULL past the end). */
METASHIM_API int metashim_layer_count(void);
METASHIM_API const char *metashim_layer_name(int i);

METASHIM_API int metashim_set_layer_complete_callback(metashim_layer_complete_fn fn, void *user);
/* Put a named instant into the trace ("reload step 3"). */
METASHIM_API int metashim_mark(const char *name);

/* Deferred modes (meta, layerwise); in trace mode these return -ENOTSUP. */
METASHIM_API int metashim_materialize_layer(const char *layer);
METASHIM_API int metashim_materialize_all(void);
METASHIM_API int metashim_release_layer(const char *layer, unsigned flags);
METASHIM_API int metashim_restore_layer(const char *layer);
/* Materialize what is complete, report what is not; returns the number of
 * incomplete layers (0 when all are complete) or a negative errno. */
METASHIM_API int metashim_finalize(void);

#ifdef __cplusplus
}
#endif
#endif /* METASHIM_H */
