"""Decode image files once into one uint8 tensor and keep it on disk, keyed by the files and the decode settings.

The key is a sha256 of every file's relative path, size and mtime plus the channel count and image size, so any change
to the folder or the settings decodes again, and a second run with the same data reads one file instead of thousands.

``check_files`` is the file path's counterpart (``data.in_memory=false``): it decodes every file once, with the same
decode, and keeps only the verdict, in ``<cache_dir>/checks/<key>.json`` under the same key. Both paths therefore skip
the same files with the same reasons before any training starts, and a second run with the same data decodes nothing.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from PIL import Image

from trainlab.data.bundle import SkippedFile
from trainlab.data.decode import EMPTY_FILE, decode_image, skip_reason
from trainlab.io import atomic_write_bytes, read_json, write_json

LOG = logging.getLogger(__name__)
CACHE_VERSION = 2  # 2: 16-bit images scaled, images over Pillow's pixel limit skipped
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"})
_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True, eq=False)
class DecodedImages:
    """``images[i]`` is the decoded ``paths[i]``; files that could not be decoded are in ``skipped``."""

    images: torch.Tensor
    paths: list[str]
    skipped: list[SkippedFile]


def cache_key(root: Path, rel_paths: Sequence[str], channels: int, size: int) -> str:
    digest = hashlib.sha256(f"trainlab-images v{CACHE_VERSION} channels={channels} size={size}\n".encode())
    for rel in sorted(rel_paths):
        info = (root / rel).stat()
        digest.update(f"{rel}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _decode_one(root: Path, rel: str, channels: int, size: int) -> np.ndarray | str:
    """The image, or the reason it could not be read (any decoder failure means a bad file, not a bug here)."""
    path = root / rel
    try:
        if path.stat().st_size == 0:
            return EMPTY_FILE
        return decode_image(path, channels, size)
    except Exception as error:
        return skip_reason(error)


def _pool_size() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def quiet_map(work: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]:
    """``work`` over ``items`` in a thread pool (Pillow releases the GIL while decoding), in order.

    Pillow's ``DecompressionBombWarning`` is silenced for the duration: ``decode_image`` refuses such an image itself,
    and it is reported as a skipped file. The warnings filter is process-wide, so this runs from the main thread
    while nothing else decodes (building the data, before training).
    """
    with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=_pool_size()) as pool:
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return list(pool.map(work, items, chunksize=64))


def _check_path(cache_dir: Path, root: Path, rel_paths: Sequence[str], channels: int, size: int) -> Path:
    return Path(cache_dir) / "checks" / f"{cache_key(root, rel_paths, channels, size)}.json"


def _load_checks(path: Path, rel_paths: Sequence[str]) -> list[SkippedFile] | None:
    try:
        payload = read_json(path)
        skipped = [SkippedFile(path=str(item["path"]), reason=str(item["reason"])) for item in payload["skipped"]]
        files = payload["files"]
    except Exception as error:  # a damaged or foreign file is rebuilt, never fatal
        LOG.warning("ignoring unreadable check cache %s (%s); checking the files again", path, error)
        return None
    if files != len(rel_paths) or not {s.path for s in skipped} <= set(rel_paths):
        LOG.warning("check cache %s does not match the files; checking them again", path)
        return None
    return skipped


def _decode_verdicts(root: Path, rel_paths: Sequence[str], channels: int, size: int) -> list[SkippedFile]:
    def verdict(rel: str) -> str | None:
        result = _decode_one(root, rel, channels, size)
        return result if isinstance(result, str) else None  # the pixels are dropped at once

    reasons = quiet_map(verdict, rel_paths)
    return [SkippedFile(path=rel, reason=reason) for rel, reason in zip(rel_paths, reasons, strict=True) if reason]


def check_files(
    root: Path, rel_paths: Sequence[str], channels: int, size: int, cache_dir: Path
) -> tuple[list[str], list[SkippedFile]]:
    """The file path's up-front check: (paths that decode, in order; the skipped ones with why).

    Every file is decoded once, exactly as the in-memory path decodes it (JPEGs in draft mode, so large photos stay
    cheap), and its pixels are dropped. The verdicts are kept in ``cache_dir/checks/<key>.json`` (the image cache's
    key), so a second run with the same files and settings decodes nothing.
    """
    rel_paths = list(rel_paths)
    path = _check_path(cache_dir, root, rel_paths, channels, size)
    skipped = _load_checks(path, rel_paths) if path.is_file() else None
    if skipped is None:
        LOG.info("checking %d images under %s (decoded once, not kept)", len(rel_paths), root)
        skipped = _decode_verdicts(root, rel_paths, channels, size)
        write_json(path, {
            "version": CACHE_VERSION, "root": str(root), "files": len(rel_paths), "channels": channels, "size": size,
            "skipped": [{"path": item.path, "reason": item.reason} for item in skipped],
        })
    bad = {item.path for item in skipped}
    return [rel for rel in rel_paths if rel not in bad], skipped


def decode_files(root: Path, rel_paths: Sequence[str], channels: int, size: int) -> DecodedImages:
    """Decode every file with a thread pool (Pillow releases the GIL while decoding)."""
    out = torch.empty((len(rel_paths), channels, size, size), dtype=torch.uint8)
    target = out.numpy()
    ok = np.zeros(len(rel_paths), dtype=bool)
    skipped: list[SkippedFile] = []

    def work(index: int) -> str | None:
        result = _decode_one(root, rel_paths[index], channels, size)
        if isinstance(result, str):
            return result
        target[index] = result
        ok[index] = True
        return None

    for index, reason in enumerate(quiet_map(work, range(len(rel_paths)))):
        if reason is not None:
            skipped.append(SkippedFile(path=rel_paths[index], reason=reason))
    keep = torch.from_numpy(ok)
    images = out if bool(keep.all()) else out[keep].clone()
    paths = [rel for rel, good in zip(rel_paths, ok, strict=True) if good]
    return DecodedImages(images=images, paths=paths, skipped=skipped)


def _load_cache(path: Path, rel_paths: Sequence[str]) -> DecodedImages | None:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        images = payload["images"]
        paths = [str(p) for p in payload["paths"]]
        skipped = [
            SkippedFile(path=str(p), reason=str(r))
            for p, r in zip(payload["skipped_paths"], payload["skipped_reasons"], strict=True)
        ]
    except Exception as error:  # a damaged or foreign cache file is rebuilt, never fatal
        LOG.warning("ignoring unreadable image cache %s (%s); decoding again", path, error)
        return None
    if sorted(paths + [s.path for s in skipped]) != sorted(rel_paths) or images.shape[0] != len(paths):
        LOG.warning("image cache %s does not match the files; decoding again", path)
        return None
    return DecodedImages(images=images, paths=paths, skipped=skipped)


def load_or_decode(root: Path, rel_paths: Sequence[str], channels: int, size: int, cache_dir: Path) -> DecodedImages:
    """Decoded images for ``rel_paths`` under ``root``, from ``cache_dir/images/<key>.pt`` when it exists."""
    rel_paths = list(rel_paths)
    path = Path(cache_dir) / "images" / f"{cache_key(root, rel_paths, channels, size)}.pt"
    if path.is_file():
        cached = _load_cache(path, rel_paths)
        if cached is not None:
            LOG.info("loaded %d decoded images from %s", len(cached.paths), path)
            return cached
    LOG.info("decoding %d images under %s", len(rel_paths), root)
    decoded = decode_files(root, rel_paths, channels, size)
    buffer = io.BytesIO()
    torch.save(
        {
            "images": decoded.images,
            "root": str(root),
            "paths": decoded.paths,
            "skipped_paths": [s.path for s in decoded.skipped],
            "skipped_reasons": [s.reason for s in decoded.skipped],
        },
        buffer,
    )
    atomic_write_bytes(path, buffer.getvalue())
    return decoded
