"""``trainlab eda``: a dataset's figures and facts alone, without training anything.

The source is a data source (``airline``, ``text_csv``, ``image_folder``, ``digits``) or a recipe (its ``data``
section is used). The data is built exactly as ``trainlab run`` builds it (the same split, vocabulary and length cap),
its figures are drawn by :func:`trainlab.report.eda.plot_data_figures`, and ``eda.md`` and ``eda.html`` (figures
embedded) are written into a new folder ``<out>/<source>-<timestamp>`` (default ``runs/eda``).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, StrictUndefined

from trainlab.artifacts import SAMPLES_FILE
from trainlab.config import Recipe, load_recipe, recipe_names, validate_recipe
from trainlab.errors import TrainlabError
from trainlab.io import atomic_write_text, check_writable_dir, new_stamped_dir
from trainlab.report.text import SKIPPED_SHOWN, profile_facts

EDA_DIR = "eda"  # under the recipe's output.dir (runs/ by default)
SAMPLES_CAPTION = "Training images per class (a random sample of the train split)."


@dataclass(frozen=True)
class EdaResult:
    out_dir: Path
    html: Path
    markdown: Path
    figures: list[dict[str, str]]


# --- which data ------------------------------------------------------------------------------------------------------


def _is_recipe(source: str) -> bool:
    path = Path(source)
    return source in recipe_names() or path.suffix in {".yaml", ".yml"} or path.is_file()


def _check_keys(overrides: dict[str, Any]) -> None:
    for key in overrides:
        if not (key.startswith("data.") or key == "output.cache_dir"):
            raise TrainlabError(f"--set {key}: trainlab eda reads data only; it takes data.* keys (e.g. --set "
                                "data.options.min_freq=1) and output.cache_dir")


def eda_recipe(source: str, data: Path | None = None, overrides: dict[str, Any] | None = None) -> Recipe:
    """The recipe whose data section ``trainlab eda`` builds: a data source's defaults, or a recipe's."""
    from trainlab.data import data_path_overrides, dataset_names

    pairs = dict(overrides or {})
    _check_keys(pairs)
    if source in dataset_names():
        recipe = validate_recipe({"name": source, "data": {"source": source}}, f"data source {source!r}")
        recipe = recipe.with_overrides(pairs, origin=f"data source {source!r} (with --set)") if pairs else recipe
    elif _is_recipe(source):
        recipe = load_recipe(source, pairs)
    else:
        raise TrainlabError(f"unknown source {source!r}; data sources: {', '.join(dataset_names())}; packaged "
                            f"recipes: {', '.join(recipe_names())} (or a recipe .yaml path)")
    if data is not None:
        recipe = recipe.with_overrides({**pairs, **data_path_overrides(recipe.data.source, data)}, origin="--data")
    return recipe


def new_eda_dir(parent: Path, name: str) -> Path:
    """Create and return ``parent/<name>-<timestamp>`` (``-2``, ``-3``, ... when taken), atomically by ``mkdir``."""
    return new_stamped_dir(parent, f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name).strip('-.') or 'data'}-")


# --- what the page says ----------------------------------------------------------------------------------------------


def image_facts(summary: dict[str, Any]) -> list[tuple[str, str]]:
    facts = []
    if summary.get("image_shape"):
        facts.append(("Image shape (C×H×W)", "×".join(str(n) for n in summary["image_shape"])))
    if summary.get("mean"):
        sample = summary.get("stats_sample")
        facts.append(("Channel mean / std", ", ".join(f"{m:.3f} / {s:.3f}" for m, s in
                                                       zip(summary["mean"], summary["std"], strict=True))
                      + (f" (from {sample:,} train images)" if sample else "")))
    return facts


def eda_context(bundle: Any, recipe: Recipe, figures: list[dict[str, str]]) -> dict[str, Any]:
    """What the two pages show (plain values: the templates escape them)."""
    summary = bundle.summary()
    counts = summary["counts"]
    splits = list(counts)
    rows = [[name, *(counts[split].get(name, 0) for split in splits),
             sum(counts[split].get(name, 0) for split in splits)] for name in bundle.classes]
    totals = ["total", *(sum(counts[split].values()) for split in splits), sum(row[-1] for row in rows)]
    facts = [("Source", summary["source"]), ("Data", f"data.source={recipe.data.source}"
                                              + (f", data.path={recipe.data.path}" if recipe.data.path else "")),
             ("Classes", f"{len(bundle.classes)}: {', '.join(bundle.classes)}"),
             ("Skipped", f"{len(bundle.skipped):,}")]
    facts += profile_facts(summary["profile"]) if not bundle.is_image else image_facts(summary)
    return {
        "title": f"Data: {summary['source']}",
        "facts": facts,
        "splits": splits,
        "rows": rows,
        "totals": totals,
        "input": list(summary["input"].items()),
        "skipped": summary["skipped"][:SKIPPED_SHOWN],
        "skipped_more": max(0, len(summary["skipped"]) - SKIPPED_SHOWN),
        "figures": figures,
    }


MARKDOWN = """\
# {{ title | mdtext }}

| fact | value |
|---|---|
{% for label, value in facts %}
| {{ label | mdcell }} | {{ value | mdcell }} |
{% endfor %}

## Class counts per split

| class |{% for split in splits %} {{ split | mdcell }} |{% endfor %} total |
|---|{% for split in splits %}---:|{% endfor %}---:|
{% for row in rows + [totals] %}
| {{ row[0] | mdcell }} |{% for n in row[1:] %} {{ "{:,}".format(n) }} |{% endfor %}

{% endfor %}

## Input

| key | value |
|---|---|
{% for key, value in input %}
| {{ key | mdcell }} | {{ value | mdcell }} |
{% endfor %}
{% if skipped %}

## Skipped

{% for item in skipped %}
- {{ item.path | mdtext }}: {{ item.reason | mdtext }}
{% endfor %}
{% if skipped_more %}- ... and {{ skipped_more }} more
{% endif %}
{% endif %}
{% if figures %}

## Figures
{% for figure in figures %}

![{{ figure.caption | mdtext }}]({{ figure.path | link }})

{{ figure.caption | mdtext }}
{% endfor %}
{% endif %}
"""

HTML = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ title }} — trainlab eda</title>
<style>
  body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; margin: 0 auto;
         max-width: 1240px; padding: 1.5rem 1.5rem 4rem; line-height: 1.45; }
  h1 { border-bottom: 2px solid #1f77b4; padding-bottom: .3rem; }
  h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
  table { border-collapse: collapse; margin: .8rem 0; font-size: .92rem; }
  th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; vertical-align: top; }
  th { background: #f3f6f9; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  tr.total td { font-weight: 600; background: #fafafa; }
  figure { margin: 1rem 0; } figure img { max-width: 100%; border: 1px solid #eee; }
  figcaption { color: #555; font-size: .9rem; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<table>
{% for label, value in facts %}
<tr><th>{{ label }}</th><td>{{ value }}</td></tr>
{% endfor %}
</table>
<h2>Class counts per split</h2>
<table>
<tr><th>class</th>{% for split in splits %}<th class="num">{{ split }}</th>{% endfor %}<th class="num">total</th></tr>
{% for row in rows %}
<tr><td>{{ row[0] }}</td>{% for n in row[1:] %}<td class="num">{{ "{:,}".format(n) }}</td>{% endfor %}</tr>
{% endfor %}
<tr class="total"><td>total</td>{% for n in totals[1:] %}<td class="num">{{ "{:,}".format(n) }}</td>{% endfor %}</tr>
</table>
<h2>Input</h2>
<table>
{% for key, value in input %}
<tr><th>{{ key }}</th><td>{{ value }}</td></tr>
{% endfor %}
</table>
{% if skipped %}
<h2>Skipped</h2>
<ul>
{% for item in skipped %}
<li>{{ item.path }}: {{ item.reason }}</li>
{% endfor %}
{% if skipped_more %}<li>... and {{ skipped_more }} more</li>{% endif %}
</ul>
{% endif %}
{% if figures %}
<h2>Figures</h2>
{% for figure in figures %}
<figure><img src="{{ figure.path | link }}" alt="{{ figure.caption }}"><figcaption>{{ figure.caption }}</figcaption>
</figure>
{% endfor %}
{% endif %}
</body>
</html>
"""


def render_pages(context: dict[str, Any], out_dir: Path) -> tuple[str, str]:
    """(HTML with the figures embedded, Markdown linking them by relative path)."""
    from trainlab.report.render import md_cell, md_text

    pages = []
    for template, escape, link in (
        (HTML, True, lambda path: "data:image/png;base64," + base64.b64encode((out_dir / path).read_bytes()).decode()),
        (MARKDOWN, False, lambda path: quote(path)),
    ):
        env = Environment(autoescape=escape, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                          keep_trailing_newline=True)
        env.filters.update(mdcell=md_cell, mdtext=md_text, link=link)
        pages.append(env.from_string(template).render(**context))
    return pages[0], pages[1]


def run_eda(source: str, data: Path | None = None, overrides: dict[str, Any] | None = None,
            out: Path | None = None) -> EdaResult:
    """Build the data of ``source``, draw its figures and write ``eda.html`` and ``eda.md`` into a new folder."""
    from trainlab.data import build_dataset
    from trainlab.report.eda import plot_data_figures

    recipe = eda_recipe(source, data, overrides)
    parent = out if out is not None else recipe.output.dir / EDA_DIR
    check_writable_dir(parent, "--out")
    bundle = build_dataset(recipe.data, recipe.output.cache_dir)
    out_dir = new_eda_dir(parent, Path(source).stem if _is_recipe(source) else source)
    figures = plot_data_figures(bundle, out_dir, seed=recipe.seed)
    if bundle.is_image and (out_dir / SAMPLES_FILE).is_file():
        figures = [{"path": SAMPLES_FILE.as_posix(), "caption": SAMPLES_CAPTION}, *figures]
    html, markdown = render_pages(eda_context(bundle, recipe, figures), out_dir)
    return EdaResult(out_dir, atomic_write_text(out_dir / "eda.html", html),
                     atomic_write_text(out_dir / "eda.md", markdown), figures)
