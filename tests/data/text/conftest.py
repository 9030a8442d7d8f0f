"""Text-data fixtures: the hand-written ``tweets_small.csv`` (Tweets.csv's 15 columns) and small CSVs on the fly."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trainlab.config import DataConfig

FIXTURE_CSV = Path(__file__).parent / "fixtures" / "tweets_small.csv"


@pytest.fixture
def tweets_csv() -> Path:
    """76 rows: 37 negative, 21 neutral, 18 positive; rows 6 (negative) and 41 (neutral) have empty texts."""
    return FIXTURE_CSV


@pytest.fixture
def fixture_rows() -> list[dict[str, str]]:
    """The fixture's data rows as read by the csv module (row n is element n - 1)."""
    with FIXTURE_CSV.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def text_cfg() -> Callable[..., DataConfig]:
    """``text_cfg(path, source="airline", **options)``: a DataConfig for a CSV text source (seed 0, 70/15/15)."""

    def make(path: Path, source: str = "airline", max_per_class: int | None = None, split_seed: int = 0,
             **options: Any) -> DataConfig:
        return DataConfig(source=source, path=path, options=options, max_per_class=max_per_class,
                          split_seed=split_seed)

    return make


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """``write_csv(text_or_bytes, name="data.csv")``: a file in tmp_path holding exactly what is given."""

    def write(content: str | bytes, name: str = "data.csv") -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path

    return write
