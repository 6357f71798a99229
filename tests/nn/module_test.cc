#include "graft/nn/module.h"

#include <source_location>

#include <gtest/gtest.h>

#include "graft/autodiff/tape.h"
#include "graft/nn/layers.h"
#include "graft/nn/sequential.h"
#include "graft/ops/ops.h"

namespace graft::nn {
namespace {

std::string here_plus(int lines, std::source_location loc = std::source_location::current()) {
  return graft::base::internal::str("module_test.cc:", loc.line() + lines);
}

std::vector<std::string> paths_of(const std::vector<Variable>& vars) {
  std::vector<std::string> out;
  for (const Variable& v : vars) out.push_back(v.path());
  return out;
}

// The first line of `text` containing `needle`, or "".
std::string line_with(const std::string& text, const std::string& needle) {
  size_t at = text.find(needle);
  if (at == std::string::npos) return "";
  size_t begin = text.rfind('\n', at);
  begin = begin == std::string::npos ? 0 : begin + 1;
  return text.substr(begin, text.find('\n', at) - begin);
}

// Two children registered as "b" then "a", run a then b: paths come from the
// names, the listing from the registration order, never from build order.
class TwoLayer : public Module {
 public:
  TwoLayer() : Module("net") {
    b_ = register_module("b", Linear(LinearOptions(2)));
    a_ = register_module("a", Linear(LinearOptions(3).activation(Activation::kTanh)));
  }
  Tensor forward(const Tensor& x) override {
    ensure_built(x);
    return (*b_)((*a_)(x));
  }
  std::shared_ptr<Linear> a_, b_;
};

TEST(ModuleTest, LinearBuildsLazilyFromTheFirstInput) {
  Linear fc(LinearOptions(4));
  EXPECT_FALSE(fc.built());
  EXPECT_TRUE(fc.variables().empty());
  Tensor y = fc(ones({2, 3}));
  EXPECT_TRUE(fc.built());
  EXPECT_EQ(y.shape(), (Shape{2, 4}));
  EXPECT_EQ(fc.in_features(), 3);
  EXPECT_EQ(paths_of(fc.trainable_variables()), (std::vector<std::string>{"linear/kernel", "linear/bias"}));
  EXPECT_EQ(fc.kernel().shape(), (Shape{3, 4}));
  EXPECT_EQ(fc.bias().shape(), (Shape{4}));
  EXPECT_EQ(fc.store().name(), "linear");
  uint64_t epoch = fc.epoch();
  fc(ones({5, 3}));
  EXPECT_EQ(fc.epoch(), epoch) << "a second call must not create variables";
  EXPECT_EQ(fc.parameter_count(), 16);
}

TEST(ModuleTest, LinearWithoutBiasAndWithAnActivation) {
  Linear fc(LinearOptions(2).bias(false).activation(Activation::kRelu).kernel_init(init::constant(-1.0)));
  Tensor y = fc(ones({1, 3}));
  EXPECT_EQ(fc.variables().size(), 1u);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0.0f, 0.0f}));
  EXPECT_EQ(fc.describe(), "Linear(3 -> 2, no bias, relu)");
}

TEST(ModuleTest, BuildsInTheFirstInputsDtype) {
  Linear fc(LinearOptions(2));
  fc(ones({1, 3}, DType::kFloat64));
  EXPECT_EQ(fc.kernel().dtype(), DType::kFloat64);
}

TEST(ModuleTest, ChildPathsComeFromNamesNotBuildOrder) {
  TwoLayer net;
  net(ones({1, 5}));
  EXPECT_EQ(paths_of(net.variables()),
            (std::vector<std::string>{"net/b/kernel", "net/b/bias", "net/a/kernel", "net/a/bias"}));
  EXPECT_EQ(net.a_->path(), "net/a");
  EXPECT_EQ(net.a_->parent(), &net);
  EXPECT_EQ(net.child("b"), net.b_);
  EXPECT_EQ(net.child("c"), nullptr);
  EXPECT_EQ(net.a_->kernel().shape(), (Shape{5, 3}));
  EXPECT_EQ(net.b_->kernel().shape(), (Shape{3, 2}));
  auto named = net.named_variables();
  ASSERT_EQ(named.size(), 4u);
  EXPECT_EQ(named[0].first, "b/kernel");
  EXPECT_EQ(named[3].first, "a/bias");
}

TEST(ModuleTest, IdenticalModelsListTheSameVariablesWithTheSameValues) {
  TwoLayer m1, m2;
  m1.set_seed(3);
  m2.set_seed(3);
  m1(ones({1, 5}));
  m2(ones({1, 5}));
  auto v1 = m1.named_variables();
  auto v2 = m2.named_variables();
  ASSERT_EQ(v1.size(), v2.size());
  for (size_t i = 0; i < v1.size(); ++i) {
    EXPECT_EQ(v1[i].first, v2[i].first);
    EXPECT_EQ(v1[i].second.value().to_vector<float>(), v2[i].second.value().to_vector<float>());
  }
  TwoLayer m3;
  m3.set_seed(4);
  m3(ones({1, 5}));
  EXPECT_NE(m3.a_->kernel().value().to_vector<float>(), m1.a_->kernel().value().to_vector<float>());
}

TEST(ModuleTest, SeedAndStoreMustBeChosenBeforeTheStoreExists) {
  Linear fc(LinearOptions(2));
  fc(ones({1, 2}));
  EXPECT_THROW(fc.set_seed(1), ValueError);
  VariableStore other("other");
  EXPECT_THROW(fc.use_store(other), ValueError);
  TwoLayer net;
  EXPECT_THROW(net.a_->set_seed(1), ValueError);
}

TEST(ModuleTest, UseStorePutsTheModelUnderTheStoresName) {
  VariableStore store("run");
  TwoLayer net;
  net.use_store(store);
  net(ones({1, 5}));
  EXPECT_EQ(net.a_->kernel().path(), "run/net/a/kernel");
  EXPECT_EQ(&net.store(), &store);
  EXPECT_EQ(store.size(), 4u);
  EXPECT_EQ(net.variables().size(), 4u);
}

TEST(ModuleTest, FrozenVariablesGetNoGradient) {
  TwoLayer net;
  net(ones({2, 5}));
  uint64_t epoch = net.epoch();
  net.a_->freeze();
  EXPECT_GT(net.epoch(), epoch);
  EXPECT_TRUE(net.a_->frozen());
  EXPECT_EQ(paths_of(net.trainable_variables()), (std::vector<std::string>{"net/b/kernel", "net/b/bias"}));
  std::vector<Variable> all = net.variables();
  GradientTape tape;
  Tensor loss = mean(square(net(ones({2, 5}))));
  auto grads = tape.gradient(loss, all);
  EXPECT_TRUE(grads[0].has_value());
  EXPECT_TRUE(grads[1].has_value());
  EXPECT_FALSE(grads[2].has_value()) << "frozen net/a/kernel got a gradient";
  EXPECT_FALSE(grads[3].has_value()) << "frozen net/a/bias got a gradient";
  net.a_->unfreeze();
  EXPECT_EQ(net.trainable_variables().size(), 4u);
}

TEST(ModuleTest, FreezingBeforeBuildAppliesToVariablesBuiltLater) {
  Sequential model("m");
  model.freeze();
  model.add(Linear(LinearOptions(2)));
  model(ones({1, 3}));
  EXPECT_EQ(model.variables().size(), 2u);
  EXPECT_TRUE(model.trainable_variables().empty());
  model.unfreeze();
  EXPECT_EQ(model.trainable_variables().size(), 2u);
}

TEST(ModuleTest, UnfreezeKeepsVariablesCreatedNotTrainable) {
  class WithCounter : public Module {
   public:
    WithCounter() : Module("c") {}
    Tensor forward(const Tensor& x) override {
      ensure_built(x);
      return x * w_;
    }
    void on_build(const Shape&, DType) override {
      w_ = add_variable("w", {1}, init::ones());
      count_ = add_variable("count", {1}, init::zeros(), VariableOptions().trainable(false));
    }
    Variable w_, count_;
  };
  WithCounter m;
  m(ones({1}));
  m.freeze();
  m.unfreeze();
  EXPECT_TRUE(m.w_.trainable());
  EXPECT_FALSE(m.count_.trainable());
}

TEST(ModuleTest, LinearRejectsAnInputOfTheWrongRank) {
  Sequential model("mlp");
  model.add(Linear(LinearOptions(4)));
  try {
    model(ones({3}));
    FAIL() << "no error for a rank-1 input";
  } catch (const ShapeError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("Linear 'mlp/layer_0' expected an input of rank >= 2"), std::string::npos) << what;
    EXPECT_NE(what.find("received shape [3]"), std::string::npos) << what;
  }
}

TEST(ModuleTest, LinearRejectsAChangedFeatureSizeAfterBuild) {
  Sequential model("mlp");
  model.add(Linear(LinearOptions(4)));
  model(ones({2, 3}));
  try {
    model(ones({2, 5}));
    FAIL() << "no error for a changed feature size";
  } catch (const ShapeError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("Linear 'mlp/layer_0' expected an input of shape [..., 3]"), std::string::npos) << what;
    EXPECT_NE(what.find("kernel [3, 4]"), std::string::npos) << what;
    EXPECT_NE(what.find("received shape [2, 5]"), std::string::npos) << what;
  }
}

TEST(ModuleTest, RegistrationErrorsSayWhatToDo) {
  TwoLayer net;
  try {
    net.register_module("a", Linear(LinearOptions(1)));
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("module 'net' already has a child named 'a'"), std::string::npos);
  }
  auto used = std::make_shared<Linear>(LinearOptions(1));
  (*used)(ones({1, 1}));
  try {
    net.register_module("c", used);
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("it was called before it was registered"), std::string::npos) << e.what();
  }
  EXPECT_THROW(net.register_module("d", net.a_), ValueError);  // already has a parent
  EXPECT_THROW(net.register_module("x/y", ReLU()), ValueError);
}

TEST(ModuleTest, SummaryListsPathsShapesCountsAndCreationSites) {
  Sequential model("mlp");
  std::string site = here_plus(1);
  model.add(Linear(LinearOptions(4).activation(Activation::kRelu)));
  model.add(Dropout(DropoutOptions(0.5)));
  model.add(Linear(LinearOptions(2)));
  model(ones({1, 3}));
  model.at(2)->freeze();
  model.add(Linear(LinearOptions(7)));
  std::string s = model.summary();
  EXPECT_NE(s.find("model 'mlp' (store 'mlp', epoch"), std::string::npos) << s;
  EXPECT_NE(line_with(s, "mlp/layer_0 ").find("Linear(3 -> 4, relu)"), std::string::npos) << s;
  std::string kernel = line_with(s, "mlp/layer_0/kernel");
  EXPECT_NE(kernel.find("[3, 4] float32"), std::string::npos) << s;
  EXPECT_NE(kernel.find(" 12 "), std::string::npos) << s;
  EXPECT_NE(kernel.find(" yes "), std::string::npos) << s;
  EXPECT_NE(kernel.find(site), std::string::npos) << s;
  EXPECT_NE(line_with(s, "mlp/layer_2/bias").find(" no "), std::string::npos) << s;
  EXPECT_NE(line_with(s, "mlp/layer_1").find("Dropout(0.5)"), std::string::npos) << s;
  EXPECT_NE(line_with(s, "mlp/layer_3").find("Linear(? -> 7) (not built)"), std::string::npos) << s;
  EXPECT_NE(s.find("total: 4 variables, 26 parameters (16 trainable, 10 frozen)"), std::string::npos) << s;
}

TEST(DropoutTest, IsSeededAndPassesThroughInEvalMode) {
  Dropout d1(DropoutOptions(0.5).seed(11)), d2(DropoutOptions(0.5).seed(11)), d3(DropoutOptions(0.5).seed(12));
  Tensor x = ones({1000});
  std::vector<float> y1 = d1(x).to_vector<float>();
  EXPECT_EQ(y1, d2(x).to_vector<float>());
  EXPECT_NE(y1, d3(x).to_vector<float>());
  EXPECT_NE(y1, d1(x).to_vector<float>()) << "each call draws a new mask";
  int kept = 0;
  for (float v : y1) {
    EXPECT_TRUE(v == 0.0f || v == 2.0f) << v;
    kept += v != 0.0f;
  }
  EXPECT_GT(kept, 400);
  EXPECT_LT(kept, 600);
  d1.eval();
  EXPECT_EQ(d1(x).to_vector<float>(), x.to_vector<float>());
  EXPECT_THROW(Dropout(DropoutOptions(1.0)), ValueError);
}

TEST(DropoutTest, EvalPropagatesToChildren) {
  Sequential model("m");
  auto drop = model.add(Dropout(DropoutOptions(0.9)));
  model.eval();
  EXPECT_FALSE(drop->is_training());
  EXPECT_EQ(model(ones({4})).to_vector<float>(), ones({4}).to_vector<float>());
  model.train();
  EXPECT_TRUE(drop->is_training());
}

TEST(ActivationTest, LayersApplyTheirFunction) {
  Tensor x = Tensor::from_vector<float>({-1.0f, 0.5f}, {1, 2});
  EXPECT_EQ(ReLU()(x).to_vector<float>(), relu(x).to_vector<float>());
  EXPECT_EQ(Tanh()(x).to_vector<float>(), tanh(x).to_vector<float>());
  EXPECT_EQ(Sigmoid()(x).to_vector<float>(), sigmoid(x).to_vector<float>());
}

}  // namespace
}  // namespace graft::nn
