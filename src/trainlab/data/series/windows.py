"""Forecasting windows cut from a :class:`SeriesPanel`, split by time.

The calendar is cut in three periods: training weeks, then ``val_weeks`` validation weeks, then the test weeks (from
``test_start``, or the last ``test_weeks``). A window belongs to the period holding all its targets; its inputs are
the weeks before its first target, so a training window sees training weeks only, and a test window reads history
the forecaster would have had (training and validation weeks, and earlier test weeks for later origins). Scalers are
fit on the training weeks only: each series' own mean and std (``scaler: series``) or one over every series
(``global``); covariates are standardized with training-week statistics too.

Features of each past week: the scaled target, whether the series had a row that week (a week without one reads as
0 in units: a department that sold nothing), the seasonal lags (the scaled value ``lag`` weeks before that week,
e.g. the same week last year), the covariates, and the calendar (week of year as sine and cosine, and the holiday
flag when the data has holidays). Known-future covariates of each predicted week: the calendar and the seasonal lags
of that week, all known when the forecast is made since every lag is at least the horizon. The first windows start
once every input week has its lags.
"""

from __future__ import annotations

import datetime as dt
import warnings
from typing import Annotated, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationInfo, field_validator

from trainlab.data.bundle import DataBundle
from trainlab.data.series.panel import SeriesPanel
from trainlab.data.series.split import WindowSplit
from trainlab.data.specs import Real, WindowSpec
from trainlab.errors import TrainlabError

SPLITS = ("train", "val", "test")
TOO_SHORT_SHOWN = 20  # names of too-short series kept in the profile
WEEKS_PER_YEAR = 365.25 / 7


class SeriesOptions(BaseModel):
    """``data.options`` of every forecasting source (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    window: Annotated[StrictInt, Field(ge=1, le=520)] = 8
    horizon: Annotated[StrictInt, Field(ge=1, le=520)] = 1
    test_start: str | None = None  # ISO date of the first test week; None: the last test_weeks weeks
    test_weeks: Annotated[StrictInt, Field(ge=1)] = 29
    val_weeks: Annotated[StrictInt, Field(ge=1)] = 20
    lags: list[Annotated[StrictInt, Field(ge=1, le=520)]] = Field(default_factory=lambda: [52])
    past_lags: StrictBool = True  # the lags of every input week too (False: of the predicted weeks only)
    covariates: list[str] | None = None  # None: every covariate of the source
    calendar: StrictBool = True
    scaler: Literal["series", "global"] = "series"
    holiday_weight: Annotated[float, Field(gt=0.0)] = 5.0
    max_series: Annotated[StrictInt, Field(ge=1)] | None = None  # keep the largest series (by training total)

    @field_validator("test_start")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"must be a date as yyyy-mm-dd, got {value!r}") from None
        return value

    @field_validator("lags")
    @classmethod
    def _lags_known_in_advance(cls, lags: list[int], info: ValidationInfo) -> list[int]:
        horizon = info.data.get("horizon", 1)
        short = [lag for lag in lags if lag < horizon]
        if short:
            raise ValueError(f"a lag of {short[0]} weeks is not known {horizon} weeks ahead; every lag must be at "
                             f"least the horizon ({horizon})")
        return lags


def _periods(panel: SeriesPanel, opts: SeriesOptions) -> tuple[int, int]:
    """(first validation step, first test step); each period must hold at least one whole horizon."""
    steps = panel.steps
    test_start = panel.index_of(opts.test_start) if opts.test_start else steps - opts.test_weeks
    if opts.test_start and test_start >= steps:
        raise TrainlabError(f"data.options.test_start={opts.test_start!r} is after the last week of the data "
                            f"({panel.dates[-1]})")
    val_start = test_start - opts.val_weeks
    longest = max(opts.lags, default=0)
    needed = opts.window + longest if opts.past_lags else max(opts.window, longest)
    if val_start < needed + opts.horizon or opts.val_weeks < opts.horizon or steps - test_start < opts.horizon:
        raise TrainlabError(
            f"{steps} weeks ({panel.dates[0]} to {panel.dates[-1]}) are too few for val_weeks={opts.val_weeks}, "
            f"{steps - max(test_start, 0)} test weeks, window={opts.window}, lags={opts.lags} and horizon="
            f"{opts.horizon}: training needs at least {needed + opts.horizon} weeks and each of val and test at "
            "least one horizon; lower data.options.window, lags or val_weeks")
    return val_start, test_start


def _target_scaler(values: np.ndarray, train_end: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-series (loc, scale) from the training weeks; a flat series gets a scale of 1% of the overall std."""
    train = values[:, :train_end]
    overall = float(np.nanstd(train)) if np.isfinite(train).any() else 1.0
    floor = max(0.01 * overall, 1e-6)
    if kind == "global":
        loc = np.full(len(values), np.nanmean(train))
        scale = np.full(len(values), max(overall, floor))
        return loc, scale
    with warnings.catch_warnings():  # a series without training rows: NaN, replaced below
        warnings.simplefilter("ignore", RuntimeWarning)
        loc = np.nanmean(train, axis=1)
        scale = np.nanstd(train, axis=1)
    return np.nan_to_num(loc), np.maximum(np.nan_to_num(scale), floor)


def _calendar(dates: tuple[str, ...]) -> np.ndarray:
    """[T, 2]: the week of the year as a point on the unit circle (sine, cosine)."""
    days = np.array([dt.date.fromisoformat(day).timetuple().tm_yday for day in dates], dtype=np.float64)
    angle = 2 * np.pi * days / 365.25
    return np.stack([np.sin(angle), np.cos(angle)], axis=1)


def _covariates(panel: SeriesPanel, opts: SeriesOptions, train_end: int) -> tuple[np.ndarray, list[str]]:
    names = list(panel.covariate_names) if opts.covariates is None else list(opts.covariates)
    unknown = [name for name in names if name not in panel.covariate_names]
    if unknown:
        raise TrainlabError(f"data.options.covariates: {unknown[0]!r} is not a covariate of this data; known: "
                            f"{', '.join(panel.covariate_names) or '(none)'}")
    columns = panel.covariates[:, :, [panel.covariate_names.index(name) for name in names]].astype(np.float64)
    mean = columns[:, :train_end].mean(axis=(0, 1)) if names else np.zeros(0)
    std = columns[:, :train_end].std(axis=(0, 1)) if names else np.zeros(0)
    return (columns - mean) / np.where(std > 0, std, 1.0), names


class _Features:
    """Every step's past features [S, T, F] and known-future features [S, T, K], named."""

    def __init__(self, panel: SeriesPanel, opts: SeriesOptions, scaled: np.ndarray, train_end: int) -> None:
        past_lags = opts.lags if opts.past_lags else []
        present = np.isfinite(panel.values)
        covariates, cov_names = _covariates(panel, opts, train_end)
        series, steps = scaled.shape
        holidays = panel.holiday.any()  # a series without holiday weeks gets no constant holiday column
        columns = [_calendar(panel.dates), *([panel.holiday[:, None]] if holidays else [])]
        calendar = np.broadcast_to(np.concatenate(columns, axis=1), (series, steps, 2 + holidays)) \
            if opts.calendar else np.zeros((series, steps, 0))
        calendar_names = ["week_sin", "week_cos", *(["holiday"] if holidays else [])] if opts.calendar else []
        lagged = [np.pad(scaled, ((0, 0), (lag, 0)))[:, :steps, None] for lag in opts.lags]
        past = [column for column, lag in zip(lagged, opts.lags, strict=True) if lag in past_lags]
        self.past = np.concatenate([scaled[..., None], present[..., None], *past, covariates, calendar],
                                   axis=2).astype(np.float32)
        self.past_names = ["value", "present", *(f"lag_{lag}" for lag in past_lags), *cov_names, *calendar_names]
        self.future = np.concatenate([calendar, *lagged], axis=2).astype(np.float32)
        self.future_names = [*calendar_names, *(f"lag_{lag}" for lag in opts.lags)]


def _origins(start: int, end: int, opts: SeriesOptions) -> np.ndarray:
    """Origins whose targets ``origin+1 .. origin+horizon`` lie in [start, end) and whose inputs and the lags of
    every input week exist."""
    longest = max(opts.lags, default=0)
    first = max(start - 1, opts.window - 1 + longest if opts.past_lags else longest - 1, opts.window - 1)
    return np.arange(first, end - opts.horizon)


def _split(panel: SeriesPanel, opts: SeriesOptions, features: _Features, scaled: np.ndarray, keep: np.ndarray,
           loc: np.ndarray, scale: np.ndarray, origins: np.ndarray) -> WindowSplit:
    series = np.repeat(keep, len(origins))
    origin = np.tile(origins, len(keep))
    steps = origin[:, None] + np.arange(1, opts.horizon + 1)
    mask = np.isfinite(panel.values[series[:, None], steps])
    chosen = mask.any(axis=1)  # a window with no target row predicts nothing that can be scored
    series, origin, steps, mask = series[chosen], origin[chosen], steps[chosen], mask[chosen]
    inputs = origin[:, None] + np.arange(1 - opts.window, 1)
    weight = np.where(panel.holiday[steps], opts.holiday_weight, 1.0)
    targets = np.where(mask, scaled[series[:, None], steps], 0.0)
    return WindowSplit(
        x=torch.as_tensor(features.past[series[:, None], inputs], dtype=torch.float32),
        future=torch.as_tensor(features.future[series[:, None], steps], dtype=torch.float32),
        y=torch.as_tensor(targets, dtype=torch.float32),
        mask=torch.as_tensor(mask),
        weight=torch.as_tensor(weight, dtype=torch.float32),
        loc=torch.as_tensor(loc[series], dtype=torch.float32),
        scale=torch.as_tensor(scale[series], dtype=torch.float32),
        series=torch.as_tensor(series, dtype=torch.int64),
        origin=torch.as_tensor(origin, dtype=torch.int64),
        ids=tuple(f"{panel.names[s]} @ {panel.dates[o + 1]}" for s, o in zip(series, origin, strict=True)),
    )


def _largest(panel: SeriesPanel, candidates: np.ndarray, train_end: int, limit: int | None) -> np.ndarray:
    if limit is None or limit >= len(candidates):
        return candidates
    totals = np.nansum(np.abs(panel.values[candidates, :train_end]), axis=1)
    return np.sort(candidates[np.argsort(-totals, kind="stable")[:limit]])


def window_bundle(panel: SeriesPanel, opts: SeriesOptions, source: str, profile: dict | None = None) -> DataBundle:
    """The three splits of windows of ``panel``, the specs and the profile the report shows."""
    val_start, test_start = _periods(panel, opts)
    loc, scale = _target_scaler(panel.values, val_start, opts.scaler)
    scaled = (np.nan_to_num(panel.values) - loc[:, None]) / scale[:, None]
    features = _Features(panel, opts, scaled, val_start)
    train_rows = np.isfinite(panel.values[:, :val_start]).sum(axis=1)
    short = train_rows < opts.window + opts.horizon
    keep = _largest(panel, np.flatnonzero(~short), val_start, opts.max_series)
    if len(keep) == 0:
        raise TrainlabError(f"no series has {opts.window + opts.horizon} training weeks with rows (window + "
                            f"horizon): lower data.options.window or val_weeks")
    bounds = {"train": (0, val_start), "val": (val_start, test_start), "test": (test_start, panel.steps)}
    splits = {name: _split(panel, opts, features, scaled, keep, loc, scale, _origins(*bounds[name], opts))
              for name in SPLITS}
    if len(splits["train"]) == 0:
        raise TrainlabError("the training period holds no window: lower data.options.window or lags")
    spec = WindowSpec(window=opts.window, horizon=opts.horizon, features=tuple(features.past_names),
                      future=tuple(features.future_names))
    target = Real(names=(panel.target,), scaler=opts.scaler, unit=panel.unit)
    short_names = [panel.names[s] for s in np.flatnonzero(short)]
    details = {
        "series": panel.series_count, "series_used": len(keep), "too_short": short_names[:TOO_SHORT_SHOWN],
        "too_short_count": len(short_names), "rows": panel.rows,
        "split_dates": {name: [panel.dates[max(a, 0)], panel.dates[b - 1]] for name, (a, b) in bounds.items()},
        "windows": {name: len(split) for name, split in splits.items()},
        "target": panel.target, "unit": panel.unit, "scaler": opts.scaler, "lags": list(opts.lags),
        **({"holiday_weight": opts.holiday_weight} if panel.holiday.any() else {}), **(profile or {}),
    }
    return DataBundle(splits["train"], splits["val"], splits["test"], classes=[], source=source, input=spec,
                      target_spec=target, profile=details, panel=panel)
