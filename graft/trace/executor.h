// graft/trace/executor.h: runs a captured Graph, optimised once.
//
// Before the first run the graph goes through the passes of
// graft/trace/passes.h: dead code is removed (nodes that reach neither an
// output nor an assign), constants are folded (nodes whose inputs are all
// constants run once), chains of elementwise ops are fused into one loop
// (graft/trace/internal/fusion.h), and a memory plan gives every intermediate
// a slice of one arena by buffer lifetime, so a replay in steady state asks
// the allocator for nothing. The executor itself only binds buffers by those
// plans and runs the steps. Returned tensors get buffers of their own, reused
// on the next run once the caller has let go of them.
//
// Not thread-safe: one run at a time.
#pragma once

#include <memory>
#include <vector>

#include "graft/trace/graph.h"
#include "graft/trace/passes.h"

namespace graft::trace {

class ExecutorOptions {
 public:
  // Dead code elimination, constant folding and fusion before the memory
  // plan (on by default); off, only the memory plan runs.
  ExecutorOptions& optimize(bool on) { optimize_ = on; return *this; }
  bool optimize() const { return optimize_; }

 private:
  bool optimize_ = true;
};

class Executor {
 public:
  explicit Executor(Graph graph, const ExecutorOptions& options = {});

  // Runs the graph on arguments matching its signature (the caller checks).
  std::vector<Tensor> run(const std::vector<Tensor>& args);

  // The graph as optimised: the one that runs.
  const Graph& graph() const { return graph_; }
  const ExecutorStats& stats() const { return stats_; }

 private:
  struct Step {
    StepKind kind;
    int node;  // the node, or the fused group's index
    std::vector<Tensor> inputs;
    std::vector<Tensor> outputs;  // fused groups
    // A conv2d_grad_input whose grad_y the next step, a conv2d_grad_weight,
    // reads too: the two run in one ShareGradOutput scope, so oneDNN
    // reorders grad_y once for both, as conv2d's VJP does in eager code.
    bool shares_grad_y = false;
    // A matrix product independent of the next step, also a product of
    // similar cost: with 2+ threads the two run side by side, each on one
    // thread, where one after the other each would split itself and pack
    // its shared operand once per block.
    bool runs_with_next = false;
  };

  // Runs one step (not a pair).
  void run_step(Step& step);
  // Marks the pairs of steps that may run side by side (runs_with_next).
  void pair_independent_products();

  // Gives every value its tensor (arena slices, returned buffers, views) and
  // every step its bound inputs and outputs.
  void bind(const MemoryPlan& memory);

  Graph graph_;
  ExecutorStats stats_;
  FusionPlan fusion_;
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
  std::shared_ptr<Storage> arena_;
};

}  // namespace graft::trace
