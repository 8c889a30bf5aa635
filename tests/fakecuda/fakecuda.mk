# fakecuda.mk — the fake CUDA driver and runtime (tests/fakecuda/README.md), included by
# the top Makefile. Outputs, all under $(BUILD)/fakecuda:
#   libcuda.so.1 (+ libcuda.so)         the driver, soname libcuda.so.1
#   libcudart.so.13 (+ libcudart.so)    the runtime, soname libcudart.so.13, RUNPATH $ORIGIN
#   libcudart_static.a                  the runtime to link into a program (+ -ldl -lpthread);
#                                       every symbol in it is hidden, as in CuPy or NCCL
#   static_check                        a program carrying the static runtime (a test runs it)

FC_DIR     := tests/fakecuda
FC_OUT     := $(BUILD)/fakecuda
FC_CFLAGS   = $(BASE_CFLAGS) $(CFLAGS) -I$(FC_DIR)
FC_HDRS    := $(wildcard $(FC_DIR)/*.h) $(FC_DIR)/errors.def

FC_DRV_SRC := $(wildcard $(FC_DIR)/driver_*.c)
FC_RT_SRC  := $(wildcard $(FC_DIR)/runtime_*.c)
FC_DRV_OBJ := $(patsubst $(FC_DIR)/%.c,$(FC_OUT)/obj/%.o,$(FC_DRV_SRC))
FC_RT_OBJ  := $(patsubst $(FC_DIR)/%.c,$(FC_OUT)/obj/shared/%.o,$(FC_RT_SRC))
FC_RTS_OBJ := $(patsubst $(FC_DIR)/%.c,$(FC_OUT)/obj/static/%.o,$(FC_RT_SRC))

FC_LIBCUDA      := $(FC_OUT)/libcuda.so.1
FC_LIBCUDART    := $(FC_OUT)/libcudart.so.13
FC_LIBCUDART_A  := $(FC_OUT)/libcudart_static.a
FC_STATIC_CHECK := $(FC_OUT)/static_check

$(FC_OUT)/obj/%.o: $(FC_DIR)/%.c $(FC_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(FC_CFLAGS) -c $< -o $@

$(FC_OUT)/obj/shared/%.o: $(FC_DIR)/%.c $(FC_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(FC_CFLAGS) -c $< -o $@

# Hidden: a program (or a Python extension) carrying the runtime exports no cuda* symbol.
$(FC_OUT)/obj/static/%.o: $(FC_DIR)/%.c $(FC_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(FC_CFLAGS) -fvisibility=hidden -DFC_STATIC_RUNTIME -c $< -o $@

# -Bsymbolic: calls inside a library never detour through an interposer's symbol.
$(FC_LIBCUDA): $(FC_DRV_OBJ) $(FC_DIR)/libcuda.map
	$(CC) -shared -o $@ $(FC_DRV_OBJ) $(LDFLAGS_SAN) -Wl,-soname,libcuda.so.1 \
	    -Wl,--version-script=$(FC_DIR)/libcuda.map -Wl,-Bsymbolic -Wl,-z,defs -lpthread
	ln -sf libcuda.so.1 $(FC_OUT)/libcuda.so

$(FC_LIBCUDART): $(FC_RT_OBJ) $(FC_DIR)/libcudart.map
	$(CC) -shared -o $@ $(FC_RT_OBJ) $(LDFLAGS_SAN) -Wl,-soname,libcudart.so.13 \
	    -Wl,--version-script=$(FC_DIR)/libcudart.map -Wl,-Bsymbolic -Wl,-z,defs \
	    -Wl,-rpath,'$$ORIGIN' -ldl -lpthread
	ln -sf libcudart.so.13 $(FC_OUT)/libcudart.so

$(FC_LIBCUDART_A): $(FC_RTS_OBJ)
	@rm -f $@ && ar rcs $@ $^

# DT_RPATH (not RUNPATH): it still applies when a sanitizer's dlopen interceptor is the caller.
$(FC_STATIC_CHECK): $(FC_DIR)/static_check.c $(FC_LIBCUDART_A) $(FC_DIR)/fakecuda.mk | $(DEPS_STAMP)
	$(CC) $(FC_CFLAGS) -o $@ $< $(FC_LIBCUDART_A) $(LDFLAGS_SAN) \
	    -Wl,--disable-new-dtags,-rpath,'$$ORIGIN' -ldl -lpthread

ALL_TARGETS += $(FC_LIBCUDA) $(if $(FC_RT_SRC),$(FC_LIBCUDART) $(FC_LIBCUDART_A)) \
               $(if $(wildcard $(FC_DIR)/static_check.c),$(FC_STATIC_CHECK))
