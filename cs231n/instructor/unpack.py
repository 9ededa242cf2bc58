"""Unpacking a submission (zip or folder) into a grading package, as hostile input.

``unpack_submission(path, dest, assignment)`` copies only the gradeable files
(``cs231n/**.py``, ``.pyx`` and ``<assignment>/*.ipynb``) into ``dest``;
``overlay_package(student, package)`` lays them over the release's package. Anything a
zip or folder may hold to hurt the grader is refused with a reason: absolute or ``..``
paths, links, names too long for the filesystem, folder chains too deep, a file and a
folder of the same name, a folder where the release has a file, zip bombs (declared and
actual sizes, and a list of members too long to parse), corrupt compressed data, and notebooks that are not bounded JSON.
Problems with single files become notes for the student (names shortened, made valid
text); a submission that cannot be read at all raises ``SubmissionError``.

``remove_tree(path)`` deletes a folder however deep, without recursion.
"""

import os
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from cs231n.instructor.readback import ReadBackError, parse_json

# Limits on what a submission may hold.
MAX_MEMBERS = 2000
MAX_INDEX_BYTES = 2 * 1024**2  # the zip's central directory: its list of members
MAX_MEMBER_BYTES = 20 * 1024**2
MAX_TOTAL_BYTES = 200 * 1024**2
MAX_RATIO = 200
MAX_DEPTH = 16  # folders in a path
MAX_NAME = 100  # characters in one file or folder name
MAX_PATH = 400  # characters in a whole path
MAX_NOTES = 100  # notes on the links and deep folders of one folder


class SubmissionError(Exception):
    """The submission cannot be graded at all (corrupt, too large, empty)."""


def _shown(name, limit=120):
    """A name for a note: at most ``limit`` characters, valid text (a folder's names are
    bytes, which may not be UTF-8: their undecodable bytes become ``?``)."""
    return name[:limit].encode("utf-8", "replace").decode("utf-8")


def _path_problem(name):
    """Why ``name`` (a posix path from a zip or folder) is refused, or ''."""
    p = PurePosixPath(name)
    if name.startswith("/") or ".." in p.parts or "\\" in name or ":" in name or "\0" in name:
        return "unsafe path"
    if len(name) > MAX_PATH or any(len(part) > MAX_NAME for part in p.parts):
        return "name too long"
    if len(p.parts) > MAX_DEPTH:
        return "folders nested too deep"
    return ""


def _index_bytes(path):
    """The size of a zip's central directory, as zipfile itself reads it from the end
    record (zip64 included); 0 when there is none (zipfile will then refuse the file)."""
    with open(path, "rb") as f:
        end = zipfile._EndRecData(f)  # zipfile's own reader: the size it will trust
    return end[zipfile._ECD_SIZE] if end else 0


def _safe_members(zf, notes):
    """Members of a zip that may be extracted, after the safety checks."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise SubmissionError(f"the zip holds {len(infos)} files, more than {MAX_MEMBERS}.")
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos) or 1
    if total > MAX_TOTAL_BYTES or total / packed > MAX_RATIO and total > 10 * 1024**2:
        raise SubmissionError(
            f"the zip expands to {total / 2**20:.0f} MiB; the limit is "
            f"{MAX_TOTAL_BYTES // 2**20} MiB (is it a zip bomb?)."
        )
    keep = []
    for info in infos:
        name = info.filename
        if info.is_dir():
            continue
        problem = _path_problem(name)
        if problem:
            notes.append(f"Ignored `{_shown(name)}`: {problem}.")
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            notes.append(f"Ignored `{_shown(name)}`: symbolic links are not accepted.")
            continue
        if info.file_size > MAX_MEMBER_BYTES:
            notes.append(f"Ignored `{_shown(name)}`: larger than {MAX_MEMBER_BYTES // 2**20} MiB.")
            continue
        keep.append(info)
    return keep


def _strip_prefix(names):
    """A common top folder to strip (the student zipped their folder), or ''."""
    tops = {PurePosixPath(n).parts[0] for n in names if len(PurePosixPath(n).parts) > 1}
    if len(tops) == 1 and not any(PurePosixPath(n).parts[0] == "cs231n" for n in names):
        top = tops.pop()
        if all(PurePosixPath(n).parts[0] == top for n in names):
            return top + "/"
    return ""


def walk_files(root, notes, max_depth=MAX_DEPTH, max_notes=MAX_NOTES):
    """{posix relative path: Path} of the regular files under ``root``, iteratively.

    Links are refused, folders deeper than ``max_depth`` are not entered: each noted, up
    to ``max_notes`` notes, then how many more (a folder of a million links would
    otherwise write a million lines of feedback).
    """
    found, stack, refused = {}, [(Path(root), 0)], []

    def note(text):
        if len(refused) < max_notes:
            notes.append(text)
        refused.append(None)

    while stack:
        folder, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            rel = Path(entry.path).relative_to(root).as_posix()
            if entry.is_symlink():
                note(f"Ignored `{_shown(rel)}`: symbolic links are not accepted.")
            elif entry.is_dir(follow_symlinks=False):
                if depth + 1 < max_depth:
                    stack.append((Path(entry.path), depth + 1))
                else:
                    note(f"Ignored `{_shown(rel)}`: folders nested too deep.")
            elif entry.is_file(follow_symlinks=False):
                found[rel] = Path(entry.path)
    if len(refused) > max_notes:
        notes.append(f"(And {len(refused) - max_notes} more links or deep folders ignored.)")
    return found


def _wanted(p, assignment):
    return (p.parts[0] == "cs231n" and p.suffix in (".py", ".pyx")) or (
        len(p.parts) == 2 and p.parts[0] == assignment and p.suffix == ".ipynb"
    )


def _readers(path, notes):
    """{relative path: () -> bytes} for what a zip or folder holds."""
    path = Path(path)
    files = {}
    if path.is_dir():
        for rel, p in walk_files(path, notes).items():
            problem = _path_problem(rel)
            if problem:
                notes.append(f"Ignored `{_shown(rel)}`: {problem}.")
            elif p.stat().st_size <= MAX_MEMBER_BYTES:
                files[rel] = p.read_bytes
        return files
    # zipfile makes an object per member before they can be counted (a million members
    # in a 54 MiB zip: +370 MiB here): the size of their list is checked first.
    if _index_bytes(path) > MAX_INDEX_BYTES:
        raise SubmissionError(
            f"the zip's list of files is larger than {MAX_INDEX_BYTES // 2**20} MiB "
            f"(at most {MAX_MEMBERS} files are accepted)."
        )
    zf = zipfile.ZipFile(path)
    members = _safe_members(zf, notes)
    prefix = _strip_prefix([m.filename for m in members])
    for info in members:
        rel = info.filename[len(prefix) :] if prefix else info.filename

        def read(info=info):
            with zf.open(info) as f:
                data = f.read(MAX_MEMBER_BYTES + 1)  # declared sizes may lie
            if len(data) > MAX_MEMBER_BYTES:
                raise SubmissionError(f"`{_shown(info.filename)}` expands past the size limit.")
            return data

        files[rel] = read
    return files


def unpack_submission(path, dest, assignment):
    """Copy the gradeable files of a submission (zip or folder) into ``dest``.

    Only ``cs231n/**.py`` and ``<assignment>/*.ipynb`` are taken. Returns notes
    (problems worth telling the student). Raises SubmissionError when nothing can be graded.
    """
    notes = []
    try:
        files = _readers(path, notes)
    except SubmissionError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
        raise SubmissionError(f"the file is not a readable zip archive ({exc}).") from exc
    wanted = {
        rel: read for rel, read in files.items() if rel and _wanted(PurePosixPath(rel), assignment)
    }
    # A path that is also a folder of another wanted path cannot be both.
    folders = {str(parent) for rel in wanted for parent in PurePosixPath(rel).parents}
    for rel in sorted(wanted):
        if rel in folders:
            notes.append(f"Ignored `{_shown(rel)}`: a file and a folder have this name.")
            continue
        p = PurePosixPath(rel)
        try:
            data = wanted[rel]()
        except SubmissionError:
            raise
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, ValueError) as exc:
            raise SubmissionError(f"`{_shown(rel)}` cannot be read from the zip ({exc}).") from exc
        if p.suffix == ".ipynb":
            try:
                parse_json(data)
            except ReadBackError as exc:
                notes.append(f"`{_shown(rel)}` is not a valid notebook ({exc}); it was not graded.")
                continue
        target = Path(dest, *p.parts)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except OSError as exc:
            notes.append(f"Ignored `{_shown(rel)}`: it cannot be written ({exc.strerror}).")
    if not any(walk_files(Path(dest) / "cs231n", []).values()):
        raise SubmissionError("the submission holds no cs231n/*.py files to grade.")
    return notes


def overlay_package(student, package):
    """Copy the files under ``student`` over ``package``; return notes on what was refused.

    A student's file never replaces a release folder, and a student's folder never
    replaces a release file: such files are skipped with a note.
    """
    notes = []
    for rel, src in sorted(walk_files(student, notes).items()):
        target = Path(package, rel)
        clash = [p for p in [target, *target.parents] if p.is_relative_to(package)]
        if target.is_dir() or any(p.exists() and not p.is_dir() for p in clash[1:]):
            notes.append(f"Ignored `cs231n/{_shown(rel)}`: it clashes with the release's files.")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(src.read_bytes())
    return notes


def remove_tree(path):
    """Delete ``path`` and all under it, however deep (no recursion, links not followed)."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        path.unlink()
        return
    # Depth-first with descriptors, so neither Python's recursion nor PATH_MAX limits it.
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    stack = [(os.open(path, flags), None)]
    try:
        while stack:
            fd, _ = stack[-1]
            subfolder = None
            with os.scandir(fd) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        subfolder = entry.name
                        break
                    os.unlink(entry.name, dir_fd=fd)
            if subfolder is None:
                os.close(fd)
                _, name = stack.pop()
                if stack:
                    os.rmdir(name, dir_fd=stack[-1][0])
            else:
                stack.append((os.open(subfolder, flags, dir_fd=fd), subfolder))
    finally:
        for fd, _ in stack:
            os.close(fd)
    os.rmdir(path)
