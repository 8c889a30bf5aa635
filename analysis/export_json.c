/* export_json.c — `metashim export --format json`: the whole model as one JSON
 * document (schema in analysis/EXPORT_JSON.md), built with jansson. Times are ns
 * since the trace start, null when unknown. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#ifndef MS_VERSION
#define MS_VERSION "unknown"
#endif

#define RANGES_MAX 256 /* covered ranges listed per tensor */

/* Names of call sites in exports: symbolized unless the command said not to. */
bool ms_export_symbolize = true;

static json_t *u64(uint64_t v)
{
	return json_integer((json_int_t)v);
}

static json_t *at(uint64_t t)
{
	return t == MS_NO_TIME ? json_null() : u64(t);
}

static json_t *str(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *dims(const char *s)
{
	json_t *a = json_array();
	while (s && *s) {
		char *end;
		json_array_append_new(a, json_integer(strtoll(s, &end, 10)));
		if (end == s)
			break;
		s = *end == ',' ? end + 1 : end;
	}
	return a;
}

static json_t *series(const struct ms_series *s)
{
	json_t *a = json_array();
	for (size_t i = 0; i < s->n; i++)
		json_array_append_new(a, json_pack("[o,o]", u64(s->t[i]), u64(s->v[i])));
	return a;
}

static json_t *site_list(const struct ms_run *r, const struct ms_site_share *s)
{
	char name[512];
	json_t *a = json_array();
	for (int i = 0; i < MS_TOP_STACKS && s[i].count; i++) {
		ms_callsite_name(r, s[i].stack, ms_export_symbolize, name, sizeof(name));
		json_array_append_new(a,
		                      json_pack("{s:i,s:s,s:o,s:o}", "stack", (json_int_t)s[i].stack, "site",
		                                name, "bytes", u64(s[i].bytes), "count", u64(s[i].count)));
	}
	return a;
}

static json_t *header(const struct ms_run *r)
{
	json_t *opts = json_array();
	for (size_t i = 0; i < r->noptions; i++)
		json_array_append_new(opts, json_string(r->options[i]));
	return json_pack("{s:i,s:o,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "fmt", (json_int_t)r->fmt,
	                 "shim", str(r->shim), "pid", (json_int_t)r->pid, "ppid", (json_int_t)r->ppid, "rank",
	                 (json_int_t)r->rank, "world", (json_int_t)r->world, "host", str(r->host), "exe",
	                 str(r->exe), "argv", str(r->argv), "cwd", str(r->cwd), "wall_ns", u64(r->wall_ns),
	                 "mode", str(r->mode), "options", opts);
}

static json_t *summary(const struct ms_run *r)
{
	uint64_t span = r->copy_first_t == MS_NO_TIME ? 0 : r->copy_last_t - r->copy_first_t;
	json_t *o = json_object();
	json_object_set_new(o, "duration_ns", u64(r->end_t));
	json_object_set_new(o, "copies", u64(r->copies));
	json_object_set_new(o, "copy_bytes", u64(r->copy_bytes));
	json_object_set_new(o, "copy_dur_ns", u64(r->copy_dur_ns));
	json_object_set_new(o, "copy_first_ns", at(r->copy_first_t));
	json_object_set_new(o, "copy_last_ns", at(r->copy_last_t));
	json_object_set_new(o, "gbps_busy",
	                    r->copy_dur_ns ? json_real((double)r->copy_bytes / (double)r->copy_dur_ns)
	                                   : json_null());
	json_object_set_new(o, "gbps_span",
	                    span ? json_real((double)r->copy_bytes / (double)span) : json_null());
	json_object_set_new(o, "memsets", u64(r->memsets));
	json_object_set_new(o, "memset_bytes", u64(r->memset_bytes));
	json_object_set_new(o, "errors", u64(r->errors));
	json_object_set_new(o, "allocs", u64(r->allocs));
	json_object_set_new(o, "frees", u64(r->frees));
	json_object_set_new(o, "alloc_bytes", u64(r->alloc_bytes));
	json_object_set_new(o, "live_bytes", u64(r->live_bytes));
	json_object_set_new(o, "live_peak", u64(r->live_peak));
	json_object_set_new(o, "live_peak_ns", r->live_peak ? u64(r->live_peak_t) : json_null());
	json_object_set_new(o, "unmatched_frees", u64(r->unmatched_frees));
	json_object_set_new(o, "deferred_allocs", u64(r->deferred_allocs));
	json_object_set_new(o, "has_mem", json_boolean(r->has_mem));
	json_object_set_new(o, "reserved_peak", u64(r->reserved_peak));
	json_object_set_new(o, "materialized_peak", u64(r->materialized_peak));
	json_object_set_new(o, "staged_peak", u64(r->staged_peak));
	json_object_set_new(o, "launches", u64(r->launches));
	json_object_set_new(o, "attr_bytes", u64(r->attr_bytes));
	json_object_set_new(o, "unattr_bytes", u64(r->unattr_bytes));
	json_object_set_new(o, "layers", u64(r->layers_counted));
	json_object_set_new(o, "layers_complete", u64(r->layers_complete));
	json_object_set_new(o, "problems", u64(ms_run_problem_total(r)));
	return o;
}

static json_t *traffic(const struct ms_run *r, json_t **dirs)
{
	json_t *apis = json_array();
	for (size_t i = 0; i < r->napis; i++) {
		const struct ms_api_stat *s = &r->apis[i];
		json_array_append_new(apis, json_pack("{s:s,s:s,s:o,s:o,s:o,s:o}", "name", s->name, "kind",
		                                      s->kind, "calls", u64(s->calls), "bytes", u64(s->bytes),
		                                      "errors", u64(s->errors), "dur_ns", u64(s->dur_ns)));
	}
	*dirs = json_object();
	for (int d = 0; d < MS_DIR_COUNT; d++)
		json_object_set_new(*dirs, ms_dir_names[d],
		                    json_pack("{s:o,s:o,s:o}", "calls", u64(r->dirs[d].calls), "bytes",
		                              u64(r->dirs[d].bytes), "dur_ns", u64(r->dirs[d].dur_ns)));
	return apis;
}

static json_t *layers(const struct ms_run *r)
{
	json_t *a = json_array();
	for (size_t i = 0; i < r->nlayers; i++) {
		const struct ms_layer *l = &r->layers[i];
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(l->name));
		json_object_set_new(o, "id", u64(l->id));
		json_object_set_new(o, "tensors", u64(l->ntensors));
		json_object_set_new(o, "skipped", u64(l->nskipped));
		json_object_set_new(o, "expected", u64(l->expected));
		json_object_set_new(o, "covered", u64(l->covered));
		json_object_set_new(o, "copied", u64(l->copied));
		json_object_set_new(o, "bytes", u64(l->bytes));
		json_object_set_new(o, "copied_bytes", u64(l->copied_bytes));
		json_object_set_new(o, "status", json_string(ms_status_name(l->status)));
		json_object_set_new(o, "first_ns", at(l->first_t));
		json_object_set_new(o, "last_ns", at(l->last_t));
		json_object_set_new(o, "complete_ns", at(l->complete_t));
		json_object_set_new(o, "loads", u64(l->loads));
		json_object_set_new(o, "gbps", l->gbps > 0 ? json_real(l->gbps) : json_null());
		json_object_set_new(o, "materialized_ns", at(l->materialized_t));
		json_object_set_new(o, "materializations", u64(l->materializations));
		json_object_set_new(o, "materialize_failed", u64(l->materialize_failed));
		json_object_set_new(o, "releases", u64(l->releases));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *tensors(const struct ms_run *r)
{
	json_t *a = json_array();
	for (size_t i = 0; i < r->ntensors; i++) {
		const struct ms_tensor *t = &r->tensors[i];
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(t->name));
		json_object_set_new(o, "id", u64(t->id));
		json_object_set_new(o, "layer",
		                    t->layer != SIZE_MAX ? json_string(r->layers[t->layer].name)
		                                         : json_null());
		json_object_set_new(o, "dtype", json_string(t->dtype));
		json_object_set_new(o, "esize", u64(t->esize));
		json_object_set_new(o, "shape", dims(t->shape));
		json_object_set_new(o, "stride", dims(t->stride));
		json_object_set_new(o, "elems", u64(t->elems));
		json_object_set_new(o, "skip", json_boolean(t->skip));
		json_object_set_new(o, "file", str(t->file));
		json_object_set_new(o, "foff", t->file ? u64(t->foff) : json_null());
		json_object_set_new(o, "flen", t->file ? u64(t->flen) : json_null());
		json_object_set_new(o, "dev", t->dev ? u64(t->dev) : json_null());
		json_object_set_new(o, "copied", u64(t->copied));
		json_object_set_new(o, "covered", u64(t->covered));
		json_object_set_new(o, "status", json_string(ms_status_name(ms_tensor_status(t))));
		json_object_set_new(o, "attrs", u64(t->attrs));
		json_object_set_new(o, "first_ns", at(t->first_t));
		json_object_set_new(o, "last_ns", at(t->last_t));
		json_object_set_new(o, "misaligned", u64(t->misaligned));
		json_object_set_new(o, "straddle", u64(t->straddle));
		json_object_set_new(o, "final",
		                    t->has_final ? json_pack("{s:o,s:o}", "copied", u64(t->final_copied),
		                                             "covered", u64(t->final_covered))
		                                 : json_null());
		json_t *ranges = json_array();
		for (size_t k = 0; k < t->cov.n && k < RANGES_MAX; k++)
			json_array_append_new(ranges,
			                      json_pack("[o,o]", u64(t->cov.v[k].lo), u64(t->cov.v[k].hi)));
		json_object_set_new(o, "ranges", ranges);
		json_object_set_new(o, "ranges_truncated", json_boolean(t->cov.n > RANGES_MAX));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *problems(const struct ms_run *r)
{
	json_t *a = json_array();
	for (size_t i = 0; i < r->nproblems; i++) {
		const struct ms_problem *p = &r->problems[i];
		json_array_append_new(
		        a,
		        json_pack("{s:s,s:o,s:o,s:o,s:o,s:s,s:o}", "kind", ms_problem_key(p->kind), "tensor",
		                  p->tensor != SIZE_MAX ? json_string(r->tensors[p->tensor].name)
		                                        : json_null(),
		                  "layer",
		                  p->layer != SIZE_MAX ? json_string(r->layers[p->layer].name) : json_null(),
		                  "count", u64(p->count), "amount", u64(p->amount), "detail", p->detail,
		                  "sites", site_list(r, p->sites)));
	}
	return a;
}

static json_t *callsites(const struct ms_run *r)
{
	char name[512];
	uint64_t pcs[64];
	json_t *a = json_array();
	for (size_t i = 0; i < r->nsites; i++) {
		const struct ms_callsite *s = &r->sites[i];
		json_t *frames = json_array();
		size_t n = ms_run_stack_frames(r, s->stack, pcs, 64);
		for (size_t k = 0; k < n; k++) {
			char hex[24];
			snprintf(hex, sizeof(hex), "0x%" PRIx64, pcs[k]);
			json_array_append_new(frames, json_string(hex));
		}
		ms_callsite_name(r, s->stack, ms_export_symbolize, name, sizeof(name));
		json_t *o = json_object();
		json_object_set_new(o, "stack", u64(s->stack));
		json_object_set_new(o, "site", json_string(name));
		json_object_set_new(o, "frames", frames);
		json_object_set_new(o, "copies", u64(s->copies));
		json_object_set_new(o, "copy_bytes", u64(s->copy_bytes));
		json_object_set_new(o, "attr_bytes", u64(s->attr_bytes));
		json_object_set_new(o, "unattr_bytes", u64(s->unattr_bytes));
		json_object_set_new(o, "allocs", u64(s->allocs));
		json_object_set_new(o, "alloc_bytes", u64(s->alloc_bytes));
		json_object_set_new(o, "memsets", u64(s->memsets));
		json_object_set_new(o, "dur_ns", u64(s->dur_ns));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *annotations(const struct ms_run *r, json_t **warns, json_t **completions)
{
	json_t *marks = json_array();
	for (size_t i = 0; i < r->nmarks; i++)
		json_array_append_new(marks, json_pack("{s:o,s:o,s:s}", "t_ns", u64(r->marks[i].t), "tid",
		                                       u64(r->marks[i].tid), "name", r->marks[i].name));
	*warns = json_array();
	for (size_t i = 0; i < r->nwarns; i++)
		json_array_append_new(
		        *warns, json_pack("{s:o,s:s}", "t_ns", u64(r->warns[i].t), "msg", r->warns[i].msg));
	*completions = json_array();
	for (size_t i = 0; i < r->ncompletions; i++)
		json_array_append_new(*completions,
		                      json_pack("{s:o,s:s,s:o}", "t_ns", u64(r->completions[i].t), "layer",
		                                r->layers[r->completions[i].layer].name, "loads",
		                                u64(r->completions[i].loads)));
	return marks;
}

static json_t *run_json(const struct ms_run *r)
{
	json_t *o = json_object(), *dirs, *warns, *completions;
	json_object_set_new(o, "path", json_string(r->path));
	json_object_set_new(o, "header", header(r));
	json_object_set_new(o, "trace",
	                    json_pack("{s:o,s:b,s:b,s:o,s:o}", "lines", u64(r->lines), "footer",
	                              r->has_footer, "partial_line", r->partial_line, "events",
	                              u64(r->footer_events), "dropped", u64(r->dropped)));
	json_object_set_new(o, "summary", summary(r));
	json_object_set_new(o, "apis", traffic(r, &dirs));
	json_object_set_new(o, "directions", dirs);
	json_object_set_new(o, "layers", layers(r));
	json_object_set_new(o, "tensors", tensors(r));
	json_object_set_new(o, "problems", problems(r));
	json_object_set_new(o, "callsites", callsites(r));
	json_object_set_new(o, "memory",
	                    json_pack("{s:o,s:o,s:o,s:o,s:o}", "live", series(&r->live), "reserved",
	                              series(&r->reserved), "materialized", series(&r->materialized),
	                              "staged", series(&r->staged), "h2d_bytes_per_ms",
	                              series(&r->copy_rate)));
	json_object_set_new(o, "marks", annotations(r, &warns, &completions));
	json_object_set_new(o, "warnings", warns);
	json_object_set_new(o, "completions", completions);
	return o;
}

int ms_export_json(const struct ms_model *m, FILE *out)
{
	json_t *runs = json_array();
	for (size_t i = 0; i < m->nruns; i++)
		json_array_append_new(runs, run_json(&m->runs[i]));
	json_t *doc = json_pack("{s:i,s:s,s:o}", "metashim_export", 1, "version", MS_VERSION, "runs", runs);
	if (!doc)
		return -ENOMEM;
	int rc = json_dumpf(doc, out, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	fputc('\n', out);
	return rc < 0 ? -EIO : 0;
}
