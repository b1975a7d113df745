// Before anything else runs: does this CPU have the instruction set the build was compiled for?
// Without this check a CPU without AVX2 would die of an illegal instruction somewhere in the first
// loop; with it, the program says what to do. This file alone is compiled for baseline x86-64
// (Makefile), so the check itself runs on any x86-64 CPU, and its constructor runs before every
// static initializer of the program (priority 101).
#include <cstdio>
#include <cstdlib>

#include "cpu_isa_check.h"

#ifndef TAPEGRAD_ARCH
#define TAPEGRAD_ARCH "x86-64"  // SAN=1, DEBUG=1 and FUZZ=1 builds: no -march
#endif

namespace tapegrad {

namespace {

// Whether the CPU runs code built with -march=TAPEGRAD_ARCH (native: it was built here). Each
// level is asked by the features that set it apart from the one below (AVX2, FMA and BMI2 for
// x86-64-v3), names that every compiler's __builtin_cpu_supports knows.
bool cpu_runs_build() {
    __builtin_cpu_init();
    const char* arch = TAPEGRAD_ARCH;
    const bool v2 = __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("ssse3");
    const bool v3 = v2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
    const bool v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
                    __builtin_cpu_supports("avx512vl");
    if (__builtin_strcmp(arch, "x86-64-v4") == 0) return v4;
    if (__builtin_strcmp(arch, "x86-64-v3") == 0) return v3;
    if (__builtin_strcmp(arch, "x86-64-v2") == 0) return v2;
    return true;
}

__attribute__((constructor(101))) void check_before_static_initializers() { check_instruction_set(); }

}  // namespace

const char* build_isa() { return TAPEGRAD_ARCH; }

void check_instruction_set() {
    if (cpu_runs_build()) return;
    std::fprintf(stderr,
                 "tapegrad was built for %s, which this CPU does not support (x86-64-v3 needs AVX2 and FMA).\n"
                 "Rebuild for it: make clean && make ARCH=x86-64-v2\n",
                 TAPEGRAD_ARCH);
    std::exit(1);
}

}  // namespace tapegrad
