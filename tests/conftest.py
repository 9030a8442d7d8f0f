"""Shared fixtures. Real datasets come from ``TRAINLAB_SHARED_DATA`` or ``../shared/data`` beside the repository.

With ``TRAINLAB_REQUIRE_DATA=1`` (``.ci/run`` sets it where the shared folder exists) a missing dataset fails the tests
that need it; otherwise they skip. A dedicated variable, not ``CI``: CI services set ``CI`` whether or not the data
is there.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from trainlab.data.sources import resolve_source

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path | None:
    candidates = [os.environ.get("TRAINLAB_SHARED_DATA"), REPO_ROOT.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def _data_required() -> bool:
    """TRAINLAB_REQUIRE_DATA is set to anything but empty, 0, false or no."""
    return os.environ.get("TRAINLAB_REQUIRE_DATA", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real datasets; when missing, fails if the data is required and skips otherwise."""
    found = _shared_data_dir()
    if found is None:
        message = "shared data not found: set TRAINLAB_SHARED_DATA or place it at ../shared/data"
        if _data_required():
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def cnn_dataset_dir(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dogs/food/vehicles course set unpacked once per session into a temporary folder.

    It is unpacked by trainlab's own safe extraction (the same on every Python 3.11, and held to the archive-bomb
    limits), which steps into the archive's single ``cnn_dataset/`` folder.
    """
    archive = shared_data / "cnn_dataset" / "cnn_dataset.tar.gz"
    if not archive.is_file():
        pytest.fail(f"{archive} is missing from the shared data")
    root = resolve_source(archive, tmp_path_factory.mktemp("cnn_dataset"))
    assert root.name == "cnn_dataset" and sorted(p.name for p in root.iterdir()) == ["dogs", "food", "vehicles"]
    return root


def _pixel_count(path: Path, color: str, tolerance: int = 40) -> int:
    """How many pixels of the PNG at ``path`` are within ``tolerance`` (sum of |ΔRGB|) of ``color`` ("#rrggbb")."""
    import numpy as np
    from PIL import Image

    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    target = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(image - target).sum(axis=-1) < tolerance).sum())


@pytest.fixture(scope="session")
def pixel_count() -> Callable[..., int]:
    """``pixel_count(png_path, "#1f77b4")``: how much of a plot is drawn in one colour (a curve, a bar, a cell)."""
    return _pixel_count
