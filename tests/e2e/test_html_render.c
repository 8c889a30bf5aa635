/* test_html_render.c — the HTML report in a real browser: headless Chromium
 * (Debian's chromium, installed by tests/browser/install-chromium.sh when absent)
 * renders a report of a hand-written load, and the screenshot is not blank and
 * the rendered document has the report's titles. Every Chromium run is bounded
 * (tests/browser/render.sh); METASHIM_SKIP_BROWSER=1 skips the test. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"
#include "model.h"

#define LAYERS 24

/* The repository root: the first of the working directory and the build
 * directory's parents that holds tests/browser/render.sh; malloc'd. */
static char *find_root(void)
{
	char cwd[PATH_MAX];
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	const char *start[2] = { cwd, e2e_build() };
	for (int s = 0; s < 2; s++) {
		char *dir = strdup(start[s]), *probe;
		cr_assert_not_null(dir);
		for (int up = 0; up < 5; up++) {
			cr_assert(asprintf(&probe, "%s/tests/browser/render.sh", dir) > 0);
			bool found = access(probe, R_OK) == 0;
			free(probe);
			if (found)
				return dir;
			char *slash = strrchr(dir, '/');
			if (!slash || slash == dir)
				break;
			*slash = 0;
		}
		free(dir);
	}
	cr_assert_fail("tests/browser/render.sh not found above %s or %s", start[0], start[1]);
	return NULL;
}

/* Run a shell command built from fmt; returns system()'s status. */
static int shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int shell(const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	va_start(ap, fmt);
	cr_assert(vasprintf(&cmd, fmt, ap) > 0);
	va_end(ap);
	int rc = system(cmd);
	free(cmd);
	return rc;
}

static void need_chromium(const char *root)
{
	if (getenv("METASHIM_SKIP_BROWSER"))
		cr_skip_test("METASHIM_SKIP_BROWSER is set");
	if (access("/usr/bin/chromium", X_OK) == 0)
		return;
	cr_assert_eq(shell("bash %s/tests/browser/install-chromium.sh", root), 0,
	             "chromium is missing and could not be installed (apt-get install chromium); "
	             "METASHIM_SKIP_BROWSER=1 skips this test");
}

/* A load of LAYERS layers, one loaded twice and one never, with memory rising. */
static void write_trace(const char *path)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "metashim-trace 1\n"
	           "header fmt=1 shim=0.1.0 pid=42 ppid=1 rank=-1 world=-1 host=ci exe=/opt/load_runtime "
	           "argv=/opt/load_runtime%%20/ckpt cwd=/w wall_ns=1700000000000000000 mode=trace\n");
	for (int i = 0; i < LAYERS; i++)
		fprintf(f,
		        "layer id=%d name=model.layers.%d.mlp\n"
		        "tensor id=%d layer=%d name=model.layers.%d.mlp.up.weight dtype=BF16 esize=2 "
		        "shape=512,512 "
		        "stride=512,1 elems=262144 skip=0\n",
		        i + 1, i, i + 1, i + 1, i);
	unsigned long long t = 1000000, seq = 1;
	for (int i = 0; i < LAYERS; i++) {
		unsigned long long ptr = 0x7e0000000000ull + (unsigned long long)i * 0x100000;
		fprintf(f,
		        "alloc seq=%llu t=%llu dur=2000 tid=42 api=cudaMalloc ptr=0x%llx bytes=524288 "
		        "stream=0x0 rc=0 "
		        "stack=0\n",
		        seq++, t, ptr);
		t += 10000;
		if (i == 7)
			continue; /* never loaded */
		for (int half = 0; half < (i == 15 ? 3 : 2); half++) {
			fprintf(f,
			        "copy seq=%llu t=%llu dur=150000 tid=42 api=cudaMemcpyAsync dir=H2D "
			        "dst=0x%llx src=0x1000 "
			        "bytes=262144 stream=0x7 rc=0 stack=0\n"
			        "attr seq=%llu tensor=%d off=%d elems=131072 copied=%d\n",
			        seq, t, ptr + (half % 2) * 262144ull, seq, i + 1, (half % 2) * 131072,
			        (half + 1) * 131072);
			seq++;
			t += 160000;
		}
		fprintf(f, "complete t=%llu seq=%llu layer=%d loads=1\n", t - 10000, seq - 1, i + 1);
	}
	fprintf(f, "footer t=%llu events=%llu dropped=0\n", t + 1000000, seq);
	cr_assert_eq(fclose(f), 0);
}

static void export_html(const char *trace, const char *html)
{
	static const struct ms_model_opts quiet = { .quiet = true };
	char *paths[1] = { (char *)trace };
	struct ms_model m;
	cr_assert_eq(ms_model_load(&m, paths, 1, &quiet), 0);
	FILE *f = fopen(html, "w");
	cr_assert_not_null(f);
	cr_assert_eq(ms_export_html(&m, f), 0);
	cr_assert_eq(fclose(f), 0);
	ms_model_free(&m);
}

Test(html_render, the_report_renders_non_blank_with_its_titles, .timeout = 1200)
{
	char *root = find_root(), *dir, *trace, *html, *png, *dom, *cmd, stats[256] = "";
	need_chromium(root);
	dir = e2e_tmpdir();
	cr_assert(asprintf(&trace, "%s/load.trace", dir) > 0 && asprintf(&html, "%s/report.html", dir) > 0 &&
	          asprintf(&png, "%s/report.png", dir) > 0 && asprintf(&dom, "%s/report.dom", dir) > 0);
	write_trace(trace);
	export_html(trace, html);

	cr_assert_eq(shell("bash %s/tests/browser/render.sh %s %s %s", root, html, png, dom), 0,
	             "headless chromium failed (see its output above)");

	/* Not blank: many colours (text antialiasing, plots), and ink beyond the background. */
	cr_assert(asprintf(&cmd, "python3 %s/tests/browser/png_stats.py %s", root, png) > 0);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_not_null(fgets(stats, sizeof(stats), p));
	cr_assert_eq(pclose(p), 0, "png_stats: %s", stats);
	unsigned w = 0, h = 0, colours = 0;
	double inked = 0;
	cr_assert_eq(sscanf(stats, "%ux%u colours=%u inked=%lf", &w, &h, &colours, &inked), 4, "%s", stats);
	cr_expect_eq(w, 1400);
	cr_expect_eq(h, 1000);
	cr_expect_geq(colours, 16, "a near-blank screenshot: %s", stats);
	cr_expect_gt(inked, 0.05, "a near-blank screenshot: %s", stats);

	/* The document Chromium rendered has the titles and the plots. */
	size_t len;
	char *text = e2e_slurp(dom, &len);
	cr_assert_not_null(text);
	static const char *const want[] = { "<h1>metashim report</h1>",  "<h2>Summary</h2>",
		                            "<h2>Load timeline</h2>",    "<h2>Layer completeness</h2>",
		                            "<h2>Memory over time</h2>", "<h2>Problems</h2>",
		                            "<h2>Layers</h2>",           "class=\"row never\"",
		                            "class=\"cell twice\"" };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect_not_null(strstr(text, want[i]), "the rendered page lacks %s", want[i]);
	free(text);
	free(cmd);
	free(trace);
	free(html);
	free(png);
	free(dom);
	free(root);
	e2e_cleanup(dir);
}
