"""Reading one image file: the single decode used by the in-memory cache and by the file loader alike.

Both data paths call :func:`decode_image`, so the same file gives the same uint8 tensor whichever path serves it.
:func:`header_problem` is the cheap up-front check of the file path: it reads the header (and, for PNG, the chunk
checksums) but decodes no pixels, so a file truncated after its header passes it and only fails in
:func:`read_image`, with an error naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from trainlab.errors import TrainlabError


class UnreadableImageError(TrainlabError):
    """A file that passed the header check failed to decode while training (a TrainlabError: the CLI prints it).

    A DataLoader worker's error comes back to the main process rebuilt as ``type(error)(text)``, where the text wraps
    the message in the worker's traceback; only the message is kept, so the user sees one line either way.
    """

    def __init__(self, message: str) -> None:
        marker = f"{type(self).__module__}.{type(self).__qualname__}: "
        if message.startswith("Caught ") and marker in message:
            message = message.rsplit(marker, 1)[1].strip()
        super().__init__(message)


def decode_image(path: Path, channels: int, size: int) -> np.ndarray:
    """Read one image as uint8 [channels, size, size] (bilinear, antialiased resize when the size differs)."""
    mode = "L" if channels == 1 else "RGB"
    with Image.open(path) as opened:
        if opened.format == "JPEG":
            opened.draft(mode, (size, size))  # let libjpeg downscale large photos by 1/2..1/8 while decoding
        image = opened
        if image.mode in ("P", "PA") or (image.mode != mode and "transparency" in image.info):
            image = image.convert("RGBA")
        if image.mode != mode:
            image = image.convert(mode)
        if image.size != (size, size):
            image = image.resize((size, size), Image.Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def header_problem(path: Path) -> str | None:
    """Why ``path`` is not a usable image, judged from its header without decoding it; None when it looks fine.

    The reasons read like the in-memory path's, so ``skipped`` looks the same whichever path built the data.
    """
    try:
        if path.stat().st_size == 0:
            return "empty file (0 bytes)"
        with Image.open(path) as image:
            width, height = image.size
            if width <= 0 or height <= 0 or not image.mode:
                return f"unreadable image: no pixels ({width}x{height}, mode {image.mode!r})"
            image.verify()  # a no-op for most formats; checks every chunk's CRC for PNG (no decoding)
    except Exception as error:  # any failure of the reader means a bad file, not a bug here
        return f"unreadable image: {type(error).__name__}: {error}"
    return None


def read_image(path: Path, channels: int, size: int) -> torch.Tensor:
    """:func:`decode_image` as a tensor, for the file path: a file that fails here raises a TrainlabError naming it."""
    try:
        array = decode_image(path, channels, size)
    except Exception as error:
        raise UnreadableImageError(
            f"cannot decode image {path} ({type(error).__name__}: {error}); it passed the header check when the "
            "data was scanned but its pixels are damaged (e.g. a truncated file). Remove or replace it, or set "
            "data.in_memory=true, which decodes every image up front and skips unreadable ones"
        ) from None
    return torch.from_numpy(np.ascontiguousarray(array))
