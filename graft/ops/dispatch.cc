#include "graft/ops/dispatch.h"

#include <algorithm>
#include <atomic>
#include <utility>
#include <vector>

#include "graft/tensor/parallel.h"

namespace graft {
namespace {

thread_local std::vector<ops::internal::OpObserver*> t_observers;
thread_local ops::internal::OpInterceptor* t_interceptor = nullptr;
std::atomic<int64_t> side_by_side_count{0};

}  // namespace

void run_kernel(const OpDef& def, std::span<const Tensor> inputs, const Tensor& out, const OpAttrs& attrs) {
  def.forward(inputs, out, attrs);
}

namespace {

// The output `def` makes of `inputs`, after checking their count and that
// each is defined (ShapeError and the like from the op's own rule).
TensorMeta checked_meta(const OpDef& def, std::span<const Tensor> inputs, const OpAttrs& attrs) {
  GRAFT_CHECK(def.arity == kVariadic || static_cast<int>(inputs.size()) == def.arity, def.name,
              ": expected ", def.arity, " inputs, got ", inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    GRAFT_CHECK(inputs[i].defined(), def.name, ": input ", i, " is an undefined tensor");
  }
  return def.infer(def, inputs, attrs);
}

void notify_observers(OpKind kind, std::span<const Tensor> inputs, const OpAttrs& attrs, const Tensor& out) {
  for (ops::internal::OpObserver* observer : t_observers) observer->on_op(kind, inputs, attrs, out);
}

}  // namespace

Tensor apply(OpKind kind, std::span<const Tensor> inputs, const OpAttrs& attrs) {
  const OpDef& def = op_def(kind);
  TensorMeta meta = checked_meta(def, inputs, attrs);
  Tensor out;
  if (t_interceptor != nullptr) [[unlikely]] {
    out = t_interceptor->intercept(def, inputs, attrs, meta);
  } else if (def.view_of_input) {
    out = Tensor::view(inputs[0], meta.shape);
  } else {
    out = Tensor::empty(meta.shape, meta.dtype);
    def.forward(inputs, out, attrs);
  }
  notify_observers(kind, inputs, attrs, out);
  return out;
}

std::pair<Tensor, Tensor> apply_side_by_side(const OpCall& first, const OpCall& second, bool pays) {
  const OpDef& a = op_def(first.kind);
  const OpDef& b = op_def(second.kind);
  if (!pays || t_interceptor != nullptr || a.view_of_input || b.view_of_input || num_threads() < 2 ||
      inside_parallel_region()) {
    Tensor x = apply(first.kind, first.inputs, first.attrs);
    return {x, apply(second.kind, second.inputs, second.attrs)};
  }
  const TensorMeta ma = checked_meta(a, first.inputs, first.attrs);
  const TensorMeta mb = checked_meta(b, second.inputs, second.attrs);
  Tensor x = Tensor::empty(ma.shape, ma.dtype);
  Tensor y = Tensor::empty(mb.shape, mb.dtype);
  parallel_for(0, 2, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      if (i == 0) {
        a.forward(first.inputs, x, first.attrs);
      } else {
        b.forward(second.inputs, y, second.attrs);
      }
    }
  });
  side_by_side_count.fetch_add(1, std::memory_order_relaxed);
  notify_observers(first.kind, first.inputs, first.attrs, x);
  notify_observers(second.kind, second.inputs, second.attrs, y);
  return {x, y};
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

int64_t side_by_side_runs() { return side_by_side_count.load(std::memory_order_relaxed); }

}  // namespace ops::internal
}  // namespace graft
