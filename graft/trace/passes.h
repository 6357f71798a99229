// graft/trace/passes.h: what happens to a captured graph before it runs, one
// pass at a time, each a function of its input alone.
//
//   ExecutorStats stats;
//   Graph g = eliminate_dead_code(std::move(captured), &stats);
//   g = fold_constants(std::move(g), &stats);
//   FusionPlan fusion = plan_fusion(g, &stats);
//   MemoryPlan memory = plan_memory(g, fusion, &stats);
//   // graft::trace::Executor binds buffers by these plans and runs them.
//
// eliminate_dead_code and fold_constants return a smaller graph (nodes
// removed, value ids renumbered); plan_fusion groups chains of elementwise
// ops into loops (graft/trace/internal/fusion.h); plan_memory orders the steps
// and gives every intermediate a slice of one arena by buffer lifetime. Each
// adds what it did to `stats`. Passes never reorder across an assign or a
// host call. Stateless and thread-compatible.
#pragma once

#include <cstddef>
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
  size_t in_place_updates = 0;  // optimizer updates written straight into their variable
  size_t concurrent_pairs = 0;  // pairs of independent products run side by side (2+ threads)
};

// Removes the nodes that reach neither an output nor an assign or host call.
Graph eliminate_dead_code(Graph graph, ExecutorStats* stats);

// Runs every node whose inputs are all constants, once: its output becomes a
// constant of the graph and the node is removed.
Graph fold_constants(Graph graph, ExecutorStats* stats);

struct FusionPlan {
  std::vector<internal::FusedGroup> groups;  // each of two or more nodes
  std::vector<int> group_of_node;            // by node; -1 when not fused
};

// Groups form greedily in program order (see passes.cc); a graph run without
// optimisation takes no_fusion().
FusionPlan plan_fusion(const Graph& graph, ExecutorStats* stats);
FusionPlan no_fusion(const Graph& graph);

enum class StepKind : uint8_t { kKernel, kView, kAssign, kHost, kFused };

struct PlannedStep {
  StepKind kind;
  int index;  // the node, or the fused group
};

struct MemoryPlan {
  std::vector<PlannedStep> schedule;  // a fused group at its last member's place
  std::vector<int> base;              // by value: the value whose buffer it uses (views)
  std::vector<bool> returned;         // by value: a returned buffer, allocated on its own
  std::vector<bool> in_arena;         // by value: has a slice of the arena
  std::vector<size_t> offset;         // by value: where that slice starts
  // By value: an optimizer update written straight into this external's
  // buffer (its assign is dropped from the schedule), or -1.
  std::vector<int> external_of;
  size_t arena_bytes = 0;
};

MemoryPlan plan_memory(const Graph& graph, const FusionPlan& fusion, ExecutorStats* stats);

// The values a step reads, and the node-output values it writes.
std::vector<int> step_inputs(const Graph& graph, const FusionPlan& fusion, PlannedStep step);
std::vector<int> step_outputs(const Graph& graph, const FusionPlan& fusion, PlannedStep step);

}  // namespace graft::trace
