// graft/nn/layers.h: Linear (Dense), activations and Dropout.
//
//   nn::Sequential model("mlp");
//   model.add(nn::Linear(nn::LinearOptions(256).activation(nn::Activation::kRelu)));
//   model.add(nn::Dropout(nn::DropoutOptions(0.1).seed(7)));
//   model.add(nn::Linear(nn::LinearOptions(10)));
//   Tensor logits = model(x);   // x [batch, 784]: builds mlp/layer_0/kernel [784, 256], ...
//
// Linear builds on its first call from the input's last dimension: `kernel`
// [in, out] (glorot_uniform) and, unless bias(false), `bias` [out] (zeros), in
// the first input's dtype. It takes inputs of rank >= 2, [..., in], and
// returns [..., out]. A later input with another feature size, or an input
// of rank < 2, throws ShapeError naming the layer's path and both shapes.
#pragma once

#include <cstdint>
#include <string>

#include "graft/nn/module.h"

namespace graft::nn {

enum class Activation { kNone, kRelu, kTanh, kSigmoid };

// "relu", "tanh", "sigmoid" or "none".
const char* activation_name(Activation activation);
Tensor apply_activation(Activation activation, const Tensor& x);

class LinearOptions {
 public:
  explicit LinearOptions(int64_t out_features) : out_features_(out_features) {}
  LinearOptions& out_features(int64_t n) { out_features_ = n; return *this; }
  LinearOptions& bias(bool on) { bias_ = on; return *this; }
  LinearOptions& activation(Activation a) { activation_ = a; return *this; }
  LinearOptions& kernel_init(Initializer init) { kernel_init_ = std::move(init); return *this; }
  LinearOptions& bias_init(Initializer init) { bias_init_ = std::move(init); return *this; }

  int64_t out_features() const { return out_features_; }
  bool bias() const { return bias_; }
  Activation activation() const { return activation_; }
  const Initializer& kernel_init() const { return kernel_init_; }
  const Initializer& bias_init() const { return bias_init_; }

 private:
  int64_t out_features_;
  bool bias_ = true;
  Activation activation_ = Activation::kNone;
  Initializer kernel_init_ = init::glorot_uniform();
  Initializer bias_init_ = init::zeros();
};

class Linear : public Module {
 public:
  explicit Linear(LinearOptions options, std::source_location location = std::source_location::current());

  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  const LinearOptions& options() const { return options_; }
  // Null handles until built.
  const Variable& kernel() const { return kernel_; }
  const Variable& bias() const { return bias_; }
  // The input feature size, 0 until built.
  int64_t in_features() const { return in_features_; }

  // Replaces the layer's variables by new ones holding `kernel` [in, out] and
  // `bias` [out] (undefined when the layer has none), at the same paths: an
  // architecture edit (graft/edit) that changes the layer's width. The old
  // variables are retired with `reason`. The layer must be built.
  void replace_weights(const Tensor& kernel, const Tensor& bias, std::string_view reason,
                       std::source_location location = std::source_location::current());

 protected:
  void on_build(const Shape& input_shape, DType dtype) override;

 private:
  LinearOptions options_;
  int64_t in_features_ = 0;
  Variable kernel_;
  Variable bias_;
};

// Keras' name for the same layer.
using Dense = Linear;
using DenseOptions = LinearOptions;

// Elementwise activations, without variables.
class ReLU : public Module {
 public:
  explicit ReLU(std::source_location location = std::source_location::current()) : Module("relu", location) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "ReLU"; }
};

class Tanh : public Module {
 public:
  explicit Tanh(std::source_location location = std::source_location::current()) : Module("tanh", location) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "Tanh"; }
};

class Sigmoid : public Module {
 public:
  explicit Sigmoid(std::source_location location = std::source_location::current())
      : Module("sigmoid", location) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "Sigmoid"; }
};

class DropoutOptions {
 public:
  explicit DropoutOptions(double rate) : rate_(rate) {}
  DropoutOptions& seed(uint64_t s) { seed_ = s; return *this; }

  double rate() const { return rate_; }
  uint64_t seed() const { return seed_; }

 private:
  double rate_;
  uint64_t seed_ = 0;
};

// In training mode, zeroes each element with probability `rate` and scales
// the rest by 1 / (1 - rate); in eval mode, passes the input through. The
// masks are a deterministic function of (seed, layer path, call number), so a
// run with the same seed drops the same units. Inside a graft::function a
// host_call fills the mask, so every replay draws the next one.
class Dropout : public Module {
 public:
  explicit Dropout(DropoutOptions options, std::source_location location = std::source_location::current());
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

 private:
  DropoutOptions options_;
  uint64_t calls_ = 0;
};

}  // namespace graft::nn
