"""Build the optional Cython extension ``cs231n.im2col_cython``.

All metadata lives in ``pyproject.toml``; this file only declares the extension.
If the extension cannot be compiled (no C compiler, no OpenMP), the install still
succeeds and ``cs231n.fast_layers`` falls back to pure numpy, saying so once.
Set ``CS231N_NO_EXTENSION=1`` to skip the build on purpose.
"""

import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """Build extensions, but never fail the install because of them."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any build failure means "use the fallback"
            self._warn(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._warn(exc)

    @staticmethod
    def _warn(exc):
        sys.stderr.write(
            f"WARNING: could not build the cs231n Cython extension ({exc}).\n"
            "cs231n will use its pure-numpy fallback for the fast layers.\n"
        )


def extensions():
    if os.environ.get("CS231N_NO_EXTENSION"):
        return []
    try:
        import numpy
        from Cython.Build import cythonize
    except ImportError as exc:
        sys.stderr.write(f"WARNING: cannot cythonize ({exc}); using the numpy fallback.\n")
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
        sys.stderr.write(f"WARNING: cythonize failed ({exc}); using the numpy fallback.\n")
        return []


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
