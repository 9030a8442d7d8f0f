"""The figures of a study's data, drawn once when its run folder is made; each input kind draws its own.

Images: a gallery of training images per class (``plots/samples.png``, shown by the report as before). Texts: class
balance, one chart per group column (e.g. sentiment by airline, negative reasons) and the token-length histogram with
the cap, from the bundle's profile. The returned entries (path relative to the run folder, caption) are recorded in
``study.json`` so the report and ``trainlab eda`` show them.
"""

from __future__ import annotations

from pathlib import Path

from trainlab.artifacts import SAMPLES_FILE
from trainlab.data import DataBundle
from trainlab.report.eda_text import plot_text_eda
from trainlab.report.gallery import plot_samples

PLOTS = "plots"


def plot_data_figures(bundle: DataBundle, run_dir: Path, seed: int = 0) -> list[dict[str, str]]:
    """Draw the data's figures into ``run_dir``; images return [] (the sample gallery has its own place)."""
    if bundle.is_image:
        plot_samples(bundle.train, bundle.classes, run_dir / SAMPLES_FILE, seed=seed)
        return []
    out_dir = run_dir / PLOTS
    drawn = plot_text_eda(bundle.profile, list(bundle.classes), bundle.counts(), out_dir)
    return [{"path": f"{PLOTS}/{name}", "caption": caption} for name, caption in drawn]
