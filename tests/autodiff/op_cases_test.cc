// One test case per OpKind (ggml's rule): a float64 full-Jacobian gradient
// check for every op with a vector-Jacobian product, a forward check against
// hand-computed values for the rest. OpCoverageTest walks every OpKind and
// fails when one has no case, or when an op with a VJP has only a forward
// check. Each case also asserts that it really ran its op.
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graft/autodiff/gradcheck.h"
#include "graft/autodiff/tape.h"
#include "graft/ops/ops.h"

namespace graft {
namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

Tensor normal64(const Shape& shape, uint64_t seed) {
  return random_normal(shape, seed, 0.0, 1.0, DType::kFloat64);
}
Tensor uniform64(const Shape& shape, uint64_t seed, double low, double high) {
  return random_uniform(shape, seed, low, high, DType::kFloat64);
}
// Values with 0.2 <= |x| < 1.2 and mixed signs: far from the kinks of relu,
// abs and sign at 0 compared with the gradcheck's step of 1e-6.
Tensor away_from_zero(const Shape& shape, uint64_t seed) {
  Tensor magnitude = uniform64(shape, seed, 0.2, 1.2);
  Tensor side = less(uniform64(shape, seed + 1, 0.0, 1.0), scalar_like(0.5, magnitude));
  return magnitude * (2.0 * side - 1.0);
}
// A fixed, non-uniform weight per element, in y's dtype: multiplying an output
// by it makes a VJP that permutes, transposes or averages gradients fail.
Tensor weights_like(const Tensor& y) {
  std::vector<double> w(static_cast<size_t>(y.numel()));
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.3 + 0.1 * static_cast<double>((i * 7) % 11);
  return cast(Tensor::from_vector(w, y.shape()), y.dtype());
}
Tensor weighted(const Tensor& y) { return y * weights_like(y); }

// Convolution geometries for the gradient checks: padding, stride,
// dilation, "same", groups, and the 1x1 path that skips im2col.
struct WindowCase {
  Shape x, w;
  Conv2dOptions options;
};
std::vector<WindowCase> conv_window_cases() {
  return {
      {{2, 3, 5, 4}, {2, 3, 3, 2}, Conv2dOptions().stride(2, 1).padding(1)},
      {{1, 2, 5, 5}, {2, 2, 2, 3}, Conv2dOptions().dilation(2, 1).padding(Padding::kSame)},
      {{2, 4, 3, 3}, {2, 2, 3, 3}, Conv2dOptions().groups(2).padding(1)},
      {{2, 3, 3, 2}, {2, 3, 1, 1}, Conv2dOptions()},
  };
}
std::vector<Pool2dOptions> pool_window_cases() {
  return {Pool2dOptions(2), Pool2dOptions(3).stride(1).padding(1),
          Pool2dOptions(2, 3).stride(2, 1).padding(Padding::kSame)};
}
// The values 0.1 * k for k = 0 .. n-1, shuffled (a fixed permutation) and
// shifted to mixed signs.
Tensor distinct64(const Shape& shape) {
  const int64_t n = shape.numel();
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = 0.1 * static_cast<double>((i * 37 + 11) % n) - 0.05 * static_cast<double>(n);
  return Tensor::from_vector(v, shape);
}

void expect_gradients(const Fn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& options = {}) {
  GradcheckResult r = check_gradients(f, inputs, options);
  EXPECT_TRUE(r.ok) << r.report;
}

void expect_values(const Tensor& t, const std::vector<double>& want, const Shape& shape) {
  EXPECT_EQ(t.shape(), shape);
  std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << "element " << i;
}

// Records which op kinds ran while alive.
class KindRecorder : public ops::internal::OpObserver {
 public:
  KindRecorder() { ops::internal::add_observer(this); }
  ~KindRecorder() override { ops::internal::remove_observer(this); }
  void on_op(OpKind kind, std::span<const Tensor>, const OpAttrs&, const Tensor&) override {
    seen_[static_cast<size_t>(kind)] = true;
  }
  bool saw(OpKind kind) const { return seen_[static_cast<size_t>(kind)]; }

 private:
  std::vector<bool> seen_ = std::vector<bool>(static_cast<size_t>(OpKind::kCount));
};

// kRefusesGradient: an op whose VJP exists only to refuse a second
// derivative with a clear error (lstm_sequence_grad); its case checks its
// values independently and that differentiating it throws.
enum class Check { kGradient, kForward, kRefusesGradient };

struct OpCase {
  OpKind kind;
  Check check;
  std::function<void()> run;
};

// A gradient check of a binary op on broadcasting operands: a bias row, a
// column and a scalar against a matrix, and a rank difference.
void binary_cases(Tensor (*op)(const Tensor&, const Tensor&), double low, double high) {
  Fn f = [op](const std::vector<Tensor>& in) { return weighted(op(in[0], in[1])); };
  auto x = [&](const Shape& s, uint64_t seed) { return uniform64(s, seed, low, high); };
  expect_gradients(f, {x({3, 4}, 1), x({3, 4}, 2)});
  expect_gradients(f, {x({3, 4}, 3), x({4}, 4)});
  expect_gradients(f, {x({3, 1}, 5), x({3, 4}, 6)});
  expect_gradients(f, {x({}, 7), x({2, 3}, 8)});
  expect_gradients(f, {x({2, 3, 4}, 9), x({3, 1}, 10)});
}

void comparison_case(Tensor (*op)(const Tensor&, const Tensor&), std::vector<double> want) {
  Tensor a = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::from_vector<double>({2, 2, 5}, {3});  // a bias row
  expect_values(op(a, b), want, {2, 3});
}

void unary_case(Tensor (*op)(const Tensor&), const Tensor& x) {
  expect_gradients([op](const std::vector<Tensor>& in) { return weighted(op(in[0])); }, {x});
}

std::vector<OpCase> all_cases() {
  std::vector<OpCase> cases;
  auto add_case = [&](OpKind kind, Check check, std::function<void()> run) {
    cases.push_back({kind, check, std::move(run)});
  };
  using K = OpKind;
  const Check G = Check::kGradient;
  const Check F = Check::kForward;

  // Creation.
  add_case(K::kFill, F, [] {
    expect_values(full({2, 2}, 3.5, DType::kFloat64), {3.5, 3.5, 3.5, 3.5}, {2, 2});
    expect_values(full({3}, -2.0, DType::kInt64), {-2, -2, -2}, {3});
  });
  add_case(K::kArange, F, [] {
    expect_values(arange(1, 2.2, 0.5), {1, 1.5, 2}, {3});
    expect_values(arange(5, 0, -2, DType::kInt64), {5, 3, 1}, {3});
    expect_values(arange(0, 4, 1, DType::kFloat64), {0, 1, 2, 3}, {4});
    expect_values(arange(3, 3), {}, {0});
  });
  add_case(K::kRandomUniform, F, [] {
    Tensor a = random_uniform({1000}, 7, -2.0, 3.0, DType::kFloat64);
    for (double v : a.to_vector<double>()) ASSERT_TRUE(v >= -2.0 && v < 3.0) << v;
    EXPECT_EQ(a.to_vector<double>(), random_uniform({1000}, 7, -2.0, 3.0, DType::kFloat64).to_vector<double>());
  });
  add_case(K::kRandomNormal, F, [] {
    Tensor a = random_normal({4, 5}, 11);
    EXPECT_EQ(a.shape(), (Shape{4, 5}));
    EXPECT_EQ(a.dtype(), DType::kFloat32);
    EXPECT_EQ(a.to_vector<float>(), random_normal({4, 5}, 11).to_vector<float>());
  });
  add_case(K::kTruncatedNormal, F, [] {
    Tensor a = truncated_normal({1000}, 3, 1.0, 0.5, DType::kFloat64);
    for (double v : a.to_vector<double>()) ASSERT_LE(std::abs(v - 1.0), 1.0) << v;
  });

  // Elementwise binary, with broadcasting.
  add_case(K::kAdd, G, [] { binary_cases(add, -1.0, 1.0); });
  add_case(K::kSub, G, [] { binary_cases(sub, -1.0, 1.0); });
  add_case(K::kMul, G, [] { binary_cases(mul, -1.0, 1.0); });
  add_case(K::kDiv, G, [] { binary_cases(div, 0.5, 2.0); });
  add_case(K::kPow, G, [] {
    binary_cases(pow, 0.5, 2.0);
    // A non-positive base: the exponent's gradient is taken as 0 there.
    Tensor b = Tensor::from_vector<double>({2.0, 3.0});
    expect_gradients([b](const std::vector<Tensor>& in) { return pow(in[0], b); },
                     {Tensor::from_vector<double>({-1.5, 0.7})});
  });
  // maximum/minimum: operands at least 0.2 apart, so no tie is crossed.
  auto extreme_case = [](Tensor (*op)(const Tensor&, const Tensor&)) {
    Tensor a = normal64({3, 4}, 21);
    Tensor b = a + away_from_zero({3, 4}, 22);
    expect_gradients([op](const std::vector<Tensor>& in) { return weighted(op(in[0], in[1])); }, {a, b});
    Tensor row = Tensor::from_vector<double>({-0.5, 0.1, 0.6, 2.0});
    Tensor m = Tensor::from_vector<double>({0.3, -0.9, 1.1, 0.2, -0.2, 0.4, 0.8, 1.7}, {2, 4});
    expect_gradients([op](const std::vector<Tensor>& in) { return weighted(op(in[0], in[1])); }, {m, row});
  };
  add_case(K::kMaximum, G, [extreme_case] { extreme_case(maximum); });
  add_case(K::kMinimum, G, [extreme_case] { extreme_case(minimum); });
  add_case(K::kEqual, F, [] { comparison_case(equal, {0, 1, 0, 0, 0, 0}); });
  add_case(K::kNotEqual, F, [] { comparison_case(not_equal, {1, 0, 1, 1, 1, 1}); });
  add_case(K::kLess, F, [] { comparison_case(less, {1, 0, 1, 0, 0, 0}); });
  add_case(K::kLessEqual, F, [] { comparison_case(less_equal, {1, 1, 1, 0, 0, 0}); });
  add_case(K::kGreater, F, [] { comparison_case(greater, {0, 0, 0, 1, 1, 1}); });
  add_case(K::kGreaterEqual, F, [] { comparison_case(greater_equal, {0, 1, 0, 1, 1, 1}); });
  add_case(K::kWhere, G, [] {
    // The condition is a constant of f: a perturbed 0 would turn non-zero.
    Tensor cond = Tensor::from_vector<double>({1, 0, 0, 1, 1, 0}, {2, 3});
    Fn f = [cond](const std::vector<Tensor>& in) { return weighted(where(cond, in[0], in[1])); };
    expect_gradients(f, {normal64({2, 3}, 31), normal64({2, 3}, 32)});
    expect_gradients(f, {normal64({3}, 33), normal64({2, 1}, 34)});  // broadcast operands
  });

  // Elementwise unary.
  add_case(K::kNeg, G, [] { unary_case(neg, normal64({2, 3}, 41)); });
  add_case(K::kExp, G, [] { unary_case(exp, normal64({2, 3}, 42)); });
  add_case(K::kLog, G, [] { unary_case(log, uniform64({2, 3}, 43, 0.3, 3.0)); });
  add_case(K::kSqrt, G, [] { unary_case(sqrt, uniform64({2, 3}, 44, 0.3, 3.0)); });
  add_case(K::kTanh, G, [] { unary_case(tanh, normal64({2, 3}, 45)); });
  add_case(K::kSigmoid, G, [] {
    unary_case(sigmoid, normal64({2, 3}, 46));
    unary_case(sigmoid, Tensor::from_vector<double>({-30.0, 30.0}));  // both branches, saturated
  });
  add_case(K::kRelu, G, [] { unary_case(relu, away_from_zero({2, 3}, 47)); });
  add_case(K::kAbs, G, [] { unary_case(abs, away_from_zero({2, 3}, 48)); });
  add_case(K::kSquare, G, [] { unary_case(square, normal64({2, 3}, 49)); });
  add_case(K::kSign, F, [] {
    expect_values(sign(Tensor::from_vector<double>({-2.5, 0.0, 0.1})), {-1, 0, 1}, {3});
    expect_values(sign(Tensor::from_vector<int64_t>({-7, 0, 9})), {-1, 0, 1}, {3});
  });
  add_case(K::kStopGradient, F, [] {
    Tensor x = Tensor::from_vector<double>({1.5, -2.0});
    expect_values(stop_gradient(x), {1.5, -2.0}, {2});
  });
  add_case(K::kCast, G, [] {
    unary_case([](const Tensor& x) { return cast(x, DType::kFloat64); }, normal64({2, 3}, 51));
    // Through float32 and back: the step must dwarf float32's rounding.
    GradcheckOptions loose;
    loose.eps(1e-3);
    loose.atol(1e-3);
    loose.rtol(1e-3);
    expect_gradients([](const std::vector<Tensor>& in) { return cast(weighted(cast(in[0], DType::kFloat32)), DType::kFloat64); },
                     {normal64({2, 3}, 52)}, loose);
  });

  // Reductions.
  add_case(K::kSum, G, [] {
    Tensor x = normal64({2, 3, 4}, 61);
    for (Dims axes : {Dims{}, Dims{0}, Dims{-1}, Dims{0, 2}, Dims{1, 2}}) {
      for (bool keep : {false, true}) {
        const ReduceOptions options = ReduceOptions().keepdims(keep);
        expect_gradients([axes, options](const std::vector<Tensor>& in) { return weighted(sum(in[0], axes, options)); },
                         {x});
      }
    }
  });
  add_case(K::kMax, G, [] {
    Tensor x = normal64({3, 4, 2}, 62);  // distinct values: no ties
    for (Dims axes : {Dims{}, Dims{1}, Dims{0, 2}}) {
      expect_gradients([axes](const std::vector<Tensor>& in) { return weighted(max(in[0], axes)); }, {x});
    }
  });

  // Linear algebra.
  add_case(K::kMatMul, G, [] {
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        Tensor a = normal64(ta ? Shape{4, 3} : Shape{3, 4}, 71);
        Tensor b = normal64(tb ? Shape{2, 4} : Shape{4, 2}, 72);
        const MatmulOptions options = MatmulOptions().transpose_a(ta).transpose_b(tb);
        expect_gradients([options](const std::vector<Tensor>& in) { return weighted(matmul(in[0], in[1], options)); },
                         {a, b});
      }
    }
    // Batched, rank 3 x rank 3, and folded, rank 3 x rank 2.
    for (bool tb : {false, true}) {
      const MatmulOptions options = MatmulOptions().transpose_b(tb);
      Fn f = [options](const std::vector<Tensor>& in) { return weighted(matmul(in[0], in[1], options)); };
      expect_gradients(f, {normal64({2, 3, 4}, 73), normal64(tb ? Shape{2, 2, 4} : Shape{2, 4, 2}, 74)});
      expect_gradients(f, {normal64({2, 3, 4}, 75), normal64(tb ? Shape{2, 4} : Shape{4, 2}, 76)});
    }
    const MatmulOptions both = MatmulOptions().transpose_a(true).transpose_b(true);
    expect_gradients([both](const std::vector<Tensor>& in) { return weighted(matmul(in[0], in[1], both)); },
                     {normal64({2, 4, 3}, 77), normal64({2, 2, 4}, 78)});
  });
  add_case(K::kLinear, G, [] {
    // Every fusable activation, with and without a bias, plain and batched;
    // relu's inputs stay away from its kink.
    for (OpKind act : {OpKind::kCount, OpKind::kRelu, OpKind::kTanh, OpKind::kSigmoid}) {
      Fn with_bias = [act](const std::vector<Tensor>& in) { return weighted(linear(in[0], in[1], in[2], act)); };
      Fn without = [act](const std::vector<Tensor>& in) { return weighted(linear(in[0], in[1], Tensor(), act)); };
      expect_gradients(with_bias, {away_from_zero({3, 4}, 77), normal64({4, 5}, 78), normal64({5}, 79)});
      expect_gradients(without, {normal64({2, 3, 4}, 80), normal64({4, 2}, 81)});
    }
  });

  // Shape.
  add_case(K::kReshape, G, [] {
    expect_gradients([](const std::vector<Tensor>& in) { return weighted(reshape(in[0], {3, -1})); },
                     {normal64({2, 3, 2}, 81)});
  });
  add_case(K::kPermute, G, [] {
    expect_gradients([](const std::vector<Tensor>& in) { return weighted(permute(in[0], {2, 0, 1})); },
                     {normal64({2, 3, 4}, 82)});
    expect_gradients([](const std::vector<Tensor>& in) { return weighted(transpose(in[0])); }, {normal64({3, 2}, 83)});
  });
  add_case(K::kBroadcastTo, G, [] {
    for (Shape from : {Shape{}, Shape{3}, Shape{2, 1}, Shape{1, 3}}) {
      expect_gradients([](const std::vector<Tensor>& in) { return weighted(broadcast_to(in[0], {2, 3})); },
                       {normal64(from, 84)});
    }
  });
  add_case(K::kConcat, G, [] {
    Fn f = [](const std::vector<Tensor>& in) { return weighted(concat({in[0], in[1], in[2]}, 1)); };
    expect_gradients(f, {normal64({2, 1, 3}, 91), normal64({2, 2, 3}, 92), normal64({2, 3, 3}, 93)});
    Fn last = [](const std::vector<Tensor>& in) { return weighted(concat({in[0], in[1]}, -1)); };
    expect_gradients(last, {normal64({2, 3}, 94), normal64({2, 1}, 95)});
  });
  add_case(K::kSlice, G, [] {
    expect_gradients([](const std::vector<Tensor>& in) { return weighted(slice(in[0], {1, 0, 1}, {3, -1, 4})); },
                     {normal64({4, 3, 5}, 101)});
  });
  add_case(K::kPad, G, [] {
    expect_gradients([](const std::vector<Tensor>& in) { return weighted(pad(in[0], {1, 0}, {2, 3})); },
                     {normal64({2, 3}, 102)});
  });

  // Indexing.
  add_case(K::kGather, G, [] {
    // Repeated indices, so the VJP's scatter_add must accumulate.
    Tensor rows = Tensor::from_vector<int64_t>({2, 0, 2, 3}, {2, 2});
    expect_gradients([rows](const std::vector<Tensor>& in) { return weighted(gather(in[0], rows, 0)); },
                     {normal64({4, 3}, 111)});
    Tensor cols = Tensor::from_vector<int64_t>({1, 1, 0});
    expect_gradients([cols](const std::vector<Tensor>& in) { return weighted(gather(in[0], cols, 1)); },
                     {normal64({2, 3, 2}, 112)});
  });
  add_case(K::kScatterAdd, G, [] {
    Tensor idx = Tensor::from_vector<int64_t>({3, 0, 3});
    expect_gradients([idx](const std::vector<Tensor>& in) { return weighted(scatter_add(in[0], idx, {2, 4}, 1)); },
                     {normal64({2, 3}, 113)});
  });
  add_case(K::kOneHot, F, [] {
    expect_values(one_hot(Tensor::from_vector<int64_t>({2, 0, 1}), 3), {0, 0, 1, 1, 0, 0, 0, 1, 0}, {3, 3});
    expect_values(one_hot(Tensor::from_vector<int64_t>({1, 3}, {2, 1}), 4, DType::kInt64), {0, 1, 0, 0, 0, 0, 0, 1},
                  {2, 1, 4});
  });

  // Neural-network kernels.
  add_case(K::kSoftmax, G, [] {
    for (int64_t axis : {0, 1, -1}) {
      expect_gradients([axis](const std::vector<Tensor>& in) { return weighted(softmax(in[0], axis)); },
                       {normal64({2, 3, 4}, 121)});
    }
  });
  add_case(K::kLogSoftmax, G, [] {
    for (int64_t axis : {0, 1, -1}) {
      expect_gradients([axis](const std::vector<Tensor>& in) { return weighted(log_softmax(in[0], axis)); },
                       {normal64({2, 3, 4}, 122)});
    }
  });
  add_case(K::kSparseSoftmaxCrossEntropy, G, [] {
    Tensor labels = Tensor::from_vector<int64_t>({2, 0, 4, 2});
    expect_gradients(
        [labels](const std::vector<Tensor>& in) { return weighted(sparse_softmax_cross_entropy(in[0], labels)); },
        {normal64({4, 5}, 123)});
  });

  // Convolution and pooling (NCHW).
  add_case(K::kConv2d, G, [] {
    for (const WindowCase& c : conv_window_cases()) {
      expect_gradients([c](const std::vector<Tensor>& in) { return weighted(conv2d(in[0], in[1], c.options)); },
                       {normal64(c.x, 131), normal64(c.w, 132)});
      // With its bias folded in (a third input).
      expect_gradients(
          [c](const std::vector<Tensor>& in) { return weighted(conv2d(in[0], in[1], in[2], c.options)); },
          {normal64(c.x, 133), normal64(c.w, 134), normal64({c.w[0]}, 135)});
    }
  });
  add_case(K::kConv2dGradInput, G, [] {
    for (const WindowCase& c : conv_window_cases()) {
      Shape y = conv2d(zeros(c.x, DType::kFloat64), zeros(c.w, DType::kFloat64), c.options).shape();
      expect_gradients(
          [c](const std::vector<Tensor>& in) { return weighted(conv2d_grad_input(in[0], in[1], c.x, c.options)); },
          {normal64(y, 133), normal64(c.w, 134)});
    }
  });
  add_case(K::kConv2dGradWeight, G, [] {
    for (const WindowCase& c : conv_window_cases()) {
      Shape y = conv2d(zeros(c.x, DType::kFloat64), zeros(c.w, DType::kFloat64), c.options).shape();
      expect_gradients(
          [c](const std::vector<Tensor>& in) { return weighted(conv2d_grad_weight(in[0], in[1], c.w, c.options)); },
          {normal64(c.x, 135), normal64(y, 136)});
    }
  });
  // Pool inputs are a shuffled ramp: no two values within 0.1 of each other,
  // so no window's maximum changes under the gradcheck's step.
  add_case(K::kMaxPool2d, G, [] {
    for (const Pool2dOptions& o : pool_window_cases()) {
      expect_gradients([o](const std::vector<Tensor>& in) { return weighted(max_pool2d(in[0], o)); },
                       {distinct64({2, 2, 5, 4})});
    }
  });
  add_case(K::kMaxPool2dGrad, G, [] {
    for (const Pool2dOptions& o : pool_window_cases()) {
      Tensor x = distinct64({2, 2, 5, 4});
      expect_gradients([o](const std::vector<Tensor>& in) { return weighted(max_pool2d_grad(in[0], in[1], o)); },
                       {x, normal64(max_pool2d(x, o).shape(), 137)});
    }
  });
  add_case(K::kAvgPool2d, G, [] {
    for (const Pool2dOptions& o : pool_window_cases()) {
      expect_gradients([o](const std::vector<Tensor>& in) { return weighted(avg_pool2d(in[0], o)); },
                       {normal64({2, 2, 5, 4}, 138)});
    }
  });
  add_case(K::kAvgPool2dGrad, G, [] {
    for (const Pool2dOptions& o : pool_window_cases()) {
      const Shape x{2, 2, 5, 4};
      Shape y = avg_pool2d(zeros(x, DType::kFloat64), o).shape();
      expect_gradients([o, x](const std::vector<Tensor>& in) { return weighted(avg_pool2d_grad(in[0], x, o)); },
                       {normal64(y, 139)});
    }
  });

  // Batch norm with the batch's statistics (fused; tests/autodiff/
  // batch_norm_ops_test.cc compares them with the composed form).
  add_case(K::kBatchNormStats, G, [] {
    expect_gradients([](const std::vector<Tensor>& in) { return weighted(batch_norm_stats(in[0])); },
                     {normal64({3, 2, 3, 2}, 141)});
    expect_gradients([](const std::vector<Tensor>& in) { return weighted(batch_norm_stats(in[0])); },
                     {normal64({5, 3}, 142)});
  });
  add_case(K::kBatchNorm, G, [] {
    Fn f = [](const std::vector<Tensor>& in) { return weighted(batch_norm(in[0], in[1], in[2], 1e-3)); };
    expect_gradients(f, {normal64({3, 2, 3, 2}, 143), uniform64({2}, 144, 0.5, 1.5), normal64({2}, 145)});
    expect_gradients(f, {normal64({5, 3}, 146), uniform64({3}, 147, 0.5, 1.5), normal64({3}, 148)});
  });
  // The backward pieces: along a direction, <grad_y, d batch_norm> equals
  // <batch_norm_grad_input(...), v> and the sums give gamma's and beta's
  // gradients; a second derivative through either is refused.
  auto fused_backward_case = [](OpKind kind) {
    return [kind] {
      Tensor x = normal64({3, 2, 2, 3}, 151), gamma = uniform64({2}, 152, 0.5, 1.5), beta = normal64({2}, 153);
      Tensor gy = normal64(x.shape(), 154), v = normal64(x.shape(), 155);
      const double eps = 1e-6, bn_eps = 1e-3;
      Tensor sums = batch_norm_sums(x, gy, bn_eps);
      if (kind == OpKind::kBatchNormGradInput) {
        Tensor dy = (batch_norm(x + eps * v, gamma, beta, bn_eps) - batch_norm(x - eps * v, gamma, beta, bn_eps)) /
                    (2 * eps);
        const double numeric = sum(gy * dy).item<double>();
        const double analytic = sum(batch_norm_grad_input(x, gamma, gy, sums, bn_eps) * v).item<double>();
        EXPECT_NEAR(analytic, numeric, 1e-7 * (1.0 + std::abs(numeric)));
      } else {
        // d/dbeta_c = sum of gy over channel c; d/dgamma_c = sum(gy * x_hat).
        Tensor e = Tensor::from_vector<double>({0.0, 1.0});
        auto directional = [&](const Tensor& dg, const Tensor& db) {
          Tensor up = batch_norm(x, gamma + eps * dg, beta + eps * db, bn_eps);
          Tensor down = batch_norm(x, gamma - eps * dg, beta - eps * db, bn_eps);
          return sum(gy * (up - down)).item<double>() / (2 * eps);
        };
        std::vector<double> got = sums.to_vector<double>();
        EXPECT_NEAR(got[1], directional(zeros({2}, DType::kFloat64), e), 1e-7);
        EXPECT_NEAR(got[3], directional(e, zeros({2}, DType::kFloat64)), 1e-7);
      }
      GradientTape outer;
      outer.watch(gy);
      Tensor dz = kind == OpKind::kBatchNormSums ? batch_norm_sums(x, gy, bn_eps)
                                                 : batch_norm_grad_input(x, gamma, gy, sums, bn_eps);
      try {
        outer.gradient(sum(square(dz)), {gy});
        ADD_FAILURE() << "a second derivative through " << op_name(kind) << " was not refused";
      } catch (const ValueError& e) {
        EXPECT_NE(std::string(e.what()).find(": second derivatives through batch norm's fused backward are not "
                                             "supported"),
                  std::string::npos)
            << e.what();
      }
    };
  };
  add_case(K::kBatchNormSums, Check::kRefusesGradient, fused_backward_case(K::kBatchNormSums));
  add_case(K::kBatchNormGradInput, Check::kRefusesGradient, fused_backward_case(K::kBatchNormGradInput));

  // The LSTM recurrence: inputs small enough that no gate saturates; T = 1
  // (no recurrent product) and a batch of one with an odd hidden size.
  add_case(K::kLstmSequence, G, [] {
    Fn f = [](const std::vector<Tensor>& in) { return weighted(lstm_sequence(in[0], in[1])); };
    expect_gradients(f, {0.5 * normal64({3, 2, 8}, 96), 0.5 * normal64({2, 8}, 97)});
    expect_gradients(f, {0.5 * normal64({1, 2, 12}, 98), 0.5 * normal64({3, 12}, 99)});
    expect_gradients(f, {0.5 * normal64({4, 1, 12}, 100), 0.5 * normal64({3, 12}, 101)});
  });
  // Its values against central differences of lstm_sequence along a random
  // direction v: <grad_y, dy/dxp v> = <lstm_sequence_grad(y, u, grad_y), v>;
  // then a second derivative through it is refused.
  add_case(K::kLstmSequenceGrad, Check::kRefusesGradient, [] {
    Tensor xp = 0.5 * normal64({3, 2, 12}, 102), u = 0.5 * normal64({3, 12}, 103);
    Tensor v = normal64({3, 2, 12}, 104);
    Tensor y = lstm_sequence(xp, u);
    Tensor gy = normal64(y.shape(), 105);
    const double eps = 1e-6;
    Tensor dy = (lstm_sequence(xp + eps * v, u) - lstm_sequence(xp - eps * v, u)) / (2 * eps);
    const double numeric = sum(gy * dy).item<double>();
    const double analytic = sum(lstm_sequence_grad(y, u, gy) * v).item<double>();
    EXPECT_NEAR(analytic, numeric, 1e-7 * (1.0 + std::abs(numeric)));
    GradientTape outer;
    outer.watch(gy);
    Tensor dz = lstm_sequence_grad(y, u, gy);
    try {
      outer.gradient(sum(square(dz)), {gy});
      ADD_FAILURE() << "a second derivative through lstm_sequence_grad was not refused";
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find("lstm_sequence_grad: second derivatives through an LSTM sequence are not "
                                           "supported"),
                std::string::npos)
          << e.what();
    }
  });

  // Optimizer updates (compared with the ops they replace in
  // tests/ops/update_ops_test.cc): one hand-computed step each.
  add_case(K::kSgdUpdate, F, [] {
    UpdateAttrs a;
    a.momentum = 0.5;
    Tensor buf = Tensor::from_vector<double>({1.0, -2.0});
    // buf <- 0.5 buf + g = [1.5, -0.5]; p - 0.1 buf
    Tensor p = sgd_update(Tensor::from_vector<double>({1.0, 2.0}), Tensor::from_vector<double>({1.0, 0.5}),
                          full({}, 0.1, DType::kFloat64), buf, a);
    expect_values(p, {0.85, 2.05}, {2});
    expect_values(buf, {1.5, -0.5}, {2});
  });
  add_case(K::kAdamUpdate, F, [] {
    UpdateAttrs a;
    a.beta1 = 0.5;
    a.beta2 = 0.75;
    a.eps = 0.0;
    Tensor m = Tensor::from_vector<double>({0.0}), v = Tensor::from_vector<double>({0.0});
    // m = 0.5 g = 1, v = 0.25 g^2 = 1; first step: bias1 = 0.5, bias2 = 0.25,
    // p - lr (1 / 0.5) / sqrt(1 / 0.25) = 3 - 0.5 * 2 / 2.
    Tensor p = adam_update(Tensor::from_vector<double>({3.0}), Tensor::from_vector<double>({2.0}), m, v,
                           full({}, 0.5, DType::kFloat64), full({}, 0.5, DType::kFloat64),
                           full({}, 0.25, DType::kFloat64), a);
    expect_values(p, {2.5}, {1});
    expect_values(m, {1.0}, {1});
    expect_values(v, {1.0}, {1});
  });
  return cases;
}

const OpCase* find_case(const std::vector<OpCase>& cases, OpKind kind) {
  for (const OpCase& c : cases) {
    if (c.kind == kind) return &c;
  }
  return nullptr;
}

TEST(OpCoverageTest, EveryOpKindHasATestCase) {
  std::vector<OpCase> cases = all_cases();
  for (size_t k = 0; k < static_cast<size_t>(OpKind::kCount); ++k) {
    const OpKind kind = static_cast<OpKind>(k);
    const OpCase* c = find_case(cases, kind);
    EXPECT_NE(c, nullptr) << "op '" << op_name(kind) << "' has no case in tests/autodiff/op_cases_test.cc";
    if (c != nullptr && op_def(kind).vjp != nullptr) {
      EXPECT_NE(c->check, Check::kForward) << "op '" << op_name(kind)
                                            << "' has a vector-Jacobian product but no gradient check";
    }
  }
}

class OpCaseTest : public testing::TestWithParam<size_t> {};

TEST_P(OpCaseTest, PassesAndRunsItsOp) {
  std::vector<OpCase> cases = all_cases();
  ASSERT_LT(GetParam(), cases.size());
  const OpCase& c = cases[GetParam()];
  KindRecorder recorder;
  c.run();
  EXPECT_TRUE(recorder.saw(c.kind)) << "the case for '" << op_name(c.kind) << "' never applied that op";
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpCaseTest, testing::Range<size_t>(0, all_cases().size()),
                         [](const testing::TestParamInfo<size_t>& info) {
                           return std::string(op_name(all_cases()[info.param].kind));
                         });

}  // namespace
}  // namespace graft
