/* driver_init.c — cuInit, the FAKECUDA_* knobs, fork behaviour and the stats the
 * fake driver reports (fakecuda_mem_stats, FAKECUDA_STATS=PATH written at exit).
 *
 * Like the real driver, a process forked after cuInit cannot use CUDA: every call in
 * the child returns CUDA_ERROR_NOT_INITIALIZED.
 */
#include "fakecuda.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FC_DEFAULT_LIMIT (80ull << 30) /* an 80 GiB device unless FAKECUDA_MEM_LIMIT says */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CUresult init_result = CUDA_ERROR_NOT_INITIALIZED;
static atomic_bool inited;       /* cuInit succeeded in this process */
static atomic_bool forked_child; /* we are a child forked after cuInit */
static pid_t load_pid;           /* the process that loaded the library */
static unsigned long long mem_limit = FC_DEFAULT_LIMIT;

/* "123", "64K", "512M", "2G", "1T" (binary multiples); 0 on junk. */
static unsigned long long parse_size(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return 0;
	switch (toupper((unsigned char)*end)) {
	case 'T': v <<= 10; /* fall through */
	case 'G': v <<= 10; /* fall through */
	case 'M': v <<= 10; /* fall through */
	case 'K':
		v <<= 10;
		end++;
		break;
	case '\0': break;
	default: return 0;
	}
	if (toupper((unsigned char)*end) == 'B' || *end == 'i')
		end++;
	return *end ? 0 : v;
}

static void read_env(void)
{
	const char *s = getenv("FAKECUDA_MEM_LIMIT");
	if (s && *s) {
		unsigned long long v = parse_size(s);
		if (v)
			mem_limit = v;
		else
			fprintf(stderr, "fakecuda: FAKECUDA_MEM_LIMIT=%s is not a size; using %llu bytes\n",
			        s, mem_limit);
	}
}

static void do_init(void)
{
	read_env();
	init_result = fc_space_init() ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_SUCCESS;
	if (init_result == CUDA_SUCCESS)
		atomic_store(&inited, true);
}

static void atfork_child(void)
{
	if (atomic_load(&inited))
		atomic_store(&forked_child, true);
}

__attribute__((constructor)) static void fc_load(void)
{
	load_pid = getpid();
	pthread_atfork(NULL, NULL, atfork_child);
}

FC_EXPORT CUresult cuInit(unsigned int Flags)
{
	if (Flags != 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (atomic_load(&forked_child))
		return CUDA_ERROR_NOT_INITIALIZED;
	pthread_once(&init_once, do_init);
	return init_result;
}

bool fc_initialized(void)
{
	return atomic_load(&inited) && !atomic_load(&forked_child);
}

CUresult fc_check_init(void)
{
	return fc_initialized() ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED;
}

CUresult fc_check_ctx(void)
{
	if (!fc_initialized())
		return CUDA_ERROR_NOT_INITIALIZED;
	return fc_current_ctx() ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

unsigned long long fc_mem_limit(void)
{
	return mem_limit;
}

FC_EXPORT CUresult cuDriverGetVersion(int *driverVersion)
{
	if (!driverVersion)
		return CUDA_ERROR_INVALID_VALUE;
	*driverVersion = FC_DRIVER_VERSION;
	return CUDA_SUCCESS;
}

/* Test hook: physical bytes in use now and at the peak. */
FC_EXPORT int fakecuda_mem_stats(unsigned long long *used, unsigned long long *peak)
{
	pthread_rwlock_rdlock(&fc_lock);
	if (used)
		*used = fc_stats.used;
	if (peak)
		*peak = fc_stats.peak;
	pthread_rwlock_unlock(&fc_lock);
	return 0;
}

/* FAKECUDA_STATS=PATH ("%p" becomes the pid): written by the process that loaded the
 * library or that initialized it, so a forked child that never used CUDA leaves the
 * parent's file alone. */
static void expand_path(const char *tmpl, char *out, size_t cap)
{
	size_t n = 0;
	for (const char *s = tmpl; *s && n + 1 < cap; s++) {
		if (s[0] == '%' && s[1] == 'p') {
			n += (size_t)snprintf(out + n, cap - n, "%d", (int)getpid());
			s++;
		} else {
			out[n++] = *s;
		}
		if (n >= cap)
			n = cap - 1;
	}
	out[n] = '\0';
}

__attribute__((destructor)) static void fc_write_stats(void)
{
	const char *tmpl = getenv("FAKECUDA_STATS");
	char path[4096], line[256];

	if (!tmpl || !*tmpl)
		return;
	if (getpid() != load_pid && !fc_initialized())
		return;
	expand_path(tmpl, path, sizeof(path));
	pthread_rwlock_rdlock(&fc_lock);
	int len = snprintf(
	        line, sizeof(line), "used=%llu peak=%llu limit=%llu allocs=%llu creates=%llu maps=%llu\n",
	        fc_stats.used, fc_stats.peak, mem_limit, fc_stats.allocs, fc_stats.creates, fc_stats.maps);
	pthread_rwlock_unlock(&fc_lock);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "fakecuda: cannot write FAKECUDA_STATS=%s: %s\n", path, strerror(errno));
		return;
	}
	if (write(fd, line, (size_t)len) != len)
		fprintf(stderr, "fakecuda: short write to %s\n", path);
	close(fd);
}
