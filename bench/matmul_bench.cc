// Matrix products: graft's matmul against cblas_sgemm called directly on the
// same sizes. Run: build-perf/bin/graft_matmul_bench
#include <benchmark/benchmark.h>
#include <cblas.h>

#include "bench/graft_workloads.h"
#include "graft/tensor/parallel.h"

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

}  // namespace
}  // namespace graft::bench

BENCHMARK_MAIN();
