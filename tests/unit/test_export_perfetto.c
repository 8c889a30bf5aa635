/* test_export_perfetto.c — `export --format perfetto` on hand-written traces: the
 * output parses as JSON (jansson) and carries one process per rank, the API calls
 * and copies as slices on thread and stream tracks, memory counters, completion,
 * mark, launch and materialize events, with exact times and escaped strings. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"

static const struct ms_model_opts quiet = { .quiet = true };

/* A trace of a layerwise load: two threads, two streams, deferred memory. */
#define RICH                                                                                                \
	"metashim-trace 1\n"                                                                                \
	"header fmt=1 shim=0.1.0 pid=300 ppid=1 rank=-1 world=-1 host=h exe=/opt/load argv=/opt/load "      \
	"cwd=/w wall_ns=1700000000000000000 mode=layerwise\n"                                               \
	"module id=1 base=0x400000 end=0x500000 path=/opt/load buildid=-\n"                                 \
	"stack id=1 parent=0 pc=0x401000\n"                                                                 \
	"layer id=1 name=model.layers.0\n"                                                                  \
	"layer id=2 name=model.layers.1\n"                                                                  \
	"layer id=3 name=model.layers.2\n"                                                                  \
	"tensor id=1 layer=1 name=model.layers.0.w dtype=F32 esize=4 shape=256 stride=1 elems=256 skip=0\n" \
	"tensor id=2 layer=2 name=model.layers.1.w dtype=F32 esize=4 shape=256 stride=1 elems=256 skip=0\n" \
	"tensor id=3 layer=3 name=model.layers.2.w dtype=F32 esize=4 shape=256 stride=1 elems=256 skip=0\n" \
	"mem t=500 reserved=3072 materialized=0 staged=0 scratch=4096\n"                                    \
	"alloc seq=1 t=1000 dur=100 tid=300 api=cudaMalloc ptr=0x7e0000000000 bytes=1024 stream=0x0 rc=0 "  \
	"stack=0 deferred=1\n"                                                                              \
	"alloc seq=2 t=2000 dur=100 tid=300 api=cudaMalloc ptr=0x7e0000001000 bytes=2048 stream=0x0 rc=0 "  \
	"stack=0\n"                                                                                         \
	"mark t=2500 tid=300 name=load%20start\n"                                                           \
	"copy seq=3 t=10000123 dur=1000 tid=300 api=cudaMemcpyAsync dir=H2D dst=0x7e0000000000 src=0x1000 " \
	"bytes=1024 stream=0x5 rc=0 stack=1\n"                                                              \
	"attr seq=3 tensor=1 off=0 elems=256 copied=256\n"                                                  \
	"complete t=10001123 seq=3 layer=1 loads=1\n"                                                       \
	"materialize t=10001200 dur=300 layer=1 bytes=1024 copies=1 ok=1\n"                                 \
	"mem t=10001500 reserved=3072 materialized=1024 staged=0 scratch=4096\n"                            \
	"copy seq=4 t=20000000 dur=1000 tid=301 api=cudaMemcpy dir=H2D dst=0x7e0000001000 src=0x2000 "      \
	"bytes=512 stream=0x0 rc=0 stack=0\n"                                                               \
	"attr seq=4 tensor=2 off=0 elems=128 copied=128\n"                                                  \
	"launch t=21000000 tid=300 api=cuLaunchKernel deferred=3072\n"                                      \
	"memset seq=5 t=22000000 dur=10 tid=300 api=cudaMemset dst=0x7e0000001000 bytes=64 value=0 "        \
	"stream=0x0 rc=0 stack=0\n"                                                                         \
	"release t=23000000 layer=1 bytes=1024 backup=0\n"                                                  \
	"free seq=6 t=24000000 dur=10 tid=300 api=cudaFree ptr=0x7e0000001000 bytes=0 stream=0x0 rc=0 "     \
	"stack=0\n"                                                                                         \
	"warn t=25000000 msg=something%20odd\n"                                                             \
	"footer t=30000000 events=6 dropped=0\n"

/* One rank of a tensor-parallel load; %d is the rank, %s the wall clock. */
#define RANK                                                                                            \
	"metashim-trace 1\n"                                                                            \
	"header fmt=1 shim=0.1.0 pid=%d ppid=1 rank=%d world=2 host=h exe=/opt/tp argv=/opt/tp cwd=/w " \
	"wall_ns=%s mode=trace\n"                                                                       \
	"layer id=1 name=L0\n"                                                                          \
	"tensor id=1 layer=1 name=L0.w dtype=BF16 esize=2 shape=8 stride=1 elems=8 skip=0\n"            \
	"copy seq=1 t=1000000 dur=1000 tid=7 api=cudaMemcpy dir=H2D dst=0x10 src=0x20 bytes=16 "        \
	"stream=0x0 rc=0 stack=0\n"                                                                     \
	"attr seq=1 tensor=1 off=0 elems=8 copied=8\n"                                                  \
	"complete t=1001000 seq=1 layer=1 loads=1\n"                                                    \
	"footer t=2000000 events=1 dropped=0\n"

struct fixture {
	char paths[4][32];
	size_t n;
	struct ms_model m;
	char *out; /* the export */
	size_t len;
	json_t *doc;    /* parsed */
	json_t *events; /* doc.traceEvents */
};

static void add_trace(struct fixture *fx, const char *text)
{
	char *p = fx->paths[fx->n++];
	strcpy(p, "/tmp/ms-pf-XXXXXX");
	int fd = mkstemp(p);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* Load the traces added, export, parse; asserts each step. */
static void export(struct fixture *fx)
{
	char *argv[4];
	for (size_t i = 0; i < fx->n; i++)
		argv[i] = fx->paths[i];
	cr_assert_eq(ms_model_load(&fx->m, argv, fx->n, &quiet), 0);
	ms_export_symbolize = false;
	FILE *f = open_memstream(&fx->out, &fx->len);
	cr_assert_not_null(f);
	cr_assert_eq(ms_export_perfetto(&fx->m, f), 0);
	fclose(f);
	json_error_t err;
	fx->doc = json_loadb(fx->out, fx->len, 0, &err);
	cr_assert_not_null(fx->doc, "not JSON: line %d: %s", err.line, err.text);
	fx->events = json_object_get(fx->doc, "traceEvents");
	cr_assert(json_is_array(fx->events));
}

static void done(struct fixture *fx)
{
	json_decref(fx->doc);
	free(fx->out);
	ms_model_free(&fx->m);
	for (size_t i = 0; i < fx->n; i++)
		unlink(fx->paths[i]);
}

static const char *sget(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* Events with phase ph (and category cat, and name, when not NULL). */
static size_t count(const struct fixture *fx, const char *ph, const char *cat, const char *name)
{
	size_t i, n = 0;
	json_t *e;
	json_array_foreach(fx->events, i, e)
	{
		if (strcmp(sget(e, "ph"), ph) == 0 && (!cat || strcmp(sget(e, "cat"), cat) == 0) &&
		    (!name || strcmp(sget(e, "name"), name) == 0))
			n++;
	}
	return n;
}

/* The n-th event (0-based) matching ph/cat/name; asserts it exists. */
static json_t *nth(const struct fixture *fx, const char *ph, const char *cat, const char *name, size_t want)
{
	size_t i;
	json_t *e;
	json_array_foreach(fx->events, i, e)
	{
		if (strcmp(sget(e, "ph"), ph) == 0 && (!cat || strcmp(sget(e, "cat"), cat) == 0) &&
		    (!name || strcmp(sget(e, "name"), name) == 0) && want-- == 0)
			return e;
	}
	cr_assert_fail("no event ph=%s cat=%s name=%s", ph, cat ? cat : "*", name ? name : "*");
	return NULL;
}

static json_int_t arg_i(const json_t *e, const char *k)
{
	return json_integer_value(json_object_get(json_object_get(e, "args"), k));
}

static const char *arg_s(const json_t *e, const char *k)
{
	return sget(json_object_get(e, "args"), k);
}

Test(export_perfetto, copies_and_allocations_are_slices_on_their_thread)
{
	struct fixture fx = { 0 };
	add_trace(&fx, RICH);
	export(&fx);
	cr_expect_eq(count(&fx, "X", "copy", NULL), 2);
	cr_expect_eq(count(&fx, "X", "alloc", NULL), 2);
	cr_expect_eq(count(&fx, "X", "free", NULL), 1);
	json_t *c = nth(&fx, "X", "copy", NULL, 1);
	cr_expect_str_eq(sget(c, "name"), "cudaMemcpy");
	cr_expect_eq(json_integer_value(json_object_get(c, "tid")), 301);
	cr_expect_eq(json_integer_value(json_object_get(c, "pid")), 300);
	done(&fx);
}

Test(export_perfetto, copy_args_carry_api_bytes_direction_and_the_tensor_loaded)
{
	struct fixture fx = { 0 };
	add_trace(&fx, RICH);
	export(&fx);
	json_t *c = nth(&fx, "X", "copy", NULL, 0);
	cr_expect_str_eq(arg_s(c, "api"), "cudaMemcpyAsync");
	cr_expect_str_eq(arg_s(c, "direction"), "H2D");
	cr_expect_eq(arg_i(c, "bytes"), 1024);
	cr_expect_str_eq(arg_s(c, "dst"), "0x7e0000000000");
	cr_expect_str_eq(arg_s(c, "src"), "0x1000");
	cr_expect_str_eq(arg_s(c, "tensor"), "model.layers.0.w");
	cr_expect_str_eq(arg_s(c, "layer"), "model.layers.0");
	cr_expect_eq(arg_i(c, "elements"), 256);
	cr_expect_str_eq(arg_s(c, "site"), "0x401000 [load+0x1000]");
	done(&fx);
}

Test(export_perfetto, streams_get_tracks_of_their_own)
{
	struct fixture fx = { 0 };
	add_trace(&fx, RICH);
	export(&fx);
	/* Each copy and memset also lands on its stream's track, named for what it loaded. */
	cr_expect_eq(count(&fx, "X", "stream", NULL), 2);
	cr_expect_eq(count(&fx, "X", "memset", NULL), 2);
	json_t *s = nth(&fx, "X", "stream", "model.layers.0.w", 0);
	json_int_t stream_tid = json_integer_value(json_object_get(s, "tid"));
	cr_expect_neq(stream_tid, 300);
	size_t i, named = 0;
	json_t *e;
	json_array_foreach(fx.events, i, e)
	{
		if (strcmp(sget(e, "name"), "thread_name") != 0)
			continue;
		if (json_integer_value(json_object_get(e, "tid")) == stream_tid)
			cr_expect_str_eq(arg_s(e, "name"), "stream 0x5");
		named++;
	}
	/* threads 300 and 301, streams 0x5 and 0x0, one lane of layer loads */
	cr_expect_eq(named, 5);
	done(&fx);
}

Test(export_perfetto, memory_counters_follow_allocations_and_deferred_memory)
{
	struct fixture fx = { 0 };
	add_trace(&fx, RICH);
	export(&fx);
	cr_assert_eq(count(&fx, "C", "memory", "allocated"), 3);
	cr_expect_eq(arg_i(nth(&fx, "C", "memory", "allocated", 0), "bytes"), 1024);
	cr_expect_eq(arg_i(nth(&fx, "C", "memory", "allocated", 1), "bytes"), 3072);
	cr_expect_eq(arg_i(nth(&fx, "C", "memory", "allocated", 2), "bytes"), 1024);
	cr_expect_eq(count(&fx, "C", "memory", "reserved"), 2);
	cr_expect_eq(count(&fx, "C", "memory", "staged"), 2);
	cr_assert_eq(count(&fx, "C", "memory", "materialized"), 2);
	cr_expect_eq(arg_i(nth(&fx, "C", "memory", "materialized", 1), "bytes"), 1024);
	done(&fx);
}

Test(export_perfetto, completions_marks_launches_and_warnings_are_instants)
{
	struct fixture fx = { 0 };
	add_trace(&fx, RICH);
	export(&fx);
	cr_assert_eq(count(&fx, "i", "complete", NULL), 1);
	json_t *c = nth(&fx, "i", "complete", NULL, 0);
	cr_expect_str_eq(sget(c, "s"), "p");
	cr_expect_str_eq(arg_s(c, "layer"), "model.layers.0");
	cr_expect_eq(count(&fx, "i", "mark", "load start"), 1);
	cr_expect_eq(count(&fx, "i", "launch", "launch cuLaunchKernel"), 1);
	cr_assert_eq(count(&fx, "i", "warn", NULL), 1);
	cr_expect_str_eq(arg_s(nth(&fx, "i", "warn", NULL, 0), "msg"), "something odd");
	done(&fx);
}

Test(export_perfetto, materialize_is_a_slice_and_release_an_instant)
{
	struct fixture fx = { 0 };
	add_trace(&fx, RICH);
	export(&fx);
	cr_assert_eq(count(&fx, "X", "materialize", "materialize model.layers.0"), 1);
	json_t *m = nth(&fx, "X", "materialize", NULL, 0);
	cr_expect_eq(arg_i(m, "bytes"), 1024);
	cr_expect_eq(arg_i(m, "copies_replayed"), 1);
	cr_expect_eq(count(&fx, "i", "release", "release model.layers.0"), 1);
	done(&fx);
}

Test(export_perfetto, layer_loads_are_spans_with_their_status)
{
	struct fixture fx = { 0 };
	add_trace(&fx, RICH);
	export(&fx);
	/* Layer 2 was never copied into: no span. Layer 0 was released at the end
	 * (back on meta), so its status is whatever the model says now. */
	cr_expect_eq(count(&fx, "X", "layer", NULL), 2);
	cr_expect_str_eq(arg_s(nth(&fx, "X", "layer", "model.layers.0", 0), "status"),
	                 ms_status_name(fx.m.runs[0].layers[0].status));
	cr_expect_eq(arg_i(nth(&fx, "X", "layer", "model.layers.0", 0), "loads"), 1);
	cr_expect_str_eq(arg_s(nth(&fx, "X", "layer", "model.layers.1", 0), "status"), "partial");
	done(&fx);
}

Test(export_perfetto, times_are_microseconds_keeping_the_nanoseconds)
{
	struct fixture fx = { 0 };
	add_trace(&fx, RICH);
	export(&fx);
	/* copy seq=3: t=10000123 ns, dur=1000 ns */
	cr_expect(strstr(fx.out, "\"ts\":10000.123,\"dur\":1.000") != NULL);
	json_t *c = nth(&fx, "X", "copy", NULL, 0);
	cr_expect_float_eq(json_number_value(json_object_get(c, "ts")), 10000.123, 1e-9);
	cr_expect_str_eq(sget(fx.doc, "displayTimeUnit"), "ns");
	done(&fx);
}

Test(export_perfetto, every_rank_is_a_process_lined_up_on_the_wall_clock)
{
	struct fixture fx = { 0 };
	char buf[2048];
	snprintf(buf, sizeof(buf), RANK, 200, 0, "1700000000000000000");
	add_trace(&fx, buf);
	snprintf(buf, sizeof(buf), RANK, 201, 1, "1700000000005000000"); /* started 5 ms later */
	add_trace(&fx, buf);
	export(&fx);
	cr_assert_eq(count(&fx, "M", NULL, "process_name"), 2);
	json_t *p0 = nth(&fx, "M", NULL, "process_name", 0), *p1 = nth(&fx, "M", NULL, "process_name", 1);
	cr_expect_eq(json_integer_value(json_object_get(p0, "pid")), 0);
	cr_expect_eq(json_integer_value(json_object_get(p1, "pid")), 1);
	cr_expect_str_eq(arg_s(p0, "name"), "rank 0: tp (pid 200)");
	cr_expect_str_eq(arg_s(p1, "name"), "rank 1: tp (pid 201)");
	cr_assert_eq(count(&fx, "X", "copy", NULL), 2);
	cr_expect_float_eq(json_number_value(json_object_get(nth(&fx, "X", "copy", NULL, 0), "ts")), 1000.0,
	                   1e-9);
	cr_expect_float_eq(json_number_value(json_object_get(nth(&fx, "X", "copy", NULL, 1), "ts")), 6000.0,
	                   1e-9);
	cr_expect_eq(count(&fx, "i", "complete", NULL), 2);
	done(&fx);
}

Test(export_perfetto, strings_are_escaped_even_when_not_utf8)
{
	struct fixture fx = { 0 };
	add_trace(
	        &fx,
	        "metashim-trace 1\n"
	        "header fmt=1 pid=5 rank=-1 world=-1 exe=/bin/a%22b mode=trace\n"
	        "layer id=1 name=we%22ird\\%01%FFname\n"
	        "tensor id=1 layer=1 name=t dtype=U8 esize=1 shape=4 stride=1 elems=4 skip=0\n"
	        "copy seq=1 t=10 dur=1 tid=5 api=cudaMemcpy dir=H2D dst=0x1 src=0x2 bytes=4 stream=0x0 rc=0 "
	        "stack=0\n"
	        "attr seq=1 tensor=1 off=0 elems=4 copied=4\n"
	        "mark t=20 tid=5 name=%3Cb%3E%0A\n"
	        "footer t=30 events=1 dropped=0\n");
	export(&fx); /* jansson refuses invalid UTF-8 and raw control characters */
	json_t *l = nth(&fx, "X", "layer", NULL, 0);
	cr_expect_str_eq(sget(l, "name"), "we\"ird\\\x01\xef\xbf\xbdname");
	cr_expect_eq(count(&fx, "i", "mark", "<b>\n"), 1);
	cr_expect_str_eq(arg_s(nth(&fx, "M", NULL, "process_name", 0), "name"), "a\"b (pid 5)");
	done(&fx);
}

Test(export_perfetto, output_is_deterministic)
{
	struct fixture a = { 0 }, b = { 0 };
	add_trace(&a, RICH);
	add_trace(&b, RICH);
	export(&a);
	export(&b);
	/* The trace paths differ; nothing else may. */
	cr_assert_eq(a.len, b.len);
	cr_expect_eq(memcmp(a.out, b.out, a.len), 0);
	done(&a);
	done(&b);
}

Test(export_perfetto, overlapping_layer_loads_go_to_separate_lanes)
{
	struct fixture fx = { 0 };
	add_trace(&fx, "metashim-trace 1\n"
	               "header fmt=1 pid=5 rank=-1 world=-1 exe=/bin/a mode=trace\n"
	               "layer id=1 name=A\nlayer id=2 name=B\nlayer id=3 name=C\n"
	               "tensor id=1 layer=1 name=A.w dtype=U8 esize=1 shape=8 stride=1 elems=8 skip=0\n"
	               "tensor id=2 layer=2 name=B.w dtype=U8 esize=1 shape=8 stride=1 elems=8 skip=0\n"
	               "tensor id=3 layer=3 name=C.w dtype=U8 esize=1 shape=8 stride=1 elems=8 skip=0\n"
	               "copy seq=1 t=100 dur=10 tid=5 api=cudaMemcpy dir=H2D dst=0x1 src=0x2 bytes=4 "
	               "stream=0x0 rc=0 stack=0\n"
	               "attr seq=1 tensor=1 off=0 elems=4 copied=4\n"
	               "copy seq=2 t=150 dur=10 tid=6 api=cudaMemcpy dir=H2D dst=0x1 src=0x2 bytes=8 "
	               "stream=0x0 rc=0 stack=0\n"
	               "attr seq=2 tensor=2 off=0 elems=8 copied=8\n"
	               "copy seq=3 t=300 dur=10 tid=5 api=cudaMemcpy dir=H2D dst=0x1 src=0x2 bytes=4 "
	               "stream=0x0 rc=0 stack=0\n"
	               "attr seq=3 tensor=1 off=4 elems=4 copied=8\n"
	               "copy seq=4 t=400 dur=10 tid=5 api=cudaMemcpy dir=H2D dst=0x1 src=0x2 bytes=8 "
	               "stream=0x0 rc=0 stack=0\n"
	               "attr seq=4 tensor=3 off=0 elems=8 copied=8\n"
	               "footer t=500 events=4 dropped=0\n");
	export(&fx);
	json_int_t ta = json_integer_value(json_object_get(nth(&fx, "X", "layer", "A", 0), "tid"));
	json_int_t tb = json_integer_value(json_object_get(nth(&fx, "X", "layer", "B", 0), "tid"));
	json_int_t tc = json_integer_value(json_object_get(nth(&fx, "X", "layer", "C", 0), "tid"));
	cr_expect_neq(ta, tb); /* A spans 100..310, B 150..160 */
	cr_expect_eq(ta, tc);  /* C starts after both ended: back to the first lane */
	done(&fx);
}

Test(export_perfetto, a_trace_without_events_is_still_a_valid_document)
{
	struct fixture fx = { 0 };
	add_trace(&fx, "metashim-trace 1\nheader fmt=1 pid=5 rank=-1 world=-1 mode=trace\n");
	export(&fx);
	cr_expect_eq(count(&fx, "M", NULL, "process_name"), 1);
	cr_expect_eq(count(&fx, "X", NULL, NULL), 0);
	done(&fx);
}
