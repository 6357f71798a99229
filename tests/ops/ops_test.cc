#include "graft/ops/ops.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace graft
