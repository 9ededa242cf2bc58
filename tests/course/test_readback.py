"""Reading back hostile files: links, pipes and oversized files refused without blocking;
JSON bounded in depth and integer size; npz headers validated before any allocation;
compare() answering "wrong type" instead of raising."""

import io
import json
import os
import resource
import struct
import threading
import time
import zipfile

import numpy as np
import pytest

from cs231n.instructor.grade import compare
from cs231n.instructor.readback import (
    ReadBackError,
    json_depth,
    load_npz,
    parse_json,
    read_capped,
)


def npz_bytes(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_honest_files_read_back(tmp_path):
    arrays = {"dists": np.arange(12.0).reshape(3, 4), "y": np.array([1, 2]), "ok": np.True_}
    path = tmp_path / "result.npz"
    path.write_bytes(npz_bytes(**arrays))
    got = load_npz(read_capped(path, 2**20), 2**20)
    assert sorted(got) == sorted(arrays)
    for k, v in arrays.items():
        np.testing.assert_array_equal(got[k], v)
        assert got[k].dtype == np.asarray(v).dtype
    fortran = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(load_npz(npz_bytes(a=fortran), 2**20)["a"], fortran)
    assert parse_json(b'{"ok": true, "error": "[[[ in a string", "n": 12}')["n"] == 12


def test_links_pipes_folders_and_large_files_are_refused_without_blocking(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("{}")
    (tmp_path / "link").symlink_to(secret)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "big").write_bytes(b"x" * 5000)
    done = []

    def attempt():
        for name, why in [
            ("link", "cannot be opened"),
            ("fifo", "not a regular file"),
            (".", "not a regular file"),
            ("big", "larger than"),
            ("missing", "cannot be opened"),
        ]:
            with pytest.raises(ReadBackError, match=why):
                read_capped(tmp_path / name, 4096)
            done.append(name)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert len(done) == 5, f"blocked or failed after {done}"


def test_json_depth_and_integers_are_bounded():
    assert json_depth(b'[{"a": [1, "]]]]"]}]') == 3
    with pytest.raises(ReadBackError, match="nested deeper"):
        parse_json(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(ReadBackError, match="digits"):
        parse_json(b'{"ok": ' + b"9" * 5000 + b"}")
    with pytest.raises(ReadBackError, match="not valid JSON"):
        parse_json(b"\xff{")
    with pytest.raises(ReadBackError, match="not valid JSON"):
        parse_json(b'{"ok": tru')


@pytest.mark.parametrize(
    "array",
    [
        np.array(["a", "b"]),
        np.zeros(3, dtype=[("a", "f8"), ("b", "i4")]),
        np.zeros(3, dtype="V8"),
        np.array([1 + 2j]),
        np.array(["2020-01-01"], dtype="datetime64[D]"),
    ],
    ids=["str", "structured", "void", "complex", "datetime"],
)
def test_non_numeric_arrays_are_refused(array):
    with pytest.raises(ReadBackError, match="only numbers count"):
        load_npz(npz_bytes(x=array), 2**20)


def declared_npz(shape, payload=b"", compress=zipfile.ZIP_DEFLATED):
    """An npz whose one array declares ``shape`` (float64) but holds ``payload``."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": shape}
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as zf:
        zf.writestr("x.npy", np.lib.format.MAGIC_PREFIX + b"\x01\x00" + header.getvalue()[8:])
    raw = buf.getvalue()
    # write_array_header_1_0 writes its own magic: rebuild from it exactly.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as zf:
        zf.writestr("x.npy", header.getvalue() + payload)
    assert raw  # (the first build only checks the helper runs)
    return buf.getvalue()


def test_declared_sizes_are_checked_before_allocation():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    bomb = declared_npz((2**28,), payload=b"\0" * 2**21)  # declares 2 GiB, holds 2 MiB
    assert len(bomb) < 2**20
    with pytest.raises(ReadBackError, match="larger than 64 MiB"):
        load_npz(bomb, 64 * 2**20)
    with pytest.raises(ReadBackError, match="shorter than its header"):
        load_npz(declared_npz((1000,), payload=b"\0" * 80), 64 * 2**20)
    with pytest.raises(ReadBackError, match="larger than"):
        load_npz(declared_npz((2**40, 2**40)), 64 * 2**20)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak  # KiB
    assert grown < 100 * 1024, f"reading back grew the peak by {grown} KiB"


def test_corrupt_archives_are_refused():
    good = npz_bytes(x=np.arange(1000.0))
    with pytest.raises(ReadBackError, match="not a readable array file"):
        load_npz(good[: len(good) // 2], 2**20)
    with pytest.raises(ReadBackError, match="not a readable array file"):
        load_npz(b"PK\x03\x04" + os.urandom(200), 2**20)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("x.npy", good)
    data = bytearray(buf.getvalue())
    data[60:160] = os.urandom(100)  # inside the deflate stream
    with pytest.raises(ReadBackError):
        load_npz(bytes(data), 2**20)
    with pytest.raises(ReadBackError, match="not an array"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("x.pkl", b"\x80\x04N.")
        load_npz(buf.getvalue(), 2**20)


@pytest.mark.parametrize(
    "got",
    [
        np.array(["a", "b"]),
        np.zeros(2, dtype=[("a", "f8")]),
        np.zeros(2, dtype="V8"),
        np.array([None, 1], dtype=object),
        "not an array",
    ],
    ids=["str", "structured", "void", "object", "str-object"],
)
def test_compare_never_raises_on_the_wrong_type(got):
    ok, why = compare({"x": np.zeros(2)}, {"x": got}, 1e-6)
    assert not ok and "wrong type" in why
    json.dumps(why)  # a message, not an object


def test_json_strings_are_valid_text():
    """A lone surrogate escaped in JSON (a student's error message) becomes "?": no UTF-8
    file, feedback.md included, could hold it. A surrogate pair is a character, kept."""
    status = parse_json(b'{"ok": false, "error": "\\ud800x", "\\udfff": ["\\ud83d\\ude00"]}')
    assert status == {"ok": False, "error": "?x", "?": ["\U0001f600"]}
    json.dumps(status).encode("utf-8")
    status["error"].encode("utf-8")


def test_a_million_central_directory_entries_are_refused_before_parsing():
    """An npz of 1.3 million 47-byte central-directory entries (61 MiB, under the file
    size limit): refused before a zip reader makes an object per entry."""
    entry = struct.pack(
        "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0
    )
    entry += b"x.npy"
    n = 1_300_000
    data = entry * n + struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(entry) * n, 0, 0
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(ReadBackError, match="more than 256 arrays"):
        load_npz(data, 64 * 2**20)
    assert time.perf_counter() - start < 2
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak  # KiB
    assert grown < 20 * 1024, f"reading back grew the peak by {grown} KiB"
    # An honest npz of 256 arrays is still read.
    assert len(load_npz(npz_bytes(**{f"a{i}": np.arange(3) for i in range(256)}), 2**20)) == 256


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 2**20])
def test_json_depth_ignores_brackets_in_strings_across_chunks(chunk):
    cases = {
        b'[{"a": [1, "]]]]"]}]': 3,
        b'["\\"[[[", "\\\\", [["\\\\\\"]"]]]': 3,
        b'{"k\\\\": {"[": "}\\"{"}}': 2,
        b"[]" * 5 + b"[[[]]]": 3,
        b"": 0,
        b'"[[[': 0,
    }
    for data, depth in cases.items():
        assert json_depth(data, chunk) == depth, (data, chunk)


@pytest.mark.parametrize(
    "data, why",
    [
        # (built in the test: 20 MiB each)
        (lambda: b'"' + b"a" * (20 * 2**20), "not valid JSON"),  # unterminated: was 3 GiB
        (lambda: b'"' + b"\\a" * (10 * 2**20), "not valid JSON"),
        (lambda: b"[" + b"{}," * (6 * 2**20) + b"{}]", "more than 1,000,000 values"),  # 500 MiB
        (lambda: b"[" + b"[]," * (6 * 2**20) + b"[]]", "more than 1,000,000 values"),
        (lambda: b"[" * (10 * 2**20) + b"]" * (10 * 2**20), "nested deeper"),  # was 340 MiB
    ],
    ids=["unterminated", "escapes", "objects", "lists", "brackets"],
)
def test_large_json_is_refused_in_bounded_time_and_memory(data, why):
    data = data()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(ReadBackError, match=why):
        parse_json(data)
    assert time.perf_counter() - start < 5
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak  # KiB
    assert grown < 100 * 1024, f"parsing grew the peak by {grown} KiB"
