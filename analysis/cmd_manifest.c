/* cmd_manifest.c — `metashim manifest CKPT [-o FILE]`: the checkpoint's tensors as
 * the JSON manifest the shim reads back (METASHIM_MANIFEST), for a person to edit.
 * The reader and writer are the shim's own (shim/safetensors.c, shim/manifest.c),
 * reached through weak references so the tool links before they exist. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "internal.h"

#pragma weak ms_safetensors_load
#pragma weak ms_manifest_write
#pragma weak ms_desc_set_free

static void manifest_usage(FILE *f)
{
	fprintf(f, "usage: metashim manifest [-o FILE] CHECKPOINT\n\n"
	           "Reads a .safetensors file, a sharded checkpoint's model.safetensors.index.json,\n"
	           "or a directory holding either, and writes every tensor (layer, name, dtype,\n"
	           "shape, stride, file and byte range) as JSON. Edit it and give it to the shim\n"
	           "with `metashim run --manifest FILE` (METASHIM_MANIFEST).\n\n"
	           "  -o, --output FILE   write there instead of stdout\n"
	           "  -h, --help          this text\n");
}

int ms_cmd_manifest(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *out = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'h': manifest_usage(stdout); return MS_EXIT_OK;
		default: manifest_usage(stderr); return MS_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "metashim manifest: expected one checkpoint path\n\n");
		manifest_usage(stderr);
		return MS_EXIT_USAGE;
	}
	if (!ms_safetensors_load || !ms_manifest_write || !ms_desc_set_free) {
		fprintf(stderr, "metashim manifest: this build has no safetensors reader\n");
		return MS_EXIT_USAGE;
	}
	struct ms_desc_set set = { 0 };
	char err[1024] = "";
	int rc = ms_safetensors_load(argv[optind], &set, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "metashim manifest: %s\n", err[0] ? err : strerror(-rc));
		ms_desc_set_free(&set);
		return MS_EXIT_USAGE;
	}
	int fd = STDOUT_FILENO;
	if (out && strcmp(out, "-") != 0) {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "metashim manifest: cannot write %s: %s\n", out, strerror(errno));
			ms_desc_set_free(&set);
			return MS_EXIT_USAGE;
		}
	}
	fflush(stdout);
	rc = ms_manifest_write(fd, &set);
	if (fd != STDOUT_FILENO && close(fd) < 0 && rc == 0)
		rc = -errno;
	ms_desc_set_free(&set);
	if (rc < 0) {
		fprintf(stderr, "metashim manifest: writing %s: %s\n", out ? out : "stdout", strerror(-rc));
		return MS_EXIT_USAGE;
	}
	return MS_EXIT_OK;
}
