/* test_analysis_golden.c — the metashim command end to end on hand-written traces:
 * report/diff/merge outputs compared byte for byte with tests/golden/NAME.out (cases
 * in tests/golden/cases.txt), exit statuses, JSON that parses with the documented
 * fields, CSV rows. Run from the repository root (make test does). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *bin(void)
{
	static char path[4096];
	const char *b = getenv("METASHIM_TEST_BUILD");
	snprintf(path, sizeof(path), "%s/metashim", b ? b : "build");
	return path;
}

/* Run `metashim ARGS` and return its stdout (malloc'd) and exit status. */
static char *run(const char *args, int *status)
{
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "%s %s 2>/dev/null", bin(), args);
	FILE *p = popen(cmd, "r");
	cr_assert(p, "cannot run %s", cmd);
	size_t cap = 1 << 16, n = 0;
	char *out = malloc(cap);
	size_t got;
	while ((got = fread(out + n, 1, cap - n - 1, p)) > 0) {
		n += got;
		if (cap - n < 4096)
			out = realloc(out, cap *= 2);
	}
	out[n] = '\0';
	int st = pclose(p);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return out;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	s[fread(s, 1, (size_t)n, f)] = '\0';
	fclose(f);
	return s;
}

Test(analysis_golden, every_case_matches_its_golden_output_and_exit_status)
{
	FILE *cases = fopen("tests/golden/cases.txt", "r");
	cr_assert(cases, "run from the repository root (tests/golden/cases.txt)");
	cr_assert_eq(access(bin(), X_OK), 0, "no %s", bin());
	char line[1024];
	int n = 0;
	while (fgets(line, sizeof(line), cases)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		char name[128];
		int want, used = 0;
		cr_assert_eq(sscanf(line, "%127s %d %n", name, &want, &used), 2, "bad case line: %s", line);
		char gold[256];
		snprintf(gold, sizeof(gold), "tests/golden/%s.out", name);
		char *expect = slurp(gold);
		cr_assert(expect, "missing %s (tests/golden/update.sh writes it)", gold);
		int st;
		char *got = run(line + used, &st);
		cr_expect_eq(st, want, "%s: exit status %d, expected %d", name, st, want);
		cr_expect_str_eq(got, expect, "%s: output differs from %s", name, gold);
		free(got);
		free(expect);
		n++;
	}
	fclose(cases);
	cr_expect_geq(n, 10);
}

Test(analysis_golden, no_fail_turns_problems_into_exit_zero)
{
	int st;
	free(run("report --no-fail --no-symbolize tests/golden/double_load.trace", &st));
	cr_expect_eq(st, 0);
}

Test(analysis_golden, usage_and_read_errors_exit_two)
{
	int st;
	free(run("report", &st));
	cr_expect_eq(st, 2);
	free(run("report /nonexistent.trace", &st));
	cr_expect_eq(st, 2);
	free(run("frobnicate", &st));
	cr_expect_eq(st, 2);
	free(run("export --format xml tests/golden/clean.trace", &st));
	cr_expect_eq(st, 2);
}

Test(analysis_golden, every_command_explains_its_options)
{
	const char *cmds[] = { "run", "report", "export", "diff", "merge", "manifest" };
	for (size_t i = 0; i < 6; i++) {
		char args[64];
		int st;
		snprintf(args, sizeof(args), "%s --help", cmds[i]);
		char *out = run(args, &st);
		cr_expect_eq(st, 0, "%s --help", cmds[i]);
		cr_expect(strstr(out, "usage: metashim") != NULL, "%s --help", cmds[i]);
		free(out);
	}
	int st;
	char *v = run("--version", &st);
	cr_expect_eq(st, 0);
	cr_expect(strncmp(v, "metashim ", 9) == 0);
	free(v);
}

Test(analysis_export, json_parses_and_carries_the_documented_fields)
{
	int st;
	char *out = run("export --format json --no-symbolize tests/golden/unattributed.trace", &st);
	cr_assert_eq(st, 0);
	json_error_t e;
	json_t *doc = json_loads(out, 0, &e);
	cr_assert(doc, "JSON does not parse: %s at line %d", e.text, e.line);
	cr_expect_eq(json_integer_value(json_object_get(doc, "metashim_export")), 1);
	json_t *run0 = json_array_get(json_object_get(doc, "runs"), 0);
	cr_assert(run0);
	const char *sections[] = { "header", "trace",    "summary",    "apis",      "directions",
		                   "layers", "tensors",  "problems",   "callsites", "memory",
		                   "marks",  "warnings", "completions" };
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		cr_expect(json_object_get(run0, sections[i]), "no %s", sections[i]);
	json_t *sum = json_object_get(run0, "summary");
	cr_expect_eq(json_integer_value(json_object_get(sum, "unattr_bytes")), 65536);
	cr_expect_eq(json_integer_value(json_object_get(sum, "problems")), 3);
	cr_expect_eq(json_integer_value(json_object_get(sum, "live_peak")), 2097152);
	json_t *t0 = json_array_get(json_object_get(run0, "tensors"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(t0, "name")), "model.embed.weight");
	cr_expect_str_eq(json_string_value(json_object_get(t0, "status")), "twice");
	cr_expect_eq(json_array_size(json_object_get(t0, "shape")), 2);
	json_t *pb = json_object_get(run0, "problems");
	cr_expect_eq(json_array_size(pb), 3);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(pb, 2), "kind")), "unattributed");
	cr_expect_gt(json_array_size(json_object_get(json_object_get(run0, "memory"), "live")), 0);
	json_decref(doc);
	free(out);
}

Test(analysis_export, csv_has_a_header_and_one_quoted_row_per_tensor)
{
	int st;
	char *out = run("export --format csv tests/golden/clean.trace tests/golden/never_loaded.trace", &st);
	cr_assert_eq(st, 0);
	int rows = 0;
	for (char *p = out; (p = strstr(p, "\r\n")); p += 2)
		rows++;
	cr_expect_eq(rows, 1 + 3 + 3, "header + 3 tensors per trace");
	cr_expect(strncmp(out, "trace,rank,pid,layer,tensor,dtype,shape,", 40) == 0);
	cr_expect(strstr(out, ",\"1024,512\",") != NULL, "a shape with a comma is quoted");
	cr_expect(strstr(out, "model.layers.0.attn.q.weight,F32,\"512,512\",262144,4,0,never,0,0,") != NULL);
	free(out);
}

Test(analysis_export, perfetto_and_html_dispatch_to_their_exporters)
{
	int st;
	free(run("export --format perfetto -o /dev/null tests/golden/clean.trace", &st));
	cr_expect(st == 0 || st == 2, "perfetto: %d", st);
	free(run("export --format html -o /dev/null tests/golden/clean.trace", &st));
	cr_expect(st == 0 || st == 2, "html: %d", st);
}
