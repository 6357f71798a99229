// Convolution and pooling inside graft::function: the forward pass and its
// gradients (conv2d's and the pools' gradient ops) are captured and replay
// with the eager results.
#include <string>

#include <gtest/gtest.h>

#include "graft/autodiff/tape.h"
#include "graft/ops/internal/conv.h"
#include "graft/ops/ops.h"
#include "graft/tensor/random.h"
#include "graft/trace/function.h"

namespace graft {
namespace {

Tensor normal(const Shape& shape, uint64_t seed) {
  Tensor t = Tensor::empty(shape);
  fill_normal(t.data<float>(), t.numel(), seed, 0.0, 1.0);
  return t;
}

// A small CNN's loss and its gradients with respect to the input and both kernels.
std::vector<Tensor> cnn_gradients(const Tensor& x, const Tensor& w1, const Tensor& w2) {
  GradientTape tape;
  tape.watch(x);
  tape.watch(w1);
  tape.watch(w2);
  Tensor h = relu(conv2d(x, w1, Conv2dOptions().padding(Padding::kSame)));
  h = max_pool2d(h, Pool2dOptions(2));
  h = relu(conv2d(h, w2, Conv2dOptions().stride(2).padding(1)));
  h = avg_pool2d(h, Pool2dOptions(2).stride(1));
  Tensor loss = sum(square(flatten(h))) + sum(global_avg_pool2d(h));
  std::vector<std::optional<Tensor>> g = tape.gradient(loss, {x, w1, w2});
  return {loss, *g[0], *g[1], *g[2]};
}

TEST(ConvFunctionTest, ACompiledStepReplaysConvolutionsAndPoolsWithTheEagerGradients) {
  Tensor w1 = normal({4, 2, 3, 3}, 1) * 0.3, w2 = normal({6, 4, 3, 3}, 2) * 0.3;
  auto step = function([&](const Tensor& x) { return cnn_gradients(x, w1, w2); });
  for (uint64_t seed : {3, 4, 5}) {
    Tensor x = normal({3, 2, 12, 12}, seed);
    std::vector<Tensor> eager = cnn_gradients(x, w1, w2);
    std::vector<Tensor> compiled = step(x);
    ASSERT_EQ(compiled.size(), eager.size());
    for (size_t i = 0; i < eager.size(); ++i) {
      ASSERT_EQ(compiled[i].shape(), eager[i].shape());
      std::vector<float> a = compiled[i].to_vector<float>(), b = eager[i].to_vector<float>();
      for (size_t j = 0; j < a.size(); ++j) ASSERT_NEAR(a[j], b[j], 1e-4 * (1 + std::abs(b[j]))) << i << " " << j;
    }
  }
  EXPECT_EQ(step.captures(), 1);
  // The printed graph shows each op's window.
  const std::string text = step.graph_text();
  EXPECT_NE(text.find(") stride=2x2 pad_begin=1x1 pad_end=1x1 : float32[3, 6, 3, 3]"), std::string::npos) << text;
  EXPECT_NE(text.find("max_pool2d_grad("), std::string::npos) << text;
  EXPECT_NE(text.find(") kernel=2x2 stride=2x2 : float32[3, 4, 6, 6]"), std::string::npos) << text;
}

// A compiled step runs conv2d's two backward passes back to back, as the
// eager VJP does, and shares oneDNN's reorder of grad_y between them the
// same way: every replay must read the kept copy and give the eager values
// bit for bit (a reorder is an exact copy).
TEST(ConvFunctionTest, ACompiledBackwardReordersGradYOnceForBothPasses) {
  if (!GRAFT_HAS_DNNL) GTEST_SKIP() << "this build has no oneDNN (GRAFT_WITH_DNNL=OFF)";
  Tensor w = normal({64, 32, 3, 3}, 6) * 0.05, b = normal({64}, 7);
  auto grads = [&](const Tensor& x) {
    GradientTape tape;
    tape.watch(x);
    tape.watch(w);
    tape.watch(b);
    Tensor y = conv2d(x, w, b, Conv2dOptions().padding(Padding::kSame));
    std::vector<std::optional<Tensor>> g = tape.gradient(sum(square(y)), {x, w, b});
    return std::vector<Tensor>{*g[0], *g[1], *g[2]};
  };
  auto step = function(grads);
  for (uint64_t seed : {8, 9}) {
    Tensor x = normal({4, 32, 14, 14}, seed);
    std::vector<Tensor> eager = grads(x);
    const int64_t before = ops::internal::dnnl_shared_reorders();
    std::vector<Tensor> compiled = step(x);
    EXPECT_GT(ops::internal::dnnl_shared_reorders(), before) << "the replay reordered grad_y twice";
    ASSERT_EQ(compiled.size(), eager.size());
    for (size_t i = 0; i < eager.size(); ++i) EXPECT_EQ(compiled[i].to_vector<float>(), eager[i].to_vector<float>()) << i;
  }
  EXPECT_EQ(step.captures(), 1);
}

}  // namespace
}  // namespace graft
