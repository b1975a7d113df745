# tapegrad build. `make run` and `make test` install missing Debian packages first
# (scripts/setup.sh), then build and run. Variables:
#   SAN=1     AddressSanitizer + UndefinedBehaviorSanitizer build (in build-san/)
#   FUZZ=1    libFuzzer + ASan + UBSan build with clang++, CPU-only (in build-fuzz-nocuda/): set by
#             `make fuzz`, which runs each fuzzer for FUZZ_SECONDS (default 60; fuzz/README.md)
#   DEBUG=1   -O0 -g build (in build-debug/)
#   CUDA=0    build without CUDA even if nvcc is found; CUDA_ARCHS="80 90" picks GPU targets
#   EMU=1     the CUDA backend compiled as plain C++ against the host emulation of the CUDA runtime
#             and cuBLAS (cuda/emulation/, in build-emu/): the GPU suites run on the CPU, no nvcc
#             needed; `make test-cuda-emu` builds and runs them (part of `make test`)
#   ARCH=...  the instruction set of tapegrad's own code (in build-ARCH/): unset, x86-64-v3 (AVX2,
#             FMA: x86 CPUs since 2013) with libraries that pick AVX2 or AVX-512 kernels for the
#             running CPU; ARCH=native for this CPU; ARCH=x86-64-v2 for CPUs without AVX2;
#             ARCH=x86-64-v3 for AVX2 with the libraries capped at their AVX2 kernels too, so that
#             an AVX-512 machine measures what an AVX2 machine runs
#   PREFIX=/usr/local, DESTDIR=, LIBDIR=$(PREFIX)/lib: where `make install` puts tapegrad
# Targets: all (default), test, test-gpu, test-cuda-emu, run, bench, fuzz, install, uninstall, clean, info.

CXX      ?= g++
NPROC    := $(shell nproc 2>/dev/null || echo 2)
NVCC     ?= nvcc
CUDA_ARCHS ?= 80 90

# ---- CUDA: compiled whenever nvcc is found, unless CUDA=0 ------------------------------------
NVCC_PATH := $(shell command -v $(NVCC) 2>/dev/null)
ifeq ($(EMU),1)
  USE_CUDA := emulation
else ifeq ($(CUDA),0)
  USE_CUDA :=
else
  USE_CUDA := $(if $(NVCC_PATH),yes,)
endif
CUDA_SRCS := $(if $(USE_CUDA),$(wildcard cuda/*.cu),)
ifeq ($(USE_CUDA),yes)
  CUDA_HOME   ?= $(patsubst %/bin/nvcc,%,$(NVCC_PATH))
  CUDA_LIBS   := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -lcublas
  # Machine code for each of CUDA_ARCHS (listed in ascending order) and PTX of the last, which the
  # driver compiles for GPUs newer than any listed.
  NVCC_GENCODE := $(foreach a,$(CUDA_ARCHS),-gencode arch=compute_$(a),code=sm_$(a)) \
                  -gencode arch=compute_$(lastword $(CUDA_ARCHS)),code=compute_$(lastword $(CUDA_ARCHS))
endif

ifeq ($(FUZZ),1)
  BUILD := build-fuzz
  OPT   := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
           -Wno-pass-failed
  LDSAN := -fsanitize=address,undefined
  # -Wno-pass-failed: clang at -O1 cannot follow every omp simd hint.
else ifeq ($(SAN),1)
  BUILD := build-san
  OPT   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDSAN := -fsanitize=address,undefined
else ifeq ($(DEBUG),1)
  BUILD := build-debug
  OPT   := -O0 -g
else ifneq ($(ARCH),)
  BUILD := build-$(ARCH)
  OPT   := -O3 -march=$(ARCH) -DTAPEGRAD_ARCH='"$(ARCH)"' $(if $(filter x86-64-v3,$(ARCH)),-DTAPEGRAD_CAP_AVX2,)
else
  BUILD := build
  OPT   := -O3 -march=x86-64-v3 -mtune=generic -DTAPEGRAD_ARCH='"x86-64-v3"'
endif
# A CPU-only build (CUDA=0 or no nvcc) compiles with other flags: keep its objects apart; so does
# the emulation's.
ifeq ($(USE_CUDA),)
  BUILD := $(BUILD)-nocuda
else ifeq ($(USE_CUDA),emulation)
  BUILD := $(BUILD)-emu
endif

# ---- dependencies: pkg-config first, then the standard Debian paths -------------------------
# OpenBLAS's pthreads build, told to use one thread (cpu/cpu_gemm.cpp): the CPU backend runs the
# products on its own threads (cpu/cpu_threads.h). Not the "serial" build: it is not safe to call
# from two threads at once (two concurrent products gave wrong results; tests/test_train checks).
OPENBLAS_DIR := /usr/lib/x86_64-linux-gnu/openblas-pthread
BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
ifeq ($(BLAS_CFLAGS),)
  BLAS_CFLAGS := $(if $(wildcard /usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h),-I/usr/include/x86_64-linux-gnu/openblas-pthread,)
endif
BLAS_LIBS := $(OPENBLAS_DIR)/libopenblas.so.0 -Wl,-rpath,$(OPENBLAS_DIR)
# libxsmm (small matrix products, JIT-compiled for the running CPU): Debian ships it as a static
# library; it calls BLAS only as a fallback.
XSMM_LIBS := -l:libxsmm.a -ldl
HAVE_XSMM := $(if $(wildcard /usr/include/libxsmm.h),yes,)
# BLIS, only for bench/bench_gemm (the library comparison): its single-threaded build.
BLIS_DIR := /usr/lib/x86_64-linux-gnu/blis-serial
BLIS_CFLAGS := -isystem /usr/include/x86_64-linux-gnu/blis-serial
BLIS_LIBS := $(BLIS_DIR)/libblis.so.4 -Wl,-rpath,$(BLIS_DIR)
HAVE_BLAS  := $(if $(wildcard /usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h /usr/include/cblas.h),yes,)
HAVE_BOOST := $(if $(wildcard /usr/include/boost/test/unit_test.hpp),yes,)
FMT_LIBS   := $(shell pkg-config --libs fmt 2>/dev/null || echo -lfmt)
# jemalloc: the tape allocates a few small objects per op; glibc malloc fragments under that
# pattern, which made the tape several times slower (docs/BENCHMARKS.md, "Foundation"). Not under SAN=1
# or FUZZ=1, where the sanitizer supplies its own malloc.
HAVE_JEMALLOC := $(if $(wildcard /usr/lib/x86_64-linux-gnu/libjemalloc.so),yes,)
SANITIZED := $(filter 1,$(SAN) $(FUZZ))
MALLOC_LIBS := $(if $(SANITIZED),,$(if $(HAVE_JEMALLOC),-ljemalloc,))

# -fno-math-errno: math functions need not set errno, so loops calling them can vectorise.
# -fopenmp-simd: the `#pragma omp simd` hints only; threads are tapegrad's own (no OpenMP runtime).
# No peeling of loop iterations to align a pointer: how many elements a vector loop peels off
# would depend on where the allocator put the array, and those run through scalar code (another
# sum order, scalar expf instead of libmvec's): results would change from run to run.
# -fPIC: one set of objects makes both the static and the shared library; -fno-semantic-interposition
# lets calls inside the shared library go straight to their function, as in the static one.
CXXFLAGS := -std=c++17 $(OPT) -fPIC -fno-semantic-interposition -fno-math-errno --param=vect-max-peeling-for-alignment=0 -Wall -Wextra -fopenmp-simd -pthread -I. $(BLAS_CFLAGS) -DBOOST_TEST_DYN_LINK
# -lineinfo: source lines in the GPU code for compute-sanitizer's reports (the code is unchanged).
NVCCFLAGS := -std=c++17 -O3 -lineinfo -I. $(BLAS_CFLAGS) $(NVCC_GENCODE) --expt-relaxed-constexpr \
             -Xcompiler -Wall -Xcompiler -fPIC
# The emulation compiles cuda/*.cu with the C++ compiler, finding the emulation's cuda_runtime.h and
# cublas_v2.h, and links the emulation (cuda/emulation/*.cpp) into libtapegrad_cuda in place of
# CUDA's libraries.
ifeq ($(USE_CUDA),emulation)
  NVCC      := $(CXX)
  NVCCFLAGS := $(CXXFLAGS) -x c++ -Icuda/emulation
  EMU_OBJS  := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard cuda/emulation/*.cpp))
endif
# clang has no vectoriser parameter of that name, and would warn about it on every file.
ifeq ($(FUZZ),1)
  CXXFLAGS := $(filter-out --param=%,$(CXXFLAGS))
endif
# What libtapegrad itself needs; a program adds jemalloc (not a library's choice to make for the
# program it is linked into) and, with libtapegrad_cuda, CUDA's runtime and cuBLAS.
LIB_DEPS := $(XSMM_LIBS) $(BLAS_LIBS) $(FMT_LIBS) -lz -pthread
CPU_LDLIBS := $(LIB_DEPS) $(MALLOC_LIBS) $(LDSAN)
LDLIBS := $(CPU_LDLIBS) $(CUDA_LIBS)

# Objects depend on the compiler and its flags: a build after a change of them (a new ARCH, a
# newer Makefile) recompiles everything instead of mixing objects of both.
FLAGS_FILE  := $(BUILD)/compile-flags
BUILD_FLAGS := $(CXX) $(CXXFLAGS) | $(NVCC) $(NVCCFLAGS)
ifneq ($(file <$(FLAGS_FILE)),$(BUILD_FLAGS))
  $(shell mkdir -p $(BUILD))
  $(file >$(FLAGS_FILE),$(BUILD_FLAGS))
endif

# ---- sources -----------------------------------------------------------------------------------
# Two libraries, each static and shared: libtapegrad (everything but the CUDA kernels; needs no CUDA
# library) and libtapegrad_cuda (cuda/*.cu: the CUDA backend, found by libtapegrad through a weak
# symbol, cuda/runtime.h). A program linked with the static ones says -Wl,-u,tapegrad_cuda_runtime
# to pull the CUDA backend in (CUDA_LINK); the installed tapegrad-cuda.pc says the same.
comma     := ,
VERSION   := 0.1.0
SOVERSION := 0
LIB_SRCS  := $(wildcard core/*.cpp autograd/*.cpp ops/*.cpp cpu/*.cpp models/*.cpp train/*.cpp cuda/*.cpp data/*.cpp)
LIB_OBJS  := $(LIB_SRCS:%.cpp=$(BUILD)/obj/%.o)
CUDA_OBJS := $(CUDA_SRCS:%.cu=$(BUILD)/obj/%.cu.o) $(EMU_OBJS)
LIBDIR_BUILD := $(BUILD)/lib
LIB       := $(LIBDIR_BUILD)/libtapegrad.a
SHLIB     := $(LIBDIR_BUILD)/libtapegrad.so.$(VERSION)
CUDA_LIB  := $(if $(USE_CUDA),$(LIBDIR_BUILD)/libtapegrad_cuda.a,)
CUDA_SHLIB := $(if $(USE_CUDA),$(LIBDIR_BUILD)/libtapegrad_cuda.so.$(VERSION),)
LIBRARIES := $(LIB) $(SHLIB) $(CUDA_LIB) $(CUDA_SHLIB)
TEST_SRCS := $(wildcard tests/test_*.cpp)
TESTS     := $(TEST_SRCS:tests/%.cpp=$(BUILD)/tests/%)
TEST_HELPER_OBJS := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(filter-out $(TEST_SRCS),$(wildcard tests/*.cpp)))
EXAMPLES  := $(patsubst examples/%.cpp,$(BUILD)/examples/%,$(wildcard examples/*.cpp))
BENCHES   := $(patsubst bench/%.cpp,$(BUILD)/bench/%,$(wildcard bench/*.cpp))
FUZZERS   := $(patsubst fuzz/%.cpp,$(BUILD)/fuzz/%,$(wildcard fuzz/fuzz_*.cpp))
CUDA_LINK := $(if $(USE_CUDA),-Wl$(comma)-u$(comma)tapegrad_cuda_runtime $(CUDA_LIB),)
LINK_LIB  := $(CUDA_LINK) $(LIB)
LINKED    := $(LIB) $(CUDA_LIB)
# The public headers: what tapegrad.h includes, and the trainer of tapegrad-train (train/).
PUBLIC_HEADERS := tapegrad.h $(wildcard core/*.h autograd/*.h ops/*.h models/*.h data/*.h train/*.h) \
                  cpu/blas_info.h cpu/cpu_threads.h cuda/cuda.h

.PHONY: install uninstall check-install all test test-gpu crash-test run bench fuzz clean info deps build-tests build-examples build-benches run-fuzzers san-canary
.DEFAULT_GOAL := all
# Keep object files of tests/examples/benches (make would delete them as intermediates).
.SECONDARY:

all: info $(LIBRARIES) $(TESTS) $(EXAMPLES) $(BENCHES)

info:
	@echo "tapegrad build ($(BUILD)): CXX=$(CXX)"
	@echo "  OpenBLAS: $(if $(HAVE_BLAS),found ($(BLAS_LIBS)),MISSING: run scripts/setup.sh or apt-get install libopenblas-dev libopenblas0-pthread)"
	@echo "  libxsmm: $(if $(HAVE_XSMM),found,MISSING: run scripts/setup.sh or apt-get install libxsmm-dev)"
	@echo "  jemalloc: $(if $(SANITIZED),not used under sanitizers,$(if $(HAVE_JEMALLOC),found,MISSING (falling back to glibc malloc: slower tape): apt-get install libjemalloc-dev))"
	@echo "  Boost.Test: $(if $(HAVE_BOOST),found,MISSING: run scripts/setup.sh or apt-get install libboost-test-dev)"
	@echo "  CUDA: $(if $(filter emulation,$(USE_CUDA)),the host emulation (EMU=1, cuda/emulation/): cuda/*.cu compiled as C++$(comma) no GPU code,$(if $(USE_CUDA),nvcc found at $(NVCC_PATH): the CUDA backend (libtapegrad_cuda) is built for sm_$(CUDA_ARCHS) by the targets that need it,not built ($(if $(filter 0,$(CUDA)),CUDA=0,no nvcc on PATH)): CPU-only library))"

deps:
	@scripts/setup.sh

# The instruction-set check runs before anything else, so it is compiled for any x86-64 CPU.
$(BUILD)/obj/cpu/cpu_isa_check.o: CXXFLAGS := $(filter-out -march=% -mtune=%,$(CXXFLAGS))

$(BUILD)/obj/%.o: %.cpp $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.cu.o: %.cu $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(CUDA_LIB): $(CUDA_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

# A shared library, its soname (libtapegrad.so.0) and the name a link line asks for. --no-undefined:
# every symbol it uses is in it or in a library it names, so it loads wherever those are.
# --exclude-libs: what it takes from static libraries (libxsmm) it keeps to itself.
$(LIBDIR_BUILD)/lib%.so.$(VERSION):
	@mkdir -p $(dir $@)
	$(CXX) -shared -Wl,-soname,lib$*.so.$(SOVERSION) -Wl,--no-undefined -Wl,--exclude-libs,ALL $(filter %.o,$^) \
	    $(SHLIB_LIBS) $(LDSAN) -o $@
	ln -sf $(notdir $@) $(LIBDIR_BUILD)/lib$*.so.$(SOVERSION)
	ln -sf lib$*.so.$(SOVERSION) $(LIBDIR_BUILD)/lib$*.so
$(SHLIB): $(LIB_OBJS)
$(SHLIB): SHLIB_LIBS := $(LIB_DEPS)
$(CUDA_SHLIB): $(CUDA_OBJS) $(SHLIB)
$(CUDA_SHLIB): SHLIB_LIBS := -L$(LIBDIR_BUILD) -ltapegrad $(FMT_LIBS) $(CUDA_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_HELPER_OBJS) $(LINKED)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $< $(TEST_HELPER_OBJS) $(LINK_LIB) -lboost_unit_test_framework $(LDLIBS) -o $@

$(BUILD)/examples/%: $(BUILD)/obj/examples/%.o $(LINKED)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $< $(LINK_LIB) $(LDLIBS) -o $@

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LINKED)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $< $(LINK_LIB) $(LDLIBS) -o $@

# bench_gemm also times BLIS (after OpenBLAS on the link line, so that cblas_* stay OpenBLAS's).
$(BUILD)/obj/bench/bench_gemm.o: CXXFLAGS += $(BLIS_CFLAGS)
$(BUILD)/bench/bench_gemm: $(BUILD)/obj/bench/bench_gemm.o $(LINKED)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $< $(LINK_LIB) $(LDLIBS) $(BLIS_LIBS) -o $@

# bench_contention runs bench_cells and bench_pr_lstm (their worker mode): build them with it.
$(BUILD)/bench/bench_contention: | $(BUILD)/bench/bench_cells $(BUILD)/bench/bench_pr_lstm

# Each suite runs on its own; GPU cases inside them report themselves skipped without a device.
# Under SAN=1, CUDA's runtime needs the shadow gap unprotected to probe for a driver.
TEST_ENV := $(if $(filter 1,$(SAN)),ASAN_OPTIONS=protect_shadow_gap=0:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1,)

# Under SAN=1 the canary (tests/canary/division_by_zero.cpp) runs first: a sanitizer that does not
# stop a division by zero would make a clean run mean nothing.
SAN_CANARY := $(if $(filter 1,$(SAN)),$(BUILD)/san_canary,)

test: deps
	@$(MAKE) --no-print-directory -j$(NPROC) build-tests
	$(if $(SAN_CANARY),@$(MAKE) --no-print-directory san-canary)
	@$(TEST_ENV) scripts/run-tests.sh $(TESTS)
	$(if $(SANITIZED),,@$(MAKE) --no-print-directory -j$(NPROC) EMU=1 run-cuda-emu)
	$(if $(SANITIZED),,@$(MAKE) --no-print-directory check-install)

# tests/test_inspect runs examples/step_through (through stdin) and examples/custom_op: build them with the tests.
build-tests: info $(LIBRARIES) $(BUILD)/examples/tapegrad-train $(TESTS) $(BUILD)/examples/step_through $(BUILD)/examples/custom_op $(SAN_CANARY) $(BUILD)/cxx20-check

# Users' own projects may be C++20: every public header (the host side of cuda/ too) must compile
# there as well as in the library's C++17 (syntax only, all in one unit).
$(BUILD)/cxx20-check: $(PUBLIC_HEADERS)
	@printf '$(foreach h,$(PUBLIC_HEADERS),#include "$(h)"\n)' | \
	    $(CXX) $(filter-out -std=%,$(CXXFLAGS)) -std=c++20 -fsyntax-only -x c++ - && touch $@
	@echo "C++20: every public header compiles"

# UBSan stops a run with exit status 1. A sanitizer that only reports lets the division go on to
# the CPU's divide trap (SIGFPE, status 136): the report alone does not tell the two apart.
san-canary: $(BUILD)/san_canary
	@$(TEST_ENV) $< 0 2>$<.log; status=$$?; \
	if [ $$status -ne 1 ] || ! grep -q "division by zero" $<.log; then \
	    cat $<.log; echo "san canary: expected UBSan to stop a division by zero (its report, exit status 1), got exit status $$status"; exit 1; \
	fi
	@echo "san canary: UBSan stopped a division by zero, as it must"

$(BUILD)/san_canary: $(BUILD)/obj/tests/canary/division_by_zero.o
	$(CXX) $(CXXFLAGS) $< $(LDSAN) -o $@

GPU_SUITES := $(patsubst tests/%.cpp,$(BUILD)/tests/%,$(wildcard tests/test_cuda*.cpp))
test-gpu: deps
	@$(MAKE) --no-print-directory -j$(NPROC) $(GPU_SUITES)
	@$(TEST_ENV) scripts/run-tests.sh $(GPU_SUITES)

# The CUDA suites on the host emulation (EMU=1, cuda/emulation/README.md), on every `make test`:
# the kernel bodies run on the CPU in debug mode (exact-size blocks poisoned with NaN, a
# synchronisation after each launch, so a fault names its op), once with one device and once with
# two (the cases that need two run there); then the canaries (a kernel writing one element past
# its end, host code reading device memory, ...: the emulation must catch each) and the mutants
# (the same bugs put into the backend: test_cuda must fail each).
test-cuda-emu: deps
	@$(MAKE) --no-print-directory -j$(NPROC) EMU=1 run-cuda-emu

# 256 MiB per device: the out-of-memory case fills a device.
EMU_ENV := TAPEGRAD_CUDA_DEBUG=1 TAPEGRAD_EMU_MEMORY=268435456
run-cuda-emu: info $(GPU_SUITES) $(BUILD)/emulation_canary
	@$(EMU_ENV) scripts/run-tests.sh $(GPU_SUITES)
	@echo "== the same, with two emulated devices"
	@$(EMU_ENV) TAPEGRAD_EMU_DEVICES=2 scripts/run-tests.sh $(BUILD)/tests/test_cuda
	@TAPEGRAD_EMU_DEVICES=2 $(BUILD)/emulation_canary
	@$(MAKE) --no-print-directory mutants

$(BUILD)/emulation_canary: $(BUILD)/obj/tests/canary/emulation_canary.cu.o $(LINKED)
	$(CXX) $(CXXFLAGS) $< $(LINK_LIB) $(LDLIBS) -o $@

# Mutants: test_cuda linked with a cuda_backend.cu changed in one place, each of which the suite
# on the emulation must fail (a suite that passes them would catch nothing of their kind).
MUTANTS := grid-loop-off-by-one host-reads-device-memory
MUTATION_grid-loop-off-by-one := s/i < (n);/i <= (n);/
MUTATION_host-reads-device-memory := s/TG_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "copy from cuda");/std::memcpy(dst, src, bytes);/
mutants: $(MUTANTS:%=$(BUILD)/mutants/test_cuda_%)
	@for m in $(MUTANTS); do \
	    if $(EMU_ENV) $(BUILD)/mutants/test_cuda_$$m --run_test=op_table/add_matches_cpu > $(BUILD)/mutants/$$m.log 2>&1; then \
	        cat $(BUILD)/mutants/$$m.log; echo "mutant $$m: test_cuda passed a backend with this bug"; exit 1; fi; \
	    echo "mutant $$m: killed ($$(grep -m1 -o -E 'emulation: [^)]*|memory access violation' $(BUILD)/mutants/$$m.log))"; \
	done

$(MUTANTS:%=$(BUILD)/obj/mutants/%.cu): $(BUILD)/obj/mutants/%.cu: cuda/cuda_backend.cu
	@mkdir -p $(dir $@)
	@sed '$(MUTATION_$*)' $< > $@
	@! cmp -s $< $@ || { echo "mutant $*: its edit no longer changes cuda/cuda_backend.cu"; exit 1; }

# -iquote cuda: the copy's includes ("check.h", "../core/backend.h") resolve as the original's.
$(MUTANTS:%=$(BUILD)/obj/mutants/%.o): $(BUILD)/obj/mutants/%.o: $(BUILD)/obj/mutants/%.cu $(FLAGS_FILE)
	$(NVCC) $(NVCCFLAGS) -iquote cuda -MMD -MP -c $< -o $@

$(MUTANTS:%=$(BUILD)/mutants/test_cuda_%): $(BUILD)/mutants/test_cuda_%: $(BUILD)/obj/mutants/%.o $(BUILD)/obj/tests/test_cuda.o $(TEST_HELPER_OBJS) $(CUDA_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(BUILD)/obj/tests/test_cuda.o $(TEST_HELPER_OBJS) $< \
	    $(filter-out %/cuda_backend.cu.o,$(CUDA_OBJS)) $(LIB) -lboost_unit_test_framework $(LDLIBS) -o $@

# Kills tapegrad-train with SIGKILL at random moments and checks each resume ends bit-identical
# to an uninterrupted run (scripts/crash-test.sh; about 30 s).
crash-test: deps
	@$(MAKE) --no-print-directory -j$(NPROC) info $(BUILD)/examples/tapegrad-train
	@scripts/crash-test.sh $(BUILD)/examples/tapegrad-train

# Builds only what the first example needs: the CPU library (mlp runs on the CPU, and links no
# CUDA: a CPU-only program, as a user's own would be without tapegrad-cuda).
run: deps
	@$(MAKE) --no-print-directory -j$(NPROC) info $(BUILD)/examples/mlp
	$(BUILD)/examples/mlp

$(BUILD)/examples/mlp: $(BUILD)/obj/examples/mlp.o $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $< $(LIB) $(CPU_LDLIBS) -o $@

build-examples: info $(EXAMPLES)

bench: deps
	@$(MAKE) --no-print-directory -j$(NPROC) build-benches
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

build-benches: info $(BENCHES)

# libFuzzer: each fuzzer starts from the seeds of fuzz/make_corpus (rewritten every run; what the
# fuzzer adds to build-fuzz-nocuda/corpus/ stays) and the crashes found before (fuzz/regressions/),
# and runs FUZZ_SECONDS, until its first crash: make fails after all ran; each crash's input
# lands in build-fuzz-nocuda/findings/<fuzzer>/.
FUZZ_SECONDS ?= 60

fuzz: deps
	@$(MAKE) --no-print-directory -j$(NPROC) FUZZ=1 CUDA=0 CXX=clang++ run-fuzzers

run-fuzzers: info $(FUZZERS) $(BUILD)/fuzz/make_corpus
	$(BUILD)/fuzz/make_corpus $(BUILD)/corpus $(BUILD)/fuzz
	@status=0; for f in $(FUZZERS); do \
	    name=$$(basename $$f); echo "== $$name ($(FUZZ_SECONDS) s)"; \
	    mkdir -p $(BUILD)/findings/$$name; \
	    dict=$$([ -f $$f.dict ] && echo -dict=$$f.dict); \
	    $$f -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$(BUILD)/findings/$$name/ $$dict \
	        $(BUILD)/corpus/$$name $$(ls -d fuzz/regressions/$$name 2>/dev/null) || status=1; \
	done; exit $$status

$(BUILD)/fuzz/%: $(BUILD)/obj/fuzz/%.o $(LINKED)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -fsanitize=fuzzer $< $(LINK_LIB) $(LDLIBS) -o $@

$(BUILD)/fuzz/make_corpus: $(BUILD)/obj/fuzz/make_corpus.o $(LINKED)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $< $(LINK_LIB) $(LDLIBS) -o $@

# ---- install ------------------------------------------------------------------------------------
# Headers under $(INCLUDEDIR)/tapegrad/ (#include <tapegrad/tapegrad.h>), both libraries static and
# shared, tapegrad.pc (and tapegrad-cuda.pc), a CMake package (find_package(tapegrad):
# tapegrad::tapegrad, tapegrad::cuda) and tapegrad-train. DESTDIR stages the tree elsewhere (a
# package build); `make uninstall` with the same PREFIX removes what install wrote.
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
CMAKEDIR   := $(LIBDIR)/cmake/tapegrad
SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
            -e 's|@VERSION@|$(VERSION)|g' -e 's|@SOVERSION@|$(SOVERSION)|g' -e 's|@LIB_DEPS@|$(LIB_DEPS)|g' \
            -e 's|@CUDA_LIBS@|$(CUDA_LIBS)|g' \
            -e 's|@LIBDIR_FROM_CONFIG@|$(shell realpath -m --relative-to=$(CMAKEDIR) $(LIBDIR))|g' \
            -e 's|@INCLUDEDIR_FROM_CONFIG@|$(shell realpath -m --relative-to=$(CMAKEDIR) $(INCLUDEDIR))|g'
INSTALLED_LIBS := $(foreach l,tapegrad tapegrad_cuda,lib$(l).a lib$(l).so.$(VERSION) lib$(l).so.$(SOVERSION) lib$(l).so)

install: info $(LIBRARIES) $(BUILD)/examples/tapegrad-train
	@for h in $(PUBLIC_HEADERS); do install -D -m 644 $$h $(DESTDIR)$(INCLUDEDIR)/tapegrad/$$h || exit 1; done
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(CMAKEDIR) $(DESTDIR)$(BINDIR)
	install -m 644 $(LIB) $(CUDA_LIB) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SHLIB) $(CUDA_SHLIB) $(DESTDIR)$(LIBDIR)/
	cp -P $(LIBDIR_BUILD)/*.so $(LIBDIR_BUILD)/*.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/
	$(SUBST) scripts/install/tapegrad.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/tapegrad.pc
	$(if $(USE_CUDA),$(SUBST) scripts/install/tapegrad-cuda.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/tapegrad-cuda.pc)
	$(SUBST) scripts/install/tapegradConfig.cmake.in > $(DESTDIR)$(CMAKEDIR)/tapegradConfig.cmake
	$(SUBST) scripts/install/tapegradConfigVersion.cmake.in > $(DESTDIR)$(CMAKEDIR)/tapegradConfigVersion.cmake
	install -m 755 $(BUILD)/examples/tapegrad-train $(DESTDIR)$(BINDIR)/
	@echo "installed tapegrad $(VERSION) under $(DESTDIR)$(PREFIX)$(if $(USE_CUDA),, (CPU only: no nvcc, or CUDA=0))"

uninstall:
	rm -rf $(DESTDIR)$(INCLUDEDIR)/tapegrad $(DESTDIR)$(CMAKEDIR)
	rm -f $(addprefix $(DESTDIR)$(LIBDIR)/,$(INSTALLED_LIBS) pkgconfig/tapegrad.pc pkgconfig/tapegrad-cuda.pc)
	rm -f $(DESTDIR)$(BINDIR)/tapegrad-train

# A user's project, as a user builds it (examples/external/): against a staged `make install`,
# with pkg-config and make (C++17; shared and static), and with CMake's find_package (C++20). Each
# is run; the pkg-config ones must need no CUDA library (a CPU-only link), the static one no
# libtapegrad.so; where CUDA is built, the program linked with tapegrad-cuda must find its backend.
STAGE := $(abspath $(BUILD)/stage)
STAGED_PKG_CONFIG := PKG_CONFIG_PATH=$(STAGE)/usr/local/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$(STAGE)
# Runs program $(1), linked with the CUDA library: it must succeed and find the CUDA backend.
run_with_cuda_backend = $(1) > $(1).out; status=$$?; cat $(1).out; [ $$status -eq 0 ] || exit $$status; \
    grep -q "CUDA backend linked: yes" $(1).out || { echo "check-install: $(1) must find the CUDA backend it links"; exit 1; }
check-install: $(LIBRARIES) $(BUILD)/examples/tapegrad-train
	@rm -rf $(STAGE) $(BUILD)/external
	@$(MAKE) --no-print-directory install DESTDIR=$(STAGE) PREFIX=/usr/local > $(BUILD)/install.log
	$(STAGED_PKG_CONFIG) $(MAKE) --no-print-directory -C examples/external OUT=$(abspath $(BUILD)/external/make)
	LD_LIBRARY_PATH=$(STAGE)/usr/local/lib $(BUILD)/external/make/experiment
	$(BUILD)/external/make/experiment-static
	@if LD_LIBRARY_PATH=$(STAGE)/usr/local/lib ldd $(BUILD)/external/make/experiment | grep -E "libcudart|libcublas"; then \
	    echo "check-install: a CPU-only program must not need CUDA's libraries"; exit 1; fi
	@if ldd $(BUILD)/external/make/experiment-static | grep -E "libtapegrad|libcudart|libcublas"; then \
	    echo "check-install: the statically linked program must need neither libtapegrad.so nor CUDA's libraries"; exit 1; fi
ifneq ($(USE_CUDA),)
	$(STAGED_PKG_CONFIG) $(MAKE) --no-print-directory -C examples/external OUT=$(abspath $(BUILD)/external/make) \
	    $(abspath $(BUILD)/external/make)/experiment-cuda
	@export LD_LIBRARY_PATH=$(STAGE)/usr/local/lib; $(call run_with_cuda_backend,$(BUILD)/external/make/experiment-cuda)
endif
	cmake -S examples/external -B $(BUILD)/external/cmake -DCMAKE_PREFIX_PATH=$(STAGE)/usr/local \
	    -DCMAKE_CXX_STANDARD=20 -DCMAKE_CXX_COMPILER="$(firstword $(filter-out ccache,$(CXX)))" > $(BUILD)/external/cmake.log
	+cmake --build $(BUILD)/external/cmake > $(BUILD)/external/cmake-build.log
	$(BUILD)/external/cmake/experiment
ifneq ($(USE_CUDA),)
	@$(call run_with_cuda_backend,$(BUILD)/external/cmake/experiment-cuda)
endif
	@$(MAKE) --no-print-directory uninstall DESTDIR=$(STAGE) PREFIX=/usr/local > /dev/null
	@left=$$(find $(STAGE) -type f -o -type l); if [ -n "$$left" ]; then \
	    echo "check-install: uninstall left files behind:"; echo "$$left"; exit 1; fi
	@sed -n '/^#include <cstdio>/,$$p' examples/external/experiment.cpp > $(BUILD)/external/program.cpp
	@sed -n '/^## Your own experiment/,/^## /p' README.md | sed -n '/^```cpp/,/^```/p' | sed '1d;$$d' \
	    | diff - $(BUILD)/external/program.cpp > /dev/null || \
	    { echo "check-install: README's \"Your own experiment\" must show examples/external/experiment.cpp"; exit 1; }
	@echo "check-install: installed, built with pkg-config and with CMake, ran, uninstalled; README shows the program"

# ---- docs: the API reference (Doxygen) and the op catalogue ------------------------------------
# docs/OPS.md is written from the op table by docs/make_op_catalogue (tests/op_catalogue.cpp;
# tests/test_ops fails when the committed file is stale); Doxygen then writes the HTML reference of
# the public API, the catalogue a page of it, into build-docs/html/ (docs/Doxyfile: an
# undocumented public symbol is a warning, and a warning fails).
.PHONY: docs
$(BUILD)/docs/make_op_catalogue: $(BUILD)/obj/docs/make_op_catalogue.o $(TEST_HELPER_OBJS) $(LINKED)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $< $(TEST_HELPER_OBJS) $(LINK_LIB) -lboost_unit_test_framework $(LDLIBS) -o $@

docs: deps
	@$(MAKE) --no-print-directory -j$(NPROC) info $(BUILD)/docs/make_op_catalogue
	$(BUILD)/docs/make_op_catalogue docs/OPS.md
	@mkdir -p build-docs
	doxygen docs/Doxyfile || { cat build-docs/warnings.log; exit 1; }
	@echo "docs: build-docs/html/index.html, the op catalogue docs/OPS.md (no Doxygen warnings)"

clean:
	rm -rf build build-* 

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
