/* load_driver.c — the checkpoint load of load_runtime.c through the driver API
 * only, reached the way the CUDA runtime and JAX reach it: dlopen libcuda.so.1,
 * dlsym cuGetProcAddress_v2, and fetch every other entry point through it. Links
 * no CUDA library, so the shim can see these calls only through its
 * cuGetProcAddress. */
#include <cuda.h>
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoint.h"

#define DRV_VERSION 12000 /* the ABI we were written against: cuMemAlloc means _v2 */

typedef CUresult (*get_proc_fn)(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *);

/* The entry points, filled from cuGetProcAddress_v2; names are the API names, the
 * versions the driver picks for DRV_VERSION. */
static struct {
	CUresult (*init)(unsigned int);
	CUresult (*device_get)(CUdevice *, int);
	CUresult (*primary_retain)(CUcontext *, CUdevice);
	CUresult (*primary_release)(CUdevice);
	CUresult (*ctx_set_current)(CUcontext);
	CUresult (*ctx_synchronize)(void);
	CUresult (*mem_alloc)(CUdeviceptr *, size_t);
	CUresult (*mem_free)(CUdeviceptr);
	CUresult (*htod)(CUdeviceptr, const void *, size_t);
	CUresult (*dtoh)(void *, CUdeviceptr, size_t);
	CUresult (*error_name)(CUresult, const char **);
} drv;

struct ld_state {
	struct ck ck;
	CUcontext ctx;
	CUdeviceptr *dev;
	CUdeviceptr arena;
	atomic_int next, failed;
	atomic_ullong uploaded;
};

static const char *prog = "load_driver";

static int check(struct ld_state *st, CUresult rc, const char *what, const char *name)
{
	const char *ename = NULL;

	if (rc == CUDA_SUCCESS)
		return 0;
	if (!st || !atomic_exchange(&st->failed, 1)) {
		if (!drv.error_name || drv.error_name(rc, &ename) != CUDA_SUCCESS)
			ename = NULL;
		fprintf(stderr, "%s: %s%s%s failed: %s (%d)\n", prog, what, name ? " of " : "",
		        name ? name : "", ename ? ename : "unknown error", (int)rc);
	}
	return -1;
}

static int fetch(get_proc_fn get, const char *name, void *slot)
{
	CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SUCCESS;
	CUresult rc = get(name, (void **)slot, DRV_VERSION, CU_GET_PROC_ADDRESS_DEFAULT, &status);

	if (rc != CUDA_SUCCESS || status != CU_GET_PROC_ADDRESS_SUCCESS || !*(void **)slot) {
		fprintf(stderr, "%s: cuGetProcAddress(\"%s\", %d) failed: result %d, status %d\n", prog, name,
		        DRV_VERSION, (int)rc, (int)status);
		return -1;
	}
	return 0;
}

static int load_driver(void)
{
	void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	get_proc_fn get;

	if (!h) {
		fprintf(stderr, "%s: cannot load the CUDA driver: %s\n", prog, dlerror());
		return -1;
	}
	get = (get_proc_fn)dlsym(h, "cuGetProcAddress_v2");
	if (!get) {
		fprintf(stderr, "%s: libcuda.so.1 has no cuGetProcAddress_v2 (driver older than 12.0?)\n",
		        prog);
		return -1;
	}
	return fetch(get, "cuInit", &drv.init) || fetch(get, "cuDeviceGet", &drv.device_get) ||
	                       fetch(get, "cuDevicePrimaryCtxRetain", &drv.primary_retain) ||
	                       fetch(get, "cuDevicePrimaryCtxRelease", &drv.primary_release) ||
	                       fetch(get, "cuCtxSetCurrent", &drv.ctx_set_current) ||
	                       fetch(get, "cuCtxSynchronize", &drv.ctx_synchronize) ||
	                       fetch(get, "cuMemAlloc", &drv.mem_alloc) ||
	                       fetch(get, "cuMemFree", &drv.mem_free) ||
	                       fetch(get, "cuMemcpyHtoD", &drv.htod) ||
	                       fetch(get, "cuMemcpyDtoH", &drv.dtoh) ||
	                       fetch(get, "cuGetErrorName", &drv.error_name)
	               ? -1
	               : 0;
}

static void *worker(void *arg)
{
	struct ld_state *st = arg;
	int i;

	/* a context is current per thread: a new thread starts with none */
	if (check(st, drv.ctx_set_current(st->ctx), "cuCtxSetCurrent", NULL))
		return NULL;
	while (!st->failed && (i = atomic_fetch_add(&st->next, 1)) < st->ck.ntensors) {
		const struct ck_tensor *t = &st->ck.tensors[i];

		if (!t->bytes)
			continue;
		if (check(st, drv.htod(st->dev[i], t->host, t->bytes), "cuMemcpyHtoD", t->name))
			break;
		st->uploaded += t->bytes;
	}
	return NULL;
}

static int allocate(struct ld_state *st, int arena)
{
	int i;

	if (!arena) {
		for (i = 0; i < st->ck.ntensors; i++)
			if (check(st, drv.mem_alloc(&st->dev[i], st->ck.tensors[i].bytes), "cuMemAlloc",
			          st->ck.tensors[i].name))
				return -1;
		return 0;
	}
	if (check(st, drv.mem_alloc(&st->arena, st->ck.arena_bytes), "cuMemAlloc", "the arena"))
		return -1;
	for (i = 0; i < st->ck.ntensors; i++)
		st->dev[i] = st->arena + st->ck.tensors[i].arena_off;
	return 0;
}

static int dump(struct ld_state *st, const char *path)
{
	char *buf = malloc(st->ck.max_bytes ? st->ck.max_bytes : 1);
	FILE *f = fopen(path, "wb");
	int i, err = -1;

	if (!buf || !f) {
		fprintf(stderr, "%s: cannot write %s: %s\n", prog, path, strerror(errno));
		goto out;
	}
	for (i = 0; i < st->ck.ntensors; i++) {
		const struct ck_tensor *t = &st->ck.tensors[i];

		if (!t->bytes)
			continue;
		if (check(st, drv.dtoh(buf, st->dev[i], t->bytes), "cuMemcpyDtoH", t->name))
			goto out;
		if (fwrite(buf, 1, t->bytes, f) != t->bytes) {
			fprintf(stderr, "%s: writing %s: %s\n", prog, path, strerror(errno));
			goto out;
		}
	}
	err = 0;
out:
	if (f && fclose(f) && !err)
		err = -1;
	free(buf);
	return err;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: %s [--arena] [--threads N] [--dump FILE] CHECKPOINT\n"
	        "Uploads every tensor of a safetensors checkpoint to device 0 with the driver API\n"
	        "only (cuMemAlloc, cuMemcpyHtoD), every entry point fetched through\n"
	        "cuGetProcAddress_v2 from a dlopen'ed libcuda.so.1.\n"
	        "  --arena       one cuMemAlloc for all tensors (default: one per tensor)\n"
	        "  --threads N   upload with N threads at once (default 1)\n"
	        "  --dump FILE   read every tensor back and write the bytes, in checkpoint order\n",
	        prog);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "arena", no_argument, 0, 'a' },
		{ "threads", required_argument, 0, 't' },
		{ "dump", required_argument, 0, 'd' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct ld_state st = { 0 };
	const char *dump_path = NULL;
	struct timespec t0, t1;
	pthread_t tid[256];
	int arena = 0, threads = 1, started = 0, c, i;
	CUdevice dev = 0;
	double secs;
	char *end;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'a': arena = 1; break;
		case 'd': dump_path = optarg; break;
		case 'h': usage(stdout); return 0;
		case 't':
			threads = (int)strtol(optarg, &end, 10);
			if (*end || threads < 1 || threads > 256) {
				fprintf(stderr, "%s: --threads wants 1..256, not '%s'\n", prog, optarg);
				return 2;
			}
			break;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	if (load_driver() || ck_open(&st.ck, argv[optind], prog))
		return 1;
	st.dev = calloc((size_t)st.ck.ntensors + 1, sizeof(*st.dev));
	if (!st.dev || check(&st, drv.init(0), "cuInit", NULL) ||
	    check(&st, drv.device_get(&dev, 0), "cuDeviceGet", NULL) ||
	    check(&st, drv.primary_retain(&st.ctx, dev), "cuDevicePrimaryCtxRetain", NULL) ||
	    check(&st, drv.ctx_set_current(st.ctx), "cuCtxSetCurrent", NULL) || allocate(&st, arena))
		goto out;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < threads; i++, started++)
		if (pthread_create(&tid[i], NULL, worker, &st)) {
			fprintf(stderr, "%s: cannot start thread %d\n", prog, i);
			st.failed = 1;
			break;
		}
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (st.failed || check(&st, drv.ctx_synchronize(), "cuCtxSynchronize", NULL))
		goto out;
	if (dump_path && dump(&st, dump_path))
		st.failed = 1;
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	if (!st.failed)
		printf("%s: %d tensors, %llu bytes from %d shard%s uploaded in %.3f s (%.2f GB/s): "
		       "%s, cuMemcpyHtoD, %d thread%s\n",
		       prog, st.ck.ntensors, (unsigned long long)st.uploaded, st.ck.nshards,
		       st.ck.nshards == 1 ? "" : "s", secs,
		       secs > 0 ? (double)st.uploaded / secs * 1e-9 : 0.0,
		       arena ? "one arena" : "cuMemAlloc per tensor", threads, threads == 1 ? "" : "s");
out:
	if (st.dev && drv.mem_free) {
		if (st.arena)
			drv.mem_free(st.arena);
		else
			for (i = 0; i < st.ck.ntensors; i++)
				if (st.dev[i])
					drv.mem_free(st.dev[i]);
	}
	if (st.ctx)
		drv.primary_release(dev);
	free(st.dev);
	ck_close(&st.ck);
	return st.failed || !st.dev ? 1 : 0;
}
