"""graft.function on methods (a descriptor: one compiled function per instance) and on bound methods."""
import gc
import weakref

import numpy as np
import pytest

import graft


class Trainer:
    def __init__(self, name="mlp", lr=0.1):
        self.model = graft.nn.Sequential([graft.nn.Linear(8, activation="tanh"), graft.nn.Linear(2)], name=name)
        self.model.set_seed(3)
        self.opt = graft.optim.SGD(lr)

    @graft.function
    def step(self, x, y):
        """One SGD step; returns the loss."""
        with graft.GradientTape() as tape:
            loss = graft.mean(graft.sparse_softmax_cross_entropy(self.model(x), y))
        variables = self.model.trainable_variables()
        self.opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    def evaluate(self, x):
        return self.model(x)


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def test_a_decorated_method_gives_each_instance_its_own_compiled_function():
    x, y = data()
    fast, slow = Trainer(lr=0.5), Trainer(lr=0.01)
    assert isinstance(Trainer.step, graft.Function) and Trainer.step.captures == 0
    assert isinstance(fast.step, graft.BoundFunction) and isinstance(fast.step.function, graft.Function)
    assert fast.step.function is fast.step.function and fast.step == fast.step and fast.step != slow.step
    assert fast.step.__self__ is fast
    assert fast.step.__name__ == "step" and fast.step.__doc__ == "One SGD step; returns the loss."
    fast_losses = [float(fast.step(x, y)) for _ in range(10)]
    slow_losses = [float(slow.step(x, y)) for _ in range(3)]
    # Each instance captured once with its own model and optimizer, and replays it.
    assert (fast.step.captures, fast.step.calls) == (1, 10)
    assert (slow.step.captures, slow.step.calls) == (1, 3)
    assert fast_losses[-1] < 0.7 * fast_losses[0]
    assert slow_losses[0] == pytest.approx(fast_losses[0], rel=1e-6)  # the same seeded start
    assert slow_losses[-1] > fast_losses[-1]
    assert fast.opt.iterations == 10 and slow.opt.iterations == 3
    assert Trainer.step.captures == 0 and repr(fast.step.function) == "<graft.Function step: 1 captures, 10 calls>"
    assert repr(fast.step).startswith("<bound <graft.Function step: 1 captures, 10 calls> of <")
    # A temporary instance lives for its call, as with a Python bound method.
    assert float(Trainer(lr=0.5).step(x, y)) == pytest.approx(fast_losses[0], rel=1e-6)


def test_a_compiled_method_replays_what_the_method_computes_eagerly():
    x, _ = data()

    class Scaler:
        def __init__(self):
            self.model = graft.nn.Sequential([graft.nn.Linear(3)], name="scaler")

        @graft.function(name="scaled")
        def scaled(self, x, factor):
            return self.model(x) * factor

    s = Scaler()
    eager = np.asarray(s.model(x)) * 2.0
    np.testing.assert_allclose(np.asarray(s.scaled(x, 2.0)), eager, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(s.scaled(x, factor=2.0)), eager, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(s.scaled(x, 2.0)), eager, rtol=1e-6)
    assert s.scaled.captures == 2 and s.scaled.calls == 3  # positional and keyword calls key apart


def test_an_instance_is_freed_and_its_compiled_function_with_it():
    x, y = data()
    trainer = Trainer()
    trainer.step(x, y)
    ref, key = weakref.ref(trainer), id(trainer)
    assert key in Trainer.step._per_instance
    compiled = trainer.step.function
    del trainer
    gc.collect()
    assert ref() is None  # the compiled function holds no strong reference to self
    assert key not in Trainer.step._per_instance
    with pytest.raises(ReferenceError, match="the Trainer instance that step was taken from no longer exists"):
        compiled(x, y)


def test_a_bound_method_compiles_and_a_cycle_through_it_is_collected():
    x, y = data()
    trainer = Trainer()
    trainer.fast_eval = graft.function(trainer.evaluate)  # trainer -> Function -> bound method -> trainer
    first = np.asarray(trainer.fast_eval(x)).copy()
    np.testing.assert_array_equal(np.asarray(trainer.fast_eval(x)), first)
    np.testing.assert_allclose(first, np.asarray(trainer.evaluate(x)), rtol=1e-6)
    assert trainer.fast_eval.captures == 1 and trainer.fast_eval.__name__ == "evaluate"
    ref = weakref.ref(trainer)
    del trainer
    gc.collect()
    assert ref() is None


def test_instances_without_weak_references_are_told_what_to_do():
    class Slotted:
        __slots__ = ("scale",)

        def __init__(self):
            self.scale = 2.0

        @graft.function
        def run(self, x):
            return x * self.scale

    with pytest.raises(TypeError, match=r"must support weak references[\s\S]*help: add '__weakref__' to Slotted"):
        Slotted().run(np.ones(2, np.float32))

    class SlottedWeak(Slotted):
        __slots__ = ("__weakref__",)

    np.testing.assert_array_equal(np.asarray(SlottedWeak().run(np.ones(2, np.float32))), [2.0, 2.0])
