// graft/tensor/blas.h: the bridge to OpenBLAS. Every matrix product in graft
// goes through gemm(); nothing else includes cblas.h.
//
//   // C[m,n] = alpha * op(A) * op(B) + beta * C, row-major
//   blas::gemm(false, true, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
#pragma once

#include <cstdint>

namespace graft::blas {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
          int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

// Whether two independent products of `work_a` and `work_b` multiply-adds
// finish sooner side by side, each on one thread, than one after the other,
// each split over the pool (which packs the operand the blocks share once per
// block), given 2+ threads: true when both are large enough to pay for the
// hand-off and within a factor of 4 of each other.
bool pair_pays(int64_t work_a, int64_t work_b);

// Products large enough to pay are split across graft's pool
// (graft/tensor/parallel.h); every element is still one OpenBLAS dot product
// over the full inner dimension. OpenBLAS's own thread count, kept at 1 by
// graft's pool:
void set_num_threads(int n);
int num_threads();

// OpenBLAS picks its kernels for the CPU when it loads. A build that predates
// the CPU (Debian 12's 0.3.21 on Sapphire or Emerald Rapids, say) falls back to
// its generic "Prescott" kernels, which run sgemm 5-8x below what the CPU's
// AVX2 or AVX-512 units do. select_kernels() re-runs OpenBLAS's own kernel
// selection with the best family this CPU supports (SkylakeX for AVX-512,
// Haswell for AVX2 + FMA), but only when OpenBLAS fell back to Prescott, the
// user set no OPENBLAS_CORETYPE, and the library is a DYNAMIC_ARCH build.
// graft calls it once, before its first product (when its thread pool starts);
// a program that calls OpenBLAS itself before touching graft may call it first.
// Idempotent and thread-safe; returns kernel_name() afterwards.
const char* select_kernels();
// The kernel family OpenBLAS runs now ("SkylakeX", "Haswell", "Prescott", ...).
const char* kernel_name();

}  // namespace graft::blas
