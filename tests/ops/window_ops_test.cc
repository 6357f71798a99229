// conv2d, the pools, global_avg_pool2d and flatten: values against plain-loop
// references (kept here, in tests only), options, and errors.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "graft/ops/ops.h"
#include "tests/testing.h"

namespace graft {
namespace {

using graft::test_util::error_text;

TEST(FlattenTest, JoinsTrailingAxesInRowMajorOrder) {
  Tensor x = arange(0, 24, 1, DType::kFloat64);
  Tensor y = flatten(reshape(x, {2, 3, 2, 2}));
  EXPECT_EQ(y.shape(), Shape({2, 12}));
  EXPECT_EQ(y.to_vector<double>(), x.to_vector<double>());
  EXPECT_EQ(flatten(reshape(x, {2, 3, 4}), 0).shape(), Shape({24}));
  EXPECT_EQ(flatten(reshape(x, {2, 3, 4}), -1).shape(), Shape({2, 3, 4}));
  EXPECT_EQ(flatten(reshape(x, {2, 3, 4}), 2).shape(), Shape({2, 3, 4}));
}

TEST(FlattenTest, StartDimOutOfRangeNamesTheShape) {
  Tensor x = zeros({2, 3});
  std::string what = error_text<ShapeError>([&] { flatten(x, 2); });
  GRAFT_EXPECT_CONTAINS(what, "flatten: start_dim 2 is out of range for shape [2, 3]");
}

TEST(GlobalAvgPoolTest, AveragesEachChannel) {
  Tensor x = reshape(arange(0, 16, 1, DType::kFloat64), {2, 2, 2, 2});
  Tensor y = global_avg_pool2d(x);
  EXPECT_EQ(y.shape(), Shape({2, 2}));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{1.5, 5.5, 9.5, 13.5}));
}

TEST(GlobalAvgPoolTest, RejectsANonImageInput) {
  std::string what = error_text<ShapeError>([&] { global_avg_pool2d(zeros({2, 3})); });
  GRAFT_EXPECT_CONTAINS(what, "global_avg_pool2d: expected an NCHW input of rank 4, got [2, 3]");
}


// ---- conv2d against a plain-loop reference --------------------------------

struct ConvCase {
  Shape x, w;
  Conv2dOptions options;
};

// Explicit pads (top, left, bottom, right) of a case, as conv2d resolves them.
struct Pads {
  int64_t top, left, bottom, right;
};

Pads resolve(const ConvCase& c) {
  auto axis = [&](int a, int64_t* before, int64_t* after) {
    const int64_t size = c.x[2 + a], extent = c.options.dilation()[a] * (c.w[2 + a] - 1) + 1;
    const int64_t stride = c.options.stride()[a];
    switch (c.options.padding_mode()) {
      case Padding::kExplicit: *before = *after = c.options.padding()[a]; break;
      case Padding::kValid: *before = *after = 0; break;
      case Padding::kSame: {
        const int64_t out = (size + stride - 1) / stride;
        const int64_t total = std::max<int64_t>((out - 1) * stride + extent - size, 0);
        *before = total / 2;
        *after = total - *before;
        break;
      }
    }
  };
  Pads p{};
  axis(0, &p.top, &p.bottom);
  axis(1, &p.left, &p.right);
  return p;
}

// Calls f(n, o, oh, ow, c_in, i, j, x_index, w_index) for every multiply of
// the convolution whose input position lies inside x; returns the output shape.
template <typename F>
Shape for_each_tap(const ConvCase& c, F&& f) {
  const Pads p = resolve(c);
  const int64_t n_ = c.x[0], ch = c.x[1], h = c.x[2], w = c.x[3];
  const int64_t o_ = c.w[0], cg = c.w[1], kh = c.w[2], kw = c.w[3];
  const int64_t groups = c.options.groups(), og = o_ / groups;
  const auto [sh, sw] = c.options.stride();
  const auto [dh, dw] = c.options.dilation();
  const int64_t oh_ = (h + p.top + p.bottom - dh * (kh - 1) - 1) / sh + 1;
  const int64_t ow_ = (w + p.left + p.right - dw * (kw - 1) - 1) / sw + 1;
  for (int64_t n = 0; n < n_; ++n)
    for (int64_t o = 0; o < o_; ++o)
      for (int64_t oh = 0; oh < oh_; ++oh)
        for (int64_t ow = 0; ow < ow_; ++ow)
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t ih = oh * sh + i * dh - p.top, iw = ow * sw + j * dw - p.left;
                if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                const int64_t cin = (o / og) * cg + ci;
                f(((n * o_ + o) * oh_ + oh) * ow_ + ow, ((n * ch + cin) * h + ih) * w + iw,
                  ((o * cg + ci) * kh + i) * kw + j);
              }
  return Shape{n_, o_, oh_, ow_};
}

std::vector<double> seq(int64_t n, double scale, double offset) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = std::sin(scale * static_cast<double>(i) + offset);
  return v;
}

void expect_near_all(const Tensor& got, const std::vector<double>& want, const Shape& shape, double tol) {
  ASSERT_EQ(got.shape(), shape);
  std::vector<double> g = cast(got, DType::kFloat64).to_vector<double>();
  ASSERT_EQ(g.size(), want.size());
  for (size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(g[i], want[i], tol) << "element " << i;
}

std::vector<ConvCase> conv_cases() {
  return {
      {{2, 3, 5, 6}, {4, 3, 3, 3}, Conv2dOptions()},
      {{2, 3, 5, 6}, {4, 3, 3, 3}, Conv2dOptions().padding(1)},
      {{2, 3, 7, 6}, {4, 3, 3, 2}, Conv2dOptions().stride(2, 1).padding(1, 2)},
      {{1, 2, 7, 7}, {3, 2, 3, 3}, Conv2dOptions().dilation(2).padding(Padding::kSame)},
      {{2, 3, 8, 7}, {2, 3, 4, 4}, Conv2dOptions().stride(3).padding(Padding::kSame)},
      {{2, 4, 5, 5}, {6, 2, 3, 3}, Conv2dOptions().groups(2).padding(1)},
      {{3, 4, 4, 5}, {4, 1, 3, 3}, Conv2dOptions().groups(4).padding(Padding::kSame)},  // depthwise
      {{3, 5, 4, 3}, {7, 5, 1, 1}, Conv2dOptions()},                                      // 1x1: no im2col
      {{2, 4, 4, 3}, {6, 2, 1, 1}, Conv2dOptions().groups(2)},                            // 1x1, grouped
      {{2, 3, 6, 6}, {2, 3, 1, 1}, Conv2dOptions().stride(2)},                            // 1x1 strided
      {{1, 2, 5, 5}, {2, 2, 3, 3}, Conv2dOptions().padding(Padding::kValid)},
      {{2, 3, 5, 6}, {4, 3, 5, 6}, Conv2dOptions()},  // kernel as large as the image
      {{1, 8, 130, 130}, {2, 8, 3, 3}, Conv2dOptions()},  // column buffer tiled (K * P > budget)
  };
}

template <typename T>
class ConvReferenceTest : public testing::Test {};
using FloatTypes = testing::Types<float, double>;
TYPED_TEST_SUITE(ConvReferenceTest, FloatTypes);

TYPED_TEST(ConvReferenceTest, ForwardAndBothGradientsMatchPlainLoops) {
  const DType dtype = std::is_same_v<TypeParam, float> ? DType::kFloat32 : DType::kFloat64;
  const double tol = std::is_same_v<TypeParam, float> ? 1e-4 : 1e-11;
  for (const ConvCase& c : conv_cases()) {
    SCOPED_TRACE("x " + c.x.to_string() + " w " + c.w.to_string());
    std::vector<double> xv = seq(c.x.numel(), 0.37, 0.1), wv = seq(c.w.numel(), 0.53, 0.7);
    Tensor x = cast(Tensor::from_vector(xv, c.x), dtype), w = cast(Tensor::from_vector(wv, c.w), dtype);
    Tensor y = conv2d(x, w, c.options);
    std::vector<double> want_y(static_cast<size_t>(y.numel()));
    Shape y_shape = for_each_tap(c, [&](int64_t yi, int64_t xi, int64_t wi) { want_y[yi] += xv[xi] * wv[wi]; });
    expect_near_all(y, want_y, y_shape, tol * c.w.numel() / c.w[0]);

    std::vector<double> gv = seq(y_shape.numel(), 0.29, 0.3);
    Tensor gy = cast(Tensor::from_vector(gv, y_shape), dtype);
    std::vector<double> want_dx(static_cast<size_t>(c.x.numel())), want_dw(static_cast<size_t>(c.w.numel()));
    for_each_tap(c, [&](int64_t yi, int64_t xi, int64_t wi) {
      want_dx[xi] += gv[yi] * wv[wi];
      want_dw[wi] += gv[yi] * xv[xi];
    });
    expect_near_all(conv2d_grad_input(gy, w, c.x, c.options), want_dx, c.x, tol * c.w[0] * 9);
    expect_near_all(conv2d_grad_weight(x, gy, c.w, c.options), want_dw, c.w, tol * y_shape.numel() / c.w[0]);
  }
}

TYPED_TEST(ConvReferenceTest, FoldedBiasEqualsTheConvolutionPlusItsBias) {
  const DType dtype = std::is_same_v<TypeParam, float> ? DType::kFloat32 : DType::kFloat64;
  const double tol = std::is_same_v<TypeParam, float> ? 1e-5 : 1e-13;
  for (const ConvCase& c : conv_cases()) {
    SCOPED_TRACE("x " + c.x.to_string() + " w " + c.w.to_string());
    Tensor x = cast(Tensor::from_vector(seq(c.x.numel(), 0.37, 0.1), c.x), dtype);
    Tensor w = cast(Tensor::from_vector(seq(c.w.numel(), 0.53, 0.7), c.w), dtype);
    std::vector<double> bv = seq(c.w[0], 0.61, 2.0);
    Tensor b = cast(Tensor::from_vector(bv, {c.w[0]}), dtype);
    Tensor want = conv2d(x, w, c.options) + reshape(b, {1, c.w[0], 1, 1});
    expect_near_all(conv2d(x, w, b, c.options), want.to_vector<double>(), want.shape(), tol * c.w.numel() / c.w[0]);
    EXPECT_EQ(conv2d(x, w, Tensor(), c.options).to_vector<double>(), conv2d(x, w, c.options).to_vector<double>());
  }
}

TEST(Conv2dTest, SamePaddingKeepsTheSizeAtStrideOne) {
  Tensor x = zeros({1, 1, 5, 4});
  EXPECT_EQ(conv2d(x, zeros({1, 1, 3, 3}), Conv2dOptions().padding(Padding::kSame)).shape(), Shape({1, 1, 5, 4}));
  EXPECT_EQ(conv2d(x, zeros({1, 1, 2, 2}), Conv2dOptions().padding(Padding::kSame)).shape(), Shape({1, 1, 5, 4}));
  EXPECT_EQ(conv2d(x, zeros({1, 1, 3, 3}), Conv2dOptions().stride(2).padding(Padding::kSame)).shape(),
            Shape({1, 1, 3, 2}));
}

TEST(Conv2dTest, ChannelMismatchNamesBothShapes) {
  std::string what = error_text<ShapeError>([] { conv2d(zeros({2, 3, 5, 5}), zeros({4, 2, 3, 3})); });
  GRAFT_EXPECT_CONTAINS(what, "conv2d: the input [2, 3, 5, 5] has 3 channels but the weight [4, 2, 3, 3] expects 2");
  GRAFT_EXPECT_CONTAINS(what, "help: the weight is [O, C/groups, KH, KW]");
}

TEST(Conv2dTest, BadRanksGroupsAndSizesAreShapeErrors) {
  GRAFT_EXPECT_CONTAINS(error_text<ShapeError>([] { conv2d(zeros({3, 5, 5}), zeros({4, 3, 3, 3})); }),
                        "conv2d: expected an input [N, C, H, W] and a weight [O, C/groups, KH, KW], got [3, 5, 5] "
                        "and [4, 3, 3, 3]");
  GRAFT_EXPECT_CONTAINS(
      error_text<ShapeError>([] { conv2d(zeros({1, 4, 5, 5}), zeros({3, 2, 3, 3}), Conv2dOptions().groups(2)); }),
      "conv2d: 2 groups must divide the input's 4 channels and the weight's 3 output channels");
  GRAFT_EXPECT_CONTAINS(error_text<ShapeError>([] { conv2d(zeros({1, 1, 2, 5}), zeros({1, 1, 3, 3})); }),
                        "conv2d: the input [1, 1, 2, 5] is 2 wide on axis 2 with padding, smaller than the 3-wide "
                        "kernel of the weight [1, 1, 3, 3]");
  GRAFT_EXPECT_CONTAINS(
      error_text<ShapeError>([] { conv2d(zeros({1, 1, 5, 5}), zeros({1, 1, 3, 3}), Conv2dOptions().stride(0)); }),
      "conv2d: strides and dilations must be >= 1, got stride 0x0");
  GRAFT_EXPECT_CONTAINS(
      error_text<ShapeError>([] { conv2d(zeros({1, 1, 5, 5}), zeros({1, 1, 3, 3}), Conv2dOptions().padding(-1)); }),
      "conv2d: padding must be >= 0, got -1 and -1 on axis 2 of input [1, 1, 5, 5]");
  GRAFT_EXPECT_CONTAINS(
      error_text<ShapeError>([] { conv2d_grad_input(zeros({1, 1, 4, 4}), zeros({1, 1, 3, 3}), {1, 1, 5, 5}); }),
      "conv2d_grad_input: grad_y has shape [1, 1, 4, 4] but an input [1, 1, 5, 5] and a weight [1, 1, 3, 3] give "
      "outputs of shape [1, 1, 3, 3]");
  GRAFT_EXPECT_CONTAINS(error_text<ShapeError>([] { conv2d(zeros({1, 2, 5, 5}), zeros({3, 2, 3, 3}), zeros({1, 3})); }),
                        "conv2d: expected a bias of shape [3] (one per output channel of the weight [3, 2, 3, 3]), "
                        "got [1, 3]");
  EXPECT_THROW(conv2d(zeros({1, 1, 5, 5}), zeros({1, 1, 3, 3}), zeros({1}, DType::kFloat64)), DTypeError);
  EXPECT_THROW(conv2d(zeros({1, 1, 5, 5}), zeros({1, 1, 3, 3}, DType::kFloat64)), DTypeError);
  EXPECT_THROW(conv2d(zeros({1, 1, 5, 5}, DType::kInt64), zeros({1, 1, 3, 3}, DType::kInt64)), DTypeError);
}

// ---- pools against a plain-loop reference ---------------------------------

// Max (or mean over in-bounds positions) of each window, and the gradient
// routed back, by the definition.
void reference_pool(const Shape& xs, const Pool2dOptions& o, const std::vector<double>& x,
                    const std::vector<double>& gy, bool max_pool, std::vector<double>* y, std::vector<double>* dx,
                    Shape* y_shape) {
  const int64_t planes = xs[0] * xs[1], h = xs[2], w = xs[3];
  const auto [kh, kw] = o.kernel();
  const auto [sh, sw] = o.stride();
  const auto [ph, pw] = o.padding();
  const int64_t oh_ = (h + 2 * ph - kh) / sh + 1, ow_ = (w + 2 * pw - kw) / sw + 1;
  *y_shape = Shape{xs[0], xs[1], oh_, ow_};
  y->assign(static_cast<size_t>(planes * oh_ * ow_), 0.0);
  dx->assign(x.size(), 0.0);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oh = 0; oh < oh_; ++oh)
      for (int64_t ow = 0; ow < ow_; ++ow) {
        const int64_t yi = (p * oh_ + oh) * ow_ + ow;
        int64_t best = -1, count = 0;
        double total = 0;
        for (int64_t i = oh * sh - ph; i < oh * sh - ph + kh; ++i)
          for (int64_t j = ow * sw - pw; j < ow * sw - pw + kw; ++j) {
            if (i < 0 || i >= h || j < 0 || j >= w) continue;
            const int64_t xi = (p * h + i) * w + j;
            if (best < 0 || x[xi] > x[best]) best = xi;
            total += x[xi];
            ++count;
          }
        (*y)[yi] = max_pool ? x[best] : total / static_cast<double>(count);
        for (int64_t i = oh * sh - ph; i < oh * sh - ph + kh; ++i)
          for (int64_t j = ow * sw - pw; j < ow * sw - pw + kw; ++j) {
            if (i < 0 || i >= h || j < 0 || j >= w) continue;
            const int64_t xi = (p * h + i) * w + j;
            if (!max_pool) (*dx)[xi] += gy.empty() ? 0.0 : gy[yi] / static_cast<double>(count);
          }
        if (max_pool && !gy.empty()) (*dx)[best] += gy[yi];
      }
}

TYPED_TEST(ConvReferenceTest, PoolsMatchPlainLoops) {
  const DType dtype = std::is_same_v<TypeParam, float> ? DType::kFloat32 : DType::kFloat64;
  const double tol = std::is_same_v<TypeParam, float> ? 1e-5 : 1e-12;
  const Shape xs{2, 3, 7, 6};
  const std::vector<Pool2dOptions> options = {Pool2dOptions(2), Pool2dOptions(3).stride(1).padding(1),
                                              Pool2dOptions(3, 2).stride(2, 1).padding(1, 0), Pool2dOptions(7, 6)};
  for (const Pool2dOptions& o : options) {
    SCOPED_TRACE("kernel " + std::to_string(o.kernel()[0]) + "x" + std::to_string(o.kernel()[1]));
    std::vector<double> xv = seq(xs.numel(), 0.71, 0.2);
    Tensor x = cast(Tensor::from_vector(xv, xs), dtype);
    for (bool max_pool : {true, false}) {
      std::vector<double> y, dx;
      Shape y_shape;
      reference_pool(xs, o, xv, {}, max_pool, &y, &dx, &y_shape);
      std::vector<double> gv = seq(y_shape.numel(), 0.43, 0.9);
      reference_pool(xs, o, xv, gv, max_pool, &y, &dx, &y_shape);
      Tensor gy = cast(Tensor::from_vector(gv, y_shape), dtype);
      expect_near_all(max_pool ? max_pool2d(x, o) : avg_pool2d(x, o), y, y_shape, tol);
      expect_near_all(max_pool ? max_pool2d_grad(x, gy, o) : avg_pool2d_grad(gy, xs, o), dx, xs, tol);
    }
  }
}

TEST(Pool2dTest, SamePaddingGivesCeilOfSizeOverStride) {
  Tensor x = zeros({1, 2, 5, 4});
  EXPECT_EQ(max_pool2d(x, Pool2dOptions(2).padding(Padding::kSame)).shape(), Shape({1, 2, 3, 2}));
  EXPECT_EQ(avg_pool2d(x, Pool2dOptions(3).stride(1).padding(Padding::kSame)).shape(), Shape({1, 2, 5, 4}));
}

TEST(Pool2dTest, MaxPoolNeverPicksPadding) {
  Tensor x = full({1, 1, 2, 2}, -5.0);
  std::vector<double> y = max_pool2d(x, Pool2dOptions(2).stride(1).padding(1)).to_vector<double>();
  for (double v : y) EXPECT_EQ(v, -5.0);
}

TEST(Pool2dTest, MaxPoolTiesGoToTheFirstPositionInRowMajorOrder) {
  // 2x2 windows at stride 2 (the direct path) and 3x3 at stride 1 (the
  // general one) break ties the same way.
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    Tensor x = cast(Tensor::from_vector(std::vector<double>{1, 3, 7, 7, 3, 2, 7, 1, 0, 0, 0, 0}, {1, 1, 3, 4}), dtype);
    Tensor pair_y = cast(Tensor::from_vector(std::vector<double>{10, 20}, {1, 1, 1, 2}), dtype);
    EXPECT_EQ(max_pool2d(x, Pool2dOptions(2)).to_vector<double>(), std::vector<double>({3, 7}));
    EXPECT_EQ(max_pool2d_grad(x, pair_y, Pool2dOptions(2)).to_vector<double>(),
              std::vector<double>({0, 10, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
    Tensor wide_y = cast(Tensor::from_vector(std::vector<double>{10, 20}, {1, 1, 1, 2}), dtype);
    EXPECT_EQ(max_pool2d_grad(x, wide_y, Pool2dOptions(3).stride(1)).to_vector<double>(),
              std::vector<double>({0, 0, 30, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  }
}

TEST(WindowTest, AbsurdWindowValuesAreShapeErrorsNotOverflows) {
  const int64_t huge = int64_t{1} << 62;
  Tensor x = zeros({1, 1, 5, 5});
  Tensor w = zeros({1, 1, 3, 3});
  GRAFT_EXPECT_CONTAINS(error_text<ShapeError>([&] { conv2d(x, w, Conv2dOptions().dilation(huge)); }),
                        "conv2d: window values must be at most 2147483647, got kernel 1x1, stride 1x1, dilation "
                        "4611686018427387904x4611686018427387904");
  GRAFT_EXPECT_CONTAINS(error_text<ShapeError>([&] { conv2d(x, w, Conv2dOptions().padding(huge, 0)); }),
                        "padding 4611686018427387904/4611686018427387904 x 0/0 and 1 groups for input [1, 1, 5, 5]");
  GRAFT_EXPECT_CONTAINS(
      error_text<ShapeError>([&] { conv2d(x, w, Conv2dOptions().stride(huge).padding(Padding::kSame)); }),
      "help: these count pixels and channels");
  GRAFT_EXPECT_CONTAINS(
      error_text<ShapeError>(
          [&] { conv2d_grad_input(zeros({1, 1, 3, 3}), w, {1, 1, 5, 5}, Conv2dOptions().stride(huge)); }),
      "conv2d_grad_input: window values must be at most 2147483647");
  GRAFT_EXPECT_CONTAINS(error_text<ShapeError>([&] { max_pool2d(x, Pool2dOptions(huge)); }),
                        "max_pool2d: window values must be at most 2147483647, got kernel 4611686018427387904x"
                        "4611686018427387904");
  GRAFT_EXPECT_CONTAINS(error_text<ShapeError>([&] { avg_pool2d(x, Pool2dOptions(2).stride(huge, 1)); }),
                        "avg_pool2d: window values must be at most 2147483647");
  // An empty input may have any extent; its padding still may not overflow.
  Tensor empty_wide = zeros({0, 1, std::numeric_limits<int64_t>::max(), 1});
  GRAFT_EXPECT_CONTAINS(error_text<ShapeError>([&] { conv2d(empty_wide, w, Conv2dOptions().padding(1)); }),
                        "is larger than int64 can count");
  GRAFT_EXPECT_CONTAINS(
      error_text<ShapeError>([&] { conv2d(x, zeros({0, 1, int64_t{1} << 40, 3}), Conv2dOptions().dilation(3)); }),
      "conv2d: a kernel of 1099511627776 taps on axis 2 is larger than the 2147483647 a window may span");
}

TEST(Pool2dTest, BadShapesAndWindowsAreShapeErrors) {
  GRAFT_EXPECT_CONTAINS(error_text<ShapeError>([] { max_pool2d(zeros({4, 4}), Pool2dOptions(2)); }),
                        "max_pool2d: expected an input [N, C, H, W], got [4, 4]");
  GRAFT_EXPECT_CONTAINS(error_text<ShapeError>([] { avg_pool2d(zeros({1, 1, 4, 4}), Pool2dOptions(2).padding(2)); }),
                        "avg_pool2d: a 2x2 window needs padding smaller than itself, got 2 and 2 on axis 2");
  GRAFT_EXPECT_CONTAINS(error_text<ShapeError>([] { avg_pool2d(zeros({1, 1, 1, 4}), Pool2dOptions(2)); }),
                        "avg_pool2d: the input [1, 1, 1, 4] is 1 wide on axis 2 with padding, smaller than the "
                        "2-wide pooling window");
  GRAFT_EXPECT_CONTAINS(
      error_text<ShapeError>([] { max_pool2d_grad(zeros({1, 1, 4, 4}), zeros({1, 1, 3, 3}), Pool2dOptions(2)); }),
      "max_pool2d_grad: grad_y has shape [1, 1, 3, 3] but an input [1, 1, 4, 4] gives outputs of shape [1, 1, 2, 2]");
}

}  // namespace
}  // namespace graft
