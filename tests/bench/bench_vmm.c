/* bench_vmm.c — what deferred memory costs, on the fake CUDA (tests/bench/bench_vmm.sh
 * runs it under the shim and reads the figures from its output and trace):
 *   load LAYERS MIB   an arena of LAYERS layers of MIB MiB, registered through the
 *                     C API and filled from host memory: in layerwise mode every
 *                     layer's copies are staged, then materialized and replayed
 *   copies N BYTES    N copies of BYTES into one buffer, timed: ns per copy */
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int (*reg_fn)(const char *, const char *, uint64_t, const char *, int, const int64_t *,
                      const int64_t *);

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int load(int layers, size_t mib)
{
	reg_fn reg = (reg_fn)dlsym(RTLD_DEFAULT, "metashim_register_tensor");
	size_t bytes = mib << 20;
	char *arena, *host = malloc(bytes);
	double t0;

	if (!host || cudaMalloc((void **)&arena, bytes * (size_t)layers) != cudaSuccess)
		return fprintf(stderr, "bench_vmm: allocation failed\n"), 1;
	memset(host, 0x5a, bytes);
	for (int l = 0; l < layers && reg; l++) {
		char layer[32], name[48];
		int64_t shape = (int64_t)bytes;

		snprintf(layer, sizeof(layer), "layer%d", l);
		snprintf(name, sizeof(name), "layer%d.w", l);
		reg(layer, name, (uint64_t)(uintptr_t)(arena + (size_t)l * bytes), "U8", 1, &shape, NULL);
	}
	t0 = now();
	for (int l = 0; l < layers; l++)
		for (size_t off = 0; off < bytes; off += 1 << 20) /* 1 MiB copies, as loaders make */
			if (cudaMemcpy(arena + (size_t)l * bytes + off, host + off, 1 << 20,
			               cudaMemcpyHostToDevice))
				return fprintf(stderr, "bench_vmm: copy failed\n"), 1;
	printf("load: %d layers x %zu MiB in %.3f s\n", layers, mib, now() - t0);
	cudaFree(arena);
	free(host);
	return 0;
}

static int copies(long n, size_t bytes)
{
	char *dev, *host = calloc(1, bytes);
	double t0, t;

	if (!host || cudaMalloc((void **)&dev, 64 << 20) != cudaSuccess)
		return fprintf(stderr, "bench_vmm: allocation failed\n"), 1;
	t0 = now();
	for (long i = 0; i < n; i++)
		cudaMemcpy(dev + (size_t)(i % 1024) * bytes % (64 << 20), host, bytes,
		           cudaMemcpyHostToDevice);
	t = now() - t0;
	printf("copies: %ld x %zu bytes, %.0f ns per copy\n", n, bytes, t * 1e9 / (double)n);
	cudaFree(dev);
	free(host);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "load"))
		return load(atoi(argv[2]), (size_t)atol(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "copies"))
		return copies(atol(argv[2]), (size_t)atol(argv[3]));
	fprintf(stderr, "usage: bench_vmm load LAYERS MIB | copies N BYTES\n");
	return 2;
}
