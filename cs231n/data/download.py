"""Downloading and unpacking data sets so that a broken download never passes for data.

Two building blocks, independent of any particular data set:

- ``download(url, dest, checksum=...)`` fetches one file with a progress bar. Bytes
  go to ``dest + ".part"``; an interrupted transfer leaves that file behind and the
  next call resumes it with an HTTP ``Range`` request. Only when the whole file is
  there and its checksum matches is it renamed to ``dest`` (``os.replace``, atomic).
  A complete file with the wrong checksum is removed (resuming cannot repair it)
  and ``ChecksumError`` is raised.
- ``extract_archive(archive, parent, member_root)`` unpacks a ``.tar.gz`` (or
  ``.zip``) into a temporary folder beside its destination, refusing any member that
  would land outside it (absolute paths, ``..``, links, devices), and renames the
  result into place only when everything was read. A truncated or corrupt archive
  raises ``DownloadError`` and leaves nothing behind.

Nothing here deletes data it did not create: an existing destination is kept unless
the caller asks to replace it, and even then it is moved aside, not removed.

Checksums are written ``"md5:<hex>"`` or ``"sha256:<hex>"``.
"""

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

try:  # POSIX: lock the .part file so two downloads never append to it at once
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

CHUNK = 1 << 16


class DownloadError(RuntimeError):
    """A download or extraction failed; the message says what to do next."""


class ChecksumError(DownloadError):
    """A downloaded file does not match its expected checksum."""


# ----------------------------------------------------------------------------------------
# Checksums
# ----------------------------------------------------------------------------------------


def parse_checksum(checksum):
    """Split ``"md5:<hex>"`` / ``"sha256:<hex>"`` into (algorithm, hex digest)."""
    algorithm, sep, digest = str(checksum).partition(":")
    algorithm = algorithm.lower()
    digest = digest.strip().lower()
    sizes = {"md5": 32, "sha256": 64}
    hexadecimal = all(c in "0123456789abcdef" for c in digest)
    if not sep or algorithm not in sizes or len(digest) != sizes[algorithm] or not hexadecimal:
        raise ValueError(
            f"Checksum {checksum!r} must look like 'md5:<32 hex digits>' or "
            "'sha256:<64 hex digits>'."
        )
    return algorithm, digest


def file_checksum(path, algorithm="md5"):
    """The hex digest of a file, read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checksum_matches(path, checksum):
    """True when the file's digest equals the expected ``"algo:hex"`` checksum."""
    algorithm, digest = parse_checksum(checksum)
    return file_checksum(path, algorithm) == digest


# ----------------------------------------------------------------------------------------
# Downloading one file
# ----------------------------------------------------------------------------------------


def _open(url, start, timeout):
    """Open url, asking for bytes from ``start`` on; returns (response, resumed)."""
    request = urllib.request.Request(url, headers={"User-Agent": "cs231n-data/1"})
    if start:
        request.add_header("Range", f"bytes={start}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:  # nothing after `start`: the .part may be complete
            return None, True
        raise DownloadError(f"Download of {url} failed: HTTP {exc.code} {exc.reason}.") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"Could not reach {url}: {reason}.") from exc
    resumed = start > 0 and getattr(response, "status", 200) == 206
    if resumed:
        content_range = response.headers.get("Content-Range", "")
        if not content_range.startswith(f"bytes {start}-"):
            response.close()
            raise DownloadError(
                f"{url}: the server answered a resume request with the wrong range "
                f"({content_range!r}); delete the .part file and try again."
            )
    return response, resumed


def _expected_total(response, start, resumed):
    """Total size of the file from the headers, or None if the server did not say."""
    if resumed:
        total = response.headers.get("Content-Range", "").rpartition("/")[2]
        return int(total) if total.isdigit() else None
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _stream(response, f, total, initial, desc, progress):
    """Copy the response body into f with a progress bar; returns bytes written."""
    from tqdm import tqdm

    written = 0
    with tqdm(
        total=total,
        initial=initial,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=desc,
        disable=not progress,
        leave=True,
    ) as bar:
        while True:
            block = response.read(CHUNK)
            if not block:
                break
            f.write(block)
            written += len(block)
            bar.update(len(block))
    return written


def _fetch_into(f, url, part, resume, timeout, progress):
    """Append url's bytes to the open .part file f, resuming from its current length."""
    start = f.tell() if resume else 0
    response, resumed = _open(url, start, timeout)
    if response is None:  # 416: the server has nothing after `start`; verify what we have
        return
    with response:
        if not resumed:  # fresh start (or the server ignored the Range header)
            f.seek(0)
            f.truncate()
            start = 0
        total = _expected_total(response, start, resumed)
        try:
            _stream(response, f, total, start, part.name.removesuffix(".part"), progress)
        except (http.client.HTTPException, OSError) as exc:
            raise DownloadError(
                f"Download of {url} was interrupted ({exc}); the partial file "
                f"{part} is kept: run the same command again to resume."
            ) from exc
    f.flush()
    os.fsync(f.fileno())
    if total is not None and f.tell() < total:
        raise DownloadError(
            f"Download of {url} ended early: got {f.tell()} of {total} bytes. The "
            f"partial file {part} is kept: run the same command again to resume."
        )


def download(url, dest, checksum=None, resume=True, progress=True, timeout=60, overwrite=False):
    """Download url to dest, resumably, and place it only once it is complete and verified.

    Parameters
    ----------
    url : str, http(s) (or file) URL
    dest : str or Path, the final file
    checksum : "md5:<hex>" or "sha256:<hex>", or None to skip verification
    resume : continue an existing ``dest.part`` with an HTTP Range request
    progress : show a tqdm progress bar (on stderr)
    timeout : seconds to wait on the network before giving up
    overwrite : replace an existing dest (otherwise an existing, verified dest is
        returned as is, and an existing dest that fails verification is an error)

    Returns
    -------
    dest : Path

    Raises
    ------
    DownloadError : network failure or a transfer that ended early (``dest.part`` is
        kept; calling again resumes it)
    ChecksumError : the complete file has the wrong checksum (``dest.part`` removed)
    """
    dest = Path(dest)
    if checksum is not None:
        parse_checksum(checksum)  # fail early on a malformed checksum
    if dest.exists() and not overwrite:
        if checksum is None or checksum_matches(dest, checksum):
            return dest
        raise ChecksumError(
            f"{dest} already exists but does not match {checksum}; it was left untouched. "
            "Move it away (or pass --force) to download it again."
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    with open(part, "ab") as f:
        if fcntl is not None:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                raise DownloadError(
                    f"Another process is downloading {dest} right now; wait for it to finish."
                ) from exc
        try:
            _fetch_into(f, url, part, resume, timeout, progress)
        except BaseException:
            if f.tell() == 0:  # nothing worth resuming
                part.unlink(missing_ok=True)
            raise
        if checksum is not None:  # still holding the lock: nobody appends meanwhile
            algorithm, expected = parse_checksum(checksum)
            actual = file_checksum(part, algorithm)
            if actual != expected:
                part.unlink()
                raise ChecksumError(
                    f"{url} downloaded completely but its {algorithm} is {actual}, not the "
                    f"expected {expected}: the file is corrupt or not the expected one. It was "
                    "deleted; nothing was installed. Try again, or another mirror."
                )
        if fcntl is not None:
            os.replace(part, dest)  # under the lock
    if fcntl is None:  # Windows cannot rename an open file
        os.replace(part, dest)
    return dest


# ----------------------------------------------------------------------------------------
# Unpacking archives safely
# ----------------------------------------------------------------------------------------


def _safe_member_path(name, member_root):
    """The member's relative path, or a DownloadError if it could escape the folder."""
    path = PurePosixPath(name)
    if not path.parts:
        raise DownloadError(f"Archive member {name!r} has no name; refusing to unpack.")
    if path.is_absolute() or name.startswith(("/", "\\")) or ":" in path.parts[0]:
        raise DownloadError(f"Archive member {name!r} has an absolute path; refusing to unpack.")
    if ".." in path.parts or "\\" in name:
        raise DownloadError(f"Archive member {name!r} points outside the archive; refusing.")
    parts = [p for p in path.parts if p != "."]
    if member_root is not None and (not parts or parts[0] != member_root):
        raise DownloadError(
            f"Archive member {name!r} is not inside {member_root}/: this is not the expected "
            "archive."
        )
    return Path(*parts) if parts else None


def _write_member(source, target):
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        shutil.copyfileobj(source, out, CHUNK)


def _extract_tar(archive, tmp, member_root):
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            rel = _safe_member_path(member.name, member_root)
            if member.isdir():
                if rel is not None:
                    (tmp / rel).mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                if rel is None:
                    raise DownloadError(f"Archive member {member.name!r} has no file name.")
                _write_member(tar.extractfile(member), tmp / rel)
            else:
                kind = "link" if member.issym() or member.islnk() else "special file"
                raise DownloadError(
                    f"Archive member {member.name!r} is a {kind}; refusing to unpack it."
                )


def _extract_zip(archive, tmp, member_root):
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            rel = _safe_member_path(info.filename, member_root)
            if rel is None:
                continue
            if info.is_dir():
                (tmp / rel).mkdir(parents=True, exist_ok=True)
            else:
                with zf.open(info) as source:
                    _write_member(source, tmp / rel)


def move_aside(path):
    """Rename an existing path to ``<name>.bak-<time>`` (never delete it); returns the new path."""
    path = Path(path)
    backup = path.with_name(f"{path.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while backup.exists():
        backup = path.with_name(f"{path.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
        n += 1
    os.replace(path, backup)
    return backup


def extract_archive(archive, parent, member_root, check=None, replace=False):
    """Unpack ``archive``'s folder ``member_root/`` to ``parent/member_root``, atomically.

    Parameters
    ----------
    archive : a .tar.gz / .tgz / .tar (any tarfile compression) or .zip file
    parent : the folder that receives ``member_root``
    member_root : the single top-level folder every member must sit in
        (e.g. "cifar-10-batches-py"); members elsewhere are refused
    check : optional callable(path) run on the unpacked folder before it is placed;
        it raises to reject the contents
    replace : if parent/member_root exists, move it aside to ``.bak-<time>`` and
        place the new copy; otherwise an existing destination is an error

    Returns
    -------
    (dest, backup) : the placed folder, and where an old copy was moved (or None)
    """
    archive, parent = Path(archive), Path(parent)
    dest = parent / member_root
    if dest.exists() and not replace:
        raise FileExistsError(f"{dest} already exists; pass --force to replace it.")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{member_root}.unpack-", dir=parent))
    try:
        try:
            if zipfile.is_zipfile(archive):
                _extract_zip(archive, tmp, member_root)
            else:
                _extract_tar(archive, tmp, member_root)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise DownloadError(
                f"Archive {archive} is truncated or corrupt ({type(exc).__name__}: {exc}); "
                "nothing was unpacked."
            ) from exc
        unpacked = tmp / member_root
        if not unpacked.is_dir():
            raise DownloadError(f"Archive {archive} holds no {member_root}/ folder.")
        if check is not None:
            check(unpacked)
        os.chmod(unpacked, 0o755)
        backup = move_aside(dest) if dest.exists() else None
        os.rename(unpacked, dest)
        return dest, backup
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
