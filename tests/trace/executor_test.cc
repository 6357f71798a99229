#include "graft/trace/executor.h"

#include <gtest/gtest.h>

#include "graft/autodiff/tape.h"
#include "graft/ops/ops.h"
#include "graft/optim/sgd.h"
#include "graft/tensor/allocator.h"
#include "graft/tensor/parallel.h"
#include "graft/tensor/random.h"
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
  // Unoptimised, so every intermediate needs a buffer.
  auto f = function([](const Tensor& x) {
    Tensor h = x;
    for (int i = 0; i < 10; ++i) h = tanh(h) + x;
    return sum(h);
  }, FunctionOptions().optimize(false));
  f(ones({256, 256}));
  trace::ExecutorStats s = f.stats();
  // Twenty intermediates of 256 KiB, but only a few alive at once.
  EXPECT_EQ(s.planned_buffers, 20u);
  EXPECT_LE(s.arena_bytes, 3u * 256 * 256 * 4);
  EXPECT_GE(s.unplanned_bytes, 20u * 256 * 256 * 4);
}

// The input and weight gradients of a layer are independent products of
// similar size: at 2 threads a replay runs them side by side, each in one
// sgemm call, and must give the bits of one thread and of eager code (a
// split product sums every element as the whole one does).
TEST(ExecutorTest, IndependentProductsRunSideBySideWithTheSameBits) {
  const Tensor x = random_uniform({64, 128}, 1, -1.0, 1.0, DType::kFloat32);
  const Tensor w1 = random_uniform({128, 128}, 2, -0.1, 0.1, DType::kFloat32);
  const Tensor w2 = random_uniform({128, 128}, 3, -0.1, 0.1, DType::kFloat32);
  auto grads = [&](const Tensor& input) {
    GradientTape tape;
    tape.watch(w1);
    tape.watch(w2);
    Tensor loss = sum(square(matmul(tanh(matmul(input, w1)), w2)));
    std::vector<std::optional<Tensor>> g = tape.gradient(loss, {w1, w2});
    return std::vector<Tensor>{*g[0], *g[1]};
  };
  const int saved = num_threads();
  set_num_threads(1);
  std::vector<Tensor> eager = grads(x);
  auto step = function(grads);
  std::vector<Tensor> one_thread = step(x);
  set_num_threads(2);
  std::vector<Tensor> two_threads = step(x);
  set_num_threads(saved);
  // The second layer's input gradient (64x128 by 128x128) and weight
  // gradient (128x64 by 64x128) pair up.
  EXPECT_GE(step.stats().concurrent_pairs, 1u);
  for (size_t i = 0; i < eager.size(); ++i) {
    EXPECT_EQ(one_thread[i].to_vector<float>(), eager[i].to_vector<float>()) << i;
    EXPECT_EQ(two_threads[i].to_vector<float>(), eager[i].to_vector<float>()) << i;
  }
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

TEST(ExecutorTest, ElementwiseChainsFuseIntoOneLoopWithTheSameResults) {
  auto body = [](const Tensor& x, const Tensor& b) {
    Tensor h = relu(matmul(x, x, MatmulOptions().transpose_b(true)) + b);   // bias add + activation
    Tensor m = h * 0.9 + square(h) * 0.1;              // Adam-like moment updates
    Tensor out = m / (sqrt(m * 0.5 + 1.0) + 1e-8);
    return sum(out + tanh(m) * sigmoid(-m));
  };
  Tensor x = Tensor::from_vector<float>({0.5, -1, 2, 0.25, 1.5, -0.5, 0.1, 0.2, 0.3}, {3, 3});
  Tensor b = Tensor::from_vector<float>({0.1, -0.2, 0.3});
  auto fused = function(body);
  auto plain = function(body, FunctionOptions().optimize(false));
  EXPECT_NEAR(fused(x, b).item<double>(), body(x, b).item<double>(), 1e-5);
  EXPECT_NEAR(plain(x, b).item<double>(), body(x, b).item<double>(), 1e-5);
  trace::ExecutorStats s = fused.stats();
  EXPECT_EQ(s.fused_groups, 1u);
  EXPECT_GE(s.fused_nodes, 12u);
  EXPECT_EQ(s.kernel_steps, 3u);  // matmul, the fused loop, sum
  EXPECT_LT(s.kernel_steps, plain.stats().kernel_steps);
}

TEST(ExecutorTest, FusionKeepsValuesReadOutsideTheGroupAndRespectsAssigns) {
  VariableStore store("m");
  Variable m = store.root().variable("m", {4}, init::constant(1.0));
  Variable v = store.root().variable("v", {4}, init::constant(2.0));
  auto step = function([&](const Tensor& g) {
    Tensor m_next = m.value() * 0.9 + g * 0.1;
    m.assign(m_next);                    // a barrier: v's update must see the new m
    Tensor v_next = v.value() * 0.5 + m.value() * g;
    v.assign(v_next);
    return m_next + v_next;
  });
  Tensor g = Tensor::from_vector<float>({1, 2, 3, 4});
  Tensor out = step(g);
  // m = 0.9 + 0.1 g; v = 1 + m * g.
  std::vector<float> want_m{1.0f, 1.1f, 1.2f, 1.3f}, got_m = m.value().to_vector<float>();
  std::vector<float> got_v = v.value().to_vector<float>(), got = out.to_vector<float>();
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(got_m[i], want_m[i], 1e-6);
    EXPECT_NEAR(got_v[i], 1.0f + want_m[i] * static_cast<float>(i + 1), 1e-5);
    EXPECT_NEAR(got[i], got_m[i] + got_v[i], 1e-5);
  }
  EXPECT_EQ(step.stats().fused_groups, 2u);
}

// An update is written into its variable only when nothing reads the old
// value afterwards; here the step reads w after its update (and b's update is
// read by nothing), so w's update is copied and b's is written in place.
TEST(ExecutorTest, AnUpdateIsWrittenInPlaceOnlyWhenTheOldValueIsDead) {
  auto run = [](bool compiled) {
    VariableStore store("m");
    Variable w = store.root().variable("w", {3}, init::constant(1.0));
    Variable b = store.root().variable("b", {3}, init::constant(0.5));
    optim::SGD sgd(optim::SGDOptions(0.1).momentum(0.9));
    auto body = [&](const Tensor& x) {
      GradientTape tape;
      Tensor loss = sum(square(w.value() * x + b));
      std::vector<Variable> vars{w, b};
      Tensor w_before = w.value() * 1.0;
      sgd.apply_gradients(vars, tape.gradient(loss, vars));
      return w_before + w.value();  // reads w after its update
    };
    auto step = function(body);
    Tensor x = Tensor::from_vector<float>({1, 2, 3});
    std::vector<float> out;
    for (int i = 0; i < 3; ++i) out = (compiled ? step(x) : body(x)).to_vector<float>();
    for (float v : w.value().to_vector<float>()) out.push_back(v);
    for (float v : b.value().to_vector<float>()) out.push_back(v);
    if (compiled) {
      EXPECT_EQ(step.stats().in_place_updates, 1u);
    }
    return out;
  };
  EXPECT_EQ(run(true), run(false));
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

// Each intermediate's bytes fit, their sum is past what the allocator hands
// out: the plan refuses before its arena size can wrap (nothing is allocated).
TEST(ExecutorTest, APlanLargerThanAnyMachineIsRefused) {
  auto f = function([](const Tensor& x) {
    return sum(zeros({int64_t{1} << 46}) + x) + sum(zeros({int64_t{1} << 46}) * x);
  }, FunctionOptions().optimize(false));
  try {
    f(Tensor::scalar<float>(1));
    ADD_FAILURE() << "no error";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("bytes (2^48) for its intermediate values"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace graft
