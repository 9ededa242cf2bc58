"""The one meaning of ``seed`` in this package.

Every model, solver, layer and checker that draws random numbers takes ``seed``:

- an int: draws come from a generator of its own, ``np.random.default_rng(seed)``, so
  they repeat run after run and leave numpy's global random state alone;
- None (the default): draws come from numpy's global random state, so one
  ``np.random.seed(...)`` at the top of a notebook makes the whole run repeatable, as in
  the original course code.

Both kinds of source offer the methods the package uses: ``standard_normal``,
``random``, ``uniform``, ``normal``, ``choice`` and ``permutation``.
"""

import numpy as np


def generator(seed=None):
    """The random source ``seed`` names: a new Generator for an int, np.random for None."""
    if seed is None:
        return np.random
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or None, got {seed!r}.")
    return np.random.default_rng(int(seed))
