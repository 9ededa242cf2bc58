"""Numpy's matrix products on the compiled kernels' threads (course tooling, not a lesson).

A training step alternates matrix products (numpy's BLAS) with our compiled kernels.
A multi-threaded OpenBLAS built with pthreads, as in numpy's wheels, runs its products
on worker threads of its own, which busy-wait for a while after every product
without yielding. The kernels' OpenMP threads then find no free core, and a layer
that could run on every core runs on one (measured on 2 cores: the stride-2 first
layer of the convnet notebook, forward 2.3x the time of its product instead of
1.35x).

OpenBLAS 0.3.27 and later can hand its parallel work to the caller's threads (its
"threads callback"). ``share(kernels)`` installs the compiled kernels' callback
(``cs231n_run_blas_jobs`` in ``cs231n/im2col_cython.pyx``) in every pthreads OpenBLAS
the process has loaded, so that BLAS and the kernels take turns on one OpenMP team,
as PyTorch's own operators do. Nothing changes in the results: OpenBLAS splits a
product the same way and runs the same code, on other threads.

It is not installed (and everything works as before) when:

- ``CS231N_SHARE_BLAS_THREADS=0`` is set, or the platform is not Linux;
- numpy's BLAS is not an OpenBLAS with the callback (older, OpenMP-built, or another
  BLAS), or runs on one thread.

It is installed when PyTorch was imported first, too: PyTorch's wheel ships its
OpenMP runtime under the system's name (``libgomp.so.1``), so our kernels, numpy's
products and PyTorch's operators then all run on that one team, which is what keeps
``import torch`` from slowing a step down (measured: a ThreeLayerConvNet step 12.1-13.5
ms with torch imported first, against 17.0-22.4 ms when the products kept
OpenBLAS's threads).

In a child made by ``os.fork()`` the callback is removed again (OpenMP's threads do
not survive a fork; OpenBLAS restarts its own).
"""

import ctypes
import os
import re
import sys

_installed = []  # (path, setter) of the libraries that run their products on our team


def active():
    """Whether numpy's BLAS runs its products on the compiled kernels' threads."""
    return bool(_installed)


def installed_paths():
    """The OpenBLAS libraries now sharing the kernels' threads."""
    return [path for path, _ in _installed]


def _loaded_openblas_paths():
    try:
        with open("/proc/self/maps") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    paths = set()
    for line in lines:
        fields = line.split(None, 5)
        if len(fields) == 6 and "openblas" in os.path.basename(fields[5]).lower():
            paths.add(fields[5].strip())
    return sorted(paths)


def _function(lib, name, restype, *argtypes):
    """OpenBLAS's function ``name`` under the prefixes and suffixes its builds use
    (``scipy_openblas_..._64_`` in numpy's wheels), or None."""
    for prefix in ("scipy_", ""):
        for suffix in ("64_", "_64", ""):
            try:
                fn = getattr(lib, prefix + name + suffix)
            except AttributeError:
                continue
            fn.restype = restype
            fn.argtypes = argtypes
            return fn
    return None


def _callback_target(path):
    """The callback setter and the per-thread entries (MAX_THREADS) of the OpenBLAS
    at ``path``, or None when its products should keep their own threads."""
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    setter = _function(lib, "openblas_set_threads_callback_function", None, ctypes.c_void_p)
    parallel = _function(lib, "openblas_get_parallel", ctypes.c_int)
    threads = _function(lib, "openblas_get_num_threads", ctypes.c_int)
    config = _function(lib, "openblas_get_config", ctypes.c_char_p)
    if None in (setter, parallel, threads, config):
        return None  # older than 0.3.27, or not OpenBLAS's usual interface
    if parallel() != 1:  # 0: single-threaded build; 2: OpenMP build (already shares)
        return None
    match = re.search(rb"MAX_THREADS=(\d+)", config() or b"")
    n = threads()
    if match is None or n < 2:
        return None
    slots = int(match.group(1))
    # Our jobs take the highest per-thread entries, OpenBLAS's n - 1 workers the lowest.
    if 2 * n > slots:
        return None
    return setter, slots


_fork_hook = False
_found = None  # what _targets found: asked twice as the kernels load, read once


def _targets():
    """(path, (setter, slots)) of each loaded OpenBLAS that can share, unless switched off."""
    global _found
    if _found is None:
        _found = []
        switched_off = os.environ.get("CS231N_SHARE_BLAS_THREADS", "").strip() == "0"
        if not switched_off and sys.platform.startswith("linux"):
            for path in _loaded_openblas_paths():
                target = _callback_target(path)
                if target is not None:
                    _found.append((path, target))
    return _found


def can_share():
    """Whether ``share`` will install the callback (given kernels built with OpenMP).

    Asked before the kernels load their OpenMP runtime, which reads its wait policy
    then: a team that runs numpy's products too should not fall asleep between them.
    """
    return bool(_installed or _targets())


def share(kernels):
    """Install the kernels' callback in the loaded OpenBLAS libraries; returns their paths.

    ``kernels`` is the compiled extension (``cs231n.im2col_cython``).
    """
    global _fork_hook
    if _installed:
        return installed_paths()
    if not hasattr(kernels, "blas_jobs_address"):
        return []
    targets = _targets()
    if not targets:
        return []
    address = kernels.blas_jobs_address(min(slots for _, (_, slots) in targets))
    if not address:
        return []  # the kernels were built without OpenMP
    for path, (setter, _) in targets:
        setter(address)
        _installed.append((path, setter))
    if not _fork_hook:
        os.register_at_fork(after_in_child=unshare)
        _fork_hook = True
    return installed_paths()


def unshare():
    """Give the products back to OpenBLAS's own threads (for tests and benchmarks)."""
    for _, setter in _installed:
        setter(None)
    _installed.clear()
