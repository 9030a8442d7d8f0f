"""Turn a user's ``--data PATH`` (a folder or an archive) into a folder, extracting archives safely.

Every archive entry is checked before anything is written: absolute names, ``..`` that climbs out of the target
(zip-slip), links that point outside, and device files are refused with an error naming the archive and the entry.
Extraction goes to a temporary folder that is renamed into place only when complete (a marker file inside it is
written last), so an interrupted run never leaves a half-extracted folder that a later run would trust.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path

from trainlab.errors import TrainlabError
from trainlab.io import atomic_write_text

ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
MARKER = ".trainlab-extracted"
ACCEPTED = "a folder of class folders, or a .zip, .tar, .tar.gz or .tgz archive of one"
_IGNORED_AT_ROOT = ("__MACOSX",)
_DRIVE = re.compile(r"^[A-Za-z]:")


def resolve_source(path: Path, work_dir: Path) -> Path:
    """The folder that holds the data: ``path`` itself if a folder, else its safe extraction under ``work_dir``."""
    path = Path(path).expanduser()
    if not path.exists():
        raise TrainlabError(f"data path {path} does not exist")
    if path.is_dir():
        return path
    name = path.name.lower()
    if name.endswith(ZIP_SUFFIXES):
        kind = "zip"
    elif name.endswith(TAR_SUFFIXES):
        kind = "tar"
    else:
        raise TrainlabError(f"data path {path} is not a folder or a supported archive; expected {ACCEPTED}")
    return descend_single_folder(_extract(path, kind, Path(work_dir) / "extracted"))


def descend_single_folder(root: Path) -> Path:
    """Step into ``root/<only folder>`` while that is all there is (the course zip holds ``cnn_dataset/<class>/``)."""
    while True:
        entries = [e for e in root.iterdir() if not e.name.startswith(".") and e.name not in _IGNORED_AT_ROOT]
        if len(entries) != 1 or not entries[0].is_dir():
            return root
        root = entries[0]


def _archive_key(path: Path) -> str:
    info = path.stat()
    text = f"{path.resolve()}\0{info.st_size}\0{info.st_mtime_ns}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _extract(archive: Path, kind: str, extracted_dir: Path) -> Path:
    target = extracted_dir / _archive_key(archive)
    if (target / MARKER).is_file():
        return target
    if target.exists():  # left by a crash of an older layout: not trusted
        shutil.rmtree(target, ignore_errors=True)
    extracted_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=extracted_dir))
    try:
        if kind == "zip":
            _extract_zip(archive, staging)
        else:
            _extract_tar(archive, staging)
        atomic_write_text(staging / MARKER, f"{archive.resolve()}\n")
        try:
            os.rename(staging, target)
        except OSError:
            if not (target / MARKER).is_file():  # not a concurrent run that finished first
                raise
    except OSError as error:
        raise TrainlabError(f"could not extract {archive} into {extracted_dir}: {error}") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _refuse(archive: Path, entry: str, why: str) -> TrainlabError:
    return TrainlabError(f"unsafe archive {archive}: entry {entry!r} {why}; nothing was extracted")


def _check_name(archive: Path, name: str) -> None:
    """Refuse absolute names and names whose ``..`` climbs out of the extraction folder."""
    posix = name.replace("\\", "/")
    if posix.startswith("/") or _DRIVE.match(posix):
        raise _refuse(archive, name, "has an absolute path")
    normal = posixpath.normpath(posix)
    if normal == ".." or normal.startswith("../"):
        raise _refuse(archive, name, "points outside the extraction folder")


def _check_link(archive: Path, name: str, link_target: str, relative_to_entry: bool) -> None:
    """A link may only point inside the extraction folder."""
    posix = link_target.replace("\\", "/")
    if posix.startswith("/") or _DRIVE.match(posix):
        raise _refuse(archive, name, f"is a link to the absolute path {link_target!r}")
    base = posixpath.dirname(name.replace("\\", "/")) if relative_to_entry else ""
    normal = posixpath.normpath(posixpath.join(base, posix))
    if normal == ".." or normal.startswith("../"):
        raise _refuse(archive, name, f"is a link to {link_target!r}, outside the extraction folder")


def _extract_zip(archive: Path, staging: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = []
            for info in zf.infolist():
                _check_name(archive, info.filename)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    # zipfile writes a link's target as a small text file rather than a link; refuse the
                    # dangerous ones anyway and leave the rest out.
                    _check_link(archive, info.filename, zf.read(info).decode("utf-8", "replace"), True)
                    continue
                if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                    raise _refuse(archive, info.filename, "is a device or special file")
                members.append(info)
            zf.extractall(staging, members=members)
    except (zipfile.BadZipFile, EOFError) as error:
        raise TrainlabError(f"{archive} is not a readable zip archive: {error}") from None
    except (RuntimeError, NotImplementedError) as error:  # encrypted or unsupported compression
        raise TrainlabError(f"cannot extract {archive}: {error}") from None


def _extract_tar(archive: Path, staging: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _check_name(archive, member.name)
                if member.issym():
                    _check_link(archive, member.name, member.linkname, relative_to_entry=True)
                elif member.islnk():
                    _check_link(archive, member.name, member.linkname, relative_to_entry=False)
                elif not (member.isfile() or member.isdir()):
                    raise _refuse(archive, member.name, "is a device or special file")
            # The "data" filter re-checks all of the above inside tarfile itself (defence in depth).
            tar.extractall(staging, members=members, filter="data")
    except tarfile.FilterError as error:
        raise TrainlabError(f"unsafe archive {archive}: {error}; nothing was extracted") from None
    except (tarfile.TarError, EOFError) as error:
        raise TrainlabError(f"{archive} is not a readable tar archive: {error}") from None
