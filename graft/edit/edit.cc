#include "graft/edit/edit.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "graft/edit/internal/transaction.h"
#include "graft/nn/conv.h"
#include "graft/nn/layers.h"
#include "graft/ops/ops.h"
#include "graft/tensor/random.h"

namespace graft::edit {
namespace {

using internal::to_dtype;
using internal::transaction;

// A change of one layer's units: new unit j takes old unit src[j]; the next
// layer's input row j is scaled by scale[j].
struct UnitMap {
  std::vector<int64_t> src;
  std::vector<double> scale;
};

// [r, c] -> [r, n]: column j of the result is column src[j].
Tensor gather_columns(const Tensor& t, const std::vector<int64_t>& src, const std::vector<double>* noise = nullptr) {
  const int64_t r = t.dim(0), c = t.dim(1), n = static_cast<int64_t>(src.size());
  std::vector<double> in = t.to_vector<double>(), out(static_cast<size_t>(r * n));
  for (int64_t i = 0; i < r; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      out[i * n + j] = in[i * c + src[j]] + (noise ? (*noise)[i * n + j] : 0.0);
    }
  }
  return to_dtype(out, {r, n}, t.dtype());
}

Tensor gather_vector(const Tensor& t, const std::vector<int64_t>& src) {
  std::vector<double> in = t.to_vector<double>(), out;
  for (int64_t s : src) out.push_back(in[s]);
  return to_dtype(out, {static_cast<int64_t>(src.size())}, t.dtype());
}

// [r, c] -> [n, c]: row j of the result is row src[j] times scale[j]^power.
Tensor gather_rows(const Tensor& t, const UnitMap& map, int power) {
  const int64_t c = t.dim(1), n = static_cast<int64_t>(map.src.size());
  std::vector<double> in = t.to_vector<double>(), out(static_cast<size_t>(n * c));
  for (int64_t j = 0; j < n; ++j) {
    double s = std::pow(map.scale[j], power);
    for (int64_t k = 0; k < c; ++k) out[j * c + k] = in[map.src[j] * c + k] * s;
  }
  return to_dtype(out, {n, c}, t.dtype());
}

std::shared_ptr<nn::Linear> linear_at(const nn::Sequential& model, size_t index, const char* edit) {
  GRAFT_CHECK(index < model.size(), edit, ": position ", index, " is out of range for '", model.path(), "' with ",
              model.size(), " layers");
  auto layer = std::dynamic_pointer_cast<nn::Linear>(model.at(index));
  GRAFT_CHECK(layer != nullptr, edit, ": layer ", index, " of '", model.path(), "' is ", model.at(index)->describe(),
              ", expected a Conv2d or a Linear");
  GRAFT_CHECK(layer->kernel().defined(), edit, ": layer ", index, " ('", layer->path(),
              "') is not built yet\n  help: run the model once (or build()) before editing it");
  return layer;
}

// The next Linear after `index`, past layers without variables.
std::shared_ptr<nn::Linear> next_linear(const nn::Sequential& model, size_t index, const char* edit) {
  for (size_t i = index + 1; i < model.size(); ++i) {
    if (auto l = std::dynamic_pointer_cast<nn::Linear>(model.at(i))) return linear_at(model, i, edit);
    GRAFT_CHECK(model.at(i)->variables().empty(), edit, ": layer ", i, " of '", model.path(), "' (",
                model.at(i)->describe(), ") has variables but is not a Linear, so its input side cannot follow");
  }
  graft::base::internal::throw_error<ValueError>(edit, ": layer ", index, " of '", model.path(),
                                    "' is the last Linear; there is no next layer to take the change\n"
                                    "  help: widen or prune a hidden layer, not the output layer");
}

// Snapshots a Linear's weights and optimizer slots, to roll back.
struct LayerState {
  std::shared_ptr<nn::Linear> layer;
  Tensor kernel, bias;
  std::vector<std::pair<Variable, std::vector<Tensor>>> slots;  // per variable, by slot order
};

LayerState snapshot(const std::shared_ptr<nn::Linear>& layer, optim::Optimizer* opt) {
  LayerState s{layer, layer->kernel().raw_value().clone(),
               layer->bias().defined() ? layer->bias().raw_value().clone() : Tensor(), {}};
  if (opt) {
    for (const Variable& v : {layer->kernel(), layer->bias()}) {
      if (!v.defined()) continue;
      std::vector<Tensor> values;
      for (const Variable& slot : opt->slots_of(v)) values.push_back(slot.raw_value().clone());
      s.slots.emplace_back(v, values);
    }
  }
  return s;
}

// Replaces a Linear's weights and moves its slots with `kernel_slot` and
// `bias_slot` (slot name, old value) -> new value.
void replace(const std::shared_ptr<nn::Linear>& layer, const Tensor& kernel, const Tensor& bias, optim::Optimizer* opt,
             const std::string& reason,
             const std::function<Tensor(std::string_view, const Tensor&)>& kernel_slot,
             const std::function<Tensor(std::string_view, const Tensor&)>& bias_slot) {
  Variable old_kernel = layer->kernel(), old_bias = layer->bias();
  layer->replace_weights(kernel, bias, reason);
  if (opt == nullptr) return;
  opt->transfer_slots(old_kernel, layer->kernel(), kernel_slot);
  if (old_bias.defined()) opt->transfer_slots(old_bias, layer->bias(), bias_slot);
}

void restore(const LayerState& s, optim::Optimizer* opt, const std::string& reason) {
  Variable old_kernel = s.layer->kernel(), old_bias = s.layer->bias();
  s.layer->replace_weights(s.kernel, s.bias, reason);
  if (opt == nullptr) return;
  Variable fresh[2] = {s.layer->kernel(), s.layer->bias()};
  Variable old[2] = {old_kernel, old_bias};
  for (size_t k = 0; k < s.slots.size(); ++k) {
    size_t slot_index = 0;
    const std::vector<Tensor>& values = s.slots[k].second;
    opt->transfer_slots(old[k], fresh[k], [&](std::string_view, const Tensor&) { return values.at(slot_index++); });
  }
}

Tensor identity_slot(std::string_view, const Tensor& value) { return value; }

bool is_conv(const nn::Sequential& model, size_t index) {
  return index < model.size() && std::dynamic_pointer_cast<nn::Conv2d>(model.at(index)) != nullptr;
}

}  // namespace

std::vector<size_t> linear_positions(const nn::Sequential& model) {
  std::vector<size_t> out;
  for (size_t i = 0; i < model.size(); ++i) {
    if (std::dynamic_pointer_cast<nn::Linear>(model.at(i))) out.push_back(i);
  }
  return out;
}

EditReport widen(nn::Sequential& model, size_t index, int64_t units, const EditOptions& options) {
  internal::check_can_edit("widen", options);
  if (is_conv(model, index) || options.init() == UnitInit::kZeroFanout) {
    return internal::widen_units(model, index, units, options);
  }
  auto l1 = linear_at(model, index, "widen");
  auto l2 = next_linear(model, index, "widen");
  const int64_t h = l1->options().out_features();
  GRAFT_CHECK(units > h, "widen: layer ", index, " ('", l1->path(), "') has ", h, " units; widening needs more, got ",
              units, "\n  help: use prune to make a layer smaller");
  const std::string reason = "widen of '" + l1->path() + "' to " + std::to_string(units) + " units";
  internal::reserve_widened(l1->kernel(), 1, units, reason);
  internal::reserve_widened(l2->kernel(), 0, units, reason);
  UnitMap map;
  std::vector<int64_t> count(static_cast<size_t>(h), 0);
  for (int64_t j = 0; j < units; ++j) {
    int64_t s = j < h ? j : static_cast<int64_t>(random_bits(options.seed(), static_cast<uint64_t>(j)) % h);
    map.src.push_back(s);
    ++count[s];
  }
  for (int64_t j = 0; j < units; ++j) map.scale.push_back(1.0 / static_cast<double>(count[map.src[j]]));
  std::vector<double> noise;
  if (options.noise() > 0) {
    noise.assign(static_cast<size_t>(l1->in_features() * units), 0.0);
    std::vector<double> draws(noise.size());
    fill_normal(draws.data(), static_cast<int64_t>(draws.size()), derive_seed(options.seed(), 1), 0.0, options.noise());
    for (int64_t i = 0; i < l1->in_features(); ++i)
      for (int64_t j = h; j < units; ++j) noise[i * units + j] = draws[i * units + j];
  }
  LayerState s1 = snapshot(l1, options.optimizer()), s2 = snapshot(l2, options.optimizer());
  auto apply = [&] {
    // Slots follow the weights: copies take their source's moments; the
    // next layer's rows scale like the weights (v, a second moment, twice).
    auto cols = [&](std::string_view, const Tensor& v) { return v.rank() == 2 ? gather_columns(v, map.src) : v; };
    auto vec = [&](std::string_view, const Tensor& v) { return v.rank() == 1 ? gather_vector(v, map.src) : v; };
    auto rows = [&](std::string_view slot, const Tensor& v) {
      return v.rank() == 2 ? gather_rows(v, map, slot == "v" ? 2 : 1) : v;
    };
    replace(l1, gather_columns(s1.kernel, map.src, noise.empty() ? nullptr : &noise),
            s1.bias.defined() ? gather_vector(s1.bias, map.src) : Tensor(), options.optimizer(), reason, cols, vec);
    replace(l2, gather_rows(s2.kernel, map, 1), s2.bias, options.optimizer(), reason, rows, identity_slot);
  };
  auto undo = [&] {
    restore(s1, options.optimizer(), "rollback of the " + reason);
    restore(s2, options.optimizer(), "rollback of the " + reason);
  };
  return transaction(model, options, reason, /*verify=*/options.noise() == 0, apply, undo);
}

EditReport deepen(nn::Sequential& model, size_t index, const EditOptions& options) {
  internal::check_can_edit("deepen", options);
  if (is_conv(model, index)) return internal::deepen_conv(model, index, options);
  auto l1 = linear_at(model, index, "deepen");
  const int64_t h = l1->options().out_features();
  std::vector<int64_t> diagonal(static_cast<size_t>(h));
  for (int64_t i = 0; i < h; ++i) diagonal[i] = i * h + i;
  Tensor identity = internal::ones_at({h, h}, l1->kernel().dtype(), diagonal);
  std::string reason = "deepen after '" + l1->path() + "' (identity Linear(" + std::to_string(h) + "))";
  auto apply = [&] {
    auto layer = model.insert(index + 1, nn::Linear(nn::LinearOptions(h)
                                                        .activation(l1->options().activation())
                                                        .bias(true)
                                                        .kernel_init(init::from_tensor(identity))
                                                        .bias_init(init::zeros())));
    layer->build(Shape{1, h}, l1->kernel().dtype());
  };
  auto undo = [&] { model.remove(index + 1); };
  return transaction(model, options, reason, /*verify=*/true, apply, undo);
}

EditReport prune(nn::Sequential& model, size_t index, int64_t units, const EditOptions& options) {
  internal::check_can_edit("prune", options);
  if (is_conv(model, index)) return internal::prune_conv(model, index, units, options);
  auto l1 = linear_at(model, index, "prune");
  auto l2 = next_linear(model, index, "prune");
  const int64_t h = l1->options().out_features();
  GRAFT_CHECK(units >= 1 && units < h, "prune: layer ", index, " ('", l1->path(), "') has ", h,
              " units; pruning keeps between 1 and ", h - 1, ", got ", units);
  // Keep the units whose outgoing weights are strongest.
  std::vector<double> k2 = l2->kernel().raw_value().to_vector<double>();
  const int64_t out = l2->options().out_features();
  std::vector<std::pair<double, int64_t>> norms;
  for (int64_t u = 0; u < h; ++u) {
    double n = 0;
    for (int64_t k = 0; k < out; ++k) n += k2[u * out + k] * k2[u * out + k];
    norms.emplace_back(-n, u);
  }
  std::sort(norms.begin(), norms.end());
  UnitMap map;
  for (int64_t i = 0; i < units; ++i) map.src.push_back(norms[i].second);
  std::sort(map.src.begin(), map.src.end());
  map.scale.assign(map.src.size(), 1.0);
  LayerState s1 = snapshot(l1, options.optimizer()), s2 = snapshot(l2, options.optimizer());
  std::string reason = "prune of '" + l1->path() + "' to " + std::to_string(units) + " units";
  auto apply = [&] {
    auto cols = [&](std::string_view, const Tensor& v) { return v.rank() == 2 ? gather_columns(v, map.src) : v; };
    auto vec = [&](std::string_view, const Tensor& v) { return v.rank() == 1 ? gather_vector(v, map.src) : v; };
    auto rows = [&](std::string_view, const Tensor& v) { return v.rank() == 2 ? gather_rows(v, map, 1) : v; };
    replace(l1, gather_columns(s1.kernel, map.src), s1.bias.defined() ? gather_vector(s1.bias, map.src) : Tensor(),
            options.optimizer(), reason, cols, vec);
    replace(l2, gather_rows(s2.kernel, map, 1), s2.bias, options.optimizer(), reason, rows, identity_slot);
  };
  return transaction(model, options, reason, /*verify=*/false, apply, [] {});
}

}  // namespace graft::edit
