/* Unit tests of interval-union sets (shim/intervals.c): unique coverage under
 * arbitrary out-of-order, overlapping and repeated writes. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "registry.h"

static uint64_t add(struct ms_ivset *s, uint64_t lo, uint64_t hi)
{
	uint64_t added;

	cr_assert_eq(ms_ivset_add(s, lo, hi, &added), 0);
	return added;
}

Test(intervals, disjoint_writes_count_their_union)
{
	struct ms_ivset s = { 0 };

	cr_expect_eq(add(&s, 0, 3), 3);
	cr_expect_eq(add(&s, 5, 8), 3);
	cr_expect_eq(ms_ivset_total(&s), 6);
	cr_expect_eq(s.n, 2);
	ms_ivset_free(&s);
}

Test(intervals, repeated_writes_add_nothing)
{
	struct ms_ivset s = { 0 };

	cr_expect_eq(add(&s, 0, 5), 5);
	cr_expect_eq(add(&s, 0, 5), 0);
	cr_expect_eq(add(&s, 1, 4), 0);
	cr_expect_eq(ms_ivset_total(&s), 5);
	ms_ivset_free(&s);
}

Test(intervals, increasing_contiguous_pieces_stay_one_interval_without_allocating)
{
	struct ms_ivset s = { 0 };

	for (uint64_t i = 0; i < 1000; i++)
		cr_expect_eq(add(&s, i * 10, i * 10 + 10), 10);
	cr_expect_eq(s.n, 1);
	cr_expect_null(s.heap);
	cr_expect(ms_ivset_contains(&s, 0, 10000));
}

Test(intervals, two_halves_in_reverse_order_merge)
{
	struct ms_ivset s = { 0 };

	cr_expect_eq(add(&s, 50, 100), 50);
	cr_expect_eq(add(&s, 0, 50), 50);
	cr_expect_eq(s.n, 1);
	cr_expect_null(s.heap);
}

Test(intervals, a_write_bridging_several_fragments_merges_them)
{
	struct ms_ivset s = { 0 };

	add(&s, 10, 20);
	add(&s, 30, 40);
	add(&s, 50, 60);
	add(&s, 70, 80);
	cr_expect_eq(s.n, 4);
	cr_expect_eq(add(&s, 15, 75), 60 - 30);
	cr_expect_eq(s.n, 1);
	cr_expect_eq(ms_ivset_total(&s), 70);
	ms_ivset_free(&s);
}

Test(intervals, shuffled_single_writes_match_a_bitmap)
{
	enum { N = 4096 };
	static unsigned char seen[N];
	struct ms_ivset s = { 0 };
	uint64_t total = 0, expect = 0;

	srand(7);
	for (int i = 0; i < 20000; i++) {
		uint64_t lo = (uint64_t)(rand() % N), len = (uint64_t)(rand() % 17) + 1;
		uint64_t hi = lo + len > N ? N : lo + len;
		total += add(&s, lo, hi);
		for (uint64_t k = lo; k < hi; k++)
			if (!seen[k]++)
				expect++;
		cr_assert_eq(total, expect, "after write %d", i);
	}
	cr_expect_eq(ms_ivset_total(&s), expect);
	ms_ivset_free(&s);
}

Test(intervals, clear_forgets_everything)
{
	struct ms_ivset s = { 0 };

	add(&s, 0, 10);
	ms_ivset_clear(&s);
	cr_expect_eq(ms_ivset_total(&s), 0);
	cr_expect_eq(add(&s, 0, 10), 10);
	ms_ivset_free(&s);
}
