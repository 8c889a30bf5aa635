/* driver_memset.c — cuMemsetD8/D16/D32 and their 2D, async and _ptds/_ptsz forms on
 * device memory. The destination must be device memory mapped writable and aligned
 * to the element size, as on a GPU.
 */
#include "fakecuda.h"

#include <string.h>
#include <sys/mman.h>

#define NO_STREAM ((CUstream)(uintptr_t)~0ull)

static void fill(uintptr_t p, unsigned value, size_t elem, size_t n)
{
	if (elem == 1) {
		memset((void *)p, (int)(value & 0xff), n);
	} else if (elem == 2) {
		uint16_t v = (uint16_t)value, *d = (uint16_t *)p;
		for (size_t i = 0; i < n; i++)
			d[i] = v;
	} else {
		uint32_t v = value, *d = (uint32_t *)p;
		for (size_t i = 0; i < n; i++)
			d[i] = v;
	}
}

/* width in elements; pitch in bytes (ignored when height is 1). */
static CUresult memset_2d(CUdeviceptr dst, size_t pitch, unsigned value, size_t elem, size_t width,
                          size_t height, CUstream s)
{
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	if (s != NO_STREAM && !fc_stream_valid(s))
		return CUDA_ERROR_INVALID_HANDLE;
	if (dst % elem || (height > 1 && (pitch < width * elem || pitch % elem)))
		return CUDA_ERROR_INVALID_VALUE;
	if (width == 0 || height == 0)
		return CUDA_SUCCESS;
	size_t span = (height - 1) * pitch + width * elem;
	pthread_rwlock_rdlock(&fc_lock);
	if (!fc_accessible((uintptr_t)dst, span, PROT_WRITE))
		r = CUDA_ERROR_INVALID_VALUE;
	for (size_t y = 0; !r && y < height; y++)
		fill((uintptr_t)dst + y * pitch, value, elem, width);
	pthread_rwlock_unlock(&fc_lock);
	return r;
}

#define SET1(name, type, elem, stream_arg, stream)                            \
	FC_EXPORT CUresult name(CUdeviceptr dst, type v, size_t n stream_arg) \
	{                                                                     \
		return memset_2d(dst, 0, v, elem, n, 1, stream);              \
	}
#define SET2(name, type, elem, stream_arg, stream)                                                    \
	FC_EXPORT CUresult name(CUdeviceptr dst, size_t pitch, type v, size_t w, size_t h stream_arg) \
	{                                                                                             \
		return memset_2d(dst, pitch, v, elem, w, h, stream);                                  \
	}
#define WITH_STREAM , CUstream s

SET1(cuMemsetD8_v2, unsigned char, 1, , NO_STREAM)
SET1(cuMemsetD8_v2_ptds, unsigned char, 1, , NO_STREAM)
SET1(cuMemsetD16_v2, unsigned short, 2, , NO_STREAM)
SET1(cuMemsetD16_v2_ptds, unsigned short, 2, , NO_STREAM)
SET1(cuMemsetD32_v2, unsigned int, 4, , NO_STREAM)
SET1(cuMemsetD32_v2_ptds, unsigned int, 4, , NO_STREAM)
SET1(cuMemsetD8Async, unsigned char, 1, WITH_STREAM, s)
SET1(cuMemsetD8Async_ptsz, unsigned char, 1, WITH_STREAM, s)
SET1(cuMemsetD16Async, unsigned short, 2, WITH_STREAM, s)
SET1(cuMemsetD16Async_ptsz, unsigned short, 2, WITH_STREAM, s)
SET1(cuMemsetD32Async, unsigned int, 4, WITH_STREAM, s)
SET1(cuMemsetD32Async_ptsz, unsigned int, 4, WITH_STREAM, s)

SET2(cuMemsetD2D8_v2, unsigned char, 1, , NO_STREAM)
SET2(cuMemsetD2D8_v2_ptds, unsigned char, 1, , NO_STREAM)
SET2(cuMemsetD2D16_v2, unsigned short, 2, , NO_STREAM)
SET2(cuMemsetD2D16_v2_ptds, unsigned short, 2, , NO_STREAM)
SET2(cuMemsetD2D32_v2, unsigned int, 4, , NO_STREAM)
SET2(cuMemsetD2D32_v2_ptds, unsigned int, 4, , NO_STREAM)
SET2(cuMemsetD2D8Async, unsigned char, 1, WITH_STREAM, s)
SET2(cuMemsetD2D8Async_ptsz, unsigned char, 1, WITH_STREAM, s)
SET2(cuMemsetD2D16Async, unsigned short, 2, WITH_STREAM, s)
SET2(cuMemsetD2D16Async_ptsz, unsigned short, 2, WITH_STREAM, s)
SET2(cuMemsetD2D32Async, unsigned int, 4, WITH_STREAM, s)
SET2(cuMemsetD2D32Async_ptsz, unsigned int, 4, WITH_STREAM, s)
