/* counter.c — loaded-element counting and layer completion (placeholder until
 * the descriptors work lands: counts nothing). */
#include "internal.h"

void ms_count_copy(const struct ms_copy *c) { (void)c; }
void ms_count_write_final(void) {}
