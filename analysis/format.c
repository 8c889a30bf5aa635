/* format.c — number formatting shared by the commands, fixed so that golden
 * outputs are byte-stable: binary units for sizes, decimal GB/s for rates; and
 * the UTF-8 validity check the exporters share when escaping trace strings. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "model.h"

char *ms_fmt_bytes(uint64_t bytes, char *buf, size_t cap)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	if (bytes < 1024) {
		snprintf(buf, cap, "%" PRIu64 " B", bytes);
		return buf;
	}
	double v = (double)bytes / 1024.0;
	int u = 0;
	while (v >= 1024.0 && u < 4) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, cap, "%.1f %s", v, unit[u]);
	return buf;
}

char *ms_fmt_ns(uint64_t ns, char *buf, size_t cap)
{
	if (ns >= 1000000000ull)
		snprintf(buf, cap, "%.3f s", (double)ns / 1e9);
	else if (ns >= 1000000ull)
		snprintf(buf, cap, "%.3f ms", (double)ns / 1e6);
	else if (ns >= 1000ull)
		snprintf(buf, cap, "%.1f us", (double)ns / 1e3);
	else
		snprintf(buf, cap, "%" PRIu64 " ns", ns);
	return buf;
}

char *ms_fmt_at(uint64_t t, char *buf, size_t cap)
{
	if (t == MS_NO_TIME)
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.3f", (double)t / 1e9);
	return buf;
}

char *ms_fmt_rate(uint64_t bytes, uint64_t ns, char *buf, size_t cap)
{
	if (!ns)
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.2f GB/s", (double)bytes / (double)ns);
	return buf;
}

FILE *ms_open_out(const char *path)
{
	if (!path || strcmp(path, "-") == 0)
		return stdout;
	FILE *f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "metashim: cannot write %s: %s\n", path, strerror(errno));
	return f;
}

int ms_close_out(FILE *f)
{
	int rc = 0;
	if (fflush(f) != 0 || ferror(f))
		rc = -EIO;
	if (f != stdout && fclose(f) != 0)
		rc = -EIO;
	return rc;
}

size_t ms_utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}
