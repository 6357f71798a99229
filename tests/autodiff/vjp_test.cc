// Gradients through broadcasting by hand values, second derivatives through
// the new VJPs (which are written in graft ops, so an outer tape records
// them), and gradient checks of the composite ops.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "graft/autodiff/gradcheck.h"
#include "graft/autodiff/tape.h"
#include "graft/ops/ops.h"

namespace graft {
namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

Tensor normal64(const Shape& shape, uint64_t seed) { return random_normal(shape, seed, 0.0, 1.0, DType::kFloat64); }

Tensor weights_like(const Tensor& y) {
  std::vector<double> w(static_cast<size_t>(y.numel()));
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.3 + 0.1 * static_cast<double>((i * 7) % 11);
  return Tensor::from_vector(w, y.shape());
}

void expect_gradients(const Fn& f, const std::vector<Tensor>& inputs) {
  GradcheckResult r = check_gradients(f, inputs);
  EXPECT_TRUE(r.ok) << r.report;
}

// d/dx of sum(w * op(x)) taken with an inner tape: checking its gradient
// checks the VJP of op's VJP.
Fn first_derivative(std::function<Tensor(const Tensor&)> op) {
  return [op](const std::vector<Tensor>& in) {
    GradientTape tape;
    tape.watch(in[0]);
    Tensor y = op(in[0]);
    Tensor loss = sum(y * weights_like(y));
    return *tape.gradient(loss, {in[0]})[0];
  };
}

TEST(BroadcastGradientTest, BiasRowColumnAndScalarGetReducedGradients) {
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor row = Tensor::from_vector<double>({0.5, -1, 2}, {3});
  Tensor col = Tensor::from_vector<double>({3, -2}, {2, 1});
  Tensor s = Tensor::scalar<double>(1.5);
  Tensor w = Tensor::from_vector<double>({1, 2, 3, 10, 20, 30}, {2, 3});
  GradientTape tape;
  for (const Tensor& t : {x, row, col, s}) tape.watch(t);
  Tensor loss = sum((x + row) * col * w - s * x);
  auto g = tape.gradient(loss, {x, row, col, s});
  ASSERT_TRUE(g[0] && g[1] && g[2] && g[3]);
  // d/drow[j] = sum_i col[i] w[i, j]
  EXPECT_EQ(g[1]->shape(), (Shape{3}));
  EXPECT_EQ(g[1]->to_vector<double>(), (std::vector<double>{3 - 20, 6 - 40, 9 - 60}));
  // d/dcol[i] = sum_j (x + row)[i, j] w[i, j]
  EXPECT_EQ(g[2]->shape(), (Shape{2, 1}));
  EXPECT_EQ(g[2]->to_vector<double>(), (std::vector<double>{1.5 * 1 + 1 * 2 + 5 * 3, 4.5 * 10 + 4 * 20 + 8 * 30}));
  // d/ds = -sum(x)
  EXPECT_EQ(g[3]->shape(), Shape{});
  EXPECT_EQ(g[3]->item<double>(), -21.0);
  // d/dx[i, j] = col[i] w[i, j] - s
  EXPECT_EQ(g[0]->to_vector<double>(), (std::vector<double>{1.5, 4.5, 7.5, -21.5, -41.5, -61.5}));
}

TEST(BroadcastGradientTest, RankDifferenceSumsTheLeadingAxes) {
  Tensor x = normal64({2, 3, 4}, 1);
  Tensor b = normal64({3, 1}, 2);
  GradientTape tape;
  tape.watch(b);
  auto g = tape.gradient(sum(x * b), {b});
  ASSERT_TRUE(g[0]);
  std::vector<double> want = sum(x, {0, 2}).to_vector<double>();
  std::vector<double> got = g[0]->to_vector<double>();
  EXPECT_EQ(g[0]->shape(), (Shape{3, 1}));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12);
}

TEST(CrossEntropyGradientTest, IsSoftmaxMinusOneHotTimesTheOutputGradient) {
  Tensor logits = Tensor::from_vector<double>({1, 2, 3, 0, 0, 0}, {2, 3});
  Tensor labels = Tensor::from_vector<int64_t>({0, 2});
  Tensor g_out = Tensor::from_vector<double>({2, -1});
  GradientTape tape;
  tape.watch(logits);
  Tensor loss = sparse_softmax_cross_entropy(logits, labels);
  auto g = tape.gradient(loss, {logits, labels}, g_out);
  ASSERT_TRUE(g[0]);
  EXPECT_FALSE(g[1]);  // no gradient for integer labels
  double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  std::vector<double> want = {2 * (std::exp(1.0) / z - 1), 2 * std::exp(2.0) / z, 2 * std::exp(3.0) / z,
                              -1.0 / 3, -1.0 / 3, -(1.0 / 3 - 1)};
  std::vector<double> got = g[0]->to_vector<double>();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-14) << i;
}

TEST(SecondDerivativeTest, SoftmaxLogSoftmaxAndCrossEntropy) {
  expect_gradients(first_derivative([](const Tensor& x) { return softmax(x, 0); }), {normal64({3, 4}, 11)});
  expect_gradients(first_derivative([](const Tensor& x) { return log_softmax(x); }), {normal64({3, 4}, 12)});
  Tensor labels = Tensor::from_vector<int64_t>({3, 0, 1});
  expect_gradients(first_derivative([labels](const Tensor& x) { return sparse_softmax_cross_entropy(x, labels); }),
                   {normal64({3, 4}, 13)});
}

TEST(SecondDerivativeTest, IndexOpsThroughASquare) {
  // square() makes each first derivative depend on x through the op's VJP.
  Tensor idx = Tensor::from_vector<int64_t>({1, 1, 0});
  expect_gradients(first_derivative([idx](const Tensor& x) { return square(gather(x, idx, 1)); }),
                   {normal64({2, 3}, 21)});
  expect_gradients(first_derivative([idx](const Tensor& x) { return square(scatter_add(x, idx, {2, 4}, 1)); }),
                   {normal64({2, 3}, 22)});
  expect_gradients(first_derivative([](const Tensor& x) { return square(concat({x, 2.0 * x}, 0)); }),
                   {normal64({2, 3}, 23)});
  expect_gradients(first_derivative([](const Tensor& x) { return square(slice(x, {1, 0}, {2, 2})); }),
                   {normal64({2, 3}, 24)});
  expect_gradients(first_derivative([](const Tensor& x) { return square(pad(x, {1, 0}, {0, 2})); }),
                   {normal64({2, 3}, 25)});
}

TEST(CompositeGradientTest, MeanMseLossTransposeAndSumTo) {
  expect_gradients([](const std::vector<Tensor>& in) { return mean(in[0], {1}) * weights_like(mean(in[0], {1})); },
                   {normal64({3, 4}, 31)});
  expect_gradients([](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1]); },
                   {normal64({2, 3}, 32), normal64({2, 3}, 33)});
  expect_gradients(
      [](const std::vector<Tensor>& in) {
        Tensor y = sum_to(in[0], {3, 1});
        return y * weights_like(y);
      },
      {normal64({2, 3, 4}, 34)});
}

TEST(CompositeGradientTest, TwoLayerClassifierLoss) {
  // A whole classifier step: matmul, bias, relu, matmul, cross-entropy, mean.
  Tensor labels = Tensor::from_vector<int64_t>({2, 0, 1, 2});
  Fn f = [labels](const std::vector<Tensor>& in) {
    Tensor h = tanh(matmul(in[0], in[1]) + in[2]);
    return mean(sparse_softmax_cross_entropy(matmul(h, in[3]), labels));
  };
  expect_gradients(f, {normal64({4, 5}, 41), normal64({5, 6}, 42), normal64({6}, 43), normal64({6, 3}, 44)});
}

}  // namespace
}  // namespace graft
