// bench/conv_workloads_torch.h: LibTorch's side of bench/conv_workloads.h,
// behind an interface free of torch and graft types (the .cc is compiled
// with LibTorch's headers as C++17, like torch_workloads.cc).
#pragma once

#include <cstdint>
#include <functional>

namespace graft::bench::torch_side {

// One torch::nn::Conv2d (padding kernel / 2, bias) on [batch, in, size, size]:
// forward, mean, torch::autograd::grad of the input, weight and bias.
std::function<void()> conv_layer_grad(int64_t batch, int64_t in, int64_t out, int64_t size, int64_t kernel);

}  // namespace graft::bench::torch_side
