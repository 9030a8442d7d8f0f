"""Decoding one image: bit depths other than 8 and images above Pillow's pixel limit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainlab.config import DataConfig
from trainlab.data import build_dataset
from trainlab.data.decode import decode_image


def gradient_16bit(path: Path, side: int = 32) -> np.ndarray:
    """A 0..65535 gradient saved as a 16-bit grayscale PNG; returns the values."""
    values = np.linspace(0, 65535, side * side).round().astype(np.uint16).reshape(side, side)
    Image.fromarray(values).save(path)
    with Image.open(path) as check:
        assert check.mode == "I;16"
    return values


@pytest.mark.parametrize("channels", [1, 3])
def test_16bit_png_is_scaled_not_clipped(tmp_path: Path, channels: int) -> None:
    values = gradient_16bit(tmp_path / "gradient.png")
    decoded = decode_image(tmp_path / "gradient.png", channels, 32)
    assert decoded.dtype == np.uint8 and decoded.shape == (channels, 32, 32)
    assert decoded.min() == 0 and decoded.max() == 255
    assert np.abs(decoded.astype(np.int64) - (values // 257)[None]).max() <= 1
    assert len(np.unique(decoded)) == 256  # every gray level survives, not 240..255
    assert (decoded == decoded[:1]).all()  # gray in all three channels


def test_32bit_integer_images_are_scaled(tmp_path: Path) -> None:
    """Mode "I" (how Pillow opens many 16-bit files) with 16-bit values is scaled like 16 bits; wider values from the
    31-bit positive range; negative values become 0."""
    sixteen = np.repeat(np.array([[0, 257, 32896, 65535]], dtype=np.int32), 4, axis=0)
    Image.fromarray(sixteen).save(tmp_path / "sixteen.tiff")
    with Image.open(tmp_path / "sixteen.tiff") as check:
        assert check.mode == "I"
    assert decode_image(tmp_path / "sixteen.tiff", 1, 4)[0, 0].tolist() == [0, 1, 128, 255]
    assert decode_image(tmp_path / "sixteen.tiff", 3, 4)[:, 0, 3].tolist() == [255, 255, 255]
    wide = np.repeat(np.array([[0, 2**30, 2**31 - 1, -5]], dtype=np.int32), 4, axis=0)
    Image.fromarray(wide).save(tmp_path / "wide.tiff")
    assert decode_image(tmp_path / "wide.tiff", 1, 4)[0, 0].tolist() == [0, 128, 255, 0]


@pytest.mark.parametrize("in_memory", [True, False])
def test_too_many_pixels_are_skipped_without_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recwarn: pytest.WarningsRecorder, in_memory: bool
) -> None:
    root = tmp_path / "data"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for index in range(7):
            Image.new("RGB", (8, 8), (index, 0, 0)).save(root / name / f"{index}.png")
    Image.new("RGB", (40, 40)).save(root / "a" / "wide.png")  # 1,600 pixels: Pillow warns
    Image.new("RGB", (100, 100)).save(root / "b" / "huge.png")  # 10,000: over twice the limit, Pillow raises
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    cfg = DataConfig(source="image_folder", path=root, image_size=8, in_memory=in_memory)
    bundle = build_dataset(cfg, tmp_path / "cache")
    assert [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)] == []
    reasons = {item.path: item.reason for item in bundle.skipped}
    assert sorted(reasons) == ["a/wide.png", "b/huge.png"]
    assert reasons["a/wide.png"].startswith("too large: 40x40 = 1,600 pixels, above the limit of 1,000 "
                                            "(PIL.Image.MAX_IMAGE_PIXELS")
    assert reasons["b/huge.png"].startswith("too large: 10,000 pixels, above the limit of 1,000 (")
    assert sum(len(split) for split in bundle.splits().values()) == 14
