// graft/nn/lstm.h: an LSTM cell and an LSTM that unrolls it over a sequence
// of any length, with one set of weights.
//
//   nn::LSTM lstm(nn::LSTMOptions(32).return_sequences(true));
//   Tensor h = lstm(x);                  // x [batch, time, features] -> [batch, time, 32]
//   nn::LSTMSequence r = lstm.unroll(steps);  // steps: time tensors [batch, features]
//   r.outputs.back();  r.state.c;
//   nn::LSTMOutput o = lstm.run(x, state);    // from a given state; o.state is the last
//
// LSTMCell builds on its first step from the input's feature size: `kernel`
// [in, 4h] (glorot_uniform), `recurrent_kernel` [h, 4h] (orthogonal) and
// `bias` [4h] (zeros, except 1 for the forget gate), in the first input's
// dtype. Gates are stacked in the order input, forget, candidate, output
// (Keras' layout), so z = x kernel + h recurrent_kernel + bias splits as
// [i | f | g | o]:
//   c' = sigmoid(f) * c + sigmoid(i) * tanh(g),   h' = sigmoid(o) * tanh(c')
// The weights are created once, by path, and every time step of every call
// reuses them: the number of variables does not depend on the sequence
// length, and a sequence's gradient sums over its steps.
//
// LSTM owns its cell as the child "cell" (lstm/cell/kernel, ...).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "graft/nn/module.h"

namespace graft::nn {

// An LSTM's state between steps.
struct LSTMState {
  Tensor h;  // [batch, hidden]
  Tensor c;  // [batch, hidden]
};

// An LSTMCell's settings.
class LSTMCellOptions {
 public:
  // `hidden_size` units (> 0, checked by LSTMCell).
  explicit LSTMCellOptions(int64_t hidden_size) : hidden_size_(hidden_size) {}
  // The forget gate's initial bias (1 by default, as Keras' unit_forget_bias).
  LSTMCellOptions& forget_bias(double b) { forget_bias_ = b; return *this; }

  // The values set above, or their defaults.
  int64_t hidden_size() const { return hidden_size_; }
  double forget_bias() const { return forget_bias_; }

 private:
  int64_t hidden_size_;
  double forget_bias_ = 1.0;
};

// One LSTM step (header comment); builds from its first input.
class LSTMCell : public Module {
 public:
  // Throws ValueError when hidden_size is not positive.
  explicit LSTMCell(LSTMCellOptions options, std::source_location location = std::source_location::current());

  // One step: x [batch, in], state h and c [batch, hidden]. ShapeError naming
  // the cell's path for other shapes.
  LSTMState step(const Tensor& x, const LSTMState& state);
  // A whole sequence x [batch, time, in] (time >= 1) from `initial` (the
  // zero state when absent), in two ops: every step's input projection as
  // one product (linear), then the recurrence (lstm_sequence, whose gradient
  // is one backward sweep and one product per weight). Returns
  // lstm_sequence's y [time, batch, 7h] (graft/ops/ops.h); its fifth h
  // columns are c, its last h. The same values as step() run over the
  // steps. ShapeError / DTypeError as step().
  Tensor sequence(const Tensor& x, const std::optional<LSTMState>& initial = std::nullopt);
  // Zeros for h and c.
  LSTMState zero_state(int64_t batch, DType dtype = DType::kFloat32) const;
  // One step from the zero state; returns h.
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

  // The number of units.
  int64_t hidden_size() const { return options_.hidden_size(); }
  // The input feature size, 0 until built.
  int64_t input_size() const { return input_size_; }

 protected:
  void on_build(const Shape& input_shape, DType dtype) override;

 private:
  // ShapeError unless a step's feature count (step [batch, features]) is the
  // built input size; `input` is the tensor the step came from.
  void check_features(const Shape& step, const Shape& input) const;
  // ShapeError / DTypeError unless h and c are [batch, hidden] in the
  // kernel's dtype.
  void check_state(const LSTMState& state, int64_t batch) const;

  LSTMCellOptions options_;
  int64_t input_size_ = 0;
  Variable kernel_;
  Variable recurrent_kernel_;
  Variable bias_;
};

// An LSTM's settings.
class LSTMOptions {
 public:
  // `hidden_size` units (> 0, checked by the cell).
  explicit LSTMOptions(int64_t hidden_size) : hidden_size_(hidden_size) {}
  // forward() returns every step's h, not only the last (off by default).
  LSTMOptions& return_sequences(bool on) { return_sequences_ = on; return *this; }
  // The forget gate's initial bias (1 by default).
  LSTMOptions& forget_bias(double b) { forget_bias_ = b; return *this; }

  // The values set above, or their defaults.
  int64_t hidden_size() const { return hidden_size_; }
  bool return_sequences() const { return return_sequences_; }
  double forget_bias() const { return forget_bias_; }

 private:
  int64_t hidden_size_;
  bool return_sequences_ = false;
  double forget_bias_ = 1.0;
};

// What LSTM::unroll() returns.
struct LSTMSequence {
  std::vector<Tensor> outputs;  // h at every step, [batch, hidden] each
  LSTMState state;              // after the last step
};

// What LSTM::run() returns.
struct LSTMOutput {
  Tensor output;    // what forward() returns
  LSTMState state;  // after the last step
};

// An LSTMCell unrolled over a sequence, one set of weights for every step.
class LSTM : public Module {
 public:
  // Throws ValueError when hidden_size is not positive.
  explicit LSTM(LSTMOptions options, std::source_location location = std::source_location::current());

  // x [batch, time, features] (time >= 1). Returns the last h [batch,
  // hidden], or every h as [batch, time, hidden] with return_sequences(true).
  // Runs the fused sequence (LSTMCell::sequence): O(time) forward and
  // backward, weight gradients as one product each over all steps.
  Tensor forward(const Tensor& x) override;
  // forward() from `initial` (zeros when absent), also returning the state
  // after the last step (PyTorch's (h_n, c_n), Keras' return_state): the
  // same fused sequence, and gradients reach the initial state. An encoder's
  // final state can start a decoder; a long sequence can run in chunks,
  // each from the last one's state.
  LSTMOutput run(const Tensor& x, const std::optional<LSTMState>& initial = std::nullopt);
  // Steps [batch, features] each, from `initial` (zeros when absent), one
  // LSTMCell::step() per step, built from basic ops (so any order of
  // derivative works); the same values as forward().
  LSTMSequence unroll(const std::vector<Tensor>& steps, const std::optional<LSTMState>& initial = std::nullopt);
  std::string describe() const override;

  // The cell, the child "cell".
  LSTMCell& cell() { return *cell_; }

 private:
  LSTMOptions options_;
  std::shared_ptr<LSTMCell> cell_;
};

}  // namespace graft::nn
