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

class AdamOptions {
 public:
  explicit AdamOptions(double lr = 1e-3) : schedule_(schedule::constant(lr)) {}
  AdamOptions& schedule(LearningRateSchedule s) { schedule_ = std::move(s); return *this; }
  AdamOptions& betas(double b1, double b2) { beta1_ = b1; beta2_ = b2; return *this; }
  AdamOptions& eps(double e) { eps_ = e; return *this; }
  AdamOptions& weight_decay(double w) { weight_decay_ = w; return *this; }
  // AdamW: weight decay applied to the weights, not added to the gradient.
  AdamOptions& decoupled(bool d) { decoupled_ = d; return *this; }
  AdamOptions& name(std::string n) { name_ = std::move(n); return *this; }

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

class Adam : public Optimizer {
 public:
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
