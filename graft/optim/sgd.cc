#include "graft/optim/sgd.h"

#include <cmath>

#include "graft/ops/ops.h"

namespace graft::optim {

SGD::SGD(const SGDOptions& options) : Optimizer(options.name(), options.schedule()), options_(options) {
  GRAFT_CHECK(options.momentum() >= 0 && std::isfinite(options.momentum()),
              "SGD: momentum must be a finite number >= 0, got ", options.momentum());
  // As Adam's: NaN or inf made every weight NaN, a negative decay grew them.
  GRAFT_CHECK(options.weight_decay() >= 0 && std::isfinite(options.weight_decay()),
              "SGD: weight_decay must be a finite number >= 0, got ", options.weight_decay());
  GRAFT_CHECK(!options.nesterov() || options.momentum() > 0, "SGD: Nesterov momentum needs momentum > 0");
}

std::vector<std::string> SGD::slot_names() const {
  if (options_.momentum() == 0) return {};
  return {"momentum"};
}

void SGD::update(const Variable& v, const Tensor& grad, const Tensor& lr) {
  OpAttrs attrs;
  attrs.update.momentum = options_.momentum();
  attrs.update.nesterov = options_.nesterov();
  attrs.update.weight_decay = options_.weight_decay();
  if (options_.momentum() == 0) {
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

}  // namespace graft::optim
