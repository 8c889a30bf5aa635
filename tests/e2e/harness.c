/* harness.c — spawning programs for the end-to-end tests. The child's environment
 * is built from nothing, so LD_PRELOAD never leaks into the test runner and what a
 * test asserts depends only on what it passed. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

#define E2E_DEADLINE_S 60 /* far above any test's need; only there so nothing hangs */

const char *e2e_build(void)
{
	static char build[4096];
	const char *b;

	if (build[0])
		return build;
	b = getenv("METASHIM_TEST_BUILD");
	if (!b || !*b)
		b = "build";
	if (!realpath(b, build))
		snprintf(build, sizeof(build), "%s", b);
	return build;
}

char *e2e_bin(const char *rel)
{
	char *p;

	if (asprintf(&p, "%s/%s", e2e_build(), rel) < 0)
		abort();
	return p;
}

char *e2e_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p;

	if (asprintf(&p, "%s/metashim-e2e-XXXXXX", base && *base ? base : "/tmp") < 0 || !mkdtemp(p))
		abort();
	return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void e2e_cleanup(char *dir)
{
	/* METASHIM_TEST_KEEP=1 leaves the traces for a person to read */
	if (dir && !getenv("METASHIM_TEST_KEEP"))
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

void e2e_env_add(struct e2e_env *e, const char *fmt, ...)
{
	va_list ap;

	if (e->n >= E2E_MAX_ENV)
		abort();
	va_start(ap, fmt);
	if (vasprintf(&e->v[e->n], fmt, ap) < 0)
		abort();
	va_end(ap);
	e->v[++e->n] = NULL;
}

void e2e_env_init(struct e2e_env *e, const char *dir, bool shim)
{
	const char *b = e2e_build();

	memset(e, 0, sizeof(*e));
	e2e_env_add(e, "PATH=/usr/local/bin:/usr/bin:/bin");
	e2e_env_add(e, "LD_LIBRARY_PATH=%s/fakecuda", b);
	e2e_env_add(e, "METASHIM_OUT=%s/trace-%%p.trace", dir);
	if (shim)
		e2e_env_add(e, "LD_PRELOAD=%s/libmetashim.so", b);
	if (strstr(b, "/san")) {
		e2e_env_add(e, "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0");
		e2e_env_add(e, "UBSAN_OPTIONS=print_stacktrace=1");
	}
}

void e2e_env_free(struct e2e_env *e)
{
	int i;

	for (i = 0; i < e->n; i++)
		free(e->v[i]);
	e->n = 0;
}

char *e2e_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		size_t got;

		if (cap - n < 65536) {
			char *nb = realloc(buf, cap + 65536 + 1);

			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

static int wait_with_deadline(pid_t pid, int *status)
{
	struct timespec nap = { 0, 2 * 1000 * 1000 };
	long waited_ms = 0;

	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);

		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return -1;
		if (waited_ms > E2E_DEADLINE_S * 1000L) {
			fprintf(stderr, "e2e: child %d still running after %d s, killing it\n", (int)pid,
			        E2E_DEADLINE_S);
			kill(pid, SIGKILL);
			return waitpid(pid, status, 0) == pid ? 0 : -1;
		}
		nanosleep(&nap, NULL);
		waited_ms += 2;
	}
}

int e2e_spawn(const struct e2e_env *env, const char *dir, char *const argv[], struct e2e_run *r)
{
	static atomic_int serial;
	char *out_path, *err_path;
	int n = atomic_fetch_add(&serial, 1), status = 0, fo, fe;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	if (asprintf(&out_path, "%s/.stdout-%d", dir, n) < 0 ||
	    asprintf(&err_path, "%s/.stderr-%d", dir, n) < 0)
		abort();
	fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fo < 0 || fe < 0)
		abort();
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		/* only async-signal-safe calls between fork and exec */
		if (dup2(fo, 1) < 0 || dup2(fe, 2) < 0 || chdir(dir))
			_exit(126);
		execve(argv[0], argv, (char *const *)env->v);
		_exit(127);
	}
	close(fo);
	close(fe);
	if (pid < 0 || wait_with_deadline(pid, &status)) {
		free(out_path);
		free(err_path);
		return -1;
	}
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r->out = e2e_slurp(out_path, NULL);
	r->err = e2e_slurp(err_path, NULL);
	if (!r->out)
		r->out = strdup("");
	if (!r->err)
		r->err = strdup("");
	unlink(out_path);
	unlink(err_path);
	free(out_path);
	free(err_path);
	return r->status == 127 && !*r->err ? -1 : 0;
}

int e2e_runl(const struct e2e_env *env, const char *dir, struct e2e_run *r, const char *prog, ...)
{
	char *argv[64];
	va_list ap;
	int n = 0;

	argv[n++] = (char *)prog;
	va_start(ap, prog);
	while (n < 63 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	return e2e_spawn(env, dir, argv, r);
}

void e2e_run_free(struct e2e_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

char *e2e_make_checkpoint(const char *dir, const char *const *args)
{
	char *argv[32], *ck, *gen = e2e_bin("examples/gen_checkpoint");
	struct e2e_env env;
	struct e2e_run r;
	int n = 0, rc;

	if (asprintf(&ck, "%s/ckpt", dir) < 0)
		abort();
	argv[n++] = gen;
	argv[n++] = "--out";
	argv[n++] = ck;
	while (args && *args && n < 31)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	e2e_env_init(&env, dir, false);
	rc = e2e_spawn(&env, dir, argv, &r);
	if (rc || r.status) {
		fprintf(stderr, "e2e: %s failed (%d): %s\n", gen, r.status, r.err ? r.err : "");
		free(ck);
		ck = NULL;
	}
	e2e_run_free(&r);
	e2e_env_free(&env);
	free(gen);
	return ck;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int e2e_list_traces(const char *dir, char ***names)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	*names = NULL;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char **v;

		if (len < 6 || strcmp(e->d_name + len - 6, ".trace"))
			continue;
		v = realloc(*names, (size_t)(n + 1) * sizeof(*v));
		if (!v || asprintf(&v[n], "%s/%s", dir, e->d_name) < 0)
			abort();
		*names = v;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(*names, (size_t)n, sizeof(**names), cmp_name);
	return n;
}

void e2e_free_names(char **names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

void e2e_load(const char *rel, const char *dir, bool shim, const char *const *extra_env,
              const char *const *opts, const char *last, struct e2e_trace *t)
{
	char *argv[32], *bin = e2e_bin(rel);
	struct e2e_env env;
	struct e2e_run r;
	int n = 0;

	argv[n++] = bin;
	while (opts && *opts && n < 30)
		argv[n++] = (char *)*opts++;
	if (last)
		argv[n++] = (char *)last;
	argv[n] = NULL;
	e2e_env_init(&env, dir, shim);
	while (extra_env && *extra_env)
		e2e_env_add(&env, "%s", *extra_env++);
	cr_assert_eq(e2e_spawn(&env, dir, argv, &r), 0, "cannot start %s", bin);
	cr_assert_eq(r.status, 0, "%s exited %d:\n%s%s", rel, r.status, r.out, r.err);
	if (t)
		cr_assert_eq(e2e_only_trace(dir, t), 1, "expected exactly one trace in %s", dir);
	e2e_run_free(&r);
	e2e_env_free(&env);
	free(bin);
}
