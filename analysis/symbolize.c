/* symbolize.c — stack pcs to function names and source lines, offline. Each module
 * of the trace is opened once, on first use, as its own libdwfl session placed at
 * the recorded address (one session per module: modules of one trace may overlap
 * after dlclose/dlopen). Names come from .symtab/.dynsym, lines and inlined
 * functions from DWARF when present; C++ names are demangled when libstdc++ is
 * at hand; CPython's eval loop is labelled as such. */
#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbolize.h"

enum mod_state { MOD_UNOPENED, MOD_OPEN, MOD_MISSING };

struct sym_module {
	uint32_t id;        /* module id from the trace */
	uint64_t base, end; /* recorded range [base, end) */
	char *path;         /* file as recorded */
	char *buildid;      /* recorded hex build id, NULL when none */
	const char *name;   /* file name part of path (into path) */
	enum mod_state state;
	uint64_t bias; /* process address - ELF vaddr, once open */
	Dwfl *dwfl;    /* this module's session, once open */
	Dwfl_Module *mod;
};

/* One cached answer, keyed by the pc asked (0 marks an empty slot: pc 0 is never
 * cached). */
struct cached {
	uint64_t pc;
	char *text;
	int rc;
	enum ms_sym_kind kind;
};

struct ms_symbolizer {
	struct sym_module *mods; /* in the order added; later ones win on overlap */
	size_t n, cap;
	struct cached *cache; /* open addressing, at most half full */
	size_t cache_mask;    /* slots - 1, or 0 with no table yet */
	size_t cached;        /* entries in cache */
};

static const Dwfl_Callbacks dwfl_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

/* ------------------------------------------------------------------ python */

/* CPython's frame evaluation and the call machinery between two Python frames
 * (3.8 to 3.13 names; compiler suffixes such as .lto_priv.0 match by prefix). */
static const char *const python_eval_prefixes[] = {
	"_PyEval_",
	"PyEval_",
	"_PyFunction_",
	"PyFunction_",
	"_PyObject_Call",
	"PyObject_Call",
	"_PyObject_Vectorcall",
	"PyObject_Vectorcall",
	"_PyObject_MakeTpCall",
	"_PyObject_FastCall",
	"PyVectorcall_",
	"_PyVectorcall_",
	"method_vectorcall",
	"cfunction_call",
	"cfunction_vectorcall",
	"slot_tp_call",
	"call_function",
	"function_code_fastcall",
	"_PyCFunction_",
	"_PyMethodDef_",
	"_PyMethodDescr_",
	"vectorcall_method",
	"vectorcall_unbound",
	"object_vacall",
};

static const char *file_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

bool ms_sym_is_python_frame(const char *path, const char *fn)
{
	const char *name = file_name(path);
	bool interp = (!strncmp(name, "libpython", 9) && strstr(name, ".so")) ||
	              (!strncmp(name, "python", 6) && !strstr(name, ".so"));

	if (!interp || !fn)
		return false;
	for (size_t i = 0; i < sizeof(python_eval_prefixes) / sizeof(python_eval_prefixes[0]); i++)
		if (!strncmp(fn, python_eval_prefixes[i], strlen(python_eval_prefixes[i])))
			return true;
	return false;
}

/* --------------------------------------------------------------- demangling */

typedef char *(*demangle_fn)(const char *mangled, char *out, size_t *len, int *status);

/* __cxa_demangle from libstdc++ when the machine has it (the tool itself is C and
 * does not link it); NULL otherwise, and names stay mangled. */
static demangle_fn demangler(void)
{
	static demangle_fn fn;
	static bool tried;

	if (!tried) {
		void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);

		tried = true;
		if (h)
			fn = (demangle_fn)dlsym(h, "__cxa_demangle");
	}
	return fn;
}

/* name, without its symbol version ("@@GLIBC_2.34") and demangled when it is a
 * C++ name, into out. */
static void put_name(char *out, size_t cap, const char *name)
{
	demangle_fn dem = !strncmp(name, "_Z", 2) ? demangler() : NULL;
	char bare[1024], *d = NULL;
	int status = -1;

	snprintf(bare, sizeof(bare), "%.*s", (int)strcspn(name, "@"), name);
	if (dem)
		d = dem(bare, NULL, NULL, &status);
	snprintf(out, cap, "%s", d && !status ? d : bare);
	free(d);
}

/* ----------------------------------------------------------------- modules */

static bool valid_buildid(const char *b)
{
	return b && *b && strcmp(b, "-");
}

/* The file's own build id as hex into out (cap >= 2 * len + 1); false when none. */
static bool file_buildid(Elf *elf, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	const void *id;
	ssize_t len = dwelf_elf_gnu_build_id(elf, &id);

	if (len <= 0 || (size_t)len * 2 + 1 > cap)
		return false;
	for (ssize_t i = 0; i < len; i++) {
		out[2 * i] = hex[((const unsigned char *)id)[i] >> 4];
		out[2 * i + 1] = hex[((const unsigned char *)id)[i] & 15];
	}
	out[2 * len] = '\0';
	return true;
}

/* The lowest PT_LOAD p_vaddr: the shim records base = bias + that. */
static int lowest_vaddr(Elf *elf, uint64_t *out)
{
	size_t n;
	bool any = false;

	if (elf_getphdrnum(elf, &n))
		return -EINVAL;
	*out = UINT64_MAX;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		any = true;
		if (ph.p_vaddr < *out)
			*out = ph.p_vaddr;
	}
	return any ? 0 : -EINVAL;
}

/* Check the file at m->path is the object the trace saw (same build id when both
 * have one) and learn its bias. 0, or a negative errno: missing or different. */
static int module_check(struct sym_module *m, int fd)
{
	char bid[256];
	uint64_t lo;
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	int err = 0;

	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		err = -ENOEXEC;
		goto out_end;
	}
	if (m->buildid && file_buildid(elf, bid, sizeof(bid)) && strcmp(bid, m->buildid)) {
		err = -ESTALE;
		goto out_end;
	}
	err = lowest_vaddr(elf, &lo);
	if (!err)
		m->bias = m->base - lo;
out_end:
	elf_end(elf);
	return err;
}

/* Open m once; afterwards m->state says whether it can be symbolized. */
static void module_open(struct sym_module *m)
{
	int fd;

	m->state = MOD_MISSING;
	fd = open(m->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (module_check(m, fd))
		goto out_close;
	m->dwfl = dwfl_begin(&dwfl_callbacks);
	if (!m->dwfl)
		goto out_close;
	/* add_p_vaddr: the module sits at bias + p_vaddr, as it did in the process;
	 * the fd is the session's from here on. */
	m->mod = dwfl_report_elf(m->dwfl, m->name, m->path, fd, m->bias, true);
	if (!m->mod) {
		dwfl_end(m->dwfl);
		m->dwfl = NULL;
		goto out_close;
	}
	if (dwfl_report_end(m->dwfl, NULL, NULL)) {
		dwfl_end(m->dwfl); /* closes fd */
		m->dwfl = NULL;
		m->mod = NULL;
		return;
	}
	m->state = MOD_OPEN;
	return;
out_close:
	close(fd);
}

/* The latest module whose range holds pc (overlaps only follow a dlclose). */
static struct sym_module *module_of(struct ms_symbolizer *s, uint64_t pc)
{
	for (size_t i = s->n; i-- > 0;)
		if (pc >= s->mods[i].base && pc < s->mods[i].end)
			return &s->mods[i];
	return NULL;
}

/* ------------------------------------------------------------------ naming */

/* The innermost inlined function at addr, when DWARF says addr is inside one;
 * its name (linkage name preferred, so C++ names come out qualified) in out. */
static bool inlined_name(Dwfl_Module *mod, uint64_t addr, char *out, size_t cap)
{
	Dwarf_Addr bias;
	Dwarf_Die *cu = dwfl_module_addrdie(mod, addr, &bias);
	Dwarf_Die *scopes = NULL;
	bool found = false;
	int n;

	if (!cu)
		return false;
	n = dwarf_getscopes(cu, addr - bias, &scopes);
	for (int i = 0; i < n; i++) {
		int tag = dwarf_tag(&scopes[i]);
		Dwarf_Attribute attr;
		const char *name;

		if (tag == DW_TAG_subprogram)
			break;
		if (tag != DW_TAG_inlined_subroutine)
			continue;
		name = dwarf_formstring(dwarf_attr_integrate(&scopes[i], DW_AT_linkage_name, &attr));
		if (!name)
			name = dwarf_diename(&scopes[i]);
		if (name) {
			put_name(out, cap, name);
			found = true;
		}
		break;
	}
	free(scopes);
	return found;
}

/* Name addr (an address inside m) into buf. */
static enum ms_sym_kind name_in_module(struct sym_module *m, uint64_t addr, uint64_t raw, char *buf,
                                       size_t cap)
{
	char fn[1024];
	const char *sym = NULL, *src = NULL;
	int line = 0;
	GElf_Off off;
	GElf_Sym es;

	if (m->state == MOD_UNOPENED)
		module_open(m);
	if (m->state != MOD_OPEN) {
		snprintf(buf, cap, "%s+0x%" PRIx64, m->name, raw - m->base);
		return MS_SYM_OFFSET;
	}
	sym = dwfl_module_addrinfo(m->mod, addr, &off, &es, NULL, NULL, NULL);
	if (sym && ms_sym_is_python_frame(m->path, sym)) {
		snprintf(buf, cap, "%s", MS_SYM_PYTHON_LABEL);
		return MS_SYM_PYTHON;
	}
	if (!inlined_name(m->mod, addr, fn, sizeof(fn))) {
		if (!sym) {
			snprintf(buf, cap, "%s+0x%" PRIx64, m->name, raw - m->bias);
			return MS_SYM_OFFSET;
		}
		put_name(fn, sizeof(fn), sym);
	}
	{
		Dwfl_Line *l = dwfl_module_getsrc(m->mod, addr);

		if (l)
			src = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);
	}
	if (src && line > 0)
		snprintf(buf, cap, "%s (%s:%d) [%s]", fn, file_name(src), line, m->name);
	else
		snprintf(buf, cap, "%s [%s]", fn, m->name);
	return MS_SYM_FUNCTION;
}

static int lookup(struct ms_symbolizer *s, uint64_t addr, uint64_t raw, char *buf, size_t cap,
                  enum ms_sym_kind *kind)
{
	struct sym_module *m;
	enum ms_sym_kind k;

	if (!s || !buf || !cap)
		return -EINVAL;
	m = module_of(s, raw);
	if (!m) {
		snprintf(buf, cap, "0x%" PRIx64, raw);
		k = MS_SYM_UNKNOWN;
	} else {
		k = name_in_module(m, addr, raw, buf, cap);
	}
	if (kind)
		*kind = k;
	return m ? 0 : -ENOENT;
}

/* ------------------------------------------------------------------- cache */

static size_t cache_slot(const struct ms_symbolizer *s, uint64_t pc)
{
	uint64_t h = pc * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 20) & s->cache_mask;
}

static struct cached *cache_find(struct ms_symbolizer *s, uint64_t pc)
{
	if (!s->cache)
		return NULL;
	for (size_t i = cache_slot(s, pc);; i = (i + 1) & s->cache_mask) {
		if (s->cache[i].pc == pc)
			return &s->cache[i];
		if (!s->cache[i].pc)
			return NULL;
	}
}

static int cache_grow(struct ms_symbolizer *s)
{
	size_t slots = s->cache ? (s->cache_mask + 1) * 2 : 1024;
	struct cached *old = s->cache, *v = calloc(slots, sizeof(*v));
	size_t old_slots = old ? s->cache_mask + 1 : 0;

	if (!v)
		return -ENOMEM;
	s->cache = v;
	s->cache_mask = slots - 1;
	for (size_t i = 0; i < old_slots; i++) {
		size_t j;

		if (!old[i].pc)
			continue;
		for (j = cache_slot(s, old[i].pc); v[j].pc; j = (j + 1) & s->cache_mask)
			;
		v[j] = old[i];
	}
	free(old);
	return 0;
}

/* Remember an answer; failing to (out of memory) only costs a later lookup. */
static void cache_put(struct ms_symbolizer *s, uint64_t pc, const char *text, int rc, enum ms_sym_kind kind)
{
	struct cached *c;
	size_t i;

	if (!pc)
		return;
	if ((s->cached + 1) * 2 > (s->cache ? s->cache_mask + 1 : 0) && cache_grow(s))
		return;
	if (!s->cache)
		return;
	for (i = cache_slot(s, pc); s->cache[i].pc; i = (i + 1) & s->cache_mask)
		;
	c = &s->cache[i];
	c->text = strdup(text);
	if (!c->text)
		return;
	c->pc = pc;
	c->rc = rc;
	c->kind = kind;
	s->cached++;
}

/* -------------------------------------------------------------------- API */

struct ms_symbolizer *ms_symbolizer_new(void)
{
	elf_version(EV_CURRENT);
	return calloc(1, sizeof(struct ms_symbolizer));
}

void ms_symbolizer_add_module(struct ms_symbolizer *s, uint32_t id, uint64_t base, uint64_t end,
                              const char *path, const char *buildid)
{
	struct sym_module *m;

	if (!s || !path || end <= base)
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct sym_module *v = realloc(s->mods, cap * sizeof(*v));

		if (!v)
			return;
		s->mods = v;
		s->cap = cap;
	}
	m = &s->mods[s->n];
	memset(m, 0, sizeof(*m));
	m->path = strdup(path);
	m->buildid = valid_buildid(buildid) ? strdup(buildid) : NULL;
	if (!m->path || (valid_buildid(buildid) && !m->buildid)) {
		free(m->path);
		free(m->buildid);
		return;
	}
	m->id = id;
	m->base = base;
	m->end = end;
	m->name = file_name(m->path);
	s->n++;
	/* Answers cached so far may have come from a module this one now covers. */
	for (size_t i = 0; s->cache && i <= s->cache_mask; i++)
		free(s->cache[i].text);
	free(s->cache);
	s->cache = NULL;
	s->cache_mask = 0;
	s->cached = 0;
}

int ms_symbolize_kind(struct ms_symbolizer *s, uint64_t pc, char *buf, size_t cap, enum ms_sym_kind *kind)
{
	struct cached *c;
	enum ms_sym_kind k;
	int rc;

	if (!s || !buf || !cap)
		return -EINVAL;
	c = cache_find(s, pc);
	if (c) {
		snprintf(buf, cap, "%s", c->text);
		if (kind)
			*kind = c->kind;
		return c->rc;
	}
	/* A return address: the call is the instruction before it. */
	rc = lookup(s, pc ? pc - 1 : 0, pc, buf, cap, &k);
	cache_put(s, pc, buf, rc, k);
	if (kind)
		*kind = k;
	return rc;
}

int ms_symbolize(struct ms_symbolizer *s, uint64_t pc, char *buf, size_t cap)
{
	return ms_symbolize_kind(s, pc, buf, cap, NULL);
}

int ms_symbolize_addr(struct ms_symbolizer *s, uint64_t addr, char *buf, size_t cap, enum ms_sym_kind *kind)
{
	return lookup(s, addr, addr, buf, cap, kind);
}

void ms_symbolizer_free(struct ms_symbolizer *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		if (s->mods[i].dwfl)
			dwfl_end(s->mods[i].dwfl);
		free(s->mods[i].path);
		free(s->mods[i].buildid);
	}
	free(s->mods);
	for (size_t i = 0; s->cache && i <= s->cache_mask; i++)
		free(s->cache[i].text);
	free(s->cache);
	free(s);
}
