/* driver_copy.c — the cuMemcpy family: 1D (HtoD, DtoH, DtoD, unified), 2D, 3D,
 * peer, batch and 3D batch copies, and copies to and from CUDA arrays (host blocks,
 * driver_array.c), each in its legacy, _ptds/_ptsz and async forms. Streams execute immediately, so every
 * copy is complete on return.
 *
 * Operands are checked as the real driver checks them: a device operand must lie in
 * memory mapped with the needed access, a host operand must not be NULL, and a
 * "unified" operand is whichever its address says. Failures are CUDA_ERROR_INVALID_VALUE.
 */
#include "fakecuda.h"

#include <string.h>
#include <sys/mman.h>

enum op_kind {
	OP_HOST, /* a host pointer (pinned or pageable); device addresses also accepted (UVA) */
	OP_DEV,  /* must be device memory */
	OP_ANY,  /* unified addressing: host or device by address */
};

#define NO_STREAM ((CUstream)(uintptr_t)~0ull)

static CUresult check_op(uintptr_t p, size_t n, int prot, enum op_kind kind)
{
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	if (kind == OP_DEV || fc_in_space(p))
		return fc_accessible(p, n, prot) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

static CUresult check_call(CUstream s)
{
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	if (s != NO_STREAM && !fc_stream_valid(s))
		return CUDA_ERROR_INVALID_HANDLE;
	return CUDA_SUCCESS;
}

/* Caller holds fc_lock for reading. */
static CUresult copy_locked(uintptr_t dst, enum op_kind dk, uintptr_t src, enum op_kind sk, size_t n)
{
	if (n == 0)
		return CUDA_SUCCESS;
	CUresult r = check_op(dst, n, PROT_WRITE, dk);
	if (!r)
		r = check_op(src, n, PROT_READ, sk);
	if (!r)
		memmove((void *)dst, (const void *)src, n);
	return r;
}

static CUresult copy_1d(uintptr_t dst, enum op_kind dk, uintptr_t src, enum op_kind sk, size_t n, CUstream s)
{
	CUresult r = check_call(s);
	if (r)
		return r;
	pthread_rwlock_rdlock(&fc_lock);
	r = copy_locked(dst, dk, src, sk, n);
	pthread_rwlock_unlock(&fc_lock);
	return r;
}

#define H(p) ((uintptr_t)(p))

/* ------------------------------------------------------------------------- 1D */
/* Forwarders stay one line each, read as a table (clang-format would spread them). */
/* clang-format off */
FC_EXPORT CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n)
{ return copy_1d(dst, OP_ANY, src, OP_ANY, n, NO_STREAM); }
FC_EXPORT CUresult cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src, size_t n)
{ return copy_1d(dst, OP_ANY, src, OP_ANY, n, NO_STREAM); }
FC_EXPORT CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{ return copy_1d(dst, OP_ANY, src, OP_ANY, n, s); }
FC_EXPORT CUresult cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{ return copy_1d(dst, OP_ANY, src, OP_ANY, n, s); }

FC_EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n)
{ return copy_1d(dst, OP_DEV, H(src), OP_HOST, n, NO_STREAM); }
FC_EXPORT CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr dst, const void *src, size_t n)
{ return copy_1d(dst, OP_DEV, H(src), OP_HOST, n, NO_STREAM); }
FC_EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, CUstream s)
{ return copy_1d(dst, OP_DEV, H(src), OP_HOST, n, s); }
FC_EXPORT CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr dst, const void *src, size_t n, CUstream s)
{ return copy_1d(dst, OP_DEV, H(src), OP_HOST, n, s); }

FC_EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n)
{ return copy_1d(H(dst), OP_HOST, src, OP_DEV, n, NO_STREAM); }
FC_EXPORT CUresult cuMemcpyDtoH_v2_ptds(void *dst, CUdeviceptr src, size_t n)
{ return copy_1d(H(dst), OP_HOST, src, OP_DEV, n, NO_STREAM); }
FC_EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, CUstream s)
{ return copy_1d(H(dst), OP_HOST, src, OP_DEV, n, s); }
FC_EXPORT CUresult cuMemcpyDtoHAsync_v2_ptsz(void *dst, CUdeviceptr src, size_t n, CUstream s)
{ return copy_1d(H(dst), OP_HOST, src, OP_DEV, n, s); }

FC_EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n)
{ return copy_1d(dst, OP_DEV, src, OP_DEV, n, NO_STREAM); }
FC_EXPORT CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr dst, CUdeviceptr src, size_t n)
{ return copy_1d(dst, OP_DEV, src, OP_DEV, n, NO_STREAM); }
FC_EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{ return copy_1d(dst, OP_DEV, src, OP_DEV, n, s); }
FC_EXPORT CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{ return copy_1d(dst, OP_DEV, src, OP_DEV, n, s); }
/* clang-format on */

/* ----------------------------------------------------------------------- peer */
static CUresult copy_peer(CUdeviceptr dst, CUcontext dctx, CUdeviceptr src, CUcontext sctx, size_t n,
                          CUstream s)
{
	if (fc_initialized() && (!fc_ctx_valid(dctx) || !fc_ctx_valid(sctx)))
		return CUDA_ERROR_INVALID_CONTEXT;
	return copy_1d(dst, OP_DEV, src, OP_DEV, n, s);
}

/* clang-format off */
FC_EXPORT CUresult cuMemcpyPeer(CUdeviceptr dst, CUcontext dctx, CUdeviceptr src, CUcontext sctx, size_t n)
{ return copy_peer(dst, dctx, src, sctx, n, NO_STREAM); }
FC_EXPORT CUresult cuMemcpyPeer_ptds(CUdeviceptr dst, CUcontext dctx, CUdeviceptr src, CUcontext sctx,
				     size_t n)
{ return copy_peer(dst, dctx, src, sctx, n, NO_STREAM); }
FC_EXPORT CUresult cuMemcpyPeerAsync(CUdeviceptr dst, CUcontext dctx, CUdeviceptr src, CUcontext sctx,
				     size_t n, CUstream s)
{ return copy_peer(dst, dctx, src, sctx, n, s); }
FC_EXPORT CUresult cuMemcpyPeerAsync_ptsz(CUdeviceptr dst, CUcontext dctx, CUdeviceptr src,
					  CUcontext sctx, size_t n, CUstream s)
{ return copy_peer(dst, dctx, src, sctx, n, s); }
/* clang-format on */

/* ------------------------------------------------------------------- 2D and 3D */
/* One side of a strided copy, decoded from the CUDA_MEMCPY2D/3D structs. */
struct side {
	uintptr_t base; /* host pointer or device address */
	enum op_kind kind;
	size_t x, y, z; /* start offsets (bytes, rows, layers) */
	size_t pitch;   /* bytes per row */
	size_t height;  /* rows per layer */
	size_t size;    /* an array's bytes (bounds checked here); 0 for memory */
};

static CUresult side_init(struct side *sd, CUmemorytype type, const void *host, CUdeviceptr dev, CUarray arr,
                          size_t x, size_t y, size_t z, size_t pitch, size_t height)
{
	size_t elem;

	sd->size = 0;
	switch (type) {
	case CU_MEMORYTYPE_HOST:
		sd->base = H(host);
		sd->kind = OP_HOST;
		break;
	case CU_MEMORYTYPE_DEVICE:
		sd->base = dev;
		sd->kind = OP_DEV;
		break;
	case CU_MEMORYTYPE_UNIFIED:
		sd->base = dev;
		sd->kind = OP_ANY;
		break;
	case CU_MEMORYTYPE_ARRAY:
		if (!fc_array_bytes(arr, &sd->base, &pitch, &height, &elem))
			return CUDA_ERROR_INVALID_HANDLE;
		sd->kind = OP_HOST;
		sd->size = pitch * height;
		break;
	default: return CUDA_ERROR_INVALID_VALUE;
	}
	sd->x = x;
	sd->y = y;
	sd->z = z;
	sd->pitch = pitch;
	sd->height = height;
	return CUDA_SUCCESS;
}

static uintptr_t row_addr(const struct side *sd, size_t row, size_t layer)
{
	return sd->base + (sd->z + layer) * sd->pitch * sd->height + (sd->y + row) * sd->pitch + sd->x;
}

static CUresult check_side(const struct side *sd, size_t w, size_t h, size_t d, int prot)
{
	if ((h > 1 || d > 1) && sd->pitch < sd->x + w)
		return CUDA_ERROR_INVALID_VALUE;
	if (d > 1 && sd->height < sd->y + h)
		return CUDA_ERROR_INVALID_VALUE;
	uintptr_t first = row_addr(sd, 0, 0), last = row_addr(sd, h - 1, d - 1) + w;
	if (sd->size && last > sd->base + sd->size)
		return CUDA_ERROR_INVALID_VALUE;
	return check_op(first, last - first, prot, sd->kind);
}

static CUresult copy_strided(const struct side *dst, const struct side *src, size_t w, size_t h, size_t d,
                             CUstream s)
{
	CUresult r = check_call(s);
	if (r)
		return r;
	if (w == 0 || h == 0 || d == 0)
		return CUDA_SUCCESS;
	pthread_rwlock_rdlock(&fc_lock);
	r = check_side(dst, w, h, d, PROT_WRITE);
	if (!r)
		r = check_side(src, w, h, d, PROT_READ);
	for (size_t z = 0; !r && z < d; z++)
		for (size_t y = 0; y < h; y++)
			memmove((void *)row_addr(dst, y, z), (const void *)row_addr(src, y, z), w);
	pthread_rwlock_unlock(&fc_lock);
	return r;
}

static CUresult copy_2d(const CUDA_MEMCPY2D *c, CUstream s)
{
	struct side dst, src;
	CUresult r;

	if (!c)
		return fc_initialized() ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_INITIALIZED;
	r = side_init(&dst, c->dstMemoryType, c->dstHost, c->dstDevice, c->dstArray, c->dstXInBytes, c->dstY,
	              0, c->dstPitch, c->Height);
	if (!r)
		r = side_init(&src, c->srcMemoryType, c->srcHost, c->srcDevice, c->srcArray, c->srcXInBytes,
		              c->srcY, 0, c->srcPitch, c->Height);
	return r ? r : copy_strided(&dst, &src, c->WidthInBytes, c->Height, 1, s);
}

static CUresult copy_3d(const CUDA_MEMCPY3D *c, CUstream s)
{
	struct side dst, src;
	CUresult r;

	if (!c)
		return fc_initialized() ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_INITIALIZED;
	if (c->srcLOD || c->dstLOD || c->reserved0 || c->reserved1)
		return CUDA_ERROR_INVALID_VALUE;
	r = side_init(&dst, c->dstMemoryType, c->dstHost, c->dstDevice, c->dstArray, c->dstXInBytes, c->dstY,
	              c->dstZ, c->dstPitch, c->dstHeight);
	if (!r)
		r = side_init(&src, c->srcMemoryType, c->srcHost, c->srcDevice, c->srcArray, c->srcXInBytes,
		              c->srcY, c->srcZ, c->srcPitch, c->srcHeight);
	return r ? r : copy_strided(&dst, &src, c->WidthInBytes, c->Height, c->Depth, s);
}

static CUresult copy_3d_peer(const CUDA_MEMCPY3D_PEER *c, CUstream s)
{
	struct side dst, src;
	CUresult r;

	if (!c)
		return fc_initialized() ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_INITIALIZED;
	if (fc_initialized() && (!fc_ctx_valid(c->dstContext) || !fc_ctx_valid(c->srcContext)))
		return CUDA_ERROR_INVALID_CONTEXT;
	r = side_init(&dst, c->dstMemoryType, c->dstHost, c->dstDevice, c->dstArray, c->dstXInBytes, c->dstY,
	              c->dstZ, c->dstPitch, c->dstHeight);
	if (!r)
		r = side_init(&src, c->srcMemoryType, c->srcHost, c->srcDevice, c->srcArray, c->srcXInBytes,
		              c->srcY, c->srcZ, c->srcPitch, c->srcHeight);
	return r ? r : copy_strided(&dst, &src, c->WidthInBytes, c->Height, c->Depth, s);
}

/* clang-format off */
FC_EXPORT CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D *c) { return copy_2d(c, NO_STREAM); }
FC_EXPORT CUresult cuMemcpy2D_v2_ptds(const CUDA_MEMCPY2D *c) { return copy_2d(c, NO_STREAM); }
FC_EXPORT CUresult cuMemcpy2DUnaligned_v2(const CUDA_MEMCPY2D *c) { return copy_2d(c, NO_STREAM); }
FC_EXPORT CUresult cuMemcpy2DUnaligned_v2_ptds(const CUDA_MEMCPY2D *c) { return copy_2d(c, NO_STREAM); }
FC_EXPORT CUresult cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D *c, CUstream s) { return copy_2d(c, s); }
FC_EXPORT CUresult cuMemcpy2DAsync_v2_ptsz(const CUDA_MEMCPY2D *c, CUstream s) { return copy_2d(c, s); }
FC_EXPORT CUresult cuMemcpy3D_v2(const CUDA_MEMCPY3D *c) { return copy_3d(c, NO_STREAM); }
FC_EXPORT CUresult cuMemcpy3D_v2_ptds(const CUDA_MEMCPY3D *c) { return copy_3d(c, NO_STREAM); }
FC_EXPORT CUresult cuMemcpy3DAsync_v2(const CUDA_MEMCPY3D *c, CUstream s) { return copy_3d(c, s); }
FC_EXPORT CUresult cuMemcpy3DAsync_v2_ptsz(const CUDA_MEMCPY3D *c, CUstream s) { return copy_3d(c, s); }
FC_EXPORT CUresult cuMemcpy3DPeer(const CUDA_MEMCPY3D_PEER *c) { return copy_3d_peer(c, NO_STREAM); }
FC_EXPORT CUresult cuMemcpy3DPeer_ptds(const CUDA_MEMCPY3D_PEER *c) { return copy_3d_peer(c, NO_STREAM); }
FC_EXPORT CUresult cuMemcpy3DPeerAsync(const CUDA_MEMCPY3D_PEER *c, CUstream s)
{ return copy_3d_peer(c, s); }
FC_EXPORT CUresult cuMemcpy3DPeerAsync_ptsz(const CUDA_MEMCPY3D_PEER *c, CUstream s)
{ return copy_3d_peer(c, s); }
/* clang-format on */

/* ---------------------------------------------------------------------- batch */
/* attrsIdxs must start at 0, increase, stay below count; every attribute needs a
 * valid source access order. The legacy NULL stream is refused (per-thread forms
 * read NULL as the per-thread stream). */
static CUresult copy_batch(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count,
                           CUmemcpyAttributes *attrs, size_t *attrsIdxs, size_t numAttrs, size_t *failIdx,
                           CUstream s, bool per_thread)
{
	CUresult r = check_call(s);
	if (failIdx)
		*failIdx = SIZE_MAX;
	if (r)
		return r;
	if (s == CU_STREAM_LEGACY || (!s && !per_thread))
		return CUDA_ERROR_INVALID_VALUE;
	if (!dsts || !srcs || !sizes || count == 0 || !attrs || !attrsIdxs || numAttrs == 0 ||
	    numAttrs > count || attrsIdxs[0] != 0)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t k = 0; k < numAttrs; k++) {
		if ((k && attrsIdxs[k] <= attrsIdxs[k - 1]) || attrsIdxs[k] >= count)
			return CUDA_ERROR_INVALID_VALUE;
		if (attrs[k].srcAccessOrder < CU_MEMCPY_SRC_ACCESS_ORDER_STREAM ||
		    attrs[k].srcAccessOrder > CU_MEMCPY_SRC_ACCESS_ORDER_ANY)
			return CUDA_ERROR_INVALID_VALUE;
	}
	pthread_rwlock_rdlock(&fc_lock);
	for (size_t k = 0; k < count && !r; k++) {
		r = copy_locked(dsts[k], OP_ANY, srcs[k], OP_ANY, sizes[k]);
		if (r && failIdx)
			*failIdx = k;
	}
	pthread_rwlock_unlock(&fc_lock);
	return r;
}

/* CUDA 12.8 form (with failIdx), then the CUDA 13 _v2 form. */
/* clang-format off */
FC_EXPORT CUresult cuMemcpyBatchAsync(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count,
				      CUmemcpyAttributes *attrs, size_t *attrsIdxs, size_t numAttrs,
				      size_t *failIdx, CUstream s)
{ return copy_batch(dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, failIdx, s, false); }
FC_EXPORT CUresult cuMemcpyBatchAsync_ptsz(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes,
					   size_t count, CUmemcpyAttributes *attrs, size_t *attrsIdxs,
					   size_t numAttrs, size_t *failIdx, CUstream s)
{ return copy_batch(dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, failIdx, s, true); }
FC_EXPORT CUresult cuMemcpyBatchAsync_v2(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes,
					 size_t count, CUmemcpyAttributes *attrs, size_t *attrsIdxs,
					 size_t numAttrs, CUstream s)
{ return copy_batch(dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, NULL, s, false); }
FC_EXPORT CUresult cuMemcpyBatchAsync_v2_ptsz(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes,
					      size_t count, CUmemcpyAttributes *attrs, size_t *attrsIdxs,
					      size_t numAttrs, CUstream s)
{ return copy_batch(dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, NULL, s, true); }
/* clang-format on */

/* ------------------------------------------------------------------- 3D batch */
/* One operand: a pointer (rowLength and layerHeight in elements, 0 = packed) or an
 * array at an element offset. The element size is the array's (1 between pointers). */
static CUresult operand(struct side *sd, const CUmemcpy3DOperand *o, const CUextent3D *e, size_t elem)
{
	uintptr_t base;
	size_t pitch, height, aelem;

	if (o->type == CU_MEMCPY_OPERAND_TYPE_POINTER) {
		*sd = (struct side){ .base = o->op.ptr.ptr, .kind = OP_ANY };
		sd->pitch = (o->op.ptr.rowLength ? o->op.ptr.rowLength : e->width) * elem;
		sd->height = o->op.ptr.layerHeight ? o->op.ptr.layerHeight : e->height;
		return CUDA_SUCCESS;
	}
	if (o->type != CU_MEMCPY_OPERAND_TYPE_ARRAY ||
	    !fc_array_bytes(o->op.array.array, &base, &pitch, &height, &aelem))
		return CUDA_ERROR_INVALID_VALUE;
	*sd = (struct side){
		.base = base, .kind = OP_HOST, .pitch = pitch, .height = height, .size = pitch * height
	};
	sd->x = o->op.array.offset.x * aelem;
	sd->y = o->op.array.offset.y;
	sd->z = o->op.array.offset.z;
	return CUDA_SUCCESS;
}

static size_t op_elem(const CUmemcpy3DOperand *o)
{
	uintptr_t base;
	size_t pitch, height, elem;

	if (o->type == CU_MEMCPY_OPERAND_TYPE_ARRAY &&
	    fc_array_bytes(o->op.array.array, &base, &pitch, &height, &elem))
		return elem;
	return 1;
}

static CUresult copy_batch_3d(size_t n, CUDA_MEMCPY3D_BATCH_OP *ops, size_t *failIdx,
                              unsigned long long flags, CUstream s, bool per_thread)
{
	CUresult r = check_call(s);

	if (failIdx)
		*failIdx = SIZE_MAX;
	if (r)
		return r;
	if (s == CU_STREAM_LEGACY || (!s && !per_thread) || !ops || !n || flags)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t k = 0; k < n && !r; k++) {
		const CUDA_MEMCPY3D_BATCH_OP *op = &ops[k];
		size_t elem =
		        op->src.type == CU_MEMCPY_OPERAND_TYPE_ARRAY ? op_elem(&op->src) : op_elem(&op->dst);
		struct side dst, src;

		if (!op->extent.width || !op->extent.height || !op->extent.depth)
			r = CUDA_ERROR_INVALID_VALUE;
		if (!r)
			r = operand(&dst, &op->dst, &op->extent, elem);
		if (!r)
			r = operand(&src, &op->src, &op->extent, elem);
		if (!r)
			r = copy_strided(&dst, &src, op->extent.width * elem, op->extent.height,
			                 op->extent.depth, NO_STREAM);
		if (r && failIdx)
			*failIdx = k;
	}
	return r;
}

/* clang-format off */
FC_EXPORT CUresult cuMemcpy3DBatchAsync(size_t n, CUDA_MEMCPY3D_BATCH_OP *ops, size_t *failIdx,
					unsigned long long flags, CUstream s)
{ return copy_batch_3d(n, ops, failIdx, flags, s, false); }
FC_EXPORT CUresult cuMemcpy3DBatchAsync_ptsz(size_t n, CUDA_MEMCPY3D_BATCH_OP *ops, size_t *failIdx,
					     unsigned long long flags, CUstream s)
{ return copy_batch_3d(n, ops, failIdx, flags, s, true); }
FC_EXPORT CUresult cuMemcpy3DBatchAsync_v2(size_t n, CUDA_MEMCPY3D_BATCH_OP *ops, unsigned long long flags,
					   CUstream s)
{ return copy_batch_3d(n, ops, NULL, flags, s, false); }
FC_EXPORT CUresult cuMemcpy3DBatchAsync_v2_ptsz(size_t n, CUDA_MEMCPY3D_BATCH_OP *ops,
						unsigned long long flags, CUstream s)
{ return copy_batch_3d(n, ops, NULL, flags, s, true); }
/* clang-format on */

/* ---------------------------------------------------------------- array copies */
/* An array's bytes from offset on, n of them, as a host address; 0 when out of range. */
static uintptr_t array_at(CUarray a, size_t off, size_t n)
{
	uintptr_t base;
	size_t pitch, height, elem;

	if (!fc_array_bytes(a, &base, &pitch, &height, &elem) || off > pitch * height ||
	    n > pitch * height - off)
		return 0;
	return base + off;
}

static CUresult array_1d(uintptr_t dst, enum op_kind dk, uintptr_t src, enum op_kind sk, size_t n, CUstream s)
{
	if (!dst || !src)
		return n ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
	return copy_1d(dst, dk, src, sk, n, s);
}

#define A(a, off, n) array_at((a), (off), (n))
/* clang-format off */
FC_EXPORT CUresult cuMemcpyHtoA_v2(CUarray dst, size_t off, const void *src, size_t n)
{ return array_1d(A(dst, off, n), OP_HOST, H(src), OP_HOST, n, NO_STREAM); }
FC_EXPORT CUresult cuMemcpyHtoA_v2_ptds(CUarray dst, size_t off, const void *src, size_t n)
{ return array_1d(A(dst, off, n), OP_HOST, H(src), OP_HOST, n, NO_STREAM); }
FC_EXPORT CUresult cuMemcpyHtoAAsync_v2(CUarray dst, size_t off, const void *src, size_t n, CUstream s)
{ return array_1d(A(dst, off, n), OP_HOST, H(src), OP_HOST, n, s); }
FC_EXPORT CUresult cuMemcpyHtoAAsync_v2_ptsz(CUarray dst, size_t off, const void *src, size_t n, CUstream s)
{ return array_1d(A(dst, off, n), OP_HOST, H(src), OP_HOST, n, s); }
FC_EXPORT CUresult cuMemcpyAtoH_v2(void *dst, CUarray src, size_t off, size_t n)
{ return array_1d(H(dst), OP_HOST, A(src, off, n), OP_HOST, n, NO_STREAM); }
FC_EXPORT CUresult cuMemcpyAtoH_v2_ptds(void *dst, CUarray src, size_t off, size_t n)
{ return array_1d(H(dst), OP_HOST, A(src, off, n), OP_HOST, n, NO_STREAM); }
FC_EXPORT CUresult cuMemcpyAtoHAsync_v2(void *dst, CUarray src, size_t off, size_t n, CUstream s)
{ return array_1d(H(dst), OP_HOST, A(src, off, n), OP_HOST, n, s); }
FC_EXPORT CUresult cuMemcpyAtoHAsync_v2_ptsz(void *dst, CUarray src, size_t off, size_t n, CUstream s)
{ return array_1d(H(dst), OP_HOST, A(src, off, n), OP_HOST, n, s); }
FC_EXPORT CUresult cuMemcpyAtoD_v2(CUdeviceptr dst, CUarray src, size_t off, size_t n)
{ return array_1d(dst, OP_DEV, A(src, off, n), OP_HOST, n, NO_STREAM); }
FC_EXPORT CUresult cuMemcpyAtoD_v2_ptds(CUdeviceptr dst, CUarray src, size_t off, size_t n)
{ return array_1d(dst, OP_DEV, A(src, off, n), OP_HOST, n, NO_STREAM); }
FC_EXPORT CUresult cuMemcpyDtoA_v2(CUarray dst, size_t off, CUdeviceptr src, size_t n)
{ return array_1d(A(dst, off, n), OP_HOST, src, OP_DEV, n, NO_STREAM); }
FC_EXPORT CUresult cuMemcpyDtoA_v2_ptds(CUarray dst, size_t off, CUdeviceptr src, size_t n)
{ return array_1d(A(dst, off, n), OP_HOST, src, OP_DEV, n, NO_STREAM); }
FC_EXPORT CUresult cuMemcpyAtoA_v2(CUarray dst, size_t doff, CUarray src, size_t soff, size_t n)
{ return array_1d(A(dst, doff, n), OP_HOST, A(src, soff, n), OP_HOST, n, NO_STREAM); }
FC_EXPORT CUresult cuMemcpyAtoA_v2_ptds(CUarray dst, size_t doff, CUarray src, size_t soff, size_t n)
{ return array_1d(A(dst, doff, n), OP_HOST, A(src, soff, n), OP_HOST, n, NO_STREAM); }
/* clang-format on */
