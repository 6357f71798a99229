// graft/tensor/parallel.h: a small persistent thread pool for elementwise and
// reduction kernels.
//
//   parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
//     for (int64_t i = begin; i < end; ++i) y[i] = x[i] * 2;
//   });
//
// Ranges shorter than two grains run inline on the calling thread, so small
// tensors pay nothing. Between regions a worker spins briefly (a fraction of
// a millisecond) and then sleeps on a condition variable, so the many short
// regions of a training step do not each pay a kernel wake-up, and an idle
// pool uses no CPU. The pool has num_threads() - 1 workers; the caller takes
// a share too.
#pragma once

#include <cstdint>
#include <type_traits>

namespace graft {

// Elements per task below which splitting does not pay.
inline constexpr int64_t kParallelGrain = 32768;

namespace tensor::internal {
// A non-owning callable reference: no heap allocation, unlike std::function.
struct RangeFn {
  const void* object;
  void (*call)(const void* object, int64_t begin, int64_t end);
};
void run_parallel(int64_t begin, int64_t end, int64_t grain, RangeFn body);
}  // namespace tensor::internal

// Calls body(b, e) on disjoint subranges covering [begin, end). A range below
// two grains runs inline, without touching the pool. An exception thrown by
// body on any thread reaches the caller: parallel_for returns only after
// every started subrange has finished, then rethrows the first exception on
// the calling thread (subranges not started by then are skipped).
template <typename Body>
void parallel_for(int64_t begin, int64_t end, int64_t grain, Body&& body) {
  if (end - begin < 2 * (grain < 1 ? 1 : grain)) {
    if (end > begin) body(begin, end);
    return;
  }
  using Fn = std::remove_reference_t<Body>;
  tensor::internal::run_parallel(
      begin, end, grain,
      {&body, [](const void* object, int64_t b, int64_t e) { (*static_cast<Fn*>(const_cast<void*>(object)))(b, e); }});
}

// Threads used by graft's kernels, matrix products included: OpenBLAS runs
// single-threaded and graft splits large products across its own pool, so
// no second pool competes for the cores. Defaults to available_cores();
// GRAFT_NUM_THREADS overrides it.
void set_num_threads(int n);
int num_threads();

// Whether the calling thread is running a task of a parallel region, where
// its own parallel_for calls run inline: a kernel run as one of several side
// by side (the compiled executor's concurrent products) then keeps to its
// thread instead of splitting itself.
bool inside_parallel_region();

// The cores this thread may run on: its CPU affinity mask where the system
// has one (mpirun binds each rank to a core by default, taskset and cgroups
// narrow it too), else every core of the machine. At least 1.
int available_cores();

}  // namespace graft
