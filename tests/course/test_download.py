"""The downloader against a real HTTP server on 127.0.0.1.

The server serves a generated archive in the official CIFAR-10 layout
(``cifar-10-batches-py/`` with small batches) and can misbehave on purpose:
close the connection early, serve corrupted bytes, or ignore Range requests.
"""

import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from cs231n import data_utils
from cs231n.cli import main
from cs231n.data import download as dl
from cs231n.data.embedded_cifar import write_cifar10_batches

ARCHIVE = "cifar-10-python.tar.gz"
NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


class RangeHandler(BaseHTTPRequestHandler):
    """Serves server.files (path -> bytes), honouring ``Range: bytes=N-``.

    server.truncate_at[path] = n sends only the first n bytes of the body (with the
    full Content-Length) and drops the connection; server.ignore_range answers
    every request with the whole file.
    """

    def do_GET(self):
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        body = srv.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and not srv.ignore_range:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        stop = srv.truncate_at.get(self.path, len(body))
        self.wfile.write(body[start:stop])

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    srv.files, srv.truncate_at, srv.requests, srv.ignore_range = {}, {}, [], False
    thread = threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    srv.url = lambda path: f"http://127.0.0.1:{srv.server_address[1]}{path}"
    yield srv
    srv.shutdown()
    srv.server_close()


def make_archive(tmp_path, rng, per_batch=6, extra_members=()):
    """A .tar.gz in the official layout with small random batches; returns (bytes, arrays)."""
    src = tmp_path / "src" / data_utils.CIFAR10_FOLDER
    Xtr = rng.integers(0, 256, (5 * per_batch, 32, 32, 3), dtype=np.uint8)
    ytr = rng.integers(0, 10, 5 * per_batch)
    Xte = rng.integers(0, 256, (per_batch, 32, 32, 3), dtype=np.uint8)
    yte = rng.integers(0, 10, per_batch)
    write_cifar10_batches(src, Xtr, ytr, Xte, yte, NAMES)
    (src / "readme.html").write_text("<html>CIFAR-10</html>")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(src, arcname=data_utils.CIFAR10_FOLDER)
        for name, data in extra_members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue(), (Xtr, ytr, Xte, yte)


def md5(data):
    return "md5:" + hashlib.md5(data).hexdigest()


def leftovers(root):
    """Anything the download left besides the data folder and backups."""
    return sorted(
        p.name
        for p in Path(root).iterdir()
        if p.name != data_utils.CIFAR10_FOLDER and ".bak-" not in p.name
    )


def cli_download(root, url, checksum, *extra):
    argv = ["data", "download", "cifar10", "--root", str(root), "--url", url, "-q"]
    return main(argv + (["--checksum", checksum] if checksum else []) + list(extra))


# ----------------------------------------------------------------------------------------
# The whole command, end to end
# ----------------------------------------------------------------------------------------


def test_download_places_verified_data(tmp_path, server, rng, capsys):
    body, (Xtr, ytr, Xte, yte) = make_archive(tmp_path, rng)
    server.files["/" + ARCHIVE] = body
    root = tmp_path / "data"
    assert cli_download(root, server.url("/" + ARCHIVE), md5(body)) == 0
    assert "installed at" in capsys.readouterr().out
    A, a, B, b = data_utils.load_CIFAR10(root / data_utils.CIFAR10_FOLDER, dtype=np.uint8)
    assert np.array_equal(A, Xtr) and np.array_equal(a, ytr)
    assert np.array_equal(B, Xte) and np.array_equal(b, yte)
    assert leftovers(root) == []  # archive it downloaded removed, no .part, no temp folders


def test_env_overrides_url_and_checksum(tmp_path, server, rng, monkeypatch):
    body, _ = make_archive(tmp_path, rng)
    server.files["/mirror/" + ARCHIVE] = body
    monkeypatch.setenv("CS231N_CIFAR10_URL", server.url("/mirror/" + ARCHIVE))
    monkeypatch.setenv("CS231N_CIFAR10_CHECKSUM", md5(body))
    root = tmp_path / "data"
    assert main(["data", "download", "cifar10", "--root", str(root), "-q", "--keep-archive"]) == 0
    assert data_utils.is_complete(root / data_utils.CIFAR10_FOLDER)
    assert (root / ARCHIVE).read_bytes() == body
    assert server.requests == [("/mirror/" + ARCHIVE, None)]


def test_mirror_option(tmp_path, server, rng):
    body, _ = make_archive(tmp_path, rng)
    server.files["/m/" + ARCHIVE] = body
    root = tmp_path / "data"
    argv = ["data", "download", "cifar10", "--root", str(root), "-q"]
    assert main(argv + ["--mirror", server.url("/m/"), "--checksum", md5(body)]) == 0
    assert data_utils.is_complete(root / data_utils.CIFAR10_FOLDER)


def test_official_checksum_rejects_other_archive(tmp_path, server, rng, capsys):
    body, _ = make_archive(tmp_path, rng)
    server.files["/" + ARCHIVE] = body
    root = tmp_path / "data"
    assert cli_download(root, server.url("/" + ARCHIVE), None) == 1  # official md5 applies
    assert "c58f30108f718f92721af3b95e74349a" in capsys.readouterr().err
    assert (
        not root.exists() or leftovers(root) == [] and not (root / "cifar-10-batches-py").exists()
    )


def test_truncated_transfer_places_nothing_then_resumes(tmp_path, server, rng, capsys):
    body, _ = make_archive(tmp_path, rng)
    path = "/" + ARCHIVE
    server.files[path] = body
    server.truncate_at[path] = len(body) // 2
    root = tmp_path / "data"
    assert cli_download(root, server.url(path), md5(body)) == 1
    err = capsys.readouterr().err
    assert "ended early" in err and "resume" in err
    assert not (root / data_utils.CIFAR10_FOLDER).exists()
    assert not (root / ARCHIVE).exists()
    part = root / (ARCHIVE + ".part")
    assert part.read_bytes() == body[: len(body) // 2]  # kept, a valid prefix

    del server.truncate_at[path]
    assert cli_download(root, server.url(path), md5(body)) == 0
    assert server.requests[-1] == (path, f"bytes={len(body) // 2}-")
    assert data_utils.is_complete(root / data_utils.CIFAR10_FOLDER)
    assert leftovers(root) == []


def test_corrupted_archive_rejected_and_removed(tmp_path, server, rng, capsys):
    body, _ = make_archive(tmp_path, rng)
    bad = bytearray(body)
    bad[len(bad) // 3] ^= 0xFF
    server.files["/" + ARCHIVE] = bytes(bad)
    root = tmp_path / "data"
    assert cli_download(root, server.url("/" + ARCHIVE), md5(body)) == 1
    assert "corrupt" in capsys.readouterr().err
    assert not (root / data_utils.CIFAR10_FOLDER).exists()
    assert leftovers(root) == []  # a complete file with a wrong checksum cannot be resumed


@pytest.mark.parametrize("cut", [0.5, 0.98])
def test_truncated_archive_that_matches_its_checksum_places_nothing(tmp_path, server, rng, cut):
    # e.g. a mirror holding a broken file and a checksum computed from it
    body, _ = make_archive(tmp_path, rng)
    short = body[: int(len(body) * cut)]
    server.files["/" + ARCHIVE] = short
    root = tmp_path / "data"
    assert cli_download(root, server.url("/" + ARCHIVE), md5(short)) == 1
    assert not (root / data_utils.CIFAR10_FOLDER).exists()
    assert leftovers(root) == []


def test_existing_data_kept_unless_forced(tmp_path, server, rng, capsys):
    body, _ = make_archive(tmp_path, rng)
    server.files["/" + ARCHIVE] = body
    root = tmp_path / "data"
    mine = root / data_utils.CIFAR10_FOLDER
    mine.mkdir(parents=True)
    (mine / "my_notes.txt").write_text("mine")
    assert cli_download(root, server.url("/" + ARCHIVE), md5(body)) == 0
    assert "already present" in capsys.readouterr().out
    assert server.requests == [] and sorted(p.name for p in mine.iterdir()) == ["my_notes.txt"]

    assert cli_download(root, server.url("/" + ARCHIVE), md5(body), "--force") == 0
    assert data_utils.is_complete(mine)
    (backup,) = root.glob(data_utils.CIFAR10_FOLDER + ".bak-*")
    assert (backup / "my_notes.txt").read_text() == "mine"  # moved aside, never deleted


def test_user_archive_used_and_kept(tmp_path, server, rng):
    body, _ = make_archive(tmp_path, rng)
    root = tmp_path / "data"
    root.mkdir()
    (root / ARCHIVE).write_bytes(body)  # e.g. copied from another machine
    assert cli_download(root, server.url("/nothing-here"), md5(body)) == 0
    assert server.requests == []
    assert (root / ARCHIVE).read_bytes() == body
    assert data_utils.is_complete(root / data_utils.CIFAR10_FOLDER)


def test_http_error_is_clear(tmp_path, server):
    with pytest.raises(dl.DownloadError, match="HTTP 404"):
        dl.download(server.url("/missing"), tmp_path / "f", checksum=None, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_server_is_clear(tmp_path, server):
    url = server.url("/x")
    server.shutdown()
    server.server_close()
    with pytest.raises(dl.DownloadError, match="Could not reach"):
        dl.download(url, tmp_path / "f", progress=False, timeout=5)


# ----------------------------------------------------------------------------------------
# download(): resume details
# ----------------------------------------------------------------------------------------


def test_resume_sends_range_and_appends(tmp_path, server, rng):
    body = rng.bytes(200_000)
    server.files["/blob"] = body
    dest = tmp_path / "blob"
    (tmp_path / "blob.part").write_bytes(body[:12345])
    dl.download(server.url("/blob"), dest, checksum=md5(body), progress=False)
    assert server.requests == [("/blob", "bytes=12345-")]
    assert dest.read_bytes() == body and not (tmp_path / "blob.part").exists()


def test_resume_when_server_ignores_range_starts_over(tmp_path, server, rng):
    body = rng.bytes(50_000)
    server.files["/blob"] = body
    server.ignore_range = True
    (tmp_path / "blob.part").write_bytes(body[:777])
    dl.download(server.url("/blob"), tmp_path / "blob", checksum=md5(body), progress=False)
    assert (tmp_path / "blob").read_bytes() == body


def test_complete_part_file_is_verified_not_refetched(tmp_path, server, rng):
    body = rng.bytes(10_000)
    server.files["/blob"] = body
    (tmp_path / "blob.part").write_bytes(body)
    dl.download(server.url("/blob"), tmp_path / "blob", checksum=md5(body), progress=False)
    assert (tmp_path / "blob").read_bytes() == body  # the server answered 416


def test_sha256_checksums(tmp_path, server, rng):
    body = rng.bytes(5000)
    server.files["/blob"] = body
    good = "sha256:" + hashlib.sha256(body).hexdigest()
    dl.download(server.url("/blob"), tmp_path / "blob", checksum=good, progress=False)
    bad = "sha256:" + "0" * 64
    with pytest.raises(dl.ChecksumError):
        dl.download(server.url("/blob"), tmp_path / "other", checksum=bad, progress=False)
    assert not (tmp_path / "other").exists() and not (tmp_path / "other.part").exists()


def test_existing_dest_with_wrong_checksum_left_untouched(tmp_path, server):
    (tmp_path / "blob").write_bytes(b"user data")
    with pytest.raises(dl.ChecksumError, match="left untouched"):
        dl.download(server.url("/blob"), tmp_path / "blob", checksum="md5:" + "0" * 32)
    assert (tmp_path / "blob").read_bytes() == b"user data" and server.requests == []


@pytest.mark.parametrize("bad", ["md5:xyz", "crc32:" + "0" * 8, "0" * 32, "md5:" + "g" * 32])
def test_malformed_checksum_rejected(bad):
    with pytest.raises(ValueError, match="must look like"):
        dl.parse_checksum(bad)


@pytest.mark.skipif(dl.fcntl is None, reason="file locks are POSIX-only")
def test_concurrent_download_of_same_file_refused(tmp_path, server):
    with open(tmp_path / "blob.part", "ab") as f:
        dl.fcntl.flock(f, dl.fcntl.LOCK_EX)
        with pytest.raises(dl.DownloadError, match="Another process"):
            dl.download(server.url("/blob"), tmp_path / "blob", progress=False)


# ----------------------------------------------------------------------------------------
# extract_archive(): hostile archives
# ----------------------------------------------------------------------------------------


def hostile_tar(path, member):
    with tarfile.open(path, "w:gz") as tar:
        ok = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        ok.size = 3
        tar.addfile(ok, io.BytesIO(b"abc"))
        tar.addfile(member, io.BytesIO(b"evil") if member.isfile() else None)


def _member(name, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = 4 if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize(
    "member, message",
    [
        (_member("cifar-10-batches-py/../../evil"), "outside"),
        (_member("../evil"), "outside"),
        (_member("/tmp/evil"), "absolute"),
        (_member("other-folder/evil"), "not inside"),
        (_member("cifar-10-batches-py/link", tarfile.SYMTYPE, "/etc/passwd"), "link"),
        (_member("cifar-10-batches-py/hard", tarfile.LNKTYPE, "/etc/passwd"), "link"),
        (_member("cifar-10-batches-py/fifo", tarfile.FIFOTYPE), "special"),
    ],
)
def test_hostile_members_rejected(tmp_path, member, message):
    archive = tmp_path / "a.tar.gz"
    hostile_tar(archive, member)
    parent = tmp_path / "out" / "inner"
    with pytest.raises(dl.DownloadError, match=message):
        dl.extract_archive(archive, parent, "cifar-10-batches-py")
    assert not (tmp_path / "evil").exists() and not (tmp_path / "out" / "evil").exists()
    assert list(parent.iterdir()) == []  # temp folder removed, nothing placed


def test_zip_traversal_rejected(tmp_path):
    import zipfile

    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("cifar-10-batches-py/ok", b"ok")
        zf.writestr("cifar-10-batches-py/../../evil", b"evil")
    with pytest.raises(dl.DownloadError, match="outside"):
        dl.extract_archive(archive, tmp_path / "out", "cifar-10-batches-py")
    assert not (tmp_path / "evil").exists()


def test_extract_check_rejects_contents(tmp_path, rng):
    body, _ = make_archive(tmp_path, rng)
    archive = tmp_path / ARCHIVE
    archive.write_bytes(body)

    def refuse(path):
        raise ValueError("not what we expected")

    with pytest.raises(ValueError, match="not what we expected"):
        dl.extract_archive(archive, tmp_path / "out", "cifar-10-batches-py", check=refuse)
    assert list((tmp_path / "out").iterdir()) == []


# ----------------------------------------------------------------------------------------
# The registry: another data set is one more entry
# ----------------------------------------------------------------------------------------


def test_registry_entry_without_checksum_is_checked_by_contents(tmp_path, server, monkeypatch):
    import zipfile

    from cs231n.data import command as data_cmd

    def check(path):
        if (path / "words.txt").read_text() != "hello":
            raise ValueError("words.txt is wrong")
        return "1 file"

    entry = data_cmd.Dataset(
        name="toy",
        description="a toy set",
        folder="toy",
        files=[data_cmd.RemoteFile(server.url("/toy.zip"), "toy.zip", checksum=None, unpack=True)],
        check=check,
    )
    monkeypatch.setitem(data_cmd.DATASETS, "toy", entry)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("toy/words.txt", "hello")
    server.files["/toy.zip"] = buf.getvalue()
    root = tmp_path / "data"
    assert main(["data", "download", "toy", "--root", str(root), "-q"]) == 0
    assert (root / "toy" / "words.txt").read_text() == "hello"
    assert sorted(p.name for p in root.iterdir()) == ["toy"]  # zip removed, no temp folders

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("toy/words.txt", "garbage")
    server.files["/toy.zip"] = buf.getvalue()
    assert main(["data", "download", "toy", "--root", str(root), "-q", "--force"]) == 1
    assert (root / "toy" / "words.txt").read_text() == "hello"  # the good copy stays


def test_url_override_needs_one_data_set(tmp_path):
    argv = ["data", "download", "all", "--root", str(tmp_path), "--url", "http://127.0.0.1:1/"]
    assert main(argv) == 2
