/* trace_reader.c — streams a trace line by line out of one fixed read buffer and
 * hands each record, tokenized in place, to a callback. Nothing is allocated per
 * record, so a 10-million-event trace costs the same memory as a small one. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace_reader.h"

#define READ_CHUNK (1u << 20)

/* ms_trace_decode lives in shim/trace_format.c (shared with the shim). This weak
 * copy keeps the tool linkable while that file is not there; the real one wins. */
__attribute__((weak)) long ms_trace_decode(char *s)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		if (*r != '%') {
			*w++ = *r;
			continue;
		}
		int v = 0;
		for (int i = 1; i <= 2; i++) {
			char c = r[i];
			int d = c >= '0' && c <= '9'   ? c - '0'
			        : c >= 'a' && c <= 'f' ? c - 'a' + 10
			        : c >= 'A' && c <= 'F' ? c - 'A' + 10
			                               : -1;
			if (d < 0)
				return -1;
			v = v * 16 + d;
		}
		*w++ = (char)v;
		r += 2;
	}
	*w = '\0';
	return (long)(w - s);
}

int ms_rec_fail(struct ms_record *r, const char *fmt, ...)
{
	int n = snprintf(r->err, r->errcap, "%s:%llu: ", r->path, (unsigned long long)r->line);
	if (n >= 0 && (size_t)n < r->errcap) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->err + n, r->errcap - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int ms_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return -EINVAL;
	if (s[0] == '0' && s[1] == 'x') {
		s += 2;
		if (!*s)
			return -EINVAL;
		for (; *s; s++) {
			unsigned c = (unsigned char)*s, d;
			if (c - '0' < 10)
				d = c - '0';
			else if ((c | 0x20) - 'a' < 6)
				d = (c | 0x20) - 'a' + 10;
			else
				return -EINVAL;
			if (v >> 60)
				return -EINVAL;
			v = v << 4 | d;
		}
	} else {
		for (; *s; s++) {
			unsigned d = (unsigned char)*s - '0';
			if (d > 9)
				return -EINVAL;
			if (v > (UINT64_MAX - d) / 10)
				return -EINVAL;
			v = v * 10 + d;
		}
	}
	*out = v;
	return 0;
}

/* Keys are a few bytes: an inline compare beats a strcmp call. */
static inline bool key_eq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

const char *ms_rec_get(const struct ms_record *r, const char *key)
{
	for (size_t i = 0; i < r->nf; i++)
		if (key_eq(r->f[i].key, key))
			return r->f[i].val;
	return NULL;
}

const char *ms_rec_str(struct ms_record *r, const char *key)
{
	for (size_t i = 0; i < r->nf; i++) {
		struct ms_field *f = &r->f[i];
		if (!key_eq(f->key, key))
			continue;
		if (!f->decoded) {
			if (strchr(f->val, '%') && ms_trace_decode(f->val) < 0)
				return NULL;
			f->decoded = true;
		}
		return f->val;
	}
	return NULL;
}

int ms_rec_u64(const struct ms_record *r, const char *key, uint64_t *out)
{
	const char *v = ms_rec_get(r, key);
	if (!v)
		return -ENOENT;
	return ms_parse_u64(v, out);
}

int ms_rec_i64(const struct ms_record *r, const char *key, int64_t *out)
{
	const char *v = ms_rec_get(r, key);
	uint64_t u;
	if (!v)
		return -ENOENT;
	bool neg = v[0] == '-';
	if (ms_parse_u64(v + neg, &u) < 0 || u > (uint64_t)INT64_MAX)
		return -EINVAL;
	*out = neg ? -(int64_t)u : (int64_t)u;
	return 0;
}

int ms_rec_need_u64(struct ms_record *r, const char *key, uint64_t *out)
{
	int rc = ms_rec_u64(r, key, out);
	if (rc == 0)
		return 0;
	const char *v = ms_rec_get(r, key);
	if (!v)
		return ms_rec_fail(r, "%s record: expected %s=<number>, field missing", r->type, key);
	return ms_rec_fail(r, "%s record: expected %s=<number>, got \"%.40s\"", r->type, key, v);
}

/* The reader's state between buffer refills. */
struct reader {
	const char *path;
	ms_record_fn fn;
	void *user;
	struct ms_trace_info *info;
	char *err;
	size_t errcap;
	struct ms_record rec;
};

static int fail(struct reader *rd, uint64_t line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct reader *rd, uint64_t line, const char *fmt, ...)
{
	int n = line ? snprintf(rd->err, rd->errcap, "%s:%llu: ", rd->path, (unsigned long long)line)
	             : snprintf(rd->err, rd->errcap, "%s: ", rd->path);
	if (n >= 0 && (size_t)n < rd->errcap) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(rd->err + n, rd->errcap - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* First line: "metashim-trace VERSION". */
static int check_magic(struct reader *rd, char *line)
{
	size_t ml = strlen(MS_TRACE_MAGIC);
	if (strncmp(line, MS_TRACE_MAGIC, ml) != 0 || line[ml] != ' ')
		return fail(rd, 1, "not a metashim trace: expected \"%s <version>\" on the first line",
		            MS_TRACE_MAGIC);
	char *v = line + ml + 1, *end = v;
	while (*end >= '0' && *end <= '9')
		end++;
	if (end == v || (*end && *end != ' '))
		return fail(rd, 1, "expected a format version number after \"%s\"", MS_TRACE_MAGIC);
	*end = '\0';
	unsigned long ver = strtoul(v, NULL, 10);
	if (ver > MS_TRACE_VERSION)
		return fail(rd, 1,
		            "trace format version %lu is newer than this metashim reads (%d); "
		            "use a newer metashim",
		            ver, MS_TRACE_VERSION);
	if (ver == 0)
		return fail(rd, 1, "format version 0 is not a valid version");
	rd->info->version = (unsigned)ver;
	return 0;
}

/* Tokenize one line (NUL-terminated, no '\n') in place and call back. */
static int handle_line(struct reader *rd, char *line, size_t len, uint64_t lineno)
{
	struct ms_record *r = &rd->rec;
	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	if (lineno == 1)
		return check_magic(rd, line);
	if (len == 0)
		return 0;
	/* One pass over the bytes: words end at ' ', a word's first '=' splits key
	 * from value. Hand-rolled: tokens are short, so library calls per token cost
	 * more than the scan itself. */
	char *p = line, *end = line + len;
	r->type = p;
	r->nf = 0;
	r->line = lineno;
	if (!(p[0] >= 'a' && p[0] <= 'z'))
		return fail(rd, lineno, "expected a record type word at the start of the line");
	while (p < end && *p != ' ')
		p++;
	*p = '\0';
	p++;
	while (p < end) {
		if (*p == ' ') {
			p++;
			continue;
		}
		char *tok = p, *eq = NULL;
		while (p < end && *p != ' ') {
			if (*p == '=' && !eq)
				eq = p;
			p++;
		}
		*p = '\0';
		if (!eq || eq == tok)
			return fail(rd, lineno, "%s record: expected key=value, got \"%.40s\"", r->type, tok);
		if (r->nf == MS_REC_MAX_FIELDS)
			return fail(rd, lineno, "%s record: more than %d fields", r->type, MS_REC_MAX_FIELDS);
		*eq = '\0';
		r->f[r->nf].key = tok;
		r->f[r->nf].val = eq + 1;
		r->f[r->nf].decoded = false;
		r->nf++;
		p++;
	}
	if (strcmp(r->type, MS_REC_FOOTER) == 0)
		rd->info->footer = true;
	return rd->fn(r, rd->user);
}

/* Split buf[0, len) into whole lines; returns bytes consumed (up to the last '\n'). */
static int handle_lines(struct reader *rd, char *buf, size_t len, size_t *consumed)
{
	char *p = buf, *end = buf + len;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
		*nl = '\0';
		uint64_t lineno = ++rd->info->lines;
		int rc = handle_line(rd, p, (size_t)(nl - p), lineno);
		if (rc < 0)
			return rc;
		p = nl + 1;
	}
	*consumed = (size_t)(p - buf);
	return 0;
}

static void reader_init(struct reader *rd, const char *path, ms_record_fn fn, void *user,
                        struct ms_trace_info *info, char *err, size_t errcap)
{
	memset(info, 0, sizeof(*info));
	if (errcap)
		err[0] = '\0';
	rd->path = path;
	rd->fn = fn;
	rd->user = user;
	rd->info = info;
	rd->err = err;
	rd->errcap = errcap;
	rd->rec.path = path;
	rd->rec.err = err;
	rd->rec.errcap = errcap;
}

/* After the last whole line: what remains is a partial line, or nothing. */
static int finish(struct reader *rd, size_t leftover)
{
	if (rd->info->lines == 0 && leftover == 0)
		return fail(rd, 0, "empty file, not a metashim trace");
	if (leftover)
		rd->info->partial_line = true;
	if (rd->info->lines == 0)
		return fail(rd, 1, "not a metashim trace: the first line is not complete");
	return 0;
}

int ms_trace_read(const char *path, ms_record_fn fn, void *user, struct ms_trace_info *info, char *err,
                  size_t errcap)
{
	struct reader rd;
	reader_init(&rd, path, fn, user, info, err, errcap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		fail(&rd, 0, "cannot open: %s", strerror(e));
		return -e;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	size_t cap = READ_CHUNK + MS_READER_MAX_LINE;
	char *buf = malloc(cap + 1);
	int rc = 0;
	if (!buf) {
		rc = -ENOMEM;
		fail(&rd, 0, "out of memory");
		goto out_close;
	}
	size_t have = 0;
	for (;;) {
		ssize_t n = read(fd, buf + have, cap - have);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			fail(&rd, 0, "read error: %s", strerror(errno));
			goto out_free;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		size_t used;
		rc = handle_lines(&rd, buf, have, &used);
		if (rc < 0)
			goto out_free;
		if (used == 0 && have == cap) {
			rc = fail(&rd, rd.info->lines + 1, "line longer than %zu bytes", cap);
			goto out_free;
		}
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	rc = finish(&rd, have);
out_free:
	free(buf);
out_close:
	close(fd);
	return rc;
}

int ms_trace_read_mem(const char *name, const char *data, size_t len, ms_record_fn fn, void *user,
                      struct ms_trace_info *info, char *err, size_t errcap)
{
	struct reader rd;
	reader_init(&rd, name, fn, user, info, err, errcap);
	/* A private copy: lines are tokenized in place. */
	char *buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, data, len);
	buf[len] = '\0';
	size_t used = 0;
	int rc = handle_lines(&rd, buf, len, &used);
	if (rc == 0)
		rc = finish(&rd, len - used);
	free(buf);
	return rc;
}
