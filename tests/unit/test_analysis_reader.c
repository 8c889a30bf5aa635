/* test_analysis_reader.c — the streaming trace reader: records and fields, cut-short
 * traces, malformed lines named by file:line, newer versions refused, decoding. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace_reader.h"

struct seen {
	int records;
	char types[64][16];
	uint64_t last_bytes;
	char exe[256];
};

static int collect(struct ms_record *r, void *user)
{
	struct seen *s = user;
	if (s->records < 64)
		snprintf(s->types[s->records], 16, "%s", r->type);
	s->records++;
	uint64_t b;
	if (ms_rec_u64(r, "bytes", &b) == 0)
		s->last_bytes = b;
	const char *exe = ms_rec_str(r, "exe");
	if (exe)
		snprintf(s->exe, sizeof(s->exe), "%s", exe);
	return 0;
}

static char *write_tmp(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/ms-reader-XXXXXX");
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

#define GOOD                                                                              \
	"metashim-trace 1\n"                                                              \
	"header fmt=1 pid=7 exe=/opt/my%20loader argv=a mode=trace\n"                     \
	"copy seq=1 t=5 dur=2 tid=1 api=cudaMemcpy dir=H2D dst=0x10 src=0x20 bytes=4096 " \
	"stream=0x0 rc=0 stack=0\n"

Test(analysis_reader, good_trace_gives_every_record_and_its_fields)
{
	struct seen s = { 0 };
	struct ms_trace_info info;
	char err[256];
	char *p = write_tmp(GOOD "footer t=9 events=1 dropped=0\n");
	cr_assert_eq(ms_trace_read(p, collect, &s, &info, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(s.records, 3);
	cr_expect_str_eq(s.types[0], "header");
	cr_expect_str_eq(s.types[2], "footer");
	cr_expect_eq(s.last_bytes, 4096);
	cr_expect(info.footer);
	cr_expect_not(info.partial_line);
	cr_expect_eq(info.version, 1);
	cr_expect_eq(info.lines, 4);
	unlink(p);
}

Test(analysis_reader, strings_are_percent_decoded)
{
	struct seen s = { 0 };
	struct ms_trace_info info;
	char err[256];
	cr_assert_eq(ms_trace_read_mem("mem", GOOD, strlen(GOOD), collect, &s, &info, err, sizeof(err)), 0);
	cr_expect_str_eq(s.exe, "/opt/my loader");
}

Test(analysis_reader, trace_without_footer_is_read_to_its_last_whole_line)
{
	struct seen s = { 0 };
	struct ms_trace_info info;
	char err[256];
	cr_assert_eq(ms_trace_read_mem("cut", GOOD, strlen(GOOD), collect, &s, &info, err, sizeof(err)), 0);
	cr_expect_eq(s.records, 2);
	cr_expect_not(info.footer);
	cr_expect_not(info.partial_line);
}

Test(analysis_reader, partial_last_line_is_ignored_and_flagged)
{
	struct seen s = { 0 };
	struct ms_trace_info info;
	char err[256];
	const char *t = GOOD "copy seq=2 t=9 dur=1 api=cudaMemcpy dir=H2D bytes=12";
	char *p = write_tmp(t);
	cr_assert_eq(ms_trace_read(p, collect, &s, &info, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(s.records, 2);
	cr_expect_eq(s.last_bytes, 4096, "the partial copy must not be seen");
	cr_expect(info.partial_line);
	cr_expect_not(info.footer);
	unlink(p);
}

Test(analysis_reader, malformed_line_is_an_error_naming_file_and_line)
{
	struct seen s = { 0 };
	struct ms_trace_info info;
	char err[256];
	const char *t = GOOD "copy seq=2 t=9 garbage bytes=1\n";
	int rc = ms_trace_read_mem("x.trace", t, strlen(t), collect, &s, &info, err, sizeof(err));
	cr_expect_eq(rc, -EINVAL);
	cr_expect(strstr(err, "x.trace:4:") != NULL, "got: %s", err);
	cr_expect(strstr(err, "key=value") != NULL, "got: %s", err);
}

Test(analysis_reader, bad_number_is_reported_with_the_key)
{
	struct ms_record r = { .type = "copy", .nf = 1, .path = "y.trace", .line = 12 };
	char err[256];
	char val[] = "12x";
	r.f[0].key = "bytes";
	r.f[0].val = val;
	r.err = err;
	r.errcap = sizeof(err);
	uint64_t v;
	cr_expect_eq(ms_rec_need_u64(&r, "bytes", &v), -EINVAL);
	cr_expect(strstr(err, "y.trace:12: copy record: expected bytes=<number>") != NULL, "got: %s", err);
	cr_expect_eq(ms_rec_need_u64(&r, "seq", &v), -EINVAL);
	cr_expect(strstr(err, "seq") != NULL);
}

Test(analysis_reader, newer_format_version_is_refused_clearly)
{
	struct seen s = { 0 };
	struct ms_trace_info info;
	char err[256];
	const char *t = "metashim-trace 99\nheader fmt=99\n";
	int rc = ms_trace_read_mem("new.trace", t, strlen(t), collect, &s, &info, err, sizeof(err));
	cr_expect_eq(rc, -EINVAL);
	cr_expect(strstr(err, "version 99 is newer") != NULL, "got: %s", err);
	cr_expect_eq(s.records, 0);
}

Test(analysis_reader, a_file_that_is_not_a_trace_is_refused)
{
	struct seen s = { 0 };
	struct ms_trace_info info;
	char err[256];
	const char *t = "hello world\n";
	cr_expect_lt(ms_trace_read_mem("hello", t, strlen(t), collect, &s, &info, err, sizeof(err)), 0);
	cr_expect(strstr(err, "not a metashim trace") != NULL, "got: %s", err);
	cr_expect_lt(ms_trace_read_mem("empty", "", 0, collect, &s, &info, err, sizeof(err)), 0);
	cr_expect(strstr(err, "empty") != NULL, "got: %s", err);
}

Test(analysis_reader, unknown_records_and_keys_are_passed_over)
{
	struct seen s = { 0 };
	struct ms_trace_info info;
	char err[256];
	const char *t = "metashim-trace 1\nfuture a=1 b=2\ncopy bytes=7 newkey=zz\n";
	cr_assert_eq(ms_trace_read_mem("f", t, strlen(t), collect, &s, &info, err, sizeof(err)), 0, "%s",
	             err);
	cr_expect_eq(s.records, 2);
	cr_expect_eq(s.last_bytes, 7);
}

Test(analysis_reader, numbers_parse_as_decimal_and_hex)
{
	uint64_t v;
	cr_expect_eq(ms_parse_u64("18446744073709551615", &v), 0);
	cr_expect_eq(v, UINT64_MAX);
	cr_expect_eq(ms_parse_u64("18446744073709551616", &v), -EINVAL);
	cr_expect_eq(ms_parse_u64("0x7f00aB", &v), 0);
	cr_expect_eq(v, 0x7f00ab);
	cr_expect_eq(ms_parse_u64("", &v), -EINVAL);
	cr_expect_eq(ms_parse_u64("0x", &v), -EINVAL);
	cr_expect_eq(ms_parse_u64("-1", &v), -EINVAL);
}

Test(analysis_reader, missing_file_is_an_error_naming_it)
{
	struct seen s = { 0 };
	struct ms_trace_info info;
	char err[256];
	cr_expect_eq(ms_trace_read("/nonexistent/t.trace", collect, &s, &info, err, sizeof(err)), -ENOENT);
	cr_expect(strstr(err, "/nonexistent/t.trace") != NULL);
}
