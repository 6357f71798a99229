// Products split across graft's pool against a plain-loop reference, every
// transpose, blocks of rows and of columns, and the thread split itself:
// OpenBLAS stays single-threaded whatever graft's thread count.
#include "graft/tensor/blas.h"

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graft/tensor/parallel.h"

namespace graft {
namespace {

// C = op(A) op(B) by definition, in double.
std::vector<double> reference(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const std::vector<float>& a,
                              const std::vector<float>& b) {
  std::vector<double> c(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) {
        const double x = ta ? a[static_cast<size_t>(p * m + i)] : a[static_cast<size_t>(i * k + p)];
        const double y = tb ? b[static_cast<size_t>(j * k + p)] : b[static_cast<size_t>(p * n + j)];
        s += x * y;
      }
      c[static_cast<size_t>(i * n + j)] = s;
    }
  }
  return c;
}

class ThreadCount {
 public:
  explicit ThreadCount(int n) : saved_(num_threads()) { set_num_threads(n); }
  ~ThreadCount() { set_num_threads(saved_); }

 private:
  int saved_;
};

TEST(BlasTest, SplitProductsMatchAPlainLoop) {
  ThreadCount threads(2);
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  // Tall (split by rows), wide (split by columns), odd sizes, and one too
  // small to split.
  struct Dims {
    int64_t m, n, k;
  };
  for (Dims d : {Dims{301, 67, 129}, Dims{33, 517, 97}, Dims{256, 256, 200}, Dims{7, 5, 3}}) {
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        std::vector<float> a(static_cast<size_t>(d.m * d.k)), b(static_cast<size_t>(d.k * d.n));
        for (float& x : a) x = dist(gen);
        for (float& x : b) x = dist(gen);
        // beta = 1 onto a non-zero C checks that each block adds onto its own part.
        std::vector<float> c(static_cast<size_t>(d.m * d.n), 0.5f);
        blas::gemm(ta, tb, d.m, d.n, d.k, 1.0f, a.data(), ta ? d.m : d.k, b.data(), tb ? d.k : d.n, 1.0f, c.data(),
                   d.n);
        std::vector<double> want = reference(ta, tb, d.m, d.n, d.k, a, b);
        const std::string what = std::to_string(d.m) + "x" + std::to_string(d.n) + "x" + std::to_string(d.k) +
                                 (ta ? " ta" : "") + (tb ? " tb" : "");
        for (size_t i = 0; i < c.size(); ++i) {
          ASSERT_NEAR(c[i], want[i] + 0.5, 1e-4 * (1 + std::abs(want[i]))) << what << " element " << i;
        }
      }
    }
  }
}

TEST(BlasTest, OpenBlasStaysSingleThreadedUnderGraftsPool) {
  for (int n : {1, 2, 3}) {
    ThreadCount threads(n);
    EXPECT_EQ(num_threads(), n);
    EXPECT_EQ(blas::num_threads(), 1) << "OpenBLAS's threads would compete with graft's " << n;
  }
}

// Read before any test starts graft's pool (select_kernels sets the variable).
const bool kUserChoseKernels = std::getenv("OPENBLAS_CORETYPE") != nullptr;

// The check this machine's CPU once failed: OpenBLAS 0.3.21 does not know it,
// falls back to its generic Prescott kernels and runs sgemm 5-8x slower.
TEST(BlasTest, KernelsMatchTheCpuOnceGraftStarts) {
  (void)num_threads();  // starts graft's pool, which selects the kernels
  const std::string name = blas::kernel_name();
  EXPECT_EQ(name, blas::select_kernels()) << "select_kernels returns the kernels in use";
  __builtin_cpu_init();
  const bool modern = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (!modern || kUserChoseKernels) GTEST_SKIP() << "no AVX2, or the user chose the kernels";
  EXPECT_NE(name, "Prescott") << "an AVX2 CPU must not run OpenBLAS's generic fallback kernels";
}

}  // namespace
}  // namespace graft
