// Growth edits on convolutional blocks: widen (duplicate, zero_fanout)
// carrying batch norm and the next layer's inputs through Flatten, deepen
// after a conv block, prune by outgoing-weight norm; exact in evaluation
// mode, optimizer slots following.
#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "graft/autodiff/tape.h"
#include "graft/edit/edit.h"
#include "graft/edit/internal/transaction.h"
#include "graft/nn/batch_norm.h"
#include "graft/nn/conv.h"
#include "graft/nn/layers.h"
#include "graft/ops/ops.h"
#include "graft/optim/adam.h"
#include "graft/trace/function.h"
#include "tests/testing.h"

namespace graft::edit {
namespace {

// conv(4) bn relu pool conv(6) bn relu flatten linear(5) on [8, 2, 8, 8].
struct Cnn {
  nn::Sequential model{"cnn"};
  optim::Adam adam{optim::AdamOptions(0.01)};
  Tensor x = random_normal({8, 2, 8, 8}, 1);
  Tensor y = random_normal({8, 5}, 2);

  Cnn() {
    model.set_seed(3);
    model.add(nn::Conv2d(nn::Conv2dOptions(4, 3).padding(1)));
    model.add(nn::BatchNorm());
    model.add(nn::ReLU());
    model.add(nn::MaxPool2d(Pool2dOptions(2)));
    model.add(nn::Conv2d(nn::Conv2dOptions(6, 3).padding(1).bias(false)));
    model.add(nn::BatchNorm());
    model.add(nn::ReLU());
    model.add(nn::Flatten());
    model.add(nn::Linear(nn::LinearOptions(5)));
    for (int i = 0; i < 4; ++i) step();  // running statistics and slots that are not trivial
  }
  // One Adam step on (in, target), eager or inside a compiled function.
  Tensor train_step(const Tensor& in, const Tensor& target) {
    GradientTape tape;
    Tensor loss = mse_loss(model(in), target);
    auto vars = model.trainable_variables();
    adam.apply_gradients(vars, tape.gradient(loss, vars));
    return loss;
  }
  double step() { return train_step(x, y).item<double>(); }
  Tensor eval_output() {
    model.eval();
    Tensor out = model(x);
    model.train();
    return out;
  }
  template <typename M>
  std::shared_ptr<M> at(size_t i) { return std::dynamic_pointer_cast<M>(model.at(i)); }
};

using internal::max_difference;

TEST(ConvEditTest, WidenByDuplicateCarriesBatchNormAndTheNextConvExactly) {
  Cnn net;
  Tensor before = net.eval_output();
  std::vector<float> mean = net.at<nn::BatchNorm>(1)->moving_mean().raw_value().to_vector<float>();
  EditReport r = widen(net.model, 0, 7, EditOptions().probe(net.x).optimizer(&net.adam).seed(5));
  EXPECT_TRUE(r.verified);
  EXPECT_LE(r.max_difference, 1e-5);
  EXPECT_LE(max_difference(before, net.eval_output()), 1e-5);
  EXPECT_EQ(r.description, "widen of 'cnn/layer_0' to 7 channels");
  EXPECT_EQ(net.at<nn::Conv2d>(0)->kernel().shape(), (Shape{7, 2, 3, 3}));
  EXPECT_EQ(net.at<nn::Conv2d>(0)->kernel().path(), "cnn/layer_0/kernel");
  EXPECT_EQ(net.at<nn::BatchNorm>(1)->moving_variance().shape(), (Shape{7}));
  EXPECT_EQ(net.at<nn::Conv2d>(4)->kernel().shape(), (Shape{6, 7, 3, 3}));
  EXPECT_EQ(net.at<nn::Conv2d>(4)->in_channels(), 7);
  // The old channels keep their running statistics; copies take their source's.
  std::vector<float> new_mean = net.at<nn::BatchNorm>(1)->moving_mean().raw_value().to_vector<float>();
  for (int c = 0; c < 4; ++c) EXPECT_EQ(new_mean[c], mean[c]);
  for (int c = 4; c < 7; ++c) EXPECT_NE(std::find(mean.begin(), mean.end(), new_mean[c]), mean.end());
  // Slots follow: Adam's m of the conv kernel is [7, 2, 3, 3], of the next kernel [6, 7, 3, 3].
  EXPECT_EQ(net.adam.slots_of(net.at<nn::Conv2d>(0)->kernel())[0].shape(), (Shape{7, 2, 3, 3}));
  EXPECT_EQ(net.adam.slots_of(net.at<nn::Conv2d>(4)->kernel())[1].shape(), (Shape{6, 7, 3, 3}));
  EXPECT_EQ(net.adam.slots_of(net.at<nn::BatchNorm>(1)->gamma())[0].shape(), (Shape{7}));
  double loss = net.step();
  for (int i = 0; i < 10; ++i) loss = net.step();
  EXPECT_TRUE(std::isfinite(loss));
}

TEST(ConvEditTest, WidenThroughFlattenSpreadsEachChannelOverItsPixels) {
  Cnn net;
  Tensor before = net.eval_output();
  std::vector<float> k_old = net.at<nn::Linear>(8)->kernel().raw_value().to_vector<float>();  // [6*4*4, 5]
  EditReport r = widen(net.model, 4, 9, EditOptions().probe(net.x).optimizer(&net.adam).seed(1).init(UnitInit::kZeroFanout));
  EXPECT_LE(r.max_difference, 1e-5);
  EXPECT_LE(max_difference(before, net.eval_output()), 1e-5);
  EXPECT_EQ(r.description, "widen of 'cnn/layer_4' to 9 channels (zero_fanout)");
  auto linear = net.at<nn::Linear>(8);
  EXPECT_EQ(linear->kernel().shape(), (Shape{9 * 16, 5}));
  std::vector<float> k = linear->kernel().raw_value().to_vector<float>();
  // Old channels' 16 rows each are carried; new channels' rows are zero.
  for (size_t i = 0; i < k_old.size(); ++i) EXPECT_EQ(k[i], k_old[i]);
  for (size_t i = k_old.size(); i < k.size(); ++i) EXPECT_EQ(k[i], 0.0f);
  // New channels' incoming weights are random, not copies; their batch norm is the identity.
  std::vector<float> w = net.at<nn::Conv2d>(4)->kernel().raw_value().to_vector<float>();
  const size_t per = 4 * 3 * 3;
  for (size_t c = 6; c < 9; ++c) {
    double norm = 0;
    for (size_t i = 0; i < per; ++i) norm += w[c * per + i] * w[c * per + i];
    EXPECT_GT(norm, 0.0);
  }
  auto bn = net.at<nn::BatchNorm>(5);
  EXPECT_EQ(bn->moving_variance().raw_value().to_vector<float>()[8], 1.0f);
  EXPECT_EQ(bn->gamma().raw_value().to_vector<float>()[7], 1.0f);
  // Fresh units' slots start at zero.
  std::vector<float> v = net.adam.slots_of(linear->kernel())[1].raw_value().to_vector<float>();
  for (size_t i = k_old.size(); i < v.size(); ++i) EXPECT_EQ(v[i], 0.0f);
  EXPECT_TRUE(std::isfinite(net.step()));
}

TEST(ConvEditTest, ZeroFanoutWidensALinearExactlyWithoutCopies) {
  nn::Sequential model("mlp");
  model.add(nn::Linear(nn::LinearOptions(4).activation(nn::Activation::kRelu)));
  model.add(nn::Linear(nn::LinearOptions(3)));
  Tensor x = random_normal({5, 6}, 7);
  Tensor before = model(x);
  EditReport r = widen(model, 0, 6, EditOptions().probe(x).seed(2).init(UnitInit::kZeroFanout));
  EXPECT_EQ(r.max_difference, 0.0);
  auto l1 = std::dynamic_pointer_cast<nn::Linear>(model.at(0));
  auto l2 = std::dynamic_pointer_cast<nn::Linear>(model.at(1));
  std::vector<float> k1 = l1->kernel().raw_value().to_vector<float>(), k2 = l2->kernel().raw_value().to_vector<float>();
  for (int i = 0; i < 6; ++i) EXPECT_NE(k1[i * 6 + 4], k1[i * 6 + 5]);  // no symmetric copies
  for (int i = 4 * 3; i < 6 * 3; ++i) EXPECT_EQ(k2[i], 0.0f);
  EXPECT_EQ(max_difference(before, model(x)), 0.0);
}

TEST(ConvEditTest, DeepenAfterAConvBlockIsExactInEvalMode) {
  Cnn net;
  auto step = function([&](const Tensor& x, const Tensor& y) { return net.train_step(x, y); });
  step(net.x, net.y);
  Tensor before = net.eval_output();
  EditReport r = deepen(net.model, 0, EditOptions().probe(net.x).optimizer(&net.adam));
  EXPECT_TRUE(r.verified);
  EXPECT_LE(r.max_difference, 1e-5);
  EXPECT_EQ(r.description, "deepen after 'cnn/layer_0' (identity Conv2d(4, 3x3) + BatchNorm + ReLU)");
  ASSERT_EQ(net.model.size(), 12u);
  auto conv = net.at<nn::Conv2d>(3);
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->kernel().path(), "cnn/layer_9/kernel");
  EXPECT_FALSE(conv->bias().defined());
  EXPECT_NE(net.at<nn::BatchNorm>(4), nullptr);
  EXPECT_NE(net.at<nn::ReLU>(5), nullptr);
  EXPECT_LE(max_difference(before, net.eval_output()), 1e-5);
  EXPECT_TRUE(std::isfinite(step(net.x, net.y).item<double>()));
  EXPECT_EQ(step.captures(), 2);
  EXPECT_EQ(net.adam.slots_of(conv->kernel()).size(), 3u);  // the new block trains
}

TEST(ConvEditTest, PruneKeepsTheChannelsWithTheStrongestOutgoingWeights) {
  Cnn net;
  std::vector<float> next = net.at<nn::Conv2d>(4)->kernel().raw_value().to_vector<float>();  // [6, 4, 3, 3]
  std::vector<double> norms(4, 0.0);
  for (int o = 0; o < 6; ++o)
    for (int c = 0; c < 4; ++c)
      for (int k = 0; k < 9; ++k) norms[c] += std::pow(next[(o * 4 + c) * 9 + k], 2);
  const int weakest = static_cast<int>(std::min_element(norms.begin(), norms.end()) - norms.begin());
  std::vector<float> mean = net.at<nn::BatchNorm>(1)->moving_mean().raw_value().to_vector<float>();
  EditReport r = prune(net.model, 0, 3, EditOptions().optimizer(&net.adam));
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(net.at<nn::Conv2d>(0)->kernel().shape(), (Shape{3, 2, 3, 3}));
  EXPECT_EQ(net.at<nn::Conv2d>(4)->kernel().shape(), (Shape{6, 3, 3, 3}));
  std::vector<float> kept;
  for (int c = 0; c < 4; ++c) {
    if (c != weakest) kept.push_back(mean[c]);
  }
  EXPECT_EQ(net.at<nn::BatchNorm>(1)->moving_mean().raw_value().to_vector<float>(), kept);
  EXPECT_EQ(net.adam.slots_of(net.at<nn::Conv2d>(4)->kernel())[0].shape(), (Shape{6, 3, 3, 3}));
  EXPECT_TRUE(std::isfinite(net.step()));
}

TEST(ConvEditTest, ImpossibleConvEditsAreClearErrors) {
  Cnn net;
  GRAFT_EXPECT_CONTAINS(test_util::error_text<ValueError>([&] { widen(net.model, 0, 3); }),
                        "has 4 channels; widening needs more, got 3");
  EditOptions noisy;
  noisy.noise(0.1);
  GRAFT_EXPECT_CONTAINS(test_util::error_text<ValueError>([&] { widen(net.model, 0, 6, noisy); }),
                        "noise applies to a Linear widened by duplicate");
  GRAFT_EXPECT_CONTAINS(test_util::error_text<ValueError>([&] { prune(net.model, 4, 6); }),
                        "pruning keeps between 1 and 5, got 6");
  GRAFT_EXPECT_CONTAINS(test_util::error_text<ValueError>([&] { widen(net.model, 1, 6); }),
                        "is BatchNorm2d(4), expected a Conv2d or a Linear");
}

}  // namespace
}  // namespace graft::edit
