"""graft.optim.schedules: the learning rate per step, eager and inside graft.function."""
import math
import threading

import numpy as np
import pytest

import graft

S = graft.optim.schedules


def test_ready_made_schedules_follow_their_formulas():
    steps = range(0, 40)
    assert [S.constant(0.1)(k) for k in steps] == [0.1] * 40
    assert [S.step_decay(0.1, every=10, gamma=0.5)(k) for k in steps] == [0.1 * 0.5 ** (k // 10) for k in steps]
    cosine = S.cosine(0.1, total_steps=30, min_lr=0.01)
    for k in steps:
        expected = 0.01 + 0.5 * 0.09 * (1 + math.cos(math.pi * k / 30)) if k < 30 else 0.01
        assert cosine(k) == pytest.approx(expected, rel=1e-12)
    warm = S.warmup(4, S.constant(0.2))
    assert [warm(k) for k in range(6)] == pytest.approx([0.04, 0.08, 0.12, 0.16, 0.2, 0.2])
    assert S.warmup(2, 0.3)(0) == pytest.approx(0.1)  # a number is a constant
    assert S.warmup(2, lambda step: 0.01 * step)(1) == pytest.approx(0.02 * 2 / 3)  # and a callable a schedule
    assert repr(S.cosine(0.1, 30)) == "graft.optim.schedules.cosine(0.1, total_steps=30, min_lr=0.0)"
    assert repr(S.warmup(5, S.step_decay(0.1, 10, 0.5))) == (
        "graft.optim.schedules.warmup(5, graft.optim.schedules.step_decay(0.1, every=10, gamma=0.5))")


def descend(opt, steps, compiled=False):
    """Runs `steps` updates of loss = sum(w) (gradient 1) and returns the learning rate each step used."""
    store = graft.VariableStore("descend")  # w lives as long as its store
    w = store.root().variable("w", [3], graft.init.zeros(), dtype=graft.float64)

    def update():
        with graft.GradientTape() as tape:
            loss = graft.sum(w.value())
        opt.apply_gradients([(tape.gradient(loss, w), w)])
        return loss

    step = graft.function(update) if compiled else update
    used = []
    for _ in range(steps):
        before = w.numpy()[0]
        step()
        used.append(before - w.numpy()[0])
    return used


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_an_optimizer_uses_its_schedule_at_every_step(compiled):
    schedule = S.warmup(3, S.step_decay(0.4, every=2, gamma=0.5))
    for opt in (graft.optim.SGD(schedule=schedule), graft.optim.SGD(schedule)):
        used = descend(opt, 8, compiled)
        assert used == pytest.approx([schedule(k) for k in range(8)], rel=1e-12)
        assert opt.iterations == 8 and opt.learning_rate == pytest.approx(schedule(8))
    adam = graft.optim.Adam(schedule=S.cosine(1e-2, 10))
    assert adam.learning_rate == pytest.approx(1e-2)
    descend(adam, 5, compiled)
    assert adam.learning_rate == pytest.approx(S.cosine(1e-2, 10)(5))
    adamw = graft.optim.AdamW(S.constant(3e-4), weight_decay=0.1)
    assert adamw.learning_rate == pytest.approx(3e-4) and graft.optim.Adam().learning_rate == pytest.approx(1e-3)


def test_a_python_callable_schedule_is_called_from_the_replay_with_the_gil_taken():
    calls = []

    def halving(step):
        calls.append((step, threading.current_thread().name))
        return 0.4 * 0.5 ** step

    opt = graft.optim.SGD(halving)
    used = descend(opt, 6, compiled=True)
    assert used == pytest.approx([0.4 * 0.5 ** k for k in range(6)], rel=1e-12)
    assert {step for step, _ in calls} >= set(range(6))
    # From another thread too: replays of a compiled step there reach the callable.
    worker_used = []
    thread = threading.Thread(target=lambda: worker_used.extend(descend(opt, 2, compiled=True)), name="worker")
    thread.start()
    thread.join()
    assert worker_used == pytest.approx([0.4 * 0.5 ** 6, 0.4 * 0.5 ** 7], rel=1e-12)
    assert (7, "worker") in calls
    opt.set_schedule(0.05)
    assert descend(opt, 1) == pytest.approx([0.05])


def test_bad_learning_rates_and_schedules_say_what_to_do():
    with pytest.raises(ValueError, match="SGD: expected a learning_rate or a schedule, got neither"):
        graft.optim.SGD()
    with pytest.raises(ValueError, match="Adam: got both learning_rate and schedule"):
        graft.optim.Adam(0.1, schedule=S.constant(0.1))
    with pytest.raises(TypeError, match="expected a number, a graft.optim.schedules schedule or a callable"):
        graft.optim.SGD("fast")
    with pytest.raises(ValueError, match="total_steps must be > 0, got 0"):
        S.cosine(0.1, 0)
    with pytest.raises(ValueError, match="expected a finite learning rate >= 0 for step 0, got -1"):
        graft.optim.SGD(lambda step: -1.0)
    with pytest.raises(ValueError, match="expected a number for step 0, got str"):
        graft.optim.SGD(lambda step: "0.1")

    failures = []

    def fails_once_at_two(step):
        if step == 2 and not failures:
            failures.append(step)
            raise ZeroDivisionError("schedule broke at step 2")
        return 0.1 * (step + 1)

    opt = graft.optim.SGD(fails_once_at_two)
    with pytest.raises(ZeroDivisionError, match="schedule broke at step 2"):
        descend(opt, 4, compiled=True)
    # The failed step did not count: the next compiled steps go on from step 2.
    assert opt.iterations == 2 and failures == [2]
    assert descend(opt, 2, compiled=True) == pytest.approx([0.3, 0.4])
