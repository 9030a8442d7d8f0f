"""One split of forecasting windows: the tensors the loader batches and the indices baselines and reports need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

TENSORS = ("x", "future", "y", "mask", "weight", "loc", "scale")


@dataclass(frozen=True, eq=False)
class WindowSplit:
    """``N`` windows: ``x`` float32 [N, window, features] (the past, scaled), ``future`` float32 [N, horizon, K]
    (known-future covariates of each predicted step), ``y`` float32 [N, horizon] (scaled targets, 0 where ``mask``
    is False: a week the series has no row), ``weight`` float32 [N, horizon] (WMAE weight of each target), ``loc`` and
    ``scale`` float32 [N] (target in units = scaled × scale + loc).

    ``series[i]`` indexes the panel's series and ``origin[i]`` its last input step, so window ``i`` predicts steps
    ``origin + 1 .. origin + horizon`` of series ``series[i]``; ``ids[i]`` names it for predictions.csv.
    """

    x: torch.Tensor
    future: torch.Tensor
    y: torch.Tensor
    mask: torch.Tensor
    weight: torch.Tensor
    loc: torch.Tensor
    scale: torch.Tensor
    series: torch.Tensor
    origin: torch.Tensor
    ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        count = int(self.x.shape[0]) if self.x.ndim == 3 else -1
        if count < 0 or self.x.dtype != torch.float32:
            raise ValueError(f"x must be float32 [N, window, features], got {self.x.dtype} {tuple(self.x.shape)}")
        horizon = int(self.y.shape[1]) if self.y.ndim == 2 else -1
        expected = {"future": (count, horizon), "y": (count, horizon), "mask": (count, horizon),
                    "weight": (count, horizon), "loc": (count,), "scale": (count,), "series": (count,),
                    "origin": (count,)}
        for name, shape in expected.items():
            tensor = getattr(self, name)
            if tuple(tensor.shape[: len(shape)]) != shape or tensor.ndim != len(shape) + (name == "future"):
                raise ValueError(f"{name} must be {list(shape)}{' + [K]' if name == 'future' else ''}, "
                                 f"got {tuple(tensor.shape)}")
        if self.mask.dtype != torch.bool or self.series.dtype != torch.int64 or self.origin.dtype != torch.int64:
            raise ValueError("mask must be bool and series, origin int64")
        if self.ids and len(self.ids) != count:
            raise ValueError(f"ids must name each of the {count} windows or be empty")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def horizon(self) -> int:
        return int(self.y.shape[1])

    def tensors(self) -> dict[str, torch.Tensor]:
        """The batchable tensors by name (the keys of a batch)."""
        return {name: getattr(self, name) for name in TENSORS}

    def head(self, count: int) -> WindowSplit:
        """The first ``count`` windows (views, no copy)."""
        return WindowSplit(**{name: tensor[:count] for name, tensor in self.tensors().items()},
                           series=self.series[:count], origin=self.origin[:count], ids=self.ids[:count])

    def units(self, scaled: torch.Tensor) -> torch.Tensor:
        """Scaled [N, horizon] values of these windows in the target's units."""
        return scaled * self.scale[:, None] + self.loc[:, None]

    def update_digest(self, digest: Any, root: str) -> None:
        del root
        for tensor in (*self.tensors().values(), self.series, self.origin):
            digest.update(repr(tuple(tensor.shape)).encode())
            digest.update(tensor.cpu().contiguous().numpy().tobytes())
