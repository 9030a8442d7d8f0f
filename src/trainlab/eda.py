"""``trainlab eda``: a dataset's figures and facts alone, without training anything.

The source is a data source (``airline``, ``text_csv``, ``image_folder``, ``digits``, ``retail``, ``co2``) or a recipe
(its ``data`` section is used). The data is built exactly as ``trainlab run`` builds it (the same split, vocabulary
and length cap, or the same windows and split dates), its figures are drawn by
:func:`trainlab.report.eda.plot_data_figures`, and ``eda.md`` and ``eda.html`` (figures embedded) are written into a
new folder ``<out>/<source>-<timestamp>`` (default ``runs/eda``). Each input kind adds its own facts (``KIND_FACTS``);
classes get a count table per split, windows of time series a table of split dates and windows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, StrictUndefined

from trainlab.artifacts import SAMPLES_FILE
from trainlab.config import Recipe, load_recipe, recipe_names, validate_recipe
from trainlab.errors import TrainlabError
from trainlab.io import atomic_write_text, check_writable_dir, new_stamped_dir
from trainlab.report.forecast import window_facts
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


def text_facts(summary: dict[str, Any]) -> list[tuple[str, str]]:
    return profile_facts(summary["profile"])


KIND_FACTS: dict[str, Callable[[dict[str, Any]], list[tuple[str, str]]]] = {
    "image": image_facts, "tokens": text_facts, "window": window_facts}


def _common_facts(summary: dict[str, Any], recipe: Recipe) -> list[tuple[str, str]]:
    data = f"data.source={recipe.data.source}" + (f", data.path={recipe.data.path}" if recipe.data.path else "")
    facts = [("Source", summary["source"]), ("Data", data)]
    if summary["classes"]:
        facts.append(("Classes", f"{len(summary['classes'])}: {', '.join(summary['classes'])}"))
    return [*facts, ("Skipped", f"{len(summary['skipped']):,}")]


def class_table(summary: dict[str, Any]) -> dict[str, Any] | None:
    """Rows per class and split, with totals; None without classes (windows of time series)."""
    counts, classes = summary["counts"], summary["classes"]
    if not classes:
        return None
    splits = list(counts)
    rows = [[name, *(counts[split].get(name, 0) for split in splits)] for name in classes]
    rows = [[*row, sum(row[1:])] for row in rows]
    totals = ["total", *(sum(row[i] for row in rows) for i in range(1, len(splits) + 2))]
    return _table("Class counts per split", ["class", *splits, "total"], len(splits) + 1, rows, totals)


def split_table(summary: dict[str, Any]) -> dict[str, Any] | None:
    """First and last date and windows of each split; None unless the data is windows of time series."""
    if summary["input"].get("kind") != "window":
        return None
    profile = summary["profile"]
    dates, windows = profile.get("split_dates", {}), profile.get("windows", {})
    rows = [[split, *[*dates.get(split, []), "", ""][:2], windows.get(split, counts.get("windows", 0))]
            for split, counts in summary["counts"].items()]
    return _table("Splits", ["split", "first date", "last date", "windows"], 1, rows)


def _table(title: str, header: list[str], numeric: int, rows: list[list[Any]],
           total: list[Any] | None = None) -> dict[str, Any]:
    """A table for the pages: its last ``numeric`` columns right-aligned, numbers with thousands separators."""
    def cells(row: list[Any]) -> list[str]:
        return [f"{value:,}" if isinstance(value, int) else str(value) for value in row]

    return {"title": title, "header": header, "align": [""] * (len(header) - numeric) + ["num"] * numeric,
            "rows": [cells(row) for row in rows], "total": cells(total) if total else None}


def _plain(value: Any) -> str:
    """An input spec value as the page shows it: lists of names (features) comma-separated."""
    names = isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)
    return ", ".join(value) if names else str(value)


def eda_context(bundle: Any, recipe: Recipe, figures: list[dict[str, str]]) -> dict[str, Any]:
    """What the two pages show (plain values: the templates escape them)."""
    summary = bundle.summary()
    kind = summary["input"].get("kind", "image")
    return {
        "title": f"Data: {summary['source']}",
        "facts": [*_common_facts(summary, recipe), *KIND_FACTS[kind](summary)],
        "tables": [table for table in (class_table(summary), split_table(summary)) if table is not None],
        "input": [(key, _plain(value)) for key, value in summary["input"].items()],
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

{% for table in tables %}
## {{ table.title | mdtext }}

|{% for name in table.header %} {{ name | mdcell }} |{% endfor %}

|{% for name in table.header %}{{ "---:" if table.align[loop.index0] else "---" }}|{% endfor %}

{% for row in table.rows + ([table.total] if table.total else []) %}
|{% for cell in row %} {{ cell | mdcell }} |{% endfor %}

{% endfor %}

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
{% macro cells(tag, row, align) %}
{% for cell in row %}<{{ tag }}{% if align[loop.index0] %} class="num"{% endif %}>{{ cell }}</{{ tag }}>{% endfor %}
{%- endmacro %}
<h1>{{ title }}</h1>
<table>
{% for label, value in facts %}
<tr><th>{{ label }}</th><td>{{ value }}</td></tr>
{% endfor %}
</table>
{% for table in tables %}
<h2>{{ table.title }}</h2>
<table>
<tr>{{ cells("th", table.header, table.align) }}</tr>
{% for row in table.rows %}
<tr>{{ cells("td", row, table.align) }}</tr>
{% endfor %}
{% if table.total %}
<tr class="total">{{ cells("td", table.total, table.align) }}</tr>
{% endif %}
</table>
{% endfor %}
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
    from trainlab.report.formats import md_cell, md_text, png_data_uri

    pages = []
    for template, escape, link in (
        (HTML, True, lambda path: png_data_uri(out_dir / path)),
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
