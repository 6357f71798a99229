// nn::LSTM's fused sequence (LSTMCell::sequence: one input product, the
// lstm_sequence op, one backward sweep) against the step-by-step unroll built
// from basic ops, which stays the reference: values and gradients, float32
// and float64, odd sizes, eager and compiled.
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graft/autodiff/tape.h"
#include "graft/nn/lstm.h"
#include "graft/ops/dispatch.h"
#include "graft/ops/ops.h"
#include "graft/trace/function.h"
#include "tests/testing.h"

namespace graft::nn {
namespace {

struct Case {
  int64_t batch, time, features, hidden;
};

// Odd sizes: one step (no recurrent product), a batch of one, hidden 3 and 1,
// one input feature.
std::vector<Case> cases() { return {{2, 5, 3, 4}, {1, 1, 2, 3}, {3, 7, 1, 3}, {1, 4, 5, 1}, {2, 1, 1, 1}}; }

Tensor random_tensor(const Shape& shape, uint64_t seed, DType dtype) {
  return random_uniform(shape, seed, -1.0, 1.0, dtype);
}

// The reference: LSTM::unroll (one LSTMCell::step of basic ops per step),
// shaped as forward() shapes its result.
Tensor unrolled(LSTM& lstm, const Tensor& x, bool return_sequences) {
  const int64_t batch = x.dim(0), time = x.dim(1), features = x.dim(2);
  std::vector<Tensor> steps;
  for (int64_t t = 0; t < time; ++t) {
    steps.push_back(reshape(slice(x, {0, t, 0}, {batch, t + 1, features}), {batch, features}));
  }
  LSTMSequence r = lstm.unroll(steps);
  if (!return_sequences) return r.state.h;
  std::vector<Tensor> hs;
  for (const Tensor& h : r.outputs) hs.push_back(reshape(h, {batch, 1, h.dim(1)}));
  return concat(hs, 1);
}

// A loss that weighs every output differently, so a permuted or transposed
// gradient cannot pass.
Tensor weighted_loss(const Tensor& y) {
  std::vector<double> w(static_cast<size_t>(y.numel()));
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.3 + 0.1 * static_cast<double>((i * 7) % 11);
  return sum(square(y * cast(Tensor::from_vector(w, y.shape()), y.dtype())));
}

// The output, then the gradients of x and of every variable.
std::vector<Tensor> output_and_gradients(LSTM& lstm, const Tensor& x, bool fused, bool return_sequences) {
  GradientTape tape;
  tape.watch(x);
  Tensor y = fused ? lstm(x) : unrolled(lstm, x, return_sequences);
  Tensor loss = weighted_loss(y);
  std::vector<Tensor> sources{x};
  for (const Variable& v : lstm.trainable_variables()) sources.push_back(v);
  std::vector<Tensor> out{y};
  for (const std::optional<Tensor>& g : tape.gradient(loss, sources)) {
    EXPECT_TRUE(g.has_value());
    out.push_back(g.has_value() ? *g : Tensor());
  }
  return out;
}

void expect_close(const Tensor& got, const Tensor& want, double tolerance, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  std::vector<double> g = cast(got, DType::kFloat64).to_vector<double>();
  std::vector<double> w = cast(want, DType::kFloat64).to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) {
    ASSERT_NEAR(g[i], w[i], tolerance * (1.0 + std::abs(w[i]))) << what << ", element " << i;
  }
}

const char* kNames[] = {"output", "grad x", "grad kernel", "grad recurrent_kernel", "grad bias"};

TEST(LSTMSequenceTest, ValuesAndGradientsMatchTheStepByStepUnroll) {
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    const double tolerance = dtype == DType::kFloat32 ? 2e-5 : 1e-12;
    for (const Case& c : cases()) {
      for (bool sequences : {false, true}) {
        LSTM lstm(LSTMOptions(c.hidden).return_sequences(sequences));
        lstm.set_seed(7);
        Tensor x = random_tensor({c.batch, c.time, c.features}, 11, dtype);
        std::vector<Tensor> fused = output_and_gradients(lstm, x, true, sequences);
        std::vector<Tensor> reference = output_and_gradients(lstm, x, false, sequences);
        ASSERT_EQ(fused.size(), 5u);
        for (size_t k = 0; k < fused.size(); ++k) {
          const std::string where = " (" + std::string(dtype_name(dtype)) + ", batch " + std::to_string(c.batch) +
                                    ", time " + std::to_string(c.time) + ", hidden " + std::to_string(c.hidden) +
                                    (sequences ? ", return_sequences)" : ")");
          expect_close(fused[k], reference[k], tolerance, kNames[k] + where);
        }
      }
    }
  }
}

// The benchmark's step: the loss and the weights' gradients from inside a
// graft::function, compiled and replayed, against the eager reference.
TEST(LSTMSequenceTest, CompiledStepMatchesTheEagerUnroll) {
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    const double tolerance = dtype == DType::kFloat32 ? 2e-5 : 1e-12;
    LSTM lstm(LSTMOptions(3));
    lstm.set_seed(5);
    auto step = graft::function([&lstm](const Tensor& x) {
      GradientTape tape;
      Tensor loss = weighted_loss(lstm(x));
      std::vector<Tensor> out{loss};
      for (const std::optional<Tensor>& g : tape.gradient(loss, lstm.trainable_variables())) out.push_back(*g);
      return out;
    });
    for (uint64_t seed : {21, 22}) {  // capture, then replay
      Tensor x = random_tensor({2, 6, 4}, seed, dtype);
      std::vector<Tensor> compiled = step(x);
      std::vector<Tensor> reference = output_and_gradients(lstm, x, false, false);
      ASSERT_EQ(compiled.size(), 4u);
      expect_close(compiled[0], weighted_loss(reference[0]), tolerance, "loss");
      for (size_t k = 1; k < compiled.size(); ++k) {
        expect_close(compiled[k], reference[k + 1], tolerance, kNames[k + 1]);
      }
    }
  }
}

// LSTM::run from a given state against unroll from the same state: the
// output and the final h and c, and the gradients of x, h0, c0 and every
// weight, with a loss that reads all three results.
std::vector<Tensor> run_from_state(LSTM& lstm, const Tensor& x, const LSTMState& initial, bool fused) {
  GradientTape tape;
  tape.watch(x);
  tape.watch(initial.h);
  tape.watch(initial.c);
  Tensor output;
  LSTMState last;
  if (fused) {
    LSTMOutput r = lstm.run(x, initial);
    output = r.output;
    last = r.state;
  } else {
    const int64_t batch = x.dim(0), time = x.dim(1), features = x.dim(2);
    std::vector<Tensor> steps;
    for (int64_t t = 0; t < time; ++t) {
      steps.push_back(reshape(slice(x, {0, t, 0}, {batch, t + 1, features}), {batch, features}));
    }
    LSTMSequence r = lstm.unroll(steps, initial);
    output = r.state.h;
    last = r.state;
  }
  Tensor loss = weighted_loss(output) + weighted_loss(last.h * 0.5) + weighted_loss(last.c);
  std::vector<Tensor> sources{x, initial.h, initial.c};
  for (const Variable& v : lstm.trainable_variables()) sources.push_back(v);
  std::vector<Tensor> out{output, last.h, last.c};
  for (const std::optional<Tensor>& g : tape.gradient(loss, sources)) {
    EXPECT_TRUE(g.has_value());
    out.push_back(g.has_value() ? *g : Tensor());
  }
  return out;
}

TEST(LSTMSequenceTest, RunFromAGivenStateMatchesTheUnrollAndReturnsTheLastState) {
  const char* names[] = {"output", "last h", "last c", "grad x", "grad h0", "grad c0",
                         "grad kernel", "grad recurrent_kernel", "grad bias"};
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    const double tolerance = dtype == DType::kFloat32 ? 2e-5 : 1e-12;
    for (const Case& c : cases()) {
      LSTM lstm(LSTMOptions(c.hidden));
      lstm.set_seed(9);
      Tensor x = random_tensor({c.batch, c.time, c.features}, 13, dtype);
      LSTMState initial{random_tensor({c.batch, c.hidden}, 14, dtype), random_tensor({c.batch, c.hidden}, 15, dtype)};
      std::vector<Tensor> fused = run_from_state(lstm, x, initial, true);
      std::vector<Tensor> reference = run_from_state(lstm, x, initial, false);
      ASSERT_EQ(fused.size(), 9u);
      for (size_t k = 0; k < fused.size(); ++k) {
        expect_close(fused[k], reference[k], tolerance,
                     std::string(names[k]) + " (" + std::string(dtype_name(dtype)) + ", time " + std::to_string(c.time) + ")");
      }
    }
  }
}

// A sequence run in two chunks, the second from the first's last state,
// gives the values and gradients of the whole sequence in one run.
TEST(LSTMSequenceTest, TwoChunksCarryingTheStateEqualOneRun) {
  LSTM lstm(LSTMOptions(3).return_sequences(true));
  lstm.set_seed(4);
  Tensor x = random_tensor({2, 6, 2}, 17, DType::kFloat64);
  auto outputs_and_gradients = [&](bool chunked) {
    GradientTape tape;
    tape.watch(x);
    Tensor y;
    if (chunked) {
      LSTMOutput first = lstm.run(slice(x, {0, 0, 0}, {2, 4, 2}));
      LSTMOutput second = lstm.run(slice(x, {0, 4, 0}, {2, 6, 2}), first.state);
      y = concat({first.output, second.output}, 1);
    } else {
      y = lstm.run(x).output;
    }
    std::vector<Tensor> sources{x};
    for (const Variable& v : lstm.trainable_variables()) sources.push_back(v);
    std::vector<Tensor> out{y};
    for (const std::optional<Tensor>& g : tape.gradient(weighted_loss(y), sources)) out.push_back(*g);
    return out;
  };
  std::vector<Tensor> chunked = outputs_and_gradients(true), whole = outputs_and_gradients(false);
  ASSERT_EQ(chunked.size(), whole.size());
  for (size_t k = 0; k < whole.size(); ++k) expect_close(chunked[k], whole[k], 1e-12, kNames[k]);
}

TEST(LSTMSequenceTest, ACompiledRunFromAStateMatchesEager) {
  LSTM lstm(LSTMOptions(3));
  lstm.set_seed(6);
  auto step = graft::function([&lstm](const Tensor& x, const Tensor& h0, const Tensor& c0) {
    GradientTape tape;
    tape.watch(h0);
    tape.watch(c0);
    LSTMOutput r = lstm.run(x, LSTMState{h0, c0});
    Tensor loss = weighted_loss(r.output) + weighted_loss(r.state.c);
    std::vector<Tensor> out{loss};
    std::vector<Tensor> sources{h0, c0};
    for (const Variable& v : lstm.trainable_variables()) sources.push_back(v);
    for (const std::optional<Tensor>& g : tape.gradient(loss, sources)) out.push_back(*g);
    return out;
  });
  for (uint64_t seed : {31, 32}) {  // capture, then replay
    Tensor x = random_tensor({2, 5, 4}, seed, DType::kFloat64);
    Tensor h0 = random_tensor({2, 3}, seed + 10, DType::kFloat64), c0 = random_tensor({2, 3}, seed + 20, DType::kFloat64);
    std::vector<Tensor> compiled = step(x, h0, c0);
    GradientTape tape;
    tape.watch(h0);
    tape.watch(c0);
    LSTMOutput r = lstm.run(x, LSTMState{h0, c0});
    Tensor loss = weighted_loss(r.output) + weighted_loss(r.state.c);
    std::vector<Tensor> sources{h0, c0};
    for (const Variable& v : lstm.trainable_variables()) sources.push_back(v);
    std::vector<Tensor> eager{loss};
    for (const std::optional<Tensor>& g : tape.gradient(loss, sources)) eager.push_back(*g);
    ASSERT_EQ(compiled.size(), eager.size());
    for (size_t k = 0; k < eager.size(); ++k) expect_close(compiled[k], eager[k], 1e-12, "result " + std::to_string(k));
  }
}

TEST(LSTMSequenceTest, AnInitialStateOfTheWrongShapeNamesBothShapes) {
  LSTM lstm(LSTMOptions(2));
  Tensor x = ones({3, 4, 5});
  std::string what = test_util::error_text<ShapeError>([&] { lstm.run(x, LSTMState{ones({3, 2}), ones({2, 2})}); });
  GRAFT_EXPECT_CONTAINS(what, "LSTMCell 'lstm/cell' expected a state h and c of shape [3, 2], received [3, 2] and [2, 2]");
  what = test_util::error_text<ShapeError>([] { lstm_sequence(ones({4, 3, 8}), ones({2, 8}), ones({3, 2}), ones({3, 3})); });
  GRAFT_EXPECT_CONTAINS(what, "lstm_sequence: expected the initial c0 of shape [3, 2] (batch, h), got [3, 3]");
  what = test_util::error_text<ValueError>([] { lstm_sequence(ones({4, 3, 8}), ones({2, 8}), ones({3, 2})); });
  GRAFT_EXPECT_CONTAINS(what, "lstm_sequence: an initial state needs both h0 and c0, got only h0");
}

// Counts the ops applied while alive.
class OpCounter : public ops::internal::OpObserver {
 public:
  OpCounter() { ops::internal::add_observer(this); }
  ~OpCounter() override { ops::internal::remove_observer(this); }
  void on_op(OpKind, std::span<const Tensor>, const OpAttrs&, const Tensor&) override { ++count_; }
  int count() const { return count_; }

 private:
  int count_ = 0;
};

// Slicing each step out of one projection would make the backward O(T^2)
// (every slice's VJP pads to the full size); the fused sequence applies the
// same ops whatever the length, forward and backward.
TEST(LSTMSequenceTest, ForwardAndBackwardApplyAsManyOpsForAnyLength) {
  LSTM lstm(LSTMOptions(4).return_sequences(true));
  std::vector<int> counts;
  for (int64_t time : {2, 16}) {
    Tensor x = random_tensor({2, time, 3}, 3, DType::kFloat32);
    lstm(x);  // built before counting
    OpCounter counter;
    GradientTape tape;
    Tensor loss = weighted_loss(lstm(x));
    tape.gradient(loss, lstm.trainable_variables());
    counts.push_back(counter.count());
  }
  EXPECT_EQ(counts[0], counts[1]) << "ops applied for 2 steps and for 16 steps";
}

TEST(LSTMSequenceTest, AFeatureCountOtherThanTheBuiltOneNamesTheCellAndTheInput) {
  LSTM lstm(LSTMOptions(2));
  lstm(ones({2, 3, 4}));
  std::string what = test_util::error_text<ShapeError>([&] { lstm(ones({2, 3, 5})); });
  GRAFT_EXPECT_CONTAINS(what, "LSTMCell 'lstm/cell' expected a step of shape [2, 4]");
  GRAFT_EXPECT_CONTAINS(what, "received shape [2, 5] (each step of the input [2, 3, 5])");
}

TEST(LSTMSequenceTest, OpShapeErrorsNameTheOpAndTheShapes) {
  std::string what = test_util::error_text<ShapeError>([] { lstm_sequence(ones({3, 2, 8}), ones({3, 12})); });
  GRAFT_EXPECT_CONTAINS(what, "lstm_sequence: expected projections xp of shape [time, batch, 12]");
  GRAFT_EXPECT_CONTAINS(what, "got [3, 2, 8]");
  what = test_util::error_text<ShapeError>([] { lstm_sequence(ones({3, 2, 8}), ones({2, 4})); });
  GRAFT_EXPECT_CONTAINS(what, "lstm_sequence: expected a recurrent kernel u of shape [h, 4h] (h >= 1), got [2, 4]");
  what = test_util::error_text<ShapeError>(
      [] { lstm_sequence_grad(ones({3, 2, 14}), ones({2, 8}), ones({3, 2, 8})); });
  GRAFT_EXPECT_CONTAINS(what, "lstm_sequence_grad: expected grad_y of y's shape [3, 2, 14], got [3, 2, 8]");
}

}  // namespace
}  // namespace graft::nn
