/* cmd_run.c — `metashim run [options] -- CMD ARGS`: put libmetashim.so (absolute
 * path) in front of LD_PRELOAD, turn options into METASHIM_* variables and exec the
 * program, which then runs unchanged under the shim. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

static void run_usage(FILE *f)
{
	fprintf(f, "usage: metashim run [options] [--] CMD [ARGS...]\n\n"
	           "Runs CMD with libmetashim.so preloaded; each process writes one trace.\n\n"
	           "  -o, --out PATTERN     trace file (%%p pid, %%r rank); default ./metashim-%%p.trace\n"
	           "  -m, --mode MODE       trace (default: pass through and record), meta (device\n"
	           "                        allocations become reservations, nothing materialized),\n"
	           "                        layerwise (materialize each layer once it is complete)\n"
	           "  -c, --checkpoint PATH safetensors file or directory: tensor descriptors\n"
	           "      --manifest FILE   JSON manifest (metashim manifest) as descriptors\n"
	           "      --progress        live loading progress line on stderr\n"
	           "      --backtrace N     frames kept per event, 0 = off (default 16)\n"
	           "      --layer-depth N   name components kept as layer name (0 = up to last dot)\n"
	           "      --layer-pattern RE  regex whose first match is the layer name\n"
	           "      --skip LIST       comma-separated substrings of tensors left out of totals\n"
	           "      --defer-min SIZE  allocations below SIZE stay real in deferred modes (64M, 2GiB)\n"
	           "      --staging-max SIZE  host bytes staged for replay in layerwise mode\n"
	           "  -q, --quiet           no metashim: lines on stderr (from this command and the shim)\n"
	           "  -e, --env KEY=VALUE   any further variable (METASHIM_SCRATCH=256M, ...)\n"
	           "      --lib PATH        libmetashim.so to preload (default: next to this binary, or\n"
	           "                        ../lib/libmetashim.so when installed)\n"
	           "  -h, --help            this text\n\n"
	           "The exit status is CMD's; 127 when it cannot be run.\n");
}

/* Directory of this executable, from /proc/self/exe. */
static int self_dir(char *buf, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
	if (n <= 0)
		return -errno;
	buf[n] = '\0';
	char *slash = strrchr(buf, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	return 0;
}

static int find_lib(const char *given, char *out)
{
	char dir[PATH_MAX], cand[PATH_MAX + 64];
	if (given) {
		if (!realpath(given, out)) {
			fprintf(stderr, "metashim: --lib %s: %s\n", given, strerror(errno));
			return -ENOENT;
		}
		return 0;
	}
	if (self_dir(dir, sizeof(dir)) == 0) {
		const char *rel[] = { "/libmetashim.so", "/../lib/libmetashim.so" };
		for (size_t i = 0; i < 2; i++) {
			snprintf(cand, sizeof(cand), "%s%s", dir, rel[i]);
			if (access(cand, R_OK) == 0 && realpath(cand, out))
				return 0;
		}
	}
	fprintf(stderr, "metashim: cannot find libmetashim.so next to this binary or in ../lib; "
	                "give it with --lib PATH\n");
	return -ENOENT;
}

static int set(const char *key, const char *val)
{
	if (setenv(key, val, 1) < 0) {
		fprintf(stderr, "metashim: cannot set %s: %s\n", key, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Paths given relative to here must still hold after the program chdirs. */
static int set_path(const char *key, const char *val)
{
	char abs[PATH_MAX];
	return set(key, realpath(val, abs) ? abs : val);
}

static int check_uint(const char *opt, const char *v)
{
	char *end;
	errno = 0;
	strtoul(v, &end, 10);
	if (!*v || *end || errno) {
		fprintf(stderr, "metashim run: %s expects a number, got '%s'\n", opt, v);
		return -EINVAL;
	}
	return 0;
}

static int check_size(const char *opt, const char *v)
{
	char *end;
	errno = 0;
	strtoull(v, &end, 10);
	if (end == v || errno) {
		fprintf(stderr, "metashim run: %s expects a size such as 4096, 64M or 2GiB, got '%s'\n", opt,
		        v);
		return -EINVAL;
	}
	return 0;
}

enum { O_MANIFEST = 256, O_PROGRESS, O_BACKTRACE, O_DEPTH, O_PATTERN, O_SKIP, O_DEFER, O_STAGING, O_LIB };

int ms_cmd_run(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "mode", required_argument, NULL, 'm' },
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "manifest", required_argument, NULL, O_MANIFEST },
		{ "progress", no_argument, NULL, O_PROGRESS },
		{ "backtrace", required_argument, NULL, O_BACKTRACE },
		{ "layer-depth", required_argument, NULL, O_DEPTH },
		{ "layer-pattern", required_argument, NULL, O_PATTERN },
		{ "skip", required_argument, NULL, O_SKIP },
		{ "defer-min", required_argument, NULL, O_DEFER },
		{ "staging-max", required_argument, NULL, O_STAGING },
		{ "quiet", no_argument, NULL, 'q' },
		{ "env", required_argument, NULL, 'e' },
		{ "lib", required_argument, NULL, O_LIB },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *lib = NULL, *out = NULL;
	bool quiet = false;
	int c, rc = 0;
	optind = 1;
	while (rc == 0 && (c = getopt_long(argc, argv, "+o:m:c:qe:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'm':
			if (strcmp(optarg, "trace") && strcmp(optarg, "meta") &&
			    strcmp(optarg, "layerwise")) {
				fprintf(stderr,
				        "metashim run: --mode is trace, meta or layerwise, not '%s'\n",
				        optarg);
				return MS_EXIT_USAGE;
			}
			rc = set("METASHIM_MODE", optarg);
			break;
		case 'c': rc = set_path("METASHIM_CHECKPOINT", optarg); break;
		case O_MANIFEST: rc = set_path("METASHIM_MANIFEST", optarg); break;
		case O_PROGRESS: rc = set("METASHIM_PROGRESS", "1"); break;
		case O_BACKTRACE:
			rc = check_uint("--backtrace", optarg) ?: set("METASHIM_BACKTRACE", optarg);
			break;
		case O_DEPTH:
			rc = check_uint("--layer-depth", optarg) ?: set("METASHIM_LAYER_DEPTH", optarg);
			break;
		case O_PATTERN: rc = set("METASHIM_LAYER_PATTERN", optarg); break;
		case O_SKIP: rc = set("METASHIM_SKIP_TENSORS", optarg); break;
		case O_DEFER:
			rc = check_size("--defer-min", optarg) ?: set("METASHIM_DEFER_MIN", optarg);
			break;
		case O_STAGING:
			rc = check_size("--staging-max", optarg) ?: set("METASHIM_STAGING_MAX", optarg);
			break;
		case 'q':
			quiet = true;
			rc = set("METASHIM_QUIET", "1");
			break;
		case 'e': {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg) {
				fprintf(stderr, "metashim run: --env expects KEY=VALUE, got '%s'\n", optarg);
				return MS_EXIT_USAGE;
			}
			*eq = '\0';
			rc = set(optarg, eq + 1);
			break;
		}
		case O_LIB: lib = optarg; break;
		case 'h': run_usage(stdout); return MS_EXIT_OK;
		default: run_usage(stderr); return MS_EXIT_USAGE;
		}
	}
	if (rc)
		return MS_EXIT_USAGE;
	if (optind >= argc) {
		fprintf(stderr, "metashim run: no command given\n\n");
		run_usage(stderr);
		return MS_EXIT_USAGE;
	}
	char libpath[PATH_MAX];
	if (find_lib(lib, libpath) < 0)
		return MS_EXIT_USAGE;

	const char *old = getenv("LD_PRELOAD");
	size_t len = strlen(libpath) + (old ? strlen(old) + 1 : 0) + 1;
	char *preload = malloc(len);
	if (!preload)
		return MS_EXIT_USAGE;
	snprintf(preload, len, "%s%s%s", libpath, old && *old ? ":" : "", old ? old : "");

	char cwd[PATH_MAX], outbuf[PATH_MAX + 32];
	if (!out && !getenv("METASHIM_OUT")) {
		if (!getcwd(cwd, sizeof(cwd)))
			snprintf(cwd, sizeof(cwd), ".");
		snprintf(outbuf, sizeof(outbuf), "%s/metashim-%%p.trace", cwd);
		out = outbuf;
	} else if (out && out[0] != '/' && getcwd(cwd, sizeof(cwd))) {
		snprintf(outbuf, sizeof(outbuf), "%s/%s", cwd, out);
		out = outbuf;
	}
	if ((out && set("METASHIM_OUT", out) < 0) || set("LD_PRELOAD", preload) < 0) {
		free(preload);
		return MS_EXIT_USAGE;
	}
	free(preload);
	if (!quiet)
		fprintf(stderr, "metashim: tracing %s into %s\n", argv[optind], getenv("METASHIM_OUT"));
	fflush(stderr);
	execvp(argv[optind], argv + optind);
	fprintf(stderr, "metashim run: cannot run %s: %s\n", argv[optind], strerror(errno));
	return 127;
}
