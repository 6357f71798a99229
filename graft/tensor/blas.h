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

// Products large enough to pay are split across graft's pool
// (graft/tensor/parallel.h); every element is still one OpenBLAS dot product
// over the full inner dimension. OpenBLAS's own thread count, kept at 1 by
// graft's pool:
void set_num_threads(int n);
int num_threads();

}  // namespace graft::blas
