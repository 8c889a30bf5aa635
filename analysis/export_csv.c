/* export_csv.c — `metashim export --format csv`: one row per tensor of every run,
 * with a header row, quoted as RFC 4180 says (CRLF line ends, fields holding a
 * comma, quote or line break in double quotes, quotes doubled). */
#include <inttypes.h>
#include <string.h>

#include "model.h"

static void field(FILE *f, const char *s, bool last)
{
	if (!s)
		s = "";
	if (strpbrk(s, ",\"\r\n")) {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else {
		fputs(s, f);
	}
	fputs(last ? "\r\n" : ",", f);
}

static void num(FILE *f, uint64_t v)
{
	fprintf(f, "%" PRIu64 ",", v);
}

static void at(FILE *f, uint64_t t)
{
	if (t != MS_NO_TIME)
		fprintf(f, "%" PRIu64, t);
	fputc(',', f);
}

int ms_export_csv(const struct ms_model *m, FILE *f)
{
	fputs("trace,rank,pid,layer,tensor,dtype,shape,elems,esize,skip,status,covered,copied,"
	      "attrs,first_ns,last_ns,misaligned,straddle,file,foff,flen,dev\r\n",
	      f);
	for (size_t i = 0; i < m->nruns; i++) {
		const struct ms_run *r = &m->runs[i];
		for (size_t k = 0; k < r->ntensors; k++) {
			const struct ms_tensor *t = &r->tensors[k];
			char dev[24] = "";
			field(f, r->path, false);
			fprintf(f, "%" PRId64 ",%" PRId64 ",", r->rank, r->pid);
			field(f, t->layer != SIZE_MAX ? r->layers[t->layer].name : "", false);
			field(f, t->name, false);
			field(f, t->dtype, false);
			field(f, t->shape, false);
			num(f, t->elems);
			num(f, t->esize);
			fputs(t->skip ? "1," : "0,", f);
			field(f, ms_status_name(ms_tensor_status(t)), false);
			num(f, t->covered);
			num(f, t->copied);
			num(f, t->attrs);
			at(f, t->first_t);
			at(f, t->last_t);
			num(f, t->misaligned);
			num(f, t->straddle);
			field(f, t->file, false);
			if (t->file)
				fprintf(f, "%" PRIu64 ",%" PRIu64 ",", t->foff, t->flen);
			else
				fputs(",,", f);
			if (t->dev)
				snprintf(dev, sizeof(dev), "0x%" PRIx64, t->dev);
			field(f, dev, true);
		}
	}
	return ferror(f) ? -5 : 0;
}
