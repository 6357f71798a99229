#include "graft/edit/edit.h"

#include <cmath>

#include <gtest/gtest.h>

#include "graft/autodiff/tape.h"
#include "graft/nn/layers.h"
#include "graft/ops/ops.h"
#include "graft/optim/adam.h"
#include "graft/tensor/random.h"
#include "graft/trace/function.h"

namespace graft::edit {
namespace {

Tensor batch(const Shape& shape, uint64_t seed) {
  Tensor t = Tensor::empty(shape);
  fill_normal(t.data<float>(), t.numel(), seed, 0.0, 1.0);
  return t;
}

struct Net {
  nn::Sequential model{"mlp"};
  optim::Adam adam{optim::AdamOptions(0.01)};
  Tensor x = batch({16, 6}, 1);
  Tensor y = batch({16, 3}, 2);

  explicit Net(nn::Activation act = nn::Activation::kRelu) {
    model.set_seed(3);
    model.add(nn::Linear(nn::LinearOptions(5).activation(act)));
    model.add(nn::Linear(nn::LinearOptions(3)));
  }
  double step() {
    GradientTape tape;
    Tensor loss = mse_loss(model(x), y);
    auto vars = model.trainable_variables();
    adam.apply_gradients(vars, tape.gradient(loss, vars));
    return loss.item<double>();
  }
  std::shared_ptr<nn::Linear> linear(size_t i) { return std::dynamic_pointer_cast<nn::Linear>(model.at(i)); }
};

double max_diff(const Tensor& a, const Tensor& b) {
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}

TEST(EditTest, WidenPreservesTheFunctionAndKeepsPaths) {
  Net net;
  for (int i = 0; i < 5; ++i) net.step();
  Tensor before = net.model(net.x);
  EditReport r = widen(net.model, 0, 9, EditOptions().probe(net.x).optimizer(&net.adam).seed(4));
  EXPECT_TRUE(r.verified);
  EXPECT_LT(r.max_difference, 1e-5);
  EXPECT_LT(max_diff(before, net.model(net.x)), 1e-5);
  EXPECT_EQ(net.linear(0)->kernel().shape(), (Shape{6, 9}));
  EXPECT_EQ(net.linear(1)->kernel().shape(), (Shape{9, 3}));
  EXPECT_EQ(net.linear(0)->kernel().path(), "mlp/layer_0/kernel");
  EXPECT_EQ(r.parameters_before, 6 * 5 + 5 + 5 * 3 + 3);
  EXPECT_EQ(r.parameters_after, 6 * 9 + 9 + 9 * 3 + 3);
  EXPECT_EQ(r.created.size(), 4u);
  EXPECT_EQ(r.retired.size(), 4u);
  EXPECT_EQ(r.description, "widen of 'mlp/layer_0' to 9 units");
  // Training goes on with the same optimizer.
  double loss = net.step();
  for (int i = 0; i < 20; ++i) loss = net.step();
  EXPECT_LT(loss, mse_loss(before, net.y).item<double>());
}

TEST(EditTest, WidenCarriesAdamsMomentsOfUntouchedUnitsExactly) {
  Net net;
  for (int i = 0; i < 5; ++i) net.step();
  std::vector<Variable> k1_slots = net.adam.slots_of(net.linear(0)->kernel());
  std::vector<Variable> k2_slots = net.adam.slots_of(net.linear(1)->kernel());
  std::vector<float> m1 = k1_slots[0].value().to_vector<float>();  // [6, 5]
  std::vector<float> v2 = k2_slots[1].value().to_vector<float>();  // [5, 3]
  float step1 = k1_slots[2].value().item<float>();
  widen(net.model, 0, 7, EditOptions().probe(net.x).optimizer(&net.adam).seed(9));
  std::vector<Variable> new_k1 = net.adam.slots_of(net.linear(0)->kernel());
  std::vector<Variable> new_k2 = net.adam.slots_of(net.linear(1)->kernel());
  ASSERT_EQ(new_k1.size(), 3u);
  EXPECT_EQ(new_k1[0].path(), "adam/mlp/layer_0/kernel/m");
  EXPECT_EQ(new_k1[0].shape(), (Shape{6, 7}));
  EXPECT_EQ(new_k1[2].value().item<float>(), step1);
  std::vector<float> nm1 = new_k1[0].value().to_vector<float>(), nv2 = new_k2[1].value().to_vector<float>();
  // Units 5 and 6 copy two of 0..4; every unit that was not copied is untouched.
  std::vector<int> copies(5, 1);
  for (int j = 5; j < 7; ++j) {
    for (int u = 0; u < 5; ++u) {
      bool same = true;
      for (int i = 0; i < 6; ++i) same &= nm1[i * 7 + j] == m1[i * 5 + u];
      if (same) ++copies[u];
    }
  }
  int untouched = 0;
  for (int u = 0; u < 5; ++u) {
    for (int i = 0; i < 6; ++i) EXPECT_EQ(nm1[i * 7 + u], m1[i * 5 + u]);  // incoming: always carried
    if (copies[u] == 1) {
      ++untouched;
      for (int k = 0; k < 3; ++k) EXPECT_EQ(nv2[u * 3 + k], v2[u * 3 + k]) << "unit " << u;
    }
  }
  EXPECT_GE(untouched, 3);
}

TEST(EditTest, DeepenAfterReluIsExactAndACompiledStepRecaptures) {
  Net net;
  auto step = function([&](const Tensor& x, const Tensor& y) {
    GradientTape tape;
    Tensor loss = mse_loss(net.model(x), y);
    auto vars = net.model.trainable_variables();
    net.adam.apply_gradients(vars, tape.gradient(loss, vars));
    return loss;
  });
  for (int i = 0; i < 3; ++i) step(net.x, net.y);
  Tensor before = net.model(net.x);
  EditReport r = deepen(net.model, 0, EditOptions().probe(net.x).optimizer(&net.adam));
  EXPECT_LT(r.max_difference, 1e-6);
  EXPECT_EQ(net.model.size(), 3u);
  EXPECT_EQ(net.linear(1)->kernel().path(), "mlp/layer_2/kernel");
  EXPECT_EQ(r.created, (std::vector<std::string>{"mlp/layer_2/kernel", "mlp/layer_2/bias"}));
  double loss = step(net.x, net.y).item<double>();
  EXPECT_NEAR(loss, mse_loss(before, net.y).item<double>(), 1e-5);
  EXPECT_EQ(step.captures(), 2);
  EXPECT_EQ(net.adam.slots_of(net.linear(1)->kernel()).size(), 3u);  // the new layer trains
}

TEST(EditTest, AFailedVerificationRollsBack) {
  Net net(nn::Activation::kTanh);  // identity after tanh is not exact
  net.step();
  Tensor before = net.model(net.x);
  int64_t params = net.model.parameter_count();
  try {
    deepen(net.model, 0, EditOptions().probe(net.x).optimizer(&net.adam));
    FAIL() << "deepen after tanh passed verification";
  } catch (const ValueError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("changed the network's output by up to"), std::string::npos) << what;
    EXPECT_NE(what.find("so it was rolled back"), std::string::npos) << what;
  }
  EXPECT_EQ(net.model.size(), 2u);
  EXPECT_EQ(net.model.parameter_count(), params);
  EXPECT_EQ(max_diff(before, net.model(net.x)), 0.0);
}

TEST(EditTest, PruneKeepsTheStrongestUnitsAndTheirSlots) {
  Net net;
  for (int i = 0; i < 3; ++i) net.step();
  std::vector<float> k2 = net.linear(1)->kernel().value().to_vector<float>();
  EditReport r = prune(net.model, 0, 2, EditOptions().optimizer(&net.adam));
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(net.linear(0)->kernel().shape(), (Shape{6, 2}));
  EXPECT_EQ(net.linear(1)->kernel().shape(), (Shape{2, 3}));
  EXPECT_EQ(net.adam.slots_of(net.linear(1)->kernel())[0].shape(), (Shape{2, 3}));
  // The kept rows are the two of largest norm.
  std::vector<std::pair<float, int>> norms;
  for (int u = 0; u < 5; ++u) {
    float n = 0;
    for (int k = 0; k < 3; ++k) n += k2[u * 3 + k] * k2[u * 3 + k];
    norms.emplace_back(-n, u);
  }
  std::sort(norms.begin(), norms.end());
  int a = std::min(norms[0].second, norms[1].second);
  std::vector<float> kept = net.linear(1)->kernel().value().to_vector<float>();
  for (int k = 0; k < 3; ++k) EXPECT_EQ(kept[k], k2[a * 3 + k]);
  net.step();  // and it still trains
}

TEST(EditTest, ImpossibleEditsAreClearErrors) {
  Net net;
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const ValueError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string e = message([&] { widen(net.model, 0, 8); });
  EXPECT_NE(e.find("is not built yet"), std::string::npos) << e;
  net.step();
  e = message([&] { widen(net.model, 1, 8); });
  EXPECT_NE(e.find("is the last Linear; there is no next layer"), std::string::npos) << e;
  e = message([&] { widen(net.model, 0, 4); });
  EXPECT_NE(e.find("has 5 units; widening needs more, got 4"), std::string::npos) << e;
  e = message([&] { prune(net.model, 0, 5); });
  EXPECT_NE(e.find("pruning keeps between 1 and 4, got 5"), std::string::npos) << e;
  e = message([&] { deepen(net.model, 7); });
  EXPECT_NE(e.find("position 7 is out of range"), std::string::npos) << e;
}

// Inside a capture the weights are symbolic: widen replaced the first layer,
// then failed reading the new kernel ("tensor [6, 8] float32 is symbolic"),
// leaving an 8-unit layer feeding a layer built for 5.
TEST(EditTest, AnEditInsideACompiledFunctionIsRefusedAndChangesNothing) {
  Net net;
  net.step();
  auto step = function([&](const Tensor& x) {
    widen(net.model, 0, 8);
    return net.model(x);
  });
  try {
    step(net.x);
    FAIL() << "expected a ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("widen: cannot edit a model inside a graft::function capture"),
              std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("help: edit between calls"), std::string::npos) << e.what();
  }
  EXPECT_EQ(net.linear(0)->kernel().shape(), (Shape{6, 5}));
  EXPECT_EQ(net.model(net.x).shape(), (Shape{16, 3}));
}

// A NaN tolerance rolled every edit back with "changed the output by
// 2.4e-07 (tolerance nan)"; a negative or NaN noise was silently no noise.
TEST(EditTest, NaNOrNegativeToleranceAndNoiseAreRefusedUpFront) {
  Net net;
  net.step();
  EXPECT_THROW(widen(net.model, 0, 8, EditOptions().probe(net.x).tolerance(NAN)), ValueError);
  EXPECT_THROW(deepen(net.model, 0, EditOptions().tolerance(-1)), ValueError);
  EXPECT_THROW(widen(net.model, 0, 8, EditOptions().noise(-1)), ValueError);
  EXPECT_THROW(widen(net.model, 0, 8, EditOptions().noise(NAN)), ValueError);
  EXPECT_EQ(net.linear(0)->kernel().shape(), (Shape{6, 5}));
}

// max(m, NaN) is m, so NaN outputs counted as a difference of 0 and the
// edit came back verified.
TEST(EditTest, AProbeWithNaNOutputsDoesNotVerifyAnEdit) {
  Net net;
  net.step();
  Tensor probe = full({2, 6}, NAN);
  try {
    widen(net.model, 0, 8, EditOptions().probe(probe));
    FAIL() << "expected a ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("could not be verified: the network's output on the probe batch has NaN"),
              std::string::npos) << e.what();
  }
  EXPECT_EQ(net.linear(0)->kernel().shape(), (Shape{6, 5}));
}

// A width whose weights cannot exist built its unit map first: 2^62 units
// pushed entries until memory ran out.
TEST(EditTest, AWidthWhoseWeightsCannotExistIsAShapeError) {
  Net net;
  net.step();
  const int64_t huge = int64_t{1} << 62;
  for (UnitInit init : {UnitInit::kDuplicate, UnitInit::kZeroFanout}) {
    try {
      widen(net.model, 0, huge, EditOptions().init(init));
      FAIL() << "expected a ShapeError";
    } catch (const ShapeError& e) {
      EXPECT_NE(std::string(e.what()).find("while widen of 'mlp/layer_0' to 4611686018427387904 units"),
                std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(net.linear(0)->kernel().shape(), (Shape{6, 5}));
}

}  // namespace
}  // namespace graft::edit
