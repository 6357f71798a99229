"""graft.Tensor and numpy: zero-copy views, borrowing, copying, errors."""
import gc

import numpy as np
import pytest

import graft


def test_asarray_is_a_zero_copy_view_that_keeps_the_tensor_alive():
    t = graft.ones([3, 4]) * 2.0
    view = np.asarray(t)
    assert view.shape == (3, 4) and view.dtype == np.float32
    view[1, 2] = 7.0  # the same memory: the tensor sees the write
    assert np.asarray(t)[1, 2] == 7.0
    del t
    gc.collect()
    garbage = [graft.zeros([3, 4]) for _ in range(20)]  # reuse of freed buffers would show here
    assert view[1, 2] == 7.0 and view[0, 0] == 2.0
    del garbage


def test_tensor_borrows_a_contiguous_array_of_a_graft_dtype():
    for dtype in (np.float32, np.float64, np.int64):
        a = np.arange(6, dtype=dtype).reshape(2, 3)
        t = graft.tensor(a)
        assert t.shape == (2, 3)
        assert np.asarray(t).ctypes.data == a.ctypes.data  # same buffer
        a[0, 0] = 9
        assert np.asarray(t)[0, 0] == 9
    a = np.ones(4, dtype=np.float32)
    t = graft.tensor(a)
    del a
    gc.collect()
    assert np.asarray(t).tolist() == [1.0, 1.0, 1.0, 1.0]  # the tensor keeps the array alive


def test_tensor_copies_what_it_cannot_borrow():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    strided = a[:, ::2]  # not contiguous
    t = graft.tensor(strided)
    assert np.asarray(t).tolist() == strided.tolist()
    a[0, 0] = 100
    assert np.asarray(t)[0, 0] == 0  # a copy
    assert graft.tensor(np.arange(3, dtype=np.int32)).dtype == graft.int64
    assert graft.tensor(np.ones(2, dtype=np.float16)).dtype == graft.float32
    frozen = np.ones(3, dtype=np.float32)
    frozen.flags.writeable = False
    assert np.asarray(graft.tensor(frozen)).ctypes.data != frozen.ctypes.data
    assert graft.tensor([[1.5, 2.0]]).dtype == graft.float32  # torch.tensor's rule for lists
    assert graft.tensor(np.ones(2), dtype=graft.float32).dtype == graft.float32


def test_shape_errors_are_value_errors_with_graft_message():
    with pytest.raises(ValueError) as info:
        graft.matmul(graft.ones([2, 3]), graft.ones([4, 5]))
    assert isinstance(info.value, graft.ShapeError)
    assert "[2, 3]" in str(info.value) and "[4, 5]" in str(info.value)


def test_dtype_errors_are_type_errors():
    with pytest.raises(TypeError) as info:
        graft.add(graft.ones([2]), graft.ones([2], dtype=graft.float64))
    assert isinstance(info.value, graft.DTypeError)
    assert "float32" in str(info.value) and "float64" in str(info.value)
    with pytest.raises(TypeError, match="expected an array of numbers"):
        graft.tensor(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="expected a graft.Tensor"):
        graft.relu(object())


def test_a_symbolic_tensor_refuses_a_buffer_instead_of_crashing():
    seen = []

    def step(x):
        with pytest.raises(BufferError, match="symbolic"):
            np.asarray(x)
        seen.append(x.is_symbolic)
        return x * 2.0

    out = graft.function(step)(graft.ones([2]))
    assert seen == [True]
    assert np.asarray(out).tolist() == [2.0, 2.0]


def test_operators_take_numbers_in_the_tensor_dtype():
    x = graft.tensor(np.array([1.0, 2.0]))  # float64, borrowed
    y = 1.0 - x * 2 + x / 4
    assert y.dtype == graft.float64
    np.testing.assert_allclose(np.asarray(y), 1.0 - np.array([1.0, 2.0]) * 2 + np.array([1.0, 2.0]) / 4)
    assert float(graft.sum(x)) == 3.0
    assert graft.sum(graft.ones([2, 3]), axis=1, keepdims=True).shape == (2, 1)
    np.testing.assert_allclose(np.asarray(graft.matmul(graft.ones([2, 3]), graft.ones([2, 3]), transpose_b=True)),
                               np.full((2, 2), 3.0))


def test_indexing_ints_and_slices_with_gradients():
    a = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    t = graft.tensor(a)
    for key in (1, -1, (0, 2), (slice(None), 1), (1, slice(1, 3)), (slice(0, 1), slice(None), slice(2, None))):
        np.testing.assert_array_equal(np.asarray(t[key]), a[key])
    with pytest.raises(IndexError, match="out of range for axis 1 of size 3"):
        t[0, 3]
    with pytest.raises(IndexError, match="too many indices"):
        t[0, 0, 0, 0]
    with pytest.raises(ValueError, match="step 1 only"):
        t[::2]
    with pytest.raises(TypeError, match="graft.gather"):
        t[[0, 1]]
    with graft.GradientTape() as tape:
        tape.watch(t)
        y = graft.sum(t[1, 1:3] * 2.0)
    grad = np.asarray(tape.gradient(y, t))
    expected = np.zeros_like(a)
    expected[1, 1:3] = 2.0
    np.testing.assert_array_equal(grad, expected)


def test_truth_value_needs_one_element():
    assert bool(graft.ones([1])) and not bool(graft.zeros([]))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(graft.ones([2]))


def test_equality_is_elementwise_and_hashing_by_identity():
    t = graft.tensor(np.array([1.0, 2.0, 3.0]))
    assert np.asarray(t == 2.0).tolist() == [0.0, 1.0, 0.0]
    assert np.asarray(t != graft.tensor(np.array([1.0, 0.0, 3.0]))).tolist() == [0.0, 1.0, 0.0]
    assert (t == None) is False  # noqa: E711 (not tensor-like: identity)
    assert {t: 1}[t] == 1
