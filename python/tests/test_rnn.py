"""graft.nn.LSTMCell and graft.nn.LSTM: one set of weights for every time step.

graft's promise for recurrent models: a cell applied at every step of a Python
loop creates its variables once and finds them again by path, in eager code
and inside graft.function alike.
"""
import inspect
import os

import numpy as np
import pytest

import graft

HERE = os.path.basename(__file__)


def sequence(batch=3, time=6, features=5, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, time, features)).astype(dtype)


def test_a_python_loop_applies_one_cell_at_every_step_and_creates_its_variables_once():
    x = graft.tensor(sequence())
    cell = graft.nn.LSTMCell(4); line = inspect.currentframe().f_lineno
    assert cell.input_size == 0 and not cell.built and len(cell.variables()) == 0
    state = cell(x[:, 0])  # zeros when no state is given
    epoch, created = cell.epoch, list(cell.variables())
    for t in range(1, 6):
        state = cell(x[:, t], state)
        assert cell.epoch == epoch, f"step {t} changed the structure"
    assert [v.path for v in cell.variables()] == ["lstm_cell/kernel", "lstm_cell/recurrent_kernel", "lstm_cell/bias"]
    assert [v.shape for v in cell.variables()] == [(5, 16), (4, 16), (16,)]
    assert [v.id for v in cell.variables()] == [v.id for v in created]
    assert len(cell.store) == 3 and cell.input_size == 5 and cell.hidden_size == 4
    assert all(v.created_at == f"{HERE}:{line}" for v in cell.variables())
    h, c = state
    assert h.shape == (3, 4) and c.shape == (3, 4)
    # The forget gate's bias starts at forget_bias, the other gates' at 0.
    bias = np.asarray(cell.variables()[2])
    np.testing.assert_array_equal(bias[4:8], 1.0)
    np.testing.assert_array_equal(np.concatenate([bias[:4], bias[8:]]), 0.0)
    zero_forget = graft.nn.LSTMCell(4, forget_bias=0.0)
    zero_forget(x[:, 0])
    np.testing.assert_array_equal(np.asarray(zero_forget.variables()[2]), 0.0)


def test_a_cell_inside_a_python_module_keeps_one_set_of_weights_across_calls():
    class Tagger(graft.nn.Module):
        def __init__(self):
            super().__init__("tagger")
            self.cell = self.register_module("cell", graft.nn.LSTMCell(6))
            self.head = self.register_module("head", graft.nn.Linear(2))

        def forward(self, x):
            state, outputs = None, []
            for t in range(x.shape[1]):
                state = self.cell(x[:, t], state)
                outputs.append(self.head(state.h))
            return graft.concat(outputs, axis=1)

    model = Tagger()
    assert model(sequence(time=3)).shape == (3, 6)
    assert model(sequence(time=7)).shape == (3, 14)  # a longer sequence: no new variables
    assert [p for p, _ in model.named_variables()] == ["cell/kernel", "cell/recurrent_kernel", "cell/bias",
                                                       "head/kernel", "head/bias"]


def loss_of(h):
    # Asymmetric scalarisation, so that a symmetric mistake cannot cancel out.
    weights = graft.tensor(np.linspace(0.5, 1.5, h.shape[1]))
    return graft.sqrt(graft.sum(h * h * weights)) + graft.sum(h[:, 0])


def test_gradients_through_time_match_finite_differences_in_float64():
    x = sequence(batch=2, time=4, features=2, dtype=np.float64, seed=3)
    cell = graft.nn.LSTMCell(3)
    cell.set_seed(5)

    def run(x):
        state = None
        for t in range(x.shape[1]):
            state = cell(x[:, t], state)
        return loss_of(state.h)

    xt = graft.tensor(x)
    with graft.GradientTape() as tape:
        tape.watch(xt)
        loss = run(xt)
    variables = cell.variables()
    assert all(v.dtype == graft.float64 for v in variables)
    grads = tape.gradient(loss, [xt] + variables)

    eps = 1e-6
    numeric_x = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += eps
        minus[i] -= eps
        numeric_x[i] = (float(run(graft.tensor(plus))) - float(run(graft.tensor(minus)))) / (2 * eps)
    np.testing.assert_allclose(np.asarray(grads[0]), numeric_x, rtol=1e-6, atol=1e-8)
    for v, g in zip(variables, grads[1:]):
        value = v.numpy()
        numeric = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            for sign in (1, -1):
                moved = value.copy()
                moved[i] += sign * eps
                v.assign(moved)
                numeric[i] += sign * float(run(xt)) / (2 * eps)
            v.assign(value)
        np.testing.assert_allclose(np.asarray(g), numeric, rtol=1e-6, atol=1e-8, err_msg=v.path)


def test_lstm_over_a_sequence_equals_its_cell_applied_step_by_step():
    x = sequence()
    lstm = graft.nn.LSTM(4, return_sequences=True)
    y = np.asarray(lstm(x))
    assert y.shape == (3, 6, 4)
    assert [v.path for v in lstm.variables()] == ["lstm/cell/kernel", "lstm/cell/recurrent_kernel", "lstm/cell/bias"]
    cell = lstm.cell
    assert isinstance(cell, graft.nn.LSTMCell) and cell.path == "lstm/cell"
    state = None
    for t in range(6):
        state = cell(x[:, t], state)
        np.testing.assert_allclose(np.asarray(state.h), y[:, t], rtol=1e-5, atol=1e-6)
    outputs, last = lstm.unroll(x)
    assert len(outputs) == 6
    np.testing.assert_allclose(np.asarray(outputs[-1]), y[:, -1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(last.c), np.asarray(state.c), rtol=1e-5, atol=1e-6)
    # unroll from a given state, as a list of steps: continues the sequence.
    first, middle = lstm.unroll([x[:, t] for t in range(3)])
    rest, _ = lstm.unroll([x[:, t] for t in range(3, 6)], initial_state=(middle.h, middle.c))
    np.testing.assert_allclose(np.asarray(rest[-1]), y[:, -1], rtol=1e-5, atol=1e-6)
    assert len(lstm.variables()) == 3
    # The last h alone without return_sequences, from the same weights.
    last_only = graft.nn.LSTM(4)
    last_only(x)
    for mine, theirs in zip(last_only.variables(), lstm.variables()):
        mine.assign(theirs.numpy())
    np.testing.assert_allclose(np.asarray(last_only(x)), y[:, -1], rtol=1e-5, atol=1e-6)


def test_the_fused_lstm_and_the_unrolled_cell_give_the_same_gradients():
    x = sequence(batch=2, time=5, features=3, dtype=np.float64, seed=4)
    lstm = graft.nn.LSTM(4)
    with graft.GradientTape() as tape:
        fused = loss_of(lstm(x))
    fused_grads = tape.gradient(fused, lstm.variables())
    with graft.GradientTape() as tape:
        outputs, _ = lstm.unroll(x)
        unrolled = loss_of(outputs[-1])
    unrolled_grads = tape.gradient(unrolled, lstm.variables())
    assert float(fused) == pytest.approx(float(unrolled), rel=1e-12)
    for a, b in zip(fused_grads, unrolled_grads):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-12)


def test_run_continues_from_a_given_state_and_returns_the_last_state_with_gradients():
    x = sequence(batch=2, time=6, features=3, dtype=np.float64, seed=5)
    lstm = graft.nn.LSTM(4, return_sequences=True)
    whole, last = lstm.run(x)
    np.testing.assert_allclose(np.asarray(whole), np.asarray(lstm(x)), rtol=1e-12)
    # Two chunks, the second from the first's last state, give the whole run.
    first = lstm.run(x[:, :4])
    second = lstm.run(x[:, 4:], initial_state=first.state)
    np.testing.assert_allclose(np.asarray(second.output), np.asarray(whole)[:, 4:], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(second.state.c), np.asarray(last.c), rtol=1e-12, atol=1e-14)
    assert repr(second) == "LSTMOutput(output=[2, 2, 4], LSTMState(h=[2, 4], c=[2, 4]))"
    # Gradients reach the initial state as through the step-by-step unroll.
    h0 = graft.tensor(np.random.default_rng(6).normal(size=(2, 4)))
    c0 = graft.tensor(np.random.default_rng(7).normal(size=(2, 4)))
    grads = []
    for fused in (True, False):
        with graft.GradientTape() as tape:
            tape.watch(h0)
            tape.watch(c0)
            if fused:
                _, state = lstm.run(x, (h0, c0))
            else:
                _, state = lstm.unroll(x, initial_state=(h0, c0))
            loss = loss_of(state.h) + loss_of(state.c)
        grads.append([np.asarray(g) for g in tape.gradient(loss, [h0, c0] + lstm.variables())])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match=r"expected a state h and c of shape \[2, 4\], received \[2, 4\] and \[3, 4\]"):
        lstm.run(x, (h0, np.zeros((3, 4))))


def test_lstm_inside_graft_function_is_captured_once_and_replays_as_eager():
    x = sequence()
    model = graft.nn.Sequential([graft.nn.LSTM(8), graft.nn.Linear(2)], name="rnn")
    eager = np.asarray(model(x)).copy()
    compiled = graft.function(lambda x: model(x))
    first = np.asarray(compiled(x)).copy()
    second = np.asarray(compiled(x))
    assert compiled.captures == 1 and compiled.calls == 2
    np.testing.assert_allclose(first, eager, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(first, second)


def test_a_cell_looped_inside_graft_function_trains_with_one_set_of_weights():
    x, y = sequence(batch=8, time=5, features=3, seed=1), np.arange(8) % 2
    cell, head = graft.nn.LSTMCell(6), graft.nn.Linear(2)
    opt = graft.optim.Adam(0.05)

    def logits(x):
        state = None
        for t in range(x.shape[1]):
            state = cell(x[:, t], state)
        return head(state.h)

    @graft.function
    def train_step(x, y):
        with graft.GradientTape() as tape:
            loss = graft.mean(graft.sparse_softmax_cross_entropy(logits(x), y))
        variables = cell.trainable_variables() + head.trainable_variables()
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    eager_loss = float(graft.mean(graft.sparse_softmax_cross_entropy(logits(x), y)))
    losses = [float(train_step(x, y)) for _ in range(20)]
    assert losses[0] == pytest.approx(eager_loss, rel=1e-5)
    assert losses[-1] < 0.5 * losses[0]
    assert train_step.captures == 1 and len(cell.variables()) == 3


def test_wrong_rank_or_width_raises_value_error_with_graft_message():
    lstm = graft.nn.LSTM(4)
    with pytest.raises(ValueError, match=r"LSTM 'lstm' expected an input of shape \[batch, time, features\]") as info:
        lstm(np.zeros((3, 5), np.float32))
    assert isinstance(info.value, graft.ShapeError)
    lstm(sequence())
    with pytest.raises(ValueError, match=r"built for 5 input features.*received shape \[3, 7\]"):
        lstm(np.zeros((3, 6, 7), np.float32))
    with pytest.raises(ValueError, match=r"unroll expected a list of \[batch, features\] steps"):
        lstm.unroll(np.zeros((3, 5), np.float32))
    cell = graft.nn.LSTMCell(4)
    with pytest.raises(ValueError, match=r"LSTMCell 'lstm_cell' expected a step of shape \[batch, features\]"):
        cell(np.zeros((3, 6, 5), np.float32))
    cell(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match=r"expected a step of shape \[3, 5\].*received shape \[3, 2\]"):
        cell(np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"expected a state h and c of shape \[3, 4\], received \[3, 3\]"):
        cell(np.zeros((3, 5), np.float32), (np.zeros((3, 3), np.float32), np.zeros((3, 4), np.float32)))
    with pytest.raises(TypeError, match="expected a graft.nn.LSTMState or a pair"):
        cell(np.zeros((3, 5), np.float32), "zeros")
    with pytest.raises(ValueError, match="hidden_size must be positive, got 0"):
        graft.nn.LSTM(0)


def test_state_sequence_and_layers_read_well():
    cell = graft.nn.LSTMCell(4)
    assert repr(cell) == "LSTMCell(? -> 4)"
    state = cell(np.ones((2, 3), np.float32), cell.zero_state(2))
    assert repr(cell) == "LSTMCell(3 -> 4)"
    assert repr(state) == "LSTMState(h=[2, 4], c=[2, 4])"
    assert len(state) == 2 and state[0] is not None and state[-1].shape == (2, 4)
    again = graft.nn.LSTMState(state.h, state.c)
    np.testing.assert_array_equal(np.asarray(cell(np.ones((2, 3), np.float32), again).h),
                                  np.asarray(cell(np.ones((2, 3), np.float32), tuple(state)).h))
    lstm = graft.nn.LSTM(4, return_sequences=True)
    assert repr(lstm) == "LSTM(4, return_sequences)" and lstm.hidden_size == 4
    run = lstm.unroll(sequence(time=2, features=3))
    assert repr(run) == "LSTMSequence(2 steps, LSTMState(h=[3, 4], c=[3, 4]))"
    assert "LSTM(4, return_sequences)" in lstm.summary()
    assert "forget_bias" in graft.nn.LSTMCell.__doc__ and "return_sequences" in graft.nn.LSTM.__doc__


def test_a_model_holding_an_lstm_round_trips_through_a_checkpoint(tmp_path):
    x = sequence()

    def model(seed):
        m = graft.nn.Sequential([graft.nn.LSTM(5, return_sequences=True), graft.nn.Flatten(), graft.nn.Linear(2)],
                                name="tagger")
        m.set_seed(seed)
        return m

    saved = model(1)
    opt = graft.optim.Adam(0.01)
    with graft.GradientTape() as tape:
        loss = graft.mean(graft.square(saved(x)))
    opt.apply_gradients(zip(tape.gradient(loss, saved.trainable_variables()), saved.trainable_variables()))
    path = str(tmp_path / "rnn.safetensors")
    graft.save_checkpoint(path, [saved, opt])
    expected = np.asarray(saved(x)).copy()

    fresh = model(2)
    fresh(x)
    assert not np.allclose(np.asarray(fresh(x)), expected)
    fresh_opt = graft.optim.Adam(0.01)
    report = graft.restore_checkpoint(path, [fresh, fresh_opt], strict=True)
    assert report.all_matched
    assert "tagger/layer_0/cell/recurrent_kernel" in [e.key for e in report.entries]
    np.testing.assert_array_equal(np.asarray(fresh(x)), expected)
