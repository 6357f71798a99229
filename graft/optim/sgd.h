// graft/optim/sgd.h: stochastic gradient descent, with momentum and Nesterov
// momentum, in PyTorch's formulation:
//   g <- g + weight_decay * p
//   buf <- momentum * buf + g           (buf starts at 0, so the first buf is g)
//   p <- p - lr * (nesterov ? g + momentum * buf : buf)
// With momentum 0 there are no slots: p <- p - lr * g.
//
//   SGD sgd(SGDOptions(0.1).momentum(0.9).nesterov(true));
#pragma once

#include "graft/optim/optimizer.h"

namespace graft::optim {

// SGD's settings; SGD's constructor checks them (ValueError for a negative
// momentum, or Nesterov without momentum).
class SGDOptions {
 public:
  // A constant learning rate `lr`; schedule() replaces it.
  explicit SGDOptions(double lr) : schedule_(schedule::constant(lr)) {}
  // The learning rate as a function of the step (graft/optim/schedule.h).
  SGDOptions& schedule(LearningRateSchedule s) { schedule_ = std::move(s); return *this; }
  // The momentum factor (>= 0; 0, the default, keeps no slots).
  SGDOptions& momentum(double m) { momentum_ = m; return *this; }
  // Nesterov momentum (needs momentum > 0).
  SGDOptions& nesterov(bool n) { nesterov_ = n; return *this; }
  // The L2 penalty added to the gradient.
  SGDOptions& weight_decay(double w) { weight_decay_ = w; return *this; }
  // The optimizer's name: its store's name and its slots' first path component.
  SGDOptions& name(std::string n) { name_ = std::move(n); return *this; }

  // The values set above, or their defaults.
  const LearningRateSchedule& schedule() const { return schedule_; }
  double momentum() const { return momentum_; }
  bool nesterov() const { return nesterov_; }
  double weight_decay() const { return weight_decay_; }
  const std::string& name() const { return name_; }

 private:
  LearningRateSchedule schedule_;
  double momentum_ = 0.0;
  bool nesterov_ = false;
  double weight_decay_ = 0.0;
  std::string name_ = "sgd";
};

// Stochastic gradient descent (header comment); one slot, "momentum", when
// momentum > 0.
class SGD : public Optimizer {
 public:
  // Throws ValueError for invalid options (SGDOptions).
  explicit SGD(const SGDOptions& options);

 protected:
  void update(const Variable& v, const Tensor& grad, const Tensor& lr) override;
  std::vector<std::string> slot_names() const override;

 private:
  SGDOptions options_;
};

}  // namespace graft::optim
