#include "graft/autodiff/tape.h"

#include <algorithm>
#include <utility>

#include "graft/ops/ops.h"

namespace graft {
namespace {

thread_local std::vector<GradientTape*> t_tapes;

// Fibonacci hashing: ids are sequential, the multiply spreads them.
inline size_t hash_slot(uint64_t id, size_t mask) { return (id * 0x9E3779B97F4A7C15ULL >> 32) & mask; }

}  // namespace

uint32_t GradientTape::IdSlots::find(uint64_t id) const {
  if (keys_.empty()) return kNone;
  size_t mask = keys_.size() - 1;
  for (size_t i = hash_slot(id, mask);; i = (i + 1) & mask) {
    if (keys_[i] == id) return values_[i];
    if (keys_[i] == 0) return kNone;
  }
}

uint32_t GradientTape::IdSlots::insert(uint64_t id) {
  // Keep the load at most 1/2 so probes stay short.
  if (2 * (size_ + 1) > keys_.size()) grow();
  size_t mask = keys_.size() - 1;
  for (size_t i = hash_slot(id, mask);; i = (i + 1) & mask) {
    if (keys_[i] == id) return values_[i];
    if (keys_[i] == 0) {
      keys_[i] = id;
      values_[i] = size_;
      return size_++;
    }
  }
}

void GradientTape::IdSlots::grow() {
  std::vector<uint64_t> old_keys = std::exchange(keys_, std::vector<uint64_t>(std::max<size_t>(16, keys_.size() * 2)));
  std::vector<uint32_t> old_values = std::exchange(values_, std::vector<uint32_t>(keys_.size()));
  size_t mask = keys_.size() - 1;
  for (size_t j = 0; j < old_keys.size(); ++j) {
    if (old_keys[j] == 0) continue;
    size_t i = hash_slot(old_keys[j], mask);
    while (keys_[i] != 0) i = (i + 1) & mask;
    keys_[i] = old_keys[j];
    values_[i] = old_values[j];
  }
}

void GradientTape::IdSlots::clear() {
  keys_ = {};
  values_ = {};
  size_ = 0;
}

GradientTape::GradientTape(const GradientTapeOptions& options) : options_(options) {
  ops::internal::add_observer(this);
  t_tapes.push_back(this);
}

GradientTape::~GradientTape() {
  ops::internal::remove_observer(this);
  auto it = std::find(t_tapes.begin(), t_tapes.end(), this);
  if (it != t_tapes.end()) t_tapes.erase(it);
}

void GradientTape::watch(const Tensor& t) {
  if (is_floating(t.dtype())) tracked_.insert(t.id());
}

bool GradientTape::is_watched(const Tensor& t) const { return tracked_.find(t.id()) != IdSlots::kNone; }

void GradientTape::on_op(OpKind kind, std::span<const Tensor> inputs, const OpAttrs& attrs, const Tensor& output) {
  if (!recording_ || used_) return;
  const OpDef& def = op_def(kind);
  if (def.vjp == nullptr || !is_floating(output.dtype())) return;
  bool any_tracked = false;
  for (const Tensor& in : inputs) {
    if (tracked_.find(in.id()) != IdSlots::kNone) {
      any_tracked = true;
      break;
    }
  }
  if (!any_tracked) return;
  auto first = static_cast<uint32_t>(inputs_.size());
  for (const Tensor& in : inputs) {
    inputs_.push_back(in);
    input_versions_.push_back(in.version());
  }
  entries_.push_back(Entry{kind, first, static_cast<uint32_t>(inputs.size()), tracked_.insert(output.id()), attrs,
                           output});
}

void GradientTape::release() {
  entries_ = {};
  inputs_ = {};
  input_versions_ = {};
  tracked_.clear();
}

std::vector<std::optional<Tensor>> GradientTape::gradient(const Tensor& target, const std::vector<Tensor>& sources,
                                                          const Tensor& output_gradient) {
  GRAFT_CHECK(!used_, "GradientTape.gradient() can only be called once on a non-persistent tape\n"
              "  help: construct the tape with GradientTape(GradientTapeOptions().persistent(true)) to ask for "
              "gradients more than once");
  GRAFT_CHECK(target.defined(), "GradientTape.gradient(): the target is an undefined tensor");
  GRAFT_CHECK_AS(DTypeError, is_floating(target.dtype()), "GradientTape.gradient(): the target must be float32 or ",
                 "float64, got ", dtype_name(target.dtype()));
  if (output_gradient.defined()) {
    check_shape(output_gradient, target.shape(), "GradientTape.gradient(): output_gradient");
    // Unchecked, a float64 seed for a float32 target failed deep in the
    // backward pass as "mul: input 0 is float64 but input 1 is float32".
    GRAFT_CHECK_AS(DTypeError, output_gradient.dtype() == target.dtype(),
                   "GradientTape.gradient(): output_gradient: expected the target's dtype ", dtype_name(target.dtype()),
                   ", got ", dtype_name(output_gradient.dtype()), "\n  help: cast(output_gradient, DType::k",
                   target.dtype() == DType::kFloat64 ? "Float64" : "Float32", ") first");
  }

  // The tape does not record its own backward pass; outer tapes do.
  struct RecordingPause {
    bool& flag;
    bool saved;
    ~RecordingPause() { flag = saved; }
  } pause{recording_, recording_};
  recording_ = false;

  // Gradients by slot. Only watched tensors and tensors made under the tape
  // have slots, so only they take gradients, as in TensorFlow: an unwatched
  // constant gets none.
  std::vector<Tensor> grads(tracked_.size());
  uint32_t target_slot = tracked_.find(target.id());
  if (target_slot != IdSlots::kNone) {
    grads[target_slot] = output_gradient.defined() ? output_gradient : ones_like(target);
  }

  // Entries are in execution order, a topological order: walk it backwards.
  std::vector<Tensor> grad_in;
  for (size_t i = target_slot == IdSlots::kNone ? 0 : entries_.size(); i-- > 0;) {
    const Entry& e = entries_[i];
    if (!grads[e.output_slot].defined()) continue;
    std::span<const Tensor> inputs(inputs_.data() + e.first_input, e.num_inputs);
    for (size_t j = 0; j < inputs.size(); ++j) {
      GRAFT_CHECK(inputs[j].version() == input_versions_[e.first_input + j], "GradientTape.gradient(): input ", j,
                  " of op '", op_name(e.kind), "' (shape ", inputs[j].shape().to_string(),
                  ") was modified in place after the op ran, so its gradient would be wrong\n"
                  "  help: compute gradients before assigning to variables the forward pass read");
    }
    grad_in.assign(inputs.size(), Tensor());
    VjpContext ctx{inputs, e.output, grads[e.output_slot], e.attrs};
    // Inputs without a slot take no gradient, so their VJP work is skipped.
    ctx.needs_grad = 0;
    for (size_t j = 0; j < inputs.size() && j < 64; ++j) {
      if (is_floating(inputs[j].dtype()) && tracked_.find(inputs[j].id()) != IdSlots::kNone) {
        ctx.needs_grad |= uint64_t{1} << j;
      }
    }
    if (inputs.size() > 64) ctx.needs_grad = ~uint64_t{0};
    op_def(e.kind).vjp(ctx, grad_in);
    for (size_t j = 0; j < inputs.size(); ++j) {
      if (!grad_in[j].defined() || !is_floating(inputs[j].dtype())) continue;
      uint32_t slot = tracked_.find(inputs[j].id());
      if (slot == IdSlots::kNone) continue;
      GRAFT_INTERNAL_ASSERT(grad_in[j].shape() == inputs[j].shape(), "vjp of ", op_name(e.kind), " gave shape ",
                            grad_in[j].shape().to_string(), " for input ", j, " of shape ",
                            inputs[j].shape().to_string());
      Tensor& slot_grad = grads[slot];
      slot_grad = slot_grad.defined() ? slot_grad + grad_in[j] : std::move(grad_in[j]);
    }
  }

  std::vector<std::optional<Tensor>> result;
  result.reserve(sources.size());
  for (const Tensor& s : sources) {
    uint32_t slot = is_floating(s.dtype()) ? tracked_.find(s.id()) : IdSlots::kNone;
    if (slot == IdSlots::kNone || !grads[slot].defined()) {
      result.emplace_back();
    } else {
      result.emplace_back(grads[slot]);
    }
  }
  if (!options_.persistent()) {
    used_ = true;
    release();
  }
  return result;
}

namespace autodiff::internal {

void watch_on_active_tapes(const Tensor& t) {
  for (GradientTape* tape : t_tapes) tape->watch(t);
}

}  // namespace autodiff::internal
}  // namespace graft
