/* registry.c — layer and tensor descriptors (placeholder: registers nothing). */
#include "internal.h"

void ms_registry_load(const struct ms_config *cfg) { (void)cfg; }
