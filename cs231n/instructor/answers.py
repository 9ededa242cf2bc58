"""Answer a grading probe's calls to the functions it does not grade, from the reference.

A grading test of a model (``TwoLayerNet.loss``, ``CaptioningRNN.sample``, the saliency
maps of a pretrained CNN, ...) grades how the student's code *uses* the layers, not the
layers: those have their own tests. So that a correct model earns its points beside a
stubbed or wrong layer, the layers it calls behave as the reference's do, and no reference
code ever reaches the student's process (whatever it can read, student code can print into
its feedback):

1. Here, in the grader, the probe runs against the reference with the test's *answered*
   functions wrapped (:func:`recording`): each call's arguments, its result and what it
   changed in its arguments (batch norm's running averages in ``bn_param``) are recorded
   as plain values — arrays, numbers, strings, lists, tuples and dicts of them.
2. The table goes to the child with the probe. There ``_child.py`` replaces the same
   functions by shims: a call whose arguments match a recorded call's (numbers to a
   relative 1e-6 of their largest entry) gets the recorded result and changes, a call that
   matches none (the student's model passes something the reference never did) runs the
   student's own function.

Only numbers cross, for inputs the grader drew: the values a layer would have returned,
never how it computes them. Backward passes get the reference's caches back only through
answered forward passes, so their layouts always agree; where a test grades a backward
pass whose cache the student designs (batch norm, ``rnn_backward``), that test answers no
forward pass and says so in its hint.

A test lists what is answered as ``"module:function"`` or ``"module:*"`` (every function
in the module's ``__all__``); the functions the test grades are never in that list.
"""

import contextlib
import copy
import importlib
import inspect
import sys
import types

import numpy as np

MODULE_KEY = "__cs231n_module__"
PLAIN_SCALARS = (bool, int, float, str, type(None), np.bool_, np.integer, np.floating)


def resolve(specs):
    """{function object: "module.name"} of the functions ``specs`` names."""
    targets = {}
    for spec in specs:
        module_name, _, name = spec.partition(":")
        module = importlib.import_module(module_name)
        names = list(getattr(module, "__all__", ())) if name == "*" else [name]
        for n in names:
            fn = getattr(module, n)
            if callable(fn) and not inspect.isclass(fn):
                # Named where it is defined, as the child will look it up.
                home = getattr(fn, "__module__", module_name) or module_name
                targets[fn] = f"{home}:{fn.__name__}"
    return targets


def plain(value, where="value"):
    """``value`` as plain data (copied); TypeError if it holds anything else."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufc":
            raise TypeError(f"{where} is an array of {value.dtype}, not of numbers")
        return value.copy()
    if isinstance(value, PLAIN_SCALARS):
        return value
    if isinstance(value, (list, tuple)):
        items = [plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"{where} has keys that are not strings")
        if MODULE_KEY in value:
            raise TypeError(f"{where} uses the reserved key {MODULE_KEY}")
        return {k: plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, types.ModuleType) and value.__name__.startswith("cs231n."):
        # A module of the package (the fast layers keep their kernels in the cache): by
        # name, for the child to import from the student's package.
        return {MODULE_KEY: value.__name__}
    raise TypeError(f"{where} is a {type(value).__name__}, which is not plain data")


def bind(fn, args, kwargs):
    """The call's arguments by parameter name, defaults filled in (positional if unbindable)."""
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return {f"#{i}": a for i, a in enumerate(args)} | dict(kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def _wrap(fn, name, calls):
    def recorded(*args, **kwargs):
        before = bind(fn, args, kwargs)
        snapshot = plain(before, f"the arguments of {name}")
        result = fn(*args, **kwargs)
        changed = {}
        for arg, value in before.items():
            if isinstance(value, (dict, np.ndarray)) and not _equal(value, snapshot[arg]):
                changed[arg] = plain(value, f"{name}'s argument {arg}")
        calls.append(
            {
                "fn": name,
                "args": snapshot,
                "result": plain(result, f"the result of {name}"),
                "changed": changed,
            }
        )
        return result

    recorded.__wrapped__ = fn
    return recorded


def _equal(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@contextlib.contextmanager
def recording(specs):
    """Record every call to the functions ``specs`` names while the block runs.

    Yields the list the calls are appended to. Every module of the ``cs231n`` package
    that holds one of the functions (imported by name, ``from ... import *``) sees the
    wrapper; all are restored on exit. Not thread-safe: the grader runs reference probes
    one at a time.
    """
    calls = []
    targets = resolve(specs)
    wrappers = {fn: _wrap(fn, name, calls) for fn, name in targets.items()}
    patched = []
    for module_name, module in list(sys.modules.items()):
        if module is None or not (module_name == "cs231n" or module_name.startswith("cs231n.")):
            continue
        for attr, value in list(vars(module).items()):
            try:
                wrapper = wrappers.get(value)
            except TypeError:  # unhashable module attribute
                continue
            if wrapper is not None:
                setattr(module, attr, wrapper)
                patched.append((module, attr, value))
    try:
        yield calls
    finally:
        for module, attr, value in patched:
            setattr(module, attr, value)
        # Modules first imported inside the block took the wrappers too.
        originals = {id(w): fn for fn, w in wrappers.items()}
        for module_name, module in list(sys.modules.items()):
            if module is None or not module_name.startswith("cs231n"):
                continue
            for attr, value in list(vars(module).items()):
                if id(value) in originals and value is wrappers[originals[id(value)]]:
                    setattr(module, attr, originals[id(value)])


def table_size(calls):
    """Bytes of the arrays in a recorded table (to keep what the child gets small)."""
    total = 0
    stack = [copy.copy(calls)]
    while stack:
        v = stack.pop()
        if isinstance(v, np.ndarray):
            total += v.nbytes
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
    return total
