// graft/nn/conv.h: layers for convolutional networks over NCHW tensors.
//
//   nn::Sequential cnn("cnn");
//   cnn.add(nn::Conv2d(nn::Conv2dOptions(32, 3).padding(1).bias(false)));   // [N, 1, 28, 28] -> [N, 32, 28, 28]
//   cnn.add(nn::BatchNorm());
//   cnn.add(nn::ReLU());
//   cnn.add(nn::MaxPool2d(Pool2dOptions(2)));                               // -> [N, 32, 14, 14]
//   cnn.add(nn::GlobalAvgPool());                                           // -> [N, 32]
//   cnn.add(nn::Linear(nn::LinearOptions(10)));
//
// Conv2d builds on its first call from the input's channel count C (lazy, as
// Linear): `kernel` [out, C / groups, kh, kw] (OIHW, He uniform over its fan
// in C / groups * kh * kw, unless kernel_init says otherwise) and, unless
// bias(false), `bias` [out] (zeros), in the input's dtype. Geometry (stride,
// padding including Padding::kSame, dilation, groups) is the conv2d op's
// (graft/ops/ops.h).
//
// Pooling layers have no variables: MaxPool2d and AvgPool2d take the
// max_pool2d / avg_pool2d ops' Pool2dOptions; GlobalAvgPool averages each
// channel over H x W ([N, C, H, W] -> [N, C]).
//
// Flatten keeps the batch axis and joins every other axis, in row-major
// order: feature c*H*W + h*W + w of the result is x[n, c, h, w], so channel
// c spans the H*W consecutive features starting at c*H*W (growth edits rely
// on this).
//
// Errors: an input that is not [N, C, H, W] (Flatten: rank < 2), a later
// input with another channel count, or a window that does not fit throws
// ShapeError naming the layer's path and the shapes involved.
#pragma once

#include <source_location>
#include <string>

#include "graft/nn/module.h"

namespace graft::nn {

class Flatten : public Module {
 public:
  explicit Flatten(std::source_location location = std::source_location::current()) : Module("flatten", location) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "Flatten"; }
};

}  // namespace graft::nn
