/* trace_read.c — a deliberately small trace reader for the end-to-end tests: one
 * record per line, `TYPE key=value ...`, percent-decoded values. It shares no code
 * with the shim's writer or the analysis tool's reader, so a format bug on one
 * side shows up here instead of agreeing with itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void pct_decode(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			*w++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
			s += 2;
		} else {
			*w++ = *s;
		}
	}
	*w = 0;
}

static int parse_line(char *line, struct e2e_rec *r)
{
	char *save = NULL, *tok = strtok_r(line, " ", &save);

	memset(r, 0, sizeof(*r));
	if (!tok)
		return -1;
	r->type = strdup(tok);
	while ((tok = strtok_r(NULL, " ", &save))) {
		char *eq = strchr(tok, '=');
		struct e2e_kv *v;

		if (!eq)
			continue; /* not key=value: ignore, as the format tells readers to */
		v = realloc(r->kv, (size_t)(r->n + 1) * sizeof(*v));
		if (!v)
			abort();
		r->kv = v;
		*eq = 0;
		v[r->n].key = strdup(tok);
		v[r->n].val = strdup(eq + 1);
		pct_decode(v[r->n].val);
		r->n++;
	}
	return 0;
}

int e2e_trace_load(const char *path, struct e2e_trace *t)
{
	size_t len;
	char *text = e2e_slurp(path, &len), *line, *save = NULL;
	int first = 1;

	memset(t, 0, sizeof(*t));
	if (!text)
		return -1;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct e2e_rec *v;

		if (first) {
			first = 0;
			t->magic_ok = !strncmp(line, "metashim-trace ", 15);
			continue;
		}
		v = realloc(t->rec, (size_t)(t->n + 1) * sizeof(*v));
		if (!v)
			abort();
		t->rec = v;
		if (!parse_line(line, &v[t->n]))
			t->n++;
	}
	t->footer = t->n > 0 && !strcmp(t->rec[t->n - 1].type, "footer");
	free(text);
	return 0;
}

void e2e_trace_free(struct e2e_trace *t)
{
	int i, j;

	for (i = 0; i < t->n; i++) {
		for (j = 0; j < t->rec[i].n; j++) {
			free(t->rec[i].kv[j].key);
			free(t->rec[i].kv[j].val);
		}
		free(t->rec[i].kv);
		free(t->rec[i].type);
	}
	free(t->rec);
	memset(t, 0, sizeof(*t));
}

const char *e2e_get(const struct e2e_rec *r, const char *key)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (!strcmp(r->kv[i].key, key))
			return r->kv[i].val;
	return NULL;
}

uint64_t e2e_u64(const struct e2e_rec *r, const char *key)
{
	const char *v = e2e_get(r, key);

	return v ? strtoull(v, NULL, 0) : 0;
}

int e2e_count(const struct e2e_trace *t, const char *type)
{
	int i, n = 0;

	for (i = 0; i < t->n; i++)
		n += !strcmp(t->rec[i].type, type);
	return n;
}

static bool is_ok_copy(const struct e2e_rec *r, const char *dir)
{
	const char *d = e2e_get(r, "dir"), *rc = e2e_get(r, "rc");

	return !strcmp(r->type, "copy") && d && !strcmp(d, dir) && (!rc || !strcmp(rc, "0"));
}

int e2e_copies(const struct e2e_trace *t, const char *dir, uint64_t *bytes)
{
	int i, n = 0;

	if (bytes)
		*bytes = 0;
	for (i = 0; i < t->n; i++) {
		if (!is_ok_copy(&t->rec[i], dir))
			continue;
		n++;
		if (bytes)
			*bytes += e2e_u64(&t->rec[i], "bytes");
	}
	return n;
}

int e2e_copies_api(const struct e2e_trace *t, const char *dir, const char *api, bool prefix)
{
	int i, n = 0;

	for (i = 0; i < t->n; i++) {
		const char *a = e2e_get(&t->rec[i], "api");

		if (!is_ok_copy(&t->rec[i], dir))
			continue;
		if (!api || (a && (prefix ? !strncmp(a, api, strlen(api)) : !strcmp(a, api))))
			n++;
	}
	return n;
}

long e2e_trace_pid(const struct e2e_trace *t)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (!strcmp(t->rec[i].type, "header") && e2e_get(&t->rec[i], "pid"))
			return (long)e2e_u64(&t->rec[i], "pid");
	return -1;
}

/* ------------------------------------------------------------- descriptor view */

/* A record names a tensor or layer by id; accept the name too, so the tests do not
 * depend on which of the two the writer chose. */
static int find_by_id_or_name(const char *const *ids, const char *const *names, int n, const char *v)
{
	int i;

	if (!v)
		return -1;
	for (i = 0; i < n; i++)
		if (ids[i] && !strcmp(ids[i], v))
			return i;
	for (i = 0; i < n; i++)
		if (names[i] && !strcmp(names[i], v))
			return i;
	return -1;
}

int e2e_desc_build(const struct e2e_trace *t, struct e2e_desc *d)
{
	int nl = e2e_count(t, "layer"), nt = e2e_count(t, "tensor"), i, li = 0, ti = 0;
	const char **lid = calloc((size_t)nl + 1, sizeof(*lid));
	const char **lname = calloc((size_t)nl + 1, sizeof(*lname));
	const char **tid = calloc((size_t)nt + 1, sizeof(*tid));
	const char **tname = calloc((size_t)nt + 1, sizeof(*tname));

	memset(d, 0, sizeof(*d));
	d->l = calloc((size_t)nl + 1, sizeof(*d->l));
	d->t = calloc((size_t)nt + 1, sizeof(*d->t));
	if (!lid || !lname || !tid || !tname || !d->l || !d->t)
		abort();
	for (i = 0; i < t->n; i++) {
		const struct e2e_rec *r = &t->rec[i];

		if (!strcmp(r->type, "layer")) {
			lid[li] = e2e_get(r, "id");
			lname[li] = e2e_get(r, "name");
			d->l[li++].name = e2e_get(r, "name");
		}
	}
	d->nl = li;
	for (i = 0; i < t->n; i++) {
		const struct e2e_rec *r = &t->rec[i];
		struct e2e_tensor_state *s;
		const char *skip;
		int l;

		if (strcmp(r->type, "tensor"))
			continue;
		s = &d->t[ti];
		tid[ti] = e2e_get(r, "id");
		tname[ti++] = s->name = e2e_get(r, "name");
		l = find_by_id_or_name(lid, lname, nl, e2e_get(r, "layer"));
		s->layer = l >= 0 ? lname[l] : e2e_get(r, "layer");
		s->elems = e2e_u64(r, "elems");
		skip = e2e_get(r, "skip");
		s->skip = skip && strcmp(skip, "0");
	}
	d->nt = ti;
	for (i = 0; i < t->n; i++) {
		const struct e2e_rec *r = &t->rec[i];
		int k;

		if (!strcmp(r->type, "final")) {
			k = find_by_id_or_name(tid, tname, nt, e2e_get(r, "tensor"));
			if (k >= 0) {
				d->t[k].copied = e2e_u64(r, "copied");
				d->t[k].covered = e2e_u64(r, "covered");
				d->t[k].has_final = true;
			}
		} else if (!strcmp(r->type, "complete")) {
			k = find_by_id_or_name(lid, lname, nl, e2e_get(r, "layer"));
			if (k >= 0)
				d->l[k].completes++;
		} else if (!strcmp(r->type, "unattr")) {
			d->unattr_bytes += e2e_u64(r, "bytes");
		} else if (!strcmp(r->type, "attr")) {
			d->attrs++;
		}
	}
	free(lid);
	free(lname);
	free(tid);
	free(tname);
	return 0;
}

void e2e_desc_free(struct e2e_desc *d)
{
	free(d->t);
	free(d->l);
	memset(d, 0, sizeof(*d));
}

const struct e2e_tensor_state *e2e_desc_tensor(const struct e2e_desc *d, const char *name)
{
	int i;

	for (i = 0; i < d->nt; i++)
		if (d->t[i].name && !strcmp(d->t[i].name, name))
			return &d->t[i];
	return NULL;
}

int e2e_only_trace(const char *dir, struct e2e_trace *t)
{
	char **names;
	int n = e2e_list_traces(dir, &names), rc = n;

	memset(t, 0, sizeof(*t));
	if (n == 1 && e2e_trace_load(names[0], t))
		rc = -1;
	e2e_free_names(names, n);
	return rc;
}
