/* cuda_errors.c — calls that fail in the real runtime (a copy to an address that is
 * not device memory, a free of a pointer never allocated, an allocation past the
 * device's memory) and prints the codes: under the shim they must be the same. */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>

static void show(const char *what, cudaError_t err)
{
	printf("%s: %d %s\n", what, (int)err, cudaGetErrorName(err));
	cudaGetLastError(); /* clear, so one failure does not leak into the next line */
}

int main(int argc, char **argv)
{
	/* MiB asked of the too-big allocation: default 1 TiB, a test caps the fake lower */
	size_t big_mib = argc > 1 ? strtoull(argv[1], NULL, 10) : (size_t)1 << 20;
	static char host[256];
	void *dev = NULL, *big = NULL;

	show("malloc", cudaMalloc(&dev, 1 << 20));
	show("memcpy_h2d_ok", cudaMemcpy(dev, host, sizeof(host), cudaMemcpyHostToDevice));
	show("memcpy_h2d_bad_dst",
	     cudaMemcpy((void *)(uintptr_t)0x10, host, sizeof(host), cudaMemcpyHostToDevice));
	show("memcpy_d2h_bad_src",
	     cudaMemcpy(host, (void *)(uintptr_t)0x10, sizeof(host), cudaMemcpyDeviceToHost));
	show("free_invalid", cudaFree((void *)(uintptr_t)0x12345));
	show("malloc_too_big", cudaMalloc(&big, big_mib << 20));
	show("free_ok", cudaFree(dev));
	return 0;
}
