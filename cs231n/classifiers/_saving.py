"""``model.save(path)`` / ``model.load(path)``: a model's learned arrays to a file and back.

The models mix in ``SaveLoad``. A saved file is a numpy ``.npz`` archive (a zip of
``.npy`` arrays) whatever its name, so ``net.save("best_two_layer_net.npy")`` writes
exactly that file, as the course notebooks expect. It holds the model's class name and
its arrays, and nothing else: loading never unpickles anything (a pickle can run
arbitrary code), so a file from elsewhere can be refused but cannot do harm.

Each model says what it saves through ``_state()`` (a dict name -> array) and how to
take it back through ``_set_state(state)``; by default that is ``self.params``.
"""

import os
import tempfile
from pathlib import Path

import numpy as np

_MODEL_KEY = "__model__"


class SaveLoad:
    """Mixin giving a model ``save(path)`` and ``load(path)``."""

    def _state(self):
        """The arrays that define the trained model: name -> ndarray."""
        return dict(self.params)

    def _set_state(self, state):
        """Take back what ``_state()`` returned (names and shapes already checked)."""
        dtype = getattr(self, "dtype", None)
        self.params = {k: (v.astype(dtype) if dtype is not None else v) for k, v in state.items()}

    def save(self, path):
        """Write the model's learned arrays to ``path`` (replacing that file atomically).

        Parameters
        ----------
        path : str or Path; the file to write, used as given (no suffix is added)
        """
        path = Path(path)
        state = self._state()
        if not state or any(v is None for v in state.values()):
            raise ValueError(
                f"This {type(self).__name__} has nothing to save yet: train it "
                "(or build it) before calling save()."
            )
        if _MODEL_KEY in state:
            raise ValueError(f"{_MODEL_KEY!r} is reserved and cannot name a parameter.")
        arrays = {k: np.asarray(v) for k, v in state.items()}
        arrays[_MODEL_KEY] = np.array(type(self).__name__)
        directory = path.parent if str(path.parent) else Path(".")
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private
            os.replace(tmp, path)  # readers see the old file or the new one, never half
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    def load(self, path):
        """Replace the model's learned arrays with those saved in ``path``.

        The file must have been written by ``save()`` of the same kind of model; when
        the model already has parameters, the file's must have the same names and
        shapes (build the model with the sizes it was saved with).

        Returns
        -------
        True, as the course code's ``load`` does when it finds the file.

        Raises
        ------
        FileNotFoundError if there is no such file; ValueError if the file is not a
        model saved by ``save()``, is another kind of model, or does not fit this one.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No saved model at {path}: save one with model.save(path).")
        name = type(self).__name__
        try:
            loaded = np.load(path, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ValueError("it holds a single array, not a saved model")
            with loaded as f:
                arrays = {k: f[k] for k in f.files}
        except ValueError as exc:
            if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                exc = "it holds a pickled object, which is never loaded (it could run code)"
            raise ValueError(
                f"{path} is not a model saved by {name}.save(): {exc}. Save the model "
                "again with this package's save()."
            ) from None
        except Exception as exc:
            raise ValueError(f"{path} is not a readable saved model: {exc}") from None
        saved = arrays.pop(_MODEL_KEY, None)
        if saved is None or saved.shape != () or saved.dtype.kind != "U":
            raise ValueError(f"{path} is not a model saved by {name}.save() (no model name in it).")
        if str(saved) != name:
            raise ValueError(f"{path} holds a saved {saved}, not a {name}: load it into a {saved}.")
        current = self._state() if self._has_state() else {}
        if current:
            missing = sorted(set(current) - set(arrays))
            extra = sorted(set(arrays) - set(current))
            if missing or extra:
                raise ValueError(
                    f"{path} does not fit this {name}: "
                    + "; ".join(
                        part
                        for part in (
                            f"missing {', '.join(missing)}" if missing else "",
                            f"unexpected {', '.join(extra)}" if extra else "",
                        )
                        if part
                    )
                    + ". Build the model with the layers it was saved with."
                )
            for key, value in current.items():
                if value is not None and np.shape(value) != arrays[key].shape:
                    raise ValueError(
                        f"{path} does not fit this {name}: {key} has shape "
                        f"{arrays[key].shape} in the file and {np.shape(value)} here. Build "
                        "the model with the sizes it was saved with."
                    )
        self._set_state(arrays)
        return True

    def _has_state(self):
        """Whether the model already holds arrays that a file must match."""
        try:
            state = self._state()
        except (AttributeError, TypeError):
            return False
        return bool(state) and all(v is not None for v in state.values())
