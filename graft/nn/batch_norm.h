// graft/nn/batch_norm.h: batch normalisation over [N, C] (1-d) or
// [N, C, H, W] (2-d) inputs, with running statistics that compiled steps,
// checkpoints and edits treat as variables.
//
//   nn::Sequential cnn("cnn");
//   cnn.add(nn::Conv2d(nn::Conv2dOptions(32, 3).padding(1).bias(false)));
//   cnn.add(nn::BatchNorm());                 // cnn/layer_1/{gamma, beta, moving_mean, moving_variance}
//   cnn.add(nn::ReLU());
//   Tensor y = cnn(x);                         // training mode: batch statistics, running stats updated
//   cnn.eval();
//   Tensor z = cnn(x);                         // evaluation mode: running statistics
//
// The layer builds on its first call: C is the input's dimension 1, and the
// rank (2 or 4) is fixed from then on. Variables, all [C], in the input's
// dtype: `gamma` (ones) and `beta` (zeros), trainable unless affine(false)
// (then absent); `moving_mean` (zeros) and `moving_variance` (ones), NOT
// trainable, so optimizers leave them alone while checkpoints save and
// restore them by path like any variable.
//
// Training mode normalises with the batch's mean and biased variance over
// every axis but 1, and assigns
//   moving = (1 - momentum) * moving + momentum * batch_statistic
// (PyTorch's convention; the variance fed in is the unbiased one, n/(n-1)).
// The assignment is a Variable::assign, so a graft::function captures it and
// every replay updates the statistics. Evaluation mode computes
// (x - moving_mean) / sqrt(moving_variance + eps) * gamma + beta and assigns
// nothing. The mode is the module's (Module::train / eval); a compiled step
// captures each mode once (graft/vars/mode.h).
//
// Errors: an input of rank other than 2 or 4, a later input of another rank
// or channel count -> ShapeError naming the layer's path and both shapes;
// a non-float input -> DTypeError.
#pragma once

#include <cstdint>
#include <source_location>
#include <string>
#include <string_view>

#include "graft/nn/module.h"

namespace graft::nn {

// A BatchNorm layer's settings.
class BatchNormOptions {
 public:
  // Weight of the newest batch in the running statistics, in (0, 1].
  BatchNormOptions& momentum(double m) { momentum_ = m; return *this; }
  // Added to the variance before the square root; > 0.
  BatchNormOptions& eps(double e) { eps_ = e; return *this; }
  // Learned scale and shift (gamma, beta); without them the layer only
  // normalises.
  BatchNormOptions& affine(bool on) { affine_ = on; return *this; }

  // The values set above, or their defaults (0.1, 1e-5, on).
  double momentum() const { return momentum_; }
  double eps() const { return eps_; }
  bool affine() const { return affine_; }

 private:
  double momentum_ = 0.1;
  double eps_ = 1e-5;
  bool affine_ = true;
};

// Batch normalisation over the channel axis (header comment).
class BatchNorm : public Module {
 public:
  // Throws ValueError for momentum outside (0, 1] or eps <= 0.
  explicit BatchNorm(BatchNormOptions options = {}, std::source_location location = std::source_location::current());

  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  // The layer's settings.
  const BatchNormOptions& options() const { return options_; }

  // The channel count, 0 until built; the input rank (2 or 4), 0 until built.
  int64_t num_features() const { return num_features_; }
  int input_rank() const { return input_rank_; }
  // Null handles until built (gamma and beta also when affine(false)).
  const Variable& gamma() const { return gamma_; }
  const Variable& beta() const { return beta_; }
  const Variable& moving_mean() const { return moving_mean_; }
  const Variable& moving_variance() const { return moving_variance_; }

  // Replaces the layer's variables by new ones at the same paths holding the
  // given values, all [C'] (gamma and beta undefined when affine(false)): an
  // architecture edit (graft/edit) that changes the channel count. The old
  // variables are retired with `reason`. The layer must be built.
  void replace_parameters(const Tensor& gamma, const Tensor& beta, const Tensor& moving_mean,
                          const Tensor& moving_variance, std::string_view reason,
                          std::source_location location = std::source_location::current());

 protected:
  void on_build(const Shape& input_shape, DType dtype) override;

 private:
  // Checks rank and channel count against what the layer was built for.
  void check_input(const Tensor& x) const;
  // [C] -> the shape that broadcasts over the input ([1, C] or [1, C, 1, 1]).
  Tensor per_channel(const Tensor& v) const;

  BatchNormOptions options_;
  int64_t num_features_ = 0;
  int input_rank_ = 0;
  Variable gamma_, beta_, moving_mean_, moving_variance_;
};

}  // namespace graft::nn
