"""The two figures of a style run: ``panel.png`` (content | style | result) and ``losses.png`` (each weighted loss
term per step, log scale). Drawn with matplotlib's object-oriented API and written atomically by
:func:`trainlab.report.plots.save_figure`, like the training reports' figures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from trainlab.report.plots import plain_label, save_figure
from trainlab.style.images import to_array
from trainlab.style.optimize import HistoryRow, StyleResult

PANEL_HEIGHT = 3.6  # inches, at the report DPI: each picture about 300 px tall
COLORS = {"total": "#222222", "content": "#1f77b4", "style": "#ff7f0e", "tv": "#2ca02c"}
LABELS = {"total": "total", "content": "content × weight", "style": "style × weight", "tv": "total variation × weight"}


def plot_panel(result: StyleResult, titles: Sequence[str], path: Path) -> Path:
    """The content image, each style image and the result side by side, each with its title."""
    pictures = [result.content, *result.styles, result.image]
    ratios = [picture.shape[-1] / picture.shape[-2] for picture in pictures]
    fig = Figure(figsize=(PANEL_HEIGHT * sum(ratios) + 0.3 * len(pictures), PANEL_HEIGHT + 0.5))
    axes = fig.subplots(1, len(pictures), gridspec_kw={"width_ratios": ratios})
    for ax, picture, title in zip(axes, pictures, titles, strict=True):
        ax.imshow(to_array(picture), interpolation="lanczos" if picture.shape[-1] < 200 else "antialiased")
        ax.set_title(plain_label(title), fontsize=11)
        ax.set_axis_off()
    fig.tight_layout()
    return save_figure(fig, path)


def plot_losses(history: Sequence[HistoryRow], path: Path, title: str) -> Path:
    """Each weighted term and the total against the step, on a log scale; all-zero terms are left out (zeros and
    negative values cannot be drawn on a log axis: they are masked, e.g. the content term at step 0 of a
    content-initialized run)."""
    fig = Figure(figsize=(7.0, 4.2))
    ax = fig.subplots()
    steps = [row.step for row in history]
    for term in ("content", "style", "tv", "total"):  # the total last, dashed on top: it often hides a term
        values = [getattr(row, term) for row in history]
        if any(value > 0 for value in values):
            total = term == "total"
            ax.plot(steps, values, color=COLORS[term], label=LABELS[term], linewidth=1.6 if total else 2.0,
                    linestyle="--" if total else "-")
    ax.set_yscale("log", nonpositive="mask")
    ax.set_xlabel("step (one loss-and-gradient evaluation and one update)")
    ax.set_ylabel("loss (log scale)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(plain_label(title), fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)
