// BatchNorm and Flatten: values against plain-loop references, running
// statistics, checkpoints by name, compiled train/eval captures, bad shapes.
#include "graft/nn/batch_norm.h"

#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "graft/autodiff/gradcheck.h"
#include "graft/io/checkpoint.h"
#include "graft/nn/conv.h"
#include "graft/nn/layers.h"
#include "graft/nn/sequential.h"
#include "graft/ops/ops.h"
#include "graft/trace/function.h"
#include "tests/testing.h"

namespace graft {
namespace {

using test_util::error_text;

// Per-channel mean and biased variance of x [N, C, S] (S = H*W, 1 for 1-d).
struct Stats {
  std::vector<double> mean, var;
};
Stats reference_stats(const std::vector<double>& x, int64_t n, int64_t c, int64_t s) {
  Stats st{std::vector<double>(c, 0.0), std::vector<double>(c, 0.0)};
  for (int64_t ch = 0; ch < c; ++ch) {
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < s; ++k) sum += x[(i * c + ch) * s + k];
    st.mean[ch] = sum / static_cast<double>(n * s);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < s; ++k) sq += std::pow(x[(i * c + ch) * s + k] - st.mean[ch], 2);
    st.var[ch] = sq / static_cast<double>(n * s);
  }
  return st;
}

// y = (x - mean) / sqrt(var + eps) * gamma + beta, channel by channel.
std::vector<double> reference_normalize(const std::vector<double>& x, int64_t n, int64_t c, int64_t s,
                                        const std::vector<double>& mean, const std::vector<double>& var,
                                        const std::vector<double>& gamma, const std::vector<double>& beta) {
  std::vector<double> y(x.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < s; ++k) {
        const int64_t at = (i * c + ch) * s + k;
        y[at] = (x[at] - mean[ch]) / std::sqrt(var[ch] + 1e-5) * gamma[ch] + beta[ch];
      }
  return y;
}

void expect_near_all(const std::vector<double>& a, const std::vector<double>& b, double tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tol) << "at " << i;
}

// A two-block model whose batch norm sits at cnn/block_1/bn.
struct Blocks : nn::Module {
  Blocks() : Module("cnn") {
    auto block = register_module("block_1", std::make_shared<nn::Sequential>("block_1"));
    bn = std::make_shared<nn::BatchNorm>();
    block->register_module("bn", bn);
    inner = block;
  }
  Tensor forward(const Tensor& x) override {
    ensure_built(x);
    return (*inner)(x);
  }
  std::shared_ptr<nn::Sequential> inner;
  std::shared_ptr<nn::BatchNorm> bn;
};

TEST(BatchNormTest, TrainingModeNormalizesWithBatchStatistics2d) {
  const int64_t n = 3, c = 2, h = 2, w = 3;
  Tensor x = random_normal({n, c, h, w}, 5, 1.5, 2.0, DType::kFloat64);
  nn::BatchNorm bn;
  bn.build(x.shape(), DType::kFloat64);
  bn.gamma().assign(Tensor::from_vector<double>({0.5, -2.0}, {2}));
  bn.beta().assign(Tensor::from_vector<double>({1.0, 0.25}, {2}));
  Tensor y = bn(x);
  std::vector<double> xv = x.to_vector<double>();
  Stats st = reference_stats(xv, n, c, h * w);
  expect_near_all(y.to_vector<double>(), reference_normalize(xv, n, c, h * w, st.mean, st.var, {0.5, -2.0}, {1.0, 0.25}),
                  1e-10);
  EXPECT_EQ(y.shape(), x.shape());
}

TEST(BatchNormTest, TrainingModeUpdatesRunningStatisticsByMomentum) {
  const int64_t n = 4, c = 3;
  Tensor x = random_normal({n, c}, 11, -1.0, 3.0, DType::kFloat64);
  nn::BatchNorm bn(nn::BatchNormOptions().momentum(0.25));
  bn(x);  // builds (moving stats 0 and 1), then updates once
  Stats st = reference_stats(x.to_vector<double>(), n, c, 1);
  std::vector<double> mean = bn.moving_mean().raw_value().to_vector<double>();
  std::vector<double> var = bn.moving_variance().raw_value().to_vector<double>();
  for (int64_t ch = 0; ch < c; ++ch) {
    EXPECT_NEAR(mean[ch], 0.25 * st.mean[ch], 1e-12);
    // The unbiased variance feeds the running estimate.
    EXPECT_NEAR(var[ch], 0.75 * 1.0 + 0.25 * st.var[ch] * n / (n - 1), 1e-12);
  }
}

TEST(BatchNormTest, EvalModeUsesRunningStatisticsAndAssignsNothing) {
  const int64_t n = 2, c = 2, h = 3, w = 2;
  Tensor x = random_normal({n, c, h, w}, 3, 0.0, 1.0, DType::kFloat64);
  nn::BatchNorm bn;
  bn.build(x.shape(), DType::kFloat64);
  bn.moving_mean().assign(Tensor::from_vector<double>({0.3, -0.7}, {2}));
  bn.moving_variance().assign(Tensor::from_vector<double>({2.0, 0.5}, {2}));
  bn.gamma().assign(Tensor::from_vector<double>({1.5, 0.5}, {2}));
  bn.beta().assign(Tensor::from_vector<double>({-1.0, 2.0}, {2}));
  bn.eval();
  Tensor y = bn(x);
  expect_near_all(y.to_vector<double>(),
                  reference_normalize(x.to_vector<double>(), n, c, h * w, {0.3, -0.7}, {2.0, 0.5}, {1.5, 0.5}, {-1.0, 2.0}),
                  1e-12);
  EXPECT_EQ(bn.moving_mean().raw_value().to_vector<double>(), (std::vector<double>{0.3, -0.7}));
  EXPECT_EQ(bn.moving_variance().raw_value().to_vector<double>(), (std::vector<double>{2.0, 0.5}));
}

TEST(BatchNormTest, RunningStatisticsAreNonTrainableVariablesUnderTheLayerScope) {
  Blocks model;
  model(random_normal({4, 3, 2, 2}, 1));
  EXPECT_EQ(model.bn->moving_mean().path(), "cnn/block_1/bn/moving_mean");
  EXPECT_EQ(model.bn->moving_variance().path(), "cnn/block_1/bn/moving_variance");
  EXPECT_FALSE(model.bn->moving_mean().trainable());
  EXPECT_FALSE(model.bn->moving_variance().trainable());
  std::vector<std::string> trainable;
  for (const Variable& v : model.trainable_variables()) trainable.push_back(v.path());
  EXPECT_EQ(trainable, (std::vector<std::string>{"cnn/block_1/bn/gamma", "cnn/block_1/bn/beta"}));
  EXPECT_EQ(model.variables().size(), 4u);
  // Unfreezing does not make the statistics trainable.
  model.freeze();
  model.unfreeze();
  EXPECT_FALSE(model.bn->moving_mean().trainable());
}

TEST(BatchNormTest, GradientsMatchCentralDifferencesInTrainingMode) {
  Tensor x = random_normal({3, 2, 2, 2}, 9, 0.5, 1.0, DType::kFloat64);
  nn::BatchNorm bn;
  bn.build(x.shape(), DType::kFloat64);
  bn.gamma().assign(Tensor::from_vector<double>({1.3, -0.4}, {2}));
  // Asymmetric scalarisation, so symmetric mistakes cannot hide.
  Tensor weights = random_normal(x.shape(), 10, 0.0, 1.0, DType::kFloat64);
  auto f = [&](const std::vector<Tensor>& in) { return sum(bn(in[0]) * weights); };
  GradcheckResult r = check_gradients(f, {x});
  EXPECT_TRUE(r.ok) << r.report;
}

TEST(BatchNormTest, CheckpointRestoresRunningStatisticsByName) {
  const std::string file = (std::filesystem::temp_directory_path() / "graft_batch_norm_test.safetensors").string();
  Tensor x = random_normal({8, 3, 2, 2}, 21, 2.0, 3.0);
  std::vector<float> mean, var;
  {
    Blocks model;
    for (int i = 0; i < 3; ++i) model(x);
    mean = model.bn->moving_mean().raw_value().to_vector<float>();
    var = model.bn->moving_variance().raw_value().to_vector<float>();
    io::save_checkpoint(file, {&model.store()});
  }
  Blocks fresh;
  io::CheckpointReport report = io::restore_checkpoint(file, {&fresh.store()});
  EXPECT_EQ(report.deferred.size(), 4u) << report.to_string();  // restored when the lazy layer builds
  fresh.eval();
  fresh.build(x.shape());
  EXPECT_EQ(fresh.bn->moving_mean().raw_value().to_vector<float>(), mean);
  EXPECT_EQ(fresh.bn->moving_variance().raw_value().to_vector<float>(), var);
  EXPECT_NE(mean, std::vector<float>(3, 0.0f));
  std::filesystem::remove(file);
}

TEST(BatchNormTest, CompiledStepCapturesTrainingAndEvalModeSeparately) {
  Tensor x = random_normal({4, 2, 3, 3}, 2, 1.0, 2.0);
  nn::Sequential model("cnn");
  auto bn = model.add(nn::BatchNorm());
  auto step = function([&](const Tensor& in) { return model(in); }, FunctionOptions().name("step"));

  step(x);  // training: capture 1, one update of the statistics
  std::vector<float> after_one = bn->moving_mean().raw_value().to_vector<float>();
  step(x);  // replay: the update is part of the graph
  std::vector<float> after_two = bn->moving_mean().raw_value().to_vector<float>();
  EXPECT_EQ(step.captures(), 1);
  for (size_t c = 0; c < after_one.size(); ++c) EXPECT_NEAR(after_two[c], after_one[c] * 1.9f, 1e-5f);

  model.eval();
  Tensor compiled_eval = step(x);  // a new mode: capture 2, no update
  EXPECT_EQ(step.captures(), 2);
  EXPECT_EQ(bn->moving_mean().raw_value().to_vector<float>(), after_two);
  Tensor eager_eval = model(x);
  EXPECT_EQ(compiled_eval.to_vector<float>(), eager_eval.to_vector<float>());
  EXPECT_NE(step.explain().find("new mode (cnn/layer_0: eval)"), std::string::npos) << step.explain();

  model.train();
  step(x);  // back to training: the first graph replays, no capture
  EXPECT_EQ(step.captures(), 2);
  EXPECT_NE(bn->moving_mean().raw_value().to_vector<float>(), after_two);
  model.eval();
  step(x);
  EXPECT_EQ(step.captures(), 2);
}

TEST(ModeKeyTest, ACompiledStepNeverReplaysDropoutsTrainingGraphInEvalMode) {
  Tensor x = ones({4, 16});
  nn::Sequential model("mlp");
  model.add(nn::Dropout(nn::DropoutOptions(0.5).seed(3)));
  auto step = function([&](const Tensor& in) { return model(in); });
  EXPECT_NE(step(x).to_vector<float>(), x.to_vector<float>());  // training: units dropped
  model.eval();
  EXPECT_EQ(step(x).to_vector<float>(), x.to_vector<float>());  // eval: passes through
  EXPECT_EQ(step.captures(), 2);
}

TEST(ModeKeyTest, BuildRunsInEvalModeAndKeepsEachModulesMode) {
  nn::Sequential model("cnn");
  auto bn = model.add(nn::BatchNorm());
  model.build({2, 3, 4, 4});
  EXPECT_EQ(bn->moving_variance().raw_value().to_vector<float>(), std::vector<float>(3, 1.0f));  // no update from zeros
  EXPECT_TRUE(model.is_training());
  EXPECT_TRUE(bn->is_training());
}

TEST(BatchNormTest, BadShapesNameTheLayerAndBothShapes) {
  nn::Sequential model("cnn");
  model.add(nn::BatchNorm());
  std::string what = error_text<ShapeError>([&] { model(zeros({2, 3, 4})); });
  GRAFT_EXPECT_CONTAINS(what, "BatchNorm 'cnn/layer_0'");
  GRAFT_EXPECT_CONTAINS(what, "[N, C] or [N, C, H, W]");
  GRAFT_EXPECT_CONTAINS(what, "[2, 3, 4]");
  model(zeros({2, 3, 4, 4}));
  what = error_text<ShapeError>([&] { model(zeros({2, 5, 4, 4})); });
  GRAFT_EXPECT_CONTAINS(what, "expected an input of shape [N, 3, H, W], received shape [2, 5, 4, 4]");
  what = error_text<ShapeError>([&] { model(zeros({2, 3})); });
  GRAFT_EXPECT_CONTAINS(what, "received shape [2, 3]");
  GRAFT_EXPECT_CONTAINS(error_text<DTypeError>([&] { nn::BatchNorm().forward(zeros({2, 3}, DType::kInt64)); }),
                        "float32 or float64");
  EXPECT_THROW(nn::BatchNorm(nn::BatchNormOptions().momentum(0.0)), ValueError);
}

TEST(FlattenTest, JoinsEveryAxisButTheBatchInRowMajorOrder) {
  Tensor x = reshape(arange(0, 24), {2, 3, 2, 2});
  nn::Sequential model("cnn");
  model.add(nn::Flatten());
  Tensor y = model(x);
  EXPECT_EQ(y.shape(), (Shape{2, 12}));
  // Channel c of example n spans features c*4 .. c*4+3.
  EXPECT_EQ(y.to_vector<float>(), x.to_vector<float>());
  std::string what = error_text<ShapeError>([&] { model(zeros({5})); });
  GRAFT_EXPECT_CONTAINS(what, "Flatten 'cnn/layer_0'");
  GRAFT_EXPECT_CONTAINS(what, "received shape [5]");
}

}  // namespace
}  // namespace graft
