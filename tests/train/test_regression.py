"""Regression (forecasting): the metrics against hand computations, the masked loss of RegressionModule, a tiny
end-to-end study on the co2 series, and the one-line error of a classification recipe on forecasting data."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from torch import nn

from trainlab.artifacts import FORECAST_COLUMNS, BaselineResults, RegressionTestScore, VariantMetrics, read_record
from trainlab.config import Recipe, RegularizationConfig, TrainingConfig, load_recipe
from trainlab.data.series.sources import CO2_TEST_WEEKS, co2_panel
from trainlab.data.series.split import WindowSplit
from trainlab.data.specs import WindowSpec
from trainlab.errors import TrainlabError
from trainlab.train.inputs import WindowInput
from trainlab.train.regression_metrics import SCORE_KEYS, RegressionMetrics, score_forecasts
from trainlab.train.study import run_study
from trainlab.train.task import RegressionModule

# Three windows of horizon 2. Scaled targets (1e6: a garbage value under mask False), their loc and scale, WMAE
# weights (5: a holiday week) and scaled predictions (99: a prediction of the week without a row).
Y = [[0.5, 1.0], [-1.0, 1e6], [3.0, 0.0]]
MASK = [[True, True], [True, False], [True, True]]
WEIGHT = [[1.0, 5.0], [5.0, 1.0], [1.0, 1.0]]
LOC, SCALE = [10.0, 100.0, -5.0], [2.0, 10.0, 0.5]
PREDICTED = [[1.0, 0.0], [0.0, 99.0], [2.0, -1.0]]
# In units, where the mask is True: true 11, 12, 90, -3.5, -5; predicted 12, 10, 100, -4, -5.5;
# absolute errors 1, 2, 10, 0.5, 0.5 with weights 1, 5, 5, 1, 1.
WMAE = (1 * 1 + 5 * 2 + 5 * 10 + 1 * 0.5 + 1 * 0.5) / (1 + 5 + 5 + 1 + 1)  # 62 / 13
MAE = (1 + 2 + 10 + 0.5 + 0.5) / 5
RMSE = math.sqrt((1 + 4 + 100 + 0.25 + 0.25) / 5)
LOSS = (0.5**2 + 1**2 + 1**2 + 1**2 + 1**2) / 5  # masked MSE on the scaled values


def batch() -> dict[str, torch.Tensor]:
    return {"x": torch.zeros(3, 4, 1), "future": torch.zeros(3, 2, 0), "y": torch.tensor(Y),
            "mask": torch.tensor(MASK), "weight": torch.tensor(WEIGHT), "loc": torch.tensor(LOC),
            "scale": torch.tensor(SCALE)}


def split() -> WindowSplit:
    return WindowSplit(**batch(), series=torch.zeros(3, dtype=torch.int64), origin=torch.arange(3))


def numpy_scores() -> dict[str, float]:
    """R² and the scaled metrics by numpy on the de-standardized (and the scaled) values under the mask."""
    mask = np.asarray(MASK)
    y, predicted = np.asarray(Y), np.asarray(PREDICTED)
    scale, loc = np.asarray(SCALE)[:, None], np.asarray(LOC)[:, None]
    true_units, pred_units = (y * scale + loc)[mask], (predicted * scale + loc)[mask]
    assert np.abs(pred_units - true_units).tolist() == [1, 2, 10, 0.5, 0.5]

    def r2(true: np.ndarray, pred: np.ndarray) -> float:
        return float(1 - ((true - pred) ** 2).sum() / ((true - true.mean()) ** 2).sum())

    scaled_errors = predicted[mask] - y[mask]
    return {"r2": r2(true_units, pred_units), "rmse_scaled": float(np.sqrt((scaled_errors**2).mean())),
            "mae_scaled": float(np.abs(scaled_errors).mean()), "r2_scaled": r2(y[mask], predicted[mask])}


def check_scores(scores: dict[str, float]) -> None:
    assert set(scores) == set(SCORE_KEYS)
    assert scores["count"] == 5
    assert scores["wmae"] == pytest.approx(WMAE, rel=1e-6)
    assert scores["mae"] == pytest.approx(MAE, rel=1e-6)
    assert scores["rmse"] == pytest.approx(RMSE, rel=1e-6)
    for key, value in numpy_scores().items():
        assert scores[key] == pytest.approx(value, rel=1e-5), key


# --- metrics ----------------------------------------------------------------------------------------------------------


def test_regression_metrics_match_hand_computations_over_two_batches() -> None:
    metrics = RegressionMetrics(sync_on_compute=False)
    full, predicted = batch(), torch.tensor(PREDICTED)
    for rows in (slice(0, 2), slice(2, 3)):  # accumulated over batches, the last one uneven
        metrics.update(predicted[rows], {key: value[rows] for key, value in full.items()})
    check_scores(metrics.compute())
    metrics.reset()
    metrics.update(predicted, full)
    check_scores(metrics.compute())


def test_score_forecasts_takes_predictions_in_units() -> None:
    predicted_units = torch.tensor(PREDICTED) * torch.tensor(SCALE)[:, None] + torch.tensor(LOC)[:, None]
    check_scores(score_forecasts(predicted_units, split()))


def test_without_holidays_wmae_is_mae() -> None:
    plain = {**batch(), "weight": torch.ones(3, 2)}
    metrics = RegressionMetrics(sync_on_compute=False)
    metrics.update(torch.tensor(PREDICTED), plain)
    scores = metrics.compute()
    assert scores["wmae"] == pytest.approx(scores["mae"]) == pytest.approx(MAE)


# --- the LightningModule ----------------------------------------------------------------------------------------------


class Fixed(nn.Module):
    """A "model" whose prediction of every batch is the parameter ``table`` [N, horizon]."""

    def __init__(self, table: list[list[float]]) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.tensor(table))

    def forward(self, x: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
        return self.table


def module(table: list[list[float]] = PREDICTED) -> RegressionModule:
    inputs = WindowInput(WindowSpec(window=4, horizon=2, features=("value",)))
    return RegressionModule(Fixed(table), inputs, training=TrainingConfig(), regularization=RegularizationConfig())


def test_masked_mse_ignores_targets_without_a_row() -> None:
    task = module()
    loss, outputs = task.loss_and_outputs(batch())
    assert loss.item() == pytest.approx(LOSS, rel=1e-6)
    assert torch.equal(outputs, torch.tensor(PREDICTED))
    # another garbage target, and another prediction, under mask=False: the same loss, bit for bit
    other = {**batch(), "y": torch.tensor(Y).index_put((torch.tensor([1]), torch.tensor([1])), torch.tensor(-7.0))}
    changed = [row[:] for row in PREDICTED]
    changed[1][1] = -1234.0
    assert torch.equal(module(changed).loss_and_outputs(other)[0], loss)
    loss.backward()  # and no gradient flows to the masked prediction
    grad = task.model.table.grad
    assert grad is not None and grad[1, 1].item() == 0.0
    assert grad[0, 0].item() == pytest.approx(2 * (1.0 - 0.5) / 5)


@pytest.mark.filterwarnings("ignore:You are trying to")  # self.log outside a Trainer
@pytest.mark.parametrize("stage", ["train", "val"])
def test_epoch_wmae_is_in_units_with_holiday_weights(stage: str) -> None:
    task = module()
    _, outputs = task.loss_and_outputs(batch())
    task.update_metrics(stage, outputs.detach(), batch())
    assert getattr(task, f"{stage}_wmae").compute().item() == pytest.approx(WMAE, rel=1e-6)


# --- a tiny study end to end on co2 -----------------------------------------------------------------------------------

HORIZON = 8  # two months ahead the last week is a poor guess of a series with a yearly cycle
EPOCHS = 4
BASELINES = ["last_value", "seasonal_naive", "mean_last_4", "linear"]


def recipe_file(tmp_path: Path, **changes: Any) -> Path:
    raw: dict[str, Any] = {
        "name": "co2-tiny", "task": "regression", "seed": 0,
        "data": {"source": "co2", "options": {"window": 8, "horizon": HORIZON, "lags": [52]}},
        "model": {"name": "series_gru", "options": {"hidden_size": 16, "num_layers": 1, "residual": True}},
        "training": {"epochs": EPOCHS, "batch_size": 256, "optimizer": "adam", "lr": 0.01, "scheduler": "cosine",
                     "progress_bar": False},
        "study": {"mode": "single", "repeats": 1, "baselines": BASELINES},
        "output": {"dir": str(tmp_path / "runs"), "cache_dir": str(tmp_path / "cache")},
        **changes,
    }
    path = tmp_path / "co2-tiny.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def _quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def co2_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("co2")
    recipe: Recipe = load_recipe(recipe_file(tmp_path))
    # One intra-op thread: these batches are tiny, and on a busy 2-core machine two threads spin-wait each other
    # (25 s instead of 2 s); the numbers are the same.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run_study(recipe, notify=_quiet)
    finally:
        torch.set_num_threads(threads)


def test_co2_study_writes_regression_metrics(co2_run: Path) -> None:
    metrics = read_record(co2_run / "base" / "metrics.json", VariantMetrics, "metrics")
    assert (metrics.task, metrics.input_kind, metrics.model) == ("regression", "window", "series_gru")
    assert isinstance(metrics.test, RegressionTestScore) and metrics.classes == []
    steps = len(co2_panel().dates)
    windows = CO2_TEST_WEEKS - HORIZON + 1  # every test origin whose 8 weeks are all test weeks
    assert metrics.test.count == windows * HORIZON  # co2 is interpolated: every week has a row
    assert metrics.test.wmae == pytest.approx(metrics.test.mae, rel=1e-6)  # co2 has no holiday weeks
    assert 0 < metrics.test.wmae < 5 and metrics.test.r2 > 0.5  # ppm; the series spans 313 to 373
    assert 1 <= metrics.epochs_run <= EPOCHS and metrics.params > 0
    study = json.loads((co2_run / "study.json").read_text())
    assert study["task"] == "regression" and study["primary"] == {"name": "wmae", "higher_is_better": False,
                                                                  "unit": "ppm"}
    assert study["data"]["profile"]["windows"]["test"] == windows
    assert study["data"]["profile"]["split_dates"]["test"][1] == co2_panel().dates[steps - 1]


def test_co2_predictions_csv_agrees_with_the_metrics(co2_run: Path) -> None:
    metrics = json.loads((co2_run / "base" / "metrics.json").read_text())["test"]
    table = pd.read_csv(co2_run / "base" / "predictions.csv", dtype={"date": str})
    assert tuple(table.columns) == FORECAST_COLUMNS
    assert len(table) == metrics["count"] and sorted(table["step"].unique()) == list(range(1, HORIZON + 1))
    assert (table["series"] == "co2").all() and (table["weight"] == 1.0).all()
    dates = co2_panel().dates
    assert table["date"].iloc[0] == dates[len(dates) - CO2_TEST_WEEKS]  # the first test week
    assert table["date"].iloc[-1] == dates[-1]
    errors = (table["true"] - table["predicted"]).abs()
    assert (table["weight"] * errors).sum() / table["weight"].sum() == pytest.approx(metrics["wmae"], rel=1e-4)
    assert np.sqrt((errors**2).mean()) == pytest.approx(metrics["rmse"], rel=1e-4)


def test_co2_history_has_wmae_per_epoch(co2_run: Path) -> None:
    history = pd.read_csv(co2_run / "base" / "history.csv")
    assert list(history.columns) == ["epoch", "train_loss", "train_wmae", "val_loss", "val_wmae", "lr"]
    assert history["epoch"].tolist() == list(range(1, len(history) + 1)) and history.notna().all().all()
    assert (history[["train_wmae", "val_wmae"]] > 0).all().all()
    assert history["val_wmae"].iloc[-1] < history["val_wmae"].iloc[0]  # training improves on the naive start


def test_co2_gru_beats_the_last_value_two_months_ahead(co2_run: Path) -> None:
    results = BaselineResults.model_validate_json((co2_run / "baselines.json").read_text())
    scores = {result.name: result.test for result in results.baselines}
    assert list(scores) == BASELINES
    # last_value by hand: every test origin's value repeated over the 8 weeks after it
    values = co2_panel().values[0]
    start = len(values) - CO2_TEST_WEEKS
    errors = [abs(values[o] - values[o + k]) for o in range(start - 1, len(values) - HORIZON)
              for k in range(1, HORIZON + 1)]
    assert scores["last_value"].count == len(errors)
    assert scores["last_value"].wmae == pytest.approx(float(np.mean(errors)), rel=1e-4)
    model = json.loads((co2_run / "base" / "metrics.json").read_text())["test"]
    assert model["count"] == scores["last_value"].count
    assert model["wmae"] < 0.8 * scores["last_value"].wmae
    assert (co2_run / "report.html").is_file()


# --- a classification recipe on forecasting data ----------------------------------------------------------------------


def test_classification_on_co2_is_one_error_saying_to_set_task_regression(tmp_path: Path) -> None:
    recipe = load_recipe(recipe_file(tmp_path, task="classification", study={"mode": "single"}))
    with pytest.raises(TrainlabError, match=r"^task='classification' learns classes, but data\.source='co2' gives "
                                            r"real targets; set task: regression in the recipe$"):
        run_study(recipe, notify=_quiet)
    assert not (tmp_path / "runs").exists()


def test_classification_set_on_the_forecast_demo_says_to_set_task_regression(tmp_path: Path) -> None:
    recipe = load_recipe("forecast-demo", ["task=classification", f"output.dir={tmp_path / 'runs'}",
                                           f"output.cache_dir={tmp_path / 'cache'}"])
    with pytest.raises(TrainlabError, match=r"set task: regression"):
        run_study(recipe, notify=_quiet)


def test_a_second_co2_run_reproduces_the_first_bit_for_bit(co2_run: Path, tmp_path: Path) -> None:
    """CPU runs are deterministic: the same recipe gives the same forecasts, to the last bit."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        again = run_study(load_recipe(recipe_file(tmp_path)), notify=_quiet)
    finally:
        torch.set_num_threads(threads)
    first = (co2_run / "base" / "predictions.csv").read_bytes()
    assert (again / "base" / "predictions.csv").read_bytes() == first
    assert (again / "base" / "history.csv").read_bytes() == (co2_run / "base" / "history.csv").read_bytes()
