"""Small image folders built on the fly with Pillow (the real course data comes from ``cnn_dataset_dir``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

TINY_CLASSES = ("birds", "cats", "dogs")
TINY_PER_CLASS = 12


def write_image(path: Path, size: tuple[int, int], seed: int, mode: str = "RGB") -> Path:
    """A random image of ``size`` (width, height); the format follows the file extension."""
    rng = np.random.default_rng(seed)
    channels = 3 if mode == "RGB" else 1
    base = rng.integers(0, 256, size=channels)
    noise = rng.integers(-40, 40, size=(size[1], size[0], channels))
    array = np.clip(base + noise, 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array if channels == 3 else array[..., 0], mode=mode).save(path)
    return path


def fill_class(folder: Path, count: int, seed: int) -> None:
    """``count`` images of varied sizes and formats in ``folder``."""
    suffixes = (".jpg", ".png", ".JPEG", ".bmp", ".gif", ".webp")
    for i in range(count):
        write_image(folder / f"img_{i:03d}{suffixes[i % len(suffixes)]}", (16 + 3 * i, 24 + i), seed * 1000 + i)


@pytest.fixture
def tiny_folder(tmp_path: Path) -> Path:
    """3 classes × 12 images of different sizes, plus one corrupt .jpg, one empty .png, a hidden file and a README."""
    root = tmp_path / "tiny"
    for index, name in enumerate(TINY_CLASSES):
        fill_class(root / name, TINY_PER_CLASS, index)
    (root / "cats" / "corrupt.jpg").write_bytes(np.random.default_rng(0).bytes(500))
    (root / "dogs" / "empty.png").write_bytes(b"")
    (root / "dogs" / "notes.txt").write_text("not an image")
    write_image(root / "birds" / ".hidden.jpg", (8, 8), 99)
    (root / "README.md").write_text("class folders below")
    return root


@pytest.fixture
def images() -> SimpleNamespace:
    """The helpers above, for tests (a fixture rather than an import, so any pytest import mode works)."""
    return SimpleNamespace(write=write_image, fill=fill_class, classes=TINY_CLASSES, per_class=TINY_PER_CLASS)


@pytest.fixture
def make_split_folder(tmp_path: Path) -> Callable[[dict[str, int]], Path]:
    """Build ``root/<split>/<class a|b>/`` with the given number of images per class in each split folder."""

    def make(per_split: dict[str, int]) -> Path:
        root = tmp_path / "split_data"
        for s_index, (split, count) in enumerate(per_split.items()):
            for c_index, name in enumerate(("a", "b")):
                fill_class(root / split / name, count, 10 * s_index + c_index)
        return root

    return make
