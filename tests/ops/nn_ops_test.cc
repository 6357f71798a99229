// softmax, log_softmax and sparse softmax cross-entropy: values against a
// plain-loop reference in double, stability at extreme logits, errors.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graft/ops/ops.h"
#include "tests/testing.h"

namespace graft {
namespace {

using graft::test_util::error_text;

// Softmax of x [outer, n, inner] along the middle axis, by the textbook
// formula in long double.
std::vector<double> reference_softmax(const std::vector<double>& x, int64_t outer, int64_t n, int64_t inner,
                                      bool log_space) {
  std::vector<double> out(x.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k = 0; k < inner; ++k) {
      long double total = 0;
      for (int64_t j = 0; j < n; ++j) total += std::exp(static_cast<long double>(x[(o * n + j) * inner + k]));
      for (int64_t j = 0; j < n; ++j) {
        size_t i = static_cast<size_t>((o * n + j) * inner + k);
        out[i] = log_space ? static_cast<double>(x[i] - std::log(total))
                           : static_cast<double>(std::exp(static_cast<long double>(x[i])) / total);
      }
    }
  }
  return out;
}

template <typename T>
class SoftmaxTest : public testing::Test {};
using FloatTypes = testing::Types<float, double>;
TYPED_TEST_SUITE(SoftmaxTest, FloatTypes);

TYPED_TEST(SoftmaxTest, MatchesTheReferenceOnEveryAxis) {
  using T = TypeParam;
  const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-13;
  Tensor x = random_normal({3, 4, 5}, 7, 0.0, 2.0, dtype_of<T>());
  std::vector<double> xv = x.to_vector<double>();
  const int64_t dims[3] = {3, 4, 5};
  for (int axis = 0; axis < 3; ++axis) {
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= dims[d];
    for (int d = axis + 1; d < 3; ++d) inner *= dims[d];
    for (bool log_space : {false, true}) {
      std::vector<double> want = reference_softmax(xv, outer, dims[axis], inner, log_space);
      Tensor y = log_space ? log_softmax(x, axis) : softmax(x, axis - 3);  // negative axes too
      ASSERT_EQ(y.dtype(), dtype_of<T>());
      std::vector<double> got = y.to_vector<double>();
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_NEAR(got[i], want[i], tol * std::max(1.0, std::abs(want[i]))) << "axis " << axis << " log " << log_space;
      }
    }
  }
}

TYPED_TEST(SoftmaxTest, ExtremeLogitsStayFinite) {
  using T = TypeParam;
  Tensor x = Tensor::from_vector<T>({1000, 1001, 1002, -1000, 0, -1e30f}, {2, 3});
  std::vector<double> p = softmax(x).to_vector<double>();
  std::vector<double> lp = log_softmax(x).to_vector<double>();
  std::vector<double> want = reference_softmax({0, 1, 2}, 1, 3, 1, false);
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(p[j], want[j], 1e-6);
  EXPECT_NEAR(p[4], 1.0, 1e-6);
  EXPECT_EQ(p[5], 0.0);
  EXPECT_NEAR(lp[3], -1000.0, 1e-3);
  EXPECT_NEAR(lp[4], 0.0, 1e-6);
  for (double v : lp) EXPECT_FALSE(std::isnan(v));
}

TEST(SoftmaxTest, LargeBatchRowsSumToOne) {
  // Enough rows for the threaded path, in both layouts.
  Tensor x = random_normal({40000, 7}, 3);
  for (int64_t axis : {0, 1}) {
    std::vector<double> s = sum(cast(softmax(x, axis), DType::kFloat64), {axis}).to_vector<double>();
    for (double v : s) ASSERT_NEAR(v, 1.0, 1e-5);
  }
}

TEST(SoftmaxTest, ErrorsNameTheOp) {
  std::string what = error_text<DTypeError>([] { softmax(Tensor::from_vector<int64_t>({1, 2})); });
  GRAFT_EXPECT_CONTAINS(what, "softmax: input 0 must be float32 or float64, got int64");
  what = error_text<ShapeError>([] { log_softmax(zeros({2, 3}), 2); });
  GRAFT_EXPECT_CONTAINS(what, "log_softmax: axis 2 is out of range for a tensor of rank 2");
  what = error_text<ShapeError>([] { softmax(zeros({})); });
  GRAFT_EXPECT_CONTAINS(what, "softmax: expected a tensor of rank >= 1, got shape []");
}

TEST(SparseSoftmaxCrossEntropyTest, IsLogSumExpMinusTheLabelsLogit) {
  Tensor logits = Tensor::from_vector<double>({1, 2, 3, -1, 0.5, 0.25}, {2, 3});
  Tensor labels = Tensor::from_vector<int64_t>({2, 0});
  std::vector<double> got = sparse_softmax_cross_entropy(logits, labels).to_vector<double>();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_NEAR(got[0], std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0, 1e-14);
  EXPECT_NEAR(got[1], std::log(std::exp(-1.0) + std::exp(0.5) + std::exp(0.25)) + 1.0, 1e-14);
  // The same as the composition it fuses.
  std::vector<double> composed =
      (-sum(log_softmax(logits) * one_hot(labels, 3, DType::kFloat64), {1})).to_vector<double>();
  EXPECT_NEAR(got[0], composed[0], 1e-14);
  EXPECT_NEAR(got[1], composed[1], 1e-14);
}

TEST(SparseSoftmaxCrossEntropyTest, HugeLogitsGiveFiniteLosses) {
  Tensor logits = Tensor::from_vector<float>({1e4f, 0, -1e4f, 50, 50, 50}, {2, 3});
  std::vector<float> got = sparse_softmax_cross_entropy(logits, Tensor::from_vector<int64_t>({1, 2})).to_vector<float>();
  EXPECT_NEAR(got[0], 1e4f, 1e-1f);
  EXPECT_NEAR(got[1], std::log(3.0f), 1e-5f);
}

TEST(SparseSoftmaxCrossEntropyTest, OutOfRangeLabelNamesTheLabelItsPositionAndC) {
  Tensor logits = zeros({4, 3});
  std::string what = error_text<ValueError>(
      [&] { sparse_softmax_cross_entropy(logits, Tensor::from_vector<int64_t>({0, 2, 3, 1})); });
  GRAFT_EXPECT_CONTAINS(what, "sparse_softmax_cross_entropy: label 3 at position [2] of [4] is out of range for 3 classes");
  GRAFT_EXPECT_CONTAINS(what, "expected 0 <= label < 3");
  what = error_text<ValueError>([&] { sparse_softmax_cross_entropy(logits, Tensor::from_vector<int64_t>({0, -1, 0, 0})); });
  GRAFT_EXPECT_CONTAINS(what, "label -1 at position [1]");
}

TEST(SparseSoftmaxCrossEntropyTest, WrongShapesAndDtypesNameBoth) {
  std::string what = error_text<ShapeError>(
      [] { sparse_softmax_cross_entropy(zeros({4, 3}), Tensor::from_vector<int64_t>({0, 1, 2})); });
  GRAFT_EXPECT_CONTAINS(what, "sparse_softmax_cross_entropy: expected logits [N, C] and labels [N], got logits [4, 3] and "
                        "labels [3]");
  what = error_text<DTypeError>([] { sparse_softmax_cross_entropy(zeros({2, 3}), zeros({2})); });
  GRAFT_EXPECT_CONTAINS(what, "sparse_softmax_cross_entropy: labels (input 1) must be int64, got float32");
  what = error_text<DTypeError>(
      [] { sparse_softmax_cross_entropy(zeros({2, 3}, DType::kInt64), Tensor::from_vector<int64_t>({0, 1})); });
  GRAFT_EXPECT_CONTAINS(what, "sparse_softmax_cross_entropy: input 0 must be float32 or float64, got int64");
}

}  // namespace
}  // namespace graft
