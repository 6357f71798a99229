#include "graft/vars/initializers.h"

#include <cmath>

#include <gtest/gtest.h>

#include "graft/vars/store.h"

namespace graft {
namespace {

struct Moments {
  double mean, stddev, min, max;
};

Moments moments(const Tensor& t) {
  std::vector<double> v = t.to_vector<double>();
  double sum = 0, sq = 0, lo = v[0], hi = v[0];
  for (double x : v) {
    sum += x;
    sq += x * x;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  double mean = sum / static_cast<double>(v.size());
  return {mean, std::sqrt(sq / static_cast<double>(v.size()) - mean * mean), lo, hi};
}

Tensor make(const Initializer& init, const Shape& shape, uint64_t seed = 1) {
  Tensor t = Tensor::empty(shape);
  init(t, seed);
  return t;
}

TEST(InitializersTest, ConstantsFillExactly) {
  EXPECT_EQ(make(init::zeros(), {3}).to_vector<float>(), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(make(init::ones(), {2}).to_vector<float>(), (std::vector<float>{1, 1}));
  EXPECT_EQ(make(init::constant(2.5), {2}).to_vector<float>(), (std::vector<float>{2.5, 2.5}));
}

TEST(InitializersTest, GlorotAndHeHaveTheirLimitsAndSpreads) {
  const Shape shape{400, 600};
  Moments gu = moments(make(init::glorot_uniform(), shape));
  double glorot_limit = std::sqrt(6.0 / 1000.0);
  EXPECT_LE(gu.max, glorot_limit);
  EXPECT_GE(gu.min, -glorot_limit);
  EXPECT_NEAR(gu.stddev, glorot_limit / std::sqrt(3.0), 0.002);
  Moments gn = moments(make(init::glorot_normal(), shape));
  EXPECT_NEAR(gn.stddev, std::sqrt(2.0 / 1000.0), 0.001);
  EXPECT_NEAR(gn.mean, 0.0, 0.001);
  Moments hu = moments(make(init::he_uniform(), shape));
  EXPECT_LE(hu.max, std::sqrt(6.0 / 400.0));
  Moments hn = moments(make(init::he_normal(), shape));
  EXPECT_NEAR(hn.stddev, std::sqrt(2.0 / 400.0), 0.002);
}

TEST(InitializersTest, TruncatedNormalStaysWithinTwoStddevs) {
  Moments m = moments(make(init::truncated_normal(1.0, 0.5), {100000}));
  EXPECT_GE(m.min, 0.0);
  EXPECT_LE(m.max, 2.0);
  EXPECT_NEAR(m.mean, 1.0, 0.01);
}

TEST(InitializersTest, SameSeedSameValuesOtherSeedOtherValues) {
  EXPECT_EQ(make(init::normal(), {16}, 5).to_vector<float>(), make(init::normal(), {16}, 5).to_vector<float>());
  EXPECT_NE(make(init::normal(), {16}, 5).to_vector<float>(), make(init::normal(), {16}, 6).to_vector<float>());
}

void expect_orthonormal_columns(const std::vector<double>& q, int64_t rows, int64_t cols, double gain) {
  for (int64_t i = 0; i < cols; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      double dot = 0;
      for (int64_t r = 0; r < rows; ++r) dot += q[r * cols + i] * q[r * cols + j];
      EXPECT_NEAR(dot, i == j ? gain * gain : 0.0, 1e-9) << i << "," << j;
    }
  }
}

TEST(InitializersTest, OrthogonalGivesOrthonormalColumnsOrRows) {
  Tensor tall = Tensor::empty({12, 5}, DType::kFloat64);
  init::orthogonal(2.0)(tall, 3);
  expect_orthonormal_columns(tall.to_vector<double>(), 12, 5, 2.0);
  // A wide matrix has orthonormal rows: its transpose has orthonormal columns.
  Tensor wide = Tensor::empty({4, 9}, DType::kFloat64);
  init::orthogonal()(wide, 3);
  std::vector<double> w = wide.to_vector<double>(), wt(36);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 9; ++c) wt[c * 4 + r] = w[r * 9 + c];
  expect_orthonormal_columns(wt, 9, 4, 1.0);
  EXPECT_THROW(init::orthogonal()(Tensor::empty({5}), 1), ShapeError);
}

TEST(InitializersTest, RandomInitializersRejectIntegerVariables) {
  Tensor ints = Tensor::empty({2}, DType::kInt64);
  EXPECT_THROW(init::glorot_uniform()(ints, 1), DTypeError);
}

TEST(InitializersTest, FromTensorChecksTheShapeAtCreation) {
  VariableStore store("m");
  EXPECT_THROW(store.root().variable("w", {3}, init::from_tensor(Tensor::from_vector<float>({1, 2}))), ShapeError);
  EXPECT_FALSE(store.find("m/w").has_value());
  Variable v = store.root().variable("v", {2}, init::from_tensor(Tensor::from_vector<float>({1, 2})));
  EXPECT_EQ(v.value().to_vector<float>(), (std::vector<float>{1, 2}));
}

}  // namespace
}  // namespace graft
