/* callsite.h — which frame of a stack a person should look at, and the chain around
 * it. ms_callsite_name (declared in model.h) names the pick; these let a command
 * print the frames under it and let tests name frames without ELF files. */
#ifndef METASHIM_CALLSITE_H
#define METASHIM_CALLSITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "symbolize.h"

/* What one frame of a stack is to the person reading a call site. */
enum ms_frame_role {
	MS_FR_USER,     /* code a user wrote or called on purpose: a call-site candidate */
	MS_FR_PLUMBING, /* the shim, libc, ld.so, libffi/ctypes, libc10_cuda */
	MS_FR_CUDA,     /* the CUDA runtime or driver: libcudart*, libcuda*, cuda... and cu... functions
	                 * and what they call in the module they are linked into */
	MS_FR_PYTHON,   /* the Python interpreter (libpython*, python*) */
};

#define MS_SITE_MAX_FRAMES 64

/* The frames of a stack as the call-site rule sees them (innermost first). */
struct ms_site_frames {
	size_t n;                                    /* frames in the stack (at most MS_SITE_MAX_FRAMES) */
	size_t pick;                                 /* the frame ms_callsite_name names */
	bool python;                                 /* a Python interpreter frame lies outward of the pick */
	enum ms_frame_role role[MS_SITE_MAX_FRAMES]; /* per frame */
};

/* Classify the frames of stack (symbolize=false: by module only). Returns the
 * number of frames (0 for stack 0 or a stack whose frames are not in the trace). */
size_t ms_callsite_frames(const struct ms_run *run, uint32_t stack, bool symbolize,
                          struct ms_site_frames *out);
/* Name frame i (0 = innermost) of stack into buf the way ms_callsite_name names a
 * single frame: "fn (file.c:12) [module]", "module+0x1a2b" or "0x4011a2 [app+0x11a2]". */
void ms_callsite_frame_name(const struct ms_run *run, uint32_t stack, size_t i, bool symbolize, char *buf,
                            size_t cap);
/* "runtime", "plumbing", "python" or "" (user). */
const char *ms_frame_role_name(enum ms_frame_role r);

/* Test seam: name frames with fn (same contract as ms_symbolize_kind) instead of the
 * ELF symbolizer; NULL restores it. */
typedef int (*ms_callsite_namer_fn)(void *ctx, uint64_t pc, char *buf, size_t cap, enum ms_sym_kind *kind);
void ms_callsite_set_namer(ms_callsite_namer_fn fn, void *ctx);

#endif /* METASHIM_CALLSITE_H */
