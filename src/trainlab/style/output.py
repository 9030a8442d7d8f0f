"""The output folder of a style run (default ``runs/style/<stamp>/``, made by :func:`trainlab.io.new_stamped_dir` as
for training runs) and its report.

Files: ``result.png`` (the stylized image), ``panel.png`` (content | style | result), ``losses.csv`` (each weighted
loss term per step) and ``losses.png``, ``settings.json`` (the settings, the feature net and the run), and last
``report.html`` (self-contained, figures embedded) + ``report.md`` (linking the PNGs). Every file is written atomically
and both reports are rendered before either is written, so a failure never leaves a half-written report.
"""

from __future__ import annotations

import csv
import io
import platform
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import torch

from trainlab.io import atomic_write_text, check_writable_dir, new_stamped_dir, write_json
from trainlab.report.formats import png_data_uri
from trainlab.report.render import report_environment
from trainlab.style.features import loss_layer
from trainlab.style.figures import plot_losses, plot_panel
from trainlab.style.images import image_label, save_png
from trainlab.style.optimize import TERMS, StyleResult

RESULT, PANEL, LOSSES_CSV, LOSSES_PNG = "result.png", "panel.png", "losses.csv", "losses.png"
SETTINGS, REPORT_HTML, REPORT_MD = "settings.json", "report.html", "report.md"
FILES = {
    RESULT: "the stylized image",
    PANEL: "content, style and result side by side",
    LOSSES_CSV: "each weighted loss term per step (step, content, style, tv, total, seconds)",
    LOSSES_PNG: "the loss terms per step, log scale",
    SETTINGS: "the settings, the feature net and the run, as JSON",
}
WEIGHT_OF = {"content": "content_weight", "style": "style_weight", "tv": "tv_weight"}
LAYER_SETTINGS = ("style_layers", "content_layers")  # shown with the feature net
TERM_NAMES = {"content": "content", "style": "style", "tv": "total variation", "total": "total"}


@dataclass(frozen=True)
class StyleOutputs:
    """Where a run's files went."""

    folder: Path
    result: Path
    report_html: Path
    report_md: Path


def new_output_dir(parent: Path) -> Path:
    """``parent/<YYYYmmdd-HHMMSS>`` (``-2``, ... when taken), after checking that ``parent`` can be written."""
    check_writable_dir(parent, "--out")
    return new_stamped_dir(parent)


def title_of(result: StyleResult) -> str:
    """``chelsea + brick``: the content's name and the style images' names."""
    return " + ".join(image_label(spec) for spec in (result.settings.content, *result.settings.style))


def _csv_text(result: StyleResult) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["step", *TERMS, "seconds"])
    for row in result.history:
        writer.writerow([row.step, *(f"{getattr(row, term):.9g}" for term in TERMS), f"{row.seconds:.4f}"])
    return buffer.getvalue()


def _record(result: StyleResult, folder: Path) -> dict[str, Any]:
    """What ``settings.json`` holds, and what the report shows."""
    first, last = result.history[0], result.history[-1]
    return {
        "settings": result.settings.to_dict(),
        "feature_net": {"architecture": result.net_description, "source": result.net_source,
                        "normalization": result.net_normalization, "pool": result.settings.pool},
        "run": {"folder": str(folder), "device": result.device, "started": result.started.isoformat(timespec="seconds"),
                "finished": datetime.now().isoformat(timespec="seconds"), "wall_time_s": result.seconds,
                "image_size": [int(result.image.shape[-1]), int(result.image.shape[-2])],
                "versions": {"python": platform.python_version(), "torch": torch.__version__}},
        "losses": {term: {"start": getattr(first, term), "end": getattr(last, term)} for term in TERMS},
    }


def _context(result: StyleResult, record: dict[str, Any]) -> dict[str, Any]:
    settings = result.settings
    losses = [{"name": TERM_NAMES[term], "weight": getattr(settings, WEIGHT_OF[term]) if term in WEIGHT_OF else None,
               **record["losses"][term]} for term in TERMS]
    return {
        "title": title_of(result), "record": record, "losses": losses,
        "content_name": image_label(settings.content), "style_names": [image_label(s) for s in settings.style],
        "style_layers": [{"name": name, "weight": weight, "read": loss_layer(name)}
                         for name, weight in settings.style_layers.items()],
        "content_layers": [{"name": name, "read": loss_layer(name)} for name in settings.content_layers],
        "settings_rows": [(f"--{key.replace('_', '-')}", _setting_text(key, value))
                          for key, value in record["settings"].items() if key not in LAYER_SETTINGS],
        "files": FILES, "steps": settings.steps,
    }


def _setting_text(key: str, value: Any) -> str:
    """A setting as the report shows it: numbers as ``1e+06``, lists joined, no weights as the demo net."""
    if key == "weights" and value is None:
        return "the packaged demo net"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def render_reports(folder: Path, context: dict[str, Any]) -> tuple[str, str]:
    """(HTML with the figures embedded, Markdown linking them), both rendered in memory with the study report's
    environment and filters."""
    env = report_environment()
    env.filters["weight"] = lambda value: "—" if value is None else f"{value:g}"
    embedded = {name: png_data_uri(folder / name) for name in (PANEL, LOSSES_PNG, RESULT)}
    html = env.get_template("style.html.j2").render(**context, link=embedded)
    markdown = env.get_template("style.md.j2").render(**context, link={name: quote(name) for name in embedded})
    return html, markdown


def write_outputs(result: StyleResult, folder: Path) -> StyleOutputs:
    """Write every file of the run into ``folder`` (which exists); the reports last."""
    save_png(result.image, folder / RESULT)
    titles = [f"content: {image_label(result.settings.content)}",
              *(f"style: {image_label(spec)}" for spec in result.settings.style), "result"]
    plot_panel(result, titles, folder / PANEL)
    atomic_write_text(folder / LOSSES_CSV, _csv_text(result))
    plot_losses(result.history, folder / LOSSES_PNG, f"Loss per step: {title_of(result)}")
    record = _record(result, folder)
    write_json(folder / SETTINGS, record)
    html, markdown = render_reports(folder, _context(result, record))
    report_html = atomic_write_text(folder / REPORT_HTML, html)
    report_md = atomic_write_text(folder / REPORT_MD, markdown)
    return StyleOutputs(folder, folder / RESULT, report_html, report_md)

