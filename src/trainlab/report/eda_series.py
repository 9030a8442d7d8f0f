"""Exploratory figures of a weekly series panel (the course report's EDA of the Walmart sales):

* store features over time (Temperature, Fuel_Price, CPI, Unemployment), averaged over stores;
* the distribution of the weekly values, negatives counted;
* mean weekly value per series by store type (when the panel has more than one type);
* holiday weeks against the other weeks;
* weekly values against unemployment, with their correlation;
* the total over every series per week, holiday weeks marked.

Each figure is drawn only from what the panel has: a panel of one series, or one whose covariates are calendar
features only, gets the figures that make sense for it and no error. Sized for a 1,300 px report page like
:mod:`trainlab.report.eda_text`, saved with :func:`save_figure`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter

from trainlab.data.series.panel import SeriesPanel
from trainlab.report.plots import plain_label, save_figure

FEATURES_OVER_TIME = ("Temperature", "Fuel_Price", "CPI", "Unemployment")
SALES_COLOR, HOLIDAY_COLOR, OTHER_COLOR = "#1f77b4", "#d62728", "#8c8c8c"
TYPE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")
SCATTER_SAMPLE = 4000  # points drawn; the correlation uses every pair
HISTOGRAM_BINS = 80
SEED = 0


def _store_rows(panel: SeriesPanel) -> np.ndarray:
    """One series per store when ``static`` names stores (all series of a store carry the store's covariates, so
    averaging over series would weight a store by its number of departments); every series otherwise."""
    stores = panel.static.get("store")
    if stores is None:
        return np.arange(panel.series_count)
    _, first = np.unique(np.asarray([str(store) for store in stores]), return_index=True)
    return np.sort(first)


def _dates(panel: SeriesPanel) -> np.ndarray:
    return np.asarray(panel.dates, dtype="datetime64[D]")


def _date_axis(ax: Axes) -> None:
    """Year-then-month ticks: three years of weekly dates otherwise print overlapping full dates."""
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def _thousands(axis: Axis) -> None:
    """Sales as 45,000,000 rather than 4.5 with a 1e7 offset in the corner."""
    axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def _over(panel: SeriesPanel) -> str:
    """What a covariate curve is averaged over, for titles and captions (a one-series panel is not averaged)."""
    if panel.series_count == 1:
        return f"series {panel.names[0]!r}"
    count = len(_store_rows(panel))
    return f"mean over the {count} {'stores' if 'store' in panel.static else 'series'}"


def plot_features(panel: SeriesPanel, path: Path) -> str | None:
    """One small panel per store feature over time, mean over stores; None when the panel has none of them."""
    present = [name for name in FEATURES_OVER_TIME if name in panel.covariate_names]
    if not present:
        return None
    rows, dates = _store_rows(panel), _dates(panel)
    fig = Figure(figsize=(11.0, 2.6 * ((len(present) + 1) // 2)), layout="constrained")
    axes = fig.subplots((len(present) + 1) // 2, min(2, len(present)), squeeze=False, sharex=True).ravel()
    for ax, name in zip(axes, present, strict=False):
        mean = panel.covariates[rows, :, panel.covariate_names.index(name)].mean(axis=0)
        ax.plot(dates, mean, color=SALES_COLOR, linewidth=1.5)
        ax.set_title(plain_label(name), fontsize=11)
        ax.grid(True, alpha=0.3)
        _date_axis(ax)
    for ax in axes[len(present) :]:
        ax.set_visible(False)
    fig.suptitle(plain_label(f"Features over time ({_over(panel)})"), fontsize=13)
    save_figure(fig, path)
    caption = f"{', '.join(present)} per week ({_over(panel)})."
    return caption + (" Each store counts once, however many series it has." if len(rows) < panel.series_count else "")


def _weeks(panel: SeriesPanel) -> str:
    """What one value is: a week of one series (several series) or a week (one series)."""
    return "weeks" if panel.series_count == 1 else "series-weeks"


def _of_series(panel: SeriesPanel) -> str:
    return f"series {panel.names[0]!r}" if panel.series_count == 1 else f"the {panel.series_count:,} series"


def _amount(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.1f}"


def _unit(panel: SeriesPanel) -> str:
    return f" {panel.unit}" if panel.unit else ""


def plot_distribution(panel: SeriesPanel, path: Path) -> str | None:
    """Histogram of every observed value; the count axis is logarithmic when a few huge values (holiday weeks)
    would dwarf the rest, and a dashed line marks 0 when the values reach it."""
    values = panel.values[np.isfinite(panel.values)]
    if values.size == 0:
        return None
    negative = int((values < 0).sum())
    fig = Figure(figsize=(9.0, 4.2))
    ax = fig.add_subplot()
    counts, _, _ = ax.hist(values, bins=HISTOGRAM_BINS, color=SALES_COLOR, edgecolor="white", linewidth=0.4)
    log = bool(counts.max() > 100 * np.median(counts[counts > 0]))
    if values.min() <= 0:
        ax.axvline(0.0, color=HOLIDAY_COLOR, linestyle="--", linewidth=1)
    if log:
        ax.set_yscale("log")
    _thousands(ax.xaxis)
    ax.set_xlabel(f"{plain_label(panel.target)} in one week" + (" of one series" if panel.series_count > 1 else ""))
    ax.set_ylabel(_weeks(panel) + (" (log scale)" if log else ""))
    ax.set_title(f"Distribution of {plain_label(panel.target)} ({values.size:,} {_weeks(panel)})")
    ax.grid(True, axis="y", alpha=0.3)
    save_figure(fig, path)
    zero = f", {negative:,} of them negative ({100 * negative / values.size:.2f}%); the dashed line is 0" \
        if values.min() <= 0 else f", from {_amount(values.min())} to {_amount(values.max())}{_unit(panel)}"
    return (f"{panel.target} in the {values.size:,} observed weeks of {_of_series(panel)}"
            f"{' (log count axis)' if log else ''}{zero}.")


def _series_means(panel: SeriesPanel) -> np.ndarray:
    """Each series' mean over its observed weeks (NaN for a series with none)."""
    observed = np.isfinite(panel.values)
    totals = np.where(observed, panel.values, 0.0).sum(axis=1)
    counts = observed.sum(axis=1)
    return np.divide(totals, counts, out=np.full(len(counts), np.nan), where=counts > 0)


def plot_by_type(panel: SeriesPanel, path: Path) -> str | None:
    """Box per store type of the series' mean weekly values; None unless the panel has two types or more."""
    types = np.asarray([str(t) for t in panel.static.get("type", ())])
    names = sorted(set(types.tolist()))
    if len(names) < 2:
        return None
    means = _series_means(panel)
    groups = [means[(types == name) & np.isfinite(means)] for name in names]
    fig = Figure(figsize=(min(11.0, 4.0 + 1.2 * len(names)), 4.5))
    ax = fig.add_subplot()
    positions = list(range(1, len(names) + 1))
    boxes = ax.boxplot(groups, positions=positions, patch_artist=True, widths=0.6)
    ax.set_xticks(positions, labels=[plain_label(name) for name in names])  # boxplot's own label keyword was renamed
    for box, color in zip(boxes["boxes"], TYPE_COLORS * len(names), strict=False):
        box.set_facecolor(color)
        box.set_alpha(0.6)
    ax.set_xlabel("store type")
    _thousands(ax.yaxis)
    ax.set_ylabel(f"mean {plain_label(panel.target)} per week, per series")
    ax.set_title(f"{plain_label(panel.target)} by store type")
    ax.grid(True, axis="y", alpha=0.3)
    save_figure(fig, path)
    counts = ", ".join(f"{name} {len(group):,}" for name, group in zip(names, groups, strict=True))
    return f"Each series' mean {panel.target} per observed week, by store type (series per type: {counts})."


def plot_holiday(panel: SeriesPanel, path: Path) -> str | None:
    """Average value in holiday weeks against the other weeks; None unless both kinds of week have values."""
    holiday = panel.holiday.astype(bool)
    groups = [panel.values[:, holiday], panel.values[:, ~holiday]]
    groups = [group[np.isfinite(group)] for group in groups]
    if any(group.size == 0 for group in groups):
        return None
    means = [float(group.mean()) for group in groups]
    fig = Figure(figsize=(6.0, 4.2))
    ax = fig.add_subplot()
    labels = [f"holiday weeks ({int(holiday.sum())})", f"other weeks ({int((~holiday).sum())})"]
    ax.bar(labels, means, 0.6, color=[HOLIDAY_COLOR, OTHER_COLOR])
    for x, mean in enumerate(means):
        ax.annotate(f"{mean:,.0f}", (x, mean), xytext=(0, 3), textcoords="offset points", ha="center", va="bottom")
    ax.set_ylim(min(0.0, *means) * 1.15, max(0.0, *means) * 1.15 or 1.0)
    ax.set_ylabel(f"mean {plain_label(panel.target)} per {_weeks(panel)[:-1]}")
    _thousands(ax.yaxis)
    ax.set_title("Holiday weeks against the other weeks")
    ax.grid(True, axis="y", alpha=0.3)
    save_figure(fig, path)
    change = 100 * (means[0] - means[1]) / abs(means[1]) if means[1] else float("nan")
    return (f"Mean {panel.target} per {_weeks(panel)[:-1]} in the {int(holiday.sum())} holiday weeks against the other "
            f"{int((~holiday).sum())} weeks ({change:+.1f}% in holiday weeks).")


def plot_unemployment(panel: SeriesPanel, path: Path) -> str | None:
    """Scatter of weekly values against the store's unemployment rate; None without an Unemployment covariate."""
    if "Unemployment" not in panel.covariate_names:
        return None
    rate = panel.covariates[:, :, panel.covariate_names.index("Unemployment")]
    observed = np.isfinite(panel.values)
    x, y = rate[observed].astype(np.float64), panel.values[observed]
    if x.size < 2:
        return None
    corr = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else float("nan")
    pick = np.random.default_rng(SEED).permutation(x.size)[:SCATTER_SAMPLE]
    fig = Figure(figsize=(8.0, 4.8))
    ax = fig.add_subplot()
    ax.scatter(x[pick], y[pick], s=6, alpha=0.35, color=SALES_COLOR, linewidths=0)
    ax.set_xlabel("unemployment rate (%)")
    _thousands(ax.yaxis)
    ax.set_ylabel(f"{plain_label(panel.target)} in one week")
    ax.set_title(f"{plain_label(panel.target)} against unemployment (Pearson r = {corr:.3f})")
    ax.grid(True, alpha=0.3)
    save_figure(fig, path)
    drawn = f"all {x.size:,} {_weeks(panel)} drawn" if pick.size == x.size else \
        f"{pick.size:,} of {x.size:,} {_weeks(panel)} drawn at random"
    return (f"{panel.target} against the Unemployment covariate of the same series and week: {drawn}; Pearson "
            f"correlation over all of them r = {corr:.3f}.")


def _mark_holidays(ax: Axes, dates: np.ndarray, total: np.ndarray, holiday: np.ndarray) -> None:
    """Holiday weeks as red lines and dots, with a legend above the plot; nothing when there are none."""
    if not holiday.any():
        return
    for date in dates[holiday]:
        ax.axvline(date, color=HOLIDAY_COLOR, alpha=0.25, linewidth=1)
    ax.scatter(dates[holiday], total[holiday], color=HOLIDAY_COLOR, s=28, zorder=3, label="holiday week")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)


def plot_total(panel: SeriesPanel, path: Path) -> str | None:
    """The sum over every series per week (the series itself when there is one), holiday weeks marked; weeks where
    no series has a value are gaps."""
    observed = np.isfinite(panel.values)
    if not observed.any():
        return None
    total = np.where(observed.any(axis=0), np.where(observed, panel.values, 0.0).sum(axis=0), np.nan)
    dates, holiday = _dates(panel), panel.holiday.astype(bool)
    one, target = panel.series_count == 1, plain_label(panel.target)
    fig = Figure(figsize=(11.0, 4.2))
    ax = fig.add_subplot()
    ax.plot(dates, total, color=SALES_COLOR, linewidth=1.5, label=target if one else f"total {target}")
    _mark_holidays(ax, dates, total, holiday)
    unit = f" ({plain_label(panel.unit)})" if one and panel.unit else ""
    ax.set_ylabel(f"{target}{unit}" if one else f"{target}, sum over the series")
    _date_axis(ax)
    if np.nanmax(np.abs(total)) >= 1000:
        _thousands(ax.yaxis)
    ax.set_title(f"{target} per week" if one else f"Total {target} per week", pad=28 if holiday.any() else 6)
    ax.grid(True, alpha=0.3)
    save_figure(fig, path)
    marked = f"; red: holiday weeks ({int(holiday.sum())})" if holiday.any() else ""
    how = f"{panel.target} per week ({_of_series(panel)})" if one else \
        f"{panel.target} summed over {_of_series(panel)} per week"
    return f"{how} from {panel.dates[0]} to {panel.dates[-1]}{marked}."


PLOTS: tuple[tuple[str, Callable[[SeriesPanel, Path], str | None]], ...] = (
    ("series_features.png", plot_features),
    ("series_distribution.png", plot_distribution),
    ("series_by_type.png", plot_by_type),
    ("series_holiday.png", plot_holiday),
    ("series_unemployment.png", plot_unemployment),
    ("series_total.png", plot_total),
)


def plot_series_eda(panel: SeriesPanel, out_dir: Path) -> list[tuple[str, str]]:
    """Write the series EDA figures into ``out_dir``; returns (file name relative to ``out_dir``, caption) pairs for
    the figures the panel could fill (the others are skipped, not drawn empty)."""
    figures: list[tuple[str, str]] = []
    for name, draw in PLOTS:
        caption = draw(panel, Path(out_dir) / name)
        if caption is not None:
            figures.append((name, caption))
    return figures
