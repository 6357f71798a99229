#include "graft/ops/dispatch.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace graft {
namespace {

thread_local std::vector<ops::internal::OpObserver*> t_observers;
thread_local ops::internal::OpInterceptor* t_interceptor = nullptr;

}  // namespace

void run_kernel(const OpDef& def, std::span<const Tensor> inputs, const Tensor& out, const OpAttrs& attrs) {
  def.forward(inputs, out, attrs);
}

Tensor apply(OpKind kind, std::span<const Tensor> inputs, const OpAttrs& attrs) {
  const OpDef& def = op_def(kind);
  GRAFT_CHECK(def.arity == kVariadic || static_cast<int>(inputs.size()) == def.arity, def.name,
              ": expected ", def.arity, " inputs, got ", inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    GRAFT_CHECK(inputs[i].defined(), def.name, ": input ", i, " is an undefined tensor");
  }
  TensorMeta meta = def.infer(def, inputs, attrs);
  Tensor out;
  if (t_interceptor != nullptr) [[unlikely]] {
    out = t_interceptor->intercept(def, inputs, attrs, meta);
  } else if (def.view_of_input) {
    out = Tensor::view(inputs[0], meta.shape);
  } else {
    out = Tensor::empty(meta.shape, meta.dtype);
    def.forward(inputs, out, attrs);
  }
  for (ops::internal::OpObserver* observer : t_observers) observer->on_op(kind, inputs, attrs, out);
  return out;
}

void host_call(std::string name, std::function<void()> fn) {
  if (t_interceptor != nullptr) {
    t_interceptor->record_host_call(std::move(name), std::move(fn));
  } else {
    fn();
  }
}

namespace ops::internal {

void add_observer(OpObserver* observer) { t_observers.push_back(observer); }

void remove_observer(OpObserver* observer) {
  auto it = std::find(t_observers.begin(), t_observers.end(), observer);
  if (it != t_observers.end()) t_observers.erase(it);
}

std::vector<OpObserver*> exchange_observers(std::vector<OpObserver*> observers) {
  return std::exchange(t_observers, std::move(observers));
}

OpInterceptor* set_interceptor(OpInterceptor* interceptor) {
  return std::exchange(t_interceptor, interceptor);
}

OpInterceptor* interceptor() { return t_interceptor; }

}  // namespace ops::internal
}  // namespace graft
