// Edits of convolutional blocks (and zero-fanout widening of any layer): the
// changed layer's output units, a BatchNorm's channels after it, and the next
// layer's inputs move together, through pooling and Flatten.
#include <algorithm>
#include <cmath>
#include <functional>

#include "graft/edit/internal/transaction.h"
#include "graft/nn/batch_norm.h"
#include "graft/nn/conv.h"
#include "graft/nn/layers.h"
#include "graft/ops/ops.h"
#include "graft/tensor/random.h"

namespace graft::edit {

const char* unit_init_name(UnitInit init) {
  switch (init) {
    case UnitInit::kDuplicate: return "duplicate";
    case UnitInit::kZeroFanout: return "zero_fanout";
  }
  return "?";
}

std::vector<size_t> conv_positions(const nn::Sequential& model) {
  std::vector<size_t> out;
  for (size_t i = 0; i < model.size(); ++i) {
    if (std::dynamic_pointer_cast<nn::Conv2d>(model.at(i))) out.push_back(i);
  }
  return out;
}

namespace internal {
namespace {

// New unit j is old unit src[j], or fresh when src[j] < 0; on the outgoing
// side its weights are scaled by scale[j].
struct UnitMap {
  std::vector<int64_t> src;
  std::vector<double> scale;
};

// How one variable of an edited layer follows the units: along `axis`, where
// each unit spans `span` consecutive entries. Incoming variables copy their
// source's entries (fresh ones from `fresh`, zeros when undefined);
// outgoing variables also scale them.
struct UnitAxis {
  int axis = 0;
  int64_t span = 1;
  bool outgoing = false;
  Tensor fresh;
};

// t viewed as [outer, n * span, inner] along `axis`: block j of the result is
// block src[j] of t times scale[j]^power, or block j of `fresh` (zeros when
// undefined) for a fresh unit.
Tensor select_blocks(const Tensor& t, const UnitAxis& a, const UnitMap& map, int power, const Tensor& fresh) {
  const Shape& shape = t.shape();
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < a.axis; ++d) outer *= shape[d];
  for (int d = a.axis + 1; d < shape.rank(); ++d) inner *= shape[d];
  const int64_t n = shape[a.axis] / a.span, m = static_cast<int64_t>(map.src.size()), block = a.span * inner;
  Shape out_shape = shape;
  out_shape.set_dim(a.axis, m * a.span);
  const std::vector<double> in = t.to_vector<double>();
  const std::vector<double> fr = fresh.defined() ? fresh.to_vector<double>() : std::vector<double>();
  std::vector<double> out(static_cast<size_t>(outer * m * block), 0.0);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < m; ++j) {
      const int64_t dst = (o * m + j) * block, s = map.src[j];
      const double scale = s >= 0 && power > 0 ? std::pow(map.scale[j], power) : 1.0;
      for (int64_t k = 0; k < block; ++k) {
        out[dst + k] = s >= 0 ? in[(o * n + s) * block + k] * scale : (fr.empty() ? 0.0 : fr[dst + k]);
      }
    }
  }
  return to_dtype(out, out_shape, t.dtype());
}

// Squared L2 norm of each unit's block along `a` (outgoing weights).
std::vector<double> block_norms(const Tensor& t, const UnitAxis& a) {
  const Shape& shape = t.shape();
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < a.axis; ++d) outer *= shape[d];
  for (int d = a.axis + 1; d < shape.rank(); ++d) inner *= shape[d];
  const int64_t n = shape[a.axis] / a.span, block = a.span * inner;
  const std::vector<double> in = t.to_vector<double>();
  std::vector<double> norms(static_cast<size_t>(n), 0.0);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t u = 0; u < n; ++u)
      for (int64_t k = 0; k < block; ++k) norms[u] += in[(o * n + u) * block + k] * in[(o * n + u) * block + k];
  return norms;
}

// One edited layer: its variables in a fixed order (null handles for absent
// ones), how to replace them, and how each follows the units (nullopt: kept).
struct LayerEdit {
  std::function<std::vector<Variable>()> variables;
  std::function<void(const std::vector<Tensor>&, const std::string&)> replace;
  std::vector<std::optional<UnitAxis>> axes;
};

LayerEdit edit_of(const std::shared_ptr<nn::Conv2d>& conv) {
  return {[conv] { return std::vector<Variable>{conv->kernel(), conv->bias()}; },
          [conv](const std::vector<Tensor>& v, const std::string& reason) { conv->replace_weights(v[0], v[1], reason); },
          {}};
}
LayerEdit edit_of(const std::shared_ptr<nn::Linear>& linear) {
  return {[linear] { return std::vector<Variable>{linear->kernel(), linear->bias()}; },
          [linear](const std::vector<Tensor>& v, const std::string& reason) {
            linear->replace_weights(v[0], v[1], reason);
          },
          {}};
}
LayerEdit edit_of(const std::shared_ptr<nn::BatchNorm>& bn) {
  return {[bn] { return std::vector<Variable>{bn->gamma(), bn->beta(), bn->moving_mean(), bn->moving_variance()}; },
          [bn](const std::vector<Tensor>& v, const std::string& reason) {
            bn->replace_parameters(v[0], v[1], v[2], v[3], reason);
          },
          {}};
}

std::vector<Tensor> values_of(const std::vector<Variable>& vars) {
  std::vector<Tensor> out;
  for (const Variable& v : vars) out.push_back(v.defined() ? v.raw_value().clone() : Tensor());
  return out;
}

// A layer's values and optimizer slots before the edit, to roll back.
struct Snapshot {
  std::vector<Tensor> values;
  std::vector<std::vector<Tensor>> slots;
};

Snapshot snapshot(const LayerEdit& e, optim::Optimizer* opt) {
  Snapshot s{values_of(e.variables()), {}};
  for (const Variable& v : e.variables()) {
    std::vector<Tensor> slots;
    if (opt != nullptr && v.defined()) {
      for (const Variable& slot : opt->slots_of(v)) slots.push_back(slot.raw_value().clone());
    }
    s.slots.push_back(std::move(slots));
  }
  return s;
}

using SlotMove = std::function<Tensor(size_t variable, std::string_view slot, const Tensor& value)>;

// Replaces the layer's variables by `values`, moving each one's slots by
// `move` (given the index of the variable).
void replace(const LayerEdit& e, const std::vector<Tensor>& values, optim::Optimizer* opt, const std::string& reason,
             const SlotMove& move) {
  const std::vector<Variable> old = e.variables();
  e.replace(values, reason);
  if (opt == nullptr) return;
  const std::vector<Variable> fresh = e.variables();
  for (size_t i = 0; i < old.size(); ++i) {
    if (!old[i].defined()) continue;
    opt->transfer_slots(old[i], fresh[i], [&](std::string_view slot, const Tensor& v) { return move(i, slot, v); });
  }
}

void restore(const LayerEdit& e, const Snapshot& s, optim::Optimizer* opt, const std::string& reason) {
  std::vector<size_t> next(s.slots.size(), 0);
  replace(e, s.values, opt, reason, [&](size_t i, std::string_view, const Tensor&) { return s.slots[i].at(next[i]++); });
}

// Applies `map` to a layer: each variable with an axis follows the units,
// its slots too (zeros for fresh units; an outgoing second moment, Adam's v,
// scales by the square); the others are kept.
void apply_map(const LayerEdit& e, const Snapshot& before, const UnitMap& map, optim::Optimizer* opt,
               const std::string& reason) {
  const std::vector<Variable> vars = e.variables();
  std::vector<Tensor> values;
  for (size_t i = 0; i < vars.size(); ++i) {
    const auto& a = e.axes[i];
    values.push_back(a && before.values[i].defined() ? select_blocks(before.values[i], *a, map, a->outgoing ? 1 : 0, a->fresh)
                                                     : before.values[i]);
  }
  replace(e, values, opt, reason, [&](size_t i, std::string_view slot, const Tensor& v) {
    const auto& a = e.axes[i];
    if (!a || v.shape() != vars[i].shape()) return v;  // scalar slots (a step count) pass through
    return select_blocks(v, *a, map, a->outgoing ? (slot == "v" ? 2 : 1) : 0, Tensor());
  });
}

// The layer whose units change, what follows it, and how the next layer's
// inputs see each unit.
struct Chain {
  std::shared_ptr<nn::Module> layer;
  int64_t width = 0;
  LayerEdit unit_edit;
  std::shared_ptr<nn::BatchNorm> bn;
  std::shared_ptr<nn::Module> consumer;
  LayerEdit consumer_edit;
};

Chain follow(const nn::Sequential& model, size_t index, const char* edit) {
  GRAFT_CHECK(index < model.size(), edit, ": position ", index, " is out of range for '", model.path(), "' with ",
              model.size(), " layers");
  Chain c;
  c.layer = model.at(index);
  const std::string where = graft::base::internal::str(edit, ": layer ", index, " ('", c.layer->path(), "')");
  auto check_built = [&](const std::shared_ptr<nn::Module>& m) {
    GRAFT_CHECK(m->built(), edit, ": layer '", m->path(), "' is not built yet\n"
                "  help: run the model once (or build()) before editing it");
  };
  check_built(c.layer);
  if (auto conv = std::dynamic_pointer_cast<nn::Conv2d>(c.layer)) {
    GRAFT_CHECK(conv->options().geometry().groups() == 1, where, " is a grouped convolution (",
                conv->options().geometry().groups(), " groups); channel edits need groups == 1");
    c.width = conv->out_channels();
    c.unit_edit = edit_of(conv);
    c.unit_edit.axes = {UnitAxis{0, 1, false, {}}, UnitAxis{0, 1, false, {}}};
  } else if (auto linear = std::dynamic_pointer_cast<nn::Linear>(c.layer)) {
    c.width = linear->options().out_features();
    c.unit_edit = edit_of(linear);
    c.unit_edit.axes = {UnitAxis{1, 1, false, {}}, UnitAxis{0, 1, false, {}}};
  } else {
    graft::base::internal::throw_error<ValueError>(where, " is ", c.layer->describe(), ", expected a Conv2d or a Linear");
  }
  for (size_t i = index + 1; i < model.size(); ++i) {
    std::shared_ptr<nn::Module> next = model.at(i);
    if (auto bn = std::dynamic_pointer_cast<nn::BatchNorm>(next); bn != nullptr && c.bn == nullptr) {
      check_built(bn);
      c.bn = bn;
      continue;
    }
    if (auto conv = std::dynamic_pointer_cast<nn::Conv2d>(next)) {
      check_built(conv);
      GRAFT_CHECK(conv->options().geometry().groups() == 1 && conv->in_channels() == c.width, edit, ": the next layer '",
                  conv->path(), "' (", conv->describe(), ") does not take the ", c.width, " channels of '",
                  c.layer->path(), "' one to one");
      c.consumer = conv;
      c.consumer_edit = edit_of(conv);
      c.consumer_edit.axes = {UnitAxis{1, 1, true, {}}, std::nullopt};
      return c;
    }
    if (auto linear = std::dynamic_pointer_cast<nn::Linear>(next)) {
      check_built(linear);
      // Through Flatten each channel spans H x W consecutive inputs.
      const int64_t in = linear->in_features();
      GRAFT_CHECK(in % c.width == 0, edit, ": the next layer '", linear->path(), "' has ", in,
                  " inputs, which do not split into the ", c.width, " units of '", c.layer->path(), "'");
      c.consumer = linear;
      c.consumer_edit = edit_of(linear);
      c.consumer_edit.axes = {UnitAxis{0, in / c.width, true, {}}, std::nullopt};
      return c;
    }
    GRAFT_CHECK(next->variables().empty(), edit, ": layer ", i, " of '", model.path(), "' (", next->describe(),
                ") has variables but is not a BatchNorm, Conv2d or Linear, so it cannot follow the change");
  }
  graft::base::internal::throw_error<ValueError>(where, " is the last layer with weights; there is no next layer to take "
                                           "the change\n  help: widen or prune a hidden layer, not the output layer");
}

// He uniform values of `shape` whose fan in is `fan_in`.
Tensor he_uniform(const Shape& shape, int64_t fan_in, uint64_t seed, DType dtype) {
  const double limit = std::sqrt(6.0 / static_cast<double>(fan_in));
  return random_uniform(shape, seed, -limit, limit, dtype);
}

// Every edited layer of the chain with its snapshot.
struct ChainState {
  std::vector<LayerEdit> edits;
  std::vector<Snapshot> snapshots;
};

ChainState snapshot_chain(Chain& c, optim::Optimizer* opt) {
  ChainState s;
  s.edits.push_back(c.unit_edit);
  if (c.bn != nullptr) {
    LayerEdit e = edit_of(c.bn);
    e.axes.assign(4, UnitAxis{0, 1, false, {}});
    s.edits.push_back(e);
  }
  s.edits.push_back(c.consumer_edit);
  for (const LayerEdit& e : s.edits) s.snapshots.push_back(snapshot(e, opt));
  return s;
}

EditReport edit_units(nn::Sequential& model, ChainState& s, const UnitMap& map, const EditOptions& options,
                      const std::string& reason, bool verify) {
  auto apply = [&] {
    for (size_t i = 0; i < s.edits.size(); ++i) apply_map(s.edits[i], s.snapshots[i], map, options.optimizer(), reason);
  };
  auto undo = [&] {
    for (size_t i = 0; i < s.edits.size(); ++i) {
      restore(s.edits[i], s.snapshots[i], options.optimizer(), "rollback of the " + reason);
    }
  };
  return transaction(model, options, reason, verify, apply, undo);
}

}  // namespace

EditReport widen_units(nn::Sequential& model, size_t index, int64_t units, const EditOptions& options) {
  Chain c = follow(model, index, "widen");
  const bool conv = std::dynamic_pointer_cast<nn::Conv2d>(c.layer) != nullptr;
  const int64_t h = c.width;
  GRAFT_CHECK(units > h, "widen: layer ", index, " ('", c.layer->path(), "') has ", h, conv ? " channels" : " units",
              "; widening needs more, got ", units, "\n  help: use prune to make a layer smaller");
  GRAFT_CHECK(options.noise() == 0, "widen of '", c.layer->path(), "': noise applies to a Linear widened by duplicate, "
              "got noise ", options.noise(), " with init ", unit_init_name(options.init()),
              "\n  help: use UnitInit::kZeroFanout to start new units without symmetry");
  const std::string reason = graft::base::internal::str("widen of '", c.layer->path(), "' to ", units, conv ? " channels" : " units",
                                                  options.init() == UnitInit::kZeroFanout ? " (zero_fanout)" : "");
  reserve_widened(c.unit_edit.variables()[0], conv ? 0 : 1, units, reason);
  UnitMap map;
  std::vector<int64_t> count(static_cast<size_t>(h), 1);
  for (int64_t j = 0; j < units; ++j) {
    int64_t s = j;
    if (j >= h) {
      switch (options.init()) {
        case UnitInit::kDuplicate: s = static_cast<int64_t>(random_bits(options.seed(), static_cast<uint64_t>(j)) % h); ++count[s]; break;
        case UnitInit::kZeroFanout: s = -1; break;
      }
    }
    map.src.push_back(s);
  }
  for (int64_t j = 0; j < units; ++j) map.scale.push_back(map.src[j] >= 0 ? 1.0 / static_cast<double>(count[map.src[j]]) : 1.0);

  // Fresh units: random incoming weights, zero bias, an identity batch-norm
  // channel; their outgoing weights stay zero (select_blocks' default).
  const Variable kernel = c.unit_edit.variables()[0];
  Shape fresh_shape = kernel.shape();
  fresh_shape.set_dim(conv ? 0 : 1, units);
  const int64_t fan_in = kernel.shape().numel() / h;
  c.unit_edit.axes[0]->fresh = he_uniform(fresh_shape, fan_in, derive_seed(options.seed(), 0x67726f77), kernel.dtype());
  ChainState s = snapshot_chain(c, options.optimizer());
  if (c.bn != nullptr) {
    const DType dt = c.bn->moving_mean().dtype();
    s.edits[1].axes[0]->fresh = ones({units}, dt);  // gamma
    s.edits[1].axes[3]->fresh = ones({units}, dt);  // moving_variance
  }
  return edit_units(model, s, map, options, reason, /*verify=*/true);
}

EditReport prune_conv(nn::Sequential& model, size_t index, int64_t units, const EditOptions& options) {
  Chain c = follow(model, index, "prune");
  const int64_t h = c.width;
  GRAFT_CHECK(units >= 1 && units < h, "prune: layer ", index, " ('", c.layer->path(), "') has ", h,
              " channels; pruning keeps between 1 and ", h - 1, ", got ", units);
  // Keep the channels whose outgoing weights are strongest.
  std::vector<double> norms = block_norms(c.consumer_edit.variables()[0].raw_value(), *c.consumer_edit.axes[0]);
  std::vector<int64_t> order(static_cast<size_t>(h));
  for (int64_t u = 0; u < h; ++u) order[u] = u;
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return norms[a] > norms[b]; });
  UnitMap map;
  map.src.assign(order.begin(), order.begin() + units);
  std::sort(map.src.begin(), map.src.end());
  map.scale.assign(map.src.size(), 1.0);
  ChainState s = snapshot_chain(c, options.optimizer());
  const std::string reason = graft::base::internal::str("prune of '", c.layer->path(), "' to ", units, " channels");
  return edit_units(model, s, map, options, reason, /*verify=*/false);
}

EditReport deepen_conv(nn::Sequential& model, size_t index, const EditOptions& options) {
  auto conv = std::dynamic_pointer_cast<nn::Conv2d>(model.at(index));
  GRAFT_CHECK(conv->built(), "deepen: layer '", conv->path(), "' is not built yet\n"
              "  help: run the model once (or build()) before editing it");
  const int64_t ch = conv->out_channels();
  const DType dtype = conv->kernel().dtype();
  // The block: the conv, then a BatchNorm and a ReLU when they follow.
  size_t end = index + 1;
  std::shared_ptr<nn::BatchNorm> block_bn;
  if (end < model.size() && (block_bn = std::dynamic_pointer_cast<nn::BatchNorm>(model.at(end)))) ++end;
  const bool relu = end < model.size() && std::dynamic_pointer_cast<nn::ReLU>(model.at(end)) != nullptr;
  if (relu) ++end;
  std::vector<int64_t> centres(static_cast<size_t>(ch));
  for (int64_t c = 0; c < ch; ++c) centres[c] = (c * ch + c) * 9 + 4;  // centre tap of [c, c, 3, 3]
  const Tensor identity = ones_at({ch, ch, 3, 3}, dtype, centres);
  const nn::BatchNormOptions bn_options = block_bn ? block_bn->options() : nn::BatchNormOptions();
  const std::string reason = graft::base::internal::str("deepen after '", conv->path(), "' (identity Conv2d(", ch,
                                                  ", 3x3) + BatchNorm", relu ? " + ReLU" : "", ")");
  size_t inserted = 0;
  auto apply = [&] {
    auto id_conv = model.insert(end, nn::Conv2d(nn::Conv2dOptions(ch, 3).padding(1).bias(false).kernel_init(
                                         init::from_tensor(identity))));
    ++inserted;
    auto bn = model.insert(end + 1, nn::BatchNorm(bn_options));
    ++inserted;
    if (relu) {
      model.insert(end + 2, nn::ReLU());
      ++inserted;
    }
    id_conv->build(Shape{1, ch, 3, 3}, dtype);
    bn->build(Shape{1, ch, 1, 1}, dtype);
    // In evaluation mode (x - 0) / sqrt(1 + eps) * sqrt(1 + eps) + 0 = x.
    bn->gamma().assign(full({ch}, std::sqrt(1.0 + bn_options.eps()), dtype));
  };
  auto undo = [&] {
    for (; inserted > 0; --inserted) model.remove(end + inserted - 1);
  };
  return transaction(model, options, reason, /*verify=*/true, apply, undo);
}

}  // namespace internal
}  // namespace graft::edit
