// The fused linear op against the ops it replaces, activation(matmul(x, w) + b):
// values and gradients of every input, float32 and float64, every fusable
// activation, with and without a bias, odd and degenerate sizes, batched
// inputs; and its errors.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graft/autodiff/tape.h"
#include "graft/ops/dispatch.h"
#include "graft/ops/ops.h"
#include "graft/tensor/parallel.h"
#include "tests/testing.h"

namespace graft {
namespace {

using test_util::error_text;

Tensor unfused(const Tensor& x, const Tensor& w, const Tensor& b, OpKind activation) {
  Tensor z = matmul(x, w);
  if (b.defined()) z = z + b;
  if (activation == OpKind::kRelu) return relu(z);
  if (activation == OpKind::kTanh) return tanh(z);
  if (activation == OpKind::kSigmoid) return sigmoid(z);
  return z;
}

// A fixed, uneven weight per output element, so a gradient that is summed,
// transposed or broadcast the wrong way cannot match.
Tensor weights_like(const Tensor& y) {
  std::vector<double> w(static_cast<size_t>(y.numel()));
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.3 + 0.1 * static_cast<double>((i * 7) % 11) - 0.5 * (i % 3 == 0);
  return cast(Tensor::from_vector(w, y.shape()), y.dtype());
}

struct Result {
  Tensor y;
  std::vector<std::optional<Tensor>> grads;
};

Result run(bool fused, const Tensor& x, const Tensor& w, const Tensor& b, OpKind activation) {
  GradientTape tape;
  std::vector<Tensor> sources{x, w};
  if (b.defined()) sources.push_back(b);
  for (const Tensor& t : sources) tape.watch(t);
  Result r;
  r.y = fused ? linear(x, w, b, activation) : unfused(x, w, b, activation);
  Tensor loss = sum(r.y * weights_like(r.y));
  r.grads = tape.gradient(loss, sources);
  return r;
}

void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  std::vector<double> g = got.to_vector<double>(), e = want.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) {
    ASSERT_NEAR(g[i], e[i], tol * (1.0 + std::abs(e[i]))) << what << " element " << i;
  }
}

const char* activation_text(OpKind a) { return a == OpKind::kCount ? "none" : op_name(a).data(); }

struct Case {
  Shape x, w;
  bool bias;
};

TEST(FusedLinearTest, MatchesUnfusedOpsInValuesAndGradients) {
  const std::vector<Case> cases = {
      {{5, 7}, {7, 3}, true},        // odd sizes
      {{5, 7}, {7, 3}, false},       // no bias
      {{1, 1}, {1, 1}, true},        // one row, one feature, one unit
      {{1, 9}, {9, 1}, true},        // a single output column
      {{64, 33}, {33, 17}, true},    // sizes off every vector width
      {{2, 3, 4}, {4, 5}, true},     // batched: leading axes fold into rows
      {{3, 1, 2, 6}, {6, 4}, false},
      {{300, 40}, {40, 250}, true},  // above the parallel grain
  };
  uint64_t seed = 1;
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    const double tol = dtype == DType::kFloat32 ? 2e-5 : 1e-12;
    for (OpKind activation : {OpKind::kCount, OpKind::kRelu, OpKind::kTanh, OpKind::kSigmoid}) {
      for (const Case& c : cases) {
        Tensor x = random_normal(c.x, seed++, 0.0, 1.0, dtype);
        Tensor w = random_normal(c.w, seed++, 0.0, 0.5, dtype);
        Tensor b = c.bias ? random_normal({c.w[1]}, seed++, 0.0, 1.0, dtype) : Tensor();
        const std::string what = std::string(dtype_name(dtype)) + " " + activation_text(activation) + " x " +
                                 c.x.to_string() + " w " + c.w.to_string() + (c.bias ? " bias" : "");
        Result f = run(true, x, w, b, activation);
        Result u = run(false, x, w, b, activation);
        expect_close(f.y, u.y, tol, what + ": value");
        ASSERT_EQ(f.grads.size(), u.grads.size());
        for (size_t i = 0; i < f.grads.size(); ++i) {
          ASSERT_TRUE(f.grads[i].has_value() && u.grads[i].has_value()) << what;
          expect_close(*f.grads[i], *u.grads[i], tol, what + ": gradient " + std::to_string(i));
        }
      }
    }
  }
}

TEST(FusedLinearTest, ReluGradientIsZeroWhereTheOutputIsClipped) {
  // z = x w + b = [-1, 2]: the first unit is clipped, the second passes.
  Tensor x = Tensor::from_vector<float>({1, 1}, {1, 2});
  Tensor w = Tensor::from_vector<float>({1, 1, -1, 1}, {2, 2});
  Tensor b = Tensor::from_vector<float>({-1, 0});
  GradientTape tape;
  tape.watch(b);
  Tensor y = linear(x, w, b, OpKind::kRelu);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0, 2}));
  Tensor db = *tape.gradient(sum(y), {b})[0];
  EXPECT_EQ(db.to_vector<float>(), (std::vector<float>{0, 1}));
}

TEST(FusedLinearTest, EmptyInnerDimensionGivesTheBias) {
  Tensor x = Tensor::empty({3, 0});
  Tensor w = Tensor::empty({0, 2});
  Tensor b = Tensor::from_vector<float>({1.5f, -2.0f});
  EXPECT_EQ(linear(x, w, b).to_vector<float>(), (std::vector<float>{1.5f, -2.0f, 1.5f, -2.0f, 1.5f, -2.0f}));
  EXPECT_EQ(linear(x, w).to_vector<float>(), std::vector<float>(6, 0.0f));
}

// At 2 threads a VJP runs its input and weight gradients side by side, each
// product on one thread (ops::apply_side_by_side): the bits must be those of
// one thread, for matmul under every transpose flag and for the fused
// linear, and a tape recording the backward (for a second derivative) must
// still see both products, in order.
TEST(SideBySideGradientTest, MatchesOneThreadBitForBitAndKeepsSecondDerivatives) {
  const Tensor x = random_uniform({96, 80}, 1, -1.0, 1.0, DType::kFloat32);
  const Tensor w = random_uniform({80, 72}, 2, -1.0, 1.0, DType::kFloat32);
  const Tensor xt = transpose(x), wt = transpose(w);
  const Tensor b = random_uniform({72}, 3, -1.0, 1.0, DType::kFloat32);
  const Tensor probe = random_uniform({96, 72}, 4, -1.0, 1.0, DType::kFloat32);
  auto all_gradients = [&] {
    std::vector<Tensor> out;
    for (int flags = 0; flags < 4; ++flags) {
      const bool ta = (flags & 1) != 0, tb = (flags & 2) != 0;
      const Tensor& a = ta ? xt : x;
      const Tensor& bm = tb ? wt : w;
      GradientTape tape;
      tape.watch(a);
      tape.watch(bm);
      Tensor y = matmul(a, bm, MatmulOptions().transpose_a(ta).transpose_b(tb));
      for (const std::optional<Tensor>& g : tape.gradient(sum(y * probe), {a, bm})) out.push_back(*g);
    }
    {
      GradientTape tape;
      for (const Tensor* t : {&x, &w, &b}) tape.watch(*t);
      Tensor y = linear(x, w, b, OpKind::kTanh);
      for (const std::optional<Tensor>& g : tape.gradient(sum(y * probe), {x, w, b})) out.push_back(*g);
    }
    // d/dx of sum(grad_w * w): the backward's products recorded by the outer tape.
    GradientTape outer;
    outer.watch(x);
    Tensor gw;
    {
      GradientTape inner;
      inner.watch(x);
      inner.watch(w);
      gw = *inner.gradient(sum(square(matmul(x, w)) * probe), {w})[0];
    }
    out.push_back(*outer.gradient(sum(gw * w), {x})[0]);
    return out;
  };
  const int saved = num_threads();
  set_num_threads(1);
  const std::vector<Tensor> one = all_gradients();
  set_num_threads(2);
  const int64_t before = ops::internal::side_by_side_runs();
  const std::vector<Tensor> two = all_gradients();
  const int64_t runs = ops::internal::side_by_side_runs() - before;
  set_num_threads(saved);
  EXPECT_GE(runs, 5) << "four matmul VJPs and the linear's should have run side by side";
  ASSERT_EQ(one.size(), two.size());
  for (size_t i = 0; i < one.size(); ++i) EXPECT_EQ(one[i].to_vector<float>(), two[i].to_vector<float>()) << i;
  // The second derivative is not zero: the outer tape saw the products.
  EXPECT_GT(max(abs(one.back())).item<float>(), 0.0f);
}

TEST(FusedLinearTest, BadInputsNameTheOpAndTheShapes) {
  Tensor x = zeros({4, 3});
  Tensor w = zeros({3, 2});
  std::string what = error_text<ShapeError>([&] { linear(x, zeros({2, 2})); });
  GRAFT_EXPECT_CONTAINS(what, "linear: expected x [..., k] (rank >= 2) and w [k, n], got x [4, 3] and w [2, 2]");
  what = error_text<ShapeError>([&] { linear(x, w, zeros({3})); });
  GRAFT_EXPECT_CONTAINS(what, "linear: expected a bias of shape [2]");
  GRAFT_EXPECT_CONTAINS(what, "got [3]");
  what = error_text<ShapeError>([&] { linear(zeros({3}), w); });
  GRAFT_EXPECT_CONTAINS(what, "rank >= 2");
  what = error_text<DTypeError>([&] { linear(x, zeros({3, 2}, DType::kFloat64)); });
  GRAFT_EXPECT_CONTAINS(what, "linear: input 0 is float32 but input 1 is float64");
  what = error_text<ValueError>([&] { linear(x, w, Tensor(), OpKind::kExp); });
  GRAFT_EXPECT_CONTAINS(what, "linear: activation 'exp' cannot be fused");
  GRAFT_EXPECT_CONTAINS(what, "help:");
}

}  // namespace
}  // namespace graft
