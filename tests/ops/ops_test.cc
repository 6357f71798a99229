#include "graft/ops/ops.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

#include "tests/testing.h"

namespace graft {
namespace {

std::vector<float> values(const Tensor& t) { return t.to_vector<float>(); }

TEST(OpsTest, AddBroadcastsARowAcrossABatch) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::from_vector<float>({10, 20, 30});
  EXPECT_EQ(values(x + b), (std::vector<float>{11, 22, 33, 14, 25, 36}));
  Tensor col = Tensor::from_vector<float>({100, 200}, {2, 1});
  EXPECT_EQ(values(x + col), (std::vector<float>{101, 102, 103, 204, 205, 206}));
  EXPECT_EQ(values(x * 2.0), (std::vector<float>{2, 4, 6, 8, 10, 12}));
}

TEST(OpsTest, IncompatibleBroadcastNamesTheOpAndBothShapes) {
  Tensor a = zeros({2, 3});
  Tensor b = zeros({4});
  try {
    add(a, b);
    FAIL();
  } catch (const ShapeError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("add: shapes [2, 3] and [4] do not broadcast"), std::string::npos) << what;
  }
}

TEST(OpsTest, MixedDtypesAreADTypeErrorNamingBoth) {
  try {
    mul(zeros({2}), zeros({2}, DType::kFloat64));
    FAIL();
  } catch (const DTypeError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("mul: input 0 is float32 but input 1 is float64"), std::string::npos) << what;
  }
}

TEST(OpsTest, SumOverAxesWithAndWithoutKeepdims) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(values(sum(x)), (std::vector<float>{21}));
  EXPECT_EQ(values(sum(x, {0})), (std::vector<float>{5, 7, 9}));
  EXPECT_EQ(sum(x, {1}, ReduceOptions().keepdims(true)).shape(), (Shape{2, 1}));
  EXPECT_EQ(values(sum(x, {-1})), (std::vector<float>{6, 15}));
  EXPECT_EQ(values(max(x, {1})), (std::vector<float>{3, 6}));
}

TEST(OpsTest, MatMulMatchesAPlainLoopForEveryTransposeFlag) {
  const int64_t m = 5, k = 7, n = 3;
  std::vector<double> av(m * k), bv(k * n);
  for (size_t i = 0; i < av.size(); ++i) av[i] = 0.1 * static_cast<double>(i % 11) - 0.3;
  for (size_t i = 0; i < bv.size(); ++i) bv[i] = 0.05 * static_cast<double>(i % 7) + 0.2;
  Tensor a = Tensor::from_vector(av, {m, k});
  Tensor b = Tensor::from_vector(bv, {k, n});
  std::vector<double> want(m * n, 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t p = 0; p < k; ++p) want[i * n + j] += av[i * k + p] * bv[p * n + j];
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      Tensor got = matmul(ta ? transpose(a) : a, tb ? transpose(b) : b, MatmulOptions().transpose_a(ta).transpose_b(tb));
      std::vector<double> g = got.to_vector<double>();
      ASSERT_EQ(g.size(), want.size());
      for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], want[i], 1e-12) << ta << tb << i;
    }
  }
}

TEST(OpsTest, MatMulInnerMismatchNamesBothShapes) {
  try {
    matmul(zeros({2, 3}), zeros({4, 5}));
    FAIL();
  } catch (const ShapeError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("matmul: inner dimensions differ: a [2, 3] gives 3, b [4, 5] gives 4"), std::string::npos)
        << what;
  }
}

TEST(OpsTest, ReshapeInfersMinusOneAndSharesTheBuffer) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = reshape(x, {-1, 2});
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(y.raw_data(), x.raw_data());
  EXPECT_THROW(reshape(x, {4, -1}), ShapeError);
}

TEST(OpsTest, PermuteAndTranspose) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(values(transpose(x)), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  Tensor y = reshape(Tensor::from_vector<float>({0, 1, 2, 3, 4, 5, 6, 7}), {2, 2, 2});
  EXPECT_EQ(values(permute(y, {2, 0, 1})), (std::vector<float>{0, 2, 4, 6, 1, 3, 5, 7}));
}

TEST(OpsTest, WhereSelectsElementwise) {
  Tensor c = Tensor::from_vector<float>({1, 0, 1});
  Tensor a = Tensor::from_vector<float>({1, 2, 3});
  Tensor b = Tensor::from_vector<float>({-1, -2, -3});
  EXPECT_EQ(values(where(c, a, b)), (std::vector<float>{1, -2, 3}));
}

TEST(OpsTest, IntegerDivisionByZeroIsAnErrorNotACrash) {
  Tensor a = Tensor::from_vector<int64_t>({1, 2});
  Tensor b = Tensor::from_vector<int64_t>({1, 0});
  EXPECT_THROW(div(a, b), ValueError);
}

// INT64_MIN / -1 traps in x86's idiv (SIGFPE kills the process) and every
// other overflow below was undefined behaviour (UBSan stops on each); int64
// arithmetic wraps modulo 2^64 as NumPy's does.
TEST(OpsTest, Int64ArithmeticWrapsInsteadOfOverflowing) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  Tensor lo = Tensor::from_vector<int64_t>({kMin});
  Tensor hi = Tensor::from_vector<int64_t>({kMax});
  Tensor one = Tensor::from_vector<int64_t>({1});
  EXPECT_EQ(div(lo, Tensor::from_vector<int64_t>({-1})).item<int64_t>(), kMin);
  EXPECT_EQ(div(Tensor::from_vector<int64_t>({7}), Tensor::from_vector<int64_t>({-1})).item<int64_t>(), -7);
  EXPECT_EQ(add(hi, one).item<int64_t>(), kMin);
  EXPECT_EQ(sub(lo, one).item<int64_t>(), kMax);
  EXPECT_EQ(mul(hi, Tensor::from_vector<int64_t>({2})).item<int64_t>(), -2);
  EXPECT_EQ(neg(lo).item<int64_t>(), kMin);
  EXPECT_EQ(abs(lo).item<int64_t>(), kMin);
  EXPECT_EQ(square(hi).item<int64_t>(), 1);
  EXPECT_EQ(sum(Tensor::from_vector<int64_t>({kMax, kMax})).item<int64_t>(), -2);
}

// maximum(NaN, 1) was 1 while maximum(1, NaN) was NaN; relu(NaN) was 0, so
// a diverged layer looked finite downstream. NaN propagates, as in NumPy,
// PyTorch and graft's own max().
TEST(OpsTest, MaximumMinimumAndReluKeepNaNFromEitherSide) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor a = Tensor::from_vector<float>({nan, 1, 2});
  Tensor b = Tensor::from_vector<float>({1, nan, 3});
  for (const Tensor& r : {maximum(a, b), minimum(a, b), maximum(b, a), minimum(b, a)}) {
    std::vector<float> v = values(r);
    EXPECT_TRUE(std::isnan(v[0]) && std::isnan(v[1])) << r;
  }
  EXPECT_EQ(values(maximum(a, b))[2], 3);
  EXPECT_EQ(values(minimum(a, b))[2], 2);
  std::vector<float> r = values(relu(Tensor::from_vector<float>({nan, -1, 2})));
  EXPECT_TRUE(std::isnan(r[0]));
  EXPECT_EQ(r[1], 0);
  EXPECT_EQ(r[2], 2);
  Tensor x = Tensor::from_vector<float>({nan, 1}, {1, 2});
  std::vector<float> fused = values(linear(x, ones({2, 1}), Tensor(), OpKind::kRelu));
  EXPECT_TRUE(std::isnan(fused[0]));
}

// NaN, infinities and values past 2^63 became INT64_MIN (undefined
// behaviour in C++) in cast, fill and arange.
TEST(OpsTest, FloatsThatInt64CannotHoldAreValueErrors) {
  Tensor x = Tensor::from_vector<double>({1.5, std::nan(""), -2});
  std::string what = test_util::error_text<ValueError>([&] { cast(x, DType::kInt64); });
  GRAFT_EXPECT_CONTAINS(what, "cast: element 1 of [3] is nan, which int64 cannot hold");
  GRAFT_EXPECT_CONTAINS(what, "help:");
  EXPECT_THROW(cast(Tensor::from_vector<float>({1e19f}), DType::kInt64), ValueError);
  EXPECT_THROW(cast(Tensor::from_vector<float>({-INFINITY}), DType::kInt64), ValueError);
  EXPECT_EQ(cast(Tensor::from_vector<double>({-0x1p63}), DType::kInt64).item<int64_t>(),
            std::numeric_limits<int64_t>::min());
  EXPECT_EQ(cast(Tensor::from_vector<double>({-2.5}), DType::kInt64).item<int64_t>(), -2);
  what = test_util::error_text<ValueError>([&] { full({2}, INFINITY, DType::kInt64); });
  GRAFT_EXPECT_CONTAINS(what, "fill: the value inf does not fit int64");
  EXPECT_THROW(full({2}, 0x1p63, DType::kInt64), ValueError);
  what = test_util::error_text<ValueError>([&] { arange(1e30, 1e30 + 1e16, 1e15, DType::kInt64); });
  GRAFT_EXPECT_CONTAINS(what, "do not fit int64");
  EXPECT_EQ(arange(0, 3, 1, DType::kInt64).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2}));
}

// mean of int64 {1, 2} was 1 (a truncating division) and an empty one a
// division by zero.
TEST(OpsTest, MeanOfIntegersIsADTypeErrorThatSaysToCast) {
  Tensor x = Tensor::from_vector<int64_t>({1, 2});
  std::string what = test_util::error_text<DTypeError>([&] { mean(x); });
  GRAFT_EXPECT_CONTAINS(what, "mean: expected a float32 or float64 tensor, got int64 of shape [2]");
  GRAFT_EXPECT_CONTAINS(what, "cast(x, DType::kFloat64)");
  EXPECT_THROW(mse_loss(x, x), DTypeError);
  EXPECT_DOUBLE_EQ(mean(cast(x, DType::kFloat64)).item<double>(), 1.5);
}

// before + dim + after wrapped around int64 (undefined behaviour) and gave
// a nonsense shape.
TEST(OpsTest, PaddingPastInt64IsAShapeError) {
  constexpr int64_t kHuge = int64_t{1} << 62;
  std::string what = test_util::error_text<ShapeError>([&] { pad(ones({3}), {kHuge}, {kHuge}); });
  GRAFT_EXPECT_CONTAINS(what, "pad: axis 0 of shape [3] padded by 4611686018427387904 and 4611686018427387904");
}

}  // namespace
}  // namespace graft
