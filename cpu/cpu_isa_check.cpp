// Before anything else runs: does this CPU have the instruction set the build was compiled for?
// Without this check a CPU without AVX2 would die of an illegal instruction somewhere in the first
// loop; with it, the program says what to do. This file alone is compiled for baseline x86-64
// (Makefile), so the check itself runs on any x86-64 CPU, and its constructor runs before every
// static initializer of the program (priority 101).
#include <cstdio>
#include <cstdlib>

#ifndef TAPEGRAD_ARCH
#define TAPEGRAD_ARCH "x86-64-v3"
#endif

namespace {

// Whether the CPU runs code built with -march=TAPEGRAD_ARCH (native: it was built here).
bool cpu_runs_build() {
    __builtin_cpu_init();
    const char* arch = TAPEGRAD_ARCH;
    if (__builtin_strcmp(arch, "x86-64-v4") == 0) return __builtin_cpu_supports("x86-64-v4");
    if (__builtin_strcmp(arch, "x86-64-v3") == 0) return __builtin_cpu_supports("x86-64-v3");
    if (__builtin_strcmp(arch, "x86-64-v2") == 0) return __builtin_cpu_supports("x86-64-v2");
    return true;
}

__attribute__((constructor(101))) void check_instruction_set() {
    if (cpu_runs_build()) return;
    std::fprintf(stderr,
                 "tapegrad was built for %s, which this CPU does not support (x86-64-v3 needs AVX2 and FMA).\n"
                 "Rebuild for it: make clean && make ARCH=x86-64-v2\n",
                 TAPEGRAD_ARCH);
    std::exit(1);
}

}  // namespace
