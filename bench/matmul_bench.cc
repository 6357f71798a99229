// Matrix products: graft's matmul against cblas_sgemm called directly on the
// same sizes. Run: build-perf/bin/graft_matmul_bench
#include <benchmark/benchmark.h>
#include <cblas.h>

#include "bench/blas_floor.h"
#include "bench/graft_workloads.h"
#include "graft/tensor/blas.h"
#include "graft/tensor/parallel.h"

extern "C" void openblas_set_num_threads(int);

namespace graft::bench {
namespace {

void BM_GraftSgemm(benchmark::State& state) {
  int64_t n = state.range(0);
  set_num_threads(static_cast<int>(state.range(1)));
  Tensor a = uniform({n, n}, 1.0f, 1), b = uniform({n, n}, 1.0f, 2);
  for (auto _ : state) benchmark::DoNotOptimize(matmul(a, b));
  state.SetItemsProcessed(state.iterations() * 2 * n * n * n);
}
BENCHMARK(BM_GraftSgemm)->Args({64, 1})->Args({256, 1})->Args({1024, 1})->Args({1024, 2})->UseRealTime();

void BM_OpenBlasSgemm(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  set_num_threads(static_cast<int>(state.range(1)));
  Tensor a = uniform({n, n}, 1.0f, 1), b = uniform({n, n}, 1.0f, 2), c = Tensor::empty({n, n});
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data<float>(), n, b.data<float>(), n,
                0.0f, c.data<float>(), n);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * 2 * n * n * n);
}
BENCHMARK(BM_OpenBlasSgemm)->Args({64, 1})->Args({256, 1})->Args({1024, 1})->Args({1024, 2})->UseRealTime();

// The products of one mlp784_b256 training step (bench/blas_floor.h), split
// over graft's pool by graft::blas::gemm, against OpenBLAS threading the same
// products itself: how well graft's split uses a second core on real shapes.
void BM_GraftStepProducts(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(0)));
  std::vector<MatmulShape> shapes = mlp_step_matmuls({784, 256, 256, 10}, 256);
  std::vector<std::vector<float>> a, b, c;
  for (const MatmulShape& s : shapes) {
    a.emplace_back(static_cast<size_t>(s.m * s.k), 0.01f);
    b.emplace_back(static_cast<size_t>(s.k * s.n), 0.02f);
    c.emplace_back(static_cast<size_t>(s.m * s.n), 0.0f);
  }
  for (auto _ : state) {
    for (size_t i = 0; i < shapes.size(); ++i) {
      const MatmulShape& s = shapes[i];
      blas::gemm(s.transpose_a, s.transpose_b, s.m, s.n, s.k, 1.0f, a[i].data(), s.transpose_a ? s.m : s.k,
                 b[i].data(), s.transpose_b ? s.k : s.n, 0.0f, c[i].data(), s.n);
    }
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_GraftStepProducts)->Arg(1)->Arg(2)->UseRealTime();

void BM_OpenBlasStepProducts(benchmark::State& state) {
  set_num_threads(1);
  openblas_set_num_threads(static_cast<int>(state.range(0)));
  SgemmSequence products(mlp_step_matmuls({784, 256, 256, 10}, 256));
  for (auto _ : state) {
    products.run();
    benchmark::ClobberMemory();
  }
  openblas_set_num_threads(1);
}
BENCHMARK(BM_OpenBlasStepProducts)->Arg(1)->Arg(2)->UseRealTime();

}  // namespace
}  // namespace graft::bench

BENCHMARK_MAIN();
