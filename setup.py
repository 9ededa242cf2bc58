"""Build the optional Cython extension ``cs231n.im2col_cython``.

All metadata lives in ``pyproject.toml``; this file only declares the extension.
If the extension cannot be compiled (no C compiler, no OpenMP), the install still
succeeds and ``cs231n.fast_layers`` falls back to pure numpy, saying so once.

- ``CS231N_NO_EXTENSION=1`` skips the build on purpose.
- ``CS231N_STRICT_BUILD=1`` makes any failure to build the extension an error that
  stops the install (CI sets it, so a broken build can never pass as a fallback).
"""

import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

STRICT = os.environ.get("CS231N_STRICT_BUILD") == "1"


class StrictBuildError(RuntimeError):
    """The extension did not build and CS231N_STRICT_BUILD=1 asked for it."""


def _give_up(what, exc):
    """Fall back to numpy, or stop the install when the build is strict."""
    if STRICT:
        raise StrictBuildError(
            f"{what} failed ({exc}) and CS231N_STRICT_BUILD=1 forbids the numpy fallback."
        ) from exc
    sys.stderr.write(
        f"WARNING: {what} failed ({exc}).\n"
        "cs231n will use its pure-numpy fallback for the fast layers.\n"
    )


class OptionalBuildExt(build_ext):
    """Build extensions, but never fail the install because of them."""

    def run(self):
        try:
            super().run()
        except StrictBuildError:
            raise
        except Exception as exc:  # noqa: BLE001 - any build failure means "use the fallback"
            _give_up("building the cs231n Cython extension", exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            _give_up("building the cs231n Cython extension", exc)


def extensions():
    if os.environ.get("CS231N_NO_EXTENSION"):
        if STRICT:
            raise StrictBuildError("CS231N_NO_EXTENSION and CS231N_STRICT_BUILD contradict.")
        return []
    try:
        import numpy
        from Cython.Build import cythonize
    except ImportError as exc:
        _give_up("importing Cython and numpy to cythonize", exc)
        return []
    from setuptools import Extension

    openmp = [] if sys.platform == "darwin" else ["-fopenmp"]
    ext = Extension(
        "cs231n.im2col_cython",
        ["cs231n/im2col_cython.pyx"],
        include_dirs=[numpy.get_include()],
        extra_compile_args=["-O3", *openmp],
        extra_link_args=openmp,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    try:
        return cythonize([ext], compiler_directives={"language_level": "3"}, quiet=True)
    except Exception as exc:  # noqa: BLE001 - a broken .pyx must not break the install
        _give_up("cythonize", exc)
        return []


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
