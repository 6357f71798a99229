#include "graft/optim/sgd.h"

#include "graft/ops/ops.h"

namespace graft {

SGD::SGD(const SGDOptions& options) : Optimizer(options.name_, options.schedule_), options_(options) {
  GRAFT_CHECK(options.momentum_ >= 0, "SGD: momentum must be >= 0, got ", options.momentum_);
  GRAFT_CHECK(!options.nesterov_ || options.momentum_ > 0, "SGD: Nesterov momentum needs momentum > 0");
}

std::vector<std::string> SGD::slot_names() const {
  if (options_.momentum_ == 0) return {};
  return {"momentum"};
}

void SGD::update(const Variable& v, const Tensor& grad, const Tensor& lr) {
  OpAttrs attrs;
  attrs.update.momentum = options_.momentum_;
  attrs.update.nesterov = options_.nesterov_;
  attrs.update.weight_decay = options_.weight_decay_;
  if (options_.momentum_ == 0) {
    const Tensor inputs[] = {v.value(), grad, lr};
    run_update(v, OpKind::kSgdUpdate, inputs, attrs);
    return;
  }
  // One pass: g' = g + p wd; buf <- buf momentum + g'; p - lr buf (or, with
  // Nesterov, p - lr (g' + buf momentum)). See sgd_update in graft/ops/ops.h.
  Variable buf = slot(v, "momentum");
  const Tensor inputs[] = {v.value(), grad, lr, buf.value()};
  run_update(v, OpKind::kSgdUpdate, inputs, attrs);
}

}  // namespace graft
