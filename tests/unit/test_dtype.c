/* test_dtype.c — dtype names (safetensors and torch spellings) and element sizes. */
#include <criterion/criterion.h>
#include <string.h>

#include "internal.h"

Test(dtype, every_safetensors_dtype_has_its_bits)
{
	static const struct {
		const char *name;
		uint32_t bits;
	} want[] = {
		{ "BOOL", 8 },    { "U8", 8 },    { "I8", 8 },      { "I16", 16 },    { "U16", 16 },
		{ "F16", 16 },    { "BF16", 16 }, { "I32", 32 },    { "U32", 32 },    { "F32", 32 },
		{ "F64", 64 },    { "I64", 64 },  { "U64", 64 },    { "F8_E4M3", 8 }, { "F8_E5M2", 8 },
		{ "F8_E8M0", 8 }, { "F4", 4 },    { "F6_E2M3", 6 }, { "F6_E3M2", 6 }, { "C64", 64 },
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		cr_expect_eq(ms_dtype_bits(want[i].name), want[i].bits, "%s", want[i].name);
		cr_expect_str_eq(ms_dtype_canonical(want[i].name), want[i].name);
		cr_expect(ms_dtype_is_safetensors(want[i].name), "%s", want[i].name);
		cr_expect_neq(strstr(ms_dtype_names(), want[i].name), NULL, "%s listed", want[i].name);
	}
}

Test(dtype, torch_names_map_to_the_safetensors_name)
{
	static const char *const pairs[][2] = {
		{ "bfloat16", "BF16" },
		{ "torch.bfloat16", "BF16" },
		{ "float32", "F32" },
		{ "float", "F32" },
		{ "torch.float", "F32" },
		{ "half", "F16" },
		{ "float16", "F16" },
		{ "int8", "I8" },
		{ "uint8", "U8" },
		{ "bool", "BOOL" },
		{ "float8_e4m3fn", "F8_E4M3" },
		{ "float8_e5m2", "F8_E5M2" },
		{ "float8_e8m0fnu", "F8_E8M0" },
		{ "int64", "I64" },
		{ "long", "I64" },
		{ "double", "F64" },
		{ "complex64", "C64" },
		{ "int32", "I32" },
		{ "bf16", "BF16" },
		{ "f8_e4m3", "F8_E4M3" },
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		cr_expect_str_eq(ms_dtype_canonical(pairs[i][0]), pairs[i][1], "%s", pairs[i][0]);
	cr_expect_eq(ms_dtype_bits("torch.bfloat16"), 16);
}

Test(dtype, only_the_exact_spelling_is_a_safetensors_header_dtype)
{
	cr_expect(ms_dtype_is_safetensors("BF16"));
	cr_expect_not(ms_dtype_is_safetensors("bf16"));
	cr_expect_not(ms_dtype_is_safetensors("bfloat16"));
	cr_expect_not(ms_dtype_is_safetensors("torch.BF16"));
}

Test(dtype, unknown_names_have_no_size)
{
	static const char *const bad[] = { "F128",       "",      "torch.", "float8_e4m3fnuz",
		                           "complex128", "BF16 ", "qint8" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(ms_dtype_bits(bad[i]), 0, "%s", bad[i]);
		cr_expect_null(ms_dtype_canonical(bad[i]), "%s", bad[i]);
	}
	cr_expect_eq(ms_dtype_bits(NULL), 0);
	cr_expect_null(ms_dtype_canonical(NULL));
}
