/* entry_points.h — every CUDA entry point the shim knows, in one X-macro list.
 *
 * Each row is one ABI symbol (what a library exports and dlsym finds):
 *   sym      the exported name; for wrapped rows, also the name of the shim's wrapper
 *   proc     the name cuGetProcAddress is asked for (NULL for runtime calls)
 *   version  the first CUDA version at which cuGetProcAddress(proc, version) means sym
 *   pt       1 for the per-thread default stream form (_ptds / _ptsz)
 * Row kinds: DRV (driver call wrapped in hooks_driver.c), RT (runtime call wrapped in
 * hooks_runtime.c), GPA (cuGetProcAddress itself, hooks_dlsym.c), KNOWN (an ABI the
 * shim does not wrap but must know so a lookup at that version is not mistaken
 * for a newer one: the 32-bit v1 forms). Versions follow cudaTypedefs.h
 * (PFN_cuMemAlloc_v3020 is cuMemAlloc_v2; CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM
 * selects the pt form). Adding a wrapper: add its row here, define it in its hooks
 * file; the dlsym and cuGetProcAddress routing pick it up. */
#ifndef METASHIM_ENTRY_POINTS_H
#define METASHIM_ENTRY_POINTS_H

/* A driver call with a legacy v1 (32-bit) ABI, its _v2 form and a per-thread form. */
#define MS_EP_V1_V2_PT(DRV, KNOWN, name, v1ver, ptname) \
	KNOWN(name, #name, v1ver, 0)                    \
	DRV(name##_v2, #name, 3020, 0)                  \
	DRV(ptname, #name, 7000, 1)

#define MS_ENTRY_POINTS(DRV, RT, GPA, KNOWN)                                               \
	GPA(cuGetProcAddress, "cuGetProcAddress", 11030, 0)                                \
	GPA(cuGetProcAddress_v2, "cuGetProcAddress", 12000, 0)                             \
	KNOWN(cuMemAlloc, "cuMemAlloc", 2000, 0)                                           \
	DRV(cuMemAlloc_v2, "cuMemAlloc", 3020, 0)                                          \
	KNOWN(cuMemFree, "cuMemFree", 2000, 0)                                             \
	DRV(cuMemFree_v2, "cuMemFree", 3020, 0)                                            \
	DRV(cuMemAllocAsync, "cuMemAllocAsync", 11020, 0)                                  \
	DRV(cuMemAllocAsync_ptsz, "cuMemAllocAsync", 11020, 1)                             \
	DRV(cuMemFreeAsync, "cuMemFreeAsync", 11020, 0)                                    \
	DRV(cuMemFreeAsync_ptsz, "cuMemFreeAsync", 11020, 1)                               \
	DRV(cuMemAllocFromPoolAsync, "cuMemAllocFromPoolAsync", 11020, 0)                  \
	DRV(cuMemAllocFromPoolAsync_ptsz, "cuMemAllocFromPoolAsync", 11020, 1)             \
	DRV(cuMemCreate, "cuMemCreate", 10020, 0)                                          \
	DRV(cuMemRelease, "cuMemRelease", 10020, 0)                                        \
	DRV(cuMemMap, "cuMemMap", 10020, 0)                                                \
	DRV(cuMemUnmap, "cuMemUnmap", 10020, 0)                                            \
	DRV(cuMemcpy, "cuMemcpy", 4000, 0)                                                 \
	DRV(cuMemcpy_ptds, "cuMemcpy", 7000, 1)                                            \
	DRV(cuMemcpyAsync, "cuMemcpyAsync", 4000, 0)                                       \
	DRV(cuMemcpyAsync_ptsz, "cuMemcpyAsync", 7000, 1)                                  \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemcpyHtoD, 2000, cuMemcpyHtoD_v2_ptds)               \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemcpyHtoDAsync, 2000, cuMemcpyHtoDAsync_v2_ptsz)     \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemcpyDtoH, 2000, cuMemcpyDtoH_v2_ptds)               \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemcpyDtoHAsync, 2000, cuMemcpyDtoHAsync_v2_ptsz)     \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemcpyDtoD, 2000, cuMemcpyDtoD_v2_ptds)               \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemcpyDtoDAsync, 3000, cuMemcpyDtoDAsync_v2_ptsz)     \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemcpy2D, 2000, cuMemcpy2D_v2_ptds)                   \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemcpy2DUnaligned, 2000, cuMemcpy2DUnaligned_v2_ptds) \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemcpy2DAsync, 2000, cuMemcpy2DAsync_v2_ptsz)         \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemcpy3D, 2000, cuMemcpy3D_v2_ptds)                   \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemcpy3DAsync, 2000, cuMemcpy3DAsync_v2_ptsz)         \
	DRV(cuMemcpyPeer, "cuMemcpyPeer", 4000, 0)                                         \
	DRV(cuMemcpyPeer_ptds, "cuMemcpyPeer", 7000, 1)                                    \
	DRV(cuMemcpyPeerAsync, "cuMemcpyPeerAsync", 4000, 0)                               \
	DRV(cuMemcpyPeerAsync_ptsz, "cuMemcpyPeerAsync", 7000, 1)                          \
	DRV(cuMemcpy3DPeer, "cuMemcpy3DPeer", 4000, 0)                                     \
	DRV(cuMemcpy3DPeer_ptds, "cuMemcpy3DPeer", 7000, 1)                                \
	DRV(cuMemcpy3DPeerAsync, "cuMemcpy3DPeerAsync", 4000, 0)                           \
	DRV(cuMemcpy3DPeerAsync_ptsz, "cuMemcpy3DPeerAsync", 7000, 1)                      \
	DRV(cuMemcpyBatchAsync, "cuMemcpyBatchAsync", 12080, 0)                            \
	DRV(cuMemcpyBatchAsync_ptsz, "cuMemcpyBatchAsync", 12080, 1)                       \
	DRV(cuMemcpyBatchAsync_v2, "cuMemcpyBatchAsync", 13000, 0)                         \
	DRV(cuMemcpyBatchAsync_v2_ptsz, "cuMemcpyBatchAsync", 13000, 1)                    \
	DRV(cuMemcpy3DBatchAsync, "cuMemcpy3DBatchAsync", 12080, 0)                        \
	DRV(cuMemcpy3DBatchAsync_ptsz, "cuMemcpy3DBatchAsync", 12080, 1)                   \
	DRV(cuMemcpy3DBatchAsync_v2, "cuMemcpy3DBatchAsync", 13000, 0)                     \
	DRV(cuMemcpy3DBatchAsync_v2_ptsz, "cuMemcpy3DBatchAsync", 13000, 1)                \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemcpyHtoA, 2000, cuMemcpyHtoA_v2_ptds)               \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemcpyAtoH, 2000, cuMemcpyAtoH_v2_ptds)               \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemcpyAtoD, 2000, cuMemcpyAtoD_v2_ptds)               \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemcpyDtoA, 2000, cuMemcpyDtoA_v2_ptds)               \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemcpyAtoA, 2000, cuMemcpyAtoA_v2_ptds)               \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemcpyHtoAAsync, 2000, cuMemcpyHtoAAsync_v2_ptsz)     \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemcpyAtoHAsync, 2000, cuMemcpyAtoHAsync_v2_ptsz)     \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemsetD8, 2000, cuMemsetD8_v2_ptds)                   \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemsetD16, 2000, cuMemsetD16_v2_ptds)                 \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemsetD32, 2000, cuMemsetD32_v2_ptds)                 \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemsetD2D8, 2000, cuMemsetD2D8_v2_ptds)               \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemsetD2D16, 2000, cuMemsetD2D16_v2_ptds)             \
	MS_EP_V1_V2_PT(DRV, KNOWN, cuMemsetD2D32, 2000, cuMemsetD2D32_v2_ptds)             \
	DRV(cuMemsetD8Async, "cuMemsetD8Async", 3020, 0)                                   \
	DRV(cuMemsetD8Async_ptsz, "cuMemsetD8Async", 7000, 1)                              \
	DRV(cuMemsetD16Async, "cuMemsetD16Async", 3020, 0)                                 \
	DRV(cuMemsetD16Async_ptsz, "cuMemsetD16Async", 7000, 1)                            \
	DRV(cuMemsetD32Async, "cuMemsetD32Async", 3020, 0)                                 \
	DRV(cuMemsetD32Async_ptsz, "cuMemsetD32Async", 7000, 1)                            \
	DRV(cuMemsetD2D8Async, "cuMemsetD2D8Async", 3020, 0)                               \
	DRV(cuMemsetD2D8Async_ptsz, "cuMemsetD2D8Async", 7000, 1)                          \
	DRV(cuMemsetD2D16Async, "cuMemsetD2D16Async", 3020, 0)                             \
	DRV(cuMemsetD2D16Async_ptsz, "cuMemsetD2D16Async", 7000, 1)                        \
	DRV(cuMemsetD2D32Async, "cuMemsetD2D32Async", 3020, 0)                             \
	DRV(cuMemsetD2D32Async_ptsz, "cuMemsetD2D32Async", 7000, 1)                        \
	DRV(cuLaunchKernel, "cuLaunchKernel", 4000, 0)                                     \
	DRV(cuLaunchKernel_ptsz, "cuLaunchKernel", 7000, 1)                                \
	DRV(cuLaunchKernelEx, "cuLaunchKernelEx", 11060, 0)                                \
	DRV(cuLaunchKernelEx_ptsz, "cuLaunchKernelEx", 11060, 1)                           \
	RT(cudaMalloc, NULL, 0, 0)                                                         \
	RT(cudaFree, NULL, 0, 0)                                                           \
	RT(cudaMallocAsync, NULL, 0, 0)                                                    \
	RT(cudaMallocAsync_ptsz, NULL, 0, 1)                                               \
	RT(cudaFreeAsync, NULL, 0, 0)                                                      \
	RT(cudaFreeAsync_ptsz, NULL, 0, 1)                                                 \
	RT(cudaMallocFromPoolAsync, NULL, 0, 0)                                            \
	RT(cudaMallocFromPoolAsync_ptsz, NULL, 0, 1)                                       \
	RT(cudaMemcpy, NULL, 0, 0)                                                         \
	RT(cudaMemcpy_ptds, NULL, 0, 1)                                                    \
	RT(cudaMemcpyAsync, NULL, 0, 0)                                                    \
	RT(cudaMemcpyAsync_ptsz, NULL, 0, 1)                                               \
	RT(cudaMemcpy2D, NULL, 0, 0)                                                       \
	RT(cudaMemcpy2D_ptds, NULL, 0, 1)                                                  \
	RT(cudaMemcpy2DAsync, NULL, 0, 0)                                                  \
	RT(cudaMemcpy2DAsync_ptsz, NULL, 0, 1)                                             \
	RT(cudaMemcpy3D, NULL, 0, 0)                                                       \
	RT(cudaMemcpy3D_ptds, NULL, 0, 1)                                                  \
	RT(cudaMemcpy3DAsync, NULL, 0, 0)                                                  \
	RT(cudaMemcpy3DAsync_ptsz, NULL, 0, 1)                                             \
	RT(cudaMemcpy3DPeer, NULL, 0, 0)                                                   \
	RT(cudaMemcpy3DPeer_ptds, NULL, 0, 1)                                              \
	RT(cudaMemcpy3DPeerAsync, NULL, 0, 0)                                              \
	RT(cudaMemcpy3DPeerAsync_ptsz, NULL, 0, 1)                                         \
	RT(cudaMemcpyPeer, NULL, 0, 0)                                                     \
	RT(cudaMemcpyPeerAsync, NULL, 0, 0)                                                \
	RT(cudaMemcpyBatchAsync, NULL, 0, 0)                                               \
	RT(cudaMemcpyBatchAsync_ptsz, NULL, 0, 1)                                          \
	RT(cudaMemcpy3DBatchAsync, NULL, 0, 0)                                             \
	RT(cudaMemcpy3DBatchAsync_ptsz, NULL, 0, 1)                                        \
	RT(cudaMemcpyToArray, NULL, 0, 0)                                                  \
	RT(cudaMemcpyToArray_ptds, NULL, 0, 1)                                             \
	RT(cudaMemcpyToArrayAsync, NULL, 0, 0)                                             \
	RT(cudaMemcpyToArrayAsync_ptsz, NULL, 0, 1)                                        \
	RT(cudaMemcpyFromArray, NULL, 0, 0)                                                \
	RT(cudaMemcpyFromArray_ptds, NULL, 0, 1)                                           \
	RT(cudaMemcpyFromArrayAsync, NULL, 0, 0)                                           \
	RT(cudaMemcpyFromArrayAsync_ptsz, NULL, 0, 1)                                      \
	RT(cudaMemcpy2DToArray, NULL, 0, 0)                                                \
	RT(cudaMemcpy2DToArray_ptds, NULL, 0, 1)                                           \
	RT(cudaMemcpy2DToArrayAsync, NULL, 0, 0)                                           \
	RT(cudaMemcpy2DToArrayAsync_ptsz, NULL, 0, 1)                                      \
	RT(cudaMemcpy2DFromArray, NULL, 0, 0)                                              \
	RT(cudaMemcpy2DFromArray_ptds, NULL, 0, 1)                                         \
	RT(cudaMemcpy2DFromArrayAsync, NULL, 0, 0)                                         \
	RT(cudaMemcpy2DFromArrayAsync_ptsz, NULL, 0, 1)                                    \
	RT(cudaMemcpyArrayToArray, NULL, 0, 0)                                             \
	RT(cudaMemcpyArrayToArray_ptds, NULL, 0, 1)                                        \
	RT(cudaMemcpy2DArrayToArray, NULL, 0, 0)                                           \
	RT(cudaMemcpy2DArrayToArray_ptds, NULL, 0, 1)                                      \
	RT(cudaMemcpyToSymbol, NULL, 0, 0)                                                 \
	RT(cudaMemcpyToSymbol_ptds, NULL, 0, 1)                                            \
	RT(cudaMemcpyToSymbolAsync, NULL, 0, 0)                                            \
	RT(cudaMemcpyToSymbolAsync_ptsz, NULL, 0, 1)                                       \
	RT(cudaMemcpyFromSymbol, NULL, 0, 0)                                               \
	RT(cudaMemcpyFromSymbol_ptds, NULL, 0, 1)                                          \
	RT(cudaMemcpyFromSymbolAsync, NULL, 0, 0)                                          \
	RT(cudaMemcpyFromSymbolAsync_ptsz, NULL, 0, 1)                                     \
	RT(cudaMemset, NULL, 0, 0)                                                         \
	RT(cudaMemset_ptds, NULL, 0, 1)                                                    \
	RT(cudaMemsetAsync, NULL, 0, 0)                                                    \
	RT(cudaMemsetAsync_ptsz, NULL, 0, 1)                                               \
	RT(cudaMemset2D, NULL, 0, 0)                                                       \
	RT(cudaMemset2D_ptds, NULL, 0, 1)                                                  \
	RT(cudaMemset2DAsync, NULL, 0, 0)                                                  \
	RT(cudaMemset2DAsync_ptsz, NULL, 0, 1)                                             \
	RT(cudaMemset3D, NULL, 0, 0)                                                       \
	RT(cudaMemset3D_ptds, NULL, 0, 1)                                                  \
	RT(cudaMemset3DAsync, NULL, 0, 0)                                                  \
	RT(cudaMemset3DAsync_ptsz, NULL, 0, 1)                                             \
	RT(cudaLaunchKernel, NULL, 0, 0)                                                   \
	RT(cudaLaunchKernel_ptsz, NULL, 0, 1)                                              \
	RT(cudaLaunchKernelExC, NULL, 0, 0)                                                \
	RT(cudaLaunchKernelExC_ptsz, NULL, 0, 1)                                           \
	RT(cudaGetDriverEntryPoint, NULL, 0, 0)                                            \
	RT(cudaGetDriverEntryPoint_ptsz, NULL, 0, 1)                                       \
	RT(cudaGetDriverEntryPointByVersion, NULL, 0, 0)                                   \
	RT(cudaGetDriverEntryPointByVersion_ptsz, NULL, 0, 1)

/* For the code dlsym runs before anything else: a sanitizer runtime calls dlsym
 * while it initializes, before its shadow memory exists, so this path must not
 * be instrumented. */
#define MS_NO_SANITIZE __attribute__((no_sanitize("address", "undefined")))

/* Row ids: MS_EP_cuMemAlloc_v2, ... */
#define MS_EP_ID(sym, proc, version, pt) MS_EP_##sym,
enum ms_ep_id { MS_ENTRY_POINTS(MS_EP_ID, MS_EP_ID, MS_EP_ID, MS_EP_ID) MS_EP_COUNT };
#undef MS_EP_ID

/* One row as data (real.c holds the table). */
struct ms_entry {
	const char *sym;
	const char *proc;
	int version;
	int pt;
	int wrapped; /* 0 for KNOWN rows */
};

/* Each hooks file fills its rows of one of these with its wrappers' addresses. */
extern void *const ms_wrappers_driver[MS_EP_COUNT] __attribute__((visibility("hidden")));
extern void *const ms_wrappers_runtime[MS_EP_COUNT] __attribute__((visibility("hidden")));
extern void *const ms_wrappers_gpa[MS_EP_COUNT] __attribute__((visibility("hidden")));

/* The real function of row id: resolved on first use (dlsym RTLD_NEXT from the
 * shim, then the driver's handle), or remembered when dlsym / cuGetProcAddress
 * handed the program the wrapper. NULL when truly absent. */
void *ms_real(enum ms_ep_id id) __attribute__((visibility("hidden")));
/* Typed: MS_REAL(cuMemAlloc_v2) has the wrapper's own function type. */
#define MS_REAL(sym) ((__typeof__(&sym))ms_real(MS_EP_##sym))

/* What to hand out for what the real cuGetProcAddress returned (fn) for symbol at
 * version/flags: the wrapper when the shim has one for that exact ABI (fn is then
 * remembered as its real function), else fn unchanged. */
void *ms_route_proc(const char *symbol, int version, unsigned long long flags, void *fn)
        __attribute__((visibility("hidden")));
/* dlsym's part: the wrapper for ABI symbol name when the shim has one, with real
 * (what the real dlsym found) remembered; NULL when the name is not ours. */
void *ms_route_sym(const char *name, void *real) __attribute__((visibility("hidden")));
/* Row id of an ABI symbol name, or -1. */
int ms_entry_find(const char *name) __attribute__((visibility("hidden")));
extern const struct ms_entry ms_entries[MS_EP_COUNT] __attribute__((visibility("hidden")));

#endif /* METASHIM_ENTRY_POINTS_H */
