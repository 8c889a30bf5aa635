/* test_analysis_model.c — the model built from hand-written traces: traffic counts,
 * live-memory peaks, counts recomputed from attr records, problems and their call
 * sites, the checkpoint view across ranks, and the small containers under it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "u64map.h"

static const struct ms_model_opts quiet = { .quiet = true };

static void load(struct ms_run *run, const char *text)
{
	char path[] = "/tmp/ms-model-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	cr_assert_eq(ms_run_load(run, path, &quiet), 0);
	unlink(path);
}

#define HEAD "metashim-trace 1\nheader fmt=1 pid=9 rank=-1 world=-1 mode=trace\n"
#define DESC                                                                                \
	"module id=1 base=0x400000 end=0x500000 path=/bin/app buildid=-\n"                  \
	"stack id=1 parent=0 pc=0x401000\n"                                                 \
	"stack id=2 parent=0 pc=0x402000\n"                                                 \
	"layer id=1 name=L0\n"                                                              \
	"layer id=2 name=L1\n"                                                              \
	"tensor id=1 layer=1 name=L0.a dtype=BF16 esize=2 shape=8 stride=1 elems=8 skip=0 " \
	"file=/c.st foff=0 flen=16\n"                                                       \
	"tensor id=2 layer=1 name=L0.b dtype=F32 esize=4 shape=4 stride=1 elems=4 skip=0 "  \
	"file=/c.st foff=16 flen=16\n"                                                      \
	"tensor id=3 layer=2 name=L1.a dtype=F32 esize=4 shape=4 stride=1 elems=4 skip=0 "  \
	"file=/c.st foff=32 flen=16\n"                                                      \
	"tensor id=4 layer=2 name=L1.expert_map dtype=I32 esize=4 shape=2 stride=1 elems=2 skip=1\n"
#define COPY(seq, t, bytes, stack)                                                                     \
	"copy seq=" #seq " t=" #t " dur=10 tid=1 api=cudaMemcpy dir=H2D dst=0x1 src=0x2 bytes=" #bytes \
	" stream=0x0 rc=0 stack=" #stack "\n"

Test(analysis_model, traffic_is_counted_per_api_and_direction)
{
	struct ms_run r;
	/* Trace text rows stay one record a line; clang-format would run them together. */
	/* clang-format off */
	load(&r, HEAD COPY(1, 100, 64, 1) COPY(2, 200, 32, 1)
		 "copy seq=3 t=300 dur=5 tid=1 api=cudaMemcpyAsync dir=D2H dst=0x1 src=0x2 bytes=8 stream=0x0 rc=0 stack=0\n"
		 "copy seq=4 t=400 dur=5 tid=1 api=cudaMemcpy dir=H2D dst=0x1 src=0x2 bytes=999 stream=0x0 rc=1 stack=0\n"
		 "footer t=500 events=4 dropped=0\n");
	/* clang-format on */
	cr_expect_eq(r.copies, 3);
	cr_expect_eq(r.copy_bytes, 104);
	cr_expect_eq(r.dirs[MS_DIR_H2D].calls, 2);
	cr_expect_eq(r.dirs[MS_DIR_H2D].bytes, 96);
	cr_expect_eq(r.dirs[MS_DIR_D2H].bytes, 8);
	cr_expect_eq(r.errors, 1);
	cr_assert_eq(r.napis, 2);
	cr_expect_str_eq(r.apis[0].name, "cudaMemcpy");
	cr_expect_eq(r.apis[0].calls, 3);
	cr_expect_eq(r.apis[0].errors, 1);
	cr_expect_eq(r.end_t, 500);
	cr_expect(r.has_footer);
	ms_run_free(&r);
}

Test(analysis_model, live_bytes_follow_alloc_and_free_matched_by_pointer)
{
	struct ms_run r;
	/* clang-format off */
	load(&r, HEAD
		 "alloc seq=1 t=10 dur=1 tid=1 api=cudaMalloc ptr=0x1000 bytes=100 stream=0x0 rc=0 stack=0\n"
		 "alloc seq=2 t=20 dur=1 tid=1 api=cudaMalloc ptr=0x2000 bytes=50 stream=0x0 rc=0 stack=0\n"
		 "free seq=3 t=30 dur=1 tid=1 api=cudaFree ptr=0x1000 bytes=0 stream=0x0 rc=0 stack=0\n"
		 "alloc seq=4 t=40 dur=1 tid=1 api=cudaMalloc ptr=0x3000 bytes=70 stream=0x0 rc=0 stack=0\n"
		 "free seq=5 t=50 dur=1 tid=1 api=cudaFree ptr=0x9999 bytes=0 stream=0x0 rc=0 stack=0\n"
		 "alloc seq=6 t=60 dur=1 tid=1 api=cudaMalloc ptr=0x4000 bytes=1 stream=0x0 rc=2 stack=0\n");
	/* clang-format on */
	cr_expect_eq(r.live_peak, 150);
	cr_expect_eq(r.live_peak_t, 21);
	cr_expect_eq(r.live_bytes, 120);
	cr_expect_eq(r.allocs, 3);
	cr_expect_eq(r.frees, 2);
	cr_expect_eq(r.unmatched_frees, 1);
	cr_expect_not(r.has_footer);
	ms_run_free(&r);
}

Test(analysis_model, materialization_peaks_come_from_mem_records)
{
	struct ms_run r;
	/* clang-format off */
	load(&r, HEAD "mem t=1 reserved=1000 materialized=10 staged=0 scratch=2\n"
		      "mem t=2 reserved=1000 materialized=400 staged=30 scratch=2\n"
		      "mem t=3 reserved=900 materialized=100 staged=0 scratch=2\n");
	/* clang-format on */
	cr_expect(r.has_mem);
	cr_expect_eq(r.reserved_peak, 1000);
	cr_expect_eq(r.materialized_peak, 400);
	cr_expect_eq(r.materialized_peak_t, 2);
	cr_expect_eq(r.staged_peak, 30);
	ms_run_free(&r);
}

Test(analysis_model, attr_records_give_copied_and_covered_per_tensor)
{
	struct ms_run r;
	/* [0,3) and [5,8) count 6 covered; then the same 2 elements again. */
	/* clang-format off */
	load(&r, HEAD DESC COPY(1, 100, 6, 1) "attr seq=1 tensor=1 off=0 elems=3 copied=3\n"
		 COPY(2, 200, 6, 1) "attr seq=2 tensor=1 off=5 elems=3 copied=6\n"
		 COPY(3, 300, 4, 2) "attr seq=3 tensor=1 off=0 elems=2 copied=8\n");
	/* clang-format on */
	struct ms_tensor *t = &r.tensors[0];
	cr_expect_eq(t->covered, 6);
	cr_expect_eq(t->copied, 8);
	cr_expect_eq(t->first_t, 100);
	cr_expect_eq(t->last_t, 310);
	cr_expect_eq(ms_tensor_status(t), MS_ST_PARTIAL);
	cr_expect_eq(r.layers[0].status, MS_ST_PARTIAL,
	             "L0.b never arrived but L0.a did: the layer is partial, not never loaded");
	ms_run_free(&r);
}

Test(analysis_model, problems_name_never_partial_twice_and_their_call_sites)
{
	struct ms_run r;
	/* clang-format off */
	load(&r, HEAD DESC COPY(1, 100, 16, 1) "attr seq=1 tensor=1 off=0 elems=8 copied=8\n"
		 COPY(2, 200, 16, 2) "attr seq=2 tensor=1 off=0 elems=8 copied=16\n"
		 COPY(3, 300, 8, 1) "attr seq=3 tensor=2 off=0 elems=2 copied=2\n"
		 "footer t=400 events=3 dropped=0\n");
	/* clang-format on */
	cr_expect_eq(r.problem_kinds[MS_PB_LOADED_TWICE], 1);
	cr_expect_eq(r.problem_kinds[MS_PB_PARTIAL], 1);
	cr_expect_eq(r.problem_kinds[MS_PB_NEVER_LOADED], 1);
	cr_expect_eq(ms_run_problem_total(&r), 3, "skip-listed L1.expert_map is no problem");
	cr_assert_eq(r.nproblems, 3);
	/* Sorted by kind: never (L1.a), partial (L0.b), twice (L0.a). */
	cr_expect_str_eq(r.tensors[r.problems[0].tensor].name, "L1.a");
	cr_expect_str_eq(r.tensors[r.problems[1].tensor].name, "L0.b");
	const struct ms_problem *twice = &r.problems[2];
	cr_expect_eq(twice->kind, MS_PB_LOADED_TWICE);
	cr_expect_eq(twice->amount, 8);
	cr_expect_eq(twice->sites[0].count, 1);
	cr_expect_eq(twice->sites[1].count, 1);
	cr_expect(twice->sites[0].stack == 1 || twice->sites[0].stack == 2);
	cr_expect_neq(twice->sites[0].stack, twice->sites[1].stack);
	cr_expect_eq(r.layers_counted, 2);
	cr_expect_eq(r.layers_complete, 0);
	ms_run_free(&r);
}

Test(analysis_model, unattributed_misaligned_and_straddle_are_problems_with_sites)
{
	struct ms_run r;
	/* clang-format off */
	load(&r, HEAD DESC COPY(1, 100, 300, 2) "unattr seq=1 bytes=300\n"
		 /* the attr/problem arriving before its copy still finds its call site */
		 "problem seq=2 kind=misaligned tensor=3 detail=x\n" COPY(2, 200, 3, 1)
		 COPY(3, 300, 20, 1) "problem seq=3 kind=straddle tensor=3 detail=y\n"
		 "problem seq=3 kind=somethingnew tensor=3\n");
	/* clang-format on */
	cr_expect_eq(r.unattr_bytes, 300);
	cr_expect_eq(r.problem_kinds[MS_PB_UNATTRIBUTED], 1);
	cr_expect_eq(r.problem_kinds[MS_PB_MISALIGNED], 1);
	cr_expect_eq(r.problem_kinds[MS_PB_STRADDLE], 1);
	for (size_t i = 0; i < r.nproblems; i++) {
		const struct ms_problem *p = &r.problems[i];
		if (p->kind == MS_PB_UNATTRIBUTED) {
			cr_expect_eq(p->amount, 300);
			cr_expect_eq(p->sites[0].stack, 2);
		}
		if (p->kind == MS_PB_MISALIGNED)
			cr_expect_eq(p->sites[0].stack, 1);
	}
	ms_run_free(&r);
}

Test(analysis_model, completes_and_final_records_are_cross_checked)
{
	struct ms_run r;
	/* clang-format off */
	load(&r, HEAD DESC COPY(1, 100, 16, 1) "attr seq=1 tensor=1 off=0 elems=8 copied=8\n"
		 COPY(2, 200, 16, 1) "attr seq=2 tensor=2 off=0 elems=4 copied=4\n"
		 "complete t=210 seq=2 layer=1 loads=1\n"
		 COPY(3, 300, 16, 1) "attr seq=3 tensor=3 off=0 elems=4 copied=4\n"
		 "complete t=310 seq=3 layer=2 loads=1\n"
		 "final tensor=1 copied=8 covered=8\nfinal tensor=2 copied=4 covered=4\n"
		 "final tensor=3 copied=5 covered=4\nfooter t=400 events=3 dropped=0\n");
	/* clang-format on */
	cr_expect_eq(r.layers[0].complete_t, 210);
	cr_expect_eq(r.layers[0].loads, 1);
	cr_expect_eq(r.layers[0].status, MS_ST_COMPLETE);
	cr_expect_eq(r.layers_complete, 2);
	cr_expect_eq(r.problem_kinds[MS_PB_FINAL_MISMATCH], 1, "tensor 3: shim says 5 copied");
	cr_expect_eq(r.ncompletions, 2);
	ms_run_free(&r);
}

Test(analysis_model, release_puts_a_layer_back_so_a_reload_is_not_a_double_load)
{
	struct ms_run r;
	/* clang-format off */
	load(&r, HEAD DESC COPY(1, 100, 16, 1) "attr seq=1 tensor=3 off=0 elems=4 copied=4\n"
		 "complete t=110 seq=1 layer=2 loads=1\nrelease t=150 layer=2 bytes=16 backup=0\n"
		 COPY(2, 200, 16, 1) "attr seq=2 tensor=3 off=0 elems=4 copied=4\n"
		 "complete t=210 seq=2 layer=2 loads=2\n");
	/* clang-format on */
	cr_expect_eq(r.tensors[2].copied, 4);
	cr_expect_eq(r.layers[1].status, MS_ST_COMPLETE);
	cr_expect_eq(r.layers[1].loads, 2);
	cr_expect_eq(r.layers[1].releases, 1);
	ms_run_free(&r);
}

Test(analysis_model, call_sites_walk_the_stack_trie_innermost_first)
{
	struct ms_run r;
	/* clang-format off */
	load(&r, HEAD "module id=1 base=0x400000 end=0x500000 path=/bin/app buildid=-\n"
		      "stack id=1 parent=0 pc=0x401000\nstack id=2 parent=1 pc=0x402000\n" COPY(1, 1, 10, 2)
			      COPY(2, 2, 30, 1));
	/* clang-format on */
	uint64_t pcs[4];
	cr_assert_eq(ms_run_stack_frames(&r, 2, pcs, 4), 2);
	cr_expect_eq(pcs[0], 0x402000);
	cr_expect_eq(pcs[1], 0x401000);
	cr_assert_eq(r.nsites, 2);
	cr_expect_eq(r.sites[0].stack, 1, "sorted by bytes");
	char name[128];
	ms_callsite_name(&r, 2, false, name, sizeof(name));
	cr_expect_str_eq(name, "0x402000 [app+0x2000]");
	ms_callsite_name(&r, 0, false, name, sizeof(name));
	cr_expect_str_eq(name, "(no backtrace)");
	ms_run_free(&r);
}

#define RANK(rank, body)                                                                    \
	"metashim-trace 1\nheader fmt=1 pid=1" #rank " rank=" #rank " world=2 mode=trace\n" \
	"layer id=1 name=L\n"                                                               \
	"tensor id=1 layer=1 name=L.w dtype=BF16 esize=2 shape=8 stride=1 elems=8 skip=0 "  \
	"file=/c.st foff=0 flen=16\n"                                                       \
	"tensor id=2 layer=1 name=L.v dtype=BF16 esize=2 shape=8 stride=1 elems=8 skip=0 "  \
	"file=/c.st foff=16 flen=16\n" body

static void ckpt(const char *a, const char *b, struct ms_model *m, struct ms_ckpt_view *v)
{
	m->runs = calloc(2, sizeof(*m->runs));
	m->nruns = 2;
	load(&m->runs[0], a);
	load(&m->runs[1], b);
	cr_assert_eq(ms_ckpt_view_build(m, v), 0);
	cr_assert_eq(v->n, 2);
}

Test(analysis_merge, two_ranks_each_loading_half_consume_every_byte_exactly_once)
{
	struct ms_model m;
	struct ms_ckpt_view v;
	/* clang-format off */
	ckpt(RANK(0, COPY(1, 1, 8, 0) "attr seq=1 tensor=1 off=0 elems=4 copied=4\n"
		     COPY(2, 2, 8, 0) "attr seq=2 tensor=2 off=0 elems=4 copied=4\n"),
	     RANK(1, COPY(1, 1, 8, 0) "attr seq=1 tensor=1 off=4 elems=4 copied=4\n"
		     COPY(2, 2, 8, 0) "attr seq=2 tensor=2 off=4 elems=4 copied=4\n"),
	     &m, &v);
	/* clang-format on */
	cr_expect_eq(v.once, 32);
	cr_expect_eq(v.multi, 0);
	cr_expect_eq(v.never, 0);
	cr_expect_eq(v.status[MS_ST_COMPLETE], 2);
	cr_expect_eq(v.v[0].nranks, 2);
	cr_expect_eq(v.v[0].rank_mask, 3);
	ms_ckpt_view_free(&v);
	ms_model_free(&m);
}

Test(analysis_merge, two_ranks_loading_the_same_half_consume_it_twice)
{
	struct ms_model m;
	struct ms_ckpt_view v;
	/* clang-format off */
	ckpt(RANK(0, COPY(1, 1, 8, 0) "attr seq=1 tensor=1 off=0 elems=4 copied=4\n"),
	     RANK(1, COPY(1, 1, 8, 0) "attr seq=1 tensor=1 off=0 elems=4 copied=4\n"), &m, &v);
	/* clang-format on */
	const struct ms_ckpt_tensor *w = &v.v[0];
	cr_assert_str_eq(w->name, "L.w");
	cr_expect_eq(w->multi, 8, "4 BF16 elements read by both ranks");
	cr_expect_eq(w->never, 8, "the other half by none");
	cr_expect_eq(w->once, 0);
	ms_ckpt_view_free(&v);
	ms_model_free(&m);
}

Test(analysis_merge, a_tensor_no_rank_loads_is_never_consumed)
{
	struct ms_model m;
	struct ms_ckpt_view v;
	ckpt(RANK(0, COPY(1, 1, 16, 0) "attr seq=1 tensor=1 off=0 elems=8 copied=8\n"), RANK(1, ""), &m, &v);
	cr_expect_eq(v.v[0].status, MS_ST_COMPLETE);
	cr_expect_eq(v.v[1].status, MS_ST_NEVER);
	cr_expect_eq(v.v[1].never, 16);
	cr_expect_eq(v.v[1].nranks, 0);
	cr_expect_eq(v.status[MS_ST_NEVER], 1);
	ms_ckpt_view_free(&v);
	ms_model_free(&m);
}

Test(analysis_containers, rangeset_merges_overlapping_and_adjacent_ranges)
{
	struct ms_rangeset s = { 0 };
	ms_rangeset_add(&s, 10, 20);
	ms_rangeset_add(&s, 0, 3);
	ms_rangeset_add(&s, 30, 40);
	cr_expect_eq(s.n, 3);
	ms_rangeset_add(&s, 3, 10); /* bridges [0,3) and [10,20) */
	cr_expect_eq(s.n, 2);
	ms_rangeset_add(&s, 15, 35);
	cr_expect_eq(s.n, 1);
	cr_expect_eq(ms_rangeset_total(&s), 40);
	ms_rangeset_add(&s, 5, 5);
	cr_expect_eq(ms_rangeset_total(&s), 40);
	ms_rangeset_free(&s);
}

Test(analysis_containers, u64map_survives_deletes_among_collisions)
{
	struct ms_u64map m = { 0 };
	for (uint64_t k = 0; k < 5000; k++)
		cr_assert_eq(ms_u64map_put(&m, k * 4096, k), 0);
	for (uint64_t k = 0; k < 5000; k += 2)
		cr_assert(ms_u64map_del(&m, k * 4096));
	uint64_t v;
	for (uint64_t k = 0; k < 5000; k++) {
		bool found = ms_u64map_get(&m, k * 4096, &v);
		cr_assert_eq(found, k % 2 == 1, "key %lu", (unsigned long)k);
		if (found)
			cr_assert_eq(v, k);
	}
	cr_expect_eq(m.n, 2500);
	ms_u64map_free(&m);
}

Test(analysis_containers, series_stay_bounded_and_keep_their_peak)
{
	struct ms_series s = { 0 };
	for (uint64_t i = 0; i < 100000; i++)
		ms_series_push(&s, i * 10, i == 54321 ? 1000000 : i % 100);
	cr_expect_leq(s.n, MS_SERIES_MAX);
	uint64_t max = 0;
	for (size_t i = 0; i < s.n; i++)
		max = s.v[i] > max ? s.v[i] : max;
	cr_expect_eq(max, 1000000);
	ms_series_free(&s);
}
