# tests.mk — unit (tests/unit/test_*.c), end-to-end (tests/e2e/test_*.c) and fuzz
# smoke runs. Every test source becomes its own Criterion binary; tests/run.sh runs
# them all and prints one closing line.

TEST_LIBS := -lcriterion -ljansson -lunwind -ldw -lelf -ldl -lpthread -lm

ANALYSIS_AR := $(BUILD)/libmetashim_analysis.a
$(ANALYSIS_AR): $(filter-out $(BUILD)/obj/analysis/main.o,$(ANALYSIS_OBJ))
	@rm -f $@ && ar rcs $@ $^ $(if $^,,$(BUILD)/obj/shim/trace_format.o)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))
E2E_SRC  := $(wildcard tests/e2e/test_*.c)
E2E_BIN  := $(patsubst tests/e2e/%.c,$(BUILD)/tests/e2e/%,$(E2E_SRC))
E2E_HELP := $(filter-out $(E2E_SRC),$(wildcard tests/e2e/*.c))

$(BUILD)/tests/unit/%: tests/unit/%.c tests/unit/*.h $(ANALYSIS_AR) $(SHIM_AR) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Ianalysis -Itests/unit -o $@ $< $(ANALYSIS_AR) $(SHIM_AR) \
	    $(LDFLAGS_SAN) $(TEST_LIBS)

$(BUILD)/tests/e2e/%: tests/e2e/%.c $(E2E_HELP) tests/e2e/*.h $(ANALYSIS_AR) $(SHIM_AR) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Ianalysis -Itests/e2e -o $@ $< $(E2E_HELP) $(ANALYSIS_AR) \
	    $(SHIM_AR) $(LDFLAGS_SAN) $(TEST_LIBS)

TEST_TARGETS += $(UNIT_BIN) $(E2E_BIN)

-include tests/fuzz/fuzz.mk

test: all $(TEST_TARGETS)
	@bash tests/run.sh $(BUILD) $(UNIT_BIN) $(E2E_BIN)
