// Eager dispatch overhead: one op on one-element tensors, with and without a
// gradient tape. Run: build-perf/bin/graft_eager_bench
#include <benchmark/benchmark.h>

#include "bench/graft_workloads.h"
#include "graft/tensor/parallel.h"

namespace graft::bench {
namespace {

void BM_EagerAdd1(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(0)));
  GraftEagerAdd w;
  for (auto _ : state) benchmark::DoNotOptimize(w.add_only());
}
BENCHMARK(BM_EagerAdd1)->Arg(1)->Arg(2);

void BM_EagerAdd1Tape(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(0)));
  GraftEagerAdd w;
  for (auto _ : state) benchmark::DoNotOptimize(w.add_with_tape());
}
BENCHMARK(BM_EagerAdd1Tape)->Arg(1)->Arg(2);

void BM_EagerAdd1Chain(benchmark::State& state) {
  // Ten dependent adds under one tape, then the gradient: amortises the
  // tape's construction over several ops.
  GraftEagerAdd w;
  for (auto _ : state) {
    GradientTape tape;
    tape.watch(w.a);
    Tensor y = w.a;
    for (int i = 0; i < 10; ++i) y = add(y, w.b);
    benchmark::DoNotOptimize(tape.gradient(y, {w.a}));
  }
}
BENCHMARK(BM_EagerAdd1Chain);

void BM_EmptyTensor(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Tensor::empty({1}));
}
BENCHMARK(BM_EmptyTensor);

void BM_AddLarge(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(1)));
  int64_t n = state.range(0);
  Tensor a = uniform({n}, 1.0f, 1), b = uniform({n}, 1.0f, 2);
  for (auto _ : state) benchmark::DoNotOptimize(add(a, b));
  state.SetBytesProcessed(state.iterations() * n * 12);
}
BENCHMARK(BM_AddLarge)->Args({1 << 12, 1})->Args({1 << 16, 1})->Args({1 << 16, 2})->Args({1 << 20, 1})->Args({1 << 20, 2});

}  // namespace
}  // namespace graft::bench

BENCHMARK_MAIN();
