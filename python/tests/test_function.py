"""graft.function: capture, replay, recapture on growth, strict mode.

The model is the seed document's (docs/seed-examples.md): num_layers dense
10x10 layers on a [1, 10] input, loss mean(output^2), called with 1, 2 and
then 3 layers. In TensorFlow the tf.function version fails with "tf.function
only supports singleton tf.Variables created on the first call".
"""
import os
import sys

import numpy as np
import pytest

import graft


# The seed's model, the graft way (each layer's weights by path), shared
# with the example.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
from seed_scenario import dynamic_model as seed_model  # noqa: E402


def test_the_seed_documents_failing_example_recaptures_and_trains():
    store = graft.VariableStore("seed", seed=7)
    x = graft.random_normal([1, 10], seed=1)
    sgd = graft.optim.SGD(0.1)

    def grown_model(h, num_layers):  # TF1 style: a scope per layer, get_variable inside
        with store.root():
            for i in range(num_layers):
                with graft.variable_scope(f"layer_{i}"):
                    h = h @ graft.get_variable("weights", [10, 10], graft.init.normal(0.0, 0.3))
        return h

    @graft.function(name="seed_step")
    def seed_step(x, num_layers):
        with graft.GradientTape() as tape:
            loss = graft.mean(graft.square(grown_model(x, num_layers)))
        trained = store.trainable_variables()
        sgd.apply_gradients(zip(tape.gradient(loss, trained), trained))
        return loss

    for num_layers in (1, 2, 3):
        losses = [float(seed_step(x, num_layers)) for _ in range(4)]
        assert losses[-1] < losses[0], (num_layers, losses)
    assert [v.path for v in store.variables()] == [f"seed/layer_{i}/weights" for i in range(3)]
    assert seed_step.captures == 3 and seed_step.calls == 12
    explanation = seed_step.explain()
    assert "created seed/layer_1/weights" in explanation and "created seed/layer_2/weights" in explanation


def test_replay_equals_eager():
    store = graft.VariableStore("eq", seed=2)
    x = np.random.default_rng(0).normal(size=(4, 10)).astype(np.float32)
    compiled = graft.function(lambda x: graft.tanh(seed_model(store, x, 2)))
    first = np.asarray(compiled(x)).copy()
    second = np.asarray(compiled(x))
    np.testing.assert_allclose(first, np.asarray(graft.tanh(seed_model(store, x, 2))), rtol=1e-6)
    np.testing.assert_array_equal(first, second)
    assert compiled.captures == 1


def test_a_grown_sequential_recaptures_and_reuses_variables():
    model = graft.nn.Sequential([graft.nn.Linear(10, activation="relu"), graft.nn.Linear(2)], name="grow")
    opt = graft.optim.SGD(0.1)
    x = np.ones((3, 4), dtype=np.float32)
    y = np.array([0, 1, 0])

    def step_body(x, y):
        with graft.GradientTape() as tape:
            logits = model(x)
            loss = graft.mean(graft.sparse_softmax_cross_entropy(logits, y))
        grads = tape.gradient(loss, model.trainable_variables())
        opt.apply_gradients(list(zip(grads, model.trainable_variables())))
        return loss

    step = graft.function(step_body, name="step")

    step(x, y)
    step(x, y)
    kernel = model[0].kernel
    model.insert(1, graft.nn.Linear(10, activation="relu"))
    step(x, y)
    assert step.captures == 2 and model[0].kernel == kernel


def test_strict_mode_reproduces_tensorflows_rule_with_a_better_message():
    store = graft.VariableStore("strict", seed=7)
    x = graft.random_normal([1, 10], seed=1)
    step = graft.function(lambda x, n: graft.mean(graft.square(seed_model(store, x, n))), name="strict_step",
                          strict=True)
    step(x, 1)
    with pytest.raises(graft.Error) as info:
        step(x, 2)
    message = str(info.value)
    assert "strict/layer_1/weights" in message and "created at: seed_scenario.py:" in message and "help:" in message


def test_static_arguments_key_the_cache_and_outputs_keep_their_structure():
    calls = []

    @graft.function
    def f(x, scale, *, mode="sum"):
        calls.append((scale, mode))
        y = x * float(scale)
        return (graft.sum(y), graft.mean(y)) if mode == "both" else graft.sum(y)

    x = graft.ones([4])
    assert float(f(x, 2)) == 8.0
    assert float(f(x, 2)) == 8.0
    assert float(f(x, 3)) == 12.0
    total, average = f(x, 3, mode="both")
    assert (float(total), float(average)) == (12.0, 3.0)
    assert calls == [(2, "sum"), (3, "sum"), (3, "both")]
    with pytest.raises(TypeError, match="closure"):
        f(x, object())


def test_an_exception_in_the_python_step_propagates_and_the_function_still_works():
    @graft.function
    def f(x, fail):
        if fail:
            raise KeyError("from the step")
        return x + 1.0

    with pytest.raises(KeyError, match="from the step"):
        f(graft.ones([2]), True)
    assert np.asarray(f(graft.ones([2]), False)).tolist() == [2.0, 2.0]


def test_compiled_steps_run_from_another_python_thread():
    import threading

    store = graft.VariableStore("thread", seed=1)
    x = graft.random_normal([2, 10], seed=3)
    results = []

    def worker():
        step = graft.function(lambda x: graft.sum(seed_model(store, x, 2)))
        results.extend(float(step(x)) for _ in range(3))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert len(results) == 3 and results[0] == results[2]
