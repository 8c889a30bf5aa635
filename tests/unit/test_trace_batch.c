/* Unit tests of the trace writer's per-event batches (ms_line_batch_begin/end in
 * shim/trace.c): the records one event writes reach the trace together, in the
 * order they were emitted, as whole lines, however many there are. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "trace_dir.h"

static char dir[] = "/tmp/ms-batch-test-XXXXXX";
static struct ms_config cfg;

static void setup(void)
{
	trace_dir_open(dir, &cfg);
}

static void teardown(void)
{
	trace_dir_remove(dir);
}

TestSuite(trace_batch, .init = setup, .fini = teardown);

/* The records after the preamble (lines from the first "copy"/"attr"). */
static char *records(void)
{
	static char text[1 << 21];
	char path[256];
	FILE *f;
	size_t n;
	char *p;

	ms_trace_flush();
	snprintf(path, sizeof(path), "%s/t-%d.trace", dir, (int)getpid());
	f = fopen(path, "r");
	cr_assert_not_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	p = strstr(text, "\ncopy ");
	return p ? p + 1 : text;
}

static void line(struct ms_line *l, const char *type, uint64_t seq)
{
	ms_line_begin(l, type);
	ms_line_u64(l, "seq", seq);
}

Test(trace_batch, an_event_and_its_records_arrive_in_order)
{
	struct ms_line ev, rec;

	line(&ev, "copy", 1);
	ms_line_batch_begin(&ev);
	line(&rec, "attr", 1);
	ms_line_emit(&rec);
	line(&rec, "complete", 1);
	ms_line_emit(&rec);
	ms_line_batch_end();
	line(&rec, "copy", 2);
	ms_line_emit(&rec); /* no batch: straight through */
	cr_expect_str_eq(records(), "copy seq=1\nattr seq=1\ncomplete seq=1\ncopy seq=2\n");
}

Test(trace_batch, a_batch_larger_than_a_line_goes_out_whole_lines_in_order)
{
	static struct ms_line ev, rec;
	char *text, *p;
	int n = 2000; /* ~20 bytes each: several times what one line holds */
	uint64_t want = 0;

	line(&ev, "copy", 0);
	ms_line_batch_begin(&ev);
	for (int i = 1; i <= n; i++) {
		line(&rec, "attr", (uint64_t)i);
		ms_line_u64(&rec, "tensor", (uint64_t)i);
		ms_line_emit(&rec);
	}
	ms_line_batch_end();
	text = records();
	for (p = text; *p; p = strchr(p, '\n') + 1) {
		unsigned long long seq;
		cr_assert_eq(sscanf(p, "%*s seq=%llu", &seq), 1, "a whole record: %.40s", p);
		cr_assert_eq(seq, want, "in order");
		want++;
	}
	cr_expect_eq(want, (uint64_t)n + 1);
}

Test(trace_batch, an_empty_batch_writes_nothing_more)
{
	struct ms_line ev, rec;

	line(&rec, "copy", 7);
	ms_line_emit(&rec);
	ev.len = 0;
	ev.buf[0] = '\0';
	ms_line_batch_begin(&ev);
	ms_line_batch_end();
	cr_expect_str_eq(records(), "copy seq=7\n");
}
