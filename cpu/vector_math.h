// Lets the compiler vectorise loops that call exp, log and tanh.
//
// glibc ships SIMD versions of these functions (libmvec: _ZGVeN16v_expf processes 16 floats at
// once with AVX-512) but its headers only announce them under -ffast-math, which would also let
// the compiler assume no NaN or Inf exists -- wrong for a framework that must report NaNs. These
// declarations announce the SIMD versions without fast-math; the compiler picks the variant for
// the target ISA (SSE, AVX2, AVX-512), all of which glibc >= 2.35 provides (accuracy <= 4 ulp).
// Include only in CPU kernel files.
#pragma once
#include <cmath>

extern "C" {
#pragma omp declare simd notinbranch
float expf(float) noexcept;
#pragma omp declare simd notinbranch
double exp(double) noexcept;
#pragma omp declare simd notinbranch
float logf(float) noexcept;
#pragma omp declare simd notinbranch
double log(double) noexcept;
#pragma omp declare simd notinbranch
float tanhf(float) noexcept;
#pragma omp declare simd notinbranch
double tanh(double) noexcept;
}
