"""Turn a user's ``--data PATH`` (a folder or an archive) into a folder, extracting archives safely.

Extraction is done here, entry by entry, the same way on every Python 3.11 (it does not rely on tarfile's ``filter=``,
which older 3.11 releases lack). Every entry is checked before anything is written:

* absolute names and ``..`` that climbs out of the target (zip-slip) are refused;
* every link is refused, symbolic or hard, wherever it points: a dataset needs none, and links are how chained
  attacks (``x -> .``, ``x/x/x/y -> ../../..``, ``x/x/x/y/file``) write outside the target;
* device files, FIFOs and other special entries are refused;
* archive bombs are refused: see the limits below.

Folders are created with ``mkdir`` and regular files are streamed into new files opened exclusively, never through a
path that could already exist. Extraction goes to a temporary folder that is renamed into place only when complete (a
marker file inside it, holding the archive's path, is written last), so an interrupted run never leaves a
half-extracted folder that a later run would trust. Extractions live in ``<cache_dir>/extracted/<key>/`` until
removed (see :mod:`trainlab.data.cache`).
"""

from __future__ import annotations

import hashlib
import lzma
import os
import posixpath
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from trainlab.errors import TrainlabError
from trainlab.io import atomic_write_text

ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
MARKER = ".trainlab-extracted"
ACCEPTED = "a folder of class folders, or a .zip, .tar, .tar.gz or .tgz archive of one"
_IGNORED_AT_ROOT = ("__MACOSX",)
_DRIVE = re.compile(r"^[A-Za-z]:")

# Archive bomb limits. Images are compressed already, so an archive of JPEG/PNG/WebP files expands about 1x (the course
# set: 27.8 MB of .tar.gz holds 33.1 MB of JPEGs, 1.2x) and one of BMPs a few times; a bomb expands tens to millions of
# times (the one reported: 2.5 MB, 150 MB in 20,000 files, 60x).
MAX_EXPANSION = 20
"""The declared bytes of all files may be at most this many times the archive's size ..."""
EXPANSION_FLOOR = 16 * 2**20
"""... or this many bytes, whichever is more (a small archive of flat synthetic images compresses very well)."""
MIN_ARCHIVE_BYTES_PER_ENTRY = 64
"""At most one entry per this many archive bytes (plus ENTRY_FLOOR): a real image costs more than 64 compressed bytes
with its header (even a 28x28 PNG is a few hundred); the empty entries of a tar.gz bomb cost about 5 each."""
ENTRY_FLOOR = 1000
DISK_SHARE = 0.9
"""Extraction may take at most this share of the free space of the cache folder's disk."""
BLOCK_BYTES = 4096
"""What one entry costs on disk beyond its bytes (a file's last block, a folder), for the free-space estimate."""
HOW_TO_PROCEED = "if you trust the archive, extract it yourself and pass the folder with --data FOLDER"
_CHUNK = 1 << 20


class DeclaredSizeExceededError(ValueError):
    """An archive member held more bytes than its header declared (see :func:`copy_limited`)."""


@dataclass(frozen=True)
class _Entry:
    """One archive member that passed the checks: a folder or a regular file of ``size`` declared bytes."""

    name: str  # normalized, relative, "/"-separated
    raw: str  # the name as written in the archive (for messages)
    is_dir: bool
    size: int
    member: Any  # the ZipInfo or TarInfo to open it by


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


def _safe_name(archive: Path, name: str) -> str | None:
    """``name`` normalized to a relative "/" path; None for the archive's own root ("." or "./")."""
    posix = name.replace("\\", "/")
    if posix.startswith("/") or _DRIVE.match(posix):
        raise _refuse(archive, name, "has an absolute path")
    normal = posixpath.normpath(posix)
    if normal == ".." or normal.startswith("../"):
        raise _refuse(archive, name, "points outside the extraction folder")
    return None if normal == "." else normal


_NO_LINKS = "(links are refused: a dataset needs none)"


def _zip_entry(archive: Path, info: zipfile.ZipInfo) -> _Entry | None:
    name = _safe_name(archive, info.filename)
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0 for archives made on Windows: a plain file or folder
    if kind == stat.S_IFLNK:
        raise _refuse(archive, info.filename, f"is a symbolic link {_NO_LINKS}")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise _refuse(archive, info.filename, "is a device or special file")
    if name is None:
        return None
    is_dir = info.is_dir() or kind == stat.S_IFDIR
    return _Entry(name, info.filename, is_dir, 0 if is_dir else info.file_size, info)


def _tar_entry(archive: Path, member: tarfile.TarInfo) -> _Entry | None:
    name = _safe_name(archive, member.name)
    if member.issym():
        raise _refuse(archive, member.name, f"is a symbolic link to {member.linkname!r} {_NO_LINKS}")
    if member.islnk():
        raise _refuse(archive, member.name, f"is a hard link to {member.linkname!r} {_NO_LINKS}")
    if not (member.isfile() or member.isdir()):
        raise _refuse(archive, member.name, "is a device or special file")
    if name is None:
        return None
    return _Entry(name, member.name, member.isdir(), 0 if member.isdir() else member.size, member)


def _extract_zip(archive: Path, staging: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            entries = [entry for info in zf.infolist() if (entry := _zip_entry(archive, info)) is not None]
            _unpack(archive, entries, zf.open, staging)
    except (zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError) as error:
        raise TrainlabError(f"{archive} is not a readable zip archive: {error}") from None
    except (RuntimeError, NotImplementedError) as error:  # encrypted or unsupported compression
        raise TrainlabError(f"cannot extract {archive}: {error}") from None


def _extract_tar(archive: Path, staging: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            entries = [entry for member in tar.getmembers() if (entry := _tar_entry(archive, member)) is not None]
            _unpack(archive, entries, tar.extractfile, staging)
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError) as error:
        raise TrainlabError(f"{archive} is not a readable tar archive: {error}") from None


def _check_layout(archive: Path, entries: Sequence[_Entry]) -> None:
    """Refuse two files with one name, or a file where another entry needs a folder."""
    files: set[str] = set()
    for entry in entries:
        if not entry.is_dir:
            if entry.name in files:
                raise _refuse(archive, entry.raw, "appears twice in the archive")
            files.add(entry.name)
    for entry in entries:
        parts = entry.name.split("/")
        parents = ["/".join(parts[:i]) for i in range(1, len(parts) + int(entry.is_dir))]
        clash = next((parent for parent in parents if parent in files), None)
        if clash is not None:
            raise _refuse(archive, entry.raw, f"needs a folder where the archive has the file {clash!r}")


def _size_text(count: int) -> str:
    return f"{count / 1e6:,.1f} MB"


def check_limits(archive: Path, entries: int, declared: int, folder: Path) -> None:
    """Refuse an archive bomb before anything is written: ``entries`` members declaring ``declared`` bytes in all.

    Raises a TrainlabError naming the limit that was exceeded and how to proceed; see the limits at the top.
    """
    size = max(1, archive.stat().st_size)
    guard = "as a guard against archive bombs"
    allowed = max(MAX_EXPANSION * size, EXPANSION_FLOOR)
    if declared > allowed:
        raise TrainlabError(
            f"archive {archive} expands to {_size_text(declared)}, {declared / size:,.0f}x its {_size_text(size)}; "
            f"trainlab extracts at most {MAX_EXPANSION}x an archive's size (or {_size_text(EXPANSION_FLOOR)}) "
            f"{guard}; {HOW_TO_PROCEED}"
        )
    max_entries = size // MIN_ARCHIVE_BYTES_PER_ENTRY + ENTRY_FLOOR
    if entries > max_entries:
        raise TrainlabError(
            f"archive {archive} holds {entries:,} entries in {_size_text(size)} ({size / entries:,.0f} bytes each); "
            f"trainlab extracts at most one entry per {MIN_ARCHIVE_BYTES_PER_ENTRY} archive bytes "
            f"(here {max_entries:,}) {guard}; {HOW_TO_PROCEED}"
        )
    needed = declared + entries * BLOCK_BYTES
    free = shutil.disk_usage(folder).free
    if needed > DISK_SHARE * free:
        raise TrainlabError(
            f"archive {archive} needs about {_size_text(needed)} extracted but {folder} has {_size_text(free)} free "
            f"(trainlab uses at most {DISK_SHARE:.0%} of it); free some space, set output.cache_dir to a larger disk, "
            f"or {HOW_TO_PROCEED}"
        )


def copy_limited(source: IO[bytes], dest: Path, limit: int) -> int:
    """Stream ``source`` into the new file ``dest`` (which must not exist); returns the bytes written.

    Raises DeclaredSizeExceededError as soon as ``source`` holds more than ``limit`` bytes, so a declared size that
    lied cannot fill the disk (zipfile and tarfile stop at the declared size themselves; this does not rely on it).
    """
    written = 0
    with open(dest, "xb") as out:
        while chunk := source.read(min(_CHUNK, limit - written + 1)):
            written += len(chunk)
            if written > limit:
                raise DeclaredSizeExceededError(f"holds more than the {limit:,} bytes it declares")
            out.write(chunk)
    return written


def _unpack(archive: Path, entries: Sequence[_Entry], open_member: Callable[[Any], IO[bytes] | None],
            staging: Path) -> None:
    _check_layout(archive, entries)
    check_limits(archive, len(entries), sum(entry.size for entry in entries), staging.parent)
    for entry in entries:
        dest = staging.joinpath(*entry.name.split("/"))
        if entry.is_dir:
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        source = open_member(entry.member)
        if source is None:  # cannot happen for a regular member; kept for the type checker
            raise _refuse(archive, entry.raw, "has no data")
        with source:
            try:
                copy_limited(source, dest, entry.size)
            except DeclaredSizeExceededError as error:
                raise _refuse(archive, entry.raw, str(error)) from None
