// The fused batch-norm ops (graft/ops/batch_norm_ops.cc) against batch norm
// composed of mean, square, sqrt and broadcasting arithmetic: values and the
// gradients of x, gamma and beta under a tape, float32 and float64, rank 2
// and 4, odd sizes, a channel of equal values and a large mean; errors.
// Their float64 full-Jacobian checks are in op_cases_test.cc.
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graft/autodiff/tape.h"
#include "graft/ops/ops.h"
#include "tests/testing.h"

namespace graft {
namespace {

using test_util::error_text;

// Batch norm in training mode from basic ops: the definition.
Tensor composed(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  const int64_t c = x.dim(1);
  const Shape per_channel = x.rank() == 2 ? Shape{1, c} : Shape{1, c, 1, 1};
  const Dims axes = x.rank() == 2 ? Dims{0} : Dims{0, 2, 3};
  const Tensor mu = mean(x, axes, ReduceOptions().keepdims(true));
  const Tensor centered = x - mu;
  const Tensor var = mean(square(centered), axes, ReduceOptions().keepdims(true));
  return centered / sqrt(var + eps) * reshape(gamma, per_channel) + reshape(beta, per_channel);
}

// y, then the gradients of x, gamma and beta of sum(y * probe).
std::vector<Tensor> values_and_gradients(bool fused, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                         const Tensor& probe, double eps) {
  GradientTape tape;
  for (const Tensor* t : {&x, &gamma, &beta}) tape.watch(*t);
  Tensor y = fused ? batch_norm(x, gamma, beta, eps) : composed(x, gamma, beta, eps);
  std::vector<std::optional<Tensor>> g = tape.gradient(sum(y * probe), {x, gamma, beta});
  return {y, *g[0], *g[1], *g[2]};
}

void expect_close(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>();
  for (size_t i = 0; i < av.size(); ++i) {
    ASSERT_NEAR(av[i], bv[i], tol * (1.0 + std::abs(bv[i]))) << what << ", element " << i;
  }
}

TEST(BatchNormOpsTest, FusedMatchesComposedValuesAndGradients) {
  const std::vector<Shape> shapes = {{5, 3}, {7, 4, 3, 5}, {2, 3, 1, 1}, {64, 32, 14, 14}, {3, 17, 9, 7}};
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    const double tol = dtype == DType::kFloat32 ? 2e-4 : 1e-10;
    uint64_t seed = 10;
    for (const Shape& s : shapes) {
      const std::string what = std::string(dtype_name(dtype)) + " x " + s.to_string();
      // A large mean on half the inputs: the one-pass variance must not cancel.
      const double offset = seed % 2 == 0 ? 0.0 : 300.0;
      Tensor x = random_normal(s, seed++, offset, 2.0, dtype);
      Tensor gamma = random_uniform({s[1]}, seed++, 0.5, 1.5, dtype);
      Tensor beta = random_normal({s[1]}, seed++, 0.0, 1.0, dtype);
      Tensor probe = random_normal(s, seed++, 0.0, 1.0, dtype);
      std::vector<Tensor> fused = values_and_gradients(true, x, gamma, beta, probe, 1e-5);
      std::vector<Tensor> reference = values_and_gradients(false, x, gamma, beta, probe, 1e-5);
      const char* names[] = {"y", "grad x", "grad gamma", "grad beta"};
      for (size_t i = 0; i < fused.size(); ++i) {
        // Gradients of gamma and beta sum a whole channel: scale by its size.
        const double scale = i >= 2 ? std::sqrt(static_cast<double>(s.numel() / s[1])) : 1.0;
        expect_close(fused[i], reference[i], tol * scale, what + ", " + names[i]);
      }
    }
  }
}

TEST(BatchNormOpsTest, StatisticsAreTheMeanAndBiasedVarianceOfEachChannel) {
  // Channel 0: 1, 2, 3, 4 (mean 2.5, variance 1.25); channel 1: all 7.
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 7, 7, 3, 4, 7, 7}, {2, 2, 1, 2});
  EXPECT_EQ(batch_norm_stats(x).to_vector<double>(), std::vector<double>({2.5, 7.0, 1.25, 0.0}));
  // A channel of equal values normalises to beta, its gradient to zero.
  Tensor y = batch_norm(x, ones({2}, DType::kFloat64), full({2}, 0.5, DType::kFloat64), 1e-5);
  std::vector<double> yv = y.to_vector<double>();
  EXPECT_EQ(yv[2], 0.5);
  EXPECT_EQ(yv[7], 0.5);
  EXPECT_NEAR(yv[0], (1 - 2.5) / std::sqrt(1.25 + 1e-5) + 0.5, 1e-12);
}

TEST(BatchNormOpsTest, BadShapesAndEpsNameWhatWasFound) {
  GRAFT_EXPECT_CONTAINS(error_text<ShapeError>([] { batch_norm(zeros({2, 3, 4}), ones({3}), zeros({3}), 1e-5); }),
                        "batch_norm: expected x [N, C] or [N, C, H, W], got [2, 3, 4]");
  GRAFT_EXPECT_CONTAINS(error_text<ShapeError>([] { batch_norm(zeros({2, 3, 4, 4}), ones({4}), zeros({3}), 1e-5); }),
                        "batch_norm: input 1 must be [3] (one value per channel of x [2, 3, 4, 4]), got [4]");
  GRAFT_EXPECT_CONTAINS(error_text<ValueError>([] { batch_norm(zeros({2, 3}), ones({3}), zeros({3}), 0.0); }),
                        "batch_norm: eps must be positive, got 0");
  EXPECT_THROW(batch_norm(zeros({2, 3}), ones({3}, DType::kFloat64), zeros({3}), 1e-5), DTypeError);
  EXPECT_THROW(batch_norm_stats(zeros({2, 3}, DType::kInt64)), DTypeError);
  GRAFT_EXPECT_CONTAINS(
      error_text<ShapeError>([] { batch_norm_grad_input(zeros({2, 3}), ones({3}), zeros({2, 3}), zeros({3}), 1e-5); }),
      "batch_norm_grad_input: expected grad_y of x's shape [2, 3] and sums [4, 3], got [2, 3] and [3]");
}

}  // namespace
}  // namespace graft
