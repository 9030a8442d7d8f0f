"""Honest baselines beside every forecasting model, scored on the same test windows with the same metrics.

A forecast is only worth its network if it beats what needs none. Each baseline predicts every step of every test
window from the series' history up to the window's origin (the week before its first target), as the deep model
does; a week the series has no row reads as 0, as in the windows.

* ``last_value``: the value at the origin, for every step (the naive forecast);
* ``seasonal_naive``: the value one season (52 weeks) before each predicted week;
* ``mean_last_4``: the mean of the last 4 weeks up to the origin;
* ``linear``: ridge regression (scikit-learn) on exactly the deep model's inputs (the window's features and the
  known-future covariates, scaled), fitted on the training windows.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from sklearn.linear_model import Ridge

from trainlab.artifacts import BaselineResult, BaselineResults, RegressionScore
from trainlab.data import DataBundle, WindowSplit
from trainlab.registry import Registry
from trainlab.train.regression_metrics import score_forecasts

SEASON = 52
RECENT = 4

Forecaster = Callable[[DataBundle, WindowSplit, int], np.ndarray]
FORECAST_BASELINES: Registry[np.ndarray] = Registry[np.ndarray]("forecasting baseline")


def _history(bundle: DataBundle) -> np.ndarray:
    """[S, T] the panel's values in units, a week without a row read as 0."""
    assert bundle.panel is not None, "a bundle of windows keeps the panel they were cut from"
    return np.nan_to_num(np.asarray(bundle.panel.values, dtype=np.float64))


def _steps(split: WindowSplit) -> np.ndarray:
    return split.origin.numpy()[:, None] + np.arange(1, split.horizon + 1)


@FORECAST_BASELINES.register("last_value", description="the last observed week, for every predicted step (naive)")
def last_value(bundle: DataBundle, split: WindowSplit, seed: int) -> np.ndarray:
    values = _history(bundle)[split.series.numpy(), split.origin.numpy()]
    return np.repeat(values[:, None], split.horizon, axis=1)


@FORECAST_BASELINES.register("seasonal_naive",
                             description=f"the same week one year earlier ({SEASON} weeks before each predicted week)")
def seasonal_naive(bundle: DataBundle, split: WindowSplit, seed: int) -> np.ndarray:
    lagged = _steps(split) - SEASON
    origin = split.origin.numpy()[:, None]
    # Before the series' first year the naive forecast stands in (never the case on the default splits).
    source = np.where(lagged >= 0, np.minimum(lagged, origin), origin)
    return _history(bundle)[split.series.numpy()[:, None], source]


@FORECAST_BASELINES.register("mean_last_4", description=f"the mean of the last {RECENT} weeks up to the origin")
def mean_last_4(bundle: DataBundle, split: WindowSplit, seed: int) -> np.ndarray:
    weeks = np.maximum(split.origin.numpy()[:, None] - np.arange(RECENT), 0)
    values = _history(bundle)[split.series.numpy()[:, None], weeks].mean(axis=1)
    return np.repeat(values[:, None], split.horizon, axis=1)


def _design(split: WindowSplit) -> np.ndarray:
    return torch.cat([split.x.flatten(1), split.future.flatten(1)], dim=1).numpy()


@FORECAST_BASELINES.register("linear", description="ridge regression (alpha 1) on the deep model's inputs: the "
                                                    "window's features and the known-future covariates, scaled")
def linear(bundle: DataBundle, split: WindowSplit, seed: int) -> np.ndarray:
    train = bundle.train
    assert isinstance(train, WindowSplit)
    mask = train.mask.numpy().all(axis=1)  # windows whose every target has a row
    model = Ridge(alpha=1.0, random_state=seed).fit(_design(train)[mask], train.y.numpy()[mask])
    predicted = torch.as_tensor(model.predict(_design(split)), dtype=torch.float32).reshape(len(split), -1)
    return split.units(predicted).numpy()


def forecast_baseline_description(name: str) -> str:
    return str(FORECAST_BASELINES.metadata(name).get("description", ""))


def run_forecast_baselines(names: list[str], bundle: DataBundle, seed: int) -> BaselineResults:
    """Each named baseline's test forecasts, scored like the deep models: the record of ``baselines.json``."""
    forecasters = {name: FORECAST_BASELINES.get(name) for name in names}
    test = bundle.test
    assert isinstance(test, WindowSplit)
    results = []
    for name, forecast in forecasters.items():
        started = time.perf_counter()
        predicted = torch.as_tensor(np.asarray(forecast(bundle, test, seed)), dtype=torch.float32)
        results.append(BaselineResult(name=name, description=forecast_baseline_description(name),
                                      test=RegressionScore(**score_forecasts(predicted, test)),
                                      fit_time_s=time.perf_counter() - started))
    return BaselineResults(features="each test window's history up to its origin; the linear model reads the window "
                                    "features and known-future covariates the deep models read",
                           baselines=results)
