// sources: analysis/trace_reader.c analysis/model.c analysis/rangeset.c analysis/series.c analysis/u64map.c analysis/callsite.c shim/trace_format.c
/* fuzz_trace_reader.c — libFuzzer harness for the trace reader and the model built
 * on it. Each input is streamed through the reader (every field read as number and
 * as decoded string), then loaded as a trace file into a model, which is freed.
 * Neither may crash, leak or read out of bounds, whatever the bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../analysis/model.h"
#include "../../analysis/trace_reader.h"

static int touch(struct ms_record *r, void *user)
{
	uint64_t *sum = user, v;
	for (size_t i = 0; i < r->nf; i++) {
		if (ms_rec_u64(r, r->f[i].key, &v) == 0)
			*sum += v;
		const char *s = ms_rec_str(r, r->f[i].key);
		if (s)
			*sum += strlen(s);
	}
	return *sum == 42 ? ms_rec_fail(r, "stop at %d", 42) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t sum = 0;
	struct ms_trace_info info;
	char err[256];
	ms_trace_read_mem("fuzz", (const char *)data, size, touch, &sum, &info, err, sizeof(err));

	/* The model reads files: hand it the input through a memfd. */
	int fd = memfd_create("fuzz-trace", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		struct ms_model_opts opts = { .quiet = true };
		struct ms_run run;
		/* stderr lines for malformed input are expected; keep the log small. */
		if (ms_run_load(&run, path, &opts) == 0) {
			char name[256];
			for (size_t i = 0; i < run.nsites; i++)
				ms_callsite_name(&run, run.sites[i].stack, false, name, sizeof(name));
			ms_run_free(&run);
		}
	}
	close(fd);
	return 0;
}
