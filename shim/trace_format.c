/* trace_format.c — the value encoding of the trace format (trace_format.h), shared
 * by the shim, which writes traces, and the analysis tool, which reads them. Only
 * the byte-level rules live here; what each record means is in TRACE_FORMAT.md. */
#include "trace_format.h"

static const char hexdig[] = "0123456789ABCDEF";

/* Bytes a reader could mistake for a separator, plus '%' itself. */
static int needs_escape(unsigned char ch)
{
	return ch <= 0x20 || ch == '%' || ch == '=' || ch == 0x7f;
}

/* Whole escape sequences only: when dst fills up, the output stops before the
 * first unit that does not fit, so a truncated value still decodes. */
size_t ms_trace_encode(char *dst, size_t cap, const char *src, size_t len)
{
	size_t out = 0;
	size_t w = 0;
	int full = cap == 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)src[i];
		size_t unit = needs_escape(ch) ? 3 : 1;

		if (!full && w + unit < cap) {
			if (unit == 3) {
				dst[w++] = '%';
				dst[w++] = hexdig[ch >> 4];
				dst[w++] = hexdig[ch & 15];
			} else {
				dst[w++] = (char)ch;
			}
		} else {
			full = 1;
		}
		out += unit;
	}
	if (cap)
		dst[w] = '\0';
	return out;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long ms_trace_decode(char *s)
{
	char *r = s, *w = s;

	while (*r) {
		if (*r != '%') {
			*w++ = *r++;
			continue;
		}
		int hi = hexval(r[1]);
		int lo = hi < 0 ? -1 : hexval(r[2]);

		if (hi < 0 || lo < 0)
			return -1;
		*w++ = (char)(hi << 4 | lo);
		r += 3;
	}
	*w = '\0';
	return (long)(w - s);
}
