"""python_overhead: what a call from Python costs, graft against PyTorch, in one run.

    PYTHONPATH=build/python /usr/bin/python3 bench/python_overhead.py [--reps 7] [--min-ms 60]

Needs the module built by ./scripts/test.sh (build/python) and Debian's
python3-torch. Prints one line per workload, in bench.sh's format:

    bench <workload> threads=1 graft=<us> torch=<us> unit=us speedup=<torch / graft>

  python_eager_add      graft.add(a, b) vs torch.add(a, b) on float32 [4]: the
                        cost of one eager op from Python (binding, dispatch,
                        op table, allocation)
  python_compiled_step  one call of a graft.function training step (MLP 16-32-32-10,
                        batch 8, tape, SGD update) vs the same step in PyTorch
                        (zero_grad, forward, backward, optimizer.step). PyTorch 1.13
                        cannot compile a step with its backward and update, so its
                        eager step is the one Python users run.
  python_eager_step     the same graft step run eagerly from Python, for reference.

Each value is the minimum over --reps repetitions of the mean time per call
in a repetition of at least --min-ms milliseconds (after warm-up calls); the
repetitions of the sides alternate, so load from other processes falls on
both. A benchmark, not a test: nothing here asserts a time.
"""
import argparse
import time

import numpy as np
import torch

import graft


def per_call_us(fn, min_ms):
    for _ in range(3):
        fn()
    n, elapsed = 1, 0.0
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed * 1e3 >= min_ms:
            return elapsed / n * 1e6
        n *= 2


def compare(sides, reps, min_ms):
    best = {name: float("inf") for name in sides}
    for _ in range(reps):
        for name, fn in sides.items():
            best[name] = min(best[name], per_call_us(fn, min_ms))
    return best


def graft_mlp_step(x, y):
    model = graft.nn.Sequential([graft.nn.Linear(32, activation="relu"), graft.nn.Linear(32, activation="relu"),
                                 graft.nn.Linear(10)], name="mlp")
    model.set_seed(1)
    sgd = graft.optim.SGD(0.01)

    def step(xb, yb):
        with graft.GradientTape() as tape:
            loss = graft.mean(graft.sparse_softmax_cross_entropy(model(xb), yb))
        variables = model.trainable_variables()
        sgd.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    compiled = graft.function(step, name="bench_step")
    xt, yt = graft.tensor(x), graft.tensor(y)
    return (lambda: compiled(xt, yt)), (lambda: step(xt, yt))


def torch_mlp_step(x, y):
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.ReLU(),
                                torch.nn.Linear(32, 10))
    sgd = torch.optim.SGD(model.parameters(), lr=0.01)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        sgd.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        sgd.step()
        return loss

    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--min-ms", type=float, default=60.0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    ga, gb = graft.ones([4]), graft.ones([4])
    ta, tb = torch.ones(4), torch.ones(4)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 16)).astype(np.float32)
    y = rng.integers(0, 10, size=8).astype(np.int64)
    graft_compiled, graft_eager = graft_mlp_step(x, y)
    torch_step = torch_mlp_step(x, y)

    rows = [
        ("python_eager_add", compare({"graft": lambda: graft.add(ga, gb), "torch": lambda: torch.add(ta, tb)},
                                     args.reps, args.min_ms)),
        ("python_compiled_step", compare({"graft": graft_compiled, "torch": torch_step}, args.reps, args.min_ms)),
        ("python_eager_step", compare({"graft": graft_eager, "torch": torch_step}, args.reps, args.min_ms)),
    ]
    for name, best in rows:
        print(f"bench {name} threads=1 graft={best['graft']:.2f} torch={best['torch']:.2f} unit=us "
              f"speedup={best['torch'] / best['graft']:.2f}", flush=True)


if __name__ == "__main__":
    main()
