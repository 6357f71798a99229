// graft/optim/adam.h: Adam and AdamW, in PyTorch's formulation, with a step
// count per variable (a variable added mid-training starts its own bias
// correction at 1):
//   t <- t + 1
//   g <- g + weight_decay * p                      (Adam's L2 penalty)
//   p <- p * (1 - lr * weight_decay)               (AdamW, decoupled, instead)
//   m <- beta1 * m + (1 - beta1) * g
//   v <- beta2 * v + (1 - beta2) * g^2
//   p <- p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
// Slots: m, v, step.
//
//   Adam adam(AdamOptions(1e-3));
//   Adam adamw(AdamOptions(1e-3).weight_decay(0.01).decoupled(true).name("adamw"));
#pragma once

#include "graft/optim/optimizer.h"

namespace graft::optim {

// Adam's settings; Adam's constructor checks them (ValueError for betas
// outside [0, 1) or eps <= 0).
class AdamOptions {
 public:
  // A constant learning rate `lr`; schedule() replaces it.
  explicit AdamOptions(double lr = 1e-3) : schedule_(schedule::constant(lr)) {}
  // The learning rate as a function of the step (graft/optim/schedule.h).
  AdamOptions& schedule(LearningRateSchedule s) { schedule_ = std::move(s); return *this; }
  // The decay rates of the first and second moment estimates, each in [0, 1).
  AdamOptions& betas(double b1, double b2) { beta1_ = b1; beta2_ = b2; return *this; }
  // Added to the denominator for numerical stability (> 0).
  AdamOptions& eps(double e) { eps_ = e; return *this; }
  // The weight decay: an L2 penalty, or decoupled (AdamW) with decoupled().
  AdamOptions& weight_decay(double w) { weight_decay_ = w; return *this; }
  // AdamW: weight decay applied to the weights, not added to the gradient.
  AdamOptions& decoupled(bool d) { decoupled_ = d; return *this; }
  // The optimizer's name: its store's name and its slots' first path component.
  AdamOptions& name(std::string n) { name_ = std::move(n); return *this; }

  // The values set above, or their defaults.
  const LearningRateSchedule& schedule() const { return schedule_; }
  double beta1() const { return beta1_; }
  double beta2() const { return beta2_; }
  double eps() const { return eps_; }
  double weight_decay() const { return weight_decay_; }
  bool decoupled() const { return decoupled_; }
  const std::string& name() const { return name_; }

 private:
  LearningRateSchedule schedule_;
  double beta1_ = 0.9;
  double beta2_ = 0.999;
  double eps_ = 1e-8;
  double weight_decay_ = 0.0;
  bool decoupled_ = false;
  std::string name_ = "adam";
};

// Adam and AdamW (header comment); slots m, v and step per variable.
class Adam : public Optimizer {
 public:
  // Throws ValueError for invalid options (AdamOptions).
  explicit Adam(const AdamOptions& options);

 protected:
  void update(const Variable& v, const Tensor& grad, const Tensor& lr) override;
  std::vector<std::string> slot_names() const override;

 private:
  AdamOptions options_;
};

// AdamW: Adam with decoupled weight decay (default 0.01).
AdamOptions adamw_options(double lr = 1e-3, double weight_decay = 0.01);

}  // namespace graft::optim
