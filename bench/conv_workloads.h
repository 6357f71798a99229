// bench/conv_workloads.h: the convolution workloads of the LibTorch
// comparison (bench/torch_compare.cc): graft's side here, LibTorch's in
// conv_workloads_torch.h, so both run the same layer on the same shapes.
//
//   bench::ConvLayerGrad g(64, 32, 64, 14, 3);  // conv_b64
//   g.step();  // forward, mean loss, gradients of input, weight and bias
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "bench/graft_workloads.h"
#include "graft/autodiff/tape.h"
#include "graft/ops/ops.h"

namespace graft::bench {

// One convolution layer (kernel x kernel, "same" padding, stride 1, bias)
// from `in` to `out` channels on [batch, in, size, size] inputs: forward,
// loss = mean(y), and the gradients of the input, the weight and the bias.
class ConvLayerGrad {
 public:
  ConvLayerGrad(int64_t batch, int64_t in, int64_t out, int64_t size, int64_t kernel)
      : x_(uniform({batch, in, size, size}, 1.0f, 11)),
        w_(uniform({out, in, kernel, kernel}, 1.0f / static_cast<float>(in * kernel * kernel), 12)),
        b_(uniform({out}, 0.1f, 13)) {}

  std::vector<std::optional<Tensor>> step() const {
    GradientTape tape;
    tape.watch(x_);
    tape.watch(w_);
    tape.watch(b_);
    Tensor y = conv2d(x_, w_, b_, Conv2dOptions().padding(Padding::kSame));  // as nn::Conv2d runs it
    return tape.gradient(mean(y), {x_, w_, b_});
  }

 private:
  Tensor x_, w_, b_;
};

}  // namespace graft::bench
