"""A small but complete forecasting (regression) run folder, written by hand through the artifacts classes.

Every JSON file is built as its :mod:`trainlab.artifacts` record (so it cannot drift from the schema the report
validates), ``predictions.csv`` by :func:`trainlab.artifacts.forecast_table` and ``history.csv`` with the columns of
:func:`trainlab.report.plots.history_columns`.

The study: variants ``base`` and ``+lstm`` trained with seeds 0 and 1, and ``+dropout`` never run; four baselines,
three naive ones (best: ``mean_last_4``, WMAE 1,669 sales) and a linear one (WMAE 1,500 sales); a test split of six
series over five weeks, predicted one week ahead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from trainlab.artifacts import (
    BaselineResult,
    BaselineResults,
    DataSummary,
    RegressionScore,
    RegressionTestScore,
    SeedRun,
    SplitScore,
    StudyRecord,
    VariantEntry,
    VariantMetrics,
    forecast_table,
    write_predictions,
)
from trainlab.report.plots import history_columns

PRIMARY = {"name": "wmae", "higher_is_better": False, "unit": "sales"}
SEEDS = (0, 1)
DEEP_WINS = {"base": (1450.0, 1454.0), "+lstm": (1400.0, 1410.0)}  # best: +lstm 1,405 < mean_last_4 1,669
DEEP_LOSES = {"base": (1700.0, 1720.0), "+lstm": (1690.0, 1760.0)}  # best: base 1,710 > 1,669
BASELINE_WMAE = {"last_value": 2100.5, "seasonal_naive": 1800.0, "mean_last_4": 1669.0, "linear": 1500.0}
SERIES = ("store 1 dept 1", "store 1 dept 2", "store 2 dept 1", "store 2 dept 7", "store 3 dept 1", "store 4 dept 9")
TEST_DATES = ("2012-09-28", "2012-10-05", "2012-10-12", "2012-10-19", "2012-10-26")
TOO_SHORT = ["store 5 dept 99", "store 9 dept 47"]
FOLDERS = {"base": "base", "+lstm": "plus-lstm", "+dropout": "plus-dropout"}


def regression_score(wmae: float, loss: float | None = None) -> dict[str, float | int]:
    """The fields of a RegressionScore around ``wmae`` (RMSE, MAE and R² follow it)."""
    score: dict[str, float | int] = {"rmse": wmae * 1.6, "mae": wmae * 0.95, "r2": 0.9712 - wmae / 1e5, "wmae": wmae,
                                     "rmse_scaled": wmae / 5000, "mae_scaled": wmae / 8000, "r2_scaled": 0.8123,
                                     "count": len(SERIES) * len(TEST_DATES)}
    return score if loss is None else {**score, "loss": loss}


def _data() -> DataSummary:
    windows = {"train": 540, "val": 120, "test": len(SERIES) * len(TEST_DATES)}
    return DataSummary(
        source="/data/walmart", classes=[], counts={split: {"windows": n} for split, n in windows.items()},
        input={"kind": "window", "window": 8, "horizon": 1, "step": "week",
               "features": ["sales", "has_row", "Temperature", "IsHoliday"], "future": ["IsHoliday", "lag_52"]},
        profile={"level": "store_dept", "series": 8, "series_used": len(SERIES), "too_short": TOO_SHORT,
                 "too_short_count": 2, "rows": 1234,
                 "split_dates": {"train": ["2010-02-05", "2012-05-11"], "val": ["2012-05-18", "2012-09-21"],
                                 "test": [TEST_DATES[0], TEST_DATES[-1]]},
                 "windows": windows, "target": "Weekly_Sales", "unit": "sales", "scaler": "series", "lags": [52],
                 "holiday_weight": 5.0},
    )


def _study(name: str, with_dropout: bool) -> StudyRecord:
    variants = [VariantEntry(name=variant, folder=folder, techniques=[] if variant == "base" else [variant[1:]],
                             runs=[SeedRun(seed=seed, folder=f"{folder}/seed-{seed}") for seed in SEEDS])
                for variant, folder in FOLDERS.items() if with_dropout or variant != "+dropout"]
    return StudyRecord(name=name, description="Forecasting weekly sales", task="regression", primary=PRIMARY,
                       mode="independent", base="base", seeds=list(SEEDS), variants=variants,
                       started="2025-01-01T10:00:00", finished="2025-01-01T10:03:00", wall_time_s=180.0,
                       versions={"python": "3.11.9", "trainlab": "0.1.0"}, device="cpu (2 threads)",
                       precision="32-true", data=_data())


def _metrics(variant: str, seed: int, wmae: float) -> VariantMetrics:
    return VariantMetrics(
        variant=variant, techniques=[] if variant == "base" else [variant[1:]], task="regression",
        input_kind="window", model="series_lstm", params=4321, seed=seed, epochs_run=3, best_epoch=2,
        stopped_early=False, wall_time_s=20.0, train_images_per_s=500.0, classes=[],
        train=SplitScore(loss=0.2, scores={"wmae": wmae * 0.8}), val=SplitScore(loss=0.3, scores={"wmae": wmae * 0.9}),
        test=RegressionTestScore(**regression_score(wmae, loss=0.35)))


def _history(wmae: float) -> str:
    rows = [(1, 0.9, wmae * 1.5, 0.8, wmae * 1.4, 0.01), (2, 0.5, wmae * 1.1, 0.45, wmae * 1.05, 0.01),
            (3, 0.3, wmae * 0.8, 0.5, wmae * 0.9, 0.005)]
    lines = [",".join(history_columns("wmae"))] + [",".join(str(value) for value in row) for row in rows]
    return "\n".join(lines) + "\n"


def write_forecast_predictions(path: Path, wmae: float) -> Path:
    """One prediction per series and test week (horizon 1), off the truth by about ``wmae``; holiday week weighted 5."""
    rng = np.random.default_rng(int(wmae))
    level = np.array([30000.0, 20000.0, 15000.0, 9000.0, 5000.0, 1000.0])[:, None]
    true = level * (1.0 + 0.1 * np.sin(np.arange(len(TEST_DATES))))[None, :]
    predicted = true + rng.choice([-1.0, 1.0], size=true.shape) * wmae
    weight = np.where(np.array(TEST_DATES) == "2012-10-12", 5.0, 1.0)[None, :].repeat(len(SERIES), axis=0)
    rows = len(SERIES) * len(TEST_DATES)
    series = [name for name in SERIES for _ in TEST_DATES]
    dates = [[date] for _ in SERIES for date in TEST_DATES]
    table = forecast_table([f"{s} @ {d[0]}" for s, d in zip(series, dates, strict=True)], series, dates,
                           true.reshape(rows, 1), predicted.reshape(rows, 1), weight.reshape(rows, 1))
    return write_predictions(path, table)


def write_baselines(path: Path, wmae: Mapping[str, float] = BASELINE_WMAE) -> Path:
    descriptions = {"last_value": "the last observed week", "seasonal_naive": "the same week a year before",
                    "mean_last_4": "the mean of the last 4 weeks", "linear": "ridge regression on the window"}
    return BaselineResults(features="the window's values", baselines=[
        BaselineResult(name=name, description=descriptions.get(name, name), test=RegressionScore(**regression_score(w)),
                       fit_time_s=0.5) for name, w in wmae.items()]).write(path)


def write_forecast_run(root: Path, wmae: Mapping[str, Sequence[float]] = DEEP_WINS, name: str = "tiny forecast",
                       baselines: bool = True, with_dropout: bool = True) -> Path:
    """Write the run folder at ``root``; ``wmae[variant]`` holds the test WMAE of seeds 0 and 1."""
    root.mkdir(parents=True, exist_ok=True)
    _study(name, with_dropout).write(root / "study.json")
    for variant, values in wmae.items():
        for seed, value in zip(SEEDS, values, strict=True):
            folder = root / FOLDERS[variant] / f"seed-{seed}"
            folder.mkdir(parents=True, exist_ok=True)
            _metrics(variant, seed, value).write(folder / "metrics.json")
            (folder / "history.csv").write_text(_history(value), encoding="utf-8")
            write_forecast_predictions(folder / "predictions.csv", value)
            (folder / "summary.txt").write_text(f"SUMMARY OF {variant}\nTotal params: 4,321\n", encoding="utf-8")
    if with_dropout:
        (root / FOLDERS["+dropout"]).mkdir(exist_ok=True)
    if baselines:
        write_baselines(root / "baselines.json")
    return root
