// graft/tensor/parallel.h: a small persistent thread pool for elementwise and
// reduction kernels.
//
//   parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
//     for (int64_t i = begin; i < end; ++i) y[i] = x[i] * 2;
//   });
//
// Ranges shorter than two grains run inline on the calling thread, so small
// tensors pay nothing. Workers sleep on a condition variable (no spinning that
// would fight OpenBLAS's threads on a small machine). The pool has
// num_threads() - 1 workers; the caller takes a share too.
#pragma once

#include <cstdint>
#include <functional>

namespace graft {

// Elements per task below which splitting does not pay.
inline constexpr int64_t kParallelGrain = 32768;

void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& body);

// Threads used by graft's kernels and by OpenBLAS. Defaults to the number of
// cores; GRAFT_NUM_THREADS overrides it.
void set_num_threads(int n);
int num_threads();

}  // namespace graft
