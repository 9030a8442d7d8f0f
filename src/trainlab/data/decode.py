"""Reading one image file: the single decode used by the in-memory cache, the file path's up-front check and the file
loader alike.

Every path calls :func:`decode_image`, so the same file gives the same uint8 tensor (or the same skip reason, from
:func:`skip_reason`) whichever path serves it. 16-bit and 32-bit integer images are scaled to 8 bits (a 16-bit value
``v`` becomes ``round(v / 257)``) before any other conversion; Pillow's own conversion would clip them to near-white.
An image above Pillow's ``Image.MAX_IMAGE_PIXELS`` is refused with :class:`ImageTooLargeError` before its pixels are
read; callers that decode many files silence Pillow's ``DecompressionBombWarning`` around the whole batch
(``image_cache.quiet_map``) so that the file is reported once, as a skipped file, rather than warned about on the
console.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from trainlab.errors import TrainlabError

EMPTY_FILE = "empty file (0 bytes)"
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")


class ImageTooLargeError(ValueError):
    """An image with more pixels than Pillow's ``Image.MAX_IMAGE_PIXELS`` (a guard against decompression bombs)."""

    def __init__(self, pixels: int, width: int | None = None, height: int | None = None) -> None:
        size = f"{width}x{height} = " if width and height else ""
        super().__init__(
            f"too large: {size}{pixels:,} pixels, above the limit of {Image.MAX_IMAGE_PIXELS:,} "
            "(PIL.Image.MAX_IMAGE_PIXELS, a guard against decompression bombs; raise it if you trust the file)"
        )


class UnreadableImageError(TrainlabError):
    """A file that decoded when the data was scanned failed to decode while training (a TrainlabError: the CLI
    prints it).

    A DataLoader worker's error comes back to the main process rebuilt as ``type(error)(text)``, where the text wraps
    the message in the worker's traceback; only the message is kept, so the user sees one line either way.
    """

    def __init__(self, message: str) -> None:
        marker = f"{type(self).__module__}.{type(self).__qualname__}: "
        if message.startswith("Caught ") and marker in message:
            message = message.rsplit(marker, 1)[1].strip()
        super().__init__(message)


def _check_pixels(image: Image.Image) -> None:
    limit = Image.MAX_IMAGE_PIXELS
    width, height = image.size
    if limit and width * height > limit:
        raise ImageTooLargeError(width * height, width, height)


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit ("I;16*") and 32-bit integer ("I") grayscale scaled to "L"; any other image as it is.

    An "I" image whose values fit in 16 bits (how Pillow opens many 16-bit files) is scaled like a 16-bit one; wider
    values are scaled from the full 31-bit positive range. Negative values become 0.
    """
    if image.mode not in _SIXTEEN_BIT_MODES and image.mode != "I":
        return image
    values = np.asarray(image).astype(np.float64)
    divisor = 257.0 if values.size == 0 or values.max() <= 65535 else (2**31 - 1) / 255
    return Image.fromarray(np.clip(np.rint(values / divisor), 0, 255).astype(np.uint8))


def decode_image(path: Path, channels: int, size: int) -> np.ndarray:
    """Read one image as uint8 [channels, size, size] (bilinear, antialiased resize when the size differs)."""
    mode = "L" if channels == 1 else "RGB"
    with Image.open(path) as opened:
        _check_pixels(opened)
        if opened.format == "JPEG":
            opened.draft(mode, (size, size))  # let libjpeg downscale large photos by 1/2..1/8 while decoding
        image = _to_8bit(opened)
        if image.mode in ("P", "PA") or (image.mode != mode and "transparency" in image.info):
            image = image.convert("RGBA")
        if image.mode != mode:
            image = image.convert(mode)
        if image.size != (size, size):
            image = image.resize((size, size), Image.Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def skip_reason(error: Exception) -> str:
    """Why a file that raised ``error`` in :func:`decode_image` is skipped: one line, the same on every data path."""
    if isinstance(error, ImageTooLargeError):
        return str(error)
    if isinstance(error, Image.DecompressionBombError):  # over twice the limit: Pillow refuses it in Image.open
        match = _BOMB_PIXELS.search(str(error))
        if match:
            return str(ImageTooLargeError(int(match.group(1))))
    return f"unreadable image: {type(error).__name__}: {error}"


def read_image(path: Path, channels: int, size: int) -> torch.Tensor:
    """:func:`decode_image` as a tensor, for the file path: a file that fails here raises a TrainlabError naming it."""
    try:
        array = decode_image(path, channels, size)
    except Exception as error:
        raise UnreadableImageError(
            f"cannot decode image {path} ({type(error).__name__}: {error}); it decoded when the data was scanned, so "
            "it has changed since. Restore or remove it and run again (the data is then scanned again)"
        ) from None
    return torch.from_numpy(np.ascontiguousarray(array))
