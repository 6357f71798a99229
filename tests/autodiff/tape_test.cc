#include "graft/autodiff/tape.h"

#include <cmath>

#include <gtest/gtest.h>

#include "graft/autodiff/gradcheck.h"
#include "graft/ops/ops.h"

namespace graft {
namespace {

TEST(GradientTapeTest, GradientOfAProduct) {
  Tensor x = Tensor::from_vector<double>({1, 2, 3});
  Tensor y = Tensor::from_vector<double>({4, 5, 6});
  GradientTape tape;
  tape.watch(x);
  tape.watch(y);
  Tensor z = sum(x * y);
  auto g = tape.gradient(z, {x, y});
  ASSERT_TRUE(g[0] && g[1]);
  EXPECT_EQ(g[0]->to_vector<double>(), (std::vector<double>{4, 5, 6}));
  EXPECT_EQ(g[1]->to_vector<double>(), (std::vector<double>{1, 2, 3}));
}

TEST(GradientTapeTest, UnconnectedSourceGetsNoGradient) {
  Tensor x = Tensor::from_vector<double>({1, 2});
  Tensor unused = Tensor::from_vector<double>({3});
  GradientTape tape;
  tape.watch(x);
  tape.watch(unused);
  auto g = tape.gradient(sum(square(x)), {x, unused});
  EXPECT_TRUE(g[0].has_value());
  EXPECT_FALSE(g[1].has_value());
}

TEST(GradientTapeTest, NonPersistentTapeAnswersOnceWithAHelpfulError) {
  Tensor x = Tensor::from_vector<double>({1});
  GradientTape tape;
  tape.watch(x);
  Tensor y = x * x;
  tape.gradient(y, {x});
  try {
    tape.gradient(y, {x});
    FAIL();
  } catch (const ValueError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("only be called once"), std::string::npos) << what;
    EXPECT_NE(what.find("help: construct the tape with GradientTape(GradientTapeOptions().persistent(true))"),
              std::string::npos);
  }
}

TEST(GradientTapeTest, PersistentTapeAnswersManyTimes) {
  Tensor x = Tensor::from_vector<double>({3});
  GradientTape tape(GradientTapeOptions().persistent(true));
  tape.watch(x);
  Tensor y = x * x;
  Tensor z = y * x;
  EXPECT_DOUBLE_EQ(tape.gradient(y, {x})[0]->item<double>(), 6.0);
  EXPECT_DOUBLE_EQ(tape.gradient(z, {x})[0]->item<double>(), 27.0);
}

TEST(GradientTapeTest, StopGradientBlocksFlow) {
  Tensor x = Tensor::from_vector<double>({2});
  GradientTape tape;
  tape.watch(x);
  Tensor y = x * stop_gradient(x);
  EXPECT_DOUBLE_EQ(tape.gradient(y, {x})[0]->item<double>(), 2.0);
}

// d2/dx2 tanh(x) = -2 tanh(x) (1 - tanh(x)^2)
TEST(GradientTapeTest, NestedTapesGiveTheSecondDerivativeOfTanh) {
  const double x0 = 0.7;
  Tensor x = Tensor::from_vector<double>({x0});
  GradientTape outer;
  outer.watch(x);
  Tensor dy;
  {
    GradientTape inner;
    inner.watch(x);
    Tensor y = tanh(x);
    dy = *inner.gradient(y, {x})[0];
  }
  Tensor d2y = *outer.gradient(dy, {x})[0];
  double t = std::tanh(x0);
  EXPECT_NEAR(dy.item<double>(), 1 - t * t, 1e-12);
  EXPECT_NEAR(d2y.item<double>(), -2 * t * (1 - t * t), 1e-12);
}

TEST(GradientTapeTest, InPlaceWriteAfterForwardIsReported) {
  Tensor w = Tensor::from_vector<double>({1, 2});
  GradientTape tape;
  tape.watch(w);
  Tensor y = sum(w * w);
  w.copy_from(Tensor::from_vector<double>({5, 6}));
  EXPECT_THROW(tape.gradient(y, {w}), ValueError);
}

TEST(GradcheckTest, CatchesAWrongGradient) {
  // A function whose tape gradient is right passes...
  Tensor x = Tensor::from_vector<double>({0.3, -0.4, 0.9}, {3});
  auto good = check_gradients([](const std::vector<Tensor>& in) { return tanh(in[0]) * in[0]; }, {x});
  EXPECT_TRUE(good.ok) << good.report;
  // ...and one whose forward hides a factor from the tape fails.
  auto bad = check_gradients(
      [](const std::vector<Tensor>& in) { return in[0] * stop_gradient(in[0]); }, {x});
  EXPECT_FALSE(bad.ok);
}

// A float64 seed for a float32 target failed in the backward pass with
// "mul: input 0 is float64 but input 1 is float32", naming no seed.
TEST(GradientTapeTest, AnOutputGradientOfAnotherDtypeIsADTypeErrorNamingIt) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3});
  GradientTape tape;
  tape.watch(x);
  Tensor y = x * x;
  try {
    tape.gradient(y, {x}, ones({3}, DType::kFloat64));
    FAIL() << "expected a DTypeError";
  } catch (const DTypeError& e) {
    EXPECT_NE(std::string(e.what()).find("output_gradient: expected the target's dtype float32, got float64"),
              std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace graft
