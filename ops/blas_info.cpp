#include "ops/blas_info.h"

#include <cblas.h>
#include <omp.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <vector>

#include <fmt/format.h>

extern "C" char* openblas_get_corename(void);

namespace tapegrad {

namespace {
std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown CPU";
}

// The best OpenBLAS 0.3.21 kernel set for the instruction sets this CPU has.
std::string best_core_for_cpu() {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return "";  // nothing better than what OpenBLAS detects
}

std::string threading_name(int parallel) {
    switch (parallel) {
        case 0: return "sequential";
        case 1: return "pthreads";
        case 2: return "openmp";
    }
    return "unknown";
}
}  // namespace

BlasInfo blas_info() {
    BlasInfo info;
    info.core = openblas_get_corename();
    info.best_core = best_core_for_cpu();
    if (info.best_core.empty()) info.best_core = info.core;
    info.threading = threading_name(openblas_get_parallel());
    info.blas_threads = openblas_get_num_threads();
    info.omp_threads = omp_get_max_threads();
    info.cpu = cpu_model();
    return info;
}

std::string blas_summary() {
    BlasInfo i = blas_info();
    return fmt::format("BLAS: OpenBLAS core {} (best for this CPU: {}), {}, {} threads; OpenMP {} threads; CPU: {}",
                       i.core, i.best_core, i.threading, i.blas_threads, i.omp_threads, i.cpu);
}

void use_fast_blas_kernels(int argc, char** argv) {
    (void)argc;
    if (std::getenv("TAPEGRAD_BLAS_REEXEC")) return;  // already restarted once: never loop
    const char* pinned = std::getenv("TAPEGRAD_BLAS_CORE");
    BlasInfo info = blas_info();
    std::string wanted = pinned ? pinned : info.best_core;
    if (info.core == wanted) return;
    // OPENBLAS_CORETYPE may already be set (some machines preset a conservative kernel set);
    // tapegrad replaces it with the best one unless the user pinned TAPEGRAD_BLAS_CORE.
    setenv("OPENBLAS_CORETYPE", wanted.c_str(), 1);
    setenv("TAPEGRAD_BLAS_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    // exec failed: carry on with the kernels already loaded.
}

}  // namespace tapegrad
