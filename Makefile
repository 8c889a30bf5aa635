# metashim — build, test, demo, install.  `make help` lists the targets.
#
# Fragments: tests/fakecuda/fakecuda.mk (the fake CUDA), examples/examples.mk,
# tests/tests.mk (unit, e2e, fuzz). Each adds to ALL_TARGETS / TEST_TARGETS.

CUDA_HOME  ?= /usr/local/cuda
PREFIX     ?= /usr/local
SAN        ?=
BUILD      ?= $(if $(SAN),build/san,build)
CC         ?= gcc
VERSION    := 0.1.0

DEPS_STAMP := build/.deps-ok

# Use every core unless the caller chose (make -jN); sub-makes share the jobserver.
ifeq ($(MAKELEVEL)$(filter -j%,$(MAKEFLAGS)),0)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif

SAN_FLAGS  := $(if $(SAN),-fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all,)
WARN       := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wstrict-prototypes
CFLAGS     ?= -O2 -g
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -fPIC -fno-strict-aliasing $(SAN_FLAGS) \
               -I$(CUDA_HOME)/include -Ishim
LDFLAGS_SAN := $(SAN_FLAGS)

.DEFAULT_GOAL := all
.PHONY: all deps test demo bench install uninstall clean format lint help

# ---------------------------------------------------------------- system packages
# A fresh machine lacks the -dev packages; .ci/install-deps installs them once.
deps: $(DEPS_STAMP)
$(DEPS_STAMP): .ci/install-deps
	@bash .ci/install-deps
	@mkdir -p $(@D) && touch $@

# ----------------------------------------------------------------------- the shim
SHIM_SRC   := $(wildcard shim/*.c)
SHIM_OBJ   := $(patsubst shim/%.c,$(BUILD)/obj/shim/%.o,$(SHIM_SRC))
SHIM_LIB   := $(BUILD)/libmetashim.so
SHIM_AR    := $(BUILD)/libmetashim_core.a
# jansson and libunwind are dlopen'ed privately (shim/jansson_private.c, unwind.c).
SHIM_LIBS  := -ldl -lpthread

$(BUILD)/obj/shim/%.o: shim/%.c shim/*.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -fvisibility=hidden -c $< -o $@

$(SHIM_LIB): $(SHIM_OBJ) shim/metashim.map
	$(CC) -shared -o $@ $(SHIM_OBJ) $(LDFLAGS_SAN) -Wl,--version-script=shim/metashim.map \
	    -Wl,-z,defs -Wl,--as-needed $(SHIM_LIBS)

# Unit tests link the pieces they test from this archive (never the hooks).
$(SHIM_AR): $(SHIM_OBJ)
	@rm -f $@ && ar rcs $@ $^

# --------------------------------------------------------------- the analysis tool
ANALYSIS_SRC := $(wildcard analysis/*.c)
ANALYSIS_OBJ := $(patsubst analysis/%.c,$(BUILD)/obj/analysis/%.o,$(ANALYSIS_SRC))
# Modules of the shim the tool shares (one parser for both sides).
ANALYSIS_SHARED := $(addprefix $(BUILD)/obj/shim/,$(notdir $(patsubst %.c,%.o,\
                   $(wildcard shim/trace_format.c shim/safetensors.c shim/manifest.c shim/dtype.c))))
METASHIM_BIN := $(BUILD)/metashim
ANALYSIS_LIBS := -ljansson -ldw -lelf -lm

$(BUILD)/obj/analysis/%.o: analysis/%.c analysis/*.h shim/*.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Ianalysis -DMS_VERSION=\"$(VERSION)\" -c $< -o $@

$(METASHIM_BIN): $(ANALYSIS_OBJ) $(ANALYSIS_SHARED)
	$(CC) -o $@ $^ $(LDFLAGS_SAN) $(ANALYSIS_LIBS)

ALL_TARGETS  := $(SHIM_LIB) $(SHIM_AR) $(METASHIM_BIN)
TEST_TARGETS :=

-include tests/fakecuda/fakecuda.mk
-include examples/examples.mk
-include tests/tests.mk
-include tests/bench/bench.mk

all: $(ALL_TARGETS)

# --------------------------------------------------------------------------- demo
# Runs the example loader under the shim — on the GPU when one is present (nvidia-smi
# answers and the real runtime is installed), otherwise on the fake CUDA — and
# prints the report.
demo: all
	+@bash examples/demo.sh $(BUILD)

bench: all
	+@bash tests/bench/run.sh $(BUILD)

# ------------------------------------------------------------------------ install
install: $(SHIM_LIB) $(METASHIM_BIN)
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 $(SHIM_LIB) $(DESTDIR)$(PREFIX)/lib/libmetashim.so
	install -m 0755 $(METASHIM_BIN) $(DESTDIR)$(PREFIX)/bin/metashim
	install -m 0644 shim/metashim.h $(DESTDIR)$(PREFIX)/include/metashim.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' shim/metashim.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/metashim.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libmetashim.so $(DESTDIR)$(PREFIX)/bin/metashim \
	    $(DESTDIR)$(PREFIX)/include/metashim.h $(DESTDIR)$(PREFIX)/lib/pkgconfig/metashim.pc

clean:
	rm -rf build

# ------------------------------------------------------------------- code hygiene
FORMAT_FILES = $(shell git ls-files '*.c' '*.h')
TIDY_SRC     = $(SHIM_SRC) $(ANALYSIS_SRC) $(wildcard tests/fakecuda/*.c)
format:
	clang-format -i $(FORMAT_FILES)

# clang-tidy runs once per file: clang-tidy 14 given several files reports every va_list
# of the second and later ones as uninitialized (clang-analyzer-valist.Uninitialized).
lint: | $(DEPS_STAMP)
	clang-format --dry-run --Werror $(FORMAT_FILES)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
	    --suppress=missingIncludeSystem -D_GNU_SOURCE -Ishim shim analysis tests/fakecuda
	printf '%s\n' $(TIDY_SRC) | xargs -P$$(nproc) -I{} clang-tidy --quiet {} -- \
	    $(BASE_CFLAGS) -Ianalysis -Itests/fakecuda

help:
	@echo "make [all]            build libmetashim.so, metashim, the fake CUDA and the examples"
	@echo "make test             build and run every test (SAN=address,undefined for sanitizers)"
	@echo "make demo             run an example loader under the shim and print the report"
	@echo "make bench            overhead and throughput benchmarks"
	@echo "make install PREFIX=  install lib, bin, include/metashim.h, pkg-config file"
	@echo "make format | lint    clang-format; clang-format check, cppcheck, clang-tidy"
	@echo "make clean"
