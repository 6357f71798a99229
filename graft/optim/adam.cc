#include "graft/optim/adam.h"

#include <cmath>

#include "graft/ops/ops.h"

namespace graft::optim {

Adam::Adam(const AdamOptions& options) : Optimizer(options.name(), options.schedule()), options_(options) {
  GRAFT_CHECK(options.beta1() >= 0 && options.beta1() < 1 && options.beta2() >= 0 && options.beta2() < 1,
              "Adam: betas must be in [0, 1), got (", options.beta1(), ", ", options.beta2(), ")");
  GRAFT_CHECK(options.eps() > 0, "Adam: eps must be > 0, got ", options.eps());
  // A NaN or infinite decay turned every weight NaN on the first step; a
  // negative one grew the weights instead of decaying them.
  GRAFT_CHECK(options.weight_decay() >= 0 && std::isfinite(options.weight_decay()),
              "Adam: weight_decay must be a finite number >= 0, got ", options.weight_decay());
}

std::vector<std::string> Adam::slot_names() const { return {"m", "v", "step"}; }

void Adam::update(const Variable& v, const Tensor& grad, const Tensor& lr) {
  const AdamOptions& o = options_;
  Variable m = slot(v, "m");
  Variable s = slot(v, "v");
  Variable step = slot(v, "step", init::zeros(), Shape{});
  Tensor t = step.value() + 1.0;
  step.assign(t);
  // Scalars in v's dtype; the elementwise part is one pass over p, g, m and
  // v (adam_update in graft/ops/ops.h).
  Tensor bias1 = 1.0 - pow(scalar_like(o.beta1(), t), t);
  Tensor bias2 = 1.0 - pow(scalar_like(o.beta2(), t), t);
  OpAttrs attrs;
  attrs.update.beta1 = o.beta1();
  attrs.update.beta2 = o.beta2();
  attrs.update.eps = o.eps();
  attrs.update.weight_decay = o.weight_decay();
  attrs.update.decoupled = o.decoupled();
  const Tensor inputs[] = {v.value(), grad, m.value(), s.value(), lr, bias1, bias2};
  run_update(v, OpKind::kAdamUpdate, inputs, attrs);
}

AdamOptions adamw_options(double lr, double weight_decay) {
  return AdamOptions(lr).weight_decay(weight_decay).decoupled(true).name("adamw");
}

}  // namespace graft::optim
