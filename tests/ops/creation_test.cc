// arange and the seeded random ops: determinism, agreement with the tensor
// layer's PRNG, loose moment checks and errors.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graft/ops/ops.h"
#include "graft/tensor/parallel.h"
#include "graft/tensor/random.h"
#include "tests/testing.h"

namespace graft {
namespace {

using graft::test_util::error_text;

struct Moments {
  double mean = 0, stddev = 0, min = 0, max = 0;
};

Moments moments(const Tensor& t) {
  std::vector<double> v = t.to_vector<double>();
  Moments m{0, 0, v[0], v[0]};
  for (double x : v) {
    m.mean += x;
    m.min = std::min(m.min, x);
    m.max = std::max(m.max, x);
  }
  m.mean /= static_cast<double>(v.size());
  for (double x : v) m.stddev += (x - m.mean) * (x - m.mean);
  m.stddev = std::sqrt(m.stddev / static_cast<double>(v.size()));
  return m;
}

TEST(ArangeTest, CountsLikeNumPy) {
  EXPECT_EQ(arange(0, 5).to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(0, 1, 0.25, DType::kFloat64).to_vector<double>(), (std::vector<double>{0, 0.25, 0.5, 0.75}));
  EXPECT_EQ(arange(2, -3, -2, DType::kInt64).to_vector<int64_t>(), (std::vector<int64_t>{2, 0, -2}));
  EXPECT_EQ(arange(5, 0).numel(), 0);  // a step away from stop gives nothing
  EXPECT_EQ(arange(0, 5).dtype(), DType::kFloat32);
}

TEST(ArangeTest, ZeroStepIsAValueErrorNamingTheOp) {
  std::string what = error_text<ValueError>([] { arange(0, 1, 0); });
  EXPECT_NE(what.find("arange: step must be finite and non-zero, got 0"), std::string::npos) << what;
}

TEST(RandomOpsTest, GoldenValuesPinTheStream) {
  // Printed once from this build (seed 42, float64); uniform values are exact
  // integer arithmetic, normals go through libm's log/cos (within an ulp).
  EXPECT_EQ(random_uniform({3}, 42, 0, 1, DType::kFloat64).to_vector<double>(),
            (std::vector<double>{0.80600110224086652, 0.59237401214971097, 0.82522032796439948}));
  std::vector<double> normal = random_normal({3}, 42, 0, 1, DType::kFloat64).to_vector<double>();
  std::vector<double> want = {-1.5144532673098663, -1.2524604924493807, 1.3144240725000798};
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(normal[i], want[i], 1e-14);
  std::vector<double> truncated = truncated_normal({3}, 42, 0, 1, DType::kFloat64).to_vector<double>();
  want = {-0.26768868827758568, 0.10162670193578713, 0.39822389020010512};
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(truncated[i], want[i], 1e-14);
}

TEST(RandomOpsTest, SameSeedSameValuesDifferentSeedDifferentValues) {
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    using Maker = Tensor (*)(const Shape&, uint64_t, double, double, DType);
    for (Maker make : {Maker(random_uniform), Maker(random_normal), Maker(truncated_normal)}) {
      std::vector<double> a = make({64}, 1234, 0.0, 1.0, dtype).to_vector<double>();
      std::vector<double> b = make({64}, 1234, 0.0, 1.0, dtype).to_vector<double>();
      std::vector<double> c = make({64}, 1235, 0.0, 1.0, dtype).to_vector<double>();
      EXPECT_EQ(a, b);
      int equal = 0;
      for (size_t i = 0; i < a.size(); ++i) equal += a[i] == c[i];
      EXPECT_EQ(equal, 0);
    }
  }
}

TEST(RandomOpsTest, ValuesAreTheTensorLayerStreamSoInitializersAgree) {
  const int64_t n = 257;
  std::vector<float> want(n);
  fill_normal(want.data(), n, 99, 0.5, 2.0);
  EXPECT_EQ(random_normal({n}, 99, 0.5, 2.0).to_vector<float>(), want);
  fill_uniform(want.data(), n, 99, -1.0, 1.0);
  EXPECT_EQ(random_uniform({n}, 99, -1.0, 1.0).to_vector<float>(), want);
  fill_truncated_normal(want.data(), n, 99, 0.0, 0.1);
  EXPECT_EQ(truncated_normal({n}, 99, 0.0, 0.1).to_vector<float>(), want);
}

TEST(RandomOpsTest, ValueDependsOnlyOnSeedAndIndex) {
  // A longer draw starts with the shorter one, whatever the shape.
  std::vector<double> small = random_normal({10}, 5, 0, 1, DType::kFloat64).to_vector<double>();
  std::vector<double> large = random_normal({4, 25}, 5, 0, 1, DType::kFloat64).to_vector<double>();
  EXPECT_EQ(small, std::vector<double>(large.begin(), large.begin() + 10));
}

// Fills split across the pool write the values of a serial fill, element for
// element: each depends on (seed, index) alone.
TEST(RandomOpsTest, AFillSplitAcrossThreadsEqualsTheSerialFill) {
  const int64_t n = 3 * 4096 + 17;  // several chunks and a ragged end
  const int saved = num_threads();
  set_num_threads(1);
  Tensor uniform1 = random_uniform({n}, 3, -2.0, 2.0), normal1 = random_normal({n}, 3, 0.0, 1.0);
  Tensor truncated1 = truncated_normal({n}, 3, 0.0, 1.0);
  set_num_threads(3);
  EXPECT_EQ(random_uniform({n}, 3, -2.0, 2.0).to_vector<float>(), uniform1.to_vector<float>());
  EXPECT_EQ(random_normal({n}, 3, 0.0, 1.0).to_vector<float>(), normal1.to_vector<float>());
  EXPECT_EQ(truncated_normal({n}, 3, 0.0, 1.0).to_vector<float>(), truncated1.to_vector<float>());
  set_num_threads(saved);
}

TEST(RandomOpsTest, UniformMoments) {
  Moments m = moments(random_uniform({100000}, 17, -1.0, 3.0));
  EXPECT_NEAR(m.mean, 1.0, 0.02);
  EXPECT_NEAR(m.stddev, 4.0 / std::sqrt(12.0), 0.02);
  EXPECT_GE(m.min, -1.0);
  EXPECT_LT(m.max, 3.0);
}

TEST(RandomOpsTest, NormalMoments) {
  Moments m = moments(random_normal({100000}, 18, 2.0, 0.5, DType::kFloat64));
  EXPECT_NEAR(m.mean, 2.0, 0.01);
  EXPECT_NEAR(m.stddev, 0.5, 0.01);
  EXPECT_LT(m.min, 2.0 - 3 * 0.5);  // real tails
  EXPECT_GT(m.max, 2.0 + 3 * 0.5);
}

TEST(RandomOpsTest, TruncatedNormalStaysWithinTwoStddev) {
  const double mean = -1.0, stddev = 0.3;
  Moments m = moments(truncated_normal({100000}, 19, mean, stddev, DType::kFloat64));
  EXPECT_GE(m.min, mean - 2 * stddev);
  EXPECT_LE(m.max, mean + 2 * stddev);
  EXPECT_NEAR(m.mean, mean, 0.01);
  // A standard normal cut at +-2 has stddev 0.8796.
  EXPECT_NEAR(m.stddev, 0.8796 * stddev, 0.01);
  EXPECT_LT(m.min, mean - 1.9 * stddev);  // the cut is at 2, not tighter
}

TEST(RandomOpsTest, IntegerDtypeAndBadParametersAreErrors) {
  std::string what = error_text<DTypeError>([] { random_normal({2}, 1, 0, 1, DType::kInt64); });
  EXPECT_NE(what.find("random_normal: dtype must be float32 or float64, got int64"), std::string::npos) << what;
  what = error_text<ValueError>([] { random_uniform({2}, 1, 2.0, 1.0); });
  EXPECT_NE(what.find("random_uniform: expected low <= high, got low 2 and high 1"), std::string::npos) << what;
  what = error_text<ValueError>([] { truncated_normal({2}, 1, 0.0, -1.0); });
  EXPECT_NE(what.find("truncated_normal: expected stddev >= 0, got -1"), std::string::npos) << what;
}

// Infinite parameters drew values silently: random_uniform(-inf, inf) was
// all NaN, truncated_normal with stddev inf all -inf.
TEST(RandomOpsTest, InfiniteParametersAreErrors) {
  std::string what = error_text<ValueError>([] { random_uniform({2}, 1, -INFINITY, INFINITY); });
  EXPECT_NE(what.find("random_uniform: expected finite bounds, got low -inf and high inf"), std::string::npos) << what;
  what = error_text<ValueError>([] { truncated_normal({2}, 1, 0.0, INFINITY); });
  EXPECT_NE(what.find("truncated_normal: expected a finite mean and stddev, got mean 0 and stddev inf"),
            std::string::npos) << what;
  EXPECT_THROW(random_normal({2}, 1, NAN, 1.0), ValueError);
}

}  // namespace
}  // namespace graft
