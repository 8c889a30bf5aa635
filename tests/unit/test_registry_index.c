/* Unit tests of the device index of shim/registry.c as the copy path sees it:
 * lazily merged registrations, the per-thread window of recent hits, bind and
 * unregister. Every answer is checked against a brute-force model. */
#include <pthread.h>

#include "counting_helpers.h"

#define DEV 0x7f0000000000ull
#define SZ  64 /* bytes per tensor (U8) */

TestSuite(registry_index, .init = ch_setup, .fini = ch_teardown);

static void reg(long i, uint64_t dev)
{
	char name[64];
	int64_t shape = SZ;

	snprintf(name, sizeof(name), "m.l%ld.w", i);
	cr_assert_eq(metashim_register_tensor(NULL, name, dev, "U8", 1, &shape, NULL), 0, "register %s",
	             name);
}

static uint64_t slot(long i)
{
	return DEV + (uint64_t)i * 2 * SZ; /* a gap of SZ after every tensor */
}

/* A permutation of [0, n) that is neither ascending nor descending. */
static long scramble(long i, long n)
{
	return (i * 7919) % n;
}

Test(registry_index, a_lookup_right_after_each_registration_finds_it)
{
	long n = 3000; /* more than the pending array keeps sorted */

	for (long i = 0; i < n; i++) {
		long k = scramble(i, n);
		struct ms_hit h;

		reg(k, slot(k));
		cr_assert(ms_registry_find_dev(slot(k) + 5, &h), "tensor %ld found", k);
		cr_assert_eq(h.lo, slot(k));
		cr_assert_eq(h.hi, slot(k) + SZ);
	}
	for (long k = 0; k < n; k++) {
		struct ms_hit h;

		cr_assert(ms_registry_find_dev(slot(k), &h));
		cr_assert_eq(h.lo, slot(k));
		cr_assert_not(ms_registry_find_dev(slot(k) + SZ, &h), "the gap after %ld is no tensor's", k);
		cr_assert_eq(ms_registry_next_dev(slot(k) + SZ), k + 1 < n ? slot(k + 1) : UINT64_MAX);
	}
}

Test(registry_index, overlapping_registrations_are_refused_while_pending)
{
	int64_t shape = SZ;

	reg(0, slot(0));
	reg(1, slot(1));
	cr_expect_eq(metashim_register_tensor(NULL, "x.a", slot(0) + 8, "U8", 1, &shape, NULL), -EEXIST);
	cr_expect_eq(metashim_register_tensor(NULL, "x.b", slot(1) - 8, "U8", 1, &shape, NULL), -EEXIST);
	cr_expect_eq(metashim_register_tensor(NULL, "x.c", slot(0) + SZ, "U8", 1, &shape, NULL), 0,
	             "the gap is free");
}

Test(registry_index, sequential_hits_walk_the_window_and_stay_right)
{
	long n = 100;

	for (long k = 0; k < n; k++)
		reg(k, slot(k));
	for (int pass = 0; pass < 2; pass++) {
		for (long k = 0; k < n; k++) {
			struct ms_hit h;

			cr_assert(ms_registry_find_dev(slot(k) + (uint64_t)pass, &h));
			cr_assert_eq(h.lo, slot(k));
			cr_assert_str_eq(h.t->name, ms_registry_tensor_at((size_t)k)->name);
			cr_assert_not(ms_registry_find_dev(slot(k) + SZ + 1, &h));
		}
	}
}

Test(registry_index, an_unregistered_tensor_leaves_the_window)
{
	struct ms_hit h;

	reg(0, slot(0));
	reg(1, slot(1));
	cr_assert(ms_registry_find_dev(slot(0), &h)); /* fills the window with both */
	cr_assert_eq(metashim_unregister_tensor("m.l1.w"), 0);
	cr_expect_not(ms_registry_find_dev(slot(1), &h));
	cr_expect(ms_registry_find_dev(slot(0), &h));
}

Test(registry_index, a_bound_range_is_found_by_the_next_lookup)
{
	struct ms_tensor_desc d = {
		.name = "f.t", .dtype = "U8", .ndim = 1, .shape = { SZ }, .stride = { 1 }
	};
	struct ms_reg_tensor *t = NULL;
	struct ms_hit h;

	reg(0, slot(0));
	cr_assert(ms_registry_find_dev(slot(0), &h));
	cr_assert_eq(ms_registry_add(&d, &t), 0);
	cr_assert_eq(ms_registry_bind(t, slot(1), 7), 0);
	cr_expect(ms_registry_find_dev(slot(1) + 1, &h));
	cr_expect_eq(h.t, t);
	cr_expect_eq(ms_registry_bind(t, slot(3), 8), -EEXIST, "bound once");
}

/* Readers on other threads while one thread registers: every tensor registered
 * before a reader's pass is found in it. */
static long published;

static void *reader(void *arg)
{
	(void)arg;
	for (int pass = 0; pass < 200; pass++) {
		long n = __atomic_load_n(&published, __ATOMIC_ACQUIRE);
		for (long k = 0; k < n; k++) {
			struct ms_hit h;
			if (!ms_registry_find_dev(slot(k) + 1, &h) || h.lo != slot(k))
				return (void *)1;
		}
	}
	return NULL;
}

Test(registry_index, concurrent_readers_see_every_published_registration)
{
	pthread_t th[2];
	void *bad[2];

	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, reader, NULL);
	for (long k = 0; k < 2000; k++) {
		reg(k, slot(k));
		__atomic_store_n(&published, k + 1, __ATOMIC_RELEASE);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], &bad[i]);
		cr_expect_null(bad[i], "reader %d missed a tensor", i);
	}
}
