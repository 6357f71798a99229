#include "graft/trace/passes.h"

#include <algorithm>
#include <map>
#include <utility>

#include "graft/ops/dispatch.h"
#include "graft/tensor/allocator.h"

namespace graft::trace {
namespace {

// Keeps the nodes marked in `keep` and the values that are still defined
// (arguments, externals, constants, outputs of kept nodes), renumbering both.
Graph compact(Graph graph, const std::vector<bool>& keep) {
  std::vector<int> node_id(graph.nodes.size(), -1);
  std::vector<Node> nodes;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (!keep[n]) continue;
    node_id[n] = static_cast<int>(nodes.size());
    nodes.push_back(std::move(graph.nodes[n]));
  }
  std::vector<int> value_id(graph.values.size(), -1);
  std::vector<Value> values;
  for (size_t id = 0; id < graph.values.size(); ++id) {
    Value v = graph.values[id];
    if (v.source == ValueSource::kNode) {
      if (node_id[v.index] < 0) continue;
      v.index = node_id[v.index];
    }
    value_id[id] = static_cast<int>(values.size());
    values.push_back(v);
  }
  auto renumber = [&](int& id) {
    GRAFT_INTERNAL_ASSERT(value_id[id] >= 0, "value ", id, " is read but its node was removed");
    id = value_id[id];
  };
  for (Node& node : nodes) {
    for (int& in : node.inputs) renumber(in);
    if (node.output >= 0) renumber(node.output);
  }
  for (int& id : graph.arguments) renumber(id);
  for (int& id : graph.outputs) renumber(id);
  graph.nodes = std::move(nodes);
  graph.values = std::move(values);
  return graph;
}

constexpr size_t kAlign = kTensorAlignment;

size_t bytes_of(const TensorMeta& meta) {
  size_t n = nbytes_of(meta.shape, meta.dtype);
  return (std::max<size_t>(n, 1) + kAlign - 1) / kAlign * kAlign;
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
      // Checked so the arena's size cannot wrap: each value's bytes fit in
      // int64, their sum might not.
      GRAFT_CHECK(size <= kMaxBufferBytes && size_ <= kMaxBufferBytes - size,
                  "a compiled step needs more than ", kMaxBufferBytes, " bytes (2^48) for its intermediate values (",
                  size_, " planned, ", size, " more)\n  help: check the shapes the step was captured with");
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

Graph eliminate_dead_code(Graph graph, ExecutorStats* stats) {
  std::vector<bool> needed(graph.values.size(), false);
  std::vector<bool> live(graph.nodes.size(), false);
  for (int out : graph.outputs) needed[out] = true;
  for (size_t n = graph.nodes.size(); n-- > 0;) {
    const Node& node = graph.nodes[n];
    live[n] = node.assign || node.host || needed[node.output];
    if (!live[n]) {
      ++stats->dead_nodes;
      continue;
    }
    for (int in : node.inputs) needed[in] = true;
  }
  return compact(std::move(graph), live);
}

Graph fold_constants(Graph graph, ExecutorStats* stats) {
  std::vector<bool> keep(graph.nodes.size(), true);
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    if (node.assign || node.host) continue;
    bool all_constant = std::all_of(node.inputs.begin(), node.inputs.end(), [&](int v) {
      return graph.values[v].source == ValueSource::kConstant;
    });
    if (!all_constant) continue;
    std::vector<Tensor> inputs;
    for (int v : node.inputs) inputs.push_back(graph.constants[graph.values[v].index]);
    const OpDef& def = op_def(node.kind);
    Value& out = graph.values[node.output];
    Tensor result;
    if (def.view_of_input) {
      result = Tensor::view(inputs[0], out.meta.shape);
    } else {
      result = Tensor::empty(out.meta.shape, out.meta.dtype);
      run_kernel(def, inputs, result, node.attrs);
    }
    out.source = ValueSource::kConstant;
    out.index = static_cast<int>(graph.constants.size());
    graph.constants.push_back(std::move(result));
    keep[n] = false;
    ++stats->folded_nodes;
  }
  return compact(std::move(graph), keep);
}

FusionPlan no_fusion(const Graph& graph) { return {{}, std::vector<int>(graph.nodes.size(), -1)}; }

// Groups form greedily in program order. A node joins the open group that
// produced one of its inputs when it has the group's shape and dtype and
// every other input can be read by the group. A group closes (takes no more
// members) once a value of it is read outside it, and at every assign or host
// call, so running the whole group at its last member's place never reorders
// a read after a write.
FusionPlan plan_fusion(const Graph& graph, ExecutorStats* stats) {
  using internal::FusedGroup;
  using internal::InputMode;
  FusionPlan plan = no_fusion(graph);
  std::vector<int> value_group(graph.values.size(), -1);
  std::vector<bool> closed;
  std::vector<FusedGroup> groups;
  auto close_all = [&] { std::fill(closed.begin(), closed.end(), true); };
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    if (node.assign || node.host) {
      close_all();
      continue;
    }
    const TensorMeta& meta = graph.values[node.output].meta;
    bool candidate = internal::fusable(node.kind) && is_floating(meta.dtype) && meta.shape.numel() > 0;
    for (int in : node.inputs) candidate &= graph.values[in].meta.dtype == meta.dtype;
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
        if (!member && !internal::input_mode(graph.values[in].meta.shape, meta.shape, &mode, &row)) candidate = false;
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
  std::vector<bool> used_outside(graph.values.size(), false);
  for (int out : graph.outputs) used_outside[out] = true;
  for (const Node& node : graph.nodes) {
    int own = node.output >= 0 ? value_group[node.output] : -1;
    for (int in : node.inputs) {
      if (value_group[in] >= 0 && (value_group[in] != own || node.assign || node.host)) used_outside[in] = true;
    }
  }
  for (FusedGroup& group : groups) {
    if (group.nodes.size() < 2) continue;
    int index = static_cast<int>(plan.groups.size());
    std::vector<int> reg(graph.values.size(), -1);
    std::vector<int> input_of(graph.values.size(), -1);
    for (int n : group.nodes) {
      const Node& node = graph.nodes[n];
      internal::FusedInstruction ins{node.kind, group.registers++, {}, static_cast<int>(node.inputs.size())};
      for (size_t k = 0; k < node.inputs.size(); ++k) {
        int in = node.inputs[k];
        if (reg[in] >= 0) {
          ins.src[k] = {false, reg[in]};
          continue;
        }
        if (input_of[in] < 0) {
          internal::FusedInput fi{in, InputMode::kFull, 0};
          internal::input_mode(graph.values[in].meta.shape, group.meta.shape, &fi.mode, &fi.row);
          input_of[in] = static_cast<int>(group.inputs.size());
          group.inputs.push_back(fi);
        }
        ins.src[k] = {true, input_of[in]};
      }
      reg[node.output] = ins.dst;
      group.program.push_back(ins);
      if (used_outside[node.output]) group.outputs.emplace_back(ins.dst, node.output);
      plan.group_of_node[n] = index;
    }
    stats->fused_nodes += group.nodes.size();
    plan.groups.push_back(std::move(group));
  }
  stats->fused_groups = plan.groups.size();
  return plan;
}

std::vector<int> step_inputs(const Graph& graph, const FusionPlan& fusion, PlannedStep step) {
  if (step.kind == StepKind::kFused) {
    std::vector<int> out;
    for (const auto& in : fusion.groups[step.index].inputs) out.push_back(in.value);
    return out;
  }
  return graph.nodes[step.index].inputs;
}

std::vector<int> step_outputs(const Graph& graph, const FusionPlan& fusion, PlannedStep step) {
  switch (step.kind) {
    case StepKind::kFused: {
      std::vector<int> out;
      for (const auto& [reg, value] : fusion.groups[step.index].outputs) out.push_back(value);
      return out;
    }
    case StepKind::kKernel: return {graph.nodes[step.index].output};
    case StepKind::kView:  // shares its input's buffer
    case StepKind::kAssign:
    case StepKind::kHost: return {};
  }
  GRAFT_INTERNAL_ASSERT(false, "step kind ", static_cast<int>(step.kind), " is not a StepKind");
  return {};
}

namespace {

// An optimizer update writes each element of the variable's new value after
// reading that element of every input (graft/ops/update_ops.cc), so its output
// may share the variable's buffer. Binding it there turns `variable <- update`
// from a copy of every parameter per step into nothing. That is safe only
// when nothing reads the variable's old value after the update runs: every
// other step reading the variable (or a view of it) comes before the update,
// no other assign writes it, and no host call runs in between.
//
// Sets plan->external_of for each update bound in place and returns, by
// schedule position, the assigns that became no-ops.
std::vector<bool> write_updates_in_place(const Graph& graph, const FusionPlan& fusion, MemoryPlan* plan,
                                         ExecutorStats* stats) {
  const std::vector<PlannedStep>& schedule = plan->schedule;
  const size_t num_values = graph.values.size();
  plan->external_of.assign(num_values, -1);
  std::vector<bool> elided(schedule.size(), false);

  // Where each node output is produced; the last read of each buffer that is
  // not an assign's target; assigns per target; host calls so far.
  std::vector<int> produced_at(num_values, -1);
  std::vector<int> last_read(num_values, -1);
  std::vector<int> assigns_to(num_values, 0);
  std::vector<int> hosts_before(schedule.size() + 1, 0);
  for (size_t pos = 0; pos < schedule.size(); ++pos) {
    const PlannedStep step = schedule[pos];
    const int at = static_cast<int>(pos);
    hosts_before[pos + 1] = hosts_before[pos] + (step.kind == StepKind::kHost ? 1 : 0);
    for (int out : step_outputs(graph, fusion, step)) produced_at[out] = at;
    std::vector<int> ins = step_inputs(graph, fusion, step);
    for (size_t i = 0; i < ins.size(); ++i) {
      if (step.kind == StepKind::kAssign && i == 0) {
        ++assigns_to[plan->base[ins[0]]];
        continue;
      }
      int& last = last_read[plan->base[ins[i]]];
      last = std::max(last, at);
    }
  }

  for (size_t pos = 0; pos < schedule.size(); ++pos) {
    if (schedule[pos].kind != StepKind::kAssign) continue;
    const Node& assign = graph.nodes[schedule[pos].index];
    const int target = assign.inputs[0], update = assign.inputs[1];
    const Value& target_value = graph.values[target];
    if (target_value.source != ValueSource::kExternal || assigns_to[target] != 1) continue;
    if (graph.values[update].source != ValueSource::kNode || plan->returned[update]) continue;
    if (plan->base[update] != update || plan->external_of[update] >= 0) continue;
    const int at = produced_at[update];
    if (at < 0 || schedule[at].kind != StepKind::kKernel) continue;
    const Node& producer = graph.nodes[schedule[at].index];
    if (producer.kind != OpKind::kSgdUpdate && producer.kind != OpKind::kAdamUpdate) continue;
    const TensorMeta& meta = graph.values[update].meta;
    if (plan->base[producer.inputs[0]] != target || target_value.meta.shape != meta.shape) continue;
    if (target_value.meta.dtype != meta.dtype) continue;
    if (last_read[target] > at || hosts_before[pos] != hosts_before[at]) continue;
    // The update's own read of the variable at `at` is element by element.
    plan->external_of[update] = target_value.index;
    elided[pos] = true;
    ++stats->in_place_updates;
  }
  return elided;
}

}  // namespace

MemoryPlan plan_memory(const Graph& graph, const FusionPlan& fusion, ExecutorStats* stats) {
  const size_t num_values = graph.values.size();
  MemoryPlan plan;

  // The schedule: nodes in order, a fused group at its last member.
  std::vector<size_t> group_left(fusion.groups.size());
  for (size_t g = 0; g < fusion.groups.size(); ++g) group_left[g] = fusion.groups[g].nodes.size();
  plan.base.resize(num_values);
  for (size_t id = 0; id < num_values; ++id) plan.base[id] = static_cast<int>(id);
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    int n_index = static_cast<int>(n);
    int group = fusion.group_of_node[n];
    if (group >= 0) {
      if (--group_left[group] == 0) plan.schedule.push_back({StepKind::kFused, group});
    } else if (node.host) {
      plan.schedule.push_back({StepKind::kHost, n_index});
    } else if (node.assign) {
      plan.schedule.push_back({StepKind::kAssign, n_index});
    } else if (op_def(node.kind).view_of_input) {
      plan.base[node.output] = plan.base[node.inputs[0]];
      plan.schedule.push_back({StepKind::kView, n_index});
    } else {
      plan.schedule.push_back({StepKind::kKernel, n_index});
    }
  }
  for (PlannedStep step : plan.schedule) {
    if (step.kind == StepKind::kKernel || step.kind == StepKind::kFused) ++stats->kernel_steps;
  }

  // Lifetimes of the buffers steps write, in schedule positions.
  std::vector<int> last(num_values, -1);
  plan.returned.assign(num_values, false);
  for (int out : graph.outputs) plan.returned[plan.base[out]] = true;
  for (size_t pos = 0; pos < plan.schedule.size(); ++pos) {
    int at = static_cast<int>(pos);
    for (int in : step_inputs(graph, fusion, plan.schedule[pos])) last[plan.base[in]] = std::max(last[plan.base[in]], at);
    for (int out : step_outputs(graph, fusion, plan.schedule[pos])) last[out] = std::max(last[out], at);
  }

  std::vector<bool> elided = write_updates_in_place(graph, fusion, &plan, stats);

  // Offsets in the arena, greedily by lifetime.
  ArenaPlanner arena;
  plan.in_arena.assign(num_values, false);
  plan.offset.assign(num_values, 0);
  std::vector<std::vector<int>> ending(plan.schedule.size());
  size_t released = 0;  // positions whose ending buffers are back in the arena
  for (size_t pos = 0; pos < plan.schedule.size(); ++pos) {
    for (; released < pos; ++released) {
      for (int v : ending[released]) arena.release(plan.offset[v], bytes_of(graph.values[v].meta));
    }
    for (int out : step_outputs(graph, fusion, plan.schedule[pos])) {
      if (plan.returned[out] || plan.external_of[out] >= 0) continue;
      size_t size = bytes_of(graph.values[out].meta);
      plan.offset[out] = arena.allocate(size);
      plan.in_arena[out] = true;
      ending[last[out]].push_back(out);
      stats->unplanned_bytes += size;
      ++stats->planned_buffers;
    }
  }
  plan.arena_bytes = arena.size();
  stats->arena_bytes = plan.arena_bytes;
  // The assigns of updates written in place have nothing left to copy.
  std::vector<PlannedStep> kept;
  for (size_t pos = 0; pos < plan.schedule.size(); ++pos) {
    if (!elided[pos]) kept.push_back(plan.schedule[pos]);
  }
  plan.schedule = std::move(kept);
  return plan;
}

}  // namespace graft::trace
