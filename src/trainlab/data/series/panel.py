"""A panel of regular time series: what a forecasting source reads its files into, before windows are cut.

Every series shares one calendar (``dates``, consecutive steps of one week); a series with no row in a week has NaN
there. Covariates are complete (the source fills them), so windows never meet a missing input feature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class SeriesPanel:
    """``values[s, t]``: the target of series ``names[s]`` in week ``dates[t]`` (NaN: no row that week).

    ``covariates[s, t, c]`` is covariate ``covariate_names[c]`` (float32, no NaN); ``holiday[t]`` marks holiday weeks
    (weighted 5 by WMAE); ``static[key][s]`` is a per-series attribute (e.g. the store type) used by the EDA figures;
    ``rows`` is how many rows of the source files the panel was made of.
    """

    names: tuple[str, ...]
    dates: tuple[str, ...]
    values: np.ndarray
    covariates: np.ndarray
    covariate_names: tuple[str, ...]
    holiday: np.ndarray
    target: str = "value"
    unit: str = ""
    static: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    rows: int = 0

    def __post_init__(self) -> None:
        count, steps = len(self.names), len(self.dates)
        if self.values.shape != (count, steps):
            raise ValueError(f"values must be [{count} series, {steps} dates], got {self.values.shape}")
        if self.covariates.shape != (count, steps, len(self.covariate_names)):
            raise ValueError(f"covariates must be [{count}, {steps}, {len(self.covariate_names)}], "
                             f"got {self.covariates.shape}")
        if self.holiday.shape != (steps,):
            raise ValueError(f"holiday must be [{steps}], got {self.holiday.shape}")
        if len(set(self.names)) != count:
            raise ValueError("series names must be unique")
        if not np.isfinite(self.covariates).all():
            raise ValueError("covariates must be finite (the source fills missing values)")
        for key, column in self.static.items():
            if len(column) != count:
                raise ValueError(f"static[{key!r}] must have one value per series ({count}), got {len(column)}")

    @property
    def series_count(self) -> int:
        return len(self.names)

    @property
    def steps(self) -> int:
        return len(self.dates)

    def index_of(self, date: str) -> int:
        """The first step on or after ``date`` (ISO ``yyyy-mm-dd``); ``steps`` when every date is before it."""
        return int(np.searchsorted(np.asarray(self.dates), date, side="left"))
