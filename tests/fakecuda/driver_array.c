/* driver_array.c — CUDA arrays, as far as copies need them: cuArrayCreate_v2 and
 * cuArrayDestroy. A fake array is a host block (rows of Width*element bytes, packed)
 * behind an opaque handle, so it has no device address, as on a GPU; the copy paths
 * (driver_copy.c) reach its bytes through fc_array_bytes.
 */
#include "fakecuda.h"

#include <stdlib.h>

#define ARRAY_MAGIC 0x41525241u /* "ARRA" */

struct CUarray_st {
	unsigned magic;
	size_t elem;   /* bytes per element: channels * format size */
	size_t pitch;  /* bytes per row: Width * elem */
	size_t height; /* rows (1 for a 1D array) */
	unsigned char data[];
};

static size_t format_size(CUarray_format f)
{
	switch (f) {
	case CU_AD_FORMAT_UNSIGNED_INT8:
	case CU_AD_FORMAT_SIGNED_INT8: return 1;
	case CU_AD_FORMAT_UNSIGNED_INT16:
	case CU_AD_FORMAT_SIGNED_INT16:
	case CU_AD_FORMAT_HALF: return 2;
	case CU_AD_FORMAT_UNSIGNED_INT32:
	case CU_AD_FORMAT_SIGNED_INT32:
	case CU_AD_FORMAT_FLOAT: return 4;
	default: return 0;
	}
}

FC_EXPORT CUresult cuArrayCreate_v2(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR *d)
{
	CUresult r = fc_check_ctx();
	struct CUarray_st *a;
	size_t elem, height;

	if (r)
		return r;
	if (!pHandle || !d || !d->Width)
		return CUDA_ERROR_INVALID_VALUE;
	elem = format_size(d->Format) * d->NumChannels;
	if (!elem || (d->NumChannels != 1 && d->NumChannels != 2 && d->NumChannels != 4))
		return CUDA_ERROR_INVALID_VALUE;
	height = d->Height ? d->Height : 1;
	a = calloc(1, sizeof(*a) + d->Width * elem * height);
	if (!a)
		return CUDA_ERROR_OUT_OF_MEMORY;
	a->magic = ARRAY_MAGIC;
	a->elem = elem;
	a->pitch = d->Width * elem;
	a->height = height;
	*pHandle = a;
	return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuArrayDestroy(CUarray a)
{
	CUresult r = fc_check_init();

	if (r)
		return r;
	if (!a || a->magic != ARRAY_MAGIC)
		return CUDA_ERROR_INVALID_HANDLE;
	a->magic = 0;
	free(a);
	return CUDA_SUCCESS;
}

bool fc_array_bytes(CUarray a, uintptr_t *base, size_t *pitch, size_t *height, size_t *elem)
{
	if (!a || a->magic != ARRAY_MAGIC)
		return false;
	*base = (uintptr_t)a->data;
	*pitch = a->pitch;
	*height = a->height;
	*elem = a->elem;
	return true;
}
