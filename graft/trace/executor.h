// graft/trace/executor.h: runs a captured Graph, optimised once.
//
// Before the first run the graph is optimised: dead code is removed (nodes
// that reach neither an output nor an assign), constants are folded (nodes
// whose inputs are all constants run once), chains of elementwise ops are
// fused into one loop (graft/trace/internal/fusion.h), and a memory plan
// gives every intermediate a slice of one arena by buffer lifetime, so a
// replay in steady state asks the allocator for nothing. Returned tensors get buffers of their
// own, reused on the next run once the caller has let go of them.
//
// Not thread-safe: one run at a time.
#pragma once

#include <memory>
#include <vector>

#include "graft/trace/graph.h"
#include "graft/trace/internal/fusion.h"

namespace graft::trace {

struct ExecutorStats {
  size_t captured_nodes = 0;  // as captured
  size_t dead_nodes = 0;      // removed as dead code
  size_t folded_nodes = 0;    // computed once as constants
  size_t fused_groups = 0;    // loops that each replace several elementwise ops
  size_t fused_nodes = 0;     // ops inside those loops
  size_t kernel_steps = 0;    // kernels and fused loops run per replay
  size_t arena_bytes = 0;     // one buffer for every planned intermediate
  size_t planned_buffers = 0;
  size_t unplanned_bytes = 0;  // sum of planned sizes without reuse, for comparison
};

class Executor {
 public:
  Executor(Graph graph, bool optimize);

  // Runs the graph on arguments matching its signature (the caller checks).
  std::vector<Tensor> run(const std::vector<Tensor>& args);

  const Graph& graph() const { return graph_; }
  const ExecutorStats& stats() const { return stats_; }

 private:
  enum class StepKind { kKernel, kView, kAssign, kHost, kFused };
  struct Step {
    StepKind kind;
    int node;   // the node, or the fused group's index
    std::vector<Tensor> inputs;
    std::vector<Tensor> outputs;  // fused groups
  };

  void eliminate_dead_code();
  void fold_constants();
  void fuse();
  void plan();
  // Values a step reads and the node-output values it writes.
  std::vector<int> step_inputs(StepKind kind, int index) const;
  std::vector<int> step_outputs(StepKind kind, int index) const;

  Graph graph_;
  bool optimize_;
  std::vector<bool> live_;
  std::vector<Tensor> slots_;  // by value id
  std::vector<Step> steps_;
  // Values derived from arguments (arguments and views of them): rebound on
  // every run.
  std::vector<bool> from_args_;
  struct Binding {
    int step;
    int position;
    int value;
  };
  std::vector<Binding> arg_bindings_;
  std::vector<int> arg_views_;  // steps that view an argument-derived value
  // Buffers of returned values: base value id, and how many internal tensors
  // share its storage (more means the caller still holds a result).
  struct OutputBuffer {
    int value;
    std::vector<int> views;
  };
  std::vector<OutputBuffer> output_buffers_;
  std::vector<internal::FusedGroup> groups_;
  std::vector<int> group_of_node_;  // -1 when not fused
  std::shared_ptr<Storage> arena_;
  ExecutorStats stats_;
};

}  // namespace graft::trace
