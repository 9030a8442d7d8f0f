"""What the report adds for forecasting runs: the facts of the window data (series, split dates, windows per split,
features, scaler) and two figures per variant drawn from its ``predictions.csv``.

* ``forecast.png``: predictions against the truth over the test dates, for the sum over all series per date (the
  chain total) and for the series with the largest total true values;
* ``residuals.png``: the histogram of predicted − true, and the residual against the true value;

and the verdict of the report's first paragraph: does the best deep model beat the best naive baseline?

A date can be predicted by several windows (by step 1 of one and step 2 of another when windows overlap); each
(series, date) keeps the prediction of its smallest step, so every value is counted once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter

from trainlab.artifacts import read_forecasts
from trainlab.data.series.windows import TOO_SHORT_SHOWN
from trainlab.report.formats import fmt_amount, fmt_value
from trainlab.report.metric import is_better, relative_gain
from trainlab.report.plots import TRAIN_COLOR, VAL_COLOR, plain_label, save_figure

TOP_SERIES = 4
SCATTER_POINTS = 20_000  # residuals drawn in the scatter (a fixed random sample beyond that)
TRUE_COLOR, PREDICTED_COLOR, WEIGHTED_COLOR = "#333333", TRAIN_COLOR, VAL_COLOR
SPLITS = ("train", "val", "test")
SCALERS = {"series": "per series: mean and standard deviation of its training period",
           "global": "one mean and standard deviation over the training period", "none": "none (raw values)"}


def forecast_rows(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (series, date): the prediction of the smallest step that reaches that date."""
    ordered = table.sort_values("step", kind="stable")
    return ordered.drop_duplicates(["series", "date"], keep="first")


def forecast_panels(table: pd.DataFrame, top: int = TOP_SERIES) -> list[tuple[str, pd.DataFrame]]:
    """(title, true and predicted per date) for the chain total and the ``top`` series of largest total true value;
    a run of one series has that series' panel alone."""
    rows = forecast_rows(table)
    if rows.empty:
        return []
    if rows["series"].nunique() == 1:
        return [(str(rows["series"].iloc[0]), rows.groupby("date")[["true", "predicted"]].sum())]
    panels = [("chain total (sum over all series)", rows.groupby("date")[["true", "predicted"]].sum())]
    totals = rows.groupby("series")["true"].sum().sort_values(ascending=False, kind="stable")
    for name in totals.index[:top]:
        panels.append((str(name), rows[rows["series"] == name].groupby("date")[["true", "predicted"]].sum()))
    return panels


def _dates(labels: pd.Index) -> Any:
    """Dates for the x axis: parsed where every label is a date, else the labels' positions."""
    parsed = pd.to_datetime(pd.Series(labels, dtype=str), errors="coerce")
    return list(range(len(labels))) if parsed.isna().any() else parsed


def readable_numbers(axis: Axis, largest: float) -> None:
    """Thousands separators on an axis of large values (sales), matplotlib's own ticks otherwise."""
    if largest >= 1000:
        axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def _draw_panel(ax: Axes, title: str, values: pd.DataFrame, unit: str) -> None:
    x = _dates(values.index)
    if isinstance(x, pd.Series):
        locator = AutoDateLocator(maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    else:
        ax.set_xticks(x, labels=[plain_label(label) for label in values.index], rotation=30, fontsize=8)
    ax.plot(x, values["true"], color=TRUE_COLOR, linewidth=1.6, label="true")
    ax.plot(x, values["predicted"], color=PREDICTED_COLOR, linewidth=1.6, linestyle="--", marker="o", ms=2.5,
            label="predicted")
    ax.set_title(plain_label(title), fontsize=10)
    ax.set_ylabel(plain_label(unit or "value"))
    ax.grid(True, alpha=0.3)
    readable_numbers(ax.yaxis, float(values[["true", "predicted"]].abs().max().max()))


def plot_forecast(table: pd.DataFrame, path: Path, title: str, unit: str = "") -> Path:
    """Predictions against the truth per test date: the chain total on top, the largest series below it."""
    panels = forecast_panels(table)
    series_rows = math.ceil(max(0, len(panels) - 1) / 2)
    fig = Figure(figsize=(11.0, 3.2 * (1 + series_rows)), layout="constrained")
    grid = fig.add_gridspec(1 + series_rows, 2)
    if not panels:
        fig.add_subplot(grid[0, :]).text(0.5, 0.5, "no test predictions", ha="center", va="center")
    for index, (name, values) in enumerate(panels):
        ax = fig.add_subplot(grid[0, :] if index == 0 else grid[1 + (index - 1) // 2, (index - 1) % 2])
        _draw_panel(ax, name, values, unit)
        if index == 0:
            ax.legend(loc="best", fontsize=9)
    fig.suptitle(plain_label(title))
    return save_figure(fig, Path(path))


def plot_residuals(table: pd.DataFrame, path: Path, title: str, unit: str = "") -> Path:
    """The histogram of predicted − true and the residual against the true value (heavier-weighted values, e.g.
    holiday weeks, in their own colour)."""
    residual = table["predicted"] - table["true"]
    fig = Figure(figsize=(11.0, 4.2), layout="constrained")
    hist, scatter = fig.subplots(1, 2)
    suffix = f" ({unit})" if unit else ""
    if len(residual):
        hist.hist(residual, bins=50, color=PREDICTED_COLOR)
        hist.axvline(float(residual.mean()), color=WEIGHTED_COLOR, linestyle="--",
                     label=f"mean {fmt_amount(float(residual.mean()))}")
        hist.legend(loc="best", fontsize=9)
    hist.axvline(0.0, color=TRUE_COLOR, linewidth=1)
    hist.set_xlabel(f"predicted − true{suffix}")
    hist.set_ylabel("values")
    hist.set_title("Residuals", fontsize=10)
    shown = table.assign(residual=residual)
    if len(shown) > SCATTER_POINTS:
        shown = shown.sample(SCATTER_POINTS, random_state=0)
    heavy = shown["weight"] > 1
    scatter.scatter(shown.loc[~heavy, "true"], shown.loc[~heavy, "residual"], s=4, alpha=0.35, color=PREDICTED_COLOR,
                    label="weight 1")
    if heavy.any():
        scatter.scatter(shown.loc[heavy, "true"], shown.loc[heavy, "residual"], s=6, alpha=0.6, color=WEIGHTED_COLOR,
                        label="weight > 1 (holiday weeks)")
        scatter.legend(loc="best", fontsize=9)
    scatter.axhline(0.0, color=TRUE_COLOR, linewidth=1)
    scatter.set_xlabel(f"true{suffix}")
    scatter.set_ylabel(f"predicted − true{suffix}")
    scatter.set_title("Residual against the true value", fontsize=10)
    for ax in (hist, scatter):
        ax.grid(True, alpha=0.3)
    largest = float(table[["true", "predicted"]].abs().max().max()) if len(table) else 0.0
    readable_numbers(scatter.xaxis, largest)
    readable_numbers(hist.xaxis, float(residual.abs().max()) if len(residual) else 0.0)
    fig.suptitle(plain_label(title))
    return save_figure(fig, Path(path))


def plot_forecast_figures(predictions: Path, out_dir: Path, name: str, metric: Mapping[str, Any]) -> list[Path]:
    """Write ``forecast.png`` and ``residuals.png`` of one variant from its ``predictions.csv``."""
    table = read_forecasts(predictions)
    unit = "" if metric.get("fraction") else str(metric.get("unit") or "")
    return [plot_forecast(table, out_dir / "forecast.png", f"Test forecasts - {name}", unit),
            plot_residuals(table, out_dir / "residuals.png", f"Test residuals - {name}", unit)]


def _join(names: Sequence[Any]) -> str:
    return ", ".join(str(name) for name in names)


def _series_facts(profile: Mapping[str, Any]) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    if "target" in profile:
        unit = profile.get("unit")
        facts.append(("Target", f"{profile['target']}" + (f" ({unit})" if unit else "")))
    if "series" in profile:
        level = profile.get("level") if profile.get("level") != "series" else None
        level = f" (one per {str(level).replace('_', ' and ')})" if level else ""
        used = f"{profile['series_used']:,} used of " if "series_used" in profile else ""
        facts.append(("Series", f"{used}{profile['series']:,}{level}"))
    short = list(profile.get("too_short", []))
    count = int(profile.get("too_short_count", len(short)))
    if count:
        shown = short[:TOO_SHORT_SHOWN]
        names = _join(shown) + (f", … and {count - len(shown):,} more" if count > len(shown) else "")
        facts.append(("Too short", f"{count:,} series too short for one window" + (f": {names}" if names else "")))
    if "rows" in profile:
        facts.append(("Rows", f"{profile['rows']:,} rows read"))
    if profile.get("interpolated"):
        facts.append(("Interpolated", f"{profile['interpolated']:,} missing values filled in"))
    return facts


def _input_facts(spec: Mapping[str, Any], profile: Mapping[str, Any]) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    if "window" in spec:
        horizon, step = int(spec.get("horizon", 1)), str(spec.get("step") or "step")
        facts.append(("Windows", f"{spec['window']} past {step}s in, the next {horizon} {step}"
                                 f"{'s' if horizon != 1 else ''} predicted"))
    if spec.get("features"):
        facts.append(("Input features", _join(spec["features"])))
    if "future" in spec:
        facts.append(("Known future inputs", _join(spec["future"]) or "none"))
    if profile.get("lags"):
        facts.append(("Lags", _join(profile["lags"])))
    if "scaler" in profile:
        facts.append(("Scaler", SCALERS.get(str(profile["scaler"]), str(profile["scaler"]))))
    if "holiday_weight" in profile:
        facts.append(("WMAE weights", f"holiday weeks {float(profile['holiday_weight']):g}, other weeks 1"))
    return facts


def window_facts(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows describing windowed time series for the report's data table; keys a source does not give
    are left out."""
    profile = data.get("profile", {})
    return [("Input", "windows of time series"), *_series_facts(profile),
            *_input_facts(data.get("input", {}), profile)]


def split_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per split: its first and last date and its windows (None where the run folder does not say)."""
    profile = data.get("profile", {})
    dates, windows = profile.get("split_dates", {}), profile.get("windows", {})
    counts = {row["class"]: row for row in data.get("counts", [])}.get("windows", {})
    rows = []
    for split in SPLITS:
        first, last = [*dates.get(split, []), None, None][:2]
        rows.append({"split": split, "first": first, "last": last, "windows": windows.get(split, counts.get(split))})
    return rows


def _seeds_note(variant: Mapping[str, Any]) -> str:
    seeds = len(variant.get("replicates", []))
    return f", mean of {seeds} seeds" if seeds > 1 else ""


def forecast_verdict(best: Mapping[str, Any] | None, baseline: Mapping[str, Any] | None,
                     metric: Mapping[str, Any]) -> str:
    """One sentence: does ``best`` (the best finished deep variant) beat ``baseline`` (the best naive baseline) on the
    test split, and by how much (relative to the baseline)?"""
    if baseline is None:
        return "No naive baseline was fitted, so this report cannot say whether a deep model beats one."
    label = metric["label"]
    theirs = f"{baseline['name']} ({label} {fmt_value(baseline['score'], metric, unit=True)})"
    if best is None:
        return f"No deep model finished, so none can be compared with the best naive baseline, {theirs}."
    ours = f"{best['name']} ({label} {fmt_value(best['score'], metric, unit=True)}{_seeds_note(best)})"
    gain = relative_gain(best["score"], baseline["score"], metric)
    if is_better(best["score"], baseline["score"], metric):
        by = f", by {gain:.1%}" if gain is not None else ""
        return f"The best deep model, {ours}, beats the best naive baseline, {theirs}{by}."
    if best["score"] == baseline["score"]:
        return f"No deep model beats the best naive baseline: the best, {ours}, only ties with {theirs}."
    worse = f"{-gain:.1%} worse than" if gain is not None else "worse than"
    return f"No deep model beats the best naive baseline: the best, {ours}, is {worse} {theirs}."
