// bench/cnn_workloads_torch.h: LibTorch's side of bench/cnn_workloads.h,
// behind an interface free of torch and graft types (the .cc is compiled
// with LibTorch's headers as C++17, like torch_workloads.cc).
#pragma once

#include <cstdint>
#include <functional>

namespace graft::bench::torch_side {

// The same CNN as torch::nn modules (Conv2d without bias, BatchNorm2d, ReLU,
// MaxPool2d; Linear 3136 -> 128 -> 10) in training mode, torch::optim::Adam
// 1e-3; each call runs one step on the next of `batches` batches of `batch`
// rows of `images` (float32, 784 per row) and `labels` (int64).
std::function<void()> cnn_fmnist_train(const float* images, const int64_t* labels, int64_t batch, int64_t batches);

}  // namespace graft::bench::torch_side
