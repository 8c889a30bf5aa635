# bench.mk — the benchmark programs `make bench` runs (tests/bench/run.sh), built
# against the fake CUDA runtime. Included by the top Makefile; run.sh also builds
# them itself (make -f Makefile -f tests/bench/bench.mk) when it is not, hence
# the guard against a second inclusion.
ifndef MS_BENCH_MK
MS_BENCH_MK := 1

BENCH_OUT   := $(BUILD)/tests/bench
BENCH_SRC   := $(wildcard tests/bench/bench_*.c)
BENCH_BINS  := $(patsubst tests/bench/%.c,$(BENCH_OUT)/%,$(BENCH_SRC))

# Linked like a CUDA program (dynamic runtime, no rpath: run with LD_LIBRARY_PATH);
# the shim is found at run time (LD_PRELOAD), never linked.
$(BENCH_OUT)/%: tests/bench/%.c $(BUILD)/fakecuda/libcudart.so.13 | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $< -L$(BUILD)/fakecuda -lcudart -ldl -lpthread

.PHONY: bench-progs
bench-progs: $(BENCH_BINS)
bench: $(BENCH_BINS)

endif
