#include "graft/nn/sequential.h"

#include <gtest/gtest.h>

#include "graft/autodiff/tape.h"
#include "graft/nn/layers.h"
#include "graft/ops/ops.h"

namespace graft::nn {
namespace {

std::vector<std::string> layer_paths(const Sequential& model) {
  std::vector<std::string> out;
  for (const auto& layer : model.children()) out.push_back(layer->path());
  return out;
}

// One step of plain gradient descent on mean(model(x)^2); returns the loss.
double sgd_step(Sequential& model, const Tensor& x, double lr) {
  GradientTape tape;
  Tensor loss = mean(square(model(x)));
  std::vector<Variable> vars = model.trainable_variables();
  auto grads = tape.gradient(loss, vars);
  for (size_t i = 0; i < vars.size(); ++i) vars[i].assign_sub(*grads[i] * lr);
  return loss.item<double>();
}

TEST(SequentialTest, NamesLayersByACounterThatNeverReusesANumber) {
  Sequential model("mlp");
  model.add(Linear(LinearOptions(4)));
  model.add(ReLU());
  model.add(Linear(LinearOptions(2)));
  auto inserted = model.insert(1, Linear(LinearOptions(4)));
  EXPECT_EQ(inserted->path(), "mlp/layer_3");
  EXPECT_EQ(layer_paths(model), (std::vector<std::string>{"mlp/layer_0", "mlp/layer_3", "mlp/layer_1", "mlp/layer_2"}));
  model.remove(3);
  auto added = model.add(Tanh());
  EXPECT_EQ(added->path(), "mlp/layer_4");
  EXPECT_EQ(layer_paths(model), (std::vector<std::string>{"mlp/layer_0", "mlp/layer_3", "mlp/layer_1", "mlp/layer_4"}));
}

TEST(SequentialTest, RunsLayersInPositionOrderAndListsVariablesSo) {
  Sequential model("m");
  model.add(Linear(LinearOptions(3).kernel_init(init::ones()).bias(false)));
  model.add(Linear(LinearOptions(1).kernel_init(init::ones()).bias(false)));
  model.insert(1, Linear(LinearOptions(2).kernel_init(init::constant(2.0)).bias(false)));
  Tensor y = model(ones({1, 5}));
  // [1,5] x ones[5,3] = 5s; x 2s[3,2] = 30s; x ones[2,1] = 60.
  EXPECT_EQ(y.item<float>(), 60.0f);
  std::vector<std::string> paths;
  for (const Variable& v : model.variables()) paths.push_back(v.path());
  EXPECT_EQ(paths, (std::vector<std::string>{"m/layer_0/kernel", "m/layer_2/kernel", "m/layer_1/kernel"}));
  EXPECT_EQ(model.at(1)->path(), "m/layer_2");
  EXPECT_EQ(model.describe(), "Sequential(3 layers)");
}

TEST(SequentialTest, InsertAtAnyTimeKeepsTrainedLayersAndTheirPaths) {
  Sequential model("mlp");
  model.set_seed(1);
  model.add(Linear(LinearOptions(6).activation(Activation::kTanh)));
  model.add(Linear(LinearOptions(1)));
  Tensor x = Tensor::from_vector<float>({0.5f, -1.0f, 2.0f, 0.25f}, {1, 4});
  for (int i = 0; i < 3; ++i) sgd_step(model, x, 0.1);
  Variable old_kernel = model.variables()[0];
  std::vector<float> trained = old_kernel.value().to_vector<float>();
  uint64_t epoch = model.epoch();
  model.insert(1, Linear(LinearOptions(6).activation(Activation::kTanh)));
  EXPECT_GT(model.epoch(), epoch) << "insert must move the epoch";
  EXPECT_FALSE(model.built());
  double first = sgd_step(model, x, 0.1);
  EXPECT_TRUE(model.built());
  EXPECT_EQ(model.trainable_variables().size(), 6u);
  EXPECT_EQ(model.variables()[0], old_kernel);
  EXPECT_EQ(old_kernel.path(), "mlp/layer_0/kernel");
  EXPECT_NE(old_kernel.value().to_vector<float>(), trained) << "the old layer keeps training";
  double last = first;
  for (int i = 0; i < 10; ++i) last = sgd_step(model, x, 0.1);
  EXPECT_LT(last, first);
}

TEST(SequentialTest, RemoveRetiresTheLayersVariables) {
  Sequential model("mlp");
  model.add(Linear(LinearOptions(4)));
  model.add(Linear(LinearOptions(4)));
  model.add(Linear(LinearOptions(2)));
  model(ones({1, 4}));
  auto removed = model.at(1);
  Variable kernel = model.variables()[2];
  ASSERT_EQ(kernel.path(), "mlp/layer_1/kernel");
  uint64_t epoch = model.epoch();
  const int line = __LINE__ + 1;
  model.remove(1);
  // Listing: gone from the model and the store.
  EXPECT_EQ(model.variables().size(), 4u);
  EXPECT_FALSE(model.store().find("mlp/layer_1/kernel").has_value());
  for (const Variable& v : model.variables()) EXPECT_EQ(v.path().find("layer_1"), std::string::npos) << v.path();
  // Epoch: moved once per retired variable and once for the structure.
  EXPECT_EQ(model.epoch(), epoch + 3);
  // Error on later use of a variable, quoting the call, the path and the site.
  EXPECT_TRUE(kernel.is_retired());
  try {
    kernel.value();
    FAIL() << "a retired variable was read";
  } catch (const ValueError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("retired by Sequential::remove(1) of layer 'mlp/layer_1'"), std::string::npos) << what;
    EXPECT_NE(what.find("sequential_test.cc:" + std::to_string(line)), std::string::npos) << what;
  }
  // And of the removed layer itself.
  try {
    (*removed)(ones({1, 4}));
    FAIL() << "a removed layer ran";
  } catch (const ValueError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("removed from the model as 'mlp/layer_1' by Sequential::remove(1)"), std::string::npos)
        << what;
  }
  EXPECT_THROW(model.add(removed), ValueError);
  // The model runs without it: layer_0 [4 -> 4] feeds layer_2 [4 -> 2].
  EXPECT_EQ(model(ones({1, 4})).shape(), (Shape{1, 2}));
}

TEST(SequentialTest, ChangesWithoutVariablesMoveTheEpochToo) {
  Sequential model("m");
  model.add(Linear(LinearOptions(2)));
  model(ones({1, 2}));
  uint64_t epoch = model.epoch();
  model.add(ReLU());
  EXPECT_GT(model.epoch(), epoch);
  epoch = model.epoch();
  model.remove(1);
  EXPECT_GT(model.epoch(), epoch);
}

TEST(SequentialTest, OutOfRangePositionsAreErrors) {
  Sequential model("m");
  model.add(ReLU());
  EXPECT_THROW(model.remove(1), ValueError);
  EXPECT_THROW(model.at(3), ValueError);
  EXPECT_THROW(model.insert(5, ReLU()), ValueError);
  EXPECT_EQ(model.size(), 1u);
  try {
    model.remove(1);
    FAIL() << "no error";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("Sequential::remove(1) on 'm': it has 1 layer, at positions 0 to 0\n  help:"),
              std::string::npos)
        << e.what();
  }
  Sequential empty("e");
  try {
    empty.at(0);
    FAIL() << "no error";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("it has no layers\n  help: add a layer first"), std::string::npos) << e.what();
  }
}

TEST(SequentialTest, EmptyReturnsItsInput) {
  Sequential model("m");
  Tensor x = ones({2, 2});
  EXPECT_EQ(model(x).to_vector<float>(), x.to_vector<float>());
}

}  // namespace
}  // namespace graft::nn
