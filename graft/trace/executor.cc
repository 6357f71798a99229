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
  if (optimize_) {
    eliminate_dead_code();
    fold_constants();
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

  // The buffer each node output lives in: its own, or its view source's.
  std::vector<int> base(num_values);
  for (size_t id = 0; id < num_values; ++id) base[id] = static_cast<int>(id);
  std::vector<int> order;
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    if (!live_[n]) continue;
    order.push_back(static_cast<int>(n));
    const Node& node = graph_.nodes[n];
    if (node.output >= 0 && op_def(node.kind).view_of_input) {
      base[node.output] = base[node.inputs[0]];
      from_args_[node.output] = from_args_[node.inputs[0]];
    }
  }

  // Lifetimes of node-output buffers, in step positions.
  std::vector<int> first(num_values, -1), last(num_values, -1);
  std::vector<bool> returned(num_values, false);
  for (int out : graph_.outputs) returned[base[out]] = true;
  for (size_t pos = 0; pos < order.size(); ++pos) {
    const Node& node = graph_.nodes[order[pos]];
    for (int in : node.inputs) last[base[in]] = std::max(last[base[in]], static_cast<int>(pos));
    if (node.output >= 0 && !op_def(node.kind).view_of_input) {
      first[node.output] = static_cast<int>(pos);
      last[node.output] = std::max(last[node.output], static_cast<int>(pos));
    }
  }

  // Offsets in the arena, greedily by lifetime.
  ArenaPlanner arena;
  std::vector<size_t> offset(num_values, 0);
  std::vector<std::vector<int>> ending(order.size());
  for (size_t pos = 0; pos < order.size(); ++pos) {
    const Node& node = graph_.nodes[order[pos]];
    if (node.output < 0 || op_def(node.kind).view_of_input || returned[node.output]) continue;
    size_t size = bytes_of(graph_.values[node.output].meta);
    // Buffers whose last use came before this step are free again.
    for (size_t p = 0; p < pos; ++p) {
      for (int v : ending[p]) arena.release(offset[v], bytes_of(graph_.values[v].meta));
      ending[p].clear();
    }
    offset[node.output] = arena.allocate(size);
    ending[last[node.output]].push_back(node.output);
    stats_.unplanned_bytes += size;
    ++stats_.planned_buffers;
  }
  stats_.arena_bytes = arena.size();
  arena_ = std::make_shared<Storage>(std::max<size_t>(arena.size(), 1));

  // Slots and steps.
  for (int n : order) {
    const Node& node = graph_.nodes[n];
    Step step{StepKind::kKernel, n, {}};
    if (node.host) {
      step.kind = StepKind::kHost;
    } else if (node.assign) {
      step.kind = StepKind::kAssign;
    } else if (op_def(node.kind).view_of_input) {
      step.kind = StepKind::kView;
      const TensorMeta& meta = graph_.values[node.output].meta;
      if (from_args_[node.output]) {
        arg_views_.push_back(static_cast<int>(steps_.size()));
      } else {
        slots_[node.output] = Tensor::view(slots_[node.inputs[0]], meta.shape);
      }
    } else {
      const TensorMeta& meta = graph_.values[node.output].meta;
      if (returned[node.output]) {
        slots_[node.output] = Tensor::empty(meta.shape, meta.dtype);
        output_buffers_.push_back({node.output, {}});
      } else {
        slots_[node.output] = tensor_in(arena_, offset[node.output], meta);
      }
      ++stats_.kernel_steps;
    }
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
    const Node& node = graph_.nodes[steps_[s].node];
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      int v = node.inputs[i];
      steps_[s].inputs.push_back(slots_[v]);
      if (from_args_[v]) arg_bindings_.push_back({static_cast<int>(s), static_cast<int>(i), v});
    }
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
    const Node& node = graph_.nodes[step.node];
    switch (step.kind) {
      case StepKind::kKernel:
        run_kernel(op_def(node.kind), step.inputs, slots_[node.output], node.attrs);
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
