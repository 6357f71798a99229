"""graft.function and graft.Function: compiled Python callables, methods included.

    class Trainer:
        def __init__(self):
            self.model = graft.nn.Sequential([graft.nn.Linear(10)], name="mlp")
            self.opt = graft.optim.SGD(0.1)

        @graft.function
        def step(self, x):
            ...

    a, b = Trainer(), Trainer()
    a.step(x); b.step(x)          # each instance has its own compiled function
    f = graft.function(a.evaluate)  # a bound method works too

On a method, graft.function is a descriptor: each instance has a
graft.Function of its own (one cache of captured graphs per instance, made on
first access and kept while the instance lives), so two trainers with
different models never share, evict or recapture each other's graphs.
`instance.step` is a BoundFunction: that Function with the instance held for
the call, as a Python bound method holds it (`instance.step.function` is the
Function; captures, calls and explain() read through). `self` is not an
argument of the compiled call, so it does not key the cache: the instance's
Function refers to its instance weakly, and the instance is freed as usual
once nothing else refers to it.
"""

import functools as _functools
import weakref as _weakref

from . import _graft


class Function(_graft.Function):
    """A Python callable compiled by graft.function (see graft.function).

    Captured on the first call with each signature, replayed after,
    recaptured when a store it touched changes structure (a grown model).
    explain() says why each capture happened. On a class, it is a descriptor
    that gives each instance its own Function (the module docstring).
    """

    def __init__(self, fn, *, name=None, strict=False, recapture_warning=8, max_cached_graphs=32):
        if not callable(fn):
            raise TypeError(f"graft.function: expected a callable, got {type(fn).__name__}")
        self._options = dict(strict=strict, recapture_warning=recapture_warning, max_cached_graphs=max_cached_graphs)
        # The C++ side calls through a weak reference to this object and the
        # callable lives in this object's __dict__, where Python's garbage
        # collector sees it: a cycle such as obj.step = graft.function(obj.run)
        # (obj -> Function -> bound method -> obj) is collected, not leaked.
        this = _weakref.ref(self)

        def call(*args, **kwargs):
            return this()._python_function(*args, **kwargs)

        self._name = name or getattr(fn, "__name__", "function")
        super().__init__(call, name=self._name, **self._options)
        self._python_function = fn
        self._per_instance = {}  # id(instance) -> Function, dropped when the instance is freed
        _functools.update_wrapper(self, fn, updated=())

    def __repr__(self):
        return f"<graft.Function {self._name}: {self.captures} captures, {self.calls} calls>"

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        key = id(instance)
        bound = self._per_instance.get(key)
        if bound is None:
            bound = self._bind(instance, key)
        return BoundFunction(bound, instance)

    def _bind(self, instance, key):
        per_instance = self._per_instance
        try:
            # The entry goes when the instance does, before its id can be reused.
            instance_ref = _weakref.ref(instance, lambda _, key=key: per_instance.pop(key, None))
        except TypeError:
            raise TypeError(
                f"graft.function on {type(instance).__name__}.{self._name}: the instance must support weak "
                f"references (it keeps its own compiled function while it lives)\n"
                f"  help: add '__weakref__' to {type(instance).__name__}.__slots__") from None
        fn, name = self._python_function, self._name
        gone = f"graft.function: the {type(instance).__name__} instance that {name} was taken from no longer exists"

        def method(*args, **kwargs):  # holds no strong reference to the instance
            obj = instance_ref()
            if obj is None:
                raise ReferenceError(gone)
            return fn(obj, *args, **kwargs)

        bound = Function(method, name=name, **self._options)
        _functools.update_wrapper(bound, fn, updated=())  # the method's name and doc, not the closure's
        per_instance[key] = bound
        return bound


class BoundFunction:
    """instance.method for a graft.function method: the instance's own
    graft.Function (`.function`) and the instance (`__self__`), held strongly
    as a Python bound method holds it, so `Trainer().step(x)` works. Every
    attribute of the Function (captures, calls, explain(), graph_text())
    reads through."""

    __slots__ = ("function", "__self__")

    def __init__(self, function, instance):
        self.function = function
        self.__self__ = instance

    def __call__(self, *args, **kwargs):
        return self.function(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.function, name)

    @property
    def __doc__(self):
        return self.function.__doc__

    def __eq__(self, other):
        return isinstance(other, BoundFunction) and self.function is other.function

    def __hash__(self):
        return hash(self.function)

    def __repr__(self):
        return f"<bound {self.function!r} of {self.__self__!r}>"


def function(fn=None, *, name=None, strict=False, recapture_warning=8, max_cached_graphs=32):
    """Compiles a Python callable into a graft graph (graft.Function).

    Usable as @graft.function or @graft.function(name="train_step", strict=True),
    on functions, on methods (each instance gets its own compiled function;
    see graft.Function) and on bound methods (graft.function(obj.method)).
    strict=True reproduces TensorFlow's rule (variables may be created only on
    the first capture), with graft's message.
    """

    def wrap(f):
        return Function(f, name=name, strict=strict, recapture_warning=recapture_warning,
                        max_cached_graphs=max_cached_graphs)

    return wrap if fn is None else wrap(fn)
