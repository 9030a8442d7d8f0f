"""Data: every dataset is a registered builder ``build(cfg: DataConfig, cache_dir: Path) -> DataBundle``.

Adding a dataset means one module with one ``@DATASETS.register("name")`` function, imported below.
"""

from __future__ import annotations

from pathlib import Path

from trainlab.config import DataConfig
from trainlab.data import digits, image_folder, text  # noqa: F401  (registers the datasets)
from trainlab.data.augment import BatchAugment, prepare_batch
from trainlab.data.bundle import DataBundle, FileSplit, SkippedFile, Split, TensorSplit, TokenSplit
from trainlab.data.loader import make_loader
from trainlab.data.registry import DATASETS
from trainlab.data.specs import Classes, ImageSpec, InputSpec, TargetSpec, TokenSpec

__all__ = [
    "DATASETS",
    "BatchAugment",
    "Classes",
    "DataBundle",
    "FileSplit",
    "ImageSpec",
    "InputSpec",
    "SkippedFile",
    "Split",
    "TargetSpec",
    "TensorSplit",
    "TokenSpec",
    "TokenSplit",
    "build_dataset",
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
