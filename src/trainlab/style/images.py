"""Images in and out of ``trainlab style``: files read with Pillow, scikit-image's bundled pictures, tensors, PNGs.

An image is named by a path, or by ``skimage:NAME`` for one of scikit-image's bundled pictures (no download; the
package is imported only when such a name is used). Every image becomes RGB (grayscale repeated on three channels,
transparency composed over white) and is resized so that its **longest side** is ``size`` pixels, keeping its aspect
ratio. Pixels are float32 in [0, 1], shaped ``[1, 3, H, W]``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from trainlab.data.decode import skip_reason
from trainlab.errors import TrainlabError
from trainlab.io import atomic_write_bytes

SKIMAGE_PREFIX = "skimage:"
SKIMAGE_IMAGES = ("chelsea", "astronaut", "coffee", "brick", "grass", "gravel", "camera", "rocket", "cat")
FORMATS = "PNG, JPEG, BMP, GIF, TIFF or WebP"


def image_label(spec: str) -> str:
    """A short name for titles: ``skimage:chelsea`` → ``chelsea``, ``photos/me.jpg`` → ``me.jpg``."""
    return spec[len(SKIMAGE_PREFIX):] if spec.startswith(SKIMAGE_PREFIX) else Path(spec).name


def check_image_spec(spec: str, role: str) -> None:
    """Fail early, before any weights are read, on a file that is not there or an unknown bundled name."""
    if spec.startswith(SKIMAGE_PREFIX):
        if spec[len(SKIMAGE_PREFIX):] not in SKIMAGE_IMAGES:
            raise TrainlabError(f"{role} image {spec!r}: unknown bundled picture; trainlab knows "
                                f"{', '.join(SKIMAGE_PREFIX + name for name in SKIMAGE_IMAGES)}")
        return
    path = Path(spec).expanduser()
    if not path.exists():
        raise TrainlabError(f"{role} image {spec} does not exist; pass an image file ({FORMATS})")
    if path.is_dir():
        raise TrainlabError(f"{role} image {spec} is a folder; pass one image file ({FORMATS})")


def _bundled(name: str) -> Image.Image:
    import skimage.data  # only the demo (and skimage:NAME) needs scikit-image

    array = np.asarray(getattr(skimage.data, name)())
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    return Image.fromarray(array[..., :3].astype(np.uint8))


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB of any Pillow mode: 16/32-bit grayscale scaled to 8 bits (Pillow would clip it), alpha over white."""
    if image.mode.startswith("I;16") or image.mode == "I":
        values = np.asarray(image).astype(np.float64)
        divisor = 257.0 if values.size == 0 or values.max() <= 65535 else (2**31 - 1) / 255
        image = Image.fromarray(np.clip(np.rint(values / divisor), 0, 255).astype(np.uint8))
    if image.mode in ("P", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return image.convert("RGB")


def read_image(spec: str, role: str) -> Image.Image:
    """The RGB picture ``spec`` names; a missing or unreadable file is one TrainlabError naming it."""
    check_image_spec(spec, role)
    if spec.startswith(SKIMAGE_PREFIX):
        return _bundled(spec[len(SKIMAGE_PREFIX):])
    path = Path(spec).expanduser()
    try:
        with Image.open(path) as opened:
            opened.load()
            return _to_rgb(opened)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as error:
        reason = "not an image file" if isinstance(error, UnidentifiedImageError) else skip_reason(error)
        raise TrainlabError(f"{role} image {spec} cannot be read: {reason}; pass an image file ({FORMATS})") from None


def resized(image: Image.Image, size: int) -> Image.Image:
    """``image`` scaled (Lanczos, antialiased) so that its longest side is ``size``; the aspect ratio is kept."""
    width, height = image.size
    scale = size / max(width, height)
    shape = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image if shape == image.size else image.resize(shape, Image.Resampling.LANCZOS)


def to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB picture → float32 ``[1, 3, H, W]`` in [0, 1]."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array.transpose(2, 0, 1).copy()).unsqueeze(0)


def to_array(image: torch.Tensor) -> np.ndarray:
    """``[1, 3, H, W]`` or ``[3, H, W]`` in [0, 1] → uint8 ``H × W × 3`` (rounded, clipped)."""
    pixels = image.detach().float().cpu().reshape(-1, *image.shape[-2:]).clamp(0, 1)
    return np.rint(pixels.numpy().transpose(1, 2, 0) * 255.0).astype(np.uint8)


def load_image(spec: str, role: str, size: int) -> torch.Tensor:
    """:func:`read_image`, :func:`resized` to ``size`` and :func:`to_tensor`."""
    return to_tensor(resized(read_image(spec, role), size))


def save_png(image: torch.Tensor, path: Path) -> Path:
    """Write an image tensor as a PNG, atomically."""
    buffer = io.BytesIO()
    Image.fromarray(to_array(image)).save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())
