"""Shared by the style tests: tiny VGG weights written to temporary files (never the packaged asset), small images,
and settings small enough that a whole run takes a fraction of a second on two CPU cores."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from style_helpers import save_state, vgg_state

from trainlab.style.settings import StyleSettings


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain state_dict file of VGG-11 features at width 1/16 (no provenance: ImageNet normalization)."""
    return save_state(vgg_state(), tmp_path_factory.mktemp("weights") / "vgg11_tiny.pt")


@pytest.fixture(scope="session")
def tiny_asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in for the packaged demo net: VGG-13 BatchNorm at width 1/16 with a JSON sidecar."""
    path = save_state({"state_dict": vgg_state("vgg13", batch_norm=True)},
                      tmp_path_factory.mktemp("asset") / "demo.pt")
    path.with_suffix(".json").write_text(json.dumps({"mean": [0.5, 0.4, 0.3], "std": [0.25, 0.2, 0.3],
                                                     "source": "a test run", "notes": "tiny"}), encoding="utf-8")
    return path


@pytest.fixture
def picture(tmp_path: Path) -> Callable[..., Path]:
    """Write a small random picture (``mode`` L, RGB or RGBA) and return its path."""

    def make(name: str = "picture.png", size: tuple[int, int] = (40, 30), mode: str = "RGB", seed: int = 0) -> Path:
        channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
        pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
        path = tmp_path / name
        Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode=mode).save(path)
        return path

    return make


@pytest.fixture
def tiny_settings(tiny_weights: Path) -> Callable[..., StyleSettings]:
    """StyleSettings of a tiny CPU run on scikit-image's pictures; keywords override."""

    def make(**overrides: Any) -> StyleSettings:
        values: dict[str, Any] = {"content": "skimage:chelsea", "style": ("skimage:brick",),
                                  "weights": str(tiny_weights), "size": 32, "steps": 20, "device": "cpu"}
        return StyleSettings(**{**values, **overrides})

    return make
