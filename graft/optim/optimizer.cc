#include "graft/optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "graft/ops/dispatch.h"
#include "graft/ops/ops.h"
#include "graft/trace/function.h"

namespace graft::optim {
namespace {

// FNV-1a over a tensor's bytes, eight at a time (the tail byte by byte):
// has the value changed at all? Every variable is hashed on its first update,
// so after an edit (a recapture) every new variable is: byte at a time, with
// the size recomputed per byte, this was the largest cost of a growth event.
uint64_t fingerprint(const Tensor& t) {
  const auto* p = static_cast<const unsigned char*>(t.raw_data());
  const size_t n = t.nbytes();
  constexpr uint64_t kPrime = 0x100000001b3ULL;
  uint64_t h = 0xcbf29ce484222325ULL;
  size_t i = 0;
  for (; i + sizeof(uint64_t) <= n; i += sizeof(uint64_t)) {
    uint64_t word;
    std::memcpy(&word, p + i, sizeof(word));
    h = (h ^ word) * kPrime;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * kPrime;
  return h;
}

// The scope of `path`'s components under `root`.
Scope scope_of_path(Scope root, std::string_view path) {
  while (!path.empty()) {
    size_t slash = path.find('/');
    root = root.child(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return root;
}

// Throws ValueError when a variable appears twice among `ids` (those with a
// gradient), naming both positions in `vars`.
void check_listed_once(const std::string& optimizer, const std::vector<uint64_t>& ids,
                       const std::vector<Variable>& vars, std::source_location location) {
  // A variable listed twice was updated twice per step (its slots too),
  // silently doubling its learning rate.
  std::vector<uint64_t> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  auto twice = std::adjacent_find(sorted.begin(), sorted.end());
  if (twice == sorted.end()) return;
  std::vector<size_t> at;
  for (size_t i = 0; i < vars.size(); ++i) {
    if (vars[i].id() == *twice) at.push_back(i);
  }
  graft::base::internal::throw_error<ValueError>(
      "optimizer '", optimizer, "': variable '", vars[at[0]].path(), "' is listed twice (positions ", at[0], " and ",
      at[1], " of ", vars.size(), ", at ", base::internal::format_location(location), ")",
      "\n  help: pass each variable once, e.g. model.trainable_variables()");
}

}  // namespace

Optimizer::Optimizer(std::string name, LearningRateSchedule schedule)
    : store_(std::move(name)), schedule_(std::move(schedule)) {
  // float64, so float64 variables see exactly the scheduled rate.
  lr_ = store_.root().variable("learning_rate", {}, init::constant(schedule_(0)),
                               VariableOptions().dtype(DType::kFloat64).trainable(false));
}

Variable Optimizer::slot(const Variable& v, std::string_view slot_name, const Initializer& init,
                         std::optional<Shape> shape) {
  Entry& entry = entries_[v.id()];
  if (!entry.variable.defined()) entry.variable = v;
  for (const auto& [name, s] : entry.slots) {
    if (name == slot_name && !s.is_retired()) return s;
  }
  Variable s = scope_of_path(store_.root(), v.path())
                   .variable(slot_name, shape.value_or(v.shape()), init,
                             VariableOptions().dtype(v.dtype()).trainable(false));
  entry.slots.emplace_back(std::string(slot_name), s);
  return s;
}

void Optimizer::run_update(const Variable& v, OpKind kind, std::span<const Tensor> inputs, const OpAttrs& attrs) {
  if (ops::internal::interceptor() != nullptr) {
    v.assign(apply(kind, inputs, attrs));
    return;
  }
  // Eager: every element is read before it is written, so the kernel may
  // write the variable's own buffer; checked first as apply() checks.
  const OpDef& def = op_def(kind);
  (void)def.infer(def, inputs, attrs);
  run_kernel(def, inputs, v.raw_value(), attrs);
}

void Optimizer::release_retired() {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!it->second.variable.is_retired()) {
      ++it;
      continue;
    }
    for (const Variable& s : slots_of(it->second.variable)) {
      store_.retire(s, "the retirement of '" + it->second.variable.path() + "' (optimizer '" + name() + "')");
    }
    it = entries_.erase(it);
  }
}

void Optimizer::apply_gradients(const std::vector<Variable>& vars, const std::vector<std::optional<Tensor>>& grads,
                                std::source_location location) {
  GRAFT_CHECK(vars.size() == grads.size(), "optimizer '", name(), "': ", vars.size(), " variables but ", grads.size(),
              " gradients (at ", base::internal::format_location(location),
              ")\n  help: pass the same list to tape.gradient() and apply_gradients()");
  release_retired();
  std::vector<uint64_t> updated;
  for (size_t i = 0; i < vars.size(); ++i) {
    if (!grads[i]) continue;
    const Variable& v = vars[i];

    GRAFT_CHECK_AS(ShapeError, grads[i]->shape() == v.shape(), "optimizer '", name(), "': the gradient for '", v.path(),
                   "' has shape ", grads[i]->shape().to_string(), ", the variable ", v.shape().to_string());
    auto [it, fresh] = entries_.try_emplace(v.id());
    if (fresh) {
      it->second.variable = v;
      it->second.first_fingerprint = fingerprint(v.raw_value());
    }
    updated.push_back(v.id());
  }
  check_listed_once(name(), updated, vars, location);
  // The schedule and the counters run on the host at every step, also when
  // this runs inside a compiled function.
  host_call("learning_rate_schedule", [this, updated] {
    // A user's schedule that goes negative runs gradient ascent, and an
    // infinite or NaN rate makes every weight NaN: stop at that step instead.
    const double lr = schedule_(iterations_);
    GRAFT_CHECK(lr >= 0 && std::isfinite(lr), "optimizer '", name(), "': its learning-rate schedule gave ", lr,
                " at step ", iterations_, " (expected a finite number >= 0)",
                "\n  help: check the schedule; a negative rate climbs the loss instead of descending it");
    lr_.assign(Tensor::scalar<double>(lr));
    ++iterations_;
    for (uint64_t id : updated) {
      auto it = entries_.find(id);
      if (it != entries_.end()) ++it->second.updates;
    }
  });
  Tensor lr64 = lr_.value();
  Tensor lr32;
  for (size_t i = 0; i < vars.size(); ++i) {
    if (!grads[i]) continue;
    if (vars[i].dtype() == DType::kFloat64) {
      update(vars[i], *grads[i], lr64);
    } else {
      if (!lr32.defined()) lr32 = cast(lr64, DType::kFloat32);
      update(vars[i], *grads[i], lr32);
    }
  }
}

void Optimizer::transfer_slots(const Variable& from, const Variable& to,
                               const std::function<Tensor(std::string_view, const Tensor&)>& transform) {
  std::vector<std::pair<std::string, Tensor>> values;
  for (const std::string& slot_name : slot_names()) {
    if (auto s = store_.find(store_.name() + "/" + from.path() + "/" + slot_name)) {
      values.emplace_back(slot_name, transform(slot_name, s->raw_value()));
      store_.retire(*s, "an edit of '" + from.path() + "' (optimizer '" + name() + "')");
    }
  }
  int64_t updates = 0;
  if (auto it = entries_.find(from.id()); it != entries_.end()) {
    updates = it->second.updates;
    entries_.erase(it);
  }
  if (values.empty()) return;
  for (const auto& [slot_name, value] : values) {
    slot(to, slot_name, init::from_tensor(value), value.shape());
  }
  Entry& entry = entries_[to.id()];  // made by slot() above, with the new slots
  entry.variable = to;
  entry.updates = updates;
  entry.first_fingerprint = fingerprint(to.raw_value());
}

std::vector<Variable> Optimizer::slots_of(const Variable& v) const {
  std::vector<Variable> out;
  for (const std::string& slot_name : slot_names()) {
    if (auto s = store_.find(store_.name() + "/" + v.path() + "/" + slot_name)) out.push_back(*s);
  }
  return out;
}

std::vector<std::string> Optimizer::diagnose(const std::vector<Variable>& trainable, int64_t min_updates) const {
  std::vector<std::string> out;
  if (iterations_ < min_updates) return out;
  for (const Variable& v : trainable) {
    if (v.is_retired() || !v.trainable()) continue;
    auto it = entries_.find(v.id());
    if (it == entries_.end() || it->second.updates == 0) {
      out.push_back(base::internal::str("variable '", v.path(), "' is trainable but optimizer '", name(),
                                  "' never updated it in ", iterations_, " steps: it got no gradient (is it used in "
                                  "the loss?) or it was not passed to apply_gradients"));
    } else if (fingerprint(v.raw_value()) == it->second.first_fingerprint) {
      out.push_back(base::internal::str("variable '", v.path(), "' has not changed in ", it->second.updates,
                                  " updates: its gradients are zero (a dead relu, a detached path?) or the learning "
                                  "rate is 0"));
    }
  }
  return out;
}

ClippedGradients clip_by_global_norm(const std::vector<std::optional<Tensor>>& grads, double max_norm) {
  // An infinite max_norm made the scale inf / inf: NaN gradients.
  GRAFT_CHECK(max_norm > 0 && std::isfinite(max_norm), "clip_by_global_norm: max_norm must be a finite number > 0, got ",
              max_norm, "\n  help: to leave gradients as they are, do not clip");
  // The squares are summed in float64: in float32 any element above ~1.8e19
  // squared to inf, the norm was inf and the scale max_norm / inf = 0, so
  // the exploding gradients clipping exists for became a silent zero step.
  Tensor total;
  for (const auto& g : grads) {
    if (!g) continue;
    Tensor s = sum(square(cast(*g, DType::kFloat64)));
    total = total.defined() ? total + s : s;
  }
  ClippedGradients out;
  if (!total.defined()) {
    out.gradients = grads;
    out.global_norm = zeros({});
    return out;
  }
  Tensor norm = sqrt(total);
  out.global_norm = cast(norm, DType::kFloat32);
  Tensor scale = max_norm / maximum(norm, scalar_like(max_norm, norm));
  Tensor scale32;
  for (const auto& g : grads) {
    if (!g) {
      out.gradients.emplace_back();
    } else if (g->dtype() == DType::kFloat64) {
      out.gradients.emplace_back(*g * scale);
    } else {
      if (!scale32.defined()) scale32 = cast(scale, g->dtype());
      out.gradients.emplace_back(*g * scale32);
    }
  }
  return out;
}

}  // namespace graft::optim
