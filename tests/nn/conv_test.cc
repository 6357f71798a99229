// Conv2d, MaxPool2d, AvgPool2d and GlobalAvgPool as layers: lazy building,
// values against plain loops, bias optional, bad shapes naming the layer.
#include "graft/nn/conv.h"

#include <cmath>

#include <gtest/gtest.h>

#include "graft/autodiff/tape.h"
#include "graft/nn/sequential.h"
#include "graft/ops/ops.h"
#include "tests/testing.h"

namespace graft {
namespace {

using test_util::error_text;

// y[n, o, i, j] = b[o] + sum over c, a, d of w[o, c, a, d] * x[n, c, i + a - pad, j + d - pad] (stride 1).
std::vector<double> reference_conv(const Tensor& x, const Tensor& w, const std::vector<double>& b, int64_t pad) {
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3), o = w.dim(0), k = w.dim(2);
  const int64_t oh = h + 2 * pad - k + 1, ow = wd + 2 * pad - k + 1;
  std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>(), y;
  for (int64_t in = 0; in < n; ++in)
    for (int64_t io = 0; io < o; ++io)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double s = b.empty() ? 0.0 : b[io];
          for (int64_t ic = 0; ic < c; ++ic)
            for (int64_t a = 0; a < k; ++a)
              for (int64_t d = 0; d < k; ++d) {
                const int64_t r = i + a - pad, q = j + d - pad;
                if (r < 0 || r >= h || q < 0 || q >= wd) continue;
                s += wv[((io * c + ic) * k + a) * k + d] * xv[((in * c + ic) * h + r) * wd + q];
              }
          y.push_back(s);
        }
  return y;
}

void expect_near_all(const std::vector<double>& a, const std::vector<double>& b, double tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tol) << "at " << i;
}

TEST(Conv2dTest, BuildsLazilyFromTheInputsChannelsAndMatchesPlainLoops) {
  nn::Sequential model("cnn");
  auto conv = model.add(nn::Conv2d(nn::Conv2dOptions(4, 3).padding(1)));
  Tensor x = random_normal({2, 3, 5, 6}, 1, 0.0, 1.0, DType::kFloat64);
  EXPECT_EQ(conv->in_channels(), 0);
  Tensor y0 = model(x);
  EXPECT_EQ(conv->in_channels(), 3);
  EXPECT_EQ(conv->kernel().path(), "cnn/layer_0/kernel");
  EXPECT_EQ(conv->kernel().shape(), (Shape{4, 3, 3, 3}));
  EXPECT_EQ(conv->bias().shape(), (Shape{4}));
  EXPECT_EQ(conv->describe(), "Conv2d(3 -> 4, 3x3)");
  conv->bias().assign(Tensor::from_vector<double>({0.5, -1.0, 0.25, 2.0}, {4}));
  Tensor y = model(x);
  EXPECT_EQ(y.shape(), (Shape{2, 4, 5, 6}));
  expect_near_all(y.to_vector<double>(), reference_conv(x, conv->kernel(), {0.5, -1.0, 0.25, 2.0}, 1), 1e-10);
  // He uniform over the fan in 3 * 3 * 3.
  for (double v : conv->kernel().raw_value().to_vector<double>()) EXPECT_LE(std::abs(v), std::sqrt(6.0 / 27.0));
}

TEST(Conv2dTest, BiasIsOptionalAndGradientsReachTheKernel) {
  nn::Conv2d conv(nn::Conv2dOptions(2, 1).bias(false));
  Tensor x = random_normal({3, 4, 2, 2}, 2);
  GradientTape tape;
  Tensor loss = sum(square(conv(x)));
  EXPECT_FALSE(conv.bias().defined());
  EXPECT_EQ(conv.variables().size(), 1u);
  auto grads = tape.gradient(loss, conv.trainable_variables());
  ASSERT_TRUE(grads[0].has_value());
  EXPECT_EQ(grads[0]->shape(), (Shape{2, 4, 1, 1}));
  expect_near_all(conv(x).to_vector<double>(), reference_conv(x, conv.kernel(), {}, 0), 1e-5);
}

TEST(Conv2dTest, BadShapesNameTheLayerAndBothShapes) {
  nn::Sequential model("cnn");
  model.add(nn::Conv2d(nn::Conv2dOptions(4, 3)));
  std::string what = error_text<ShapeError>([&] { model(zeros({2, 28, 28})); });
  GRAFT_EXPECT_CONTAINS(what, "Conv2d 'cnn/layer_0' expected an input of shape [N, C, H, W], received shape [2, 28, 28]");
  model(zeros({2, 1, 8, 8}));
  what = error_text<ShapeError>([&] { model(zeros({2, 3, 8, 8})); });
  GRAFT_EXPECT_CONTAINS(what, "Conv2d 'cnn/layer_0' expected an input of shape [N, 1, H, W]");
  GRAFT_EXPECT_CONTAINS(what, "kernel [4, 1, 3, 3]), received shape [2, 3, 8, 8]");
  // A window that does not fit: the op's message, with the layer as context.
  what = error_text<ShapeError>([&] { model(zeros({2, 1, 2, 2})); });
  GRAFT_EXPECT_CONTAINS(what, "conv2d");
  GRAFT_EXPECT_CONTAINS(what, "in Conv2d 'cnn/layer_0'");
  EXPECT_THROW(nn::Conv2d(nn::Conv2dOptions(0, 3)), ValueError);
}

TEST(PoolTest, MaxAvgAndGlobalPoolingMatchPlainLoops) {
  Tensor x = random_normal({2, 3, 4, 4}, 4, 0.0, 1.0, DType::kFloat64);
  std::vector<double> xv = x.to_vector<double>();
  nn::MaxPool2d max_pool(Pool2dOptions(2));
  nn::AvgPool2d avg_pool(Pool2dOptions(2));
  nn::GlobalAvgPool global;
  std::vector<double> mx, av, gl;
  for (int64_t nc = 0; nc < 6; ++nc) {
    double total = 0;
    for (int64_t i = 0; i < 16; ++i) total += xv[nc * 16 + i];
    gl.push_back(total / 16);
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        double m = -INFINITY, s = 0;
        for (int64_t a = 0; a < 2; ++a)
          for (int64_t d = 0; d < 2; ++d) {
            const double v = xv[nc * 16 + (2 * i + a) * 4 + 2 * j + d];
            m = std::max(m, v);
            s += v;
          }
        mx.push_back(m);
        av.push_back(s / 4);
      }
  }
  expect_near_all(max_pool(x).to_vector<double>(), mx, 1e-12);
  expect_near_all(avg_pool(x).to_vector<double>(), av, 1e-12);
  expect_near_all(global(x).to_vector<double>(), gl, 1e-12);
  EXPECT_EQ(global(x).shape(), (Shape{2, 3}));
  EXPECT_EQ(max_pool.describe(), "MaxPool2d(2x2, stride 2)");
}

TEST(PoolTest, BadShapesNameTheLayer) {
  nn::Sequential model("cnn");
  model.add(nn::MaxPool2d(Pool2dOptions(3)));
  model.add(nn::GlobalAvgPool());
  GRAFT_EXPECT_CONTAINS(error_text<ShapeError>([&] { model(zeros({2, 9})); }),
                        "MaxPool2d 'cnn/layer_0' expected an input of shape [N, C, H, W], received shape [2, 9]");
  GRAFT_EXPECT_CONTAINS(error_text<ShapeError>([&] { model(zeros({1, 1, 2, 2})); }), "in MaxPool2d 'cnn/layer_0'");
  nn::GlobalAvgPool g;
  GRAFT_EXPECT_CONTAINS(error_text<ShapeError>([&] { g(zeros({4, 4})); }), "received shape [4, 4]");
}

}  // namespace
}  // namespace graft
