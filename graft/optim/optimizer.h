// graft/optim/optimizer.h: optimizers that follow a model as it grows.
//
//   Adam adam(AdamOptions(1e-3));
//   for (...) {
//     GradientTape tape;
//     Tensor loss = ...;
//     auto vars = model.trainable_variables();
//     adam.apply_gradients(vars, tape.gradient(loss, vars));
//   }
//   model.add(...);  // the same optimizer keeps training: new variables get
//                    // slots on their first update, old ones keep theirs
//
// Slots (momentum, Adam's m and v, per-variable step counts) are variables in
// the optimizer's own store, under its name and the variable's path
// ("adam/mlp/layer_0/kernel/m"), so checkpoints save and restore them by
// name. They are keyed by variable identity (Variable::id), never by position
// or address. A variable seen for the first time gets its slots on that
// update, inside a graft::function capture too; a retired variable's slots
// are retired at the next update. No add_param_group, no rebuild.
//
// apply_gradients works in eager code and inside graft::function. Not
// thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "graft/ops/op_kind.h"
#include "graft/optim/schedule.h"
#include "graft/vars/store.h"

namespace graft::optim {

// The base of the optimizers (header comment): slots in a store of its own,
// keyed by variable identity; a learning-rate schedule.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Updates vars[i] with grads[i]; a missing gradient leaves the variable
  // as it is. Throws ValueError when the lists differ in length and
  // ShapeError when a gradient's shape is not its variable's.
  void apply_gradients(const std::vector<Variable>& vars, const std::vector<std::optional<Tensor>>& grads,
                       std::source_location location = std::source_location::current());

  // The optimizer's name, its store's name ("adam").
  const std::string& name() const { return store_.name(); }
  // The store that holds the slots, the learning rate and nothing else.
  VariableStore& store() { return store_; }
  const VariableStore& store() const { return store_; }
  // Updates applied so far (apply_gradients calls, replays included).
  int64_t iterations() const { return iterations_; }
  // Continues the count from a checkpoint (the schedule follows it).
  void set_iterations(int64_t iterations) { iterations_ = iterations; }
  // The schedule's learning rate at iterations(), and a new schedule.
  double learning_rate() const { return schedule_(iterations_); }
  void set_schedule(LearningRateSchedule schedule) { schedule_ = std::move(schedule); }

  // The slots of `v` (empty before its first update), in a fixed order.
  std::vector<Variable> slots_of(const Variable& v) const;
  // Variables with slots.
  size_t tracked_variables() const { return entries_.size(); }

  // Moves the state of `from` onto `to`, when an edit replaced one variable
  // by another (graft/edit): each slot of `from` becomes the same slot of
  // `to`, mapped by `transform(slot_name, value)` to the slot's new shape
  // (scalar slots such as Adam's step usually pass through). `from`'s slots
  // are retired. Nothing happens when `from` has no slots yet.
  void transfer_slots(const Variable& from, const Variable& to,
                      const std::function<Tensor(std::string_view slot, const Tensor& value)>& transform);

  // Why training may be doing nothing: one line per trainable variable that
  // was never updated, or whose value has not changed since its first
  // update, after `min_updates` updates of this optimizer.
  std::vector<std::string> diagnose(const std::vector<Variable>& trainable, int64_t min_updates = 10) const;

 protected:
  // An optimizer whose store and slots are named `name`.
  Optimizer(std::string name, LearningRateSchedule schedule);

  // Gets or creates slot `slot` of `v` (v's shape unless given).
  Variable slot(const Variable& v, std::string_view slot_name, const Initializer& init = init::zeros(),
                std::optional<Shape> shape = std::nullopt);
  // One variable's update, in graft ops; `lr` is a scalar of v's dtype.
  virtual void update(const Variable& v, const Tensor& grad, const Tensor& lr) = 0;
  // Runs update op `kind` (sgd_update, adam_update; inputs[0] is v's value)
  // as one pass over v: in eager code straight into v's buffer, under a
  // graft::function capture as an op whose result is assigned to v.
  static void run_update(const Variable& v, OpKind kind, std::span<const Tensor> inputs, const OpAttrs& attrs);
  // The slot names `update` creates, for slots_of.
  virtual std::vector<std::string> slot_names() const = 0;

 private:
  struct Entry {
    Variable variable;
    int64_t updates = 0;
    uint64_t first_fingerprint = 0;
    // The slots made so far, so an eager step finds them without building
    // and looking up their paths.
    std::vector<std::pair<std::string, Variable>> slots;
  };
  void release_retired();

  VariableStore store_;
  LearningRateSchedule schedule_;
  Variable lr_;
  int64_t iterations_ = 0;
  std::unordered_map<uint64_t, Entry> entries_;
};

// What clip_by_global_norm() returns.
struct ClippedGradients {
  std::vector<std::optional<Tensor>> gradients;  // clipped, one per input
  Tensor global_norm;                            // the norm before clipping (float32)
};

// Scales gradients so their global L2 norm is at most max_norm (TensorFlow's
// clip_by_global_norm): g * max_norm / max(norm, max_norm). Missing
// gradients stay missing. Returns the clipped gradients and the norm before
// clipping. The norm is summed in float64, so float32 gradients far past
// sqrt(FLT_MAX) still scale down to max_norm. ValueError unless max_norm is
// finite and > 0.
ClippedGradients clip_by_global_norm(const std::vector<std::optional<Tensor>>& grads, double max_norm);

}  // namespace graft::optim
