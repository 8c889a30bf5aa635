/* dtype.c — element types: the names safetensors writes in its headers, the torch
 * names a user or the C API may give instead, and the bits each element occupies.
 * One table; no state. Shared by the shim and the analysis tool. */
#include <string.h>
#include <strings.h>

#include "internal.h"

struct dtype {
	const char *name;       /* safetensors spelling, the canonical one */
	uint32_t bits;          /* bits per element */
	const char *aliases[4]; /* torch / numpy names, lower case, without "torch." */
};

/* Every dtype safetensors defines (safetensors/src/tensor.rs, enum Dtype), in its
 * order of increasing alignment. Sub-byte types (F4, F6_*) are packed: a tensor's
 * bits must fill whole bytes. */
static const struct dtype dtypes[] = {
	{ "BOOL", 8, { "bool" } },
	{ "F4", 4, { "float4_e2m1", "fp4_e2m1", "float4_e2m1fn" } },
	{ "F6_E2M3", 6, { "float6_e2m3", "fp6_e2m3", "float6_e2m3fn" } },
	{ "F6_E3M2", 6, { "float6_e3m2", "fp6_e3m2", "float6_e3m2fn" } },
	{ "U8", 8, { "uint8" } },
	{ "I8", 8, { "int8" } },
	{ "F8_E5M2", 8, { "float8_e5m2" } },
	{ "F8_E4M3", 8, { "float8_e4m3fn", "float8_e4m3" } },
	{ "F8_E8M0", 8, { "float8_e8m0fnu", "float8_e8m0" } },
	{ "I16", 16, { "int16", "short" } },
	{ "U16", 16, { "uint16" } },
	{ "F16", 16, { "float16", "half" } },
	{ "BF16", 16, { "bfloat16" } },
	{ "I32", 32, { "int32", "int" } },
	{ "U32", 32, { "uint32" } },
	{ "F32", 32, { "float32", "float" } },
	{ "C64", 64, { "complex64", "cfloat" } },
	{ "F64", 64, { "float64", "double" } },
	{ "I64", 64, { "int64", "long" } },
	{ "U64", 64, { "uint64" } },
};
#define NDTYPES (sizeof(dtypes) / sizeof(dtypes[0]))

static const struct dtype *dtype_find(const char *name)
{
	if (!name)
		return NULL;
	/* Exact safetensors spelling first: the common case, and the only one a header may use. */
	for (size_t i = 0; i < NDTYPES; i++)
		if (!strcmp(dtypes[i].name, name))
			return &dtypes[i];
	if (!strncmp(name, "torch.", 6))
		name += 6;
	for (size_t i = 0; i < NDTYPES; i++) {
		if (!strcasecmp(dtypes[i].name, name))
			return &dtypes[i];
		for (size_t j = 0; j < 4 && dtypes[i].aliases[j]; j++)
			if (!strcmp(dtypes[i].aliases[j], name))
				return &dtypes[i];
	}
	return NULL;
}

uint32_t ms_dtype_bits(const char *name)
{
	const struct dtype *d = dtype_find(name);

	return d ? d->bits : 0;
}

const char *ms_dtype_canonical(const char *name)
{
	const struct dtype *d = dtype_find(name);

	return d ? d->name : NULL;
}

bool ms_dtype_is_safetensors(const char *name)
{
	const struct dtype *d = dtype_find(name);

	return d && !strcmp(d->name, name);
}

const char *ms_dtype_names(void)
{
	return "BOOL, F4, F6_E2M3, F6_E3M2, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, I16, U16, F16, BF16, "
	       "I32, U32, F32, C64, F64, I64, U64";
}
