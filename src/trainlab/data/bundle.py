"""What every dataset builder returns: the splits (images decoded in memory or read from files batch by batch, or
token sequences), the input and target specs, class names, and what was skipped."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from trainlab.data.decode import read_image
from trainlab.data.series.panel import SeriesPanel
from trainlab.data.series.split import WindowSplit
from trainlab.data.specs import Classes, ImageSpec, InputSpec, TargetSpec

# Bytes of float64 work per chunk in channel_stats: 16M values = 128 MiB, whatever the dataset size.
_STATS_CHUNK_VALUES = 1 << 24
# channel_stats of a FileSplit decodes at most this many train images, evenly spaced.
STATS_SAMPLE_LIMIT = 2000
_STATS_THREADS = 8


def _check_labels(labels: torch.Tensor) -> None:
    if labels.dtype != torch.int64 or labels.ndim != 1:
        raise ValueError(f"labels must be int64 [N], got {labels.dtype} {tuple(labels.shape)}")


def _check_ids(ids: tuple[str, ...], count: int) -> None:
    if not isinstance(ids, tuple) or (ids and len(ids) != count):
        raise ValueError(f"ids must be a tuple of one name per sample ({count}) or empty, got {len(ids)}")


@dataclass(frozen=True, eq=False)
class TensorSplit:
    """One split: ``images`` uint8 [N, C, H, W] and ``labels`` int64 [N] (indices into ``DataBundle.classes``).

    ``ids[i]`` names where sample ``i`` came from (a file path relative to the data root, or a row of a packaged
    dataset); it goes into ``predictions.csv``. Empty when the split has no names (e.g. a copy made for a device).
    """

    images: torch.Tensor
    labels: torch.Tensor
    ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 [N, C, H, W], got {self.images.dtype} {tuple(self.images.shape)}")
        _check_labels(self.labels)
        if self.images.shape[0] != self.labels.shape[0]:
            raise ValueError(f"{self.images.shape[0]} images but {self.labels.shape[0]} labels")
        _check_ids(self.ids, len(self))

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        channels, height, width = self.images.shape[1:]
        return int(channels), int(height), int(width)

    def read(self, index: int) -> torch.Tensor:
        """Image ``index`` as uint8 [C, H, W] (the same call as ``FileSplit.read``)."""
        return self.images[index]

    def update_digest(self, digest: Any, root: str) -> None:
        """Feed the split's identity to ``digest``: every pixel and label (``root`` is unused; pixels have no path)."""
        del root
        digest.update(repr(tuple(self.images.shape)).encode())
        digest.update(self.images.cpu().contiguous().numpy().tobytes())
        digest.update(self.labels.cpu().numpy().tobytes())

    @classmethod
    def empty(cls, channels: int, height: int, width: int) -> TensorSplit:
        """A zero-length split (e.g. validation when ``split.val`` is 0)."""
        return cls(torch.empty((0, channels, height, width), dtype=torch.uint8), torch.empty(0, dtype=torch.int64))


@dataclass(frozen=True, eq=False)
class FileSplit:
    """One split left on disk: ``paths[i]`` has label ``labels[i]`` (int64 [N]) and is decoded when a batch needs it,
    to uint8 [channels, image_size, image_size] by the same decode as the in-memory path."""

    paths: tuple[Path, ...]
    labels: torch.Tensor
    channels: int
    image_size: int
    ids: tuple[str, ...] = ()  # as TensorSplit.ids: the paths relative to the data root

    def __post_init__(self) -> None:
        if not isinstance(self.paths, tuple):
            raise ValueError(f"paths must be a tuple, got {type(self.paths).__name__}")
        _check_labels(self.labels)
        if len(self.paths) != self.labels.shape[0]:
            raise ValueError(f"{len(self.paths)} paths but {self.labels.shape[0]} labels")
        if self.channels not in (1, 3) or self.image_size <= 0:
            raise ValueError(f"channels must be 1 or 3 and image_size positive, got {self.channels}, {self.image_size}")
        _check_ids(self.ids, len(self))

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.channels, self.image_size, self.image_size

    def read(self, index: int) -> torch.Tensor:
        """Image ``index`` as uint8 [C, S, S]; a file that cannot be decoded raises a TrainlabError naming it."""
        return read_image(self.paths[index], self.channels, self.image_size)

    def update_digest(self, digest: Any, root: str) -> None:
        """Feed the split's identity to ``digest``: each file's path relative to ``root``, its size, and its label.

        Paths are relative, so the same folder reached as ``./data`` or ``/abs/data`` has one identity; the pixels are
        not read (that would cost a full decode of data too large for memory), so an edit that keeps a file's size is
        not seen.
        """
        digest.update(f"files {self.channels} {self.image_size}\n".encode())
        for path, label in zip(self.paths, self.labels.tolist(), strict=True):
            digest.update(f"{os.path.relpath(path, root)}\0{path.stat().st_size}\0{label}\n".encode())


@dataclass(frozen=True, eq=False)
class TokenSplit:
    """One split of texts: ``tokens`` int64 [N, L] (ids, padded with the pad id after each text's real length),
    ``lengths`` int64 [N] (each at least 1), ``labels`` int64 [N]; ``ids`` as in TensorSplit (e.g. ``row 17`` of the
    CSV) and ``texts`` the raw texts, for predictions.csv and the report's examples."""

    tokens: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor
    ids: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.tokens.dtype != torch.int64 or self.tokens.ndim != 2:
            raise ValueError(f"tokens must be int64 [N, L], got {self.tokens.dtype} {tuple(self.tokens.shape)}")
        _check_labels(self.labels)
        count = self.labels.shape[0]
        if self.tokens.shape[0] != count or self.lengths.shape != (count,) or self.lengths.dtype != torch.int64:
            raise ValueError(f"{self.tokens.shape[0]} token rows, lengths {tuple(self.lengths.shape)} and "
                             f"{count} labels must agree (lengths int64 [N])")
        if count and (int(self.lengths.min()) < 1 or int(self.lengths.max()) > self.tokens.shape[1]):
            raise ValueError(f"lengths must lie in 1..{self.tokens.shape[1]}")
        _check_ids(self.ids, count)
        _check_ids(self.texts, count)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def read(self, index: int) -> str:
        """The raw text of sample ``index`` (empty when the split keeps no texts)."""
        return self.texts[index] if self.texts else ""

    def update_digest(self, digest: Any, root: str) -> None:
        """Feed the split's identity to ``digest``: every token id, length and label."""
        del root
        digest.update(repr(tuple(self.tokens.shape)).encode())
        for tensor in (self.tokens, self.lengths, self.labels):
            digest.update(tensor.cpu().contiguous().numpy().tobytes())


Split = TensorSplit | FileSplit | TokenSplit | WindowSplit


def stats_sample(count: int, limit: int = STATS_SAMPLE_LIMIT) -> list[int]:
    """``min(count, limit)`` evenly spaced indices of ``range(count)``: all of them when ``count <= limit``."""
    size = min(count, limit)
    return [i * count // size for i in range(size)]


def _moments(blocks: Iterable[torch.Tensor]) -> tuple[list[float], list[float]]:
    """Per-channel mean and population std in [0, 1] units of uint8 [n, C, H, W] blocks, summed in float64."""
    total = total_sq = None
    count = 0
    for block in blocks:
        values = block.to(torch.float64)
        sums, squares = values.sum(dim=(0, 2, 3)), values.square().sum(dim=(0, 2, 3))
        total = sums if total is None else total + sums
        total_sq = squares if total_sq is None else total_sq + squares
        count += block.shape[0] * block.shape[2] * block.shape[3]
    if total is None or total_sq is None or count == 0:
        raise ValueError("channel_stats needs a non-empty train split")
    mean = total / count / 255.0
    var = (total_sq / count / (255.0 * 255.0) - mean.square()).clamp_min(0.0)
    return [float(v) for v in mean.cpu()], [float(v) for v in var.sqrt().cpu()]


def _chunk_size(shape: tuple[int, int, int]) -> int:
    channels, height, width = shape
    return max(1, _STATS_CHUNK_VALUES // (channels * height * width))


def _tensor_blocks(split: TensorSplit) -> Iterator[torch.Tensor]:
    chunk = _chunk_size(split.image_shape)
    for start in range(0, len(split), chunk):
        yield split.images[start : start + chunk]


def _file_blocks(split: FileSplit, indices: list[int]) -> Iterator[torch.Tensor]:
    """The sampled images decoded a chunk at a time with a thread pool (Pillow releases the GIL while decoding)."""
    chunk = _chunk_size(split.image_shape)
    with ThreadPoolExecutor(max_workers=_STATS_THREADS) as pool:
        for start in range(0, len(indices), chunk):
            yield torch.stack(list(pool.map(split.read, indices[start : start + chunk])))


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not used, with why (``path`` is relative to the data root)."""

    path: str
    reason: str


@dataclass(frozen=True, eq=False)
class DataBundle:
    """The data of one study: built once, shared by every variant. All splits are of one type.

    ``input`` says what a sample is (None: images, derived from the train split); ``target_spec`` what is predicted
    (None: the ``classes``); ``profile`` is a JSON-ready description of the data for its kind's EDA figures (e.g.
    text lengths and the cap), recorded in ``study.json``; ``panel`` is the time series windows were cut from (the
    forecasting baselines and figures read it).
    """

    train: Split
    val: Split
    test: Split
    classes: list[str]
    skipped: list[SkippedFile] = field(default_factory=list)
    source: str = ""
    input: InputSpec | None = None  # type: ignore[assignment]  # filled in __post_init__
    profile: dict[str, Any] = field(default_factory=dict)
    target_spec: TargetSpec | None = None
    panel: SeriesPanel | None = None
    split_note: str = ""  # where each split came from, in words (e.g. "test = the val/ folder, held out")

    def __post_init__(self) -> None:
        if self.input is None:
            if isinstance(self.train, TokenSplit | WindowSplit):
                raise ValueError(f"a bundle of {type(self.train).__name__}s needs its input spec as input=")
            object.__setattr__(self, "input", ImageSpec(*self.train.image_shape))

    @property
    def input_spec(self) -> InputSpec:
        assert self.input is not None, "set in __post_init__"
        return self.input

    @property
    def target(self) -> TargetSpec:
        return self.target_spec if self.target_spec is not None else Classes(tuple(self.classes))

    @property
    def is_image(self) -> bool:
        return isinstance(self.input, ImageSpec)

    def splits(self) -> dict[str, Split]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def fingerprint(self) -> str:
        """A sha256 of what the splits hold (pixels, or relative file names and sizes) and of the classes.

        Recorded in ``study.json``; ``--resume`` refuses data whose fingerprint differs, so that every variant of a
        study is trained and tested on the same images.
        """
        return self._fingerprint

    @cached_property
    def _fingerprint(self) -> str:
        digest = hashlib.sha256("\0".join(self.classes).encode())
        files = [str(path) for split in self.splits().values() if isinstance(split, FileSplit) for path in split.paths]
        root = os.path.commonpath(files) if files else ""
        if files and len(files) == 1:
            root = os.path.dirname(root)
        for name, split in self.splits().items():
            digest.update(f"\n{name} {len(split)}\n".encode())
            split.update_digest(digest, root)
        return digest.hexdigest()

    @property
    def in_memory(self) -> bool:
        """True when the samples are tensors, False when images are read from files batch by batch."""
        return not isinstance(self.train, FileSplit)

    def counts(self) -> dict[str, dict[str, int]]:
        """split → class → number of images (for windows: split → {"windows": count})."""
        result: dict[str, dict[str, int]] = {}
        for name, split in self.splits().items():
            if isinstance(split, WindowSplit):
                result[name] = {"windows": len(split)}
                continue
            per_class = torch.bincount(split.labels.cpu(), minlength=len(self.classes)).tolist()
            result[name] = {cls: int(n) for cls, n in zip(self.classes, per_class, strict=True)}
        return result

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of every image (images only)."""
        spec = self.input_spec
        if not isinstance(spec, ImageSpec):
            raise TypeError(f"a bundle of {spec.kind} has no image shape")
        return spec.channels, spec.height, spec.width

    @property
    def stats_sample(self) -> int:
        """How many train images ``channel_stats`` is computed from."""
        return len(self.train) if isinstance(self.train, TensorSplit) else len(stats_sample(len(self.train)))

    def channel_stats(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and (population) std of the TRAIN split, in [0, 1] units; computed once, then remembered.

        In memory: every train image, summed in float64 chunks so that a large split never needs a float copy of
        itself. From files: a deterministic sample of at most ``STATS_SAMPLE_LIMIT`` (2,000) train images at evenly
        spaced indices (all of them for a smaller split), decoded chunk by chunk; ``stats_sample`` says how many.
        """
        return self._channel_stats

    @cached_property
    def _channel_stats(self) -> tuple[list[float], list[float]]:
        if len(self.train) == 0:
            raise ValueError("channel_stats needs a non-empty train split")
        if isinstance(self.train, TensorSplit):
            return _moments(_tensor_blocks(self.train))
        return _moments(_file_blocks(self.train, stats_sample(len(self.train))))

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description (goes into the run record and the report)."""
        common = {
            "source": self.source,
            "classes": list(self.classes),
            "counts": self.counts(),
            "in_memory": self.in_memory,
            "skipped": [{"path": item.path, "reason": item.reason} for item in self.skipped],
            "fingerprint": self.fingerprint(),
            "input": self.input_spec.describe(),
            "profile": self.profile,
            "split_note": self.split_note,
        }
        if not self.is_image:
            return common
        mean, std = self.channel_stats() if len(self.train) else ([], [])
        return {**common, "image_shape": list(self.image_shape), "mean": mean, "std": std,
                "stats_sample": self.stats_sample if len(self.train) else 0}
