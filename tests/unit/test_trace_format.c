/* Unit tests of the trace value encoding (shim/trace_format.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "trace_format.h"

Test(trace_format, separators_and_percent_are_escaped)
{
	char out[64];
	const char in[] = "a b=c%d\ne\x7f";

	size_t n = ms_trace_encode(out, sizeof(out), in, strlen(in));
	cr_assert_str_eq(out, "a%20b%3Dc%25d%0Ae%7F");
	cr_assert_eq(n, strlen(out));
}

Test(trace_format, utf8_and_plain_bytes_pass_through)
{
	char out[64];
	const char in[] = "model.layers.3/\xc3\xa9t\xc3\xa9";

	ms_trace_encode(out, sizeof(out), in, strlen(in));
	cr_assert_str_eq(out, in);
}

Test(trace_format, decode_reverses_encode)
{
	char in[255], out[1024];

	for (int i = 0; i < 255; i++)
		in[i] = (char)(i + 1);
	size_t n = ms_trace_encode(out, sizeof(out), in, sizeof(in));
	cr_assert_eq(n, strlen(out));
	cr_assert_null(strpbrk(out, " =\n"));
	cr_assert_eq(ms_trace_decode(out), (long)sizeof(in));
	cr_assert_eq(memcmp(out, in, sizeof(in)), 0);
}

Test(trace_format, truncation_never_splits_an_escape)
{
	char out[5];
	size_t n = ms_trace_encode(out, sizeof(out), "ab c", 4);

	/* "ab%20c" needs 6 bytes + NUL; only "ab" fits whole before the escape. */
	cr_assert_eq(n, 6);
	cr_assert_str_eq(out, "ab");
	cr_assert_geq(ms_trace_decode(out), 0);
}

Test(trace_format, zero_capacity_only_measures)
{
	cr_assert_eq(ms_trace_encode(NULL, 0, "a=b", 3), 5);
}

Test(trace_format, empty_string_encodes_empty)
{
	char out[4] = "xyz";

	cr_assert_eq(ms_trace_encode(out, sizeof(out), "", 0), 0);
	cr_assert_str_eq(out, "");
}

Test(trace_format, malformed_escapes_are_rejected)
{
	char a[] = "ab%2", b[] = "%zz", c[] = "%4";

	cr_assert_eq(ms_trace_decode(a), -1);
	cr_assert_eq(ms_trace_decode(b), -1);
	cr_assert_eq(ms_trace_decode(c), -1);
}

Test(trace_format, lower_case_hex_decodes_too)
{
	char s[] = "a%3db";

	cr_assert_eq(ms_trace_decode(s), 3);
	cr_assert_str_eq(s, "a=b");
}
