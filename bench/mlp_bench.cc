// One MLP training step (forward, backward, plain SGD) at the sizes of the
// LibTorch comparison. Run: build-perf/bin/graft_mlp_bench
#include <benchmark/benchmark.h>

#include "bench/graft_workloads.h"
#include "graft/tensor/parallel.h"

namespace graft::bench {
namespace {

void BM_Mlp784(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(1)));
  GraftMlp mlp({784, 256, 256, 10}, state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(mlp.step());
}
BENCHMARK(BM_Mlp784)->Args({256, 1})->Args({256, 2})->Args({32, 1})->Args({32, 2})->UseRealTime();

void BM_Mlp16(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(0)));
  GraftMlp mlp({16, 32, 32, 4}, 8);
  for (auto _ : state) benchmark::DoNotOptimize(mlp.step());
}
BENCHMARK(BM_Mlp16)->Arg(1)->Arg(2)->UseRealTime();

}  // namespace
}  // namespace graft::bench

BENCHMARK_MAIN();
