"""Decode image files once into one uint8 tensor and keep it on disk, keyed by the files and the decode settings.

The key is a sha256 of every file's relative path, size and mtime plus the channel count and image size, so any change
to the folder or the settings decodes again, and a second run with the same data reads one file instead of thousands.
``check_files`` is the file path's counterpart: no decoding and no cache, only a header check of every file.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainlab.data.bundle import SkippedFile
from trainlab.data.decode import decode_image, header_problem
from trainlab.io import atomic_write_bytes

LOG = logging.getLogger(__name__)
CACHE_VERSION = 1
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"})


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
            return "empty file (0 bytes)"
        return decode_image(path, channels, size)
    except Exception as error:
        return f"unreadable image: {type(error).__name__}: {error}"


def _pool_size() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def check_files(root: Path, rel_paths: Sequence[str]) -> tuple[list[str], list[SkippedFile]]:
    """The file path's up-front scan: (paths that pass the header check, in order; the skipped ones with why).

    Only headers are read (see ``decode.header_problem``), in a thread pool, so this costs a fraction of a decode.
    """
    with ThreadPoolExecutor(max_workers=_pool_size()) as pool:
        reasons = list(pool.map(lambda rel: header_problem(root / rel), rel_paths, chunksize=64))
    good = [rel for rel, reason in zip(rel_paths, reasons, strict=True) if reason is None]
    skipped = [SkippedFile(path=rel, reason=reason) for rel, reason in zip(rel_paths, reasons, strict=True) if reason]
    return good, skipped


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

    with ThreadPoolExecutor(max_workers=_pool_size()) as pool:
        for index, reason in enumerate(pool.map(work, range(len(rel_paths)), chunksize=64)):
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
            "paths": decoded.paths,
            "skipped_paths": [s.path for s in decoded.skipped],
            "skipped_reasons": [s.reason for s in decoded.skipped],
        },
        buffer,
    )
    atomic_write_bytes(path, buffer.getvalue())
    return decoded
