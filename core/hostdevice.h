/// \file
/// TG_HD marks functions that run on both the CPU and the GPU. The per-element math of every
/// kernel and the index arithmetic of strided/broadcast access are written once as TG_HD
/// functions: the CPU kernels call them, the CUDA kernels call them, and the CPU tests exercise
/// them, so CI checks the math that runs on the GPU even on a machine without one.
#pragma once
#ifdef __CUDACC__
#define TG_HD __host__ __device__ __forceinline__
#else
#define TG_HD inline
#endif
