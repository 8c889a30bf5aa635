/* api.c — the public C API (metashim.h): describe tensors, query what was loaded,
 * get told when a layer completes, mark instants, steer deferred memory. Every
 * function works before the constructor ran and when recording is disabled (the
 * registry needs no initialization; records reach the trace once it is open).
 *
 * Strided tensors: a tensor's device range is the span from its first to its last
 * element (strides must be non-negative). A copy only says which bytes it wrote,
 * not which of them are elements, so a view with gaps is counted in span
 * elements: `expected` is the span's element count (elems when contiguous) and
 * the tensor is complete when every byte of the span has been written.
 *
 * Deferred memory: materialize/release/restore/finalize route to ms_vmm_* (see
 * internal.h), referenced weakly here. Without vmm.c linked in they return
 * -ENOTSUP (finalize then just counts the incomplete layers); vmm.c slots in by
 * defining them, with no change to this file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "registry.h"

#pragma weak ms_vmm_materialize_layer
#pragma weak ms_vmm_materialize_all
#pragma weak ms_vmm_release_layer
#pragma weak ms_vmm_restore_layer
#pragma weak ms_vmm_finalize

#pragma GCC visibility push(default)

const char *metashim_version(void)
{
	return METASHIM_VERSION;
}

int metashim_active(void)
{
	return ms_ready() ? 1 : 0;
}

int metashim_register_tensor(const char *layer, const char *name, uint64_t dev_ptr, const char *dtype,
                             int ndim, const int64_t *shape, const int64_t *stride)
{
	struct ms_tensor_desc d;
	const char *canon;
	int64_t want = 1;

	if (!name || !name[0] || !dtype || ndim < 0 || ndim > MS_MAX_DIMS || (ndim && !shape))
		return -EINVAL;
	canon = ms_dtype_canonical(dtype);
	if (!canon)
		return -EINVAL;
	memset(&d, 0, sizeof(d));
	d.name = (char *)name;
	d.layer = (char *)layer;
	snprintf(d.dtype, sizeof(d.dtype), "%s", canon);
	d.ebits = ms_dtype_bits(canon);
	d.ndim = ndim;
	for (int i = ndim - 1; i >= 0; i--) {
		if (shape[i] < 0 || (stride && stride[i] < 0))
			return -EINVAL;
		d.shape[i] = shape[i];
		d.stride[i] = stride ? stride[i] : want;
		if (__builtin_mul_overflow(want, shape[i] ? shape[i] : 1, &want))
			return -EOVERFLOW;
	}
	d.dev_ptr = dev_ptr;
	return ms_registry_add(&d, NULL);
}

int metashim_unregister_tensor(const char *name)
{
	if (!name)
		return -EINVAL;
	return ms_registry_unregister(name);
}

int metashim_tensor_counts(const char *name, struct metashim_counts *out)
{
	struct ms_reg_tensor *t;

	if (!name || !out)
		return -EINVAL;
	t = ms_registry_tensor(name);
	if (!t)
		return -ENOENT;
	ms_count_tensor_counts(t, out);
	return 0;
}

int metashim_layer_counts(const char *layer, struct metashim_counts *out)
{
	struct ms_reg_layer *l;

	if (!layer || !out)
		return -EINVAL;
	l = ms_registry_layer(layer);
	if (!l)
		return -ENOENT;
	ms_count_layer_counts(l, out);
	return 0;
}

int metashim_layer_count(void)
{
	size_t n = ms_registry_layer_count();

	return n > INT32_MAX ? INT32_MAX : (int)n;
}

const char *metashim_layer_name(int i)
{
	struct ms_reg_layer *l = i < 0 ? NULL : ms_registry_layer_at((size_t)i);

	return l ? l->name : NULL;
}

int metashim_set_layer_complete_callback(metashim_layer_complete_fn fn, void *user)
{
	ms_count_set_callback(fn, user);
	return 0;
}

int metashim_mark(const char *name)
{
	struct ms_line line;

	if (!name)
		return -EINVAL;
	ms_line_begin(&line, MS_REC_MARK);
	ms_line_u64(&line, "t", ms_now_ns());
	ms_line_u64(&line, "tid", (uint64_t)gettid());
	ms_line_str(&line, "name", name);
	ms_line_emit(&line);
	return 0;
}

int metashim_materialize_layer(const char *layer)
{
	if (!layer)
		return -EINVAL;
	return ms_vmm_materialize_layer ? ms_vmm_materialize_layer(layer) : -ENOTSUP;
}

int metashim_materialize_all(void)
{
	return ms_vmm_materialize_all ? ms_vmm_materialize_all() : -ENOTSUP;
}

int metashim_release_layer(const char *layer, unsigned flags)
{
	if (!layer)
		return -EINVAL;
	return ms_vmm_release_layer ? ms_vmm_release_layer(layer, flags) : -ENOTSUP;
}

int metashim_restore_layer(const char *layer)
{
	if (!layer)
		return -EINVAL;
	return ms_vmm_restore_layer ? ms_vmm_restore_layer(layer) : -ENOTSUP;
}

int metashim_finalize(void)
{
	size_t n, incomplete = 0;

	if (ms_vmm_finalize)
		return ms_vmm_finalize();
	n = ms_registry_layer_count();
	for (size_t i = 0; i < n; i++) {
		struct ms_reg_layer *l = ms_registry_layer_at(i);
		struct metashim_counts k;
		ms_count_layer_counts(l, &k);
		incomplete += k.tensors && !k.complete;
	}
	return incomplete > INT32_MAX ? INT32_MAX : (int)incomplete;
}

#pragma GCC visibility pop
