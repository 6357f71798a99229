"""graft.fit: Keras-style training of a classifier that grows as it trains.

Mirrors `graft train`: one compiled step (graft.function) of mean sparse
softmax cross-entropy, the same growth-plan grammar ("widen:512@3,deepen@7":
widen the last hidden layer to 512 units after epoch 3, insert a layer after
epoch 7; `@sN` for after global step N), checked against the model before
the first step. Every edit is function-preserving and verified on a probe
batch; the optimizer's slots follow it and the step recaptures on its own.
"""

import numpy as _np

from . import _graft


class History:
    """What fit() measured: `history` maps each metric to one value per epoch
    (loss, accuracy and, with validation data, val_loss and val_accuracy);
    `events` lists each growth edit as (epoch, step, EditReport)."""

    def __init__(self):
        self.history = {"loss": [], "accuracy": []}
        self.events = []
        self.epoch = []

    def __repr__(self):
        last = {k: v[-1] for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epoch)}, last={last}, events={len(self.events)})"


def _as_inputs(x):
    x = _np.ascontiguousarray(x)
    if x.dtype != _np.float32 and x.dtype != _np.float64:
        x = x.astype(_np.float32)
    return x


def _as_labels(y, n):
    y = _np.ascontiguousarray(y, dtype=_np.int64)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"fit: expected {n} integer labels in a 1-D array (one per row of x), got shape {y.shape}\n"
                         "  help: pass class indices, not one-hot rows")
    return y


def _hidden_positions(model):
    # Every Linear but the last is a hidden layer, numbered from 0 as in `graft train`.
    return _graft.edit.linear_positions(model)[:-1]


def _apply(event, model, optimizer, probe):
    hidden = _hidden_positions(model)
    layer = event.layer if event.layer >= 0 else len(hidden) - 1
    position = hidden[layer]
    if event.action == "widen":
        return _graft.edit.widen(model, position, event.units, optimizer=optimizer, probe=probe)
    if event.action == "deepen":
        return _graft.edit.deepen(model, position, optimizer=optimizer, probe=probe)
    return _graft.edit.prune(model, position, event.units, optimizer=optimizer)


def _evaluate(forward, x, y, batch_size):
    loss_sum, hits = 0.0, 0
    for start in range(0, len(x), batch_size):
        logits = _np.asarray(forward(x[start:start + batch_size]))
        labels = y[start:start + batch_size]
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - _np.log(_np.exp(shifted).sum(axis=1, keepdims=True))
        loss_sum -= float(log_probs[_np.arange(len(labels)), labels].sum())
        hits += int((logits.argmax(axis=1) == labels).sum())
    return loss_sum / len(x), hits / len(x)


def fit(model, x, y, *, epochs=1, batch_size=32, optimizer=None, grow=None, validation_data=None,
        shuffle=True, seed=0, probe_size=64, callback=None):
    """Trains `model` (a graft.nn.Sequential classifier) on x [N, features]
    and integer labels y [N]; returns a History.

    grow: a growth plan in `graft train --grow`'s grammar, or None.
    optimizer: a graft.optim optimizer (Adam(1e-3) when None).
    callback(epoch, logs): called after each epoch with that epoch's metrics.
    """
    x = _as_inputs(x)
    y = _as_labels(y, len(x))
    if len(x) == 0:
        raise ValueError("fit: x has no rows")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"fit: epochs and batch_size must be at least 1, got epochs={epochs}, batch_size={batch_size}")
    optimizer = optimizer if optimizer is not None else _graft.optim.Adam(1e-3)
    if validation_data is not None:
        val_x, val_y = validation_data
        val_x = _as_inputs(val_x)
        val_y = _as_labels(val_y, len(val_x))

    steps_per_epoch = (len(x) + batch_size - 1) // batch_size
    model.build((min(batch_size, len(x)), x.shape[1]), _graft.float64 if x.dtype == _np.float64 else _graft.float32)
    plan = []
    if grow:
        plan = _graft.parse_growth_plan(grow)
        widths = [model[p].out_features for p in _hidden_positions(model)]
        _graft.validate_growth_plan(plan, widths, epochs, epochs * steps_per_epoch)
        plan.sort(key=lambda e: e.when if e.at_step else e.when * steps_per_epoch)
    probe = x[:probe_size].copy()

    def train_step(xb, yb):
        with _graft.GradientTape() as tape:
            logits = model(xb)
            loss = _graft.mean(_graft.sparse_softmax_cross_entropy(logits, yb))
        variables = model.trainable_variables()
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss, logits

    step_fn = _graft.Function(train_step, name="fit_step")
    forward = _graft.Function(lambda xb: model(xb), name="fit_forward")
    history = History()
    rng = _np.random.default_rng(seed)
    step = 0
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x)) if shuffle else _np.arange(len(x))
        loss_sum, hits = 0.0, 0
        for start in range(0, len(x), batch_size):
            index = order[start:start + batch_size]
            xb, yb = x[index], y[index]
            loss, logits = step_fn(xb, yb)
            loss_sum += float(loss) * len(index)
            hits += int((_np.asarray(logits).argmax(axis=1) == yb).sum())
            step += 1
            while plan and plan[0].at_step and plan[0].when == step:
                history.events.append((epoch, step, _apply(plan.pop(0), model, optimizer, probe)))
        history.epoch.append(epoch)
        history.history["loss"].append(loss_sum / len(x))
        history.history["accuracy"].append(hits / len(x))
        if validation_data is not None:
            model.eval()
            val_loss, val_accuracy = _evaluate(forward, val_x, val_y, batch_size)
            model.train()
            history.history.setdefault("val_loss", []).append(val_loss)
            history.history.setdefault("val_accuracy", []).append(val_accuracy)
        while plan and not plan[0].at_step and plan[0].when == epoch:
            history.events.append((epoch, step, _apply(plan.pop(0), model, optimizer, probe)))
        if callback is not None:
            callback(epoch, {k: v[-1] for k, v in history.history.items()})
    return history
