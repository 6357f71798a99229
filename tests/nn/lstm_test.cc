#include "graft/nn/lstm.h"

#include <cmath>

#include <gtest/gtest.h>

#include "graft/autodiff/gradcheck.h"
#include "graft/autodiff/tape.h"
#include "graft/nn/layers.h"
#include "graft/nn/sequential.h"
#include "graft/ops/ops.h"
#include "graft/tensor/random.h"

namespace graft::nn {
namespace {

Tensor random_tensor(const Shape& shape, uint64_t seed, DType dtype = DType::kFloat32) {
  Tensor t = Tensor::empty(shape, dtype);
  visit_dtype(dtype, [&]<typename T>(T) { fill_uniform(t.data<T>(), t.numel(), seed, -1.0, 1.0); });
  return t;
}

TEST(LSTMTest, CreatesItsWeightsOnceWhateverTheSequenceLength) {
  LSTM lstm(LSTMOptions(5));
  lstm(random_tensor({2, 1, 3}, 1));
  std::vector<Variable> vars = lstm.variables();
  ASSERT_EQ(vars.size(), 3u);
  EXPECT_EQ(vars[0].path(), "lstm/cell/kernel");
  EXPECT_EQ(vars[0].shape(), (Shape{3, 20}));
  EXPECT_EQ(vars[1].path(), "lstm/cell/recurrent_kernel");
  EXPECT_EQ(vars[1].shape(), (Shape{5, 20}));
  EXPECT_EQ(vars[2].path(), "lstm/cell/bias");
  EXPECT_EQ(vars[2].shape(), (Shape{20}));
  const uint64_t epoch = lstm.epoch();
  for (int64_t length : {2, 7, 31}) {
    Tensor h = lstm(random_tensor({2, length, 3}, static_cast<uint64_t>(length)));
    EXPECT_EQ(h.shape(), (Shape{2, 5}));
    EXPECT_EQ(lstm.variables().size(), 3u) << "length " << length;
    EXPECT_EQ(lstm.store().size(), 3u);
    EXPECT_EQ(lstm.epoch(), epoch) << "length " << length << " created or retired a variable";
    EXPECT_EQ(lstm.variables()[0], vars[0]);
  }
}

TEST(LSTMTest, ForgetGateBiasStartsAtOne) {
  LSTMCell cell(LSTMCellOptions(2));
  cell(ones({1, 3}));
  std::vector<Variable> vars = cell.variables();
  EXPECT_EQ(vars[2].value().to_vector<float>(), (std::vector<float>{0, 0, 1, 1, 0, 0, 0, 0}));
}

TEST(LSTMTest, EveryStepReadsTheSameWeightsAndGradientsSumOverSteps) {
  LSTM lstm(LSTMOptions(3));
  Tensor x = random_tensor({1, 6, 2}, 5);
  GradientTape tape;
  Tensor loss = sum(lstm(x));
  std::vector<Variable> vars = lstm.trainable_variables();
  auto grads = tape.gradient(loss, vars);
  for (const auto& g : grads) ASSERT_TRUE(g.has_value());
  EXPECT_EQ(grads[1]->shape(), (Shape{3, 12}));
  EXPECT_GT(sum(abs(*grads[1])).item<double>(), 0.0) << "the recurrent kernel is used from step 2 on";
}

TEST(LSTMTest, ReturnSequencesAndUnrollAgree) {
  LSTM all(LSTMOptions(4).return_sequences(true));
  Tensor x = random_tensor({2, 5, 3}, 9);
  Tensor seq = all(x);
  ASSERT_EQ(seq.shape(), (Shape{2, 5, 4}));
  std::vector<Tensor> steps;
  for (int64_t t = 0; t < 5; ++t) {
    std::vector<float> v;
    std::vector<float> xs = x.to_vector<float>();
    for (int64_t b = 0; b < 2; ++b) {
      for (int64_t f = 0; f < 3; ++f) v.push_back(xs[static_cast<size_t>((b * 5 + t) * 3 + f)]);
    }
    steps.push_back(Tensor::from_vector<float>(v, {2, 3}));
  }
  LSTMSequence r = all.unroll(steps);
  ASSERT_EQ(r.outputs.size(), 5u);
  std::vector<float> s = seq.to_vector<float>();
  for (int64_t t = 0; t < 5; ++t) {
    std::vector<float> h = r.outputs[static_cast<size_t>(t)].to_vector<float>();
    for (int64_t b = 0; b < 2; ++b) {
      for (int64_t j = 0; j < 4; ++j) {
        // forward() runs the fused sequence: other summation order, other
        // float32 exp and tanh (graft/ops/lstm_ops.cc), so a few ulps apart.
        EXPECT_NEAR(h[static_cast<size_t>(b * 4 + j)], s[static_cast<size_t>((b * 5 + t) * 4 + j)], 1e-6);
      }
    }
  }
  // Continuing from a state equals unrolling the whole sequence.
  LSTMSequence first = all.unroll({steps[0], steps[1]});
  LSTMSequence rest = all.unroll({steps[2], steps[3], steps[4]}, first.state);
  EXPECT_EQ(rest.state.h.to_vector<float>(), r.state.h.to_vector<float>());
}

// check_gradients differentiates f with respect to its inputs, but the LSTM
// reads its variables. So f copies inputs 1..3 into the variables and adds a
// term that is 0 in value and whose gradient with respect to input k is the
// tape's gradient for variable k: the check then compares the gradient an
// optimizer would get for the whole unrolled sequence with central
// differences.
TEST(LSTMTest, GradientOfTheUnrolledSequenceMatchesNumericDifferences) {
  LSTM lstm(LSTMOptions(2).return_sequences(true));
  Tensor x = random_tensor({2, 4, 3}, 21, DType::kFloat64);
  lstm(x);  // builds in float64
  std::vector<Variable> vars = lstm.variables();
  ASSERT_EQ(vars[0].dtype(), DType::kFloat64);
  // An asymmetric scalar, so that symmetric mistakes cannot hide.
  Tensor weights = random_tensor({2, 4, 2}, 22, DType::kFloat64);
  auto f = [&](const std::vector<Tensor>& in) {
    for (size_t k = 0; k < vars.size(); ++k) vars[k].assign(in[k + 1]);
    GradientTape inner;
    Tensor y = sqrt(sum(square(lstm(in[0]) * weights)) + 1.0);
    auto grads = inner.gradient(y, vars);
    Tensor out = y;
    for (size_t k = 0; k < vars.size(); ++k) {
      out = out + sum(stop_gradient(*grads[k]) * (in[k + 1] - stop_gradient(in[k + 1])));
    }
    return out;
  };
  std::vector<Tensor> inputs = {x};
  for (const Variable& v : vars) inputs.push_back(v.value().clone());
  GradcheckResult r = check_gradients(f, inputs);
  EXPECT_TRUE(r.ok) << r.report;
  EXPECT_LT(r.max_abs_error, 1e-6);
}

TEST(LSTMTest, ShapeErrorsNameTheLayerAndBothShapes) {
  LSTM lstm(LSTMOptions(2));
  try {
    lstm(ones({2, 3}));
    FAIL();
  } catch (const ShapeError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("LSTM 'lstm' expected an input of shape [batch, time, features]"), std::string::npos) << what;
    EXPECT_NE(what.find("received shape [2, 3]"), std::string::npos) << what;
  }
  lstm(ones({2, 3, 4}));
  try {
    lstm(ones({2, 3, 5}));
    FAIL();
  } catch (const ShapeError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("LSTMCell 'lstm/cell' expected a step of shape [2, 4]"), std::string::npos) << what;
    EXPECT_NE(what.find("received shape [2, 5]"), std::string::npos) << what;
  }
  EXPECT_THROW(lstm.unroll({}), ShapeError);
}

TEST(LSTMTest, ACellGivenASequenceSaysToUseTheLstm) {
  LSTMCell cell(LSTMCellOptions(2));
  for (const bool built : {false, true}) {
    if (built) cell.step(ones({2, 4}), cell.zero_state(2, DType::kFloat32));
    try {
      cell.step(ones({2, 3, 4}), cell.zero_state(2, DType::kFloat32));
      FAIL();
    } catch (const ShapeError& e) {
      std::string what = e.what();
      EXPECT_NE(what.find("received shape [2, 3, 4]"), std::string::npos) << what;
      EXPECT_NE(what.find("help: a cell takes one time step; for a [batch, time, features] sequence use nn::LSTM"),
                std::string::npos)
          << what;
    }
  }
  try {
    cell.sequence(ones({2, 4}));
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("help: for one time step of shape [batch, features], call step()"),
              std::string::npos)
        << e.what();
  }
}

TEST(LSTMTest, TrainsInsideASequential) {
  Sequential model("seq");
  model.set_seed(2);
  model.add(LSTM(LSTMOptions(4)));
  model.add(Linear(LinearOptions(1)));
  Tensor x = random_tensor({3, 5, 2}, 8);
  Tensor target = random_tensor({3, 1}, 9);
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    GradientTape tape;
    Tensor loss = mse_loss(model(x), target);
    auto vars = model.trainable_variables();
    auto grads = tape.gradient(loss, vars);
    for (size_t i = 0; i < vars.size(); ++i) vars[i].assign_sub(*grads[i] * 0.2);
    (step == 0 ? first : last) = loss.item<double>();
  }
  EXPECT_EQ(model.variables()[0].path(), "seq/layer_0/cell/kernel");
  EXPECT_EQ(model.variables().size(), 5u);
  EXPECT_LT(last, first * 0.7);
}

}  // namespace
}  // namespace graft::nn
