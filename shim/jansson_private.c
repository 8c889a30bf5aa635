/* jansson_private.c — jansson for the shim, loaded privately.
 *
 * Debian's libjansson.a is not built as PIC, so it cannot be linked into the shim
 * and hidden; a DT_NEEDED on libjansson.so.4 would put jansson in the global scope
 * of every program the shim is preloaded into. Instead the shim defines, hidden, the
 * few jansson functions its readers call (safetensors.c, manifest.c) and forwards
 * them to a libjansson.so.4 it dlopens RTLD_LOCAL on first use (at descriptor
 * loading, never in the copy path). The analysis tool links jansson normally and does
 * not include this file. Without libjansson.so.4 the loaders fail cleanly: the JSON
 * parsers report that jansson is unavailable and the shim carries on without
 * descriptors. */
#include <dlfcn.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* X(return type, name, parameters, arguments, value when jansson is absent) */
#define MS_JANSSON_FUNCS(X)                                                                \
	X(json_t *, json_object, (void), (), NULL)                                         \
	X(json_t *, json_array, (void), (), NULL)                                          \
	X(json_t *, json_string, (const char *v), (v), NULL)                               \
	X(json_t *, json_string_nocheck, (const char *v), (v), NULL)                       \
	X(json_t *, json_integer, (json_int_t v), (v), NULL)                               \
	X(size_t, json_object_size, (const json_t *o), (o), 0)                             \
	X(json_t *, json_object_get, (const json_t *o, const char *k), (o, k), NULL)       \
	X(int, json_object_set_new, (json_t * o, const char *k, json_t *v), (o, k, v), -1) \
	X(void *, json_object_iter, (json_t * o), (o), NULL)                               \
	X(void *, json_object_key_to_iter, (const char *k), (k), NULL)                     \
	X(void *, json_object_iter_next, (json_t * o, void *i), (o, i), NULL)              \
	X(const char *, json_object_iter_key, (void *i), (i), NULL)                        \
	X(json_t *, json_object_iter_value, (void *i), (i), NULL)                          \
	X(size_t, json_array_size, (const json_t *a), (a), 0)                              \
	X(json_t *, json_array_get, (const json_t *a, size_t i), (a, i), NULL)             \
	X(int, json_array_append_new, (json_t * a, json_t * v), (a, v), -1)                \
	X(const char *, json_string_value, (const json_t *s), (s), NULL)                   \
	X(size_t, json_string_length, (const json_t *s), (s), 0)                           \
	X(json_int_t, json_integer_value, (const json_t *i), (i), 0)                       \
	X(double, json_real_value, (const json_t *r), (r), 0)                              \
	X(int, json_integer_set, (json_t * i, json_int_t v), (i, v), -1)                   \
	X(char *, json_dumps, (const json_t *j, size_t flags), (j, flags), NULL)

static struct {
#define SLOT(ret, name, params, args, absent) ret(*name) params;
	MS_JANSSON_FUNCS(SLOT)
#undef SLOT
	void (*json_delete)(json_t *json);
	json_t *(*json_loads)(const char *input, size_t flags, json_error_t *error);
	json_t *(*json_loadb)(const char *buffer, size_t buflen, size_t flags, json_error_t *error);
} real;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void *fetch(void *h, const char *name, bool *ok)
{
	void *fn = ms_real_dlsym(h, name);

	*ok = *ok && fn;
	return fn;
}

/* All or nothing: a jansson missing one of the functions is not used at all. */
static void load(void)
{
	void *h = dlopen("libjansson.so.4", RTLD_NOW | RTLD_LOCAL);
	bool ok = true;

	if (!h)
		return;
#define FETCH(ret, name, params, args, absent) *(void **)&real.name = fetch(h, #name, &ok);
	MS_JANSSON_FUNCS(FETCH)
#undef FETCH
	*(void **)&real.json_delete = fetch(h, "json_delete", &ok);
	*(void **)&real.json_loads = fetch(h, "json_loads", &ok);
	*(void **)&real.json_loadb = fetch(h, "json_loadb", &ok);
	if (!ok) {
		memset(&real, 0, sizeof(real));
		dlclose(h);
	}
}

static bool ready(void)
{
	pthread_once(&load_once, load);
	return real.json_loadb != NULL;
}

#define FORWARD(ret, name, params, args, absent)          \
	ret name params                                   \
	{                                                 \
		return ready() ? real.name args : absent; \
	}
MS_JANSSON_FUNCS(FORWARD)
#undef FORWARD

void json_delete(json_t *json)
{
	if (ready())
		real.json_delete(json);
}

static json_t *unavailable(json_error_t *error)
{
	if (error) {
		memset(error, 0, sizeof(*error));
		error->line = error->column = error->position = -1;
		snprintf(error->text, sizeof(error->text),
		         "libjansson.so.4 cannot be loaded (install the libjansson4 package)");
	}
	return NULL;
}

json_t *json_loads(const char *input, size_t flags, json_error_t *error)
{
	return ready() ? real.json_loads(input, flags, error) : unavailable(error);
}

json_t *json_loadb(const char *buffer, size_t buflen, size_t flags, json_error_t *error)
{
	return ready() ? real.json_loadb(buffer, buflen, flags, error) : unavailable(error);
}
