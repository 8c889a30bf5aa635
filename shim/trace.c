/* trace.c — the trace writer. Records are built on the caller's stack (ms_line_*),
 * appended whole to one process-wide buffer under a mutex, and written out with
 * write(2) when the buffer fills, when buffered data gets older than ~100 ms, at
 * fork and at exit. The file is created lazily by the first record, so a process
 * that never touches CUDA leaves nothing behind. Never stdio, never a partial line. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Buffered records older than this are written on the next emit. */
#define FLUSH_AGE_NS (100ull * 1000 * 1000)
/* How many NAME.N alternatives to try before giving up on a taken name. */
#define MAX_SUFFIX 1000

extern char **environ;

/* Everything below is guarded by `lock`, except the atomics. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	bool configured;    /* ms_trace_open ran */
	bool failed;        /* an internal error turned tracing off */
	bool closed;        /* the footer is written; later records are dropped */
	bool quiet;         /* no metashim: lines on stderr */
	bool write_through; /* forked child: every record written at once */
	int fd;             /* -1 until the first record creates the file */
	char *buf;          /* records not yet written, whole lines only */
	size_t cap, len;
	uint64_t oldest_ns; /* when the oldest byte in buf was appended */
	uint64_t dropped;   /* records lost (tracing off, after close) */
	enum ms_mode mode;
	char pattern[4096];   /* METASHIM_OUT */
	char path[4096 + 16]; /* the file actually created */
} tr = { .fd = -1 };

static uint64_t start_mono_ns, start_wall_ns;
static uint64_t seq_counter; /* atomic */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The age of buffered data needs no precision: the coarse clock is a plain read
 * of the vDSO page (no TSC read), a few ns on the hot path. */
static uint64_t coarse_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC_COARSE);
}

uint64_t ms_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC) - start_mono_ns;
}

uint64_t ms_next_seq(void)
{
	return __atomic_add_fetch(&seq_counter, 1, __ATOMIC_RELAXED);
}

/* --------------------------------------------------------------- stderr lines */
static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void vsay(bool quiet, const char *fmt, va_list ap)
{
	char msg[1024];
	int n;

	if (quiet)
		return;
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): a prefix; vsnprintf terminates */
	memcpy(msg, "metashim: ", 10);
	n = vsnprintf(msg + 10, sizeof(msg) - 11, fmt, ap);
	if (n < 0)
		return;
	n = n + 10 > (int)sizeof(msg) - 2 ? (int)sizeof(msg) - 2 : n + 10;
	msg[n++] = '\n';
	write_all(STDERR_FILENO, msg, (size_t)n);
}

void ms_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(tr.quiet, fmt, ap);
	va_end(ap);
}

/* -------------------------------------------------------------- line builders */
/* Hot path: every event formats a dozen fields. Each field is one bounds check
 * and direct stores into the line; keys come with their length (folded from the
 * literal by the inline wrappers in internal.h), numbers are formatted two digits
 * at a time, strings that need no escape are copied as they are scanned. */

/* The longest text a line holds: its '\n' and the NUL always fit after it. */
#define LINE_TEXT (MS_TRACE_MAX_LINE - 2)
/* Room for the text of a line, as ms_trace_encode counts it (text + NUL). */
#define LINE_ROOM (MS_TRACE_MAX_LINE - 1)

static const char digits2[201] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";

/* Decimal digits of v. */
static unsigned dec_len(uint64_t v)
{
	unsigned n = 1;

	while (v >= 10000) {
		v /= 10000;
		n += 4;
	}
	return n + (v >= 10) + (v >= 100) + (v >= 1000);
}

/* Write v in decimal at out; returns the length. */
static size_t fmt_dec(char *out, uint64_t v)
{
	unsigned n = dec_len(v), i = n;

	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;
		v /= 100;
		out[--i] = digits2[d + 1];
		out[--i] = digits2[d];
	}
	if (v >= 10) {
		out[--i] = digits2[v * 2 + 1];
		out[--i] = digits2[v * 2];
	} else {
		out[--i] = (char)('0' + v);
	}
	return n;
}

/* Write v in lower-case hex (no prefix) at out; returns the length. */
static size_t fmt_hex(char *out, uint64_t v)
{
	size_t n = (size_t)(64 - __builtin_clzll(v | 1) + 3) / 4;

	for (size_t i = n; i--; v >>= 4)
		out[i] = "0123456789abcdef"[v & 15];
	return n;
}

/* Copy a short key without a call to memcpy: overlapping loads never read past
 * its end. */
static inline void put_key(char *p, const char *key, size_t klen)
{
	if (klen >= 4 && klen <= 8) {
		uint32_t a, b;
		memcpy(&a, key, 4);
		memcpy(&b, key + klen - 4, 4);
		memcpy(p, &a, 4);
		memcpy(p + klen - 4, &b, 4);
	} else {
		memcpy(p, key, klen);
	}
}

/* " key=" at the end of the line when `vmax` more bytes fit after it: the start
 * of the value, NULL (line unchanged) when the field does not fit. */
static inline char *field(struct ms_line *l, const char *key, size_t klen, size_t vmax)
{
	char *p;

	if (MS_UNLIKELY(l->len + klen + 2 + vmax > LINE_TEXT))
		return NULL;
	p = l->buf + l->len;
	*p++ = ' ';
	put_key(p, key, klen);
	p += klen;
	*p++ = '=';
	return p;
}

static inline void field_end(struct ms_line *l, char *end)
{
	*end = '\0';
	l->len = (size_t)(end - l->buf);
}

void ms_line_begin(struct ms_line *l, const char *type)
{
	size_t n = strlen(type);

	if (n > LINE_TEXT)
		n = LINE_TEXT;
	memcpy(l->buf, type, n);
	l->buf[n] = '\0';
	l->len = n;
}

void ms_line_u64k(struct ms_line *l, const char *key, size_t klen, uint64_t v)
{
	char *p = field(l, key, klen, 20);

	if (p)
		field_end(l, p + fmt_dec(p, v));
}

void ms_line_i64k(struct ms_line *l, const char *key, size_t klen, int64_t v)
{
	char *p = field(l, key, klen, 20);
	uint64_t mag = (uint64_t)v;

	if (!p)
		return;
	if (v < 0) {
		*p++ = '-';
		mag = -mag;
	}
	field_end(l, p + fmt_dec(p, mag));
}

void ms_line_hexk(struct ms_line *l, const char *key, size_t klen, uint64_t v)
{
	char *p = field(l, key, klen, 18);

	if (!p)
		return;
	p[0] = '0';
	p[1] = 'x';
	field_end(l, p + 2 + fmt_hex(p + 2, v));
}

/* A byte a reader could take for a separator, and '%' itself (trace_format.c). */
static inline bool needs_escape(unsigned char ch)
{
	return ch <= 0x20 || ch == '%' || ch == '=' || ch == 0x7f;
}

/* Strings are percent-encoded; a value too long for the line is cut at a whole
 * escape, so the line stays well formed (an empty string is written as `key=`).
 * Names and API names need no escape: they are copied while being scanned, and
 * only the rest of a string holding an escapable byte goes through the encoder. */
void ms_line_strk(struct ms_line *l, const char *key, size_t klen, const char *s)
{
	char *p = field(l, key, klen, 0), *lim;

	if (!p)
		return;
	if (!s)
		s = "";
	lim = l->buf + LINE_TEXT;
	for (; *s && p < lim; s++, p++) {
		if (MS_UNLIKELY(needs_escape((unsigned char)*s))) {
			ms_trace_encode(p, (size_t)(lim - p) + 1, s, strlen(s));
			field_end(l, p + strlen(p));
			return;
		}
		*p = *s;
	}
	field_end(l, p);
}

/* ------------------------------------------------------------ the trace file */
static void fail_locked(const char *what, int err)
{
	char msg[256];
	size_t n;

	tr.failed = true;
	if (tr.fd >= 0)
		close(tr.fd);
	tr.fd = -1;
	tr.len = 0;
	n = (size_t)snprintf(msg, sizeof(msg), "metashim: %s %s: %s; tracing is off\n", what,
	                     tr.path[0] ? tr.path : tr.pattern, strerror(err));
	if (!tr.quiet)
		write_all(STDERR_FILENO, msg, n < sizeof(msg) ? n : sizeof(msg) - 1);
}

static void flush_locked(void)
{
	int rc;

	if (tr.fd < 0 || !tr.len)
		return;
	rc = write_all(tr.fd, tr.buf, tr.len);
	tr.len = 0;
	if (rc < 0)
		fail_locked("writing the trace", -rc);
}

static long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);
	char *end;
	long x;

	if (!v || !*v)
		return dflt;
	x = strtol(v, &end, 10);
	return *end ? dflt : x;
}

/* RANK, else LOCAL_RANK, else dflt. */
static long rank_of(long dflt)
{
	return env_long("RANK", env_long("LOCAL_RANK", dflt));
}

/* Expand %p, %r and %% of the METASHIM_OUT pattern. */
static int expand_pattern(char *dst, size_t cap, const char *pat)
{
	size_t n = 0;

	for (const char *p = pat; *p; p++) {
		char num[24];
		const char *ins = num;
		size_t len;

		if (p[0] == '%' && p[1] == 'p') {
			len = fmt_dec(num, (uint64_t)getpid());
			p++;
		} else if (p[0] == '%' && p[1] == 'r') {
			long r = rank_of(0);

			len = fmt_dec(num, (uint64_t)(r < 0 ? 0 : r));
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			ins = "%", len = 1;
			p++;
		} else {
			ins = p, len = 1;
		}
		if (n + len >= cap)
			return -ENAMETOOLONG;
		memcpy(dst + n, ins, len);
		n += len;
	}
	dst[n] = '\0';
	return 0;
}

/* Never overwrite: a taken name gets .1, .2, ... appended. */
static int create_file(void)
{
	char base[sizeof(tr.path) - 16];
	int rc = expand_pattern(base, sizeof(base), tr.pattern);

	if (rc < 0)
		return rc;
	for (int i = 0; i <= MAX_SUFFIX; i++) {
		if (i)
			snprintf(tr.path, sizeof(tr.path), "%s.%d", base, i);
		else
			snprintf(tr.path, sizeof(tr.path), "%s", base);
		int fd = open(tr.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

		if (fd >= 0) {
			if (i) {
				char msg[sizeof(tr.path) * 2 + 64];
				int n = snprintf(msg, sizeof(msg),
				                 "metashim: %s exists; writing %s instead\n", base, tr.path);

				if (!tr.quiet && n > 0)
					write_all(STDERR_FILENO, msg, strnlen(msg, sizeof(msg)));
			}
			return fd;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

static void read_small(const char *path, char *buf, size_t cap, bool nul_to_space)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = 0, r;

	buf[0] = '\0';
	if (fd < 0)
		return;
	while ((size_t)n < cap - 1 && (r = read(fd, buf + n, cap - 1 - (size_t)n)) > 0)
		n += r;
	close(fd);
	while (n > 0 && (buf[n - 1] == '\0' || buf[n - 1] == '\n'))
		n--;
	buf[n] = '\0';
	if (nul_to_space)
		for (ssize_t i = 0; i < n; i++)
			if (!buf[i])
				buf[i] = ' ';
}

static void write_preamble(int fd)
{
	struct ms_line l;
	char text[4096];
	int rc;

	memcpy(l.buf, MS_TRACE_MAGIC " ", sizeof(MS_TRACE_MAGIC));
	l.len = sizeof(MS_TRACE_MAGIC);
	l.len += fmt_dec(l.buf + l.len, MS_TRACE_VERSION);
	l.buf[l.len++] = '\n';
	rc = write_all(fd, l.buf, l.len);

	ms_line_begin(&l, MS_REC_HEADER);
	ms_line_u64(&l, "fmt", MS_TRACE_VERSION);
	ms_line_str(&l, "shim", METASHIM_VERSION);
	ms_line_u64(&l, "pid", (uint64_t)getpid());
	ms_line_u64(&l, "ppid", (uint64_t)getppid());
	ms_line_i64(&l, "rank", rank_of(-1));
	ms_line_i64(&l, "world", env_long("WORLD_SIZE", env_long("LOCAL_WORLD_SIZE", -1)));
	ms_line_u64(&l, "wall_ns", start_wall_ns);
	ms_line_str(&l, "mode", ms_mode_name(tr.mode));
	if (gethostname(text, sizeof(text)))
		text[0] = '\0';
	text[sizeof(text) - 1] = '\0';
	ms_line_str(&l, "host", text);
	ssize_t n = readlink("/proc/self/exe", text, sizeof(text) - 1);
	text[n > 0 ? n : 0] = '\0';
	ms_line_str(&l, "exe", text);
	if (!getcwd(text, sizeof(text)))
		text[0] = '\0';
	ms_line_str(&l, "cwd", text);
	read_small("/proc/self/cmdline", text, sizeof(text), true);
	ms_line_str(&l, "argv", text);
	l.buf[l.len++] = '\n';
	if (!rc)
		rc = write_all(fd, l.buf, l.len);

	for (char **e = environ; e && *e && !rc; e++) {
		const char *eq = strchr(*e, '=');

		if (!eq || strncmp(*e, "METASHIM_", 9))
			continue;
		size_t kn = (size_t)(eq - *e) < sizeof(text) - 1 ? (size_t)(eq - *e) : sizeof(text) - 1;
		memcpy(text, *e, kn);
		text[kn] = '\0';
		ms_line_begin(&l, MS_REC_OPTION);
		ms_line_str(&l, "key", text);
		ms_line_str(&l, "value", eq + 1);
		l.buf[l.len++] = '\n';
		rc = write_all(fd, l.buf, l.len);
	}
	if (rc < 0)
		fail_locked("writing the trace header to", -rc);
}

static bool ensure_buffer_locked(void)
{
	if (tr.buf)
		return true;
	tr.buf = malloc(tr.cap);
	if (!tr.buf) {
		fail_locked("allocating the trace buffer for", ENOMEM);
		return false;
	}
	return true;
}

static bool ensure_file_locked(void)
{
	int fd;

	if (tr.fd >= 0)
		return true;
	fd = create_file();
	if (fd < 0) {
		fail_locked("cannot create trace file", -fd);
		return false;
	}
	tr.fd = fd;
	write_preamble(fd);
	return tr.fd >= 0;
}

/* Append a whole line; create_file false leaves it pending until some other record
 * creates the file (warnings alone must not make a file appear). */
static void append(struct ms_line *l, bool create)
{
	uint64_t now;

	pthread_mutex_lock(&lock);
	if (!tr.configured || tr.failed || tr.closed)
		goto out_drop;
	if (!ensure_buffer_locked())
		goto out_drop;
	if (create && !ensure_file_locked())
		goto out_drop;
	if (tr.len + l->len + 1 > tr.cap) {
		if (tr.fd < 0)
			goto out_drop; /* pending warnings filled the buffer */
		flush_locked();
		if (tr.failed)
			goto out_drop;
	}
	now = coarse_ns();
	if (!tr.len)
		tr.oldest_ns = now;
	memcpy(tr.buf + tr.len, l->buf, l->len);
	tr.buf[tr.len + l->len] = '\n';
	tr.len += l->len + 1;
	if (tr.fd >= 0 && (tr.write_through || now - tr.oldest_ns >= FLUSH_AGE_NS))
		flush_locked();
	pthread_mutex_unlock(&lock);
	return;
out_drop:
	tr.dropped++;
	pthread_mutex_unlock(&lock);
}

/* The batch the current thread's records join (ms_line_batch_begin), or NULL. */
static __thread struct ms_line *tl_batch __attribute__((tls_model("initial-exec")));

void ms_line_emit(struct ms_line *l)
{
	struct ms_line *b = tl_batch;

	if (MS_LIKELY(!b) || b == l) {
		append(l, true);
		return;
	}
	/* Join the batch as a line of its own; a full batch goes out first. */
	if (b->len && b->len + 1 + l->len > LINE_TEXT) {
		append(b, true);
		b->len = 0;
	}
	if (b->len)
		b->buf[b->len++] = '\n';
	memcpy(b->buf + b->len, l->buf, l->len);
	b->len += l->len;
	b->buf[b->len] = '\0';
}

void ms_line_batch_begin(struct ms_line *l)
{
	tl_batch = l;
}

void ms_line_batch_end(void)
{
	struct ms_line *b = tl_batch;

	tl_batch = NULL;
	if (b && b->len)
		append(b, true);
}

void ms_line_emit_pending(struct ms_line *l)
{
	append(l, false);
}

int ms_trace_open(const struct ms_config *cfg)
{
	pthread_mutex_lock(&lock);
	if (tr.fd >= 0) {
		flush_locked();
		close(tr.fd);
	}
	free(tr.buf);
	tr.buf = NULL;
	tr.fd = -1;
	tr.len = 0;
	tr.failed = tr.closed = tr.write_through = false;
	tr.dropped = 0;
	tr.path[0] = '\0';
	tr.quiet = cfg->quiet;
	tr.mode = cfg->mode;
	tr.cap = cfg->buffer_bytes < 8 * MS_TRACE_MAX_LINE ? 8 * MS_TRACE_MAX_LINE : cfg->buffer_bytes;
	snprintf(tr.pattern, sizeof(tr.pattern), "%s", cfg->out);
	start_mono_ns = clock_ns(CLOCK_MONOTONIC);
	start_wall_ns = clock_ns(CLOCK_REALTIME);
	__atomic_store_n(&seq_counter, 0, __ATOMIC_RELAXED);
	tr.configured = true;
	pthread_mutex_unlock(&lock);
	return 0;
}

bool ms_trace_active(void)
{
	bool on;

	pthread_mutex_lock(&lock);
	on = tr.fd >= 0 && !tr.closed;
	pthread_mutex_unlock(&lock);
	return on;
}

const char *ms_trace_path(void)
{
	return tr.path;
}

void ms_trace_flush(void)
{
	pthread_mutex_lock(&lock);
	flush_locked();
	pthread_mutex_unlock(&lock);
}

void ms_trace_close(void)
{
	struct ms_line l;

	pthread_mutex_lock(&lock);
	if (tr.fd >= 0 && !tr.closed) {
		ms_line_begin(&l, MS_REC_FOOTER);
		ms_line_u64(&l, "t", ms_now_ns());
		ms_line_u64(&l, "events", __atomic_load_n(&seq_counter, __ATOMIC_RELAXED));
		ms_line_u64(&l, "dropped", tr.dropped);
		if (tr.len + l.len + 1 > tr.cap)
			flush_locked();
		if (tr.fd >= 0) {
			memcpy(tr.buf + tr.len, l.buf, l.len);
			tr.buf[tr.len + l.len] = '\n';
			tr.len += l.len + 1;
			flush_locked();
		}
		if (tr.fd >= 0)
			close(tr.fd);
		tr.fd = -1;
	}
	tr.len = 0;
	tr.closed = true;
	pthread_mutex_unlock(&lock);
}

/* fork: the parent's records reach its file before the child exists, and the
 * child starts afresh (its own file, named with its own pid, created lazily). */
void ms_trace_fork_prepare(void)
{
	pthread_mutex_lock(&lock);
	flush_locked();
}

void ms_trace_fork_parent(void)
{
	pthread_mutex_unlock(&lock);
}

void ms_trace_after_fork_child(void)
{
	if (tr.fd >= 0) {
		/* Unwritten bytes belong to the parent's file: drop them. */
		close(tr.fd);
		tr.fd = -1;
		tr.len = 0;
	}
	tr.path[0] = '\0';
	tr.dropped = 0;
	tr.closed = false;
	/* Children usually leave through _exit (no destructors) and CUDA in a
	 * forked child is rare: write each record through rather than lose it. */
	tr.write_through = true;
	start_mono_ns = clock_ns(CLOCK_MONOTONIC);
	start_wall_ns = clock_ns(CLOCK_REALTIME);
	__atomic_store_n(&seq_counter, 0, __ATOMIC_RELAXED);
	pthread_mutex_init(&lock, NULL);
}
