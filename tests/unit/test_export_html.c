/* test_export_html.c — `export --format html` on hand-written traces: the page is
 * well-formed markup (checked by python3's XML parser), has its section titles,
 * one timeline row and one strip cell per layer coloured by status, the problems
 * with their call sites, escapes every string from the trace and needs no network. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"

static const struct ms_model_opts quiet = { .quiet = true };

#define HEAD(pid, rank)                                                                                  \
	"metashim-trace 1\n"                                                                             \
	"header fmt=1 shim=0.1.0 pid=" #pid " ppid=1 rank=" #rank " world=2 host=node1 exe=/opt/loader " \
	"argv=/opt/loader%20--fast cwd=/w wall_ns=1700000000000000000 mode=trace\n"

/* Four layers: complete, loaded twice, partial, never loaded. */
#define FOUR                                                                                              \
	"module id=1 base=0x400000 end=0x410000 path=/opt/loader buildid=-\n"                             \
	"stack id=1 parent=0 pc=0x401100\n"                                                               \
	"layer id=1 name=model.embed\nlayer id=2 name=model.layers.0\n"                                   \
	"layer id=3 name=model.layers.1\nlayer id=4 name=model.norm\n"                                    \
	"tensor id=1 layer=1 name=model.embed.w dtype=F32 esize=4 shape=64 stride=1 elems=64 skip=0\n"    \
	"tensor id=2 layer=2 name=model.layers.0.w dtype=F32 esize=4 shape=64 stride=1 elems=64 skip=0\n" \
	"tensor id=3 layer=3 name=model.layers.1.w dtype=F32 esize=4 shape=64 stride=1 elems=64 skip=0\n" \
	"tensor id=4 layer=4 name=model.norm.w dtype=F32 esize=4 shape=64 stride=1 elems=64 skip=0\n"     \
	"alloc seq=1 t=1000 dur=10 tid=1 api=cudaMalloc ptr=0x7e00 bytes=1024 stream=0x0 rc=0 stack=0\n"  \
	"copy seq=2 t=1000000 dur=1000 tid=1 api=cudaMemcpy dir=H2D dst=0x7e00 src=0x10 bytes=256 "       \
	"stream=0x0 rc=0 stack=1\n"                                                                       \
	"attr seq=2 tensor=1 off=0 elems=64 copied=64\n"                                                  \
	"complete t=1001000 seq=2 layer=1 loads=1\n"                                                      \
	"copy seq=3 t=2000000 dur=1000 tid=1 api=cudaMemcpy dir=H2D dst=0x7f00 src=0x20 bytes=256 "       \
	"stream=0x0 rc=0 stack=1\n"                                                                       \
	"attr seq=3 tensor=2 off=0 elems=64 copied=64\n"                                                  \
	"complete t=2001000 seq=3 layer=2 loads=1\n"                                                      \
	"copy seq=4 t=3000000 dur=1000 tid=1 api=cudaMemcpy dir=H2D dst=0x7f00 src=0x20 bytes=256 "       \
	"stream=0x0 rc=0 stack=1\n"                                                                       \
	"attr seq=4 tensor=2 off=0 elems=64 copied=128\n"                                                 \
	"copy seq=5 t=4000000 dur=1000 tid=1 api=cudaMemcpy dir=H2D dst=0x8000 src=0x30 bytes=128 "       \
	"stream=0x0 rc=0 stack=1\n"                                                                       \
	"attr seq=5 tensor=3 off=0 elems=32 copied=32\n"                                                  \
	"free seq=6 t=5000000 dur=10 tid=1 api=cudaFree ptr=0x7e00 bytes=0 stream=0x0 rc=0 stack=0\n"     \
	"footer t=6000000 events=5 dropped=0\n"

struct page {
	char trace[4][32];
	size_t ntraces;
	char html[32];
	char *text; /* the page */
	size_t len;
	char *parsed; /* what the XML check printed */
};

static void add_trace(struct page *p, const char *text)
{
	char *path = p->trace[p->ntraces++];
	strcpy(path, "/tmp/ms-html-XXXXXX");
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* Parse the page with python3's XML parser; print its titles, timeline rows, strip
 * cells and completion markers, one per line ("title T", "row STATUS", "cell
 * STATUS", "done"), then "ok". */
static const char check_py[] = "import sys, xml.etree.ElementTree as E\n"
                               "for e in E.parse(sys.argv[1]).iter():\n"
                               "    tag = e.tag.split('}')[-1]\n"
                               "    c = (e.get('class') or '').split()\n"
                               "    if tag in ('h1', 'h2'): print('title', ''.join(e.itertext()))\n"
                               "    if tag == 'g' and c[:1] == ['row']: print('row', c[1])\n"
                               "    if tag == 'rect' and c[:1] == ['cell']: print('cell', c[1])\n"
                               "    if tag in ('path', 'rect') and c[:1] == ['done']: print('done')\n"
                               "print('ok')\n";

static char *run_check(const char *html)
{
	char script[] = "/tmp/ms-html-check-XXXXXX", cmd[256], *out = NULL;
	size_t cap = 0, n = 0, got;
	int fd = mkstemp(script);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, check_py, strlen(check_py)), (ssize_t)strlen(check_py));
	close(fd);
	snprintf(cmd, sizeof(cmd), "python3 %s %s 2>&1", script, html);
	FILE *f = popen(cmd, "r");
	cr_assert_not_null(f);
	char buf[4096];
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (n + got + 1 > cap) {
			cap = (n + got + 1) * 2;
			out = realloc(out, cap);
			cr_assert_not_null(out);
		}
		memcpy(out + n, buf, got);
		n += got;
	}
	out = out ? out : strdup("");
	out[n] = 0;
	int st = pclose(f);
	unlink(script);
	cr_assert_eq(st, 0, "the page is not well-formed XML:\n%s", out);
	return out;
}

static void render(struct page *p)
{
	if (system("command -v python3 >/dev/null 2>&1") != 0)
		cr_skip_test("python3 is not installed (make deps installs it)");
	char *argv[4];
	struct ms_model m;
	for (size_t i = 0; i < p->ntraces; i++)
		argv[i] = p->trace[i];
	cr_assert_eq(ms_model_load(&m, argv, p->ntraces, &quiet), 0);
	ms_export_symbolize = false;
	strcpy(p->html, "/tmp/ms-html-out-XXXXXX");
	int fd = mkstemp(p->html);
	cr_assert(fd >= 0);
	FILE *f = fdopen(fd, "w");
	cr_assert_not_null(f);
	cr_assert_eq(ms_export_html(&m, f), 0);
	cr_assert_eq(fclose(f), 0);
	ms_model_free(&m);
	f = fopen(p->html, "r");
	cr_assert_not_null(f);
	size_t cap = 0;
	p->text = NULL;
	ssize_t got = getdelim(&p->text, &cap, 0, f);
	cr_assert(got > 0);
	p->len = (size_t)got;
	fclose(f);
	p->parsed = run_check(p->html);
}

static void done(struct page *p)
{
	for (size_t i = 0; i < p->ntraces; i++)
		unlink(p->trace[i]);
	unlink(p->html);
	free(p->text);
	free(p->parsed);
}

static size_t lines(const char *parsed, const char *line)
{
	size_t n = 0, len = strlen(line);
	for (const char *s = parsed; (s = strstr(s, line)); s += len)
		if ((s == parsed || s[-1] == '\n') && s[len] == '\n')
			n++;
	return n;
}

Test(export_html, is_well_formed_markup_with_the_section_titles)
{
	struct page p = { 0 };
	add_trace(&p, HEAD(101, -1) FOUR);
	render(&p);
	static const char *const titles[] = { "metashim report",  "Summary",
		                              "Load timeline",    "Layer completeness",
		                              "Memory over time", "Problems",
		                              "Layers",           "Top call sites" };
	const char *at = p.parsed;
	for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++) {
		char want[64];
		snprintf(want, sizeof(want), "title %s\n", titles[i]);
		const char *s = strstr(at, want);
		cr_expect_not_null(s, "title %s missing or out of order in:\n%s", titles[i], p.parsed);
		at = s ? s : at;
	}
	cr_expect(strstr(p.text, "<!DOCTYPE html>") == p.text);
	done(&p);
}

Test(export_html, has_one_timeline_row_and_one_strip_cell_per_layer_by_status)
{
	struct page p = { 0 };
	add_trace(&p, HEAD(101, -1) FOUR);
	render(&p);
	cr_expect_eq(lines(p.parsed, "row complete"), 1);
	cr_expect_eq(lines(p.parsed, "row twice"), 1);
	cr_expect_eq(lines(p.parsed, "row partial"), 1);
	cr_expect_eq(lines(p.parsed, "row never"), 1);
	cr_expect_eq(lines(p.parsed, "cell complete") + lines(p.parsed, "cell twice") +
	                     lines(p.parsed, "cell partial") + lines(p.parsed, "cell never"),
	             4);
	cr_expect_eq(lines(p.parsed, "cell never"), 1);
	done(&p);
}

Test(export_html, summary_gives_the_verdict_and_the_peaks)
{
	struct page p = { 0 };
	add_trace(&p, HEAD(101, -1) FOUR);
	render(&p);
	cr_expect(strstr(p.text, "3 problems: 1 never loaded, 1 partial, 1 loaded twice") != NULL);
	cr_expect(strstr(p.text, "(2 of 4 layers complete)") != NULL);
	cr_expect(strstr(p.text, "1.0 KiB") != NULL); /* the allocation peak */
	cr_expect(strstr(p.text, "/opt/loader --fast") != NULL);
	done(&p);
}

Test(export_html, lists_problems_with_their_call_sites)
{
	struct page p = { 0 };
	add_trace(&p, HEAD(101, -1) FOUR);
	render(&p);
	const char *table = strstr(p.text, "<h2>Problems</h2>");
	cr_assert_not_null(table);
	const char *end = strstr(table, "<h2>Layers</h2>");
	cr_assert_not_null(end);
	const char *site = strstr(table, "0x401100 [loader+0x1100]");
	cr_expect(site && site < end, "the call site is not in the problems table");
	const char *never = strstr(table, "model.norm.w");
	cr_expect(never && never < end, "the never-loaded tensor is not in the problems table");
	done(&p);
}

Test(export_html, escapes_every_string_from_the_trace)
{
	struct page p = { 0 };
	add_trace(&p, "metashim-trace 1\n"
	              "header fmt=1 pid=5 rank=-1 world=-1 exe=/bin/%3Cx%3E argv=a%26b%20%22q%22%20%27s%27 "
	              "host=h%FF%01 mode=trace\n"
	              "layer id=1 name=%3Cscript%3Ealert(1)%3C/script%3E\n"
	              "tensor id=1 layer=1 name=t%3Cu%3E dtype=U8 esize=1 shape=4 stride=1 elems=4 skip=0\n"
	              "warn t=1 msg=%3Ci%3E\n"
	              "footer t=30 events=0 dropped=0\n");
	render(&p); /* parses: nothing the trace said broke the markup */
	cr_expect_null(strstr(p.text, "<script"));
	cr_expect_null(strstr(p.text, "<x>"));
	cr_expect_null(strstr(p.text, "<u>"));
	cr_expect_not_null(strstr(p.text, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	cr_expect_not_null(strstr(p.text, "a&amp;b &quot;q&quot; &#39;s&#39;"));
	cr_expect_not_null(strstr(p.text, "h\xef\xbf\xbd\xef\xbf\xbd"));
	done(&p);
}

Test(export_html, needs_no_network)
{
	struct page p = { 0 };
	add_trace(&p, HEAD(101, -1) FOUR);
	render(&p);
	static const char *const fetches[] = { "<script", "<link", "<img", "<iframe", "<object",
		                               "src=",    "href=", "url(", "@import" };
	for (size_t i = 0; i < sizeof(fetches) / sizeof(fetches[0]); i++)
		cr_expect_null(strstr(p.text, fetches[i]), "the page contains %s", fetches[i]);
	/* The only URL is the SVG namespace name, which nothing fetches. */
	for (const char *s = p.text; (s = strstr(s, "http")); s++)
		cr_expect_eq(strncmp(s, "http://www.w3.org/2000/svg\"", 27), 0, "a URL: %.40s", s);
	done(&p);
}

Test(export_html, several_ranks_get_an_overview_and_titled_sections)
{
	struct page p = { 0 };
	add_trace(&p, HEAD(200, 0) FOUR);
	add_trace(&p, HEAD(201, 1) FOUR);
	render(&p);
	cr_expect_eq(lines(p.parsed, "title Runs"), 1);
	cr_expect_eq(lines(p.parsed, "title Summary \xc2\xb7 rank 0"), 1);
	cr_expect_eq(lines(p.parsed, "title Summary \xc2\xb7 rank 1"), 1);
	cr_expect_eq(lines(p.parsed, "title Load timeline \xc2\xb7 rank 1"), 1);
	cr_expect_eq(lines(p.parsed, "row never"), 2);
	done(&p);
}

Test(export_html, a_trace_without_layers_or_memory_still_renders)
{
	struct page p = { 0 };
	add_trace(&p, "metashim-trace 1\nheader fmt=1 pid=5 rank=-1 world=-1 mode=trace\n");
	render(&p);
	cr_expect_eq(lines(p.parsed, "title Load timeline"), 1);
	cr_expect_not_null(strstr(p.text, "No layers were described"));
	cr_expect_not_null(strstr(p.text, "No device memory was allocated"));
	cr_expect_not_null(strstr(p.text, "trace cut short"));
	done(&p);
}

Test(export_html, many_layers_stay_in_a_scrolling_area)
{
	size_t cap = 1 << 20, n = 0;
	char *t = malloc(cap);
	cr_assert_not_null(t);
	n += (size_t)snprintf(t + n, cap - n, "%s", HEAD(5, -1));
	for (int i = 1; i <= 400; i++)
		n += (size_t)snprintf(t + n, cap - n,
		                      "layer id=%d name=model.layers.%d\n"
		                      "tensor id=%d layer=%d name=model.layers.%d.w dtype=U8 esize=1 shape=8 "
		                      "stride=1 elems=8 skip=0\n",
		                      i, i, i, i, i);
	for (int i = 1; i <= 400; i++)
		n += (size_t)snprintf(t + n, cap - n,
		                      "copy seq=%d t=%d dur=100 tid=5 api=cudaMemcpy dir=H2D dst=0x1 src=0x2 "
		                      "bytes=8 stream=0x0 rc=0 stack=0\nattr seq=%d tensor=%d off=0 elems=8 "
		                      "copied=8\n",
		                      i, i * 1000, i, i);
	snprintf(t + n, cap - n, "footer t=500000 events=400 dropped=0\n");
	struct page p = { 0 };
	add_trace(&p, t);
	free(t);
	render(&p);
	cr_expect_eq(lines(p.parsed, "row complete"), 400);
	cr_expect_eq(lines(p.parsed, "cell complete"), 400);
	cr_expect_not_null(strstr(p.text, "max-height:560px;overflow-y:auto"));
	done(&p);
}

Test(export_html, output_is_deterministic)
{
	struct page a = { 0 }, b = { 0 };
	add_trace(&a, HEAD(101, -1) FOUR);
	render(&a);
	/* The same trace again, under the same name. */
	add_trace(&b, HEAD(101, -1) FOUR);
	rename(b.trace[0], a.trace[0]);
	strcpy(b.trace[0], a.trace[0]);
	render(&b);
	cr_assert_eq(a.len, b.len);
	cr_expect_str_eq(a.text, b.text);
	done(&a);
	done(&b);
}

Test(export_html, a_reloaded_layer_is_marked_at_each_completion)
{
	size_t cap = 1 << 16, n = 0;
	char *t = malloc(cap);
	cr_assert_not_null(t);
	n += (size_t)snprintf(
	        t + n, cap - n, "%s",
	        HEAD(5,
	             -1) "layer id=1 name=A\nlayer id=2 name=B\n"
	                 "tensor id=1 layer=1 name=A.w dtype=U8 esize=1 shape=8 stride=1 elems=8 skip=0\n"
	                 "tensor id=2 layer=2 name=B.w dtype=U8 esize=1 shape=8 stride=1 elems=8 skip=0\n");
	for (int i = 1; i <= 3; i++)
		n += (size_t)snprintf(
		        t + n, cap - n,
		        "copy seq=%d t=%d dur=10 tid=5 api=cudaMemcpy dir=H2D dst=0x1 src=0x2 bytes=8 "
		        "stream=0x0 rc=0 stack=0\nattr seq=%d tensor=1 off=0 elems=8 copied=%d\n"
		        "complete t=%d seq=%d layer=1 loads=%d\nrelease t=%d layer=1 bytes=8 backup=0\n",
		        i, i * 1000, i, 8 * i, i * 1000 + 10, i, i, i * 1000 + 20);
	snprintf(
	        t + n, cap - n,
	        "copy seq=9 t=5000 dur=10 tid=5 api=cudaMemcpy dir=H2D dst=0x1 src=0x2 bytes=8 stream=0x0 "
	        "rc=0 "
	        "stack=0\nattr seq=9 tensor=2 off=0 elems=8 copied=8\ncomplete t=5010 seq=9 layer=2 loads=1\n"
	        "footer t=6000 events=4 dropped=0\n");
	struct page p = { 0 };
	add_trace(&p, t);
	free(t);
	render(&p);
	cr_expect_eq(lines(p.parsed, "done"), 4);
	cr_expect_not_null(strstr(p.text, "completed 3 times"));
	done(&p);
}
