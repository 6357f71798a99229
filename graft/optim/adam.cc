#include "graft/optim/adam.h"

#include "graft/ops/ops.h"

namespace graft {

Adam::Adam(const AdamOptions& options) : Optimizer(options.name_, options.schedule_), options_(options) {
  GRAFT_CHECK(options.beta1_ >= 0 && options.beta1_ < 1 && options.beta2_ >= 0 && options.beta2_ < 1,
              "Adam: betas must be in [0, 1), got (", options.beta1_, ", ", options.beta2_, ")");
  GRAFT_CHECK(options.eps_ > 0, "Adam: eps must be > 0, got ", options.eps_);
}

std::vector<std::string> Adam::slot_names() const { return {"m", "v", "step"}; }

void Adam::update(const Variable& v, const Tensor& grad, const Tensor& lr) {
  const AdamOptions& o = options_;
  Variable m = slot(v, "m");
  Variable s = slot(v, "v");
  Variable step = slot(v, "step", init::zeros(), Shape{});
  Tensor t = step.value() + 1.0;
  step.assign(t);
  Tensor p = v.value();
  Tensor g = grad;
  if (o.weight_decay_ != 0 && !o.decoupled_) g = g + p * o.weight_decay_;
  if (o.weight_decay_ != 0 && o.decoupled_) p = p * (1.0 - lr * o.weight_decay_);
  Tensor m_next = m.value() * o.beta1_ + g * (1.0 - o.beta1_);
  Tensor v_next = s.value() * o.beta2_ + square(g) * (1.0 - o.beta2_);
  m.assign(m_next);
  s.assign(v_next);
  Tensor bias1 = 1.0 - pow(scalar_like(o.beta1_, t), t);
  Tensor bias2 = 1.0 - pow(scalar_like(o.beta2_, t), t);
  v.assign(p - lr * (m_next / bias1) / (sqrt(v_next / bias2) + o.eps_));
}

AdamOptions adamw_options(double lr, double weight_decay) {
  return AdamOptions(lr).weight_decay(weight_decay).decoupled(true).name("adamw");
}

}  // namespace graft
