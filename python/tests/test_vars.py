"""Stores, scopes, get-or-create, Python creation sites, the audit, tapes."""
import inspect
import os
import warnings

import numpy as np
import pytest

import graft

HERE = os.path.basename(__file__)


def line():
    """The caller's line number."""
    return inspect.currentframe().f_back.f_lineno


def test_get_or_create_by_path_returns_the_same_variable():
    store = graft.VariableStore("m", seed=3)
    a = store.root().child("layer_0").variable("kernel", [4, 2], graft.init.glorot_uniform())
    b = store.root().child("layer_0").variable("kernel", [4, 2], graft.init.glorot_uniform())
    assert a == b and a.path == "m/layer_0/kernel" and len(store) == 1
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_shape_conflict_names_both_python_creation_sites():
    store = graft.VariableStore("enc")
    scope = store.root().child("layer_1")
    scope.variable("kernel", [512, 64]); created = line()
    requested = line() + 2
    with pytest.raises(ValueError) as info:
        scope.variable("kernel", [512, 128])
    message = str(info.value)
    assert isinstance(info.value, graft.ShapeError)
    assert "'enc/layer_1/kernel' exists with shape [512, 64], requested [512, 128]" in message
    assert f"created at:   {HERE}:{created}" in message
    assert f"requested at: {HERE}:{requested}" in message
    assert "help:" in message


def test_with_block_is_a_variable_scope():
    store = graft.VariableStore("s")
    with store.root():
        with graft.variable_scope("outer"):
            with graft.variable_scope("inner"):
                w = graft.get_variable("w", [2]); here = line()
                assert graft.current_scope().path == "s/outer/inner"
            assert graft.current_scope().path == "s/outer"
    assert w.path == "s/outer/inner/w"
    assert w.created_at == f"{HERE}:{here}"
    assert graft.current_scope().path != "s/outer"


def test_reuse_modes_follow_tf1():
    store = graft.VariableStore("r")
    root = store.root()
    with pytest.raises(LookupError, match="r/missing/w"):
        root.child("missing", reuse=True).variable("w", [1])
    root.child("a").variable("w", [1])
    with pytest.raises(ValueError, match="r/a/w"):
        root.child("a", reuse=graft.Reuse.CREATE).variable("w", [1])
    assert root.child("a", reuse=graft.AUTO_REUSE).variable("w", [1]).path == "r/a/w"


def test_unkeyed_variables_are_made_unique_and_the_audit_reports_recreation():
    store = graft.VariableStore("audit")
    with store.root():
        kept = [graft.Variable(graft.zeros([2]), name="w") for _ in range(2)]
    assert [v.path for v in kept] == ["audit/w", "audit/w_1"]

    def model():
        with store.root():
            return graft.Variable(graft.ones([3]), name="weights")  # a new one every call
    site = line() - 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(4):
            model()
    audit = [str(w.message) for w in caught if issubclass(w.category, graft.GraftWarning)]
    assert len(audit) == 1 and f"{HERE}:{site}" in audit[0] and "weights" in audit[0]
    (report,) = store.audit_reports()
    assert report.site == f"{HERE}:{site}" and report.recreations == 3


def test_strict_audit_raises_from_the_creating_call():
    store = graft.VariableStore("strict")
    store.set_audit_options(threshold=1, strict=True)
    with store.root():
        graft.Variable(graft.ones([1]), name="w")
        with pytest.raises(graft.ValueError, match="created again"):
            for _ in range(3):
                graft.Variable(graft.ones([1]), name="w")


def test_retired_variable_says_when_and_why():
    store = graft.VariableStore("ret")
    w = store.root().variable("w", [2])
    epoch = store.epoch
    store.retire(w, "replaced by a wider layer")
    assert store.epoch > epoch and w.is_retired and len(store) == 0
    with pytest.raises(graft.Error, match="replaced by a wider layer"):
        w.value()


def test_tape_gradients_match_numpy():
    store = graft.VariableStore("g", seed=1)
    w = store.root().variable("w", [3, 2], graft.init.normal(0, 1))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    with graft.GradientTape() as tape:
        y = graft.sum(graft.square(graft.matmul(x, w)))
    (g,) = tape.gradient(y, [w])
    expected = 2 * x.T @ (x @ w.numpy())
    np.testing.assert_allclose(np.asarray(g), expected, rtol=1e-5)
    with pytest.raises(graft.ValueError):
        tape.gradient(y, [w])  # a non-persistent tape answers once


def test_tape_unconnected_source_is_none_and_tapes_nest():
    x = graft.tensor(np.array([0.5, 1.5]))
    other = graft.tensor(np.array([1.0]))
    with graft.GradientTape() as outer:
        outer.watch(x)
        with graft.GradientTape() as inner:
            inner.watch(x)
            y = graft.sum(x * x * x)
        dy = inner.gradient(y, x)  # 3x^2
    d2y = outer.gradient(dy, x)  # 6x
    np.testing.assert_allclose(np.asarray(dy), 3 * np.array([0.5, 1.5]) ** 2)
    np.testing.assert_allclose(np.asarray(d2y), 6 * np.array([0.5, 1.5]))
    with graft.GradientTape(persistent=True) as tape:
        tape.watch(x)
        z = graft.sum(x)
    assert tape.gradient(z, [x, other]) [1] is None
    assert tape.gradient(z, [x])[0] is not None  # persistent: asked again


def test_asarray_of_a_variable_is_a_copy_of_its_value():
    store = graft.VariableStore("arr")
    w = store.root().variable("w", [2, 2], graft.init.ones())
    a = np.asarray(w)
    assert a.dtype == np.float32 and a.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    w.assign_add(graft.ones([2, 2]))
    assert a[0, 0] == 1.0 and np.asarray(w)[0, 0] == 2.0
