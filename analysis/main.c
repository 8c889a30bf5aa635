/* main.c — the metashim command: dispatches to one subcommand per file
 * (analysis/cmd_*.c). Kept apart so the unit tests link every other object. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "trace_format.h"

#ifndef MS_VERSION
#define MS_VERSION "unknown"
#endif

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *what;
} cmds[] = {
	{ "run", ms_cmd_run, "run a program under libmetashim.so (sets LD_PRELOAD, METASHIM_*)" },
	{ "report", ms_cmd_report, "summary, per-layer table, problems and call sites of traces" },
	{ "export", ms_cmd_export, "write traces as json, csv, perfetto or html" },
	{ "diff", ms_cmd_diff, "compare two runs of the same model" },
	{ "merge", ms_cmd_merge, "check the traces of several ranks together (checkpoint view)" },
	{ "manifest", ms_cmd_manifest, "write a checkpoint's tensors as an editable JSON manifest" },
	{ "gen", ms_cmd_gen, NULL }, /* hidden: synthetic traces for tests and benchmarks */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: metashim COMMAND [options] ...\n\n"
	           "metashim traces what a CUDA program allocates and copies (libmetashim.so, loaded\n"
	           "with LD_PRELOAD) and reports which model layers were loaded, how completely,\n"
	           "how often, from where, how fast and with how much memory.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (cmds[i].what)
			fprintf(f, "  %-9s %s\n", cmds[i].name, cmds[i].what);
	fprintf(f, "\n  metashim COMMAND --help   options of one command\n"
	           "  metashim --version\n\n"
	           "exit status: 0 clean, 1 problems found, 2 usage or read error\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return MS_EXIT_USAGE;
	}
	const char *c = argv[1];
	if (strcmp(c, "--help") == 0 || strcmp(c, "-h") == 0 || strcmp(c, "help") == 0) {
		usage(stdout);
		return MS_EXIT_OK;
	}
	if (strcmp(c, "--version") == 0 || strcmp(c, "-V") == 0) {
		printf("metashim %s (trace format %d)\n", MS_VERSION, MS_TRACE_VERSION);
		return MS_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(c, cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "metashim: unknown command '%s'\n\n", c);
	usage(stderr);
	return MS_EXIT_USAGE;
}
