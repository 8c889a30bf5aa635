/* hostmap.c — which file and offset a host pointer lies in (placeholder). */
#include <errno.h>

#include "internal.h"

int ms_hostmap_lookup(uint64_t addr, struct ms_fileref *out)
{
	(void)addr;
	(void)out;
	return -ENOENT;
}
