"""From a split to batches: a fast in-memory path for TensorSplits and a worker path for FileSplits.

A plain ``Dataset`` costs one Python call and one tiny tensor per sample, then a ``collate`` to stack them; for small
images that dominates an epoch. ``BatchedTensorDataset.__getitems__`` receives the whole batch of indices from the
DataLoader and answers with one fancy-index. The loader stays a standard ``torch.utils.data.DataLoader`` with a
standard sampler, so Lightning can still swap in a ``DistributedSampler`` under DDP.

A FileSplit (data too large for memory) goes through ``ImageFileDataset``: one file decoded per item, by the same
decode as the in-memory cache, in ``num_workers`` worker processes, stacked by the default collate into the same
uint8 batches. Nothing is moved to the GPU up front; Lightning moves each batch (from pinned memory on CUDA).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, default_collate

from trainlab.data.bundle import FileSplit, Split, TensorSplit, TokenSplit, WindowSplit
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


class ImageFileDataset(Dataset[Batch]):
    """The images of a FileSplit, decoded one per item (uint8 [C, S, S]) with their int64 labels."""

    def __init__(self, split: FileSplit) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> Batch:
        return self.split.read(index), self.split.labels[index]


class BatchedTokenDataset(Dataset[dict[str, torch.Tensor]]):
    """Token sequences of one split; ``__getitems__`` serves a whole batch as a dict ``{"x", "lengths", "y"}``, cut
    to the longest real length in the batch (padding beyond it would only cost compute)."""

    def __init__(self, split: TokenSplit) -> None:
        self.tokens, self.lengths, self.labels = split.tokens, split.lengths, split.labels

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.__getitems__([index])

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long).to(self.tokens.device, non_blocking=True)
        lengths = self.lengths.index_select(0, index)
        longest = int(lengths.max()) if len(indices) else 1
        return {"x": self.tokens.index_select(0, index)[:, :longest], "lengths": lengths,
                "y": self.labels.index_select(0, index)}


class BatchedWindowDataset(Dataset[dict[str, torch.Tensor]]):
    """Forecasting windows of one split; ``__getitems__`` serves a whole batch as a dict of every window tensor
    (``x``, ``future``, ``y``, ``mask``, ``weight``, ``loc``, ``scale``)."""

    def __init__(self, split: WindowSplit) -> None:
        self.tensors = split.tensors()
        self.length = len(split)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.__getitems__([index])

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        return {name: tensor.index_select(0, index) for name, tensor in self.tensors.items()}


def batched_collate(batch: Any) -> Any:
    """``__getitems__`` already returns the stacked batch; anything else (single items) gets the default collate."""
    if isinstance(batch, tuple | dict):
        return batch
    return default_collate(batch)


class EvalShardSampler(DistributedSampler):
    """Rank ``r`` of ``w`` evaluates samples ``r, r + w, r + 2w, ...``: each sample exactly once, no padding.

    Lightning's default DistributedSampler pads the shards with repeated samples so every rank gets as many batches,
    which counts some images twice in validation and test metrics. torchmetrics syncs states, not samples, so uneven
    shards are exact. Being a DistributedSampler, Lightning leaves it in place.
    """

    def __init__(self, length: int, rank: int, world_size: int) -> None:
        self.length, self.rank, self.num_replicas = length, rank, world_size
        self.shuffle, self.drop_last, self.epoch, self.seed = False, False, 0, 0
        self.num_samples = len(range(rank, length, world_size))
        self.total_size = length

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.length, self.num_replicas))

    def __len__(self) -> int:
        return self.num_samples


def make_loader(
    split: Split,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int,
    device: torch.device | str = "cpu",
    num_workers: int = 0,
    drop_last: bool = False,
    shard: tuple[int, int] | None = None,
    generator: torch.Generator | None = None,
) -> DataLoader:
    """A DataLoader over ``split``; shuffling draws from a ``torch.Generator`` seeded with ``seed`` (same seed, same
    order of epochs).

    TensorSplit: the tensors are moved once to ``device`` and batches are cut there, so on a GPU worker processes
    (``num_workers > 0``) are refused. FileSplit: ``device`` is only where batches will go (CUDA pins memory); the
    files are decoded in ``num_workers`` processes (0: in this one) and the data stays on the CPU.
    ``shard=(rank, world_size)``: an unshuffled evaluation loader for one rank of a distributed run.
    ``generator``: draw the shuffle order from this generator instead of a new one seeded with ``seed`` (the trainer
    passes one whose state a checkpoint saves, so a resumed run draws the orders an uninterrupted one would).
    """
    device = torch.device(device)
    if generator is None:
        generator = torch.Generator()
        generator.manual_seed(seed)
    if shard is not None and shuffle:
        raise ValueError("a sharded loader is for evaluation and cannot shuffle")
    sampler = EvalShardSampler(len(split), *shard) if shard is not None else None
    dataset: Dataset
    if isinstance(split, FileSplit):
        dataset, collate, pin_memory = ImageFileDataset(split), default_collate, device.type == "cuda"
    elif isinstance(split, TokenSplit):
        # Token ids are small; they stay on the CPU and Lightning moves each batch (lengths must be on the CPU for
        # pack_padded_sequence anyway).
        dataset, collate, pin_memory = BatchedTokenDataset(split), batched_collate, False
    elif isinstance(split, WindowSplit):  # small float windows: batches cut on the CPU, moved by Lightning
        dataset, collate, pin_memory = BatchedWindowDataset(split), batched_collate, False
    else:
        if device.type != "cpu" and num_workers > 0:
            raise TrainlabError(
                f"training.num_workers must be 0 when the data lives on {device} (data.device_resident); "
                f"got {num_workers}"
            )
        on_device = TensorSplit(split.images.to(device), split.labels.to(device))
        dataset, collate, pin_memory = BatchedTensorDataset(on_device), batched_collate, False
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle and len(split) > 0,
        sampler=sampler,
        generator=generator,
        collate_fn=collate,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
        drop_last=drop_last,
    )
