"""``cs231n data download coco`` against a real HTTP server on 127.0.0.1.

The server serves a zip in the course's layout (``coco_captioning/`` holding the
captions, vocabulary, features and URL files, written by the loader tests' helper)
and can misbehave on purpose: drop the connection early or serve other bytes.
"""

import hashlib
import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cs231n.cli import main
from cs231n.coco_utils import load_coco_data
from cs231n.data import coco_data, embedded_coco
from tests.test_coco_utils import write_coco_folder, write_vocab

ARCHIVE = "coco_captioning.zip"


class Handler(BaseHTTPRequestHandler):
    """Serves server.files (path -> bytes), honouring ``Range: bytes=N-``;
    server.truncate_at[path] = n sends only n bytes and drops the connection."""

    def do_GET(self):
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        body = srv.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        stop = srv.truncate_at.pop(self.path, len(body))
        self.wfile.write(body[start:stop])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.files, srv.truncate_at, srv.requests = {}, {}, []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()


def make_archive(tmp_path, top="coco_captioning", corrupt_vocab=False):
    """The bytes of a zip holding a small COCO folder under ``top/``."""
    folder = tmp_path / "src" / top
    write_coco_folder(folder)
    if corrupt_vocab:
        write_vocab(folder, ["<NULL>", "<START>", "<END>", "<UNK>", "a"])  # too few words
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in sorted(folder.iterdir()):
            z.write(f, f"{top}/{f.name}")
    return buf.getvalue()


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def download(root, url, *extra):
    return main(["data", "download", "coco", "--root", str(root), "--url", url, "-q", *extra])


def test_download_verify_and_place(tmp_path, server, capsys):
    body = make_archive(tmp_path)
    server.files["/" + ARCHIVE] = body
    root = tmp_path / "data"
    assert download(root, server.url + "/" + ARCHIVE, "--checksum", sha256(body)) == 0
    out = capsys.readouterr().out
    assert "coco: installed at" in out and "8 training and 6 validation captions" in out
    data = load_coco_data(root / "coco_captioning")
    assert data["train_captions"].shape == (8, 7)
    assert not (root / ARCHIVE).exists(), "the downloaded archive is removed once unpacked"
    assert [p.name for p in root.iterdir()] == ["coco_captioning"], "no temporary files left"
    # A second download leaves the installed copy alone.
    assert download(root, server.url + "/" + ARCHIVE) == 0
    assert "already present" in capsys.readouterr().out


def test_url_from_environment(tmp_path, server, monkeypatch):
    body = make_archive(tmp_path)
    server.files["/mirror/" + ARCHIVE] = body
    monkeypatch.setenv("CS231N_COCO_URL", server.url + "/mirror/" + ARCHIVE)
    monkeypatch.setenv("CS231N_COCO_CHECKSUM", sha256(body))
    root = tmp_path / "data"
    assert main(["data", "download", "coco", "--root", str(root), "-q"]) == 0
    assert (root / "coco_captioning" / "coco2014_captions.h5").is_file()


def test_wrong_checksum_installs_nothing(tmp_path, server, capsys):
    body = make_archive(tmp_path)
    server.files["/" + ARCHIVE] = body
    root = tmp_path / "data"
    status = download(root, server.url + "/" + ARCHIVE, "--checksum", sha256(b"other bytes"))
    assert status == 1
    assert "FAILED" in capsys.readouterr().err
    assert not root.exists() or list(root.iterdir()) == [], "nothing may be left behind"


def test_interrupted_download_resumes(tmp_path, server, capsys):
    body = make_archive(tmp_path)
    server.files["/" + ARCHIVE] = body
    server.truncate_at["/" + ARCHIVE] = len(body) // 2
    root = tmp_path / "data"
    url = server.url + "/" + ARCHIVE
    assert download(root, url, "--checksum", sha256(body)) == 1
    assert "run the same command again to resume" in capsys.readouterr().err
    assert (root / (ARCHIVE + ".part")).stat().st_size == len(body) // 2
    assert not (root / "coco_captioning").exists()
    assert download(root, url, "--checksum", sha256(body)) == 0
    assert server.requests[-1] == ("/" + ARCHIVE, f"bytes={len(body) // 2}-")
    assert load_coco_data(root / "coco_captioning")["val_captions"].shape == (6, 7)


def test_archive_that_does_not_load_is_rejected(tmp_path, server, capsys):
    # Complete, checksum right, but the vocabulary does not match the captions: the
    # check runs on the unpacked copy before it is placed, so nothing is installed.
    body = make_archive(tmp_path, corrupt_vocab=True)
    server.files["/" + ARCHIVE] = body
    root = tmp_path / "data"
    assert download(root, server.url + "/" + ARCHIVE, "--checksum", sha256(body)) == 1
    assert "the vocabulary file does not belong" in capsys.readouterr().err
    assert list(root.iterdir()) == []


def test_archive_without_the_folder_is_rejected(tmp_path, server, capsys):
    body = make_archive(tmp_path, top="something_else")
    server.files["/" + ARCHIVE] = body
    root = tmp_path / "data"
    assert download(root, server.url + "/" + ARCHIVE) == 1
    assert "coco_captioning" in capsys.readouterr().err
    assert not (root / "coco_captioning").exists()


def test_not_a_zip(tmp_path, server, capsys):
    server.files["/" + ARCHIVE] = b"<html>Service unavailable</html>"
    root = tmp_path / "data"
    assert download(root, server.url + "/" + ARCHIVE) == 1
    assert "truncated or corrupt" in capsys.readouterr().err
    assert not (root / "coco_captioning").exists()


def test_verify_reports_real_and_embedded(tmp_path, server, monkeypatch, capsys):
    monkeypatch.setenv("CS231N_DATA_DIR", str(tmp_path))
    write_coco_folder(tmp_path / "coco_captioning")
    monkeypatch.setattr(embedded_coco, "NUM_TRAIN_IMAGES", 20)
    monkeypatch.setattr(embedded_coco, "NUM_VAL_IMAGES", 10)
    assert main(["data", "generate", "coco"]) == 0
    assert "coco (embedded)" in capsys.readouterr().out
    main(["data", "verify"])
    out = capsys.readouterr().out
    assert "coco (real)" in out and "coco (embedded)" in out
    assert "8 training and 6 validation captions" in out  # the real folder loads
    assert "100 training and 50 validation captions" in out  # 5 captions per image
    # A folder that is not COCO is reported broken, with the reason.
    (tmp_path / "coco_captioning" / "coco2014_vocab.json").write_text("{}")
    assert main(["data", "verify"]) == 1
    assert "BROKEN" in capsys.readouterr().out


def test_check_coco_refuses_the_embedded_set(tmp_path):
    embedded_coco.ensure_embedded_coco(tmp_path / "emb", num_train=20, num_val=10)
    with pytest.raises(ValueError, match="embedded stand-in"):
        coco_data.check_coco(tmp_path / "emb")
