#include "graft/trace/executor.h"

#include <gtest/gtest.h>

#include "graft/autodiff/tape.h"
#include "graft/ops/ops.h"
#include "graft/tensor/allocator.h"
#include "graft/trace/function.h"
#include "graft/vars/store.h"

namespace graft {
namespace {

TEST(ExecutorTest, DeadCodeIsRemovedAndConstantsFolded) {
  auto f = function([](const Tensor& x) {
    Tensor unused = exp(x) * 3.0;     // dead: reaches no output
    Tensor scale = ones({4}) * 2.0;   // constant: folded once
    (void)unused;
    return x * scale;
  });
  Tensor y = f(Tensor::from_vector<float>({1, 2, 3, 4}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{2, 4, 6, 8}));
  trace::ExecutorStats s = f.stats();
  EXPECT_EQ(s.dead_nodes, 3u);    // exp, fill(3), mul
  EXPECT_EQ(s.folded_nodes, 3u);  // fill(1), fill(2), mul
  EXPECT_EQ(s.kernel_steps, 1u);  // x * scale
}

TEST(ExecutorTest, TheMemoryPlanReusesBuffers) {
  auto f = function([](const Tensor& x) {
    Tensor h = x;
    for (int i = 0; i < 10; ++i) h = tanh(h) + x;
    return sum(h);
  });
  f(ones({256, 256}));
  trace::ExecutorStats s = f.stats();
  // Twenty intermediates of 256 KiB, but only a few alive at once.
  EXPECT_EQ(s.planned_buffers, 20u);
  EXPECT_LE(s.arena_bytes, 3u * 256 * 256 * 4);
  EXPECT_GE(s.unplanned_bytes, 20u * 256 * 256 * 4);
}

// A replayed training step asks the allocator for nothing in steady state.
TEST(ExecutorTest, ASteadyStateTrainingStepAllocatesNothing) {
  VariableStore store("mlp", 1);
  Variable w1 = store.root().variable("w1", {16, 32}, init::glorot_uniform());
  Variable b1 = store.root().variable("b1", {32});
  Variable w2 = store.root().variable("w2", {32, 4}, init::glorot_uniform());
  auto step = function([&](const Tensor& x, const Tensor& y) {
    GradientTape tape;
    Tensor pred = matmul(relu(matmul(x, w1) + b1), w2);
    Tensor loss = mse_loss(pred, y);
    auto vars = store.trainable_variables();
    auto grads = tape.gradient(loss, vars);
    for (size_t i = 0; i < vars.size(); ++i) vars[i].assign_sub(*grads[i] * 0.05);
    return loss;
  });
  Tensor x = ones({8, 16}) * 0.5;
  Tensor y = ones({8, 4});
  double first = step(x, y).item<double>();
  step(x, y);  // the first replay settles the output buffer
  AllocatorStats before = allocator_stats();
  double last = 0;
  for (int i = 0; i < 20; ++i) last = step(x, y).item<double>();
  AllocatorStats after = allocator_stats();
  EXPECT_EQ(after.requests, before.requests);
  EXPECT_EQ(after.system_allocations, before.system_allocations);
  EXPECT_LT(last, first);
}

TEST(ExecutorTest, AResultTheCallerKeepsIsNotOverwritten) {
  auto f = function([](const Tensor& x) { return x * 2.0; });
  Tensor a = f(Tensor::from_vector<float>({1}));
  Tensor b = f(Tensor::from_vector<float>({5}));
  EXPECT_EQ(a.item<float>(), 2);
  EXPECT_EQ(b.item<float>(), 10);
}

TEST(ExecutorTest, PrintsTheGraphAsTextAndDot) {
  VariableStore store("mlp");
  Variable w = store.root().variable("kernel", {3, 2}, init::ones());
  auto f = function([&](const Tensor& x) { return relu(matmul(x, w)); }, FunctionOptions().name("forward"));
  f(ones({1, 3}));
  std::string text = f.graph_text();
  EXPECT_NE(text.find("graph 'forward': 1 arguments, 1 externals, 2 ops"), std::string::npos) << text;
  EXPECT_NE(text.find("= mlp/kernel : float32[3, 2]"), std::string::npos) << text;
  EXPECT_NE(text.find("= matmul(%0, %1) : float32[1, 2]"), std::string::npos) << text;
  std::string dot = f.graph_dot();
  EXPECT_EQ(dot.rfind("digraph \"forward\"", 0), 0u) << dot;
  EXPECT_NE(dot.find("relu"), std::string::npos);
}

TEST(ExecutorTest, ReturnedVariablesAreSnapshots) {
  VariableStore store("m");
  Variable v = store.root().variable("v", {1}, init::ones());
  auto f = function([&](const Tensor& d) {
    Tensor before = v.value();
    v.assign_add(d);
    return before;
  });
  Tensor before = f(ones({1}));
  EXPECT_EQ(before.item<float>(), 2);  // read by reference at the end of the step
  EXPECT_EQ(v.value().item<float>(), 2);
  f(ones({1}));
  EXPECT_EQ(before.item<float>(), 2);
}

}  // namespace
}  // namespace graft
