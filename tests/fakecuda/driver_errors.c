/* driver_errors.c — cuGetErrorName / cuGetErrorString over the table in errors.def.
 * Like the real driver: an unknown code gives CUDA_ERROR_INVALID_VALUE and NULL.
 * Both work before cuInit.
 */
#include "fakecuda.h"

static const struct {
	CUresult code;
	const char *name;
	const char *text;
} errors[] = {
#define FC_DRV_ERR(code, text) { code, #code, text },
#include "errors.def"
#undef FC_DRV_ERR
};

static int find(CUresult r)
{
	for (unsigned i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == r)
			return (int)i;
	return -1;
}

const char *fc_error_name(CUresult r)
{
	int i = find(r);
	return i < 0 ? NULL : errors[i].name;
}

const char *fc_error_string(CUresult r)
{
	int i = find(r);
	return i < 0 ? NULL : errors[i].text;
}

FC_EXPORT CUresult cuGetErrorName(CUresult error, const char **pStr)
{
	if (!pStr)
		return CUDA_ERROR_INVALID_VALUE;
	*pStr = fc_error_name(error);
	return *pStr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

FC_EXPORT CUresult cuGetErrorString(CUresult error, const char **pStr)
{
	if (!pStr)
		return CUDA_ERROR_INVALID_VALUE;
	*pStr = fc_error_string(error);
	return *pStr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
