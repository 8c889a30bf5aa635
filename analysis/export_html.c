/* export_html.c — `metashim export --format html`: one self-contained page (no
 * scripts, fonts or styles from the network) that shows a load at a glance: a
 * summary with the verdict, a load timeline with a row per layer, a completeness
 * strip, memory over time, the problems with their call sites, and the tables.
 *
 * Plots are inline SVG computed here. The markup is XHTML-compatible (every tag
 * closed, attributes quoted, only XML's five entities) so that an XML parser can
 * check it, and every string from a trace is escaped (invalid UTF-8 becomes
 * U+FFFD). Output depends only on the model: no clock, no environment. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "model.h"

#ifndef MS_VERSION
#define MS_VERSION "unknown"
#endif

#define PAGE_W       1320 /* plot width in px: fits a 1400 px laptop window */
#define LABEL_W      300  /* timeline: width of the layer-name column */
#define LABEL_CHARS  44   /* layer names longer than this keep their tail */
#define SCROLL_H     560  /* plots and tables taller than this scroll */
#define MEM_H        230  /* memory plot height */
#define PROBLEM_ROWS 200  /* problems listed before "... and N more" */
#define SITE_ROWS    15   /* call sites listed */
#define MARKS_MAX    64   /* completion markers drawn per timeline row */

/* clang-format off */
/* Fill colours per status: light theme, distinguishable without reading the legend. */
static const char *const status_color[MS_ST_COUNT] = {
	[MS_ST_COMPLETE] = "#2f9e5b",
	[MS_ST_TWICE] = "#8e5bd6",
	[MS_ST_PARTIAL] = "#e0a21b",
	[MS_ST_NEVER] = "#d64541",
	[MS_ST_SKIPPED] = "#aab1b9",
};
static const char *const status_label[MS_ST_COUNT] = {
	[MS_ST_COMPLETE] = "complete",
	[MS_ST_TWICE] = "loaded twice",
	[MS_ST_PARTIAL] = "partial",
	[MS_ST_NEVER] = "never loaded",
	[MS_ST_SKIPPED] = "skipped",
};

static const char css[] =
	"body{margin:0;background:#f5f6f8;color:#1f2328;font:14px/1.45 system-ui,-apple-system,"
	"'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif}\n"
	"main{max-width:1360px;margin:0 auto;padding:20px 20px 40px}\n"
	"h1{font-size:24px;margin:0 0 2px}\n"
	"h2{font-size:17px;margin:26px 0 10px;padding-bottom:4px;border-bottom:1px solid #d5dae0}\n"
	".sub{color:#57606a;margin:0 0 14px;word-break:break-all}\n"
	".run{margin-top:18px}\n"
	".runhead{font-size:19px;font-weight:600;margin:34px 0 0;padding:6px 10px;background:#e8ecf1;"
	"border-radius:6px}\n"
	".panel{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:10px 14px}\n"
	".verdict{padding:10px 14px;border-radius:6px;font-size:15px;font-weight:600;margin:0 0 12px}\n"
	".ok{background:#e5f4ea;color:#14532d;border:1px solid #a7d7b5}\n"
	".bad{background:#fdecea;color:#7f1d1d;border:1px solid #f1b3ad}\n"
	".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:10px;"
	"margin-bottom:12px}\n"
	".card{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:8px 12px}\n"
	".card .k{color:#57606a;font-size:12px;text-transform:uppercase;letter-spacing:.04em}\n"
	".card .v{font-size:21px;font-weight:600;margin:2px 0}\n"
	".card .s{color:#57606a;font-size:12px}\n"
	".card.alert .v{color:#b42318}\n"
	"table{border-collapse:collapse;width:100%;font-size:13px;background:#fff}\n"
	"th,td{padding:4px 7px;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:top}\n"
	"th{background:#f0f2f5;position:sticky;top:0;font-weight:600;white-space:nowrap}\n"
	"td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
	".facts{display:flex;flex-wrap:wrap;gap:4px 22px;color:#374151;font-size:13px}\n"
	".facts b{color:#57606a;font-weight:normal}\n"
	".scroll{max-height:560px;overflow:auto;border:1px solid #dde1e6;border-radius:6px;"
	"background:#fff}\n"
	".mono,.site{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}\n"
	".site{display:block;color:#374151}\n"
	".badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;color:#fff;"
	"white-space:nowrap}\n"
	".legend{margin:6px 0;color:#374151;font-size:13px}\n"
	".legend span{margin-right:16px;white-space:nowrap}\n"
	".sw{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-1px;"
	"margin-right:5px}\n"
	".note{color:#57606a;font-style:italic}\n"
	".gutter{overflow-y:hidden;scrollbar-gutter:stable}\nsvg{display:block}\nsvg.fit{width:100%;height:auto}\nsvg text{font:12px system-ui,-apple-system,'Segoe UI',Roboto,Arial,"
	"sans-serif;fill:#1f2328}\nsvg text.dim{fill:#57606a}\n"
	"footer{margin-top:30px;color:#57606a;font-size:12px}\n";
/* clang-format on */

/* ------------------------------------------------------------ escaping */

/* Text or attribute value: markup characters as entities, bytes XML forbids
 * (controls, invalid UTF-8) as U+FFFD. Writes at most max bytes of s; runs that
 * need nothing go out in one fwrite. */
static void escn(FILE *f, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	const unsigned char *end = p + strnlen((const char *)p, max);
	while (p < end) {
		const unsigned char *run = p;
		size_t n;
		while (p < end && ((*p >= 0x20 && *p != 0x7f) || *p == '\t' || *p == '\n') &&
		       !strchr("&<>\"'", *p) && (n = ms_utf8_len(p)) != 0 && p + n <= end)
			p += n;
		if (p > run)
			fwrite(run, 1, (size_t)(p - run), f);
		if (p >= end)
			break;
		switch (*p) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputs("\xef\xbf\xbd", f); /* U+FFFD */
		}
		p++;
	}
}

static void esc(FILE *f, const char *s)
{
	escn(f, s, SIZE_MAX);
}

/* A long name keeps its tail (where layer names differ), cut on a character start. */
static void esc_tail(FILE *f, const char *s, size_t chars)
{
	size_t n = strlen(s), count = 0;
	const char *p = s + n;
	while (p > s && count < chars) {
		p--;
		if (((unsigned char)*p & 0xc0) != 0x80)
			count++;
	}
	if (p > s)
		fputs("\xe2\x80\xa6", f); /* … */
	esc(f, p);
}

/* ------------------------------------------------------------ small pieces */

static void cell_text(FILE *f, const char *cls, const char *s)
{
	fprintf(f, cls ? "<td class=\"%s\">" : "<td>", cls);
	esc(f, s);
	fputs("</td>", f);
}

static void cell_u64(FILE *f, uint64_t v)
{
	fprintf(f, "<td class=\"n\">%" PRIu64 "</td>", v);
}

static void badge(FILE *f, enum ms_status s)
{
	fprintf(f, "<span class=\"badge\" style=\"background:%s\">%s</span>", status_color[s],
	        status_label[s]);
}

static void card(FILE *f, bool alert, const char *key, const char *val, const char *sub)
{
	fprintf(f, "<div class=\"card%s\"><div class=\"k\">", alert ? " alert" : "");
	esc(f, key);
	fputs("</div><div class=\"v\">", f);
	esc(f, val);
	fputs("</div><div class=\"s\">", f);
	esc(f, sub);
	fputs("</div></div>\n", f);
}

static void section(FILE *f, const char *title, const char *suffix)
{
	fputs("<h2>", f);
	esc(f, title);
	if (suffix) {
		fputs(" \xc2\xb7 ", f);
		esc(f, suffix);
	}
	fputs("</h2>\n", f);
}

static void legend(FILE *f, const size_t *counts)
{
	static const enum ms_status order[] = { MS_ST_COMPLETE, MS_ST_TWICE, MS_ST_PARTIAL, MS_ST_NEVER,
		                                MS_ST_SKIPPED };
	fputs("<div class=\"legend\">", f);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		enum ms_status s = order[i];
		if (counts && !counts[s] && s == MS_ST_SKIPPED)
			continue;
		fprintf(f, "<span><i class=\"sw\" style=\"background:%s\"></i>%s", status_color[s],
		        status_label[s]);
		if (counts)
			fprintf(f, " (%zu)", counts[s]);
		fputs("</span>", f);
	}
	fputs("</div>\n", f);
}

/* A tick step of 1, 2 or 5 times a power of ten giving about `target` ticks. */
static double nice_step(double span, int target)
{
	double raw = span / target, mag = pow(10.0, floor(log10(raw))), n = raw / mag;
	return (n < 1.5 ? 1 : n < 3.5 ? 2 : n < 7.5 ? 5 : 10) * mag;
}

/* Decimals that tell ticks `step` apart. */
static int step_decimals(double step)
{
	int d = (int)ceil(-log10(step) - 1e-9);
	return d < 0 ? 0 : d > 9 ? 9 : d;
}

/* ------------------------------------------------------------ summary */

static void verdict_text(const struct ms_run *r, char *buf, size_t cap)
{
	size_t total = ms_run_problem_total(r), n = 0;
	if (!total && r->layers_counted)
		n = (size_t)snprintf(buf, cap, "All %zu layers complete, each loaded once",
		                     r->layers_counted);
	else if (!total)
		n = (size_t)snprintf(buf, cap,
		                     "No problems (no layer descriptors: completeness not checked)");
	else {
		n = (size_t)snprintf(buf, cap, "%zu problem%s:", total, total == 1 ? "" : "s");
		const char *sep = " ";
		for (int k = 0; k < MS_PB_COUNT && n < cap; k++) {
			if (!r->problem_kinds[k])
				continue;
			n += (size_t)snprintf(buf + n, cap - n, "%s%zu %s", sep, r->problem_kinds[k],
			                      ms_problem_name((enum ms_problem_kind)k));
			sep = ", ";
		}
		if (r->layers_counted && n < cap)
			n += (size_t)snprintf(buf + n, cap - n, " (%zu of %zu layers complete)",
			                      r->layers_complete, r->layers_counted);
	}
	if (!r->has_footer && n < cap)
		snprintf(buf + n, cap - n, "; trace cut short");
}

static void summary_cards(FILE *f, const struct ms_run *r)
{
	char v[64], s[160], a[32], b[32];
	card(f, false, "Duration", ms_fmt_ns(r->end_t, v, sizeof(v)),
	     r->has_footer ? "trace ended cleanly" : "trace cut short (no footer)");
	size_t n =
	        (size_t)snprintf(s, sizeof(s), "%" PRIu64 " cop%s", r->copies, r->copies == 1 ? "y" : "ies");
	const char *sep = ": ";
	for (int d = 0; d < MS_DIR_COUNT && n < sizeof(s); d++) {
		if (!r->dirs[d].calls)
			continue;
		n += (size_t)snprintf(s + n, sizeof(s) - n, "%s%s %s", sep, ms_dir_names[d],
		                      ms_fmt_bytes(r->dirs[d].bytes, a, sizeof(a)));
		sep = ", ";
	}
	card(f, false, "Bytes copied", ms_fmt_bytes(r->copy_bytes, v, sizeof(v)), s);
	uint64_t span = r->copy_first_t == MS_NO_TIME ? 0 : r->copy_last_t - r->copy_first_t;
	snprintf(s, sizeof(s), "over copy time; %s over the copy span",
	         ms_fmt_rate(r->copy_bytes, span, a, sizeof(a)));
	card(f, false, "Throughput", ms_fmt_rate(r->copy_bytes, r->copy_dur_ns, v, sizeof(v)), s);
	snprintf(s, sizeof(s), "at %s s; %" PRIu64 " allocs, %" PRIu64 " frees",
	         ms_fmt_at(r->live_peak ? r->live_peak_t : MS_NO_TIME, a, sizeof(a)), r->allocs, r->frees);
	card(f, false, "Allocation peak", ms_fmt_bytes(r->live_peak, v, sizeof(v)), s);
	if (r->has_mem) {
		snprintf(s, sizeof(s), "at %s s; reserved peak %s",
		         ms_fmt_at(r->materialized_peak_t, a, sizeof(a)),
		         ms_fmt_bytes(r->reserved_peak, b, sizeof(b)));
		card(f, false, "Materialized peak", ms_fmt_bytes(r->materialized_peak, v, sizeof(v)), s);
	}
	snprintf(v, sizeof(v), "%zu / %zu", r->layers_complete, r->layers_counted);
	snprintf(s, sizeof(s), "%zu tensors described", r->ntensors);
	card(f, r->layers_complete < r->layers_counted, "Layers complete", v, s);
	size_t total = ms_run_problem_total(r);
	snprintf(v, sizeof(v), "%zu", total);
	snprintf(s, sizeof(s), "%s unattributed H2D", ms_fmt_bytes(r->unattr_bytes, a, sizeof(a)));
	card(f, total > 0, "Problems", v, s);
}

/* One labelled fact of the compact line under the cards. */
static void fact(FILE *f, const char *k, const char *v, bool mono)
{
	fputs("<span><b>", f);
	esc(f, k);
	fputs(mono ? "</b> <code class=\"mono\">" : "</b> ", f);
	esc(f, v);
	fputs(mono ? "</code></span>\n" : "</span>\n", f);
}

static void summary(FILE *f, const struct ms_run *r, const char *suffix)
{
	char buf[1024], a[32];
	section(f, "Summary", suffix);
	verdict_text(r, buf, sizeof(buf));
	fprintf(f, "<div class=\"verdict %s\">", ms_run_problem_total(r) || !r->has_footer ? "bad" : "ok");
	esc(f, buf);
	fputs("</div>\n<div class=\"cards\">\n", f);
	summary_cards(f, r);
	fputs("</div>\n<div class=\"facts\">\n", f);
	if (suffix) /* one run: the page's subtitle names the program already */
		fact(f, "program", r->argv && *r->argv ? r->argv : r->exe ? r->exe : "?", true);
	snprintf(buf, sizeof(buf), "pid %" PRId64, r->pid);
	if (r->rank >= 0)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ", rank %" PRId64 " of %" PRId64,
		         r->rank, r->world);
	snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ", host %s, mode %s, shim %s",
	         r->host ? r->host : "?", r->mode ? r->mode : "?", r->shim ? r->shim : "?");
	fact(f, "process", buf, false);
	if (r->copy_first_t != MS_NO_TIME) {
		char b[32];
		snprintf(buf, sizeof(buf), "%s s to %s s", ms_fmt_at(r->copy_first_t, a, sizeof(a)),
		         ms_fmt_at(r->copy_last_t, b, sizeof(b)));
		fact(f, "copies", buf, false);
	}
	snprintf(buf, sizeof(buf), "%" PRIu64 " lines%s%s", r->lines,
	         r->has_footer ? ", ended cleanly" : ", CUT SHORT (no footer)",
	         r->dropped ? ", events dropped by the shim: counts are lower bounds" : "");
	fact(f, "trace", r->path, true);
	fact(f, "read", buf, false);
	fputs("</div>\n", f);
}

/* ------------------------------------------------------------ load timeline */

struct axis {
	uint64_t lo, hi; /* time window, ns since trace start */
	double x0, x1;   /* its pixels */
};

static double ax_x(const struct axis *ax, uint64_t t)
{
	if (t <= ax->lo)
		return ax->x0;
	if (t >= ax->hi)
		return ax->x1;
	return ax->x0 + (ax->x1 - ax->x0) * (double)(t - ax->lo) / (double)(ax->hi - ax->lo);
}

/* Time ticks (seconds since trace start) as vertical grid lines from y0 to y1,
 * labelled at ylab when labels is true. */
static void time_ticks(FILE *f, const struct axis *ax, double y0, double y1, bool labels, double ylab)
{
	double span = (double)(ax->hi - ax->lo) / 1e9, step = nice_step(span, 10);
	int dec = step_decimals(step);
	double first = ceil((double)ax->lo / 1e9 / step) * step;
	/* Ticks by index, not by summing steps: no drift, and a bounded count. */
	for (int k = 0; k <= 100; k++) {
		double s = first + k * step;
		if (s > (double)ax->hi / 1e9 + step * 1e-6)
			break;
		double x = ax_x(ax, (uint64_t)llround(s * 1e9));
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e7ec\"/>", x,
		        y0, x, y1);
		if (labels)
			fprintf(f,
			        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"dim\">%.*f "
			        "s</text>",
			        x, ylab, dec, s);
		fputc('\n', f);
	}
}

/* The window of the load: first copy into any layer to its last copy or completion. */
static bool load_window(const struct ms_run *r, struct axis *ax)
{
	uint64_t lo = MS_NO_TIME, hi = 0;
	for (size_t i = 0; i < r->nlayers; i++) {
		const struct ms_layer *l = &r->layers[i];
		if (l->first_t != MS_NO_TIME && l->first_t < lo)
			lo = l->first_t;
		if (l->last_t != MS_NO_TIME && l->last_t > hi)
			hi = l->last_t;
		if (l->complete_t != MS_NO_TIME && l->complete_t > hi)
			hi = l->complete_t;
	}
	if (lo == MS_NO_TIME)
		return false;
	if (hi <= lo)
		hi = lo + 1000;
	uint64_t pad = (hi - lo) / 50 + 1;
	ax->lo = lo > pad ? lo - pad : 0;
	ax->hi = hi + pad;
	ax->x0 = LABEL_W;
	ax->x1 = PAGE_W - 24;
	return true;
}

static void layer_tooltip(FILE *f, const struct ms_layer *l)
{
	char a[32], b[32], c[32], d[32];
	fputs("<title>", f);
	esc(f, l->name);
	fprintf(f,
	        ": %s, %" PRIu64 " of %" PRIu64 " elements (%" PRIu64
	        " copied); copies %s-%s s, complete at %s s; %s",
	        status_label[l->status], l->covered, l->expected, l->copied,
	        ms_fmt_at(l->first_t, a, sizeof(a)), ms_fmt_at(l->last_t, b, sizeof(b)),
	        ms_fmt_at(l->complete_t, c, sizeof(c)), ms_fmt_bytes(l->bytes, d, sizeof(d)));
	if (l->gbps > 0)
		fprintf(f, ", %.2f GB/s", l->gbps);
	if (l->loads > 1)
		fprintf(f, "; completed %" PRIu64 " times", l->loads);
	fputs("</title>", f);
}

/* Completions grouped by layer, in trace order within each: layer i's are
 * order[first[i] .. first[i + 1]). A counting sort: reloads can complete every
 * layer thousands of times, so rows must not scan all of them. */
struct by_layer {
	size_t *first; /* nlayers + 1 offsets into order */
	size_t *order; /* indexes into run->completions */
};

static int group_completions(const struct ms_run *r, struct by_layer *g)
{
	g->first = calloc(r->nlayers + 2, sizeof(*g->first));
	g->order = malloc((r->ncompletions + 1) * sizeof(*g->order));
	if (!g->first || !g->order)
		return -ENOMEM;
	for (size_t k = 0; k < r->ncompletions; k++)
		if (r->completions[k].layer < r->nlayers)
			g->first[r->completions[k].layer + 2]++;
	for (size_t i = 2; i < r->nlayers + 2; i++)
		g->first[i] += g->first[i - 1];
	for (size_t k = 0; k < r->ncompletions; k++)
		if (r->completions[k].layer < r->nlayers)
			g->order[g->first[r->completions[k].layer + 1]++] = k;
	return 0;
}

static void timeline_row(FILE *f, const struct ms_run *r, size_t i, const struct axis *ax, double y,
                         double rh, const struct by_layer *g)
{
	const struct ms_layer *l = &r->layers[i];
	double bh = rh - (rh > 16 ? 8 : 5), by = y + (rh - bh) / 2;
	fprintf(f, "<g class=\"row %s\">", ms_status_name(l->status));
	layer_tooltip(f, l);
	if (i % 2)
		fprintf(f, "<rect x=\"0\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"#f6f8fa\"/>", y,
		        PAGE_W, rh);
	fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", LABEL_W - 10, y + rh / 2 + 4);
	esc_tail(f, l->name, LABEL_CHARS);
	fputs("</text>", f);
	if (l->first_t == MS_NO_TIME) {
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\" style=\"fill:%s\">%s</text></g>\n",
		        ax->x0 + 6, y + rh / 2 + 4, status_color[l->status], status_color[l->status],
		        status_label[l->status]);
		return;
	}
	double x0 = ax_x(ax, l->first_t), x1 = ax_x(ax, l->last_t != MS_NO_TIME ? l->last_t : l->first_t);
	if (x1 - x0 < 3)
		x1 = x0 + 3;
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"2\" fill=\"%s\"/>", x0,
	        by, x1 - x0, bh, status_color[l->status]);
	/* A reloaded layer completes again and again: mark the first few. Dense rows
	 * get a thin tick, which leaves the short bars it marks visible. */
	for (size_t j = g->first[i]; j < g->first[i + 1] && j < g->first[i] + MARKS_MAX; j++) {
		double cx = ax_x(ax, r->completions[g->order[j]].t);
		if (rh >= 18)
			fprintf(f,
			        "<path class=\"done\" d=\"M%.1f %.1fl4 %.1fl-4 %.1fl-4 -%.1fz\" "
			        "fill=\"#1f2328\"/>",
			        cx, by - 1, bh / 2 + 1, bh / 2 + 1, bh / 2 + 1);
		else
			fprintf(f,
			        "<rect class=\"done\" x=\"%.1f\" y=\"%.1f\" width=\"1.5\" height=\"%.1f\" "
			        "fill=\"#1f2328\"/>",
			        cx - 0.75, by - 2, bh + 4);
	}
	fputs("</g>\n", f);
}

static int timeline(FILE *f, const struct ms_run *r, const char *suffix)
{
	struct by_layer g = { 0 };
	struct axis ax;
	int rc;
	section(f, "Load timeline", suffix);
	if (!r->nlayers || !load_window(r, &ax)) {
		fputs(r->nlayers
		              ? "<p class=\"note\">No copies into layer tensors were recorded.</p>\n"
		              : "<p class=\"note\">No layers were described (give the shim --checkpoint or "
		                "--manifest, or register tensors through the C API).</p>\n",
		      f);
		return 0;
	}
	if ((rc = group_completions(r, &g)) < 0)
		goto out_free;
	double rh = r->nlayers <= 30 ? 24 : r->nlayers <= 80 ? 18 : 15;
	double h = rh * (double)r->nlayers + 4;
	fputs("<div class=\"legend\">One row per layer: a bar from its first to its last copy, a dark mark "
	      "where it became complete.</div>\n",
	      f);
	legend(f, NULL);
	fputs("<div class=\"panel\" style=\"padding:4px 0\">\n<div class=\"gutter\">\n", f);
	fprintf(f,
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"fit\" width=\"%d\" height=\"26\" "
	        "viewBox=\"0 0 %d 26\">\n",
	        PAGE_W, PAGE_W);
	fputs("<text x=\"12\" y=\"17\" class=\"dim\">layer</text>\n", f);
	time_ticks(f, &ax, 22, 26, true, 16);
	fputs("</svg>\n</div>\n", f);
	fprintf(f, "<div class=\"gutter\" style=\"max-height:%dpx;overflow-y:auto\">\n", SCROLL_H);
	fprintf(f,
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"fit\" width=\"%d\" height=\"%.0f\" "
	        "viewBox=\"0 0 %d %.0f\">\n",
	        PAGE_W, h, PAGE_W, h);
	time_ticks(f, &ax, 0, h, false, 0);
	for (size_t i = 0; i < r->nlayers; i++)
		timeline_row(f, r, i, &ax, 2 + rh * (double)i, rh, &g);
	fputs("</svg>\n</div>\n</div>\n", f);
out_free:
	free(g.first);
	free(g.order);
	return rc;
}

/* ------------------------------------------------------------ completeness strip */

static void strip(FILE *f, const struct ms_run *r, const char *suffix)
{
	size_t counts[MS_ST_COUNT] = { 0 };
	section(f, "Layer completeness", suffix);
	if (!r->nlayers) {
		fputs("<p class=\"note\">No layers were described.</p>\n", f);
		return;
	}
	for (size_t i = 0; i < r->nlayers; i++)
		counts[r->layers[i].status]++;
	int width = PAGE_W - 28;
	int pitch = width / (int)(r->nlayers < 1000000 ? r->nlayers : 1000000);
	pitch = pitch > 30 ? 30 : pitch < 7 ? 7 : pitch;
	int per_row = width / pitch, gap = pitch >= 12 ? 2 : 1;
	size_t rows = (r->nlayers + (size_t)per_row - 1) / (size_t)per_row;
	int ch = rows > 6 ? 12 : 22;
	double h = (double)rows * (ch + 3) + 1;
	fprintf(f, "<div class=\"legend\">One cell per layer, in load order (%zu of %zu complete).</div>\n",
	        r->layers_complete, r->layers_counted);
	legend(f, counts);
	fputs("<div class=\"panel\">\n", f);
	fprintf(f,
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"fit\" width=\"%d\" height=\"%.0f\" "
	        "viewBox=\"0 0 %d %.0f\">\n",
	        width, h, width, h);
	for (size_t i = 0; i < r->nlayers; i++) {
		const struct ms_layer *l = &r->layers[i];
		int x = (int)(i % (size_t)per_row) * pitch, y = (int)(i / (size_t)per_row) * (ch + 3);
		fprintf(f,
		        "<rect class=\"cell %s\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"1\" "
		        "fill=\"%s\">",
		        ms_status_name(l->status), x, y, pitch - gap, ch, status_color[l->status]);
		layer_tooltip(f, l);
		fputs("</rect>\n", f);
	}
	fputs("</svg>\n</div>\n", f);
}

/* ------------------------------------------------------------ memory */

struct mem_line {
	const struct ms_series *s;
	const char *name;
	const char *color;
	uint64_t peak;
};

static void bytes_unit(uint64_t max, double *unit, const char **name)
{
	static const char *const names[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int k = 0;
	double u = 1;
	while (k < 4 && (double)max >= u * 1024) {
		u *= 1024;
		k++;
	}
	*unit = u;
	*name = names[k];
}

static void mem_path(FILE *f, const struct mem_line *ml, const struct axis *ax, double y0, double scale)
{
	const struct ms_series *s = ml->s;
	fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" d=\"M%.1f %.1f", ml->color, ax->x0,
	        y0);
	for (size_t i = 0; i < s->n; i++)
		fprintf(f, "H%.1fV%.1f", ax_x(ax, s->t[i]), y0 - (double)s->v[i] * scale);
	fprintf(f, "H%.1f\"><title>", ax->x1);
	esc(f, ml->name);
	fputs("</title></path>\n", f);
}

static void memory(FILE *f, const struct ms_run *r, const char *suffix)
{
	struct mem_line lines[] = {
		{ &r->live, "allocated (live device allocations)", "#2563eb", r->live_peak },
		{ &r->reserved, "reserved (virtual address space)", "#9ca3af", r->reserved_peak },
		{ &r->materialized, "materialized (real memory behind deferred ranges)", "#16a34a",
		  r->materialized_peak },
		{ &r->staged, "staged (host bytes held for replay)", "#ea580c", r->staged_peak },
	};
	size_t nl = sizeof(lines) / sizeof(lines[0]);
	uint64_t max = 0;
	char a[32];
	section(f, "Memory over time", suffix);
	for (size_t i = 0; i < nl; i++)
		max = lines[i].s->n && lines[i].peak > max ? lines[i].peak : max;
	if (!max) {
		fputs("<p class=\"note\">No device memory was allocated.</p>\n", f);
		return;
	}
	fputs("<div class=\"legend\">", f);
	for (size_t i = 0; i < nl; i++) {
		if (!lines[i].s->n || (i && !lines[i].peak))
			continue;
		fprintf(f, "<span><i class=\"sw\" style=\"background:%s\"></i>", lines[i].color);
		esc(f, lines[i].name);
		fprintf(f, ", peak %s</span>", ms_fmt_bytes(lines[i].peak, a, sizeof(a)));
	}
	fputs("</div>\n<div class=\"panel\">\n", f);
	struct axis ax = { 0, r->end_t ? r->end_t : 1, 80, PAGE_W - 40 };
	double top = 10, y0 = MEM_H - 26, unit;
	const char *uname;
	bytes_unit(max, &unit, &uname);
	double step = nice_step((double)max / unit, 5), ymax = ceil((double)max / unit / step) * step;
	double scale = (y0 - top) / (ymax * unit);
	int dec = step_decimals(step);
	fprintf(f,
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"fit\" width=\"%d\" height=\"%d\" "
	        "viewBox=\"0 0 %d %d\">\n",
	        PAGE_W - 28, MEM_H, PAGE_W - 28, MEM_H);
	time_ticks(f, &ax, top, y0, true, y0 + 18);
	for (int k = 0; k <= 100; k++) {
		double v = k * step;
		if (v > ymax + step * 1e-6)
			break;
		double y = y0 - v * unit * scale;
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>", ax.x0, y,
		        ax.x1, y, k == 0 ? "#9aa3ad" : "#e3e7ec");
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" class=\"dim\">%.*f %s</text>\n",
		        ax.x0 - 8, y + 4, dec, v, uname);
	}
	for (size_t i = nl; i-- > 0;)
		if (lines[i].s->n && (!i || lines[i].peak))
			mem_path(f, &lines[i], &ax, y0, scale);
	fputs("</svg>\n</div>\n", f);
}

/* ------------------------------------------------------------ tables */

static void sites_cell(FILE *f, const struct ms_run *r, const struct ms_site_share *s)
{
	char name[512], b[32];
	fputs("<td>", f);
	for (int i = 0; i < MS_TOP_STACKS && s[i].count; i++) {
		ms_callsite_name(r, s[i].stack, ms_export_symbolize, name, sizeof(name));
		fputs("<span class=\"site\">", f);
		esc(f, name);
		fprintf(f, " (%" PRIu64 " cop%s", s[i].count, s[i].count == 1 ? "y" : "ies");
		if (s[i].bytes)
			fprintf(f, ", %s", ms_fmt_bytes(s[i].bytes, b, sizeof(b)));
		fputs(")</span>", f);
	}
	if (!s[0].count)
		fputs("<span class=\"note\">none recorded</span>", f);
	fputs("</td>", f);
}

static void problems(FILE *f, const struct ms_run *r, const char *suffix)
{
	section(f, "Problems", suffix);
	if (!r->nproblems) {
		fputs("<p class=\"note\">No problems found.</p>\n", f);
		return;
	}
	fputs("<div class=\"scroll\"><table>\n<thead><tr><th>problem</th><th>tensor or "
	      "layer</th><th>detail</th>"
	      "<th>call sites</th></tr></thead>\n<tbody>\n",
	      f);
	for (size_t i = 0; i < r->nproblems && i < PROBLEM_ROWS; i++) {
		const struct ms_problem *p = &r->problems[i];
		const char *subject = p->tensor != SIZE_MAX  ? r->tensors[p->tensor].name
		                      : p->layer != SIZE_MAX ? r->layers[p->layer].name
		                                             : "(whole run)";
		fputs("<tr>", f);
		cell_text(f, NULL, ms_problem_name(p->kind));
		cell_text(f, "mono", subject);
		cell_text(f, NULL, p->detail);
		sites_cell(f, r, p->sites);
		fputs("</tr>\n", f);
	}
	if (r->nproblems > PROBLEM_ROWS)
		fprintf(f,
		        "<tr><td colspan=\"4\" class=\"note\">\xe2\x80\xa6 and %zu more (metashim export "
		        "--format "
		        "csv lists every tensor)</td></tr>\n",
		        r->nproblems - PROBLEM_ROWS);
	fputs("</tbody></table></div>\n", f);
}

static void layer_table_row(FILE *f, size_t i, const struct ms_layer *l)
{
	char a[32];
	fprintf(f, "<tr><td class=\"n\">%zu</td>", i + 1);
	cell_text(f, "mono", l->name);
	fprintf(f, "<td class=\"n\">%zu</td>", l->ntensors);
	cell_text(f, "n", ms_fmt_bytes(l->bytes, a, sizeof(a)));
	cell_u64(f, l->expected);
	cell_u64(f, l->covered);
	cell_u64(f, l->copied);
	fputs("<td>", f);
	badge(f, l->status);
	fputs("</td>", f);
	cell_text(f, "n", ms_fmt_at(l->first_t, a, sizeof(a)));
	cell_text(f, "n", ms_fmt_at(l->last_t, a, sizeof(a)));
	cell_text(f, "n", ms_fmt_at(l->complete_t, a, sizeof(a)));
	if (l->complete_t != MS_NO_TIME && l->first_t != MS_NO_TIME && l->complete_t >= l->first_t)
		cell_text(f, "n", ms_fmt_ns(l->complete_t - l->first_t, a, sizeof(a)));
	else
		cell_text(f, "n", "-");
	if (l->gbps > 0)
		fprintf(f, "<td class=\"n\">%.2f</td>", l->gbps);
	else
		cell_text(f, "n", "-");
	fprintf(f, "<td class=\"n\">%" PRIu64 "</td></tr>\n", l->loads);
}

static void layer_table(FILE *f, const struct ms_run *r, const char *suffix)
{
	section(f, "Layers", suffix);
	if (!r->nlayers) {
		fputs("<p class=\"note\">No layers were described.</p>\n", f);
		return;
	}
	fputs("<div class=\"scroll\"><table>\n<thead><tr><th class=\"n\">#</th><th>layer</th>"
	      "<th class=\"n\">tensors</th><th class=\"n\">size</th><th class=\"n\">expected</th>"
	      "<th class=\"n\">covered</th><th class=\"n\">copied</th><th>status</th>"
	      "<th class=\"n\">first (s)</th><th class=\"n\">last (s)</th>"
	      "<th class=\"n\">done (s)</th><th class=\"n\">to complete</th>"
	      "<th class=\"n\">GB/s</th><th class=\"n\">loads</th></tr></thead>\n<tbody>\n",
	      f);
	for (size_t i = 0; i < r->nlayers; i++)
		layer_table_row(f, i, &r->layers[i]);
	fputs("</tbody></table></div>\n", f);
}

static void site_table(FILE *f, const struct ms_run *r, const char *suffix)
{
	char name[512], a[32], b[32];
	size_t shown = 0;
	for (size_t i = 0; i < r->nsites; i++)
		shown += r->sites[i].copies > 0;
	if (!shown)
		return;
	section(f, "Top call sites", suffix);
	fputs("<div class=\"scroll\"><table>\n<thead><tr><th class=\"n\">bytes copied</th><th "
	      "class=\"n\">copies"
	      "</th><th class=\"n\">unattributed</th><th class=\"n\">copy time</th><th>call site</th></tr>"
	      "</thead>\n<tbody>\n",
	      f);
	shown = 0;
	for (size_t i = 0; i < r->nsites && shown < SITE_ROWS; i++) {
		const struct ms_callsite *s = &r->sites[i];
		if (!s->copies)
			continue;
		shown++;
		ms_callsite_name(r, s->stack, ms_export_symbolize, name, sizeof(name));
		fputs("<tr>", f);
		cell_text(f, "n", ms_fmt_bytes(s->copy_bytes, a, sizeof(a)));
		cell_u64(f, s->copies);
		cell_text(f, "n", ms_fmt_bytes(s->unattr_bytes, b, sizeof(b)));
		cell_text(f, "n", ms_fmt_ns(s->dur_ns, a, sizeof(a)));
		cell_text(f, "mono", name);
		fputs("</tr>\n", f);
	}
	fputs("</tbody></table></div>\n", f);
}

/* ------------------------------------------------------------ the page */

static void runs_overview(FILE *f, const struct ms_model *m)
{
	char lab[64], buf[512], a[32];
	section(f, "Runs", NULL);
	fputs("<div class=\"scroll\"><table>\n<thead><tr><th>run</th><th>program</th><th class=\"n\">duration"
	      "</th><th class=\"n\">layers complete</th><th class=\"n\">problems</th><th>verdict</th></tr>"
	      "</thead>\n<tbody>\n",
	      f);
	for (size_t i = 0; i < m->nruns; i++) {
		const struct ms_run *r = &m->runs[i];
		ms_run_label(r, lab, sizeof(lab));
		fputs("<tr>", f);
		cell_text(f, NULL, lab);
		cell_text(f, "mono", r->argv && *r->argv ? r->argv : r->exe ? r->exe : "?");
		cell_text(f, "n", ms_fmt_ns(r->end_t, a, sizeof(a)));
		fprintf(f, "<td class=\"n\">%zu / %zu</td><td class=\"n\">%zu</td>", r->layers_complete,
		        r->layers_counted, ms_run_problem_total(r));
		verdict_text(r, buf, sizeof(buf));
		cell_text(f, NULL, buf);
		fputs("</tr>\n", f);
	}
	fputs("</tbody></table></div>\n", f);
}

static void page_head(FILE *f, const struct ms_model *m)
{
	const struct ms_run *r0 = m->nruns ? &m->runs[0] : NULL;
	const char *exe = r0 && r0->exe ? r0->exe : "?";
	const char *base = strrchr(exe, '/');
	base = base ? base + 1 : exe;
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>metashim "
	      "report: ",
	      f);
	esc(f, base);
	fprintf(f,
	        "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n<h1>metashim report</h1>\n"
	        "<p class=\"sub\">",
	        css);
	if (r0 && m->nruns == 1)
		esc(f, r0->argv && *r0->argv ? r0->argv : exe);
	else
		fprintf(f, "%zu traces (one per process or rank)", m->nruns);
	fputs("</p>\n", f);
}

int ms_export_html(const struct ms_model *m, FILE *out)
{
	page_head(out, m);
	if (m->nruns > 1)
		runs_overview(out, m);
	for (size_t i = 0; i < m->nruns; i++) {
		const struct ms_run *r = &m->runs[i];
		char lab[64];
		const char *suffix = NULL;
		if (m->nruns > 1) {
			ms_run_label(r, lab, sizeof(lab));
			suffix = lab;
			fputs("<div class=\"runhead\">", out);
			esc(out, lab);
			fputs(": ", out);
			esc(out, r->path);
			fputs("</div>\n", out);
		}
		fputs("<section class=\"run\">\n", out);
		summary(out, r, suffix);
		if (timeline(out, r, suffix) < 0)
			return -ENOMEM;
		strip(out, r, suffix);
		memory(out, r, suffix);
		problems(out, r, suffix);
		layer_table(out, r, suffix);
		site_table(out, r, suffix);
		fputs("</section>\n", out);
	}
	fputs("<footer>Generated by metashim " MS_VERSION " (metashim export --format html) from", out);
	for (size_t i = 0; i < m->nruns; i++) {
		fputs(i ? ", " : " ", out);
		esc(out, m->runs[i].path);
	}
	fputs(". Self-contained: no scripts, no network.</footer>\n</main>\n</body>\n</html>\n", out);
	return ferror(out) ? -EIO : 0;
}
