"""Data: every dataset is a registered builder ``build(cfg: DataConfig, cache_dir: Path) -> DataBundle``.

Adding a dataset means one module with one ``@DATASETS.register("name")`` function, imported below.
"""

from __future__ import annotations

from pathlib import Path

from trainlab.config import DataConfig
from trainlab.data import digits, image_folder, text  # noqa: F401  (registers the datasets)
from trainlab.data.augment import BatchAugment, prepare_batch
from trainlab.data.bundle import DataBundle, FileSplit, SkippedFile, Split, TensorSplit, TokenSplit, WindowSplit
from trainlab.data.loader import make_loader
from trainlab.data.registry import DATASETS
from trainlab.data.series import sources as series_sources  # noqa: F401  (registers the forecasting datasets)
from trainlab.data.specs import Classes, ImageSpec, InputSpec, Real, TargetSpec, TokenSpec, WindowSpec

__all__ = [
    "DATASETS",
    "BatchAugment",
    "Classes",
    "DataBundle",
    "FileSplit",
    "ImageSpec",
    "InputSpec",
    "Real",
    "SkippedFile",
    "Split",
    "TargetSpec",
    "TensorSplit",
    "TokenSpec",
    "TokenSplit",
    "WindowSpec",
    "WindowSplit",
    "build_dataset",
    "data_path_overrides",
    "dataset_names",
    "make_loader",
    "prepare_batch",
]


def dataset_names() -> list[str]:
    return DATASETS.names()


def build_dataset(cfg: DataConfig, cache_dir: Path) -> DataBundle:
    """Build the dataset named by ``cfg.source``; an unknown name fails with the list of known ones."""
    builder = DATASETS.get(cfg.source)
    return builder(cfg=cfg, cache_dir=Path(cache_dir))


def data_path_overrides(source: str, path: Path | str) -> dict[str, str]:
    """The recipe keys of ``--data PATH``: the source reads PATH; a source of packaged data (digits) has no path, so
    it becomes an image folder (the one historical meaning of ``--data``)."""
    packaged = DATASETS.metadata(source).get("packaged", False) if source in DATASETS else False
    return {"data.path": str(path), **({"data.source": "image_folder"} if packaged else {})}
