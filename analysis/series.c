/* series.c — bounded time series for memory and throughput plots. When full, pairs
 * of neighbouring points merge into one keeping the larger value, so a series of a
 * 10-million-event trace stays MS_SERIES_MAX points and its peaks stay visible. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static void decimate(struct ms_series *s)
{
	size_t w = 0;
	for (size_t r = 0; r < s->n; r += 2, w++) {
		/* Only called full. NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign) */
		s->t[w] = s->t[r];
		s->v[w] = s->v[r];
		if (r + 1 < s->n && s->v[r + 1] > s->v[w])
			s->v[w] = s->v[r + 1];
	}
	s->n = w;
	uint64_t span = s->n > 1 ? s->t[s->n - 1] - s->t[0] : 0;
	uint64_t stride = span / (MS_SERIES_MAX / 2);
	s->stride_ns = stride > s->stride_ns * 2 ? stride : (s->stride_ns ? s->stride_ns * 2 : 1);
}

int ms_series_push(struct ms_series *s, uint64_t t, uint64_t v)
{
	if (!s->t) {
		s->t = malloc(MS_SERIES_MAX * sizeof(*s->t));
		s->v = malloc(MS_SERIES_MAX * sizeof(*s->v));
		if (!s->t || !s->v) {
			ms_series_free(s);
			return -ENOMEM;
		}
	}
	/* Within the current stride of the last point: fold into it (keep the max, but
	 * the last value of a step series must survive too, so only ever raise). */
	if (s->n && (t < s->t[s->n - 1] || t - s->t[s->n - 1] < s->stride_ns)) {
		if (v > s->v[s->n - 1])
			s->v[s->n - 1] = v;
		return 0;
	}
	if (s->n == MS_SERIES_MAX)
		decimate(s);
	s->t[s->n] = t;
	s->v[s->n] = v;
	s->n++;
	return 0;
}

void ms_series_free(struct ms_series *s)
{
	free(s->t);
	free(s->v);
	memset(s, 0, sizeof(*s));
}
