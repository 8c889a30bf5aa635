/* cmd_gen.c — hidden `metashim gen`: writes a synthetic trace of a clean layer by
 * layer load (allocs, H2D copies each attributed to a tensor, completions, a few
 * stacks) of any size, for the report benchmark (tests/bench/report_bench.sh) and
 * for tests that need a big trace. Deterministic: same arguments, same bytes. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "trace_format.h"

static void gen_usage(FILE *f)
{
	fprintf(f, "usage: metashim gen [--copies N] [--layers L] [--tensors T] [--no-footer] [-o FILE]\n"
	           "(hidden) writes a synthetic trace: L layers of T tensors loaded by N copies\n"
	           "(default 1000000 copies, 64 layers, 8 tensors), one attr per copy.\n");
}

int ms_cmd_gen(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "copies", required_argument, NULL, 'n' },
		{ "layers", required_argument, NULL, 'l' },
		{ "tensors", required_argument, NULL, 't' },
		{ "no-footer", no_argument, NULL, 'F' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t copies = 1000000, layers = 64, tensors = 8;
	int footer = 1, c;
	const char *out = NULL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'n': copies = strtoull(optarg, NULL, 10); break;
		case 'l': layers = strtoull(optarg, NULL, 10); break;
		case 't': tensors = strtoull(optarg, NULL, 10); break;
		case 'F': footer = 0; break;
		case 'o': out = optarg; break;
		case 'h': gen_usage(stdout); return MS_EXIT_OK;
		default: gen_usage(stderr); return MS_EXIT_USAGE;
		}
	}
	if (!layers || !tensors || copies < layers * tensors) {
		fprintf(stderr, "metashim gen: need copies >= layers * tensors >= 1\n");
		return MS_EXIT_USAGE;
	}
	FILE *f = ms_open_out(out);
	if (!f)
		return MS_EXIT_USAGE;
	static char buf[1 << 20];
	setvbuf(f, buf, _IOFBF, sizeof(buf));
	const uint64_t nt = layers * tensors, per = copies / nt, chunk = 4096; /* elements per copy */
	const uint64_t esize = 2, base = (uint64_t)0x7f0000000000;
	fprintf(f, "%s %d\n", MS_TRACE_MAGIC, MS_TRACE_VERSION);
	fprintf(f,
	        "header fmt=%d shim=gen pid=4242 ppid=1 rank=-1 world=-1 host=bench exe=/bin/gen "
	        "argv=gen%%20--synthetic cwd=/ wall_ns=0 mode=trace\n",
	        MS_TRACE_VERSION);
	fprintf(f, "module id=1 base=0x400000 end=0x500000 path=/bin/gen buildid=-\n");
	for (uint32_t s = 1; s <= 8; s++)
		fprintf(f, "stack id=%u parent=%u pc=0x%x\n", s, s > 4 ? s - 4 : 0, 0x401000 + s * 0x40);
	for (uint64_t l = 0; l < layers; l++)
		fprintf(f, "layer id=%" PRIu64 " name=model.layers.%" PRIu64 "\n", l + 1, l);
		/* Tensor t gets ncopies(t) copies of `chunk` elements; the last one also takes
		 * the remainder, and is sized for it, so the load is clean. */
#define NCOPIES(t) ((t) == nt - 1 ? copies - per * (nt - 1) : per)
	for (uint64_t t = 0; t < nt; t++)
		fprintf(f,
		        "tensor id=%" PRIu64 " layer=%" PRIu64 " name=model.layers.%" PRIu64 ".w%" PRIu64
		        " dtype=BF16 esize=2 shape=%" PRIu64 " stride=1 elems=%" PRIu64 " skip=0 "
		        "file=/ckpt/model.safetensors foff=%" PRIu64 " flen=%" PRIu64 "\n",
		        t + 1, t / tensors + 1, t / tensors, t % tensors, NCOPIES(t) * chunk,
		        NCOPIES(t) * chunk, t * per * chunk * esize, NCOPIES(t) * chunk * esize);
	uint64_t seq = 0, now = 1000;
	for (uint64_t t = 0; t < nt; t++) {
		uint64_t dev = base + t * per * chunk * esize;
		fprintf(f,
		        "alloc seq=%" PRIu64 " t=%" PRIu64 " dur=900 tid=1 api=cudaMalloc ptr=0x%" PRIx64
		        " bytes=%" PRIu64 " stream=0x0 rc=0 stack=%u\n",
		        ++seq, now, dev, NCOPIES(t) * chunk * esize, 5u);
		now += 1000;
		uint64_t n = NCOPIES(t);
		for (uint64_t k = 0; k < n; k++) {
			uint64_t off = k * chunk;
			fprintf(f,
			        "copy seq=%" PRIu64 " t=%" PRIu64
			        " dur=700 tid=1 api=cudaMemcpyAsync dir=H2D "
			        "dst=0x%" PRIx64 " src=0x%" PRIx64 " bytes=%" PRIu64
			        " stream=0x1 rc=0 stack=%" PRIu64 "\n",
			        ++seq, now, dev + off * esize, (uint64_t)0x10000000 + off * esize,
			        chunk * esize, 6 + k % 3);
			fprintf(f,
			        "attr seq=%" PRIu64 " tensor=%" PRIu64 " off=%" PRIu64 " elems=%" PRIu64
			        " copied=%" PRIu64 "\n",
			        seq, t + 1, off, chunk, (k + 1) * chunk);
			now += 800;
		}
		if (t % tensors == tensors - 1)
			fprintf(f, "complete t=%" PRIu64 " seq=%" PRIu64 " layer=%" PRIu64 " loads=1\n", now,
			        seq, t / tensors + 1);
	}
	if (footer)
		fprintf(f, "footer t=%" PRIu64 " events=%" PRIu64 " dropped=0\n", now, seq);
	return ms_close_out(f) < 0 ? MS_EXIT_USAGE : MS_EXIT_OK;
}
