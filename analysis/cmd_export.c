/* cmd_export.c — `metashim export --format json|csv|perfetto|html [-o FILE] TRACE...`:
 * the model of every trace given, written in one format for scripts, notebooks,
 * ui.perfetto.dev or a browser. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "model.h"

static void export_usage(FILE *f)
{
	fprintf(f, "usage: metashim export --format FORMAT [-o FILE] TRACE...\n\n"
	           "  -f, --format FORMAT  json      the model: summary, layers, tensors, problems,\n"
	           "                                 call sites, memory series (analysis/EXPORT_JSON.md)\n"
	           "                       csv       one row per tensor, header row, RFC 4180 quoting\n"
	           "                       perfetto  Chrome/Perfetto trace JSON (ui.perfetto.dev)\n"
	           "                       html      one self-contained page with SVG plots\n"
	           "  -o, --output FILE    write there instead of stdout\n"
	           "      --no-symbolize   raw addresses for call sites\n"
	           "  -h, --help           this text\n");
}

int ms_cmd_export(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "no-symbolize", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const struct {
		const char *name;
		int (*fn)(const struct ms_model *, FILE *);
	} formats[] = {
		{ "json", ms_export_json },
		{ "csv", ms_export_csv },
		{ "perfetto", ms_export_perfetto },
		{ "html", ms_export_html },
	};
	const char *fmt = NULL, *out = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:o:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'o': out = optarg; break;
		case 'S': ms_export_symbolize = false; break;
		case 'h': export_usage(stdout); return MS_EXIT_OK;
		default: export_usage(stderr); return MS_EXIT_USAGE;
		}
	}
	int (*fn)(const struct ms_model *, FILE *) = NULL;
	for (size_t i = 0; fmt && i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(fmt, formats[i].name) == 0)
			fn = formats[i].fn;
	if (!fn) {
		fprintf(stderr, "metashim export: --format is json, csv, perfetto or html\n\n");
		export_usage(stderr);
		return MS_EXIT_USAGE;
	}
	if (optind >= argc) {
		fprintf(stderr, "metashim export: no trace given\n");
		return MS_EXIT_USAGE;
	}
	struct ms_model m;
	if (ms_model_load(&m, argv + optind, (size_t)(argc - optind), NULL) < 0)
		return MS_EXIT_USAGE;
	FILE *f = ms_open_out(out);
	int rc = f ? fn(&m, f) : -1;
	if (f && ms_close_out(f) < 0 && rc == 0) {
		fprintf(stderr, "metashim export: write error on %s\n", out ? out : "stdout");
		rc = -1;
	}
	ms_model_free(&m);
	return rc < 0 ? MS_EXIT_USAGE : MS_EXIT_OK;
}
