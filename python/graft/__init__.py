"""graft: a deep-learning library for models that change while they train.

The C++ core (graft._graft) with the same semantics as in C++: variables are
found again by path, compiled steps recapture when the model grows, and
architecture edits carry optimizer state along.

    import graft, numpy as np
    model = graft.nn.Sequential([graft.nn.Linear(64, activation="relu"),
                                 graft.nn.Linear(10)], name="mlp")
    opt = graft.optim.Adam(1e-3)

    @graft.function
    def step(x, y):
        with graft.GradientTape() as tape:
            loss = graft.mean(graft.sparse_softmax_cross_entropy(model(x), y))
        variables = model.trainable_variables()
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss
"""

import os as _os

from . import _graft
from ._graft import *  # noqa: F401,F403  (the public API)
from ._graft import edit, init, nn, optim  # noqa: F401

# Creation sites name the user's line, never one of this package's files.
_graft._set_internal_dir(_os.path.dirname(_os.path.abspath(__file__)))

__version__ = _graft.__version__


from ._function import BoundFunction, Function, function  # noqa: E402,F401
from ._fit import History, fit  # noqa: E402,F401
