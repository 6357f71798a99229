// graft.nn.LSTMCell, graft.nn.LSTM and their state types.
//
//   cell = graft.nn.LSTMCell(32)                 # builds from its first step
//   state = cell.zero_state(batch)
//   for t in range(time):                        # one set of weights, found again by path
//       state = cell(x[:, t], state)             # LSTMState(h, c); `h, c = state` works
//   lstm = graft.nn.LSTM(32, return_sequences=True)
//   y = lstm(x)                                  # [batch, time, features] -> [batch, time, 32]
//   outputs, state = lstm.unroll(x)              # every h, and the last state
//   y, state = lstm.run(x, state)                # fused, from a given state
//
// The cell's variables (kernel, recurrent_kernel, bias) are created once, by
// path, on the first step; every later step, call, retrace or recapture finds
// them again, so their number never depends on the sequence length.
#include "graft/nn/lstm.h"

#include "bindings.h"

namespace graft::python {
namespace {

// A state from Python: an LSTMState, or a pair (h, c) of tensor-likes.
nn::LSTMState to_state(py::handle obj) {
  if (py::isinstance<nn::LSTMState>(obj)) return obj.cast<nn::LSTMState>();
  if ((py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj)) && py::len(obj) == 2) {
    auto pair = py::reinterpret_borrow<py::sequence>(obj);
    return {to_tensor(pair[0]), to_tensor(pair[1])};
  }
  throw py::type_error("LSTM state: expected a graft.nn.LSTMState or a pair (h, c) of tensors, got " +
                       py::str(py::type::of(obj).attr("__name__")).cast<std::string>() +
                       "\n  help: start from cell.zero_state(batch), or pass None for zeros");
}

// A state argument that may be None (the zero state).
std::optional<nn::LSTMState> to_optional_state(py::handle obj) {
  if (obj.is_none()) return std::nullopt;
  return to_state(obj);
}

// The steps of a sequence: a list of [batch, features] tensor-likes, or one
// [batch, time, features] tensor split along time.
std::vector<Tensor> to_steps(py::handle obj, const nn::Module& lstm) {
  std::vector<Tensor> steps;
  if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj)) {
    for (py::handle step : obj) steps.push_back(to_tensor(step));
    return steps;
  }
  Tensor x = to_tensor(obj);
  GRAFT_CHECK_AS(ShapeError, x.rank() == 3, "LSTM '", lstm.path(),
                 "'.unroll expected a list of [batch, features] steps or one tensor of shape [batch, time, features], "
                 "received shape ",
                 x.shape().to_string(), "\n  help: for a single step, call the cell: lstm.cell(x, state)");
  const int64_t batch = x.shape()[0], time = x.shape()[1], features = x.shape()[2];
  steps.reserve(static_cast<size_t>(time));
  for (int64_t t = 0; t < time; ++t) {
    steps.push_back(reshape(slice(x, {0, t, 0}, {batch, t + 1, features}), {batch, features}));
  }
  return steps;
}

std::string state_repr(const nn::LSTMState& s) {
  auto shape = [](const Tensor& t) { return t.defined() ? t.shape().to_string() : std::string("none"); };
  return "LSTMState(h=" + shape(s.h) + ", c=" + shape(s.c) + ")";
}

void init_states(py::module_& nn_module) {
  py::class_<nn::LSTMState>(nn_module, "LSTMState", R"doc(
An LSTM's state between steps: h and c, each [batch, hidden]. Unpacks as a
pair (`h, c = state`), and a pair (h, c) is accepted wherever a state is.)doc")
      .def(py::init([](py::handle h, py::handle c) { return nn::LSTMState{to_tensor(h), to_tensor(c)}; }),
           py::arg("h"), py::arg("c"))
      .def_readwrite("h", &nn::LSTMState::h, "The hidden state (the cell's output), [batch, hidden].")
      .def_readwrite("c", &nn::LSTMState::c, "The cell state, [batch, hidden].")
      .def("__len__", [](const nn::LSTMState&) { return 2; })
      .def("__getitem__",
           [](const nn::LSTMState& s, int64_t i) {
             if (i < 0) i += 2;
             if (i < 0 || i > 1) throw py::index_error("LSTMState index out of range (it holds h and c)");
             return i == 0 ? s.h : s.c;
           })
      .def("__iter__", [](const nn::LSTMState& s) { return py::iter(py::make_tuple(s.h, s.c)); })
      .def("__repr__", &state_repr);

  py::class_<nn::LSTMSequence>(nn_module, "LSTMSequence", R"doc(
What LSTM.unroll returns: `outputs` (h at every step, a list of [batch,
hidden] tensors) and `state` (the LSTMState after the last step). Unpacks as
`outputs, state = lstm.unroll(x)`.)doc")
      .def_readonly("outputs", &nn::LSTMSequence::outputs)
      .def_readonly("state", &nn::LSTMSequence::state)
      .def("__len__", [](const nn::LSTMSequence&) { return 2; })
      .def("__iter__", [](const nn::LSTMSequence& s) { return py::iter(py::make_tuple(s.outputs, s.state)); })
      .def("__repr__", [](const nn::LSTMSequence& s) {
        return "LSTMSequence(" + std::to_string(s.outputs.size()) + " steps, " + state_repr(s.state) + ")";
      });

  py::class_<nn::LSTMOutput>(nn_module, "LSTMOutput", R"doc(
What LSTM.run returns: `output` (what lstm(x) returns) and `state` (the
LSTMState after the last step). Unpacks as `output, state = lstm.run(x)`.)doc")
      .def_readonly("output", &nn::LSTMOutput::output)
      .def_readonly("state", &nn::LSTMOutput::state)
      .def("__len__", [](const nn::LSTMOutput&) { return 2; })
      .def("__iter__", [](const nn::LSTMOutput& o) { return py::iter(py::make_tuple(o.output, o.state)); })
      .def("__repr__", [](const nn::LSTMOutput& o) {
        return "LSTMOutput(output=" + o.output.shape().to_string() + ", " + state_repr(o.state) + ")";
      });
}

void init_cell(py::module_& nn_module) {
  py::class_<nn::LSTMCell, nn::Module, std::shared_ptr<nn::LSTMCell>>(nn_module, "LSTMCell", R"doc(
One LSTM step (Keras' gate layout [i | f | g | o]):
    z = x @ kernel + h @ recurrent_kernel + bias
    c' = sigmoid(f) * c + sigmoid(i) * tanh(g),   h' = sigmoid(o) * tanh(c')

LSTMCell(hidden_size, *, forget_bias=1.0). Builds on its first step from the
input's feature size and dtype: kernel [in, 4h] (glorot_uniform),
recurrent_kernel [h, 4h] (orthogonal), bias [4h] (zeros, forget_bias for the
forget gate). Apply it at every time step of a Python loop: the weights are
created once, by path, and found again at every later step.

cell(x, state=None) takes x [batch, features] and a state (an LSTMState or
a pair (h, c); zeros when None) and returns the next LSTMState. A wrong rank
or feature count raises graft.ShapeError (a ValueError) naming the cell.)doc")
      .def(py::init([](int64_t hidden_size, double forget_bias) {
             return std::make_shared<nn::LSTMCell>(nn::LSTMCellOptions(hidden_size).forget_bias(forget_bias),
                                                   caller_location());
           }),
           py::arg("hidden_size"), py::kw_only(), py::arg("forget_bias") = 1.0)
      .def(
          "__call__",
          [](nn::LSTMCell& cell, py::handle x, py::handle state) {
            Tensor input = to_tensor(x);
            std::optional<nn::LSTMState> given = to_optional_state(state);
            py::gil_scoped_release release;
            if (given) return cell.step(input, *given);
            // A wrong rank reaches step(), whose error names the cell.
            const int64_t batch = input.rank() == 2 ? input.shape()[0] : 1;
            return cell.step(input, cell.zero_state(batch, input.dtype()));
          },
          py::arg("x"), py::arg("state") = py::none(), "One step: returns the next LSTMState.")
      .def(
          "zero_state",
          [](const nn::LSTMCell& cell, int64_t batch, DType dtype) { return cell.zero_state(batch, dtype); },
          py::arg("batch"), py::arg("dtype") = DType::kFloat32, "Zeros for h and c, [batch, hidden] each.")
      .def_property_readonly("hidden_size", &nn::LSTMCell::hidden_size)
      .def_property_readonly("input_size", &nn::LSTMCell::input_size, "The input feature size, 0 until built.");
}

void init_lstm(py::module_& nn_module) {
  py::class_<nn::LSTM, nn::Module, std::shared_ptr<nn::LSTM>>(nn_module, "LSTM", R"doc(
An LSTMCell unrolled over a sequence, one set of weights for every step (its
variables live under the child "cell": lstm/cell/kernel, ...).

LSTM(hidden_size, *, return_sequences=False, forget_bias=1.0).
lstm(x) takes x [batch, time, features] and returns the last h [batch,
hidden], or every h as [batch, time, hidden] with return_sequences=True; it
runs the fused recurrence (one backward sweep, one product per weight).
lstm.run(x, initial_state=None) is the same fused recurrence from a given
state (an LSTMState or a pair (h, c); zeros when None) and returns an
LSTMOutput (output, state): the state after the last step, as PyTorch's
(h_n, c_n) or Keras' return_state, with gradients reaching the initial state.
lstm.unroll(x, initial_state=None) runs the cell step by step from basic ops
(any order of derivative) and returns an LSTMSequence (outputs, state).)doc")
      .def(py::init([](int64_t hidden_size, bool return_sequences, double forget_bias) {
             return std::make_shared<nn::LSTM>(
                 nn::LSTMOptions(hidden_size).return_sequences(return_sequences).forget_bias(forget_bias),
                 caller_location());
           }),
           py::arg("hidden_size"), py::kw_only(), py::arg("return_sequences") = false, py::arg("forget_bias") = 1.0)
      .def(
          "run",
          [](nn::LSTM& lstm, py::handle x, py::handle initial_state) {
            Tensor input = to_tensor(x);
            std::optional<nn::LSTMState> initial = to_optional_state(initial_state);
            py::gil_scoped_release release;
            return lstm.run(input, initial);
          },
          py::arg("x"), py::arg("initial_state") = py::none(),
          "The fused recurrence over x [batch, time, features] from `initial_state` (zeros when None); returns an "
          "LSTMOutput (output, state).")
      .def(
          "unroll",
          [](nn::LSTM& lstm, py::handle steps, py::handle initial_state) {
            std::vector<Tensor> inputs = to_steps(steps, lstm);
            std::optional<nn::LSTMState> initial = to_optional_state(initial_state);
            py::gil_scoped_release release;
            return lstm.unroll(inputs, initial);
          },
          py::arg("steps"), py::arg("initial_state") = py::none(),
          "Runs the cell over `steps` (a list of [batch, features] tensors, or one [batch, time, features] tensor) "
          "from `initial_state` (zeros when None); returns an LSTMSequence.")
      .def_property_readonly(
          "cell", [](const nn::LSTM& lstm) { return lstm.children().at(0); }, "The LSTMCell, the child \"cell\".")
      .def_property_readonly("hidden_size", [](nn::LSTM& lstm) { return lstm.cell().hidden_size(); });
}

}  // namespace

void init_rnn(py::module_& m) {
  py::module_ nn_module = m.attr("nn").cast<py::module_>();
  init_states(nn_module);
  init_cell(nn_module);
  init_lstm(nn_module);
}

}  // namespace graft::python
