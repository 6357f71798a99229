"""graft.fit: training with a growth plan, as `graft train --grow`."""
import numpy as np
import pytest

import graft


def blobs(n, seed):
    """Four Gaussian classes in 6 dimensions; `seed` draws the samples (the centers are fixed)."""
    centers = np.random.default_rng(100).normal(scale=3.0, size=(4, 6))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, size=n)
    x = (centers[y] + rng.normal(size=(n, 6))).astype(np.float32)
    return x, y


def test_fit_trains_grows_and_validates():
    x, y = blobs(256, 0)
    val = blobs(64, 1)
    model = graft.nn.Sequential([graft.nn.Linear(8, activation="relu"), graft.nn.Linear(4)], name="fit")
    model.set_seed(3)
    seen = []
    history = graft.fit(model, x, y, epochs=4, batch_size=32, optimizer=graft.optim.Adam(0.02),
                        grow="widen:16@1,deepen@2,widen:24:0@s20", validation_data=val,
                        callback=lambda epoch, logs: seen.append(epoch))
    assert seen == [1, 2, 3, 4]
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 4 for v in history.history.values())
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_accuracy"][-1] > 0.8
    # 8 steps per epoch: after epoch 1, after epoch 2, at global step 20.
    assert [(epoch, step) for epoch, step, _ in history.events] == [(1, 8), (2, 16), (3, 20)]
    descriptions = [report.description for _, _, report in history.events]
    assert len(descriptions) == 3 and all(report.verified for _, _, report in history.events)
    widths = [model[p].out_features for p in graft.edit.linear_positions(model)]
    assert widths == [24, 16, 4]


def test_fit_checks_the_plan_before_training():
    x, y = blobs(32, 0)
    model = graft.nn.Sequential([graft.nn.Linear(8), graft.nn.Linear(4)], name="bad")
    with pytest.raises(ValueError) as info:
        graft.fit(model, x, y, epochs=2, grow="widen:4@1")  # narrower: not a widen
    assert "widen:4@1" in str(info.value)
    assert model.parameter_count() == 8 * 6 + 8 + 8 * 4 + 4  # built, never trained or edited
    with pytest.raises(ValueError, match="no 'explode' action|explode"):
        graft.fit(model, x, y, grow="explode@1")
    with pytest.raises(ValueError, match="one per row"):
        graft.fit(model, x, y[:5])


def test_fit_on_fashion_mnist_grows_as_graft_train_does():
    images, labels = graft.load_fashion_mnist("train", normalize=True)
    assert images.shape == (60000, 784) and labels.shape == (60000,)
    x, y = np.asarray(images)[:2048], np.asarray(labels)[:2048]
    test_images, test_labels = graft.load_fashion_mnist("test", normalize=True)
    model = graft.nn.Sequential([graft.nn.Linear(64, activation="relu"), graft.nn.Linear(10)], name="mlp")
    history = graft.fit(model, x, y, epochs=3, batch_size=64, grow="widen:128@1,deepen@2",
                        validation_data=(np.asarray(test_images)[:1000], np.asarray(test_labels)[:1000]))
    assert [report.description for _, _, report in history.events] == [
        "widen of 'mlp/layer_0' to 128 units", "deepen after 'mlp/layer_0' (identity Linear(128))"]
    assert history.history["val_accuracy"][-1] > 0.7
    with pytest.raises(OSError, match="dataset-fashion-mnist"):
        graft.load_fashion_mnist("train", data_dir="/nonexistent")
