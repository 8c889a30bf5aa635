/* rangeset.c — interval unions: the unique elements a tensor received (covered)
 * and the byte ranges of a checkpoint consumed. Ranges stay sorted and merged, so
 * a tensor loaded in order costs one range whatever the number of copies. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* Index of the first range whose hi >= lo (the first that can touch [lo, ...)). */
static size_t first_touching(const struct ms_rangeset *s, uint64_t lo)
{
	size_t a = 0, b = s->n;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (s->v[m].hi < lo)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

int ms_rangeset_add(struct ms_rangeset *s, uint64_t lo, uint64_t hi)
{
	if (lo >= hi)
		return 0;
	/* Fast path: appending in order (the common loader pattern). */
	if (s->n && s->v[s->n - 1].hi >= lo && s->v[s->n - 1].lo <= lo) {
		if (hi > s->v[s->n - 1].hi)
			s->v[s->n - 1].hi = hi;
		return 0;
	}
	size_t i = first_touching(s, lo);
	size_t j = i;
	while (j < s->n && s->v[j].lo <= hi)
		j++;
	if (j > i) {
		/* Merge ranges i..j-1 with [lo, hi) into slot i. */
		uint64_t nlo = s->v[i].lo < lo ? s->v[i].lo : lo;
		uint64_t nhi = s->v[j - 1].hi > hi ? s->v[j - 1].hi : hi;
		s->v[i].lo = nlo;
		s->v[i].hi = nhi;
		memmove(&s->v[i + 1], &s->v[j], (s->n - j) * sizeof(s->v[0]));
		s->n -= j - i - 1;
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 2;
		struct ms_range *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(s->v[0]));
	s->v[i].lo = lo;
	s->v[i].hi = hi;
	s->n++;
	return 0;
}

uint64_t ms_rangeset_total(const struct ms_rangeset *s)
{
	uint64_t t = 0;
	for (size_t i = 0; i < s->n; i++)
		t += s->v[i].hi - s->v[i].lo;
	return t;
}

void ms_rangeset_free(struct ms_rangeset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}
