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
  Tensor g = grad;
  if (options_.weight_decay_ != 0) g = g + v.value() * options_.weight_decay_;
  if (options_.momentum_ == 0) {
    v.assign_sub(lr * g);
    return;
  }
  Variable buf = slot(v, "momentum");
  Tensor next = buf.value() * options_.momentum_ + g;
  buf.assign(next);
  v.assign_sub(lr * (options_.nesterov_ ? g + next * options_.momentum_ : next));
}

}  // namespace graft
