// graft/ops/dispatch.h: the single entry point every op goes through.
//
//   Tensor y = apply(OpKind::kAdd, {a, b});
//
// apply() checks and infers the output with the op table, runs the kernel
// (or hands the op to an active capture), then tells every active observer
// (gradient tapes) what ran. Observers and the capture hook live in higher
// layers (autodiff, trace) and register here, so this layer stays below them.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <span>
#include <utility>
#include <vector>

#include "graft/ops/op_table.h"

namespace graft {

Tensor apply(OpKind kind, std::span<const Tensor> inputs, const OpAttrs& attrs = {});
inline Tensor apply(OpKind kind, std::initializer_list<Tensor> inputs, const OpAttrs& attrs = {}) {
  return apply(kind, std::span<const Tensor>(inputs.begin(), inputs.size()), attrs);
}

// Two independent ops, as apply(first...) then apply(second...) (the same
// checks, results, and observer notifications in that order), with the two
// kernels run side by side on two of graft's threads when `pays`,
// there are 2+ threads, no capture is active and the calling thread is not
// inside a parallel region already. Each kernel then keeps to its thread (its
// own parallel_for calls run inline). For two products that each would split
// themselves (matmul's VJP); neither op may read the other's output.
struct OpCall {
  OpKind kind;
  std::span<const Tensor> inputs;
  OpAttrs attrs;
};
std::pair<Tensor, Tensor> apply_side_by_side(const OpCall& first, const OpCall& second, bool pays);

// Runs the op's kernel on concrete inputs into a given output, bypassing
// observers and capture (the graph executor uses it).
void run_kernel(const OpDef& def, std::span<const Tensor> inputs, const Tensor& out, const OpAttrs& attrs);

// Runs `fn` now in eager code; inside a graft::function capture, records it
// so that every replay runs it at this point of the step, in order with the
// ops around it. For host-side state a step needs fresh each time: a
// learning-rate schedule writing a variable, a dropout mask refilled from the
// next seed. `name` is shown in printed graphs. `fn` must stay valid as long
// as the compiled function may replay.
void host_call(std::string name, std::function<void()> fn);

namespace ops::internal {

// Sees every op applied on this thread while registered (a GradientTape).
class OpObserver {
 public:
  virtual ~OpObserver() = default;
  virtual void on_op(OpKind kind, std::span<const Tensor> inputs, const OpAttrs& attrs,
                     const Tensor& output) = 0;
};

// Takes over ops instead of running them (a graft::function capture): returns
// the output, usually a symbolic tensor.
class OpInterceptor {
 public:
  virtual ~OpInterceptor() = default;
  virtual Tensor intercept(const OpDef& def, std::span<const Tensor> inputs, const OpAttrs& attrs,
                           const TensorMeta& meta) = 0;
  // Records a host call (host_call()).
  virtual void record_host_call(std::string name, std::function<void()> fn) = 0;
};

// Observers are notified in registration order. Thread-local.
void add_observer(OpObserver* observer);
void remove_observer(OpObserver* observer);
// Replaces this thread's observer list, returning the old one (a capture
// hides the tapes alive outside it, then restores them).
std::vector<OpObserver*> exchange_observers(std::vector<OpObserver*> observers);
// Sets this thread's interceptor (null to clear); returns the previous one.
OpInterceptor* set_interceptor(OpInterceptor* interceptor);
OpInterceptor* interceptor();

// How many apply_side_by_side calls ran their two kernels side by side in
// this process (tests check that the path they compare was taken).
int64_t side_by_side_runs();

}  // namespace ops::internal
}  // namespace graft
