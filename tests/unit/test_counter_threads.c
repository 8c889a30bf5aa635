/* test_counter_threads.c — counting under contention: 8 threads write every tensor of
 * 300 layers in overlapping, partly out-of-order pieces; each layer completes
 * exactly once and every tensor ends with covered == expected. */
#include <pthread.h>
#include <stdatomic.h>

#include "counting_helpers.h"

#define LAYERS 300
#define PER    8
#define TBYTES 256
static atomic_int fired[LAYERS];
static struct ms_reg_tensor *ts[LAYERS][PER];

static void on_complete(const char *layer, void *user)
{
	int i = atoi(layer + 1);
	atomic_fetch_add(&fired[i], 1);
}

struct arg {
	int tid;
};

static void *worker(void *p)
{
	int tid = ((struct arg *)p)->tid;

	for (int l = 0; l < LAYERS; l++) {
		/* every thread writes every tensor of the layer, pieces in a thread-specific
		 * order (some out of order -> fragmented), overlapping writes */
		for (int k = 0; k < PER; k++) {
			struct ms_reg_tensor *t = ts[l][(k + tid) % PER];
			int order[4] = { 0, 1, 2, 3 };
			if (tid & 1) {
				order[0] = 3;
				order[3] = 0;
			}
			if (tid & 2) {
				order[1] = 2;
				order[2] = 1;
			}
			for (int j = 0; j < 4; j++)
				ms_count_piece(NULL, t, (uint64_t)order[j] * 64, 64);
		}
	}
	return NULL;
}

Test(counter_threads, layers_complete_exactly_once_under_8_threads, .init = ch_setup, .fini = ch_teardown)
{
	pthread_t th[8];
	struct arg a[8];
	char name[64];

	for (int l = 0; l < LAYERS; l++)
		for (int k = 0; k < PER; k++) {
			snprintf(name, sizeof(name), "L%d.t%d", l, k);
			int64_t shape[1] = { TBYTES / 4 };
			cr_assert_eq(metashim_register_tensor(
			                     NULL, name, 0x100000000ull + (uint64_t)(l * PER + k) * TBYTES,
			                     "F32", 1, shape, NULL),
			             0);
			ts[l][k] = ms_registry_tensor(name);
		}
	ms_count_set_callback(on_complete, NULL);
	for (int i = 0; i < 8; i++) {
		a[i].tid = i;
		pthread_create(&th[i], NULL, worker, &a[i]);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	for (int l = 0; l < LAYERS; l++) {
		cr_expect_eq(atomic_load(&fired[l]), 1, "layer %d fired %d", l, atomic_load(&fired[l]));
		for (int k = 0; k < PER; k++) {
			struct metashim_counts c;
			ms_count_tensor_counts(ts[l][k], &c);
			cr_expect_eq(c.covered, TBYTES / 4);
			cr_expect_eq(c.copied, 8 * TBYTES / 4);
			cr_expect(c.complete);
		}
	}
	cr_expect_eq(ms_count_layers_complete(), LAYERS);
}
