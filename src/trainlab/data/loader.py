"""The fast in-memory path from a TensorSplit to batches.

A plain ``Dataset`` costs one Python call and one tiny tensor per sample, then a ``collate`` to stack them; for small
images that dominates an epoch. ``BatchedTensorDataset.__getitems__`` receives the whole batch of indices from the
DataLoader and answers with one fancy-index. The loader stays a standard ``torch.utils.data.DataLoader`` with a
standard sampler, so Lightning can still swap in a ``DistributedSampler`` under DDP.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from trainlab.data.bundle import TensorSplit
from trainlab.errors import TrainlabError

Batch = tuple[torch.Tensor, torch.Tensor]


class BatchedTensorDataset(Dataset[Batch]):
    """Images and labels of one split; ``__getitems__`` serves a whole batch at once."""

    def __init__(self, split: TensorSplit) -> None:
        self.images = split.images
        self.labels = split.labels

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> Batch:
        return self.images[index], self.labels[index]

    def __getitems__(self, indices: list[int]) -> Batch:
        index = torch.as_tensor(indices, dtype=torch.long).to(self.images.device, non_blocking=True)
        return self.images.index_select(0, index), self.labels.index_select(0, index)


def batched_collate(batch: Any) -> Any:
    """``__getitems__`` already returns the stacked batch; anything else (single items) gets the default collate."""
    if isinstance(batch, tuple):
        return batch
    return default_collate(batch)


def make_loader(
    split: TensorSplit,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int,
    device: torch.device | str = "cpu",
    num_workers: int = 0,
    drop_last: bool = False,
) -> DataLoader:
    """A DataLoader over ``split`` with its tensors moved once to ``device``.

    Shuffling draws from a ``torch.Generator`` seeded with ``seed``: the same seed gives the same order of epochs.
    With the data on a GPU the batches are cut there, so worker processes (``num_workers > 0``) are refused.
    """
    device = torch.device(device)
    if device.type != "cpu" and num_workers > 0:
        raise TrainlabError(
            f"training.num_workers must be 0 when the data lives on {device} (data.device_resident); got {num_workers}"
        )
    on_device = TensorSplit(split.images.to(device), split.labels.to(device))
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(
        BatchedTensorDataset(on_device),
        batch_size=batch_size,
        shuffle=shuffle and len(on_device) > 0,
        generator=generator,
        collate_fn=batched_collate,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        drop_last=drop_last,
    )
