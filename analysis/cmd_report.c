/* cmd_report.c — `metashim report TRACE...`: what a person reads after a load.
 * Sections answer questions in order: what ran, what it moved, how fast, how much
 * memory, which layers loaded, what went wrong and from where, and one verdict.
 * Output depends only on the traces (no clock, no environment): golden-testable. */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callsite.h"
#include "commands.h"
#include "model.h"

#define AUTO_COLLAPSE_LAYERS 40 /* more layers than this: clean ones fold into one line */
/* The layer column fits the longest name up to NAME_W; longer ones keep their tail. */
#define NAME_W   48
#define NAME_MIN 5

enum layers_mode { LAYERS_AUTO, LAYERS_ALL, LAYERS_PROBLEMS };

struct report_opts {
	size_t top;              /* entries per problem kind and call sites listed */
	enum layers_mode layers; /* which layers get a row */
	bool symbolize;          /* symbolize call sites */
	size_t stack_depth;      /* callers printed under each top call site (0: none) */
};

static void report_usage(FILE *f)
{
	fprintf(f,
	        "usage: metashim report [options] TRACE...\n\n"
	        "Summary, per-layer table, problems with their call sites, top call sites and a\n"
	        "verdict for each trace (one per process/rank), then a combined line.\n\n"
	        "  --top N              problems per kind and call sites listed (default 10)\n"
	        "  --layers all|problems|auto  rows of the layer table: every layer, only layers\n"
	        "                       with problems (clean ones folded into one line), or auto\n"
	        "                       (default: all up to %d layers, problems beyond)\n"
	        "  --symbolize          name call sites from ELF symbols and DWARF lines (default)\n"
	        "  --no-symbolize       print raw addresses (module+offset)\n"
	        "  --stack-depth N      under each top call site, the frames inside it (runtime,\n"
	        "                       plumbing) and N frames of its callers\n"
	        "  --no-fail            exit 0 even when problems were found\n"
	        "  -h, --help           this text\n\n"
	        "Exit status: 0 clean, 1 problems found (never loaded, partial, loaded twice,\n"
	        "misaligned, straddle, unattributed, ...), 2 usage or read error.\n",
	        AUTO_COLLAPSE_LAYERS);
}

/* Long names keep their tail, where layer and tensor names differ. */
static const char *tail(const char *s, size_t w, char *buf, size_t cap)
{
	size_t n = strlen(s);
	if (n <= w)
		return s;
	snprintf(buf, cap, "..%s", s + n - (w - 2));
	return buf;
}

static void summary(FILE *f, const struct ms_run *r)
{
	char a[32], b[32], c[32], lab[32];
	char sc[32];
	fprintf(f, "== metashim report: %s\n", r->path);
	fprintf(f, "program    %s\n", r->argv && *r->argv ? r->argv : r->exe ? r->exe : "?");
	ms_run_label(r, lab, sizeof(lab));
	fprintf(f, "process    pid %" PRId64, r->pid);
	if (r->rank >= 0)
		fprintf(f, ", rank %" PRId64 " of %" PRId64, r->rank, r->world);
	if (r->host)
		fprintf(f, ", host %s", r->host);
	fprintf(f, ", mode %s, shim %s, format %u\n", r->mode ? r->mode : "?", r->shim ? r->shim : "?",
	        r->fmt);
	fprintf(f, "duration   %s", ms_fmt_ns(r->end_t, a, sizeof(a)));
	if (r->has_footer)
		fprintf(f, " (trace ended cleanly)\n");
	else
		fprintf(f, " (CUT SHORT: no footer; %" PRIu64 " whole lines read%s)\n", r->lines,
		        r->partial_line ? ", partial last line ignored" : "");
	if (r->dropped)
		fprintf(f,
		        "dropped    %" PRIu64 " events the shim could not record: counts are lower "
		        "bounds\n",
		        r->dropped);

	fprintf(f, "\ncalls and bytes per API\n");
	fprintf(f, "  %-7s %-32s %9s %12s %7s %11s\n", "kind", "api", "calls", "bytes", "errors", "time");
	for (size_t i = 0; i < r->napis; i++) {
		const struct ms_api_stat *s = &r->apis[i];
		fprintf(f, "  %-7s %-32s %9" PRIu64 " %12s %7" PRIu64 " %11s\n", s->kind, s->name, s->calls,
		        ms_fmt_bytes(s->bytes, a, sizeof(a)), s->errors, ms_fmt_ns(s->dur_ns, b, sizeof(b)));
	}
	if (!r->napis)
		fprintf(f, "  (no calls recorded)\n");

	if (r->copies) {
		fprintf(f, "\ncopies per direction\n");
		for (int d = 0; d < MS_DIR_COUNT; d++) {
			const struct ms_dir_stat *s = &r->dirs[d];
			if (!s->calls)
				continue;
			fprintf(f, "  %-4s %9" PRIu64 " cop%-3s %12s  %11s busy  %12s\n", ms_dir_names[d],
			        s->calls, s->calls == 1 ? "y" : "ies", ms_fmt_bytes(s->bytes, a, sizeof(a)),
			        ms_fmt_ns(s->dur_ns, b, sizeof(b)),
			        ms_fmt_rate(s->bytes, s->dur_ns, c, sizeof(c)));
		}
		uint64_t span = r->copy_last_t - r->copy_first_t;
		if (r->mode && strcmp(r->mode, "meta") == 0)
			fprintf(f, "(meta mode: copies into deferred memory were counted, not performed)\n");
		fprintf(f, "throughput %s over copy time",
		        ms_fmt_rate(r->copy_bytes, r->copy_dur_ns, a, sizeof(a)));
		fprintf(f, ", %s over the copy span %s-%s s\n",
		        ms_fmt_rate(r->copy_bytes, span, b, sizeof(b)),
		        ms_fmt_at(r->copy_first_t, c, sizeof(c)),
		        ms_fmt_at(r->copy_last_t, lab, sizeof(lab)));
	}

	fprintf(f, "\nmemory\n");
	fprintf(f, "  allocation peak    %s at %s s (%" PRIu64 " allocs, %" PRIu64 " frees, %s live at end",
	        ms_fmt_bytes(r->live_peak, a, sizeof(a)),
	        ms_fmt_at(r->live_peak ? r->live_peak_t : MS_NO_TIME, b, sizeof(b)), r->allocs, r->frees,
	        ms_fmt_bytes(r->live_bytes, c, sizeof(c)));
	if (r->unmatched_frees)
		fprintf(f, ", %" PRIu64 " frees of unknown pointers", r->unmatched_frees);
	fprintf(f, ")\n");
	if (r->deferred_allocs)
		fprintf(f, "  deferred allocs    %" PRIu64 "\n", r->deferred_allocs);
	if (r->has_mem) {
		fprintf(f, "  materialized peak  %s at %s s (reserved peak %s, staged peak %s, scratch %s)\n",
		        ms_fmt_bytes(r->materialized_peak, a, sizeof(a)),
		        ms_fmt_at(r->materialized_peak_t, b, sizeof(b)),
		        ms_fmt_bytes(r->reserved_peak, c, sizeof(c)),
		        ms_fmt_bytes(r->staged_peak, lab, sizeof(lab)),
		        ms_fmt_bytes(r->scratch, sc, sizeof(sc)));
	}
}

/* A time in the layer table: ms since the trace started ("-" when none). */
static const char *at_ms(uint64_t t, char *buf, size_t cap)
{
	if (t == MS_NO_TIME)
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.3f", (double)t / 1e6);
	return buf;
}

static int name_width(const struct ms_run *r)
{
	size_t w = NAME_MIN;
	for (size_t i = 0; i < r->nlayers; i++)
		if (strlen(r->layers[i].name) > w)
			w = strlen(r->layers[i].name);
	return (int)(w < NAME_W ? w : NAME_W);
}

static void layer_row(FILE *f, int w, const struct ms_layer *l)
{
	char nb[NAME_W + 1], t1[24], t2[24], t3[24], g[16], n[8];
	snprintf(n, sizeof(n), "%zu", l->ntensors);
	if (l->complete_t != MS_NO_TIME && l->first_t != MS_NO_TIME && l->complete_t >= l->first_t)
		snprintf(t3, sizeof(t3), "%.3f", (double)(l->complete_t - l->first_t) / 1e6);
	else
		snprintf(t3, sizeof(t3), "-");
	if (l->gbps > 0)
		snprintf(g, sizeof(g), "%.2f", l->gbps);
	else
		snprintf(g, sizeof(g), "-");
	fprintf(f, "%-*s %3s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %-8s %9s %9s %8s %6s\n", w,
	        tail(l->name, (size_t)w, nb, sizeof(nb)), n, l->expected, l->covered, l->copied,
	        ms_status_name(l->status), at_ms(l->first_t, t1, sizeof(t1)),
	        at_ms(l->last_t, t2, sizeof(t2)), t3, g);
}

/* Deferred modes: when each layer got real memory, how long that took (granules
 * created and mapped, recorded copies replayed), and its releases. */
static void materializations(FILE *f, const struct ms_run *r)
{
	char nb[NAME_W + 1], t1[24], b[32];
	size_t n = 0;
	int w = name_width(r);

	for (size_t i = 0; i < r->nlayers; i++)
		n += r->layers[i].materializations || r->layers[i].releases;
	if (!n)
		return;
	fprintf(f, "\nmaterialized %zu layer%s (deferred memory)\n", n, n == 1 ? "" : "s");
	fprintf(f, "%-*s %5s %6s %8s %10s %9s %9s %9s\n", w, "layer", "times", "failed", "released", "bytes",
	        "first ms", "took ms", "max ms");
	for (size_t i = 0; i < r->nlayers; i++) {
		const struct ms_layer *l = &r->layers[i];
		uint64_t ok = l->materializations - l->materialize_failed;

		if (!l->materializations && !l->releases)
			continue;
		fprintf(f, "%-*s %5" PRIu64 " %6" PRIu64 " %8" PRIu64 " %10s %9s %9.3f %9.3f\n", w,
		        tail(l->name, (size_t)w, nb, sizeof(nb)), ok, l->materialize_failed, l->releases,
		        ms_fmt_bytes(l->materialized_bytes, b, sizeof(b)),
		        at_ms(l->materialized_t, t1, sizeof(t1)), (double)l->materialize_ns / 1e6,
		        (double)l->materialize_max_ns / 1e6);
	}
}

static void layers(FILE *f, const struct ms_run *r, const struct report_opts *o)
{
	char a[32], b[32], c[32], d[32];
	if (!r->nlayers) {
		fprintf(f, "\nlayers     none described (give the shim --checkpoint or --manifest, or "
		           "register tensors through the C API)\n");
		return;
	}
	size_t clean = 0;
	for (size_t i = 0; i < r->nlayers; i++)
		clean += r->layers[i].status == MS_ST_COMPLETE || r->layers[i].status == MS_ST_SKIPPED;
	bool fold = o->layers == LAYERS_PROBLEMS ||
	            (o->layers == LAYERS_AUTO && r->nlayers > AUTO_COLLAPSE_LAYERS);
	fprintf(f, "\nlayers     %zu, %zu complete", r->nlayers, r->layers_complete);
	if (fold && clean)
		fprintf(f, "; %zu clean layers folded into one line (--layers all lists them)", clean);
	int w = name_width(r);
	fprintf(f, "\n%-*s %3s %10s %10s %10s %-8s %9s %9s %8s %6s\n", w, "layer", "tns", "expected",
	        "covered", "copied", "status", "first ms", "last ms", "took ms", "GB/s");
	uint64_t fb = 0, fe = 0, ft0 = MS_NO_TIME, ft1 = MS_NO_TIME;
	for (size_t i = 0; i < r->nlayers; i++) {
		const struct ms_layer *l = &r->layers[i];
		bool is_clean = l->status == MS_ST_COMPLETE || l->status == MS_ST_SKIPPED;
		if (!fold || !is_clean) {
			layer_row(f, w, l);
			continue;
		}
		fb += l->copied_bytes;
		fe += l->expected;
		if (l->first_t != MS_NO_TIME && (ft0 == MS_NO_TIME || l->first_t < ft0))
			ft0 = l->first_t;
		if (l->last_t != MS_NO_TIME && (ft1 == MS_NO_TIME || l->last_t > ft1))
			ft1 = l->last_t;
	}
	if (fold && clean)
		fprintf(f, "(+ %zu clean layers: %" PRIu64 " elements, %s, copies %s-%s s, %s)\n", clean, fe,
		        ms_fmt_bytes(fb, a, sizeof(a)), ms_fmt_at(ft0, b, sizeof(b)),
		        ms_fmt_at(ft1, c, sizeof(c)),
		        ft0 != MS_NO_TIME && ft1 > ft0 ? ms_fmt_rate(fb, ft1 - ft0, d, sizeof(d)) : "-");
}

static void sites_lines(FILE *f, const struct ms_run *r, const struct ms_site_share *s,
                        const struct report_opts *o, bool bytes_are_bytes)
{
	char name[512], b[32];
	for (int i = 0; i < MS_TOP_STACKS && s[i].count; i++) {
		ms_callsite_name(r, s[i].stack, o->symbolize, name, sizeof(name));
		if (bytes_are_bytes && s[i].bytes)
			fprintf(f, "      at %s  (%" PRIu64 " cop%s, %s)\n", name, s[i].count,
			        s[i].count == 1 ? "y" : "ies", ms_fmt_bytes(s[i].bytes, b, sizeof(b)));
		else
			fprintf(f, "      at %s  (%" PRIu64 " cop%s)\n", name, s[i].count,
			        s[i].count == 1 ? "y" : "ies");
	}
}

static void problems(FILE *f, const struct ms_run *r, const struct report_opts *o)
{
	size_t total = ms_run_problem_total(r);
	fprintf(f, "\nproblems   %zu\n", total);
	size_t shown[MS_PB_COUNT] = { 0 };
	for (size_t i = 0; i < r->nproblems; i++) {
		const struct ms_problem *p = &r->problems[i];
		if (shown[p->kind]++ >= o->top)
			continue;
		const char *subject = p->tensor != SIZE_MAX  ? r->tensors[p->tensor].name
		                      : p->layer != SIZE_MAX ? r->layers[p->layer].name
		                                             : "(whole run)";
		fprintf(f, "  %-14s %s\n", ms_problem_name(p->kind), subject);
		fprintf(f, "      %s\n", p->detail);
		sites_lines(f, r, p->sites, o, p->kind != MS_PB_LAUNCH_HAZARD);
	}
	for (int k = 0; k < MS_PB_COUNT; k++)
		if (shown[k] > o->top)
			fprintf(f, "  ... and %zu more %s (export --format csv lists every tensor)\n",
			        shown[k] - o->top, ms_problem_name((enum ms_problem_kind)k));
}

/* The chain under a call site: the frames inside it with what they are, the site
 * itself marked ">", then its callers. */
static void site_chain(FILE *f, const struct ms_run *r, uint32_t stack, const struct report_opts *o)
{
	struct ms_site_frames fr;
	char name[512];
	size_t n = ms_callsite_frames(r, stack, o->symbolize, &fr);

	for (size_t i = 0; i < n && i <= fr.pick + o->stack_depth; i++) {
		ms_callsite_frame_name(r, stack, i, o->symbolize, name, sizeof(name));
		fprintf(f, "  %36s %s #%-2zu %-8s %s\n", "", i == fr.pick ? ">" : " ", i,
		        ms_frame_role_name(fr.role[i]), name);
	}
}

static void top_sites(FILE *f, const struct ms_run *r, const struct report_opts *o)
{
	char name[512], b[32], c[32];
	size_t n = 0;
	for (size_t i = 0; i < r->nsites; i++)
		n += r->sites[i].copies > 0;
	if (!n)
		return;
	fprintf(f, "\ntop call sites by bytes copied\n");
	fprintf(f, "  %12s %9s %12s  %s\n", "bytes", "copies", "unattrib", "site");
	size_t k = 0;
	for (size_t i = 0; i < r->nsites && k < o->top; i++) {
		const struct ms_callsite *s = &r->sites[i];
		if (!s->copies)
			continue;
		k++;
		ms_callsite_name(r, s->stack, o->symbolize, name, sizeof(name));
		fprintf(f, "  %12s %9" PRIu64 " %12s  %s\n", ms_fmt_bytes(s->copy_bytes, b, sizeof(b)),
		        s->copies, ms_fmt_bytes(s->unattr_bytes, c, sizeof(c)), name);
		if (o->stack_depth)
			site_chain(f, r, s->stack, o);
	}
}

/* "all 34 layers complete, each loaded once" or "3 problems: 1 never loaded, ...". */
static void verdict(FILE *f, const struct ms_run *r)
{
	size_t total = ms_run_problem_total(r);
	fprintf(f, "\nverdict    ");
	if (!total && r->layers_counted)
		fprintf(f, "all %zu layers complete, each loaded once", r->layers_counted);
	else if (!total)
		fprintf(f, "no problems (no layer descriptors: completeness not checked)");
	else {
		fprintf(f, "%zu problem%s:", total, total == 1 ? "" : "s");
		const char *sep = " ";
		for (int k = 0; k < MS_PB_COUNT; k++) {
			if (!r->problem_kinds[k])
				continue;
			fprintf(f, "%s%zu %s", sep, r->problem_kinds[k],
			        ms_problem_name((enum ms_problem_kind)k));
			sep = ", ";
		}
		if (r->layers_counted)
			fprintf(f, " (%zu of %zu layers complete)", r->layers_complete, r->layers_counted);
	}
	if (!r->has_footer)
		fprintf(f, "; trace cut short");
	fprintf(f, "\n");
}

static void report_run(FILE *f, const struct ms_run *r, const struct report_opts *o)
{
	summary(f, r);
	layers(f, r, o);
	materializations(f, r);
	problems(f, r, o);
	top_sites(f, r, o);
	verdict(f, r);
}

int ms_cmd_report(int argc, char **argv)
{
	/* clang-format off */
	static const struct option lopts[] = {
		{ "top", required_argument, NULL, 't' },
		{ "layers", required_argument, NULL, 'l' },
		{ "symbolize", no_argument, NULL, 's' },
		{ "no-symbolize", no_argument, NULL, 'S' },
		{ "no-fail", no_argument, NULL, 'n' },
		{ "stack-depth", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	/* clang-format on */
	struct report_opts o = { .top = 10, .layers = LAYERS_AUTO, .symbolize = true };
	bool no_fail = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1) {
				fprintf(stderr, "metashim report: --top expects a number >= 1\n");
				return MS_EXIT_USAGE;
			}
			o.top = (size_t)v;
			break;
		}
		case 'l':
			if (strcmp(optarg, "all") == 0)
				o.layers = LAYERS_ALL;
			else if (strcmp(optarg, "problems") == 0)
				o.layers = LAYERS_PROBLEMS;
			else if (strcmp(optarg, "auto") == 0)
				o.layers = LAYERS_AUTO;
			else {
				fprintf(stderr, "metashim report: --layers is all, problems or auto\n");
				return MS_EXIT_USAGE;
			}
			break;
		case 'd': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 0 || v > MS_SITE_MAX_FRAMES) {
				fprintf(stderr, "metashim report: --stack-depth expects 0 to %d\n",
				        MS_SITE_MAX_FRAMES);
				return MS_EXIT_USAGE;
			}
			o.stack_depth = (size_t)v;
			break;
		}
		case 's': o.symbolize = true; break;
		case 'S': o.symbolize = false; break;
		case 'n': no_fail = true; break;
		case 'h': report_usage(stdout); return MS_EXIT_OK;
		default: report_usage(stderr); return MS_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "metashim report: no trace given\n\n");
		report_usage(stderr);
		return MS_EXIT_USAGE;
	}
	struct ms_model m;
	if (ms_model_load(&m, argv + optind, (size_t)(argc - optind), NULL) < 0)
		return MS_EXIT_USAGE;
	size_t problems_total = 0, layers_total = 0, complete = 0;
	for (size_t i = 0; i < m.nruns; i++) {
		if (i)
			fputc('\n', stdout);
		report_run(stdout, &m.runs[i], &o);
		problems_total += ms_run_problem_total(&m.runs[i]);
		layers_total += m.runs[i].layers_counted;
		complete += m.runs[i].layers_complete;
	}
	if (m.nruns > 1)
		printf("\ncombined   %zu traces, %zu of %zu layers complete, %zu problem%s "
		       "(ranks together: metashim merge)\n",
		       m.nruns, complete, layers_total, problems_total, problems_total == 1 ? "" : "s");
	ms_model_free(&m);
	if (fflush(stdout) != 0)
		return MS_EXIT_USAGE;
	return problems_total && !no_fail ? MS_EXIT_PROBLEMS : MS_EXIT_OK;
}
