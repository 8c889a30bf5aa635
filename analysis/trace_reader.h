/* trace_reader.h — a streaming reader of metashim traces: one callback per record,
 * memory bounded by one read buffer whatever the trace size. Records are tokenized
 * in place (no allocation per record); strings are percent-decoded on demand. */
#ifndef METASHIM_TRACE_READER_H
#define METASHIM_TRACE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace_format.h"

#define MS_REC_MAX_FIELDS  48                      /* key=value pairs per line; more is malformed */
#define MS_READER_MAX_LINE (8 * MS_TRACE_MAX_LINE) /* longer lines are malformed */

struct ms_field {
	const char *key; /* NUL-terminated key, inside the read buffer */
	char *val;       /* NUL-terminated value, raw until ms_rec_str decodes it */
	bool decoded;    /* val was percent-decoded already */
};

/* One record, valid only during the callback. */
struct ms_record {
	const char *type;                     /* first word of the line */
	size_t nf;                            /* fields in f */
	struct ms_field f[MS_REC_MAX_FIELDS]; /* the key=value pairs, in line order */
	const char *path;                     /* trace file */
	uint64_t line;                        /* 1-based line number */
	char *err;                            /* where ms_rec_fail writes (the reader's error buffer) */
	size_t errcap;                        /* its size */
};

/* What the reader saw besides records. */
struct ms_trace_info {
	unsigned version;  /* format version from the first line */
	uint64_t lines;    /* whole lines read, the first included */
	bool footer;       /* a footer record was read */
	bool partial_line; /* the file ended in a line without '\n' (ignored) */
};

/* Called once per record after the first line. Return 0 to go on, a negative errno
 * to stop (the reader returns it; use ms_rec_fail to say why). */
typedef int (*ms_record_fn)(struct ms_record *r, void *user);

/* Stream path through fn. Returns 0 when the whole file was read (with or without
 * footer: check info), a negative errno otherwise with one line in err:
 * "FILE:LINE: what was expected" (or FILE: for open/read errors). Refuses traces
 * whose version is newer than MS_TRACE_VERSION. */
int ms_trace_read(const char *path, ms_record_fn fn, void *user, struct ms_trace_info *info, char *err,
                  size_t errcap);
/* The same on an in-memory buffer (fuzzing, tests); name is used in messages. */
int ms_trace_read_mem(const char *name, const char *data, size_t len, ms_record_fn fn, void *user,
                      struct ms_trace_info *info, char *err, size_t errcap);

/* Field access. ms_rec_get returns the raw value or NULL when absent. */
const char *ms_rec_get(const struct ms_record *r, const char *key);
/* Decoded string value (decoded in place the first time), NULL when absent or
 * malformed (a bad %XX). */
const char *ms_rec_str(struct ms_record *r, const char *key);
/* Unsigned decimal or 0x-hex. 0 on success, -ENOENT when absent, -EINVAL when not a number. */
int ms_rec_u64(const struct ms_record *r, const char *key, uint64_t *out);
/* Signed decimal (rank=-1). */
int ms_rec_i64(const struct ms_record *r, const char *key, int64_t *out);
/* Like ms_rec_u64 but the field must be present; on failure writes
 * "FILE:LINE: TYPE record: expected KEY=<number>" into r->err and returns -EINVAL. */
int ms_rec_need_u64(struct ms_record *r, const char *key, uint64_t *out);
/* Format "FILE:LINE: msg" into r->err; returns -EINVAL for `return ms_rec_fail(...)`. */
int ms_rec_fail(struct ms_record *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parse a number as ms_rec_u64 does. */
int ms_parse_u64(const char *s, uint64_t *out);

#endif /* METASHIM_TRACE_READER_H */
