// The graph passes one at a time, on graphs built by hand.
#include "graft/trace/passes.h"

#include <gtest/gtest.h>

#include "graft/ops/ops.h"
#include "graft/trace/function.h"

namespace graft::trace {
namespace {

const TensorMeta kVector{Shape({4}), DType::kFloat32};

// Appends a node of `kind` reading `inputs`; returns its output value.
int add_node(Graph& g, OpKind kind, std::vector<int> inputs, OpAttrs attrs = {}) {
  Node node;
  node.kind = kind;
  node.attrs = std::move(attrs);
  node.inputs = std::move(inputs);
  node.output = g.add_value(kVector, ValueSource::kNode, static_cast<int>(g.nodes.size()));
  g.nodes.push_back(std::move(node));
  return g.nodes.back().output;
}

int add_constant(Graph& g, float value) {
  g.constants.push_back(full({4}, value));
  return g.add_value(kVector, ValueSource::kConstant, static_cast<int>(g.constants.size()) - 1);
}

TEST(PassesTest, DeadCodeEliminationRemovesNodesAndRenumbersValues) {
  Graph g;
  int x = g.add_value(kVector, ValueSource::kArgument, 0);
  g.arguments = {x};
  add_node(g, OpKind::kExp, {x});              // dead
  int t = add_node(g, OpKind::kTanh, {x});
  add_node(g, OpKind::kLog, {t});              // dead
  int y = add_node(g, OpKind::kNeg, {t});
  g.outputs = {y};
  ExecutorStats stats;
  Graph out = eliminate_dead_code(std::move(g), &stats);
  EXPECT_EQ(stats.dead_nodes, 2u);
  ASSERT_EQ(out.nodes.size(), 2u);
  EXPECT_EQ(out.nodes[0].kind, OpKind::kTanh);
  EXPECT_EQ(out.nodes[1].kind, OpKind::kNeg);
  ASSERT_EQ(out.values.size(), 3u);  // x, tanh, neg
  EXPECT_EQ(out.nodes[1].inputs, std::vector<int>{out.nodes[0].output});
  EXPECT_EQ(out.outputs, std::vector<int>{out.nodes[1].output});
  EXPECT_EQ(out.values[out.nodes[1].output].index, 1);  // node index, renumbered
  std::string text = out.to_text();
  EXPECT_EQ(text.find("exp"), std::string::npos) << text;
  EXPECT_EQ(text.find("log"), std::string::npos) << text;
}

TEST(PassesTest, ConstantFoldingComputesOnceAndKeepsTheRest) {
  Graph g;
  int x = g.add_value(kVector, ValueSource::kArgument, 0);
  g.arguments = {x};
  int two = add_constant(g, 2.0f);
  int three = add_constant(g, 3.0f);
  int six = add_node(g, OpKind::kMul, {two, three});  // folded
  int y = add_node(g, OpKind::kMul, {x, six});
  g.outputs = {y};
  ExecutorStats stats;
  Graph out = fold_constants(std::move(g), &stats);
  EXPECT_EQ(stats.folded_nodes, 1u);
  ASSERT_EQ(out.nodes.size(), 1u);
  const Value& folded = out.values[out.nodes[0].inputs[1]];
  ASSERT_EQ(folded.source, ValueSource::kConstant);
  EXPECT_EQ(out.constants[folded.index].to_vector<float>(), (std::vector<float>{6, 6, 6, 6}));
}

TEST(PassesTest, FusionPlansOneLoopAndTheMemoryPlanRunsItOnce) {
  Graph g;
  int x = g.add_value(kVector, ValueSource::kArgument, 0);
  g.arguments = {x};
  int a = add_node(g, OpKind::kTanh, {x});
  int b = add_node(g, OpKind::kMul, {a, x});
  int c = add_node(g, OpKind::kSum, {b}, OpAttrs{});
  g.values[c].meta = {Shape({}), DType::kFloat32};
  g.outputs = {c};
  ExecutorStats stats;
  FusionPlan fusion = plan_fusion(g, &stats);
  ASSERT_EQ(fusion.groups.size(), 1u);
  EXPECT_EQ(fusion.groups[0].nodes, (std::vector<int>{0, 1}));
  EXPECT_EQ(fusion.group_of_node, (std::vector<int>{0, 0, -1}));
  MemoryPlan memory = plan_memory(g, fusion, &stats);
  ASSERT_EQ(memory.schedule.size(), 2u);
  EXPECT_EQ(memory.schedule[0].kind, StepKind::kFused);
  EXPECT_EQ(memory.schedule[1].kind, StepKind::kKernel);
  EXPECT_TRUE(memory.in_arena[b]);   // read by sum only
  EXPECT_FALSE(memory.in_arena[a]);  // a register of the loop
  EXPECT_TRUE(memory.returned[c]);
  EXPECT_EQ(stats.kernel_steps, 2u);
}

// The graph a function shows is the one that runs: dead code is gone from it.
TEST(PassesTest, AFunctionShowsItsOptimisedGraph) {
  auto f = graft::function([](const Tensor& x) {
    Tensor unused = exp(x) * 3.0;
    (void)unused;
    return x * 2.0;
  });
  f(ones({4}));
  std::string text = f.graph_text();
  EXPECT_EQ(text.find("exp"), std::string::npos) << text;
  EXPECT_NE(text.find("mul"), std::string::npos) << text;
}

}  // namespace
}  // namespace graft::trace
