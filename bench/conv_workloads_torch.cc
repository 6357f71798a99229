// LibTorch's side of the convolution workloads (conv_workloads_torch.h).
#include <torch/torch.h>

#include <memory>

#include "bench/conv_workloads_torch.h"

namespace graft::bench::torch_side {
namespace {

struct ConvLayer {
  torch::nn::Conv2d conv{nullptr};
  torch::Tensor x;
};

}  // namespace

std::function<void()> conv_layer_grad(int64_t batch, int64_t in, int64_t out, int64_t size, int64_t kernel) {
  torch::manual_seed(1);
  auto m = std::make_shared<ConvLayer>();
  m->conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2));
  m->x = (torch::rand({batch, in, size, size}) * 2 - 1).requires_grad_();
  return [m] {
    torch::Tensor loss = m->conv->forward(m->x).mean();
    auto grads = torch::autograd::grad({loss}, {m->x, m->conv->weight, m->conv->bias});
    (void)grads;
  };
}

}  // namespace graft::bench::torch_side
