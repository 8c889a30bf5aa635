# fuzz.mk — `make fuzz`: every libFuzzer harness in tests/fuzz/ for FUZZ_SECONDS each
# (default 120), also in sanitizer builds. `make test` runs them 10 s each through
# tests/run.sh.
FUZZ_SECONDS ?= 120
.PHONY: fuzz
fuzz:
	@FUZZ_ALWAYS=1 bash tests/fuzz/run.sh $(BUILD) $(FUZZ_SECONDS)
