/* trace_dir.h — shared by the trace writer's unit tests: each test traces into a
 * fresh temporary directory (t-<pid>.trace, quiet) that its teardown removes. */
#ifndef TRACE_DIR_H
#define TRACE_DIR_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

/* dir is a mkdtemp template ("/tmp/ms-xx-XXXXXX"), filled in here; cfg is loaded
 * with the defaults, made quiet and pointed at dir/t-%p.trace, and the trace opened. */
static inline void trace_dir_open(char *dir, struct ms_config *cfg)
{
	cr_assert_not_null(mkdtemp(dir));
	ms_config_load(cfg, NULL, NULL, 0);
	cfg->quiet = true;
	snprintf(cfg->out, sizeof(cfg->out), "%s/t-%%p.trace", dir);
	ms_trace_open(cfg);
}

static inline void trace_dir_remove(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

#endif /* TRACE_DIR_H */
