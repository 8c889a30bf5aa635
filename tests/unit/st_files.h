/* st_files.h — shared by the safetensors and manifest unit tests: a temporary
 * directory per test (`dir`) and writers for the small files they load from it
 * (raw bytes, text, safetensors files with a given or a forged header length). */
#ifndef ST_FILES_H
#define ST_FILES_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char dir[64];

static inline int st_rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

/* Make dir from tmpl ("/tmp/ms-xx-XXXXXX"); each test gets a fresh one. */
static inline void st_dir_make(const char *tmpl)
{
	strcpy(dir, tmpl);
	cr_assert_not_null(mkdtemp(dir));
}

/* Remove dir and everything written into it. */
static inline void st_dir_remove(void)
{
	nftw(dir, st_rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* dir/name, in one of a few rotating buffers. */
static inline const char *in_dir(const char *name)
{
	static char bufs[4][256];
	static int k;
	char *b = bufs[k++ % 4];

	snprintf(b, 256, "%s/%s", dir, name);
	return b;
}

static inline void write_bytes(const char *name, const void *p, size_t n)
{
	FILE *f = fopen(in_dir(name), "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(p, 1, n, f), n);
	fclose(f);
}

static inline void write_text(const char *name, const char *text)
{
	write_bytes(name, text, strlen(text));
}

/* A safetensors file: 8-byte little-endian length `hlen` (the real length when
 * hlen is -1), the header text, then data_len bytes of a counting pattern. */
static inline void write_st_len(const char *name, const char *header, int64_t hlen, size_t data_len)
{
	size_t n = strlen(header);
	uint64_t len = hlen < 0 ? n : (uint64_t)hlen;
	unsigned char *buf = malloc(8 + n + data_len);

	cr_assert_not_null(buf);
	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)(len >> (8 * i));
	memcpy(buf + 8, header, n);
	for (size_t i = 0; i < data_len; i++)
		buf[8 + n + i] = (unsigned char)i;
	write_bytes(name, buf, 8 + n + data_len);
	free(buf);
}

/* A safetensors file whose length field tells the truth. */
static inline void write_st(const char *name, const char *header, size_t data_len)
{
	write_st_len(name, header, -1, data_len);
}

#endif /* ST_FILES_H */
