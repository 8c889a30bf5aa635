/* u64map.c — see u64map.h. Keys are mixed with a 64-bit finalizer because ids are
 * sequential and pointers share their low bits. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "u64map.h"

static inline size_t slot_of(uint64_t k, size_t cap)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k & (cap - 1);
}

static int grow(struct ms_u64map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct ms_u64map n = { .cap = cap };
	n.keys = malloc(cap * sizeof(uint64_t));
	n.vals = malloc(cap * sizeof(uint64_t));
	n.used = calloc(cap, 1);
	if (!n.keys || !n.vals || !n.used) {
		ms_u64map_free(&n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->used[i])
			continue;
		size_t s = slot_of(m->keys[i], cap);
		while (n.used[s])
			s = (s + 1) & (cap - 1);
		n.used[s] = 1;
		n.keys[s] = m->keys[i];
		n.vals[s] = m->vals[i];
	}
	n.n = m->n;
	ms_u64map_free(m);
	*m = n;
	return 0;
}

int ms_u64map_put(struct ms_u64map *m, uint64_t key, uint64_t val)
{
	if ((m->n + 1) * 4 > m->cap * 3) {
		int rc = grow(m);
		if (rc < 0)
			return rc;
	}
	size_t s = slot_of(key, m->cap);
	while (m->used[s]) {
		if (m->keys[s] == key) {
			m->vals[s] = val;
			return 0;
		}
		s = (s + 1) & (m->cap - 1);
	}
	m->used[s] = 1;
	m->keys[s] = key;
	m->vals[s] = val;
	m->n++;
	return 0;
}

static bool find(const struct ms_u64map *m, uint64_t key, size_t *slot)
{
	if (!m->cap)
		return false;
	size_t s = slot_of(key, m->cap);
	while (m->used[s]) {
		if (m->keys[s] == key) {
			*slot = s;
			return true;
		}
		s = (s + 1) & (m->cap - 1);
	}
	return false;
}

bool ms_u64map_get(const struct ms_u64map *m, uint64_t key, uint64_t *val)
{
	size_t s;
	if (!find(m, key, &s))
		return false;
	*val = m->vals[s];
	return true;
}

bool ms_u64map_del(struct ms_u64map *m, uint64_t key)
{
	size_t s;
	if (!find(m, key, &s))
		return false;
	/* Backward-shift: move later members of the probe run into the hole. */
	size_t mask = m->cap - 1, hole = s, i = (s + 1) & mask;
	while (m->used[i]) {
		size_t home = slot_of(m->keys[i], m->cap);
		/* i may move to hole when home is not in (hole, i] cyclically. */
		bool in_between = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
		if (!in_between) {
			m->keys[hole] = m->keys[i];
			m->vals[hole] = m->vals[i];
			hole = i;
		}
		i = (i + 1) & mask;
	}
	m->used[hole] = 0;
	m->n--;
	return true;
}

void ms_u64map_free(struct ms_u64map *m)
{
	free(m->keys);
	free(m->vals);
	free(m->used);
	memset(m, 0, sizeof(*m));
}
