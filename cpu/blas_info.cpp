#include "blas_info.h"
#include "cpu_isa_check.h"

#include <cblas.h>
#include <libxsmm.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "cpu_gemm.h"
#include "cpu_threads.h"

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

// ARCH=x86-64-v3 (AVX2) also caps the libraries' kernels at AVX2 (TAPEGRAD_CAP_AVX2).
#ifdef TAPEGRAD_CAP_AVX2
constexpr bool kCapAtAvx2 = true;
#else
constexpr bool kCapAtAvx2 = false;
#endif

bool cpu_has_avx512() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}
bool kernels_may_use_avx512() { return cpu_has_avx512() && !kCapAtAvx2; }

// The best OpenBLAS 0.3.21 kernel set for the instruction sets this CPU (and build) allows.
std::string best_core_for_cpu() {
    if (kernels_may_use_avx512()) return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return "";  // nothing better than what OpenBLAS detects
}

// libxsmm picks its JIT target when it initialises (a target set before that is reset): an
// AVX2-capped build initialises it, then sets "hsw".
[[maybe_unused]] const bool libxsmm_capped = [] {
    if (kCapAtAvx2 && cpu_has_avx512()) {
        libxsmm_init();
        libxsmm_set_target_arch("hsw");
    }
    return true;
}();

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
    info.isa = build_isa();
    info.cpu = cpu_model();
    return info;
}

std::string blas_summary() {
    BlasInfo i = blas_info();
    return fmt::format("CPU: {}; build ISA {}; BLAS: OpenBLAS core {} (best for this CPU: {}), {}; {}; {}", i.cpu,
                       i.isa, i.core, i.best_core, i.threading, gemm_path_summary(), thread_summary());
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
