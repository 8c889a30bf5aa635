/* static_check.c — a program carrying the fake runtime inside itself (linked with
 * libcudart_static.a), as CuPy and NCCL carry the real one: no libcudart is loaded and
 * no cuda* symbol is dynamic. It round-trips bytes through device memory and prints
 * "static_check: ok <bytes>"; tests run it and inspect its dynamic symbols.
 */
#include <cuda_runtime_api.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	unsigned char in[4096], out[4096];
	void *dev = NULL;
	cudaStream_t s;
	cudaError_t e;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7 + 1);
	memset(out, 0, sizeof(out));
	if ((e = cudaMalloc(&dev, sizeof(in))) || (e = cudaStreamCreate(&s)) ||
	    (e = cudaMemcpyAsync(dev, in, sizeof(in), cudaMemcpyHostToDevice, s)) ||
	    (e = cudaStreamSynchronize(s)) ||
	    (e = cudaMemcpy(out, dev, sizeof(out), cudaMemcpyDeviceToHost)) || (e = cudaStreamDestroy(s)) ||
	    (e = cudaFree(dev))) {
		fprintf(stderr, "static_check: %s: %s\n", cudaGetErrorName(e), cudaGetErrorString(e));
		return 1;
	}
	if (memcmp(in, out, sizeof(in)) != 0) {
		fprintf(stderr, "static_check: bytes read back differ\n");
		return 1;
	}
	printf("static_check: ok %zu\n", sizeof(in));
	return 0;
}
