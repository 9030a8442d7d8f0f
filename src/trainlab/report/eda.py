"""The figures of a study's data, drawn once when its run folder is made; each input kind draws its own.

Images: a gallery of training images per class (``plots/samples.png``, shown by the report as before). Texts: class
balance, one chart per group column (e.g. sentiment by airline, negative reasons) and the token-length histogram with
the cap, from the bundle's profile. Windows of time series: the series panel's figures (features over time, the
distribution of the values, by store type, holiday weeks, against unemployment, the total per week). The returned
entries (path relative to the run folder, caption) are recorded in ``study.json`` so the report and ``trainlab eda``
show them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from trainlab.artifacts import SAMPLES_FILE
from trainlab.data import DataBundle
from trainlab.report.eda_series import plot_series_eda
from trainlab.report.eda_text import plot_text_eda
from trainlab.report.gallery import plot_samples

PLOTS = "plots"

Figures = list[tuple[str, str]]  # (file name under plots/, caption)


def _image_figures(bundle: DataBundle, run_dir: Path, seed: int) -> Figures:
    """The sample gallery, which has its own place in the report (so no entry)."""
    plot_samples(bundle.train, bundle.classes, run_dir / SAMPLES_FILE, seed=seed)
    return []


def _text_figures(bundle: DataBundle, run_dir: Path, seed: int) -> Figures:
    return plot_text_eda(bundle.profile, list(bundle.classes), bundle.counts(), run_dir / PLOTS)


def _series_figures(bundle: DataBundle, run_dir: Path, seed: int) -> Figures:
    return plot_series_eda(bundle.panel, run_dir / PLOTS)


DRAWERS: dict[str, Callable[[DataBundle, Path, int], Figures]] = {
    "image": _image_figures,
    "tokens": _text_figures,
    "window": _series_figures,
}


def plot_data_figures(bundle: DataBundle, run_dir: Path, seed: int = 0) -> list[dict[str, str]]:
    """Draw the data's figures into ``run_dir``; images return [] (the sample gallery has its own place)."""
    drawn = DRAWERS[bundle.input_spec.kind](bundle, run_dir, seed)
    return [{"path": f"{PLOTS}/{name}", "caption": caption} for name, caption in drawn]
