/* dlsym_memcpy.c — reaches the runtime only through dlopen + dlsym, as Python
 * bindings and plugin loaders do. Under the shim, dlsym(handle, "cudaMemcpy") must
 * hand out the wrapper, so this program's copies are traced although it links no
 * CUDA library. */
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#define BYTES 4096

int main(void)
{
	cudaError_t (*mem_alloc)(void **, size_t);
	cudaError_t (*mem_free)(void *);
	cudaError_t (*memcpy_fn)(void *, const void *, size_t, enum cudaMemcpyKind);
	unsigned char in[BYTES], out[BYTES];
	void *h = dlopen("libcudart.so.13", RTLD_NOW | RTLD_LOCAL), *dev = NULL;
	int i;

	if (!h) {
		fprintf(stderr, "dlsym_memcpy: %s\n", dlerror());
		return 1;
	}
	*(void **)&mem_alloc = dlsym(h, "cudaMalloc");
	*(void **)&mem_free = dlsym(h, "cudaFree");
	*(void **)&memcpy_fn = dlsym(h, "cudaMemcpy");
	if (!mem_alloc || !mem_free || !memcpy_fn) {
		fprintf(stderr, "dlsym_memcpy: missing runtime symbols\n");
		return 1;
	}
	for (i = 0; i < BYTES; i++)
		in[i] = (unsigned char)(i * 7);
	if (mem_alloc(&dev, BYTES) || memcpy_fn(dev, in, BYTES, cudaMemcpyHostToDevice) ||
	    memcpy_fn(out, dev, BYTES, cudaMemcpyDeviceToHost) || mem_free(dev)) {
		fprintf(stderr, "dlsym_memcpy: a runtime call failed\n");
		return 1;
	}
	if (memcmp(in, out, BYTES)) {
		fprintf(stderr, "dlsym_memcpy: read back differs\n");
		return 1;
	}
	printf("dlsym_memcpy: %d bytes there and back\n", BYTES);
	return 0;
}
