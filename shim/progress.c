/* progress.c — METASHIM_PROGRESS=1: one stderr line, rewritten in place with '\r',
 * saying how many layers are complete and how fast bytes reach the device. The
 * copy path calls in after every copy; deciding whether to print costs one coarse
 * clock read (vDSO, no system call) and prints at most ~4 times a second. The
 * closing line is written from ms_count_write_final (the core calls it at exit). */
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "registry.h"

#define PROGRESS_PERIOD_NS 250000000ull

static atomic_uint_fast64_t loaded_bytes; /* host-to-device bytes so far */
static atomic_uint_fast64_t first_ns;     /* time of the first counted copy, 0 before */
static atomic_uint_fast64_t next_ns;      /* earliest time of the next line */

static uint64_t coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void print_line(uint64_t now, bool final)
{
	uint64_t bytes = atomic_load(&loaded_bytes), t0 = atomic_load(&first_ns);
	double secs = t0 && now > t0 ? (double)(now - t0) / 1e9 : 0.0;
	char buf[192];
	int len;

	len = snprintf(buf, sizeof(buf), "\rmetashim: layers %zu/%zu complete, %.2f GB loaded, %.2f GB/s%s",
	               ms_count_layers_complete(), ms_registry_layers_countable(), (double)bytes / 1e9,
	               secs > 0 ? (double)bytes / 1e9 / secs : 0.0, final ? "   \n" : "   ");
	if (len > 0)
		(void)!write(STDERR_FILENO, buf, (size_t)len < sizeof(buf) ? (size_t)len : sizeof(buf) - 1);
}

void ms_progress_copy(uint64_t bytes)
{
	uint64_t now, next, zero = 0;

	if (MS_LIKELY(!ms_cfg.progress))
		return;
	now = coarse_ns();
	if (bytes) {
		atomic_fetch_add_explicit(&loaded_bytes, bytes, memory_order_relaxed);
		atomic_compare_exchange_strong(&first_ns, &zero, now);
	}
	next = atomic_load_explicit(&next_ns, memory_order_relaxed);
	if (now < next || !atomic_compare_exchange_strong(&next_ns, &next, now + PROGRESS_PERIOD_NS))
		return; /* too early, or another thread prints this one */
	print_line(now, false);
}

void ms_progress_final(void)
{
	if (ms_cfg.progress)
		print_line(coarse_ns(), true);
}
