# examples.mk — the example programs (examples/*.c) and the small programs the
# end-to-end tests spawn (tests/e2e/programs/*.c). Included by the top Makefile.
#
# They build against the fake CUDA by default. To build the same programs against a
# real CUDA installation (tests/gpu/qualify.sh, examples/demo.sh on a GPU):
#   make BUILD=build/gpu CUDART_DIR=/usr/local/cuda/lib64 \
#        CUDART_STATIC=/usr/local/cuda/lib64/libcudart_static.a examples

# Where libcudart.so lives (linked dynamically, no rpath: run with LD_LIBRARY_PATH).
CUDART_DIR    ?= $(BUILD)/fakecuda
# The static runtime load_runtime_static carries inside itself, and what it needs.
CUDART_STATIC ?= $(BUILD)/fakecuda/libcudart_static.a
CUDART_STATIC_LIBS ?= -ldl -lpthread -lrt

EX_BUILD  := $(BUILD)/examples
EX_PROGS  := $(BUILD)/tests/e2e/programs
EX_CFLAGS  = $(BASE_CFLAGS) $(CFLAGS) -Iexamples
# The fake runtime is built by tests/fakecuda/fakecuda.mk; wait for it when we use it.
EX_CUDART_DEP := $(if $(filter $(BUILD)/fakecuda,$(CUDART_DIR)),$(BUILD)/fakecuda/libcudart.so.13)
EX_STATIC_DEP := $(if $(filter $(BUILD)/fakecuda/%,$(CUDART_STATIC)),$(CUDART_STATIC))

EX_BINS := $(EX_BUILD)/gen_checkpoint $(EX_BUILD)/load_runtime $(EX_BUILD)/load_driver \
           $(EX_BUILD)/load_runtime_static
EX_TEST_PROGS := $(patsubst tests/e2e/programs/%.c,$(EX_PROGS)/%,$(wildcard tests/e2e/programs/*.c))

$(EX_BUILD)/obj/%.o: examples/%.c $(wildcard examples/*.h) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(EX_CFLAGS) -c $< -o $@

$(EX_BUILD)/gen_checkpoint: $(EX_BUILD)/obj/gen_checkpoint.o
	$(CC) -o $@ $^ $(LDFLAGS_SAN) -ljansson

$(EX_BUILD)/load_runtime: $(EX_BUILD)/obj/load_runtime.o $(EX_BUILD)/obj/checkpoint.o | $(EX_CUDART_DEP)
	$(CC) -o $@ $^ $(LDFLAGS_SAN) -L$(CUDART_DIR) -lcudart -ljansson -lpthread

$(EX_BUILD)/load_driver: $(EX_BUILD)/obj/load_driver.o $(EX_BUILD)/obj/checkpoint.o
	$(CC) -o $@ $^ $(LDFLAGS_SAN) -ljansson -ldl -lpthread

# The runtime linked in, as CuPy and NCCL carry it: only its driver calls are visible.
$(EX_BUILD)/load_runtime_static: $(EX_BUILD)/obj/load_runtime.o $(EX_BUILD)/obj/checkpoint.o \
                                 $(EX_STATIC_DEP)
	$(CC) -o $@ $(EX_BUILD)/obj/load_runtime.o $(EX_BUILD)/obj/checkpoint.o $(CUDART_STATIC) \
	    $(LDFLAGS_SAN) -ljansson $(CUDART_STATIC_LIBS)

# Test programs: one source each; those that name cuda* symbols link the runtime
# dynamically, the rest link nothing CUDA (they dlopen it, or have no CUDA at all).
EX_PROGS_CUDART := $(EX_PROGS)/fork_copy $(EX_PROGS)/cuda_errors $(EX_PROGS)/copy_family
$(filter-out $(EX_PROGS_CUDART),$(EX_TEST_PROGS)): $(EX_PROGS)/%: tests/e2e/programs/%.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(EX_CFLAGS) -o $@ $< $(LDFLAGS_SAN) -ldl -lpthread
$(filter $(EX_PROGS_CUDART),$(EX_TEST_PROGS)): $(EX_PROGS)/%: tests/e2e/programs/%.c \
                                               | $(DEPS_STAMP) $(EX_CUDART_DEP)
	@mkdir -p $(@D)
	$(CC) $(EX_CFLAGS) -o $@ $< $(LDFLAGS_SAN) -L$(CUDART_DIR) -lcudart -ldl -lpthread

.PHONY: examples
# What a real-CUDA build needs: the shim, the tool, the examples (no fake CUDA).
examples: $(SHIM_LIB) $(METASHIM_BIN) $(EX_BINS)

# Until the fake CUDA's fragment exists there is no libcudart to link against:
# build only what needs none, so a checkout in mid-change still builds.
EX_HAVE_CUDART := $(if $(EX_CUDART_DEP),$(wildcard tests/fakecuda/runtime_*.c),yes)
ALL_TARGETS += $(if $(EX_HAVE_CUDART),$(EX_BINS) $(EX_TEST_PROGS),\
                 $(EX_BUILD)/gen_checkpoint $(EX_BUILD)/load_driver \
                 $(filter-out $(EX_PROGS_CUDART),$(EX_TEST_PROGS)))
