/* commands.h — the metashim subcommands (one file each) and the helpers they share.
 * Each command takes its own argv (argv[0] is the command name) and returns the
 * process exit status: 0 clean, 1 problems found, 2 usage or read error. */
#ifndef METASHIM_COMMANDS_H
#define METASHIM_COMMANDS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MS_EXIT_OK       0
#define MS_EXIT_PROBLEMS 1
#define MS_EXIT_USAGE    2

int ms_cmd_run(int argc, char **argv);
int ms_cmd_report(int argc, char **argv);
int ms_cmd_manifest(int argc, char **argv);
int ms_cmd_export(int argc, char **argv);
int ms_cmd_diff(int argc, char **argv);
int ms_cmd_merge(int argc, char **argv);
/* Hidden: write a synthetic trace (benchmarks, tests). */
int ms_cmd_gen(int argc, char **argv);

/* "402.1 MiB" (binary units, B below 1 KiB). */
char *ms_fmt_bytes(uint64_t bytes, char *buf, size_t cap);
/* "1.234 s", "12.345 ms", "123.4 us", "850 ns". */
char *ms_fmt_ns(uint64_t ns, char *buf, size_t cap);
/* Seconds since trace start with 3 decimals ("12.345"), "-" for MS_NO_TIME. */
char *ms_fmt_at(uint64_t t, char *buf, size_t cap);
/* bytes over ns as "8.02 GB/s" (decimal), "-" when ns is 0. */
char *ms_fmt_rate(uint64_t bytes, uint64_t ns, char *buf, size_t cap);
/* Length of the valid UTF-8 sequence at s (1-4), 0 when it is not valid: the
 * exporters replace what is not with U+FFFD. Reads at most up to a NUL in s. */
size_t ms_utf8_len(const unsigned char *s);
/* Open -o FILE (or stdout for NULL / "-"); prints the error itself. */
FILE *ms_open_out(const char *path);
/* Close what ms_open_out returned; 0 or -errno (write errors surface here). */
int ms_close_out(FILE *f);

#endif /* METASHIM_COMMANDS_H */
