#include "graft/optim/optimizer.h"

#include <cmath>
#include <functional>

#include <gtest/gtest.h>

#include "graft/autodiff/tape.h"
#include "graft/ops/ops.h"
#include "graft/optim/adam.h"
#include "graft/optim/sgd.h"
#include "graft/trace/function.h"

namespace graft::optim {
namespace {

struct GoldenStep {
  int step;
  std::vector<double> values;  // w (3x2) then b (2)
};

std::map<std::string, std::vector<GoldenStep>> golden_trajectories() {
  std::map<std::string, std::vector<GoldenStep>> out;
#define GOLDEN(name, ...) out[name] = std::vector<GoldenStep> __VA_ARGS__;
#include "golden_trajectories.inc"
#undef GOLDEN
  return out;
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& name) {
  if (name == "sgd") return std::make_unique<SGD>(SGDOptions(0.1));
  if (name == "sgd_momentum") return std::make_unique<SGD>(SGDOptions(0.1).momentum(0.9));
  if (name == "sgd_nesterov") return std::make_unique<SGD>(SGDOptions(0.1).momentum(0.9).nesterov(true));
  if (name == "sgd_weight_decay") return std::make_unique<SGD>(SGDOptions(0.1).momentum(0.5).weight_decay(0.1));
  if (name == "adam") return std::make_unique<Adam>(AdamOptions(0.01));
  if (name == "adam_l2") return std::make_unique<Adam>(AdamOptions(0.01).weight_decay(0.1));
  if (name == "adamw") return std::make_unique<Adam>(adamw_options(0.01, 0.1));
  return nullptr;
}

// The problem of tools/golden_optimizers.py, in float64.
struct Problem {
  VariableStore store{"p"};
  Variable w, b;
  Tensor x, y;

  Problem() {
    std::vector<double> xv, yv, wv, bv;
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 3; ++j) xv.push_back(std::sin(i * 3 + j + 1));
    for (int i = 0; i < 4; ++i)
      for (int k = 0; k < 2; ++k) yv.push_back(std::cos(i * 2 + k));
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k) wv.push_back(0.1 * (j * 2 + k) - 0.2);
    for (int k = 0; k < 2; ++k) bv.push_back(0.05 * k);
    x = Tensor::from_vector(xv, {4, 3});
    y = Tensor::from_vector(yv, {4, 2});
    auto f64 = VariableOptions().dtype(DType::kFloat64);
    w = store.root().variable("w", {3, 2}, init::from_tensor(Tensor::from_vector(wv, {3, 2})), f64);
    b = store.root().variable("b", {2}, init::from_tensor(Tensor::from_vector(bv, {2})), f64);
  }

  void step(Optimizer& opt) {
    GradientTape tape;
    Tensor loss = mean(square(matmul(x, w) + b - y));
    std::vector<Variable> vars{w, b};
    opt.apply_gradients(vars, tape.gradient(loss, vars));
  }

  std::vector<double> values() const {
    std::vector<double> v = w.value().to_vector<double>();
    for (double x : b.value().to_vector<double>()) v.push_back(x);
    return v;
  }
};

class GoldenTrajectoryTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTrajectoryTest, MatchesPyTorchEagerAndCompiled) {
  const std::vector<GoldenStep> golden = golden_trajectories().at(GetParam());
  for (bool compiled : {false, true}) {
    Problem problem;
    auto opt = make_optimizer(GetParam());
    auto step = function([&]() { problem.step(*opt); });
    int done = 0;
    for (const GoldenStep& g : golden) {
      for (; done < g.step; ++done) {
        if (compiled) {
          step();
        } else {
          problem.step(*opt);
        }
      }
      std::vector<double> got = problem.values();
      ASSERT_EQ(got.size(), g.values.size());
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_NEAR(got[i], g.values[i], 1e-12) << GetParam() << (compiled ? " compiled" : " eager") << " step "
                                                << g.step << " value " << i;
      }
    }
    if (compiled) {
      EXPECT_EQ(step.captures(), 1);
      // Both updates wrote straight into w and b, with no copy per step.
      EXPECT_EQ(step.stats().in_place_updates, 2u);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(PyTorch, GoldenTrajectoryTest,
                         ::testing::Values("sgd", "sgd_momentum", "sgd_nesterov", "sgd_weight_decay", "adam",
                                           "adam_l2", "adamw"));

TEST(OptimizerTest, AdamLearnsXor) {
  VariableStore store("xor", 3);
  Variable w1 = store.root().variable("w1", {2, 8}, init::glorot_uniform());
  Variable b1 = store.root().variable("b1", {8});
  Variable w2 = store.root().variable("w2", {8, 1}, init::glorot_uniform());
  Variable b2 = store.root().variable("b2", {1});
  Tensor x = Tensor::from_vector<float>({0, 0, 0, 1, 1, 0, 1, 1}, {4, 2});
  Tensor y = Tensor::from_vector<float>({0, 1, 1, 0}, {4, 1});
  Adam adam(AdamOptions(0.05));
  auto step = function([&]() {
    GradientTape tape;
    Tensor loss = mse_loss(sigmoid(matmul(tanh(matmul(x, w1) + b1), w2) + b2), y);
    auto vars = store.trainable_variables();
    adam.apply_gradients(vars, tape.gradient(loss, vars));
    return loss;
  });
  double loss = 1;
  for (int i = 0; i < 500; ++i) loss = step().item<double>();
  EXPECT_LT(loss, 0.01);
  EXPECT_EQ(adam.iterations(), 500);
}

TEST(OptimizerTest, FollowsAGrowingModelKeepingStateByIdentity) {
  VariableStore store("mlp", 1);
  Variable a = store.root().child("layer_0").variable("kernel", {4}, init::normal());
  Adam adam(AdamOptions(0.1));
  auto train = [&] {
    GradientTape tape;
    Tensor loss = Tensor::scalar<float>(0);
    for (const Variable& v : store.trainable_variables()) loss = loss + sum(square(v.value() - 1.0));
    auto vars = store.trainable_variables();
    adam.apply_gradients(vars, tape.gradient(loss, vars));
  };
  for (int i = 0; i < 3; ++i) train();
  std::vector<Variable> slots_a = adam.slots_of(a);
  ASSERT_EQ(slots_a.size(), 3u);
  EXPECT_EQ(slots_a[0].path(), "adam/mlp/layer_0/kernel/m");
  std::vector<float> m_before = slots_a[0].value().to_vector<float>();
  EXPECT_EQ(slots_a[2].value().item<float>(), 3);  // a's own step count

  // Grow: a new layer's variable, created before a's (so positions shift).
  Variable z = store.root().child("a_first").variable("kernel", {2}, init::normal());
  train();
  EXPECT_EQ(adam.slots_of(a)[0], slots_a[0]) << "a's slots were replaced";
  EXPECT_NE(adam.slots_of(a)[0].value().to_vector<float>(), m_before);
  ASSERT_EQ(adam.slots_of(z).size(), 3u);
  EXPECT_EQ(adam.slots_of(z)[2].value().item<float>(), 1);  // z's bias correction starts at 1
  EXPECT_EQ(adam.slots_of(a)[2].value().item<float>(), 4);
  EXPECT_EQ(adam.tracked_variables(), 2u);

  // Shrink: retiring a releases its slots at the next update.
  store.retire(a, "test");
  train();
  EXPECT_EQ(adam.tracked_variables(), 1u);
  EXPECT_TRUE(slots_a[0].is_retired());
  EXPECT_FALSE(adam.store().find("adam/mlp/layer_0/kernel/m").has_value());
}

TEST(OptimizerTest, SlotsAreCreatedOnFirstUpdateInsideACompiledStep) {
  VariableStore store("m", 1);
  Variable w = store.root().variable("w", {3}, init::ones());
  SGD sgd(SGDOptions(0.1).momentum(0.9));
  auto step = function([&]() {
    GradientTape tape;
    Tensor loss = sum(square(w.value()));
    std::vector<Variable> vars{w};
    sgd.apply_gradients(vars, tape.gradient(loss, vars));
  });
  step();
  ASSERT_EQ(sgd.slots_of(w).size(), 1u);
  EXPECT_EQ(sgd.slots_of(w)[0].path(), "sgd/m/w/momentum");
  step();
  step();
  EXPECT_EQ(step.captures(), 1);
  EXPECT_EQ(sgd.iterations(), 3);
  // Eager reference: three momentum steps on sum(w^2) from 1.
  double p = 1, buf = 0;
  for (int i = 0; i < 3; ++i) {
    buf = 0.9 * buf + 2 * p;
    p -= 0.1 * buf;
  }
  EXPECT_NEAR(w.value().to_vector<float>()[0], p, 1e-6);
}

TEST(OptimizerTest, ScheduleDrivesTheLearningRateInEagerAndCompiledSteps) {
  for (bool compiled : {false, true}) {
    VariableStore store("m");
    Variable w = store.root().variable("w", {1}, init::zeros());
    SGD sgd(SGDOptions(1.0).schedule(schedule::step_decay(1.0, 1, 0.5)));
    auto eager = [&] {
      GradientTape tape;
      Tensor loss = sum(w.value() * -1.0);  // gradient -1: w grows by lr
      std::vector<Variable> vars{w};
      sgd.apply_gradients(vars, tape.gradient(loss, vars));
    };
    auto step = function(eager);
    for (int i = 0; i < 4; ++i) {
      if (compiled) {
        step();
      } else {
        eager();
      }
    }
    EXPECT_FLOAT_EQ(w.value().item<float>(), 1.0f + 0.5f + 0.25f + 0.125f) << compiled;
  }
}

TEST(OptimizerTest, DiagnosesVariablesThatNeverMove) {
  VariableStore store("m", 1);
  Variable used = store.root().variable("used", {2}, init::ones());
  Variable unused = store.root().variable("unused", {2}, init::ones());
  Variable dead = store.root().variable("dead", {2}, init::ones());
  SGD sgd(SGDOptions(0.1));
  for (int i = 0; i < 12; ++i) {
    GradientTape tape;
    Tensor loss = sum(square(used.value())) + sum(relu(dead.value() * -1.0));  // relu is dead: zero gradient
    auto vars = store.trainable_variables();
    sgd.apply_gradients(vars, tape.gradient(loss, vars));
  }
  std::vector<std::string> report = sgd.diagnose(store.trainable_variables());
  ASSERT_EQ(report.size(), 2u);
  EXPECT_NE(report[0].find("variable 'm/unused' is trainable but optimizer 'sgd' never updated it in 12 steps"),
            std::string::npos)
      << report[0];
  EXPECT_NE(report[1].find("variable 'm/dead' has not changed in 12 updates"), std::string::npos) << report[1];
}

// The "has not changed" diagnosis hashes a variable's bytes a word at a time
// and its tail byte by byte: a change in the first, the middle or the last
// element of a 3-element (12-byte) variable is seen, and no change is too.
TEST(OptimizerTest, DiagnosisSeesAChangeInAnyElement) {
  for (int64_t changed : {-1, 0, 1, 2}) {
    VariableStore store("m", 1);
    Variable w = store.root().variable("w", {3}, init::ones());
    SGD sgd(SGDOptions(0.5));
    std::vector<float> g(3, 0.0f);
    if (changed >= 0) g[static_cast<size_t>(changed)] = 1.0f;
    std::vector<Variable> vars{w};
    sgd.apply_gradients(vars, {Tensor::from_vector<float>(g, {3})});
    std::vector<std::string> report = sgd.diagnose(vars, 1);
    if (changed < 0) {
      ASSERT_EQ(report.size(), 1u);
      EXPECT_NE(report[0].find("variable 'm/w' has not changed in 1 updates"), std::string::npos) << report[0];
    } else {
      EXPECT_TRUE(report.empty()) << "element " << changed << " changed: " << report[0];
    }
  }
}

TEST(OptimizerTest, BadArgumentsAreClearErrors) {
  VariableStore store("m");
  Variable w = store.root().variable("w", {2});
  SGD sgd(SGDOptions(0.1));
  try {
    sgd.apply_gradients({w}, {});
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("optimizer 'sgd': 1 variables but 0 gradients"), std::string::npos);
  }
  try {
    sgd.apply_gradients({w}, {zeros({3})});
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("the gradient for 'm/w' has shape [3], the variable [2]"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(Adam(AdamOptions().betas(1.0, 0.9)), ValueError);
}

TEST(ClipTest, ScalesToTheGlobalNormAndKeepsMissingGradients) {
  std::vector<std::optional<Tensor>> grads{Tensor::from_vector<float>({3, 0}), std::nullopt,
                                           Tensor::from_vector<float>({4})};
  ClippedGradients c = clip_by_global_norm(grads, 1.0);
  EXPECT_FLOAT_EQ(c.global_norm.item<float>(), 5.0f);
  EXPECT_FALSE(c.gradients[1].has_value());
  EXPECT_FLOAT_EQ(c.gradients[0]->to_vector<float>()[0], 0.6f);
  EXPECT_FLOAT_EQ(c.gradients[2]->item<float>(), 0.8f);
  ClippedGradients unchanged = clip_by_global_norm(grads, 10.0);
  EXPECT_FLOAT_EQ(unchanged.gradients[2]->item<float>(), 4.0f);
}

// NaN, infinite or negative weight decay or momentum were accepted: NaN
// weights after one step, or weights that grew instead of decaying.
TEST(OptimizerTest, NonFiniteOrNegativeHyperparametersAreRefused) {
  EXPECT_THROW(Adam(AdamOptions(0.1).weight_decay(NAN)), ValueError);
  EXPECT_THROW(Adam(AdamOptions(0.1).weight_decay(-1)), ValueError);
  EXPECT_THROW(Adam(AdamOptions(INFINITY)), ValueError);
  EXPECT_THROW(SGD(SGDOptions(0.1).weight_decay(INFINITY)), ValueError);
  EXPECT_THROW(SGD(SGDOptions(0.1).momentum(INFINITY)), ValueError);
}

// A schedule of the user's that went negative ran gradient ascent silently
// (a weight of 1 with gradient 1 and rate -5 became 6).
TEST(OptimizerTest, AScheduleGivingANegativeRateStopsAtThatStep) {
  VariableStore store("neg");
  Variable w = store.root().variable("w", {2}, init::ones());
  SGD sgd(SGDOptions(0.1).schedule([](int64_t step) { return step < 1 ? 0.1 : -5.0; }));
  sgd.apply_gradients({w}, {ones({2})});
  EXPECT_FLOAT_EQ(w.value().to_vector<float>()[0], 0.9f);
  try {
    sgd.apply_gradients({w}, {ones({2})});
    FAIL() << "expected a ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("optimizer 'sgd': its learning-rate schedule gave -5 at step 1"),
              std::string::npos) << e.what();
  }
  EXPECT_FLOAT_EQ(w.value().to_vector<float>()[0], 0.9f);
}

// A variable listed twice was updated twice per step.
TEST(OptimizerTest, AVariableListedTwiceIsAnErrorNamingBothPositions) {
  VariableStore store("dup");
  Variable w = store.root().variable("w", {2}, init::ones());
  Variable b = store.root().variable("b", {2}, init::ones());
  SGD sgd(SGDOptions(0.1));
  try {
    sgd.apply_gradients({w, b, w}, {ones({2}), ones({2}), ones({2})});
    FAIL() << "expected a ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("variable 'dup/w' is listed twice (positions 0 and 2 of 3"),
              std::string::npos) << e.what();
  }
  EXPECT_FLOAT_EQ(w.value().to_vector<float>()[0], 1.0f);
  sgd.apply_gradients({w, b, w}, {ones({2}), ones({2}), std::nullopt});
  EXPECT_FLOAT_EQ(w.value().to_vector<float>()[0], 0.9f);
}

// Squares summed in float32 overflowed past ~1.8e19: the norm was inf, the
// scale max_norm / inf = 0, and exploding gradients became a zero step.
TEST(ClipTest, HugeFloat32GradientsScaleToMaxNormInsteadOfToZero) {
  std::vector<std::optional<Tensor>> grads{Tensor::from_vector<float>({3e20f, 0}), Tensor::from_vector<float>({4e20f})};
  ClippedGradients c = clip_by_global_norm(grads, 1.0);
  EXPECT_FLOAT_EQ(c.global_norm.item<float>(), 5e20f);
  EXPECT_FLOAT_EQ(c.gradients[0]->to_vector<float>()[0], 0.6f);
  EXPECT_FLOAT_EQ(c.gradients[1]->item<float>(), 0.8f);
  EXPECT_THROW(clip_by_global_norm(grads, INFINITY), ValueError);
  EXPECT_THROW(clip_by_global_norm(grads, NAN), ValueError);
}

}  // namespace
}  // namespace graft::optim
