/* bench_copy.c — the cost the shim adds to one intercepted copy.
 *
 * Registers N tensors (through the public API, when the shim is loaded) in one
 * device arena, then times M small host-to-device cudaMemcpy calls, each into a
 * pseudo-randomly chosen tensor (ORDER random, the worst case: every copy touches
 * cold descriptors) or into tensor after tensor (ORDER seq, as a loader does), and
 * prints the median, 90th percentile and mean per copy (the mean includes the
 * trace's periodic write(2)s, which the median does not see). tests/bench/run.sh
 * runs it with and without the shim and prints ratios. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>

typedef int (*register_fn)(const char *, const char *, uint64_t, const char *, int, const int64_t *,
                           const int64_t *);

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int register_all(register_fn reg, uint64_t base, long n, int64_t bytes)
{
	char layer[64], name[96];

	for (long i = 0; i < n; i++) {
		snprintf(layer, sizeof(layer), "model.layers.%ld.mlp", i / 8);
		snprintf(name, sizeof(name), "%s.w%ld.weight", layer, i % 8);
		if (reg(layer, name, base + (uint64_t)(i * bytes), "U8", 1, &bytes, NULL))
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10, m = argc > 2 ? atol(argv[2]) : 100000;
	int64_t bytes = argc > 3 ? atol(argv[3]) : 64;
	int seq = argc > 4 && !strcmp(argv[4], "seq");
	register_fn reg = (register_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "metashim_register_tensor");
	uint64_t *t = calloc((size_t)m, sizeof(*t)), seed = 88172645463325252ull, t0, sum = 0;
	char *host = malloc((size_t)bytes);
	void *arena = NULL;
	double reg_s = 0;

	if (n < 1 || m < 1 || bytes < 1 || !t || !host) {
		fprintf(stderr, "usage: bench_copy TENSORS COPIES [BYTES [random|seq]]\n");
		return 2;
	}
	memset(host, 7, (size_t)bytes);
	if (cudaMalloc(&arena, (size_t)(n * bytes)) != cudaSuccess) {
		fprintf(stderr, "bench_copy: cudaMalloc of %ld bytes failed\n", n * bytes);
		return 1;
	}
	if (reg) {
		t0 = now_ns();
		if (register_all(reg, (uint64_t)(uintptr_t)arena, n, bytes)) {
			fprintf(stderr, "bench_copy: metashim_register_tensor failed\n");
			return 1;
		}
		reg_s = (double)(now_ns() - t0) / 1e9;
	}
	for (long i = 0; i < m; i++) {
		uint64_t k = seq ? (uint64_t)(i % n) : xorshift(&seed) % (uint64_t)n;
		char *dst = (char *)arena + k * (uint64_t)bytes;

		t0 = now_ns();
		cudaMemcpy(dst, host, (size_t)bytes, cudaMemcpyHostToDevice);
		t[i] = now_ns() - t0;
		sum += t[i];
	}
	qsort(t, (size_t)m, sizeof(*t), cmp_u64);
	printf("tensors=%ld copies=%ld bytes=%lld order=%s shim=%d register_s=%.3f median_ns=%llu "
	       "p90_ns=%llu "
	       "mean_ns=%llu\n",
	       n, m, (long long)bytes, seq ? "seq" : "random", reg != NULL, reg_s,
	       (unsigned long long)t[m / 2], (unsigned long long)t[m * 9 / 10],
	       (unsigned long long)(sum / (uint64_t)m));
	cudaFree(arena);
	free(host);
	free(t);
	return 0;
}
