"""Exploratory figures of a text dataset, drawn from its bundle's JSON ``profile`` (no text is re-read).

* class balance: rows per class, stacked by split, totals labelled;
* one chart per group column (e.g. sentiment by airline, negative reasons): horizontal bars stacked by class, sorted
  by count, with a second panel of each value's class shares when more than one class occurs;
* token lengths of the train split before the cap, the cap drawn as a vertical line.

Figures are sized for a report page 1,300 px wide (at most 11 in at 100 dpi) and use :func:`save_figure`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from trainlab.report.plots import TRAIN_COLOR, VAL_COLOR, plain_label, save_figure

SENTIMENT_COLORS = {"negative": "#d62728", "neutral": "#8c8c8c", "positive": "#2ca02c"}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
SPLIT_COLORS = {"train": TRAIN_COLOR, "val": VAL_COLOR, "test": "#9467bd"}
CAP_COLOR = "#d62728"
HIST_COLOR = "#4c72b0"
MAX_GROUP_BARS = 25  # values drawn per group column; the rest are summed into one bar


def class_colors(classes: Sequence[str]) -> dict[str, str]:
    """red / grey / green for negative / neutral / positive when those are the classes, else the tab10 colours."""
    if set(classes) <= set(SENTIMENT_COLORS):
        return {name: SENTIMENT_COLORS[name] for name in classes}
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(classes)}


def _file_name(stem: str, used: set[str]) -> str:
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "column"
    name, extra = f"{safe}.png", 2
    while name in used:
        name, extra = f"{safe}_{extra}.png", extra + 1
    used.add(name)
    return name


def plot_class_balance(classes: Sequence[str], counts: Mapping[str, Mapping[str, int]], path: Path) -> Path:
    """Vertical bars per class, stacked train / val / test, each bar's total and share labelled above it."""
    totals = [sum(int(counts.get(split, {}).get(name, 0)) for split in counts) for name in classes]
    grand = sum(totals) or 1
    fig = Figure(figsize=(min(11.0, 4.5 + 0.9 * len(classes)), 4.5))
    ax = fig.add_subplot()
    positions = list(range(len(classes)))
    bottom = [0] * len(classes)
    for split, by_class in counts.items():
        values = [int(by_class.get(name, 0)) for name in classes]
        ax.bar(positions, values, 0.6, bottom=bottom, label=split, color=SPLIT_COLORS.get(split, "#999999"))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    for x, total in zip(positions, totals, strict=True):
        ax.annotate(f"{total:,} ({100 * total / grand:.1f}%)", (x, total), xytext=(0, 3), textcoords="offset points",
                    ha="center", va="bottom", fontsize=10)
    ax.set_xticks(positions, labels=[plain_label(name) for name in classes])
    ax.set_ylim(0, max(totals, default=1) * 1.15 or 1)
    ax.set_ylabel("rows")
    ax.set_title(f"Class balance: rows per class, stacked by split ({grand:,} rows)", pad=28)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(counts), frameon=False)
    return save_figure(fig, path)


def _group_rows(table: Mapping[str, Mapping[str, int]], classes: Sequence[str]) -> list[tuple[str, list[int]]]:
    """(value, per-class counts) sorted by total, most first, empty value left out; past MAX_GROUP_BARS summed."""
    rows = [(value, [int(cells.get(name, 0)) for name in classes]) for value, cells in table.items() if value.strip()]
    rows.sort(key=lambda row: (-sum(row[1]), row[0]))
    if len(rows) > MAX_GROUP_BARS:
        rest = rows[MAX_GROUP_BARS - 1 :]
        summed = [sum(values[i] for _, values in rest) for i in range(len(classes))]
        rows = [*rows[: MAX_GROUP_BARS - 1], (f"({len(rest)} other values)", summed)]
    return rows


def plot_group(column: str, table: Mapping[str, Mapping[str, int]], classes: Sequence[str], label_column: str,
               path: Path) -> Path | None:
    """Rows per value of ``column`` as horizontal bars stacked by class (largest on top), and each value's class
    shares beside it when the values hold more than one class. None when the column has no non-empty value."""
    rows = _group_rows(table, classes)
    if not rows:
        return None
    colors = class_colors(classes)
    present = [i for i in range(len(classes)) if any(values[i] for _, values in rows)]
    shares = len(present) > 1
    fig = Figure(figsize=(11.0 if shares else 8.0, 1.6 + 0.38 * len(rows)), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [3, 2]}) if shares else [fig.add_subplot()]
    names = [plain_label(value) for value, _ in rows]
    positions = list(range(len(rows)))
    totals = [sum(values) for _, values in rows]
    for panel, ax in enumerate(axes):
        left = [0.0] * len(rows)
        for i in present:
            values = [float(v[i]) for _, v in rows]
            if panel == 1:
                values = [100.0 * v / t if t else 0.0 for v, t in zip(values, totals, strict=True)]
            ax.barh(positions, values, 0.7, left=left, color=colors[classes[i]], label=plain_label(classes[i]))
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.grid(True, axis="x", alpha=0.3)
    axes[0].set_yticks(positions, labels=names)
    axes[0].invert_yaxis()
    for y, total in zip(positions, totals, strict=True):
        axes[0].annotate(f"{total:,}", (total, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=9)
    axes[0].set_xlim(0, max(totals) * 1.15)
    axes[0].set_xlabel("rows")
    if shares:
        axes[1].set_xlim(0, 100)
        axes[1].set_xlabel(f"share of each {plain_label(column)} (%)")
    if shares:
        title = f"{plain_label(label_column)} by {plain_label(column)}: rows (left) and shares (right)"
    else:
        title = f"Rows per {plain_label(column)} (all {plain_label(classes[present[0]])}), most frequent first"
    fig.suptitle(title, fontsize=13)
    if len(present) > 1:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=len(present), frameon=False)
    return save_figure(fig, path)


def _cap_label(profile: Mapping[str, Any]) -> str:
    cap = int(profile["max_len"])
    fraction = float(profile.get("truncated", {}).get("fraction", 0.0))
    if profile.get("max_len_from", "percentile") == "percentile":
        how = f"p{float(profile.get('length_percentile', 95.0)):g}"
    else:
        how = "set by data.options.max_len"
    return f"cap {cap} ({how}, {100 * fraction:.1f}% truncated)"


def plot_lengths(profile: Mapping[str, Any], path: Path) -> Path:
    """The train split's token-length histogram before the cap, the cap as a labelled vertical line."""
    edges = [float(e) for e in profile["length_histogram"]["edges"]]
    counts = [int(n) for n in profile["length_histogram"]["counts"]]
    fig = Figure(figsize=(9.0, 4.2))
    ax = fig.add_subplot()
    widths = [b - a for a, b in pairwise(edges)]
    unit = all(width == 1 for width in widths)  # one bar per length n, centred on n
    ax.bar(edges[:-1], counts, widths, align="center" if unit else "edge", color=HIST_COLOR, edgecolor="white",
           linewidth=0.5, label="train texts")
    cap = int(profile["max_len"])
    ax.axvline(cap + 0.5 if unit else cap, color=CAP_COLOR, linestyle="--", linewidth=2, label=_cap_label(profile))
    ax.set_xlabel("tokens per text (before the cap)")
    ax.set_ylabel("train texts")
    tokenizer = plain_label(profile.get("tokenizer", ""))
    ax.set_title(f"Text length in tokens, train split ({tokenizer} tokenizer)" if tokenizer else
                 "Text length in tokens, train split", pad=28)
    first = next((edge for edge, count in zip(edges, counts, strict=False) if count), edges[0])
    ax.set_xlim(left=first - 1)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    return save_figure(fig, path)


def plot_text_eda(profile: dict[str, Any], classes: list[str], counts: dict[str, dict[str, int]],
                  out_dir: Path) -> list[tuple[str, str]]:
    """Write the text EDA figures into ``out_dir``; returns (file name relative to ``out_dir``, caption) pairs."""
    out_dir = Path(out_dir)
    used: set[str] = set()
    figures: list[tuple[str, str]] = []
    name = _file_name("class_balance", used)
    plot_class_balance(classes, counts, out_dir / name)
    figures.append((name, f"Rows per class in the train, val and test splits ({profile.get('rows_used', 0):,} rows "
                          f"used of {profile.get('rows_read', 0):,} read)."))
    label_column = str(profile.get("label_column", "class"))
    for column, table in profile.get("groups", {}).items():
        name = _file_name(f"by_{column}", used)
        if plot_group(column, table, classes, label_column, out_dir / name) is not None:
            figures.append((name, f"Rows per value of {column!r} (empty values left out), split into classes."))
        else:
            used.discard(name)
    if profile.get("length_histogram", {}).get("counts"):
        name = _file_name("token_lengths", used)
        plot_lengths(profile, out_dir / name)
        figures.append((name, f"Tokens per train text before the cap; the dashed line is the {_cap_label(profile)}: "
                              f"longer texts keep their first {profile['max_len']} tokens."))
    return figures
