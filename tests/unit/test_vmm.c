/* test_vmm.c — the pure parts of deferred memory: granule math (vmm.c) and the
 * replay log (replay.c), run against a host buffer standing in for the device. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "internal.h"

#define G (2ull << 20)

Test(vmm, sizes_round_up_to_whole_granules)
{
	cr_expect_eq(ms_vmm_round_up(1, G), G);
	cr_expect_eq(ms_vmm_round_up(G, G), G);
	cr_expect_eq(ms_vmm_round_up(G + 1, G), 2 * G);
	cr_expect_eq(ms_vmm_round_up(0, G), 0);
}

Test(vmm, a_byte_range_touches_the_granules_it_overlaps_and_no_more)
{
	uint64_t g0, g1, base = 0x7f0000000000ull;

	ms_vmm_granules(base, G, base, base + 1, &g0, &g1);
	cr_expect(g0 == 0 && g1 == 1);
	ms_vmm_granules(base, G, base + G - 1, base + G + 1, &g0, &g1);
	cr_expect(g0 == 0 && g1 == 2, "a range across a boundary touches both granules");
	ms_vmm_granules(base, G, base + G, base + 3 * G, &g0, &g1);
	cr_expect(g0 == 1 && g1 == 3, "an aligned range touches exactly its granules");
	ms_vmm_granules(base, G, base + 5 * G, base + 5 * G, &g0, &g1);
	cr_expect_eq(g0, g1, "an empty range touches none");
}

/* The "device": one host buffer addressed from DEV. */
#define DEV 0x100000ull
static unsigned char dev[4096];

static int w(void *ctx, uint64_t dst, const void *src, uint64_t len)
{
	(void)ctx;
	memcpy(dev + (dst - DEV), src, len);
	return 0;
}

static int f(void *ctx, const struct ms_rlog_entry *e, uint64_t dst, uint64_t len)
{
	(void)ctx;
	ms_rlog_fill_pattern(e, dst, dev + (dst - DEV), len);
	return 0;
}

static const struct ms_rlog_dev io = { w, f, NULL };

Test(rlog, replay_writes_only_the_spans_asked_for_in_program_order)
{
	struct ms_rlog l = { 0 };
	unsigned char a[100], b[100];
	struct ms_rlog_span s = { DEV + 50, DEV + 150 };
	uint64_t n = 0;

	memset(dev, 0, sizeof(dev));
	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	cr_assert_eq(ms_rlog_add_copy(&l, DEV, a, 100, true, 1), 0);
	cr_assert_eq(ms_rlog_add_copy(&l, DEV + 80, b, 100, true, 2), 0);
	memset(a, 9, sizeof(a)); /* staged: the program may reuse its buffer */
	cr_assert_eq(ms_rlog_replay(&l, &s, 1, &io, &n), 0);
	cr_expect_eq(n, 2);
	cr_expect_eq(dev[49], 0, "outside the span: untouched");
	cr_expect_eq(dev[50], 1);
	cr_expect_eq(dev[79], 1);
	cr_expect_eq(dev[80], 2, "the later copy wins where they overlap");
	cr_expect_eq(dev[149], 2);
	cr_expect_eq(dev[150], 0);
	cr_expect_eq(l.staged, 200);
	ms_rlog_free(&l);
}

Test(rlog, referenced_sources_are_not_copied_and_cost_no_staging)
{
	struct ms_rlog l = { 0 };
	static const unsigned char file[64] = { 7, 7, 7 };

	cr_assert_eq(ms_rlog_add_copy(&l, DEV, file, 64, false, 1), 0);
	cr_expect_eq(l.staged, 0);
	cr_expect_eq(l.v[0].src, file);
	cr_expect_eq(l.v[0].kind, MS_RLOG_REF);
	ms_rlog_free(&l);
}

Test(rlog, a_read_of_deferred_memory_is_zeros_with_the_recorded_writes_on_top)
{
	struct ms_rlog l = { 0 };
	unsigned char a[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, out[16];

	cr_assert_eq(ms_rlog_add_copy(&l, DEV + 4, a, 8, true, 1), 0);
	memset(out, 0, sizeof(out));
	ms_rlog_read(&l, DEV, DEV + 16, out);
	cr_expect_eq(out[3], 0);
	cr_expect_eq(out[4], 1);
	cr_expect_eq(out[11], 8);
	cr_expect_eq(out[12], 0);
	ms_rlog_free(&l);
}

Test(rlog, fills_repeat_their_element_from_the_fill_start_in_any_piece)
{
	struct ms_rlog l = { 0 };
	struct ms_rlog_span s = { DEV + 3, DEV + 9 };

	memset(dev, 0, sizeof(dev));
	cr_assert_eq(ms_rlog_add_fill(&l, DEV, 16, 0xddccbbaa, 4, 1), 0);
	cr_assert_eq(ms_rlog_replay(&l, &s, 1, &io, NULL), 0);
	cr_expect_eq(dev[2], 0);
	cr_expect_eq(dev[3], 0xdd, "element byte 3 (little-endian)");
	cr_expect_eq(dev[4], 0xaa);
	cr_expect_eq(dev[8], 0xaa);
	cr_expect_eq(dev[9], 0);
	cr_expect_eq(ms_rlog_add_fill(&l, DEV, 16, 1, 3, 2), -EINVAL);
	ms_rlog_free(&l);
}

static bool below(void *ctx, uint64_t lo, uint64_t hi)
{
	(void)lo;
	return hi <= *(uint64_t *)ctx;
}

Test(rlog, dropping_frees_the_staging_of_entries_now_fully_real)
{
	struct ms_rlog l = { 0 };
	unsigned char a[32] = { 0 };
	uint64_t limit = DEV + 64;

	ms_rlog_add_copy(&l, DEV, a, 32, true, 1);
	ms_rlog_add_copy(&l, DEV + 48, a, 32, true, 2);
	ms_rlog_add_fill(&l, DEV + 16, 16, 0, 1, 3);
	cr_expect_eq(ms_rlog_drop(&l, below, &limit), 2);
	cr_expect_eq(l.n, 1);
	cr_expect_eq(l.v[0].seq, 2, "the entry reaching past the limit stays");
	cr_expect_eq(l.staged, 32);
	cr_expect(ms_rlog_touches(&l, DEV + 70, DEV + 71));
	cr_expect(!ms_rlog_touches(&l, DEV, DEV + 48));
	ms_rlog_free(&l);
}
