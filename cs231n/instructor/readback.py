"""Reading back what untrusted code produced: as hostile input, within fixed bounds.

Everything a sandboxed child wrote (its ``.npz`` of results, its JSON status) and every
notebook in a submission is read here and nowhere else, under these rules:

- only regular files, opened without following links and without blocking (a named
  pipe or a device is refused, never waited on), and never more than a stated number
  of bytes is read;
- JSON is parsed only after its nesting depth and its number of values (each becomes an
  object) are checked, with integers of at most
  ``MAX_INT_DIGITS`` digits, and its strings are made valid text (a lone surrogate, which
  JSON may escape as ``\\ud800`` but no UTF-8 file can hold, becomes ``?``);
- an ``.npz`` is taken apart member by member (after its members are counted): each ``.npy`` header is validated (a
  numeric or boolean dtype, a shape whose size in bytes fits the remaining budget)
  before anything is allocated, and only the declared bytes are inflated.

Every failure is a ``ReadBackError`` with a message for the feedback; nothing else
escapes (no ``zlib.error``, ``RecursionError`` or ``MemoryError``).
"""

import io
import json
import os
import re
import stat
import zipfile

import numpy as np

MAX_INT_DIGITS = 30
MAX_JSON_DEPTH = 64
MAX_JSON_VALUES = 1_000_000  # containers, items and members: what parsing materializes
MAX_ARRAYS = 256
NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floating point


def _size(n):
    """A byte count for a message: 64 KiB, 64 MiB."""
    return f"{n // 2**20} MiB" if n >= 2**20 else f"{n // 2**10} KiB"


class ReadBackError(ValueError):
    """What the child (or the student) produced cannot be read safely."""


def read_capped(source, max_bytes):
    """The bytes of a regular file (a path, or an open descriptor read from offset 0).

    Raises ReadBackError for a link, a pipe, a device, a folder, a missing file or a file
    larger than ``max_bytes``.
    """
    own = not isinstance(source, int)
    try:
        fd = (
            os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
            if own
            else source
        )
    except OSError as exc:
        raise ReadBackError(f"it cannot be opened as a plain file ({exc.strerror})") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ReadBackError("it is not a regular file")
        if st.st_size > max_bytes:
            raise ReadBackError(f"it is larger than {_size(max_bytes)}")
        data = os.pread(fd, max_bytes + 1, 0)
        if len(data) > max_bytes:  # grew while we looked
            raise ReadBackError(f"it is larger than {_size(max_bytes)}")
        return data
    except OSError as exc:
        raise ReadBackError(f"it cannot be read ({exc.strerror})") from exc
    finally:
        if own:
            os.close(fd)


def json_depth(data, chunk=2**20):
    """The deepest nesting of ``[`` and ``{`` in JSON bytes (brackets in strings ignored)."""
    return json_shape(data, chunk)[0]


def json_shape(data, chunk=2**20):
    """(deepest nesting, number of values) of JSON bytes, outside strings: the values are
    counted by the ``[ { , :`` that introduce them (an upper bound within one).

    Linear in time and bounded in memory, whatever the bytes: escapes are dropped first
    (``\\\\`` pairs, then ``\\"``), so every quote left opens or closes a string, and
    the brackets outside strings are summed ``chunk`` bytes at a time. (A regular
    expression for strings took 3 GiB and 10 s on a 20 MiB unterminated string; one sum
    over all the brackets took 340 MiB.)
    """
    text = np.frombuffer(data.replace(b"\\\\", b"").replace(b'\\"', b""), dtype=np.uint8)
    depth = deepest = values = 0
    inside = 0  # whether the chunk starts inside a string
    for start in range(0, len(text), chunk):
        part = text[start : start + chunk]
        quotes = np.cumsum(part == ord('"'), dtype=np.int64) + inside
        outside = quotes % 2 == 0
        inside = int(quotes[-1] % 2)
        opening = ((part == ord("[")) | (part == ord("{"))) & outside
        closing = ((part == ord("]")) | (part == ord("}"))) & outside
        separators = ((part == ord(",")) | (part == ord(":"))) & outside
        values += int(np.count_nonzero(opening)) + int(np.count_nonzero(separators))
        running = np.cumsum(opening.astype(np.int8) - closing.astype(np.int8), dtype=np.int64)
        deepest = max(deepest, depth + int(running.max()))
        depth += int(running[-1])
    return deepest, values


def _bounded_int(text):
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ReadBackError(f"it holds an integer of more than {MAX_INT_DIGITS} digits")
    return int(text)


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def valid_text(obj):
    """``obj`` (parsed JSON) with every string encodable as UTF-8: a lone surrogate
    becomes ``?`` (else writing it into feedback.md would raise). Recursive: call it on
    depth-checked values only."""
    if isinstance(obj, str):
        return obj.encode("utf-8", "replace").decode("utf-8")
    if isinstance(obj, list):
        return [valid_text(v) for v in obj]
    if isinstance(obj, dict):
        return {valid_text(k): valid_text(v) for k, v in obj.items()}
    return obj


def parse_json(data, max_depth=MAX_JSON_DEPTH, max_values=MAX_JSON_VALUES):
    """Parse JSON bytes with bounded depth, number of values and integer size; raise
    ReadBackError if bad. Its strings are valid text (``valid_text``).

    The values are bounded because parsing makes an object of each: 20 MiB of ``[{},{},``
    took 500 MiB of the grader's memory.
    """
    try:
        depth, values = json_shape(data)
        if depth > max_depth:
            raise ReadBackError(f"it is nested deeper than {max_depth} levels")
        if values > max_values:
            raise ReadBackError(f"it holds more than {max_values:,} values")
        parsed = json.loads(data.decode("utf-8"), parse_int=_bounded_int)
        # Only an escape can make a surrogate (strict UTF-8 decoding refuses raw ones).
        return valid_text(parsed) if _SURROGATE_ESCAPE.search(data) else parsed
    except ReadBackError:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError, MemoryError) as exc:
        raise ReadBackError(f"it is not valid JSON ({type(exc).__name__})") from exc


def _npy_header(f):
    """(shape, fortran_order, dtype) of the .npy stream ``f``, validated; f is left at the data."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise ReadBackError(f"an array has an unsupported format version {version}")
    if (
        dtype.kind not in NUMERIC_KINDS
        or dtype.hasobject
        or dtype.fields is not None
        or dtype.subdtype is not None
    ):
        raise ReadBackError(f"an array has the type {dtype.str!r}; only numbers count")
    if len(shape) > 32 or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ReadBackError("an array has an invalid shape")
    return shape, fortran, dtype


_CENTRAL_ENTRY = b"PK\x01\x02"


def load_npz(data, max_bytes):
    """{name: array} from the bytes of an ``.npz``, allocating at most ``max_bytes``.

    Only numeric and boolean arrays are accepted (no pickles, strings, structured or
    void types); each array's declared size is checked against what remains of
    ``max_bytes`` before it is inflated.
    """
    arrays, budget = {}, max_bytes
    # A zip reader makes an object for every central-directory entry before anything can
    # count them (a million 47-byte entries: +600 MiB and seconds of CPU here). Each entry
    # begins with this signature, which cannot overlap itself: its occurrences bound them.
    if data.count(_CENTRAL_ENTRY) > MAX_ARRAYS:
        raise ReadBackError(f"it holds more than {MAX_ARRAYS} arrays")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ARRAYS:
                raise ReadBackError(f"it holds more than {MAX_ARRAYS} arrays")
            for info in infos:
                if not info.filename.endswith(".npy") or len(info.filename) > 200:
                    raise ReadBackError("it holds something that is not an array")
                with zf.open(info) as f:
                    shape, fortran, dtype = _npy_header(f)
                    nbytes = dtype.itemsize
                    for n in shape:
                        nbytes *= n
                    if nbytes > budget:
                        raise ReadBackError(f"its arrays are larger than {_size(max_bytes)} in all")
                    budget -= nbytes
                    raw = f.read(nbytes)
                if len(raw) != nbytes:
                    raise ReadBackError("an array is shorter than its header says")
                order = "F" if fortran else "C"
                array = np.frombuffer(raw, dtype=dtype).reshape(shape, order=order).copy()
                arrays[info.filename[: -len(".npy")]] = array
    except ReadBackError:
        raise
    except Exception as exc:  # noqa: BLE001 - zlib.error, BadZipFile, bad headers: all refused
        raise ReadBackError(f"it is not a readable array file ({type(exc).__name__})") from exc
    return arrays
