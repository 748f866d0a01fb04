# nnc - a differentiating compiler for small neural networks.
#
#   make          builds ./nnc and runtime/libnnrt.a (and, with npm, installs the
#                 experiment board's charting library into runtime/board/)
#   make test     unit, gradient, end-to-end (and, where torch is installed, PyTorch) tests
#   make demo     compiles examples/tiny_mlp.nn, trains it, prints results, writes a plot
#   make assignments  the five course assignments in examples/assignments/, full runs
#   make asan     the same tests under address and undefined-behaviour sanitizers
#                 (ASAN_TESTS="tests/e2e/data.sh ...": the unit suites and these only)
#   make fuzz     builds a libFuzzer target per data parser and for models (clang), runs each
#                 for FUZZ_SECONDS (default 25); see tests/fuzz/run.sh
#   make deps     installs the Debian packages the build needs (scripts/deps.sh)
#   make install  nnc into PREFIX/bin, the runtime (libnnrt.a, nnrt.h,
#                 nnc-jit.so) into PREFIX/lib/nnc, where that nnc finds it, and
#                 the docs into PREFIX/share/doc/nnc; PREFIX ?= /usr/local,
#                 DESTDIR for staging (make uninstall removes them again)
#
# Switches: BLAS ?= auto|openblas|none   (OpenBLAS for large GEMMs in the runtime)
#           LLVM ?= auto|none|PATH/llvm-config  (the JIT of `nnc run`, docs/jit.md)
#           LLVM_LINK ?= auto|static|shared  (LLVM's libraries in nnc-jit.so)
#           MPI ?= auto|none|PATH/mpicc  (data-parallel runs, docs/distributed.md)

CC      ?= cc
OPT     ?= -O2 -g
WARN    := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes
ifeq ($(CI),true)
WARN    += -Werror
endif
DEPFLAGS = -MMD -MP
BUILD   ?= build
SAN     ?=
# where nnc and the runtime archive go; nnc finds the runtime in RT_DIR
# beside itself (make asan puts both under build-asan/)
NNC_BIN ?= nnc
RT_DIR  ?= runtime

BLAS ?= auto
ifeq ($(BLAS),auto)
BLAS := $(shell pkg-config --exists openblas 2>/dev/null && echo openblas || echo none)
endif
ifeq ($(BLAS),openblas)
BLAS_CFLAGS := -DNNRT_OPENBLAS $(shell pkg-config --cflags openblas)
BLAS_LIBS   := $(shell pkg-config --libs openblas)
endif

# LLVM for `nnc run`: found through llvm-config (Debian 12: llvm-dev, LLVM 14).
# Without it nnc is built without the JIT and `nnc run` says how to get it.
LLVM ?= auto
ifeq ($(LLVM),auto)
LLVM := $(shell command -v llvm-config 2>/dev/null || command -v llvm-config-14 2>/dev/null || echo none)
endif
# LLVM's static libraries (llvm-dev has them) go into nnc-jit.so, the parts
# the JIT uses and nothing else visible: the object then loads in ~5 ms, not
# the ~20 ms of libLLVM.so's 355,000 relocations and every target's static
# constructors, and a sweep's forks copy a third of the memory
# (docs/performance.md, "LLVM linked statically").  LLVM_LINK=shared links
# libLLVM.so instead; auto takes static where llvm-config finds its libraries.
LLVM_LINK ?= auto
# (bitwriter: the compile cache's key of a JIT object, jit_llvm.c)
LLVM_COMPONENTS := core orcjit native passes bitwriter
ifneq ($(LLVM),none)
LLVM_CFLAGS := -DNNC_LLVM -isystem $(shell $(LLVM) --includedir)
ifeq ($(LLVM_LINK),auto)
LLVM_LINK := $(shell $(LLVM) --link-static --libs $(LLVM_COMPONENTS) >/dev/null 2>&1 && echo static || echo shared)
endif
ifeq ($(filter static shared,$(LLVM_LINK)),)
$(error LLVM_LINK=$(LLVM_LINK): it is auto, static or shared)
endif
ifeq ($(LLVM_LINK),static)
LLVM_LIBS   := $(shell $(LLVM) --ldflags) -Wl,--exclude-libs,ALL \
               $(shell $(LLVM) --link-static --libs $(LLVM_COMPONENTS)) \
               $(shell $(LLVM) --link-static --system-libs) -lstdc++
else
LLVM_LIBS   := $(shell $(LLVM) --ldflags) $(shell $(LLVM) --libs $(LLVM_COMPONENTS))
endif
endif

# MPI for data-parallel training and sweeps (docs/distributed.md): a plugin,
# RT_DIR/nnrt-mpi.so, built with mpicc (Debian 12: libopenmpi-dev), which
# the runtime loads only in a process started by mpirun or srun with
# several ranks (common_mpi.c), at the path baked into it here.  Without
# mpicc nothing is built and such a process says how to get it.
MPI ?= auto
ifeq ($(MPI),auto)
MPI := $(shell command -v mpicc 2>/dev/null || echo none)
endif
ifneq ($(MPI),none)
MPI_SO := $(RT_DIR)/nnrt-mpi.so
endif

CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

CPPFLAGS := -D_POSIX_C_SOURCE=200809L -Isrc/frontend -Isrc/ir -Isrc/ad -Isrc/codegen -Iruntime -I$(BUILD)/gen
# -fPIC: the runtime and the JIT go into nnc-jit.so as well
CFLAGS_ALL = $(OPT) $(WARN) $(SAN) $(DEPFLAGS) $(CPPFLAGS) -fPIC

# ---- runtime: files in RT_COMMON are built once; every other runtime/*.c
# ---- is built twice, for float (f32) and double (f64), see nnrt.h.
RT_COMMON := $(wildcard runtime/common_*.c)
RT_REAL   := $(filter-out $(RT_COMMON),$(wildcard runtime/nnrt_*.c))
RT_OBJS   := $(RT_COMMON:runtime/%.c=$(BUILD)/rt/%.o) \
             $(RT_REAL:runtime/%.c=$(BUILD)/rt32/%.o) \
             $(RT_REAL:runtime/%.c=$(BUILD)/rt64/%.o)
RT_LIB    := $(RT_DIR)/libnnrt.a
PNG_CFLAGS := $(shell pkg-config --cflags libpng 2>/dev/null)
PNG_LIBS   := $(shell pkg-config --libs libpng 2>/dev/null || echo -lpng)
RT_LDLIBS := $(PNG_LIBS) -lz -lm -pthread -ldl $(BLAS_LIBS)
# the runtime's hot loops (NNRT_KERNEL in nnrt_internal.h) are vectorised
# through `omp simd` pragmas; sqrt may then become a vector instruction
# (the runtime never reads errno after a math function)
RT_KERNEL_FLAGS := -fopenmp-simd -fno-math-errno
# the blocked GEMM may fuse multiply-adds (its sums are reordered anyway)
$(BUILD)/rt32/nnrt_gemm.o $(BUILD)/rt64/nnrt_gemm.o: RT_KERNEL_FLAGS += -ffp-contract=fast
# ... as may the convolutions' (nnrt_conv.c: the C trainer and the JIT call them alike)
$(BUILD)/rt32/nnrt_conv.o $(BUILD)/rt64/nnrt_conv.o: RT_KERNEL_FLAGS += -ffp-contract=fast -O3

# ---- the experiment board (docs/board.md): its page template and script
# (runtime/board/) and Apache ECharts, installed from npm at the version
# runtime/board/package-lock.json pins into $(BUILD)/npm, go beside the
# runtime, where the runtime's board writer finds them at run time; it also
# looks in the directory it was built for (NNRT_RUNTIME_DIR).  Without npm
# nnc is built without them and `nnc board` says so.
.DEFAULT_GOAL := all
NPM ?= $(shell command -v npm 2>/dev/null)
BOARD_DIR   := $(RT_DIR)/board
BOARD_NPM   := $(BUILD)/npm/installed.stamp
BOARD_FILES := $(if $(NPM),$(BOARD_DIR)/echarts.min.js $(BOARD_DIR)/echarts.LICENSE) \
               $(if $(filter runtime,$(RT_DIR)),,$(BOARD_DIR)/board.html $(BOARD_DIR)/board.js)
$(BUILD)/rt/common_board.o: CPPFLAGS += -DNNRT_RUNTIME_DIR='"$(abspath $(RT_DIR))"'

$(BOARD_NPM): runtime/board/package.json runtime/board/package-lock.json
	@mkdir -p $(BUILD)/npm
	cp runtime/board/package.json runtime/board/package-lock.json $(BUILD)/npm/
	cd $(BUILD)/npm && $(NPM) ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@
$(BOARD_DIR)/echarts.min.js: $(BOARD_NPM)
	@mkdir -p $(BOARD_DIR)
	cp $(BUILD)/npm/node_modules/echarts/dist/echarts.min.js $@
# the library's licence and notice go into every page (and the zrender
# renderer's, which echarts.min.js holds)
$(BOARD_DIR)/echarts.LICENSE: $(BOARD_NPM)
	@mkdir -p $(BOARD_DIR)
	cat $(BUILD)/npm/node_modules/echarts/LICENSE $(BUILD)/npm/node_modules/echarts/NOTICE \
		$(BUILD)/npm/node_modules/zrender/LICENSE > $@
ifneq ($(RT_DIR),runtime)
$(BOARD_DIR)/%: runtime/board/%
	@mkdir -p $(BOARD_DIR)
	cp $< $@
endif

# ---- compiler
# The LLVM JIT (src/codegen/jit_*.c but jit_load.c; jit_internal.h lists
# them) is not part of nnc itself but a
# shared object beside the runtime, RT_DIR/nnc-jit.so, that nnc loads only
# for `nnc run`, --emit=llvm and `nnc sweep` (jit_load.c): loading
# libLLVM (and OpenBLAS) costs ~20 ms, more than a whole compilation.  The
# object holds the whole runtime (the JIT's code calls nnrt_gemm_f32 by
# name) and takes the compiler's functions from nnc, which exports them.
JIT_SRCS := $(filter-out src/codegen/jit_load.c,$(wildcard src/codegen/jit_*.c))
NNC_SRCS := $(filter-out $(JIT_SRCS),$(wildcard src/frontend/*.c src/ir/*.c src/ad/*.c src/codegen/*.c)) \
            src/sweep.c src/board.c src/compare.c src/main.c
NNC_OBJS := $(NNC_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/nn.tab.o $(BUILD)/gen/lex.yy.o
JIT_OBJS := $(JIT_SRCS:%.c=$(BUILD)/%.o)
ifneq ($(LLVM),none)
JIT_SO   := $(RT_DIR)/nnc-jit.so
endif

all: $(NNC_BIN) $(RT_LIB) $(JIT_SO) $(MPI_SO) $(BOARD_FILES)

# --as-needed: the compiler uses a few runtime functions (settings, parameter
# files), none of the BLAS, so nnc does not load OpenBLAS at start-up
$(NNC_BIN): $(NNC_OBJS) $(RT_LIB)
	$(CC) $(OPT) $(SAN) -rdynamic -o $@ $(NNC_OBJS) $(RT_LIB) -Wl,--as-needed $(RT_LDLIBS) -ldl
	@[ "$(LLVM)" != none ] || echo "nnc: built without LLVM (no llvm-config): \`nnc run\` is off; install llvm-dev (scripts/deps.sh) and rerun make"
	@[ -n "$(NPM)" ] || echo "nnc: built without the board's charting library (no npm): \`nnc board\` and live boards are off; install npm (scripts/deps.sh) and rerun make"

# -Bsymbolic: the object's own runtime, not the parts linked into nnc.  The
# runtime goes in as objects, not as libnnrt.a, so that it stays visible to
# the JIT's code (nnrt_gemm_f32) when --exclude-libs hides LLVM's archives.
$(JIT_SO): $(JIT_OBJS) $(RT_OBJS) $(LLVM_STAMP)
	@mkdir -p $(RT_DIR)
	$(CC) $(OPT) $(SAN) -shared -Wl,-Bsymbolic -o $@ $(JIT_OBJS) $(RT_OBJS) \
		$(RT_LDLIBS) $(LLVM_LIBS)

# the MPI plugin: MPI's own flags from mpicc (-fPIC: a shared object)
$(MPI_SO): runtime/nnrt-mpi.c
	@mkdir -p $(RT_DIR)
	$(MPI) $(OPT) $(WARN) $(SAN) -fPIC -shared -o $@ $<

# the runtime knows where the plugin is, or that there is none; a stamp
# rebuilds it when that changes
MPI_STAMP := $(BUILD)/mpi-$(if $(MPI_SO),yes,none).stamp
$(MPI_STAMP):
	@mkdir -p $(BUILD)
	@rm -f $(BUILD)/mpi-*.stamp
	@touch $@
$(BUILD)/rt/common_mpi.o: CPPFLAGS += $(if $(MPI_SO),-DNNRT_MPI_PLUGIN='"$(abspath $(MPI_SO))"')
$(BUILD)/rt/common_mpi.o: $(MPI_STAMP)

# the JIT is compiled with or without LLVM, linked with its static or shared
# libraries; a stamp rebuilds it when that changes
LLVM_STAMP := $(BUILD)/llvm-$(if $(filter none,$(LLVM)),none,$(LLVM_LINK)).stamp
$(LLVM_STAMP):
	@mkdir -p $(BUILD)
	@rm -f $(BUILD)/llvm-*.stamp
	@touch $@
$(JIT_OBJS): CPPFLAGS += $(LLVM_CFLAGS)
$(JIT_OBJS): $(LLVM_STAMP)
$(BUILD)/src/codegen/jit_load.o: CPPFLAGS += $(if $(JIT_SO),-DNNC_LLVM)
$(BUILD)/src/codegen/jit_load.o: $(LLVM_STAMP)

# objects built before the runtime became position-independent (for
# nnc-jit.so) are rebuilt once
PIC_STAMP := $(BUILD)/pic.stamp
$(PIC_STAMP):
	@mkdir -p $(BUILD)
	@touch $@
$(RT_OBJS) $(JIT_OBJS): $(PIC_STAMP)

$(BUILD)/gen/nn.tab.c $(BUILD)/gen/nn.tab.h: grammar/nn.y
	@mkdir -p $(BUILD)/gen
	bison -Wall --defines=$(BUILD)/gen/nn.tab.h -o $(BUILD)/gen/nn.tab.c $<

$(BUILD)/gen/lex.yy.c $(BUILD)/gen/lex.yy.h: grammar/nn.l $(BUILD)/gen/nn.tab.h
	@mkdir -p $(BUILD)/gen
	flex --header-file=$(BUILD)/gen/lex.yy.h -o $(BUILD)/gen/lex.yy.c $<

# Generated parser files: relaxed warnings (their code is not ours to tidy).
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(OPT) $(SAN) -std=c11 -w $(DEPFLAGS) $(CPPFLAGS) -c -o $@ $<

$(NNC_SRCS:%.c=$(BUILD)/%.o): | $(BUILD)/gen/nn.tab.h $(BUILD)/gen/lex.yy.h

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(BUILD)/rt/%.o: runtime/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(BLAS_CFLAGS) $(PNG_CFLAGS) -c -o $@ $<
$(BUILD)/rt32/%.o: runtime/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(RT_KERNEL_FLAGS) $(BLAS_CFLAGS) -c -o $@ $<
$(BUILD)/rt64/%.o: runtime/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(RT_KERNEL_FLAGS) $(BLAS_CFLAGS) -DNNRT_F64 -c -o $@ $<

# libnnrt.ldflags tells `nnc build` what to link the archive with; as needed:
# a trainer that never calls nnrt_gemm (a tiny model) does not load OpenBLAS.
$(RT_LIB): $(RT_OBJS)
	@mkdir -p $(RT_DIR)
	rm -f $@
	ar rcs $@ $(RT_OBJS)
	echo "$(SAN) -Wl,--as-needed $(RT_LDLIBS)" > $(RT_DIR)/libnnrt.ldflags
	@[ "$(RT_DIR)" = runtime ] || cp runtime/nnrt.h $(RT_DIR)/
	@echo "runtime: BLAS=$(BLAS)"

# ---- tests
UNIT_SRCS := $(wildcard tests/unit/check_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
NNC_LIB_OBJS := $(filter-out $(BUILD)/src/main.o,$(NNC_OBJS))

$(BUILD)/tests/%: tests/unit/%.c $(NNC_LIB_OBJS) $(RT_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) -o $@ $< $(NNC_LIB_OBJS) $(RT_LIB) $(RT_LDLIBS) -ldl $(CHECK_LIBS)

# test and demo first install what is missing, then build with a fresh
# make (so BLAS and Check detection sees the installed packages).
test:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory all unit-tests
	@tests/run.sh

unit-tests: $(UNIT_BINS)

demo:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

bench: all
	@bench/run.sh

# the five course assignments, full runs (each under 10 minutes on 2 cores);
# results in examples/assignments/*/out/
assignments: all
	@for a in examples/assignments/*/run.sh; do echo "==== $$a"; nice $$a || exit 1; done

ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# gcc's -Wformat-truncation at -O1 follows other paths than at -O2 and has
# stopped this build on snprintf calls that truncate on purpose (a label,
# a cache entry's name); the -O2 build's warnings are the ones that gate
ASAN_OPT := -O1 -g -Wno-error=format-truncation
# the trainers the tests build: nnc build's own flags (the JIT's bits are compared with them)
ASAN_TRAINER_CFLAGS := -O3 -g -march=native -fno-trapping-math -fopenmp-simd -DNNRT_SIMD
asan:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory BUILD=build-asan NNC_BIN=build-asan/nnc RT_DIR=build-asan/runtime \
		SAN="$(ASAN_FLAGS)" OPT="$(ASAN_OPT)" all unit-tests
	@NNC=$(CURDIR)/build-asan/nnc BUILD=build-asan NNC_CFLAGS="$(ASAN_TRAINER_CFLAGS) $(ASAN_FLAGS)" \
		ASAN_OPTIONS=detect_leaks=0 tests/run.sh $(ASAN_TESTS)

# ---- fuzzing (clang's libFuzzer): the runtime built with the fuzzer's
# ---- coverage hooks and sanitizers, one binary per target in fuzz_harness.h
FUZZ_SECONDS ?= 25
FUZZ_TARGETS := npy npz pickle idx csv cifar settings nn cc bind
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_BINS    := $(FUZZ_TARGETS:%=build-fuzz/fuzz_%)
# (-Wno-pass-failed: at -O1 clang cannot vectorise the loops the runtime asks
# it to, and says so; under CI's -Werror that stopped the build. This build is
# for finding bugs, not for speed.)
fuzz:
	@command -v clang >/dev/null 2>&1 || { echo "make fuzz needs clang (scripts/deps.sh --all)" >&2; exit 1; }
	@$(MAKE) --no-print-directory CC=clang BLAS=none BUILD=build-fuzz RT_DIR=build-fuzz/runtime \
		SAN="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" OPT="-O1 -g -Wno-pass-failed" fuzz-bins
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_TARGETS)

fuzz-bins: $(FUZZ_BINS)

build-fuzz/fuzz_%: tests/fuzz/fuzz_target.c tests/fuzz/fuzz_harness.h $(NNC_LIB_OBJS) $(RT_LIB)
	$(CC) $(OPT) $(WARN) $(CPPFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) -DFUZZ_TARGET='"$*"' \
		-o $@ $< $(NNC_LIB_OBJS) $(RT_LIB) $(RT_LDLIBS) -ldl

deps:
	scripts/deps.sh

# nnc looks for its runtime in runtime/ beside itself, else in ../lib/nnc
# (cg_runtime_dir), so PREFIX/bin/nnc finds PREFIX/lib/nnc wherever PREFIX is
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  := $(DESTDIR)$(PREFIX)/bin
LIBDIR  := $(DESTDIR)$(PREFIX)/lib/nnc
DOCDIR  := $(DESTDIR)$(PREFIX)/share/doc/nnc
install: all
	install -d $(BINDIR) $(LIBDIR) $(DOCDIR)
	install -m 755 $(NNC_BIN) $(BINDIR)/nnc
	install -m 644 $(RT_LIB) $(RT_DIR)/libnnrt.ldflags runtime/nnrt.h $(LIBDIR)/
	$(if $(JIT_SO),install -m 755 $(JIT_SO) $(LIBDIR)/)
	install -m 644 README.md docs/*.md $(DOCDIR)/
	@echo "installed $(PREFIX)/bin/nnc (runtime in $(PREFIX)/lib/nnc, docs in $(PREFIX)/share/doc/nnc)"

uninstall:
	rm -f $(BINDIR)/nnc
	rm -rf $(LIBDIR) $(DOCDIR)

clean:
	rm -rf build build-asan build-fuzz nnc runtime/libnnrt.a runtime/libnnrt.ldflags runtime/nnc-jit.so \
		runtime/nnrt-mpi.so runtime/board/echarts.min.js runtime/board/echarts.LICENSE tests/out demo

.PHONY: all test unit-tests demo bench asan fuzz fuzz-bins deps clean assignments install uninstall
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
