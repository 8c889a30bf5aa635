/* u64map.h — an open-addressing hash map from uint64_t to uint64_t (linear probing,
 * backward-shift deletion): ids to indexes, live pointers to sizes. */
#ifndef METASHIM_U64MAP_H
#define METASHIM_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ms_u64map {
	uint64_t *keys; /* slot keys */
	uint64_t *vals; /* slot values */
	uint8_t *used;  /* 1 when the slot holds a key */
	size_t cap;     /* slots, a power of two (0 before the first put) */
	size_t n;       /* keys held */
};

/* 0, or -ENOMEM (the map is unchanged). */
int ms_u64map_put(struct ms_u64map *m, uint64_t key, uint64_t val);
/* True and *val filled when key is present. */
bool ms_u64map_get(const struct ms_u64map *m, uint64_t key, uint64_t *val);
/* True when key was present (and is now gone). */
bool ms_u64map_del(struct ms_u64map *m, uint64_t key);
void ms_u64map_free(struct ms_u64map *m);

#endif /* METASHIM_U64MAP_H */
