/* symbolize.h — turns the raw return addresses of a trace's stacks into names people
 * read: "load_tensor (load_runtime.c:123) [load_runtime]". Modules come from the
 * trace's `module` records; each file is opened once, on first use, on the machine
 * running the analysis (ELF symbol tables, DWARF lines through elfutils' libdwfl,
 * separate debug info found by build id or debuglink). Not thread-safe: one
 * symbolizer per thread. */
#ifndef METASHIM_SYMBOLIZE_H
#define METASHIM_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ms_symbolizer;

/* What a name written by ms_symbolize_kind stands for. */
enum ms_sym_kind {
	MS_SYM_FUNCTION, /* "fn (file.c:12) [module]", or "fn [module]" without DWARF */
	MS_SYM_PYTHON,   /* "[python interpreter]": CPython's eval loop and call machinery */
	MS_SYM_OFFSET,   /* "module+0x1a2b": file missing, changed, or no symbol there */
	MS_SYM_UNKNOWN,  /* "0x7f00...": the pc lies in no recorded module */
};

/* The label written for frames of the Python interpreter itself. */
#define MS_SYM_PYTHON_LABEL "[python interpreter]"

/* A new, empty symbolizer; NULL (errno ENOMEM) when out of memory. */
struct ms_symbolizer *ms_symbolizer_new(void);
/* Add a module record (build id hex, "-" or NULL when none). A later module whose
 * range overlaps an earlier one (dlclose, then dlopen at the same place) wins for
 * the addresses they share. On out of memory the module is left out (its pcs
 * come out as raw addresses). */
void ms_symbolizer_add_module(struct ms_symbolizer *s, uint32_t id, uint64_t base, uint64_t end,
                              const char *path, const char *buildid);
/* Name the frame whose return address is pc (a stack record's pc: the call
 * instruction before it is looked up, so the line is the call's line) into buf
 * (cap bytes, always NUL-terminated, cut to fit). Returns 0 when pc lies in a
 * recorded module (buf holds a function, the Python label or module+0xoffset),
 * -ENOENT when it lies in none (buf holds the raw address), -EINVAL on bad
 * arguments. Results are cached per pc. */
int ms_symbolize(struct ms_symbolizer *s, uint64_t pc, char *buf, size_t cap);
/* The same, and *kind (when not NULL) says which form buf holds. */
int ms_symbolize_kind(struct ms_symbolizer *s, uint64_t pc, char *buf, size_t cap, enum ms_sym_kind *kind);
/* Name the instruction at addr itself (a function's address, not a return address). */
int ms_symbolize_addr(struct ms_symbolizer *s, uint64_t addr, char *buf, size_t cap, enum ms_sym_kind *kind);
void ms_symbolizer_free(struct ms_symbolizer *s);

/* True when function fn in the object at path is part of the Python interpreter's
 * frame evaluation (the eval loop and the call machinery between Python frames):
 * path's file name is libpython*.so* or python* and fn is one of those. */
bool ms_sym_is_python_frame(const char *path, const char *fn);

#endif /* METASHIM_SYMBOLIZE_H */
