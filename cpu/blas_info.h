/// \file
/// Which BLAS kernels and threads tapegrad runs on, and choosing the fast kernels.
///
/// Debian's OpenBLAS 0.3.21 picks its kernels at load time from the CPU id, and misdetects
/// newer CPUs (some Xeons as "Prescott", Zen 5 as "Haswell"), falling back to SSE3 or AVX2
/// kernels on machines with AVX-512. The variable OPENBLAS_CORETYPE overrides the choice, but it is
/// read only when the library loads, so it must be set before the process starts.
#pragma once
#include <string>

namespace tapegrad {

/// The BLAS kernels in use and the build's instruction set, as blas_summary() prints them.
struct BlasInfo {
    std::string core;        ///< kernel set in use, e.g. "SkylakeX"
    std::string best_core;   ///< the fastest kernel set this CPU supports
    std::string threading;   ///< "pthreads", set to one thread: the CPU backend's own threads call it
    std::string isa;         ///< the instruction sets this build's own code was compiled for (ARCH)
    std::string cpu;         ///< CPU model name
};

/// What OpenBLAS runs on this CPU, and what this build was compiled for.
BlasInfo blas_info();
/// "CPU: AMD EPYC 9R14; build ISA x86-64-v3; BLAS: OpenBLAS core SkylakeX (best for this CPU:
/// SkylakeX), pthreads; matrix products: libxsmm ...; threads: 2 (CPU affinity: 2 cores)"
std::string blas_summary();

/// For programs (examples, benchmarks): if OpenBLAS runs slower kernels than this CPU supports,
/// restart the program once (exec of /proc/self/exe, same arguments) with OPENBLAS_CORETYPE set to
/// the best kernel set, replacing any preset value. To pin a kernel set, set TAPEGRAD_BLAS_CORE
/// (e.g. TAPEGRAD_BLAS_CORE=Haswell). Results are unchanged to float32 rounding: bench/ checks
/// sgemm on the chosen kernels against a float64 reference.
/// A build for an older instruction set than the CPU has (make ARCH=x86-64-v3 on an AVX-512 CPU)
/// caps the libraries' kernels at that set too, so that it measures what an AVX2 CPU would run.
void use_fast_blas_kernels(int argc, char** argv);

}  // namespace tapegrad
