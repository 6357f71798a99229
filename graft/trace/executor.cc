#include "graft/trace/executor.h"

#include <algorithm>
#include <map>

#include "graft/ops/dispatch.h"
#include "graft/tensor/allocator.h"

namespace graft::trace {
namespace {

constexpr size_t kAlign = kTensorAlignment;

size_t bytes_of(const TensorMeta& meta) {
  size_t n = static_cast<size_t>(meta.shape.numel()) * dtype_size(meta.dtype);
  return (std::max<size_t>(n, 1) + kAlign - 1) / kAlign * kAlign;
}

// A tensor of `meta` at `offset` in `storage` (no allocation of its own).
Tensor tensor_in(const std::shared_ptr<Storage>& storage, size_t offset, const TensorMeta& meta) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = storage;
  impl->offset_bytes = offset;
  impl->shape = meta.shape;
  impl->dtype = meta.dtype;
  impl->id = next_tensor_id();
  return Tensor(std::move(impl));
}

// First-fit-by-size free list over a growing arena.
class ArenaPlanner {
 public:
  size_t allocate(size_t size) {
    auto best = free_.end();
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second >= size && (best == free_.end() || it->second < best->second)) best = it;
    }
    if (best == free_.end()) {
      size_t offset = size_;
      size_ += size;
      return offset;
    }
    size_t offset = best->first;
    size_t left = best->second - size;
    free_.erase(best);
    if (left > 0) free_[offset + size] = left;
    return offset;
  }

  void release(size_t offset, size_t size) {
    auto [it, inserted] = free_.emplace(offset, size);
    // Merge with the following and the preceding block.
    auto next = std::next(it);
    if (next != free_.end() && it->first + it->second == next->first) {
      it->second += next->second;
      free_.erase(next);
    }
    if (it != free_.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second == it->first) {
        prev->second += it->second;
        free_.erase(it);
      }
    }
  }

  size_t size() const { return size_; }

 private:
  std::map<size_t, size_t> free_;  // offset -> size
  size_t size_ = 0;
};

}  // namespace

Executor::Executor(Graph graph, bool optimize) : graph_(std::move(graph)), optimize_(optimize) {
  stats_.captured_nodes = graph_.nodes.size();
  live_.assign(graph_.nodes.size(), true);
  group_of_node_.assign(graph_.nodes.size(), -1);
  if (optimize_) {
    eliminate_dead_code();
    fold_constants();
    fuse();
  }
  plan();
}

void Executor::eliminate_dead_code() {
  std::vector<bool> needed(graph_.values.size(), false);
  for (int out : graph_.outputs) needed[out] = true;
  for (size_t n = graph_.nodes.size(); n-- > 0;) {
    const Node& node = graph_.nodes[n];
    bool live = node.assign || node.host || needed[node.output];
    live_[n] = live;
    if (!live) {
      ++stats_.dead_nodes;
      continue;
    }
    for (int in : node.inputs) needed[in] = true;
  }
}

void Executor::fold_constants() {
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    Node& node = graph_.nodes[n];
    if (!live_[n] || node.assign || node.host) continue;
    bool all_constant = std::all_of(node.inputs.begin(), node.inputs.end(), [&](int v) {
      return graph_.values[v].source == ValueSource::kConstant;
    });
    if (!all_constant) continue;
    std::vector<Tensor> inputs;
    for (int v : node.inputs) inputs.push_back(graph_.constants[graph_.values[v].index]);
    const OpDef& def = op_def(node.kind);
    Value& out = graph_.values[node.output];
    Tensor result;
    if (def.view_of_input) {
      result = Tensor::view(inputs[0], out.meta.shape);
    } else {
      result = Tensor::empty(out.meta.shape, out.meta.dtype);
      run_kernel(def, inputs, result, node.attrs);
    }
    out.source = ValueSource::kConstant;
    out.index = static_cast<int>(graph_.constants.size());
    graph_.constants.push_back(std::move(result));
    live_[n] = false;
    ++stats_.folded_nodes;
  }
}

// Groups form greedily in program order. A node joins the open group that
// produced one of its inputs when it has the group's shape and dtype and
// every other input can be read by the group. A group closes (takes no more
// members) once a value of it is read outside it, and at every assign or host
// call, so running the whole group at its last member's place never reorders
// a read after a write.
void Executor::fuse() {
  using internal::FusedGroup;
  using internal::InputMode;
  std::vector<int> value_group(graph_.values.size(), -1);
  std::vector<bool> closed;
  std::vector<FusedGroup> groups;
  auto close_all = [&] { std::fill(closed.begin(), closed.end(), true); };
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    if (!live_[n]) continue;
    const Node& node = graph_.nodes[n];
    if (node.assign || node.host) {
      close_all();
      continue;
    }
    const TensorMeta& meta = graph_.values[node.output].meta;
    bool candidate = internal::fusable(node.kind) && is_floating(meta.dtype) && meta.shape.numel() > 0;
    for (int in : node.inputs) candidate &= graph_.values[in].meta.dtype == meta.dtype;
    int join = -1;
    if (candidate) {
      for (int in : node.inputs) {
        int g = value_group[in];
        if (g >= 0 && !closed[g] && groups[g].meta.shape == meta.shape && groups[g].meta.dtype == meta.dtype) {
          join = g;
          break;
        }
      }
      for (int in : node.inputs) {
        InputMode mode;
        int64_t row;
        bool member = join >= 0 && value_group[in] == join;
        if (!member && !internal::input_mode(graph_.values[in].meta.shape, meta.shape, &mode, &row)) candidate = false;
      }
    }
    // Inputs read from other groups close those groups.
    for (int in : node.inputs) {
      int g = value_group[in];
      if (g >= 0 && (!candidate || g != join)) closed[g] = true;
    }
    if (!candidate) continue;
    if (join < 0) {
      join = static_cast<int>(groups.size());
      groups.push_back(FusedGroup{{}, meta, {}, {}, 0, {}});
      closed.push_back(false);
    }
    groups[join].nodes.push_back(static_cast<int>(n));
    value_group[node.output] = join;
  }

  // Keep groups of two or more; compile each into a register program.
  std::vector<bool> used_outside(graph_.values.size(), false);
  for (int out : graph_.outputs) used_outside[out] = true;
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    if (!live_[n]) continue;
    const Node& node = graph_.nodes[n];
    int own = node.output >= 0 ? value_group[node.output] : -1;
    for (int in : node.inputs) {
      if (value_group[in] >= 0 && (value_group[in] != own || node.assign || node.host)) used_outside[in] = true;
    }
  }
  for (FusedGroup& group : groups) {
    if (group.nodes.size() < 2) continue;
    int index = static_cast<int>(groups_.size());
    std::vector<int> reg(graph_.values.size(), -1);
    std::vector<int> input_of(graph_.values.size(), -1);
    for (int n : group.nodes) {
      const Node& node = graph_.nodes[n];
      internal::FusedInstruction ins{node.kind, group.registers++, {}, static_cast<int>(node.inputs.size())};
      for (size_t k = 0; k < node.inputs.size(); ++k) {
        int in = node.inputs[k];
        if (reg[in] >= 0) {
          ins.src[k] = {false, reg[in]};
          continue;
        }
        if (input_of[in] < 0) {
          internal::FusedInput fi{in, InputMode::kFull, 0};
          internal::input_mode(graph_.values[in].meta.shape, group.meta.shape, &fi.mode, &fi.row);
          input_of[in] = static_cast<int>(group.inputs.size());
          group.inputs.push_back(fi);
        }
        ins.src[k] = {true, input_of[in]};
      }
      reg[node.output] = ins.dst;
      group.program.push_back(ins);
      if (used_outside[node.output]) group.outputs.emplace_back(ins.dst, node.output);
      group_of_node_[n] = index;
    }
    stats_.fused_nodes += group.nodes.size();
    groups_.push_back(std::move(group));
  }
  stats_.fused_groups = groups_.size();
}

std::vector<int> Executor::step_inputs(StepKind kind, int index) const {
  if (kind == StepKind::kFused) {
    std::vector<int> out;
    for (const auto& in : groups_[index].inputs) out.push_back(in.value);
    return out;
  }
  return graph_.nodes[index].inputs;
}

std::vector<int> Executor::step_outputs(StepKind kind, int index) const {
  if (kind == StepKind::kFused) {
    std::vector<int> out;
    for (const auto& [reg, value] : groups_[index].outputs) out.push_back(value);
    return out;
  }
  if (kind == StepKind::kKernel) return {graph_.nodes[index].output};
  return {};
}

void Executor::plan() {
  const size_t num_values = graph_.values.size();
  slots_.assign(num_values, Tensor());
  from_args_.assign(num_values, false);
  for (int arg : graph_.arguments) from_args_[arg] = true;
  for (size_t id = 0; id < num_values; ++id) {
    const Value& v = graph_.values[id];
    if (v.source == ValueSource::kExternal) slots_[id] = graph_.externals[v.index];
    if (v.source == ValueSource::kConstant) slots_[id] = graph_.constants[v.index];
  }

  // The schedule: live nodes in order, a fused group at its last member.
  std::vector<std::pair<StepKind, int>> order;
  std::vector<size_t> group_left(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) group_left[g] = groups_[g].nodes.size();
  std::vector<int> base(num_values);
  for (size_t id = 0; id < num_values; ++id) base[id] = static_cast<int>(id);
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    if (!live_[n]) continue;
    const Node& node = graph_.nodes[n];
    int n_index = static_cast<int>(n);
    if (group_of_node_[n] >= 0) {
      if (--group_left[group_of_node_[n]] == 0) order.emplace_back(StepKind::kFused, group_of_node_[n]);
    } else if (node.host) {
      order.emplace_back(StepKind::kHost, n_index);
    } else if (node.assign) {
      order.emplace_back(StepKind::kAssign, n_index);
    } else if (op_def(node.kind).view_of_input) {
      base[node.output] = base[node.inputs[0]];
      from_args_[node.output] = from_args_[node.inputs[0]];
      order.emplace_back(StepKind::kView, n_index);
    } else {
      order.emplace_back(StepKind::kKernel, n_index);
    }
  }

  // Lifetimes of the buffers steps write, in schedule positions.
  std::vector<int> last(num_values, -1);
  std::vector<bool> returned(num_values, false);
  for (int out : graph_.outputs) returned[base[out]] = true;
  for (size_t pos = 0; pos < order.size(); ++pos) {
    auto [kind, index] = order[pos];
    for (int in : step_inputs(kind, index)) last[base[in]] = std::max(last[base[in]], static_cast<int>(pos));
    for (int out : step_outputs(kind, index)) last[out] = std::max(last[out], static_cast<int>(pos));
  }

  // Offsets in the arena, greedily by lifetime.
  ArenaPlanner arena;
  std::vector<size_t> offset(num_values, 0);
  std::vector<std::vector<int>> ending(order.size());
  size_t released = 0;  // positions whose ending buffers are back in the arena
  for (size_t pos = 0; pos < order.size(); ++pos) {
    for (; released < pos; ++released) {
      for (int v : ending[released]) arena.release(offset[v], bytes_of(graph_.values[v].meta));
    }
    auto [kind, index] = order[pos];
    for (int out : step_outputs(kind, index)) {
      const TensorMeta& meta = graph_.values[out].meta;
      if (returned[out]) {
        slots_[out] = Tensor::empty(meta.shape, meta.dtype);
        output_buffers_.push_back({out, {}});
        continue;
      }
      size_t size = bytes_of(meta);
      offset[out] = arena.allocate(size);
      ending[last[out]].push_back(out);
      stats_.unplanned_bytes += size;
      ++stats_.planned_buffers;
    }
  }
  stats_.arena_bytes = arena.size();
  arena_ = std::make_shared<Storage>(std::max<size_t>(arena.size(), 1));

  // Slots and steps.
  for (auto [kind, index] : order) {
    Step step{kind, index, {}, {}};
    for (int out : step_outputs(kind, index)) {
      if (!returned[out]) slots_[out] = tensor_in(arena_, offset[out], graph_.values[out].meta);
    }
    if (kind == StepKind::kView) {
      const Node& node = graph_.nodes[index];
      if (from_args_[node.output]) {
        arg_views_.push_back(static_cast<int>(steps_.size()));
      } else {
        slots_[node.output] = Tensor::view(slots_[node.inputs[0]], graph_.values[node.output].meta.shape);
      }
    }
    if (kind == StepKind::kKernel || kind == StepKind::kFused) ++stats_.kernel_steps;
    steps_.push_back(std::move(step));
  }
  // Views of returned buffers, so a fresh buffer can be swapped in.
  for (OutputBuffer& out : output_buffers_) {
    for (size_t id = 0; id < num_values; ++id) {
      if (static_cast<int>(id) != out.value && base[id] == out.value && slots_[id].defined()) {
        out.views.push_back(static_cast<int>(id));
      }
    }
  }
  // Inputs bound once; argument-derived ones again on every run.
  for (size_t s = 0; s < steps_.size(); ++s) {
    Step& step = steps_[s];
    std::vector<int> ins = step_inputs(step.kind, step.node);
    for (size_t i = 0; i < ins.size(); ++i) {
      step.inputs.push_back(slots_[ins[i]]);
      if (from_args_[ins[i]]) arg_bindings_.push_back({static_cast<int>(s), static_cast<int>(i), ins[i]});
    }
    for (int out : step_outputs(step.kind, step.node)) step.outputs.push_back(slots_[out]);
  }
}

std::vector<Tensor> Executor::run(const std::vector<Tensor>& args) {
  for (size_t i = 0; i < graph_.arguments.size(); ++i) slots_[graph_.arguments[i]] = args[i];
  for (int s : arg_views_) {
    const Node& node = graph_.nodes[steps_[s].node];
    slots_[node.output] = Tensor::view(slots_[node.inputs[0]], graph_.values[node.output].meta.shape);
  }
  for (const Binding& b : arg_bindings_) steps_[b.step].inputs[b.position] = slots_[b.value];
  // A result the caller still holds keeps its buffer; take a fresh one.
  for (const OutputBuffer& out : output_buffers_) {
    const std::shared_ptr<Storage>& storage = slots_[out.value].impl()->storage;
    if (storage.use_count() > static_cast<long>(1 + out.views.size())) {
      auto fresh = std::make_shared<Storage>(storage->nbytes());
      slots_[out.value].impl()->storage = fresh;
      for (int v : out.views) slots_[v].impl()->storage = fresh;
    }
  }

  for (Step& step : steps_) {
    const Node& node = graph_.nodes[step.kind == StepKind::kFused ? groups_[step.node].nodes.back() : step.node];
    switch (step.kind) {
      case StepKind::kKernel:
        run_kernel(op_def(node.kind), step.inputs, slots_[node.output], node.attrs);
        break;
      case StepKind::kFused:
        internal::run_fused(groups_[step.node], step.inputs, step.outputs);
        break;
      case StepKind::kAssign:
        step.inputs[0].copy_from(step.inputs[1]);
        break;
      case StepKind::kHost:
        node.host();
        break;
      case StepKind::kView:
        break;
    }
  }

  std::vector<Tensor> results;
  results.reserve(graph_.outputs.size());
  for (int out : graph_.outputs) {
    const Value& v = graph_.values[out];
    if (v.source == ValueSource::kNode && !from_args_[out]) {
      // A handle of its own on the returned buffer: the caller holding it is
      // what the next run checks.
      results.push_back(Tensor::view(slots_[out], v.meta.shape));
    } else if (v.source == ValueSource::kArgument || from_args_[out]) {
      results.push_back(slots_[out]);
    } else {
      // Variables and constants are returned as snapshots.
      results.push_back(slots_[out].clone());
    }
  }
  return results;
}

}  // namespace graft::trace
