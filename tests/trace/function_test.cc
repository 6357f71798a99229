#include "graft/trace/function.h"

#include <gtest/gtest.h>

#include "graft/autodiff/tape.h"
#include "graft/base/warning.h"
#include "graft/ops/ops.h"
#include "graft/tensor/random.h"
#include "graft/vars/store.h"

namespace graft {
namespace {

Tensor input(const Shape& shape, uint64_t seed) {
  Tensor t = Tensor::empty(shape);
  fill_normal(t.data<float>(), t.numel(), seed, 0.0, 1.0);
  return t;
}

void expect_near(const Tensor& a, const Tensor& b, double tol = 1e-6) {
  ASSERT_EQ(a.shape(), b.shape());
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  for (size_t i = 0; i < va.size(); ++i) EXPECT_NEAR(va[i], vb[i], tol) << i;
}

// The seed's dynamic model, done right: layer i's weights by path.
Tensor dynamic_model(VariableStore& store, Tensor x, int num_layers) {
  for (int i = 0; i < num_layers; ++i) {
    Variable w = store.root().child("layer_" + std::to_string(i)).variable("weights", {10, 10}, init::normal(0, 0.3));
    x = tanh(matmul(x, w));
  }
  return x;
}

TEST(FunctionTest, CapturesOnceAndReplaysWithTheEagerResult) {
  VariableStore store("m", 1);
  Tensor x = input({4, 10}, 2);
  Tensor eager = dynamic_model(store, x, 2);
  auto f = function([&](const Tensor& in) { return dynamic_model(store, in, 2); }, FunctionOptions().name("f"));
  for (int i = 0; i < 5; ++i) expect_near(f(x), eager);
  EXPECT_EQ(f.captures(), 1);
  EXPECT_EQ(f.calls(), 5);
  EXPECT_EQ(store.size(), 2u);
}

TEST(FunctionTest, ANewSignatureRecapturesAndSaysWhy) {
  VariableStore store("m", 1);
  auto f = function([&](const Tensor& in) { return dynamic_model(store, in, 1); }, FunctionOptions().name("f"));
  f(input({8, 10}, 1));
  f(input({32, 10}, 1));
  f(input({8, 10}, 1));  // cached
  EXPECT_EQ(f.captures(), 2);
  std::string explain = f.explain();
  EXPECT_NE(explain.find("capture 1 (call 1): first call, signature (float32[8, 10])"), std::string::npos) << explain;
  EXPECT_NE(explain.find("capture 2 (call 2): new signature (float32[32, 10]) (previous (float32[8, 10]))"),
            std::string::npos)
      << explain;
}

// The seed scenario inside a compiled training step, growing from 1 to 3
// layers: no singleton error, each layer's variables created exactly once,
// the loss falling, and the recaptures explained.
TEST(FunctionTest, AGrowingModelRecapturesInsteadOfFailing) {
  VariableStore store("seed", 3);
  Tensor x = input({1, 10}, 4);
  auto train_step = function(
      [&](const Tensor& in, int num_layers) {
        GradientTape tape;
        Tensor loss = mean(square(dynamic_model(store, in, num_layers)));
        auto vars = store.trainable_variables();
        auto grads = tape.gradient(loss, vars);
        for (size_t i = 0; i < vars.size(); ++i) vars[i].assign_sub(*grads[i] * 0.1);
        return loss;
      },
      FunctionOptions().name("train_step"));
  std::vector<uint64_t> ids;
  for (int num_layers = 1; num_layers <= 3; ++num_layers) {
    double first = train_step(x, num_layers).item<double>();
    double last = first;
    for (int step = 0; step < 5; ++step) last = train_step(x, num_layers).item<double>();
    EXPECT_LT(last, first) << num_layers;
    EXPECT_EQ(store.size(), static_cast<size_t>(num_layers));
    ids.push_back(store.find("seed/layer_0/weights")->id());
  }
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(ids[1], ids[2]);
  EXPECT_EQ(train_step.captures(), 3);
  std::string explain = train_step.explain();
  EXPECT_NE(explain.find("created seed/layer_0/weights"), std::string::npos) << explain;
  EXPECT_NE(explain.find("capture 2 (call 7): new static arguments (2) (previous (1))"), std::string::npos) << explain;
  EXPECT_NE(explain.find("created seed/layer_1/weights"), std::string::npos) << explain;
  EXPECT_NE(explain.find("created seed/layer_2/weights"), std::string::npos) << explain;
}

TEST(FunctionTest, StrictModeGivesTensorFlowsRuleWithGraftsDetails) {
  VariableStore store("seed", 3);
  auto f = function([&](const Tensor& in, int num_layers) { return dynamic_model(store, in, num_layers); },
                    FunctionOptions().name("train_step").strict(true));
  f(input({1, 10}, 1), 1);
  try {
    f(input({1, 10}, 1), 2);
    FAIL() << "strict mode allowed creation on a later capture";
  } catch (const ValueError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("graft::function 'train_step' (strict mode) created variable 'seed/layer_1/weights' on call 2 "
                        "(capture 2)"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("tf.function only supports singleton tf.Variables created on the first call"),
              std::string::npos);
    EXPECT_NE(what.find("created at: function_test.cc:"), std::string::npos) << what;
    EXPECT_NE(what.find("help: build the model"), std::string::npos) << what;
  }
}

TEST(FunctionTest, StrictModeAllowsReuseOnLaterCaptures) {
  VariableStore store("seed", 3);
  auto f = function([&](const Tensor& in) { return dynamic_model(store, in, 2); }, FunctionOptions().strict(true));
  f(input({1, 10}, 1));
  EXPECT_NO_THROW(f(input({3, 10}, 1)));
  EXPECT_EQ(f.captures(), 2);
}

TEST(FunctionTest, UnkeyedCreationInARecaptureIsAnErrorPointingAtTheSite) {
  VariableStore store("m");
  VariableScope scope(store.root());
  Tensor init_value = ones({10, 10});
  std::vector<Variable> keep;
  auto f = function([&](const Tensor& in) {
    keep.push_back(Variable(init_value, "weights"));
    return matmul(in, keep.back());
  }, FunctionOptions().name("faulty"));
  f(input({1, 10}, 1));
  try {
    f(input({2, 10}, 1));
    FAIL();
  } catch (const ValueError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("graft::function 'faulty': unkeyed Variable 'm/weights_1' created at function_test.cc:"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("help: create it by path with scope.variable(\"weights\""), std::string::npos) << what;
  }
}

// Mutating the model between calls changes the result exactly as eager
// execution would: never a stale graph.
TEST(FunctionTest, MutationsBetweenCallsNeverRunAStaleGraph) {
  VariableStore store("m", 5);
  Tensor x = input({3, 10}, 6);
  auto model = [&](const Tensor& in) {
    Tensor h = in;
    for (const Variable& w : store.variables()) h = tanh(matmul(h, w));
    return h;
  };
  auto train = function([&](const Tensor& in) {
    GradientTape tape;
    Tensor loss = sum(model(in));
    auto vars = store.trainable_variables();
    auto grads = tape.gradient(loss, vars);
    for (size_t i = 0; i < vars.size(); ++i) vars[i].assign_sub(*grads[i] * 0.01);
    return loss;
  });
  // An eager twin of the same model, kept in lockstep.
  VariableStore twin("m", 5);
  auto eager_step = [&](const Tensor& in) {
    GradientTape tape;
    Tensor h = in;
    for (const Variable& w : twin.variables()) h = tanh(matmul(h, w));
    Tensor loss = sum(h);
    auto vars = twin.trainable_variables();
    auto grads = tape.gradient(loss, vars);
    for (size_t i = 0; i < vars.size(); ++i) vars[i].assign_sub(*grads[i] * 0.01);
    return loss;
  };
  auto both_add = [&](const std::string& name) {
    store.root().variable(name, {10, 10}, init::normal(0, 0.3));
    twin.root().variable(name, {10, 10}, init::normal(0, 0.3));
  };
  both_add("a");
  both_add("b");
  for (int i = 0; i < 2; ++i) expect_near(train(x), eager_step(x), 1e-5);
  both_add("c");  // insert
  expect_near(train(x), eager_step(x), 1e-5);
  store.retire(*store.find("m/a"), "test");  // remove
  twin.retire(*twin.find("m/a"), "test");
  expect_near(train(x), eager_step(x), 1e-5);
  store.find("m/b")->set_trainable(false);  // freeze
  twin.find("m/b")->set_trainable(false);
  expect_near(train(x), eager_step(x), 1e-5);
  expect_near(train(x), eager_step(x), 1e-5);
  expect_near(store.find("m/b")->value(), twin.find("m/b")->value(), 1e-5);
  expect_near(store.find("m/c")->value(), twin.find("m/c")->value(), 1e-5);
  EXPECT_EQ(train.captures(), 4);
  std::string explain = train.explain();
  EXPECT_NE(explain.find("retired m/a"), std::string::npos) << explain;
  EXPECT_NE(explain.find("froze m/b"), std::string::npos) << explain;
}

TEST(FunctionTest, ReadingASymbolicValueInsideIsAClearError) {
  auto f = function([](const Tensor& in) { return in * in.item<float>(); });
  try {
    f(ones({1}));
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("symbolic"), std::string::npos) << e.what();
  }
  // The failed capture left no hooks behind: eager ops run again.
  EXPECT_EQ((ones({2}) * 3.0).to_vector<float>(), (std::vector<float>{3, 3}));
}

TEST(FunctionTest, RepeatedRecapturesWarnOnceSayingWhy) {
  auto f = function([](const Tensor& in) { return in * 2.0; }, FunctionOptions().name("wobbly").recapture_warning(3));
  CapturedWarnings warnings;
  testing::internal::CaptureStderr();
  for (int n = 1; n <= 6; ++n) f(ones({n}));
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");  // through the handler, not stderr
  ASSERT_EQ(warnings.messages().size(), 1u) << "warned more than once";
  const std::string err = warnings.messages()[0];
  EXPECT_NE(err.find("function 'wobbly' recaptured on 3 calls in a row"), std::string::npos) << err;
  EXPECT_NE(err.find("new signature (float32[4])"), std::string::npos) << err;
}

TEST(FunctionTest, ATapeOutsideDoesNotSeeInsideAndGradientsInsideWork) {
  Tensor w = Tensor::from_vector<float>({2, 3});
  auto f = function([&](const Tensor& x) {
    GradientTape tape;
    tape.watch(x);
    Tensor y = sum(x * x * w);
    return *tape.gradient(y, {x})[0];
  });
  Tensor g = f(Tensor::from_vector<float>({1, 1}));
  EXPECT_EQ(g.to_vector<float>(), (std::vector<float>{4, 6}));
  GradientTape outer;
  Tensor x = Tensor::from_vector<float>({2, 1});
  outer.watch(x);
  EXPECT_EQ(f(x).to_vector<float>(), (std::vector<float>{8, 6}));
  EXPECT_EQ(outer.size(), 0u);
}

TEST(FunctionTest, ANestedFunctionIsInlined) {
  auto inner = function([](const Tensor& x) { return x + 1.0; });
  auto outer = function([&](const Tensor& x) { return inner(x) * 2.0; });
  EXPECT_EQ(outer(ones({2})).to_vector<float>(), (std::vector<float>{4, 4}));
  EXPECT_EQ(inner.captures(), 0);
  EXPECT_EQ(outer.captures(), 1);
}

TEST(FunctionTest, ReturnsSeveralTensorsOrNone) {
  VariableStore store("m");
  Variable counter = store.root().variable("counter", {1});
  auto two = function([](const Tensor& a, const Tensor& b) { return std::vector<Tensor>{a + b, a - b}; });
  auto out = two(ones({1}), ones({1}));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].item<float>(), 2);
  EXPECT_EQ(out[1].item<float>(), 0);
  auto bump = function([&](const Tensor& by) { counter.assign_add(by); });
  for (int i = 0; i < 3; ++i) bump(ones({1}));
  EXPECT_EQ(counter.value().item<float>(), 3);
}

}  // namespace
}  // namespace graft

namespace graft {
namespace {

TEST(HostCallTest, RunsOnEveryReplayInProgramOrder) {
  VariableStore store("m");
  Variable lr = store.root().variable("lr", {}, init::constant(1.0), VariableOptions().trainable(false));
  Variable w = store.root().variable("w", {1}, init::zeros());
  int calls = 0;
  auto step = function([&](const Tensor& g) {
    // A schedule: the learning rate halves every call, set on the host.
    host_call("schedule", [&] { lr.assign(Tensor::scalar<float>(1.0f / static_cast<float>(1 << calls++))); });
    w.assign_sub(g * lr.value());
  });
  for (int i = 0; i < 4; ++i) step(ones({1}));
  EXPECT_EQ(calls, 4);
  EXPECT_FLOAT_EQ(w.value().item<float>(), -(1.0f + 0.5f + 0.25f + 0.125f));
  EXPECT_EQ(step.captures(), 1);
}

}  // namespace
}  // namespace graft

#include "graft/nn/layers.h"
#include "graft/nn/sequential.h"

namespace graft {
namespace {

// A compiled step draws a new dropout mask on every replay, the same masks
// eager execution draws.
TEST(HostCallTest, DropoutInsideACompiledStepDrawsAFreshMaskEachCall) {
  auto make = [] {
    auto m = std::make_unique<nn::Sequential>("m");
    m->add(nn::Dropout(nn::DropoutOptions(0.5).seed(3)));
    return m;
  };
  auto eager = make(), compiled = make();
  auto step = function([&](const Tensor& x) { return (*compiled)(x); });
  Tensor x = ones({64});
  std::vector<std::vector<float>> masks;
  for (int i = 0; i < 3; ++i) {
    std::vector<float> want = (*eager)(x).to_vector<float>();
    std::vector<float> got = step(x).to_vector<float>();
    EXPECT_EQ(got, want) << "call " << i;
    masks.push_back(got);
  }
  EXPECT_NE(masks[0], masks[1]);
  EXPECT_NE(masks[1], masks[2]);
  EXPECT_EQ(step.captures(), 1);
}

}  // namespace
}  // namespace graft
