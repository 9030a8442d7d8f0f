"""The report layer: plots, model summaries and the HTML/Markdown report, all read from a run folder on disk.

``model_summary`` imports torch/torchinfo lazily, so rendering a finished run does not need to load torch.
"""

from trainlab.report.load import load_run
from trainlab.report.plots import plot_variant
from trainlab.report.render import compare, render
from trainlab.report.summary import model_summary

__all__ = ["compare", "load_run", "model_summary", "plot_variant", "render"]
