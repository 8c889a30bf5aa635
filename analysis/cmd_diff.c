/* cmd_diff.c — `metashim diff A B`: two runs of the same model side by side.
 * Lists layers whose completeness, bytes or timing changed and problems that
 * appeared or vanished; timing changes count only above 20% and 1 ms, so noise
 * between runs does not drown what changed. */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "model.h"

#define TIME_REL    0.20
#define TIME_ABS_NS 1000000ull

static void diff_usage(FILE *f)
{
	fprintf(f, "usage: metashim diff [options] A.trace B.trace\n\n"
	           "Compares two runs of the same model: layers whose completeness (status,\n"
	           "covered, copied), bytes or load time differ (time: more than 20%% and 1 ms),\n"
	           "and problems that appeared in B or vanished from A.\n\n"
	           "  --no-fail     exit 0 even when they differ\n"
	           "  -h, --help    this text\n\n"
	           "Exit status 1 when completeness or problems differ, 0 when only timing or\n"
	           "nothing differs, 2 on usage or read errors.\n");
}

static const struct ms_layer *find_layer(const struct ms_run *r, const char *name)
{
	for (size_t i = 0; i < r->nlayers; i++)
		if (strcmp(r->layers[i].name, name) == 0)
			return &r->layers[i];
	return NULL;
}

static uint64_t load_ns(const struct ms_layer *l)
{
	if (l->first_t == MS_NO_TIME || l->last_t == MS_NO_TIME)
		return MS_NO_TIME;
	uint64_t end = l->complete_t != MS_NO_TIME && l->complete_t >= l->first_t ? l->complete_t : l->last_t;
	return end - l->first_t;
}

static bool time_differs(uint64_t a, uint64_t b)
{
	if (a == MS_NO_TIME || b == MS_NO_TIME)
		return false;
	uint64_t d = a > b ? a - b : b - a;
	uint64_t base = a > b ? a : b;
	return d > TIME_ABS_NS && (double)d > TIME_REL * (double)base;
}

/* Compares one layer present in both; returns true when completeness differs. */
static bool diff_layer(const struct ms_layer *a, const struct ms_layer *b, size_t *timing)
{
	char x[32], y[32];
	bool comp = false;
	if (a->status != b->status) {
		printf("  %-40s status   %s -> %s\n", a->name, ms_status_name(a->status),
		       ms_status_name(b->status));
		comp = true;
	}
	if (a->expected != b->expected) {
		printf("  %-40s expected %" PRIu64 " -> %" PRIu64 " elements\n", a->name, a->expected,
		       b->expected);
		comp = true;
	}
	if (a->covered != b->covered) {
		printf("  %-40s covered  %" PRIu64 " -> %" PRIu64 " elements\n", a->name, a->covered,
		       b->covered);
		comp = true;
	}
	if (a->copied != b->copied) {
		printf("  %-40s copied   %" PRIu64 " -> %" PRIu64 " elements (%s -> %s)\n", a->name,
		       a->copied, b->copied, ms_fmt_bytes(a->copied_bytes, x, sizeof(x)),
		       ms_fmt_bytes(b->copied_bytes, y, sizeof(y)));
		comp = true;
	}
	uint64_t ta = load_ns(a), tb = load_ns(b);
	if (time_differs(ta, tb)) {
		printf("  %-40s time     %s -> ", a->name, ms_fmt_ns(ta, x, sizeof(x)));
		printf("%s (%+.0f%%)\n", ms_fmt_ns(tb, y, sizeof(y)),
		       100.0 * ((double)tb - (double)ta) / (double)ta);
		(*timing)++;
	}
	return comp;
}

static const char *subject(const struct ms_run *r, const struct ms_problem *p)
{
	return p->tensor != SIZE_MAX  ? r->tensors[p->tensor].name
	       : p->layer != SIZE_MAX ? r->layers[p->layer].name
	                              : "(whole run)";
}

static bool has_problem(const struct ms_run *r, const struct ms_problem *p, const struct ms_run *pr)
{
	const char *s = subject(pr, p);
	for (size_t i = 0; i < r->nproblems; i++)
		if (r->problems[i].kind == p->kind && strcmp(subject(r, &r->problems[i]), s) == 0)
			return true;
	return false;
}

/* Problems of x missing from y, marked with sign; returns how many. */
static size_t problem_delta(const struct ms_run *x, const struct ms_run *y, const char *title, char sign)
{
	size_t n = 0;
	for (size_t i = 0; i < x->nproblems; i++)
		n += !has_problem(y, &x->problems[i], x);
	if (!n)
		return 0;
	printf("\nproblems %s (%zu)\n", title, n);
	for (size_t i = 0; i < x->nproblems; i++) {
		const struct ms_problem *p = &x->problems[i];
		if (has_problem(y, p, x))
			continue;
		printf("  %c %-14s %s: %s\n", sign, ms_problem_name(p->kind), subject(x, p), p->detail);
	}
	return n;
}

static void summary_line(const char *what, uint64_t a, uint64_t b, bool bytes)
{
	char x[32], y[32];
	if (bytes)
		printf("  %-18s %12s -> %s", what, ms_fmt_bytes(a, x, sizeof(x)),
		       ms_fmt_bytes(b, y, sizeof(y)));
	else
		printf("  %-18s %12s -> %s", what, ms_fmt_ns(a, x, sizeof(x)), ms_fmt_ns(b, y, sizeof(y)));
	if (a && a != b)
		printf("  (%+.0f%%)", 100.0 * ((double)b - (double)a) / (double)a);
	printf("\n");
}

int ms_cmd_diff(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "no-fail", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool no_fail = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'n': no_fail = true; break;
		case 'h': diff_usage(stdout); return MS_EXIT_OK;
		default: diff_usage(stderr); return MS_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "metashim diff: expected two traces\n\n");
		diff_usage(stderr);
		return MS_EXIT_USAGE;
	}
	struct ms_model m;
	if (ms_model_load(&m, argv + optind, 2, NULL) < 0)
		return MS_EXIT_USAGE;
	const struct ms_run *a = &m.runs[0], *b = &m.runs[1];
	printf("== metashim diff: %s -> %s\n", a->path, b->path);
	summary_line("duration", a->end_t, b->end_t, false);
	summary_line("H2D bytes", a->dirs[MS_DIR_H2D].bytes, b->dirs[MS_DIR_H2D].bytes, true);
	summary_line("allocation peak", a->live_peak, b->live_peak, true);
	if (a->has_mem || b->has_mem)
		summary_line("materialized peak", a->materialized_peak, b->materialized_peak, true);
	printf("  %-18s %12zu -> %zu\n", "layers complete", a->layers_complete, b->layers_complete);
	printf("  %-18s %12zu -> %zu\n", "problems", ms_run_problem_total(a), ms_run_problem_total(b));

	size_t comp = 0, timing = 0;
	printf("\nlayers that differ\n");
	for (size_t i = 0; i < a->nlayers; i++) {
		const struct ms_layer *la = &a->layers[i], *lb = find_layer(b, la->name);
		if (!lb) {
			printf("  %-40s only in A (%s)\n", la->name, ms_status_name(la->status));
			comp++;
		} else {
			comp += diff_layer(la, lb, &timing);
		}
	}
	for (size_t i = 0; i < b->nlayers; i++)
		if (!find_layer(a, b->layers[i].name)) {
			printf("  %-40s only in B (%s)\n", b->layers[i].name,
			       ms_status_name(b->layers[i].status));
			comp++;
		}
	if (!comp && !timing)
		printf("  (none)\n");
	size_t appeared = problem_delta(b, a, "appeared in B", '+');
	size_t vanished = problem_delta(a, b, "vanished from A", '-');
	bool differs = comp || appeared || vanished;
	printf("\nverdict    ");
	if (differs)
		printf("runs differ: %zu layer%s in completeness, %zu problem%s appeared, %zu vanished", comp,
		       comp == 1 ? "" : "s", appeared, appeared == 1 ? "" : "s", vanished);
	else
		printf("same completeness and problems");
	if (timing)
		printf("; load time changed in %zu layer%s", timing, timing == 1 ? "" : "s");
	printf("\n");
	ms_model_free(&m);
	fflush(stdout);
	return differs && !no_fail ? MS_EXIT_PROBLEMS : MS_EXIT_OK;
}
