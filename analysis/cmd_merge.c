/* cmd_merge.c — `metashim merge TRACE...`: the traces of all ranks of one job
 * together. The checkpoint view asks whether every checkpoint byte was consumed
 * exactly once across ranks; the device view is each rank's own report in one line;
 * a combined summary adds their traffic up. */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "model.h"

static void merge_usage(FILE *f)
{
	fprintf(f, "usage: metashim merge [options] TRACE...\n\n"
	           "Checks the traces of several ranks (tensor or pipeline parallel) together:\n"
	           "  checkpoint view  every checkpoint tensor's bytes: consumed exactly once across\n"
	           "                   ranks, more than once, partly or never (matched by file and\n"
	           "                   offset; shards that read row slices cover parts of the range)\n"
	           "  device view      per rank: layers complete, problems\n"
	           "  combined         traffic, throughput and peaks of all ranks\n\n"
	           "  --top N          tensors listed per kind of checkpoint problem (default 10)\n"
	           "  --no-fail        exit 0 even when problems were found\n"
	           "  -h, --help       this text\n\n"
	           "Exit status 1 when a checkpoint byte was consumed never or more than once, or a\n"
	           "rank has problems other than never loaded/partial (shards are partial by design);\n"
	           "2 on usage or read errors.\n");
}

static void ranks_of(const struct ms_ckpt_tensor *t, char *buf, size_t cap, const struct ms_model *m)
{
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < m->nruns && i < 64; i++) {
		if (!(t->rank_mask & 1ull << i))
			continue;
		char lab[32];
		ms_run_label(&m->runs[i], lab, sizeof(lab));
		int n = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", lab);
		if (n < 0 || (size_t)n >= cap - len)
			break;
		len += (size_t)n;
	}
	if (!len)
		snprintf(buf, cap, "no rank");
}

static size_t device_view(const struct ms_model *m)
{
	char lab[32];
	size_t hard = 0;
	printf("\ndevice view (each rank's own descriptors)\n");
	for (size_t i = 0; i < m->nruns; i++) {
		const struct ms_run *r = &m->runs[i];
		ms_run_label(r, lab, sizeof(lab));
		size_t total = ms_run_problem_total(r);
		size_t soft = r->problem_kinds[MS_PB_NEVER_LOADED] + r->problem_kinds[MS_PB_PARTIAL];
		hard += total - soft;
		printf("  %-9s %-30s %zu of %zu layers complete, %zu problem%s", lab, r->path,
		       r->layers_complete, r->layers_counted, total, total == 1 ? "" : "s");
		const char *sep = " (";
		for (int k = 0; k < MS_PB_COUNT; k++) {
			if (!r->problem_kinds[k])
				continue;
			printf("%s%zu %s", sep, r->problem_kinds[k],
			       ms_problem_name((enum ms_problem_kind)k));
			sep = ", ";
		}
		printf("%s%s\n", *sep == ',' ? ")" : "", r->has_footer ? "" : " [cut short]");
	}
	return hard;
}

static void ckpt_view(const struct ms_model *m, const struct ms_ckpt_view *v, size_t top)
{
	char a[32], ranks[256];
	size_t multi = 0, partly = 0;
	for (size_t i = 0; i < v->n; i++) {
		multi += v->v[i].multi > 0;
		partly += v->v[i].never > 0 && v->v[i].never < v->v[i].bytes;
	}
	printf("\ncheckpoint view: %zu tensors, %s\n", v->n, ms_fmt_bytes(v->bytes, a, sizeof(a)));
	printf("  consumed exactly once   %12s  %zu tensor%s wholly\n", ms_fmt_bytes(v->once, a, sizeof(a)),
	       v->status[MS_ST_COMPLETE], v->status[MS_ST_COMPLETE] == 1 ? "" : "s");
	printf("  more than once          %12s  in %zu tensor%s\n", ms_fmt_bytes(v->multi, a, sizeof(a)),
	       multi, multi == 1 ? "" : "s");
	printf("  never consumed          %12s  %zu tensor%s wholly, %zu partly\n",
	       ms_fmt_bytes(v->never, a, sizeof(a)), v->status[MS_ST_NEVER],
	       v->status[MS_ST_NEVER] == 1 ? "" : "s", partly);
	size_t shown = 0;
	for (size_t i = 0; i < v->n; i++) {
		const struct ms_ckpt_tensor *t = &v->v[i];
		if (t->status == MS_ST_COMPLETE)
			continue;
		if (shown++ >= top)
			continue;
		const char *what = t->status == MS_ST_NEVER ? "never loaded"
		                   : t->never               ? "partial"
		                                            : "loaded twice";
		ranks_of(t, ranks, sizeof(ranks), m);
		printf("  %-13s %s\n", what, t->name);
		printf("      ");
		if (t->file)
			printf("%s @%" PRIu64 "+%" PRIu64 ": ", t->file, t->foff, t->bytes);
		printf("%" PRIu64 " once, %" PRIu64 " more than once, %" PRIu64 " never of %" PRIu64
		       " bytes (%s)\n",
		       t->once, t->multi, t->never, t->bytes, ranks);
	}
	if (shown > top)
		printf("  ... and %zu more tensors not consumed exactly once\n", shown - top);
}

static void combined(const struct ms_model *m)
{
	uint64_t bytes = 0, busy = 0, dur = 0, peak = 0, mpeak = 0, h2d = 0, unattr = 0, copies = 0;
	uint64_t t0 = MS_NO_TIME, t1 = 0;
	for (size_t i = 0; i < m->nruns; i++) {
		const struct ms_run *r = &m->runs[i];
		copies += r->copies;
		bytes += r->copy_bytes;
		busy += r->copy_dur_ns;
		h2d += r->dirs[MS_DIR_H2D].bytes;
		unattr += r->unattr_bytes;
		peak += r->live_peak;
		mpeak += r->materialized_peak;
		if (r->end_t > dur)
			dur = r->end_t;
		if (r->copy_first_t != MS_NO_TIME) {
			if (t0 == MS_NO_TIME || r->copy_first_t < t0)
				t0 = r->copy_first_t;
			if (r->copy_last_t > t1)
				t1 = r->copy_last_t;
		}
	}
	char a[32], b[32], c[32], d[32];
	printf("\ncombined: %zu ranks, longest %s\n", m->nruns, ms_fmt_ns(dur, a, sizeof(a)));
	printf("  copies %" PRIu64 ", %s (H2D %s, unattributed %s)\n", copies,
	       ms_fmt_bytes(bytes, a, sizeof(a)), ms_fmt_bytes(h2d, b, sizeof(b)),
	       ms_fmt_bytes(unattr, c, sizeof(c)));
	printf("  throughput %s per rank over copy time, %s all ranks over the copy span\n",
	       ms_fmt_rate(bytes, busy, a, sizeof(a)),
	       ms_fmt_rate(bytes, t0 == MS_NO_TIME ? 0 : t1 - t0, d, sizeof(d)));
	printf("  allocation peaks summed %s", ms_fmt_bytes(peak, a, sizeof(a)));
	if (mpeak)
		printf(", materialized peaks summed %s", ms_fmt_bytes(mpeak, b, sizeof(b)));
	printf("\n");
	(void)c;
}

int ms_cmd_merge(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "top", required_argument, NULL, 't' },
		{ "no-fail", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	size_t top = 10;
	bool no_fail = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 't': top = (size_t)strtoul(optarg, NULL, 10); break;
		case 'n': no_fail = true; break;
		case 'h': merge_usage(stdout); return MS_EXIT_OK;
		default: merge_usage(stderr); return MS_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "metashim merge: no trace given\n");
		return MS_EXIT_USAGE;
	}
	struct ms_model m;
	struct ms_ckpt_view v;
	if (ms_model_load(&m, argv + optind, (size_t)(argc - optind), NULL) < 0)
		return MS_EXIT_USAGE;
	if (ms_ckpt_view_build(&m, &v) < 0) {
		fprintf(stderr, "metashim merge: out of memory\n");
		ms_model_free(&m);
		return MS_EXIT_USAGE;
	}
	printf("== metashim merge: %zu trace%s\n", m.nruns, m.nruns == 1 ? "" : "s");
	size_t hard = device_view(&m);
	ckpt_view(&m, &v, top);
	combined(&m);
	size_t bad = v.status[MS_ST_NEVER] + v.status[MS_ST_PARTIAL] + v.status[MS_ST_TWICE];
	printf("\nverdict    ");
	if (!v.n)
		printf("no descriptors in any trace: nothing to check against the checkpoint");
	else if (!bad)
		printf("every checkpoint byte consumed exactly once across %zu rank%s", m.nruns,
		       m.nruns == 1 ? "" : "s");
	else
		printf("%zu checkpoint tensor%s not consumed exactly once (%zu never, %zu partly, %zu "
		       "more than once)",
		       bad, bad == 1 ? "" : "s", v.status[MS_ST_NEVER], v.status[MS_ST_PARTIAL],
		       v.status[MS_ST_TWICE]);
	if (hard)
		printf("; %zu rank problem%s (see metashim report)", hard, hard == 1 ? "" : "s");
	printf("\n");
	ms_ckpt_view_free(&v);
	ms_model_free(&m);
	fflush(stdout);
	return (bad || hard) && !no_fail ? MS_EXIT_PROBLEMS : MS_EXIT_OK;
}
