/* Unit tests of the trace writer (shim/trace.c): record builders, lazy file
 * creation, naming, never overwriting, fork, concurrency and the footer. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "trace_dir.h"

static char dir[] = "/tmp/ms-trace-test-XXXXXX";
static struct ms_config cfg;

static void setup(void)
{
	trace_dir_open(dir, &cfg);
}

static void teardown(void)
{
	trace_dir_remove(dir);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	static char text[1 << 20];
	size_t n;

	if (!f)
		return NULL;
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

static char *own_trace(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/t-%d.trace", dir, (int)getpid());
	return slurp(path);
}

static int count_lines(const char *text, const char *prefix)
{
	int n = 0;
	size_t pl = strlen(prefix);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, prefix, pl))
			n++;
		if (!strchr(p, '\n'))
			break;
	}
	return n;
}

static void emit_copy(uint64_t seq)
{
	struct ms_line l;

	ms_line_begin(&l, MS_REC_COPY);
	ms_line_u64(&l, "seq", seq);
	ms_line_str(&l, "api", "cudaMemcpy");
	ms_line_emit(&l);
}

Test(trace_line, fields_are_space_separated_key_values)
{
	struct ms_line l;

	ms_line_begin(&l, "copy");
	ms_line_u64(&l, "seq", 42);
	ms_line_i64(&l, "rc", -3);
	ms_line_i64(&l, "zero", 0);
	ms_line_hex(&l, "dst", 0x7f00dead0000ull);
	ms_line_hex(&l, "src", 0);
	ms_line_str(&l, "api", "cudaMemcpy Async=x");
	ms_line_str(&l, "empty", "");
	ms_line_u64(&l, "max", UINT64_MAX);
	cr_assert_str_eq(l.buf, "copy seq=42 rc=-3 zero=0 dst=0x7f00dead0000 src=0x0 "
	                        "api=cudaMemcpy%20Async%3Dx empty= max=18446744073709551615");
	cr_assert_eq(l.len, strlen(l.buf));
}

Test(trace_line, min_i64_is_written_exactly)
{
	struct ms_line l;

	ms_line_begin(&l, "x");
	ms_line_i64(&l, "v", INT64_MIN);
	cr_assert_str_eq(l.buf, "x v=-9223372036854775808");
}

Test(trace_line, overlong_values_are_cut_and_the_line_stays_bounded)
{
	static struct ms_line l;
	static char big[3 * MS_TRACE_MAX_LINE];

	memset(big, ' ', sizeof(big) - 1);
	ms_line_begin(&l, "warn");
	ms_line_str(&l, "msg", big);
	ms_line_u64(&l, "after", 1);
	cr_assert_lt(l.len, MS_TRACE_MAX_LINE);
	cr_assert_eq(l.len, strlen(l.buf));
	cr_assert_null(strstr(l.buf, "after="), "a field that does not fit is left out whole");
	cr_assert_eq((l.len - strlen("warn msg=")) % 3, 0, "only whole %%20 escapes");
}

TestSuite(trace, .init = setup, .fini = teardown);

Test(trace, no_file_exists_before_the_first_record)
{
	struct ms_line l;

	ms_line_begin(&l, MS_REC_WARN);
	ms_line_str(&l, "msg", "pending only");
	ms_line_emit_pending(&l);
	ms_trace_flush();
	cr_assert_null(own_trace());
	cr_assert_not(ms_trace_active());
	ms_trace_close();
	cr_assert_null(own_trace(), "warnings alone never create a file");
}

Test(trace, first_record_creates_file_with_magic_header_and_footer)
{
	emit_copy(ms_next_seq());
	cr_assert(ms_trace_active());
	ms_trace_close();
	char *t = own_trace();
	cr_assert_not_null(t);
	cr_assert_eq(strncmp(t, "metashim-trace 1\nheader fmt=1 shim=", 35), 0, "%s", t);
	char pid[32];
	snprintf(pid, sizeof(pid), " pid=%d ", (int)getpid());
	cr_assert(strstr(t, pid), "%s", t);
	cr_assert(strstr(t, " mode=trace"));
	cr_assert(strstr(t, " exe=/"));
	cr_assert(strstr(t, " argv="));
	cr_assert(strstr(t, " wall_ns="));
	cr_assert(strstr(t, " ppid="));
	cr_assert(strstr(t, " cwd=/"));
	cr_assert(strstr(t, " host="));
	cr_assert(strstr(t, " rank="));
	cr_assert(strstr(t, " world="));
	cr_assert(strstr(t, "\ncopy seq=1 api=cudaMemcpy\n"), "%s", t);
	cr_assert(strstr(t, "\nfooter t="), "%s", t);
	cr_assert(strstr(t, " events=1 dropped=0\n"), "%s", t);
	cr_assert_eq(t[strlen(t) - 1], '\n');
}

Test(trace, pending_warnings_follow_the_header_once_a_file_exists)
{
	struct ms_line l;

	ms_line_begin(&l, MS_REC_WARN);
	ms_line_str(&l, "msg", "early");
	ms_line_emit_pending(&l);
	emit_copy(1);
	ms_trace_close();
	char *t = own_trace();
	cr_assert_not_null(t);
	char *h = strstr(t, "\nheader "), *w = strstr(t, "\nwarn msg=early\n"), *c = strstr(t, "\ncopy ");
	cr_assert(h && w && c && h < w && w < c, "%s", t);
}

Test(trace, file_is_private_to_the_user)
{
	char path[256];
	struct stat st;

	emit_copy(1);
	ms_trace_flush();
	snprintf(path, sizeof(path), "%s/t-%d.trace", dir, (int)getpid());
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
}

Test(trace, an_existing_file_is_never_overwritten)
{
	char path[256], alt[300];
	int fd;

	snprintf(path, sizeof(path), "%s/t-%d.trace", dir, (int)getpid());
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "keep\n", 5), 5);
	close(fd);
	snprintf(alt, sizeof(alt), "%s.1", path);
	fd = open(alt, O_CREAT | O_WRONLY, 0644);
	close(fd);

	emit_copy(1);
	ms_trace_close();
	cr_assert_str_eq(slurp(path), "keep\n");
	cr_assert_str_eq(slurp(alt), "");
	snprintf(alt, sizeof(alt), "%s.2", path);
	cr_assert_str_eq(ms_trace_path(), alt);
	cr_assert_not_null(strstr(slurp(alt), "copy seq=1"));
}

Test(trace, pattern_expands_pid_rank_and_percent)
{
	char want[300];

	setenv("RANK", "3", 1);
	snprintf(cfg.out, sizeof(cfg.out), "%s/r%%r-p%%p-%%%%-%%x", dir);
	ms_trace_open(&cfg);
	emit_copy(1);
	snprintf(want, sizeof(want), "%s/r3-p%d-%%-%%x", dir, (int)getpid());
	cr_assert_str_eq(ms_trace_path(), want);
	ms_trace_close();
	cr_assert(strstr(slurp(want), " rank=3 "));
}

Test(trace, rank_falls_back_to_local_rank_then_zero)
{
	char want[300];

	unsetenv("RANK");
	setenv("LOCAL_RANK", "5", 1);
	snprintf(cfg.out, sizeof(cfg.out), "%s/r%%r", dir);
	ms_trace_open(&cfg);
	emit_copy(1);
	snprintf(want, sizeof(want), "%s/r5", dir);
	cr_assert_str_eq(ms_trace_path(), want);

	unsetenv("LOCAL_RANK");
	snprintf(cfg.out, sizeof(cfg.out), "%s/q%%r", dir);
	ms_trace_open(&cfg);
	emit_copy(1);
	snprintf(want, sizeof(want), "%s/q0", dir);
	cr_assert_str_eq(ms_trace_path(), want);
	ms_trace_close();
	cr_assert(strstr(slurp(want), " rank=-1 "), "the header says when no rank is known");
}

Test(trace, options_in_force_are_recorded)
{
	setenv("METASHIM_BACKTRACE", "4", 1);
	setenv("METASHIM_OUT", "some where", 1);
	emit_copy(1);
	ms_trace_close();
	char *t = own_trace();
	cr_assert(strstr(t, "\noption key=METASHIM_BACKTRACE value=4\n"), "%s", t);
	cr_assert(strstr(t, "\noption key=METASHIM_OUT value=some%20where\n"), "%s", t);
}

Test(trace, records_reach_the_file_when_the_buffer_fills)
{
	cfg.buffer_bytes = 8 * MS_TRACE_MAX_LINE;
	ms_trace_open(&cfg);
	for (int i = 1; i <= 5000; i++)
		emit_copy((uint64_t)i);
	char *t = own_trace();
	cr_assert_not_null(t);
	int n = count_lines(t, "copy ");
	cr_assert_gt(n, 3000, "most records are written before close (%d)", n);
	cr_assert_eq(t[strlen(t) - 1], '\n', "only whole lines reach the file");
	ms_trace_close();
	cr_assert_eq(count_lines(own_trace(), "copy "), 5000);
}

Test(trace, records_after_close_are_dropped)
{
	emit_copy(1);
	ms_trace_close();
	emit_copy(2);
	ms_trace_close();
	char *t = own_trace();
	cr_assert_eq(count_lines(t, "copy "), 1);
	cr_assert_eq(count_lines(t, "footer "), 1);
}

Test(trace, a_forked_child_writes_its_own_file_even_when_it_leaves_by_exit)
{
	emit_copy(ms_next_seq());
	ms_trace_fork_prepare();
	pid_t pid = fork();
	if (pid == 0) {
		ms_trace_after_fork_child();
		emit_copy(ms_next_seq());
		emit_copy(ms_next_seq());
		_exit(0); /* no destructors, no close: records must be on disk already */
	}
	ms_trace_fork_parent();
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	emit_copy(ms_next_seq());
	ms_trace_close();

	char *t = own_trace();
	cr_assert_eq(count_lines(t, "copy "), 2, "%s", t);
	cr_assert_eq(count_lines(t, "metashim-trace "), 1);
	char path[256];
	snprintf(path, sizeof(path), "%s/t-%d.trace", dir, (int)pid);
	t = slurp(path);
	cr_assert_not_null(t, "child trace %s", path);
	cr_assert_eq(count_lines(t, "copy "), 2, "%s", t);
	cr_assert(strstr(t, "\ncopy seq=1 "), "the child's events count from 1: %s", t);
	char ppid[32];
	snprintf(ppid, sizeof(ppid), " ppid=%d ", (int)getpid());
	cr_assert(strstr(t, ppid), "%s", t);
}

static void *writer(void *arg)
{
	for (int i = 0; i < 2000; i++)
		emit_copy(ms_next_seq());
	return arg;
}

Test(trace, eight_threads_lose_no_record_and_split_no_line)
{
	pthread_t th[8];

	cfg.buffer_bytes = 16 * MS_TRACE_MAX_LINE;
	ms_trace_open(&cfg);
	for (int i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, writer, NULL);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	ms_trace_close();
	char *t = own_trace();
	cr_assert_eq(count_lines(t, "copy seq="), 16000);
	cr_assert(strstr(t, " events=16000 "), "footer counts events");
	for (char *p = strstr(t, "\ncopy "); p; p = strstr(p + 1, "\ncopy "))
		cr_assert_eq(strncmp(strchr(p + 1, ' ') + 1 + strcspn(strchr(p + 1, ' ') + 1, " "),
		                     " api=cudaMemcpy\n", 16),
		             0);
}

Test(trace, clock_and_sequence_start_at_open)
{
	uint64_t a = ms_now_ns(), b = ms_now_ns();

	cr_assert_leq(a, b);
	cr_assert_eq(ms_next_seq(), 1);
	cr_assert_eq(ms_next_seq(), 2);
}

Test(trace, unwritable_directory_turns_tracing_off_quietly)
{
	snprintf(cfg.out, sizeof(cfg.out), "/nonexistent-dir-ms/t.trace");
	ms_trace_open(&cfg);
	emit_copy(1);
	cr_assert_not(ms_trace_active());
	emit_copy(2);
	ms_trace_close();
}
