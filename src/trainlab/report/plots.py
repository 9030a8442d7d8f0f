"""Training curves, confusion matrices and the study comparison chart as PNG files.

Figures are built with the object-oriented ``matplotlib.figure.Figure`` API, which renders PNGs through Agg without
pyplot: no global figure registry to leak into, no GUI backend chosen for the whole process, and nothing to close.
Forecasting runs draw their own figures (forecast and residuals) in :mod:`trainlab.report.forecast`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from trainlab.artifacts import (
    HISTORY_FILE,
    METRICS_FILE,
    PREDICTIONS_FILE,
    STUDY_FILE,
    StudyRecord,
    TestScore,
    VariantMetrics,
    read_record,
)
from trainlab.errors import TrainlabError
from trainlab.io import atomic_write_bytes
from trainlab.report.formats import fmt_amount
from trainlab.report.metric import DEFAULT_PRIMARY, metric_descriptor


def history_columns(metric: str = "accuracy") -> tuple[str, ...]:
    """The columns of ``history.csv`` for a task whose primary metric is ``metric``."""
    return "epoch", "train_loss", f"train_{metric}", "val_loss", f"val_{metric}", "lr"


HISTORY_COLUMNS = history_columns()
PLOT_NAMES = ("accuracy.png", "loss.png", "confusion.png")
FORECAST_PLOTS = ("forecast.png", "residuals.png")
TRAIN_COLOR, VAL_COLOR, BEST_COLOR = "#1f77b4", "#ff7f0e", "#2ca02c"
DPI = 100


def plot_names(task: str, metric: str = "accuracy", predictions: bool = True) -> tuple[str, ...]:
    """The PNGs :func:`plot_variant` writes into a variant's ``plots/`` folder (the forecast figures need a
    ``predictions.csv``)."""
    if task == "classification":
        return PLOT_NAMES
    return f"{metric}.png", "loss.png", *(FORECAST_PLOTS if predictions else ())


def plain_label(text: object) -> str:
    """Plain text for matplotlib: a ``$`` would otherwise start mathtext."""
    return str(text).replace("$", r"\$")


def save_figure(fig: Figure, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return atomic_write_bytes(path, buffer.getvalue())


def _require_history(path: Path) -> None:
    if not path.is_file():
        raise TrainlabError(f"{path} is missing: expected the per-epoch history written by the trainer")


def read_history(path: Path, metric: str = "accuracy") -> pd.DataFrame:
    """Read a ``history.csv`` with the columns of :func:`history_columns`; a missing file, bad CSV or missing column
    is a :class:`TrainlabError`."""
    _require_history(path)
    expected = history_columns(metric)
    try:
        history = pd.read_csv(path)
    except (ValueError, pd.errors.ParserError) as exc:
        raise TrainlabError(f"{path} is not a readable CSV file: {exc}") from exc
    missing = [column for column in expected if column not in history.columns]
    if missing:
        raise TrainlabError(f"{path} lacks the column(s) {', '.join(missing)}: expected {', '.join(expected)}")
    for column in expected:
        if not pd.api.types.is_numeric_dtype(history[column]):
            raise TrainlabError(f"{path}: column {column!r} holds non-numeric values; expected numbers")
    return history


def best_epoch(history: pd.DataFrame) -> int | None:
    """The epoch (as numbered in ``history``, from 1) of the lowest validation loss; None without validation."""
    val_loss = history["val_loss"]
    if val_loss.notna().sum() == 0:
        return None
    return int(history.loc[val_loss.idxmin(), "epoch"])


def _curve(history: pd.DataFrame, metric: str, title: str, ylabel: str, path: Path, percent: bool,
           thousands: bool = False) -> Path:
    scale = 100.0 if percent else 1.0
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    epochs = history["epoch"]
    ax.plot(epochs, history[f"train_{metric}"] * scale, marker="o", ms=3, color=TRAIN_COLOR, label="train")
    ax.plot(epochs, history[f"val_{metric}"] * scale, marker="o", ms=3, color=VAL_COLOR, label="validation")
    best = best_epoch(history)
    if best is not None:
        best_value = history.loc[history["epoch"] == best, f"val_{metric}"].iloc[0]
        ax.axvline(best, color=BEST_COLOR, linestyle="--", linewidth=1, label=f"best val loss (epoch {best})")
        ax.plot([best], [best_value * scale], marker="*", ms=12, color=BEST_COLOR)
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    if thousands:  # values in sales: 1,200 rather than 1200
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    return save_figure(fig, path)


def plot_curves(history: pd.DataFrame, out_dir: Path, metric: Mapping[str, Any] | None = None) -> list[Path]:
    """Write ``<metric>.png`` (``accuracy.png`` by default) and ``loss.png``: train vs validation per epoch, the best
    val-loss epoch marked. Fractions are drawn in %, other metrics in their units."""
    out_dir = Path(out_dir)
    history = history.reset_index(drop=True)
    metric = metric or metric_descriptor(None)
    name, label = metric["name"], metric["label"]
    ylabel = f"{label} (%)" if metric["fraction"] else metric["header"]
    largest = history[[f"train_{name}", f"val_{name}"]].abs().max().max()
    return [
        _curve(history, name, f"{label[:1].upper()}{label[1:]} per epoch", ylabel, out_dir / f"{name}.png",
               percent=metric["fraction"], thousands=not metric["fraction"] and bool(largest >= 1000)),
        _curve(history, "loss", "Loss per epoch", "loss", out_dir / "loss.png", percent=False),
    ]


def plot_confusion(matrix: Sequence[Sequence[int]], classes: Sequence[str], path: Path, title: str) -> Path:
    """An annotated heatmap of ``matrix`` (rows: true class, columns: predicted class)."""
    n = len(classes)
    if len(matrix) != n or any(len(row) != n for row in matrix):
        raise TrainlabError(f"confusion matrix for {title!r} is not {n}x{n} for the classes {list(classes)}")
    size = max(4.0, 0.6 * n + 2.5)
    fig = Figure(figsize=(size + 1.0, size))
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    peak = max((max(row) for row in matrix), default=0)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            color = "white" if peak and value > peak / 2 else "black"
            ax.text(j, i, str(value), ha="center", va="center", color=color, fontsize=9 if n > 10 else 11)
    ticks = list(range(n))
    labels = [plain_label(name) for name in classes]
    ax.set_xticks(ticks, labels=labels, rotation=45 if n > 3 else 0, ha="right" if n > 3 else "center")
    ax.set_yticks(ticks, labels=labels)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(plain_label(title))
    return save_figure(fig, Path(path))


def _study_primary(variant_dir: Path, task: str) -> dict[str, Any] | None:
    """The ``primary`` of the study a variant folder belongs to (``run/base`` or ``run/base/seed-1``), if found."""
    for folder in (variant_dir.parent, variant_dir.parent.parent):
        if (folder / STUDY_FILE).is_file():
            study = read_record(folder / STUDY_FILE, StudyRecord, "the study description written by the trainer")
            return dict(study.primary) if study.task == task else None
    return None


def variant_metric(variant_dir: Path, metrics: VariantMetrics) -> dict[str, Any]:
    """The primary metric of a variant: its study's, else accuracy for classifiers and the metric its train scores
    name for other tasks (then without a unit)."""
    primary = _study_primary(variant_dir, metrics.task)
    if primary is None and not isinstance(metrics.test, TestScore):
        name = next(iter(metrics.train.scores), None) or next(iter(metrics.val.scores), "wmae")
        primary = {"name": name, "higher_is_better": False, "unit": ""}
    return metric_descriptor(primary or DEFAULT_PRIMARY)


def plot_variant(variant_dir: Path, metric: Mapping[str, Any] | None = None) -> list[Path]:
    """Read ``history.csv`` and ``metrics.json`` from a variant folder and write its PNGs into ``plots/``: the
    curves of the primary metric (``metric``, a :func:`metric_descriptor`; None: the study's) and of the loss, and
    the confusion matrix (classification) or the forecast and residual figures (forecasting, from
    ``predictions.csv`` where there is one)."""
    variant_dir = Path(variant_dir)
    _require_history(variant_dir / HISTORY_FILE)
    metrics_path = variant_dir / METRICS_FILE
    if not metrics_path.is_file():
        raise TrainlabError(f"{metrics_path} is missing: expected the metrics written by the trainer")
    metrics = read_record(metrics_path, VariantMetrics, "the metrics of one variant")
    metric = metric or variant_metric(variant_dir, metrics)
    history = read_history(variant_dir / HISTORY_FILE, metric["name"])
    plots = variant_dir / "plots"
    paths = plot_curves(history, plots, metric)
    if isinstance(metrics.test, TestScore):
        title = f"Confusion matrix (test) - {metrics.variant}"
        paths.append(plot_confusion(metrics.test.confusion_matrix, metrics.classes, plots / "confusion.png", title))
    elif (variant_dir / PREDICTIONS_FILE).is_file():
        from trainlab.report.forecast import plot_forecast_figures  # it draws with this module's helpers

        paths += plot_forecast_figures(variant_dir / PREDICTIONS_FILE, plots, metrics.variant, metric)
    return paths


def _error_bar(interval: Mapping[str, Any] | None, mean_pct: float) -> tuple[float, float]:
    """(below, above) the bar, in %, for an interval of fractions; (0, 0) without one."""
    if not interval or interval.get("low") is None or interval.get("high") is None:
        return 0.0, 0.0
    return max(0.0, mean_pct - 100.0 * interval["low"]), max(0.0, 100.0 * interval["high"] - mean_pct)


def plot_study_comparison(rows: Sequence[Mapping[str, Any]], path: Path, metric: Mapping[str, Any] | None = None,
                          reference: tuple[str, float] | None = None) -> Path:
    """The study's comparison chart: :func:`plot_accuracy_comparison` for accuracy (``metric`` None), else
    :func:`plot_score_comparison` of the primary metric, with ``reference`` (name, value) drawn as a line."""
    if metric is None or metric["name"] == "accuracy":
        return plot_accuracy_comparison(rows, path)
    return plot_score_comparison(rows, path, metric, reference)


def plot_accuracy_comparison(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Horizontal grouped bars of test accuracy and macro-F1 (in %) per variant, first variant on top.

    Each row needs ``name``, ``test_accuracy`` and ``f1_macro`` (fractions in [0, 1]); rows whose values are
    ``None`` (variants not run) are left out. A row's ``test_accuracy_interval`` (repeated seeds) draws its 95%
    interval as an error bar. Variant names sit on the y axis, where a long name never runs into another.
    """
    done = [row for row in rows if row.get("test_accuracy") is not None and row.get("f1_macro") is not None]
    names = [plain_label(row["name"]) for row in done]
    accuracy = [100.0 * float(row["test_accuracy"]) for row in done]
    f1 = [100.0 * float(row["f1_macro"]) for row in done]
    accuracy_err = [_error_bar(row.get("test_accuracy_interval"), 100.0 * float(row["test_accuracy"])) for row in done]
    height = 0.38
    longest = max((len(name) for name in names), default=4)
    fig = Figure(figsize=(6.0 + 0.07 * longest, 1.2 + 0.75 * max(1, len(done))))
    ax = fig.add_subplot()
    positions = list(range(len(done)))
    has_intervals = any(err != (0.0, 0.0) for err in accuracy_err)
    for offset, values, errors, label, color in (
        (-height / 2, accuracy, accuracy_err if has_intervals else None,
         "test accuracy" + (" (95% CI over seeds)" if has_intervals else ""), TRAIN_COLOR),
        (height / 2, f1, None, "macro F1", VAL_COLOR),
    ):
        xerr = None if errors is None else [[low for low, _ in errors], [high for _, high in errors]]
        bars = ax.barh([p + offset for p in positions], values, height, label=label, color=color, xerr=xerr,
                       capsize=3 if xerr else 0)
        ax.bar_label(bars, labels=[f"{v:.1f}" for v in values], fontsize=8, padding=3)
    ax.set_yticks(positions, labels=names)
    ax.invert_yaxis()  # the study's order, base first, from the top
    ax.set_xlim(0.0, 112.0)
    ax.set_xlabel("% on the test split")
    ax.set_title("Test accuracy and macro F1 per variant", pad=28)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False, fontsize=9)
    return save_figure(fig, Path(path))


def _interval_error(interval: Mapping[str, Any] | None, mean: float) -> tuple[float, float]:
    """(below, above) ``mean`` for an interval in the metric's units; (0, 0) without one."""
    if not interval or interval.get("low") is None or interval.get("high") is None:
        return 0.0, 0.0
    return max(0.0, mean - interval["low"]), max(0.0, interval["high"] - mean)


def plot_score_comparison(rows: Sequence[Mapping[str, Any]], path: Path, metric: Mapping[str, Any],
                          reference: tuple[str, float] | None = None) -> Path:
    """Horizontal bars of each variant's test ``score`` in the metric's units, its ``score_interval`` (repeated
    seeds) as an error bar, first variant on top; ``reference`` (e.g. the best naive baseline) as a dashed line."""
    done = [row for row in rows if row.get("score") is not None]
    names = [plain_label(row["name"]) for row in done]
    values = [float(row["score"]) for row in done]
    errors = [_interval_error(row.get("score_interval"), value) for row, value in zip(done, values, strict=True)]
    has_intervals = any(err != (0.0, 0.0) for err in errors)
    longest = max((len(name) for name in names), default=4)
    fig = Figure(figsize=(6.0 + 0.07 * longest, 1.4 + 0.5 * max(1, len(done))))
    ax = fig.add_subplot()
    xerr = [[low for low, _ in errors], [high for _, high in errors]] if has_intervals else None
    label = f"test {metric['label']}" + (" (95% CI over seeds)" if has_intervals else "")
    bars = ax.barh(list(range(len(done))), values, 0.6, color=TRAIN_COLOR, xerr=xerr, capsize=3 if xerr else 0,
                   label=label)
    ax.bar_label(bars, labels=[fmt_amount(value) for value in values], fontsize=8, padding=3)
    if reference is not None:
        ax.axvline(reference[1], color=VAL_COLOR, linestyle="--", linewidth=1.5,
                   label=plain_label(f"best naive baseline, {reference[0]}: {fmt_amount(reference[1])}"))
    ax.set_yticks(list(range(len(done))), labels=names)
    ax.invert_yaxis()  # the study's order, base first, from the top
    ax.margins(x=0.15)
    if max([*values, reference[1] if reference else 0.0], default=0.0) >= 1000:
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    direction = "higher" if metric["higher_is_better"] else "lower"
    ax.set_xlabel(f"{metric['header']} on the test split ({direction} is better)")
    ax.set_title(f"Test {metric['label']} per variant", pad=28)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False, fontsize=9)
    return save_figure(fig, Path(path))
