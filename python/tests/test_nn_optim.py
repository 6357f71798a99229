"""nn layers, Sequential growth, optimizers, edits, checkpoints."""
import os

import numpy as np
import pytest

import graft

HERE = os.path.basename(__file__)


def data(n=64, features=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5).astype(np.int64)
    return x, y % classes


def mlp(name="mlp", hidden=16, classes=3):
    model = graft.nn.Sequential([graft.nn.Linear(hidden, activation="relu"), graft.nn.Linear(classes)], name=name)
    model.set_seed(1)
    return model


def test_sequential_builds_lazily_and_insert_remove_keep_paths():
    model = mlp()
    x, _ = data()
    assert model(x).shape == (64, 3)
    assert [p for p, _ in model.named_variables()] == ["layer_0/kernel", "layer_0/bias", "layer_1/kernel",
                                                       "layer_1/bias"]
    epoch = model.epoch
    model.insert(1, graft.nn.Linear(16, activation="relu"))
    assert model.epoch > epoch and len(model) == 3
    model(x)
    assert "mlp/layer_2/kernel" in [v.path for v in model.variables()]
    old = model[0].kernel
    model.remove(0)
    assert old.is_retired and "Sequential::remove(0)" in old.retirement
    assert all(not v.path.startswith("mlp/layer_0/") for v in model.variables())


def test_layer_records_its_python_line():
    model = graft.nn.Sequential(name="where")
    model.add(graft.nn.Linear(2)); here = __import__("inspect").currentframe().f_lineno
    model(np.ones((1, 3), dtype=np.float32))
    assert model[0].kernel.created_at == f"{HERE}:{here}"


def test_adam_trains_and_slots_follow_growth():
    x, y = data()
    model = mlp()
    opt = graft.optim.Adam(0.05)
    losses = []
    for _ in range(30):
        with graft.GradientTape() as tape:
            loss = graft.mean(graft.sparse_softmax_cross_entropy(model(x), y))
        variables = model.trainable_variables()
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]
    assert opt.iterations == 30 and len(opt.slots_of(model[0].kernel)) > 0


def test_widen_and_deepen_preserve_the_function_and_move_slots():
    x, y = data()
    model = mlp()
    opt = graft.optim.Adam(0.01)
    with graft.GradientTape() as tape:
        loss = graft.mean(graft.sparse_softmax_cross_entropy(model(x), y))
    variables = model.trainable_variables()
    opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
    before = np.asarray(model(x)).copy()
    report = graft.edit.widen(model, 0, 32, optimizer=opt, probe=x)
    assert report.verified and report.max_difference < 1e-4
    assert model[0].kernel.shape == (8, 32) and opt.slots_of(model[0].kernel)[0].shape == (8, 32)
    report = graft.edit.deepen(model, 0, optimizer=opt, probe=x)
    assert report.verified and len(model) == 3
    np.testing.assert_allclose(np.asarray(model(x)), before, atol=1e-4)
    with pytest.raises(ValueError):
        graft.edit.widen(model, 7, 64)


def test_checkpoint_round_trip_with_report(tmp_path):
    x, _ = data()
    model = mlp("ck")
    opt = graft.optim.SGD(0.1, momentum=0.9)
    model(x)
    path = str(tmp_path / "run.safetensors")
    graft.save_checkpoint(path, [model, opt], {"note": "test"})
    saved = np.asarray(model(x)).copy()

    fresh = mlp("ck")
    report = graft.restore_checkpoint(path, [fresh])
    assert report.metadata["note"] == "test"
    assert len(report.deferred) == 4  # not built yet: restored the moment it builds
    np.testing.assert_allclose(np.asarray(fresh(x)), saved)

    bigger = graft.nn.Sequential([graft.nn.Linear(32, activation="relu"), graft.nn.Linear(3)], name="ck")
    bigger(x)
    report = graft.restore_checkpoint(path, [bigger])
    assert report.count(graft.RestoreStatus.SHAPE_MISMATCH) == 3
    assert "shape mismatch" in str(report)
    with pytest.raises(OSError) as info:
        graft.restore_checkpoint(path, [bigger], strict=True)
    assert isinstance(info.value, graft.IoError)
    with pytest.raises(OSError):
        graft.restore_checkpoint(str(tmp_path / "missing.safetensors"), [bigger])


class Residual(graft.nn.Module):
    """A model written in Python: children registered by name, one variable of its own."""

    def __init__(self):
        super().__init__("residual")
        self.inner = self.register_module("inner", graft.nn.Linear(8, activation="tanh"))
        self.head = self.register_module("head", graft.nn.Linear(3))

    def forward(self, x):
        gate = self.variable("gate", [8], graft.init.constant(0.5))  # get-or-create: one variable
        return self.head(x + self.inner(x) * gate)


def test_a_python_module_trains_compiled_and_inside_a_sequential():
    x, y = data()
    model = Residual()
    opt = graft.optim.Adam(0.05)

    @graft.function
    def step(x, y):
        with graft.GradientTape() as tape:
            loss = graft.mean(graft.sparse_softmax_cross_entropy(model(x), y))
        variables = model.trainable_variables()
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    losses = [float(step(x, y)) for _ in range(20)]
    assert losses[-1] < losses[0] and step.captures == 1
    assert sorted(p for p, _ in model.named_variables()) == sorted(
        ["gate", "inner/kernel", "inner/bias", "head/kernel", "head/bias"])
    outer = graft.nn.Sequential([Residual(), graft.nn.ReLU()], name="outer")  # no Python reference kept
    assert outer(x).shape == (64, 3)
    assert "outer/layer_0/gate" in [v.path for v in outer.variables()]
    with pytest.raises(ValueError, match="already has a child named 'inner'"):
        model.register_module("inner", graft.nn.Linear(2))
