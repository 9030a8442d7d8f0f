"""``trainlab eda`` on windows of time series: the data facts, the split dates and the series figures, for the CO2
series packaged in statsmodels and (with the shared data) the Walmart retail archive."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from trainlab.cli import app

SERIES_FIGURES = ["plots/series_distribution.png", "plots/series_total.png"]
RETAIL_FIGURES = ["plots/series_features.png", "plots/series_distribution.png", "plots/series_by_type.png",
                  "plots/series_holiday.png", "plots/series_unemployment.png", "plots/series_total.png"]


def _eda(*args: str | Path) -> tuple[str, str, list[str]]:
    """(the HTML page, the Markdown page, the figure paths the Markdown links) of one ``trainlab eda`` call."""
    result = CliRunner().invoke(app, ["eda", *map(str, args)])
    assert result.exit_code == 0, result.output
    html, markdown = (Path(line) for line in result.stdout.splitlines())
    text = markdown.read_text(encoding="utf-8")
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert figures and all((markdown.parent / path).stat().st_size > 1000 for path in figures)
    return html.read_text(encoding="utf-8"), text, figures


def test_co2_eda_shows_the_split_dates_features_and_figures(tmp_path: Path) -> None:
    page, text, figures = _eda("co2", "--out", tmp_path)
    assert figures == SERIES_FIGURES
    assert page.count('src="data:image/png;base64,') == len(figures)
    for line in ("| Target | CO2 (ppm) |", "| Series | 1 used of 1 |", "| Rows | 2,284 rows read |",
                 "| Windows | 8 past weeks in, the next 1 week predicted |",
                 "| Input features | value, present, lag\\_52, week\\_sin, week\\_cos |",
                 "| Known future inputs | week\\_sin, week\\_cos, lag\\_52 |",
                 "| Scaler | per series: mean and standard deviation of its training period |",
                 "| train | 1958-03-29 | 1998-01-03 | 2,016 |", "| val | 1998-01-10 | 2000-01-01 | 104 |",
                 "| test | 2000-01-08 | 2001-12-29 | 104 |"):
        assert line in text
    assert "Class" not in text and "Classes" not in page  # no empty class-count table for windows
    assert "<th>Known future inputs</th>" in page and "<td>2000-01-08</td>" in page


def test_retail_eda_shows_the_archive(shared_data: Path, tmp_path: Path) -> None:
    archive = shared_data / "walmart_retail" / "archive.zip"
    _, text, figures = _eda("retail", "--data", archive, "--out", tmp_path)
    assert figures == RETAIL_FIGURES
    assert "| Rows | 421,570 rows read |" in text and "of 3,331 (one per store and dept) |" in text
    assert re.search(r"\| test \| 2012-04-13 \| 2012-10-26 \| [\d,]+ \|", text)
    assert "| Too short | " in text and "store 1 dept 77" in text


def test_retail_without_data_is_one_line_naming_data(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eda", "retail", "--out", tmp_path / "out"])
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "--data" in result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()
