/* init.c — the shim's life cycle: the constructor reads the configuration once and
 * installs the fork handlers; the destructor writes the final records and the
 * footer. Also the per-thread recursion guard every hook goes through, so that one
 * user call is recorded once however many hooked layers it passes. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

extern char **environ;

/* Set once by the constructor, cleared by the destructor; hooks read it racily on
 * purpose (a stale value only records or skips one call at start or exit). */
static bool ready;
/* initial-exec: no __tls_get_addr call (and no allocation) on the hot path. */
static __thread int depth __attribute__((tls_model("initial-exec")));

bool ms_ready(void)
{
	return __atomic_load_n(&ready, __ATOMIC_RELAXED);
}

bool ms_enter(void)
{
	if (MS_UNLIKELY(!ms_ready()) || depth)
		return false;
	depth++;
	return true;
}

void ms_leave(void)
{
	depth--;
}

void ms_warn(const char *fmt, ...)
{
	struct ms_line l;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ms_say("%s", msg);
	ms_line_begin(&l, MS_REC_WARN);
	ms_line_u64(&l, "t", ms_now_ns());
	ms_line_str(&l, "msg", msg);
	ms_line_emit_pending(&l);
}

static void after_fork_child(void)
{
	ms_trace_after_fork_child();
	ms_record_after_fork_child();
}

__attribute__((constructor)) static void ms_init(void)
{
	char err[2048];
	int bad = ms_config_load(&ms_cfg, environ, err, sizeof(err));

	ms_trace_open(&ms_cfg);
	for (char *line = err, *next; bad && line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		ms_warn("%s", line);
	}
	if (ms_cfg.disabled)
		return;
	if (pthread_atfork(ms_trace_fork_prepare, ms_trace_fork_parent, after_fork_child)) {
		ms_say("cannot install fork handlers; recording is off");
		return;
	}
	__atomic_store_n(&ready, true, __ATOMIC_RELEASE);
}

__attribute__((destructor)) static void ms_fini(void)
{
	if (!ms_ready())
		return;
	if (ms_trace_active())
		ms_count_write_final();
	/* Calls made by later destructors pass through unrecorded: the footer is final. */
	__atomic_store_n(&ready, false, __ATOMIC_RELEASE);
	ms_trace_close();
}
