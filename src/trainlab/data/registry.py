"""The dataset registry, in its own module so that builders can import it without an import cycle."""

from __future__ import annotations

from trainlab.data.bundle import DataBundle
from trainlab.registry import Registry

DATASETS: Registry[DataBundle] = Registry[DataBundle]("dataset")
