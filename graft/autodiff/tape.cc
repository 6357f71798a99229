#include "graft/autodiff/tape.h"

#include <algorithm>

#include "graft/ops/ops.h"

namespace graft {
namespace {

thread_local std::vector<GradientTape*> t_tapes;

}  // namespace

GradientTape::GradientTape(bool persistent) : persistent_(persistent) {
  ops::internal::add_observer(this);
  t_tapes.push_back(this);
}

GradientTape::~GradientTape() {
  ops::internal::remove_observer(this);
  auto it = std::find(t_tapes.begin(), t_tapes.end(), this);
  if (it != t_tapes.end()) t_tapes.erase(it);
}

void GradientTape::watch(const Tensor& t) {
  if (is_floating(t.dtype())) tracked_[t.id()] = true;
}

bool GradientTape::is_watched(const Tensor& t) const { return tracked_.count(t.id()) > 0; }

void GradientTape::on_op(OpKind kind, std::span<const Tensor> inputs, const OpAttrs& attrs, const Tensor& output) {
  if (!recording_ || used_) return;
  const OpDef& def = op_def(kind);
  if (def.vjp == nullptr || !is_floating(output.dtype())) return;
  bool any_tracked = false;
  for (const Tensor& in : inputs) any_tracked |= tracked_.count(in.id()) > 0;
  if (!any_tracked) return;
  Entry entry{kind, attrs, std::vector<Tensor>(inputs.begin(), inputs.end()), {}, output};
  entry.input_versions.reserve(inputs.size());
  for (const Tensor& in : inputs) entry.input_versions.push_back(in.version());
  entries_.push_back(std::move(entry));
  tracked_[output.id()] = true;
}

std::vector<std::optional<Tensor>> GradientTape::gradient(const Tensor& target, const std::vector<Tensor>& sources,
                                                          const Tensor& output_gradient) {
  GRAFT_CHECK(!used_, "GradientTape.gradient() can only be called once on a non-persistent tape\n"
              "  help: construct the tape with GradientTape(/*persistent=*/true) to ask for gradients "
              "more than once");
  GRAFT_CHECK(target.defined(), "GradientTape.gradient(): the target is an undefined tensor");
  GRAFT_CHECK_AS(DTypeError, is_floating(target.dtype()), "GradientTape.gradient(): the target must be float32 or ",
                 "float64, got ", dtype_name(target.dtype()));
  if (output_gradient.defined()) check_shape(output_gradient, target.shape(), "GradientTape.gradient(): output_gradient");

  // The tape does not record its own backward pass; outer tapes do.
  struct RecordingPause {
    bool& flag;
    bool saved;
    ~RecordingPause() { flag = saved; }
  } pause{recording_, recording_};
  recording_ = false;
  std::unordered_map<uint64_t, Tensor> grads;
  grads[target.id()] = output_gradient.defined() ? output_gradient : ones_like(target);

  // Entries are in execution order, a topological order: walk it backwards.
  for (size_t i = entries_.size(); i-- > 0;) {
    Entry& e = entries_[i];
    auto it = grads.find(e.output.id());
    if (it == grads.end()) continue;
    Tensor grad_out = it->second;
    for (size_t j = 0; j < e.inputs.size(); ++j) {
      GRAFT_CHECK(e.inputs[j].version() == e.input_versions[j], "GradientTape.gradient(): input ", j, " of op '",
                  op_name(e.kind), "' (shape ", e.inputs[j].shape().to_string(),
                  ") was modified in place after the op ran, so its gradient would be wrong\n"
                  "  help: compute gradients before assigning to variables the forward pass read");
    }
    std::vector<Tensor> grad_in(e.inputs.size());
    VjpContext ctx{e.inputs, e.output, grad_out, e.attrs};
    op_def(e.kind).vjp(ctx, grad_in);
    for (size_t j = 0; j < e.inputs.size(); ++j) {
      // Only watched tensors and tensors made under the tape take gradients,
      // as in TensorFlow: an unwatched constant gets none.
      if (!grad_in[j].defined() || !is_floating(e.inputs[j].dtype()) || tracked_.count(e.inputs[j].id()) == 0) {
        continue;
      }
      GRAFT_INTERNAL_ASSERT(grad_in[j].shape() == e.inputs[j].shape(), "vjp of ", op_name(e.kind), " gave shape ",
                            grad_in[j].shape().to_string(), " for input ", j, " of shape ",
                            e.inputs[j].shape().to_string());
      auto [slot, inserted] = grads.try_emplace(e.inputs[j].id(), grad_in[j]);
      if (!inserted) slot->second = slot->second + grad_in[j];
    }
  }

  std::vector<std::optional<Tensor>> result;
  result.reserve(sources.size());
  for (const Tensor& s : sources) {
    auto it = grads.find(s.id());
    if (it == grads.end() || !is_floating(s.dtype()) || tracked_.count(s.id()) == 0) {
      result.emplace_back();
    } else {
      result.emplace_back(it->second);
    }
  }
  if (!persistent_) {
    used_ = true;
    entries_.clear();
    entries_.shrink_to_fit();
    tracked_.clear();
  }
  return result;
}

namespace autodiff::internal {

void watch_on_active_tapes(const Tensor& t) {
  for (GradientTape* tape : t_tapes) tape->watch(t);
}

}  // namespace autodiff::internal
}  // namespace graft
