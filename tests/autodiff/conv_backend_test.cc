// Float32 convolutions on oneDNN against im2col onto OpenBLAS
// (graft/ops/internal/conv.h): values and both gradients on the same inputs,
// over strides, padding ("same" included), dilation, groups, odd sizes,
// batch 1 and 1x1 convolutions; full-Jacobian checks of the three conv ops in
// float32 on each backend; and the fallback for what oneDNN does not run. In
// a build without oneDNN the comparisons are skipped (both paths are im2col).
#include <dlfcn.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graft/autodiff/gradcheck.h"
#include "graft/autodiff/tape.h"
#include "graft/ops/internal/conv.h"
#include "graft/ops/ops.h"
#include "graft/tensor/parallel.h"

namespace graft {
namespace {

using ops::internal::ConvBackend;
using ops::internal::dnnl_conv_runs;
using ops::internal::ScopedConvBackend;

struct Case {
  Shape x, w;
  Conv2dOptions options;
};

std::vector<Case> cases() {
  return {
      {{4, 32, 14, 14}, {64, 32, 3, 3}, Conv2dOptions().padding(Padding::kSame)},  // conv_b64's layer
      {{2, 16, 9, 9}, {32, 16, 3, 3}, Conv2dOptions().padding(1)},
      {{2, 3, 7, 5}, {20, 3, 3, 3}, Conv2dOptions()},                           // odd sizes, no padding
      {{1, 5, 8, 6}, {7, 5, 3, 2}, Conv2dOptions().stride(2, 1).padding(1, 2)},  // batch 1, strides, rect kernel
      {{1, 32, 16, 16}, {32, 32, 3, 3}, Conv2dOptions().padding(1)},  // one image, large: oneDNN's own threads
      {{2, 4, 9, 9}, {6, 4, 3, 3}, Conv2dOptions().dilation(2).padding(Padding::kSame)},
      {{2, 3, 8, 7}, {5, 3, 4, 4}, Conv2dOptions().stride(3).padding(Padding::kSame)},  // uneven "same" pads
      {{2, 8, 6, 6}, {12, 4, 3, 3}, Conv2dOptions().groups(2).padding(1)},
      {{3, 16, 5, 5}, {16, 1, 3, 3}, Conv2dOptions().groups(16).padding(Padding::kSame)},  // depthwise
      {{3, 24, 4, 5}, {40, 24, 1, 1}, Conv2dOptions()},                                   // 1x1
      {{2, 6, 6, 6}, {4, 6, 1, 1}, Conv2dOptions().stride(2)},                            // 1x1 strided
      {{1, 2, 5, 5}, {3, 2, 3, 3}, Conv2dOptions().padding(Padding::kValid)},
      {{2, 3, 5, 6}, {4, 3, 5, 6}, Conv2dOptions()},  // kernel as large as the image
  };
}

Shape output_shape(const Case& c) {
  return conv2d(zeros(c.x), zeros(c.w), c.options).shape();
}

Tensor uniform32(const Shape& shape, uint64_t seed) { return random_uniform(shape, seed, -1.0, 1.0, DType::kFloat32); }

// |a - b| <= tol * (1 + |b|) elementwise: float32 sums of the same products
// in another order.
void expect_close(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  std::vector<float> av = a.to_vector<float>(), bv = b.to_vector<float>();
  for (size_t i = 0; i < av.size(); ++i) {
    ASSERT_NEAR(av[i], bv[i], 2e-5 * (1.0 + std::fabs(bv[i]))) << what << ", element " << i;
  }
}

struct Results {
  Tensor y, dx, dw;
};

Results run_all(const Case& c, const Tensor& x, const Tensor& w, const Tensor& dy) {
  return {conv2d(x, w, c.options), conv2d_grad_input(dy, w, c.x, c.options), conv2d_grad_weight(x, dy, c.w, c.options)};
}

TEST(ConvBackendTest, OneDnnMatchesIm2colOnValuesAndBothGradients) {
  if (!GRAFT_HAS_DNNL) GTEST_SKIP() << "this build has no oneDNN (GRAFT_WITH_DNNL=OFF): every path is im2col";
  uint64_t seed = 1;
  for (const Case& c : cases()) {
    const std::string what = "x " + c.x.to_string() + " w " + c.w.to_string();
    Tensor x = uniform32(c.x, seed++), w = uniform32(c.w, seed++), dy = uniform32(output_shape(c), seed++);
    const int64_t before = dnnl_conv_runs();
    Results dnnl = run_all(c, x, w, dy);
    EXPECT_EQ(dnnl_conv_runs() - before, 3) << what << ": oneDNN did not run all three passes";
    Results im2col;
    {
      ScopedConvBackend backend(ConvBackend::kIm2col);
      im2col = run_all(c, x, w, dy);
    }
    EXPECT_EQ(dnnl_conv_runs() - before, 3) << what << ": kIm2col still ran oneDNN";
    expect_close(dnnl.y, im2col.y, what + ", conv2d");
    expect_close(dnnl.dx, im2col.dx, what + ", conv2d_grad_input");
    expect_close(dnnl.dw, im2col.dw, what + ", conv2d_grad_weight");
  }
}

// The three ops are bilinear, so float32 central differences are exact up
// to rounding: a step of 0.05 keeps that rounding near 1e-5.
void expect_float32_gradients(const Case& c, ConvBackend backend) {
  ScopedConvBackend scoped(backend);
  const GradcheckOptions options = GradcheckOptions().eps(0.05).atol(2e-3).rtol(2e-3);
  const Shape y = output_shape(c);
  auto check = [&](const GradcheckFn& f, const std::vector<Tensor>& in, const char* op) {
    GradcheckResult r = check_gradients(f, in, options);
    EXPECT_TRUE(r.ok) << op << " on x " << c.x.to_string() << " w " << c.w.to_string() << ": " << r.report;
  };
  // sqrt(sum(y * y)): an asymmetric scalar, so a transposed gradient shows.
  auto norm = [](const Tensor& t) { return sqrt(sum(t * t)); };
  check([&](const std::vector<Tensor>& in) { return norm(conv2d(in[0], in[1], c.options)); },
        {uniform32(c.x, 41), uniform32(c.w, 42)}, "conv2d");
  check([&](const std::vector<Tensor>& in) { return norm(conv2d_grad_input(in[0], in[1], c.x, c.options)); },
        {uniform32(y, 43), uniform32(c.w, 44)}, "conv2d_grad_input");
  check([&](const std::vector<Tensor>& in) { return norm(conv2d_grad_weight(in[0], in[1], c.w, c.options)); },
        {uniform32(c.x, 45), uniform32(y, 46)}, "conv2d_grad_weight");
}

// Small geometries (a full Jacobian costs two calls per input element).
std::vector<Case> jacobian_cases() {
  return {
      {{1, 3, 6, 5}, {4, 3, 3, 3}, Conv2dOptions().stride(2).padding(Padding::kSame)},
      {{2, 2, 5, 5}, {3, 2, 3, 2}, Conv2dOptions().dilation(1, 2).padding(1)},
      {{2, 4, 4, 4}, {4, 1, 3, 3}, Conv2dOptions().groups(4).padding(Padding::kSame)},  // depthwise
      {{2, 5, 3, 3}, {3, 5, 1, 1}, Conv2dOptions()},                                      // 1x1
  };
}

TEST(ConvBackendTest, Float32JacobiansHoldOnOneDnn) {
  if (!GRAFT_HAS_DNNL) GTEST_SKIP() << "this build has no oneDNN (GRAFT_WITH_DNNL=OFF)";
  const int64_t before = dnnl_conv_runs();
  for (const Case& c : jacobian_cases()) expect_float32_gradients(c, ConvBackend::kAuto);
  EXPECT_GT(dnnl_conv_runs(), before);
}

TEST(ConvBackendTest, Float32JacobiansHoldOnIm2col) {
  const int64_t before = dnnl_conv_runs();
  for (const Case& c : jacobian_cases()) expect_float32_gradients(c, ConvBackend::kIm2col);
  EXPECT_EQ(dnnl_conv_runs(), before);
}

// conv2d(x, w, b) against conv2d(x, w) + b broadcast: values and the three
// gradients under a tape, float32 on both backends and float64, on odd
// sizes, a batch split across threads and one image.
TEST(ConvBackendTest, FoldedBiasMatchesAnAddedBiasWithGradients) {
  const std::vector<Case> bias_cases = {
      {{4, 32, 14, 14}, {64, 32, 3, 3}, Conv2dOptions().padding(Padding::kSame)},  // conv_b64's layer
      {{3, 5, 7, 6}, {7, 5, 3, 2}, Conv2dOptions().stride(2, 1).padding(1, 2)},
      {{1, 4, 9, 9}, {6, 2, 3, 3}, Conv2dOptions().groups(2).dilation(2)},
      {{2, 3, 5, 4}, {5, 3, 1, 1}, Conv2dOptions()},
  };
  struct Mode {
    DType dtype;
    ConvBackend backend;
  };
  for (const Mode mode : {Mode{DType::kFloat32, ConvBackend::kAuto}, Mode{DType::kFloat32, ConvBackend::kIm2col},
                          Mode{DType::kFloat64, ConvBackend::kAuto}}) {
    ScopedConvBackend scoped(mode.backend);
    uint64_t seed = 70;
    for (const Case& c : bias_cases) {
      const std::string what = std::string(dtype_name(mode.dtype)) +
                               (mode.backend == ConvBackend::kAuto ? " auto" : " im2col") + ", x " +
                               c.x.to_string() + " w " + c.w.to_string();
      Tensor x = cast(uniform32(c.x, seed++), mode.dtype), w = cast(uniform32(c.w, seed++), mode.dtype);
      Tensor b = cast(uniform32({c.w[0]}, seed++), mode.dtype);
      Tensor probe = cast(uniform32(output_shape(c), seed++), mode.dtype);
      auto grads = [&](bool folded) {
        GradientTape tape;
        for (const Tensor* t : {&x, &w, &b}) tape.watch(*t);
        Tensor y = folded ? conv2d(x, w, b, c.options) : conv2d(x, w, c.options) + reshape(b, {1, c.w[0], 1, 1});
        std::vector<std::optional<Tensor>> g = tape.gradient(sum(y * probe), {x, w, b});
        return std::vector<Tensor>{y, *g[0], *g[1], *g[2]};
      };
      const int64_t before = dnnl_conv_runs();
      std::vector<Tensor> folded = grads(true);
      const bool on_dnnl = GRAFT_HAS_DNNL && mode.dtype == DType::kFloat32 && mode.backend == ConvBackend::kAuto;
      EXPECT_EQ(dnnl_conv_runs() - before, on_dnnl ? 3 : 0) << what;
      std::vector<Tensor> added = grads(false);
      const char* names[] = {"y", "grad x", "grad w", "grad b"};
      for (size_t i = 0; i < folded.size(); ++i) {
        expect_close(cast(folded[i], DType::kFloat32), cast(added[i], DType::kFloat32), what + ", " + names[i]);
      }
    }
  }
}

// conv2d's VJP reorders grad_y once for both of its passes: the gradients
// under a tape must equal, bit for bit, the two passes run as separate ops
// (each reordering grad_y itself), with the batch split over the pool and on
// one thread. On conv_b64's layer both passes choose the same blocked layout,
// so the second must really have read the kept copy; on the small odd
// geometries they may not, and then each reorders its own.
TEST(ConvBackendTest, ABackwardPassSharingItsReorderedGradYMatchesSeparatePasses) {
  if (!GRAFT_HAS_DNNL) GTEST_SKIP() << "this build has no oneDNN (GRAFT_WITH_DNNL=OFF)";
  const int saved_threads = num_threads();
  for (int threads : {2, 1}) {
    set_num_threads(threads);
    uint64_t seed = 90;
    for (const Case& c : {cases()[0], cases()[3], cases()[7]}) {
      const bool same_layout = c.x == cases()[0].x;
      const std::string what = std::to_string(threads) + " threads, x " + c.x.to_string() + " w " + c.w.to_string();
      Tensor x = uniform32(c.x, seed++), w = uniform32(c.w, seed++), probe = uniform32(output_shape(c), seed++);
      const int64_t shared_before = ops::internal::dnnl_shared_reorders();
      GradientTape tape;
      tape.watch(x);
      tape.watch(w);
      std::vector<std::optional<Tensor>> g = tape.gradient(sum(conv2d(x, w, c.options) * probe), {x, w});
      if (same_layout) {
        EXPECT_GT(ops::internal::dnnl_shared_reorders(), shared_before) << what << ": grad_weight reordered grad_y again";
      }
      const int64_t shared_after = ops::internal::dnnl_shared_reorders();
      Tensor dx = conv2d_grad_input(probe, w, c.x, c.options);
      Tensor dw = conv2d_grad_weight(x, probe, c.w, c.options);
      EXPECT_EQ(ops::internal::dnnl_shared_reorders(), shared_after) << what << ": separate ops shared a reorder";
      EXPECT_EQ(g[0]->to_vector<float>(), dx.to_vector<float>()) << what;
      EXPECT_EQ(g[1]->to_vector<float>(), dw.to_vector<float>()) << what;
    }
  }
  set_num_threads(saved_threads);
}

TEST(ConvBackendTest, Float64AndEmptyBatchesRunIm2col) {
  const int64_t before = dnnl_conv_runs();
  Tensor y64 = conv2d(ones({1, 2, 4, 4}, DType::kFloat64), ones({3, 2, 3, 3}, DType::kFloat64));
  EXPECT_EQ(y64.to_vector<double>(), std::vector<double>(12, 18.0));  // 2 channels x 9 taps of 1 * 1
  Tensor empty = conv2d(zeros({0, 2, 4, 4}), zeros({3, 2, 3, 3}));
  EXPECT_EQ(empty.shape(), Shape({0, 3, 2, 2}));
  Tensor dw = conv2d_grad_weight(zeros({0, 2, 4, 4}), zeros({0, 3, 2, 2}), {3, 2, 3, 3});
  EXPECT_EQ(dw.to_vector<float>(), std::vector<float>(54, 0.0f));
  EXPECT_EQ(dnnl_conv_runs(), before);
}

TEST(ConvBackendTest, ScopedBackendRestoresTheSetting) {
  const ConvBackend outer = ops::internal::conv_backend();
  {
    ScopedConvBackend im2col(ConvBackend::kIm2col);
    EXPECT_EQ(ops::internal::conv_backend(), ConvBackend::kIm2col);
    {
      ScopedConvBackend automatic(ConvBackend::kAuto);
      EXPECT_EQ(ops::internal::conv_backend(), ConvBackend::kAuto);
    }
    EXPECT_EQ(ops::internal::conv_backend(), ConvBackend::kIm2col);
  }
  EXPECT_EQ(ops::internal::conv_backend(), outer);
}

// oneDNN runs on OpenMP; graft sets the calling thread's OpenMP thread count
// for its calls and must put the application's own back.
TEST(ConvBackendTest, AConvolutionLeavesTheCallersOpenMpThreadsAsTheyWere) {
  auto get = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
  auto set = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (get == nullptr || set == nullptr) GTEST_SKIP() << "no OpenMP runtime in this process (a build without oneDNN)";
  const int saved = get();
  set(3);
  for (int64_t batch : {4, 1}) {  // split over graft's pool, and one image on oneDNN's own threads
    Tensor x = uniform32({batch, 8, 9, 9}, 1), w = uniform32({16, 8, 3, 3}, 2);
    GradientTape tape;
    tape.watch(x);
    tape.watch(w);
    Tensor y = conv2d(x, w, Conv2dOptions().padding(1));
    (void)tape.gradient(sum(y), {x, w});
    EXPECT_EQ(get(), 3) << "batch " << batch;
  }
  set(saved);
}

}  // namespace
}  // namespace graft
