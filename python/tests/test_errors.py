"""Bad input from Python is a Python exception with graft's message, never a crash."""
import numpy as np
import pytest

import graft


def test_bad_calls_raise_python_exceptions(tmp_path):
    x = graft.ones([2, 3])
    model = graft.nn.Sequential([graft.nn.Linear(4)], name="bad")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\xff" * 64)
    cases = [
        (ValueError, "at most 8 dimensions", lambda: graft.tensor(np.zeros((1,) * 9, dtype=np.float32))),
        (ValueError, "[2, 3]", lambda: graft.reshape(x, [5])),
        (ValueError, "", lambda: model(graft.ones([2]))),
        (IndexError, "out of range", lambda: model[3]),
        (ValueError, "it has 1 layer,", lambda: model.remove(4)),
        (TypeError, "", lambda: graft.edit.widen(graft.nn.Linear(3), 0, 8)),
        (OSError, "garbage.safetensors", lambda: graft.restore_checkpoint(str(garbage), [model])),
        (TypeError, "expected a graft.Tensor", lambda: graft.GradientTape().gradient("loss", [x])),
        (ValueError, "activation", lambda: graft.nn.Linear(3, activation="swish")),
        (BufferError, "symbolic", lambda: graft.function(lambda t: memoryview(t))(x)),
        (ValueError, "", lambda: graft.function(lambda t: float(t))(graft.ones([1]))),
        (ValueError, "already has a parent", lambda: graft.nn.Sequential([model[0]], name="other")),
        (ValueError, "growth event", lambda: graft.parse_growth_plan("widen@3")),
        (LookupError, "no/such", lambda: graft.VariableStore("no").root().child("such", reuse=True).variable("w", [1])),
    ]
    for error, text, call in cases:
        with pytest.raises(error) as info:
            call()
        assert text in str(info.value), (text, str(info.value))


def test_a_retired_variable_in_a_compiled_step_is_an_error_not_a_crash():
    model = graft.nn.Sequential([graft.nn.Linear(4), graft.nn.Linear(2)], name="retire")
    x = graft.ones([3, 5])
    model(x)
    stale = model[0].kernel
    model.remove(0)
    step = graft.function(lambda x: graft.sum(graft.matmul(x, stale)))
    with pytest.raises(graft.Error, match="retired"):
        step(x)
