// bench/torch_workloads.h: the LibTorch side of the comparison, behind an
// interface free of torch types (torch_workloads.cc is the only file that
// includes LibTorch's headers).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace graft::bench::torch_side {

// LibTorch's intra-op (OpenMP) threads and OpenBLAS's threads.
void set_threads(int intra_op, int blas);

// Each returns one iteration of the workload, with its state captured.
std::function<void()> eager_add();
std::function<void()> eager_add_tape();
std::function<void()> sgemm(int64_t n);
// MLP with relu, softmax cross-entropy, forward + backward + plain SGD.
std::function<void()> mlp_step(const std::vector<int64_t>& widths, int64_t batch, float lr = 0.01f);

}  // namespace graft::bench::torch_side
