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

// The activation a Linear applies to its output (kNone: the identity).
enum class Activation { kNone, kRelu, kTanh, kSigmoid };

// "relu", "tanh", "sigmoid" or "none".
const char* activation_name(Activation activation);
// activation(x): relu(x), tanh(x), sigmoid(x) or x itself. Throws ValueError
// for a value that is not an Activation.
Tensor apply_activation(Activation activation, const Tensor& x);

// A Linear layer's settings: LinearOptions(10).activation(Activation::kRelu).
class LinearOptions {
 public:
  // `out_features` outputs (> 0, checked by Linear).
  explicit LinearOptions(int64_t out_features) : out_features_(out_features) {}
  // The number of outputs.
  LinearOptions& out_features(int64_t n) { out_features_ = n; return *this; }
  // Whether the layer adds a bias (on by default).
  LinearOptions& bias(bool on) { bias_ = on; return *this; }
  // The activation applied to the output (none by default).
  LinearOptions& activation(Activation a) { activation_ = a; return *this; }
  // How the kernel [in, out] starts (Glorot uniform by default).
  LinearOptions& kernel_init(Initializer init) { kernel_init_ = std::move(init); return *this; }
  // How the bias starts (zeros by default).
  LinearOptions& bias_init(Initializer init) { bias_init_ = std::move(init); return *this; }

  // The values set above, or their defaults.
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

// activation(x kernel + bias) over the last axis of x; the kernel's input
// size comes from the first input (the layer builds then).
class Linear : public Module {
 public:
  // Throws ValueError when out_features is not positive. `location` is where
  // the layer was defined (its variables' creation site).
  explicit Linear(LinearOptions options, std::source_location location = std::source_location::current());

  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  // The layer's settings (out_features follows replace_weights).
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

// Elementwise activations, without variables: max(x, 0).
class ReLU : public Module {
 public:
  // `location`: where the layer was defined, for summaries and errors.
  explicit ReLU(std::source_location location = std::source_location::current()) : Module("relu", location) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "ReLU"; }
};

// tanh(x), elementwise.
class Tanh : public Module {
 public:
  // `location`: where the layer was defined, for summaries and errors.
  explicit Tanh(std::source_location location = std::source_location::current()) : Module("tanh", location) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "Tanh"; }
};

// sigmoid(x), elementwise.
class Sigmoid : public Module {
 public:
  // `location`: where the layer was defined, for summaries and errors.
  explicit Sigmoid(std::source_location location = std::source_location::current())
      : Module("sigmoid", location) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "Sigmoid"; }
};

// Dropout's settings.
class DropoutOptions {
 public:
  // The probability of zeroing an element, in [0, 1) (checked by Dropout).
  explicit DropoutOptions(double rate) : rate_(rate) {}
  // Seeds the masks (with the layer's path and the call number).
  DropoutOptions& seed(uint64_t s) { seed_ = s; return *this; }

  // The values set above, or their defaults.
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
  // Throws ValueError for a rate outside [0, 1).
  explicit Dropout(DropoutOptions options, std::source_location location = std::source_location::current());
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

 private:
  DropoutOptions options_;
  uint64_t calls_ = 0;
};

}  // namespace graft::nn
