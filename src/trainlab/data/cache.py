"""What trainlab keeps in its cache folder (``output.cache_dir``, default ``.cache/trainlab``), and removing it.

Nothing in the cache is ever removed by a run; these two functions are behind ``trainlab cache``. The layout:

* ``extracted/<key>/`` — an extracted archive; the marker ``.trainlab-extracted`` inside names the archive;
* ``images/<key>.pt`` — the decoded uint8 images of one folder at one size and channel count (``data.in_memory``);
* ``checks/<key>.json`` — which files of one folder decode (``data.in_memory=false``), without the pixels;
* ``extracted/.<key>.*.tmp/`` and ``<kind>/.<name>.*.tmp`` — an extraction or a write that is still running or was
  interrupted (``partial``).

Anything else in the folder means it is not (only) a trainlab cache, and both functions refuse it with a TrainlabError
rather than guess, so that a mistyped path never gets a user's own files listed as cache or deleted. A dataset that
caches something new adds its sub-folder to :data:`SUBFOLDERS` and its file pattern to ``_PATTERNS``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from trainlab.data.sources import MARKER
from trainlab.errors import TrainlabError

SUBFOLDERS = ("extracted", "images", "checks", "embeddings")
_PATTERNS = {
    "extracted": (re.compile(r"[0-9a-f]{20}"), "archive", True),
    "images": (re.compile(r"[0-9a-f]{64}\.pt"), "images", False),
    "checks": (re.compile(r"[0-9a-f]{64}\.json"), "checks", False),
    "embeddings": (re.compile(r"[0-9a-f]{64}\.pt"), "sentence embeddings", False),  # frozen encoders' memo
}
_PARTIAL = re.compile(r"\..+\.tmp")


@dataclass(frozen=True)
class CacheEntry:
    """One thing in the cache: ``kind`` is "archive", "images", "checks" or "partial"; ``size`` is in bytes;
    ``source`` is the archive or data folder it was made from, "" where that is not known."""

    kind: str
    path: Path
    size: int
    source: str


def _not_a_cache(cache_dir: Path, item: Path, why: str) -> TrainlabError:
    return TrainlabError(
        f"{cache_dir} is not a trainlab cache folder: {item} {why}; expected only {', '.join(SUBFOLDERS)} "
        "sub-folders holding trainlab's own files (check the path; nothing was touched)"
    )


def _size(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (links are counted as links, never followed)."""
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    total = 0
    for current, _, files in os.walk(path):
        total += sum(os.lstat(os.path.join(current, name)).st_size for name in files)
    return total


def _source(kind: str, path: Path) -> str:
    """Where an entry came from, as recorded when it was written; "" when it says nothing (or cannot be read)."""
    try:
        if kind == "archive":
            return (path / MARKER).read_text(encoding="utf-8").strip()
        if kind == "checks":
            return str(json.loads(path.read_text(encoding="utf-8")).get("root", ""))
        if kind == "images":  # mmap: only the small part that holds the root is read, not the pixels
            return str(torch.load(path, map_location="cpu", weights_only=True, mmap=True).get("root", ""))
    except Exception:  # an old or damaged entry is still listed and removable
        return ""
    return ""


def _classify(cache_dir: Path, folder: str, item: Path) -> CacheEntry:
    pattern, kind, is_dir = _PATTERNS[folder]
    if item.is_symlink():
        raise _not_a_cache(cache_dir, item, "is a link")
    if _PARTIAL.fullmatch(item.name):
        return CacheEntry("partial", item, _size(item), "")
    if not pattern.fullmatch(item.name) or item.is_dir() != is_dir:
        raise _not_a_cache(cache_dir, item, "is not something trainlab writes there")
    if kind == "archive" and not (item / MARKER).is_file():
        return CacheEntry("partial", item, _size(item), "")
    return CacheEntry(kind, item, _size(item), _source(kind, item))


def describe_cache(cache_dir: Path) -> list[CacheEntry]:
    """Everything in the trainlab cache folder ``cache_dir``, sorted by path; [] when the folder does not exist.

    Raises a TrainlabError when ``cache_dir`` is a file or holds anything trainlab does not write there.
    """
    cache_dir = Path(cache_dir).expanduser()
    if not cache_dir.exists():
        return []
    if not cache_dir.is_dir():
        raise TrainlabError(f"{cache_dir} is a file, not a trainlab cache folder; expected a folder (output.cache_dir)")
    entries: list[CacheEntry] = []
    for child in sorted(cache_dir.iterdir()):
        if child.name not in SUBFOLDERS or child.is_symlink() or not child.is_dir():
            raise _not_a_cache(cache_dir, child, "is not something trainlab writes there")
        entries += [_classify(cache_dir, child.name, item) for item in sorted(child.iterdir())]
    return entries


def clear_cache(cache_dir: Path) -> list[CacheEntry]:
    """Remove everything :func:`describe_cache` lists (checked in full before anything is removed); returns it.

    The sub-folders go too; ``cache_dir`` itself is kept. A missing folder gives []. Runs that start later rebuild
    what they need (extract and decode again).
    """
    cache_dir = Path(cache_dir).expanduser()
    entries = describe_cache(cache_dir)
    try:
        for entry in entries:
            if entry.path.is_dir():
                shutil.rmtree(entry.path)
            else:
                entry.path.unlink(missing_ok=True)
        for name in SUBFOLDERS:
            with contextlib.suppress(OSError):  # missing, or written to meanwhile by a run that started
                (cache_dir / name).rmdir()
    except OSError as error:
        raise TrainlabError(f"could not remove all of the cache {cache_dir}: {error}") from None
    return entries


def total_size(entries: Sequence[CacheEntry]) -> int:
    """Bytes of all ``entries`` (what clearing them frees)."""
    return sum(entry.size for entry in entries)


def format_entries(entries: Sequence[CacheEntry]) -> str:
    """A small table for the console: kind, size, source (or path), and the total."""
    lines = [f"{entry.kind:<8} {entry.size / 1e6:>10,.1f} MB  {entry.source or entry.path}" for entry in entries]
    lines.append(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, {total_size(entries) / 1e6:,.1f} MB")
    return "\n".join(lines)
