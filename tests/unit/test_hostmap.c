/* Unit tests of host mapping tracking (shim/hostmap.c, shim/hooks_libc.c): the
 * test's own mmap/munmap/mremap calls go through the interposers linked into it. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

static char dir[64];
static char path[128];
static struct stat st;
static long page;

static void setup(void)
{
	char buf[4096] = { 0 };
	int fd;

	page = sysconf(_SC_PAGESIZE);
	snprintf(dir, sizeof(dir), "/tmp/ms-hostmap-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/data.bin", dir);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	for (int i = 0; i < 16; i++)
		cr_assert_eq(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	cr_assert_eq(fstat(fd, &st), 0);
	close(fd);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(hostmap, .init = setup, .fini = teardown);

static char *map_file(const char *p, size_t len, off_t off)
{
	int fd = open(p, O_RDONLY);
	char *m;

	cr_assert_geq(fd, 0, "open %s", p);
	m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, off);
	cr_assert_neq(m, MAP_FAILED);
	close(fd);
	return m;
}

static void expect_at(const void *addr, uint64_t offset, uint64_t avail)
{
	struct ms_fileref fr;

	cr_assert_eq(ms_hostmap_lookup((uint64_t)(uintptr_t)addr, &fr), 0);
	cr_expect_eq(fr.dev, (uint64_t)st.st_dev);
	cr_expect_eq(fr.ino, (uint64_t)st.st_ino);
	cr_expect_eq(fr.offset, offset);
	cr_expect_eq(fr.avail, avail);
}

static bool found(const void *addr)
{
	struct ms_fileref fr;

	return ms_hostmap_lookup((uint64_t)(uintptr_t)addr, &fr) == 0;
}

Test(hostmap, an_address_inside_a_file_mapping_gives_its_file_and_offset)
{
	char *m = map_file(path, 4 * (size_t)page, 2 * page);

	expect_at(m, 2 * (uint64_t)page, 4 * (uint64_t)page);
	expect_at(m + 100, 2 * (uint64_t)page + 100, 4 * (uint64_t)page - 100);
	munmap(m, 4 * (size_t)page);
}

Test(hostmap, after_munmap_the_mapping_is_gone)
{
	char *m = map_file(path, 4 * (size_t)page, 0);

	cr_assert(found(m + 10));
	cr_assert_eq(munmap(m, 4 * (size_t)page), 0);
	cr_expect_not(found(m + 10));
}

Test(hostmap, a_partial_munmap_keeps_the_rest_with_its_offsets)
{
	char *m = map_file(path, 4 * (size_t)page, 0);

	cr_assert_eq(munmap(m + page, (size_t)page), 0);
	expect_at(m, 0, (uint64_t)page);
	cr_expect_not(found(m + page));
	expect_at(m + 2 * page, 2 * (uint64_t)page, 2 * (uint64_t)page);
	munmap(m, 4 * (size_t)page);
}

Test(hostmap, a_hard_link_or_symlink_to_the_same_file_matches)
{
	char hard[160], soft[160];
	char *a, *b;

	snprintf(hard, sizeof(hard), "%s/hard.bin", dir);
	snprintf(soft, sizeof(soft), "%s/soft.bin", dir);
	cr_assert_eq(link(path, hard), 0);
	cr_assert_eq(symlink(path, soft), 0);
	a = map_file(hard, (size_t)page, page);
	b = map_file(soft, (size_t)page, 0);
	expect_at(a, (uint64_t)page, (uint64_t)page);
	expect_at(b, 0, (uint64_t)page);
	munmap(a, (size_t)page);
	munmap(b, (size_t)page);
}

Test(hostmap, anonymous_memory_is_not_a_file)
{
	char *m = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static char bss[64];
	char stack[16];

	cr_expect_not(found(m));
	cr_expect_not(found(bss));
	cr_expect_not(found(stack));
	munmap(m, (size_t)page);
}

Test(hostmap, a_fixed_anonymous_mapping_replaces_a_file_mapping)
{
	char *m = map_file(path, 2 * (size_t)page, 0);
	void *r = mmap(m, (size_t)page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

	cr_assert_eq(r, (void *)m);
	cr_expect_not(found(m));
	cr_expect(found(m + page));
	munmap(m, 2 * (size_t)page);
}

Test(hostmap, mremap_moves_the_mapping_with_its_offset)
{
	char *m = map_file(path, (size_t)page, page);
	char *r = mremap(m, (size_t)page, 2 * (size_t)page, MREMAP_MAYMOVE);

	cr_assert_neq(r, MAP_FAILED);
	expect_at(r + 5, (uint64_t)page + 5, 2 * (uint64_t)page - 5);
	if (r != m)
		cr_expect_not(found(m));
	munmap(r, 2 * (size_t)page);
}

Test(hostmap, a_mapping_the_hooks_never_saw_is_found_through_proc)
{
	int fd = open(path, O_RDONLY);
	long p = syscall(SYS_mmap, NULL, 2 * page, PROT_READ, MAP_PRIVATE, fd, page);

	cr_assert_neq(p, -1);
	close(fd);
	expect_at((char *)p + 8, (uint64_t)page + 8, 2 * (uint64_t)page - 8);
	syscall(SYS_munmap, p, 2 * page);
}

/* Readers keep finding a fixed mapping while another thread maps and unmaps many
 * others (growing the table): lookups never block and never see a wrong answer. */
static volatile bool stop;
static char *fixed_map;
static int readers_done;

static void *reader(void *arg)
{
	uint64_t ok = 0;

	while (!stop) {
		struct ms_fileref fr;
		cr_assert_eq(ms_hostmap_lookup((uint64_t)(uintptr_t)fixed_map + 3, &fr), 0);
		cr_assert_eq(fr.offset, 3);
		ok++;
	}
	__atomic_fetch_add(&readers_done, 1, __ATOMIC_RELAXED);
	return (void *)(uintptr_t)ok;
}

Test(hostmap, lookups_from_several_threads_while_another_maps_do_not_block)
{
	pthread_t th[4];
	int fd = open(path, O_RDONLY);
	static char *maps[3000];

	fixed_map = map_file(path, (size_t)page, 0);
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, reader, NULL);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 3000; i++) {
			maps[i] =
			        mmap(NULL, (size_t)page, PROT_READ, MAP_PRIVATE, fd, (off_t)(i % 16) * page);
			cr_assert_neq(maps[i], MAP_FAILED);
		}
		for (int i = 0; i < 3000; i++) {
			expect_at(maps[i], (uint64_t)(i % 16) * (uint64_t)page, (uint64_t)page);
			munmap(maps[i], (size_t)page);
		}
	}
	stop = true;
	for (int i = 0; i < 4; i++) {
		void *ok;
		pthread_join(th[i], &ok);
		cr_expect_gt((uintptr_t)ok, 0);
	}
	cr_expect_eq(readers_done, 4);
	close(fd);
}
