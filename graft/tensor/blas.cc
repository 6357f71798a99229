#include "graft/tensor/blas.h"

#include <cblas.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "graft/tensor/parallel.h"

namespace graft::blas {
namespace {

// Multiply-adds per task below which splitting a product does not pay for
// waking a worker (about 0.1 ms of one core's sgemm).
constexpr int64_t kGemmGrain = int64_t{1} << 20;
// Blocks start on a multiple of this many rows or columns, so no task gets a
// sliver narrower than OpenBLAS's register kernels.
constexpr int64_t kBlockAlign = 16;

void call(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
          int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<blasint>(m),
              static_cast<blasint>(n), static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
              static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}
void call(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<blasint>(m),
              static_cast<blasint>(n), static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
              static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

// OpenBLAS runs single-threaded (set_num_threads below); a large product is
// split into blocks of C's rows (or columns, when C is wide) run on graft's
// pool, so graft's workers and OpenBLAS's never compete for the cores. Each
// block is an ordinary sgemm over the full k, so every element of C sums its
// products exactly as the unsplit call does.
template <typename T>
void split_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
                int64_t ldb, T beta, T* c, int64_t ldc) {
  const int64_t work = m * n * std::max<int64_t>(k, 1);
  const bool rows = m >= n;
  const int64_t extent = rows ? m : n;
  const int64_t tasks = std::min<int64_t>({graft::num_threads(), work / kGemmGrain, extent / kBlockAlign});
  // Inside a parallel region the blocks would run one after the other, each
  // packing the shared operand again: one call does the same sums.
  if (tasks < 2 || graft::inside_parallel_region()) {
    call(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  int64_t block = (extent + tasks - 1) / tasks;
  block = (block + kBlockAlign - 1) / kBlockAlign * kBlockAlign;
  parallel_for(0, tasks, 1, [&](int64_t first, int64_t last) {
    for (int64_t t = first; t < last; ++t) {
      const int64_t begin = t * block, end = std::min(extent, begin + block);
      if (begin >= end) continue;
      if (rows) {
        // Rows [begin, end) of op(A) and of C.
        const T* a_block = ta ? a + begin : a + begin * lda;
        call(ta, tb, end - begin, n, k, alpha, a_block, lda, b, ldb, beta, c + begin * ldc, ldc);
      } else {
        // Columns [begin, end) of op(B) and of C.
        const T* b_block = tb ? b + begin * ldb : b + begin;
        call(ta, tb, m, end - begin, k, alpha, a, lda, b_block, ldb, beta, c + begin, ldc);
      }
    }
  });
}

}  // namespace

bool pair_pays(int64_t work_a, int64_t work_b) {
  // Below this a product takes a few microseconds, about what running two
  // side by side costs in hand-off.
  constexpr int64_t kPairWork = int64_t{1} << 18;
  return work_a >= kPairWork && work_b >= kPairWork && std::max(work_a, work_b) <= 4 * std::min(work_a, work_b);
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  split_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
          int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  split_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// The family to ask OpenBLAS for on this CPU, or nullptr to keep its choice.
const char* best_family() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return nullptr;
}

const char* select_kernels() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;  // the user's choice stands
    if (std::strcmp(kernel_name(), "Prescott") != 0) return;  // OpenBLAS knows this CPU
    const char* family = best_family();
    // Both entry points exist only in DYNAMIC_ARCH builds: look them up rather
    // than link them, so a single-target OpenBLAS still loads.
    auto quit = reinterpret_cast<void (*)()>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit"));
    auto init = reinterpret_cast<void (*)()>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init"));
    if (family == nullptr || quit == nullptr || init == nullptr) return;
    // OpenBLAS's selection reads the variable; it is set for this process only
    // (and its children, which then select the same kernels at load).
    setenv("OPENBLAS_CORETYPE", family, /*overwrite=*/0);
    quit();
    init();
  });
  return kernel_name();
}

const char* kernel_name() { return openblas_get_corename(); }

void set_num_threads(int n) { openblas_set_num_threads(n); }
int num_threads() { return openblas_get_num_threads(); }

}  // namespace graft::blas
