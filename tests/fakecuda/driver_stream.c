/* driver_stream.c — streams, events, modules and kernel launches. Work runs at once
 * (host functions and callbacks too), so synchronizing never waits. A launch checks
 * its arguments and does nothing: there is no device code to run. Handles are
 * listed so that a destroyed or made-up one is CUDA_ERROR_INVALID_HANDLE.
 */
#include "fakecuda.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct fc_stream {
	unsigned flags; /* CU_STREAM_DEFAULT / NON_BLOCKING */
	int priority;   /* as asked */
	struct fc_stream *next;
};

struct fc_event {
	unsigned flags;       /* CU_EVENT_* */
	bool recorded;        /* cuEventRecord was called */
	struct timespec when; /* time of the last record */
	struct fc_event *next;
};

struct fc_module {
	unsigned magic;
};

struct fc_function {
	unsigned magic;
	char name[128]; /* the kernel name asked for */
};

#define MOD_MAGIC  0xfc0d0001u
#define FUNC_MAGIC 0xfc0f0001u

static struct fc_stream *streams;
static struct fc_event *events;
static pthread_mutex_t list_mutex = PTHREAD_MUTEX_INITIALIZER;

bool fc_stream_valid(CUstream s)
{
	bool ok = false;

	if (!s || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD)
		return true;
	pthread_mutex_lock(&list_mutex);
	for (struct fc_stream *p = streams; p; p = p->next)
		if ((CUstream)p == s)
			ok = true;
	pthread_mutex_unlock(&list_mutex);
	return ok;
}

static struct fc_event *event_find(CUevent e)
{
	for (struct fc_event *p = events; p; p = p->next)
		if ((CUevent)p == e)
			return p;
	return NULL;
}

/* ----------------------------------------------------------------------- streams */
static CUresult stream_create(CUstream *ph, unsigned flags, int priority)
{
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	if (!ph || (flags & ~(unsigned)CU_STREAM_NON_BLOCKING))
		return CUDA_ERROR_INVALID_VALUE;
	struct fc_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return CUDA_ERROR_OUT_OF_MEMORY;
	s->flags = flags;
	s->priority = priority;
	pthread_mutex_lock(&list_mutex);
	s->next = streams;
	streams = s;
	pthread_mutex_unlock(&list_mutex);
	*ph = (CUstream)s;
	return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)
{
	return stream_create(phStream, Flags, 0);
}

FC_EXPORT CUresult cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority)
{
	return stream_create(phStream, flags, priority);
}

FC_EXPORT CUresult cuStreamDestroy_v2(CUstream hStream)
{
	struct fc_stream **pp, *found = NULL;
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	pthread_mutex_lock(&list_mutex);
	for (pp = &streams; *pp; pp = &(*pp)->next) {
		if ((CUstream)*pp == hStream) {
			found = *pp;
			*pp = found->next;
			break;
		}
	}
	pthread_mutex_unlock(&list_mutex);
	if (!found)
		return CUDA_ERROR_INVALID_HANDLE;
	free(found);
	return CUDA_SUCCESS;
}

static CUresult stream_check(CUstream s)
{
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	return fc_stream_valid(s) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

/* Forwarders stay one line each, read as a table (clang-format would spread them). */
/* clang-format off */
FC_EXPORT CUresult cuStreamSynchronize(CUstream s) { return stream_check(s); }
FC_EXPORT CUresult cuStreamSynchronize_ptsz(CUstream s) { return stream_check(s); }
FC_EXPORT CUresult cuStreamQuery(CUstream s) { return stream_check(s); }
FC_EXPORT CUresult cuStreamQuery_ptsz(CUstream s) { return stream_check(s); }
/* clang-format on */

static CUresult stream_get_flags(CUstream s, unsigned *flags)
{
	CUresult r = stream_check(s);
	if (r)
		return r;
	if (!flags)
		return CUDA_ERROR_INVALID_VALUE;
	*flags = 0;
	if (s && s != CU_STREAM_LEGACY && s != CU_STREAM_PER_THREAD)
		*flags = ((struct fc_stream *)s)->flags;
	return CUDA_SUCCESS;
}

/* clang-format off */
FC_EXPORT CUresult cuStreamGetFlags(CUstream s, unsigned int *flags) { return stream_get_flags(s, flags); }
FC_EXPORT CUresult cuStreamGetFlags_ptsz(CUstream s, unsigned int *flags) { return stream_get_flags(s, flags); }
/* clang-format on */

static CUresult stream_wait(CUstream s, CUevent e)
{
	CUresult r = stream_check(s);
	if (r)
		return r;
	pthread_mutex_lock(&list_mutex);
	if (!event_find(e))
		r = CUDA_ERROR_INVALID_HANDLE;
	pthread_mutex_unlock(&list_mutex);
	return r;
}

/* clang-format off */
FC_EXPORT CUresult cuStreamWaitEvent(CUstream s, CUevent e, unsigned int Flags) { return stream_wait(s, e); }
FC_EXPORT CUresult cuStreamWaitEvent_ptsz(CUstream s, CUevent e, unsigned int Flags) { return stream_wait(s, e); }
/* clang-format on */

static CUresult host_func(CUstream s, CUhostFn fn, void *userData)
{
	CUresult r = stream_check(s);
	if (r)
		return r;
	if (!fn)
		return CUDA_ERROR_INVALID_VALUE;
	fn(userData);
	return CUDA_SUCCESS;
}

/* clang-format off */
FC_EXPORT CUresult cuLaunchHostFunc(CUstream s, CUhostFn fn, void *userData) { return host_func(s, fn, userData); }
FC_EXPORT CUresult cuLaunchHostFunc_ptsz(CUstream s, CUhostFn fn, void *userData) { return host_func(s, fn, userData); }
/* clang-format on */

static CUresult add_callback(CUstream s, CUstreamCallback cb, void *userData, unsigned flags)
{
	CUresult r = stream_check(s);
	if (r)
		return r;
	if (!cb || flags)
		return CUDA_ERROR_INVALID_VALUE;
	cb(s, CUDA_SUCCESS, userData);
	return CUDA_SUCCESS;
}

/* clang-format off */
FC_EXPORT CUresult cuStreamAddCallback(CUstream s, CUstreamCallback cb, void *userData, unsigned int flags)
{ return add_callback(s, cb, userData, flags); }
FC_EXPORT CUresult cuStreamAddCallback_ptsz(CUstream s, CUstreamCallback cb, void *userData, unsigned int flags)
{ return add_callback(s, cb, userData, flags); }
/* clang-format on */

/* ------------------------------------------------------------------------ events */
FC_EXPORT CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)
{
	const unsigned known = CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	if (!phEvent || (Flags & ~known) ||
	    ((Flags & CU_EVENT_INTERPROCESS) && !(Flags & CU_EVENT_DISABLE_TIMING)))
		return CUDA_ERROR_INVALID_VALUE;
	struct fc_event *e = calloc(1, sizeof(*e));
	if (!e)
		return CUDA_ERROR_OUT_OF_MEMORY;
	e->flags = Flags;
	pthread_mutex_lock(&list_mutex);
	e->next = events;
	events = e;
	pthread_mutex_unlock(&list_mutex);
	*phEvent = (CUevent)e;
	return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuEventDestroy_v2(CUevent hEvent)
{
	struct fc_event **pp, *found = NULL;
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	pthread_mutex_lock(&list_mutex);
	for (pp = &events; *pp; pp = &(*pp)->next) {
		if ((CUevent)*pp == hEvent) {
			found = *pp;
			*pp = found->next;
			break;
		}
	}
	pthread_mutex_unlock(&list_mutex);
	if (!found)
		return CUDA_ERROR_INVALID_HANDLE;
	free(found);
	return CUDA_SUCCESS;
}

static CUresult event_record(CUevent e, CUstream s)
{
	CUresult r = stream_check(s);
	if (r)
		return r;
	pthread_mutex_lock(&list_mutex);
	struct fc_event *ev = event_find(e);
	if (ev) {
		clock_gettime(CLOCK_MONOTONIC, &ev->when);
		ev->recorded = true;
	} else {
		r = CUDA_ERROR_INVALID_HANDLE;
	}
	pthread_mutex_unlock(&list_mutex);
	return r;
}

/* clang-format off */
FC_EXPORT CUresult cuEventRecord(CUevent e, CUstream s) { return event_record(e, s); }
FC_EXPORT CUresult cuEventRecord_ptsz(CUevent e, CUstream s) { return event_record(e, s); }
FC_EXPORT CUresult cuEventRecordWithFlags(CUevent e, CUstream s, unsigned int flags) { return event_record(e, s); }
FC_EXPORT CUresult cuEventRecordWithFlags_ptsz(CUevent e, CUstream s, unsigned int flags)
{ return event_record(e, s); }
/* clang-format on */

static CUresult event_check(CUevent e)
{
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	pthread_mutex_lock(&list_mutex);
	if (!event_find(e))
		r = CUDA_ERROR_INVALID_HANDLE;
	pthread_mutex_unlock(&list_mutex);
	return r;
}

/* clang-format off */
FC_EXPORT CUresult cuEventSynchronize(CUevent e) { return event_check(e); }
FC_EXPORT CUresult cuEventQuery(CUevent e) { return event_check(e); }
/* clang-format on */

static CUresult elapsed(float *ms, CUevent start, CUevent end)
{
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	if (!ms)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&list_mutex);
	const struct fc_event *a = event_find(start), *b = event_find(end);
	if (!a || !b || !a->recorded || !b->recorded || ((a->flags | b->flags) & CU_EVENT_DISABLE_TIMING)) {
		r = CUDA_ERROR_INVALID_HANDLE;
	} else {
		double d = (double)(b->when.tv_sec - a->when.tv_sec) * 1e3 +
		           (double)(b->when.tv_nsec - a->when.tv_nsec) / 1e6;
		*ms = (float)d;
	}
	pthread_mutex_unlock(&list_mutex);
	return r;
}

/* clang-format off */
FC_EXPORT CUresult cuEventElapsedTime(float *ms, CUevent start, CUevent end) { return elapsed(ms, start, end); }
FC_EXPORT CUresult cuEventElapsedTime_v2(float *ms, CUevent start, CUevent end) { return elapsed(ms, start, end); }
/* clang-format on */

/* ----------------------------------------------------------------------- modules */
static CUresult module_new(CUmodule *module)
{
	struct fc_module *m = calloc(1, sizeof(*m));
	if (!m)
		return CUDA_ERROR_OUT_OF_MEMORY;
	m->magic = MOD_MAGIC;
	*module = (CUmodule)m;
	return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	if (!module || !image)
		return CUDA_ERROR_INVALID_VALUE;
	return module_new(module);
}

FC_EXPORT CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions,
                                      CUjit_option *options, void **optionValues)
{
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	if (!module || !image)
		return CUDA_ERROR_INVALID_VALUE;
	return module_new(module);
}

FC_EXPORT CUresult cuModuleLoad(CUmodule *module, const char *fname)
{
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	if (!module || !fname)
		return CUDA_ERROR_INVALID_VALUE;
	if (access(fname, R_OK))
		return CUDA_ERROR_FILE_NOT_FOUND;
	return module_new(module);
}

FC_EXPORT CUresult cuModuleUnload(CUmodule hmod)
{
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	struct fc_module *m = (struct fc_module *)hmod;
	if (!m || m->magic != MOD_MAGIC)
		return CUDA_ERROR_INVALID_HANDLE;
	m->magic = 0;
	free(m);
	return CUDA_SUCCESS;
}

/* Any name resolves: the handle only has to be launchable. Functions are never freed. */
FC_EXPORT CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
	CUresult r = fc_check_ctx();
	if (r)
		return r;
	if (!hfunc || !name)
		return CUDA_ERROR_INVALID_VALUE;
	const struct fc_module *m = (const struct fc_module *)hmod;
	if (!m || m->magic != MOD_MAGIC)
		return CUDA_ERROR_INVALID_HANDLE;
	struct fc_function *f = calloc(1, sizeof(*f));
	if (!f)
		return CUDA_ERROR_OUT_OF_MEMORY;
	f->magic = FUNC_MAGIC;
	strncpy(f->name, name, sizeof(f->name) - 1);
	*hfunc = (CUfunction)f;
	return CUDA_SUCCESS;
}

/* ---------------------------------------------------------------------- launches */
static CUresult launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                       unsigned bz, CUstream s)
{
	CUresult r = stream_check(s);
	if (r)
		return r;
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!gx || !gy || !gz || !bx || !by || !bz || (unsigned long long)bx * by * bz > 1024)
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

/* clang-format off */
FC_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
				  unsigned int bx, unsigned int by, unsigned int bz,
				  unsigned int sharedMemBytes, CUstream s, void **kernelParams, void **extra)
{ return launch(f, gx, gy, gz, bx, by, bz, s); }

FC_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
				       unsigned int bx, unsigned int by, unsigned int bz,
				       unsigned int sharedMemBytes, CUstream s, void **kernelParams,
				       void **extra)
{ return launch(f, gx, gy, gz, bx, by, bz, s); }
/* clang-format on */

static CUresult launch_ex(const CUlaunchConfig *c, CUfunction f)
{
	if (!c)
		return fc_initialized() ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_INITIALIZED;
	return launch(f, c->gridDimX, c->gridDimY, c->gridDimZ, c->blockDimX, c->blockDimY, c->blockDimZ,
	              c->hStream);
}

/* clang-format off */
FC_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams,
				    void **extra)
{ return launch_ex(config, f); }

FC_EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f, void **kernelParams,
					 void **extra)
{ return launch_ex(config, f); }
/* clang-format on */
