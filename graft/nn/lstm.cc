#include "graft/nn/lstm.h"

#include "graft/base/check.h"
#include "graft/nn/internal/sequence.h"
#include "graft/ops/ops.h"

namespace graft::nn {
namespace {

// Zeros, and `forget_bias` for the forget gate's slice [h, 2h).
Initializer lstm_bias_init(int64_t hidden, double forget_bias) {
  return Initializer("lstm_bias", [hidden, forget_bias](const Tensor& out, uint64_t) {
    visit_dtype(out.dtype(), [&]<typename T>(T) {
      T* b = out.data<T>();
      for (int64_t i = 0, n = out.numel(); i < n; ++i) b[i] = i >= hidden && i < 2 * hidden ? static_cast<T>(forget_bias) : T(0);
    });
  });
}

}  // namespace

// --- LSTMCell ------------------------------------------------------------------

LSTMCell::LSTMCell(LSTMCellOptions options, std::source_location location)
    : Module("lstm_cell", location), options_(options) {
  GRAFT_CHECK(options_.hidden_size() > 0, "LSTMCellOptions: hidden_size must be positive, got ", options_.hidden_size());
}

void LSTMCell::on_build(const Shape& input_shape, DType dtype) {
  GRAFT_CHECK_AS(DTypeError, is_floating(dtype), "LSTMCell '", path(), "' needs a float32 or float64 input, received ",
                 dtype_name(dtype));
  const int64_t h = options_.hidden_size();
  input_size_ = input_shape[input_shape.rank() - 1];
  VariableOptions vo = VariableOptions().dtype(dtype);
  kernel_ = add_variable("kernel", {input_size_, 4 * h}, init::glorot_uniform(), vo);
  recurrent_kernel_ = add_variable("recurrent_kernel", {h, 4 * h}, init::orthogonal(), vo);
  bias_ = add_variable("bias", {4 * h}, lstm_bias_init(h, options_.forget_bias()), vo);
}

LSTMState LSTMCell::step(const Tensor& x, const LSTMState& state) {
  const int64_t h = options_.hidden_size();
  GRAFT_CHECK_AS(ShapeError, x.rank() == 2, "LSTMCell '", path(), "' expected a step of shape [batch, ",
                 input_size_ > 0 ? std::to_string(input_size_) : std::string("features"), "], received shape ",
                 x.shape().to_string(),
                 "\n  help: a cell takes one time step; for a [batch, time, features] sequence use nn::LSTM, or "
                 "apply the cell to each step in turn");
  ensure_built(x);
  check_input_dtype("LSTMCell", x, kernel_.dtype());
  check_features(x.shape(), x.shape());
  check_state(state, x.shape()[0]);
  // z = x W + h U + b, [batch, 4h], viewed as [batch, 4, h] to split the gates.
  Tensor z = reshape(matmul(x, kernel_) + matmul(state.h, recurrent_kernel_) + bias_, {-1, 4, h});
  Tensor i = sigmoid(internal::select(z, 1, 0));
  Tensor f = sigmoid(internal::select(z, 1, 1));
  Tensor g = tanh(internal::select(z, 1, 2));
  Tensor o = sigmoid(internal::select(z, 1, 3));
  Tensor c = f * state.c + i * g;
  return {o * tanh(c), c};
}

void LSTMCell::check_features(const Shape& step, const Shape& input) const {
  GRAFT_CHECK_AS(ShapeError, step[1] == input_size_, "LSTMCell '", path(), "' expected a step of shape [", step[0],
                 ", ", input_size_, "] (it was built for ", input_size_, " input features: kernel ",
                 kernel_.shape().to_string(), "), received shape ", step.to_string(),
                 step == input ? std::string() : " (each step of the input " + input.to_string() + ")",
                 "\n  help: a cell's input size is fixed by its first step");
}

void LSTMCell::check_state(const LSTMState& state, int64_t batch) const {
  const Shape state_shape{batch, options_.hidden_size()};
  GRAFT_CHECK_AS(ShapeError, state.h.defined() && state.c.defined() && state.h.shape() == state_shape &&
                                 state.c.shape() == state_shape,
                 "LSTMCell '", path(), "' expected a state h and c of shape ", state_shape.to_string(), ", received ",
                 state.h.defined() ? state.h.shape().to_string() : "none", " and ",
                 state.c.defined() ? state.c.shape().to_string() : "none",
                 "\n  help: start from zero_state(batch) or the previous step's state");
  check_input_dtype("LSTMCell", state.h, kernel_.dtype(), "state h");
  check_input_dtype("LSTMCell", state.c, kernel_.dtype(), "state c");
}

Tensor LSTMCell::sequence(const Tensor& x, const std::optional<LSTMState>& initial) {
  GRAFT_CHECK_AS(ShapeError, x.rank() == 3 && x.shape()[1] > 0, "LSTMCell '", path(),
                 "' expected a sequence of shape [batch, time, features] with time >= 1, received shape ",
                 x.shape().to_string(), "\n  help: for one time step of shape [batch, features], call step()");
  ensure_built(x);
  check_input_dtype("LSTMCell", x, kernel_.dtype());
  check_features(Shape{x.shape()[0], x.shape()[2]}, x.shape());
  // Every step's input projection (bias included) in one product, time-major
  // so that each step's rows are contiguous for the recurrence.
  Tensor xp = linear(permute(x, {1, 0, 2}), kernel_, bias_);
  if (!initial) return lstm_sequence(xp, recurrent_kernel_);
  check_state(*initial, x.shape()[0]);
  return lstm_sequence(xp, recurrent_kernel_, initial->h, initial->c);
}

LSTMState LSTMCell::zero_state(int64_t batch, DType dtype) const {
  return {zeros({batch, options_.hidden_size()}, dtype), zeros({batch, options_.hidden_size()}, dtype)};
}

Tensor LSTMCell::forward(const Tensor& x) {
  GRAFT_CHECK_AS(ShapeError, x.rank() == 2, "LSTMCell '", path(), "' expected a step of shape [batch, features], "
                 "received shape ", x.shape().to_string(),
                 "\n  help: a cell takes one time step; for a [batch, time, features] sequence use nn::LSTM");
  return step(x, zero_state(x.shape()[0], x.dtype())).h;
}

std::string LSTMCell::describe() const {
  return graft::base::internal::str("LSTMCell(", input_size_ > 0 ? std::to_string(input_size_) : std::string("?"), " -> ",
                       options_.hidden_size(), ")");
}

// --- LSTM ----------------------------------------------------------------------

LSTM::LSTM(LSTMOptions options, std::source_location location) : Module("lstm", location), options_(options) {
  cell_ = register_module(
      "cell", LSTMCell(LSTMCellOptions(options.hidden_size()).forget_bias(options.forget_bias()), location), location);
}

LSTMSequence LSTM::unroll(const std::vector<Tensor>& steps, const std::optional<LSTMState>& initial) {
  GRAFT_CHECK_AS(ShapeError, !steps.empty(), "LSTM '", path(), "' was given an empty sequence\n"
                 "  help: a sequence needs at least one step");
  ensure_built(steps[0]);
  LSTMSequence out;
  out.state = initial ? *initial : cell_->zero_state(steps[0].rank() == 2 ? steps[0].shape()[0] : 1, steps[0].dtype());
  out.outputs.reserve(steps.size());
  for (const Tensor& x : steps) {
    out.state = cell_->step(x, out.state);
    out.outputs.push_back(out.state.h);
  }
  return out;
}

Tensor LSTM::forward(const Tensor& x) { return run(x).output; }

LSTMOutput LSTM::run(const Tensor& x, const std::optional<LSTMState>& initial) {
  GRAFT_CHECK_AS(ShapeError, x.rank() == 3 && x.shape()[1] > 0, "LSTM '", path(),
                 "' expected an input of shape [batch, time, features] with time >= 1, received shape ",
                 x.shape().to_string(), "\n  help: for a list of [batch, features] steps, call unroll()");
  ensure_built(x);
  // y [time, batch, 7h]: c is its fifth h columns, h its last (graft/ops/ops.h).
  Tensor y = cell_->sequence(x, initial);
  const int64_t steps = x.shape()[1], batch = x.shape()[0], h = options_.hidden_size();
  auto last = [&](int64_t column) {
    return reshape(slice(y, {steps - 1, 0, column * h}, {steps, batch, (column + 1) * h}), {batch, h});
  };
  LSTMOutput out;
  out.state = {last(6), last(4)};
  out.output = options_.return_sequences() ? permute(slice(y, {0, 0, 6 * h}, {steps, batch, 7 * h}), {1, 0, 2})
                                           : out.state.h;
  return out;
}

std::string LSTM::describe() const {
  return graft::base::internal::str("LSTM(", options_.hidden_size(), options_.return_sequences() ? ", return_sequences" : "", ")");
}

}  // namespace graft::nn
