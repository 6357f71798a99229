"""Long C++ calls release the GIL: another Python thread runs meanwhile.

Deterministic, not timed: the switch interval is made so long that the
interpreter never takes the GIL from a running thread by itself, so the main
thread's loop (which hands the GIL over at every time.sleep(0)) can advance
while the worker is inside a graft call only if that call released the GIL.
"""
import sys
import threading
import time

import numpy as np

import graft


def progress_during(call, max_calls=500):
    """How far the main thread's loop advanced while another thread ran call()
    again and again, until the loop moved or max_calls calls were made (the
    main thread may not be scheduled during any one call on a busy machine)."""
    state = {"count": 0, "done": False}

    def worker():
        before = state["count"]
        for _ in range(max_calls):
            call()
            if state["count"] != before:
                break
        state["delta"] = state["count"] - before
        state["done"] = True

    previous = sys.getswitchinterval()
    sys.setswitchinterval(60.0)
    try:
        thread = threading.Thread(target=worker)
        thread.start()
        while not state["done"]:
            state["count"] += 1
            time.sleep(0)  # hands the GIL to the worker
        thread.join()
    finally:
        sys.setswitchinterval(previous)
    return state["delta"]


def test_matmul_releases_the_gil():
    a = graft.tensor(np.random.default_rng(0).random((400, 400), dtype=np.float32))
    assert progress_during(lambda: graft.matmul(a, a)) > 0


def test_a_compiled_step_and_a_module_call_release_the_gil():
    model = graft.nn.Sequential([graft.nn.Linear(256, activation="relu"), graft.nn.Linear(256)], name="gil")
    x = graft.tensor(np.ones((256, 256), dtype=np.float32))
    step = graft.function(lambda x: graft.sum(model(x)))
    step(x)  # captured here; the replays below run without Python
    assert progress_during(lambda: step(x)) > 0
    assert progress_during(lambda: model(x)) > 0


def test_an_op_that_holds_the_gil_shows_no_progress():
    # The check itself can fail: a short op keeps the GIL, and the main loop
    # does not move while it runs.
    x = graft.ones([4])
    assert progress_during(lambda: graft.relu(x)) == 0


def test_lstm_calls_and_a_step_with_a_python_schedule_release_the_gil():
    x = graft.tensor(np.ones((64, 20, 128), dtype=np.float32))
    lstm = graft.nn.LSTM(128)
    cell = graft.nn.LSTMCell(128)
    assert progress_during(lambda: lstm(x)) > 0
    assert progress_during(lambda: cell(x[:, 0])) > 0
    # The schedule takes the GIL for its call only; the products around it run without it.
    model = graft.nn.Sequential([graft.nn.Linear(256), graft.nn.Linear(256)], name="gil_schedule")
    opt = graft.optim.SGD(lambda step: 1e-6)
    inputs = graft.tensor(np.ones((256, 256), dtype=np.float32))

    @graft.function
    def train_step(inputs):
        with graft.GradientTape() as tape:
            loss = graft.mean(model(inputs))
        variables = model.trainable_variables()
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    train_step(inputs)
    assert progress_during(lambda: train_step(inputs)) > 0
