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

#include <array>
#include <cstdint>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>

#include "graft/nn/module.h"
#include "graft/ops/ops.h"

namespace graft::nn {

// A Conv2d layer's settings: Conv2dOptions(32, 3).padding(Padding::kSame).
class Conv2dOptions {
 public:
  // `out_channels` filters of `kernel` x `kernel`, or `kernel_h` x `kernel_w`
  // (all > 0, checked by Conv2d).
  Conv2dOptions(int64_t out_channels, int64_t kernel) : Conv2dOptions(out_channels, kernel, kernel) {}
  Conv2dOptions(int64_t out_channels, int64_t kernel_h, int64_t kernel_w)
      : out_channels_(out_channels), kernel_{kernel_h, kernel_w} {}

  // Geometry, as the conv2d op takes it (graft::Conv2dOptions).
  Conv2dOptions& stride(int64_t s) { geometry_.stride(s); return *this; }
  Conv2dOptions& stride(int64_t h, int64_t w) { geometry_.stride(h, w); return *this; }
  Conv2dOptions& padding(int64_t p) { geometry_.padding(p); return *this; }
  Conv2dOptions& padding(int64_t h, int64_t w) { geometry_.padding(h, w); return *this; }
  Conv2dOptions& padding(Padding mode) { geometry_.padding(mode); return *this; }
  Conv2dOptions& dilation(int64_t d) { geometry_.dilation(d); return *this; }
  Conv2dOptions& dilation(int64_t h, int64_t w) { geometry_.dilation(h, w); return *this; }
  Conv2dOptions& groups(int64_t g) { geometry_.groups(g); return *this; }
  // Parameters: a bias (on by default), how the kernel [out, in / groups,
  // kh, kw] and the bias start.
  Conv2dOptions& bias(bool on) { bias_ = on; return *this; }
  Conv2dOptions& kernel_init(Initializer init) { kernel_init_ = std::move(init); return *this; }
  Conv2dOptions& bias_init(Initializer init) { bias_init_ = std::move(init); return *this; }

  // The values set above, or their defaults.
  int64_t out_channels() const { return out_channels_; }
  const std::array<int64_t, 2>& kernel_size() const { return kernel_; }
  const graft::Conv2dOptions& geometry() const { return geometry_; }
  bool bias() const { return bias_; }
  // Unset: He uniform over the kernel's fan in.
  const std::optional<Initializer>& kernel_init() const { return kernel_init_; }
  const Initializer& bias_init() const { return bias_init_; }

 private:
  friend class Conv2d;
  int64_t out_channels_;
  std::array<int64_t, 2> kernel_;
  graft::Conv2dOptions geometry_;
  bool bias_ = true;
  std::optional<Initializer> kernel_init_;
  Initializer bias_init_ = init::zeros();
};

// A 2-D convolution over NCHW inputs plus a bias; the input channels come
// from the first input (the layer builds then).
class Conv2d : public Module {
 public:
  // Throws ValueError for non-positive channels or kernel sizes, or output
  // channels that do not divide into the groups.
  explicit Conv2d(Conv2dOptions options, std::source_location location = std::source_location::current());

  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  // The layer's settings.
  const Conv2dOptions& options() const { return options_; }
  // Null handles until built.
  const Variable& kernel() const { return kernel_; }
  const Variable& bias() const { return bias_; }
  // Input channels, 0 until built; output channels.
  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return options_.out_channels(); }

  // Replaces the layer's variables by new ones holding `kernel`
  // [out, in / groups, kh, kw] and `bias` [out] (undefined when the layer has
  // none), at the same paths: an architecture edit (graft/edit) that changes
  // the channel counts. The old variables are retired with `reason`. The
  // layer must be built; the kernel's spatial size may not change.
  void replace_weights(const Tensor& kernel, const Tensor& bias, std::string_view reason,
                       std::source_location location = std::source_location::current());

 protected:
  void on_build(const Shape& input_shape, DType dtype) override;

 private:
  Conv2dOptions options_;
  int64_t in_channels_ = 0;
  Variable kernel_;
  Variable bias_;
};

// max_pool2d as a layer, without variables.
class MaxPool2d : public Module {
 public:
  // `location`: where the layer was defined, for summaries and errors.
  explicit MaxPool2d(Pool2dOptions options, std::source_location location = std::source_location::current())
      : Module("max_pool", location), options_(options) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  // The window, stride and padding.
  const Pool2dOptions& options() const { return options_; }

 private:
  Pool2dOptions options_;
};

// avg_pool2d as a layer, without variables.
class AvgPool2d : public Module {
 public:
  // `location`: where the layer was defined, for summaries and errors.
  explicit AvgPool2d(Pool2dOptions options, std::source_location location = std::source_location::current())
      : Module("avg_pool", location), options_(options) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  // The window, stride and padding.
  const Pool2dOptions& options() const { return options_; }

 private:
  Pool2dOptions options_;
};

// global_avg_pool2d as a layer: [N, C, H, W] -> [N, C].
class GlobalAvgPool : public Module {
 public:
  // `location`: where the layer was defined, for summaries and errors.
  explicit GlobalAvgPool(std::source_location location = std::source_location::current())
      : Module("global_avg_pool", location) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "GlobalAvgPool"; }
};

// [N, ...] -> [N, product of the rest], without variables.
class Flatten : public Module {
 public:
  // `location`: where the layer was defined, for summaries and errors.
  explicit Flatten(std::source_location location = std::source_location::current()) : Module("flatten", location) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "Flatten"; }
};

}  // namespace graft::nn
