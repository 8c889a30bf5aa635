/* intervals.c — interval-union sets: which bytes of a tensor were written, so that
 * `covered` counts unique elements however out of order and partial the writes.
 * Inline storage covers the common cases (whole writes, increasing contiguous
 * pieces, two halves in any order) without allocating. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

static struct ms_iv *iv_data(struct ms_ivset *s)
{
	return s->heap ? s->heap : s->inl;
}

static const struct ms_iv *iv_cdata(const struct ms_ivset *s)
{
	return s->heap ? s->heap : s->inl;
}

/* Index of the first interval whose hi >= lo (it may touch or overlap [lo, ...)). */
static uint32_t iv_first_touching(const struct ms_iv *v, uint32_t n, uint64_t lo)
{
	uint32_t a = 0, b = n;

	while (a < b) {
		uint32_t m = a + (b - a) / 2;
		if (v[m].hi < lo)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

/* Make room for one more interval; the rare path of fragmented writes. */
static int iv_grow(struct ms_ivset *s)
{
	uint32_t cap = s->heap ? s->cap * 2 : MS_IVSET_INLINE * 4;
	struct ms_iv *v;

	if (cap <= s->n || cap > (1u << 30))
		return -ENOMEM;
	v = realloc(s->heap, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (!s->heap)
		memcpy(v, s->inl, s->n * sizeof(*v));
	s->heap = v;
	s->cap = cap;
	return 0;
}

int ms_ivset_add(struct ms_ivset *s, uint64_t lo, uint64_t hi, uint64_t *added)
{
	struct ms_iv *v = iv_data(s);
	uint32_t i, j;
	uint64_t overlap = 0, nlo = lo, nhi = hi;

	*added = 0;
	if (lo >= hi)
		return 0;
	/* Fast path: extends (or repeats into) the last interval. */
	if (s->n && v[s->n - 1].lo <= lo && lo <= v[s->n - 1].hi) {
		if (hi > v[s->n - 1].hi) {
			*added = hi - v[s->n - 1].hi;
			v[s->n - 1].hi = hi;
		}
		return 0;
	}
	i = iv_first_touching(v, s->n, lo);
	/* Intervals i..j-1 touch or overlap [lo, hi): merge them into one. */
	for (j = i; j < s->n && v[j].lo <= hi; j++) {
		uint64_t a = v[j].lo > lo ? v[j].lo : lo;
		uint64_t b = v[j].hi < hi ? v[j].hi : hi;
		if (b > a)
			overlap += b - a;
		if (v[j].lo < nlo)
			nlo = v[j].lo;
		if (v[j].hi > nhi)
			nhi = v[j].hi;
	}
	if (j == i) { /* nothing touched: insert at i */
		uint32_t cap = s->heap ? s->cap : MS_IVSET_INLINE;
		if (s->n == cap) {
			int rc = iv_grow(s);
			if (rc)
				return rc;
			v = iv_data(s);
		}
		memmove(&v[i + 1], &v[i], (s->n - i) * sizeof(*v));
		s->n++;
	} else if (j - i > 1) { /* several merged into one: close the gap */
		memmove(&v[i + 1], &v[j], (s->n - j) * sizeof(*v));
		s->n -= j - i - 1;
	}
	v[i].lo = nlo;
	v[i].hi = nhi;
	*added = (hi - lo) - overlap;
	return 0;
}

uint64_t ms_ivset_total(const struct ms_ivset *s)
{
	const struct ms_iv *v = iv_cdata(s);
	uint64_t sum = 0;

	for (uint32_t i = 0; i < s->n; i++)
		sum += v[i].hi - v[i].lo;
	return sum;
}

bool ms_ivset_contains(const struct ms_ivset *s, uint64_t lo, uint64_t hi)
{
	const struct ms_iv *v = iv_cdata(s);
	uint32_t i;

	if (lo >= hi)
		return true;
	i = iv_first_touching(v, s->n, lo + 1);
	return i < s->n && v[i].lo <= lo && hi <= v[i].hi;
}

void ms_ivset_clear(struct ms_ivset *s)
{
	s->n = 0;
}

void ms_ivset_free(struct ms_ivset *s)
{
	free(s->heap);
	s->heap = NULL;
	s->cap = 0;
	s->n = 0;
}
