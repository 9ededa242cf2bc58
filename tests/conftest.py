"""Shared fixtures and helpers for the test suite.

- ``rng``: a seeded ``np.random.Generator``; every test's random data comes from it.
- numpy's global random state is saved before and restored after every test, so a test
  (or a layer that seeds it, like dropout's ``seed``) cannot change what another sees,
  whatever order the tests run in.
- ``CS231N_TEST_SHUFFLE=<seed>`` runs the unit tests in a random order drawn from that
  seed (notebooks keep their cell order), to prove that no test depends on another:
  ``scripts/shuffled_runs.sh`` runs the unit tests 20 times this way.
- With ``CS231N_STRICT_BUILD=1`` (CI), a missing compiled extension fails the session
  instead of turning the tests of the compiled kernels into skips.
- ``assert_grads_match``: the one gradient-check helper, in float64, used by every
  layer test (forward through ``f``, backward through ``backward``).
"""

import os
import re
import zlib

# One BLAS thread per test worker (and per notebook kernel, which inherits this): the
# suite runs two workers on two cores, and oversubscribed BLAS threads make the many
# small matrix products of the notebooks several times slower. Set before numpy loads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cs231n.gradient_check import eval_numerical_gradient_array, rel_error  # noqa: E402

# Notebooks and tests must never wait on a display.
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def rng():
    return np.random.default_rng(231)


@pytest.fixture(autouse=True)
def _isolate_global_random_state(request):
    """Each test starts from a global random state of its own (seeded by its id) and
    leaves the state as it found it: what a test draws from ``np.random`` (a model
    initialised without a seed, say) never depends on which tests ran before, or on
    module-level fixtures that drew outside any test."""
    state = np.random.get_state()
    np.random.seed(zlib.crc32(request.node.nodeid.encode()))
    yield
    np.random.set_state(state)


def pytest_collection_modifyitems(session, config, items):
    seed = os.environ.get("CS231N_TEST_SHUFFLE")
    if not seed:
        return
    import random

    notebook = [it for it in items if str(it.fspath).endswith(".ipynb")]
    unit = [it for it in items if not str(it.fspath).endswith(".ipynb")]
    random.Random(int(seed)).shuffle(unit)
    items[:] = unit + notebook


def pytest_sessionstart(session):
    if os.environ.get("CS231N_STRICT_BUILD") != "1":
        return
    if os.environ.get("CS231N_NUMPY_FALLBACK", "").strip() not in ("", "0"):
        raise pytest.UsageError("CS231N_STRICT_BUILD=1 and CS231N_NUMPY_FALLBACK contradict.")
    from cs231n import fast_layers

    compiled, why = fast_layers._load_compiled()
    if compiled is None:
        raise pytest.UsageError(
            f"CS231N_STRICT_BUILD=1 but the compiled extension does not load ({why}): "
            "rebuild with pip install -e ."
        )


def assert_grads_match(
    forward, inputs, backward, dout, names=None, tol=1e-7, h=1e-5, relative_to="entries"
):
    """Check every analytic gradient of a layer against numerical gradients.

    Parameters
    ----------
    forward : callable(*inputs) -> out, the layer's forward pass (output only)
    inputs : list of float64 ndarrays, the inputs to differentiate with respect to
    backward : callable(dout) -> tuple of gradients, one per input, in order
    dout : ndarray, the upstream gradient, shaped like forward's output
    names : names of the inputs, for the failure message
    tol : largest acceptable relative error
    relative_to : "entries" (default) for the course's elementwise ``rel_error``;
        "largest" for the largest absolute difference over the largest entry of the
        numerical gradient, for layers whose gradients have entries that cancel to
        nearly zero (normalisation layers), where the elementwise error measures
        float64 rounding rather than the layer.
    """
    names = names or [f"input{i}" for i in range(len(inputs))]
    for arr in inputs:
        assert arr.dtype == np.float64, "gradient checks run in float64"
    analytic = backward(dout)
    if not isinstance(analytic, tuple):
        analytic = (analytic,)
    assert len(analytic) == len(inputs), "backward must return one gradient per input"
    for i, (name, arr, grad) in enumerate(zip(names, inputs, analytic)):

        def f(_, i=i):
            return forward(*inputs)

        numeric = eval_numerical_gradient_array(f, arr, dout, h=h)
        assert grad.shape == arr.shape, f"d{name} has shape {grad.shape}, expected {arr.shape}"
        if relative_to == "entries":
            err = rel_error(grad, numeric)
        else:
            err = float(np.max(np.abs(grad - numeric)) / max(np.max(np.abs(numeric)), 1e-300))
        assert err < tol, f"d{name}: relative error {err:.2e} exceeds {tol:.0e}"


def numpy_blas_can_share():
    """Whether numpy's BLAS is an OpenBLAS with the threads callback (0.3.27+), which
    ``cs231n._blas_threads`` needs to run its products on our threads."""
    config = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    if "openblas" not in str(config.get("name", "")).lower():
        return False
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", str(config.get("version", "")))
    return match is not None and tuple(map(int, match.groups())) >= (0, 3, 27)
