/* export_pending.c — placeholders for the Perfetto and HTML exporters until
 * analysis/export_perfetto.c and analysis/export_html.c exist (whoever writes them
 * deletes this file). */
#include <errno.h>
#include <stdio.h>

#include "model.h"

int ms_export_perfetto(const struct ms_model *m, FILE *out)
{
	(void)m;
	(void)out;
	fprintf(stderr, "metashim: export --format perfetto: not built yet\n");
	return -ENOSYS;
}

int ms_export_html(const struct ms_model *m, FILE *out)
{
	(void)m;
	(void)out;
	fprintf(stderr, "metashim: export --format html: not built yet\n");
	return -ENOSYS;
}
