/* load_runtime.c — loads a safetensors checkpoint onto the device through the CUDA
 * runtime, the way a framework's weight loader does: mmap every shard, cudaMalloc,
 * copy each tensor straight out of the mapping. Options vary the pattern (arena,
 * async streams, threads, a staging buffer) and plant problems (--twice, --skip)
 * so the shim's reports have something to find. Built twice: against
 * libcudart.so (load_runtime) and with the static runtime (load_runtime_static). */
#include <cuda_runtime_api.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoint.h"

struct lr_opts {
	const char *path;
	const char *dump;  /* read every tensor back into this file */
	const char *twice; /* upload this tensor twice */
	const char *skip;  /* never upload this tensor */
	int threads;
	int arena, async, staging;
};

struct lr_state {
	const struct lr_opts *o;
	struct ck ck;
	char **dev; /* device address of each tensor */
	char *arena;
	atomic_int next; /* next tensor a worker takes */
	atomic_int failed;
	atomic_ullong uploaded;
	int twice, skip; /* tensor indexes, -1 when unused */
};

static const char *prog = "load_runtime";

static int check(struct lr_state *st, cudaError_t err, const char *what, const char *name)
{
	if (err == cudaSuccess)
		return 0;
	/* the first failure is the interesting one; the rest follow from it */
	if (!atomic_exchange(&st->failed, 1))
		fprintf(stderr, "%s: %s%s%s failed: %s (%s)\n", prog, what, name ? " of " : "",
		        name ? name : "", cudaGetErrorName(err), cudaGetErrorString(err));
	return -1;
}

static int upload_one(struct lr_state *st, int i, cudaStream_t stream, char *staging)
{
	const struct ck_tensor *t = &st->ck.tensors[i];
	const void *src = t->host;
	int n = i == st->twice ? 2 : 1, k;

	if (i == st->skip || !t->bytes)
		return 0;
	for (k = 0; k < n; k++) {
		cudaError_t err;

		if (staging) {
			memcpy(staging, t->host, t->bytes);
			src = staging;
		}
		if (st->o->async)
			err = cudaMemcpyAsync(st->dev[i], src, t->bytes, cudaMemcpyHostToDevice, stream);
		else
			err = cudaMemcpy(st->dev[i], src, t->bytes, cudaMemcpyHostToDevice);
		if (check(st, err, st->o->async ? "cudaMemcpyAsync" : "cudaMemcpy", t->name))
			return -1;
		/* the staging buffer is reused: wait until the device has read it */
		if (staging && st->o->async &&
		    check(st, cudaStreamSynchronize(stream), "cudaStreamSynchronize", NULL))
			return -1;
		st->uploaded += t->bytes;
	}
	return 0;
}

static void *worker(void *arg)
{
	struct lr_state *st = arg;
	cudaStream_t stream = NULL;
	char *staging = NULL;
	int i;

	if (st->o->staging && !(staging = malloc(st->ck.max_bytes ? st->ck.max_bytes : 1))) {
		fprintf(stderr, "%s: out of memory for the staging buffer\n", prog);
		st->failed = 1;
		return NULL;
	}
	if (st->o->async && check(st, cudaStreamCreate(&stream), "cudaStreamCreate", NULL))
		goto out;
	while (!st->failed && (i = atomic_fetch_add(&st->next, 1)) < st->ck.ntensors)
		if (upload_one(st, i, stream, staging))
			break;
	if (stream) {
		check(st, cudaStreamSynchronize(stream), "cudaStreamSynchronize", NULL);
		check(st, cudaStreamDestroy(stream), "cudaStreamDestroy", NULL);
	}
out:
	free(staging);
	return NULL;
}

static int allocate(struct lr_state *st)
{
	int i;

	if (!st->o->arena) {
		for (i = 0; i < st->ck.ntensors; i++)
			if (check(st, cudaMalloc((void **)&st->dev[i], st->ck.tensors[i].bytes), "cudaMalloc",
			          st->ck.tensors[i].name))
				return -1;
		return 0;
	}
	if (check(st, cudaMalloc((void **)&st->arena, st->ck.arena_bytes), "cudaMalloc", "the arena"))
		return -1;
	for (i = 0; i < st->ck.ntensors; i++)
		st->dev[i] = st->arena + st->ck.tensors[i].arena_off;
	return 0;
}

static void release(struct lr_state *st)
{
	int i;

	if (st->arena)
		cudaFree(st->arena);
	else
		for (i = 0; i < st->ck.ntensors; i++)
			if (st->dev[i])
				cudaFree(st->dev[i]);
}

/* Device contents in checkpoint order, so that runs with and without the shim (and
 * the checkpoint itself) can be compared byte for byte. Skipped tensors are left out. */
static int dump(struct lr_state *st, const char *path)
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

		if (i == st->skip || !t->bytes)
			continue;
		if (check(st, cudaMemcpy(buf, st->dev[i], t->bytes, cudaMemcpyDeviceToHost),
		          "cudaMemcpy (read back)", t->name))
			goto out;
		if (fwrite(buf, 1, t->bytes, f) != t->bytes) {
			fprintf(stderr, "%s: writing %s: %s\n", prog, path, strerror(errno));
			goto out;
		}
	}
	err = 0;
out:
	if (f && fclose(f) && !err) {
		fprintf(stderr, "%s: writing %s: %s\n", prog, path, strerror(errno));
		err = -1;
	}
	free(buf);
	return err;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: %s [options] CHECKPOINT\n"
	        "Uploads every tensor of a safetensors checkpoint (a file, an index JSON or a\n"
	        "directory) to device 0 through the CUDA runtime, copying from the mmapped shards.\n"
	        "  --arena         one cudaMalloc for all tensors (default: one per tensor)\n"
	        "  --async         cudaMemcpyAsync on a created stream (default: cudaMemcpy)\n"
	        "  --threads N     upload with N threads at once (default 1)\n"
	        "  --staging       copy each tensor through a malloc'd buffer, not from the mapping\n"
	        "  --dump FILE     read every tensor back and write the bytes, in checkpoint order\n"
	        "  --twice NAME    upload tensor NAME twice (a planted double load)\n"
	        "  --skip NAME     never upload tensor NAME (a planted missing tensor)\n",
	        prog);
}

static int parse_opts(int argc, char **argv, struct lr_opts *o)
{
	static const struct option lo[] = {
		{ "arena", no_argument, 0, 'a' },
		{ "async", no_argument, 0, 'A' },
		{ "threads", required_argument, 0, 't' },
		{ "staging", no_argument, 0, 's' },
		{ "dump", required_argument, 0, 'd' },
		{ "twice", required_argument, 0, '2' },
		{ "skip", required_argument, 0, 'k' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->threads = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'a': o->arena = 1; break;
		case 'A': o->async = 1; break;
		case 's': o->staging = 1; break;
		case 'd': o->dump = optarg; break;
		case '2': o->twice = optarg; break;
		case 'k': o->skip = optarg; break;
		case 'h': usage(stdout); exit(0);
		case 't':
			o->threads = (int)strtol(optarg, &end, 10);
			if (*end || o->threads < 1 || o->threads > 256) {
				fprintf(stderr, "%s: --threads wants 1..256, not '%s'\n", prog, optarg);
				return -EINVAL;
			}
			break;
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return -EINVAL;
	}
	o->path = argv[optind];
	return 0;
}

static int find_planted(struct lr_state *st, const char *name, const char *opt)
{
	int i;

	if (!name)
		return -1;
	i = ck_find(&st->ck, name);
	if (i < 0) {
		fprintf(stderr, "%s: %s %s: no such tensor in the checkpoint\n", prog, opt, name);
		st->failed = 1;
	}
	return i;
}

int main(int argc, char **argv)
{
	struct lr_opts o;
	struct lr_state st = { 0 };
	pthread_t tid[256];
	struct timespec t0, t1;
	double secs;
	int i, started = 0;

	prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	if (parse_opts(argc, argv, &o))
		return 2;
	st.o = &o;
	if (ck_open(&st.ck, o.path, prog))
		return 1;
	st.twice = find_planted(&st, o.twice, "--twice");
	st.skip = find_planted(&st, o.skip, "--skip");
	st.dev = calloc((size_t)st.ck.ntensors + 1, sizeof(*st.dev));
	if (!st.dev || st.failed || allocate(&st))
		goto out;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < o.threads; i++, started++)
		if (pthread_create(&tid[i], NULL, worker, &st)) {
			fprintf(stderr, "%s: cannot start thread %d\n", prog, i);
			st.failed = 1;
			break;
		}
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* every worker synchronized its own stream before it ended */
	if (st.failed)
		goto out;
	if (o.dump && dump(&st, o.dump))
		st.failed = 1;
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	if (!st.failed)
		printf("%s: %d tensors, %llu bytes from %d shard%s uploaded in %.3f s (%.2f GB/s): "
		       "%s, %s%s, %d thread%s\n",
		       prog, st.ck.ntensors, (unsigned long long)st.uploaded, st.ck.nshards,
		       st.ck.nshards == 1 ? "" : "s", secs,
		       secs > 0 ? (double)st.uploaded / secs * 1e-9 : 0.0,
		       o.arena ? "one arena" : "cudaMalloc per tensor",
		       o.async ? "cudaMemcpyAsync" : "cudaMemcpy", o.staging ? " via staging" : "", o.threads,
		       o.threads == 1 ? "" : "s");
out:
	if (st.dev)
		release(&st);
	free(st.dev);
	ck_close(&st.ck);
	return st.failed || !st.dev ? 1 : 0;
}
