"""The seed document's scenario (docs/seed-examples.md) in Python.

A model of `num_layers` dense 10x10 layers on an input of shape [1, 10],
loss mean(output^2), called with 1, 2 and then 3 layers. The three snippets
of the widely read answer, what graft says about each, and the compiled step
that TensorFlow's tf.function cannot run ("tf.function only supports
singleton tf.Variables created on the first call").

Run: PYTHONPATH=build/python /usr/bin/python3 python/examples/seed_scenario.py
"""
import warnings

import graft

x = graft.random_normal([1, 10], seed=1)


def dynamic_model(store, x, num_layers):
    """The seed's model, the graft way: each layer's weights by path, get-or-create."""
    for i in range(num_layers):
        w = store.root().child(f"layer_{i}").variable("weights", [10, 10], graft.init.normal(0.0, 0.3))
        x = graft.matmul(x, w)
    return x


def example_1_new_variable_every_call():
    """tf.Variable inside the layer loop: fresh random weights on every call."""
    print("== example 1: tf.Variable in the model")
    store = graft.VariableStore("example1", seed=7)

    def model(x, num_layers):
        for i in range(num_layers):
            w = graft.Variable(graft.random_normal([10, 10], seed=i), name="weights")  # new on every call
            x = graft.matmul(x, w)
        return x

    with store.root(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            with graft.GradientTape():
                graft.mean(graft.square(model(x, 1)))
    for w in caught:
        print("warning:", str(w.message).splitlines()[0])
    return len(caught) > 0


def example_2_scope_and_get_or_create():
    """A scope per layer (a `with` block, TF1's variable_scope) and
    get_variable, get-or-create by path: growing creates each layer once."""
    print("== example 2: a scope per layer, get-or-create, growing 1 -> 3 layers")
    store = graft.VariableStore("example2", seed=7)
    falls = True
    for num_layers in (1, 2, 3):
        losses = []
        for _ in range(5):
            with graft.GradientTape() as tape, store.root():
                h = x
                for i in range(num_layers):
                    with graft.variable_scope(f"layer_{i}"):
                        h = graft.matmul(h, graft.get_variable("weights", [10, 10], graft.init.normal(0.0, 0.3)))
                loss = graft.mean(graft.square(h))
            variables = store.trainable_variables()
            for v, g in zip(variables, tape.gradient(loss, variables)):
                v.assign_sub(g * 0.1)
            losses.append(float(loss))
        print(f"num_layers={num_layers} loss {losses[0]:.6f} -> {losses[-1]:.6f}, variables {len(store)}")
        falls = falls and losses[-1] < losses[0]
    return falls and len(store) == 3


def example_3_registry_checks_the_shape():
    """TF1's get_variable registry, with the shape check the answer's lacks."""
    print("== example 3: the registry checks shapes")
    store = graft.VariableStore("registry", seed=7)
    with store.root():
        graft.get_variable("weights_0", [10, 10], graft.init.normal(0.0, 0.3))
        try:
            graft.get_variable("weights_0", [10, 20])
        except graft.ShapeError as e:
            print(str(e))
            return True
    return False


def compiled_growth():
    """Inside a compiled step: recapture on growth, strict mode as TensorFlow."""
    print("== compiled: graft.function over the growing model")
    store = graft.VariableStore("seed", seed=7)

    @graft.function
    def train_step(x, num_layers):
        with graft.GradientTape() as tape:
            loss = graft.mean(graft.square(dynamic_model(store, x, num_layers)))
        variables = store.trainable_variables()
        for v, g in zip(variables, tape.gradient(loss, variables)):
            v.assign_sub(g * 0.1)
        return loss

    for num_layers in (1, 2, 3):
        losses = [float(train_step(x, num_layers)) for _ in range(4)]
        print(f"num_layers={num_layers} loss {losses[0]:.6f} -> {losses[-1]:.6f}")
    print(train_step.explain(), end="")

    strict_store = graft.VariableStore("strict", seed=7)
    strict_step = graft.function(lambda x, n: graft.mean(graft.square(dynamic_model(strict_store, x, n))),
                                 name="strict_step", strict=True)
    strict_step(x, 1)
    try:
        strict_step(x, 2)
    except graft.ValueError as e:
        print("strict mode:", str(e).splitlines()[0])
        return train_step.captures == 3
    return False


if __name__ == "__main__":
    results = [example_1_new_variable_every_call(), example_2_scope_and_get_or_create(),
               example_3_registry_checks_the_shape(), compiled_growth()]
    print("all examples behaved as documented" if all(results) else f"FAILED: {results}")
    raise SystemExit(0 if all(results) else 1)
