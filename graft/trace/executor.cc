#include "graft/trace/executor.h"

#include <algorithm>
#include <cstddef>
#include <optional>

#include "graft/ops/dispatch.h"
#include "graft/ops/internal/conv.h"
#include "graft/tensor/blas.h"
#include "graft/tensor/parallel.h"

namespace graft::trace {
namespace {

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

}  // namespace

Executor::Executor(Graph graph, const ExecutorOptions& options) {
  stats_.captured_nodes = graph.nodes.size();
  if (options.optimize()) {
    graph = eliminate_dead_code(std::move(graph), &stats_);
    graph = fold_constants(std::move(graph), &stats_);
    fusion_ = plan_fusion(graph, &stats_);
  } else {
    fusion_ = no_fusion(graph);
  }
  graph_ = std::move(graph);
  bind(plan_memory(graph_, fusion_, &stats_));
}

void Executor::bind(const MemoryPlan& memory) {
  const size_t num_values = graph_.values.size();
  slots_.assign(num_values, Tensor());
  from_args_.assign(num_values, false);
  for (int arg : graph_.arguments) from_args_[arg] = true;
  for (size_t id = 0; id < num_values; ++id) {
    const Value& v = graph_.values[id];
    if (v.source == ValueSource::kExternal) slots_[id] = graph_.externals[v.index];
    if (v.source == ValueSource::kConstant) slots_[id] = graph_.constants[v.index];
  }

  arena_ = std::make_shared<Storage>(std::max<size_t>(memory.arena_bytes, 1));
  for (PlannedStep planned : memory.schedule) {
    for (int out : step_outputs(graph_, fusion_, planned)) {
      const TensorMeta& meta = graph_.values[out].meta;
      if (memory.external_of[out] >= 0) {
        slots_[out] = graph_.externals[static_cast<size_t>(memory.external_of[out])];
      } else if (memory.returned[out]) {
        slots_[out] = Tensor::empty(meta.shape, meta.dtype);
        output_buffers_.push_back({out, {}});
      } else {
        slots_[out] = tensor_in(arena_, memory.offset[out], meta);
      }
    }
    if (planned.kind == StepKind::kView) {
      const Node& node = graph_.nodes[planned.index];
      from_args_[node.output] = from_args_[node.inputs[0]];
      if (from_args_[node.output]) {
        arg_views_.push_back(static_cast<int>(steps_.size()));
      } else {
        slots_[node.output] = Tensor::view(slots_[node.inputs[0]], graph_.values[node.output].meta.shape);
      }
    }
    steps_.push_back(Step{planned.kind, planned.index, {}, {}});
  }
  // Views of returned buffers, so a fresh buffer can be swapped in.
  for (OutputBuffer& out : output_buffers_) {
    for (size_t id = 0; id < num_values; ++id) {
      if (static_cast<int>(id) != out.value && memory.base[id] == out.value && slots_[id].defined()) {
        out.views.push_back(static_cast<int>(id));
      }
    }
  }
  // Inputs bound once; argument-derived ones again on every run.
  for (size_t s = 0; s < steps_.size(); ++s) {
    Step& step = steps_[s];
    PlannedStep planned{step.kind, step.node};
    std::vector<int> ins = step_inputs(graph_, fusion_, planned);
    for (size_t i = 0; i < ins.size(); ++i) {
      step.inputs.push_back(slots_[ins[i]]);
      if (from_args_[ins[i]]) arg_bindings_.push_back({static_cast<int>(s), static_cast<int>(i), ins[i]});
    }
    for (int out : step_outputs(graph_, fusion_, planned)) step.outputs.push_back(slots_[out]);
  }
  for (size_t s = 0; s + 1 < steps_.size(); ++s) {
    if (steps_[s].kind != StepKind::kKernel || steps_[s + 1].kind != StepKind::kKernel) continue;
    const Node& first = graph_.nodes[steps_[s].node];
    const Node& second = graph_.nodes[steps_[s + 1].node];
    steps_[s].shares_grad_y = first.kind == OpKind::kConv2dGradInput && second.kind == OpKind::kConv2dGradWeight &&
                              second.inputs[1] == first.inputs[0] &&
                              graph_.values[first.inputs[0]].meta.dtype == DType::kFloat32;
  }
  pair_independent_products();
}

namespace {

// Multiply-adds of a matmul node; 0 for any other node.
int64_t product_work(const Graph& graph, const Node& node) {
  if (node.kind != OpKind::kMatMul) return 0;
  const Shape& a = graph.values[node.inputs[0]].meta.shape;
  if (a.rank() < 2) return 0;
  const int64_t k = node.attrs.transpose_a ? a[a.rank() - 2] : a[a.rank() - 1];
  return graph.values[node.output].meta.shape.numel() * k;
}

// Whether two bound tensors' bytes overlap; an unbound one (an argument, bound
// per run and only ever read) overlaps nothing written here.
bool overlap(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined() || a.is_symbolic() || b.is_symbolic()) return false;
  const auto* pa = static_cast<const std::byte*>(a.raw_data());
  const auto* pb = static_cast<const std::byte*>(b.raw_data());
  return pa < pb + b.nbytes() && pb < pa + a.nbytes();
}

}  // namespace

void Executor::pair_independent_products() {
  for (size_t s = 0; s + 1 < steps_.size(); ++s) {
    Step& first = steps_[s];
    Step& second = steps_[s + 1];
    if (first.kind != StepKind::kKernel || second.kind != StepKind::kKernel || first.shares_grad_y) continue;
    const Node& a = graph_.nodes[first.node];
    const Node& b = graph_.nodes[second.node];
    if (!blas::pair_pays(product_work(graph_, a), product_work(graph_, b))) continue;
    // Independent: neither writes bytes the other reads or writes (the
    // arena may reuse a buffer once its last reader ran, so the second's
    // output can sit where the first's input was).
    const Tensor& out_a = slots_[a.output];
    const Tensor& out_b = slots_[b.output];
    bool independent = !overlap(out_a, out_b);
    for (const Tensor& in : second.inputs) independent = independent && !overlap(out_a, in);
    for (const Tensor& in : first.inputs) independent = independent && !overlap(out_b, in);
    if (!independent) continue;
    first.runs_with_next = true;
    ++stats_.concurrent_pairs;
    ++s;  // a step is in one pair at most
  }
}

void Executor::run_step(Step& step) {
  const Node& node = graph_.nodes[step.kind == StepKind::kFused ? fusion_.groups[step.node].nodes.back() : step.node];
  switch (step.kind) {
    case StepKind::kKernel:
      run_kernel(op_def(node.kind), step.inputs, slots_[node.output], node.attrs);
      break;
    case StepKind::kFused:
      internal::run_fused(fusion_.groups[step.node], step.inputs, step.outputs);
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

  std::optional<ops::internal::ShareGradOutput> share;  // open across a shares_grad_y step and the next
  const bool pairs = num_threads() > 1;
  for (size_t s = 0; s < steps_.size(); ++s) {
    Step& step = steps_[s];
    if (step.shares_grad_y) share.emplace(step.inputs[0].data<float>());
    if (step.runs_with_next && pairs) {
      Step& next = steps_[++s];
      parallel_for(0, 2, 1, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) run_step(i == 0 ? step : next);
      });
    } else {
      run_step(step);
    }
    if (!step.shares_grad_y) share.reset();
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
