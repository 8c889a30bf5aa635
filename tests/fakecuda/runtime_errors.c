/* runtime_errors.c — the runtime's per-thread last error (cudaGetLastError,
 * cudaPeekAtLastError) and error names and messages from errors.def. An unknown code
 * reads "unrecognized error code", as with the real runtime.
 */
#include "runtime.h"

static __thread cudaError_t last_error;

static const struct {
	cudaError_t code;
	const char *name;
	const char *text;
} errors[] = {
#define FC_RT_ERR(code, text) { code, #code, text },
#include "errors.def"
#undef FC_RT_ERR
};

static int find(cudaError_t e)
{
	for (unsigned i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == e)
			return (int)i;
	return -1;
}

cudaError_t fcrt_ret(cudaError_t e)
{
	if (e != cudaSuccess)
		last_error = e;
	return e;
}

cudaError_t fcrt_take_last_error(bool reset)
{
	cudaError_t e = last_error;
	if (reset)
		last_error = cudaSuccess;
	return e;
}

FCRT_API cudaError_t cudaGetLastError(void)
{
	return fcrt_take_last_error(true);
}

FCRT_API cudaError_t cudaPeekAtLastError(void)
{
	return fcrt_take_last_error(false);
}

FCRT_API const char *cudaGetErrorName(cudaError_t error)
{
	int i = find(error);
	return i < 0 ? "unrecognized error code" : errors[i].name;
}

FCRT_API const char *cudaGetErrorString(cudaError_t error)
{
	int i = find(error);
	return i < 0 ? "unrecognized error code" : errors[i].text;
}
